//! Export over OTLP/HTTP with protobuf, to Jaeger v2, Grafana Tempo or any
//! OpenTelemetry collector: a hand-written encoder of the OTLP trace
//! messages ([`wire`], [`span`], [`batch`]), the mapping of OpenTracing tags
//! to OpenTelemetry's semantic conventions ([`semconv`]), and the HTTP
//! transport ([`http`]).
//!
//! Spans are encoded straight from the finished-span [`Record`](crate::record::Record)
//! into reusable buffers, like the Thrift encoders: no intermediate
//! messages, no per-span `String`s. The tests decode every body with the
//! OpenTelemetry project's own definitions (`opentelemetry-proto`).

mod batch;
mod http;
mod semconv;
mod span;
mod wire;

pub(crate) use batch::Batch;

use std::io;

use super::config::OtlpConfig;
use super::http::endpoint_url;
use super::sender::Transport;
use super::stats::Target;
use super::{Destination, Encoding};
use crate::redact::without_credentials;

/// Largest request body sent (well under the 4 MiB that gRPC-based
/// receivers accept by default).
pub const MAX_OTLP_BATCH_SIZE: usize = 1024 * 1024;

/// Most spans in one request (OpenTelemetry SDKs' default export batch).
pub const MAX_OTLP_BATCH_SPANS: usize = 512;

/// Where spans go with an OTLP configuration.
pub(super) fn destination(config: &OtlpConfig) -> io::Result<Destination> {
    let (url, resolved) = endpoint_url("OTLP endpoint", &config.endpoint)?;
    let config = config.clone();
    let shown = without_credentials(&url);
    Ok(Destination {
        encoding: Encoding::Otlp,
        max_len: MAX_OTLP_BATCH_SIZE,
        shown: shown.clone(),
        target: Target::Otlp(shown),
        resolved,
        request_timeout: config.timeout,
        make_transport: Box::new(move || {
            Ok(Box::new(http::OtlpHttp::new(url, config)) as Box<dyn Transport>)
        }),
    })
}
#[cfg(test)]
mod tests;
