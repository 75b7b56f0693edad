//! W3C Trace Context. The input's first line is a `traceparent` value
//! (the specification's example when the line is empty, so that the
//! fuzzer reaches `tracestate` quickly), each further line a `tracestate`
//! header; invalid UTF-8 is both replaced and skipped.
//!
//! Checks: no panic; `parse_traceparent` agrees with a reference parser
//! written from the specification and prints back to itself (exactly, for
//! a version-00 value); through `extract_with`, the result keeps the
//! invariants of every extraction, a kept `tracestate` is the headers
//! joined with `,` and at most `MAX_TRACESTATE_LEN` bytes, and everything
//! round-trips through `inject` in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::w3c::{
    parse_traceparent, traceparent, MAX_TRACESTATE_LEN, TRACEPARENT_HEADER, TRACESTATE_HEADER,
};
use rocket_opentracing::propagation::{extract_with, Format};
use rocket_opentracing_fuzz::{
    check_context, check_incoming, check_round_trip, header_map, reference_traceparent, views,
};

/// The specification's example.
const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn check(input: &str) {
    for value in [input, input.split('\n').next().unwrap_or_default()] {
        let parsed = parse_traceparent(value);
        assert_eq!(
            parsed.clone().ok(),
            reference_traceparent(value),
            "{value:?}"
        );
        if let Ok(context) = parsed {
            check_context(&context);
            let printed = traceparent(&context);
            assert_eq!(parse_traceparent(&printed), Ok(context));
            // Version 00 prints back as it came, but for the flags: only
            // the sampled bit is kept.
            let value = value.trim_matches([' ', '\t']);
            if value.starts_with("00") {
                assert_eq!(printed[..53], value[..53]);
            }
        }
    }

    let mut lines = input.split('\n');
    let parent = lines.next().unwrap_or_default();
    let parent = if parent.is_empty() { EXAMPLE } else { parent };
    let states: Vec<&str> = lines.collect();
    let mut pairs = vec![(TRACEPARENT_HEADER, parent)];
    pairs.extend(states.iter().map(|s| (TRACESTATE_HEADER, *s)));
    let map = header_map(pairs);
    for formats in [&[Format::W3c][..], &Format::ALL] {
        let (incoming, outcome) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        assert_eq!(incoming.parent.is_some(), parse_traceparent(parent).is_ok());
        assert_eq!(outcome.is_ok(), incoming.parent.is_some());
        if let Some(state) = &incoming.tracestate {
            assert!(state.len() <= MAX_TRACESTATE_LEN);
            let joined: Vec<&str> = states
                .iter()
                .map(|s| s.trim_matches([' ', '\t']))
                .filter(|s| !s.is_empty())
                .collect();
            assert_eq!(*state, joined.join(","));
        }
        check_round_trip(&incoming);
    }
}

fuzz_target!(|data: &[u8]| {
    for input in views(data) {
        check(&input);
    }
});
