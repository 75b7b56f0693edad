//! The subset of the OpenTelemetry protocol's protobuf definitions the
//! intake reads, as prost messages, with the official field numbers:
//! `opentelemetry/proto/collector/trace/v1/trace_service.proto`
//! (`ExportTraceServiceRequest`, `ExportTraceServiceResponse`),
//! `trace/v1/trace.proto` (`ResourceSpans`, `ScopeSpans`, `Span` and its
//! `Event`, `Link`, `Status`), `common/v1/common.proto` (`KeyValue`,
//! `AnyValue`, `ArrayValue`, `KeyValueList`, `InstrumentationScope`) and
//! `resource/v1/resource.proto` (`Resource`); plus `google.rpc.Status`, the
//! body of a failure answer.
//!
//! Fields the intake has no use for are not declared: prost skips them
//! like any unknown field (`schema_url`, `trace_state`, `flags`, the
//! `dropped_*_count`s other than the span's `dropped_events_count`, the
//! scope's and the links' attributes, `entity_refs`, the profiles-only
//! `*_strindex` fields...).
//!
//! The official definitions' `string` fields are declared `bytes` (the
//! same wire type): prost refuses a whole message for one invalid UTF-8
//! string, where the intake replaces the invalid bytes with U+FFFD, as its
//! Thrift intake does.

/// `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`: the
/// body of `POST /v1/traces`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTraceServiceRequest {
    /// `resource_spans = 1`.
    #[prost(message, repeated, tag = "1")]
    pub(crate) resource_spans: Vec<ResourceSpans>,
}

/// `opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse`:
/// the body of a `200` answer.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTraceServiceResponse {
    /// `partial_success = 1`: set when spans were left out.
    #[prost(message, optional, tag = "1")]
    pub(crate) partial_success: Option<ExportTracePartialSuccess>,
}

/// `opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExportTracePartialSuccess {
    /// `rejected_spans = 1`: how many spans were left out.
    #[prost(int64, tag = "1")]
    pub(crate) rejected_spans: i64,
    /// `error_message = 2`: why.
    #[prost(string, tag = "2")]
    pub(crate) error_message: String,
}

/// `google.rpc.Status`: the body of every `4xx` answer to a protobuf
/// request (no `details`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    /// `code = 1`: the gRPC canonical code of the failure (never `0`, `OK`).
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    /// `message = 2`: what went wrong, for a developer.
    #[prost(string, tag = "2")]
    pub(crate) message: String,
}

/// `opentelemetry.proto.trace.v1.ResourceSpans`: the spans of one
/// resource (a process, a service).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResourceSpans {
    /// `resource = 1`.
    #[prost(message, optional, tag = "1")]
    pub(crate) resource: Option<Resource>,
    /// `scope_spans = 2`.
    #[prost(message, repeated, tag = "2")]
    pub(crate) scope_spans: Vec<ScopeSpans>,
}

/// `opentelemetry.proto.resource.v1.Resource`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Resource {
    /// `attributes = 1` (`service.name` among them).
    #[prost(message, repeated, tag = "1")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.trace.v1.ScopeSpans`: the spans one
/// instrumentation library made.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ScopeSpans {
    /// `scope = 1`.
    #[prost(message, optional, tag = "1")]
    pub(crate) scope: Option<InstrumentationScope>,
    /// `spans = 2`.
    #[prost(message, repeated, tag = "2")]
    pub(crate) spans: Vec<Span>,
}

/// `opentelemetry.proto.common.v1.InstrumentationScope`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InstrumentationScope {
    /// `name = 1` (a `string`).
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) name: Vec<u8>,
    /// `version = 2` (a `string`).
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) version: Vec<u8>,
}

