//! The protobuf wire format, as far as the OTLP encoder needs it, and the
//! field numbers of the OTLP messages it writes (from the OpenTelemetry
//! project's `opentelemetry/proto/{collector/trace,trace,common,resource}/v1`
//! definitions).

/// Wire type of varint fields (integers, enums, bools).
const VARINT: u8 = 0;
/// Wire type of 8-byte fields (`fixed64`, `double`).
const I64: u8 = 1;
/// Wire type of length-delimited fields (strings, bytes, messages).
const LEN: u8 = 2;
/// Wire type of 4-byte fields (`fixed32`).
const I32: u8 = 5;

/// `ExportTraceServiceRequest.resource_spans`.
pub(super) const REQUEST_RESOURCE_SPANS: u32 = 1;
/// `ResourceSpans.resource`.
pub(super) const RESOURCE_SPANS_RESOURCE: u32 = 1;
/// `ResourceSpans.scope_spans`.
pub(super) const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
/// `Resource.attributes`.
pub(super) const RESOURCE_ATTRIBUTES: u32 = 1;
/// `ScopeSpans.scope`.
pub(super) const SCOPE_SPANS_SCOPE: u32 = 1;
/// `ScopeSpans.spans`.
pub(super) const SCOPE_SPANS_SPANS: u32 = 2;
/// `InstrumentationScope.name`.
pub(super) const SCOPE_NAME: u32 = 1;
/// `InstrumentationScope.version`.
pub(super) const SCOPE_VERSION: u32 = 2;

/// `Span` fields.
pub(super) const SPAN_TRACE_ID: u32 = 1;
pub(super) const SPAN_SPAN_ID: u32 = 2;
pub(super) const SPAN_TRACE_STATE: u32 = 3;
pub(super) const SPAN_PARENT_SPAN_ID: u32 = 4;
pub(super) const SPAN_NAME: u32 = 5;
pub(super) const SPAN_KIND: u32 = 6;
pub(super) const SPAN_START_TIME: u32 = 7;
pub(super) const SPAN_END_TIME: u32 = 8;
pub(super) const SPAN_ATTRIBUTES: u32 = 9;
pub(super) const SPAN_EVENTS: u32 = 11;
pub(super) const SPAN_DROPPED_EVENTS: u32 = 12;
pub(super) const SPAN_LINKS: u32 = 13;
pub(super) const SPAN_STATUS: u32 = 15;
pub(super) const SPAN_FLAGS: u32 = 16;

/// `Span.Event` fields.
pub(super) const EVENT_TIME: u32 = 1;
pub(super) const EVENT_NAME: u32 = 2;
pub(super) const EVENT_ATTRIBUTES: u32 = 3;

/// `Span.Link` fields.
pub(super) const LINK_TRACE_ID: u32 = 1;
pub(super) const LINK_SPAN_ID: u32 = 2;
pub(super) const LINK_ATTRIBUTES: u32 = 4;
pub(super) const LINK_FLAGS: u32 = 6;

/// `Status` fields.
pub(super) const STATUS_MESSAGE: u32 = 2;
pub(super) const STATUS_CODE: u32 = 3;
/// `Status.StatusCode.STATUS_CODE_ERROR`.
pub(super) const STATUS_CODE_ERROR: u64 = 2;

/// `KeyValue` fields.
pub(super) const KEY_VALUE_KEY: u32 = 1;
pub(super) const KEY_VALUE_VALUE: u32 = 2;

/// `AnyValue` fields (a `oneof`).
pub(super) const ANY_STRING: u32 = 1;
pub(super) const ANY_BOOL: u32 = 2;
pub(super) const ANY_INT: u32 = 3;
pub(super) const ANY_DOUBLE: u32 = 4;
pub(super) const ANY_ARRAY: u32 = 5;
/// `ArrayValue.values`.
pub(super) const ARRAY_VALUES: u32 = 1;

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`.
pub(super) const FLAGS_HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
pub(super) const FLAGS_IS_REMOTE: u32 = 0x200;

/// `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    /// The kind an OpenTracing `span.kind` tag names (`rpc.server`... as
    /// Jaeger's own clients accept, too); `None` for others.
    pub(crate) fn from_tag(value: &str) -> Option<SpanKind> {
        match value {
            "server" | "rpc.server" => Some(SpanKind::Server),
            "client" | "rpc.client" => Some(SpanKind::Client),
            "producer" => Some(SpanKind::Producer),
            "consumer" => Some(SpanKind::Consumer),
            "internal" => Some(SpanKind::Internal),
            _ => None,
        }
    }
}

