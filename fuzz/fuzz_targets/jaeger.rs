//! Jaeger's native headers. The input's first line is an `uber-trace-id`
//! value (also given whole to `parse_trace_id` and `parse_trace_header`),
//! the rest a `jaeger-debug-id` value; invalid UTF-8 is both replaced and
//! skipped.
//!
//! Checks: no panic; `parse_trace_header` agrees with a reference parser
//! written from the format's documentation and its result prints back to
//! itself; `parse_trace_id` accepts exactly 1 to 32 hex digits; through
//! `extract_with`, the result keeps the invariants of every extraction
//! (valid parent, flags mirroring the decision, bounded printable debug
//! id) and round-trips through `inject` in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::{
    extract_with, parse_trace_header, parse_trace_id, DisplayTraceId, Format, DEBUG_HEADER,
    TRACE_HEADER,
};
use rocket_opentracing_fuzz::{
    check_context, check_incoming, check_round_trip, header_map, reference_jaeger, views,
};

fn check(input: &str) {
    let parsed = parse_trace_header(input);
    assert_eq!(parsed.clone().ok(), reference_jaeger(input), "{input:?}");
    if let Ok(context) = parsed {
        check_context(&context);
        let again = parse_trace_header(&context.header_value()).expect("printed header parses");
        assert_eq!(again.trace_id, context.trace_id);
        assert_eq!(again.span_id, context.span_id);
        assert_eq!(again.parent_span_id, 0, "the parent is sent as 0");
        assert_eq!(again.flags, context.flags);
    }

    let id = parse_trace_id(input);
    let hex = (1..=32).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_hexdigit());
    assert_eq!(id.is_some(), hex, "{input:?}");
    if let Some(id) = id {
        assert_eq!(parse_trace_id(&DisplayTraceId(id).to_string()), Some(id));
    }

    let (trace, debug) = input.split_once('\n').unwrap_or((input, ""));
    let mut pairs = vec![(TRACE_HEADER, trace)];
    if !debug.is_empty() {
        pairs.push((DEBUG_HEADER, debug));
    }
    let map = header_map(pairs);
    for formats in [&[Format::Jaeger][..], &Format::ALL] {
        let (incoming, outcome) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        assert_eq!(
            incoming.parent.is_some(),
            parse_trace_header(trace).is_ok(),
            "{trace:?}"
        );
        assert_eq!(outcome.is_ok(), incoming.parent.is_some());
        if let Some(id) = &incoming.debug_id {
            assert_eq!(id, debug.trim(), "the debug id is the value, trimmed");
        }
        check_round_trip(&incoming);
    }
}

fuzz_target!(|data: &[u8]| {
    for input in views(data) {
        check(&input);
    }
});
