//! The `tracing` bridge (feature `tracing`): `tracing` spans and events
//! inside a request recorded in the request's trace.
//!
//! A request gets a `tracing` span of its own ([`scope`]), which the layer
//! ([`layer`]) binds to the request span; `tracing` spans created inside it
//! become child spans, recorded ([`node`]) from their fields and events
//! ([`fields`]) and reported, as records, when they close.

mod fields;
mod layer;
mod node;
mod scope;

pub use layer::TracingLayer;
pub(crate) use scope::request_tracing_span;
