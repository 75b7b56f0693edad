//! How much of a span to leave out, whatever the wire: the configured
//! [limits](crate::Limits), and more so that an oversized span fits in a
//! batch (first its logs go, then long strings are cut).

use crate::record::Record;

/// Length (in bytes) string values are cut to when trimming.
pub(crate) const TRIMMED_STRING_LEN: usize = 1024;

/// How much of a span to leave out: the configured [limits](crate::Limits),
/// and more so that an oversized span fits in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    /// Most logs encoded; the others are counted in a [`DROPPED_LOGS_TAG`](crate::limits::DROPPED_LOGS_TAG)
    /// tag.
    pub(crate) max_logs: usize,
    /// Cut string values (tags, log fields, the operation name) to this
    /// many bytes.
    pub(crate) max_str_len: Option<usize>,
}

impl Trim {
    /// Encode the span as it is.
    pub(crate) const NONE: Trim = Trim {
        max_logs: usize::MAX,
        max_str_len: None,
    };

    /// The configured limits: string values of at most `max_str_len` bytes
    /// (at least 1), at most `max_logs` logs.
    pub(crate) fn limits(max_str_len: usize, max_logs: usize) -> Trim {
        Trim {
            max_logs,
            max_str_len: Some(max_str_len.max(1)),
        }
    }

    /// These limits, and no logs.
    pub(crate) fn without_logs(self) -> Trim {
        Trim {
            max_logs: 0,
            ..self
        }
    }

    /// No logs, and strings cut to [`TRIMMED_STRING_LEN`] bytes (or less).
    pub(crate) fn truncated(self) -> Trim {
        let max = self
            .max_str_len
            .map_or(TRIMMED_STRING_LEN, |max| max.min(TRIMMED_STRING_LEN));
        Trim {
            max_logs: 0,
            max_str_len: Some(max),
        }
    }
}

/// The outcome of encoding a span within a size bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The span was encoded as it is.
    Whole,
    /// The span was trimmed to fit.
    Trimmed,
    /// The span does not fit even when trimmed; `buf` is empty.
    TooLarge,
}

/// Encodes `span` with `encode` into `buf` within `limits`, using at most
/// `max_len` bytes, trimming it if needed: first its logs are dropped, then
/// long strings are truncated. `encode` clears `buf` first.
pub(crate) fn fit_within(
    buf: &mut Vec<u8>,
    span: &Record,
    max_len: usize,
    limits: Trim,
    mut encode: impl FnMut(&mut Vec<u8>, Trim),
) -> Fit {
    encode(buf, limits);
    if buf.len() <= max_len {
        return Fit::Whole;
    }
    if limits.max_logs > 0 && !span.logs().is_empty() {
        encode(buf, limits.without_logs());
        if buf.len() <= max_len {
            return Fit::Trimmed;
        }
    }
    encode(buf, limits.truncated());
    if buf.len() <= max_len {
        return Fit::Trimmed;
    }
    buf.clear();
    Fit::TooLarge
}
