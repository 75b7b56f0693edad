//! Distributed tracing for [Rocket] 0.5 with [OpenTracing] and [Jaeger]: the
//! Rust counterpart of Python's Flask-OpenTracing.
//!
//! Attach one fairing and every request becomes a span, continuing the
//! caller's trace from its Jaeger, W3C Trace Context or B3 headers; a route
//! that wants its span asks for an [`ActiveSpan`] in its signature. Spans go
//! to Jaeger (agent or collector) or, over OTLP, to Jaeger v2, Grafana Tempo
//! or any OpenTelemetry collector.
//!
//! # Quick start
//!
//! ```rust,no_run
//! use rocket::{get, launch, routes};
//! use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
//!
//! #[get("/hello/<name>")]
//! fn hello(name: &str, span: ActiveSpan<'_>) -> String {
//!     span.set_tag("user.name", name.to_owned());
//!     let child = span.child("render"); // a child span, finished on drop
//!     child.set_tag("template", "hello.html");
//!     child.log(|log| { log.std().event("rendered"); });
//!     format!("Hello, {name}!")
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     rocket::build()
//!         // Jaeger tracer + UDP reporter from Rocket.toml and JAEGER_* variables.
//!         .attach(OpenTracingFairing::from_config())
//!         .mount("/", routes![hello])
//! }
//! ```
//!
//! With a tracer of your own, spans go to its channel and reporting them is
//! yours (a [`Reporter`] sends them to a Jaeger agent):
//!
//! ```rust
//! use rocket::{get, routes};
//! use rocket::local::blocking::Client;
//! use rocket_opentracing::rustracing::sampler::AllSampler;
//! use rocket_opentracing::rustracing_jaeger::Tracer;
//! use rocket_opentracing::OpenTracingFairing;
//!
//! #[get("/hello/<name>")]
//! fn hello(name: &str) -> String {
//!     format!("Hello, {name}!")
//! }
//!
//! let (tx, spans) = crossbeam_channel::bounded(100);
//! let tracer = Tracer::with_sender(AllSampler, tx);
//! let rocket = rocket::build()
//!     .attach(OpenTracingFairing::all(tracer)) // or ::opt_in(tracer)
//!     .mount("/", routes![hello]);
//!
//! let client = Client::tracked(rocket).unwrap();
//! assert_eq!(client.get("/hello/alice").dispatch().into_string().unwrap(), "Hello, alice!");
//! let span = spans.try_recv().unwrap();
//! assert_eq!(span.operation_name(), "GET /hello/<name>");
//! ```
//!
//! # What a request span holds
//!
//! - **Name**: `"{METHOD} {route template}"`, e.g. `GET /hello/<name>`; a
//!   request that matched no route is `GET <unmatched>`. The alternative
//!   [`OperationName::Handler`] uses the handler's function name.
//! - **Times**: it starts when the request arrives (`on_request`), also in
//!   opt-in mode (except on a route's first request there: its span starts
//!   when the guard runs, and the fairing learns that the route asks), and
//!   finishes when the response is ready (`on_response`),
//!   whatever the outcome: success, 4xx, unmatched, failing or forwarding
//!   guard, handler panic.
//! - **Tags** (OpenTracing conventions): `span.kind=server`,
//!   `component=rocket`, `http.method`, `http.url` (as received),
//!   `http.status_code`, `peer.ipv4`/`peer.ipv6` and `peer.port` when known.
//!   `strip_query` records `http.url` without its query string, and
//!   `redact_query_params` the values of the named parameters as `REDACTED`
//!   (client spans too); a user name or password is never recorded, and
//!   `Authorization`, `Cookie`, `Set-Cookie` and `Proxy-Authorization` only
//!   when named in `traced_attributes` ([`config::Attribute`]).
//!   A 5xx response or a handler panic sets `error=true` and adds one log
//!   entry with `event=error`; a 4xx is not an error.
//! - **Parent**: the caller's span, from the first valid format among the
//!   configured `extract_formats` (by default Jaeger `uber-trace-id`, W3C
//!   `traceparent`, B3 `b3`, B3 `X-B3-*`, in that order; see
//!   [`propagation`]); 128-bit trace ids kept. A malformed header falls
//!   through to the next format; with none valid the request starts a new
//!   root trace (logged at debug level). `jaeger-debug-id`, Jaeger's debug
//!   flag and B3's debug force a sampled debug trace. A caller that says
//!   "not sampled", in any format, gets no reported span here, but its
//!   decision still propagates; a caller that says "sampled" is sampled
//!   whatever the local sampler, which only decides for new root traces and
//!   for B3 callers that defer (Jaeger's semantics). A service facing the
//!   public internet sets `trust_incoming_sampling = false`: the local
//!   sampler then decides every request, and the caller's span is linked
//!   (see [`config::UntrustedContext`]).
//! - **Baggage**: bounded by default to 64 items and 8 KiB per request,
//!   incoming and set by the application alike; dropped items are counted in
//!   a `baggage.dropped` tag.
//! - **Limits** ([`Limits`]): tag values are cut at 4 KiB and marked, a span
//!   reports at most 128 logs, the `headers` attribute records at most 32
//!   headers; each limit is configurable and what is left out is counted.
//!
//! # Modes
//!
//! [`OpenTracingFairing::all`] traces every request.
//! [`OpenTracingFairing::opt_in`] traces only requests whose route takes an
//! [`ActiveSpan`] (Flask-OpenTracing's decorator mode); other requests cost a
//! timestamp and no span.
//!
//! # The `ActiveSpan` guard
//!
//! Tags, logs, errors ([`ActiveSpan::set_error`]), baggage, trace and span
//! ids, child spans, and the headers to inject into outgoing calls
//! ([`ActiveSpan::headers`], [`ChildSpan::headers`]) in the configured
//! `inject_formats` (default
//! Jaeger and W3C). It never fails a request: untraced, it is a
//! no-op. Other guards and fairings reach the span with [`ActiveSpan::get`].
//! A child span ([`ChildSpan`], from [`ActiveSpan::child`]) offers the same
//! methods, its own children included, and finishes when dropped.
//!
//! # Start-span callback
//!
//! [`OpenTracingFairing::on_start_span`] runs user code on each new sampled
//! span with its request (Flask-OpenTracing's `start_span_cb`); a panic in it
//! is contained and logged.
//!
//! # Outgoing calls
//!
//! [`client::TracedRequest::send_traced`] sends a reqwest request (async or
//! blocking) inside a client span of the request span, or of any child
//! span, and injects its
//! context, so the trace continues in the called service. Responses to
//! sampled requests carry the trace id in an `X-Trace-Id` header
//! (configurable with `trace_id_header`).
//!
//! # Configuration
//!
//! The `[default.opentracing]` section of `Rocket.toml` (every key and
//! default is on [`Config`]) is read at ignition through Rocket's figment,
//! then the standard Jaeger variables take precedence: `JAEGER_SERVICE_NAME`,
//! `JAEGER_DISABLED`, `JAEGER_AGENT_HOST`, `JAEGER_AGENT_PORT`,
//! `JAEGER_ENDPOINT`, `JAEGER_USER`, `JAEGER_PASSWORD`, `JAEGER_AUTH_TOKEN`,
//! `JAEGER_REPORTER_LOG_SPANS`, `JAEGER_REPORTER_MAX_QUEUE_SIZE`,
//! `JAEGER_REPORTER_FLUSH_INTERVAL`, `JAEGER_SAMPLER_TYPE`,
//! `JAEGER_SAMPLER_PARAM` and `JAEGER_TAGS`; then OpenTelemetry's:
//! `OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_EXPORTER` and the `OTEL_EXPORTER_OTLP_*` (and
//! `OTEL_EXPORTER_OTLP_TRACES_*`) endpoint, headers, compression, timeout and
//! protocol. It chooses the request attributes recorded as tags
//! ([`config::Attribute`]), the paths never traced ([`config::SkipPaths`]), the sampler for new
//! traces ([`config::SamplerType`]: const, probabilistic, ratelimiting), the propagation
//! formats read and written ([`propagation::Format`]), and, for
//! [`OpenTracingFairing::from_config`], the mode, naming, service and agent.
//! A bad value refuses ignition with one line naming the key, the value and
//! what is accepted (a bad OTLP setting only when OTLP is the exporter;
//! otherwise it is ignored with a warning).
//!
//! # Reporting
//!
//! With a tracer of your own, hand its reporter to the fairing
//! ([`OpenTracingFairing::with_reporter`]) so that it lives as long as the
//! app and is flushed at shutdown.
//!
//! The [`Reporter`] takes finished spans on background threads and delivers
//! them to the Jaeger agent over UDP, in datagrams of at most 65,000 bytes,
//! or, with `endpoint` set, to a Jaeger collector over HTTP, with retries;
//! or, with an OTLP endpoint (`otlp_endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`)
//! or `exporter = "otlp"`, over OTLP/HTTP with protobuf, its tags mapped to
//! OpenTelemetry's semantic conventions (`docs/otlp.md` in the repository
//! has the table). The request path never waits for it. The queue is bounded; every span is
//! counted as reported, dropped or failed ([`ReporterStats`]), and losses are
//! logged, rate-limited. With `log_spans`, each span is also printed on one
//! line through Rocket's logger. When graceful shutdown begins, the fairing
//! flushes what is queued, waits for in-flight requests (within Rocket's
//! grace and mercy periods), and flushes again. See [`reporter`].
//!
//! # Trace viewer
//!
//! For development, `viewer = true` serves this process' recent traces at
//! `/_traces/`: a list with filters and a lookup by `X-Trace-Id`, and each
//! trace as a waterfall (one bar per span, nested, errors in red, a span's
//! tags, logs and baggage on a click), plus the same data as JSON. No Jaeger
//! to run, no script, no external asset. The spans are kept in a bounded
//! in-memory store fed by the reporter alongside Jaeger; other processes can
//! report into it through its Jaeger-collector endpoint, and applications
//! instrumented with any OpenTelemetry SDK through its OTLP endpoint
//! (`/_traces/v1/traces`). Off by default, and
//! loopback clients only by default. See [`viewer`].
//!
//! # Cargo features
//!
//! - `collector` (default): the Jaeger collector over HTTP(S) (`endpoint`),
//!   with ureq and rustls (*ring* provider, the platform's verifier; the
//!   process default provider when the application installed one);
//! - `otlp` (default): export over OTLP/HTTP with protobuf (ureq and rustls
//!   as for `collector`, prost, flate2 for gzip), and the viewer's OTLP
//!   endpoint;
//! - `client` (default): [`client::TracedRequest`] for reqwest 0.13 request
//!   builders (this crate enables no TLS feature of reqwest);
//! - `viewer` (default): the trace viewer;
//! - `fuzzing`: entry points for the fuzz targets, not for applications.
//!
//! With `default-features = false` the crate reports to the agent over UDP
//! and compiles no HTTP client, no TLS stack and no viewer. An `endpoint`
//! without `collector`, or an OTLP endpoint without `otlp`, refuses ignition
//! naming the feature; `viewer = true`
//! without `viewer` logs a warning.
//!
//! [Rocket]: https://rocket.rs
//! [OpenTracing]: https://opentracing.io
//! [Jaeger]: https://www.jaegertracing.io
#![warn(missing_docs)]

