//! An in-app trace viewer for development: the waterfall of a request in the
//! browser, with no Jaeger to install and run.
//!
//! Turn it on in `Rocket.toml` (it is off by default):
//!
//! ```toml
//! [default.opentracing]
//! viewer = true
//! # viewer_path = "/_traces"        # the mount point
//! # viewer_max_spans = 10000        # the store's bound
//! # viewer_loopback_only = true     # only clients on this machine
//! ```
//!
//! and open `http://127.0.0.1:8000/_traces/` (the address is logged at
//! liftoff). The repository's example server has it on:
//! `cargo run --example server`, then `curl http://127.0.0.1:8000/work`.
//!
//! # What it shows
//!
//! - **`/_traces/`**: the recent traces, newest first — root operation and
//!   service, start, duration, number of spans, error flag, status code —
//!   filtered by operation (text in any span's operation, ignoring case),
//!   errors, and minimum duration; and a lookup by trace id, the id the
//!   `X-Trace-Id` response header hands back to callers.
//! - **`/_traces/trace/<id>`**: the trace as a waterfall: one bar per span
//!   on a shared time axis, nested by parent, labelled with the operation
//!   and duration, errors in red (and marked in text); selecting a span
//!   shows its tags, logs and baggage.
//! - **`/_traces/api/traces`** and **`/_traces/api/traces/<id>`**: the same
//!   data as JSON (below).
//! - **`POST /_traces/api/traces`**: a Jaeger collector endpoint (a
//!   binary-Thrift `Batch` body, as Jaeger clients and this crate's
//!   [`Reporter`](crate::reporter::Reporter) send), so that other processes
//!   can report into this viewer: their spans join this process' spans when
//!   the trace ids match. For the example client, calling the example
//!   server: `JAEGER_ENDPOINT=http://127.0.0.1:8000/_traces/api/traces cargo
//!   run --example client`.
//! - **`POST /_traces/v1/traces`** (with the `otlp` feature, on by
//!   default): an OTLP/HTTP endpoint, so that applications instrumented
//!   with any OpenTelemetry SDK export into this viewer too: their
//!   exporter's protocol `http/protobuf`, its endpoint
//!   `http://127.0.0.1:8000/_traces/v1/traces`
//!   (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; or
//!   `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:8000/_traces`, to which
//!   SDKs append `/v1/traces`), gzip compression or none. OTLP/JSON and
//!   gRPC are not accepted. Their spans show in the same waterfalls: the
//!   resource's `service.name` as the service, the span kind as a
//!   `span.kind` tag, attributes as tags, an `ERROR` status as an `error`
//!   tag (and the status message as `otel.status_description`), events as
//!   logs, links as `follows_from` references.
//!
//! The pages are HTML rendered on the server with inline CSS and SVG: no
//! script, no external asset, so they work offline.
//!
//! # Where the spans come from
//!
//! The reporter that [`OpenTracingFairing::from_config`] builds hands every
//! finished span to the viewer's store as well as to Jaeger (delivered or
//! not), with the same [limits](crate::Limits) on tag values and logs. A
//! span shows within the reporter's batching tick (at most
//! `flush_interval_ms` when idle). With a tracer of your own, point its
//! reporter's endpoint at `POST /_traces/api/traces`.
//!
//! With the viewer off, nothing is stored, no route is mounted, and a
//! request costs nothing more.
//!
//! # Safety
//!
//! - **Off** unless `viewer = true`.
//! - **Loopback only** by default: a request is served only when its peer
//!   address is a loopback address (`127.0.0.0/8`, `::1`) and it carries no
//!   proxy header (`Forwarded`, `X-Forwarded-For`, `X-Forwarded-Host`,
//!   `X-Real-IP`, Rocket's `ip_header`); others get `404`, as if there were
//!   no viewer (the first refusal is logged). Span data holds URLs, headers
//!   and whatever the application tags: with `viewer_loopback_only = false`
//!   anyone who reaches the server reads it.
//! - **Bounded memory**: at most `viewer_max_spans` spans (10,000 by
//!   default) and 64 MiB of span data;
//!   the oldest spans are evicted first. A collector request's body is at
//!   most 1 MiB (an OTLP one, 4 MiB once gunzipped) and is decoded with
//!   bounded nesting and lengths.
//! - **Escaped output**: span data comes from requests and is
//!   attacker-controlled; every operation, service, tag, log and baggage
//!   value is HTML-escaped.
//! - **Not traced**: requests to the viewer get no span (so browsing it does
//!   not fill it).
//!
//! # JSON
//!
//! Ids are lower-case hex strings (a trace id: 16 digits when its high 64
//! bits are zero, else 32, as in `X-Trace-Id`); times are integers in
//! microseconds, instants since the Unix epoch.
//!
//! `GET /_traces/api/traces?operation=&error=&min_duration_ms=&limit=`
//! (every parameter optional; `error` is `true` or `false`;
//! `min_duration_ms` a decimal number; `limit` at most 1000, default 100)
//! answers a list of trace summaries, newest first, with the store's counters:
//!
//! ```json
//! {
//!   "traces": [
//!     {
//!       "trace_id": "0576844fbda562429a6abe3718098648",
//!       "service": "server",
//!       "operation": "GET /work",
//!       "start_us": 1795280989950113,
//!       "duration_us": 7105,
//!       "span_count": 4,
//!       "error": true,
//!       "status_code": 200,
//!       "services": ["server"]
//!     }
//!   ],
//!   "spans": 5,
//!   "max_spans": 10000,
//!   "evicted": 0
//! }
//! ```
//!
//! `GET /_traces/api/traces/<id>` answers the trace's spans,
//! ordered by start:
//!
//! ```json
//! {
//!   "trace_id": "0576844fbda562429a6abe3718098648",
//!   "spans": [
//!     {
//!       "trace_id": "0576844fbda562429a6abe3718098648",
//!       "span_id": "4d1b6e4c2f0a9e31",
//!       "parent_span_id": "9a6abe3718098648",
//!       "references": [
//!         {"kind": "child_of", "trace_id": "0576844fbda562429a6abe3718098648", "span_id": "9a6abe3718098648"}
//!       ],
//!       "service": "server",
//!       "operation": "cache.refresh",
//!       "start_us": 1795280989955120,
//!       "duration_us": 1190,
//!       "error": true,
//!       "tags": [{"key": "error", "value": true}],
//!       "logs": [
//!         {"timestamp_us": 1795280989956301, "fields": [
//!           {"key": "event", "value": "error"},
//!           {"key": "message", "value": "cache unavailable: connection refused"}
//!         ]}
//!       ],
//!       "baggage": [{"key": "user", "value": "alice"}]
//!     }
//!   ]
//! }
//! ```
//!
//! A tag's `value` is a JSON string, boolean or number. `parent_span_id` is
//! `null` for a root span. Errors answer `400` (a malformed id or filter) or
//! `404` (no such trace stored) with `{"error": "…"}`.
//!
//! `POST /_traces/api/traces` answers `202 Accepted` with `{"spans": n}`,
//! the number of spans stored; `400` with `{"error": "…"}` for a body that
//! is not a `jaeger.thrift` `Batch` (the error names the field or byte
//! offset, never quotes the body); `413` for a body over 1 MiB. The decoder
//! is fuzzed (`fuzz/`, target `ingest`).
//!
//! `POST /_traces/v1/traces` answers as the OTLP/HTTP specification says:
//! `200` with an `application/x-protobuf` `ExportTraceServiceResponse`
//! (empty, or with `partial_success.rejected_spans` counting the spans left
//! out for an invalid trace, span or parent id, and why); `400` for a body
//! that is not an `ExportTraceServiceRequest` (or not gzip data when it
//! says so); `413` for a body over 1 MiB, or over 4 MiB decompressed; `415`
//! for a `Content-Type` other than `application/x-protobuf`, or a
//! `Content-Encoding` other than `gzip`. Failures carry a `google.rpc.Status`
//! whose `message` says what is wrong: protobuf-encoded, or as JSON
//! (`{"message": "…"}`) when the request was not protobuf.
//!
//! [`OpenTracingFairing::from_config`]: crate::OpenTracingFairing::from_config

