//! Baggage: `uberctx-<key>: <value>` headers (Jaeger's), bounded.
//!
//! A request's baggage holds at most `max_baggage_items` items and
//! `max_baggage_bytes` bytes (keys plus values; see [`Limits`]), whether the items come from the caller's headers or from
//! [`ActiveSpan::set_baggage_item`](crate::ActiveSpan::set_baggage_item).
//! An item that does not fit is dropped (an item already there keeps its
//! value) and counted: the request span gets a `baggage.dropped` tag with
//! the number, and one log line per request says so.
//!
//! Keys are lower-cased; values are percent-decoded on the way in and
//! percent-encoded on the way out.

use rocket::http::HeaderMap;

use crate::limits::Limits;

/// The prefix of the headers carrying baggage items (`uberctx-<key>: <value>`).
pub const BAGGAGE_HEADER_PREFIX: &str = "uberctx-";

/// Sets `key` (lower-cased) to `value` in `items` if the result stays within
/// the baggage `limits`; returns whether it did. An empty key is refused.
/// Replacing an item counts its new size instead of its old one.
pub(crate) fn set(
    items: &mut Vec<(String, String)>,
    key: &str,
    value: &str,
    limits: &Limits,
) -> bool {
    if key.is_empty() {
        return false;
    }
    let key = key.to_ascii_lowercase();
    let existing = items.iter().position(|(k, _)| *k == key);
    let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    let (count, bytes) = match existing.and_then(|i| items.get(i)) {
        Some((k, v)) => (items.len(), bytes.saturating_sub(k.len() + v.len())),
        None => (items.len() + 1, bytes),
    };
    if count > limits.max_baggage_items
        || bytes + key.len() + value.len() > limits.max_baggage_bytes
    {
        return false;
    }
    match existing.and_then(|i| items.get_mut(i)) {
        Some((_, v)) => *v = value.to_owned(),
        None => items.push((key, value.to_owned())),
    }
    true
}

/// Reads the `uberctx-*` headers: the items kept and the number dropped
/// (over the `limits`, or with an empty key). A key sent twice keeps its
/// last value that fits.
pub(crate) fn extract(headers: &HeaderMap<'_>, limits: &Limits) -> (Vec<(String, String)>, usize) {
    let mut items = Vec::new();
    let mut dropped = 0;
    for header in headers.iter() {
        let Some(key) = strip_prefix_ignore_case(header.name().as_str(), BAGGAGE_HEADER_PREFIX)
        else {
            continue;
        };
        let value = percent_encoding::percent_decode_str(header.value()).decode_utf8_lossy();
        if !set(&mut items, key, &value, limits) {
            dropped += 1;
        }
    }
    (items, dropped)
}

/// The `uberctx-<key>` headers for `items` (values percent-encoded).
pub(crate) fn inject(items: &[(String, String)], out: &mut Vec<(String, String)>) {
    for (key, value) in items {
        let value = percent_encoding::utf8_percent_encode(value, BAGGAGE_VALUE).to_string();
        out.push((format!("{BAGGAGE_HEADER_PREFIX}{key}"), value));
    }
}

pub(super) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    s.get(prefix.len()..)
}

/// Characters escaped in baggage values: controls, space and the characters
/// that are not safe in a header value or that Jaeger clients escape.
const BAGGAGE_VALUE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'%')
    .add(b',')
    .add(b';')
    .add(b'=');

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Limits = Limits::DEFAULT;

    #[test]
    fn set_is_bounded_by_count() {
        let mut items = Vec::new();
        for i in 0..Limits::DEFAULT.max_baggage_items {
            assert!(set(&mut items, &format!("k{i}"), "v", &DEFAULT));
        }
        assert!(!set(&mut items, "one-more", "v", &DEFAULT));
        assert_eq!(items.len(), Limits::DEFAULT.max_baggage_items);
        // Replacing an item does not add one.
        assert!(set(&mut items, "K0", "new", &DEFAULT));
        assert_eq!(items.len(), Limits::DEFAULT.max_baggage_items);
        assert_eq!(items[0], ("k0".into(), "new".into()));
    }

    #[test]
    fn set_is_bounded_by_size() {
        let mut items = Vec::new();
        let big = "x".repeat(Limits::DEFAULT.max_baggage_bytes - 1);
        assert!(set(&mut items, "a", &big, &DEFAULT), "exactly the limit");
        assert!(!set(&mut items, "b", "", &DEFAULT), "one byte over");
        // A replacement counts its new size, not both.
        assert!(set(&mut items, "a", &big, &DEFAULT));
        assert!(!set(&mut items, "a", &format!("{big}y"), &DEFAULT));
        assert_eq!(items, vec![("a".into(), big.clone())], "old value kept");
        assert!(set(&mut items, "a", "small", &DEFAULT));
        assert!(set(&mut items, "b", "fits now", &DEFAULT));
        assert!(!set(&mut items, "", "empty key", &DEFAULT));
    }

    #[test]
    fn extract_counts_what_it_drops_and_keeps_what_fits_later() {
        let mut headers = HeaderMap::new();
        headers.add_raw(
            "uberctx-huge",
            "x".repeat(Limits::DEFAULT.max_baggage_bytes + 1),
        );
        headers.add_raw("Uberctx-User", "alice%20smith");
        headers.add_raw("uberctx-", "empty key");
        headers.add_raw("other", "ignored");
        let (items, dropped) = extract(&headers, &DEFAULT);
        assert_eq!(items, vec![("user".into(), "alice smith".into())]);
        assert_eq!(dropped, 2);

        let mut many = HeaderMap::new();
        for i in 0..(Limits::DEFAULT.max_baggage_items + 10) {
            many.add_raw(format!("uberctx-k{i}"), "v");
        }
        let (items, dropped) = extract(&many, &DEFAULT);
        assert_eq!(items.len(), Limits::DEFAULT.max_baggage_items);
        assert_eq!(dropped, 10);
    }

    #[test]
    fn configured_limits_apply_at_their_boundaries() {
        let limits = Limits {
            max_baggage_items: 2,
            max_baggage_bytes: 10,
            ..DEFAULT
        };
        let mut items = Vec::new();
        assert!(set(&mut items, "a", "1234", &limits), "5 bytes");
        assert!(set(&mut items, "b", "1234", &limits), "10 bytes: the limit");
        assert!(!set(&mut items, "c", "", &limits), "a third item");
        assert!(!set(&mut items, "b", "12345", &limits), "11 bytes");
        assert!(set(&mut items, "b", "123", &limits));

        let mut headers = HeaderMap::new();
        for (name, value) in [("uberctx-a", "1"), ("uberctx-b", "2"), ("uberctx-c", "3")] {
            headers.add_raw(name, value);
        }
        let (items, dropped) = extract(&headers, &limits);
        assert_eq!(items.len(), 2);
        assert_eq!(dropped, 1);

        // Zero: no baggage at all.
        let none = Limits {
            max_baggage_items: 0,
            ..DEFAULT
        };
        assert_eq!(extract(&headers, &none), (Vec::new(), 3));
        assert!(!set(&mut Vec::new(), "a", "1", &none));
        let no_bytes = Limits {
            max_baggage_bytes: 0,
            ..DEFAULT
        };
        assert_eq!(extract(&headers, &no_bytes), (Vec::new(), 3));
    }

    #[test]
    fn injects_percent_encoded_values() {
        let mut out = Vec::new();
        inject(&[("user".into(), "a b,c".into())], &mut out);
        assert_eq!(out, vec![("uberctx-user".into(), "a%20b%2Cc".into())]);
    }
}
