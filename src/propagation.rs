//! Carrying a trace across process boundaries: the Jaeger `uber-trace-id`,
//! `jaeger-debug-id` and `uberctx-*` headers.
//!
//! Extraction is total: any header value — truncated, non-hex, overflowing,
//! percent-mangled — yields either a valid [`TraceContext`] or a
//! [`Malformed`] reason, never a panic. The fairing then starts a fresh root
//! trace and logs the reason at debug level.
//!
//! The header format is Jaeger's
//! `{trace-id}:{span-id}:{parent-span-id}:{flags}`, all hexadecimal; a
//! 128-bit trace id is up to 32 hex digits and is kept 128-bit.

use std::fmt;

use rocket::http::HeaderMap;
use rustracing_jaeger::span::{SpanContext, SpanContextState, SpanContextStateBuilder, TraceId};

/// The header carrying the Jaeger span context.
pub const TRACE_HEADER: &str = "uber-trace-id";
/// The header that forces a trace to be sampled as a debug trace; its value is
/// recorded as the `jaeger-debug-id` tag so the trace can be found by it.
pub const DEBUG_HEADER: &str = "jaeger-debug-id";
/// The prefix of the headers carrying baggage items (`uberctx-<key>: <value>`).
pub const BAGGAGE_HEADER_PREFIX: &str = "uberctx-";

/// Flag bit: the trace is sampled (its spans are reported).
pub const FLAG_SAMPLED: u8 = 0b01;
/// Flag bit: the trace is a debug trace (sampled whatever the sampler says).
pub const FLAG_DEBUG: u8 = 0b10;

/// The longest `jaeger-debug-id` accepted; longer values are ignored.
const MAX_DEBUG_ID_LEN: usize = 256;
/// The most baggage items read from one request.
pub(crate) const MAX_BAGGAGE_ITEMS: usize = 64;
/// The most bytes (keys plus values) of baggage read from one request.
pub(crate) const MAX_BAGGAGE_BYTES: usize = 8 * 1024;

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
    pub(crate) fn to_state(&self, debug_id: Option<&str>) -> SpanContextState {
        let builder = SpanContextStateBuilder::new()
            .trace_id(self.trace_id)
            .span_id(self.span_id);
        match debug_id {
            Some(id) => builder.debug_id(id.to_owned()).finish(),
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

impl fmt::Display for DisplayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.high == 0 {
            write!(f, "{:016x}", self.0.low)
        } else {
            write!(f, "{:016x}{:016x}", self.0.high, self.0.low)
        }
    }
}

/// What the incoming headers say about the caller's trace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Incoming {
    /// The caller's span context, if a valid one was sent.
    pub parent: Option<TraceContext>,
    /// The `jaeger-debug-id` value, if one was sent.
    pub debug_id: Option<String>,
    /// Baggage items sent as `uberctx-<key>` headers (key lower-cased, value
    /// percent-decoded), bounded by item count and total size.
    pub baggage: Vec<(String, String)>,
}

/// Why a trace header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads the caller's trace from request headers.
///
/// The three parts are read independently: a malformed `uber-trace-id` is
/// reported as the `Err` of the second element (the caller then starts a new
/// root trace) and leaves `parent` empty, but the debug id and baggage are
/// still kept.
pub fn extract(headers: &HeaderMap<'_>) -> (Incoming, Result<(), Malformed>) {
    let mut incoming = Incoming::default();
    let mut outcome = Ok(());
    if let Some(value) = headers.get_one(TRACE_HEADER) {
        match parse_trace_header(value) {
            Ok(parent) => incoming.parent = Some(parent),
            Err(why) => outcome = Err(why),
        }
    }
    if let Some(value) = headers.get_one(DEBUG_HEADER) {
        incoming.debug_id = parse_debug_id(value);
    }
    incoming.baggage = extract_baggage(headers);
    (incoming, outcome)
}

/// Parses an `uber-trace-id` value.
pub fn parse_trace_header(value: &str) -> Result<TraceContext, Malformed> {
    // Some clients (Jaeger's Java client among them) percent-encode the colons.
    let decoded;
    let value = if value.contains('%') {
        decoded = value.replace("%3A", ":").replace("%3a", ":");
        decoded.as_str()
    } else {
        value
    };
    let mut parts = value.trim().split(':');
    let (Some(trace), Some(span), Some(parent), Some(flags), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Malformed(
            "uber-trace-id must have four ':'-separated fields",
        ));
    };
    let trace_id = parse_trace_id(trace).ok_or(Malformed("invalid trace id"))?;
    let span_id = parse_hex_u64(span).ok_or(Malformed("invalid span id"))?;
    let parent_span_id = parse_hex_u64(parent).ok_or(Malformed("invalid parent span id"))?;
    let flags = (!flags.is_empty() && flags.len() <= 2)
        .then(|| u8::from_str_radix(flags, 16).ok())
        .flatten()
        .ok_or(Malformed("invalid flags"))?;
    if trace_id.high == 0 && trace_id.low == 0 {
        return Err(Malformed("trace id is zero"));
    }
    if span_id == 0 {
        return Err(Malformed("span id is zero"));
    }
    Ok(TraceContext {
        trace_id,
        span_id,
        parent_span_id,
        flags,
    })
}

