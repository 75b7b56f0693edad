//! Baggage: `uberctx-<key>: <value>` headers (Jaeger's), bounded.
//!
//! A request's baggage holds at most [`MAX_BAGGAGE_ITEMS`] items and
//! [`MAX_BAGGAGE_BYTES`] bytes (keys plus values), whether the items come
//! from the caller's headers or from
//! [`ActiveSpan::set_baggage_item`](crate::ActiveSpan::set_baggage_item).
//! An item that does not fit is dropped (an item already there keeps its
//! value) and counted: the request span gets a `baggage.dropped` tag with
//! the number, and one log line per request says so.
//!
//! Keys are lower-cased; values are percent-decoded on the way in and
//! percent-encoded on the way out.

use rocket::http::HeaderMap;

/// The prefix of the headers carrying baggage items (`uberctx-<key>: <value>`).
pub const BAGGAGE_HEADER_PREFIX: &str = "uberctx-";

/// The most baggage items a request carries.
pub const MAX_BAGGAGE_ITEMS: usize = 64;
/// The most bytes (keys plus values) of baggage a request carries.
pub const MAX_BAGGAGE_BYTES: usize = 8 * 1024;

/// Sets `key` (lower-cased) to `value` in `items` if the result stays within
/// the bounds; returns whether it did. An empty key is refused. Replacing an
/// item counts its new size instead of its old one.
pub(crate) fn set(items: &mut Vec<(String, String)>, key: &str, value: &str) -> bool {
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
    if count > MAX_BAGGAGE_ITEMS || bytes + key.len() + value.len() > MAX_BAGGAGE_BYTES {
        return false;
    }
    match existing.and_then(|i| items.get_mut(i)) {
        Some((_, v)) => *v = value.to_owned(),
        None => items.push((key, value.to_owned())),
    }
    true
}

/// Reads the `uberctx-*` headers: the items kept and the number dropped
/// (over the bounds, or with an empty key). A key sent twice keeps its last
/// value that fits.
pub(crate) fn extract(headers: &HeaderMap<'_>) -> (Vec<(String, String)>, usize) {
    let mut items = Vec::new();
    let mut dropped = 0;
    for header in headers.iter() {
        let Some(key) = strip_prefix_ignore_case(header.name().as_str(), BAGGAGE_HEADER_PREFIX)
        else {
            continue;
        };
        let value = percent_encoding::percent_decode_str(header.value()).decode_utf8_lossy();
        if !set(&mut items, key, &value) {
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

    #[test]
    fn set_is_bounded_by_count() {
        let mut items = Vec::new();
        for i in 0..MAX_BAGGAGE_ITEMS {
            assert!(set(&mut items, &format!("k{i}"), "v"));
        }
        assert!(!set(&mut items, "one-more", "v"));
        assert_eq!(items.len(), MAX_BAGGAGE_ITEMS);
        // Replacing an item does not add one.
        assert!(set(&mut items, "K0", "new"));
        assert_eq!(items.len(), MAX_BAGGAGE_ITEMS);
        assert_eq!(items[0], ("k0".into(), "new".into()));
    }

    #[test]
    fn set_is_bounded_by_size() {
        let mut items = Vec::new();
        let big = "x".repeat(MAX_BAGGAGE_BYTES - 1);
        assert!(set(&mut items, "a", &big), "exactly the limit");
        assert!(!set(&mut items, "b", ""), "one byte over");
        // A replacement counts its new size, not both.
        assert!(set(&mut items, "a", &big));
        assert!(!set(&mut items, "a", &format!("{big}y")));
        assert_eq!(items, vec![("a".into(), big.clone())], "old value kept");
        assert!(set(&mut items, "a", "small"));
        assert!(set(&mut items, "b", "fits now"));
        assert!(!set(&mut items, "", "empty key"));
    }

    #[test]
    fn extract_counts_what_it_drops_and_keeps_what_fits_later() {
        let mut headers = HeaderMap::new();
        headers.add_raw("uberctx-huge", "x".repeat(MAX_BAGGAGE_BYTES + 1));
        headers.add_raw("Uberctx-User", "alice%20smith");
        headers.add_raw("uberctx-", "empty key");
        headers.add_raw("other", "ignored");
        let (items, dropped) = extract(&headers);
        assert_eq!(items, vec![("user".into(), "alice smith".into())]);
        assert_eq!(dropped, 2);

        let mut many = HeaderMap::new();
        for i in 0..(MAX_BAGGAGE_ITEMS + 10) {
            many.add_raw(format!("uberctx-k{i}"), "v");
        }
        let (items, dropped) = extract(&many);
        assert_eq!(items.len(), MAX_BAGGAGE_ITEMS);
        assert_eq!(dropped, 10);
    }

    #[test]
    fn injects_percent_encoded_values() {
        let mut out = Vec::new();
        inject(&[("user".into(), "a b,c".into())], &mut out);
        assert_eq!(out, vec![("uberctx-user".into(), "a%20b%2Cc".into())]);
    }
}
