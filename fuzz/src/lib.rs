//! Shared by the fuzz targets in `fuzz_targets/`: turning raw bytes into
//! header values, building header maps, the invariants every extraction
//! must keep, the inject-then-extract round trip, and small reference
//! parsers written from the formats' documentation, against which the
//! crate's parsers are checked differentially; and, in [`decoded`], what
//! the viewer's collector-body decoders must keep.

pub mod decoded;

use std::borrow::Cow;

use arbitrary::Arbitrary;
use rocket::http::HeaderMap;
use rocket_opentracing::propagation::{
    extract_with, inject, w3c, Format, Incoming, Sampling, TraceContext, FLAG_DEBUG, FLAG_SAMPLED,
};
use rocket_opentracing::rustracing_jaeger::span::TraceId;

/// The library's bounds, crate-private (`src/limits.rs` for the baggage
/// defaults, `src/propagation/jaeger.rs` for the debug id), re-exported for
/// the targets by `rocket_opentracing::fuzzing`: the most baggage items and
/// bytes extraction keeps by default, and the longest `jaeger-debug-id` kept.
pub use rocket_opentracing::fuzzing::{MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ITEMS, MAX_DEBUG_ID_LEN};

/// The strings made of `data`: with invalid UTF-8 replaced by U+FFFD
/// (`from_utf8_lossy`) and, when that differs, with invalid UTF-8 skipped.
/// Rocket only hands over UTF-8 values, but a parser takes any `&str`.
pub fn views(data: &[u8]) -> Vec<Cow<'_, str>> {
    let lossy = String::from_utf8_lossy(data);
    if matches!(lossy, Cow::Borrowed(_)) {
        return vec![lossy];
    }
    let skipped: String = data.utf8_chunks().map(|chunk| chunk.valid()).collect();
    vec![lossy, Cow::Owned(skipped)]
}

