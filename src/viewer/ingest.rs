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

use std::fmt;

use super::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue, TraceId};
use crate::reporter::thrift::{floor_char_boundary, DROPPED_LOGS_TAG, TRUNCATION_MARKER};

/// Deepest nesting of structs, lists, sets and maps accepted (a span's log
/// fields are 7 deep).
pub(crate) const MAX_DEPTH: usize = 32;

/// Most bytes the spans of one batch may take once decoded (as
/// [`SpanRecord::approx_size`] counts them).
pub(crate) const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

/// The service of spans whose process has no name.
const UNKNOWN_SERVICE: &str = "unknown";

// Binary-Thrift type ids.
const T_STOP: u8 = 0;
const T_BOOL: u8 = 2;
const T_BYTE: u8 = 3;
const T_DOUBLE: u8 = 4;
const T_I16: u8 = 6;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_SET: u8 = 14;
const T_LIST: u8 = 15;
const T_UUID: u8 = 16;

// jaeger.thrift `TagType` values.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;
const TAG_BINARY: i32 = 4;

// jaeger.thrift `SpanRefType` values.
const REF_CHILD_OF: i32 = 0;
const REF_FOLLOWS_FROM: i32 = 1;

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

/// [`decode_batch`] for the fuzz targets (`fuzz/fuzz_targets/ingest.rs`),
/// which reach it through a hidden re-export at the crate root: the spans,
/// or the error's message. Not part of the API.
#[doc(hidden)]
pub fn fuzz_decode_batch(
    body: &[u8],
    max_str_len: usize,
    max_logs: usize,
) -> Result<Vec<SpanRecord>, String> {
    let limits = IngestLimits {
        max_str_len,
        max_logs,
    };
    decode_batch(body, limits).map_err(|e| e.to_string())
}

/// A type id's name in the Thrift IDL, for error messages.
fn type_name(ty: u8) -> &'static str {
    match ty {
        T_BOOL => "bool",
        T_BYTE => "byte",
        T_DOUBLE => "double",
        T_I16 => "i16",
        T_I32 => "i32",
        T_I64 => "i64",
        T_STRING => "string",
        T_STRUCT => "struct",
        T_MAP => "map",
        T_SET => "set",
        T_LIST => "list",
        T_UUID => "uuid",
        _ => "unknown",
    }
}

/// The fewest bytes a value of type `ty` takes; `None` for an unknown type.
fn min_len(ty: u8) -> Option<usize> {
    Some(match ty {
        T_BOOL | T_BYTE => 1,
        T_I16 => 2,
        T_I32 | T_STRING => 4,
        T_I64 | T_DOUBLE => 8,
        T_UUID => 16,
        T_STRUCT => 1,
        T_SET | T_LIST => 5,
        T_MAP => 6,
        _ => return None,
    })
}

/// Whether every value of type `ty` takes exactly [`min_len`] bytes.
fn is_fixed(ty: u8) -> bool {
    matches!(
        ty,
        T_BOOL | T_BYTE | T_I16 | T_I32 | T_I64 | T_DOUBLE | T_UUID
    )
}

/// The 128-bit trace id of jaeger.thrift's two signed halves.
fn trace_id(high: i64, low: i64) -> TraceId {
    (u128::from(high as u64) << 64) | u128::from(low as u64)
}

/// `bytes` as text (invalid UTF-8 replaced with U+FFFD), cut to at most
/// `max` bytes on a character boundary and marked if longer: what
/// `String::from_utf8_lossy` then the reporter's `write_str_limited` give,
/// without converting more than is kept.
fn limited_text(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        let replaced = if chunk.invalid().is_empty() {
            ""
        } else {
            "\u{FFFD}"
        };
        for piece in [chunk.valid(), replaced] {
            let room = max.saturating_sub(out.len());
            if piece.len() > room {
                out.push_str(&piece[..floor_char_boundary(piece, room)]);
                out.push_str(TRUNCATION_MARKER);
                return out;
            }
            out.push_str(piece);
        }
    }
    out
}

/// `bytes` as lower-case hex, cut to at most `max` digits and marked if
/// longer.
fn limited_hex(bytes: &[u8], max: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let kept = &bytes[..bytes.len().min(max.div_ceil(2))];
    let mut out = String::with_capacity(kept.len() * 2 + TRUNCATION_MARKER.len());
    for byte in kept {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    if bytes.len().saturating_mul(2) > max {
        out.truncate(max);
        out.push_str(TRUNCATION_MARKER);
    }
    out
}

/// The fields of a jaeger.thrift `Tag`, as read.
#[derive(Default)]
struct RawTag<'a> {
    key: &'a [u8],
    kind: Option<i32>,
    string: &'a [u8],
    double: f64,
    boolean: bool,
    long: i64,
    binary: &'a [u8],
}

type Result<T, E = IngestError> = std::result::Result<T, E>;

