//! Property tests of trace-context propagation, through the public API
//! only: every parser is total (any string gives a valid context or an
//! error, never a panic), valid headers built from their parts parse back
//! to those parts, what is injected in any format is extracted back, and
//! extraction over any list of headers keeps its invariants and the
//! baggage bounds. `fuzz/` fuzzes the same parsers with libFuzzer.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use rocket::http::HeaderMap;
use rocket_opentracing::propagation::b3::{self, parse_multi, parse_single};
use rocket_opentracing::propagation::w3c::{self, parse_traceparent};
use rocket_opentracing::propagation::{
    extract, extract_bounded, extract_with, headers, inject, parse_trace_header, parse_trace_id,
    Format, Incoming, Sampling, TraceContext, BAGGAGE_HEADER_PREFIX, FLAG_DEBUG, FLAG_SAMPLED,
};
use rocket_opentracing::rustracing_jaeger::span::TraceId;
use rocket_opentracing::Limits;

const MAX_BAGGAGE_ITEMS: usize = Limits::DEFAULT.max_baggage_items;
const MAX_BAGGAGE_BYTES: usize = Limits::DEFAULT.max_baggage_bytes;

// ---------------------------------------------------------------------
// Strategies

/// Any string, favouring the characters the parsers look at: hex digits of
/// both cases and the formats' separators, so that near-valid values come
/// up, besides digit-heavy, long and arbitrary Unicode ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9a-fA-F:%3A=,@ \t-]{0,70}",
        1 => "[0-9]{0,40}",
        1 => "[0-9a-f]{14,34}(-[0-9a-f]{14,34}){0,4}",
        1 => "[0-9a-f]{14,34}(:[0-9a-f]{0,18}){0,4}",
        1 => any::<String>(),
        1 => "\\PC{0,20}[0-9a-f-]{40,60}\\PC{0,5}",
        1 => ".{300,1200}",
        4 => tokens(),
        4 => near_valid(),
    ]
}

/// Valid values of every format with one or two characters replaced,
/// inserted or deleted: mostly invalid, often still valid.
fn near_valid() -> impl Strategy<Value = String> {
    let valid = select(vec![
        "abc:def:0:1",
        "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1",
        "abc%3A1%3a0%3A0",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        "64fe8b2a57d3eff7-05e3ac9a4f6e3b90",
        "463ac35c9f6413ad48485a3953bb6124",
    ]);
    let edit = (
        0..3u8,
        any::<prop::sample::Index>(),
        select("0123456789abcdefABCDEF-:% +\té".chars().collect::<Vec<_>>()),
    );
    (valid, vec(edit, 1..3)).prop_map(|(value, edits)| {
        let mut chars: Vec<char> = value.chars().collect();
        for (kind, at, c) in edits {
            let at = at.index(chars.len());
            match kind {
                0 => chars[at] = c,
                1 => chars.insert(at, c),
                _ => {
                    chars.remove(at);
                }
            }
        }
        chars.into_iter().collect()
    })
}

/// Strings made of the formats' own pieces (ids, zero ids, sampling
/// states, separators, whitespace), so that valid, nearly valid and
/// all-zero values come up often.
fn tokens() -> impl Strategy<Value = String> {
    let token = select(vec![
        "0000000000000000",
        "00000000000000000000000000000000",
        "a2fb4a1d1a96d312",
        "463ac35c9f6413ad48485a3953bb6124",
        "A2FB4A1D1A96D312",
        "abc",
        "0",
        "1",
        "d",
        "00",
        "01",
        "ff",
        "-",
        ":",
        "%3A",
        " ",
        "\t",
        "+",
        "é",
    ]);
    vec(token, 1..10).prop_map(|tokens| tokens.concat())
}

/// Lower-case hex, zero-padded to `width`.
fn hex(value: u128, width: usize) -> String {
    format!("{value:0width$x}")
}

/// A non-zero trace id, 64-bit (high 0) or 128-bit.
fn trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![
        (1..=u64::MAX).prop_map(|low| TraceId { high: 0, low }),
        (1..=u64::MAX, any::<u64>()).prop_map(|(high, low)| TraceId { high, low }),
    ]
}

