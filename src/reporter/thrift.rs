//! A hand-written Thrift *compact protocol* encoder for the subset of
//! [jaeger.thrift] / [agent.thrift] that the reporter sends: one
//! `Agent.emitBatch` message per UDP datagram.
//!
//! Spans are encoded straight from `&FinishedSpan` into reusable byte buffers:
//! no intermediate thrift structs, no per-span `String` clones. The mapping
//! from a `FinishedSpan` to a Jaeger span is the same as
//! `impl From<&FinishedSpan> for rustracing_jaeger::thrift::jaeger::Span`.
//!
//! A [`Datagram`] accumulates encoded spans behind a precomputed prefix (the
//! message header, the `Batch.process` struct and the `Batch.spans` field
//! header); only the list header, which depends on the number of spans, is
//! written when the datagram is finished.
//!
//! [jaeger.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/jaeger.thrift
//! [agent.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/agent.thrift

use rustracing::tag::TagValue;
use rustracing_jaeger::span::{FinishedSpan, SpanReference};
use std::time::{SystemTime, UNIX_EPOCH};

/// Compact protocol identifier (first byte of every message).
const PROTOCOL_ID: u8 = 0x82;
/// Version 1 with message type ONEWAY (4) in the upper three bits.
const VERSION_AND_ONEWAY: u8 = 0x01 | (4 << 5);
/// The agent method carrying a batch of spans.
const METHOD_NAME: &str = "emitBatch";

// Compact protocol type identifiers (field headers and list element types).
const TYPE_BOOL_TRUE: u8 = 1;
const TYPE_BOOL_FALSE: u8 = 2;
const TYPE_I32: u8 = 5;
const TYPE_I64: u8 = 6;
const TYPE_DOUBLE: u8 = 7;
const TYPE_BINARY: u8 = 8;
const TYPE_LIST: u8 = 9;
const TYPE_STRUCT: u8 = 12;

/// Struct terminator.
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
const DEBUG_ID_TAG: &str = "jaeger-debug-id";

/// Tag added to a trimmed span whose logs were dropped; its value is the
/// number of logs dropped.
pub(crate) const DROPPED_LOGS_TAG: &str = "rocket_opentracing.dropped_logs";

/// Appended to string values truncated while trimming an oversized span.
pub(crate) const TRUNCATION_MARKER: &str = "...[truncated]";

/// Length (in bytes) string tag values are cut to when trimming.
pub(crate) const TRIMMED_STRING_LEN: usize = 1024;

/// Upper bound of the encoded size of a list header (type byte + u32 varint).
const MAX_LIST_HEADER_LEN: usize = 1 + 5;

/// Bytes closing a datagram: the `Batch` and the `emitBatch` argument structs.
const TRAILER_LEN: usize = 2;

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

/// Appends a length-prefixed binary/string value.
#[inline]
fn write_binary(buf: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends `s`, cut to at most `max_len` bytes (on a char boundary) followed
/// by [`TRUNCATION_MARKER`] if it is longer than `max_len`.
#[inline]
fn write_str_limited(buf: &mut Vec<u8>, s: &str, max_len: Option<usize>) {
    match max_len {
        Some(max) if s.len() > max => {
            let cut = floor_char_boundary(s, max);
            write_varint(buf, (cut + TRUNCATION_MARKER.len()) as u64);
            buf.extend_from_slice(&s.as_bytes()[..cut]);
            buf.extend_from_slice(TRUNCATION_MARKER.as_bytes());
        }
        _ => write_binary(buf, s.as_bytes()),
    }
}

/// The largest char boundary of `s` that is `<= index`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Encodes a list header for `len` (at most `u32::MAX`) elements of compact
/// type `elem_type`; returns the bytes and how many of them are used.
#[inline]
fn list_header(len: usize, elem_type: u8) -> ([u8; MAX_LIST_HEADER_LEN], usize) {
    let mut bytes = [0u8; MAX_LIST_HEADER_LEN];
    if len < 15 {
        bytes[0] = ((len as u8) << 4) | elem_type;
        return (bytes, 1);
    }
    bytes[0] = 0xF0 | elem_type;
    // Lists longer than u32::MAX cannot be encoded (nor fit in a datagram).
    let mut n = len.min(u32::MAX as usize) as u64;
    let mut used = 1;
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            bytes[used] = byte;
            return (bytes, used + 1);
        }
        bytes[used] = byte | 0x80;
        used += 1;
    }
}

