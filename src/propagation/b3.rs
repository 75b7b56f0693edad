//! Zipkin's B3 propagation (<https://github.com/openzipkin/b3-propagation>),
//! multi-header and single-header.
//!
//! Multi-header ([`Format::B3`](super::Format::B3)): `X-B3-TraceId` (16 or 32
//! lower-case hex digits), `X-B3-SpanId` (16), optional `X-B3-ParentSpanId`
//! (16), `X-B3-Sampled` (`1` or `0`; `true`/`false` accepted) and
//! `X-B3-Flags` (`1`: debug, which implies sampled). When a header is sent
//! twice, the first value wins. The sampling headers may be sent alone,
//! without ids (`X-B3-Sampled: 0` propagates a "deny" decision).
//!
//! Single-header ([`Format::B3Single`](super::Format::B3Single)): `b3:
//! {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}`, the last two fields
//! optional, the sampling state `1`, `0` or `d` (debug); or the sampling
//! state alone (`b3: 0`).
//!
//! No sampling state means "deferred": the receiver decides. This crate
//! then asks its sampler, as for a new trace, but keeps the trace id and
//! parent.
//!
//! Injected, the trace id is 16 hex digits when it is 64-bit, 32 otherwise;
//! `X-B3-ParentSpanId` (and the single header's last field) is this span's
//! parent, omitted for a root span; a debug trace sends `X-B3-Flags: 1` (not
//! `X-B3-Sampled`) and `d`.

use rocket::http::HeaderMap;
use rustracing_jaeger::span::TraceId;

use crate::ids::lower_hex_u64;

use super::{Found, Malformed, Sampling, TraceContext, FLAG_DEBUG, FLAG_SAMPLED};

/// Multi-header B3: the trace id.
pub const TRACE_ID_HEADER: &str = "x-b3-traceid";
/// The prefix shared by the multi-header B3 headers.
pub const HEADER_PREFIX: &str = "x-b3-";
/// Multi-header B3: the caller's span id.
pub const SPAN_ID_HEADER: &str = "x-b3-spanid";
/// Multi-header B3: the caller's parent span id (absent for a root span).
pub const PARENT_SPAN_ID_HEADER: &str = "x-b3-parentspanid";
/// Multi-header B3: the sampling decision, `1` or `0`.
pub const SAMPLED_HEADER: &str = "x-b3-sampled";
/// Multi-header B3: `1` for a debug trace.
pub const FLAGS_HEADER: &str = "x-b3-flags";
/// Single-header B3.
pub const SINGLE_HEADER: &str = "b3";

/// Reads the `X-B3-*` headers: `None` when none is present.
pub(crate) fn extract_multi(headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
    let trace = headers.get_one(TRACE_ID_HEADER);
    let span = headers.get_one(SPAN_ID_HEADER);
    let parent = headers.get_one(PARENT_SPAN_ID_HEADER);
    let sampled = headers.get_one(SAMPLED_HEADER);
    let flags = headers.get_one(FLAGS_HEADER);
    if [trace, span, parent, sampled, flags]
        .iter()
        .all(Option::is_none)
    {
        return None;
    }
    Some(parse_multi(trace, span, parent, sampled, flags))
}

