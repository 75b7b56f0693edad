//! Entry points for the fuzz targets in `fuzz/`, behind the `fuzzing`
//! cargo feature: the trace viewer's collector-body decoder and the span
//! records it gives. Not part of the API an application uses.

pub use crate::viewer::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue};

use crate::viewer::ingest::{decode_batch as decode, IngestLimits};

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
