//! The two Thrift protocols the reporter writes, behind one [`Protocol`]
//! trait that knows field headers, scalars, strings and list headers; and a
//! [`StructWriter`] that writes a struct's fields in either.

use std::marker::PhantomData;

use super::wire::{binary, compact, STOP};
use crate::limits::{cut_point, TRUNCATION_MARKER};

/// Upper bound of the encoded size of a list header in either protocol
/// (compact: type byte + u32 varint; binary: type byte + i32).
pub(super) const MAX_LIST_HEADER_LEN: usize = 1 + 5;

/// Appends `n` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn write_varint(buf: &mut Vec<u8>, mut n: u64) {
    if n < 0x80 {
        buf.push(n as u8);
        return;
    }
    // Written on the stack, then appended at once: all ten bytes (a copy of
    // known size, no call), the unused ones cut off again.
    let mut bytes = [0u8; 10];
    let mut len = 0;
    while n >= 0x80 {
        bytes[len] = (n as u8) | 0x80;
        n >>= 7;
        len += 1;
    }
    bytes[len] = n as u8;
    let end = buf.len() + len + 1;
    buf.extend_from_slice(&bytes);
    buf.truncate(end);
}

/// Zigzag-encodes a signed 64-bit integer.
#[inline]
pub(crate) fn zigzag_i64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Zigzag-encodes a signed 32-bit integer.
#[inline]
pub(crate) fn zigzag_i32(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

/// The encoded header of a list: element type and size.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListHeader {
    bytes: [u8; MAX_LIST_HEADER_LEN],
    pub(super) len: usize,
}

impl ListHeader {
    #[inline]
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A Thrift protocol: how field headers, scalars, strings and list headers
/// are written. Implemented by zero-sized types, so that the encoders
/// generic over it are monomorphized for each wire.
pub(super) trait Protocol {
    // Type identifiers, for field headers and list element types.
    const I32: u8;
    const I64: u8;
    const DOUBLE: u8;
    const STRING: u8;
    const LIST: u8;
    const STRUCT: u8;

    /// Appends the header of field `id` of type `field_type`, `last_id`
    /// being the id of the previous field of the struct (0 for the first).
    fn field_header(buf: &mut Vec<u8>, last_id: i16, id: i16, field_type: u8);

    /// Appends a whole boolean field (header and value).
    fn bool_field(buf: &mut Vec<u8>, last_id: i16, id: i16, value: bool);

    /// Appends an `i32` value.
    fn i32(buf: &mut Vec<u8>, value: i32);

    /// Appends an `i64` value.
    fn i64(buf: &mut Vec<u8>, value: i64);

    /// Appends a `double` value.
    fn double(buf: &mut Vec<u8>, value: f64);

    /// Appends the length prefix of a string/binary value of `len` bytes.
    fn string_len(buf: &mut Vec<u8>, len: usize);

    /// The header of a list of `len` elements of type `elem_type`.
    fn list_header(len: usize, elem_type: u8) -> ListHeader;

    /// Appends a list header; the caller then writes `len` elements.
    #[inline]
    fn write_list_header(buf: &mut Vec<u8>, len: usize, elem_type: u8) {
        buf.extend_from_slice(Self::list_header(len, elem_type).as_bytes());
    }
}

/// The Thrift compact protocol (UDP agent).
#[derive(Debug, Clone, Copy)]
pub(super) struct Compact;

impl Compact {
    const BOOL_TRUE: u8 = compact::BOOL_TRUE;
    const BOOL_FALSE: u8 = compact::BOOL_FALSE;
}

impl Protocol for Compact {
    const I32: u8 = compact::I32;
    const I64: u8 = compact::I64;
    const DOUBLE: u8 = compact::DOUBLE;
    const STRING: u8 = compact::STRING;
    const LIST: u8 = compact::LIST;
    const STRUCT: u8 = compact::STRUCT;

    /// Uses the short form (id delta in the upper four bits) when possible.
    #[inline]
    fn field_header(buf: &mut Vec<u8>, last_id: i16, id: i16, field_type: u8) {
        let delta = id.wrapping_sub(last_id);
        if (1..=15).contains(&delta) {
            buf.push(((delta as u8) << 4) | field_type);
        } else {
            buf.push(field_type);
            write_varint(buf, u64::from(zigzag_i32(i32::from(id))));
        }
    }

    /// The value is in the field type.
    #[inline]
    fn bool_field(buf: &mut Vec<u8>, last_id: i16, id: i16, value: bool) {
        let field_type = if value {
            Self::BOOL_TRUE
        } else {
            Self::BOOL_FALSE
        };
        Self::field_header(buf, last_id, id, field_type);
    }

    #[inline]
    fn i32(buf: &mut Vec<u8>, value: i32) {
        write_varint(buf, u64::from(zigzag_i32(value)));
    }

    #[inline]
    fn i64(buf: &mut Vec<u8>, value: i64) {
        write_varint(buf, zigzag_i64(value));
    }