/// Appends `value` as a base-128 varint.
#[inline]
pub(super) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    if value < 0x80 {
        buf.push(value as u8);
        return;
    }
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// The number of bytes of `value` as a varint.
#[inline]
pub(super) fn varint_len(value: u64) -> usize {
    // 1 byte per 7 significant bits, at least 1.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_key(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, u64::from(field << 3 | u32::from(wire_type)));
}

/// Appends a varint field (an integer, enum or bool).
#[inline]
pub(super) fn put_uint(buf: &mut Vec<u8>, field: u32, value: u64) {
    put_key(buf, field, VARINT);
    put_varint(buf, value);
}

/// Appends a `fixed64` field.
#[inline]
pub(super) fn put_fixed64(buf: &mut Vec<u8>, field: u32, value: u64) {
    put_key(buf, field, I64);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a `fixed32` field.
#[inline]
pub(super) fn put_fixed32(buf: &mut Vec<u8>, field: u32, value: u32) {
    put_key(buf, field, I32);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a `double` field.
#[inline]
pub(super) fn put_double(buf: &mut Vec<u8>, field: u32, value: f64) {
    put_key(buf, field, I64);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a length-delimited field holding `bytes`.
#[inline]
pub(super) fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a length-delimited field whose `len` bytes the caller appends
/// next.
#[inline]
pub(super) fn put_len_header(buf: &mut Vec<u8>, field: u32, len: usize) {
    put_key(buf, field, LEN);
    put_varint(buf, len as u64);
}

/// The bytes [`put_len_header`] writes for `field` and `len`, and the
/// `len` bytes that follow.
#[inline]
pub(super) fn len_field_size(field: u32, len: usize) -> usize {
    varint_len(u64::from(field << 3)) + varint_len(len as u64) + len
}

/// Starts a nested message in field `field`: its length is written by
/// [`end_message`], given what this returns.
#[inline]
pub(super) fn begin_message(buf: &mut Vec<u8>, field: u32) -> usize {
    put_key(buf, field, LEN);
    // One byte reserved for the length: enough for most nested messages;
    // a longer one moves its bytes once.
    buf.push(0);
    buf.len()
}

/// Ends the nested message begun at `start` ([`begin_message`]).
#[inline]
pub(super) fn end_message(buf: &mut Vec<u8>, start: usize) {
    let len = buf.len() - start;
    if len < 0x80 {
        buf[start - 1] = len as u8;
        return;
    }
    let mut header = Vec::with_capacity(10);
    put_varint(&mut header, len as u64);
    let extra = header.len() - 1;
    buf.resize(buf.len() + extra, 0);
    buf.copy_within(start..start + len, start + extra);
    buf[start - 1..start - 1 + header.len()].copy_from_slice(&header);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_their_lengths() {
        for (value, bytes) in [
            (0u64, &[0u8][..]),
            (1, &[1]),
            (127, &[127]),
            (128, &[0x80, 1]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            assert_eq!(buf, bytes, "{value}");
            assert_eq!(varint_len(value), bytes.len(), "{value}");
        }
    }

    #[test]
    fn a_long_nested_message_gets_a_longer_length() {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let mut buf = vec![9u8];
            let start = begin_message(&mut buf, 2);
            buf.extend(std::iter::repeat_n(7u8, len));
            end_message(&mut buf, start);
            let mut expected = vec![9u8];
            put_len_header(&mut expected, 2, len);
            expected.extend(std::iter::repeat_n(7u8, len));
            assert_eq!(buf, expected, "{len}");
            assert_eq!(expected.len() - 1, len_field_size(2, len));
        }
    }
}
