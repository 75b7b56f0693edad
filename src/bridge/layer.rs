//! [`TracingLayer`]: the `tracing-subscriber` layer that records `tracing`
//! spans and events inside a traced request in the request's trace.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

use super::fields::{event_log, SpanFields};
use super::node::{Node, RequestScope};
use crate::record::LogEntry;

/// A [`tracing-subscriber`](tracing_subscriber) layer that puts `tracing`
/// spans and events inside a request into the request's trace.
///
/// ```rust
/// use tracing_subscriber::prelude::*;
///
/// tracing_subscriber::registry()
///     .with(rocket_opentracing::TracingLayer::new())
///     // .with(tracing_subscriber::fmt::layer()), filters, ...
///     .init();
/// ```
///
/// Inside a request's `tracing` span (see [`instrument`](crate::instrument)
/// and [`ActiveSpan::instrument`](crate::ActiveSpan::instrument)):
///
/// - a `tracing` span becomes an OpenTracing child span of the enclosing
///   `tracing` span, or at the top of the request span: same trace, a
///   `child_of` reference, started when the `tracing` span is created and
///   finished when it closes. Its name is the operation name (an
///   `otel.name` field renames it), its fields are tags, also those
///   recorded later ([`tracing::Span::record`]); `otel.kind`/`span.kind`,
///   `otel.status_code` and `error` are understood (see the table in the
///   README). [`tracing::Span::follows_from`] between two such spans is a
///   `follows_from` reference.
/// - an event is a log on its span (on the request span for an event
///   directly in the handler): its `message`, `level`, `target` and other
///   fields. An `ERROR` event marks its span as failed (`error=true`) only
///   with [`TracingLayer::error_events_mark_spans`].
///
/// Spans and events of unsampled requests, and outside any request, are
/// left alone: no OpenTracing span is made. The [limits](crate::Limits)
/// apply as to every span: string values are cut to
/// `max_tag_value_length`, at most `max_logs_per_span` logs are kept per
/// span and the others counted.
///
/// The layer sees only what the subscriber's filters let through; the
/// request's own `tracing` span is at `INFO` level, with the target
/// `rocket_opentracing`.
#[derive(Debug, Clone, Default)]
pub struct TracingLayer {
    error_events_mark_spans: bool,
}

thread_local! {
    /// The request a `tracing` span being created on this thread stands
    /// for ([`bind_next_span`]): taken by the layer as the span is created.
    static NEXT_REQUEST: RefCell<Option<Arc<RequestScope>>> = const { RefCell::new(None) };
}

/// Creates a span with `make`, binding it to `scope` when a
/// [`TracingLayer`] sees it created.
pub(crate) fn bind_next_span(
    scope: Arc<RequestScope>,
    make: impl FnOnce() -> tracing::Span,
) -> tracing::Span {
    NEXT_REQUEST.with(|next| *next.borrow_mut() = Some(scope));
    let span = make();
    // Not taken when no layer saw the span (none installed, or filtered).
    NEXT_REQUEST.with(|next| next.borrow_mut().take());
    span
}

impl TracingLayer {
    /// The layer: `ERROR` events are logs like the others.
    pub fn new() -> Self {
        TracingLayer::default()
    }

    /// Whether an event at `ERROR` level also marks its span as failed:
    /// `error=true`, and its log begins with `event=error` (default:
    /// `false`, an `ERROR` event is a log like the others).
    pub fn error_events_mark_spans(mut self, yes: bool) -> Self {
        self.error_events_mark_spans = yes;
        self
    }
}

/// The node of the span a new span `id` is a child of, if any.
fn parent_of<'a, S>(
    attrs: &Attributes<'_>,
    id: &Id,
    ctx: &'a Context<'_, S>,
) -> Option<SpanRef<'a, S>>
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    if let Some(parent) = attrs.parent() {
        // A parent this layer does not see (filtered out): its nearest
        // ancestor it does.
        ctx.span(parent).or_else(|| ctx.span(id)?.parent())
    } else if attrs.is_contextual() {
        ctx.lookup_current()
    } else {
        None
    }
}

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(scope) = NEXT_REQUEST.with(|next| next.borrow_mut().take()) {
            if let Some(span) = ctx.span(id) {
                if let Some(Node::Child(mut child)) =
                    span.extensions_mut().replace(Node::Request(scope))
                {
                    child.discard();
                }
            }
            return;
        }
        let Some(parent) = parent_of(attrs, id, &ctx) else {
            return;
        };
        let child = match parent.extensions().get::<Node>() {
            Some(node) => node.child(attrs.metadata().name()),
            None => return,
        };
        let Some(mut child) = child else {
            return;
        };
        attrs.record(&mut SpanFields(&mut child));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().replace(Node::Child(child));
        } else {
            child.discard();
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(Node::Child(child)) = extensions.get_mut::<Node>() {
            values.record(&mut SpanFields(child));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let (Some(span), Some(follows)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some(reference) = follows.extensions().get::<Node>().and_then(Node::reference) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(Node::Child(child)) = extensions.get_mut::<Node>() {
            child.follows_from(reference);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let error = self.error_events_mark_spans && *event.metadata().level() == Level::ERROR;
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<Node>() {
            Some(Node::Child(child)) => {
                if error {
                    child.set_tag("error", rustracing::tag::TagValue::Boolean(true));
                }
                if child.room_for_log() {
                    let fields = event_log(event, error, child.max_len());
                    child.log(LogEntry {
                        time: SystemTime::now(),
                        fields,
                    });
                }
            }
            Some(Node::Request(scope)) => {
                let limits = scope.lifecycle.limits;
                let mut events = scope.events.lock();
                if events.closed {
                    return;
                }
                events.error |= error;
                if events.logs.len() < limits.max_logs_per_span {
                    let fields = event_log(event, error, limits.max_tag_value_length);
                    events.logs.push(LogEntry {
                        time: SystemTime::now(),
                        fields,
                    });
                } else {
                    events.dropped = events.dropped.saturating_add(1);
                }
            }
            None => {}
        }
    }
}
