//! Test support shared by the decoder's tests: bodies as our reporter
//! encodes them (and the spans they decode to), hand-written binary-Thrift
//! bodies ([`W`]), mutations, and the checks every decoding must pass.

use super::jaeger::TAG_STRING;
use super::reader::{T_I32, T_I64, T_LIST, T_STOP, T_STRING, T_STRUCT};
use super::{decode_batch, IngestLimits};
use crate::limits::TRUNCATION_MARKER;
use crate::record::Record;
use crate::reporter::thrift::testing::{finish, full_span, state, t0, T0_SECS};
use crate::reporter::thrift::{Batch, Fit, Trim, Wire};
use crate::reporter::MAX_COLLECTOR_BATCH_SIZE;
use crate::viewer::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue};
use proptest::sample::Index;
use rustracing::tag::Tag as OtTag;
use rustracing_jaeger::span::SpanContext;
use std::sync::OnceLock;
use std::time::Duration;

pub(super) const LIMITS: IngestLimits = IngestLimits {
    max_str_len: 4096,
    max_logs: 128,
};
pub(super) const NO_LIMITS: IngestLimits = IngestLimits {
    max_str_len: usize::MAX,
    max_logs: usize::MAX,
};
/// Tight limits, for the properties: cuts and drops happen.
pub(super) const TIGHT: IngestLimits = IngestLimits {
    max_str_len: 8,
    max_logs: 1,
};

const T0_US: i64 = T0_SECS as i64 * 1_000_000;

/// A collector body, as our reporter POSTs it, holding `spans`,
/// encoded within `trim`.
pub(super) fn body_within(service: &str, spans: &[Record], trim: Trim) -> Vec<u8> {
    let process_tags = [("hostname", "box"), ("ip", "10.0.0.1")];
    let mut batch = Batch::new(
        Wire::Collector,
        service,
        &process_tags,
        MAX_COLLECTOR_BATCH_SIZE,
    )
    .with_limits(trim);
    let mut buf = Vec::new();
    for span in spans {
        assert_eq!(batch.encode(&mut buf, span), Fit::Whole);
        batch.push(&buf);
    }
    batch.finish().to_vec()
}

pub(super) fn body(service: &str, spans: &[Record]) -> Vec<u8> {
    body_within(service, spans, Trim::NONE)
}

pub(super) fn tag(key: &str, value: TagValue) -> Tag {
    Tag {
        key: key.to_owned(),
        value,
    }
}

pub(super) fn string(key: &str, value: &str) -> Tag {
    tag(key, TagValue::String(value.to_owned()))
}

/// Three spans covering every field, and what they decode to.
pub(super) fn round_trip_spans() -> (Vec<Record<'static>>, Vec<SpanRecord>) {
    const HIGH: u64 = 0x8000_0000_0000_0001;
    // The reporter tests' span using every feature: its parent (span
    // 0x1111) is in its trace; its cause, in another one.
    let full = full_span();
    let cause = SpanContext::new(state(0xCCCC, 0xDDDD, 0x2222), Vec::new());
    let failed = finish(|tracer| {
        let mut span = tracer
            .span("failed")
            .start_time(t0() + Duration::from_micros(5))
            .tag(OtTag::new("error", true))
            .tag(OtTag::new("http.status_code", 500i64))
            .start_with_state(state(0, 0x0000_0000_0000_00AB, 0x0C));
        span.set_finish_time(|| t0() + Duration::from_micros(7));
        span
    });
    let linked = finish(|tracer| {
        let mut span = tracer
            .span("linked")
            .follows_from(&cause)
            .start_time(t0())
            .start_with_state(state(0, 0xAAAA, 0x3333));
        span.set_finish_time(t0);
        span
    });

    let record = |trace_id, span_id, parent_span_id, operation: &str| SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        references: Vec::new(),
        service: "client".to_owned(),
        operation: operation.to_owned(),
        start_us: T0_US,
        duration_us: 0,
        error: false,
        tags: Vec::new(),
        logs: Vec::new(),
        baggage: Vec::new(),
    };
    let follows_cause = Reference {
        kind: ReferenceKind::FollowsFrom,
        trace_id: 0xCCCC << 64 | 0xDDDD,
        span_id: 0x2222,
    };
    let full_trace = u128::from(HIGH) << 64 | u128::from(u64::MAX);
    let mut full_record = record(
        full_trace,
        0xDEAD_BEEF_0000_0001,
        Some(0x1111),
        "GET /hello/<name>",
    );
    full_record.references = vec![
        Reference {
            kind: ReferenceKind::ChildOf,
            trace_id: full_trace,
            span_id: 0x1111,
        },
        follows_cause,
    ];
    full_record.duration_us = 1234;
    full_record.tags = vec![
        string("a.str", "value"),
        tag("b.bool", TagValue::Bool(true)),
        tag("c.bool", TagValue::Bool(false)),
        tag("d.long", TagValue::Long(-42)),
        tag("e.double", TagValue::Double(2.5)),
        string("jaeger-debug-id", "dbg-42"),
    ];
    full_record.logs = vec![
        Log {
            timestamp_us: T0_US + 10,
            fields: vec![string("event", "start"), string("message", "hello")],
        },
        Log {
            timestamp_us: T0_US + 20,
            fields: vec![string("k", "v")],
        },
    ];
    let mut failed_record = record(0xAB, 0x0C, None, "failed");
    failed_record.start_us = T0_US + 5;
    failed_record.duration_us = 2;
    failed_record.error = true;
    failed_record.tags = vec![
        tag("error", TagValue::Bool(true)),
        tag("http.status_code", TagValue::Long(500)),
    ];
    let mut linked_record = record(0xAAAA, 0x3333, None, "linked");
    linked_record.references = vec![follows_cause];

    (
        vec![full, failed, linked],
        vec![full_record, failed_record, linked_record],
    )
}