/// Any context that may be sent: non-zero ids, any parent (0: a root),
/// not sampled, sampled, debug, or debug without the sampled bit.
fn context() -> impl Strategy<Value = TraceContext> {
    (
        trace_id(),
        1..=u64::MAX,
        prop_oneof![Just(0), any::<u64>()],
        select(vec![0, FLAG_SAMPLED, FLAG_DEBUG, FLAG_SAMPLED | FLAG_DEBUG]),
    )
        .prop_map(|(trace_id, span_id, parent_span_id, flags)| TraceContext {
            trace_id,
            span_id,
            parent_span_id,
            flags,
        })
}

/// Baggage as a request may hold it: unique lower-case keys, any values.
fn baggage() -> impl Strategy<Value = Vec<(String, String)>> {
    vec(("[a-z0-9_.-]{1,16}", any::<String>()), 0..8).prop_map(|items| {
        let mut unique: Vec<(String, String)> = Vec::new();
        for (key, value) in items {
            if !unique.iter().any(|(k, _)| *k == key) {
                unique.push((key, value));
            }
        }
        unique
    })
}

/// A well-formed `tracestate`: unique keys (simple or multi-tenant),
/// values of printable ASCII other than `,` and `=`, not ending in a space.
fn tracestate() -> impl Strategy<Value = String> {
    vec(
        (
            "[a-z][a-z0-9_*/-]{0,8}(@[a-z][a-z0-9_*/-]{0,5})?",
            "[!-+.-<>-~]([ !-+.-<>-~]{0,10}[!-+.-<>-~])?",
        ),
        1..6,
    )
    .prop_map(|members| {
        let mut keys: Vec<String> = Vec::new();
        let mut out: Vec<String> = Vec::new();
        for (key, value) in members {
            if !keys.contains(&key) {
                out.push(format!("{key}={value}"));
                keys.push(key);
            }
        }
        out.join(",")
    })
}

/// Header names that some format reads, in random case, and others.
fn header_name() -> impl Strategy<Value = String> {
    let known = select(vec![
        "uber-trace-id",
        "jaeger-debug-id",
        "traceparent",
        "tracestate",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "host",
    ]);
    prop_oneof![
        3 => (known, any::<bool>()).prop_map(|(name, upper)| if upper {
            name.to_ascii_uppercase()
        } else {
            name.to_owned()
        }),
        3 => "(uberctx|UBERCTX|UberCtx)-[a-zA-Z0-9_é-]{0,6}",
        1 => any::<String>(),
    ]
}

/// A header value: arbitrary text, a valid value of some format, or a
/// valid one with one character replaced, or a long baggage value.
fn header_value() -> impl Strategy<Value = String> {
    let valid = select(vec![
        "abc:def:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        "463ac35c9f6413ad48485a3953bb6124",
        "a2fb4a1d1a96d312",
        "1",
        "0",
        "d",
    ]);
    let mutated =
        (valid.clone(), any::<prop::sample::Index>(), any::<char>()).prop_map(|(value, at, c)| {
            let mut chars: Vec<char> = value.chars().collect();
            let at = at.index(chars.len());
            chars[at] = c;
            chars.into_iter().collect()
        });
    prop_oneof![
        3 => text(),
        2 => valid.prop_map(str::to_owned),
        2 => mutated,
    ]
}

/// A (name, value) header list: a few headers of any kind, often a valid
/// header of some format, sometimes enough baggage to go over its bounds.
fn header_list() -> impl Strategy<Value = Vec<(String, String)>> {
    let valid = select(vec![
        ("uber-trace-id", "abc:def:0:1"),
        (
            "Uber-Trace-Id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3",
        ),
        ("uber-trace-id", "1%3A2%3A0%3A0"),
        ("jaeger-debug-id", "find-me"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        (
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        ),
        ("b3", "0"),
        ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
        ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "1"),
        ("x-b3-flags", "1"),
        ("uberctx-user", "alice%20smith"),
    ])
    .prop_map(|(name, value)| (name.to_owned(), value.to_owned()));
    let some = vec(
        prop_oneof![2 => (header_name(), header_value()), 1 => valid],
        0..16,
    );
    let baggage = prop_oneof![
        3 => Just(Vec::new()),
        1 => vec(("(uberctx|UBERCTX)-[a-z]{1,3}", "[a-z%0-9]{0,250}"), 50..80),
    ];
    (some, baggage)
        .prop_map(|(mut some, baggage)| {
            some.extend(baggage);
            some
        })
        .prop_shuffle()
}

// ---------------------------------------------------------------------
// Checks

fn is_valid(context: &TraceContext) -> bool {
    (context.trace_id.high != 0 || context.trace_id.low != 0) && context.span_id != 0
}

