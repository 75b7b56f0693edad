//! The decoder behind the viewer's OTLP/HTTP endpoint
//! (`POST /_traces/v1/traces`): the body, one protobuf
//! `ExportTraceServiceRequest` (what an OpenTelemetry SDK's OTLP/HTTP
//! exporter sends with `http/protobuf`, gzip-compressed or not), becomes
//! [`SpanRecord`]s. The messages are decoded with prost, from
//! [declarations](proto) mirroring the official definitions (the subset the
//! mapping reads, with the official field numbers).
//!
//! The body comes from the network, so everything is bounded, whatever the
//! bytes say:
//!
//! - the body is at most 1 MiB as received (as the Thrift intake's), and at
//!   most [`MAX_INFLATED_BYTES`] once gunzipped: [`gunzip`] stops reading
//!   one byte past that (a gzip bomb costs no more);
//! - before prost builds anything, a [walk](bounds) over the body checks
//!   that messages (an `AnyValue` holding an array holding an `AnyValue`...,
//!   and groups in unknown fields) nest at most [`MAX_DEPTH`] deep, that
//!   every length fits in the bytes left, that known fields have their wire
//!   type, and that the structs prost would build take at most
//!   [`MAX_MESSAGE_BYTES`] (an empty span is 2 bytes of body and a struct
//!   of hundreds). The walk allocates nothing; prost's own recursion limit
//!   is not relied on (any crate of the application can turn it off);
//! - the decoded spans may take at most 16 MiB (as the store counts them),
//!   the Thrift intake's budget: the service name is copied into every
//!   span;
//! - no panics, no unchecked arithmetic.
//!
//! Decisions:
//!
//! - Fields the mapping does not read, of any wire type, are skipped, as
//!   prost skips unknown fields; a known field of the wrong wire type is an
//!   error naming it (prost refuses it too). An empty body is a valid,
//!   empty request.
//! - Strings are read as bytes: invalid UTF-8 is replaced with U+FFFD
//!   (before limits apply), rather than refusing the whole body.
//! - A span whose trace id is not 16 bytes or is all zero, whose span id is
//!   not 8 bytes or is all zero, or whose parent span id is neither empty
//!   nor 8 bytes, is left out and counted: the answer's
//!   `partial_success.rejected_spans`. A parent span id of 8 zero bytes is
//!   no parent, as the Thrift intake reads a `parentSpanId` of 0.
//! - The parent becomes `parent_span_id` and a `child_of` reference; each
//!   link, a `follows_from` reference (links with an invalid id are left
//!   out; their attributes, which a reference has no place for, too).
//! - Times: nanoseconds since the epoch, truncated to microseconds; an end
//!   before the start is a duration of 0.
//! - The span's service is its resource's `service.name` attribute (missing
//!   or empty: `"unknown"`); the other resource attributes are left out,
//!   as the Thrift intake leaves out the process tags.
//! - Attributes become tags, in order: strings, booleans, integers and
//!   doubles as such; bytes as lower-case hex; arrays and key-value lists
//!   as their JSON text (`["a",1,true]`, `{"k":"v"}`; bytes in them as
//!   hex strings, non-finite doubles and missing values as `null`); an
//!   attribute without a value is left out. Then, after the attributes:
//!   `span.kind` (`server`, `client`, `producer`, `consumer`, `internal`;
//!   none when unspecified); `otel.scope.name` and `otel.scope.version`
//!   (the instrumentation scope, when set); for a status `OK`,
//!   `otel.status_code = "OK"`; for `ERROR`, `otel.status_code = "ERROR"`,
//!   `error = true` (the status wins: an `error` attribute, whatever its
//!   value, becomes this one tag where it stands) and the status message as
//!   `otel.status_description` (when set).
//! - Events become logs: the event's time; its name as the `event` field
//!   (when set), then its attributes as fields.
//! - The [limits](IngestLimits) are the Thrift intake's: string values
//!   (tag and log field values, JSON texts, the operation name, the
//!   status description, the scope's name and version; not keys, not the
//!   service name) are cut, marked `...[truncated]`; events past the limit
//!   are left out and counted, with the sender's `dropped_events_count`, in
//!   a `rocket_opentracing.dropped_logs` tag, last.

mod bounds;
mod map;
pub(crate) mod proto;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use prost::Message;

use super::reader::MAX_DECODED_BYTES;
use super::IngestLimits;
use crate::viewer::model::SpanRecord;
use bounds::wire_name;
pub(crate) use bounds::{MAX_DEPTH, MAX_MESSAGE_BYTES};
use proto::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};

/// Most bytes a gzip-compressed body may hold once decompressed.
pub(crate) const MAX_INFLATED_BYTES: usize = 4 * 1024 * 1024;

/// The spans of a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    /// The spans to store, in the request's order.
    pub(crate) spans: Vec<SpanRecord>,
    /// Spans left out for an invalid id.
    pub(crate) rejected: usize,
}