mod access;
pub(crate) mod capture;
mod escape;
mod html;
pub(crate) mod ingest;
pub(crate) mod model;
#[cfg(feature = "otlp")]
mod otlp_route;
mod routes;
pub(crate) mod store;

use std::sync::Arc;

use rocket::{Build, Orbit, Rocket};

use crate::config::Config;
use crate::reporter::SpanConsumer;
use capture::Capture;

pub(crate) use store::TraceStore;

/// The viewer's managed state.
#[derive(Debug)]
pub(crate) struct Viewer {
    /// The spans shown.
    pub(crate) store: Arc<TraceStore>,
    /// The mount point, without a trailing slash.
    pub(crate) base: String,
    /// Whether only loopback clients may use it.
    pub(crate) loopback_only: bool,
    /// Longest string value kept from a span reported into the viewer.
    pub(crate) max_str_len: usize,
    /// Most logs kept per span reported into the viewer.
    pub(crate) max_logs: usize,
}

/// The store of the viewer, when `config` turns it on.
pub(crate) fn store_for(config: &Config) -> Option<Arc<TraceStore>> {
    config
        .viewer
        .then(|| Arc::new(TraceStore::new(config.viewer_max_spans)))
}

/// What feeds `store` with the spans the fairing's reporter receives, with
/// the same limits as on the wire.
pub(crate) fn consumer(store: &Arc<TraceStore>, config: &Config) -> Box<dyn SpanConsumer> {
    Box::new(Capture::new(
        Arc::clone(store),
        &config.service_name(),
        config.max_tag_value_length,
        config.max_logs_per_span,
    ))
}

