//! Hand-written Thrift encoders for the subset of [jaeger.thrift] /
//! [agent.thrift] that the reporter sends, for two wires (see [`Wire`]):
//!
//! * the UDP agent: one `Agent.emitBatch` one-way message per datagram,
//!   in the Thrift *compact* protocol;
//! * the HTTP collector (`POST /api/traces`, `application/x-thrift`): a bare
//!   `Batch` struct in the Thrift *binary* protocol.
//!
//! The mapping from a `FinishedSpan` to a Jaeger span (the same as
//! `impl From<&FinishedSpan> for rustracing_jaeger::thrift::jaeger::Span`),
//! and how oversized spans are trimmed, is written once, generic over a
//! [`Protocol`] that only knows how to write field headers, scalars, strings
//! and list headers. Each protocol is a zero-sized type, so the encoders are
//! monomorphized per wire: no dynamic dispatch on the hot path.
//!
//! Spans are encoded straight from `&FinishedSpan` into reusable byte buffers:
//! no intermediate thrift structs, no per-span `String` clones.
//!
//! A [`Batch`] accumulates encoded spans behind a precomputed prefix (the
//! message header, if any, the `Batch.process` struct and the `Batch.spans`
//! field header); only the list header, which depends on the number of
//! spans, is written when the batch is finished.
//!
//! [jaeger.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/jaeger.thrift
//! [agent.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/agent.thrift

use rustracing::tag::TagValue;
use rustracing_jaeger::span::{FinishedSpan, SpanReference};
use std::marker::PhantomData;
use std::time::{SystemTime, UNIX_EPOCH};

/// Compact protocol identifier (first byte of every compact message).
const PROTOCOL_ID: u8 = 0x82;
/// Version 1 with message type ONEWAY (4) in the upper three bits.
const VERSION_AND_ONEWAY: u8 = 0x01 | (4 << 5);
/// The agent method carrying a batch of spans.
const METHOD_NAME: &str = "emitBatch";

/// Struct terminator (the same in both protocols).
const STOP: u8 = 0;

// jaeger.thrift `TagType` values.
const TAG_STRING: i32 = 0;
const TAG_DOUBLE: i32 = 1;
const TAG_BOOL: i32 = 2;
const TAG_LONG: i32 = 3;

// jaeger.thrift `SpanRefType` values.
const REF_CHILD_OF: i32 = 0;
const REF_FOLLOWS_FROM: i32 = 1;

/// Tag added to spans carrying a Jaeger debug id (`jaeger-debug-id`).
pub(crate) const DEBUG_ID_TAG: &str = "jaeger-debug-id";

/// Tag added to a trimmed span whose logs were dropped; its value is the
/// number of logs dropped.
pub(crate) const DROPPED_LOGS_TAG: &str = "rocket_opentracing.dropped_logs";

/// Appended to string values truncated while trimming an oversized span.
pub(crate) const TRUNCATION_MARKER: &str = "...[truncated]";

/// Length (in bytes) string tag values are cut to when trimming.
pub(crate) const TRIMMED_STRING_LEN: usize = 1024;

/// Upper bound of the encoded size of a list header in either protocol
/// (compact: type byte + u32 varint; binary: type byte + i32).
const MAX_LIST_HEADER_LEN: usize = 1 + 5;

/// Largest buffer a [`Batch`] allocates up front; bigger batches (HTTP
/// collector bodies) grow on demand.
const MAX_PREALLOCATED_LEN: usize = 1 << 16;

/// Appends `n` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn write_varint(buf: &mut Vec<u8>, mut n: u64) {
    if n < 0x80 {
        buf.push(n as u8);
        return;
    }
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
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
struct ListHeader {
    bytes: [u8; MAX_LIST_HEADER_LEN],
    len: usize,
}

impl ListHeader {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A Thrift protocol: how field headers, scalars, strings and list headers
/// are written. Implemented by zero-sized types, so that the encoders
/// generic over it are monomorphized for each wire.
trait Protocol {
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
struct Compact;

impl Compact {
    const BOOL_TRUE: u8 = 1;
    const BOOL_FALSE: u8 = 2;
}

impl Protocol for Compact {
    const I32: u8 = 5;
    const I64: u8 = 6;
    const DOUBLE: u8 = 7;
    const STRING: u8 = 8;
    const LIST: u8 = 9;
    const STRUCT: u8 = 12;

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
struct Binary;

impl Binary {
    const BOOL: u8 = 2;

