//! What the viewer stores and serves: spans in the Jaeger data model, and
//! the summary of a trace. Both serialize to the JSON of
//! `/_traces/api/traces` and `/_traces/api/traces/<id>`.
//!
//! Ids are lower-case hex strings in JSON: a trace id has 16 digits when its
//! high 64 bits are zero, 32 otherwise (as in the `X-Trace-Id` response
//! header and Jaeger's UI); a span id has 16. Times are microseconds: since
//! the Unix epoch for instants (`start_us`, `timestamp_us`), or a length
//! (`duration_us`).

use rocket::serde::{Serialize, Serializer};

use crate::ids::{self, trace_id_from_u128, trace_id_u128, DisplaySpanId, DisplayTraceId};

/// A trace id: the 128 bits of a Jaeger trace id (`high << 64 | low`).
pub type TraceId = u128;

/// One finished span, as the viewer keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct SpanRecord {
    /// The span's trace.
    #[serde(serialize_with = "hex_trace_id")]
    pub trace_id: TraceId,
    /// The span's id.
    #[serde(serialize_with = "hex_span_id")]
    pub span_id: u64,
    /// The parent span in the same trace; `null` for a root span.
    #[serde(serialize_with = "hex_parent_id")]
    pub parent_span_id: Option<u64>,
    /// Every reference the span reported (the parent's `child_of` one
    /// included; a `follows_from` may point into another trace).
    pub references: Vec<Reference>,
    /// Name of the service (the Jaeger process) that reported the span.
    pub service: String,
    /// The operation name.
    pub operation: String,
    /// Start, in microseconds since the Unix epoch.
    pub start_us: i64,
    /// Duration, in microseconds.
    pub duration_us: i64,
    /// Whether the span has an `error` tag set to `true` (or `"true"`).
    pub error: bool,
    /// The span's tags, in the order reported.
    pub tags: Vec<Tag>,
    /// The span's logs, in the order reported.
    pub logs: Vec<Log>,
    /// The span's baggage items, as `{"key": …, "value": …}` objects. Only
    /// spans of this process carry baggage: Jaeger's wire format has none.
    pub baggage: Vec<Baggage>,
}

/// A reference from a span to another span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct Reference {
    /// `"child_of"` or `"follows_from"`.
    pub kind: ReferenceKind,
    /// The referenced span's trace.
    #[serde(serialize_with = "hex_trace_id")]
    pub trace_id: TraceId,
    /// The referenced span.
    #[serde(serialize_with = "hex_span_id")]
    pub span_id: u64,
}

/// The two OpenTracing reference types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum ReferenceKind {
    /// The referenced span is the parent.
    ChildOf,
    /// The referenced span caused this one but does not wait for it.
    FollowsFrom,
}

/// A tag, or a field of a log: `{"key": "http.status_code", "value": 200}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct Tag {
    /// The tag's name.
    pub key: String,
    /// The tag's value: a JSON string, boolean or number.
    pub value: TagValue,
}

/// The value of a [`Tag`]: Jaeger's four value types (binary values
/// become hex strings).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(crate = "rocket::serde", untagged)]
pub enum TagValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Long(i64),
    /// A floating-point number (`null` in JSON when not finite).
    Double(f64),
}

impl TagValue {
    /// The value as text, as the trace page shows it.
    pub fn to_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            TagValue::String(s) => s.as_str().into(),
            TagValue::Bool(b) => b.to_string().into(),
            TagValue::Long(l) => l.to_string().into(),
            TagValue::Double(d) => d.to_string().into(),
        }
    }
}

/// A log: a timestamp and fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct Log {
    /// When, in microseconds since the Unix epoch.
    pub timestamp_us: i64,
    /// The log's fields, e.g. `event`, `message`.
    pub fields: Vec<Tag>,
}

/// A baggage item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct Baggage {
    /// The item's key.
    pub key: String,
    /// The item's value.
    pub value: String,
}