/// The decision a format that carries the debug flag reads back.
fn sampling_of(context: &TraceContext) -> Sampling {
    if context.is_debug() {
        Sampling::Debug
    } else if context.is_sampled() {
        Sampling::Sampled
    } else {
        Sampling::NotSampled
    }
}

fn header_map(pairs: Vec<(String, String)>) -> HeaderMap<'static> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.add_raw(name, value);
    }
    map
}

/// What every extraction keeps: a valid parent whose flags mirror the
/// decision, a format exactly when something was found, bounded baggage.
fn check_incoming(incoming: &Incoming) -> Result<(), TestCaseError> {
    match (&incoming.format, &incoming.parent) {
        (None, parent) => {
            prop_assert_eq!(parent, &None);
            prop_assert_eq!(incoming.sampling, Sampling::Deferred);
        }
        (Some(_), Some(parent)) => {
            prop_assert!(is_valid(parent), "{:?}", parent);
            let expected = match incoming.sampling {
                Sampling::Deferred | Sampling::NotSampled => (false, false),
                Sampling::Sampled => (true, false),
                Sampling::Debug => (true, true),
            };
            prop_assert_eq!((parent.is_sampled(), parent.is_debug()), expected);
        }
        (Some(format), None) => {
            prop_assert!(matches!(format, Format::B3 | Format::B3Single));
            prop_assert_ne!(incoming.sampling, Sampling::Deferred);
        }
    }
    let items = &incoming.baggage;
    prop_assert!(items.len() <= MAX_BAGGAGE_ITEMS, "{} items", items.len());
    let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    prop_assert!(bytes <= MAX_BAGGAGE_BYTES, "{} bytes", bytes);
    for (i, (key, _)) in items.iter().enumerate() {
        prop_assert!(!key.is_empty());
        prop_assert_eq!(key, &key.to_ascii_lowercase());
        prop_assert!(
            items[..i].iter().all(|(k, _)| k != key),
            "duplicate {}",
            key
        );
    }
    if let Some(state) = &incoming.tracestate {
        prop_assert!(incoming.parent.is_some());
        prop_assert!(!state.is_empty() && state.len() <= w3c::MAX_TRACESTATE_LEN);
    }
    Ok(())
}

/// `context` (with `baggage`, `tracestate`) injected in `format` and
/// extracted back in it.
fn round_trip(
    context: &TraceContext,
    baggage: &[(String, String)],
    tracestate: Option<&str>,
    format: Format,
) -> Result<(), TestCaseError> {
    let map = header_map(inject(context, baggage, tracestate, &[format]));
    let (incoming, outcome) = extract_with(&map, &[format]);
    prop_assert_eq!(outcome, Ok(()));
    check_incoming(&incoming)?;
    prop_assert_eq!(incoming.format, Some(format));
    let got = incoming.parent.clone().expect("a parent");
    prop_assert_eq!(got.trace_id, context.trace_id, "{}", format);
    prop_assert_eq!(got.span_id, context.span_id, "{}", format);
    let sampling = match format {
        Format::W3c if context.is_sampled() => Sampling::Sampled,
        Format::W3c => Sampling::NotSampled,
        Format::Jaeger | Format::B3 | Format::B3Single => sampling_of(context),
    };
    prop_assert_eq!(incoming.sampling, sampling, "{}", format);
    let parent_span_id = match format {
        Format::B3 | Format::B3Single => context.parent_span_id,
        Format::Jaeger | Format::W3c => 0,
    };
    prop_assert_eq!(got.parent_span_id, parent_span_id, "{}", format);
    if format == Format::Jaeger {
        prop_assert_eq!(&incoming.baggage, baggage);
        prop_assert_eq!(incoming.baggage_dropped, 0);
    } else {
        prop_assert!(incoming.baggage.is_empty());
    }
    if format == Format::W3c {
        prop_assert_eq!(incoming.tracestate.as_deref(), tracestate);
    }
    Ok(())
}

// ---------------------------------------------------------------------
// (a) Every parser is total.

