//! `tracing` fields as OpenTracing tags and log fields.
//!
//! A span's fields are its tags, with these understood:
//!
//! | field | becomes |
//! | --- | --- |
//! | `otel.name` | the operation name |
//! | `otel.kind`, `span.kind` | the `span.kind` tag (`server`, `client`, `producer`, `consumer`; `internal` sets none) |
//! | `otel.status_code` | `error=true` when `error` (any case) |
//! | `error` | `error=true` when `true` (a bool, or the text `true`) |
//!
//! An event is a log: its `message` (when it has one), `level`, `target`
//! and its other fields, and `event=error` when it marks its span as
//! failed; ordered by name, as `rustracing` orders a log's fields.

use std::borrow::Cow;
use std::fmt::{self, Write};

use rustracing::log::LogField;
use rustracing::tag::TagValue;
use tracing::field::{Field, Visit};
use tracing::Event;

use super::node::OpenChild;
use crate::limits::truncate;

/// Records a span's fields on its OpenTracing span.
pub(super) struct SpanFields<'a>(pub(super) &'a mut OpenChild);

impl SpanFields<'_> {
    fn text(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.name" => self.0.rename(value),
            "otel.kind" | "span.kind" => {
                if let Some(kind) = span_kind(value) {
                    self.0
                        .set_tag("span.kind", TagValue::String(Cow::Borrowed(kind)));
                }
            }
            "otel.status_code" => {
                if value.eq_ignore_ascii_case("error") {
                    self.0.set_tag("error", TagValue::Boolean(true));
                }
            }
            "error" if value == "true" => self.0.set_tag("error", TagValue::Boolean(true)),
            name => {
                let value = truncate(value, self.0.max_len()).into_owned();
                self.0.set_tag(name, TagValue::String(Cow::Owned(value)));
            }
        }
    }
}

/// The OpenTracing `span.kind` an OpenTelemetry span kind is.
fn span_kind(kind: &str) -> Option<&'static str> {
    ["server", "client", "producer", "consumer"]
        .into_iter()
        .find(|k| kind.eq_ignore_ascii_case(k))
}

impl Visit for SpanFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set_tag(field.name(), TagValue::Boolean(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set_tag(field.name(), TagValue::Integer(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.0.set_tag(field.name(), TagValue::Integer(value)),
            Err(_) => self.text(field, &value.to_string()),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set_tag(field.name(), TagValue::Float(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, &format!("{value:?}"));
    }
}

/// The log an event becomes; `error`: it marks its span as failed.
pub(super) fn event_log(event: &Event<'_>, error: bool, max_len: usize) -> Vec<LogField> {
    let metadata = event.metadata();
    let mut fields = EventFields {
        message: None,
        others: Vec::new(),
        max_len,
    };
    event.record(&mut fields);
    let mut log = Vec::with_capacity(3 + usize::from(error) + fields.others.len());
    if error {
        log.push(LogField::new("event", "error"));
    }
    if let Some(message) = fields.message {
        log.push(LogField::new("message", message));
    }
    log.push(LogField::new("level", metadata.level().as_str()));
    log.push(LogField::new("target", metadata.target()));
    log.extend(fields.others);
    // As `rustracing` finishes a log: by name, the last of a name kept.
    log.reverse();
    log.sort_by(|a, b| a.name().cmp(b.name()));
    log.dedup_by(|a, b| a.name() == b.name());
    log
}

/// An event's fields, as log fields.
struct EventFields {
    message: Option<String>,
    others: Vec<LogField>,
    max_len: usize,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: String) {
        let value = match truncate(&value, self.max_len) {
            Cow::Borrowed(_) => value,
            Cow::Owned(cut) => cut,
        };
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.others.push(LogField::new(field.name(), value));
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, text);
    }
}
