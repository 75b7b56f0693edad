//! The constants of Jaeger's Thrift wire formats ([jaeger.thrift],
//! [agent.thrift]), for the encoders here and for the decoder of collector
//! bodies (which a build may leave out: hence `allow(dead_code)`).
//!
//! [jaeger.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/jaeger.thrift
//! [agent.thrift]: https://github.com/jaegertracing/jaeger-idl/blob/main/thrift/agent.thrift

/// Compact protocol identifier (first byte of every compact message).
pub(crate) const PROTOCOL_ID: u8 = 0x82;
/// Version 1 with message type ONEWAY (4) in the upper three bits.
pub(crate) const VERSION_AND_ONEWAY: u8 = 0x01 | (4 << 5);
/// The agent method carrying a batch of spans.
pub(crate) const METHOD_NAME: &str = "emitBatch";

/// Struct terminator (the same in both protocols).
pub(crate) const STOP: u8 = 0;

/// Type ids of the Thrift binary protocol (the collector's wire).
#[allow(dead_code)]
pub(crate) mod binary {
    /// `bool`.
    pub(crate) const BOOL: u8 = 2;
    /// `byte`.
    pub(crate) const BYTE: u8 = 3;
    /// `double`.
    pub(crate) const DOUBLE: u8 = 4;
    /// `i16`.
    pub(crate) const I16: u8 = 6;
    /// `i32`.
    pub(crate) const I32: u8 = 8;
    /// `i64`.
    pub(crate) const I64: u8 = 10;
    /// `string` and `binary`.
    pub(crate) const STRING: u8 = 11;
    /// `struct`.
    pub(crate) const STRUCT: u8 = 12;
    /// `map`.
    pub(crate) const MAP: u8 = 13;
    /// `set`.
    pub(crate) const SET: u8 = 14;
    /// `list`.
    pub(crate) const LIST: u8 = 15;
    /// `uuid`.
    pub(crate) const UUID: u8 = 16;
}

/// Type ids of the Thrift compact protocol (the agent's wire).
pub(crate) mod compact {
    /// `bool` true (in a field header).
    pub(crate) const BOOL_TRUE: u8 = 1;
    /// `bool` false (in a field header).
    pub(crate) const BOOL_FALSE: u8 = 2;
    /// `i32`.
    pub(crate) const I32: u8 = 5;
    /// `i64`.
    pub(crate) const I64: u8 = 6;
    /// `double`.
    pub(crate) const DOUBLE: u8 = 7;
    /// `string` and `binary`.
    pub(crate) const STRING: u8 = 8;
    /// `list`.
    pub(crate) const LIST: u8 = 9;
    /// `struct`.
    pub(crate) const STRUCT: u8 = 12;
}

// jaeger.thrift `TagType` values.
/// `TagType.STRING`.
pub(crate) const TAG_STRING: i32 = 0;
/// `TagType.DOUBLE`.
pub(crate) const TAG_DOUBLE: i32 = 1;
/// `TagType.BOOL`.
pub(crate) const TAG_BOOL: i32 = 2;
/// `TagType.LONG`.
pub(crate) const TAG_LONG: i32 = 3;
/// `TagType.BINARY`.
#[allow(dead_code)]
pub(crate) const TAG_BINARY: i32 = 4;

// jaeger.thrift `SpanRefType` values.
/// `SpanRefType.CHILD_OF`.
pub(crate) const REF_CHILD_OF: i32 = 0;
/// `SpanRefType.FOLLOWS_FROM`.
pub(crate) const REF_FOLLOWS_FROM: i32 = 1;

/// Tag added to spans carrying a Jaeger debug id (`jaeger-debug-id`).
pub(crate) const DEBUG_ID_TAG: &str = "jaeger-debug-id";
