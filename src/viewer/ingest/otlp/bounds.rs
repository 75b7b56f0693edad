//! A bounded walk over a request body before prost decodes it: the body is
//! read as the [subset of the schema](super::proto) prost will decode, and
//! refused when it nests deeper than [`MAX_DEPTH`], when its lengths do not
//! fit, when a known field has the wrong wire type, or when the messages
//! prost would build take more than [`MAX_MESSAGE_BYTES`].
//!
//! The walk allocates nothing and recurses at most [`MAX_DEPTH`] deep; prost
//! then decodes a body known to be within those bounds (its own recursion
//! limit, 100, is not relied on: a crate elsewhere in the application may
//! turn it off with prost's `no-recursion-limit` feature).

use std::mem::size_of;

use super::proto::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, Status,
};
use super::OtlpError;

/// Deepest nesting of messages (and groups, in unknown fields) accepted:
/// an attribute of a span's event is 6 deep, each level of an array value
/// adds 2, of a key-value list 3.
pub(crate) const MAX_DEPTH: usize = 32;

/// Most bytes the messages prost decodes from one body may take (counted
/// as [`Walk::charge`] says): a 2-byte empty span in the body becomes a
/// struct of a few hundred bytes, so the body's size alone bounds nothing.
pub(crate) const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Wire types.
pub(super) const VARINT: u8 = 0;
/// 8 bytes (`fixed64`, `double`).
pub(super) const I64: u8 = 1;
/// A length, then as many bytes (strings, bytes, messages).
pub(super) const LEN: u8 = 2;
/// The start of a group (proto2; skipped in unknown fields).
pub(super) const SGROUP: u8 = 3;
/// The end of a group.
pub(super) const EGROUP: u8 = 4;
/// 4 bytes (`fixed32`, `float`).
pub(super) const I32: u8 = 5;

/// A wire type's name, for error messages.
pub(super) fn wire_name(wire: u8) -> &'static str {
    match wire {
        VARINT => "varint",
        I64 => "i64",
        LEN => "len",
        SGROUP => "sgroup",
        EGROUP => "egroup",
        I32 => "i32",
        _ => "unknown",
    }
}

/// The messages of the subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// What a known field holds.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A repeated message: each one a new element of a vector.
    Repeated(Msg),
    /// A singular message (or a oneof's message), stored in its parent.
    Single(Msg),
    /// A string or bytes value, copied.
    Bytes,
    /// An integer, an enum or a boolean.
    Varint,
    /// A `fixed64` or a `double`.
    Fixed64,
}

impl Field {
    fn wire(self) -> u8 {
        match self {
            Field::Repeated(_) | Field::Single(_) | Field::Bytes => LEN,
            Field::Varint => VARINT,
            Field::Fixed64 => I64,
        }
    }
}

impl Msg {
    /// The size of the struct prost decodes this message into.
    fn size(self) -> usize {
        match self {
            Msg::Request => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<Event>(),
            Msg::Link => size_of::<Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
        }
    }

