//! The request-local state that carries a request's span from `on_request`
//! through the handler to `on_response`.

use std::sync::OnceLock;
use std::time::SystemTime;

use parking_lot::Mutex;
use rocket::Request;
use rustracing_jaeger::Span;

use crate::propagation::TraceContext;

/// What the fairing leaves in a request's local cache.
///
/// `arrival` stays empty when the request is not traced at all (no fairing
/// attached, or a path excluded from tracing); `span` is filled in
/// `on_request` in trace-all mode and by the [`ActiveSpan`] guard in opt-in
/// mode. Both are set in place, so whoever creates the slot first (another
/// fairing looking up the span early, say) cannot switch tracing off.
///
/// [`ActiveSpan`]: crate::ActiveSpan
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) arrival: OnceLock<SystemTime>,
    pub(crate) span: OnceLock<RequestSpan>,
}

impl Slot {
    /// The slot of `req`, created empty if there is none yet.
    pub(crate) fn of<'r>(req: &'r Request<'_>) -> &'r Slot {
        req.local_cache(Slot::default)
    }
}

/// A request's span and its propagated context.
#[derive(Debug)]
pub(crate) struct RequestSpan {
    /// Ids and sampling decision; present even when the span is not sampled.
    pub(crate) context: TraceContext,
    pub(crate) state: Mutex<SpanState>,
}

/// The mutable part of a request span, behind a short-lived lock (never held
/// across an `.await`).
#[derive(Debug)]
pub(crate) struct SpanState {
    /// The span; inactive when unsampled or once finished.
    pub(crate) span: Span,
    /// Baggage items, propagated downstream and inherited by child spans.
    pub(crate) baggage: Vec<(String, String)>,
    /// Set when the handler panicked and the error was already recorded.
    pub(crate) error_recorded: bool,
    /// Set once the span has been finished.
    pub(crate) finished: bool,
}

impl RequestSpan {
    pub(crate) fn new(context: TraceContext, span: Span, baggage: Vec<(String, String)>) -> Self {
        RequestSpan {
            context,
            state: Mutex::new(SpanState {
                span,
                baggage,
                error_recorded: false,
                finished: false,
            }),
        }
    }
}
