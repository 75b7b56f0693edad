//! Carrying a trace across process boundaries: extracting the caller's
//! context from request headers and injecting this request's into outgoing
//! calls, in several formats ([`Format`]):
//!
//! - [`jaeger`]: `uber-trace-id`, `jaeger-debug-id`, and `uberctx-*`
//!   baggage ([`baggage`]);
//! - [`w3c`]: W3C Trace Context, `traceparent` and `tracestate`;
//! - [`b3`]: Zipkin's B3, multi-header (`X-B3-*`) and single-header (`b3`).
//!
//! # Extraction
//!
//! The formats are tried in the configured order (`extract_formats`;
//! default [`Format::DEFAULT_EXTRACT`]: `jaeger`, `w3c`, `b3_single`, `b3`)
//! and **the first valid one wins**. A format whose headers are absent is
//! skipped; one whose headers are malformed is skipped too (logged at debug
//! level), falling through to the next. When no format gives a valid
//! context the request starts a fresh root trace. Formats not listed are
//! ignored entirely: `jaeger-debug-id` and `uberctx-*` baggage are read only
//! when `jaeger` is listed, `tracestate` only when `w3c` is.
//!
//! Extraction is total: any header value — truncated, non-hex, overflowing,
//! percent-mangled, non-ASCII — yields either a context or a [`Malformed`]
//! reason, never a panic.
//!
//! # Sampling
//!
//! Every format carries the caller's decision ([`Sampling`]): not sampled
//! (`uber-trace-id` flags 0, `traceparent` flags `00`, `X-B3-Sampled: 0`,
//! `b3: …-0` or `b3: 0`) means no span is reported here and the decision is
//! passed on; sampled is honoured whatever the local sampler; debug
//! (`uber-trace-id` flag 2, `jaeger-debug-id`, `X-B3-Flags: 1`, `b3: …-d`)
//! forces sampling. B3 without a sampling state defers the decision: the
//! local sampler decides, as for a new trace, but the trace continues.
//!
//! # Injection
//!
//! [`inject`] writes the configured formats (`inject_formats`; default
//! [`Format::DEFAULT_INJECT`]: `jaeger`, `w3c`), in that order, then the
//! baggage as `uberctx-*` when `jaeger` is among them. 128-bit trace ids
//! stay 128-bit; a 64-bit one is zero-padded to 32 digits in `traceparent`
//! and sent as 16 digits in Jaeger and B3. `tracestate` goes with every
//! `traceparent`.

use std::fmt;
use std::str::FromStr;

use rocket::http::HeaderMap;
use rocket::serde::{Deserialize, Serialize};
use rustracing_jaeger::span::{SpanContext, SpanContextState, SpanContextStateBuilder, TraceId};

use crate::limits::Limits;

pub mod b3;
pub mod baggage;
pub mod jaeger;
pub mod w3c;

pub use self::baggage::{BAGGAGE_HEADER_PREFIX, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ITEMS};
pub use self::jaeger::{parse_trace_header, parse_trace_id, DEBUG_HEADER, TRACE_HEADER};

/// Flag bit: the trace is sampled (its spans are reported).
pub const FLAG_SAMPLED: u8 = 0b01;
/// Flag bit: the trace is a debug trace (sampled whatever the sampler says).
pub const FLAG_DEBUG: u8 = 0b10;

/// A propagation format. In `Rocket.toml`, by its `snake_case` name:
/// `"jaeger"`, `"w3c"`, `"b3"` (multi-header), `"b3_single"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum Format {
    /// `uber-trace-id`, `jaeger-debug-id`, `uberctx-*` baggage.
    Jaeger,
    /// W3C Trace Context: `traceparent`, `tracestate`.
    W3c,
    /// B3 multi-header: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`,
    /// `X-B3-Sampled`, `X-B3-Flags`.
    B3,
    /// B3 single-header: `b3`.
    B3Single,
}

impl Format {
    /// Every format, in the default extraction order.
    pub const ALL: [Format; 4] = [Format::Jaeger, Format::W3c, Format::B3Single, Format::B3];

    /// The formats accepted on the way in, in the order tried: Jaeger, W3C,
    /// B3 single-header, B3 multi-header (the B3 specification gives the
    /// single header precedence over the multiple ones).
    pub const DEFAULT_EXTRACT: &'static [Format] = &Format::ALL;

