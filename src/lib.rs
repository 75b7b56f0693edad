//! rocket_opentracing (crate docs to come)
#![warn(missing_docs)]

pub mod callback;
pub mod config;
mod fairing;
mod guard;
pub mod naming;
pub mod propagation;
pub mod reporter;
mod request_span;
pub mod tags;
mod tracing;

pub use crate::config::Config;
pub use crate::fairing::{Mode, OpenTracingFairing};
pub use crate::guard::ActiveSpan;
pub use crate::naming::OperationName;
pub use crate::propagation::TraceContext;
pub use crate::reporter::{Reporter, ReporterConfig, ReporterStats};

pub use rustracing;
pub use rustracing_jaeger;
