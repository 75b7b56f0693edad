//! The batch being filled, in the destination's encoding: Jaeger Thrift
//! (agent or collector) or OTLP.

#[cfg(feature = "otlp")]
use super::otlp;
use super::thrift::{self, Wire};
use super::trim::{Fit, Trim};
use crate::record::Record;

/// How a destination wants its spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Jaeger's Thrift, for the agent or the collector.
    Thrift(Wire),
    /// OTLP protobuf.
    #[cfg(feature = "otlp")]
    Otlp,
}

/// A batch of encoded spans being filled.
#[derive(Debug)]
pub(crate) enum Batch {
    Thrift(thrift::Batch),
    #[cfg(feature = "otlp")]
    Otlp(otlp::Batch),
}

impl Batch {
    /// An empty batch of at most `max_len` bytes for `encoding`, for the
    /// process `service_name` with `process_tags`, encoding spans within
    /// `limits`.
    pub(crate) fn new(
        encoding: Encoding,
        service_name: &str,
        process_tags: &[(&str, &str)],
        max_len: usize,
        limits: Trim,
    ) -> Batch {
        match encoding {
            Encoding::Thrift(wire) => Batch::Thrift(
                thrift::Batch::new(wire, service_name, process_tags, max_len).with_limits(limits),
            ),
            #[cfg(feature = "otlp")]
            Encoding::Otlp => Batch::Otlp(otlp::Batch::new(
                service_name,
                process_tags,
                max_len,
                otlp::MAX_OTLP_BATCH_SPANS,
                limits,
            )),
        }
    }

    /// Size of what every batch holds besides its spans.
    pub(crate) fn prefix_len(&self) -> usize {
        match self {
            Batch::Thrift(batch) => batch.prefix_len(),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.prefix_len(),
        }
    }

    /// The largest encoded span that fits in an otherwise empty batch.
    pub(crate) fn max_span_len(&self) -> usize {
        match self {
            Batch::Thrift(batch) => batch.max_span_len(),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.max_span_len(),
        }
    }

    /// Encodes `span` into `buf` (cleared first), trimmed to fit if needed.
    #[inline]
    pub(crate) fn encode(&self, buf: &mut Vec<u8>, span: &Record) -> Fit {
        match self {
            Batch::Thrift(batch) => batch.encode(buf, span),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.encode(buf, span),
        }
    }

    /// Number of spans in the batch.
    pub(crate) fn span_count(&self) -> usize {
        match self {
            Batch::Thrift(batch) => batch.span_count(),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.span_count(),
        }
    }

    /// Whether the batch holds no span.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Batch::Thrift(batch) => batch.is_empty(),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.is_empty(),
        }
    }

    /// Whether a span encoded in `span_len` bytes can be added.
    #[inline]
    pub(crate) fn fits(&self, span_len: usize) -> bool {
        match self {
            Batch::Thrift(batch) => batch.fits(span_len),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.fits(span_len),
        }
    }

    /// Appends a span encoded by [`Batch::encode`] (check [`Batch::fits`]
    /// first).
    #[inline]
    pub(crate) fn push(&mut self, encoded_span: &[u8]) {
        match self {
            Batch::Thrift(batch) => batch.push(encoded_span),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.push(encoded_span),
        }
    }

    /// Completes the message and hands over its buffer: the message is
    /// `bytes[start..]`. The batch is left empty.
    pub(crate) fn take(&mut self) -> (Vec<u8>, usize) {
        match self {
            Batch::Thrift(batch) => batch.take(),
            #[cfg(feature = "otlp")]
            Batch::Otlp(batch) => batch.take(),
        }
    }
}