    /// The known field `number` of this message, and its name (as in the
    /// official definitions); `None` for a field prost skips.
    fn field(self, number: u64) -> Option<(&'static str, Field)> {
        use Field::{Bytes, Fixed64, Repeated, Single, Varint};
        Some(match (self, number) {
            (Msg::Request, 1) => (
                "ExportTraceServiceRequest.resource_spans",
                Repeated(Msg::ResourceSpans),
            ),
            (Msg::ResourceSpans, 1) => ("ResourceSpans.resource", Single(Msg::Resource)),
            (Msg::ResourceSpans, 2) => ("ResourceSpans.scope_spans", Repeated(Msg::ScopeSpans)),
            (Msg::Resource, 1) => ("Resource.attributes", Repeated(Msg::KeyValue)),
            (Msg::ScopeSpans, 1) => ("ScopeSpans.scope", Single(Msg::Scope)),
            (Msg::ScopeSpans, 2) => ("ScopeSpans.spans", Repeated(Msg::Span)),
            (Msg::Scope, 1) => ("InstrumentationScope.name", Bytes),
            (Msg::Scope, 2) => ("InstrumentationScope.version", Bytes),
            (Msg::Span, 1) => ("Span.trace_id", Bytes),
            (Msg::Span, 2) => ("Span.span_id", Bytes),
            (Msg::Span, 4) => ("Span.parent_span_id", Bytes),
            (Msg::Span, 5) => ("Span.name", Bytes),
            (Msg::Span, 6) => ("Span.kind", Varint),
            (Msg::Span, 7) => ("Span.start_time_unix_nano", Fixed64),
            (Msg::Span, 8) => ("Span.end_time_unix_nano", Fixed64),
            (Msg::Span, 9) => ("Span.attributes", Repeated(Msg::KeyValue)),
            (Msg::Span, 11) => ("Span.events", Repeated(Msg::Event)),
            (Msg::Span, 12) => ("Span.dropped_events_count", Varint),
            (Msg::Span, 13) => ("Span.links", Repeated(Msg::Link)),
            (Msg::Span, 15) => ("Span.status", Single(Msg::Status)),
            (Msg::Event, 1) => ("Event.time_unix_nano", Fixed64),
            (Msg::Event, 2) => ("Event.name", Bytes),
            (Msg::Event, 3) => ("Event.attributes", Repeated(Msg::KeyValue)),
            (Msg::Link, 1) => ("Link.trace_id", Bytes),
            (Msg::Link, 2) => ("Link.span_id", Bytes),
            (Msg::Status, 2) => ("Status.message", Bytes),
            (Msg::Status, 3) => ("Status.code", Varint),
            (Msg::KeyValue, 1) => ("KeyValue.key", Bytes),
            (Msg::KeyValue, 2) => ("KeyValue.value", Single(Msg::AnyValue)),
            (Msg::AnyValue, 1) => ("AnyValue.string_value", Bytes),
            (Msg::AnyValue, 2) => ("AnyValue.bool_value", Varint),
            (Msg::AnyValue, 3) => ("AnyValue.int_value", Varint),
            (Msg::AnyValue, 4) => ("AnyValue.double_value", Fixed64),
            (Msg::AnyValue, 5) => ("AnyValue.array_value", Single(Msg::ArrayValue)),
            (Msg::AnyValue, 6) => ("AnyValue.kvlist_value", Single(Msg::KeyValueList)),
            (Msg::AnyValue, 7) => ("AnyValue.bytes_value", Bytes),
            (Msg::ArrayValue, 1) => ("ArrayValue.values", Repeated(Msg::AnyValue)),
            (Msg::KeyValueList, 1) => ("KeyValueList.values", Repeated(Msg::KeyValue)),
            _ => return None,
        })
    }
}

type Result<T, E = OtlpError> = std::result::Result<T, E>;

/// Checks that `body`, an `ExportTraceServiceRequest`, is within the
/// bounds (see the [module documentation](self)).
pub(super) fn check(body: &[u8]) -> Result<()> {
    let mut walk = Walk {
        body,
        pos: 0,
        depth: 0,
        cost: 0,
    };
    walk.charge(Msg::Request.size())?;
    walk.message(Msg::Request, body.len())
}

/// The state of a walk over a body.
struct Walk<'a> {
    body: &'a [u8],
    pos: usize,
    /// Messages and groups entered and not left.
    depth: usize,
    /// Bytes the decoded messages take so far.
    cost: usize,
}