/// The body of [`round_trip_spans`], made once.
pub(super) fn valid_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| body("client", &round_trip_spans().0))
}

/// Checks what an `Ok` decoding holds, within `limits`.
pub(super) fn check_within(spans: &[SpanRecord], limits: IngestLimits) {
    let max = limits
        .max_str_len
        .max(1)
        .saturating_add(TRUNCATION_MARKER.len());
    let check_value = |tag: &Tag| {
        if let TagValue::String(s) = &tag.value {
            assert!(s.len() <= max, "{} bytes", s.len());
        }
    };
    for span in spans {
        assert_ne!(span.trace_id, 0);
        assert_ne!(span.span_id, 0);
        assert_ne!(span.parent_span_id, Some(0));
        assert!(!span.service.is_empty());
        assert!(span.operation.len() <= max);
        assert!(span.logs.len() <= limits.max_logs);
        assert!(span.baggage.is_empty());
        assert_eq!(span.error, SpanRecord::is_error(&span.tags));
        span.tags.iter().for_each(check_value);
        span.logs
            .iter()
            .flat_map(|log| &log.fields)
            .for_each(check_value);
        for reference in &span.references {
            assert_ne!(reference.trace_id, 0);
            assert_ne!(reference.span_id, 0);
        }
    }
}

/// Checks that an error's message is short and plain.
pub(super) fn check_message(error: &impl std::fmt::Display) {
    let message = error.to_string();
    assert!(!message.is_empty() && message.len() <= 80, "{message}");
    assert!(message.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
}

/// A hand-written binary-Thrift body.
#[derive(Default)]
pub(super) struct W(pub(super) Vec<u8>);

impl W {
    pub(super) fn field(&mut self, ty: u8, id: i16) -> &mut Self {
        self.0.push(ty);
        self.0.extend(id.to_be_bytes());
        self
    }
    pub(super) fn byte(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    pub(super) fn i32(&mut self, n: i32) -> &mut Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    pub(super) fn i64(&mut self, n: i64) -> &mut Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    pub(super) fn f64(&mut self, n: f64) -> &mut Self {
        self.0.extend(n.to_be_bytes());
        self
    }
    pub(super) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.i32(b.len() as i32);
        self.0.extend(b);
        self
    }
    pub(super) fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    pub(super) fn list(&mut self, elem: u8, count: i32) -> &mut Self {
        self.byte(elem).i32(count)
    }
    pub(super) fn stop(&mut self) -> &mut Self {
        self.byte(T_STOP)
    }
    /// A `Span` with these ids and nothing else.
    pub(super) fn span(&mut self, trace_low: i64, span_id: i64) -> &mut Self {
        self.field(T_I64, 1).i64(trace_low);
        self.field(T_I64, 3).i64(span_id).stop()
    }
    /// A string `Tag`.
    pub(super) fn string_tag(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.field(T_STRING, 1).bytes(key);
        self.field(T_I32, 2).i32(TAG_STRING);
        self.field(T_STRING, 3).bytes(value).stop()
    }
    /// The head of a batch of service `svc`, up to the spans list.
    pub(super) fn batch_head(&mut self, spans: i32) -> &mut Self {
        self.field(T_STRUCT, 1).field(T_STRING, 1).str("svc").stop();
        self.field(T_LIST, 2).list(T_STRUCT, spans)
    }
    pub(super) fn done(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// A batch of one span (trace 1, span 2) whose body is written by
/// `span_fields` (then STOP).
pub(super) fn one_span(span_fields: impl FnOnce(&mut W)) -> Vec<u8> {
    let mut w = W::default();
    w.batch_head(1);
    w.field(T_I64, 1).i64(1).field(T_I64, 3).i64(2);
    span_fields(&mut w);
    w.stop().stop().done()
}

pub(super) fn decode_one(body: &[u8], limits: IngestLimits) -> SpanRecord {
    let mut spans = decode_batch(body, limits).unwrap();
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans.remove(0)
}

/// Applies `edits` to `body`: overwrite, insert or remove a byte.
pub(super) fn mutate(body: &mut Vec<u8>, edits: &[(Index, u8, u8)]) {
    for (index, byte, op) in edits {
        let i = index.index(body.len() + 1);
        match op {
            0 if i < body.len() => body[i] = *byte,
            1 => body.insert(i, *byte),
            _ if i < body.len() => {
                body.remove(i);
            }
            _ => {}
        }
    }
}