impl SpanRecord {
    /// Whether `tags` mark an error: a tag `error` that is `true` or
    /// `"true"` (Jaeger's UI reads both).
    pub fn is_error(tags: &[Tag]) -> bool {
        tags.iter().any(|tag| {
            tag.key == "error"
                && match &tag.value {
                    TagValue::Bool(b) => *b,
                    TagValue::String(s) => s.eq_ignore_ascii_case("true"),
                    _ => false,
                }
        })
    }

    /// The value of the first tag named `key`.
    pub fn tag(&self, key: &str) -> Option<&TagValue> {
        self.tags.iter().find(|t| t.key == key).map(|t| &t.value)
    }

    /// End, in microseconds since the Unix epoch.
    pub fn end_us(&self) -> i64 {
        self.start_us.saturating_add(self.duration_us.max(0))
    }

    /// About how many bytes the record takes in memory (what the store's
    /// byte bound counts).
    pub(crate) fn approx_size(&self) -> usize {
        const TAG: usize = std::mem::size_of::<Tag>();
        fn tag_size(tag: &Tag) -> usize {
            let value = match &tag.value {
                TagValue::String(s) => s.len(),
                _ => 0,
            };
            TAG + tag.key.len() + value
        }
        std::mem::size_of::<SpanRecord>()
            + self.service.len()
            + self.operation.len()
            + self.references.len() * std::mem::size_of::<Reference>()
            + self.tags.iter().map(tag_size).sum::<usize>()
            + self
                .logs
                .iter()
                .map(|log| {
                    std::mem::size_of::<Log>() + log.fields.iter().map(tag_size).sum::<usize>()
                })
                .sum::<usize>()
            + self
                .baggage
                .iter()
                .map(|b| std::mem::size_of::<Baggage>() + b.key.len() + b.value.len())
                .sum::<usize>()
    }
}

/// One line of the trace list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(crate = "rocket::serde")]
pub struct TraceSummary {
    /// The trace's id.
    #[serde(serialize_with = "hex_trace_id")]
    pub trace_id: TraceId,
    /// Service of the root span (the earliest span without a parent in the
    /// store; the earliest span when every parent is missing).
    pub service: String,
    /// Operation of the root span.
    pub operation: String,
    /// Start of the earliest span, in microseconds since the Unix epoch.
    pub start_us: i64,
    /// From the earliest start to the latest end, in microseconds.
    pub duration_us: i64,
    /// Number of spans stored for the trace.
    pub span_count: usize,
    /// Whether any span has an error.
    pub error: bool,
    /// The root span's `http.status_code` tag (or, sent over OTLP, its
    /// `http.response.status_code` attribute), if any.
    pub status_code: Option<i64>,
    /// Every service with a span in the trace, sorted.
    pub services: Vec<String>,
}

/// Formats a trace id as everywhere else ([`crate::ids`]): 16 digits when
/// its high 64 bits are zero, else 32.
pub(crate) fn format_trace_id(id: TraceId) -> String {
    DisplayTraceId(trace_id_from_u128(id)).to_string()
}

/// Formats a span id: 16 hex digits.
pub(crate) fn format_span_id(id: u64) -> String {
    DisplaySpanId(id).to_string()
}

/// Parses a trace id given as 1 to 32 hex digits (either case), as the
/// `X-Trace-Id` header, Jaeger's UI or a log line show it. Zero is no id.
pub(crate) fn parse_trace_id(text: &str) -> Option<TraceId> {
    ids::parse_trace_id(text.trim())
        .map(trace_id_u128)
        .filter(|id| *id != 0)
}

fn hex_trace_id<S: Serializer>(id: &TraceId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_trace_id(*id))
}

fn hex_span_id<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_span_id(*id))
}