/// Why a body is not an `ExportTraceServiceRequest` within the bounds. Its
/// message is short and never quotes the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OtlpError {
    /// The body ends inside the value (or the group) starting at this
    /// byte, or a value overruns the message holding it.
    Truncated {
        /// Offset of the value.
        at: usize,
    },
    /// A varint longer than 10 bytes, or past 64 bits.
    BadVarint {
        /// Its offset.
        at: usize,
    },
    /// A field key with field number 0, past 32 bits, or of a wire type
    /// protobuf does not have.
    BadKey {
        /// Its offset.
        at: usize,
    },
    /// The end of a group that was not started.
    UnexpectedEndGroup {
        /// Its offset.
        at: usize,
    },
    /// A known field whose wire type is not the schema's.
    WrongWireType {
        /// The field, as `Message.field`.
        field: &'static str,
        /// Its wire type.
        found: u8,
        /// The schema's.
        expected: u8,
    },
    /// A length larger than the rest of its message holds.
    Oversized {
        /// The length.
        size: u64,
        /// Its offset.
        at: usize,
        /// Bytes left after it.
        left: usize,
    },
    /// Messages nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// The decoded messages would take more than [`MAX_MESSAGE_BYTES`].
    TooLargeMessage,
    /// The decoded spans would take more than the 16 MiB budget.
    TooLargeDecoded,
    /// prost refused a body the walk accepted (details logged at debug
    /// level).
    Protobuf,
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OtlpError::Truncated { at } => write!(f, "truncated body at byte {at}"),
            OtlpError::BadVarint { at } => write!(f, "invalid varint at byte {at}"),
            OtlpError::BadKey { at } => write!(f, "invalid field key at byte {at}"),
            OtlpError::UnexpectedEndGroup { at } => {
                write!(f, "unexpected end of group at byte {at}")
            }
            OtlpError::WrongWireType {
                field,
                found,
                expected,
            } => write!(
                f,
                "{field}: wire type {}, expected {}",
                wire_name(found),
                wire_name(expected)
            ),
            OtlpError::Oversized { size, at, left } => {
                write!(
                    f,
                    "length {size} at byte {at} exceeds the {left} bytes left"
                )
            }
            OtlpError::TooDeep => write!(f, "messages nested deeper than {MAX_DEPTH}"),
            OtlpError::TooLargeMessage => write!(
                f,
                "messages larger than {} MiB once decoded",
                MAX_MESSAGE_BYTES >> 20
            ),
            OtlpError::TooLargeDecoded => write!(
                f,
                "spans larger than {} MiB once decoded",
                MAX_DECODED_BYTES >> 20
            ),
            OtlpError::Protobuf => f.write_str("invalid protobuf message"),
        }
    }
}

impl std::error::Error for OtlpError {}

/// Decodes a request body, one protobuf `ExportTraceServiceRequest`
/// (decompressed), into the spans it holds, within `limits` (see the
/// [module documentation](self) for what is checked, left out or cut).
pub(crate) fn decode_request(body: &[u8], limits: IngestLimits) -> Result<Decoded, OtlpError> {
    let limits = IngestLimits {
        max_str_len: limits.max_str_len.max(1),
        ..limits
    };
    bounds::check(body)?;
    let request = ExportTraceServiceRequest::decode(body).map_err(|e| {
        log::debug!("rocket_opentracing: prost refused an OTLP body the bounds admitted: {e}");
        OtlpError::Protobuf
    })?;
    map::spans(&request, limits)
}

/// Why a gzip body was not decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It is not gzip data (or is cut short).
    Invalid,
    /// It decompresses to more than the bound.
    TooLarge,
}

/// Decompresses a gzip body (one or more members), reading at most one
/// byte more than `max`.
pub(crate) fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let bound = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    MultiGzDecoder::new(body)
        .take(bound)
        .read_to_end(&mut inflated)
        .map_err(|_| InflateError::Invalid)?;
    if inflated.len() > max {
        return Err(InflateError::TooLarge);
    }
    Ok(inflated)
}

/// The body of a `200` answer: an `ExportTraceServiceResponse`, empty when
/// every span was kept, else with a `partial_success` counting the
/// `rejected` spans and saying why.
pub(crate) fn response_body(rejected: usize) -> Vec<u8> {
    let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: format!(
            "{rejected} span{} left out: a trace id is 16 bytes and a span id 8 bytes, \
             neither all zero, and a parent span id is empty or 8 bytes",
            if rejected == 1 { "" } else { "s" }
        ),
    });
    ExportTraceServiceResponse { partial_success }.encode_to_vec()
}

/// gRPC's canonical code `INVALID_ARGUMENT`: the `code` of a
/// `google.rpc.Status` answering `400` or `415`.
pub(crate) const INVALID_ARGUMENT: i32 = 3;

/// gRPC's canonical code `RESOURCE_EXHAUSTED`: the `code` of a
/// `google.rpc.Status` answering `413`.
pub(crate) const RESOURCE_EXHAUSTED: i32 = 8;

/// gRPC's canonical code `UNKNOWN`, for a failure without a closer code.
pub(crate) const UNKNOWN: i32 = 2;

/// The gRPC canonical code of a failure answered with the HTTP status
/// `http`: `413` is `RESOURCE_EXHAUSTED`, `400` and `415`
/// `INVALID_ARGUMENT` (never `0`, which is `OK`).
pub(crate) fn rpc_code(http: u16) -> i32 {
    match http {
        413 => RESOURCE_EXHAUSTED,
        400 | 415 => INVALID_ARGUMENT,
        _ => UNKNOWN,
    }
}

/// The body of a `4xx` answer (HTTP status `http`) to a protobuf request:
/// a `google.rpc.Status` with the canonical code of `http` (see
/// [`rpc_code`]) and `message`.
pub(crate) fn status_body(http: u16, message: &str) -> Vec<u8> {
    proto::RpcStatus {
        code: rpc_code(http),
        message: message.to_owned(),
    }
    .encode_to_vec()
}