/// Fuzzed text: raw bytes, made a string by replacing (`lossy`) or by
/// skipping invalid UTF-8.
#[derive(Arbitrary, Debug, Clone)]
pub struct Text {
    /// Replace invalid UTF-8 with U+FFFD (else skip it).
    pub lossy: bool,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Text {
    /// The bytes as a string.
    pub fn string(&self) -> String {
        if self.lossy {
            String::from_utf8_lossy(&self.bytes).into_owned()
        } else {
            self.bytes
                .utf8_chunks()
                .map(|chunk| chunk.valid())
                .collect()
        }
    }
}

/// The headers written in `input`, one `name: value` per line (one space
/// after the colon is dropped, the rest of the value kept as it is); a
/// line without a colon is skipped.
pub fn header_lines(input: &str) -> Vec<(String, String)> {
    input
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| {
            let value = value.strip_prefix(' ').unwrap_or(value);
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// A header map holding `pairs`, in order.
pub fn header_map<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> HeaderMap<'static>
where
    N: Into<String>,
    V: Into<String>,
{
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.add_raw(name.into(), value.into());
    }
    map
}

/// A context that may be continued: non-zero trace and span ids.
pub fn check_context(context: &TraceContext) {
    let TraceId { high, low } = context.trace_id;
    assert!(high != 0 || low != 0, "zero trace id: {context:?}");
    assert_ne!(context.span_id, 0, "zero span id: {context:?}");
}

/// The decision a context's flags stand for, as a format that can carry
/// the debug flag reads them back.
pub fn sampling_of(context: &TraceContext) -> Sampling {
    if context.is_debug() {
        Sampling::Debug
    } else if context.is_sampled() {
        Sampling::Sampled
    } else {
        Sampling::NotSampled
    }
}

/// The invariants of what [`extract_with`] returns for `formats`.
pub fn check_incoming(incoming: &Incoming, formats: &[Format]) {
    match (&incoming.format, &incoming.parent) {
        (None, parent) => {
            assert_eq!(*parent, None, "a parent without a format");
            assert_eq!(
                incoming.sampling,
                Sampling::Deferred,
                "no format, a decision"
            );
        }
        (Some(format), parent) => {
            assert!(formats.contains(format), "{format} was not asked for");
            match parent {
                Some(parent) => {
                    check_context(parent);
                    // The flags mirror the decision (0 when deferred).
                    match incoming.sampling {
                        Sampling::Deferred | Sampling::NotSampled => {
                            assert!(!parent.is_sampled(), "{incoming:?}")
                        }
                        Sampling::Sampled => {
                            assert!(parent.is_sampled() && !parent.is_debug(), "{incoming:?}")
                        }
                        Sampling::Debug => assert!(parent.is_debug(), "{incoming:?}"),
                    }
                    if incoming.sampling == Sampling::Deferred {
                        assert!(matches!(format, Format::B3 | Format::B3Single));
                    }
                }
                // Only B3 sends a decision without ids, and never "deferred".
                None => {
                    assert!(matches!(format, Format::B3 | Format::B3Single));
                    assert_ne!(incoming.sampling, Sampling::Deferred);
                }
            }
        }
    }
    if formats.contains(&Format::Jaeger) {
        if let Some(id) = &incoming.debug_id {
            assert!(!id.is_empty() && id.len() <= MAX_DEBUG_ID_LEN, "{id:?}");
            assert!(
                id.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "{id:?}"
            );
            assert_eq!(id.trim(), id, "untrimmed debug id");
        }
    } else {
        assert_eq!(incoming.debug_id, None, "debug id without jaeger");
    }
    check_baggage(&incoming.baggage);
    if !formats.contains(&Format::Jaeger) {
        assert!(incoming.baggage.is_empty(), "baggage without jaeger");
        assert_eq!(incoming.baggage_dropped, 0);
    }
    if let Some(state) = &incoming.tracestate {
        assert!(formats.contains(&Format::W3c), "tracestate without w3c");
        assert!(incoming.parent.is_some(), "tracestate without a parent");
        assert!(!state.is_empty() && state.len() <= w3c::MAX_TRACESTATE_LEN);
        assert_eq!(state.trim_matches([' ', '\t']), state, "untrimmed");
    }
}

/// Baggage within the bounds: at most [`MAX_BAGGAGE_ITEMS`] items and
/// [`MAX_BAGGAGE_BYTES`] bytes, keys non-empty, lower-case, unique.
pub fn check_baggage(items: &[(String, String)]) {
    assert!(items.len() <= MAX_BAGGAGE_ITEMS, "{} items", items.len());
    let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(bytes <= MAX_BAGGAGE_BYTES, "{bytes} bytes of baggage");
    for (i, (key, _)) in items.iter().enumerate() {
        assert!(!key.is_empty(), "empty baggage key");
        assert_eq!(*key, key.to_ascii_lowercase(), "key not lower-cased");
        assert!(
            items[..i].iter().all(|(k, _)| k != key),
            "duplicate key {key:?}"
        );
    }
}

/// Injects `incoming`'s parent (with its baggage and tracestate) in each
/// format, alone and all together, extracts it back and checks that the
/// same context comes back, as far as the format carries it.
pub fn check_round_trip(incoming: &Incoming) {
    let Some(parent) = &incoming.parent else {
        return;
    };
    let baggage = &incoming.baggage;
    let tracestate = incoming.tracestate.as_deref();
    for format in Format::ALL {
        let map = header_map(inject(parent, baggage, tracestate, &[format]));
        let (again, outcome) = extract_with(&map, &[format]);
        assert_eq!(outcome, Ok(()), "{format}: {parent:?}");
        check_incoming(&again, &[format]);
        assert_eq!(again.format, Some(format));
        let got = again.parent.as_ref().expect("a parent");
        assert_eq!(got.trace_id, parent.trace_id, "{format}");
        assert_eq!(got.span_id, parent.span_id, "{format}");
        let (parent_span_id, sampling) = match format {
            // The deprecated parent field is sent as 0.
            Format::Jaeger => (0, sampling_of(parent)),
            // No parent field, no debug flag.
            Format::W3c if parent.is_sampled() => (0, Sampling::Sampled),
            Format::W3c => (0, Sampling::NotSampled),
            Format::B3 | Format::B3Single => (parent.parent_span_id, sampling_of(parent)),
        };
        assert_eq!(got.parent_span_id, parent_span_id, "{format}");
        assert_eq!(again.sampling, sampling, "{format}: {parent:?}");
        if format == Format::Jaeger {
            assert_eq!(again.baggage, *baggage, "baggage");
            assert_eq!(again.baggage_dropped, 0);
        }
        if format == Format::W3c {
            assert_eq!(again.tracestate.as_deref(), tracestate, "tracestate");
        }
    }
    let map = header_map(inject(parent, baggage, tracestate, &Format::ALL));
    let (again, outcome) = extract_with(&map, &Format::ALL);
    assert_eq!(outcome, Ok(()));
    check_incoming(&again, &Format::ALL);
    assert_eq!(again.format, Some(Format::Jaeger), "the first format wins");
    let got = again.parent.expect("a parent");
    assert_eq!(
        (got.trace_id, got.span_id),
        (parent.trace_id, parent.span_id)
    );
    assert_eq!(again.baggage, *baggage);
    assert_eq!(again.tracestate.as_deref(), tracestate);
}

fn hex_digits(s: &str, max: usize) -> Option<u128> {
    let ok = !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u128::from_str_radix(s, 16).ok()).flatten()
}

fn lower_hex(bytes: &[u8]) -> Option<u128> {
    let ok = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    ok.then(|| u128::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok())
        .flatten()
}

fn trace_id(id: u128) -> TraceId {
    TraceId {
        high: (id >> 64) as u64,
        low: id as u64,
    }
}

/// `uber-trace-id` as its documentation says: `trace:span:parent:flags`,
/// colons possibly sent as `%3A`, surrounding whitespace ignored; 1 to 32,
/// 16, 16 and 2 hex digits of either case; trace and span ids not zero.
pub fn reference_jaeger(value: &str) -> Option<TraceContext> {
    let decoded = value.replace("%3A", ":").replace("%3a", ":");
    let fields: Vec<&str> = decoded.trim().split(':').collect();
    let [trace, span, parent, flags] = fields[..] else {
        return None;
    };
    let context = TraceContext {
        trace_id: trace_id(hex_digits(trace, 32)?),
        span_id: hex_digits(span, 16)? as u64,
        parent_span_id: hex_digits(parent, 16)? as u64,
        flags: hex_digits(flags, 2)? as u8,
    };
    let TraceId { high, low } = context.trace_id;
    ((high != 0 || low != 0) && context.span_id != 0).then_some(context)
}

/// `traceparent` as W3C Trace Context says, with this crate's documented
/// choices: spaces and tabs around ignored; `vv-t{32}-p{16}-ff`, lower-case
/// hex; version `ff` invalid, `00` exactly 55 bytes, a later version may
/// append `-...`; zero ids invalid; only the sampled bit kept.
pub fn reference_traceparent(value: &str) -> Option<TraceContext> {
    let b = value.trim_matches([' ', '\t']).as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = lower_hex(&b[..2])?;
    let valid_length = match version {
        0xff => false,
        0 => b.len() == 55,
        _ => b.len() == 55 || b[55] == b'-',
    };
    if !valid_length {
        return None;
    }
    let trace = lower_hex(&b[3..35])?;
    let span = lower_hex(&b[36..52])? as u64;
    let flags = lower_hex(&b[53..55])? as u8;
    (trace != 0 && span != 0).then(|| TraceContext {
        trace_id: trace_id(trace),
        span_id: span,
        parent_span_id: 0,
        flags: flags & FLAG_SAMPLED,
    })
}

/// The single `b3` header as the B3 specification says: the sampling state
/// alone (`0`, `1`, `d`) or `trace-span[-state[-parent]]`, the trace id 16
/// or 32 lower-case hex digits, the others 16; trace and span ids not zero.
/// Surrounding whitespace ignored.
pub fn reference_b3_single(value: &str) -> Option<(Option<TraceContext>, Sampling)> {
    let state = |s: &str| match s {
        "0" => Some(Sampling::NotSampled),
        "1" => Some(Sampling::Sampled),
        "d" => Some(Sampling::Debug),
        _ => None,
    };
    let id = |s: &str, lens: &[usize]| {
        if lens.contains(&s.len()) {
            lower_hex(s.as_bytes())
        } else {
            None
        }
    };
    let fields: Vec<&str> = value.trim().split('-').collect();
    let (trace, span, sampling, parent) = match fields[..] {
        [alone] => return Some((None, state(alone)?)),
        [t, s] => (t, s, Sampling::Deferred, None),
        [t, s, st] => (t, s, state(st)?, None),
        [t, s, st, p] => (t, s, state(st)?, Some(p)),
        _ => return None,
    };
    let trace = id(trace, &[16, 32]).filter(|t| *t != 0)?;
    let span = id(span, &[16]).filter(|s| *s != 0)? as u64;
    let parent = match parent {
        Some(p) => id(p, &[16])? as u64,
        None => 0,
    };
    let flags = match sampling {
        Sampling::Debug => FLAG_SAMPLED | FLAG_DEBUG,
        Sampling::Sampled => FLAG_SAMPLED,
        Sampling::NotSampled | Sampling::Deferred => 0,
    };
    let context = TraceContext {
        trace_id: trace_id(trace),
        span_id: span,
        parent_span_id: parent,
        flags,
    };
    Some((Some(context), sampling))
}
