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

mod batch;
mod protocol;
mod span;
pub(crate) mod wire;

pub(crate) use batch::{Batch, Wire};
#[cfg(test)]
pub(crate) use span::{Fit, Trim};

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