proptest! {
    #[test]
    fn jaeger_parsers_are_total(s in text()) {
        if let Ok(context) = parse_trace_header(&s) {
            prop_assert!(is_valid(&context), "{:?} gave {:?}", s, context);
        }
        if parse_trace_id(&s).is_some() {
            prop_assert!(
                (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()),
                "{:?} is not 1 to 32 hex digits", s
            );
        }
    }

    #[test]
    fn traceparent_parser_is_total(s in text()) {
        if let Ok(context) = parse_traceparent(&s) {
            prop_assert!(is_valid(&context), "{:?} gave {:?}", s, context);
            prop_assert_eq!(context.flags & !FLAG_SAMPLED, 0);
            prop_assert_eq!(context.parent_span_id, 0);
        }
    }

    #[test]
    fn b3_parsers_are_total(
        s in text(),
        fields in vec(prop::option::of(text()), 5),
    ) {
        if let Ok(found) = parse_single(&s) {
            match &found.parent {
                Some(parent) => prop_assert!(is_valid(parent), "{:?} gave {:?}", s, parent),
                None => prop_assert_ne!(found.sampling, Sampling::Deferred),
            }
        }
        let [t, sp, p, sa, f] = [0, 1, 2, 3, 4].map(|i| fields[i].as_deref());
        if let Ok(found) = parse_multi(t, sp, p, sa, f) {
            match &found.parent {
                Some(parent) => prop_assert!(is_valid(parent), "{:?} gave {:?}", fields, parent),
                None => prop_assert_ne!(found.sampling, Sampling::Deferred),
            }
        }
    }

    /// Valid `uber-trace-id` values in every spelling the format allows
    /// (either case, leading zeros or not, `%3A` colons, surrounding
    /// spaces) parse to exactly their parts; with a zero id, an extra or a
    /// missing field, or a sign, they are rejected.
    #[test]
    fn jaeger_headers_parse_to_their_parts(
        context in context(),
        flags in any::<u8>(),
        padded in any::<bool>(),
        upper in any::<bool>(),
        percent in any::<bool>(),
        spaces in "[ \t]{0,2}",
        breakage in 0..5u8,
    ) {
        let trace = u128::from(context.trace_id.high) << 64 | u128::from(context.trace_id.low);
        let width = |w| if padded { w } else { 1 };
        let fields = [
            hex(trace, width(32)),
            hex(context.span_id.into(), width(16)),
            hex(context.parent_span_id.into(), width(16)),
            hex(flags.into(), width(2)),
        ];
        let mut fields = fields.map(|f| if upper { f.to_ascii_uppercase() } else { f }).to_vec();
        let expected = TraceContext { flags, ..context };
        match breakage {
            1 => fields[0] = "0".into(),
            2 => fields[1] = "0".repeat(16),
            3 => fields.push("1".into()),
            4 => fields[3] = format!("+{}", &fields[3][..1]),
            _ => {}
        }
        let separator = if percent { "%3A" } else { ":" };
        let value = format!("{spaces}{}{spaces}", fields.join(separator));
        let parsed = parse_trace_header(&value);
        if breakage == 0 {
            prop_assert_eq!(parsed, Ok(expected), "{}", value);
        } else {
            prop_assert!(parsed.is_err(), "accepted {:?}", value);
        }
    }

    /// The same for `traceparent`: any version but `ff` (a later one with
    /// fields appended), any flags; upper-case or zero ids are rejected.
    #[test]
    fn traceparents_parse_to_their_parts(
        context in context(),
        version in 0..0xffu8,
        flags in any::<u8>(),
        suffix in "(-[a-z0-9-]{0,10})?",
        breakage in 0..4u8,
    ) {
        let trace = u128::from(context.trace_id.high) << 64 | u128::from(context.trace_id.low);
        let suffix = if version == 0 { "" } else { suffix.as_str() };
        let mut value = format!(
            "{:02x}-{}-{:016x}-{flags:02x}{suffix}",
            version, hex(trace, 32), context.span_id
        );
        match breakage {
            1 => value = value.to_ascii_uppercase(),
            2 => value.replace_range(3..35, &"0".repeat(32)),
            3 => value.replace_range(36..52, &"0".repeat(16)),
            _ => {}
        }
        let parsed = parse_traceparent(&value);
        if breakage == 1 && !value.bytes().any(|b| b.is_ascii_uppercase()) {
            // Nothing to upper-case: still valid.
        } else if breakage == 0 {
            let expected = TraceContext {
                parent_span_id: 0,
                flags: flags & FLAG_SAMPLED,
                ..context
            };
            prop_assert_eq!(parsed, Ok(expected), "{}", value);
        } else {
            prop_assert!(parsed.is_err(), "accepted {:?}", value);
        }
    }
}

