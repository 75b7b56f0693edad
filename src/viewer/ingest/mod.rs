//! The decoders behind the viewer's intake endpoints: the
//! Jaeger-collector-compatible one (`POST /_traces/api/traces`), whose body,
//! one binary-Thrift jaeger.thrift `Batch` (what a reporter configured with
//! a collector `endpoint` sends), becomes [`SpanRecord`]s, and, with the
//! `otlp` feature, the OTLP/HTTP one (`POST /_traces/v1/traces`, decoded by
//! [`otlp`], with bounds and decisions of the same kind, listed there).
//! Both apply the same [`IngestLimits`].
//!
//! What follows is the Thrift intake's.
//!
//! The body comes from the network, so the reader is bounded, whatever the
//! bytes say:
//!
//! - containers (structs, lists, sets, maps, known to the schema or not)
//!   nest at most [`MAX_DEPTH`] deep: recursion is bounded;
//! - every length and element count is checked against the bytes left
//!   before anything is read (an element takes at least one byte, an `i64`
//!   eight...), and negative ones are errors; vectors grow only as elements
//!   are actually read, never from a declared size;
//! - the decoded spans may take at most [`MAX_DECODED_BYTES`] (as the
//!   store counts them): the service name is copied into every span, and a
//!   one-byte tag becomes a `Tag` of tens of bytes;
//! - no panics, no unchecked arithmetic.
//!
//! Decisions:
//!
//! - A known field of the wrong type (say `Span.spanId` sent as an `i32`,
//!   or `Span.tags` holding `i32`s) is an **error**, not skipped as
//!   Thrift's generated decoders do: no jaeger.thrift encoder writes one,
//!   and an answer naming the field beats spans silently losing it.
//!   Fields the schema does not have, of any valid type, are skipped
//!   (`Batch.seqNo` and `Batch.stats` among them); so are the process tags,
//!   which a [`SpanRecord`] has no place for.
//! - A missing field takes its default (0, empty) rather than being an
//!   error; a missing or empty service name becomes `"unknown"`. Spans whose
//!   trace id or span id is 0 are left out, as are references of unknown
//!   type or to a zero id, and tags of unknown type.
//! - Invalid UTF-8 in strings is replaced with U+FFFD, before limits apply.
//! - The [limits](IngestLimits) are the reporter's: string values (tag and
//!   log field values, the operation name; not keys, not the service name)
//!   are cut as its encoder cuts them, logs past the limit are left out
//!   and counted in a `rocket_opentracing.dropped_logs` tag (added to the
//!   span's own one, if the sender dropped logs too).
//! - The parent is `parentSpanId` if not 0, else the first `child_of`
//!   reference within the span's trace (as Jaeger reads spans whose
//!   clients only send references).
//! - Bytes after the batch are an error.
//!
//! The [`reader`] reads binary Thrift within those bounds; [`jaeger`] maps
//! the schema's structs to [`SpanRecord`]s.

mod jaeger;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
mod reader;

#[cfg(test)]
mod testing;

use std::fmt;

use super::model::{SpanRecord, Tag, TagValue};
use crate::limits::{truncate, DROPPED_LOGS_TAG};
use reader::{type_name, Reader, MAX_DECODED_BYTES, MAX_DEPTH};

/// The service of spans whose sender names none.
const UNKNOWN_SERVICE: &str = "unknown";

/// `bytes` as text (invalid UTF-8 replaced with U+FFFD), cut to at most
/// `max` bytes on a character boundary and marked if longer, as the
/// reporter cuts values; no more of `bytes` is converted than can be kept
/// (a replacement is never shorter than the bytes it replaces).
fn limited_text(bytes: &[u8], max: usize) -> String {
    let convertible = &bytes[..bytes.len().min(max.saturating_add(4))];
    truncate(&String::from_utf8_lossy(convertible), max).into_owned()
}

/// `bytes` as lower-case hex, cut to at most `max` digits and marked if
/// longer; no more of `bytes` is converted than can be kept.
fn limited_hex(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write;
    let convertible = &bytes[..bytes.len().min(max / 2 + 1)];
    let mut hex = String::with_capacity(convertible.len() * 2);
    for byte in convertible {
        let _ = write!(hex, "{byte:02x}");
    }
    truncate(&hex, max).into_owned()
}

/// Counts `dropped` logs in `tags`: added to the first
/// `rocket_opentracing.dropped_logs` tag holding an integer (the sender's
/// own count), else in a new such tag, last. Returns the bytes a new tag
/// takes (as [`SpanRecord::approx_size`] counts them), if one was added.
fn count_dropped_logs(tags: &mut Vec<Tag>, dropped: usize) -> Option<usize> {
    if dropped == 0 {
        return None;
    }
    let count = i64::try_from(dropped).unwrap_or(i64::MAX);
    let existing = tags.iter_mut().find_map(|tag| match tag {
        Tag {
            key,
            value: TagValue::Long(n),
        } if key == DROPPED_LOGS_TAG => Some(n),
        _ => None,
    });
    match existing {
        Some(n) => {
            *n = n.saturating_add(count);
            None
        }
        None => {
            tags.push(Tag {
                key: DROPPED_LOGS_TAG.to_owned(),
                value: TagValue::Long(count),
            });
            Some(std::mem::size_of::<Tag>() + DROPPED_LOGS_TAG.len())
        }
    }
}

