//! An in-app trace viewer for development: see the waterfall of a request
//! in the browser without running Jaeger.
//!
//! (Documentation in progress.)

pub(crate) mod ingest;
pub mod model;
pub mod store;

pub use model::{SpanRecord, TraceSummary};
pub use store::{StoreStats, TraceFilter, TraceStore};