/// Appends a list header for `len` elements of compact type `elem_type`.
#[inline]
fn write_list_header(buf: &mut Vec<u8>, len: usize, elem_type: u8) {
    let (bytes, used) = list_header(len, elem_type);
    buf.extend_from_slice(&bytes[..used]);
}

/// Encoded size of a list header for `len` elements.
fn list_header_len(len: usize) -> usize {
    list_header(len, 0).1
}

/// Writes the fields of one struct, tracking the previous field id so that
/// field headers can use the short (delta) form.
struct StructWriter<'a> {
    buf: &'a mut Vec<u8>,
    last_id: i16,
}

impl<'a> StructWriter<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Self {
        StructWriter { buf, last_id: 0 }
    }

    #[inline]
    fn field_header(&mut self, id: i16, field_type: u8) {
        let delta = id - self.last_id;
        if (1..=15).contains(&delta) {
            self.buf.push(((delta as u8) << 4) | field_type);
        } else {
            self.buf.push(field_type);
            write_varint(self.buf, u64::from(zigzag_i32(i32::from(id))));
        }
        self.last_id = id;
    }

    #[inline]
    fn i32(&mut self, id: i16, value: i32) {
        self.field_header(id, TYPE_I32);
        write_varint(self.buf, u64::from(zigzag_i32(value)));
    }

    #[inline]
    fn i64(&mut self, id: i16, value: i64) {
        self.field_header(id, TYPE_I64);
        write_varint(self.buf, zigzag_i64(value));
    }

    #[inline]
    fn double(&mut self, id: i16, value: f64) {
        self.field_header(id, TYPE_DOUBLE);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn bool(&mut self, id: i16, value: bool) {
        let field_type = if value {
            TYPE_BOOL_TRUE
        } else {
            TYPE_BOOL_FALSE
        };
        self.field_header(id, field_type);
    }

    #[inline]
    fn string(&mut self, id: i16, value: &str, max_len: Option<usize>) {
        self.field_header(id, TYPE_BINARY);
        write_str_limited(self.buf, value, max_len);
    }

    /// Writes a list field header; the caller then writes `len` elements.
    #[inline]
    fn list(&mut self, id: i16, len: usize, elem_type: u8) {
        self.field_header(id, TYPE_LIST);
        write_list_header(self.buf, len, elem_type);
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
fn write_tag(buf: &mut Vec<u8>, key: &str, value: TagRef<'_>, max_str_len: Option<usize>) {
    let mut w = StructWriter::new(buf);
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
fn write_span_ref(buf: &mut Vec<u8>, reference: &SpanReference) {
    let kind = if reference.is_child_of() {
        REF_CHILD_OF
    } else {
        REF_FOLLOWS_FROM
    };
    let target = reference.span();
    let mut w = StructWriter::new(buf);
    w.i32(1, kind);
    w.i64(2, target.trace_id().low as i64);
    w.i64(3, target.trace_id().high as i64);
    w.i64(4, target.span_id() as i64);
    w.end();
}

/// Appends a jaeger.thrift `Log` struct (fields become string tags).
fn write_log(buf: &mut Vec<u8>, log: &rustracing::log::Log) {
    let mut w = StructWriter::new(buf);
    w.i64(1, micros_between(UNIX_EPOCH, log.time()));
    w.list(2, log.fields().len(), TYPE_STRUCT);
    for field in log.fields() {
        write_tag(w.buf(), field.name(), TagRef::Str(field.value()), None);
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
/// (sampled) reference, 0 for a root span.
pub(crate) fn parent_span_id(span: &FinishedSpan) -> u64 {
    span.references()
        .iter()
        .find(is_reported)
        .map_or(0, |r| r.span().span_id())
}

/// How much of a span to leave out so that it fits in a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Trim {
    /// Leave out all logs (and add a [`DROPPED_LOGS_TAG`] tag instead).
    pub(crate) drop_logs: bool,
    /// Cut string tag values (and the operation name) to this many bytes.
    pub(crate) max_str_len: Option<usize>,
}

impl Trim {
    /// Encode the span as it is.
    pub(crate) const NONE: Trim = Trim {
        drop_logs: false,
        max_str_len: None,
    };
    /// Leave out the logs.
    pub(crate) const DROP_LOGS: Trim = Trim {
        drop_logs: true,
        max_str_len: None,
    };
    /// Leave out the logs and cut long strings.
    pub(crate) const DROP_LOGS_AND_TRUNCATE: Trim = Trim {
        drop_logs: true,
        max_str_len: Some(TRIMMED_STRING_LEN),
    };
}

/// Encodes `span` as a jaeger.thrift `Span` struct into `buf` (cleared first).
pub(crate) fn encode_span(buf: &mut Vec<u8>, span: &FinishedSpan, trim: Trim) {
    buf.clear();
    let state = span.context().state();
    let trace_id = state.trace_id();
    let ref_count = span.references().iter().filter(is_reported).count();
    let dropped_logs = if trim.drop_logs { span.logs().len() } else { 0 };
    let tag_count =
        span.tags().len() + usize::from(state.debug_id().is_some()) + usize::from(dropped_logs > 0);

    let mut w = StructWriter::new(buf);
    w.i64(1, trace_id.low as i64);
    w.i64(2, trace_id.high as i64);
    w.i64(3, state.span_id() as i64);
    w.i64(4, parent_span_id(span) as i64);
    w.string(5, span.operation_name(), trim.max_str_len);
    if ref_count > 0 {
        w.list(6, ref_count, TYPE_STRUCT);
        for reference in span.references().iter().filter(is_reported) {
            write_span_ref(w.buf(), reference);
        }
    }
    w.i32(7, i32::from(state.flags()));
    w.i64(8, micros_between(UNIX_EPOCH, span.start_time()));
    w.i64(9, micros_between(span.start_time(), span.finish_time()));
    if tag_count > 0 {
        w.list(10, tag_count, TYPE_STRUCT);
        for tag in span.tags() {
            write_tag(w.buf(), tag.name(), tag.value().into(), trim.max_str_len);
        }
        if let Some(debug_id) = state.debug_id() {
            write_tag(
                w.buf(),
                DEBUG_ID_TAG,
                TagRef::Str(debug_id),
                trim.max_str_len,
            );
        }
        if dropped_logs > 0 {
            let count = i64::try_from(dropped_logs).unwrap_or(i64::MAX);
            write_tag(w.buf(), DROPPED_LOGS_TAG, TagRef::Long(count), None);
        }
    }
    if !trim.drop_logs && !span.logs().is_empty() {
        w.list(11, span.logs().len(), TYPE_STRUCT);
        for log in span.logs() {
            write_log(w.buf(), log);
        }
    }
    w.end();
}

/// The outcome of [`encode_span_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The span was encoded as it is.
    Whole,
    /// The span was trimmed to fit.
    Trimmed,
    /// The span does not fit even when trimmed; `buf` is empty.
    TooLarge,
}

/// Encodes `span` into `buf` using at most `max_len` bytes, trimming it if
/// needed: first its logs are dropped, then long strings are truncated.
pub(crate) fn encode_span_within(buf: &mut Vec<u8>, span: &FinishedSpan, max_len: usize) -> Fit {
    encode_span(buf, span, Trim::NONE);
    if buf.len() <= max_len {
        return Fit::Whole;
    }
    if !span.logs().is_empty() {
        encode_span(buf, span, Trim::DROP_LOGS);
        if buf.len() <= max_len {
            return Fit::Trimmed;
        }
    }
    encode_span(buf, span, Trim::DROP_LOGS_AND_TRUNCATE);
    if buf.len() <= max_len {
        return Fit::Trimmed;
    }
    buf.clear();
    Fit::TooLarge
}

/// Encodes everything in an `emitBatch` message that precedes the spans:
/// the message header, the opening of the argument and `Batch` structs, the
/// `Process` struct and the header of the `Batch.spans` list field.
pub(crate) fn batch_prefix(service_name: &str, process_tags: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + service_name.len());
    buf.push(PROTOCOL_ID);
    buf.push(VERSION_AND_ONEWAY);
    write_varint(&mut buf, 0); // sequence id
    write_binary(&mut buf, METHOD_NAME.as_bytes());

    // emitBatch_args.batch (field 1), Batch.process (field 1).
    buf.push((1 << 4) | TYPE_STRUCT);
    buf.push((1 << 4) | TYPE_STRUCT);
    let mut process = StructWriter::new(&mut buf);
    process.string(1, service_name, None);
    if !process_tags.is_empty() {
        process.list(2, process_tags.len(), TYPE_STRUCT);
        for (key, value) in process_tags {
            write_tag(process.buf(), key, TagRef::Str(value), None);
        }
    }
    process.end();

    // Batch.spans (field 2, delta 1); the list header follows.
    buf.push((1 << 4) | TYPE_LIST);
    buf
}

/// One `emitBatch` UDP datagram being filled with encoded spans.
///
/// The buffer reserves room for the prefix and the list header in front of
/// the spans, so finishing a datagram never moves the (large) span bytes.
#[derive(Debug)]
pub(crate) struct Datagram {
    prefix: Vec<u8>,
    /// `prefix.len() + MAX_LIST_HEADER_LEN` reserved bytes, then the spans.
    buf: Vec<u8>,
    spans: usize,
    max_len: usize,
}

impl Datagram {
    /// Makes an empty datagram of at most `max_len` bytes from a prefix
    /// returned by [`batch_prefix`].
    pub(crate) fn new(prefix: Vec<u8>, max_len: usize) -> Self {
        let mut buf = Vec::with_capacity(max_len + MAX_LIST_HEADER_LEN);
        buf.resize(prefix.len() + MAX_LIST_HEADER_LEN, 0);
        Datagram {
            prefix,
            buf,
            spans: 0,
            max_len,
        }
    }

    fn head_len(&self) -> usize {
        self.prefix.len() + MAX_LIST_HEADER_LEN
    }

    fn body_len(&self) -> usize {
        self.buf.len() - self.head_len()
    }

    /// Size of the datagram if it held `spans` spans and `body_len` bytes of them.
    fn total_len(&self, spans: usize, body_len: usize) -> usize {
        self.prefix.len() + list_header_len(spans) + body_len + TRAILER_LEN
    }

    /// The largest encoded span that fits in an otherwise empty datagram.
    pub(crate) fn max_span_len(&self) -> usize {
        self.max_len.saturating_sub(self.total_len(1, 0))
    }

    /// Number of spans in the datagram.
    pub(crate) fn span_count(&self) -> usize {
        self.spans
    }

    /// Whether the datagram holds no span.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// Whether a span encoded in `span_len` bytes can be added.
    pub(crate) fn fits(&self, span_len: usize) -> bool {
        self.total_len(self.spans + 1, self.body_len() + span_len) <= self.max_len
    }

    /// Appends an encoded span (check [`Datagram::fits`] first).
    pub(crate) fn push(&mut self, encoded_span: &[u8]) {
        self.buf.extend_from_slice(encoded_span);
        self.spans += 1;
    }

    /// Completes the message and returns its bytes; call
    /// [`Datagram::clear`] before pushing more spans.
    pub(crate) fn finish(&mut self) -> &[u8] {
        let (header, header_len) = list_header(self.spans, TYPE_STRUCT);
        let start = self.head_len() - header_len - self.prefix.len();
        let prefix_end = start + self.prefix.len();
        self.buf[start..prefix_end].copy_from_slice(&self.prefix);
        self.buf[prefix_end..prefix_end + header_len].copy_from_slice(&header[..header_len]);
        self.buf.push(STOP); // end of Batch
        self.buf.push(STOP); // end of emitBatch_args
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
    use thrift_codec::{CompactDecode, CompactEncode};

    const T0_SECS: u64 = 1_700_000_000;

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0_SECS)
    }

    fn state(high: u64, low: u64, span_id: u64) -> SpanContextState {
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
    fn full_span() -> FinishedSpan {
        let parent = SpanContext::new(state(0xAAAA, 0xBBBB, 0x1111), Vec::new());
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

    /// Encodes `spans` into one datagram (panics if they do not fit).
    fn datagram(service: &str, process_tags: &[(&str, &str)], spans: &[FinishedSpan]) -> Vec<u8> {
        let mut datagram = Datagram::new(batch_prefix(service, process_tags), 65_000);
        let mut buf = Vec::new();
        for span in spans {
            assert_eq!(
                encode_span_within(&mut buf, span, datagram.max_span_len()),
                Fit::Whole
            );
            assert!(datagram.fits(buf.len()));
            datagram.push(&buf);
        }
        datagram.finish().to_vec()
    }

    fn decode(bytes: &[u8]) -> Message {
        let mut reader = bytes;
        let message = Message::compact_decode(&mut reader).expect("a valid message");
        assert!(reader.is_empty(), "{} trailing bytes", reader.len());
        message
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
        assert_eq!(batch.fields().len(), 2);
        (struct_of(field(batch, 1)), structs(field(batch, 2)))
    }

    /// The datagram rustracing_jaeger (thrift_codec) encodes for `spans`.
    fn reference_datagram(service: &str, tags: &[(&str, &str)], spans: &[FinishedSpan]) -> Vec<u8> {
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
        let batch = jaeger::Batch {
            process,
            spans: spans.iter().map(jaeger::Span::from).collect(),
        };
        let message = Message::from(agent::EmitBatchNotification { batch });
        let mut bytes = Vec::new();
        message.compact_encode(&mut bytes).unwrap();
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
            write_list_header(&mut buf, len, TYPE_STRUCT);
            assert_eq!(buf, expected, "list header({len})");
            assert_eq!(list_header_len(len), expected.len());
        }
    }

    #[test]
    fn field_header_long_form() {
        let mut buf = Vec::new();
        let mut w = StructWriter::new(&mut buf);
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
    fn every_span_field_is_encoded() {
        let span = full_span();
        let bytes = datagram("svc", &[], &[span]);
        let message = decode(&bytes);
        let (_, spans) = batch(&message);
        assert_eq!(spans.len(), 1);

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
        let expected = Struct::new(vec![
            Field::new(1, -1i64), // u64::MAX as i64
            Field::new(2, 0x8000_0000_0000_0001u64 as i64),
            Field::new(3, 0xDEAD_BEEF_0000_0001u64 as i64),
            Field::new(4, 0x1111i64),
            Field::new(5, "GET /hello/<name>"),
            Field::new(
                6,
                List::from(vec![
                    span_ref(REF_CHILD_OF, 0xAAAA, 0xBBBB, 0x1111),
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
        ]);
        assert_eq!(spans[0], expected);
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
        let message = decode(&datagram("svc", &[], &[span]));
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
        assert_eq!(batch(&message).1, [expected]);
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
        let message = decode(&datagram("svc", &[], &[span]));
        let encoded = &batch(&message).1[0];
        assert_eq!(field(encoded, 4), &Data::I64(6));
        assert_eq!(structs(field(encoded, 6)).len(), 1);
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
    fn datagram_is_filled_up_to_its_limit() {
        let span = full_span();
        let mut buf = Vec::new();
        encode_span(&mut buf, &span, Trim::NONE);
        let mut datagram = Datagram::new(batch_prefix("svc", &[]), 5_000);
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
    fn max_span_len_leaves_room_for_the_framing() {
        let mut datagram = Datagram::new(batch_prefix("svc", &[]), 1_000);
        let span = vec![0u8; datagram.max_span_len()];
        assert!(datagram.fits(span.len()));
        assert!(!datagram.fits(span.len() + 1));
        datagram.push(&span);
        assert_eq!(datagram.finish().len(), 1_000);
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
        let mut buf = Vec::new();
        assert_eq!(encode_span_within(&mut buf, &span, 60_000), Fit::Trimmed);
        let encoded = Struct::compact_decode(&mut &buf[..]).unwrap();
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
        let tags = structs(field(&encoded, 10));
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
        let mut buf = Vec::new();
        assert_eq!(encode_span_within(&mut buf, &span, 60_000), Fit::Trimmed);
        assert!(buf.len() < 2_000);
        let encoded = Struct::compact_decode(&mut &buf[..]).unwrap();
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
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
    }

    #[test]
    fn span_too_large_even_when_trimmed() {
        let span = finish(|tracer| {
            let mut span = tracer.span("tags").start();
            span.set_tags(|| (0..5_000).map(|i| Tag::new(format!("tag-{i}"), i as i64)));
            span
        });
        let mut buf = Vec::new();
        assert_eq!(encode_span_within(&mut buf, &span, 60_000), Fit::TooLarge);
        assert!(buf.is_empty());
    }

    #[test]
    fn small_span_is_encoded_whole() {
        let span = simple_span("small");
        let mut buf = Vec::new();
        assert_eq!(encode_span_within(&mut buf, &span, 60_000), Fit::Whole);
        let mut whole = Vec::new();
        encode_span(&mut whole, &span, Trim::NONE);
        assert_eq!(buf, whole);
        // Exactly at the limit is fine; one byte less cannot be trimmed away.
        assert_eq!(encode_span_within(&mut buf, &span, whole.len()), Fit::Whole);
        assert_eq!(
            encode_span_within(&mut buf, &span, whole.len() - 1),
            Fit::TooLarge
        );
    }
}
