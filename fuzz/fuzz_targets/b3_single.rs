//! The single `b3` header: the input is its value; invalid UTF-8 is both
//! replaced and skipped.
//!
//! Checks: no panic; `parse_single` agrees with a reference parser written
//! from the B3 specification; a context prints back to itself with
//! `b3::single`; through `extract_with`, the result keeps the invariants
//! of every extraction and round-trips through `inject` in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::b3::{parse_single, single, SINGLE_HEADER};
use rocket_opentracing::propagation::{extract_with, Format};
use rocket_opentracing_fuzz::{
    check_context, check_incoming, check_round_trip, header_map, reference_b3_single, views,
};

fn check(input: &str) {
    let parsed = parse_single(input);
    let found = parsed.clone().ok().map(|f| (f.parent, f.sampling));
    assert_eq!(found, reference_b3_single(input), "{input:?}");
    if let Ok(found) = &parsed {
        if let Some(parent) = &found.parent {
            check_context(parent);
            assert_eq!(
                parse_single(&single(parent)).map(|f| f.parent),
                Ok(Some(parent.clone()))
            );
        }
    }

    let map = header_map([(SINGLE_HEADER, input)]);
    for formats in [&[Format::B3Single][..], &Format::ALL] {
        let (incoming, outcome) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        match &parsed {
            Ok(found) => {
                assert_eq!(outcome, Ok(()));
                assert_eq!(incoming.format, Some(Format::B3Single));
                assert_eq!(incoming.parent, found.parent);
                assert_eq!(incoming.sampling, found.sampling);
            }
            Err(why) => {
                assert_eq!(outcome, Err(*why));
                assert_eq!(incoming.format, None);
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