    /// A length or size as the protocol's `i32`. Anything longer than
    /// `i32::MAX` bytes cannot fit in a batch, so such a span is rejected
    /// (as too large) whatever its length prefix says.
    #[inline]
    fn size(len: usize) -> [u8; 4] {
        i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes()
    }
}

impl Protocol for Binary {
    const I32: u8 = 8;
    const I64: u8 = 10;
    const DOUBLE: u8 = 4;
    const STRING: u8 = 11;
    const LIST: u8 = 15;
    const STRUCT: u8 = 12;

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
fn write_str_limited<P: Protocol>(buf: &mut Vec<u8>, s: &str, max_len: Option<usize>) {
    match max_len {
        Some(max) if s.len() > max => {
            let cut = floor_char_boundary(s, max);
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

/// The largest char boundary of `s` that is `<= index`.
pub(crate) fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Writes the fields of one struct in protocol `P`, tracking the previous
/// field id (for the compact protocol's short field headers).
struct StructWriter<'a, P> {
    buf: &'a mut Vec<u8>,
    last_id: i16,
    protocol: PhantomData<P>,
}

impl<'a, P: Protocol> StructWriter<'a, P> {
    #[inline]
    fn new(buf: &'a mut Vec<u8>) -> Self {
        StructWriter {
            buf,
            last_id: 0,
            protocol: PhantomData,
        }
    }

    #[inline]
    fn field_header(&mut self, id: i16, field_type: u8) {
        P::field_header(self.buf, self.last_id, id, field_type);
        self.last_id = id;
    }

    #[inline]
    fn i32(&mut self, id: i16, value: i32) {
        self.field_header(id, P::I32);
        P::i32(self.buf, value);
    }

    #[inline]
    fn i64(&mut self, id: i16, value: i64) {
        self.field_header(id, P::I64);
        P::i64(self.buf, value);
    }

    #[inline]
    fn double(&mut self, id: i16, value: f64) {
        self.field_header(id, P::DOUBLE);
        P::double(self.buf, value);
    }

    #[inline]
    fn bool(&mut self, id: i16, value: bool) {
        P::bool_field(self.buf, self.last_id, id, value);
        self.last_id = id;
    }

    #[inline]
    fn string(&mut self, id: i16, value: &str, max_len: Option<usize>) {
        self.field_header(id, P::STRING);
        write_str_limited::<P>(self.buf, value, max_len);
    }

    /// Writes a list field header; the caller then writes `len` elements.
    #[inline]
    fn list(&mut self, id: i16, len: usize, elem_type: u8) {
        self.field_header(id, P::LIST);
        P::write_list_header(self.buf, len, elem_type);
    }

    /// The underlying buffer, for writing nested values.
    #[inline]
    fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    #[inline]
    fn end(self) {
        self.buf.push(STOP);
    }
}

/// A borrowed Jaeger tag value.
#[derive(Debug, Clone, Copy)]
enum TagRef<'a> {
    Str(&'a str),
    Double(f64),
    Bool(bool),
    Long(i64),
}

impl<'a> From<&'a TagValue> for TagRef<'a> {
    fn from(value: &'a TagValue) -> Self {
        match value {
            TagValue::String(s) => TagRef::Str(s),
            TagValue::Boolean(b) => TagRef::Bool(*b),
            TagValue::Integer(i) => TagRef::Long(*i),
            TagValue::Float(f) => TagRef::Double(*f),
        }
    }
}

/// Appends a jaeger.thrift `Tag` struct; string values are cut to
/// `max_str_len` bytes if given.
#[inline]
fn write_tag<P: Protocol>(
    buf: &mut Vec<u8>,
    key: &str,
    value: TagRef<'_>,
    max_str_len: Option<usize>,
) {
    let mut w = StructWriter::<P>::new(buf);
    w.string(1, key, None);
    match value {
        TagRef::Str(s) => {
            w.i32(2, TAG_STRING);
            w.string(3, s, max_str_len);
        }
        TagRef::Double(d) => {
            w.i32(2, TAG_DOUBLE);
            w.double(4, d);
        }
        TagRef::Bool(b) => {
            w.i32(2, TAG_BOOL);
            w.bool(5, b);
        }
        TagRef::Long(l) => {
            w.i32(2, TAG_LONG);
            w.i64(6, l);
        }
    }
    w.end();
}

/// Appends a jaeger.thrift `SpanRef` struct.
fn write_span_ref<P: Protocol>(buf: &mut Vec<u8>, reference: &SpanReference) {
    let kind = if reference.is_child_of() {
        REF_CHILD_OF
    } else {
        REF_FOLLOWS_FROM
    };
    let target = reference.span();
    let mut w = StructWriter::<P>::new(buf);
    w.i32(1, kind);
    w.i64(2, target.trace_id().low as i64);
    w.i64(3, target.trace_id().high as i64);
    w.i64(4, target.span_id() as i64);
    w.end();
}

/// Appends a jaeger.thrift `Log` struct (fields become string tags, their
/// values cut to `max_str_len` bytes if given).
fn write_log<P: Protocol>(
    buf: &mut Vec<u8>,
    log: &rustracing::log::Log,
    max_str_len: Option<usize>,
) {
    let mut w = StructWriter::<P>::new(buf);
    w.i64(1, micros_between(UNIX_EPOCH, log.time()));
    w.list(2, log.fields().len(), P::STRUCT);
    for field in log.fields() {
        let value = TagRef::Str(field.value());
        write_tag::<P>(w.buf(), field.name(), value, max_str_len);
    }
    w.end();
}

/// Appends a jaeger.thrift `Process` struct.
fn write_process<P: Protocol>(buf: &mut Vec<u8>, service_name: &str, tags: &[(&str, &str)]) {
    let mut w = StructWriter::<P>::new(buf);
    w.string(1, service_name, None);
    if !tags.is_empty() {
        w.list(2, tags.len(), P::STRUCT);
        for (key, value) in tags {
            write_tag::<P>(w.buf(), key, TagRef::Str(value), None);
        }
    }
    w.end();
}

/// Signed number of microseconds from `start` to `finish`, like
/// rustracing_jaeger computes timestamps and durations.
pub(crate) fn micros_between(start: SystemTime, finish: SystemTime) -> i64 {
    fn micros(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
    }
    match finish.duration_since(start) {
        Ok(d) => micros(d),
        Err(e) => -micros(e.duration()),
    }
}

/// Whether a span reference is reported (rustracing_jaeger skips references
/// to unsampled spans).
fn is_reported(reference: &&SpanReference) -> bool {
    reference.span().is_sampled()
}

/// The parent span id reported for `span`: the span id of its first
/// (sampled) reference in the same trace, 0 for a root span. (A reference
/// to another trace is a link, not a parent: Jaeger would turn a parent id
/// into a child-of reference within the span's own trace.)
pub(crate) fn parent_span_id(span: &FinishedSpan) -> u64 {
    let trace_id = span.context().state().trace_id();
    span.references()
        .iter()
        .filter(is_reported)
        .find(|r| r.span().trace_id() == trace_id)
        .map_or(0, |r| r.span().span_id())
}

/// How much of a span to leave out: the configured [limits](crate::limits),
/// and more so that an oversized span fits in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    /// Most logs encoded; the others are counted in a [`DROPPED_LOGS_TAG`]
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
    fn without_logs(self) -> Trim {
        Trim {
            max_logs: 0,
            ..self
        }
    }

    /// No logs, and strings cut to [`TRIMMED_STRING_LEN`] bytes (or less).
    fn truncated(self) -> Trim {
        let max = self
            .max_str_len
            .map_or(TRIMMED_STRING_LEN, |max| max.min(TRIMMED_STRING_LEN));
        Trim {
            max_logs: 0,
            max_str_len: Some(max),
        }
    }
}

/// Encodes `span` as a jaeger.thrift `Span` struct in protocol `P` into
/// `buf` (cleared first).
fn encode_span<P: Protocol>(buf: &mut Vec<u8>, span: &FinishedSpan, trim: Trim) {
    buf.clear();
    let state = span.context().state();
    let trace_id = state.trace_id();
    let ref_count = span.references().iter().filter(is_reported).count();
    let logs = span.logs();
    let kept_logs = &logs[..logs.len().min(trim.max_logs)];
    let dropped_logs = logs.len() - kept_logs.len();
    let tag_count =
        span.tags().len() + usize::from(state.debug_id().is_some()) + usize::from(dropped_logs > 0);

    let mut w = StructWriter::<P>::new(buf);
    w.i64(1, trace_id.low as i64);
    w.i64(2, trace_id.high as i64);
    w.i64(3, state.span_id() as i64);
    w.i64(4, parent_span_id(span) as i64);
    w.string(5, span.operation_name(), trim.max_str_len);
    if ref_count > 0 {
        w.list(6, ref_count, P::STRUCT);
        for reference in span.references().iter().filter(is_reported) {
            write_span_ref::<P>(w.buf(), reference);
        }
    }
    w.i32(7, i32::from(state.flags()));
    w.i64(8, micros_between(UNIX_EPOCH, span.start_time()));
    w.i64(9, micros_between(span.start_time(), span.finish_time()));
    if tag_count > 0 {
        w.list(10, tag_count, P::STRUCT);
        for tag in span.tags() {
            write_tag::<P>(w.buf(), tag.name(), tag.value().into(), trim.max_str_len);
        }
        if let Some(debug_id) = state.debug_id() {
            write_tag::<P>(
                w.buf(),
                DEBUG_ID_TAG,
                TagRef::Str(debug_id),
                trim.max_str_len,
            );
        }
        if dropped_logs > 0 {
            let count = i64::try_from(dropped_logs).unwrap_or(i64::MAX);
            write_tag::<P>(w.buf(), DROPPED_LOGS_TAG, TagRef::Long(count), None);
        }
    }
    if !kept_logs.is_empty() {
        w.list(11, kept_logs.len(), P::STRUCT);
        for log in kept_logs {
            write_log::<P>(w.buf(), log, trim.max_str_len);
        }
    }
    w.end();
}

/// The outcome of [`Batch::encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The span was encoded as it is.
    Whole,
    /// The span was trimmed to fit.
    Trimmed,
    /// The span does not fit even when trimmed; `buf` is empty.
    TooLarge,
}

/// Encodes `span` in protocol `P` into `buf` within `limits`, using at
/// most `max_len` bytes, trimming it if needed: first its logs are dropped,
/// then long strings are truncated.
fn encode_span_within<P: Protocol>(
    buf: &mut Vec<u8>,
    span: &FinishedSpan,
    max_len: usize,
    limits: Trim,
) -> Fit {
    encode_span::<P>(buf, span, limits);
    if buf.len() <= max_len {
        return Fit::Whole;
    }
    if limits.max_logs > 0 && !span.logs().is_empty() {
        encode_span::<P>(buf, span, limits.without_logs());
        if buf.len() <= max_len {
            return Fit::Trimmed;
        }
    }
    encode_span::<P>(buf, span, limits.truncated());
    if buf.len() <= max_len {
        return Fit::Trimmed;
    }
    buf.clear();
    Fit::TooLarge
}

/// Appends the beginning of a jaeger.thrift `Batch` struct, up to its
/// `spans` list: the `process` field and the `spans` field header.
fn write_batch_head<P: Protocol>(
    buf: &mut Vec<u8>,
    service_name: &str,
    process_tags: &[(&str, &str)],
) {
    let mut batch = StructWriter::<P>::new(buf);
    batch.field_header(1, P::STRUCT);
    write_process::<P>(batch.buf(), service_name, process_tags);
    batch.field_header(2, P::LIST);
}

/// Which Jaeger wire format a batch is encoded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// UDP agent: an `Agent.emitBatch` one-way message, Thrift compact protocol.
    Agent,
    /// HTTP collector: a bare `Batch` struct, Thrift binary protocol.
    Collector,
}

impl Wire {
    /// Everything that precedes the spans list header.
    fn prefix(self, service_name: &str, process_tags: &[(&str, &str)]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(64 + service_name.len());
        match self {
            Wire::Agent => {
                buf.push(PROTOCOL_ID);
                buf.push(VERSION_AND_ONEWAY);
                write_varint(&mut buf, 0); // sequence id
                write_str_limited::<Compact>(&mut buf, METHOD_NAME, None);
                // emitBatch_args.batch (field 1), then the Batch struct.
                StructWriter::<Compact>::new(&mut buf).field_header(1, Compact::STRUCT);
                write_batch_head::<Compact>(&mut buf, service_name, process_tags);
            }
            Wire::Collector => write_batch_head::<Binary>(&mut buf, service_name, process_tags),
        }
        buf
    }