fn hex_parent_id<S: Serializer>(id: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&format_span_id(*id)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_round_trip_in_the_header_format() {
        assert_eq!(format_trace_id(0xabc), "0000000000000abc");
        assert_eq!(
            format_trace_id(1 << 64 | 2),
            "00000000000000010000000000000002"
        );
        assert_eq!(parse_trace_id("0000000000000ABC"), Some(0xabc));
        assert_eq!(parse_trace_id("abc"), Some(0xabc));
        assert_eq!(
            parse_trace_id("00000000000000010000000000000002"),
            Some(1 << 64 | 2)
        );
        for bad in ["", "0", "xyz", "+1", "-1", &"f".repeat(33), "12 34"] {
            assert_eq!(parse_trace_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_span_serializes_to_the_documented_json() {
        use rocket::serde::json::{json, to_value};
        let span = SpanRecord {
            trace_id: 0x0576844fbda562429a6abe3718098648,
            span_id: 0x4d1b6e4c2f0a9e31,
            parent_span_id: Some(0x9a6abe3718098648),
            references: vec![Reference {
                kind: ReferenceKind::FollowsFrom,
                trace_id: 0xabc,
                span_id: 0x1,
            }],
            service: "server".into(),
            operation: "cache.refresh".into(),
            start_us: 1_795_280_989_955_120,
            duration_us: 1190,
            error: true,
            tags: vec![
                Tag {
                    key: "error".into(),
                    value: TagValue::Bool(true),
                },
                Tag {
                    key: "n".into(),
                    value: TagValue::Long(-3),
                },
                Tag {
                    key: "ratio".into(),
                    value: TagValue::Double(0.25),
                },
                Tag {
                    key: "nan".into(),
                    value: TagValue::Double(f64::NAN),
                },
            ],
            logs: vec![Log {
                timestamp_us: 1_795_280_989_956_301,
                fields: vec![Tag {
                    key: "event".into(),
                    value: TagValue::String("error".into()),
                }],
            }],
            baggage: vec![Baggage {
                key: "user".into(),
                value: "alice".into(),
            }],
        };
        assert_eq!(
            to_value(&span).unwrap(),
            json!({
                "trace_id": "0576844fbda562429a6abe3718098648",
                "span_id": "4d1b6e4c2f0a9e31",
                "parent_span_id": "9a6abe3718098648",
                "references": [
                    {"kind": "follows_from", "trace_id": "0000000000000abc", "span_id": "0000000000000001"}
                ],
                "service": "server",
                "operation": "cache.refresh",
                "start_us": 1_795_280_989_955_120i64,
                "duration_us": 1190,
                "error": true,
                "tags": [
                    {"key": "error", "value": true},
                    {"key": "n", "value": -3},
                    {"key": "ratio", "value": 0.25},
                    {"key": "nan", "value": null}
                ],
                "logs": [{"timestamp_us": 1_795_280_989_956_301i64, "fields": [{"key": "event", "value": "error"}]}],
                "baggage": [{"key": "user", "value": "alice"}]
            })
        );
        let root = SpanRecord {
            parent_span_id: None,
            ..span
        };
        assert_eq!(to_value(&root).unwrap()["parent_span_id"], json!(null));
    }

    #[test]
    fn a_summary_serializes_to_the_documented_json() {
        use rocket::serde::json::{json, to_value};
        let summary = TraceSummary {
            trace_id: 0xabc,
            service: "server".into(),
            operation: "GET /work".into(),
            start_us: 10,
            duration_us: 7105,
            span_count: 4,
            error: true,
            status_code: None,
            services: vec!["client".into(), "server".into()],
        };
        assert_eq!(
            to_value(&summary).unwrap(),
            json!({
                "trace_id": "0000000000000abc",
                "service": "server",
                "operation": "GET /work",
                "start_us": 10,
                "duration_us": 7105,
                "span_count": 4,
                "error": true,
                "status_code": null,
                "services": ["client", "server"]
            })
        );
    }

    #[test]
    fn errors_are_read_from_bool_and_string_tags() {
        let tag = |key: &str, value| Tag {
            key: key.into(),
            value,
        };
        assert!(SpanRecord::is_error(&[tag("error", TagValue::Bool(true))]));
        assert!(SpanRecord::is_error(&[tag(
            "error",
            TagValue::String("true".into())
        )]));
        assert!(!SpanRecord::is_error(&[tag(
            "error",
            TagValue::Bool(false)
        )]));
        assert!(!SpanRecord::is_error(&[tag(
            "errors",
            TagValue::Bool(true)
        )]));
        assert!(!SpanRecord::is_error(&[tag("error", TagValue::Long(1))]));
    }
}
