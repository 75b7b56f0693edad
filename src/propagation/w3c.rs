//! W3C Trace Context: `traceparent` and `tracestate`
//! (<https://www.w3.org/TR/trace-context/>).
//!
//! `traceparent` is `{version}-{trace-id}-{parent-id}-{trace-flags}`: 2, 32,
//! 16 and 2 lower-case hex digits. Version `ff` is invalid; version `00` must
//! be exactly 55 characters; a later version is parsed leniently (the first
//! four fields as for `00`, anything after a `-` following the flags
//! ignored). An all-zero trace id or parent id is invalid. Only the
//! `sampled` flag (`01`) is used: W3C has no debug flag, and its other bits
//! (Level 2's `random`) mean nothing to Jaeger.
//!
//! `tracestate` is carried through unchanged: kept with the request span
//! when it is well formed, at most [`MAX_TRACESTATE_LEN`] bytes and
//! [`MAX_TRACESTATE_MEMBERS`] members, and sent again with every
//! `traceparent` this service injects. It is kept only when the
//! `traceparent` it came with is valid and belongs to the trace being
//! continued.

use rocket::http::HeaderMap;
use rustracing_jaeger::span::TraceId;

use crate::ids::lower_hex_u64;

use super::{Found, Malformed, Sampling, TraceContext, FLAG_SAMPLED};

/// The header carrying the W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The header carrying vendor-specific trace state, passed through unchanged.
pub const TRACESTATE_HEADER: &str = "tracestate";

/// The longest `tracestate` kept (the specification's guidance for what
/// must at least be propagated); a longer one is dropped.
pub const MAX_TRACESTATE_LEN: usize = 512;
/// The most list members a `tracestate` may have.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// W3C's `sampled` trace flag.
const W3C_SAMPLED: u8 = 0x01;

/// Reads `traceparent`: `None` when absent.
pub(crate) fn extract(headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
    let mut values = headers.get(TRACEPARENT_HEADER);
    let value = values.next()?;
    if values.next().is_some() {
        return Some(Err(Malformed("traceparent: sent more than once")));
    }
    Some(parse_traceparent(value).map(|parent| Found {
        sampling: if parent.flags & FLAG_SAMPLED != 0 {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        },
        parent: Some(parent),
    }))
}