    /// The formats sent on the way out: Jaeger and W3C.
    pub const DEFAULT_INJECT: &'static [Format] = &[Format::Jaeger, Format::W3c];

    /// The accepted names, for error messages.
    pub const ACCEPTED: &'static str = "jaeger, w3c, b3, b3_single";

    /// The format's name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jaeger => "jaeger",
            Format::W3c => "w3c",
            Format::B3 => "b3",
            Format::B3Single => "b3_single",
        }
    }

    /// Parses a list of format names, keeping the first of duplicates; the
    /// `Err` is the first unknown name.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Format>, UnknownFormat> {
        let mut formats = Vec::with_capacity(names.len());
        for name in names {
            let format = name.as_ref().parse()?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        Ok(formats)
    }

    /// This format's context in `headers`: `None` when its headers are
    /// absent.
    fn extract(self, headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
        match self {
            Format::Jaeger => jaeger::extract(headers),
            Format::W3c => w3c::extract(headers),
            Format::B3 => b3::extract_multi(headers),
            Format::B3Single => b3::extract_single(headers),
        }
    }

    fn inject(
        self,
        context: &TraceContext,
        tracestate: Option<&str>,
        out: &mut Vec<(String, String)>,
    ) {
        match self {
            Format::Jaeger => jaeger::inject(context, out),
            Format::W3c => w3c::inject(context, tracestate, out),
            Format::B3 => b3::inject_multi(context, out),
            Format::B3Single => b3::inject_single(context, out),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// A format by name (ASCII case and surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A format name that is not one of [`Format::ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown propagation format {:?} (expected one of {})",
            self.0,
            Format::ACCEPTED
        )
    }
}

impl std::error::Error for UnknownFormat {}

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
        TraceContext {
            trace_id: random_trace_id(),
            span_id: random_span_id(),
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

/// Formats a trace id as Jaeger clients do: 16 hex digits for a 64-bit id,
/// 32 for a 128-bit one.
#[derive(Debug, Clone, Copy)]
pub struct DisplayTraceId(pub TraceId);

impl DisplayTraceId {
    /// The id's digits, written into `buf` (cheaper than the formatting
    /// machinery: this runs on every sampled response).
    pub(crate) fn encode(self, buf: &mut [u8; 32]) -> &str {
        let digits = if self.0.high == 0 {
            lower_hex_into(&mut buf[..16], self.0.low);
            &buf[..16]
        } else {
            lower_hex_into(&mut buf[..16], self.0.high);
            lower_hex_into(&mut buf[16..], self.0.low);
            &buf[..]
        };
        // Only ASCII hex digits were written.
        std::str::from_utf8(digits).unwrap_or_default()
    }
}

impl fmt::Display for DisplayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 32]))
    }
}

