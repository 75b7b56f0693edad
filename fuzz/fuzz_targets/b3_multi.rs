//! The multi-header B3 headers (`X-B3-TraceId`, `-SpanId`, `-ParentSpanId`,
//! `-Sampled`, `-Flags`): the input is `name: value` lines (any names, any
//! case, repeated or not); invalid UTF-8 is both replaced and skipped.
//!
//! Checks: no panic; when `parse_multi` (given the first value of each
//! header) gives a parent, its ids were 16 (trace id: or 32) lower-case hex
//! digits and are not zero; `extract_with` agrees with `parse_multi`, keeps
//! the invariants of every extraction and round-trips through `inject` in
//! every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::propagation::b3::{
    parse_multi, FLAGS_HEADER, PARENT_SPAN_ID_HEADER, SAMPLED_HEADER, SPAN_ID_HEADER,
    TRACE_ID_HEADER,
};
use rocket_opentracing::propagation::{extract_with, Format};
use rocket_opentracing_fuzz::{
    check_context, check_incoming, check_round_trip, header_lines, header_map, views,
};

fn lower_hex(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check(input: &str) {
    let map = header_map(header_lines(input));
    let [trace, span, parent, sampled, flags] = [
        TRACE_ID_HEADER,
        SPAN_ID_HEADER,
        PARENT_SPAN_ID_HEADER,
        SAMPLED_HEADER,
        FLAGS_HEADER,
    ]
    .map(|name| map.get_one(name));
    let parsed = parse_multi(trace, span, parent, sampled, flags);
    if let Ok(found) = &parsed {
        if let Some(context) = &found.parent {
            check_context(context);
            let (trace, span) = (trace.unwrap_or_default(), span.unwrap_or_default());
            assert!(lower_hex(trace.trim(), &[16, 32]), "{trace:?}");
            assert!(lower_hex(span.trim(), &[16]), "{span:?}");
            if let Some(parent) = parent {
                assert!(lower_hex(parent.trim(), &[16]), "{parent:?}");
            }
        }
    }
    let absent = [trace, span, parent, sampled, flags]
        .iter()
        .all(Option::is_none);

    for formats in [&[Format::B3][..], &Format::ALL] {
        let (incoming, outcome) = extract_with(&map, formats);
        check_incoming(&incoming, formats);
        if formats.len() == 1 {
            match &parsed {
                _ if absent => assert_eq!((incoming.format, outcome), (None, Ok(()))),
                Ok(found) => {
                    assert_eq!(outcome, Ok(()));
                    assert_eq!(incoming.format, Some(Format::B3));
                    assert_eq!(incoming.parent, found.parent);
                    assert_eq!(incoming.sampling, found.sampling);
                }
                Err(why) => assert_eq!((incoming.format, outcome), (None, Err(*why))),
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