/// The `tracestate` to keep for a request whose parent is in `trace`: the
/// header(s) as received (several are joined with `,`), if a valid
/// `traceparent` of that trace came with them and they are well formed and
/// within bounds.
pub(crate) fn extract_tracestate(headers: &HeaderMap<'_>, trace: TraceId) -> Option<String> {
    match extract(headers)? {
        Ok(Found {
            parent: Some(parent),
            ..
        }) if parent.trace_id == trace => {}
        _ => return None,
    }
    let mut joined = String::new();
    for value in headers.get(TRACESTATE_HEADER) {
        let value = trim_ows(value);
        if value.is_empty() {
            continue;
        }
        let separator = usize::from(!joined.is_empty());
        if joined.len() + separator + value.len() > MAX_TRACESTATE_LEN {
            log::debug!("rocket_opentracing: tracestate over {MAX_TRACESTATE_LEN} bytes dropped");
            return None;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(value);
    }
    if joined.is_empty() {
        return None;
    }
    match check_tracestate(&joined) {
        Ok(()) => Some(joined),
        Err(why) => {
            log::debug!("rocket_opentracing: tracestate dropped ({why})");
            None
        }
    }
}

/// The `traceparent` (and `tracestate`, if any) for `context`.
pub(crate) fn inject(
    context: &TraceContext,
    tracestate: Option<&str>,
    out: &mut Vec<(String, String)>,
) {
    out.push((TRACEPARENT_HEADER.to_owned(), traceparent(context)));
    if let Some(state) = tracestate {
        out.push((TRACESTATE_HEADER.to_owned(), state.to_owned()));
    }
}

/// The `traceparent` value for `context`: version `00`, the trace id as 32
/// hex digits (a 64-bit id zero-padded), flags `01` when sampled (a debug
/// trace is sampled), else `00`.
pub fn traceparent(context: &TraceContext) -> String {
    let flags = if context.is_sampled() { W3C_SAMPLED } else { 0 };
    format!(
        "00-{:016x}{:016x}-{:016x}-{flags:02x}",
        context.trace_id.high, context.trace_id.low, context.span_id
    )
}

/// Parses a `traceparent` value. The context's `span_id` is the caller's
/// parent-id; its flags are [`FLAG_SAMPLED`] or 0.
pub fn parse_traceparent(value: &str) -> Result<TraceContext, Malformed> {
    let value = trim_ows(value);
    let field = |from: usize, to: usize| value.get(from..to);
    let version = field(0, 2)
        .filter(|v| is_lower_hex(v))
        .ok_or(Malformed("traceparent: invalid version"))?;
    if version == "ff" {
        return Err(Malformed("traceparent: version ff is invalid"));
    }
    if value.len() < 55 {
        return Err(Malformed("traceparent: too short"));
    }
    if version == "00" && value.len() != 55 {
        return Err(Malformed("traceparent: version 00 must be 55 characters"));
    }
    // A later version may append fields, after a '-'.
    if value.len() > 55 && field(55, 56) != Some("-") {
        return Err(Malformed("traceparent: invalid field after the flags"));
    }
    for at in [2, 35, 52] {
        if field(at, at + 1) != Some("-") {
            return Err(Malformed("traceparent: fields must be separated by '-'"));
        }
    }
    let trace = field(3, 35).ok_or(Malformed("traceparent: invalid trace id"))?;
    let high = field(3, 19).and_then(|h| lower_hex_u64(h, 16));
    let low = field(19, 35).and_then(|l| lower_hex_u64(l, 16));
    let (Some(high), Some(low)) = (high, low) else {
        return Err(Malformed(
            "traceparent: trace id must be 32 lower-case hex digits",
        ));
    };
    debug_assert_eq!(trace.len(), 32);
    if high == 0 && low == 0 {
        return Err(Malformed("traceparent: trace id is all zeros"));
    }
    let span_id = field(36, 52)
        .and_then(|p| lower_hex_u64(p, 16))
        .ok_or(Malformed(
            "traceparent: parent id must be 16 lower-case hex digits",
        ))?;
    if span_id == 0 {
        return Err(Malformed("traceparent: parent id is all zeros"));
    }
    let flags = field(53, 55)
        .and_then(|f| lower_hex_u64(f, 2))
        .ok_or(Malformed(
            "traceparent: trace flags must be 2 lower-case hex digits",
        ))?;
    Ok(TraceContext {
        trace_id: TraceId { high, low },
        span_id,
        parent_span_id: 0,
        flags: if flags & u64::from(W3C_SAMPLED) != 0 {
            FLAG_SAMPLED
        } else {
            0
        },
    })
}

/// Checks a (joined) `tracestate` value: at most [`MAX_TRACESTATE_MEMBERS`]
/// `key=value` members, keys as the specification allows (lower case,
/// optionally `tenant@system`), unique, values of printable ASCII other
/// than `,` and `=`.
fn check_tracestate(value: &str) -> Result<(), &'static str> {
    let mut keys: Vec<&str> = Vec::new();
    for member in value.split(',').map(trim_ows) {
        if member.is_empty() {
            continue; // empty members are allowed and ignored
        }
        if keys.len() == MAX_TRACESTATE_MEMBERS {
            return Err("more than 32 members");
        }
        let (key, val) = member.split_once('=').ok_or("a member has no '='")?;
        if !is_tracestate_key(key) {
            return Err("invalid key");
        }
        if !is_tracestate_value(val) {
            return Err("invalid value");
        }
        if keys.contains(&key) {
            return Err("duplicate key");
        }
        keys.push(key);
    }
    Ok(())
}

fn is_tracestate_key(key: &str) -> bool {
    // key = simple-key / multi-tenant-key
    // simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
    // multi-tenant-key = tenant-id "@" system-id
    // tenant-id = ( lcalpha / DIGIT ) 0*240( ... ); system-id = lcalpha 0*13( ... )
    let rest_char = |b: &u8| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
    };
    let part = |s: &str, first: fn(&u8) -> bool, max: usize| {
        s.len() <= max
            && s.as_bytes().first().is_some_and(first)
            && s.bytes().all(|b| rest_char(&b))
    };
    match key.split_once('@') {
        None => part(key, u8::is_ascii_lowercase, 256),
        Some((tenant, system)) => {
            part(
                tenant,
                |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
                241,
            ) && part(system, u8::is_ascii_lowercase, 14)
        }
    }
}

