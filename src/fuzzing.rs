//! Entry points for the fuzz targets in `fuzz/`, behind the `fuzzing`
//! cargo feature: the trace viewer's collector-body decoders (Thrift, and
//! OTLP with the `otlp` feature) and the span records they give, and the
//! crate-private bounds and markers the targets check against. Not part of
//! the API an application uses.

pub use crate::viewer::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue};

use crate::viewer::ingest::{decode_batch as decode, IngestLimits};

/// The most baggage items extraction keeps by default
/// ([`Limits::max_baggage_items`](crate::Limits::max_baggage_items) of
/// [`Limits::DEFAULT`](crate::Limits::DEFAULT)).
pub const MAX_BAGGAGE_ITEMS: usize = crate::limits::DEFAULT_MAX_BAGGAGE_ITEMS;

/// The most bytes of baggage keys and values extraction keeps by default
/// ([`Limits::max_baggage_bytes`](crate::Limits::max_baggage_bytes) of
/// [`Limits::DEFAULT`](crate::Limits::DEFAULT)).
pub const MAX_BAGGAGE_BYTES: usize = crate::limits::DEFAULT_MAX_BAGGAGE_BYTES;

/// The longest `jaeger-debug-id` extraction keeps; a longer one is ignored.
pub const MAX_DEBUG_ID_LEN: usize = crate::propagation::jaeger::MAX_DEBUG_ID_LEN;

/// What ends a string value cut to a length limit (by the reporter, and by
/// the viewer's collector endpoint within its limits).
pub const TRUNCATION_MARKER: &str = crate::limits::TRUNCATION_MARKER;

/// The tag counting the logs of a span left out past a logs limit.
pub const DROPPED_LOGS_TAG: &str = crate::limits::DROPPED_LOGS_TAG;

/// Decodes a Jaeger collector body (a binary-Thrift `Batch`) as the trace
/// viewer's collector endpoint does, string values cut to `max_str_len`
/// bytes and at most `max_logs` logs kept per span: the spans, or the
/// error's message.
pub fn decode_batch(
    body: &[u8],
    max_str_len: usize,
    max_logs: usize,
) -> Result<Vec<SpanRecord>, String> {
    let limits = IngestLimits {
        max_str_len,
        max_logs,
    };
    decode(body, limits).map_err(|e| e.to_string())
}

/// Decodes an OTLP/HTTP body (a protobuf `ExportTraceServiceRequest`,
/// uncompressed) as the trace viewer's OTLP endpoint does, within the same
/// limits as [`decode_batch`]: the spans and how many were left out for an
/// invalid id, or the error's message.
#[cfg(feature = "otlp")]
pub fn decode_otlp(
    body: &[u8],
    max_str_len: usize,
    max_logs: usize,
) -> Result<(Vec<SpanRecord>, usize), String> {
    let limits = IngestLimits {
        max_str_len,
        max_logs,
    };
    crate::viewer::ingest::otlp::decode_request(body, limits)
        .map(|decoded| (decoded.spans, decoded.rejected))
        .map_err(|e| e.to_string())
}
