//! From the decoded [`ExportTraceServiceRequest`] to [`SpanRecord`]s, within
//! the [limits](IngestLimits) and the [`MAX_DECODED_BYTES`] budget (see the
//! [module documentation](super) for the mapping).

use std::fmt::Write;

use super::proto::{
    ExportTraceServiceRequest, KeyValue, Resource, ScopeSpans, Span, SpanKind, StatusCode, Value,
};
use super::{Decoded, OtlpError};
use crate::limits::truncate;
use crate::viewer::ingest::reader::MAX_DECODED_BYTES;
use crate::viewer::ingest::{
    count_dropped_logs, limited_hex, limited_text, IngestLimits, UNKNOWN_SERVICE,
};
use crate::viewer::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue, TraceId};

/// The resource attribute naming the service.
const SERVICE_NAME: &str = "service.name";

/// Maps every span of `request`; spans with invalid ids are counted, not
/// kept.
pub(super) fn spans(
    request: &ExportTraceServiceRequest,
    limits: IngestLimits,
) -> Result<Decoded, OtlpError> {
    let mut decoded = Decoded {
        spans: Vec::new(),
        rejected: 0,
    };
    let mut size = 0usize;
    for resource_spans in &request.resource_spans {
        let service = service(resource_spans.resource.as_ref());
        for scope_spans in &resource_spans.scope_spans {
            for span in &scope_spans.spans {
                let Some(record) = record(span, &service, scope_spans, limits) else {
                    decoded.rejected = decoded.rejected.saturating_add(1);
                    continue;
                };
                size = size.saturating_add(record.approx_size());
                if size > MAX_DECODED_BYTES {
                    return Err(OtlpError::TooLargeDecoded);
                }
                decoded.spans.push(record);
            }
        }
    }
    Ok(decoded)
}

/// The service of a resource: its `service.name` attribute, else
/// `"unknown"`. Not cut, as the Thrift intake does not cut it.
fn service(resource: Option<&Resource>) -> String {
    let name = resource
        .into_iter()
        .flat_map(|r| &r.attributes)
        .find(|kv| kv.key == SERVICE_NAME.as_bytes())
        .and_then(|kv| match value_of(kv)? {
            Value::String(s) => Some(String::from_utf8_lossy(s).into_owned()),
            other => tag_value(other, usize::MAX).map(|v| v.to_text().into_owned()),
        })
        .unwrap_or_default();
    if name.is_empty() {
        UNKNOWN_SERVICE.to_owned()
    } else {
        name
    }
}

/// A 16-byte trace id, not all zero.
pub(super) fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    let id = u128::from_be_bytes(bytes.try_into().ok()?);
    (id != 0).then_some(id)
}

/// An 8-byte span id, not all zero.
pub(super) fn span_id(bytes: &[u8]) -> Option<u64> {
    let id = u64::from_be_bytes(bytes.try_into().ok()?);
    (id != 0).then_some(id)
}

/// Unix nanoseconds as microseconds.
fn micros(nanos: u64) -> i64 {
    i64::try_from(nanos / 1_000).unwrap_or(i64::MAX)
}

/// A span's `span.kind` tag value, as OpenTracing names the kinds.
fn kind_name(kind: i32) -> Option<&'static str> {
    match SpanKind::try_from(kind).ok()? {
        SpanKind::Unspecified => None,
        SpanKind::Internal => Some("internal"),
        SpanKind::Server => Some("server"),
        SpanKind::Client => Some("client"),
        SpanKind::Producer => Some("producer"),
        SpanKind::Consumer => Some("consumer"),
    }
}

fn string_tag(key: &str, value: String) -> Tag {
    Tag {
        key: key.to_owned(),
        value: TagValue::String(value),
    }
}

/// The span as a record; `None` if an id is invalid.
fn record(
    span: &Span,
    service: &str,
    scope_spans: &ScopeSpans,
    limits: IngestLimits,
) -> Option<SpanRecord> {
    let max = limits.max_str_len;
    let trace_id = trace_id(&span.trace_id)?;
    let span_id = span_id(&span.span_id)?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 => self::span_id(&span.parent_span_id),
        _ => return None,
    };

    let mut references = Vec::with_capacity(span.links.len() + 1);
    if let Some(parent) = parent_span_id {
        references.push(Reference {
            kind: ReferenceKind::ChildOf,
            trace_id,
            span_id: parent,
        });
    }
    references.extend(span.links.iter().filter_map(|link| {
        Some(Reference {
            kind: ReferenceKind::FollowsFrom,
            trace_id: self::trace_id(&link.trace_id)?,
            span_id: self::span_id(&link.span_id)?,
        })
    }));

    let mut tags: Vec<Tag> = span
        .attributes
        .iter()
        .filter_map(|kv| tag(kv, max))
        .collect();
    if let Some(kind) = kind_name(span.kind) {
        tags.push(string_tag("span.kind", kind.to_owned()));
    }
    if let Some(scope) = &scope_spans.scope {
        if !scope.name.is_empty() {
            tags.push(string_tag(
                "otel.scope.name",
                limited_text(&scope.name, max),
            ));
        }
        if !scope.version.is_empty() {
            let version = limited_text(&scope.version, max);
            tags.push(string_tag("otel.scope.version", version));
        }
    }
    if let Some(status) = &span.status {
        match StatusCode::try_from(status.code) {
            Ok(StatusCode::Error) => {
                tags.push(string_tag("otel.status_code", "ERROR".to_owned()));
                mark_error(&mut tags);
                if !status.message.is_empty() {
                    let message = limited_text(&status.message, max);
                    tags.push(string_tag("otel.status_description", message));
                }
            }
            Ok(StatusCode::Ok) => tags.push(string_tag("otel.status_code", "OK".to_owned())),
            Ok(StatusCode::Unset) | Err(_) => {}
        }
    }

    let kept = span.events.len().min(limits.max_logs);
    let logs = span.events[..kept]
        .iter()
        .map(|event| {
            let mut fields = Vec::with_capacity(event.attributes.len() + 1);
            if !event.name.is_empty() {
                fields.push(string_tag("event", limited_text(&event.name, max)));
            }
            fields.extend(event.attributes.iter().filter_map(|kv| tag(kv, max)));
            Log {
                timestamp_us: micros(event.time_unix_nano),
                fields,
            }
        })
        .collect();
    let sender_dropped = usize::try_from(span.dropped_events_count).unwrap_or(usize::MAX);
    let dropped = (span.events.len() - kept).saturating_add(sender_dropped);
    count_dropped_logs(&mut tags, dropped);

    let start_ns = span.start_time_unix_nano;
    Some(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        references,
        service: service.to_owned(),
        operation: limited_text(&span.name, max),
        start_us: micros(start_ns),
        duration_us: micros(span.end_time_unix_nano.saturating_sub(start_ns)),
        error: SpanRecord::is_error(&tags),
        tags,
        logs,
        baggage: Vec::new(),
    })
}