fn is_tracestate_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.last() != Some(&b' ')
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Trims optional whitespace (spaces and tabs) around a header value.
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's example.
    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap<'static> {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add_raw(*k, *v);
        }
        map
    }

    #[test]
    fn parses_the_specification_example() {
        let ctx = parse_traceparent(EXAMPLE).unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId {
                high: 0x4bf92f3577b34da6,
                low: 0xa3ce929d0e0e4736
            }
        );
        assert_eq!(ctx.span_id, 0x00f067aa0ba902b7);
        assert_eq!(ctx.flags, FLAG_SAMPLED);
        assert_eq!(traceparent(&ctx), EXAMPLE, "round trip");

        let unsampled =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert_eq!(unsampled.flags, 0);
        // Only the sampled bit counts; W3C bit 1 is not Jaeger's debug flag.
        let random =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02").unwrap();
        assert_eq!(random.flags, 0);
        let both =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03").unwrap();
        assert_eq!(both.flags, FLAG_SAMPLED);
    }

    #[test]
    fn future_versions_are_parsed_leniently() {
        let ctx = parse_traceparent(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
        )
        .unwrap();
        assert_eq!(ctx.span_id, 0x00f067aa0ba902b7);
        assert!(ctx.is_sampled());
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_ok()
        );
        // But the field after the flags must still be delimited.
        assert!(parse_traceparent(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future"
        )
        .is_err());
    }

    #[test]
    fn accepts_surrounding_whitespace() {
        assert!(parse_traceparent(&format!(" \t{EXAMPLE}\t ")).is_ok());
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            "",
            "00",
            // version ff, bad versions
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // version 00 with extra data
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // upper case
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            // zero ids
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // wrong lengths
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
            // bad flags and separators
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0.",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7+01",
            // non-hex, non-ASCII
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_duplicated_traceparent_is_invalid() {
        let map = headers(&[("traceparent", EXAMPLE), ("traceparent", EXAMPLE)]);
        assert!(extract(&map).unwrap().is_err());
    }

    #[test]
    fn injects_64_bit_ids_zero_padded() {
        let ctx = TraceContext {
            trace_id: TraceId {
                high: 0,
                low: 0xabc,
            },
            span_id: 0x1f,
            parent_span_id: 0,
            flags: 0,
        };
        assert_eq!(
            traceparent(&ctx),
            "00-00000000000000000000000000000abc-000000000000001f-00"
        );
        assert_eq!(parse_traceparent(&traceparent(&ctx)).unwrap(), ctx);
        let debug = TraceContext {
            flags: crate::propagation::FLAG_DEBUG,
            ..ctx
        };
        assert!(traceparent(&debug).ends_with("-01"), "debug is sampled");
    }

    #[test]
    fn tracestate_is_kept_verbatim_with_its_traceparent() {
        let trace = parse_traceparent(EXAMPLE).unwrap().trace_id;
        let map = headers(&[
            ("traceparent", EXAMPLE),
            ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ]);
        assert_eq!(
            extract_tracestate(&map, trace).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        // Several headers are one list.
        let map = headers(&[
            ("traceparent", EXAMPLE),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]);
        assert_eq!(
            extract_tracestate(&map, trace).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        // Multi-tenant keys.
        let map = headers(&[("traceparent", EXAMPLE), ("tracestate", "fw529a3039@dt=d")]);
        assert!(extract_tracestate(&map, trace).is_some());
    }

    #[test]
    fn tracestate_is_dropped_without_a_matching_traceparent_or_when_invalid() {
        let trace = parse_traceparent(EXAMPLE).unwrap().trace_id;
        let other = TraceId { high: 1, low: 2 };
        let state = ("tracestate", "rojo=00f067aa0ba902b7");
        assert_eq!(extract_tracestate(&headers(&[state]), trace), None);
        let bad_parent = (
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        assert_eq!(
            extract_tracestate(&headers(&[bad_parent, state]), trace),
            None
        );
        assert_eq!(
            extract_tracestate(&headers(&[("traceparent", EXAMPLE), state]), other),
            None,
            "another trace's state"
        );
        for bad in [
            "Rojo=1",
            "rojo",
            "rojo=",
            "rojo=a,rojo=b",
            "rojo=a\u{1}b",
            "rojo=\u{e9}",
            "rojo=a=b",
            "@x=1",
            "t@toolongsystemname=1",
            "1abc=1",
            "a@1b=1",
        ] {
            let mut map = headers(&[("traceparent", EXAMPLE)]);
            map.add_raw("tracestate", bad);
            assert_eq!(extract_tracestate(&map, trace), None, "kept {bad:?}");
        }
    }

    #[test]
    fn tracestate_is_bounded() {
        let trace = parse_traceparent(EXAMPLE).unwrap().trace_id;
        let members: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let mut map = headers(&[("traceparent", EXAMPLE)]);
        map.add_raw("tracestate", members.join(","));
        assert_eq!(extract_tracestate(&map, trace), None, "33 members");
        let mut map = headers(&[("traceparent", EXAMPLE)]);
        map.add_raw("tracestate", members[..32].join(","));
        assert!(extract_tracestate(&map, trace).is_some(), "32 members");

        let long = format!("k={}", "v".repeat(MAX_TRACESTATE_LEN));
        let mut map = headers(&[("traceparent", EXAMPLE)]);
        map.add_raw("tracestate", long);
        assert_eq!(extract_tracestate(&map, trace), None, "too long");
        let fits = format!("a={},b={},c=xyzw", "v".repeat(250), "w".repeat(250));
        assert_eq!(fits.len(), MAX_TRACESTATE_LEN);
        // The bound is on the joined list.
        let mut map = headers(&[("traceparent", EXAMPLE)]);
        map.add_raw("tracestate", format!("a={}", "v".repeat(250)));
        map.add_raw("tracestate", format!("b={}", "w".repeat(250)));
        map.add_raw("tracestate", "c=12345678");
        assert_eq!(
            extract_tracestate(&map, trace),
            None,
            "two headers too long"
        );
        let mut map = headers(&[("traceparent", EXAMPLE)]);
        map.add_raw("tracestate", fits.clone());
        assert_eq!(extract_tracestate(&map, trace), Some(fits));
    }
}
