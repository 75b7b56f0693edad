//! Limits on what a span may carry, and what is done past them: the bounds
//! and their defaults, the truncation of long values and its marker, and
//! the tags counting what was left out. Every part of the crate that cuts a
//! value or counts a dropped item calls this module.

use std::borrow::Cow;

/// Default of [`Limits::max_baggage_items`].
pub(crate) const DEFAULT_MAX_BAGGAGE_ITEMS: usize = 64;
/// Default of [`Limits::max_baggage_bytes`].
pub(crate) const DEFAULT_MAX_BAGGAGE_BYTES: usize = 8 * 1024;
/// Default of [`Limits::max_tag_value_length`], in bytes.
pub(crate) const DEFAULT_MAX_TAG_VALUE_LENGTH: usize = 4096;
/// Default of [`Limits::max_logs_per_span`].
pub(crate) const DEFAULT_MAX_LOGS_PER_SPAN: usize = 128;
/// Default of [`Limits::max_traced_headers`].
pub(crate) const DEFAULT_MAX_TRACED_HEADERS: usize = 32;

/// Most `follows_from` references a `tracing` span records (later ones are
/// not recorded).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) const MAX_FOLLOWS_FROM: usize = 128;

/// What ends a value cut to a length limit.
pub(crate) const TRUNCATION_MARKER: &str = "...[truncated]";

/// The tag counting the logs of a span left out ([`Limits::max_logs_per_span`]).
pub(crate) const DROPPED_LOGS_TAG: &str = "rocket_opentracing.dropped_logs";
/// The tag counting the headers of the `headers` attribute left out
/// ([`Limits::max_traced_headers`]).
pub(crate) const DROPPED_HEADERS_TAG: &str = "rocket_opentracing.dropped_headers";
/// The tag counting the baggage items dropped during a request
/// ([`Limits::max_baggage_items`], [`Limits::max_baggage_bytes`]).
pub(crate) const BAGGAGE_DROPPED_TAG: &str = "baggage.dropped";

/// The limits on what a span carries, so that no caller (and no runaway
/// handler) can make a span, a request's memory or the tracing backend grow
/// without bound.
///
/// | limit | default | what happens past it |
/// | --- | --- | --- |
/// | `max_baggage_items` | 64 | the item is dropped, counted in the `baggage.dropped` tag |
/// | `max_baggage_bytes` | 8,192 | the same (keys plus values, per request) |
/// | `max_tag_value_length` | 4,096 | the value is cut (on a character boundary) and ends with `...[truncated]` |
/// | `max_logs_per_span` | 128 | later logs are left out; the `rocket_opentracing.dropped_logs` tag counts them |
/// | `max_traced_headers` | 32 | later headers of the `headers` attribute are left out; the `rocket_opentracing.dropped_headers` tag counts them |
///
/// Each is a key of the `[default.opentracing]` section
/// ([`Config`](crate::Config)).
///
/// Baggage limits apply to the caller's `uberctx-*` headers and to
/// [`ActiveSpan::set_baggage_item`](crate::ActiveSpan::set_baggage_item)
/// together. Traced headers are counted when the request span starts. Tag
/// values (and the operation name and log field values) and logs per span
/// are limited by the [`Reporter`](crate::Reporter) as it encodes each span,
/// whichever way the span was made (request span, child span, `with_span`,
/// callback); with a tracer whose spans go to a reporter of your own, that
/// reporter's limits apply instead. The `error` log of a 5xx response is
/// the request span's last log, so it is the first left out: the `error`
/// tag still says the request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most baggage items of a request (0: no baggage).
    pub max_baggage_items: usize,
    /// Most bytes of baggage keys and values of a request (0: no baggage).
    pub max_baggage_bytes: usize,
    /// Longest string tag value, log field value or operation name, in
    /// bytes (at least 1); a longer one is cut and marked.
    pub max_tag_value_length: usize,
    /// Most logs reported per span (0: none).
    pub max_logs_per_span: usize,
    /// Most headers recorded by the `headers` traced attribute.
    pub max_traced_headers: usize,
}

impl Limits {
    /// The default limits (the table above).
    pub const DEFAULT: Limits = Limits {
        max_baggage_items: DEFAULT_MAX_BAGGAGE_ITEMS,
        max_baggage_bytes: DEFAULT_MAX_BAGGAGE_BYTES,
        max_tag_value_length: DEFAULT_MAX_TAG_VALUE_LENGTH,
        max_logs_per_span: DEFAULT_MAX_LOGS_PER_SPAN,
        max_traced_headers: DEFAULT_MAX_TRACED_HEADERS,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The largest char boundary of `s` that is `<= index`.
pub(crate) fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where `s` is cut to stay within `max` bytes (on a char boundary), or
/// `None` when it fits. A cut value is followed by [`TRUNCATION_MARKER`].
#[inline]
pub(crate) fn cut_point(s: &str, max: usize) -> Option<usize> {
    (s.len() > max).then(|| floor_char_boundary(s, max))
}

/// `s` within `max` bytes: as it is when it fits, else cut (on a char
/// boundary) and followed by [`TRUNCATION_MARKER`].
#[cfg_attr(not(any(feature = "viewer", feature = "tracing")), allow(dead_code))]
pub(crate) fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match cut_point(s, max) {
        None => Cow::Borrowed(s),
        Some(cut) => {
            let mut out = String::with_capacity(cut + TRUNCATION_MARKER.len());
            out.push_str(&s[..cut]);
            out.push_str(TRUNCATION_MARKER);
            Cow::Owned(out)
        }
    }
}

/// The logs of a span kept within `max_logs`, and how many were left out
/// (the count a [`DROPPED_LOGS_TAG`] tag reports).
pub(crate) fn kept_logs<T>(logs: &[T], max_logs: usize) -> (&[T], usize) {
    let kept = &logs[..logs.len().min(max_logs)];
    (kept, logs.len() - kept.len())
}

/// A count of dropped items as a tag value.
pub(crate) fn count_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_on_a_char_boundary_and_marks() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello!", 5), format!("hello{TRUNCATION_MARKER}"));
        // 'é' is two bytes: a cut inside it moves back to its start.
        assert_eq!(truncate("aé", 2), format!("a{TRUNCATION_MARKER}"));
        assert_eq!(cut_point("aé", 3), None);
        assert_eq!(cut_point("aéb", 2), Some(1));
    }

    #[test]
    fn logs_kept_within_the_limit_and_the_rest_counted() {
        assert_eq!(kept_logs(&[1, 2, 3], 2), (&[1, 2][..], 1));
        assert_eq!(kept_logs(&[1, 2, 3], 5), (&[1, 2, 3][..], 0));
        assert_eq!(count_value(usize::MAX), i64::MAX);
    }
}