/// A bounded reader of one binary-Thrift `Batch`.
struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
    /// Containers entered and not left.
    depth: usize,
    /// Bytes the decoded spans take so far, counted as
    /// [`SpanRecord::approx_size`] does.
    decoded: usize,
    limits: IngestLimits,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.body.len().saturating_sub(self.pos)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let at = self.pos;
        let bytes = at
            .checked_add(len)
            .and_then(|end| self.body.get(at..end))
            .ok_or(IngestError::Truncated { at })?;
        self.pos += len;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| IngestError::Truncated { at })
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Counts `bytes` more of decoded spans against [`MAX_DECODED_BYTES`].
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > MAX_DECODED_BYTES {
            return Err(IngestError::TooLargeDecoded);
        }
        Ok(())
    }

    /// Reads a length or element count (an `i32`), checking that the bytes
    /// left can hold that many items of `item_len()` bytes (not asked for
    /// a count of 0).
    fn size(&mut self, item_len: impl FnOnce() -> Result<usize>) -> Result<usize> {
        let at = self.pos;
        let size = usize::try_from(self.i32()?).map_err(|_| IngestError::NegativeSize { at })?;
        if size > 0 {
            let left = self.left();
            if size.checked_mul(item_len()?).is_none_or(|len| len > left) {
                return Err(IngestError::Oversized { size, at, left });
            }
        }
        Ok(size)
    }

    /// A type id that must be known, read at `at`.
    fn known(ty: u8, at: usize) -> Result<usize> {
        min_len(ty).ok_or(IngestError::UnknownType { ty, at })
    }

    /// Reads a list or set header: the element type (which may be anything
    /// when the list is empty) and the count.
    fn list_header(&mut self) -> Result<(u8, usize)> {
        let at = self.pos;
        let elem = self.byte()?;
        let count = self.size(|| Self::known(elem, at))?;
        Ok((elem, count))
    }

    /// Reads a string or binary value.
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.size(|| Ok(1))?;
        self.take(len)
    }

    /// Runs `read` one container deeper.
    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            return Err(IngestError::TooDeep);
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    /// Reads a field header: `None` at the end of a struct.
    fn field_header(&mut self) -> Result<Option<(u8, i16)>> {
        let at = self.pos;
        let ty = self.byte()?;
        if ty == T_STOP {
            return Ok(None);
        }
        Self::known(ty, at)?;
        Ok(Some((ty, self.i16()?)))
    }

    /// Skips a value of type `ty`, whatever it holds (within the bounds).
    fn skip(&mut self, ty: u8) -> Result<()> {
        match ty {
            T_STRING => self.bytes().map(|_| ()),
            T_STRUCT => self.read_struct(|r, ty, _| r.skip(ty)),
            T_LIST | T_SET => self.nested(|r| {
                let (elem, count) = r.list_header()?;
                r.skip_many(elem, count)
            }),
            T_MAP => self.nested(|r| {
                let at = r.pos;
                let [key, value] = r.array()?;
                let count = r.size(|| Ok(Self::known(key, at)? + Self::known(value, at + 1)?))?;
                for _ in 0..count {
                    r.skip(key)?;
                    r.skip(value)?;
                }
                Ok(())
            }),
            _ => {
                let len = Self::known(ty, self.pos)?;
                self.take(len).map(|_| ())
            }
        }
    }

    /// Skips `count` values of type `ty` (a count [`Reader::size`] checked).
    fn skip_many(&mut self, ty: u8, count: usize) -> Result<()> {
        if is_fixed(ty) {
            let len = count.saturating_mul(Self::known(ty, self.pos)?);
            return self.take(len).map(|_| ());
        }
        for _ in 0..count {
            self.skip(ty)?;
        }
        Ok(())
    }

    /// Reads a struct one container deeper, handing each field's type and
    /// id to `field`, which reads or skips its value.
    fn read_struct(
        &mut self,
        mut field: impl FnMut(&mut Self, u8, i16) -> Result<()>,
    ) -> Result<()> {
        self.nested(|r| {
            while let Some((ty, id)) = r.field_header()? {
                field(r, ty, id)?;
            }
            Ok(())
        })
    }

    /// Checks that the known field `field` has the schema's type.
    fn expect(field: &'static str, found: u8, expected: u8) -> Result<()> {
        if found == expected {
            return Ok(());
        }
        Err(IngestError::WrongType {
            field,
            found,
            expected,
        })
    }

    fn read_i32(&mut self, ty: u8, field: &'static str) -> Result<i32> {
        Self::expect(field, ty, T_I32)?;
        self.i32()
    }

    fn read_i64(&mut self, ty: u8, field: &'static str) -> Result<i64> {
        Self::expect(field, ty, T_I64)?;
        self.i64()
    }

    fn read_bytes(&mut self, ty: u8, field: &'static str) -> Result<&'a [u8]> {
        Self::expect(field, ty, T_STRING)?;
        self.bytes()
    }

    /// Reads the known field `field`, a list of structs, one container
    /// deeper, calling `element` with the index of each.
    fn read_list(
        &mut self,
        ty: u8,
        field: &'static str,
        mut element: impl FnMut(&mut Self, usize) -> Result<()>,
    ) -> Result<()> {
        Self::expect(field, ty, T_LIST)?;
        self.nested(|r| {
            let (elem, count) = r.list_header()?;
            if count > 0 && elem != T_STRUCT {
                return Err(IngestError::WrongElementType {
                    field,
                    found: elem,
                    expected: T_STRUCT,
                });
            }
            (0..count).try_for_each(|i| element(r, i))
        })
    }

    /// Reads the `Batch` struct.
    fn batch(&mut self) -> Result<Vec<SpanRecord>> {
        let mut service = None;
        let mut spans = Vec::new();
        self.read_struct(|r, ty, id| match id {
            1 => {
                Self::expect("Batch.process", ty, T_STRUCT)?;
                service = r.process()?;
                Ok(())
            }
            2 => {
                spans.clear();
                r.read_list(ty, "Batch.spans", |r, _| {
                    spans.extend(r.span()?);
                    Ok(())
                })
            }
            _ => r.skip(ty),
        })?;
        // The process may come after the spans.
        let service = service
            .filter(|name: &String| !name.is_empty())
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
        for span in &mut spans {
            self.charge(service.len())?;
            span.service.clone_from(&service);
        }
        Ok(spans)
    }

    /// Reads a `Process` struct: its service name, if it has one.
    fn process(&mut self) -> Result<Option<String>> {
        let mut name = None;
        self.read_struct(|r, ty, id| match id {
            1 => {
                let bytes = r.read_bytes(ty, "Process.serviceName")?;
                name = Some(String::from_utf8_lossy(bytes).into_owned());
                Ok(())
            }
            2 => r.read_list(ty, "Process.tags", |r, _| r.skip(T_STRUCT)),
            _ => r.skip(ty),
        })?;
        Ok(name)
    }

    /// Reads a `Span` struct: `None` if its trace or span id is 0.
    fn span(&mut self) -> Result<Option<SpanRecord>> {
        let (mut low, mut high, mut span_id, mut parent) = (0, 0, 0, 0);
        let (mut start_us, mut duration_us) = (0, 0);
        let mut operation = String::new();
        let mut references = Vec::new();
        let mut tags = Vec::new();
        let mut logs = Vec::new();
        let mut dropped_logs = 0usize;
        let max_logs = self.limits.max_logs;
        self.read_struct(|r, ty, id| {
            match id {
                1 => low = r.read_i64(ty, "Span.traceIdLow")?,
                2 => high = r.read_i64(ty, "Span.traceIdHigh")?,
                3 => span_id = r.read_i64(ty, "Span.spanId")?,
                4 => parent = r.read_i64(ty, "Span.parentSpanId")?,
                5 => {
                    let bytes = r.read_bytes(ty, "Span.operationName")?;
                    operation = limited_text(bytes, r.limits.max_str_len);
                }
                6 => {
                    references.clear();
                    r.read_list(ty, "Span.references", |r, _| {
                        references.extend(r.reference()?);
                        Ok(())
                    })?;
                }
                7 => {
                    r.read_i32(ty, "Span.flags")?;
                }
                8 => start_us = r.read_i64(ty, "Span.startTime")?,
                9 => duration_us = r.read_i64(ty, "Span.duration")?,
                10 => {
                    tags.clear();
                    r.read_list(ty, "Span.tags", |r, _| {
                        tags.extend(r.tag()?);
                        Ok(())
                    })?;
                }
                11 => {
                    logs.clear();
                    dropped_logs = 0;
                    r.read_list(ty, "Span.logs", |r, i| {
                        if i < max_logs {
                            logs.push(r.log()?);
                        } else {
                            r.skip(T_STRUCT)?;
                            dropped_logs += 1;
                        }
                        Ok(())
                    })?;
                }
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;

        let trace_id = trace_id(high, low);
        let span_id = span_id as u64;
        if trace_id == 0 || span_id == 0 {
            return Ok(None);
        }
        if dropped_logs > 0 {
            let count = i64::try_from(dropped_logs).unwrap_or(i64::MAX);
            let existing = tags.iter_mut().find_map(|tag| match tag {
                Tag {
                    key,
                    value: TagValue::Long(n),
                } if key == DROPPED_LOGS_TAG => Some(n),
                _ => None,
            });
            match existing {
                Some(n) => *n = n.saturating_add(count),
                None => {
                    self.charge(std::mem::size_of::<Tag>() + DROPPED_LOGS_TAG.len())?;
                    tags.push(Tag {
                        key: DROPPED_LOGS_TAG.to_owned(),
                        value: TagValue::Long(count),
                    });
                }
            }
        }
        let parent_span_id = match parent as u64 {
            0 => references
                .iter()
                .find(|r: &&Reference| r.kind == ReferenceKind::ChildOf && r.trace_id == trace_id)
                .map(|r| r.span_id),
            parent => Some(parent),
        };
        self.charge(std::mem::size_of::<SpanRecord>() + operation.len())?;
        Ok(Some(SpanRecord {
            trace_id,
            span_id,
            parent_span_id,
            references,
            service: String::new(),
            operation,
            start_us,
            duration_us,
            error: SpanRecord::is_error(&tags),
            tags,
            logs,
            baggage: Vec::new(),
        }))
    }

    /// Reads a `SpanRef` struct: `None` if its type is unknown or an id 0.
    fn reference(&mut self) -> Result<Option<Reference>> {
        let (mut kind, mut low, mut high, mut span_id) = (None, 0, 0, 0);
        self.read_struct(|r, ty, id| {
            match id {
                1 => kind = Some(r.read_i32(ty, "SpanRef.refType")?),
                2 => low = r.read_i64(ty, "SpanRef.traceIdLow")?,
                3 => high = r.read_i64(ty, "SpanRef.traceIdHigh")?,
                4 => span_id = r.read_i64(ty, "SpanRef.spanId")?,
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;
        let kind = match kind {
            Some(REF_CHILD_OF) => ReferenceKind::ChildOf,
            Some(REF_FOLLOWS_FROM) => ReferenceKind::FollowsFrom,
            _ => return Ok(None),
        };
        let (trace_id, span_id) = (trace_id(high, low), span_id as u64);
        if trace_id == 0 || span_id == 0 {
            return Ok(None);
        }
        self.charge(std::mem::size_of::<Reference>())?;
        Ok(Some(Reference {
            kind,
            trace_id,
            span_id,
        }))
    }

    /// Reads a `Tag` struct (of a span or a log): `None` if its type is
    /// unknown.
    fn tag(&mut self) -> Result<Option<Tag>> {
        let mut raw = RawTag::default();
        self.read_struct(|r, ty, id| {
            match id {
                1 => raw.key = r.read_bytes(ty, "Tag.key")?,
                2 => raw.kind = Some(r.read_i32(ty, "Tag.vType")?),
                3 => raw.string = r.read_bytes(ty, "Tag.vStr")?,
                4 => {
                    Self::expect("Tag.vDouble", ty, T_DOUBLE)?;
                    raw.double = f64::from_be_bytes(r.array()?);
                }
                5 => {
                    Self::expect("Tag.vBool", ty, T_BOOL)?;
                    raw.boolean = r.byte()? != 0;
                }
                6 => raw.long = r.read_i64(ty, "Tag.vLong")?,
                7 => raw.binary = r.read_bytes(ty, "Tag.vBinary")?,
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;
        let max = self.limits.max_str_len;
        let value = match raw.kind {
            Some(TAG_STRING) => TagValue::String(limited_text(raw.string, max)),
            Some(TAG_DOUBLE) => TagValue::Double(raw.double),
            Some(TAG_BOOL) => TagValue::Bool(raw.boolean),
            Some(TAG_LONG) => TagValue::Long(raw.long),
            Some(TAG_BINARY) => TagValue::String(limited_hex(raw.binary, max)),
            _ => return Ok(None),
        };
        let key = String::from_utf8_lossy(raw.key).into_owned();
        let value_len = match &value {
            TagValue::String(s) => s.len(),
            _ => 0,
        };
        self.charge(std::mem::size_of::<Tag>() + key.len() + value_len)?;
        Ok(Some(Tag { key, value }))
    }

    /// Reads a `Log` struct.
    fn log(&mut self) -> Result<Log> {
        let mut timestamp_us = 0;
        let mut fields = Vec::new();
        self.read_struct(|r, ty, id| match id {
            1 => {
                timestamp_us = r.read_i64(ty, "Log.timestamp")?;
                Ok(())
            }
            2 => {
                fields.clear();
                r.read_list(ty, "Log.fields", |r, _| {
                    fields.extend(r.tag()?);
                    Ok(())
                })
            }
            _ => r.skip(ty),
        })?;
        self.charge(std::mem::size_of::<Log>())?;
        Ok(Log {
            timestamp_us,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::thrift::tests::{finish, full_span, state, t0, T0_SECS};
    use crate::reporter::thrift::{Batch, Fit, Trim, Wire};
    use crate::reporter::MAX_COLLECTOR_BATCH_SIZE;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use rustracing::tag::Tag as OtTag;
    use rustracing_jaeger::span::{FinishedSpan, SpanContext};
    use std::sync::OnceLock;
    use std::time::Duration;

    const LIMITS: IngestLimits = IngestLimits {
        max_str_len: 4096,
        max_logs: 128,
    };
    const NO_LIMITS: IngestLimits = IngestLimits {
        max_str_len: usize::MAX,
        max_logs: usize::MAX,
    };
    /// Tight limits, for the properties: cuts and drops happen.
    const TIGHT: IngestLimits = IngestLimits {
        max_str_len: 8,
        max_logs: 1,
    };

    const T0_US: i64 = T0_SECS as i64 * 1_000_000;

    /// A collector body, as our reporter POSTs it, holding `spans`,
    /// encoded within `trim`.
    fn body_within(service: &str, spans: &[FinishedSpan], trim: Trim) -> Vec<u8> {
        let process_tags = [("hostname", "box"), ("ip", "10.0.0.1")];
        let mut batch = Batch::new(
            Wire::Collector,
            service,
            &process_tags,
            MAX_COLLECTOR_BATCH_SIZE,
        )
        .with_limits(trim);
        let mut buf = Vec::new();
        for span in spans {
            assert_eq!(batch.encode(&mut buf, span), Fit::Whole);
            batch.push(&buf);
        }
        batch.finish().to_vec()
    }

    fn body(service: &str, spans: &[FinishedSpan]) -> Vec<u8> {
        body_within(service, spans, Trim::NONE)
    }

    fn tag(key: &str, value: TagValue) -> Tag {
        Tag {
            key: key.to_owned(),
            value,
        }
    }

    fn string(key: &str, value: &str) -> Tag {
        tag(key, TagValue::String(value.to_owned()))
    }

    /// Three spans covering every field, and what they decode to.
    fn round_trip_spans() -> (Vec<FinishedSpan>, Vec<SpanRecord>) {
        const HIGH: u64 = 0x8000_0000_0000_0001;
        // The reporter tests' span using every feature: its parent (span
        // 0x1111) is in its trace; its cause, in another one.
        let full = full_span();
        let cause = SpanContext::new(state(0xCCCC, 0xDDDD, 0x2222), Vec::new());
        let failed = finish(|tracer| {
            let mut span = tracer
                .span("failed")
                .start_time(t0() + Duration::from_micros(5))
                .tag(OtTag::new("error", true))
                .tag(OtTag::new("http.status_code", 500i64))
                .start_with_state(state(0, 0x0000_0000_0000_00AB, 0x0C));
            span.set_finish_time(|| t0() + Duration::from_micros(7));
            span
        });
        let linked = finish(|tracer| {
            let mut span = tracer
                .span("linked")
                .follows_from(&cause)
                .start_time(t0())
                .start_with_state(state(0, 0xAAAA, 0x3333));
            span.set_finish_time(t0);
            span
        });

        let record = |trace_id, span_id, parent_span_id, operation: &str| SpanRecord {
            trace_id,
            span_id,
            parent_span_id,
            references: Vec::new(),
            service: "client".to_owned(),
            operation: operation.to_owned(),
            start_us: T0_US,
            duration_us: 0,
            error: false,
            tags: Vec::new(),
            logs: Vec::new(),
            baggage: Vec::new(),
        };
        let follows_cause = Reference {
            kind: ReferenceKind::FollowsFrom,
            trace_id: 0xCCCC << 64 | 0xDDDD,
            span_id: 0x2222,
        };
        let full_trace = u128::from(HIGH) << 64 | u128::from(u64::MAX);
        let mut full_record = record(
            full_trace,
            0xDEAD_BEEF_0000_0001,
            Some(0x1111),
            "GET /hello/<name>",
        );
        full_record.references = vec![
            Reference {
                kind: ReferenceKind::ChildOf,
                trace_id: full_trace,
                span_id: 0x1111,
            },
            follows_cause,
        ];
        full_record.duration_us = 1234;
        full_record.tags = vec![
            string("a.str", "value"),
            tag("b.bool", TagValue::Bool(true)),
            tag("c.bool", TagValue::Bool(false)),
            tag("d.long", TagValue::Long(-42)),
            tag("e.double", TagValue::Double(2.5)),
            string("jaeger-debug-id", "dbg-42"),
        ];
        full_record.logs = vec![
            Log {
                timestamp_us: T0_US + 10,
                fields: vec![string("event", "start"), string("message", "hello")],
            },
            Log {
                timestamp_us: T0_US + 20,
                fields: vec![string("k", "v")],
            },
        ];
        let mut failed_record = record(0xAB, 0x0C, None, "failed");
        failed_record.start_us = T0_US + 5;
        failed_record.duration_us = 2;
        failed_record.error = true;
        failed_record.tags = vec![
            tag("error", TagValue::Bool(true)),
            tag("http.status_code", TagValue::Long(500)),
        ];
        let mut linked_record = record(0xAAAA, 0x3333, None, "linked");
        linked_record.references = vec![follows_cause];

        (
            vec![full, failed, linked],
            vec![full_record, failed_record, linked_record],
        )
    }

    /// The body of [`round_trip_spans`], made once.
    fn valid_body() -> &'static [u8] {
        static BODY: OnceLock<Vec<u8>> = OnceLock::new();
        BODY.get_or_init(|| body("client", &round_trip_spans().0))
    }

    /// Checks what an `Ok` decoding holds, within `limits`.
    fn check_within(spans: &[SpanRecord], limits: IngestLimits) {
        let max = limits
            .max_str_len
            .max(1)
            .saturating_add(TRUNCATION_MARKER.len());
        let check_value = |tag: &Tag| {
            if let TagValue::String(s) = &tag.value {
                assert!(s.len() <= max, "{} bytes", s.len());
            }
        };
        for span in spans {
            assert_ne!(span.trace_id, 0);
            assert_ne!(span.span_id, 0);
            assert_ne!(span.parent_span_id, Some(0));
            assert!(!span.service.is_empty());
            assert!(span.operation.len() <= max);
            assert!(span.logs.len() <= limits.max_logs);
            assert!(span.baggage.is_empty());
            assert_eq!(span.error, SpanRecord::is_error(&span.tags));
            span.tags.iter().for_each(check_value);
            span.logs
                .iter()
                .flat_map(|log| &log.fields)
                .for_each(check_value);
            for reference in &span.references {
                assert_ne!(reference.trace_id, 0);
                assert_ne!(reference.span_id, 0);
            }
        }
    }

    /// Checks that an error's message is short and plain.
    fn check_message(error: &IngestError) {
        let message = error.to_string();
        assert!(!message.is_empty() && message.len() <= 80, "{message}");
        assert!(message.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
    }

    /// A hand-written binary-Thrift body.
    #[derive(Default)]
    struct W(Vec<u8>);

    impl W {
        fn field(&mut self, ty: u8, id: i16) -> &mut Self {
            self.0.push(ty);
            self.0.extend(id.to_be_bytes());
            self
        }
        fn byte(&mut self, b: u8) -> &mut Self {
            self.0.push(b);
            self
        }
        fn i32(&mut self, n: i32) -> &mut Self {
            self.0.extend(n.to_be_bytes());
            self
        }
        fn i64(&mut self, n: i64) -> &mut Self {
            self.0.extend(n.to_be_bytes());
            self
        }
        fn f64(&mut self, n: f64) -> &mut Self {
            self.0.extend(n.to_be_bytes());
            self
        }
        fn bytes(&mut self, b: &[u8]) -> &mut Self {
            self.i32(b.len() as i32);
            self.0.extend(b);
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.bytes(s.as_bytes())
        }
        fn list(&mut self, elem: u8, count: i32) -> &mut Self {
            self.byte(elem).i32(count)
        }
        fn stop(&mut self) -> &mut Self {
            self.byte(T_STOP)
        }
        /// A `Span` with these ids and nothing else.
        fn span(&mut self, trace_low: i64, span_id: i64) -> &mut Self {
            self.field(T_I64, 1).i64(trace_low);
            self.field(T_I64, 3).i64(span_id).stop()
        }
        /// A string `Tag`.
        fn string_tag(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
            self.field(T_STRING, 1).bytes(key);
            self.field(T_I32, 2).i32(TAG_STRING);
            self.field(T_STRING, 3).bytes(value).stop()
        }
        /// The head of a batch of service `svc`, up to the spans list.
        fn batch_head(&mut self, spans: i32) -> &mut Self {
            self.field(T_STRUCT, 1).field(T_STRING, 1).str("svc").stop();
            self.field(T_LIST, 2).list(T_STRUCT, spans)
        }
        fn done(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.0)
        }
    }

    /// A batch of one span (trace 1, span 2) whose body is written by
    /// `span_fields` (then STOP).
    fn one_span(span_fields: impl FnOnce(&mut W)) -> Vec<u8> {
        let mut w = W::default();
        w.batch_head(1);
        w.field(T_I64, 1).i64(1).field(T_I64, 3).i64(2);
        span_fields(&mut w);
        w.stop().stop().done()
    }

    fn decode_one(body: &[u8], limits: IngestLimits) -> SpanRecord {
        let mut spans = decode_batch(body, limits).unwrap();
        assert_eq!(spans.len(), 1, "{spans:?}");
        spans.remove(0)
    }

    // ---------------------------------------------------------------
    // Round trip through our own reporter's encoder.

    #[test]
    fn reporter_bodies_round_trip() {
        let (spans, expected) = round_trip_spans();
        let decoded = decode_batch(&body("client", &spans), LIMITS).unwrap();
        assert_eq!(decoded, expected);
        check_within(&decoded, LIMITS);
    }

    #[test]
    fn the_service_comes_from_the_process_and_defaults_to_unknown() {
        let spans = round_trip_spans().0;
        let decoded = decode_batch(&body("", &spans[1..2]), LIMITS).unwrap();
        assert_eq!(decoded[0].service, "unknown");

        // No process at all, and the process after the spans.
        let mut w = W::default();
        w.field(T_LIST, 2).list(T_STRUCT, 1).span(1, 2).stop();
        assert_eq!(decode_one(&w.done(), LIMITS).service, "unknown");
        let mut w = W::default();
        w.field(T_LIST, 2).list(T_STRUCT, 1).span(1, 2);
        w.field(T_STRUCT, 1).field(T_STRING, 1).str("late").stop();
        assert_eq!(decode_one(&w.stop().done(), LIMITS).service, "late");
    }

    #[test]
    fn an_empty_batch_has_no_spans() {
        let body = body("client", &[]);
        assert_eq!(decode_batch(&body, LIMITS), Ok(Vec::new()));
        // A batch without its spans field.
        assert_eq!(decode_batch(&[T_STOP], LIMITS), Ok(Vec::new()));
    }

    // ---------------------------------------------------------------
    // Mapping details, from hand-written bodies.

    #[test]
    fn binary_tags_become_hex_and_unknown_tag_types_are_left_out() {
        let body = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 4);
            w.field(T_STRING, 1)
                .str("bin")
                .field(T_I32, 2)
                .i32(TAG_BINARY);
            w.field(T_STRING, 7).bytes(&[0x00, 0xAB, 0x7F]).stop();
            w.field(T_STRING, 1).str("odd").field(T_I32, 2).i32(5);
            w.field(T_STRING, 3).str("x").stop();
            // vType after the value; no vType at all.
            w.field(T_STRING, 3).str("late").field(T_STRING, 1).str("k");
            w.field(T_I32, 2).i32(TAG_STRING).stop();
            w.field(T_STRING, 1).str("typeless").stop();
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(
            span.tags,
            [string("bin", "00ab7f"), string("k", "late")],
            "{span:?}"
        );
        // Hex is cut like any string value.
        let long = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 1);
            w.field(T_STRING, 1)
                .str("bin")
                .field(T_I32, 2)
                .i32(TAG_BINARY);
            w.field(T_STRING, 7).bytes(&[0, 1, 2, 3, 4, 5, 6, 7]).stop();
        });
        let limits = IngestLimits {
            max_str_len: 5,
            max_logs: 1,
        };
        let expected = format!("00010{TRUNCATION_MARKER}");
        assert_eq!(decode_one(&long, limits).tags, [string("bin", &expected)]);
        let limits = IngestLimits {
            max_str_len: 16,
            max_logs: 1,
        };
        let whole = "0001020304050607";
        assert_eq!(decode_one(&long, limits).tags, [string("bin", whole)]);
    }

    #[test]
    fn references_of_unknown_type_or_to_nothing_are_left_out() {
        let body = one_span(|w| {
            w.field(T_LIST, 6).list(T_STRUCT, 4);
            for (kind, span_id) in [(2, 7), (REF_FOLLOWS_FROM, 0), (REF_CHILD_OF, 9)] {
                w.field(T_I32, 1).i32(kind).field(T_I64, 2).i64(1);
                w.field(T_I64, 3).i64(0).field(T_I64, 4).i64(span_id).stop();
            }
            // No type.
            w.field(T_I64, 2).i64(1).field(T_I64, 4).i64(5).stop();
        });
        let span = decode_one(&body, LIMITS);
        let child_of = Reference {
            kind: ReferenceKind::ChildOf,
            trace_id: 1,
            span_id: 9,
        };
        assert_eq!(span.references, [child_of]);
        // Without parentSpanId, the child_of reference in the trace is the
        // parent.
        assert_eq!(span.parent_span_id, Some(9));
    }

    #[test]
    fn the_parent_is_never_a_reference_into_another_trace_or_a_follows_from() {
        let body = one_span(|w| {
            w.field(T_I64, 4).i64(0);
            w.field(T_LIST, 6).list(T_STRUCT, 2);
            w.field(T_I32, 1).i32(REF_CHILD_OF).field(T_I64, 2).i64(99);
            w.field(T_I64, 4).i64(5).stop();
            w.field(T_I32, 1)
                .i32(REF_FOLLOWS_FROM)
                .field(T_I64, 2)
                .i64(1);
            w.field(T_I64, 4).i64(6).stop();
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.references.len(), 2);
        assert_eq!(span.parent_span_id, None);
    }

    #[test]
    fn spans_with_a_zero_id_are_left_out() {
        let mut w = W::default();
        w.batch_head(4).span(0, 2).span(1, 0).span(1, 2);
        w.stop(); // a span without any field
        let spans = decode_batch(&w.stop().done(), LIMITS).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].trace_id, spans[0].span_id), (1, 2));
        // A high half alone is a trace id.
        let body = one_span(|w| {
            w.field(T_I64, 1).i64(0).field(T_I64, 2).i64(-1);
        });
        assert_eq!(
            decode_one(&body, LIMITS).trace_id,
            u128::from(u64::MAX) << 64
        );
    }

    #[test]
    fn unknown_fields_and_structs_are_skipped() {
        let mut w = W::default();
        w.field(T_I64, 3).i64(7); // Batch.seqNo
        w.field(T_STRUCT, 4); // Batch.stats
        w.field(T_I64, 1).i64(1).field(T_I64, 2).i64(2).stop();
        w.field(T_STRUCT, 1).field(T_STRING, 1).str("svc");
        w.field(T_LIST, 2)
            .list(T_STRUCT, 1)
            .string_tag(b"host", b"h");
        w.field(T_MAP, -5).byte(T_STRING).byte(T_LIST).i32(1);
        w.str("key").list(T_BOOL, 3).byte(1).byte(0).byte(1);
        w.stop();
        w.field(T_LIST, 2).list(T_STRUCT, 1);
        w.field(T_I64, 1).i64(1).field(T_I64, 3).i64(2);
        // Every other type, in fields of the span that the schema lacks.
        w.field(T_BOOL, 12).byte(1).field(T_BYTE, 13).byte(0xFF);
        w.field(T_I16, 14).byte(0).byte(1).field(T_I32, 15).i32(-1);
        w.field(T_DOUBLE, 16)
            .f64(1.5)
            .field(T_UUID, 17)
            .i64(1)
            .i64(2);
        w.field(T_SET, 18).list(T_I64, 2).i64(1).i64(2);
        w.field(T_LIST, 19)
            .list(T_LIST, 2)
            .list(T_STRING, 1)
            .str("x");
        w.list(T_DOUBLE, 0);
        w.field(T_MAP, 20).byte(T_I32).byte(T_STRUCT).i32(2);
        w.i32(1).field(T_STRING, 1).str("nested").stop();
        w.i32(2).stop();
        // Empty containers may declare any type.
        w.field(T_LIST, 21).list(0xEE, 0);
        w.field(T_MAP, 22).byte(0xEE).byte(0).i32(0);
        w.field(T_STRING, 5).str("op");
        w.stop().stop();
        let span = decode_one(&w.done(), LIMITS);
        assert_eq!(span.operation, "op");
        assert_eq!(span.service, "svc");
        assert!(span.tags.is_empty(), "process tags are not span tags");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let body = one_span(|w| {
            w.field(T_STRING, 5).bytes(b"op\xFF");
            w.field(T_LIST, 10)
                .list(T_STRUCT, 1)
                .string_tag(b"k\xC3", b"v\xE2\x82");
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.operation, "op\u{FFFD}");
        assert_eq!(span.tags, [string("k\u{FFFD}", "v\u{FFFD}")]);

        // Cut after the replacement, on a char boundary: the 3 bytes of
        // U+FFFD do not fit in 4 bytes after "ab".
        let body = one_span(|w| {
            w.field(T_STRING, 5).bytes(b"ab\xFFcd");
        });
        let limits = IngestLimits {
            max_str_len: 4,
            max_logs: 1,
        };
        let span = decode_one(&body, limits);
        assert_eq!(span.operation, format!("ab{TRUNCATION_MARKER}"));
        let limits = IngestLimits {
            max_str_len: 5,
            max_logs: 1,
        };
        let span = decode_one(&body, limits);
        assert_eq!(span.operation, format!("ab\u{FFFD}{TRUNCATION_MARKER}"));
    }

    #[test]
    fn later_fields_replace_earlier_ones() {
        let body = one_span(|w| {
            w.field(T_STRING, 5)
                .str("first")
                .field(T_STRING, 5)
                .str("second");
            w.field(T_LIST, 10).list(T_STRUCT, 1).string_tag(b"a", b"1");
            w.field(T_LIST, 10).list(T_STRUCT, 1).string_tag(b"b", b"2");
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.operation, "second");
        assert_eq!(span.tags, [string("b", "2")]);
    }

    // ---------------------------------------------------------------
    // Limits.

    fn logged(logs: usize) -> FinishedSpan {
        finish(|tracer| {
            let mut span = tracer
                .span("operation") // 9 bytes: cut
                .tag(OtTag::new("exact", "12345678"))
                .tag(OtTag::new("over", "123456789"))
                // 'é' is two bytes: cut on a char boundary, at 8 bytes.
                .tag(OtTag::new("wide", "ééééé"))
                .tag(OtTag::new("number", 1_234_567_890_123i64))
                .start();
            for _ in 0..logs {
                span.log(|log| {
                    log.field(("message", "abcdefghij"));
                });
            }
            span
        })
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let limits = IngestLimits {
            max_str_len: 8,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(2)]), limits);
        let cut = |kept: &str| format!("{kept}{TRUNCATION_MARKER}");
        assert_eq!(span.operation, cut("operatio"));
        assert_eq!(
            span.tags,
            [
                string("exact", "12345678"),
                tag("number", TagValue::Long(1_234_567_890_123)),
                string("over", &cut("12345678")),
                string("wide", &cut("éééé")),
            ]
        );
        assert_eq!(span.logs.len(), 2);
        assert_eq!(span.logs[0].fields, [string("message", &cut("abcdefgh"))]);
        // The service name and keys are not cut.
        let long_key = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 1);
            w.string_tag(b"a.long.key", b"v");
        });
        let span = decode_one(&long_key, limits);
        assert_eq!(span.tags, [string("a.long.key", "v")]);
        // A limit of 0 is 1, like the reporter's.
        let zero = IngestLimits {
            max_str_len: 0,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(0)]), zero);
        assert_eq!(span.operation, cut("o"));
    }

    #[test]
    fn logs_over_the_limit_are_dropped_and_counted() {
        let limits = IngestLimits {
            max_str_len: 8,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(5)]), limits);
        assert_eq!(span.logs.len(), 2);
        assert_eq!(span.tags.len(), 5);
        assert_eq!(span.tags[4], tag(DROPPED_LOGS_TAG, TagValue::Long(3)));
        // Within the limit: no count.
        let span = decode_one(&body("svc", &[logged(2)]), limits);
        assert!(span.tag(DROPPED_LOGS_TAG).is_none());
        // No logs at all.
        let none = IngestLimits {
            max_str_len: 8,
            max_logs: 0,
        };
        let span = decode_one(&body("svc", &[logged(1)]), none);
        assert!(span.logs.is_empty());
        assert_eq!(span.tag(DROPPED_LOGS_TAG), Some(&TagValue::Long(1)));
    }

    #[test]
    fn logs_the_sender_dropped_are_added_to() {
        // The sending reporter kept 2 logs of 5; we keep 1 of those.
        let reported = body_within("svc", &[logged(5)], Trim::limits(4096, 2));
        let limits = IngestLimits {
            max_str_len: 4096,
            max_logs: 1,
        };
        let span = decode_one(&reported, limits);
        assert_eq!(span.logs.len(), 1);
        let counts: Vec<_> = span
            .tags
            .iter()
            .filter(|t| t.key == DROPPED_LOGS_TAG)
            .collect();
        assert_eq!(counts, [&tag(DROPPED_LOGS_TAG, TagValue::Long(4))]);
    }

    #[test]
    fn limits_cut_as_the_reporter_does() {
        // What the reporter sends within limits is what we make of what it
        // sends without: the same cuts, the same dropped-logs tag.
        let mut spans = round_trip_spans().0;
        spans.extend([logged(0), logged(1), logged(3)]);
        for (max_str_len, max_logs) in [(1, 0), (3, 1), (8, 2), (13, 5)] {
            let limits = IngestLimits {
                max_str_len,
                max_logs,
            };
            let trimmed = body_within("svc", &spans, Trim::limits(max_str_len, max_logs));
            let expected = decode_batch(&trimmed, NO_LIMITS).unwrap();
            let decoded = decode_batch(&body("svc", &spans), limits).unwrap();
            assert_eq!(decoded, expected, "{limits:?}");
            check_within(&decoded, limits);
        }
    }

    #[test]
    fn the_decoded_size_is_bounded() {
        // A long service name is copied into every span.
        let name = "s".repeat(64 * 1024);
        let mut w = W::default();
        w.field(T_STRUCT, 1).field(T_STRING, 1).str(&name).stop();
        w.field(T_LIST, 2).list(T_STRUCT, 1000);
        for id in 1..=1000 {
            w.span(1, id);
        }
        let body = w.stop().done();
        assert!(body.len() < 128 * 1024);
        assert_eq!(
            decode_batch(&body, LIMITS),
            Err(IngestError::TooLargeDecoded)
        );
        // A hundred such spans fit.
        let mut w = W::default();
        w.field(T_STRUCT, 1).field(T_STRING, 1).str(&name).stop();
        w.field(T_LIST, 2).list(T_STRUCT, 100);
        for id in 1..=100 {
            w.span(1, id);
        }
        assert_eq!(decode_batch(&w.stop().done(), LIMITS).unwrap().len(), 100);

        // Empty tags, 15 bytes each, take more than that decoded.
        let tags = MAX_DECODED_BYTES / std::mem::size_of::<Tag>() + 1;
        let body = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, tags as i32);
            for _ in 0..tags {
                w.field(T_STRING, 1)
                    .str("")
                    .field(T_I32, 2)
                    .i32(TAG_LONG)
                    .stop();
            }
        });
        assert_eq!(
            decode_batch(&body, LIMITS),
            Err(IngestError::TooLargeDecoded)
        );
    }

    // ---------------------------------------------------------------
    // Hostile bodies.

    #[test]
    fn every_prefix_of_a_body_is_an_error() {
        let body = valid_body();
        for len in 0..body.len() {
            let err = decode_batch(&body[..len], LIMITS).unwrap_err();
            assert!(
                matches!(
                    err,
                    IngestError::Empty
                        | IngestError::Truncated { .. }
                        | IngestError::Oversized { .. }
                ),
                "{len}: {err}"
            );
            check_message(&err);
        }
        assert!(decode_batch(body, LIMITS).is_ok());
    }

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

    /// A batch whose unknown field 99, of type `outer`, holds `levels`
    /// containers, each in the previous one, written by `open` (told
    /// whether it is the innermost), and ends with `closing` STOPs.
    fn nested(outer: u8, levels: usize, closing: usize, open: impl Fn(&mut W, bool)) -> Vec<u8> {
        let mut w = W::default();
        w.field(outer, 99);
        for level in 1..=levels {
            open(&mut w, level == levels);
        }
        w.0.extend(std::iter::repeat_n(T_STOP, closing));
        w.done()
    }

    fn nested_lists(levels: usize) -> Vec<u8> {
        nested(T_LIST, levels, 1, |w, last| {
            w.list(T_LIST, i32::from(!last));
        })
    }

    #[test]
    fn nesting_is_bounded() {
        // The batch is a level: 31 more are fine, 32 are not.
        let deepest = nested_lists(MAX_DEPTH - 1);
        assert_eq!(decode_batch(&deepest, LIMITS), Ok(Vec::new()));
        let too_deep = nested_lists(MAX_DEPTH);
        let err = decode_batch(&too_deep, LIMITS).unwrap_err();
        assert_eq!(err, IngestError::TooDeep);
        assert_eq!(err.to_string(), "nesting deeper than 32");
        // The same with structs (the batch, field 99, then 30 more).
        let structs = |levels| {
            nested(T_STRUCT, levels, levels + 2, |w, _| {
                w.field(T_STRUCT, 1);
            })
        };
        assert_eq!(
            decode_batch(&structs(MAX_DEPTH - 2), LIMITS),
            Ok(Vec::new())
        );
        let err = decode_batch(&structs(MAX_DEPTH - 1), LIMITS);
        assert_eq!(err, Err(IngestError::TooDeep));
    }

    #[test]
    fn deeply_nested_containers_are_an_error_not_a_stack_overflow() {
        let levels = 100_000;
        let lists = nested_lists(levels);
        let structs = nested(T_STRUCT, levels, levels + 2, |w, _| {
            w.field(T_STRUCT, 1);
        });
        let maps = nested(T_MAP, levels, 1, |w, last| {
            w.byte(T_I32).byte(T_MAP).i32(i32::from(!last)).i32(7);
        });
        let sets = nested(T_SET, levels, 1, |w, last| {
            w.list(T_SET, i32::from(!last));
        });
        let mixed = nested(T_LIST, levels, 1, |w, last| {
            w.list(T_STRUCT, i32::from(!last)).field(T_LIST, 1);
        });
        for body in [lists, structs, maps, sets, mixed] {
            assert_eq!(decode_batch(&body, LIMITS), Err(IngestError::TooDeep));
        }
        // Inside a known struct: a span's unknown field.
        let body = one_span(|w| {
            w.field(T_STRUCT, 99);
            for _ in 0..levels {
                w.field(T_STRUCT, 1);
            }
        });
        assert_eq!(decode_batch(&body, LIMITS), Err(IngestError::TooDeep));
    }

    #[test]
    fn huge_declared_sizes_are_an_error_before_any_allocation() {
        let huge = i32::MAX;
        let string = {
            let mut w = W::default();
            w.field(T_STRUCT, 1).field(T_STRING, 1).i32(huge);
            w.done()
        };
        let err = decode_batch(&string, LIMITS).unwrap_err();
        assert_eq!(
            err,
            IngestError::Oversized {
                size: huge as usize,
                at: 6,
                left: 0
            }
        );
        assert_eq!(
            err.to_string(),
            "size 2147483647 at byte 6 exceeds the 0 bytes left"
        );
        let spans = {
            let mut w = W::default();
            w.batch_head(huge);
            w.span(1, 2).stop();
            w.done()
        };
        let err = decode_batch(&spans, LIMITS).unwrap_err();
        assert!(matches!(err, IngestError::Oversized { .. }), "{err}");
        // Each element takes its size: 3 i64 do not fit in 16 bytes.
        let longs = {
            let mut w = W::default();
            w.field(T_LIST, 99).list(T_I64, 3).i64(1).i64(2);
            w.done()
        };
        let err = decode_batch(&longs, LIMITS).unwrap_err();
        assert_eq!(
            err,
            IngestError::Oversized {
                size: 3,
                at: 4,
                left: 16
            }
        );
        let map = {
            let mut w = W::default();
            w.field(T_MAP, 99).byte(T_I64).byte(T_I64).i32(huge).i64(1);
            w.done()
        };
        let err = decode_batch(&map, LIMITS).unwrap_err();
        assert!(matches!(err, IngestError::Oversized { .. }), "{err}");
        // Many tags declared, few present.
        let tags = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 1_000_000);
        });
        let err = decode_batch(&tags, LIMITS).unwrap_err();
        assert!(matches!(err, IngestError::Oversized { .. }), "{err}");
    }

    #[test]
    fn negative_sizes_are_an_error() {
        let string = one_span(|w| {
            w.field(T_STRING, 5).i32(-1);
        });
        let list = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, -1);
        });
        let map = one_span(|w| {
            w.field(T_MAP, 99).byte(T_I32).byte(T_I32).i32(i32::MIN);
        });
        for body in [string, list, map] {
            let err = decode_batch(&body, LIMITS).unwrap_err();
            assert!(matches!(err, IngestError::NegativeSize { .. }), "{err}");
            check_message(&err);
        }
    }

    #[test]
    fn known_fields_of_the_wrong_type_are_an_error() {
        let cases: Vec<(Vec<u8>, IngestError)> = vec![
            (
                one_span(|w| {
                    w.field(T_I32, 3).i32(5);
                }),
                IngestError::WrongType {
                    field: "Span.spanId",
                    found: T_I32,
                    expected: T_I64,
                },
            ),
            (
                W::default().field(T_SET, 2).list(T_STRUCT, 0).stop().done(),
                IngestError::WrongType {
                    field: "Batch.spans",
                    found: T_SET,
                    expected: T_LIST,
                },
            ),
            (
                W::default().field(T_STRING, 1).str("svc").stop().done(),
                IngestError::WrongType {
                    field: "Batch.process",
                    found: T_STRING,
                    expected: T_STRUCT,
                },
            ),
            (
                one_span(|w| {
                    w.field(T_LIST, 10).list(T_I32, 1).i32(3);
                }),
                IngestError::WrongElementType {
                    field: "Span.tags",
                    found: T_I32,
                    expected: T_STRUCT,
                },
            ),
            (
                one_span(|w| {
                    w.field(T_LIST, 10).list(T_STRUCT, 1);
                    w.field(T_STRING, 1).str("k").field(T_I64, 2).i64(0).stop();
                }),
                IngestError::WrongType {
                    field: "Tag.vType",
                    found: T_I64,
                    expected: T_I32,
                },
            ),
            (
                one_span(|w| {
                    w.field(T_LIST, 11).list(T_STRUCT, 1);
                    w.field(T_I32, 1).i32(0).stop();
                }),
                IngestError::WrongType {
                    field: "Log.timestamp",
                    found: T_I32,
                    expected: T_I64,
                },
            ),
        ];
        for (body, expected) in cases {
            let err = decode_batch(&body, LIMITS).unwrap_err();
            assert_eq!(err, expected);
            check_message(&err);
        }
        let err = IngestError::WrongType {
            field: "Span.spanId",
            found: T_I32,
            expected: T_I64,
        };
        assert_eq!(
            err.to_string(),
            "field Span.spanId has type i32, expected i64"
        );
        // An empty list of anything is an empty list of tags.
        let empty = one_span(|w| {
            w.field(T_LIST, 10).list(T_I32, 0);
        });
        assert!(decode_one(&empty, LIMITS).tags.is_empty());
    }

    #[test]
    fn unknown_types_are_an_error() {
        for ty in [1, 5, 7, 9, 17, 0xFF] {
            let field = W::default().field(ty, 99).i64(0).stop().done();
            let err = decode_batch(&field, LIMITS).unwrap_err();
            assert_eq!(err, IngestError::UnknownType { ty, at: 0 });
            check_message(&err);
            let elements = W::default().field(T_LIST, 99).list(ty, 1).i64(0).done();
            let err = decode_batch(&elements, LIMITS).unwrap_err();
            assert_eq!(err, IngestError::UnknownType { ty, at: 3 });
        }
    }

    // ---------------------------------------------------------------
    // Properties.

    /// Applies `edits` to `body`: overwrite, insert or remove a byte.
    fn mutate(body: &mut Vec<u8>, edits: &[(Index, u8, u8)]) {
        for (index, byte, op) in edits {
            let i = index.index(body.len() + 1);
            match op {
                0 if i < body.len() => body[i] = *byte,
                1 => body.insert(i, *byte),
                _ if i < body.len() => {
                    body.remove(i);
                }
                _ => {}
            }
        }
    }

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

        #[test]
        fn tight_limits_only_cut_and_drop(
            edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 0..4),
        ) {
            // Whatever decodes without limits decodes within them, the same
            // spans with values cut and logs dropped.
            let mut body = valid_body().to_vec();
            mutate(&mut body, &edits);
            if let Ok(full) = decode_batch(&body, NO_LIMITS) {
                let tight = decode_batch(&body, TIGHT).unwrap();
                prop_assert_eq!(full.len(), tight.len());
                for (full, tight) in full.iter().zip(&tight) {
                    prop_assert_eq!(
                        (full.trace_id, full.span_id, full.parent_span_id),
                        (tight.trace_id, tight.span_id, tight.parent_span_id)
                    );
                    prop_assert_eq!(&full.references, &tight.references);
                    prop_assert_eq!(
                        limited_text(full.operation.as_bytes(), TIGHT.max_str_len),
                        tight.operation.clone()
                    );
                    prop_assert_eq!(
                        full.logs.len().min(TIGHT.max_logs),
                        tight.logs.len()
                    );
                    check_within(std::slice::from_ref(tight), TIGHT);
                }
            }
        }
    }
}