    /// The header of the `Batch.spans` list.
    #[inline]
    fn spans_header(self, spans: usize) -> ListHeader {
        match self {
            Wire::Agent => Compact::list_header(spans, Compact::STRUCT),
            Wire::Collector => Binary::list_header(spans, Binary::STRUCT),
        }
    }

    /// The struct terminators closing a message: the `Batch` struct, and
    /// for the agent the `emitBatch` argument struct.
    fn trailer(self) -> &'static [u8] {
        match self {
            Wire::Agent => &[STOP, STOP],
            Wire::Collector => &[STOP],
        }
    }
}

/// A batch of encoded spans being filled, for one wire, of at most
/// `max_len` bytes in total: an `emitBatch` UDP datagram for
/// [`Wire::Agent`], an HTTP request body for [`Wire::Collector`].
///
/// The buffer reserves room for the prefix and the list header in front of
/// the spans, so finishing a batch never moves the (large) span bytes.
#[derive(Debug)]
pub(crate) struct Batch {
    wire: Wire,
    prefix: Vec<u8>,
    /// `prefix.len() + MAX_LIST_HEADER_LEN` reserved bytes, then the spans.
    buf: Vec<u8>,
    spans: usize,
    max_len: usize,
    /// The limits every span is encoded within.
    limits: Trim,
}

impl Batch {
    /// Makes an empty batch of at most `max_len` bytes for `wire`, and
    /// precomputes its prefix (the process with `service_name` and
    /// `process_tags`). Spans are encoded as they are: see
    /// [`Batch::with_limits`].
    pub(crate) fn new(
        wire: Wire,
        service_name: &str,
        process_tags: &[(&str, &str)],
        max_len: usize,
    ) -> Batch {
        let prefix = wire.prefix(service_name, process_tags);
        let head_len = prefix.len() + MAX_LIST_HEADER_LEN;
        let mut buf = Vec::with_capacity(head_len + max_len.min(MAX_PREALLOCATED_LEN));
        buf.resize(head_len, 0);
        Batch {
            wire,
            prefix,
            buf,
            spans: 0,
            max_len,
            limits: Trim::NONE,
        }
    }

    /// This batch, encoding every span within `limits`.
    pub(crate) fn with_limits(mut self, limits: Trim) -> Batch {
        self.limits = limits;
        self
    }

    /// Size of the encoded prefix: the message header (agent only), the
    /// `Batch.process` struct and the `Batch.spans` field header. The list
    /// header and trailer (at most 8 bytes) come on top, see
    /// [`Batch::max_span_len`].
    pub(crate) fn prefix_len(&self) -> usize {
        self.prefix.len()
    }

    fn head_len(&self) -> usize {
        self.prefix.len() + MAX_LIST_HEADER_LEN
    }

    fn body_len(&self) -> usize {
        self.buf.len() - self.head_len()
    }

    /// Size of the batch if it held `spans` spans and `body_len` bytes of them.
    fn total_len(&self, spans: usize, body_len: usize) -> usize {
        self.prefix.len() + self.wire.spans_header(spans).len + body_len + self.wire.trailer().len()
    }

    /// The largest encoded span that fits in an otherwise empty batch.
    pub(crate) fn max_span_len(&self) -> usize {
        self.max_len.saturating_sub(self.total_len(1, 0))
    }

    /// Encodes `span` for this batch's wire into `buf` (cleared first),
    /// trimming it to at most [`Batch::max_span_len`] bytes if needed:
    /// first its logs are dropped, then long strings are truncated.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>, span: &FinishedSpan) -> Fit {
        let max_len = self.max_span_len();
        match self.wire {
            Wire::Agent => encode_span_within::<Compact>(buf, span, max_len, self.limits),
            Wire::Collector => encode_span_within::<Binary>(buf, span, max_len, self.limits),
        }
    }

    /// Number of spans in the batch.
    pub(crate) fn span_count(&self) -> usize {
        self.spans
    }

    /// Whether the batch holds no span.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// Whether a span encoded in `span_len` bytes can be added.
    pub(crate) fn fits(&self, span_len: usize) -> bool {
        self.total_len(self.spans + 1, self.body_len() + span_len) <= self.max_len
    }

    /// Appends a span encoded by [`Batch::encode`] (check [`Batch::fits`]
    /// first).
    pub(crate) fn push(&mut self, encoded_span: &[u8]) {
        self.buf.extend_from_slice(encoded_span);
        self.spans += 1;
    }

    /// Completes the message and returns its bytes; call [`Batch::clear`]
    /// before pushing more spans.
    pub(crate) fn finish(&mut self) -> &[u8] {
        let header = self.wire.spans_header(self.spans);
        let header = header.as_bytes();
        let start = self.head_len() - header.len() - self.prefix.len();
        let prefix_end = start + self.prefix.len();
        self.buf[start..prefix_end].copy_from_slice(&self.prefix);
        self.buf[prefix_end..prefix_end + header.len()].copy_from_slice(header);
        self.buf.extend_from_slice(self.wire.trailer());
        &self.buf[start..]
    }

