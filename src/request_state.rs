//! The request-local state that carries a request's span from `on_request`
//! through the handler to `on_response`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::Mutex;
use rocket::Request;
use rustracing_jaeger::Span;

use std::borrow::Cow;

use crate::ids::DisplayTraceId;
use crate::propagation::{TraceContext, FLAG_DEBUG, FLAG_SAMPLED};
use crate::record::{RecordSink, RequestRecord};
use crate::tags::RequestTags;

/// What the fairing leaves in a request's local cache.
///
/// `span` is filled in `on_request` in trace-all mode and by the
/// [`ActiveSpan`] guard in opt-in mode, where `on_request` notes only the
/// `arrival` (both stay empty when the request is not traced at all: no
/// fairing attached, or a path excluded from tracing). Both are set in
/// place, so whoever creates the slot first (another fairing looking up the
/// span early, say) cannot switch tracing off.
///
/// [`ActiveSpan`]: crate::ActiveSpan
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) arrival: OnceLock<SystemTime>,
    pub(crate) span: OnceLock<RequestSpan>,
}

/// The number of traced requests still alive (from `on_request` until the
/// request is dropped, after its body is sent or when it is aborted).
#[derive(Debug, Default)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Counts one more request until the guard is dropped.
    pub(crate) fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(&self.0))
    }

    /// Requests currently counted.
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Keeps a request counted in [`InFlight`].
#[derive(Debug)]
pub(crate) struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
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
    /// The caller's W3C `tracestate`, sent on with every `traceparent`.
    pub(crate) tracestate: Option<String>,
    pub(crate) state: Mutex<SpanState>,
    /// The trace id's digits and their count, encoded once when a response
    /// header needs them, and borrowed by that header (no allocation).
    trace_id_digits: OnceLock<([u8; 32], usize)>,
    /// Events of `tracing` recorded directly in the request's own `tracing`
    /// span, once it has one (sampled requests only).
    #[cfg(feature = "tracing")]
    pub(crate) events: OnceLock<Arc<Mutex<RequestEvents>>>,
    /// Held from the span's start while the request lives, when the fairing
    /// owns a reporter, so that shutdown can wait for in-flight requests'
    /// spans. (In opt-in mode a request is counted once its guard has run.)
    pub(crate) in_flight: Option<InFlightGuard>,
}

/// The mutable part of a request span, behind a short-lived lock (never held
/// across an `.await`).
#[derive(Debug)]
pub(crate) struct SpanState {
    /// The `rustracing` span, once built (boxed: most requests never build
    /// one, and the state stays small); none or inactive when unsampled,
    /// once finished, or while the span is `pending`.
    pub(crate) span: Option<Box<Span>>,
    /// A sampled span not built as a `rustracing` span (yet): it is built
    /// when user code needs it, else the request is reported as a
    /// [`RequestRecord`](crate::record::RequestRecord).
    pub(crate) pending: Option<Pending>,
    /// Baggage items, propagated downstream and inherited by child spans.
    pub(crate) baggage: Vec<(String, String)>,
    /// Baggage items dropped for being over the bounds.
    pub(crate) baggage_dropped: BaggageDropped,
    /// Set when the handler panicked and the error was already recorded.
    pub(crate) error_recorded: bool,
    /// Set once the span has been finished.
    pub(crate) finished: bool,
}

/// What a sampled request span is made of until it is built or recorded.
pub(crate) struct Pending {
    /// The name it started with (kept if it never finishes).
    pub(crate) name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) tags: RequestTags,
    /// The caller's span id, when the trace was continued (the span's
    /// `child_of` reference, in the span's own trace).
    pub(crate) parent_span_id: Option<u64>,
    /// Where the record goes, also when the request is dropped before its
    /// response.
    pub(crate) sink: Arc<dyn RecordSink>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("name", &self.name)
            .field("start", &self.start)
            .field("tags", &self.tags)
            .field("parent_span_id", &self.parent_span_id)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The record of this span of `context`, finished now: with `status`
    /// and `operation_name` when it has its response.
    pub(crate) fn record(
        self,
        context: &TraceContext,
        operation_name: Cow<'static, str>,
        status: Option<u16>,
    ) -> (RequestRecord, Arc<dyn RecordSink>) {
        let record = RequestRecord {
            trace_id: context.trace_id,
            span_id: context.span_id,
            parent_span_id: self.parent_span_id,
            // As the span's state would have them (`TraceContext::to_state`).
            flags: if context.is_debug() {
                FLAG_SAMPLED | FLAG_DEBUG
            } else {
                FLAG_SAMPLED
            },
            operation_name,
            start: self.start,
            finish: SystemTime::now(),
            method: self.tags.method.as_str(),
            url: self.tags.url,
            peer: self.tags.peer,
            status,
        };
        (record, self.sink)
    }
}

