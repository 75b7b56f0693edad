//! A request's own `tracing` span: the span every `tracing` span and event
//! of the handler nests in, carrying the request's trace and span ids as
//! fields, and bound to the request span when the request is sampled.

use std::sync::Arc;

use parking_lot::Mutex;

use super::layer::bind_next_span;
use super::node::RequestScope;
use crate::ids::DisplaySpanId;
use crate::lifecycle::SpanLifecycle;
use crate::request_state::{RequestEvents, RequestSpan};

/// The `tracing` span of the request whose span is `span`: `request` at
/// `INFO` level, target `rocket_opentracing`, with fields `trace_id` and
/// `span_id` (as `X-Trace-Id` and the span id are written), bound to the
/// request span if it is sampled. `Span::none()` when the request is not
/// traced.
pub(crate) fn request_tracing_span(
    traced: Option<(&RequestSpan, &Arc<SpanLifecycle>)>,
) -> tracing::Span {
    let Some((span, lifecycle)) = traced else {
        return tracing::Span::none();
    };
    let make = || {
        tracing::info_span!(
            target: "rocket_opentracing",
            "request",
            trace_id = %span.trace_id_text(),
            span_id = %DisplaySpanId(span.context.span_id),
        )
    };
    if !span.context.is_sampled() || span.state.lock().finished {
        return make();
    }
    let events = span
        .events
        .get_or_init(|| Arc::new(Mutex::new(RequestEvents::default())));
    let scope = RequestScope {
        trace_id: span.context.trace_id,
        span_id: span.context.span_id,
        flags: span.context.flags,
        lifecycle: Arc::clone(lifecycle),
        events: Arc::clone(events),
    };
    bind_next_span(Arc::new(scope), make)
}