impl Walk<'_> {
    /// Counts `bytes` more of decoded messages against
    /// [`MAX_MESSAGE_BYTES`]. Charged: the request's struct; twice the
    /// struct of each element of a repeated field (a vector's capacity may
    /// be twice its length); the length of each string or bytes value. A
    /// singular message lives in its parent's struct.
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.cost = self.cost.saturating_add(bytes);
        if self.cost > MAX_MESSAGE_BYTES {
            return Err(OtlpError::TooLargeMessage);
        }
        Ok(())
    }

    /// Reads a varint ending before `end`, as prost does: at most 10
    /// bytes, the tenth at most 1.
    fn varint(&mut self, end: usize) -> Result<u64> {
        let at = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            if self.pos >= end {
                return Err(OtlpError::Truncated { at });
            }
            let byte = self.body[self.pos];
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(OtlpError::BadVarint { at });
            }
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(OtlpError::BadVarint { at })
    }

    /// Reads a length, checked against the bytes left before `end`.
    fn len(&mut self, end: usize) -> Result<usize> {
        let at = self.pos;
        let size = self.varint(end)?;
        let left = end - self.pos;
        match usize::try_from(size) {
            Ok(len) if len <= left => Ok(len),
            _ => Err(OtlpError::Oversized { size, at, left }),
        }
    }

    /// Skips `len` bytes, which must end before `end`.
    fn skip_bytes(&mut self, len: usize, end: usize) -> Result<()> {
        let at = self.pos;
        if end - self.pos < len {
            return Err(OtlpError::Truncated { at });
        }
        self.pos += len;
        Ok(())
    }

    /// Runs `walk` one message or group deeper.
    fn nested(&mut self, walk: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(OtlpError::TooDeep);
        }
        self.depth += 1;
        let result = walk(self);
        self.depth -= 1;
        result
    }

    /// Reads a field key before `end`: the field number and wire type.
    fn key(&mut self, end: usize) -> Result<(u64, u8)> {
        let at = self.pos;
        let key = self.varint(end)?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        if key > u64::from(u32::MAX) || number == 0 || wire > I32 {
            return Err(OtlpError::BadKey { at });
        }
        Ok((number, wire))
    }

    /// Walks the fields of a `msg` ending at `end`.
    fn message(&mut self, msg: Msg, end: usize) -> Result<()> {
        while self.pos < end {
            let at = self.pos;
            let (number, wire) = self.key(end)?;
            let Some((name, field)) = msg.field(number) else {
                if wire == EGROUP {
                    return Err(OtlpError::UnexpectedEndGroup { at });
                }
                self.skip(number, wire, end)?;
                continue;
            };
            if wire != field.wire() {
                return Err(OtlpError::WrongWireType {
                    field: name,
                    found: wire,
                    expected: field.wire(),
                });
            }
            match field {
                Field::Repeated(child) | Field::Single(child) => {
                    let len = self.len(end)?;
                    if let Field::Repeated(_) = field {
                        self.charge(child.size().saturating_mul(2))?;
                    }
                    let child_end = self.pos + len;
                    self.nested(|w| w.message(child, child_end))?;
                }
                Field::Bytes => {
                    let len = self.len(end)?;
                    self.charge(len)?;
                    self.skip_bytes(len, end)?;
                }
                Field::Varint => {
                    self.varint(end)?;
                }
                Field::Fixed64 => self.skip_bytes(8, end)?,
            }
        }
        Ok(())
    }

    /// Skips the value of unknown field `number` of type `wire` (a group:
    /// up to its end), ending before `end`.
    fn skip(&mut self, number: u64, wire: u8, end: usize) -> Result<()> {
        match wire {
            VARINT => self.varint(end).map(|_| ()),
            I64 => self.skip_bytes(8, end),
            I32 => self.skip_bytes(4, end),
            LEN => {
                let len = self.len(end)?;
                self.skip_bytes(len, end)
            }
            SGROUP => {
                let start = self.pos;
                self.nested(|w| loop {
                    if w.pos >= end {
                        return Err(OtlpError::Truncated { at: start });
                    }
                    let at = w.pos;
                    let (inner, inner_wire) = w.key(end)?;
                    if inner_wire == EGROUP {
                        if inner == number {
                            return Ok(());
                        }
                        return Err(OtlpError::UnexpectedEndGroup { at });
                    }
                    w.skip(inner, inner_wire, end)?;
                })
            }
            _ => Err(OtlpError::UnexpectedEndGroup { at: self.pos }),
        }
    }
}
