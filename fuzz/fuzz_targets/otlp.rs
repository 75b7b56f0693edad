//! The viewer's OTLP/HTTP endpoint (`POST /_traces/v1/traces`). The input
//! is a request body, decoded as a protobuf `ExportTraceServiceRequest`
//! without limits and within tight ones (strings of 8 bytes, 1 log).
//!
//! Checks: no panic, no stack overflow and no out-of-memory, whatever the
//! body (nested values, floods of empty messages, huge declared lengths);
//! an error's message is short plain text; decoded spans have non-zero ids
//! and keep within the limits; whatever decodes without limits decodes
//! within them too, to the same spans (and the same count of spans left
//! out) with string values cut as the reporter cuts them and events past
//! the limit dropped and counted in the `rocket_opentracing.dropped_logs`
//! tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
// `TRUNCATION_MARKER` (`...[truncated]`) and `DROPPED_LOGS_TAG`
// (`rocket_opentracing.dropped_logs`) are crate-private in `src/limits.rs`,
// re-exported for the fuzz targets by `rocket_opentracing::fuzzing`.
use rocket_opentracing::fuzzing::{
    decode_otlp, SpanRecord, Tag, TagValue, DROPPED_LOGS_TAG, TRUNCATION_MARKER as MARKER,
};

const MAX_STR_LEN: usize = 8;
const MAX_LOGS: usize = 1;

/// `s` cut as the reporter cuts string values to `MAX_STR_LEN` bytes.
fn cut(s: &str) -> String {
    if s.len() <= MAX_STR_LEN {
        return s.to_owned();
    }
    let mut end = MAX_STR_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARKER}", &s[..end])
}

fn cut_tag(tag: &Tag) -> Tag {
    let value = match &tag.value {
        TagValue::String(s) => TagValue::String(cut(s)),
        other => other.clone(),
    };
    Tag {
        key: tag.key.clone(),
        value,
    }
}

/// Tags compared with doubles by their bits (NaN is not equal to itself).
fn same_tags(a: &[Tag], b: &[Tag]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.key == b.key
                && match (&a.value, &b.value) {
                    (TagValue::Double(x), TagValue::Double(y)) => x.to_bits() == y.to_bits(),
                    (x, y) => x == y,
                }
        })
}

fn check_message(message: &str) {
    assert!(!message.is_empty() && message.len() <= 80, "{message:?}");
    assert!(
        message.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
        "{message:?}"
    );
}

fn check_within(spans: &[SpanRecord], max_str_len: usize, max_logs: usize) {
    let max = max_str_len.saturating_add(MARKER.len());
    let check_value = |tag: &Tag| {
        if let TagValue::String(s) = &tag.value {
            assert!(s.len() <= max, "{} bytes in {:?}", s.len(), tag.key);
        }
    };
    for span in spans {
        assert!(span.trace_id != 0 && span.span_id != 0, "{span:?}");
        assert_ne!(span.parent_span_id, Some(0));
        assert!(!span.service.is_empty());
        assert!(span.operation.len() <= max);
        assert!(span.logs.len() <= max_logs);
        assert!(span.baggage.is_empty());
        assert_eq!(span.error, SpanRecord::is_error(&span.tags));
        span.tags.iter().for_each(check_value);
        span.logs
            .iter()
            .flat_map(|log| &log.fields)
            .for_each(check_value);
        for reference in &span.references {
            assert!(reference.trace_id != 0 && reference.span_id != 0);
        }
    }
}

/// What `full` (decoded without limits) becomes within the tight limits.
fn expected_tight(full: &SpanRecord) -> (Vec<Tag>, Vec<Vec<Tag>>) {
    let mut tags: Vec<Tag> = full.tags.iter().map(cut_tag).collect();
    let dropped = full.logs.len().saturating_sub(MAX_LOGS);
    if dropped > 0 {
        let count = i64::try_from(dropped).unwrap_or(i64::MAX);
        let existing = tags.iter_mut().find_map(|tag| match tag {
            Tag {
                key,
                value: TagValue::Long(n),
            } if key == DROPPED_LOGS_TAG => Some(n),
            _ => None,
        });
        match existing {
            Some(n) => *n = n.saturating_add(count),
            None => tags.push(Tag {
                key: DROPPED_LOGS_TAG.to_owned(),
                value: TagValue::Long(count),
            }),
        }
    }
    let logs = full.logs[..full.logs.len().min(MAX_LOGS)]
        .iter()
        .map(|log| log.fields.iter().map(cut_tag).collect())
        .collect();
    (tags, logs)
}

fuzz_target!(|body: &[u8]| {
    let full = decode_otlp(body, usize::MAX, usize::MAX);
    let tight = decode_otlp(body, MAX_STR_LEN, MAX_LOGS);
    if let Err(message) = &full {
        check_message(message);
    }
    match &tight {
        Ok((spans, _)) => check_within(spans, MAX_STR_LEN, MAX_LOGS),
        Err(message) => check_message(message),
    }
    let Ok((full, full_rejected)) = full else {
        return;
    };
    check_within(&full, usize::MAX, usize::MAX);
    let (tight, tight_rejected) = tight.expect("what decodes without limits decodes within them");
    assert_eq!(full_rejected, tight_rejected);
    assert_eq!(full.len(), tight.len());
    for (full, tight) in full.iter().zip(&tight) {
        assert_eq!(
            (full.trace_id, full.span_id, full.parent_span_id),
            (tight.trace_id, tight.span_id, tight.parent_span_id)
        );
        assert_eq!(full.references, tight.references);
        assert_eq!(full.service, tight.service);
        assert_eq!(cut(&full.operation), tight.operation);
        assert_eq!(
            (full.start_us, full.duration_us, full.error),
            (tight.start_us, tight.duration_us, tight.error)
        );
        let (tags, logs) = expected_tight(full);
        assert!(same_tags(&tags, &tight.tags), "{tags:?} {:?}", tight.tags);
        assert_eq!(logs.len(), tight.logs.len());
        for ((fields, log), full_log) in logs.iter().zip(&tight.logs).zip(&full.logs) {
            assert_eq!(log.timestamp_us, full_log.timestamp_us);
            assert!(same_tags(fields, &log.fields));
        }
    }
});
