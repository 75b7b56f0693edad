//! The decoder behind the viewer's Jaeger-collector-compatible endpoint
//! (`POST /_traces/api/traces`): the body, one binary-Thrift jaeger.thrift
//! `Batch` (what a reporter configured with a collector `endpoint` sends),
//! becomes [`SpanRecord`]s.
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
mod reader;

#[cfg(test)]
mod testing;

use std::fmt;

use super::model::SpanRecord;
use reader::{type_name, Reader, MAX_DECODED_BYTES, MAX_DEPTH};

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
