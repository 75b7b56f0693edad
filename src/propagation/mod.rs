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

use rocket::http::HeaderMap;

use crate::limits::Limits;

pub mod b3;
pub mod baggage;
mod context;
mod format;
pub mod jaeger;
pub mod w3c;

pub use self::baggage::BAGGAGE_HEADER_PREFIX;
pub use self::context::{
    Found, Incoming, Malformed, Sampling, TraceContext, FLAG_DEBUG, FLAG_SAMPLED,
};
pub use self::format::{Format, UnknownFormat};
pub use self::jaeger::{parse_trace_header, DEBUG_HEADER, TRACE_HEADER};
pub use crate::ids::{parse_trace_id, DisplayTraceId};

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
pub(crate) fn carries_context(headers: &HeaderMap<'_>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustracing_jaeger::span::TraceId;

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
        for i in 0..(Limits::DEFAULT.max_baggage_items + 10) {
            many.add_raw(format!("uberctx-k{i}"), "v");
        }
        let (incoming, _) = extract(&many);
        assert_eq!(incoming.baggage.len(), Limits::DEFAULT.max_baggage_items);
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
