//! Limits on what a span may carry, so that no caller (and no runaway
//! handler) can make a span, a request's memory or the tracing backend grow
//! without bound.
//!
//! | limit | default | what happens past it |
//! | --- | --- | --- |
//! | `max_baggage_items` | 64 | the item is dropped, counted in the `baggage.dropped` tag |
//! | `max_baggage_bytes` | 8,192 | the same (keys plus values, per request) |
//! | `max_tag_value_length` | 4,096 | the value is cut (on a character boundary) and ends with `...[truncated]` |
//! | `max_logs_per_span` | 128 | later logs are left out; the `rocket_opentracing.dropped_logs` tag counts them |
//! | `max_traced_headers` | 32 | later headers of the `headers` attribute are left out; the `rocket_opentracing.dropped_headers` tag counts them |
//!
//! Each is a key of the `[default.opentracing]` section
//! ([`Config`](crate::Config)).
//!
//! Baggage limits apply to the caller's `uberctx-*` headers and to
//! [`ActiveSpan::set_baggage_item`](crate::ActiveSpan::set_baggage_item)
//! together. Traced headers are counted when the request span starts. Tag
//! values (and the operation name and log field values) and logs per span
//! are limited by the [`Reporter`](crate::Reporter) as it encodes each span,
//! whichever way the span was made (request span, child span, `with_span`,
//! callback); with a tracer whose spans go to a reporter of your own, that
//! reporter's limits apply instead. The `error` log of a 5xx response is
//! the request span's last log, so it is the first left out: the `error`
//! tag still says the request failed.

use crate::propagation::{MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ITEMS};

/// Default of [`Limits::max_tag_value_length`], in bytes.
pub const DEFAULT_MAX_TAG_VALUE_LENGTH: usize = 4096;
/// Default of [`Limits::max_logs_per_span`].
pub const DEFAULT_MAX_LOGS_PER_SPAN: usize = 128;
/// Default of [`Limits::max_traced_headers`].
pub const DEFAULT_MAX_TRACED_HEADERS: usize = 32;

/// The tag counting the headers of the `headers` attribute left out.
pub const DROPPED_HEADERS_TAG: &str = "rocket_opentracing.dropped_headers";

/// The limits on one span; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most baggage items of a request (0: no baggage).
    pub max_baggage_items: usize,
    /// Most bytes of baggage keys and values of a request (0: no baggage).
    pub max_baggage_bytes: usize,
    /// Longest string tag value, log field value or operation name, in
    /// bytes (at least 1); a longer one is cut and marked.
    pub max_tag_value_length: usize,
    /// Most logs reported per span (0: none).
    pub max_logs_per_span: usize,
    /// Most headers recorded by the `headers` traced attribute.
    pub max_traced_headers: usize,
}

impl Limits {
    /// The default limits (the table above).
    pub const DEFAULT: Limits = Limits {
        max_baggage_items: MAX_BAGGAGE_ITEMS,
        max_baggage_bytes: MAX_BAGGAGE_BYTES,
        max_tag_value_length: DEFAULT_MAX_TAG_VALUE_LENGTH,
        max_logs_per_span: DEFAULT_MAX_LOGS_PER_SPAN,
        max_traced_headers: DEFAULT_MAX_TRACED_HEADERS,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