impl Drop for RequestSpan {
    /// A span still pending when its request is dropped never had its
    /// response (the runtime shut down, say): it is reported as it is, like
    /// a `rustracing` span dropped unfinished, under the name it started
    /// with.
    fn drop(&mut self) {
        if let Some(mut pending) = self.state.get_mut().pending.take() {
            let name = std::mem::take(&mut pending.name);
            let (record, sink) = pending.record(&self.context, name, None);
            sink.send(record);
        }
    }
}

/// What the `tracing` layer records for a request span: the events
/// emitted directly in the request's own `tracing` span (the handler's,
/// outside any span of its own), moved onto the request span when it
/// finishes. The `tracing` span may outlive the request (held by a task
/// that runs on): its later events are not recorded.
#[cfg(feature = "tracing")]
#[derive(Debug, Default)]
pub(crate) struct RequestEvents {
    /// At most `max_logs_per_span` logs.
    pub(crate) logs: Vec<crate::record::LogEntry>,
    /// Logs left out past the limit.
    pub(crate) dropped: usize,
    /// An event marked the span as failed.
    pub(crate) error: bool,
    /// The request span has finished: nothing more is recorded.
    pub(crate) closed: bool,
}

/// Baggage items dropped during a request, by origin.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BaggageDropped {
    /// Sent by the caller (`uberctx-*` headers).
    pub(crate) incoming: usize,
    /// Refused by `ActiveSpan::set_baggage_item`.
    pub(crate) local: usize,
}

impl BaggageDropped {
    pub(crate) fn total(self) -> usize {
        self.incoming.saturating_add(self.local)
    }
}

impl RequestSpan {
    pub(crate) fn new(
        context: TraceContext,
        (span, pending): (Option<Box<Span>>, Option<Pending>),
        baggage: Vec<(String, String)>,
        baggage_dropped: usize,
        tracestate: Option<String>,
    ) -> Self {
        RequestSpan {
            context,
            tracestate,
            state: Mutex::new(SpanState {
                span,
                pending,
                baggage,
                baggage_dropped: BaggageDropped {
                    incoming: baggage_dropped,
                    local: 0,
                },
                error_recorded: false,
                finished: false,
            }),
            trace_id_digits: OnceLock::new(),
            #[cfg(feature = "tracing")]
            events: OnceLock::new(),
            in_flight: None,
        }
    }

    /// The events recorded for this span by the `tracing` layer, taken
    /// once: later ones are refused ([`RequestEvents::closed`]).
    #[cfg(feature = "tracing")]
    pub(crate) fn take_events(&self) -> Option<RequestEvents> {
        let events = self.events.get()?;
        let mut events = events.lock();
        let taken = RequestEvents {
            logs: std::mem::take(&mut events.logs),
            dropped: events.dropped,
            error: events.error,
            closed: true,
        };
        events.closed = true;
        Some(taken)
    }

    /// The trace id as `X-Trace-Id` writes it (16 or 32 lower-case hex
    /// digits; see [`DisplayTraceId`]), living as long as the request.
    pub(crate) fn trace_id_text(&self) -> &str {
        let (digits, len) = self.trace_id_digits.get_or_init(|| {
            let mut digits = [0; 32];
            let len = DisplayTraceId(self.context.trace_id).encode_digits(&mut digits);
            (digits, len)
        });
        // Only ASCII hex digits were written.
        std::str::from_utf8(&digits[..*len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_live_guards() {
        let in_flight = InFlight::default();
        let first = in_flight.enter();
        let second = in_flight.enter();
        assert_eq!(in_flight.count(), 2);
        drop(first);
        assert_eq!(in_flight.count(), 1);
        drop(second);
        assert_eq!(in_flight.count(), 0);
    }
}
