//! rocket_opentracing (crate docs to come)
pub mod reporter;
