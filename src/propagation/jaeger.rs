//! Jaeger's native headers: `uber-trace-id` (the span context) and
//! `jaeger-debug-id` (force a debug trace). Baggage (`uberctx-*`) is in
//! [`baggage`](super::baggage).
//!
//! The `uber-trace-id` format is `{trace-id}:{span-id}:{parent-span-id}:{flags}`,
//! all hexadecimal (upper or lower case, leading zeros optional); a 128-bit
//! trace id is up to 32 hex digits and is kept 128-bit. Flags: bit 1
//! ([`FLAG_SAMPLED`]) sampled, bit 2 ([`FLAG_DEBUG`]) debug.

use rocket::http::HeaderMap;

use crate::ids::{parse_hex_u64, parse_trace_id};

use super::{Found, Malformed, Sampling, TraceContext, FLAG_DEBUG, FLAG_SAMPLED};

/// The header carrying the Jaeger span context.
pub const TRACE_HEADER: &str = "uber-trace-id";
/// The header that forces a trace to be sampled as a debug trace; its value is
/// a correlation id under which the trace can be found by it.
pub const DEBUG_HEADER: &str = "jaeger-debug-id";

/// The longest `jaeger-debug-id` accepted; longer values are ignored.
pub(crate) const MAX_DEBUG_ID_LEN: usize = 256;

/// Reads `uber-trace-id`: `None` when absent.
pub(crate) fn extract(headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
    let value = headers.get_one(TRACE_HEADER)?;
    Some(parse_trace_header(value).map(|parent| {
        let sampling = if parent.flags & FLAG_DEBUG != 0 {
            Sampling::Debug
        } else if parent.flags & FLAG_SAMPLED != 0 {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        };
        Found {
            parent: Some(parent),
            sampling,
        }
    }))
}

/// Reads `jaeger-debug-id`: `None` when absent, empty, too long or not
/// printable ASCII.
pub(crate) fn extract_debug_id(headers: &HeaderMap<'_>) -> Option<String> {
    parse_debug_id(headers.get_one(DEBUG_HEADER)?)
}

/// The `uber-trace-id` header for `context`.
pub(crate) fn inject(context: &TraceContext, out: &mut Vec<(String, String)>) {
    out.push((TRACE_HEADER.to_owned(), context.header_value()));
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
    let trace_id = parse_trace_id(trace).ok_or(Malformed("uber-trace-id: invalid trace id"))?;
    let span_id = parse_hex_u64(span).ok_or(Malformed("uber-trace-id: invalid span id"))?;
    let parent_span_id =
        parse_hex_u64(parent).ok_or(Malformed("uber-trace-id: invalid parent span id"))?;
    let flags = parse_hex_u64(flags)
        .filter(|_| flags.len() <= 2)
        .and_then(|f| u8::try_from(f).ok())
        .ok_or(Malformed("uber-trace-id: invalid flags"))?;
    if trace_id.high == 0 && trace_id.low == 0 {
        return Err(Malformed("uber-trace-id: trace id is zero"));
    }
    if span_id == 0 {
        return Err(Malformed("uber-trace-id: span id is zero"));
    }
    Ok(TraceContext {
        trace_id,
        span_id,
        parent_span_id,
        flags,
    })
}

fn parse_debug_id(value: &str) -> Option<String> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= MAX_DEBUG_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    ok.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustracing_jaeger::span::TraceId;

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

    /// Found by fuzzing (`fuzz/run`, target `jaeger`): the flags were read
    /// with `u8::from_str_radix`, which takes a leading `+`.
    #[test]
    fn flags_are_one_or_two_hex_digits_without_a_sign() {
        for bad in [
            "b:deff:0:+1",
            "1:1:0:+",
            "1:1:0:-1",
            "1:1:0:",
            "1:1:0:001",
            "1:1:0:1g",
        ] {
            assert!(parse_trace_header(bad).is_err(), "accepted {bad:?}");
        }
        assert_eq!(parse_trace_header("1:1:0:ff").unwrap().flags, 0xff);
        assert_eq!(parse_trace_header("1:1:0:0F").unwrap().flags, 0x0f);
    }

    #[test]
    fn flags_give_the_sampling_decision() {
        for (flags, sampling) in [
            ("0", Sampling::NotSampled),
            ("1", Sampling::Sampled),
            ("2", Sampling::Debug),
            ("3", Sampling::Debug),
        ] {
            let mut headers = HeaderMap::new();
            headers.add_raw(TRACE_HEADER, format!("abc:def:0:{flags}"));
            let found = extract(&headers).unwrap().unwrap();
            assert_eq!(found.sampling, sampling, "flags {flags}");
        }
        assert!(extract(&HeaderMap::new()).is_none());
    }

    #[test]
    fn debug_ids_are_bounded_and_printable() {
        assert_eq!(parse_debug_id(" find me ").as_deref(), Some("find me"));
        assert_eq!(parse_debug_id(""), None);
        assert_eq!(parse_debug_id("tab\there"), None);
        assert_eq!(parse_debug_id(&"x".repeat(MAX_DEBUG_ID_LEN + 1)), None);
    }
}