    #[inline]
    fn double(buf: &mut Vec<u8>, value: f64) {
        buf.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn string_len(buf: &mut Vec<u8>, len: usize) {
        write_varint(buf, len as u64);
    }

    #[inline]
    fn list_header(len: usize, elem_type: u8) -> ListHeader {
        let mut bytes = [0u8; MAX_LIST_HEADER_LEN];
        if len < 15 {
            bytes[0] = ((len as u8) << 4) | elem_type;
            return ListHeader { bytes, len: 1 };
        }
        bytes[0] = 0xF0 | elem_type;
        // Lists longer than u32::MAX cannot be encoded (nor fit in a batch).
        let mut n = len.min(u32::MAX as usize) as u64;
        let mut used = 1;
        loop {
            let byte = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                bytes[used] = byte;
                return ListHeader {
                    bytes,
                    len: used + 1,
                };
            }
            bytes[used] = byte | 0x80;
            used += 1;
        }
    }
}

/// The Thrift binary protocol (HTTP collector).
#[derive(Debug, Clone, Copy)]
pub(super) struct Binary;

impl Binary {
    const BOOL: u8 = binary::BOOL;

    /// A length or size as the protocol's `i32`. Anything longer than
    /// `i32::MAX` bytes cannot fit in a batch, so such a span is rejected
    /// (as too large) whatever its length prefix says.
    #[inline]
    pub(super) fn size(len: usize) -> [u8; 4] {
        i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes()
    }
}

impl Protocol for Binary {
    const I32: u8 = binary::I32;
    const I64: u8 = binary::I64;
    const DOUBLE: u8 = binary::DOUBLE;
    const STRING: u8 = binary::STRING;
    const LIST: u8 = binary::LIST;
    const STRUCT: u8 = binary::STRUCT;

    /// Type byte and big-endian field id; no delta encoding.
    #[inline]
    fn field_header(buf: &mut Vec<u8>, _last_id: i16, id: i16, field_type: u8) {
        let id = id.to_be_bytes();
        buf.extend_from_slice(&[field_type, id[0], id[1]]);
    }

    #[inline]
    fn bool_field(buf: &mut Vec<u8>, last_id: i16, id: i16, value: bool) {
        Self::field_header(buf, last_id, id, Self::BOOL);
        buf.push(u8::from(value));
    }

    #[inline]
    fn i32(buf: &mut Vec<u8>, value: i32) {
        buf.extend_from_slice(&value.to_be_bytes());
    }

    #[inline]
    fn i64(buf: &mut Vec<u8>, value: i64) {
        buf.extend_from_slice(&value.to_be_bytes());
    }

    #[inline]
    fn double(buf: &mut Vec<u8>, value: f64) {
        buf.extend_from_slice(&value.to_be_bytes());
    }

    #[inline]
    fn string_len(buf: &mut Vec<u8>, len: usize) {
        buf.extend_from_slice(&Self::size(len));
    }

    #[inline]
    fn list_header(len: usize, elem_type: u8) -> ListHeader {
        let mut bytes = [0u8; MAX_LIST_HEADER_LEN];
        bytes[0] = elem_type;
        bytes[1..5].copy_from_slice(&Self::size(len));
        ListHeader { bytes, len: 5 }
    }
}

/// Appends `s` as a string value, cut to at most `max_len` bytes (on a char
/// boundary) followed by [`TRUNCATION_MARKER`] if it is longer than `max_len`.
#[inline]
pub(super) fn write_str_limited<P: Protocol>(buf: &mut Vec<u8>, s: &str, max_len: Option<usize>) {
    match max_len.and_then(|max| cut_point(s, max)) {
        Some(cut) => {
            P::string_len(buf, cut + TRUNCATION_MARKER.len());
            buf.extend_from_slice(&s.as_bytes()[..cut]);
            buf.extend_from_slice(TRUNCATION_MARKER.as_bytes());
        }
        _ => {
            P::string_len(buf, s.len());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// Writes the fields of one struct in protocol `P`, tracking the previous
/// field id (for the compact protocol's short field headers).
pub(super) struct StructWriter<'a, P> {
    buf: &'a mut Vec<u8>,
    last_id: i16,
    protocol: PhantomData<P>,
}

impl<'a, P: Protocol> StructWriter<'a, P> {
    #[inline]
    pub(super) fn new(buf: &'a mut Vec<u8>) -> Self {
        StructWriter {
            buf,
            last_id: 0,
            protocol: PhantomData,
        }
    }

    #[inline]
    pub(super) fn field_header(&mut self, id: i16, field_type: u8) {
        P::field_header(self.buf, self.last_id, id, field_type);
        self.last_id = id;
    }

    #[inline]
    pub(super) fn i32(&mut self, id: i16, value: i32) {
        self.field_header(id, P::I32);
        P::i32(self.buf, value);
    }

    #[inline]
    pub(super) fn i64(&mut self, id: i16, value: i64) {
        self.field_header(id, P::I64);
        P::i64(self.buf, value);
    }

    #[inline]
    pub(super) fn double(&mut self, id: i16, value: f64) {
        self.field_header(id, P::DOUBLE);
        P::double(self.buf, value);
    }

    #[inline]
    pub(super) fn bool(&mut self, id: i16, value: bool) {
        P::bool_field(self.buf, self.last_id, id, value);
        self.last_id = id;
    }

    #[inline]
    pub(super) fn string(&mut self, id: i16, value: &str, max_len: Option<usize>) {
        self.field_header(id, P::STRING);
        write_str_limited::<P>(self.buf, value, max_len);
    }

    /// Writes a list field header; the caller then writes `len` elements.
    #[inline]
    pub(super) fn list(&mut self, id: i16, len: usize, elem_type: u8) {
        self.field_header(id, P::LIST);
        P::write_list_header(self.buf, len, elem_type);
    }

    /// The underlying buffer, for writing nested values.
    #[inline]
    pub(super) fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    #[inline]
    pub(super) fn end(self) {
        self.buf.push(STOP);
    }
}
