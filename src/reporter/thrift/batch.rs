//! A batch of encoded spans behind a precomputed prefix, for either wire.

use crate::record::Record;

use super::protocol::{
    write_str_limited, write_varint, Binary, Compact, ListHeader, Protocol, StructWriter,
    MAX_LIST_HEADER_LEN,
};
use super::span::{encode_span_within, write_process, Fit, RequestTagTemplates, Trim};
use super::wire::{METHOD_NAME, PROTOCOL_ID, STOP, VERSION_AND_ONEWAY};

/// Largest buffer a [`Batch`] allocates up front; bigger batches (HTTP
/// collector bodies) grow on demand.
const MAX_PREALLOCATED_LEN: usize = 1 << 16;

/// Appends the beginning of a jaeger.thrift `Batch` struct, up to its
/// `spans` list: the `process` field and the `spans` field header.
pub(super) fn write_batch_head<P: Protocol>(
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
    #[cfg_attr(not(feature = "collector"), allow(dead_code))]
    Collector,
}

impl Wire {
    /// Everything that precedes the spans list header.
    pub(super) fn prefix(self, service_name: &str, process_tags: &[(&str, &str)]) -> Vec<u8> {
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
    pub(super) fn spans_header(self, spans: usize) -> ListHeader {
        match self {
            Wire::Agent => Compact::list_header(spans, Compact::STRUCT),
            Wire::Collector => Binary::list_header(spans, Binary::STRUCT),
        }
    }

    /// The struct terminators closing a message: the `Batch` struct, and
    /// for the agent the `emitBatch` argument struct.
    pub(super) fn trailer(self) -> &'static [u8] {
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
    /// The first tags of request records, encoded for this wire.
    request_tags: RequestTagTemplates,
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
            request_tags: match wire {
                Wire::Agent => RequestTagTemplates::new::<Compact>(),
                Wire::Collector => RequestTagTemplates::new::<Binary>(),
            },
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

    pub(super) fn head_len(&self) -> usize {
        self.prefix.len() + MAX_LIST_HEADER_LEN
    }

    pub(super) fn body_len(&self) -> usize {
        self.buf.len() - self.head_len()
    }

    /// Size of the batch if it held `spans` spans and `body_len` bytes of them.
    pub(super) fn total_len(&self, spans: usize, body_len: usize) -> usize {
        self.prefix.len() + self.wire.spans_header(spans).len + body_len + self.wire.trailer().len()
    }

    /// The largest encoded span that fits in an otherwise empty batch.
    pub(crate) fn max_span_len(&self) -> usize {
        self.max_len.saturating_sub(self.total_len(1, 0))
    }

    /// Encodes `span` for this batch's wire into `buf` (cleared first),
    /// trimming it to at most [`Batch::max_span_len`] bytes if needed:
    /// first its logs are dropped, then long strings are truncated.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>, span: &Record) -> Fit {
        let max_len = self.max_span_len();
        match self.wire {
            Wire::Agent => {
                encode_span_within::<Compact>(buf, span, max_len, self.limits, &self.request_tags)
            }
            Wire::Collector => {
                encode_span_within::<Binary>(buf, span, max_len, self.limits, &self.request_tags)
            }
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

    /// Completes the message and hands over its buffer, without copying:
    /// the message is `bytes[start..]`. The batch is left empty, with a new
    /// buffer.
    pub(crate) fn take(&mut self) -> (Vec<u8>, usize) {
        let message_len = self.finish().len();
        let start = self.buf.len() - message_len;
        let head_len = self.head_len();
        let mut fresh = Vec::with_capacity(self.buf.capacity());
        fresh.resize(head_len, 0);
        let bytes = std::mem::replace(&mut self.buf, fresh);
        self.spans = 0;
        (bytes, start)
    }

    /// Removes all spans, keeping the allocated buffer.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        let head_len = self.head_len();
        self.buf.truncate(head_len);
        self.spans = 0;
    }
}
