//! The start-span callback (Flask-OpenTracing's `start_span_cb`): user code
//! that sees each new request span and its request, and can add or override
//! tags. A callback that panics is contained and logged; the request is
//! unaffected and the span gets no error tag from it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rocket::Request;
use rustracing_jaeger::Span;

/// A start-span callback, shared by all requests.
pub type StartSpanCallback = Arc<dyn Fn(&mut Span, &Request<'_>) + Send + Sync + 'static>;

/// Runs `callback`, containing a panic.
pub(crate) fn run(callback: &StartSpanCallback, span: &mut Span, req: &Request<'_>) {
    if catch_unwind(AssertUnwindSafe(|| callback(span, req))).is_err() {
        log::warn!(
            "rocket_opentracing: the start-span callback panicked; the span is kept as it was"
        );
    }
}