/// Writes `value` as `out.len()` (at most 16) zero-padded lower-case hex
/// digits.
fn lower_hex_into(out: &mut [u8], value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut value = value;
    for byte in out.iter_mut().rev() {
        *byte = DIGITS[(value & 0xf) as usize];
        value >>= 4;
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
    /// formed and at most [`w3c::MAX_TRACESTATE_LEN`] bytes.
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

/// Reads the caller's trace from request headers, in every format, in the
/// default order ([`Format::DEFAULT_EXTRACT`]). See [`extract_with`].
pub fn extract(headers: &HeaderMap<'_>) -> (Incoming, Result<(), Malformed>) {
    extract_with(headers, Format::DEFAULT_EXTRACT)
}

/// Reads the caller's trace from request headers in `formats`, tried in
/// order: the first format whose headers are present and valid wins.
///
/// When no format gives a context, the second element is the `Err` of the
/// first malformed header, if any (the caller then starts a new root
/// trace); malformed headers skipped before a valid one are logged at debug
/// level. The debug id and baggage (with `jaeger` in `formats`) are read
/// independently of the context, so a malformed `uber-trace-id` does not
/// lose them.
pub fn extract_with(
    headers: &HeaderMap<'_>,
    formats: &[Format],
) -> (Incoming, Result<(), Malformed>) {
    extract_bounded(headers, formats, &Limits::DEFAULT)
}

/// As [`extract_with`], with the baggage bounded by `limits`
/// ([`Limits::max_baggage_items`], [`Limits::max_baggage_bytes`]) instead
/// of the defaults.
pub fn extract_bounded(
    headers: &HeaderMap<'_>,
    formats: &[Format],
    limits: &Limits,
) -> (Incoming, Result<(), Malformed>) {
    let mut incoming = Incoming::default();
    // Most requests carry no trace headers (an entry service's callers are
    // browsers and load balancers): one pass over the names instead of a
    // hashed lookup per header of every format.
    if !carries_context(headers) {
        return (incoming, Ok(()));
    }
    let mut first_error = None;
    for &format in formats {
        match format.extract(headers) {
            None => {}
            Some(Ok(found)) => {
                if let Some(why) = first_error {
                    log::debug!(
                        "rocket_opentracing: ignoring a malformed trace header ({why}); \
                         continuing the trace from the {format} headers"
                    );
                }
                incoming.parent = found.parent;
                incoming.sampling = found.sampling;
                incoming.format = Some(format);
                break;
            }
            Some(Err(why)) => {
                first_error.get_or_insert(why);
            }
        }
    }
    if formats.contains(&Format::Jaeger) {
        incoming.debug_id = jaeger::extract_debug_id(headers);
        (incoming.baggage, incoming.baggage_dropped) = baggage::extract(headers, limits);
    }
    if formats.contains(&Format::W3c) {
        if let Some(parent) = &incoming.parent {
            incoming.tracestate = w3c::extract_tracestate(headers, parent.trace_id);
        }
    }
    let outcome = match first_error {
        Some(why) if incoming.format.is_none() => Err(why),
        _ => Ok(()),
    };
    (incoming, outcome)
}

/// Whether any header of `headers` is one that some format reads.
fn carries_context(headers: &HeaderMap<'_>) -> bool {
    const EXACT: [&str; 5] = [
        jaeger::TRACE_HEADER,
        jaeger::DEBUG_HEADER,
        w3c::TRACEPARENT_HEADER,
        w3c::TRACESTATE_HEADER,
        b3::SINGLE_HEADER,
    ];
    const PREFIXES: [&str; 2] = [baggage::BAGGAGE_HEADER_PREFIX, b3::HEADER_PREFIX];
    headers.iter().any(|header| {
        let name = header.name().as_str().as_bytes();
        EXACT
            .iter()
            .any(|e| name.eq_ignore_ascii_case(e.as_bytes()))
            || PREFIXES
                .iter()
                .any(|p| baggage::strip_prefix_ignore_case(header.name().as_str(), p).is_some())
    })
}

/// The headers that carry `context` and `baggage` to a downstream service
/// in the default formats ([`Format::DEFAULT_INJECT`]: `uber-trace-id`,
/// then `traceparent`), then one `uberctx-<key>` per baggage item (value
/// percent-encoded), as (name, value) pairs. See [`inject`].
pub fn headers(context: &TraceContext, baggage: &[(String, String)]) -> Vec<(String, String)> {
    inject(context, baggage, None, Format::DEFAULT_INJECT)
}

/// The headers that carry `context` to a downstream service in `formats`,
/// in that order, as (name, value) pairs; `tracestate`, if any, follows
/// `traceparent`; then, when `formats` includes [`Format::Jaeger`], one
/// `uberctx-<key>` header per baggage item.
///
/// Every format carries the sampling decision of `context`: a debug trace
/// is sent as debug where the format can say so (Jaeger flags, B3) and as
/// sampled elsewhere.
pub fn inject(
    context: &TraceContext,
    baggage: &[(String, String)],
    tracestate: Option<&str>,
    formats: &[Format],
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(formats.len() * 2 + baggage.len());
    for format in formats {
        format.inject(context, tracestate, &mut out);
    }
    if formats.contains(&Format::Jaeger) {
        baggage::inject(baggage, &mut out);
    }
    out
}

/// Parses exactly `len` lower-case hex digits (`len` at most 16).
pub(crate) fn lower_hex_u64(s: &str, len: usize) -> Option<u64> {
    if s.len() != len || len > 16 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

pub(crate) fn random_span_id() -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    }
}

pub(crate) fn random_trace_id() -> TraceId {
    TraceId {
        high: rand::random(),
        low: random_span_id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap<'static> {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add_raw(*k, *v);
        }
        map
    }

    const JAEGER: (&str, &str) = ("uber-trace-id", "abc:def:0:1");
    const W3C: (&str, &str) = (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    const B3_SINGLE: (&str, &str) = (
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
    );
    const B3_TRACE: (&str, &str) = ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124");
    const B3_SPAN: (&str, &str) = ("X-B3-SpanId", "a2fb4a1d1a96d312");

    fn span_id(headers: &HeaderMap<'_>, formats: &[Format]) -> Option<u64> {
        extract_with(headers, formats).0.parent.map(|p| p.span_id)
    }

    #[test]
    fn the_first_valid_format_in_order_wins() {
        let all = map(&[JAEGER, W3C, B3_SINGLE, B3_TRACE, B3_SPAN]);
        let (incoming, outcome) = extract(&all);
        assert!(outcome.is_ok());
        assert_eq!(incoming.format, Some(Format::Jaeger));
        assert_eq!(incoming.parent.unwrap().span_id, 0xdef);

        assert_eq!(
            span_id(&all, &[Format::W3c, Format::Jaeger]),
            Some(0x00f067aa0ba902b7)
        );
        assert_eq!(
            span_id(&all, &[Format::B3, Format::B3Single]),
            Some(0xa2fb4a1d1a96d312)
        );
        assert_eq!(
            span_id(&all, &[Format::B3Single, Format::B3]),
            Some(0xe457b5a2e4d86bd1)
        );
        // Default order: B3 single before multi.
        let b3_both = map(&[B3_SINGLE, B3_TRACE, B3_SPAN]);
        assert_eq!(extract(&b3_both).0.format, Some(Format::B3Single));
        assert_eq!(span_id(&all, &[]), None, "no format: nothing extracted");
    }

    #[test]
    fn a_malformed_format_falls_through_to_the_next() {
        let headers = map(&[
            ("uber-trace-id", "zz:1:0:1"),
            (
                "traceparent",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x"),
            B3_TRACE,
            B3_SPAN,
        ]);
        let (incoming, outcome) = extract(&headers);
        assert!(outcome.is_ok(), "a later format was valid");
        assert_eq!(incoming.format, Some(Format::B3));
        assert_eq!(incoming.parent.unwrap().span_id, 0xa2fb4a1d1a96d312);
        assert_eq!(incoming.sampling, Sampling::Deferred);

        // None valid: a new root, with the first reason.
        let headers = map(&[
            ("uber-trace-id", "zz:1:0:1"),
            (
                "traceparent",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            ),
        ]);
        let (incoming, outcome) = extract(&headers);
        assert_eq!(incoming.parent, None);
        assert_eq!(incoming.format, None);
        assert_eq!(incoming.sampling, Sampling::Deferred);
        assert!(outcome.unwrap_err().0.starts_with("uber-trace-id"));
    }

    #[test]
    fn formats_not_listed_are_ignored_entirely() {
        let headers = map(&[
            JAEGER,
            ("jaeger-debug-id", "dbg"),
            ("uberctx-user", "alice"),
            W3C,
            ("tracestate", "rojo=1"),
        ]);
        let (incoming, _) = extract_with(&headers, &[Format::B3]);
        assert_eq!(incoming, Incoming::default());
        let (incoming, _) = extract_with(&headers, &[Format::W3c]);
        assert_eq!(incoming.format, Some(Format::W3c));
        assert_eq!(incoming.debug_id, None);
        assert!(incoming.baggage.is_empty());
        assert_eq!(incoming.tracestate.as_deref(), Some("rojo=1"));
        let (incoming, _) = extract_with(&headers, &[Format::Jaeger]);
        assert_eq!(incoming.debug_id.as_deref(), Some("dbg"));
        assert_eq!(incoming.baggage.len(), 1);
        assert_eq!(incoming.tracestate, None, "w3c not listed");
    }

    #[test]
    fn tracestate_follows_a_traceparent_of_the_same_trace_whoever_wins() {
        let same_trace = (
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        );
        let headers = map(&[same_trace, W3C, ("tracestate", "rojo=1")]);
        let (incoming, _) = extract(&headers);
        assert_eq!(incoming.format, Some(Format::Jaeger));
        assert_eq!(incoming.tracestate.as_deref(), Some("rojo=1"));

        let headers = map(&[JAEGER, W3C, ("tracestate", "rojo=1")]);
        assert_eq!(extract(&headers).0.tracestate, None, "another trace");
    }

    #[test]
    fn extracts_debug_id_and_bounded_baggage() {
        let headers = map(&[
            ("Uber-Trace-Id", "1:2:0:1"),
            ("jaeger-debug-id", "my-debug"),
            ("uberctx-User", "alice%20smith"),
        ]);
        let (incoming, outcome) = extract(&headers);
        assert!(outcome.is_ok());
        assert_eq!(incoming.parent.unwrap().span_id, 2);
        assert_eq!(incoming.debug_id.as_deref(), Some("my-debug"));
        assert_eq!(
            incoming.baggage,
            vec![("user".into(), "alice smith".into())]
        );
        assert_eq!(incoming.baggage_dropped, 0);

        let mut many = HeaderMap::new();
        for i in 0..(MAX_BAGGAGE_ITEMS + 10) {
            many.add_raw(format!("uberctx-k{i}"), "v");
        }
        let (incoming, _) = extract(&many);
        assert_eq!(incoming.baggage.len(), MAX_BAGGAGE_ITEMS);
        assert_eq!(incoming.baggage_dropped, 10);

        let bad = map(&[
            ("uber-trace-id", "zz"),
            ("jaeger-debug-id", "d"),
            ("uberctx-k", "v"),
        ]);
        let (incoming, outcome) = extract(&bad);
        assert!(outcome.is_err());
        assert_eq!(incoming.parent, None);
        assert_eq!(
            incoming.debug_id.as_deref(),
            Some("d"),
            "kept despite the bad context"
        );
        assert_eq!(incoming.baggage.len(), 1);
    }

    #[test]
    fn b3_deny_only_gives_a_decision_without_a_parent() {
        for headers in [map(&[("b3", "0")]), map(&[("X-B3-Sampled", "0")])] {
            let (incoming, outcome) = extract(&headers);
            assert!(outcome.is_ok());
            assert_eq!(incoming.parent, None);
            assert_eq!(incoming.sampling, Sampling::NotSampled);
        }
    }

    #[test]
    fn default_injection_is_jaeger_then_w3c_then_baggage() {
        let ctx = TraceContext {
            trace_id: TraceId { high: 0, low: 0x1f },
            span_id: 0x2,
            parent_span_id: 0,
            flags: FLAG_SAMPLED,
        };
        let headers = headers(&ctx, &[("user".into(), "a b,c".into())]);
        assert_eq!(
            headers,
            vec![
                (
                    "uber-trace-id".into(),
                    "000000000000001f:0000000000000002:0:1".into()
                ),
                (
                    "traceparent".into(),
                    "00-0000000000000000000000000000001f-0000000000000002-01".into()
                ),
                ("uberctx-user".into(), "a%20b%2Cc".into()),
            ]
        );
        // What is injected is extracted back unchanged.
        assert_eq!(parse_trace_header(&headers[0].1).unwrap(), ctx);
        assert_eq!(w3c::parse_traceparent(&headers[1].1).unwrap(), ctx);
    }

    #[test]
    fn inject_writes_the_formats_in_order_with_tracestate_after_traceparent() {
        let ctx = TraceContext::new_root(true).new_child();
        let names = |formats: &[Format], tracestate: Option<&str>| -> Vec<String> {
            inject(&ctx, &[("k".into(), "v".into())], tracestate, formats)
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(
            names(&[Format::B3Single, Format::W3c, Format::B3], Some("a=1")),
            [
                "b3",
                "traceparent",
                "tracestate",
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-parentspanid",
                "x-b3-sampled"
            ],
            "no baggage without jaeger"
        );
        assert_eq!(
            names(&[Format::Jaeger], Some("a=1")),
            ["uber-trace-id", "uberctx-k"],
            "no tracestate without traceparent"
        );
        assert!(names(&[], None).is_empty());
    }

    /// Injecting in one format then extracting in it gives the same
    /// context, as far as the format can carry it.
    #[test]
    fn every_format_round_trips() {
        let ids = [
            TraceId {
                high: 0x4bf92f3577b34da6,
                low: 0xa3ce929d0e0e4736,
            },
            TraceId {
                high: 0,
                low: 0xabc,
            },
        ];
        for trace_id in ids {
            for flags in [0, FLAG_SAMPLED, FLAG_SAMPLED | FLAG_DEBUG] {
                let ctx = TraceContext {
                    trace_id,
                    span_id: 0xe457b5a2e4d86bd1,
                    parent_span_id: 0x05e3ac9a4f6e3b90,
                    flags,
                };
                for format in Format::ALL {
                    let mut headers = HeaderMap::new();
                    for (k, v) in inject(&ctx, &[], None, &[format]) {
                        headers.add_raw(k, v);
                    }
                    let (incoming, outcome) = extract_with(&headers, &[format]);
                    assert!(outcome.is_ok(), "{format} {ctx:?}");
                    assert_eq!(incoming.format, Some(format));
                    let got = incoming.parent.unwrap();
                    let mut expected = ctx.clone();
                    match format {
                        // Jaeger sends the deprecated parent field as 0.
                        Format::Jaeger => expected.parent_span_id = 0,
                        // W3C has no parent field and no debug flag.
                        Format::W3c => {
                            expected.parent_span_id = 0;
                            expected.flags &= FLAG_SAMPLED;
                        }
                        Format::B3 | Format::B3Single => {}
                    }
                    assert_eq!(got, expected, "{format}");
                    let sampling = match flags {
                        0 => Sampling::NotSampled,
                        FLAG_SAMPLED => Sampling::Sampled,
                        _ if format == Format::W3c => Sampling::Sampled,
                        _ => Sampling::Debug,
                    };
                    assert_eq!(incoming.sampling, sampling, "{format} {flags}");
                }
            }
        }
    }

    #[test]
    fn format_names() {
        assert_eq!(
            Format::parse_list(&["jaeger", " W3C ", "b3", "b3_single", "jaeger"]).unwrap(),
            [Format::Jaeger, Format::W3c, Format::B3, Format::B3Single]
        );
        assert_eq!(
            Format::parse_list(&["jaeger", "zipkin"]).unwrap_err(),
            UnknownFormat("zipkin".into())
        );
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>().unwrap(), format);
            assert_eq!(format.to_string(), format.name());
        }
    }

    #[test]
    fn a_debug_flag_gives_a_debug_state_without_a_debug_id() {
        let mut ctx = TraceContext::new_root(true);
        assert_eq!(ctx.to_state(None).flags(), FLAG_SAMPLED);
        ctx.flags |= FLAG_DEBUG;
        let state = ctx.to_state(None);
        assert_eq!(state.flags(), FLAG_SAMPLED | FLAG_DEBUG);
        assert_eq!(state.trace_id(), ctx.trace_id);
        assert_eq!(state.span_id(), ctx.span_id);
        assert_eq!(state.debug_id(), None);
        assert_eq!(ctx.to_state(Some("x")).debug_id(), Some("x"));
    }

    #[test]
    fn trace_ids_print_as_16_or_32_digits() {
        for (high, low) in [
            (0, 1),
            (0, u64::MAX),
            (1, 0xabc),
            (u64::MAX, 0x0123_4567_89ab_cdef),
        ] {
            let id = DisplayTraceId(TraceId { high, low }).to_string();
            let expected = if high == 0 {
                format!("{low:016x}")
            } else {
                format!("{high:016x}{low:016x}")
            };
            assert_eq!(id, expected);
        }
    }

    #[test]
    fn every_header_read_counts_as_carrying_a_context() {
        let read = [
            TRACE_HEADER,
            DEBUG_HEADER,
            "UberCtx-User",
            w3c::TRACEPARENT_HEADER,
            w3c::TRACESTATE_HEADER,
            b3::SINGLE_HEADER,
            b3::TRACE_ID_HEADER,
            b3::SPAN_ID_HEADER,
            b3::PARENT_SPAN_ID_HEADER,
            b3::SAMPLED_HEADER,
            b3::FLAGS_HEADER,
        ];
        for name in read {
            for name in [name.to_owned(), name.to_ascii_uppercase()] {
                let mut headers = HeaderMap::new();
                headers.add_raw("Host", "example.com");
                headers.add_raw(name.clone(), "x");
                assert!(carries_context(&headers), "{name}");
            }
        }
        let mut headers = HeaderMap::new();
        for name in ["Host", "b", "b33", "x-b3", "uberctx", "trace", "Accept"] {
            headers.add_raw(name, "x");
        }
        assert!(!carries_context(&headers));
        assert!(!carries_context(&HeaderMap::new()));
    }

    #[test]
    fn random_ids_are_nonzero_and_differ() {
        let a = TraceContext::new_root(true);
        let b = a.new_child();
        assert_eq!(a.trace_id, b.trace_id);
        assert_eq!(b.parent_span_id, a.span_id);
        assert_ne!(a.span_id, b.span_id);
        assert_ne!(a.trace_id, TraceContext::new_root(true).trace_id);
    }
}