/// Parses a hexadecimal trace id of 1 to 32 digits.
pub fn parse_trace_id(s: &str) -> Option<TraceId> {
    if s.len() <= 16 {
        Some(TraceId {
            high: 0,
            low: parse_hex_u64(s)?,
        })
    } else if s.len() <= 32 && s.is_ascii() {
        let (high, low) = s.split_at(s.len() - 16);
        Some(TraceId {
            high: parse_hex_u64(high)?,
            low: parse_hex_u64(low)?,
        })
    } else {
        None
    }
}

/// Parses 1 to 16 hexadecimal digits (no sign, no prefix).
fn parse_hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn parse_debug_id(value: &str) -> Option<String> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= MAX_DEBUG_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    ok.then(|| value.to_owned())
}

fn extract_baggage(headers: &HeaderMap<'_>) -> Vec<(String, String)> {
    let mut baggage = Vec::new();
    let mut bytes = 0;
    for header in headers.iter() {
        let name = header.name().as_str();
        let Some(key) = strip_prefix_ignore_case(name, BAGGAGE_HEADER_PREFIX) else {
            continue;
        };
        let value = percent_encoding::percent_decode_str(header.value()).decode_utf8_lossy();
        bytes += key.len() + value.len();
        if key.is_empty() || baggage.len() >= MAX_BAGGAGE_ITEMS || bytes > MAX_BAGGAGE_BYTES {
            log::debug!("rocket_opentracing: baggage item `{key}` dropped (over the limits)");
            continue;
        }
        baggage.push((key.to_ascii_lowercase(), value.into_owned()));
    }
    baggage
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The headers that carry `context` and `baggage` to a downstream service,
/// as (name, value) pairs: `uber-trace-id` and one `uberctx-<key>` per
/// baggage item (value percent-encoded).
pub fn headers(context: &TraceContext, baggage: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(1 + baggage.len());
    out.push((TRACE_HEADER.to_owned(), context.header_value()));
    for (key, value) in baggage {
        let value = percent_encoding::utf8_percent_encode(value, BAGGAGE_VALUE).to_string();
        out.push((format!("{BAGGAGE_HEADER_PREFIX}{key}"), value));
    }
    out
}

/// Characters escaped in baggage values: controls, space and the characters
/// that are not safe in a header value or that Jaeger clients escape.
const BAGGAGE_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'%')
    .add(b',')
    .add(b';')
    .add(b'=');

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
    use rocket::http::Header;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap<'static> {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add(Header::new(*k, *v));
        }
        map
    }

    #[test]
    fn parses_128_bit_header() {
        let ctx =
            parse_trace_header("6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1").unwrap();
        assert_eq!(ctx.trace_id.high, 0x6309ab92c95468ed);
        assert_eq!(ctx.trace_id.low, 0xea0dc1a9772ae2dc);
        assert_eq!(ctx.span_id, 0x409423a204bc17a8);
        assert!(ctx.is_sampled());
        assert_eq!(
            ctx.header_value(),
            "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1"
        );
    }

    #[test]
    fn parses_64_bit_and_percent_encoded_headers() {
        let ctx = parse_trace_header("abc%3A1%3a0%3A0").unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId {
                high: 0,
                low: 0xabc
            }
        );
        assert_eq!(ctx.span_id, 1);
        assert!(!ctx.is_sampled());
        assert_eq!(ctx.header_value(), "0000000000000abc:0000000000000001:0:0");
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            "",
            "zzz:1:0:1",
            "1:1:0",
            "1:1:0:1:5",
            "0:1:0:1",
            "1:0:0:1",
            "1:1:0:100",
            "1:+1:0:1",
            "123456789012345678901234567890123:1:0:1",
            "1:12345678901234567:0:1",
            "é:1:0:1",
            "%zz",
        ] {
            assert!(parse_trace_header(bad).is_err(), "accepted {bad:?}");
        }
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

        let mut many = HeaderMap::new();
        for i in 0..(MAX_BAGGAGE_ITEMS + 10) {
            many.add(Header::new(format!("uberctx-k{i}"), "v"));
        }
        assert_eq!(extract(&many).0.baggage.len(), MAX_BAGGAGE_ITEMS);

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
    fn injects_context_and_baggage() {
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
                ("uberctx-user".into(), "a%20b%2Cc".into()),
            ]
        );
        // What is injected is extracted back unchanged.
        assert_eq!(parse_trace_header(&headers[0].1).unwrap(), ctx);
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