proptest! {
    /// The same for B3, single and multi-header: 64-bit trace ids as 16 or
    /// 32 digits, each sampling state, with or without a parent; zero ids,
    /// upper case, a wrong length or an unknown state are rejected.
    #[test]
    fn b3_headers_parse_to_their_parts(
        context in context(),
        state in select(vec![None, Some("0"), Some("1"), Some("d")]),
        wide in any::<bool>(),
        with_parent in any::<bool>(),
        breakage in 0..6u8,
    ) {
        let TraceId { high, low } = context.trace_id;
        let mut trace = if high != 0 || wide {
            format!("{high:016x}{low:016x}")
        } else {
            format!("{low:016x}")
        };
        let mut span = format!("{:016x}", context.span_id);
        let mut state = state.map(str::to_owned);
        match breakage {
            1 => trace = "0".repeat(trace.len()),
            2 => span = "0".repeat(16),
            3 => trace = trace.to_ascii_uppercase(),
            4 => trace = trace[1..].to_owned(),
            5 => state = Some("2".into()),
            _ => {}
        }
        let valid = breakage == 0 || (breakage == 3 && !trace.bytes().any(|b| b.is_ascii_uppercase()));
        let parent = with_parent.then(|| format!("{:016x}", context.parent_span_id));
        let sampling = match state.as_deref() {
            None => Sampling::Deferred,
            Some("0") => Sampling::NotSampled,
            Some("1") => Sampling::Sampled,
            _ => Sampling::Debug,
        };
        let expected = TraceContext {
            parent_span_id: if with_parent { context.parent_span_id } else { 0 },
            flags: match sampling {
                Sampling::Debug => FLAG_SAMPLED | FLAG_DEBUG,
                Sampling::Sampled => FLAG_SAMPLED,
                Sampling::NotSampled | Sampling::Deferred => 0,
            },
            ..context
        };

        // Single: the parent needs a state before it.
        let mut single = format!("{trace}-{span}");
        if let Some(state) = &state {
            single.push_str(&format!("-{state}"));
            if let Some(parent) = &parent {
                single.push_str(&format!("-{parent}"));
            }
        }
        let parsed = parse_single(&single);
        if valid {
            let found = parsed.expect("valid");
            let mut expected = expected.clone();
            if state.is_none() {
                expected.parent_span_id = 0;
            }
            prop_assert_eq!(found.parent, Some(expected), "{}", single);
            prop_assert_eq!(found.sampling, sampling);
        } else {
            prop_assert!(parsed.is_err(), "accepted {:?}", single);
        }

        // Multi: debug is X-B3-Flags: 1.
        let (sampled, flags) = match state.as_deref() {
            Some("d") => (None, Some("1")),
            other => (other, None),
        };
        let parsed = parse_multi(Some(&trace), Some(&span), parent.as_deref(), sampled, flags);
        if valid {
            let found = parsed.expect("valid");
            prop_assert_eq!(found.parent, Some(expected));
            prop_assert_eq!(found.sampling, sampling);
        } else {
            prop_assert!(parsed.is_err(), "accepted {:?}", (trace, span, sampled));
        }
    }
}

// ---------------------------------------------------------------------
// (b) Inject then extract gives the same context back, in every format.

proptest! {
    #[test]
    fn every_format_round_trips(
        context in context(),
        baggage in baggage(),
        tracestate in prop::option::of(tracestate()),
    ) {
        for format in Format::ALL {
            round_trip(&context, &baggage, tracestate.as_deref(), format)?;
        }
        // All formats at once: the first (Jaeger) wins, everything arrives.
        let map = header_map(inject(&context, &baggage, tracestate.as_deref(), &Format::ALL));
        let (incoming, outcome) = extract(&map);
        prop_assert_eq!(outcome, Ok(()));
        prop_assert_eq!(incoming.format, Some(Format::Jaeger));
        let got = incoming.parent.expect("a parent");
        prop_assert_eq!((got.trace_id, got.span_id), (context.trace_id, context.span_id));
        prop_assert_eq!(incoming.sampling, sampling_of(&context));
        prop_assert_eq!(incoming.baggage, baggage.clone());
        prop_assert_eq!(incoming.tracestate.as_deref(), tracestate.as_deref());

        // `headers` is the default formats (Jaeger and W3C).
        let (incoming, _) = extract(&header_map(headers(&context, &baggage)));
        prop_assert_eq!(incoming.parent.map(|p| p.span_id), Some(context.span_id));
        prop_assert_eq!(incoming.baggage, baggage);
    }

    /// What the printers write is what the parsers read.
    #[test]
    fn printed_values_parse_back(context in context()) {
        let jaeger = parse_trace_header(&context.header_value());
        prop_assert_eq!(jaeger, Ok(TraceContext { parent_span_id: 0, ..context.clone() }));
        let w3c = parse_traceparent(&w3c::traceparent(&context)).map(|c| c.span_id);
        prop_assert_eq!(w3c, Ok(context.span_id));
        let single = parse_single(&b3::single(&context)).expect("b3 parses");
        prop_assert_eq!(single.sampling, sampling_of(&context));
        let parent = single.parent.expect("a parent");
        prop_assert_eq!((parent.trace_id, parent.span_id), (context.trace_id, context.span_id));
        prop_assert_eq!(parent.parent_span_id, context.parent_span_id);
    }
}