/// Limits applied to ingested spans, like the reporter's own
/// ([`crate::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IngestLimits {
    /// Longest string value (tag and log field values, the operation name),
    /// in bytes (at least 1); a longer one is cut on a character boundary
    /// and ends with `...[truncated]`.
    pub(crate) max_str_len: usize,
    /// Most logs kept per span; the others are counted in a
    /// `rocket_opentracing.dropped_logs` tag.
    pub(crate) max_logs: usize,
}

/// Why a body is not a jaeger.thrift `Batch`. Its message is short and
/// never quotes the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IngestError {
    /// The body is empty.
    Empty,
    /// The body ends inside the value starting at this byte.
    Truncated {
        /// Offset of the value.
        at: usize,
    },
    /// Containers nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A type id binary Thrift does not have.
    UnknownType {
        /// The type id.
        ty: u8,
        /// Its offset.
        at: usize,
    },
    /// A known field whose type is not the schema's.
    WrongType {
        /// The field, as `Struct.field`.
        field: &'static str,
        /// Its type id.
        found: u8,
        /// The schema's.
        expected: u8,
    },
    /// A known list whose elements are not of the schema's type.
    WrongElementType {
        /// The field, as `Struct.field`.
        field: &'static str,
        /// The elements' type id.
        found: u8,
        /// The schema's.
        expected: u8,
    },
    /// A negative length or element count.
    NegativeSize {
        /// Its offset.
        at: usize,
    },
    /// A length or element count larger than the rest of the body holds.
    Oversized {
        /// The length or count.
        size: usize,
        /// Its offset.
        at: usize,
        /// Bytes left after it.
        left: usize,
    },
    /// Bytes after the end of the batch.
    TrailingBytes {
        /// Offset of the first one.
        at: usize,
    },
    /// The decoded spans would take more than [`MAX_DECODED_BYTES`].
    TooLargeDecoded,
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IngestError::Empty => f.write_str("empty body"),
            IngestError::Truncated { at } => write!(f, "truncated body at byte {at}"),
            IngestError::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH}"),
            IngestError::UnknownType { ty, at } => {
                write!(f, "unknown thrift type {ty} at byte {at}")
            }
            IngestError::WrongType {
                field,
                found,
                expected,
            } => write!(
                f,
                "field {field} has type {}, expected {}",
                type_name(found),
                type_name(expected)
            ),
            IngestError::WrongElementType {
                field,
                found,
                expected,
            } => write!(
                f,
                "field {field} holds {} elements, expected {}",
                type_name(found),
                type_name(expected)
            ),
            IngestError::NegativeSize { at } => write!(f, "negative size at byte {at}"),
            IngestError::Oversized { size, at, left } => {
                write!(f, "size {size} at byte {at} exceeds the {left} bytes left")
            }
            IngestError::TrailingBytes { at } => {
                write!(f, "unexpected bytes after the batch at byte {at}")
            }
            IngestError::TooLargeDecoded => write!(
                f,
                "spans larger than {} MiB once decoded",
                MAX_DECODED_BYTES >> 20
            ),
        }
    }
}

impl std::error::Error for IngestError {}

/// Decodes a collector request body, one binary-Thrift jaeger.thrift
/// `Batch`, into the spans it holds, within `limits` (see the
/// [module documentation](self) for what is checked, left out or cut).
pub(crate) fn decode_batch(
    body: &[u8],
    limits: IngestLimits,
) -> Result<Vec<SpanRecord>, IngestError> {
    if body.is_empty() {
        return Err(IngestError::Empty);
    }
    let limits = IngestLimits {
        max_str_len: limits.max_str_len.max(1),
        ..limits
    };
    let mut reader = Reader {
        body,
        pos: 0,
        depth: 0,
        decoded: 0,
        limits,
    };
    let spans = reader.batch()?;
    if reader.pos < body.len() {
        return Err(IngestError::TrailingBytes { at: reader.pos });
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use testing::{check_message, check_within, mutate, valid_body, LIMITS, TIGHT};

    #[test]
    fn an_empty_body_is_an_error() {
        let err = decode_batch(&[], LIMITS).unwrap_err();
        assert_eq!(err, IngestError::Empty);
        assert_eq!(err.to_string(), "empty body");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut body = valid_body().to_vec();
        let end = body.len();
        body.push(0);
        let err = decode_batch(&body, LIMITS).unwrap_err();
        assert_eq!(err, IngestError::TrailingBytes { at: end });
        check_message(&err);
    }

    // ---------------------------------------------------------------
    // Properties.

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..2048)) {
            for limits in [LIMITS, TIGHT] {
                match decode_batch(&body, limits) {
                    Ok(spans) => check_within(&spans, limits),
                    Err(err) => check_message(&err),
                }
            }
        }

        #[test]
        fn mutated_bodies_never_panic(
            edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 1..8),
            cut in any::<Index>(),
        ) {
            let mut body = valid_body().to_vec();
            mutate(&mut body, &edits);
            let len = cut.index(body.len() + 1);
            for body in [&body[..], &body[..len]] {
                for limits in [LIMITS, TIGHT] {
                    match decode_batch(body, limits) {
                        Ok(spans) => check_within(&spans, limits),
                        Err(err) => check_message(&err),
                    }
                }
            }
        }
    }
}
