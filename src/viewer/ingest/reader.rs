//! A bounded reader of the binary Thrift protocol: integers, strings,
//! struct fields and list headers, with every length and count checked
//! against the bytes left, nesting limited to [`MAX_DEPTH`], and any value
//! skipped whatever it holds. What the fields mean is
//! [`jaeger`](super::jaeger)'s.

use super::{IngestError, IngestLimits};

/// Deepest nesting of structs, lists, sets and maps accepted (a span's log
/// fields are 7 deep).
pub(super) const MAX_DEPTH: usize = 32;

/// Most bytes the spans of one batch may take once decoded (as
/// [`SpanRecord::approx_size`] counts them).
///
/// [`SpanRecord::approx_size`]: crate::viewer::model::SpanRecord::approx_size
pub(super) const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

// Binary-Thrift type ids.
pub(super) use crate::reporter::thrift::wire::binary::{
    BOOL as T_BOOL, DOUBLE as T_DOUBLE, I32 as T_I32, I64 as T_I64, LIST as T_LIST,
    STRING as T_STRING, STRUCT as T_STRUCT,
};
use crate::reporter::thrift::wire::binary::{
    BYTE as T_BYTE, I16 as T_I16, MAP as T_MAP, SET as T_SET, UUID as T_UUID,
};
pub(super) use crate::reporter::thrift::wire::STOP as T_STOP;

/// A type id's name in the Thrift IDL, for error messages.
pub(super) fn type_name(ty: u8) -> &'static str {
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

pub(super) type Result<T, E = IngestError> = std::result::Result<T, E>;

/// A bounded reader of one binary-Thrift `Batch`.
pub(super) struct Reader<'a> {
    pub(super) body: &'a [u8],
    pub(super) pos: usize,
    /// Containers entered and not left.
    pub(super) depth: usize,
    /// Bytes the decoded spans take so far, counted as
    /// [`SpanRecord::approx_size`] does.
    ///
    /// [`SpanRecord::approx_size`]: crate::viewer::model::SpanRecord::approx_size
    pub(super) decoded: usize,
    pub(super) limits: IngestLimits,
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

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| IngestError::Truncated { at })
    }

    pub(super) fn byte(&mut self) -> Result<u8> {
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
    pub(super) fn charge(&mut self, bytes: usize) -> Result<()> {
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
    pub(super) fn skip(&mut self, ty: u8) -> Result<()> {
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
    pub(super) fn read_struct(
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
    pub(super) fn expect(field: &'static str, found: u8, expected: u8) -> Result<()> {
        if found == expected {
            return Ok(());
        }
        Err(IngestError::WrongType {
            field,
            found,
            expected,
        })
    }

    pub(super) fn read_i32(&mut self, ty: u8, field: &'static str) -> Result<i32> {
        Self::expect(field, ty, T_I32)?;
        self.i32()
    }

    pub(super) fn read_i64(&mut self, ty: u8, field: &'static str) -> Result<i64> {
        Self::expect(field, ty, T_I64)?;
        self.i64()
    }

    pub(super) fn read_bytes(&mut self, ty: u8, field: &'static str) -> Result<&'a [u8]> {
        Self::expect(field, ty, T_STRING)?;
        self.bytes()
    }

    /// Reads the known field `field`, a list of structs, one container
    /// deeper, calling `element` with the index of each.
    pub(super) fn read_list(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::ingest::decode_batch;
    use crate::viewer::ingest::testing::{
        check_message, decode_one, one_span, valid_body, LIMITS, W,
    };

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
}
