//! What the layer keeps in a `tracing` span's extensions: the request a
//! request's own `tracing` span stands for, or the OpenTracing span a
//! `tracing` span inside a request is recorded as.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::span::TraceId;

use crate::ids::random_span_id;
use crate::lifecycle::SpanLifecycle;
use crate::limits::{truncate, MAX_FOLLOWS_FROM};
use crate::record::{ChildRecord, LogEntry, Reference};
use crate::request_state::RequestEvents;

/// The layer's data on a `tracing` span (one per span, in its extensions).
pub(crate) enum Node {
    /// The request's own `tracing` span: its events are the request span's
    /// logs, its children the request span's children.
    Request(Arc<RequestScope>),
    /// A span inside a sampled request, recorded as an OpenTracing span.
    Child(OpenChild),
}

/// A sampled request, as the `tracing` spans inside it see it.
pub(crate) struct RequestScope {
    pub(crate) trace_id: TraceId,
    /// The request span's id.
    pub(crate) span_id: u64,
    /// Jaeger's flags of the request span (sampled, debug).
    pub(crate) flags: u8,
    pub(crate) lifecycle: Arc<SpanLifecycle>,
    /// The request span's share of the events (see [`RequestEvents`]).
    pub(crate) events: Arc<Mutex<RequestEvents>>,
}

/// An OpenTracing span being recorded for a `tracing` span; reported when
/// the `tracing` span closes (its extensions are dropped then).
pub(crate) struct OpenChild {
    record: ChildRecord,
    /// `None` once discarded (never reported).
    scope: Option<Arc<RequestScope>>,
}

impl Node {
    /// The id of the span this node's children are children of, and the
    /// request they belong to.
    fn as_parent(&self) -> Option<(u64, &Arc<RequestScope>)> {
        match self {
            Node::Request(scope) => Some((scope.span_id, scope)),
            Node::Child(child) => Some((child.record.span_id, child.scope.as_ref()?)),
        }
    }

    /// A `follows_from` reference to this node's span.
    pub(crate) fn reference(&self) -> Option<Reference> {
        let (span_id, scope) = self.as_parent()?;
        Some(Reference {
            child_of: false,
            trace_id: scope.trace_id,
            span_id,
        })
    }

    /// A child of this node's span named `name`, started now.
    pub(crate) fn child(&self, name: &'static str) -> Option<OpenChild> {
        let (parent_span_id, scope) = self.as_parent()?;
        let start = SystemTime::now();
        Some(OpenChild {
            record: ChildRecord {
                trace_id: scope.trace_id,
                span_id: random_span_id(),
                parent_span_id,
                flags: scope.flags,
                operation_name: Cow::Borrowed(name),
                start,
                finish: start,
                follows_from: Vec::new(),
                tags: Vec::new(),
                logs: Vec::new(),
                dropped_logs: 0,
            },
            scope: Some(Arc::clone(scope)),
        })
    }
}

impl OpenChild {
    /// The longest string value recorded (the configured tag value limit).
    pub(crate) fn max_len(&self) -> usize {
        self.scope
            .as_ref()
            .map_or(usize::MAX, |s| s.lifecycle.limits.max_tag_value_length)
    }

    /// Renames the span (an `otel.name` field).
    pub(crate) fn rename(&mut self, name: &str) {
        let name = truncate(name, self.max_len()).into_owned();
        self.record.operation_name = Cow::Owned(name);
    }

    /// Sets tag `name` (replacing one of that name); string values are cut
    /// to the configured limit.
    pub(crate) fn set_tag(&mut self, name: &'static str, value: TagValue) {
        let value = match value {
            TagValue::String(s) if s.len() > self.max_len() => {
                TagValue::String(Cow::Owned(truncate(&s, self.max_len()).into_owned()))
            }
            value => value,
        };
        let tags = &mut self.record.tags;
        match tags.iter_mut().find(|tag| tag.name() == name) {
            Some(tag) => *tag = Tag::new(name, value),
            None => tags.push(Tag::new(name, value)),
        }
    }

    /// Whether one more log fits within the configured limit; a log that
    /// does not is counted.
    pub(crate) fn room_for_log(&mut self) -> bool {
        let max = self
            .scope
            .as_ref()
            .map_or(0, |s| s.lifecycle.limits.max_logs_per_span);
        if self.record.logs.len() < max {
            return true;
        }
        self.record.dropped_logs = self.record.dropped_logs.saturating_add(1);
        false
    }

    pub(crate) fn log(&mut self, entry: LogEntry) {
        self.record.logs.push(entry);
    }

    /// Adds a `follows_from` reference (at most [`MAX_FOLLOWS_FROM`]).
    pub(crate) fn follows_from(&mut self, reference: Reference) {
        let references = &mut self.record.follows_from;
        if references.len() < MAX_FOLLOWS_FROM && !references.contains(&reference) {
            references.push(reference);
        }
    }

    /// Forgets the span: it is not reported.
    pub(crate) fn discard(&mut self) {
        self.scope = None;
    }
}

impl Drop for OpenChild {
    /// The `tracing` span closed: the span is finished and reported.
    fn drop(&mut self) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        let record = &mut self.record;
        let finished = ChildRecord {
            trace_id: record.trace_id,
            span_id: record.span_id,
            parent_span_id: record.parent_span_id,
            flags: record.flags,
            operation_name: std::mem::take(&mut record.operation_name),
            start: record.start,
            finish: SystemTime::now(),
            follows_from: std::mem::take(&mut record.follows_from),
            tags: std::mem::take(&mut record.tags),
            logs: std::mem::take(&mut record.logs),
            dropped_logs: record.dropped_logs,
        };
        scope.lifecycle.report_child(finished);
    }
}