// ---------------------------------------------------------------------
// (c) Extraction over any list of headers.

proptest! {
    #[test]
    fn extraction_over_any_headers_keeps_its_invariants(
        pairs in header_list(),
    ) {
        let baggage_headers = pairs
            .iter()
            .filter(|(name, _)| {
                name.as_bytes()
                    .get(..BAGGAGE_HEADER_PREFIX.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(BAGGAGE_HEADER_PREFIX.as_bytes()))
            })
            .count();
        let map = header_map(pairs);
        let alone = Format::ALL.map(|format| extract_with(&map, &[format]).0);
        for formats in [&Format::ALL[..], &[Format::B3, Format::W3c], &[Format::Jaeger]] {
            let (incoming, outcome) = extract_with(&map, formats);
            check_incoming(&incoming)?;
            if outcome.is_err() {
                prop_assert_eq!(incoming.format, None);
            }
            // The first format that is valid on its own wins.
            let winner = formats
                .iter()
                .filter_map(|f| alone.iter().find(|a| a.format == Some(*f)))
                .next();
            prop_assert_eq!(incoming.format, winner.and_then(|w| w.format));
            prop_assert_eq!(&incoming.parent, &winner.and_then(|w| w.parent.clone()));
            prop_assert!(incoming.baggage.len() + incoming.baggage_dropped <= baggage_headers);
            // A parent found travels on, and comes back, in every format.
            if let Some(parent) = &incoming.parent {
                for format in Format::ALL {
                    round_trip(parent, &incoming.baggage, incoming.tracestate.as_deref(), format)?;
                }
            }
        }
    }
}

proptest! {
    /// `extract_bounded` keeps the baggage within any configured bounds,
    /// and keeps everything when it all fits.
    #[test]
    fn extraction_respects_configured_baggage_bounds(
        pairs in header_list(),
        max_items in 0..80usize,
        max_bytes in 0..12_000usize,
    ) {
        let limits = Limits {
            max_baggage_items: max_items,
            max_baggage_bytes: max_bytes,
            ..Limits::DEFAULT
        };
        let map = header_map(pairs);
        let (bounded, _) = extract_bounded(&map, &Format::ALL, &limits);
        let items = &bounded.baggage;
        prop_assert!(items.len() <= max_items, "{} items over {}", items.len(), max_items);
        let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
        prop_assert!(bytes <= max_bytes, "{} bytes over {}", bytes, max_bytes);
        // The rest is as with the default bounds.
        let (default, _) = extract_with(&map, &Format::ALL);
        prop_assert_eq!(&bounded.parent, &default.parent);
        let fits = default.baggage_dropped == 0
            && default.baggage.len() <= max_items
            && default.baggage.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= max_bytes;
        if fits {
            prop_assert_eq!(&bounded.baggage, &default.baggage);
        }
    }
}

/// The strategies reach what the properties are about: valid contexts
/// from arbitrary header lists, and baggage over its bounds (so that the
/// bound checks above are exercised, not vacuous).
#[test]
fn header_lists_reach_valid_contexts_and_the_baggage_bounds() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = header_list();
    let (mut parents, mut dropped) = (0, 0);
    for _ in 0..200 {
        let pairs = strategy.new_tree(&mut runner).unwrap().current();
        let (incoming, _) = extract(&header_map(pairs));
        parents += usize::from(incoming.parent.is_some());
        dropped += usize::from(incoming.baggage_dropped > 0);
    }
    assert!(parents > 50, "{parents} of 200 lists gave a parent");
    assert!(dropped > 20, "{dropped} of 200 lists went over the bounds");
}
