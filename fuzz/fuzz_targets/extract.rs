//! Extraction in every format at once. The input is `name: value` lines
//! (any names, any case, repeated or not; invalid UTF-8 both replaced and
//! skipped), extracted with every format in the default order, each format
//! alone, and all in the reverse order.
//!
//! Checks: no panic; the result keeps the invariants of every extraction
//! (a returned parent has non-zero trace and span ids, its flags mirror
//! the decision, baggage within its bounds, bounded debug id and
//! tracestate); the first format in the list that is valid on its own
//! wins, with the parent it gives on its own; and the parent, injected in
//! each format and in all of them, extracts back with the same ids,
//! decision, baggage and tracestate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::{extract, extract_with, Format, Incoming};
use rocket_opentracing_fuzz::{check_incoming, check_round_trip, header_lines, header_map, views};

fn check(input: &str) {
    let map = header_map(header_lines(input));
    let alone: Vec<Incoming> = Format::ALL
        .iter()
        .map(|format| {
            let (incoming, outcome) = extract_with(&map, &[*format]);
            check_incoming(&incoming, &[*format]);
            if outcome.is_err() {
                assert_eq!(incoming.format, None, "an error with a context");
            }
            check_round_trip(&incoming);
            incoming
        })
        .collect();

    let mut reversed = Format::ALL;
    reversed.reverse();
    let (default, _) = extract(&map);
    assert_eq!(default, extract_with(&map, &Format::ALL).0);
    for formats in [&Format::ALL[..], &reversed] {
        let (incoming, outcome) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        // The first format valid on its own wins.
        let winner = formats.iter().find_map(|format| {
            let i = Format::ALL.iter().position(|f| f == format)?;
            alone[i].format.map(|_| &alone[i])
        });
        match winner {
            Some(winner) => {
                assert_eq!(outcome, Ok(()));
                assert_eq!(incoming.format, winner.format);
                assert_eq!(incoming.parent, winner.parent);
                assert_eq!(incoming.sampling, winner.sampling);
            }
            None => {
                assert_eq!(incoming.format, None);
                assert_eq!(incoming.parent, None);
            }
        }
        check_round_trip(&incoming);
    }
}

fuzz_target!(|data: &[u8]| {
    for input in views(data) {
        check(&input);
    }
});