/// Parses the values of the multi-header B3 headers (`None`: absent).
pub fn parse_multi(
    trace_id: Option<&str>,
    span_id: Option<&str>,
    parent_span_id: Option<&str>,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Result<Found, Malformed> {
    let sampled = match sampled.map(str::trim) {
        None => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(Malformed("X-B3-Sampled must be 1 or 0")),
    };
    // Only `1` is defined; other values are not debug.
    let debug = flags.map(str::trim) == Some("1");
    let sampling = match (debug, sampled) {
        (true, _) => Sampling::Debug,
        (false, Some(true)) => Sampling::Sampled,
        (false, Some(false)) => Sampling::NotSampled,
        (false, None) => Sampling::Deferred,
    };
    match (trace_id, span_id) {
        (Some(trace), Some(span)) => {
            let trace_id = parse_trace_id(trace.trim()).ok_or(Malformed(
                "X-B3-TraceId must be 16 or 32 lower-case hex digits",
            ))?;
            let span_id = parse_span_id(span.trim())
                .ok_or(Malformed("X-B3-SpanId must be 16 lower-case hex digits"))?;
            let parent_span_id = parse_parent_span_id(
                parent_span_id.map(str::trim),
                "X-B3-ParentSpanId must be 16 lower-case hex digits",
            )?;
            Ok(found(trace_id, span_id, parent_span_id, sampling))
        }
        (None, None) if parent_span_id.is_none() && sampling != Sampling::Deferred => Ok(Found {
            parent: None,
            sampling,
        }),
        (None, None) if parent_span_id.is_none() => Err(Malformed(
            "X-B3-* headers with neither ids nor a sampling decision",
        )),
        _ => Err(Malformed(
            "X-B3-TraceId and X-B3-SpanId must be sent together",
        )),
    }
}

/// Reads the `b3` header: `None` when absent.
pub(crate) fn extract_single(headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
    headers.get_one(SINGLE_HEADER).map(parse_single)
}

/// Parses a `b3` header value.
pub fn parse_single(value: &str) -> Result<Found, Malformed> {
    let mut fields = value.trim().split('-');
    let first = fields.next().unwrap_or_default();
    let Some(span) = fields.next() else {
        // The sampling state alone.
        let sampling =
            parse_sampling_state(first).ok_or(Malformed("b3: invalid sampling state"))?;
        return Ok(Found {
            parent: None,
            sampling,
        });
    };
    let state = fields.next();
    let parent = fields.next();
    if fields.next().is_some() {
        return Err(Malformed("b3: too many fields"));
    }
    let trace_id = parse_trace_id(first).ok_or(Malformed(
        "b3: trace id must be 16 or 32 lower-case hex digits",
    ))?;
    let span_id =
        parse_span_id(span).ok_or(Malformed("b3: span id must be 16 lower-case hex digits"))?;
    let sampling = match state {
        None => Sampling::Deferred,
        Some(state) => {
            parse_sampling_state(state).ok_or(Malformed("b3: sampling state must be 1, 0 or d"))?
        }
    };
    let parent_span_id = parse_parent_span_id(
        parent,
        "b3: parent span id must be 16 lower-case hex digits",
    )?;
    Ok(found(trace_id, span_id, parent_span_id, sampling))
}

/// The `X-B3-*` headers for `context`.
pub(crate) fn inject_multi(context: &TraceContext, out: &mut Vec<(String, String)>) {
    out.push((TRACE_ID_HEADER.to_owned(), trace_id(context.trace_id)));
    out.push((
        SPAN_ID_HEADER.to_owned(),
        format!("{:016x}", context.span_id),
    ));
    if context.parent_span_id != 0 {
        out.push((
            PARENT_SPAN_ID_HEADER.to_owned(),
            format!("{:016x}", context.parent_span_id),
        ));
    }
    if context.is_debug() {
        out.push((FLAGS_HEADER.to_owned(), "1".to_owned()));
    } else {
        let sampled = if context.is_sampled() { "1" } else { "0" };
        out.push((SAMPLED_HEADER.to_owned(), sampled.to_owned()));
    }
}

/// The `b3` header for `context`.
pub(crate) fn inject_single(context: &TraceContext, out: &mut Vec<(String, String)>) {
    out.push((SINGLE_HEADER.to_owned(), single(context)));
}

/// The `b3` header value for `context`:
/// `{TraceId}-{SpanId}-{1|0|d}[-{ParentSpanId}]`.
pub fn single(context: &TraceContext) -> String {
    let state = if context.is_debug() {
        "d"
    } else if context.is_sampled() {
        "1"
    } else {
        "0"
    };
    let mut value = format!(
        "{}-{:016x}-{state}",
        trace_id(context.trace_id),
        context.span_id
    );
    if context.parent_span_id != 0 {
        value.push_str(&format!("-{:016x}", context.parent_span_id));
    }
    value
}

/// 16 hex digits for a 64-bit trace id, 32 for a 128-bit one.
fn trace_id(id: TraceId) -> String {
    super::DisplayTraceId(id).to_string()
}

/// A B3 trace id: 16 or 32 lower-case hex digits, not all zeros.
fn parse_trace_id(s: &str) -> Option<TraceId> {
    let id = match s.len() {
        16 => TraceId {
            high: 0,
            low: lower_hex_u64(s, 16)?,
        },
        32 => TraceId {
            high: lower_hex_u64(s.get(..16)?, 16)?,
            low: lower_hex_u64(s.get(16..)?, 16)?,
        },
        _ => return None,
    };
    (id.high != 0 || id.low != 0).then_some(id)
}

/// A B3 span id: 16 lower-case hex digits, not all zeros.
fn parse_span_id(s: &str) -> Option<u64> {
    lower_hex_u64(s, 16).filter(|id| *id != 0)
}

fn parse_sampling_state(s: &str) -> Option<Sampling> {
    match s {
        "1" => Some(Sampling::Sampled),
        "0" => Some(Sampling::NotSampled),
        "d" => Some(Sampling::Debug),
        _ => None,
    }
}

/// An optional parent span id (0 when absent); `malformed` explains a bad one.
fn parse_parent_span_id(value: Option<&str>, malformed: &'static str) -> Result<u64, Malformed> {
    value.map_or(Ok(0), |p| lower_hex_u64(p, 16).ok_or(Malformed(malformed)))
}

/// The context a B3 caller sent, with its sampling decision.
fn found(trace_id: TraceId, span_id: u64, parent_span_id: u64, sampling: Sampling) -> Found {
    Found {
        parent: Some(TraceContext {
            trace_id,
            span_id,
            parent_span_id,
            flags: flags_of(sampling),
        }),
        sampling,
    }
}

/// The Jaeger flags mirroring a sampling decision (0 when deferred).
fn flags_of(sampling: Sampling) -> u8 {
    match sampling {
        Sampling::Debug => FLAG_SAMPLED | FLAG_DEBUG,
        Sampling::Sampled => FLAG_SAMPLED,
        Sampling::NotSampled | Sampling::Deferred => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap<'static> {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add_raw(*k, *v);
        }
        map
    }

    const TRACE_128: TraceId = TraceId {
        high: 0x80f198ee56343ba8,
        low: 0x64fe8b2a57d3eff7,
    };

    #[test]
    fn parses_the_specification_single_header_example() {
        let found =
            parse_single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")
                .unwrap();
        let parent = found.parent.clone().unwrap();
        assert_eq!(parent.trace_id, TRACE_128);
        assert_eq!(parent.span_id, 0xe457b5a2e4d86bd1);
        assert_eq!(parent.parent_span_id, 0x05e3ac9a4f6e3b90);
        assert_eq!(found.sampling, Sampling::Sampled);
        assert_eq!(
            single(&parent),
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            "round trip"
        );
    }

    #[test]
    fn single_header_sampling_states_and_optional_fields() {
        let debug = parse_single("80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-d").unwrap();
        assert_eq!(debug.sampling, Sampling::Debug);
        assert_eq!(debug.parent.unwrap().flags, FLAG_SAMPLED | FLAG_DEBUG);

        let deny = parse_single("80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-0").unwrap();
        assert_eq!(deny.sampling, Sampling::NotSampled);

        let deferred = parse_single("64fe8b2a57d3eff7-05e3ac9a4f6e3b90").unwrap();
        assert_eq!(deferred.sampling, Sampling::Deferred);
        let parent = deferred.parent.unwrap();
        assert_eq!(
            parent.trace_id,
            TraceId {
                high: 0,
                low: 0x64fe8b2a57d3eff7
            }
        );
        assert_eq!(parent.parent_span_id, 0);

        for (value, sampling) in [
            ("0", Sampling::NotSampled),
            ("1", Sampling::Sampled),
            ("d", Sampling::Debug),
        ] {
            let found = parse_single(value).unwrap();
            assert_eq!(found.parent, None, "{value}");
            assert_eq!(found.sampling, sampling, "{value}");
        }
    }

    #[test]
    fn rejects_invalid_single_headers() {
        for bad in [
            "",
            "2",
            "true",
            "D",
            // wrong lengths
            "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1",
            "80f198ee56343ba864fe8b2a57d3eff77-e457b5a2e4d86bd1-1",
            "64fe8b2a57d3eff-e457b5a2e4d86bd1-1",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd-1",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9",
            // upper case, zero ids, bad sampling states
            "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
            "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
            "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-",
            // a parent id where the sampling state belongs
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-05e3ac9a4f6e3b90",
            // too many fields, stray separators, non-ASCII
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-1",
            "-",
            "--",
            "80f198ee56343ba864fe8b2a57d3eff7--1",
            "80f198ee56343ba864fe8b2a57d3éff-e457b5a2e4d86bd1-1",
        ] {
            assert!(parse_single(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn parses_multi_headers() {
        let map = headers(&[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "1"),
        ]);
        let found = extract_multi(&map).unwrap().unwrap();
        let parent = found.parent.clone().unwrap();
        assert_eq!(parent.trace_id, TRACE_128);
        assert_eq!(parent.span_id, 0xe457b5a2e4d86bd1);
        assert_eq!(parent.parent_span_id, 0x05e3ac9a4f6e3b90);
        assert_eq!(found.sampling, Sampling::Sampled);

        // Round trip.
        let mut out = Vec::new();
        inject_multi(&parent, &mut out);
        let mut map = HeaderMap::new();
        for (k, v) in out {
            map.add_raw(k, v);
        }
        assert_eq!(extract_multi(&map).unwrap().unwrap(), found);

        let sampling = |sampled: Option<&str>, flags: Option<&str>| {
            parse_multi(
                Some("463ac35c9f6413ad48485a3953bb6124"),
                Some("a2fb4a1d1a96d312"),
                None,
                sampled,
                flags,
            )
            .unwrap()
            .sampling
        };
        assert_eq!(sampling(Some("1"), None), Sampling::Sampled);
        assert_eq!(sampling(Some("true"), None), Sampling::Sampled);
        assert_eq!(sampling(Some("0"), None), Sampling::NotSampled);
        assert_eq!(sampling(Some("false"), None), Sampling::NotSampled);
        assert_eq!(sampling(None, None), Sampling::Deferred);
        assert_eq!(sampling(None, Some("1")), Sampling::Debug);
        assert_eq!(
            sampling(Some("0"), Some("1")),
            Sampling::Debug,
            "debug wins"
        );
        assert_eq!(sampling(Some("1"), Some("0")), Sampling::Sampled);
    }

    #[test]
    fn multi_header_sampling_decision_alone() {
        let deny = extract_multi(&headers(&[("X-B3-Sampled", "0")]))
            .unwrap()
            .unwrap();
        assert_eq!(deny.parent, None);
        assert_eq!(deny.sampling, Sampling::NotSampled);
        let debug = extract_multi(&headers(&[("X-B3-Flags", "1")]))
            .unwrap()
            .unwrap();
        assert_eq!(debug.sampling, Sampling::Debug);
        assert!(extract_multi(&HeaderMap::new()).is_none());
    }

    #[test]
    fn rejects_invalid_multi_headers() {
        let trace = Some("463ac35c9f6413ad48485a3953bb6124");
        let span = Some("a2fb4a1d1a96d312");
        type Case<'a> = [Option<&'a str>; 5];
        let cases: &[Case] = &[
            [trace, None, None, Some("1"), None],
            [None, span, None, Some("1"), None],
            [None, None, Some("a2fb4a1d1a96d312"), Some("1"), None],
            [None, None, None, None, Some("0")],
            [trace, span, None, Some("2"), None],
            [trace, span, None, Some("yes"), None],
            [trace, span, Some("a2fb4a1d1a96d31"), Some("1"), None],
            [
                Some("463ac35c9f6413ad48485a3953bb612"),
                span,
                None,
                None,
                None,
            ],
            [
                Some("463AC35C9F6413AD48485A3953BB6124"),
                span,
                None,
                None,
                None,
            ],
            [Some("0000000000000000"), span, None, None, None],
            [trace, Some("0000000000000000"), None, None, None],
            [trace, Some("a2fb4a1d1a96d3123"), None, None, None],
            [trace, Some("a2fb4a1d1a96d31é"), None, None, None],
        ];
        for [t, s, p, sampled, flags] in cases {
            assert!(
                parse_multi(*t, *s, *p, *sampled, *flags).is_err(),
                "accepted {:?}",
                [t, s, p, sampled, flags]
            );
        }
    }

    #[test]
    fn injects_64_bit_ids_as_16_digits_and_debug_as_flags() {
        let ctx = TraceContext {
            trace_id: TraceId {
                high: 0,
                low: 0xabc,
            },
            span_id: 0x1f,
            parent_span_id: 0,
            flags: FLAG_SAMPLED | FLAG_DEBUG,
        };
        let mut out = Vec::new();
        inject_multi(&ctx, &mut out);
        assert_eq!(
            out,
            vec![
                ("x-b3-traceid".to_owned(), "0000000000000abc".to_owned()),
                ("x-b3-spanid".to_owned(), "000000000000001f".to_owned()),
                ("x-b3-flags".to_owned(), "1".to_owned()),
            ]
        );
        assert_eq!(single(&ctx), "0000000000000abc-000000000000001f-d");
        let unsampled = TraceContext { flags: 0, ..ctx };
        assert_eq!(single(&unsampled), "0000000000000abc-000000000000001f-0");
        assert_eq!(
            parse_single(&single(&unsampled)).unwrap().parent,
            Some(unsampled)
        );
    }
}