// The request side: configuration → fairing → span lifecycle → guard, client.
mod asked_routes;
mod attributes;
#[cfg(feature = "tracing")]
mod bridge;
mod callback;
mod child_span;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
mod fairing;
mod guard;
#[cfg(feature = "tracing")]
mod instrument;
mod lifecycle;
mod naming;
mod redact;
mod request_state;
mod sampler;
mod skip;
mod tags;
mod trust;

// Shared by both sides: limits and id formats.
mod ids;
mod limits;
pub mod propagation;
mod record;

// The reporting side: finished span → encoder → transport, and the trace
// viewer, a consumer of finished spans.
pub mod reporter;
#[cfg(feature = "viewer")]
pub mod viewer;

#[cfg(all(feature = "fuzzing", feature = "viewer"))]
pub mod fuzzing;

#[cfg(feature = "tracing")]
pub use crate::bridge::TracingLayer;
pub use crate::child_span::{ChildSpan, ParentSpan};
pub use crate::config::{Config, ConfigError, Mode, OperationName, Secret};
pub use crate::fairing::OpenTracingFairing;
pub use crate::guard::ActiveSpan;
#[cfg(feature = "tracing")]
pub use crate::instrument::instrument;
pub use crate::limits::Limits;
pub use crate::propagation::TraceContext;
pub use crate::reporter::{CollectorAuth, Reporter, ReporterConfig, ReporterStats};

/// The OpenTracing API this crate builds on (tags, logs, samplers).
pub use rustracing;
/// The Jaeger tracer and span types this crate uses.
pub use rustracing_jaeger;

/// The README's examples, compiled as doctests (with the `client` feature,
/// which its client-helper example needs).
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