/// Marks the span of `tags` as failed, as its status says: the status wins
/// over an `error` attribute, which becomes `error = true` where it stands
/// (any further `error` tags are dropped); without one, `error = true` is
/// added.
fn mark_error(tags: &mut Vec<Tag>) {
    let mut marked = false;
    tags.retain_mut(|tag| {
        if tag.key != "error" {
            return true;
        }
        if marked {
            return false;
        }
        tag.value = TagValue::Bool(true);
        marked = true;
        true
    });
    if !marked {
        tags.push(Tag {
            key: "error".to_owned(),
            value: TagValue::Bool(true),
        });
    }
}

/// The value an attribute holds, if any.
fn value_of(kv: &KeyValue) -> Option<&Value> {
    kv.value.as_ref()?.value.as_ref()
}

/// An attribute as a tag (or a log field); `None` without a value.
fn tag(kv: &KeyValue, max: usize) -> Option<Tag> {
    let value = tag_value(value_of(kv)?, max)?;
    Some(Tag {
        key: String::from_utf8_lossy(&kv.key).into_owned(),
        value,
    })
}

/// A value as a tag's: strings (cut to `max`), booleans, integers and
/// doubles as such; bytes as hex; arrays and key-value lists as JSON text
/// (cut to `max`).
fn tag_value(value: &Value, max: usize) -> Option<TagValue> {
    Some(match value {
        Value::String(s) => TagValue::String(limited_text(s, max)),
        Value::Bool(b) => TagValue::Bool(*b),
        Value::Int(n) => TagValue::Long(*n),
        Value::Double(d) => TagValue::Double(*d),
        Value::Bytes(b) => TagValue::String(limited_hex(b, max)),
        Value::Array(_) | Value::Kvlist(_) => {
            let mut text = Text {
                out: String::new(),
                cap: max,
            };
            text.value(Some(value));
            TagValue::String(truncate(&text.out, max).into_owned())
        }
    })
}

/// JSON text of a value, written until it is longer than `cap` bytes (the
/// rest would be cut).
struct Text {
    out: String,
    cap: usize,
}

impl Text {
    fn full(&self) -> bool {
        self.out.len() > self.cap
    }

    fn push(&mut self, s: &str) {
        if !self.full() {
            self.out.push_str(s);
        }
    }

    /// Bytes of `bytes` that may yet be written: a character starting
    /// within the room left (each byte of the input is at least one of the
    /// text) is whole within 4 more bytes.
    fn room<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        let room = self.cap.saturating_sub(self.out.len()).saturating_add(5);
        &bytes[..bytes.len().min(room)]
    }

    fn value(&mut self, value: Option<&Value>) {
        if self.full() {
            return;
        }
        match value {
            None => self.push("null"),
            Some(Value::String(s)) => self.string(s),
            Some(Value::Bool(b)) => self.push(if *b { "true" } else { "false" }),
            Some(Value::Int(n)) => {
                let _ = write!(self.out, "{n}");
            }
            Some(Value::Double(d)) if d.is_finite() => {
                let _ = write!(self.out, "{d:?}");
            }
            Some(Value::Double(_)) => self.push("null"),
            Some(Value::Bytes(b)) => {
                self.push("\"");
                for byte in self.room(b) {
                    if self.full() {
                        break;
                    }
                    let _ = write!(self.out, "{byte:02x}");
                }
                self.push("\"");
            }
            Some(Value::Array(array)) => {
                self.push("[");
                for (i, element) in array.values.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    if i > 0 {
                        self.push(",");
                    }
                    self.value(element.value.as_ref());
                }
                self.push("]");
            }
            Some(Value::Kvlist(list)) => {
                self.push("{");
                for (i, kv) in list.values.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    if i > 0 {
                        self.push(",");
                    }
                    self.string(&kv.key);
                    self.push(":");
                    self.value(value_of(kv));
                }
                self.push("}");
            }
        }
    }

    /// A JSON string (invalid UTF-8 replaced with U+FFFD).
    fn string(&mut self, bytes: &[u8]) {
        self.push("\"");
        let text = String::from_utf8_lossy(self.room(bytes));
        for c in text.chars() {
            if self.full() {
                return;
            }
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", u32::from(c));
                }
                c => self.out.push(c),
            }
        }
        self.push("\"");
    }
}