/// `opentelemetry.proto.trace.v1.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Span {
    /// `trace_id = 1`: 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) trace_id: Vec<u8>,
    /// `span_id = 2`: 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) span_id: Vec<u8>,
    /// `parent_span_id = 4`: 8 bytes, or empty for a root span.
    #[prost(bytes = "vec", tag = "4")]
    pub(crate) parent_span_id: Vec<u8>,
    /// `name = 5` (a `string`).
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) name: Vec<u8>,
    /// `kind = 6`: a [`SpanKind`].
    #[prost(enumeration = "SpanKind", tag = "6")]
    pub(crate) kind: i32,
    /// `start_time_unix_nano = 7`.
    #[prost(fixed64, tag = "7")]
    pub(crate) start_time_unix_nano: u64,
    /// `end_time_unix_nano = 8`.
    #[prost(fixed64, tag = "8")]
    pub(crate) end_time_unix_nano: u64,
    /// `attributes = 9`.
    #[prost(message, repeated, tag = "9")]
    pub(crate) attributes: Vec<KeyValue>,
    /// `events = 11`.
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<Event>,
    /// `dropped_events_count = 12`: events the sender left out.
    #[prost(uint32, tag = "12")]
    pub(crate) dropped_events_count: u32,
    /// `links = 13`.
    #[prost(message, repeated, tag = "13")]
    pub(crate) links: Vec<Link>,
    /// `status = 15`.
    #[prost(message, optional, tag = "15")]
    pub(crate) status: Option<Status>,
}

/// `opentelemetry.proto.trace.v1.Span.SpanKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum SpanKind {
    /// `SPAN_KIND_UNSPECIFIED = 0`.
    Unspecified = 0,
    /// `SPAN_KIND_INTERNAL = 1`.
    Internal = 1,
    /// `SPAN_KIND_SERVER = 2`.
    Server = 2,
    /// `SPAN_KIND_CLIENT = 3`.
    Client = 3,
    /// `SPAN_KIND_PRODUCER = 4`.
    Producer = 4,
    /// `SPAN_KIND_CONSUMER = 5`.
    Consumer = 5,
}

/// `opentelemetry.proto.trace.v1.Span.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    /// `time_unix_nano = 1`.
    #[prost(fixed64, tag = "1")]
    pub(crate) time_unix_nano: u64,
    /// `name = 2` (a `string`).
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) name: Vec<u8>,
    /// `attributes = 3`.
    #[prost(message, repeated, tag = "3")]
    pub(crate) attributes: Vec<KeyValue>,
}

/// `opentelemetry.proto.trace.v1.Span.Link`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Link {
    /// `trace_id = 1`: 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) trace_id: Vec<u8>,
    /// `span_id = 2`: 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) span_id: Vec<u8>,
}

/// `opentelemetry.proto.trace.v1.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    /// `message = 2` (a `string`).
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) message: Vec<u8>,
    /// `code = 3`: a [`StatusCode`].
    #[prost(enumeration = "StatusCode", tag = "3")]
    pub(crate) code: i32,
}

/// `opentelemetry.proto.trace.v1.Status.StatusCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum StatusCode {
    /// `STATUS_CODE_UNSET = 0`.
    Unset = 0,
    /// `STATUS_CODE_OK = 1`.
    Ok = 1,
    /// `STATUS_CODE_ERROR = 2`.
    Error = 2,
}

/// `opentelemetry.proto.common.v1.KeyValue`: an attribute.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    /// `key = 1` (a `string`).
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    /// `value = 2`.
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<AnyValue>,
}

/// `opentelemetry.proto.common.v1.AnyValue`: one of the value types, or
/// none.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyValue {
    /// The `value` oneof.
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub(crate) value: Option<Value>,
}

/// The `value` oneof of [`AnyValue`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum Value {
    /// `string_value = 1` (a `string`).
    #[prost(bytes = "vec", tag = "1")]
    String(Vec<u8>),
    /// `bool_value = 2`.
    #[prost(bool, tag = "2")]
    Bool(bool),
    /// `int_value = 3`.
    #[prost(int64, tag = "3")]
    Int(i64),
    /// `double_value = 4`.
    #[prost(double, tag = "4")]
    Double(f64),
    /// `array_value = 5`.
    #[prost(message, tag = "5")]
    Array(ArrayValue),
    /// `kvlist_value = 6`.
    #[prost(message, tag = "6")]
    Kvlist(KeyValueList),
    /// `bytes_value = 7`.
    #[prost(bytes = "vec", tag = "7")]
    Bytes(Vec<u8>),
}

/// `opentelemetry.proto.common.v1.ArrayValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ArrayValue {
    /// `values = 1`.
    #[prost(message, repeated, tag = "1")]
    pub(crate) values: Vec<AnyValue>,
}

/// `opentelemetry.proto.common.v1.KeyValueList`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValueList {
    /// `values = 1`.
    #[prost(message, repeated, tag = "1")]
    pub(crate) values: Vec<KeyValue>,
}
