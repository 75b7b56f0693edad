//! What every collector-body decoder of the viewer must keep, whatever the
//! body: no panic, short plain-text errors, spans with non-zero ids within
//! the limits, and the same spans without limits as within tight ones (8
//! bytes per string, 1 log), string values cut as the reporter cuts them and
//! logs past the limit dropped and counted in the
//! `rocket_opentracing.dropped_logs` tag.

use std::fmt::Debug;

// `TRUNCATION_MARKER` (`...[truncated]`) and `DROPPED_LOGS_TAG`
// (`rocket_opentracing.dropped_logs`) are crate-private in `src/limits.rs`,
// re-exported for the fuzz targets by `rocket_opentracing::fuzzing`.
use rocket_opentracing::fuzzing::{
    SpanRecord, Tag, TagValue, DROPPED_LOGS_TAG, TRUNCATION_MARKER as MARKER,
};

pub const MAX_STR_LEN: usize = 8;
pub const MAX_LOGS: usize = 1;

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

/// Checks a decoder on one body: `decode(max_str_len, max_logs)` decodes it
/// within those limits, into spans and what else the decoder reports (the
/// count of spans it left out, say), which must not depend on the limits.
pub fn check_decoder<R: PartialEq + Debug>(
    decode: impl Fn(usize, usize) -> Result<(Vec<SpanRecord>, R), String>,
) {
    let full = decode(usize::MAX, usize::MAX);
    let tight = decode(MAX_STR_LEN, MAX_LOGS);
    if let Err(message) = &full {
        check_message(message);
    }
    match &tight {
        Ok((spans, _)) => check_within(spans, MAX_STR_LEN, MAX_LOGS),
        Err(message) => check_message(message),
    }
    let Ok((full, full_other)) = full else {
        return;
    };
    check_within(&full, usize::MAX, usize::MAX);
    let (tight, tight_other) = tight.expect("what decodes without limits decodes within them");
    assert_eq!(full_other, tight_other);
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
}
