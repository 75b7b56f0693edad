//! The context that travels between services: ids, flags and the caller's
//! sampling decision, as extraction finds them and injection writes them.

use std::fmt;

use rustracing_jaeger::span::{SpanContext, SpanContextState, SpanContextStateBuilder, TraceId};

use super::Format;
use crate::ids::{random_root_ids, random_span_id, DisplayTraceId};

/// Flag bit: the trace is sampled (its spans are reported).
pub const FLAG_SAMPLED: u8 = 0b01;
/// Flag bit: the trace is a debug trace (sampled whatever the sampler says).
pub const FLAG_DEBUG: u8 = 0b10;

/// A caller's sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// No decision received (no caller, or a B3 caller that deferred): the
    /// local sampler decides.
    #[default]
    Deferred,
    /// Not sampled: no span is reported, and the decision is passed on.
    NotSampled,
    /// Sampled, whatever the local sampler says.
    Sampled,
    /// A debug trace: sampled, and marked as debug.
    Debug,
}

/// What one format's headers say: the caller's span, if ids were sent, and
/// its sampling decision. B3 may send a decision without ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The caller's span (its `flags` mirror `sampling`; 0 when deferred).
    pub parent: Option<TraceContext>,
    /// The caller's decision.
    pub sampling: Sampling,
}

/// The identity of a span as it travels between services: the part of a span
/// that is propagated in headers.
///
/// Unlike a `rustracing` span, a `TraceContext` exists for unsampled requests
/// too, so their context (with the "not sampled" decision) still reaches
/// downstream services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id, 128-bit (`high` is 0 for a 64-bit id).
    pub trace_id: TraceId,
    /// This span's id (never 0).
    pub span_id: u64,
    /// The parent span's id, 0 for a root span.
    pub parent_span_id: u64,
    /// [`FLAG_SAMPLED`] and [`FLAG_DEBUG`] bits.
    pub flags: u8,
}

impl TraceContext {
    /// A new root context with random ids and the given sampling decision.
    pub fn new_root(sampled: bool) -> Self {
        let (trace_id, span_id) = random_root_ids();
        TraceContext {
            trace_id,
            span_id,
            parent_span_id: 0,
            flags: if sampled { FLAG_SAMPLED } else { 0 },
        }
    }

    /// A new child of `self`: same trace and flags, new span id.
    pub fn new_child(&self) -> Self {
        TraceContext {
            trace_id: self.trace_id,
            span_id: random_span_id(),
            parent_span_id: self.span_id,
            flags: self.flags,
        }
    }

    /// Whether the trace is sampled (its spans are reported).
    pub fn is_sampled(&self) -> bool {
        self.flags & (FLAG_SAMPLED | FLAG_DEBUG) != 0
    }

    /// Whether the trace is a debug trace.
    pub fn is_debug(&self) -> bool {
        self.flags & FLAG_DEBUG != 0
    }

    /// The context of a started `rustracing_jaeger` span, `None` if the span
    /// is not sampled (an inactive span has no context).
    pub fn of_span(span: &rustracing_jaeger::Span) -> Option<Self> {
        span.context().map(|ctx| Self::from_state(ctx.state()))
    }

    pub(crate) fn from_state(state: &SpanContextState) -> Self {
        TraceContext {
            trace_id: state.trace_id(),
            span_id: state.span_id(),
            parent_span_id: 0,
            flags: state.flags(),
        }
    }

    /// This context as a `rustracing_jaeger` span state (used to start spans
    /// with chosen ids, and as the parent reference of child spans).
    ///
    /// The state is sampled (an unsampled span is not started at all); it is
    /// a debug state when `debug_id` is given or the debug flag is set.
    pub(crate) fn to_state(&self, debug_id: Option<&str>) -> SpanContextState {
        let builder = SpanContextStateBuilder::new()
            .trace_id(self.trace_id)
            .span_id(self.span_id);
        match debug_id {
            Some(id) => builder.debug_id(id.to_owned()).finish(),
            // The builder sets the debug flag only with a debug id; the
            // `uber-trace-id` form sets the flags as they are.
            None if self.is_debug() => format!(
                "{}:{:x}:0:{:x}",
                DisplayTraceId(self.trace_id),
                self.span_id,
                FLAG_SAMPLED | FLAG_DEBUG
            )
            .parse()
            .unwrap_or_else(|_| builder.finish()),
            None => builder.finish(),
        }
    }

    /// This context as a `rustracing` span context carrying `baggage`.
    pub(crate) fn to_span_context(&self, baggage: &[(String, String)]) -> SpanContext {
        let items = baggage
            .iter()
            .map(|(k, v)| rustracing::span::BaggageItem::new(k, v))
            .collect();
        SpanContext::new(self.to_state(None), items)
    }

    /// The `uber-trace-id` header value: `{trace-id}:{span-id}:0:{flags}`.
    ///
    /// The deprecated parent-span-id field is sent as 0, as current Jaeger
    /// clients do.
    pub fn header_value(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{:016x}:0:{:x}",
            DisplayTraceId(self.trace_id),
            self.span_id,
            self.flags
        )
    }
}

/// What the incoming headers say about the caller's trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Incoming {
    /// The caller's span context, if a valid one was sent. Its `flags`
    /// mirror [`Incoming::sampling`] (0 when deferred).
    pub parent: Option<TraceContext>,
    /// The caller's sampling decision ([`Sampling::Deferred`] when none was
    /// sent). Not affected by `jaeger-debug-id`, which is in `debug_id`.
    pub sampling: Sampling,
    /// The format `parent` and `sampling` came from; `None` when no format
    /// gave a valid context.
    pub format: Option<Format>,
    /// The `jaeger-debug-id` value, if one was sent.
    pub debug_id: Option<String>,
    /// Baggage items sent as `uberctx-<key>` headers (key lower-cased, value
    /// percent-decoded), bounded by item count and total size.
    pub baggage: Vec<(String, String)>,
    /// The number of `uberctx-*` items dropped (over the bounds, or with an
    /// empty key).
    pub baggage_dropped: usize,
    /// The `tracestate` sent with a valid `traceparent` of the trace being
    /// continued, as received (several headers joined with `,`), when well
    /// formed and at most [`MAX_TRACESTATE_LEN`](super::w3c::MAX_TRACESTATE_LEN) bytes.
    pub tracestate: Option<String>,
}

/// Why a trace header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