/// Mounts the viewer's routes where `config` says, showing the spans of
/// `store`, and manages its state. `own_tracer`: the application gave the
/// fairing its own tracer (whose spans reach the viewer only through its
/// collector endpoint).
pub(crate) fn mount(
    rocket: Rocket<Build>,
    config: &Config,
    store: Arc<TraceStore>,
    own_tracer: bool,
) -> Rocket<Build> {
    let base = config.viewer_mount();
    if own_tracer {
        log::warn!(
            "rocket_opentracing: the trace viewer shows the spans reported to \
             {base}/api/traces only: with a tracer of your own, point its reporter's \
             endpoint there"
        );
    }
    if !config.viewer_loopback_only {
        log::warn!(
            "rocket_opentracing: the trace viewer at {base} answers every client \
             (`opentracing.viewer_loopback_only = false`): span data may hold secrets"
        );
    }
    let viewer = Viewer {
        store,
        base: base.to_owned(),
        loopback_only: config.viewer_loopback_only,
        max_str_len: config.max_tag_value_length,
        max_logs: config.max_logs_per_span,
    };
    rocket.manage(viewer).mount(base, routes::all())
}

/// Logs where the viewer answers (and, with the `otlp` feature, its OTLP
/// endpoint), once Rocket listens.
pub(crate) fn log_address(rocket: &Rocket<Orbit>) {
    if let Some(viewer) = rocket.state::<Viewer>() {
        let config = rocket.config();
        let scheme = if config.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let url = format!(
            "{scheme}://{}:{}{}",
            config.address, config.port, viewer.base
        );
        #[cfg(feature = "otlp")]
        log::info!(
            "rocket_opentracing: trace viewer at {url}/ (OTLP/HTTP traces: {url}/v1/traces)"
        );
        #[cfg(not(feature = "otlp"))]
        log::info!("rocket_opentracing: trace viewer at {url}/");
    }
}
