//! Baggage (`uberctx-*` headers). The input is two scale bytes (decoded
//! with `arbitrary`: how many times each baggage value is repeated and how
//! many numbered copies of each baggage header are sent, so that inputs of
//! a few KiB reach the bounds) followed by `name: value` lines (any names,
//! any case); invalid UTF-8 is both replaced and skipped.
//!
//! Checks: no panic; the baggage `extract_with` returns respects
//! `MAX_BAGGAGE_ITEMS` and `MAX_BAGGAGE_BYTES`, has non-empty, lower-case,
//! unique keys, each item coming from a header (key lower-cased, value
//! percent-decoded); nothing is lost when everything fits; the kept and
//! dropped items add up to at most the headers sent; with a parent it all
//! round-trips through `inject`.
#![no_main]

use std::collections::HashSet;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::{extract_with, Format, BAGGAGE_HEADER_PREFIX, TRACE_HEADER};
use rocket_opentracing_fuzz::{
    check_incoming, check_round_trip, header_lines, header_map, views, MAX_BAGGAGE_BYTES,
    MAX_BAGGAGE_ITEMS,
};

#[derive(Arbitrary, Debug)]
struct Scale {
    /// Each baggage value is sent `1 + repeat % 32` times over.
    repeat: u8,
    /// Each baggage header is sent `1 + copies % 80` times: as written,
    /// then with `1`, `2`... appended to its name.
    copies: u8,
}

/// Stop adding copies past this many bytes of values (bounds the time an
/// input takes; well over `MAX_BAGGAGE_BYTES`).
const MAX_GENERATED_BYTES: usize = 3 * MAX_BAGGAGE_BYTES;

/// The baggage key of a header name, if it is a baggage header.
fn key_of(name: &str) -> Option<&str> {
    let prefix = name.as_bytes().get(..BAGGAGE_HEADER_PREFIX.len())?;
    prefix
        .eq_ignore_ascii_case(BAGGAGE_HEADER_PREFIX.as_bytes())
        .then(|| &name[BAGGAGE_HEADER_PREFIX.len()..])
}

fn decoded(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

fn check(scale: &Scale, lines: &str) {
    let mut pairs = Vec::new();
    let mut generated = 0;
    for (name, value) in header_lines(lines) {
        if key_of(&name).is_none() {
            pairs.push((name, value));
            continue;
        }
        let value = value.repeat(1 + usize::from(scale.repeat % 32));
        for copy in 0..=usize::from(scale.copies % 80) {
            if generated > MAX_GENERATED_BYTES {
                break;
            }
            generated += value.len();
            let name = if copy == 0 {
                name.clone()
            } else {
                format!("{name}{copy}")
            };
            pairs.push((name, value.clone()));
        }
    }
    let baggage: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(name, value)| Some((key_of(name)?.to_ascii_lowercase(), decoded(value))))
        .collect();
    let map = header_map(pairs.clone());

    for formats in [&[Format::Jaeger][..], &Format::ALL] {
        let (incoming, _) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        let items = &incoming.baggage;
        assert!(items.len() <= MAX_BAGGAGE_ITEMS);
        assert!(items.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= MAX_BAGGAGE_BYTES);
        for item in items {
            assert!(baggage.contains(item), "{item:?} was not sent");
        }
        assert!(items.len() + incoming.baggage_dropped <= baggage.len());
        let keys: HashSet<&str> = baggage.iter().map(|(k, _)| k.as_str()).collect();
        let fits = keys.len() == baggage.len()
            && !keys.contains("")
            && baggage.len() <= MAX_BAGGAGE_ITEMS
            && baggage
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                <= MAX_BAGGAGE_BYTES;
        if fits {
            assert_eq!(incoming.baggage_dropped, 0, "dropped what fits");
            assert_eq!(items.len(), baggage.len());
        }
        check_round_trip(&incoming);
    }

    // The same baggage with a parent: it travels with it.
    let mut with_parent = pairs;
    with_parent.push((TRACE_HEADER.to_owned(), "abc:def:0:1".to_owned()));
    let (incoming, outcome) = extract_with(&header_map(with_parent), &Format::ALL);
    assert!(outcome.is_ok() && incoming.parent.is_some());
    check_round_trip(&incoming);
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(scale) = Scale::arbitrary(&mut u) else {
        return;
    };
    for lines in views(u.take_rest()) {
        check(&scale, &lines);
    }
});