    /// Removes all spans, keeping the allocated buffer.
    pub(crate) fn clear(&mut self) {
        let head_len = self.head_len();
        self.buf.truncate(head_len);
        self.spans = 0;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustracing::sampler::AllSampler;
    use rustracing::tag::Tag;
    use rustracing_jaeger::span::{
        SpanContext, SpanContextState, SpanContextStateBuilder, TraceId,
    };
    use rustracing_jaeger::thrift::{agent, jaeger};
    use rustracing_jaeger::Tracer;
    use std::time::Duration;
    use thrift_codec::data::{Data, Elements, Field, List, Struct};
    use thrift_codec::message::{Message, MessageKind};
    use thrift_codec::{BinaryDecode, BinaryEncode, CompactDecode, CompactEncode};

    pub(crate) const T0_SECS: u64 = 1_700_000_000;

    const WIRES: [Wire; 2] = [Wire::Agent, Wire::Collector];

    pub(crate) fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0_SECS)
    }

    pub(crate) fn state(high: u64, low: u64, span_id: u64) -> SpanContextState {
        SpanContextStateBuilder::new()
            .trace_id(TraceId { high, low })
            .span_id(span_id)
            .finish()
    }

    /// Finishes the span built by `build` and returns it.
    pub(crate) fn finish<F>(build: F) -> FinishedSpan
    where
        F: FnOnce(&Tracer) -> rustracing_jaeger::Span,
    {
        let (tx, rx) = crossbeam_channel::unbounded();
        let tracer = Tracer::with_sender(AllSampler, tx);
        drop(build(&tracer));
        rx.try_recv().expect("a finished span")
    }

    /// A span using every feature: 128-bit trace id, tags of each type,
    /// logs, child-of and follows-from references, a debug id.
    pub(crate) fn full_span() -> FinishedSpan {
        // The parent is in the span's trace; the cause, in another one.
        let parent = SpanContext::new(state(0x8000_0000_0000_0001, u64::MAX, 0x1111), Vec::new());
        let cause = SpanContext::new(state(0xCCCC, 0xDDDD, 0x2222), Vec::new());
        let own = SpanContextStateBuilder::new()
            .trace_id(TraceId {
                high: 0x8000_0000_0000_0001,
                low: u64::MAX,
            })
            .span_id(0xDEAD_BEEF_0000_0001)
            .debug_id("dbg-42".to_owned())
            .finish();
        finish(|tracer| {
            let mut span = tracer
                .span("GET /hello/<name>")
                .child_of(&parent)
                .follows_from(&cause)
                .start_time(t0())
                .tag(Tag::new("a.str", "value"))
                .tag(Tag::new("b.bool", true))
                .tag(Tag::new("c.bool", false))
                .tag(Tag::new("d.long", -42i64))
                .tag(Tag::new("e.double", 2.5f64))
                .start_with_state(own);
            span.log(|log| {
                log.field(("event", "start"))
                    .field(("message", "hello"))
                    .time(t0() + Duration::from_micros(10));
            });
            span.log(|log| {
                log.field(("k", "v")).time(t0() + Duration::from_micros(20));
            });
            span.set_finish_time(|| t0() + Duration::from_micros(1234));
            span
        })
    }

    /// The decoded form of [`full_span`] (in either protocol).
    fn full_span_expected() -> Struct {
        let tag = |key: &str, kind: i32, id: i16, value: Data| {
            Struct::new(vec![
                Field::new(1, key),
                Field::new(2, kind),
                Field::new(id, value),
            ])
        };
        let span_ref = |kind: i32, high: i64, low: i64, id: i64| {
            Struct::new(vec![
                Field::new(1, kind),
                Field::new(2, low),
                Field::new(3, high),
                Field::new(4, id),
            ])
        };
        let log = |micros: i64, fields: Vec<Struct>| {
            Struct::new(vec![
                Field::new(1, T0_SECS as i64 * 1_000_000 + micros),
                Field::new(2, List::from(fields)),
            ])
        };
        Struct::new(vec![
            Field::new(1, -1i64), // u64::MAX as i64
            Field::new(2, 0x8000_0000_0000_0001u64 as i64),
            Field::new(3, 0xDEAD_BEEF_0000_0001u64 as i64),
            Field::new(4, 0x1111i64),
            Field::new(5, "GET /hello/<name>"),
            Field::new(
                6,
                List::from(vec![
                    span_ref(REF_CHILD_OF, 0x8000_0000_0000_0001u64 as i64, -1, 0x1111),
                    span_ref(REF_FOLLOWS_FROM, 0xCCCC, 0xDDDD, 0x2222),
                ]),
            ),
            Field::new(7, 3i32), // sampled | debug
            Field::new(8, T0_SECS as i64 * 1_000_000),
            Field::new(9, 1234i64),
            Field::new(
                10,
                List::from(vec![
                    tag("a.str", TAG_STRING, 3, Data::from("value")),
                    tag("b.bool", TAG_BOOL, 5, Data::from(true)),
                    tag("c.bool", TAG_BOOL, 5, Data::from(false)),
                    tag("d.long", TAG_LONG, 6, Data::from(-42i64)),
                    tag("e.double", TAG_DOUBLE, 4, Data::from(2.5f64)),
                    tag("jaeger-debug-id", TAG_STRING, 3, Data::from("dbg-42")),
                ]),
            ),
            Field::new(
                11,
                List::from(vec![
                    log(
                        10,
                        vec![string_tag("event", "start"), string_tag("message", "hello")],
                    ),
                    log(20, vec![string_tag("k", "v")]),
                ]),
            ),
        ])
    }

    fn simple_span(name: &'static str) -> FinishedSpan {
        finish(|tracer| {
            let mut span = tracer
                .span(name)
                .start_time(t0())
                .tag(Tag::new("k", "v"))
                .start();
            span.set_finish_time(|| t0() + Duration::from_millis(1));
            span
        })
    }

    fn string_tag(key: &str, value: &str) -> Struct {
        Struct::new(vec![
            Field::new(1, key),
            Field::new(2, TAG_STRING),
            Field::new(3, value),
        ])
    }

    /// Encodes `spans` into one batch for `wire` (panics if they do not fit).
    fn encode_batch(
        wire: Wire,
        service: &str,
        process_tags: &[(&str, &str)],
        spans: &[FinishedSpan],
    ) -> Vec<u8> {
        let mut batch = Batch::new(wire, service, process_tags, 65_000);
        let mut buf = Vec::new();
        for span in spans {
            assert_eq!(batch.encode(&mut buf, span), Fit::Whole);
            assert!(batch.fits(buf.len()));
            batch.push(&buf);
        }
        assert_eq!(batch.span_count(), spans.len());
        batch.finish().to_vec()
    }

    /// Encodes `spans` into one agent datagram (panics if they do not fit).
    fn datagram(service: &str, process_tags: &[(&str, &str)], spans: &[FinishedSpan]) -> Vec<u8> {
        encode_batch(Wire::Agent, service, process_tags, spans)
    }

    /// `encode_span_within` in the protocol of `wire`.
    fn encode_within(wire: Wire, buf: &mut Vec<u8>, span: &FinishedSpan, max_len: usize) -> Fit {
        match wire {
            Wire::Agent => encode_span_within::<Compact>(buf, span, max_len, Trim::NONE),
            Wire::Collector => encode_span_within::<Binary>(buf, span, max_len, Trim::NONE),
        }
    }

    /// `encode_span` (untrimmed) in the protocol of `wire`.
    fn encode_whole(wire: Wire, buf: &mut Vec<u8>, span: &FinishedSpan) {
        match wire {
            Wire::Agent => encode_span::<Compact>(buf, span, Trim::NONE),
            Wire::Collector => encode_span::<Binary>(buf, span, Trim::NONE),
        }
    }

    /// Decodes a whole compact `emitBatch` message.
    fn decode(bytes: &[u8]) -> Message {
        let mut reader = bytes;
        let message = Message::compact_decode(&mut reader).expect("a valid message");
        assert!(reader.is_empty(), "{} trailing bytes", reader.len());
        message
    }

    /// Decodes a whole binary struct (a collector body or one span).
    fn decode_binary(bytes: &[u8]) -> Struct {
        let mut reader = bytes;
        let decoded = Struct::binary_decode(&mut reader).expect("a valid binary struct");
        assert!(reader.is_empty(), "{} trailing bytes", reader.len());
        decoded
    }

    /// Decodes one span struct encoded for `wire`.
    fn decode_span(wire: Wire, bytes: &[u8]) -> Struct {
        match wire {
            Wire::Agent => {
                let mut reader = bytes;
                let decoded = Struct::compact_decode(&mut reader).expect("a valid span");
                assert!(reader.is_empty(), "{} trailing bytes", reader.len());
                decoded
            }
            Wire::Collector => decode_binary(bytes),
        }
    }

    /// The `(process, spans)` of a finished batch for `wire`.
    fn decode_batch(wire: Wire, bytes: &[u8]) -> (Struct, Vec<Struct>) {
        match wire {
            Wire::Agent => {
                let message = decode(bytes);
                let (process, spans) = batch(&message);
                (process.clone(), spans.to_vec())
            }
            Wire::Collector => {
                let body = decode_binary(bytes);
                let (process, spans) = collector_batch(&body);
                (process.clone(), spans.to_vec())
            }
        }
    }

    fn field(s: &Struct, id: i16) -> &Data {
        s.fields()
            .iter()
            .find(|f| f.id() == id)
            .map(Field::data)
            .unwrap_or_else(|| panic!("no field {id} in {s:?}"))
    }

    fn structs(data: &Data) -> &[Struct] {
        match data {
            Data::List(list) => match &**list {
                Elements::Struct(v) => v,
                other => panic!("not a list of structs: {other:?}"),
            },
            other => panic!("not a list: {other:?}"),
        }
    }

    fn struct_of(data: &Data) -> &Struct {
        match data {
            Data::Struct(s) => s,
            other => panic!("not a struct: {other:?}"),
        }
    }

    /// The `(process, spans)` of a decoded `emitBatch` message.
    fn batch(message: &Message) -> (&Struct, &[Struct]) {
        assert_eq!(message.method_name(), "emitBatch");
        assert_eq!(message.kind(), MessageKind::Oneway);
        assert_eq!(message.sequence_id(), 0);
        assert_eq!(message.body().fields().len(), 1);
        let batch = struct_of(field(message.body(), 1));
        collector_batch(batch)
    }

    /// The `(process, spans)` of a decoded `Batch` struct.
    fn collector_batch(batch: &Struct) -> (&Struct, &[Struct]) {
        let ids: Vec<i16> = batch.fields().iter().map(Field::id).collect();
        assert_eq!(ids, [1, 2]);
        (struct_of(field(batch, 1)), structs(field(batch, 2)))
    }

    /// The jaeger.thrift batch rustracing_jaeger makes for `spans`.
    fn reference_batch(
        service: &str,
        tags: &[(&str, &str)],
        spans: &[FinishedSpan],
    ) -> jaeger::Batch {
        let process = jaeger::Process {
            service_name: service.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| jaeger::Tag::String {
                    key: (*k).to_owned(),
                    value: (*v).to_owned(),
                })
                .collect(),
        };
        jaeger::Batch {
            process,
            spans: spans.iter().map(jaeger::Span::from).collect(),
        }
    }

    /// The datagram rustracing_jaeger (thrift_codec) encodes for `spans`.
    fn reference_datagram(service: &str, tags: &[(&str, &str)], spans: &[FinishedSpan]) -> Vec<u8> {
        let batch = reference_batch(service, tags, spans);
        let message = Message::from(agent::EmitBatchNotification { batch });
        let mut bytes = Vec::new();
        message.compact_encode(&mut bytes).unwrap();
        bytes
    }

    /// The collector body thrift_codec's binary encoder makes from
    /// rustracing_jaeger's batch for `spans`.
    fn reference_collector_body(
        service: &str,
        tags: &[(&str, &str)],
        spans: &[FinishedSpan],
    ) -> Vec<u8> {
        let batch = Struct::from(reference_batch(service, tags, spans));
        let mut bytes = Vec::new();
        batch.binary_encode(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn varint_encoding() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (300, &[0xAC, 0x02]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (
                u64::MAX,
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            ),
        ];
        for &(n, expected) in cases {
            let mut buf = Vec::new();
            write_varint(&mut buf, n);
            assert_eq!(buf, expected, "varint({n})");
        }
    }

    #[test]
    fn zigzag_encoding() {
        assert_eq!(zigzag_i64(0), 0);
        assert_eq!(zigzag_i64(-1), 1);
        assert_eq!(zigzag_i64(1), 2);
        assert_eq!(zigzag_i64(-2), 3);
        assert_eq!(zigzag_i64(i64::MAX), u64::MAX - 1);
        assert_eq!(zigzag_i64(i64::MIN), u64::MAX);
        assert_eq!(zigzag_i32(0), 0);
        assert_eq!(zigzag_i32(-1), 1);
        assert_eq!(zigzag_i32(1), 2);
        assert_eq!(zigzag_i32(i32::MAX), u32::MAX - 1);
        assert_eq!(zigzag_i32(i32::MIN), u32::MAX);
    }

    #[test]
    fn list_headers() {
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x0C]),
            (1, &[0x1C]),
            (14, &[0xEC]),
            (15, &[0xFC, 0x0F]),
            (127, &[0xFC, 0x7F]),
            (128, &[0xFC, 0x80, 0x01]),
            (u32::MAX as usize, &[0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        ];
        for &(len, expected) in cases {
            let mut buf = Vec::new();
            Compact::write_list_header(&mut buf, len, Compact::STRUCT);
            assert_eq!(buf, expected, "list header({len})");
        }
    }

    #[test]
    fn binary_list_headers() {
        let cases: &[(usize, &[u8])] = &[
            (0, &[12, 0, 0, 0, 0]),
            (1, &[12, 0, 0, 0, 1]),
            (300, &[12, 0, 0, 0x01, 0x2C]),
            (i32::MAX as usize, &[12, 0x7F, 0xFF, 0xFF, 0xFF]),
            // Clamped: such a list cannot fit in a batch anyway.
            (u32::MAX as usize, &[12, 0x7F, 0xFF, 0xFF, 0xFF]),
        ];
        for &(len, expected) in cases {
            let mut buf = Vec::new();
            Binary::write_list_header(&mut buf, len, Binary::STRUCT);
            assert_eq!(buf, expected, "list header({len})");
        }
    }

    #[test]
    fn field_header_long_form() {
        let mut buf = Vec::new();
        let mut w = StructWriter::<Compact>::new(&mut buf);
        w.i32(1, 7);
        w.i32(20, 7); // delta 19: long form
        w.i32(3, 7); // negative delta: long form
        w.end();
        assert_eq!(buf, [0x15, 14, 0x05, 40, 14, 0x05, 6, 14, 0x00]);
        let decoded = Struct::compact_decode(&mut &buf[..]).unwrap();
        assert_eq!(
            decoded,
            Struct::new(vec![
                Field::new(1, 7i32),
                Field::new(20, 7i32),
                Field::new(3, 7i32)
            ])
        );
    }

    #[test]
    fn binary_struct_encoding() {
        let mut buf = Vec::new();
        let mut w = StructWriter::<Binary>::new(&mut buf);
        w.i32(1, -2);
        w.i64(20, 0x0102_0304_0506_0708);
        w.double(3, 2.5);
        w.bool(4, true);
        w.bool(5, false);
        w.string(6, "héllo", None);
        w.string(7, "abcdef", Some(2));
        w.list(8, 0, Binary::STRUCT);
        w.end();
        let mut expected: Vec<u8> = Vec::new();
        expected.extend([8, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE]);
        expected.extend([10, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend([4, 0, 3, 0x40, 0x04, 0, 0, 0, 0, 0, 0]);
        expected.extend([2, 0, 4, 1]);
        expected.extend([2, 0, 5, 0]);
        expected.extend([11, 0, 6, 0, 0, 0, 6]);
        expected.extend("héllo".as_bytes());
        expected.extend([11, 0, 7, 0, 0, 0, 2 + TRUNCATION_MARKER.len() as u8]);
        expected.extend(b"ab");
        expected.extend(TRUNCATION_MARKER.as_bytes());
        expected.extend([15, 0, 8, 12, 0, 0, 0, 0]);
        expected.push(0);
        assert_eq!(buf, expected);
        let truncated = format!("ab{TRUNCATION_MARKER}");
        assert_eq!(
            decode_binary(&buf),
            Struct::new(vec![
                Field::new(1, -2i32),
                Field::new(20, 0x0102_0304_0506_0708i64),
                Field::new(3, 2.5f64),
                Field::new(4, true),
                Field::new(5, false),
                Field::new(6, "héllo"),
                Field::new(7, truncated.as_str()),
                Field::new(8, List::from(Vec::<Struct>::new())),
            ])
        );
    }

    #[test]
    fn message_header_and_process() {
        let bytes = datagram("svc", &[("hostname", "h1"), ("jaeger.version", "v")], &[]);
        assert_eq!(&bytes[..2], [0x82, 0x81]);
        assert_eq!(bytes[2], 0); // sequence id
        assert_eq!(&bytes[3..13], b"\x09emitBatch");
        let message = decode(&bytes);
        let (process, spans) = batch(&message);
        assert!(spans.is_empty());
        assert_eq!(
            process,
            &Struct::new(vec![
                Field::new(1, "svc"),
                Field::new(
                    2,
                    List::from(vec![
                        string_tag("hostname", "h1"),
                        string_tag("jaeger.version", "v")
                    ])
                ),
            ])
        );
        let without_tags = datagram("svc", &[], &[]);
        let message = decode(&without_tags);
        assert_eq!(batch(&message).0, &Struct::new(vec![Field::new(1, "svc")]));
    }

    #[test]
    fn collector_body_is_a_bare_batch_with_the_process() {
        let tags = [("hostname", "h1"), ("ip", "10.0.0.1")];
        let bytes = encode_batch(Wire::Collector, "my-svc", &tags, &[]);
        // No message header: Batch.process (STRUCT, field 1) comes first.
        assert_eq!(&bytes[..3], [12, 0, 1]);
        // Process.serviceName (STRING, field 1).
        assert_eq!(&bytes[3..16], b"\x0b\x00\x01\x00\x00\x00\x06my-svc");
        let body = decode_binary(&bytes);
        let (process, spans) = collector_batch(&body);
        assert!(spans.is_empty());
        assert_eq!(
            process,
            &Struct::new(vec![
                Field::new(1, "my-svc"),
                Field::new(
                    2,
                    List::from(vec![
                        string_tag("hostname", "h1"),
                        string_tag("ip", "10.0.0.1")
                    ])
                ),
            ])
        );

        let without_tags = encode_batch(Wire::Collector, "svc", &[], &[]);
        let body = decode_binary(&without_tags);
        assert_eq!(
            collector_batch(&body).0,
            &Struct::new(vec![Field::new(1, "svc")])
        );
    }

    #[test]
    fn prefix_len_and_framing() {
        // Collector, no tags: process field header (3), service name field
        // (3 + 4 + 3), process STOP (1), spans field header (3).
        let mut collector = Batch::new(Wire::Collector, "svc", &[], 1_000);
        assert_eq!(collector.prefix_len(), 17);
        // Then a 5-byte list header and the Batch STOP.
        assert_eq!(collector.finish().len(), 17 + 5 + 1);
        assert_eq!(collector.max_span_len(), 1_000 - (17 + 5 + 1));

        // Agent: message header (2 + 1 + 1 + 9), emitBatch_args.batch and
        // Batch.process headers (2), service name (1 + 1 + 3), STOP (1),
        // spans field header (1).
        let mut agent = Batch::new(Wire::Agent, "svc", &[], 1_000);
        assert_eq!(agent.prefix_len(), 22);
        // Then a 1-byte list header and two STOPs.
        assert_eq!(agent.finish().len(), 22 + 1 + 2);
        assert_eq!(agent.max_span_len(), 1_000 - (22 + 1 + 2));

        let tags = [("hostname", "a-rather-long-host-name")];
        for wire in WIRES {
            let with_tags = Batch::new(wire, "svc", &tags, 1_000);
            let without = Batch::new(wire, "svc", &[], 1_000);
            assert!(with_tags.prefix_len() > without.prefix_len() + 23);
        }
    }

    #[test]
    fn every_span_field_is_encoded() {
        let span = full_span();
        let bytes = datagram("svc", &[], &[span]);
        let message = decode(&bytes);
        let (_, spans) = batch(&message);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0], full_span_expected());
    }

    #[test]
    fn every_span_field_is_encoded_for_the_collector() {
        let span = full_span();
        let bytes = encode_batch(Wire::Collector, "svc", &[("k", "v")], &[span]);
        let body = decode_binary(&bytes);
        let (process, spans) = collector_batch(&body);
        assert_eq!(field(process, 1), &Data::from("svc"));
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0], full_span_expected());
    }

    #[test]
    fn root_span_omits_optional_fields() {
        let span = finish(|tracer| {
            let mut span = tracer
                .span("root")
                .start_time(t0())
                .start_with_state(state(0, 7, 8));
            span.set_finish_time(|| t0() - Duration::from_micros(5));
            span
        });
        let expected = Struct::new(vec![
            Field::new(1, 7i64),
            Field::new(2, 0i64),
            Field::new(3, 8i64),
            Field::new(4, 0i64),
            Field::new(5, "root"),
            Field::new(7, 1i32),
            Field::new(8, T0_SECS as i64 * 1_000_000),
            Field::new(9, -5i64),
        ]);
        for wire in WIRES {
            let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
            assert_eq!(
                decode_batch(wire, &bytes).1,
                std::slice::from_ref(&expected),
                "{wire:?}"
            );
        }
    }

    #[test]
    fn unsampled_references_are_skipped() {
        let unsampled: SpanContextState = "1:5:0:0".parse().unwrap();
        let unsampled = SpanContext::new(unsampled, Vec::new());
        let sampled = SpanContext::new(state(0, 1, 6), Vec::new());
        let span = finish(|tracer| {
            tracer
                .span("child")
                .child_of(&unsampled)
                .follows_from(&sampled)
                .start()
        });
        assert_eq!(parent_span_id(&span), 6);
        for wire in WIRES {
            let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
            let encoded = &decode_batch(wire, &bytes).1[0];
            assert_eq!(field(encoded, 4), &Data::I64(6));
            let refs = structs(field(encoded, 6));
            assert_eq!(refs.len(), 1);
            assert_eq!(field(&refs[0], 1), &Data::I32(REF_FOLLOWS_FROM));
            assert_eq!(field(&refs[0], 4), &Data::I64(6));
        }
    }

    #[test]
    fn matches_rustracing_jaeger_byte_for_byte() {
        let mut spans = vec![full_span()];
        for _ in 0..20 {
            spans.push(simple_span("simple"));
        }
        let tags = [("hostname", "host"), ("jaeger.version", "x-1")];
        assert_eq!(
            datagram("svc", &tags, &spans),
            reference_datagram("svc", &tags, &spans)
        );
        assert_eq!(
            datagram("svc", &[], &spans[..3]),
            reference_datagram("svc", &[], &spans[..3])
        );
    }

    #[test]
    fn collector_matches_thrift_codec_binary_byte_for_byte() {
        let mut spans = vec![full_span()];
        for _ in 0..20 {
            spans.push(simple_span("simple"));
        }
        let tags = [("hostname", "host"), ("jaeger.version", "x-1")];
        assert_eq!(
            encode_batch(Wire::Collector, "svc", &tags, &spans),
            reference_collector_body("svc", &tags, &spans)
        );
        assert_eq!(
            encode_batch(Wire::Collector, "svc", &[], &spans[..3]),
            reference_collector_body("svc", &[], &spans[..3])
        );
        assert_eq!(
            encode_batch(Wire::Collector, "svc", &[], &[]),
            reference_collector_body("svc", &[], &[])
        );
    }

    #[test]
    fn batch_holds_several_spans_in_order() {
        let spans = [
            simple_span("first"),
            full_span(),
            simple_span("third"),
            simple_span("fourth"),
        ];
        for wire in WIRES {
            let bytes = encode_batch(wire, "svc", &[("hostname", "h")], &spans);
            let (process, decoded) = decode_batch(wire, &bytes);
            assert_eq!(field(&process, 1), &Data::from("svc"), "{wire:?}");
            let names: Vec<&Data> = decoded.iter().map(|s| field(s, 5)).collect();
            assert_eq!(
                names,
                [
                    &Data::from("first"),
                    &Data::from("GET /hello/<name>"),
                    &Data::from("third"),
                    &Data::from("fourth")
                ],
                "{wire:?}"
            );
            assert_eq!(decoded[1], full_span_expected(), "{wire:?}");
            assert_eq!(field(&decoded[3], 9), &Data::I64(1_000), "{wire:?}");
        }
    }

    #[test]
    fn datagram_is_filled_up_to_its_limit() {
        let span = full_span();
        let mut buf = Vec::new();
        encode_span::<Compact>(&mut buf, &span, Trim::NONE);
        let mut datagram = Batch::new(Wire::Agent, "svc", &[], 5_000);
        while datagram.fits(buf.len()) {
            datagram.push(&buf);
        }
        let count = datagram.span_count();
        assert!(count > 15, "{count} spans");
        let bytes = datagram.finish().to_vec();
        assert!(bytes.len() <= 5_000);
        assert!(bytes.len() + buf.len() > 5_000);
        assert_eq!(batch(&decode(&bytes)).1.len(), count);

        // The buffer is reusable after clear().
        datagram.clear();
        assert!(datagram.is_empty());
        datagram.push(&buf);
        let bytes = datagram.finish().to_vec();
        assert_eq!(bytes, reference_datagram("svc", &[], &[span]));
    }

    #[test]
    fn finish_clear_and_reuse() {
        let tags = [("hostname", "h")];
        for wire in WIRES {
            let mut batch = Batch::new(wire, "svc", &tags, 10_000);
            assert!(batch.is_empty());
            let mut buf = Vec::new();
            for name in ["a", "b", "c"] {
                assert_eq!(batch.encode(&mut buf, &simple_span(name)), Fit::Whole);
                batch.push(&buf);
            }
            assert!(!batch.is_empty());
            assert_eq!(batch.span_count(), 3);
            let first = batch.finish().to_vec();
            let (_, spans) = decode_batch(wire, &first);
            assert_eq!(spans.len(), 3, "{wire:?}");
            assert_eq!(field(&spans[2], 5), &Data::from("c"), "{wire:?}");

            batch.clear();
            assert!(batch.is_empty());
            assert_eq!(batch.span_count(), 0);
            let empty = batch.finish().to_vec();
            assert!(decode_batch(wire, &empty).1.is_empty(), "{wire:?}");
            assert_eq!(empty, encode_batch(wire, "svc", &tags, &[]));

            batch.clear();
            let span = full_span();
            assert_eq!(batch.encode(&mut buf, &span), Fit::Whole);
            batch.push(&buf);
            let reused = batch.finish().to_vec();
            assert_eq!(
                reused,
                encode_batch(wire, "svc", &tags, &[span]),
                "{wire:?}"
            );
            assert_eq!(decode_batch(wire, &reused).1, [full_span_expected()]);
        }
    }

    #[test]
    fn fits_never_lets_a_batch_exceed_max_len() {
        let spans = [
            simple_span("s"),
            simple_span("a-longer-operation-name"),
            full_span(),
        ];
        for wire in WIRES {
            let mut encoded = Vec::new();
            for span in &spans {
                let mut buf = Vec::new();
                encode_whole(wire, &mut buf, span);
                encoded.push(buf);
            }
            let min_len = Batch::new(wire, "svc", &[], 0).total_len(1, 0);
            // Covers the compact list header growing from 1 to 2 bytes at 15
            // spans, and batches too small for any span.
            for max_len in (min_len..3_000).step_by(7) {
                let mut batch = Batch::new(wire, "svc", &[], max_len);
                let mut pushed = 0;
                // Cycle through the span sizes until one does not fit.
                for buf in encoded.iter().cycle() {
                    if !batch.fits(buf.len()) {
                        // Tight: one more span would really be too many bytes.
                        let growth =
                            wire.spans_header(pushed + 1).len - wire.spans_header(pushed).len;
                        let bytes = batch.finish().to_vec();
                        assert!(
                            bytes.len() + buf.len() + growth > max_len,
                            "{wire:?} max_len {max_len}"
                        );
                        batch.clear();
                        break;
                    }
                    batch.push(buf);
                    pushed += 1;
                }
                assert!(batch.is_empty());
                for buf in encoded.iter().cycle().take(pushed) {
                    batch.push(buf);
                }
                let bytes = batch.finish();
                assert!(
                    bytes.len() <= max_len,
                    "{wire:?}: {} > {max_len}",
                    bytes.len()
                );
                let (_, decoded) = decode_batch(wire, bytes);
                assert_eq!(decoded.len(), pushed, "{wire:?} max_len {max_len}");
                if pushed > 0 {
                    assert_eq!(decoded[0], decode_span(wire, &encoded[0]));
                }
            }
        }
    }

    #[test]
    fn max_span_len_leaves_room_for_the_framing() {
        for wire in WIRES {
            let mut batch = Batch::new(wire, "svc", &[], 1_000);
            let span = vec![0u8; batch.max_span_len()];
            assert!(batch.fits(span.len()));
            assert!(!batch.fits(span.len() + 1));
            batch.push(&span);
            assert_eq!(batch.finish().len(), 1_000, "{wire:?}");
        }
    }

    #[test]
    fn oversized_span_drops_logs_first() {
        let span = finish(|tracer| {
            let mut span = tracer.span("chatty").tag(Tag::new("k", "v")).start();
            for i in 0..2_000 {
                span.log(|log| {
                    log.field(("message", format!("log line number {i}")));
                });
            }
            span
        });
        for wire in WIRES {
            let mut buf = Vec::new();
            assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Trimmed);
            let encoded = decode_span(wire, &buf);
            assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
            assert_eq!(field(&encoded, 5), &Data::from("chatty"));
            let tags = structs(field(&encoded, 10));
            assert_eq!(tags.len(), 2);
            assert_eq!(tags[0], string_tag("k", "v"));
            assert_eq!(
                tags[1],
                Struct::new(vec![
                    Field::new(1, DROPPED_LOGS_TAG),
                    Field::new(2, TAG_LONG),
                    Field::new(6, 2_000i64)
                ])
            );
        }
    }

    #[test]
    fn oversized_span_truncates_long_strings() {
        // 'é' is two bytes: the cut must fall on a char boundary.
        let huge: String = std::iter::once('a')
            .chain(std::iter::repeat('é'))
            .take(50_000)
            .collect();
        let span = finish(|tracer| {
            let mut span = tracer
                .span("big")
                .tag(Tag::new("huge", huge.clone()))
                .tag(Tag::new("small", "kept"))
                .start();
            span.log(|log| {
                log.field(("k", "v"));
            });
            span
        });
        for wire in WIRES {
            let mut buf = Vec::new();
            assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Trimmed);
            assert!(buf.len() < 2_000);
            let encoded = decode_span(wire, &buf);
            let tags = structs(field(&encoded, 10));
            let Data::Binary(value) = field(&tags[0], 3) else {
                panic!("not a string tag: {:?}", tags[0]);
            };
            let value = String::from_utf8(value.clone()).expect("valid UTF-8");
            assert!(value.ends_with(TRUNCATION_MARKER));
            let kept = &value[..value.len() - TRUNCATION_MARKER.len()];
            assert_eq!(kept.len(), TRIMMED_STRING_LEN - 1);
            assert!(huge.starts_with(kept));
            assert_eq!(tags[1], string_tag("small", "kept"));
            // The dropped log is counted.
            assert_eq!(field(&tags[2], 1), &Data::from(DROPPED_LOGS_TAG));
            assert_eq!(field(&tags[2], 6), &Data::I64(1));
            assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
        }
    }

    #[test]
    fn batch_encode_trims_to_its_max_span_len() {
        let span = finish(|tracer| {
            let mut span = tracer
                .span("x".repeat(5_000))
                .tag(Tag::new("k", "v"))
                .start();
            span.log(|log| {
                log.field(("message", "a log"));
            });
            span
        });
        for wire in WIRES {
            let batch = Batch::new(wire, "svc", &[], 2_000);
            let mut buf = Vec::new();
            assert_eq!(batch.encode(&mut buf, &span), Fit::Trimmed, "{wire:?}");
            assert!(buf.len() <= batch.max_span_len());
            assert!(batch.fits(buf.len()));
            let encoded = decode_span(wire, &buf);
            let expected_name = format!("{}{TRUNCATION_MARKER}", "x".repeat(TRIMMED_STRING_LEN));
            assert_eq!(field(&encoded, 5), &Data::from(expected_name.as_str()));
            assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");

            // Whole when there is room, and the same bytes as the protocol's
            // encoder with that limit.
            let roomy = Batch::new(wire, "svc", &[], 60_000);
            assert_eq!(roomy.encode(&mut buf, &span), Fit::Whole);
            let mut direct = Vec::new();
            encode_within(wire, &mut direct, &span, roomy.max_span_len());
            assert_eq!(buf, direct);
            assert_eq!(structs(field(&decode_span(wire, &buf), 11)).len(), 1);

            // The limit is exactly max_span_len(): an untrimmable span of
            // that size fits, one byte more does not.
            let small = simple_span("small");
            let mut whole = Vec::new();
            encode_whole(wire, &mut whole, &small);
            let overhead = 1_000 - Batch::new(wire, "svc", &[], 1_000).max_span_len();
            let exact = Batch::new(wire, "svc", &[], overhead + whole.len());
            assert_eq!(exact.max_span_len(), whole.len());
            assert_eq!(exact.encode(&mut buf, &small), Fit::Whole);
            assert_eq!(buf, whole);
            let short = Batch::new(wire, "svc", &[], overhead + whole.len() - 1);
            assert_eq!(short.encode(&mut buf, &small), Fit::TooLarge, "{wire:?}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn span_too_large_even_when_trimmed() {
        let span = finish(|tracer| {
            let mut span = tracer.span("tags").start();
            span.set_tags(|| (0..5_000).map(|i| Tag::new(format!("tag-{i}"), i as i64)));
            span
        });
        for wire in WIRES {
            let mut buf = Vec::new();
            assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::TooLarge);
            assert!(buf.is_empty());
            let batch = Batch::new(wire, "svc", &[], 60_000);
            buf.push(1);
            assert_eq!(batch.encode(&mut buf, &span), Fit::TooLarge);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn small_span_is_encoded_whole() {
        let span = simple_span("small");
        for wire in WIRES {
            let mut buf = Vec::new();
            assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Whole);
            let mut whole = Vec::new();
            encode_whole(wire, &mut whole, &span);
            assert_eq!(buf, whole);
            assert_eq!(field(&decode_span(wire, &buf), 5), &Data::from("small"));
            // Exactly at the limit is fine; one byte less cannot be trimmed away.
            assert_eq!(
                encode_within(wire, &mut buf, &span, whole.len()),
                Fit::Whole
            );
            assert_eq!(
                encode_within(wire, &mut buf, &span, whole.len() - 1),
                Fit::TooLarge
            );
        }
    }

    #[test]
    fn limits_cut_values_and_count_logs_at_their_boundaries() {
        let logged = |logs: usize| {
            finish(|tracer| {
                let mut span = tracer
                    .span("operation") // 9 bytes: cut
                    .tag(Tag::new("exact", "12345678"))
                    .tag(Tag::new("over", "123456789"))
                    // 'é' is two bytes: cut on a char boundary, at 8 bytes.
                    .tag(Tag::new("wide", "ééééé"))
                    .tag(Tag::new("number", 1_234_567_890_123i64))
                    .start();
                for _ in 0..logs {
                    span.log(|log| {
                        log.field(("message", "abcdefghij"));
                    });
                }
                span
            })
        };
        let cut = |kept: &str| format!("{kept}{TRUNCATION_MARKER}");
        for wire in WIRES {
            let batch = Batch::new(wire, "svc", &[], 60_000).with_limits(Trim::limits(8, 2));
            let mut buf = Vec::new();

            // Exactly the most logs: all kept, no count.
            assert_eq!(batch.encode(&mut buf, &logged(2)), Fit::Whole, "{wire:?}");
            let encoded = decode_span(wire, &buf);
            assert_eq!(field(&encoded, 5), &Data::from(cut("operatio")));
            let tags = structs(field(&encoded, 10));
            assert_eq!(tags.len(), 4, "no dropped-logs tag: {tags:?}");
            // (rustracing sorts tags by name)
            assert_eq!(tags[0], string_tag("exact", "12345678"));
            assert_eq!(field(&tags[1], 6), &Data::I64(1_234_567_890_123));
            assert_eq!(tags[2], string_tag("over", &cut("12345678")));
            assert_eq!(tags[3], string_tag("wide", &cut("éééé")));
            let logs = structs(field(&encoded, 11));
            assert_eq!(logs.len(), 2);
            let fields = structs(field(&logs[0], 2));
            assert_eq!(fields[0], string_tag("message", &cut("abcdefgh")));

            // One log more: left out and counted.
            assert_eq!(batch.encode(&mut buf, &logged(3)), Fit::Whole, "{wire:?}");
            let encoded = decode_span(wire, &buf);
            assert_eq!(structs(field(&encoded, 11)).len(), 2);
            let tags = structs(field(&encoded, 10));
            assert_eq!(field(&tags[4], 1), &Data::from(DROPPED_LOGS_TAG));
            assert_eq!(field(&tags[4], 6), &Data::I64(1));

            // No logs at all.
            let silent = Batch::new(wire, "svc", &[], 60_000).with_limits(Trim::limits(8, 0));
            assert_eq!(silent.encode(&mut buf, &logged(1)), Fit::Whole);
            let encoded = decode_span(wire, &buf);
            assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
        }
    }

    #[test]
    fn a_reference_to_another_trace_is_a_link_not_a_parent() {
        let other_trace = SpanContext::new(state(0, 0xBBBB, 0x1111), Vec::new());
        let own = state(0, 0xAAAA, 0x2222);
        let span = finish(|tracer| {
            tracer
                .span("linked")
                .follows_from(&other_trace)
                .start_with_state(own)
        });
        assert_eq!(parent_span_id(&span), 0);
        for wire in WIRES {
            let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
            let encoded = &decode_batch(wire, &bytes).1[0];
            assert_eq!(field(encoded, 4), &Data::I64(0), "no parent");
            let refs = structs(field(encoded, 6));
            assert_eq!(refs.len(), 1);
            assert_eq!(field(&refs[0], 1), &Data::I32(REF_FOLLOWS_FROM));
            assert_eq!(field(&refs[0], 2), &Data::I64(0xBBBB));
            assert_eq!(field(&refs[0], 4), &Data::I64(0x1111));
        }
    }
}
