//! Configuration: the `[default.opentracing]` section of `Rocket.toml`,
//! overridden by the standard `JAEGER_*` and `OTEL_*` environment
//! variables, read once into typed values.
//!
//! - `mod.rs`: [`Config`], its keys and defaults, reading and checking it;
//! - `env.rs`: the `JAEGER_*` variables;
//! - `otel.rs`: the `OTEL_*` variables (OpenTelemetry's), applied after
//!   them;
//! - `otlp.rs`: [`Exporter`], [`OtlpProtocol`], the OTLP compression's
//!   names, the traces URL from a base endpoint;
//! - `values.rs`: how lists of names become typed values, shared checks;
//! - `error.rs`: [`ConfigError`], naming the key and where its value came
//!   from;
//! - `origin.rs`: where a value came from (a file and profile, a `ROCKET_*`
//!   or `JAEGER_*` variable), from the figment's metadata;
//! - `sections.rs`: warnings for sections that look meant for this crate
//!   but are not read (`[default.tracing]`);
//! - `summary.rs`: the ignition line naming the settings in effect that
//!   differ from the defaults, where each came from, and where spans go;
//! - `mode.rs`, `secret.rs`: [`Mode`], [`Secret`].

mod env;
mod error;
mod mode;
mod origin;
mod otel;
mod otlp;
mod secret;
mod sections;
mod summary;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use rocket::figment::providers::Serialized;
use rocket::figment::value::{Dict, Value};
use rocket::figment::Figment;
use rocket::serde::{Deserialize, Serialize};
use rustracing::sampler::BoxSampler;
use rustracing_jaeger::span::SpanContextState;

pub use self::error::ConfigError;
pub use self::mode::Mode;
pub use self::otlp::{Exporter, OtlpProtocol};
pub use self::secret::Secret;
pub use crate::attributes::Attribute;
pub use crate::naming::OperationName;
pub use crate::propagation::Format;
pub use crate::reporter::OtlpCompression;
pub use crate::sampler::SamplerType;
pub use crate::skip::SkipPaths;
pub use crate::trust::UntrustedContext;

// For the fairing's `on_ignite`.
pub(crate) use self::sections::misplaced_sections;
pub(crate) use self::summary::settings_summary;

use self::error::invalid;
use self::origin::Origin;
use self::values::{is_header_name, is_header_value, is_viewer_path};
use crate::limits::Limits;
use crate::redact::{redact_credentials, QueryPolicy};
use crate::reporter::{
    default_service_name, CollectorAuth, OtlpConfig, ReporterConfig, DEFAULT_AGENT_HOST,
    DEFAULT_AGENT_PORT, DEFAULT_FLUSH_INTERVAL, DEFAULT_OTLP_ENDPOINT, DEFAULT_OTLP_TIMEOUT,
    DEFAULT_QUEUE_SIZE,
};

/// The `opentracing` section of Rocket's configuration.
///
/// Read at ignition through Rocket's own figment, so profiles
/// (`[debug.opentracing]`, `[release.opentracing]`) and
/// `ROCKET_OPENTRACING='{...}'` overrides work as for every Rocket setting.
/// The standard Jaeger environment variables then override it, and
/// OpenTelemetry's after them: precedence is `Rocket.toml` < `ROCKET_*` <
/// `JAEGER_*` < `OTEL_*` (a variable set to `""` counts as unset). A missing section means the
/// defaults below; an unknown key, a value of the wrong type or out of range
/// refuses ignition with one line naming the key, the value, where it came
/// from and what is accepted (see [`ConfigError`]), e.g.
/// ``unknown key `opentracing.log_span` (from Rocket.toml
/// [default.opentracing]): did you mean `log_spans`?``.
///
/// The section applies to [`OpenTracingFairing::from_config`] and, except
/// for the keys that build the tracer and reporter (service name, agent,
/// process tags, queue, flush interval, mode, tag value length, logs per
/// span), to a fairing given its own tracer too. With a tracer of your own, the sampler keys replace its
/// sampler only when set.
///
/// Spans go to one exporter. An explicit `exporter` wins
/// (`OTEL_TRACES_EXPORTER` over the key); unset, an OTLP endpoint
/// (`otlp_traces_endpoint`, `otlp_endpoint`, or their `OTEL_EXPORTER_OTLP_*`
/// variables) selects OTLP, else Jaeger: the HTTP collector when `endpoint`
/// is set, else the agent. See [`Config::selected_exporter`]. OTLP's traces
/// URL is the first set of `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (with `/v1/traces` appended),
/// `otlp_traces_endpoint`, `otlp_endpoint` (with `/v1/traces` appended), and
/// [`DEFAULT_OTLP_ENDPOINT`]
/// (`exporter = "otlp"` alone). Each `OTEL_EXPORTER_OTLP_TRACES_*` variable
/// wins over its `OTEL_EXPORTER_OTLP_*` counterpart, and a headers variable
/// replaces the `otlp_headers` table. Without this crate's `otlp` feature,
/// selecting OTLP refuses ignition, naming the key or variable that did.
///
/// A bad value of an OTLP setting (the `otlp_*` keys and their
/// `OTEL_EXPORTER_OTLP_*` variables: endpoints, headers, compression,
/// timeout, protocol) refuses ignition only when spans go over OTLP; with
/// Jaeger selected, or tracing disabled, it is unused: left at its default,
/// with a warning naming it and saying why (never a header value nor the
/// credentials of a URL). Platforms set `OTEL_*` variables in every
/// container, `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` included: an application
/// configured for Jaeger still starts. A bad `exporter`,
/// `OTEL_TRACES_EXPORTER` or `OTEL_SDK_DISABLED` is always refused.
/// `OTEL_SDK_DISABLED` is `true` or `false` (any case) and nothing else, as
/// OpenTelemetry specifies (`JAEGER_DISABLED` also takes `1`, `yes`, `on`
/// and their opposites).
///
/// The service name is the first set of `OTEL_SERVICE_NAME`, a
/// `service.name` entry of `OTEL_RESOURCE_ATTRIBUTES`,
/// `JAEGER_SERVICE_NAME` and `service_name`. `tags` are the process tags of
/// Jaeger and the resource attributes of OTLP; `JAEGER_TAGS`, then
/// `OTEL_RESOURCE_ATTRIBUTES`, add to them (replacing a tag of the same
/// name).
///
/// [`OpenTracingFairing::from_config`]: crate::OpenTracingFairing::from_config
///
/// ```toml
/// [default.opentracing]
/// # Service name reported to Jaeger. Default: the executable's name.
/// # Env: JAEGER_SERVICE_NAME; OTEL_SERVICE_NAME and a service.name entry of
/// # OTEL_RESOURCE_ATTRIBUTES win.
/// service_name = "my-service"
/// # true: trace nothing (requests are served as usual).
/// # Env: JAEGER_DISABLED, OTEL_SDK_DISABLED (wins; "true" or "false" only),
/// # OTEL_TRACES_EXPORTER=none
/// disabled = false
/// # Jaeger agent (UDP, compact thrift). Env: JAEGER_AGENT_HOST, JAEGER_AGENT_PORT
/// agent_host = "127.0.0.1"
/// agent_port = 6831
/// # HTTP collector: when set, spans are POSTed there (binary thrift) instead
/// # of going to the agent. Env: JAEGER_ENDPOINT. Default: unset.
/// # endpoint = "http://jaeger-collector:14268/api/traces"
/// # Collector credentials: basic auth, or a bearer token (not both).
/// # Env: JAEGER_USER, JAEGER_PASSWORD, JAEGER_AUTH_TOKEN. Default: unset.
/// # user = "tracer"
/// # password = "secret"
/// # auth_token = "token"
/// # Where spans go: "jaeger" (the collector `endpoint` when set, else the
/// # agent) or "otlp" (OTLP/HTTP with protobuf: an OpenTelemetry collector,
/// # Jaeger v2, Grafana Tempo). Default: unset, meaning "otlp" when an OTLP
/// # endpoint is set (by a key or a variable), else "jaeger".
/// # Env: OTEL_TRACES_EXPORTER ("otlp", "jaeger", or "none" to trace nothing)
/// # exporter = "otlp"
/// # Base URL of the OTLP/HTTP receiver; "/v1/traces" is appended. Default:
/// # unset (with exporter = "otlp": http://localhost:4318/v1/traces).
/// # Env: OTEL_EXPORTER_OTLP_ENDPOINT
/// # otlp_endpoint = "http://otel-collector:4318"
/// # The full traces URL, used as it is; wins over otlp_endpoint.
/// # Default: unset. Env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
/// # otlp_traces_endpoint = "http://otel-collector:4318/v1/traces"
/// # Headers sent with every OTLP request; their values are never logged.
/// # Env: OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS
/// # ("name=value,name2=value2", values percent-encoded; they replace this table)
/// otlp_headers = {}               # e.g. { "x-api-key" = "secret" }
/// # OTLP request bodies: "gzip" or "none".
/// # Env: OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION
/// otlp_compression = "none"
/// # Longest time one OTLP request may take, in milliseconds. At least 1.
/// # Env: OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT
/// otlp_timeout_ms = 10000
/// # Only "http/protobuf" (OTLP/HTTP, port 4318): "grpc" and "http/json" are
/// # refused when exporting over OTLP (ignored, with a warning, otherwise).
/// # Env: OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
/// otlp_protocol = "http/protobuf"
/// # Also print each finished span on one line through Rocket's logger.
/// # Env: JAEGER_REPORTER_LOG_SPANS
/// log_spans = false
/// # "all": trace every request; "opt_in": only routes that take `ActiveSpan`.
/// mode = "all"
/// # "route": "GET /hello/<name>"; "handler": the handler's function name.
/// operation_name = "route"
/// # Sampler for new traces: "const" (param 0 or 1), "probabilistic" (param =
/// # rate 0..1), "ratelimiting" (param = traces per second).
/// # Env: JAEGER_SAMPLER_TYPE, JAEGER_SAMPLER_PARAM. Default: const 1.
/// sampler_type = "const"
/// sampler_param = 1.0
/// # Request attributes recorded as tags (see `Attribute`); Flask-OpenTracing's
/// # names ("url", "remote_addr", "endpoint"...) are accepted as aliases.
/// traced_attributes = []          # e.g. ["user_agent", "client_ip", "header.X-Request-Id"]
/// # Response header carrying the trace id of a sampled request, so that a
/// # user reporting a failure can quote it and find the trace; "" switches it
/// # off. (An unsampled request's id leads to no trace: no header.)
/// trace_id_header = "X-Trace-Id"
/// # Record `http.url` (server and client spans) and the `uri` attribute
/// # without their query string, and never the `query` attribute.
/// strip_query = false
/// # Query parameters whose values are recorded as "REDACTED" (names
/// # case-insensitive, compared once percent-decoded); strip_query wins.
/// redact_query_params = []        # e.g. ["token", "api_key", "sig"]
/// # Paths never traced: exact, or a prefix ending in '*'.
/// skip_paths = []                 # e.g. ["/health", "/metrics", "/internal/*"]
/// # Trace-context formats read from requests, in the order tried (the first
/// # valid one wins; a malformed one falls through to the next): "jaeger"
/// # (uber-trace-id, jaeger-debug-id, uberctx-* baggage), "w3c" (traceparent,
/// # tracestate), "b3_single" (b3), "b3" (X-B3-*). [] continues no caller's trace.
/// extract_formats = ["jaeger", "w3c", "b3_single", "b3"]
/// # Formats written by ActiveSpan::headers and ChildSpan::headers, in this order;
/// # baggage (uberctx-*) goes only with "jaeger".
/// inject_formats = ["jaeger", "w3c"]
/// # Extra Jaeger process tags; with OTLP, resource attributes.
/// # Env: JAEGER_TAGS="k=v,k2=v2", then OTEL_RESOURCE_ATTRIBUTES="k=v,k2=v2"
/// # (values percent-encoded) add to them.
/// tags = {}
/// # Most finished spans waiting for delivery; more are dropped (and counted).
/// # Env: JAEGER_REPORTER_MAX_QUEUE_SIZE
/// queue_size = 10000
/// # How often the reporter sends what it has, in milliseconds.
/// # Env: JAEGER_REPORTER_FLUSH_INTERVAL (milliseconds, or "500ms", "1s", "1m")
/// flush_interval_ms = 1000
/// # Trust the caller's sampling decision (sampled, debug, jaeger-debug-id),
/// # as Jaeger clients do. false on a service facing the public internet: the
/// # local sampler then decides every request (see `rocket_opentracing::trust`).
/// trust_incoming_sampling = true
/// # When not trusted, the caller's context becomes: "follows_from" (a new trace
/// # linked to the caller's span), "child_of" (the caller's trace continues) or
/// # "ignore" (a new, unlinked trace).
/// untrusted_context = "follows_from"
/// # Limits (see `rocket_opentracing::limits`). Baggage per request, counting
/// # the caller's uberctx-* items and the application's; 0 refuses baggage.
/// max_baggage_items = 64
/// max_baggage_bytes = 8192
/// # Longest string tag value, log field value or operation name, in bytes;
/// # longer ones are cut and end with "...[truncated]". At least 1.
/// max_tag_value_length = 4096
/// # Most logs reported per span; the rest are counted in a tag.
/// max_logs_per_span = 128
/// # Most headers the "headers" traced attribute records; the rest are counted.
/// max_traced_headers = 32
/// # The in-app trace viewer (see `rocket_opentracing::viewer`): waterfalls of
/// # this process' recent traces in the browser, without Jaeger. For development.
/// viewer = false
/// # Where the viewer's pages, JSON API and collector endpoint are mounted.
/// viewer_path = "/_traces"
/// # Most spans the viewer keeps in memory (the oldest go first). At least 1.
/// viewer_max_spans = 10000
/// # Answer only clients on the loopback interface (and no proxied request).
/// viewer_loopback_only = true
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Service name reported to Jaeger; `None` means the executable's name.
    pub service_name: Option<String>,
    /// Trace nothing; requests are served as usual. Default `false`.
    pub disabled: bool,
    /// Host name or IP address of the Jaeger agent. Default `127.0.0.1`.
    pub agent_host: String,
    /// UDP port of the Jaeger agent (compact thrift). Default `6831`.
    pub agent_port: u16,
    /// HTTP collector endpoint (`JAEGER_ENDPOINT`), e.g.
    /// `http://jaeger-collector:14268/api/traces`; when set, spans go there
    /// instead of to the agent. Default unset.
    pub endpoint: Option<String>,
    /// User name for the collector's basic authentication (`JAEGER_USER`).
    pub user: Option<String>,
    /// Password for the collector's basic authentication (`JAEGER_PASSWORD`).
    pub password: Option<Secret>,
    /// Bearer token for the collector (`JAEGER_AUTH_TOKEN`).
    pub auth_token: Option<Secret>,
    /// Where spans go (`OTEL_TRACES_EXPORTER`); `None` means OTLP when an
    /// OTLP endpoint is set, else Jaeger (see
    /// [`Config::selected_exporter`]). Default unset.
    pub exporter: Option<Exporter>,
    /// Base URL of an OTLP/HTTP receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`),
    /// e.g. `http://otel-collector:4318`; spans are POSTed to it with
    /// `/v1/traces` appended. Setting it selects OTLP unless `exporter`
    /// says otherwise. Default unset.
    pub otlp_endpoint: Option<String>,
    /// The full OTLP traces URL (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
    /// used as it is; wins over `otlp_endpoint`. Default unset.
    pub otlp_traces_endpoint: Option<String>,
    /// Headers sent with every OTLP request (name, value), e.g. an API key
    /// (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS`).
    /// Default none.
    pub otlp_headers: BTreeMap<String, Secret>,
    /// Compression of OTLP request bodies, `"gzip"` or `"none"`
    /// (`OTEL_EXPORTER_OTLP_COMPRESSION`). Default none.
    #[serde(with = "otlp::compression")]
    pub otlp_compression: OtlpCompression,
    /// Longest time one OTLP request may take, in milliseconds
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`). Default `10000`, at least 1.
    pub otlp_timeout_ms: u64,
    /// The OTLP protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`): only
    /// `"http/protobuf"`, the default.
    pub otlp_protocol: OtlpProtocol,
    /// Print each finished span through Rocket's logger. Default `false`.
    pub log_spans: bool,
    /// Which requests the config-built fairing traces. Default [`Mode::All`].
    pub mode: Mode,
    /// How spans are named. Default [`OperationName::Route`].
    pub operation_name: OperationName,
    /// Sampler for new traces; `None` means `const` (with a tracer of your
    /// own: its own sampler).
    pub sampler_type: Option<SamplerType>,
    /// The sampler's parameter; `None` means 1.
    pub sampler_param: Option<f64>,
    /// Request attributes recorded as tags; see [`Attribute`] (which also
    /// lists the Flask-OpenTracing names accepted as aliases).
    #[serde(with = "values::attribute_list")]
    pub traced_attributes: Vec<Attribute>,
    /// Paths never traced: exact, or a prefix ending in `*`.
    #[serde(with = "values::skip_paths")]
    pub skip_paths: SkipPaths,
    /// Trace-context formats read from requests, in the order tried; the
    /// first valid one wins. Names as in [`Format`]. Default
    /// `["jaeger", "w3c", "b3_single", "b3"]` ([`Format::DEFAULT_EXTRACT`]).
    #[serde(with = "values::format_list")]
    pub extract_formats: Vec<Format>,
    /// Formats written for outgoing calls by
    /// [`ActiveSpan::headers`](crate::ActiveSpan::headers) and
    /// [`ChildSpan::headers`](crate::ChildSpan::headers), in this order.
    /// Default `["jaeger", "w3c"]` ([`Format::DEFAULT_INJECT`]).
    #[serde(with = "values::format_list")]
    pub inject_formats: Vec<Format>,
    /// Response header carrying the trace id of sampled requests (an
    /// unsampled request's id leads to no trace); empty to switch it off.
    /// Default `X-Trace-Id`.
    pub trace_id_header: String,
    /// Record `http.url` (server and client spans) and the `uri` attribute
    /// without their query string, and never the `query` attribute.
    /// Default `false`.
    pub strip_query: bool,
    /// Query parameters whose values are recorded as `REDACTED` in
    /// `http.url` (server and client spans) and the `uri` and `query`
    /// attributes; names compared case-insensitively once decoded
    /// (`%XX`, `+`). Default `[]`.
    pub redact_query_params: Vec<String>,
    /// Extra Jaeger process tags; with OTLP, resource attributes
    /// (`JAEGER_TAGS`, `OTEL_RESOURCE_ATTRIBUTES`).
    pub tags: BTreeMap<String, String>,
    /// Capacity of the finished-span queue. Default `10000`.
    pub queue_size: usize,
    /// Reporter flush interval in milliseconds. Default `1000`.
    pub flush_interval_ms: u64,
    /// Whether the caller's sampled and debug flags (and `jaeger-debug-id`)
    /// decide sampling here; see [`UntrustedContext`]. Default `true`.
    pub trust_incoming_sampling: bool,
    /// What an untrusted caller's context becomes (with
    /// `trust_incoming_sampling = false`). Default
    /// [`UntrustedContext::FollowsFrom`].
    pub untrusted_context: UntrustedContext,
    /// Most baggage items per request. Default `64`; see [`Limits`].
    pub max_baggage_items: usize,
    /// Most bytes of baggage keys and values per request. Default `8192`.
    pub max_baggage_bytes: usize,
    /// Longest string tag value (and log field value, operation name) in
    /// bytes; longer ones are cut and marked. Default `4096`, at least 1.
    pub max_tag_value_length: usize,
    /// Most logs reported per span. Default `128`.
    pub max_logs_per_span: usize,
    /// Most headers recorded by the `headers` traced attribute. Default `32`.
    pub max_traced_headers: usize,
    /// Serve the in-app [trace viewer](crate::viewer). Default `false`.
    pub viewer: bool,
    /// Path the viewer is mounted at. Default `"/_traces"`.
    pub viewer_path: String,
    /// Most spans the viewer keeps. Default `10000`, at least 1.
    pub viewer_max_spans: usize,
    /// The viewer answers only loopback clients whose request carries no
    /// proxy header. Default `true`.
    pub viewer_loopback_only: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: None,
            disabled: false,
            agent_host: DEFAULT_AGENT_HOST.into(),
            agent_port: DEFAULT_AGENT_PORT,
            endpoint: None,
            user: None,
            password: None,
            auth_token: None,
            exporter: None,
            otlp_endpoint: None,
            otlp_traces_endpoint: None,
            otlp_headers: BTreeMap::new(),
            otlp_compression: OtlpCompression::None,
            otlp_timeout_ms: DEFAULT_OTLP_TIMEOUT.as_millis() as u64,
            otlp_protocol: OtlpProtocol::HttpProtobuf,
            log_spans: false,
            mode: Mode::All,
            operation_name: OperationName::Route,
            sampler_type: None,
            sampler_param: None,
            traced_attributes: Vec::new(),
            skip_paths: SkipPaths::default(),
            extract_formats: Format::DEFAULT_EXTRACT.to_vec(),
            inject_formats: Format::DEFAULT_INJECT.to_vec(),
            trace_id_header: DEFAULT_TRACE_ID_HEADER.to_owned(),
            strip_query: false,
            redact_query_params: Vec::new(),
            tags: BTreeMap::new(),
            queue_size: DEFAULT_QUEUE_SIZE,
            flush_interval_ms: DEFAULT_FLUSH_INTERVAL.as_millis() as u64,
            trust_incoming_sampling: true,
            untrusted_context: UntrustedContext::default(),
            max_baggage_items: Limits::DEFAULT.max_baggage_items,
            max_baggage_bytes: Limits::DEFAULT.max_baggage_bytes,
            max_tag_value_length: Limits::DEFAULT.max_tag_value_length,
            max_logs_per_span: Limits::DEFAULT.max_logs_per_span,
            max_traced_headers: Limits::DEFAULT.max_traced_headers,
            viewer: false,
            viewer_path: DEFAULT_VIEWER_PATH.to_owned(),
            viewer_max_spans: DEFAULT_VIEWER_MAX_SPANS,
            viewer_loopback_only: true,
        }
    }
}

/// Every field under its own name, as a derived `Debug` would show them,
/// except that the credentials of the endpoint URLs (`endpoint`,
/// `otlp_endpoint`, `otlp_traces_endpoint`) show as `<redacted>`; the
/// password, token and OTLP header values are [`Secret`]s, redacted too.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Taken apart field by field, with no `..`: a field added to
        // `Config` does not compile until it is named here, and is warned
        // about until it is shown.
        let Config {
            service_name,
            disabled,
            agent_host,
            agent_port,
            endpoint,
            user,
            password,
            auth_token,
            exporter,
            otlp_endpoint,
            otlp_traces_endpoint,
            otlp_headers,
            otlp_compression,
            otlp_timeout_ms,
            otlp_protocol,
            log_spans,
            mode,
            operation_name,
            sampler_type,
            sampler_param,
            traced_attributes,
            skip_paths,
            extract_formats,
            inject_formats,
            trace_id_header,
            strip_query,
            redact_query_params,
            tags,
            queue_size,
            flush_interval_ms,
            trust_incoming_sampling,
            untrusted_context,
            max_baggage_items,
            max_baggage_bytes,
            max_tag_value_length,
            max_logs_per_span,
            max_traced_headers,
            viewer,
            viewer_path,
            viewer_max_spans,
            viewer_loopback_only,
        } = self;
        let url = |url: &Option<String>| url.as_deref().map(redact_credentials);
        f.debug_struct("Config")
            .field("service_name", service_name)
            .field("disabled", disabled)
            .field("agent_host", agent_host)
            .field("agent_port", agent_port)
            .field("endpoint", &url(endpoint))
            .field("user", user)
            .field("password", password)
            .field("auth_token", auth_token)
            .field("exporter", exporter)
            .field("otlp_endpoint", &url(otlp_endpoint))
            .field("otlp_traces_endpoint", &url(otlp_traces_endpoint))
            .field("otlp_headers", otlp_headers)
            .field("otlp_compression", otlp_compression)
            .field("otlp_timeout_ms", otlp_timeout_ms)
            .field("otlp_protocol", otlp_protocol)
            .field("log_spans", log_spans)
            .field("mode", mode)
            .field("operation_name", operation_name)
            .field("sampler_type", sampler_type)
            .field("sampler_param", sampler_param)
            .field("traced_attributes", traced_attributes)
            .field("skip_paths", skip_paths)
            .field("extract_formats", extract_formats)
            .field("inject_formats", inject_formats)
            .field("trace_id_header", trace_id_header)
            .field("strip_query", strip_query)
            .field("redact_query_params", redact_query_params)
            .field("tags", tags)
            .field("queue_size", queue_size)
            .field("flush_interval_ms", flush_interval_ms)
            .field("trust_incoming_sampling", trust_incoming_sampling)
            .field("untrusted_context", untrusted_context)
            .field("max_baggage_items", max_baggage_items)
            .field("max_baggage_bytes", max_baggage_bytes)
            .field("max_tag_value_length", max_tag_value_length)
            .field("max_logs_per_span", max_logs_per_span)
            .field("max_traced_headers", max_traced_headers)
            .field("viewer", viewer)
            .field("viewer_path", viewer_path)
            .field("viewer_max_spans", viewer_max_spans)
            .field("viewer_loopback_only", viewer_loopback_only)
            .finish()
    }
}

/// The default response header carrying the trace id.
pub(crate) const DEFAULT_TRACE_ID_HEADER: &str = "X-Trace-Id";

/// Where the trace viewer is mounted unless `viewer_path` says otherwise.
pub(crate) const DEFAULT_VIEWER_PATH: &str = "/_traces";

/// Most spans the trace viewer keeps unless `viewer_max_spans` says
/// otherwise.
pub(crate) const DEFAULT_VIEWER_MAX_SPANS: usize = 10_000;

/// The configuration section's name in `Rocket.toml`.
pub(crate) const SECTION: &str = "opentracing";

/// Every key of the section, for error messages.
pub(crate) const KEYS: &[&str] = &[
    "service_name",
    "disabled",
    "agent_host",
    "agent_port",
    "endpoint",
    "user",
    "password",
    "auth_token",
    "exporter",
    "otlp_endpoint",
    "otlp_traces_endpoint",
    "otlp_headers",
    "otlp_compression",
    "otlp_timeout_ms",
    "otlp_protocol",
    "log_spans",
    "mode",
    "operation_name",
    "sampler_type",
    "sampler_param",
    "traced_attributes",
    "skip_paths",
    "extract_formats",
    "inject_formats",
    "trace_id_header",
    "strip_query",
    "redact_query_params",
    "tags",
    "queue_size",
    "flush_interval_ms",
    "trust_incoming_sampling",
    "untrusted_context",
    "max_baggage_items",
    "max_baggage_bytes",
    "max_tag_value_length",
    "max_logs_per_span",
    "max_traced_headers",
    "viewer",
    "viewer_path",
    "viewer_max_spans",
    "viewer_loopback_only",
];

/// The keys of the OTLP exporter's settings. A bad value of one (from the
/// section or its `OTEL_EXPORTER_OTLP_*` variable) refuses ignition only
/// when spans go over OTLP; otherwise it is ignored with a warning (see
/// [`Config::from_figment_and_env`]). The keys that select the exporter
/// (`exporter`, `disabled`) are not among them.
pub(crate) const OTLP_KEYS: &[&str] = &[
    "otlp_endpoint",
    "otlp_traces_endpoint",
    "otlp_headers",
    "otlp_compression",
    "otlp_timeout_ms",
    "otlp_protocol",
];

/// Refused values of OTLP settings, set aside until it is known whether
/// spans go over OTLP: each with the key of [`OTLP_KEYS`] it is about, in
/// the order found.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    refused: Vec<(&'static str, ConfigError)>,
}

impl Deferred {
    /// Sets aside the refusal `error` of a value of the OTLP setting `key`.
    pub(crate) fn push(&mut self, key: &'static str, error: ConfigError) {
        self.refused.push((key, error));
    }

    /// Forgets the refused values of `key`: a source of higher precedence
    /// (a variable over the section, a `_TRACES_` variable over the
    /// general one) set it.
    pub(crate) fn clear(&mut self, key: &str) {
        self.refused.retain(|(refused, _)| *refused != key);
    }

    /// Whether a refused value was for `key`.
    fn has(&self, key: &str) -> bool {
        self.refused.iter().any(|(refused, _)| *refused == key)
    }
}

/// The key of [`OTLP_KEYS`] a figment error is about, if it is about one.
fn otlp_key_of(error: &rocket::figment::Error) -> Option<&'static str> {
    let path = error::path_of(error);
    let key = path.get(1)?;
    OTLP_KEYS.iter().copied().find(|known| known == key)
}

/// Most refused OTLP values of the section set aside while it is read;
/// past them, the next refusal is returned as it is.
const MOST_DEFERRED: usize = 64;

/// The keys a `JAEGER_*` or `OTEL_*` variable set, and which variable:
/// errors name the variable rather than the key, and the ignition summary
/// says where each setting came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Origins {
    set: Vec<(&'static str, &'static str)>,
}

impl Origins {
    /// Notes that `variable` set `key`, replacing the variable that set it
    /// before (the later one won).
    fn record(&mut self, key: &'static str, variable: &'static str) {
        match self.set.iter_mut().find(|(set, _)| *set == key) {
            Some(entry) => entry.1 = variable,
            None => self.set.push((key, variable)),
        }
    }

    /// The variable that set `key`, if one did.
    pub(crate) fn variable(&self, key: &str) -> Option<&'static str> {
        self.set
            .iter()
            .find(|(set, _)| *set == key)
            .map(|(_, variable)| *variable)
    }
}

/// Names a refused value: by the variable that set it, else by
/// its key in the section and where the figment got it.
struct Names<'a> {
    figment: &'a Figment,
    origins: &'a Origins,
}

impl Names<'_> {
    /// The key or variable `key` was set by.
    fn name(&self, key: &str) -> String {
        match self.origins.variable(key) {
            Some(variable) => variable.to_owned(),
            None => format!("{SECTION}.{key}"),
        }
    }

    /// Where the value of `key` came from, when the figment set it.
    fn origin(&self, key: &str) -> Option<String> {
        if self.origins.variable(key).is_some() {
            return None;
        }
        Origin::find(self.figment, &format!("{SECTION}.{key}")).map(|o| o.to_string())
    }

    /// The error for `value` of `key`.
    fn invalid(
        &self,
        key: &str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> ConfigError {
        invalid(&self.name(key), value, expected).with_origin(self.origin(key))
    }
}

impl Config {
    /// Reads the `opentracing` section of `figment` (defaults when absent),
    /// then applies the `JAEGER_*` and `OTEL_*` variables of the process
    /// environment.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
        Self::from_figment_and_env(figment, |name| std::env::var(name).ok())
    }

    /// As [`Config::from_figment`], with the environment given as a lookup
    /// function (so it can be tested without touching the process's).
    ///
    /// A bad value of an OTLP setting (`otlp_*` keys, `OTEL_EXPORTER_OTLP_*`
    /// variables) refuses ignition only when spans go over OTLP: when OTLP is
    /// the [selected exporter](Config::selected_exporter) and tracing is not
    /// disabled. Otherwise the value is unused: it is left at its default,
    /// and a warning names it and says why it is unused. (Platforms set the
    /// `OTEL_*` variables in every container, `grpc` included: an
    /// application reporting to Jaeger still starts.)
    pub fn from_figment_and_env(
        figment: &Figment,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let (config, warnings) = Self::read(figment, env)?;
        for warning in warnings {
            log::warn!("rocket_opentracing: {warning}");
        }
        Ok(config)
    }

    /// The configuration, and a warning line for each bad OTLP value
    /// ignored because spans do not go over OTLP.
    pub(crate) fn read(
        figment: &Figment,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let mut deferred = Deferred::default();
        let mut config = if figment.contains(SECTION) {
            Self::extract(figment, &mut deferred)?
        } else {
            Config::default()
        };
        let origins = config.apply_env_deferring(env, &mut deferred)?;
        let names = Names {
            figment,
            origins: &origins,
        };
        let ignored = config.validate(&names, deferred)?;
        // What is ignored is not applied either.
        let mut warnings = Vec::with_capacity(ignored.len());
        for (applied, warning) in ignored {
            if let Some(key) = applied {
                config.reset(key);
            }
            warnings.push(warning);
        }
        Ok((config, warnings))
    }

    /// The section of `figment`. A value of an OTLP setting that does not
    /// read (`otlp_protocol = "grpc"`, `otlp_headers = "a=b"`) is set aside
    /// in `deferred` and the setting left at its default; any other
    /// refusal is returned.
    fn extract(figment: &Figment, deferred: &mut Deferred) -> Result<Config, ConfigError> {
        // The figment with the refused values replaced, once one is.
        let mut replaced: Option<Figment> = None;
        loop {
            let current = replaced.as_ref().unwrap_or(figment);
            let error = match current.extract_inner::<Config>(SECTION) {
                Ok(mut config) => {
                    for (key, _) in &deferred.refused {
                        config.reset(key);
                    }
                    return Ok(config);
                }
                Err(error) => error,
            };
            let Some(key) = otlp_key_of(&error) else {
                return Err(error::from_figment(error));
            };
            if deferred.refused.len() >= MOST_DEFERRED {
                return Err(error::from_figment(error));
            }
            // Read again with a value that reads in its place: the key's
            // default, or for a header (`otlp_headers.<name>`) a string.
            let path: Vec<String> = error::path_of(&error)
                .iter()
                .skip(1)
                .take(2)
                .map(|part| (*part).to_owned())
                .collect();
            let mut value = match path.len() {
                1 => Value::serialize(Config::default())
                    .ok()
                    .and_then(Value::into_dict)
                    .and_then(|mut defaults| defaults.remove(key))
                    .unwrap_or_else(|| Value::from(Dict::new())),
                _ => Value::from(""),
            };
            for part in path.into_iter().rev() {
                value = Value::from(Dict::from([(part, value)]));
            }
            replaced = Some(current.clone().merge(Serialized::global(SECTION, value)));
            deferred.push(key, error::from_figment(error));
        }
    }

    /// Sets the OTLP setting `key` back to its default (nothing for another
    /// key).
    fn reset(&mut self, key: &str) {
        let defaults = Config::default();
        match key {
            "otlp_endpoint" => self.otlp_endpoint = defaults.otlp_endpoint,
            "otlp_traces_endpoint" => self.otlp_traces_endpoint = defaults.otlp_traces_endpoint,
            "otlp_headers" => self.otlp_headers = defaults.otlp_headers,
            "otlp_compression" => self.otlp_compression = defaults.otlp_compression,
            "otlp_timeout_ms" => self.otlp_timeout_ms = defaults.otlp_timeout_ms,
            "otlp_protocol" => self.otlp_protocol = defaults.otlp_protocol,
            _ => {}
        }
    }

    /// Checks the values; returns the bad OTLP values ignored, each with
    /// its warning (see [`Config::validate_otlp`]).
    fn validate(
        &self,
        names: &Names<'_>,
        deferred: Deferred,
    ) -> Result<Vec<(Option<&'static str>, String)>, ConfigError> {
        if self
            .service_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(names.invalid("service_name", "", "a non-empty name"));
        }
        if self.agent_host.trim().is_empty() {
            return Err(names.invalid("agent_host", "", "a host name or IP address"));
        }
        if self.agent_port == 0 {
            return Err(names.invalid("agent_port", 0, "a UDP port number (1-65535)"));
        }
        if self.queue_size == 0 {
            return Err(names.invalid("queue_size", 0, "a queue capacity of at least 1"));
        }
        if self.flush_interval_ms == 0 {
            return Err(names.invalid("flush_interval_ms", 0, "at least 1 millisecond"));
        }
        if let (Some(kind), Some(param)) = (self.sampler_type, self.sampler_param) {
            if let Err(expected) = kind.check_param(param) {
                return Err(names.invalid("sampler_param", param, expected));
            }
        }
        if let (Some(param), None) = (self.sampler_param, self.sampler_type) {
            return Err(names.invalid(
                "sampler_param",
                param,
                "a sampler_type (JAEGER_SAMPLER_TYPE) to go with it",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            // JAEGER_ENDPOINT was checked as it was read.
            if names.origins.variable("endpoint").is_none() {
                values::check_endpoint(&names.name("endpoint"), endpoint)
                    .map_err(|e| e.with_origin(names.origin("endpoint")))?;
            }
        }
        if self.user.is_some() != self.password.is_some() {
            let (missing, present) = if self.user.is_some() {
                ("password", "user")
            } else {
                ("user", "password")
            };
            return Err(invalid(
                &format!(
                    "{SECTION}.{missing} (JAEGER_{})",
                    missing.to_ascii_uppercase()
                ),
                "",
                format!(
                    "a value to go with {} (basic authentication needs both)",
                    names.name(present)
                ),
            ));
        }
        if self.user.is_some() && self.auth_token.is_some() {
            return Err(invalid(
                &format!("{SECTION}.auth_token (JAEGER_AUTH_TOKEN)"),
                "<redacted>",
                "no value when user and password are set: choose basic or bearer authentication",
            )
            .with_origin(names.origin("auth_token")));
        }
        let warnings = self.validate_otlp(names, deferred)?;
        if !is_header_name(&self.trace_id_header) {
            return Err(names.invalid(
                "trace_id_header",
                &self.trace_id_header,
                "an HTTP header name (letters, digits, !#$%&'*+-.^_|~ and the backtick), \
                 or \"\" to send none",
            ));
        }
        if self.max_tag_value_length == 0 {
            return Err(names.invalid("max_tag_value_length", 0, "a length in bytes, at least 1"));
        }
        if self.redact_query_params.iter().any(String::is_empty) {
            return Err(names.invalid(
                "redact_query_params",
                "",
                "non-empty query parameter names",
            ));
        }
        if self.viewer_max_spans == 0 {
            return Err(names.invalid("viewer_max_spans", 0, "a number of spans, at least 1"));
        }
        if !is_viewer_path(&self.viewer_path) {
            return Err(names.invalid(
                "viewer_path",
                &self.viewer_path,
                "a path of static segments other than \"/\", e.g. \"/_traces\"",
            ));
        }
        Ok(warnings)
    }

    /// Checks the OTLP settings, and that OTLP is not selected in a build
    /// without the `otlp` feature. The refusals, those set aside while
    /// reading (`deferred`) first, refuse ignition (the first one) when
    /// spans go over OTLP; otherwise each becomes a warning saying why the
    /// value is unused, with the key to set back to its default when the
    /// value was applied (those set aside while reading were not).
    fn validate_otlp(
        &self,
        names: &Names<'_>,
        deferred: Deferred,
    ) -> Result<Vec<(Option<&'static str>, String)>, ConfigError> {
        // A refused endpoint would have selected OTLP, had it been read.
        let endpoint_refused =
            deferred.has("otlp_endpoint") || deferred.has("otlp_traces_endpoint");
        let mut refused: Vec<(Option<&'static str>, ConfigError)> = deferred
            .refused
            .into_iter()
            .map(|(_, error)| (None, error))
            .collect();
        refused.extend(
            self.otlp_refusals(names)
                .into_iter()
                .map(|(key, error)| (Some(key), error)),
        );
        let selected = self.selected_exporter() == Exporter::Otlp
            || (self.exporter.is_none() && endpoint_refused);
        if selected && !self.disabled {
            return match refused.into_iter().next() {
                Some((_, error)) => Err(error),
                None => Ok(Vec::new()),
            };
        }
        let why = if self.disabled {
            format!("tracing is disabled (by `{}`)", names.name("disabled"))
        } else if self.exporter.is_some() {
            format!(
                "the exporter is Jaeger (selected by `{}`)",
                names.name("exporter")
            )
        } else {
            "the exporter is Jaeger (neither an OTLP endpoint nor exporter = \"otlp\" is set)"
                .to_owned()
        };
        Ok(refused
            .into_iter()
            .map(|(applied, error)| {
                let warning = format!("{error}; ignored, as the OTLP settings are unused: {why}");
                (applied, warning)
            })
            .collect())
    }

    /// The refusals of the OTLP settings read (each key and why), and of
    /// OTLP selected in a build without the `otlp` feature, in this order.
    fn otlp_refusals(&self, names: &Names<'_>) -> Vec<(&'static str, ConfigError)> {
        let mut refused = Vec::new();
        let endpoints = [
            (
                "otlp_endpoint",
                &self.otlp_endpoint,
                "http://otel-collector:4318",
            ),
            (
                "otlp_traces_endpoint",
                &self.otlp_traces_endpoint,
                "http://otel-collector:4318/v1/traces",
            ),
        ];
        for (key, endpoint, example) in endpoints {
            if let Some(endpoint) = endpoint {
                if let Err(e) = values::check_otlp_endpoint(&names.name(key), endpoint, example) {
                    refused.push((key, e.with_origin(names.origin(key))));
                }
            }
        }
        // The first bad header only: one refusal per key.
        let bad_header = self.otlp_headers.iter().find_map(|(name, value)| {
            if name.is_empty() || name.trim() != name || !is_header_name(name) {
                // Not shown: a header written `Authorization: Basic <token>`
                // (not `name=value`) puts its token in the "name".
                return Some(names.invalid(
                    "otlp_headers",
                    "<redacted>",
                    "name=value pairs whose names are header names (letters, digits, \
                     !#$%&'*+-.^_|~ and the backtick)",
                ));
            }
            (!is_header_value(value.expose())).then(|| {
                names.invalid(
                    "otlp_headers",
                    "<redacted>",
                    format!(
                        "a value of the header {name} without control characters (line \
                         breaks, NUL)"
                    ),
                )
            })
        });
        if let Some(error) = bad_header {
            refused.push(("otlp_headers", error));
        }
        if self.otlp_timeout_ms == 0 {
            refused.push((
                "otlp_timeout_ms",
                names.invalid("otlp_timeout_ms", 0, "at least 1 millisecond"),
            ));
        }
        if !cfg!(feature = "otlp") && self.selected_exporter() == Exporter::Otlp {
            let (key, value, expected) = match (&self.exporter, &self.otlp_traces_endpoint) {
                (Some(_), _) => ("exporter", "otlp".to_owned(), "\"jaeger\""),
                (None, Some(url)) => ("otlp_traces_endpoint", redact_credentials(url), "no value"),
                (None, None) => (
                    "otlp_endpoint",
                    self.otlp_endpoint
                        .as_deref()
                        .map(redact_credentials)
                        .unwrap_or_default(),
                    "no value",
                ),
            };
            refused.push((
                key,
                names.invalid(
                    key,
                    value,
                    format!(
                        "{expected}: this build of rocket_opentracing has no OTLP exporter \
                         (enable its `otlp` feature), and reports to Jaeger"
                    ),
                ),
            ));
        }
        refused
    }

    /// Where spans go: `exporter` when set (`OTEL_TRACES_EXPORTER` wins over
    /// the key); else [`Exporter::Otlp`] when an OTLP endpoint is set
    /// (`otlp_traces_endpoint`, `otlp_endpoint`, or their variables); else
    /// [`Exporter::Jaeger`] (the collector `endpoint` when set, else the
    /// agent).
    pub fn selected_exporter(&self) -> Exporter {
        match self.exporter {
            Some(exporter) => exporter,
            None if self.otlp_endpoint.is_some() || self.otlp_traces_endpoint.is_some() => {
                Exporter::Otlp
            }
            None => Exporter::Jaeger,
        }
    }

    /// The URL OTLP exports are POSTed to: `otlp_traces_endpoint` as it is,
    /// else `otlp_endpoint` with `/v1/traces` appended, else
    /// [`DEFAULT_OTLP_ENDPOINT`].
    /// (The `OTEL_EXPORTER_OTLP_*` variables set these keys, the traces one
    /// winning.)
    pub fn otlp_traces_url(&self) -> String {
        match (&self.otlp_traces_endpoint, &self.otlp_endpoint) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Some(base)) => otlp::traces_url(base),
            (None, None) => DEFAULT_OTLP_ENDPOINT.to_owned(),
        }
    }

    /// The OTLP exporter's settings, when OTLP is the selected exporter.
    fn otlp_config(&self) -> Option<OtlpConfig> {
        (self.selected_exporter() == Exporter::Otlp).then(|| OtlpConfig {
            endpoint: self.otlp_traces_url(),
            headers: self
                .otlp_headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                .collect(),
            compression: self.otlp_compression,
            timeout: Duration::from_millis(self.otlp_timeout_ms),
        })
    }

    /// The response header for the trace id, unless switched off.
    pub(crate) fn trace_id_header(&self) -> Option<&str> {
        Some(self.trace_id_header.trim()).filter(|name| !name.is_empty())
    }

    /// What recorded URLs keep of their query string.
    pub(crate) fn query_policy(&self) -> QueryPolicy {
        QueryPolicy::new(self.strip_query, &self.redact_query_params)
    }

    /// The service name: the configured one, else the executable's name.
    pub fn service_name(&self) -> String {
        self.service_name
            .clone()
            .unwrap_or_else(default_service_name)
    }

    /// The configured sampler, if `sampler_type` is set.
    pub(crate) fn sampler(&self) -> Option<BoxSampler<SpanContextState>> {
        let kind = self.sampler_type?;
        Some(kind.build(self.sampler_param.unwrap_or(1.0)))
    }

    /// The sampler of new root traces when the fairing builds the tracer
    /// (always sample when none is configured).
    pub(crate) fn root_sampler(&self) -> crate::sampler::RootSampler {
        match self.sampler_type {
            Some(kind) => crate::sampler::RootSampler::new(kind, self.sampler_param.unwrap_or(1.0)),
            None => crate::sampler::RootSampler::Always,
        }
    }

    /// The viewer's mount path, without a trailing slash, when the viewer
    /// is on.
    pub(crate) fn viewer_base(&self) -> Option<&str> {
        self.viewer.then(|| self.viewer_mount())
    }

    /// `viewer_path` without a trailing slash, whether the viewer is on or
    /// not.
    pub(crate) fn viewer_mount(&self) -> &str {
        self.viewer_path.trim().trim_end_matches('/')
    }

    /// The configured [`Limits`].
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_baggage_items: self.max_baggage_items,
            max_baggage_bytes: self.max_baggage_bytes,
            max_tag_value_length: self.max_tag_value_length,
            max_logs_per_span: self.max_logs_per_span,
            max_traced_headers: self.max_traced_headers,
        }
    }

    /// What an incoming trace context becomes when the caller's sampling
    /// is not trusted; `None` when it is (`trust_incoming_sampling`).
    pub(crate) fn untrusted(&self) -> Option<UntrustedContext> {
        (!self.trust_incoming_sampling).then_some(self.untrusted_context)
    }

    /// The reporter settings this configuration describes: the reporter's
    /// defaults are this section's defaults.
    pub(crate) fn reporter_config(&self) -> ReporterConfig {
        ReporterConfig {
            service_name: self.service_name(),
            agent_host: self.agent_host.clone(),
            agent_port: self.agent_port,
            endpoint: self.endpoint.as_ref().map(|e| e.trim().to_owned()),
            auth: match (&self.user, &self.password, &self.auth_token) {
                (Some(user), Some(password), _) => Some(CollectorAuth::Basic {
                    user: user.clone(),
                    password: password.expose().to_owned(),
                }),
                (_, _, Some(token)) => Some(CollectorAuth::Bearer(token.expose().to_owned())),
                _ => None,
            },
            otlp: self.otlp_config(),
            log_spans: self.log_spans,
            queue_size: self.queue_size,
            flush_interval: Duration::from_millis(self.flush_interval_ms),
            max_tag_value_length: self.max_tag_value_length,
            max_logs_per_span: self.max_logs_per_span,
            process_tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::{Format, Toml};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn missing_section_means_defaults() {
        let config = Config::from_figment_and_env(&Figment::new(), no_env).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn reads_section_then_jaeger_env() {
        let figment = Figment::from(Toml::string(
            "[opentracing]\nservice_name = \"toml\"\nagent_port = 7000\nlog_spans = true",
        ));
        let config = Config::from_figment_and_env(&figment, no_env).unwrap();
        assert_eq!(config.service_name(), "toml");
        assert_eq!(config.agent_port, 7000);
        assert!(config.log_spans);

        let env = |name: &str| match name {
            "JAEGER_SERVICE_NAME" => Some("env".to_string()),
            "JAEGER_AGENT_PORT" => Some("7001".to_string()),
            "JAEGER_REPORTER_LOG_SPANS" => Some("false".to_string()),
            _ => None,
        };
        let config = Config::from_figment_and_env(&figment, env).unwrap();
        assert_eq!(config.service_name(), "env");
        assert_eq!(config.agent_port, 7001);
        assert!(!config.log_spans);
    }

    #[test]
    fn refuses_bad_values_naming_the_key() {
        let env = |name: &str| (name == "JAEGER_AGENT_PORT").then(|| "abc".to_string());
        let err = Config::from_figment_and_env(&Figment::new(), env).unwrap_err();
        assert!(err.to_string().contains("JAEGER_AGENT_PORT"), "{err}");

        let figment = Figment::from(Toml::string("[opentracing]\nagent_prot = 1"));
        let err = Config::from_figment_and_env(&figment, no_env).unwrap_err();
        assert!(err.to_string().contains("agent_prot"), "{err}");

        let figment = Figment::from(Toml::string("[opentracing]\nmode = \"sometimes\""));
        assert!(Config::from_figment_and_env(&figment, no_env).is_err());

        let figment = Figment::from(Toml::string("[opentracing]\nqueue_size = 0"));
        let err = Config::from_figment_and_env(&figment, no_env).unwrap_err();
        assert!(err.to_string().contains("opentracing.queue_size"), "{err}");
    }

    #[test]
    fn propagation_formats_default_parse_and_refuse_unknown_names() {
        use crate::propagation::Format as Propagation;
        let config = Config::default();
        assert_eq!(
            config.extract_formats,
            Propagation::DEFAULT_EXTRACT.to_vec()
        );
        assert_eq!(config.inject_formats, Propagation::DEFAULT_INJECT.to_vec());

        let figment = Figment::from(Toml::string(
            "[opentracing]\nextract_formats = [\"b3\", \"w3c\"]\ninject_formats = [\"b3_single\"]",
        ));
        let config = Config::from_figment_and_env(&figment, no_env).unwrap();
        assert_eq!(config.extract_formats, [Propagation::B3, Propagation::W3c]);
        assert_eq!(config.inject_formats, [Propagation::B3Single]);

        for key in ["extract_formats", "inject_formats"] {
            let toml = format!("[opentracing]\n{key} = [\"jaeger\", \"zipkin\"]");
            let figment = Figment::from(Toml::string(&toml));
            match Config::from_figment_and_env(&figment, no_env).unwrap_err() {
                ConfigError::Invalid {
                    key: k,
                    value,
                    expected,
                    ..
                } => {
                    assert_eq!(k, format!("opentracing.{key}"));
                    assert_eq!(value, "zipkin");
                    assert!(expected.contains("b3_single"), "{expected}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    #[cfg(feature = "collector")]
    fn the_reporter_is_configured_from_the_section_and_the_environment() {
        let figment = Figment::from(Toml::string("[opentracing]\nqueue_size = 5"));
        let env = |name: &str| {
            let value = match name {
                "JAEGER_ENDPOINT" => "http://collector:14268/api/traces",
                "JAEGER_AUTH_TOKEN" => "t0ken",
                "JAEGER_REPORTER_MAX_QUEUE_SIZE" => "250",
                "JAEGER_REPORTER_FLUSH_INTERVAL" => "2s",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let reporter = Config::from_figment_and_env(&figment, env)
            .unwrap()
            .reporter_config();
        assert_eq!(
            reporter.endpoint.as_deref(),
            Some("http://collector:14268/api/traces")
        );
        assert_eq!(
            reporter.auth,
            Some(CollectorAuth::Bearer("t0ken".to_owned()))
        );
        assert_eq!(reporter.queue_size, 250);
        assert_eq!(reporter.flush_interval, Duration::from_secs(2));

        // The defaults are the same on both sides.
        let defaults = Config::default().reporter_config();
        let own = ReporterConfig::new(defaults.service_name.clone());
        assert_eq!(defaults, own);
    }

    #[test]
    fn an_endpoint_without_the_collector_feature_refuses_ignition_naming_it() {
        let read = |toml: &str| {
            let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
            Config::from_figment_and_env(&figment, no_env)
        };
        let endpoint = read("endpoint = \"http://collector:14268/api/traces\"");
        let viewer = read("viewer = true");
        if cfg!(feature = "collector") {
            assert!(endpoint.is_ok(), "{endpoint:?}");
        } else {
            let error = endpoint.unwrap_err().to_string();
            assert!(
                error.contains("opentracing.endpoint") && error.contains("`collector` feature"),
                "{error}"
            );
        }
        // The viewer is a development tool: without it, a warning (at
        // ignition) and the application runs as configured otherwise.
        assert!(viewer.is_ok(), "{viewer:?}");
    }

    /// A lookup over `vars`, as the process environment would be.
    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The section `toml` (without its header) read with the variables
    /// `vars`.
    fn read(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
        Config::from_figment_and_env(&figment, env_of(vars))
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn otlp_keys_are_read_and_reach_the_reporter() {
        let config = read(
            "otlp_endpoint = \"http://otel-collector:4318/\"\n\
             otlp_headers = { \"x-api-key\" = \"s3cret\", \"x-tenant\" = \"core\" }\n\
             otlp_compression = \"gzip\"\n\
             otlp_timeout_ms = 2500\n\
             otlp_protocol = \"http/protobuf\"\n\
             tags = { team = \"core\" }",
            &[],
        )
        .unwrap();
        assert_eq!(config.selected_exporter(), Exporter::Otlp);
        let reporter = config.reporter_config();
        assert_eq!(
            reporter.otlp,
            Some(OtlpConfig {
                endpoint: "http://otel-collector:4318/v1/traces".to_owned(),
                headers: vec![
                    ("x-api-key".to_owned(), "s3cret".to_owned()),
                    ("x-tenant".to_owned(), "core".to_owned()),
                ],
                compression: OtlpCompression::Gzip,
                timeout: Duration::from_millis(2500),
            })
        );
        // The process tags are the resource attributes.
        assert_eq!(
            reporter.process_tags,
            [("team".to_owned(), "core".to_owned())]
        );

        // The full URL is used as it is, and wins over the base.
        let config = read(
            "otlp_endpoint = \"http://ignored:4318\"\n\
             otlp_traces_endpoint = \"https://tempo.example/otlp/v1/traces\"",
            &[],
        )
        .unwrap();
        assert_eq!(
            config.reporter_config().otlp.unwrap().endpoint,
            "https://tempo.example/otlp/v1/traces"
        );
    }

    #[test]
    fn the_otlp_defaults_are_the_reporters() {
        let config = Config::default();
        assert_eq!(config.exporter, None);
        assert_eq!(config.selected_exporter(), Exporter::Jaeger);
        assert_eq!(config.reporter_config().otlp, None);
        assert_eq!(config.otlp_traces_url(), DEFAULT_OTLP_ENDPOINT);
        assert_eq!(
            Duration::from_millis(config.otlp_timeout_ms),
            DEFAULT_OTLP_TIMEOUT
        );
        assert_eq!(config.otlp_compression, OtlpCompression::None);
        assert_eq!(config.otlp_protocol, OtlpProtocol::HttpProtobuf);
        let otlp = Config {
            exporter: Some(Exporter::Otlp),
            ..Config::default()
        };
        assert_eq!(otlp.reporter_config().otlp, Some(OtlpConfig::default()));
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn every_otel_variable_is_applied_and_recorded() {
        let vars = [
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,team=core%2Fpay",
            ),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s3cret%3D%3D,x-scope=a%20b",
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ];
        let config = read("disabled = true", &vars).unwrap();
        assert!(!config.disabled);
        assert_eq!(config.service_name(), "checkout");
        assert_eq!(config.tags["deployment.environment"], "prod");
        assert_eq!(config.tags["team"], "core/pay");
        assert_eq!(config.exporter, Some(Exporter::Otlp));
        assert_eq!(config.otlp_traces_url(), "http://otel:4318/v1/traces");
        assert_eq!(config.otlp_headers["api-key"].expose(), "s3cret==");
        assert_eq!(config.otlp_headers["x-scope"].expose(), "a b");
        assert_eq!(config.otlp_compression, OtlpCompression::Gzip);
        assert_eq!(config.otlp_timeout_ms, 3000);

        let origins = Config::default().apply_env(env_of(&vars)).unwrap();
        for (key, variable) in [
            ("disabled", "OTEL_SDK_DISABLED"),
            ("service_name", "OTEL_SERVICE_NAME"),
            ("tags", "OTEL_RESOURCE_ATTRIBUTES"),
            ("exporter", "OTEL_TRACES_EXPORTER"),
            ("otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
            ("otlp_headers", "OTEL_EXPORTER_OTLP_HEADERS"),
            ("otlp_compression", "OTEL_EXPORTER_OTLP_COMPRESSION"),
            ("otlp_timeout_ms", "OTEL_EXPORTER_OTLP_TIMEOUT"),
            ("otlp_protocol", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ] {
            assert_eq!(origins.variable(key), Some(variable), "{key}");
        }
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn the_traces_variables_win_over_the_general_ones_and_over_the_section() {
        let toml = "otlp_traces_endpoint = \"http://from-toml:4318/v1/traces\"\n\
                    otlp_headers = { from-toml = \"1\" }\n\
                    otlp_compression = \"gzip\"\n\
                    otlp_timeout_ms = 100";
        // The general variables replace the section's settings, its full
        // traces URL included.
        let general = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "general=1"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
        ];
        let config = read(toml, &general).unwrap();
        let otlp = config.reporter_config().otlp.unwrap();
        assert_eq!(otlp.endpoint, "http://general:4318/v1/traces");
        assert_eq!(otlp.headers, [("general".to_owned(), "1".to_owned())]);
        assert_eq!(otlp.compression, OtlpCompression::None);
        assert_eq!(otlp.timeout, Duration::from_millis(200));

        let mut both = general.to_vec();
        both.extend([
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:4318/custom/path",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "traces=2"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "300"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ]);
        let config = read(toml, &both).unwrap();
        let otlp = config.reporter_config().otlp.unwrap();
        // As it is: no /v1/traces appended.
        assert_eq!(otlp.endpoint, "http://traces:4318/custom/path");
        // The traces variable replaces the general one (no merge).
        assert_eq!(otlp.headers, [("traces".to_owned(), "2".to_owned())]);
        assert_eq!(otlp.compression, OtlpCompression::Gzip);
        assert_eq!(otlp.timeout, Duration::from_millis(300));
        let origins = Config::default().apply_env(env_of(&both)).unwrap();
        for (key, variable) in [
            ("otlp_traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            ("otlp_headers", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
            ("otlp_compression", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"),
            ("otlp_timeout_ms", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"),
            ("otlp_protocol", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
        ] {
            assert_eq!(origins.variable(key), Some(variable), "{key}");
        }
    }

    /// The exporter and destination `toml` and `vars` select: precedence.
    #[test]
    #[cfg(all(feature = "otlp", feature = "collector"))]
    fn the_exporter_is_chosen_explicitly_else_by_an_otlp_endpoint() {
        const JAEGER: &str = "endpoint = \"http://collector:14268/api/traces\"";
        let otlp_env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")];
        // (section, variables, exporter, OTLP URL when OTLP)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Exporter, Option<&'a str>);
        let cases: &[Case] = &[
            // Nothing set: Jaeger (the agent, or the collector when set).
            ("", &[], Exporter::Jaeger, None),
            (JAEGER, &[], Exporter::Jaeger, None),
            // An OTLP endpoint selects OTLP, over a Jaeger collector too.
            (
                "otlp_endpoint = \"http://otel:4318\"",
                &[],
                Exporter::Otlp,
                Some("http://otel:4318/v1/traces"),
            ),
            (
                JAEGER,
                &otlp_env,
                Exporter::Otlp,
                Some("http://otel:4318/v1/traces"),
            ),
            (
                "",
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://otel:4318/v1/traces",
                )],
                Exporter::Otlp,
                Some("http://otel:4318/v1/traces"),
            ),
            // An explicit exporter wins over an endpoint...
            ("exporter = \"jaeger\"", &otlp_env, Exporter::Jaeger, None),
            (
                "exporter = \"jaeger\"\notlp_endpoint = \"http://otel:4318\"",
                &[],
                Exporter::Jaeger,
                None,
            ),
            (
                JAEGER,
                &[
                    ("OTEL_TRACES_EXPORTER", "jaeger"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
                ],
                Exporter::Jaeger,
                None,
            ),
            // ... the variable over the key ...
            (
                "exporter = \"jaeger\"",
                &[("OTEL_TRACES_EXPORTER", "otlp")],
                Exporter::Otlp,
                Some(DEFAULT_OTLP_ENDPOINT),
            ),
            (
                "exporter = \"otlp\"",
                &[("OTEL_TRACES_EXPORTER", "JAEGER")],
                Exporter::Jaeger,
                None,
            ),
            // ... and "otlp" without an endpoint uses the default one.
            (
                "exporter = \"otlp\"",
                &[],
                Exporter::Otlp,
                Some(DEFAULT_OTLP_ENDPOINT),
            ),
            (
                JAEGER,
                &[("OTEL_TRACES_EXPORTER", "otlp")],
                Exporter::Otlp,
                Some(DEFAULT_OTLP_ENDPOINT),
            ),
        ];
        for (toml, vars, exporter, url) in cases {
            let config = read(toml, vars).unwrap_or_else(|e| panic!("{toml:?} {vars:?}: {e}"));
            assert_eq!(config.selected_exporter(), *exporter, "{toml:?} {vars:?}");
            let otlp = config.reporter_config().otlp;
            assert_eq!(
                otlp.as_ref().map(|o| o.endpoint.as_str()),
                *url,
                "{toml:?} {vars:?}"
            );
        }
    }

    #[test]
    fn the_service_name_is_otels_then_the_resources_then_jaegers() {
        let all = [
            ("JAEGER_SERVICE_NAME", "jaeger"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=resource,team=core",
            ),
            ("OTEL_SERVICE_NAME", "otel"),
        ];
        let toml = "service_name = \"key\"";
        assert_eq!(read(toml, &all).unwrap().service_name(), "otel");
        assert_eq!(read(toml, &all[..2]).unwrap().service_name(), "resource");
        assert_eq!(read(toml, &all[..1]).unwrap().service_name(), "jaeger");
        assert_eq!(read(toml, &[]).unwrap().service_name(), "key");
        // service.name names the service; it is no tag of its own.
        let config = read(toml, &all).unwrap();
        assert_eq!(config.tags.len(), 1, "{:?}", config.tags);
        assert_eq!(config.tags["team"], "core");
    }

    #[test]
    fn resource_attributes_add_to_the_tags_after_jaeger_tags() {
        let vars = [
            ("JAEGER_TAGS", "zone=eu,team=jaeger"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "team=otel%20team,k8s.pod.name=%C3%A9t%C3%A9",
            ),
        ];
        let config = read("tags = { zone = \"us\", app = \"shop\" }", &vars).unwrap();
        let tags: Vec<(&str, &str)> = config
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            tags,
            [
                ("app", "shop"),
                ("k8s.pod.name", "\u{e9}t\u{e9}"),
                ("team", "otel team"),
                ("zone", "eu"),
            ]
        );
    }

    #[test]
    fn disabling_variables() {
        for (vars, disabled) in [
            (&[("OTEL_SDK_DISABLED", "true")][..], true),
            (&[("OTEL_SDK_DISABLED", "FALSE")][..], false),
            (
                &[("JAEGER_DISABLED", "true"), ("OTEL_SDK_DISABLED", "false")][..],
                false,
            ),
            (&[("OTEL_TRACES_EXPORTER", "none")][..], true),
            (
                &[
                    ("OTEL_SDK_DISABLED", "false"),
                    ("OTEL_TRACES_EXPORTER", "none"),
                ][..],
                true,
            ),
        ] {
            assert_eq!(read("", vars).unwrap().disabled, disabled, "{vars:?}");
        }
        // "none" leaves the exporter as configured.
        let config = read("exporter = \"jaeger\"", &[("OTEL_TRACES_EXPORTER", "none")]).unwrap();
        assert_eq!(config.exporter, Some(Exporter::Jaeger));
    }

    #[test]
    fn empty_otel_variables_count_as_unset() {
        let names = [
            "OTEL_SDK_DISABLED",
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
            "OTEL_TRACES_EXPORTER",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ];
        let empty: Vec<(&str, &str)> = names
            .iter()
            .flat_map(|name| [(*name, ""), (*name, "  ")])
            .collect();
        for pair in empty.chunks(1) {
            assert_eq!(read("", pair).unwrap(), Config::default(), "{pair:?}");
        }
        let origins = Config::default().apply_env(env_of(&empty[..])).unwrap();
        assert_eq!(origins, Origins::default());
    }

    #[test]
    fn bad_otel_values_are_refused_naming_the_variable_and_what_is_accepted() {
        // (variable, value, what the error must mention); the OTLP settings
        // read with OTLP selected.
        let cases: &[(&str, &str, &[&str])] = &[
            ("OTEL_SDK_DISABLED", "maybe", &["true or false"]),
            (
                "OTEL_SDK_DISABLED",
                "1",
                &["true or false", "OpenTelemetry"],
            ),
            ("OTEL_SDK_DISABLED", "yes", &["true or false"]),
            ("OTEL_SDK_DISABLED", "on", &["true or false"]),
            ("OTEL_SDK_DISABLED", "0", &["true or false"]),
            ("OTEL_SDK_DISABLED", "off", &["true or false"]),
            (
                "OTEL_TRACES_EXPORTER",
                "zipkin",
                &["zipkin", "otlp, jaeger, none"],
            ),
            (
                "OTEL_TRACES_EXPORTER",
                "otlp,console",
                &["otlp,console", "otlp, jaeger, none"],
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "a=1,oops",
                &["a=1,oops", "key=value"],
            ),
            ("OTEL_RESOURCE_ATTRIBUTES", "a=%FF", &["UTF-8"]),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key", &["key=value"]),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=v", &["key=value"]),
            (
                "OTEL_EXPORTER_OTLP_COMPRESSION",
                "zstd",
                &["zstd", "gzip or none"],
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "br",
                &["gzip or none"],
            ),
            (
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                "10s",
                &["10s", "milliseconds"],
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0", &["at least 1"]),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", &["milliseconds"]),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc",
                &["grpc", "http/protobuf", "4318"],
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "http/json",
                &["http/json", "http/protobuf", "4318"],
            ),
            ("OTEL_SERVICE_NAME", "x", &[]),
        ];
        for (variable, value, needles) in cases {
            let mut vars = vec![(*variable, *value)];
            if variable.starts_with("OTEL_EXPORTER_OTLP_") {
                vars.push(("OTEL_TRACES_EXPORTER", "otlp"));
            }
            let result = read("", &vars);
            if needles.is_empty() {
                assert!(result.is_ok(), "{variable}={value}: {result:?}");
                continue;
            }
            let error = result
                .expect_err(&format!("accepted {variable}={value}"))
                .to_string();
            assert!(
                error.starts_with(&format!("invalid `{variable}` = ")),
                "{error}"
            );
            for needle in *needles {
                assert!(
                    error.contains(needle),
                    "{error:?} does not mention {needle:?}"
                );
            }
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn bad_otlp_endpoints_are_refused_naming_the_key_or_variable() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                "otlp_endpoint = \"otel:4318\"",
                &[],
                "opentracing.otlp_endpoint",
            ),
            (
                "otlp_traces_endpoint = \"ftp://otel/v1/traces\"",
                &[],
                "opentracing.otlp_traces_endpoint",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "otel:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                "",
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://:4318/v1/traces",
                )],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
        ];
        for (toml, vars, key) in cases {
            let error = read(toml, vars).unwrap_err().to_string();
            assert!(error.starts_with(&format!("invalid `{key}` = ")), "{error}");
            assert!(error.contains("an http(s) URL such as http://"), "{error}");
        }
        let error = read(
            "",
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "htp://u:s3cret@otel:4318")],
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn grpc_and_json_are_refused_with_the_port_to_use() {
        for protocol in ["grpc", "http/json"] {
            let error = read(
                &format!("otlp_protocol = \"{protocol}\""),
                &[("OTEL_TRACES_EXPORTER", "otlp")],
            )
            .unwrap_err()
            .to_string();
            assert!(
                error.starts_with(&format!(
                    "invalid `opentracing.otlp_protocol` = \"{protocol}\" (from TOML source \
                     string [default.opentracing]): expected http/protobuf, the only OTLP \
                     protocol supported"
                )),
                "{error}"
            );
            assert!(error.contains("OTLP/HTTP port, 4318"), "{error}");
        }
        assert_eq!(
            read("otlp_protocol = \"HTTP/PROTOBUF\"", &[])
                .unwrap()
                .otlp_protocol,
            OtlpProtocol::HttpProtobuf
        );
    }

    #[test]
    fn bad_otlp_keys_are_refused_naming_the_key() {
        let cases: &[(&str, &[&str])] = &[
            (
                "exporter = \"zipkin\"",
                &["opentracing.exporter", "jaeger, otlp"],
            ),
            (
                "otlp_compression = \"zstd\"",
                &["opentracing.otlp_compression", "gzip or none"],
            ),
            (
                "otlp_timeout_ms = 0",
                &["opentracing.otlp_timeout_ms", "at least 1"],
            ),
            (
                "otlp_headers = { \"bad name\" = \"v\" }",
                &["opentracing.otlp_headers", "<redacted>", "header names"],
            ),
            (
                "otlp_headers = { ok = \"line\\nbreak\" }",
                &["opentracing.otlp_headers", "<redacted>", "ok"],
            ),
            (
                "otlp_headers = \"a=b\"",
                &["opentracing.otlp_headers", "a table"],
            ),
            ("otlp_endpoints = \"x\"", &["did you mean `otlp_endpoint`?"]),
        ];
        // OTLP selected (the variable, as a key would be set twice).
        let otlp = [("OTEL_TRACES_EXPORTER", "otlp")];
        for (toml, needles) in cases {
            let error = read(toml, &otlp).unwrap_err().to_string();
            for needle in *needles {
                assert!(
                    error.contains(needle),
                    "{error:?} does not mention {needle:?}"
                );
            }
            assert!(
                !error.contains("line\nbreak") && !error.contains("a=b"),
                "{error}"
            );
        }
        // A header value of the wrong type is not shown either.
        let error = read("otlp_headers = { key = 12345678 }", &otlp)
            .unwrap_err()
            .to_string();
        assert!(error.contains("opentracing.otlp_headers.key"), "{error}");
        assert!(!error.contains("12345678"), "{error}");
    }

    #[test]
    fn header_values_are_never_in_debug_output() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret-env"),
            ("OTEL_TRACES_EXPORTER", "jaeger"),
        ];
        let config = read("otlp_headers = { other = \"s3cret-toml\" }", &vars).unwrap();
        let shown = format!("{config:?}");
        assert!(shown.contains("api-key"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let otlp = Config {
            exporter: Some(Exporter::Otlp),
            ..config
        };
        let shown = format!("{:?}", otlp.reporter_config());
        assert!(shown.contains("api-key"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn selecting_otlp_without_the_otlp_feature_refuses_ignition_naming_what_selected_it() {
        // (section, variables, the key or variable named)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("exporter = \"otlp\"", &[], "opentracing.exporter"),
            (
                "",
                &[("OTEL_TRACES_EXPORTER", "otlp")],
                "OTEL_TRACES_EXPORTER",
            ),
            (
                "otlp_endpoint = \"http://otel:4318\"",
                &[],
                "opentracing.otlp_endpoint",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                "",
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://otel:4318/v1/traces",
                )],
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            ),
        ];
        for (toml, vars, key) in cases {
            let result = read(toml, vars);
            if cfg!(feature = "otlp") {
                assert!(result.is_ok(), "{result:?}");
            } else {
                let error = result.unwrap_err().to_string();
                assert!(error.starts_with(&format!("invalid `{key}` = ")), "{error}");
                assert!(error.contains("`otlp` feature"), "{error}");
            }
        }
        // Jaeger chosen: the OTLP settings are unused, and accepted.
        let jaeger = read(
            "exporter = \"jaeger\"\notlp_endpoint = \"http://otel:4318\"",
            &[],
        );
        assert!(jaeger.is_ok(), "{jaeger:?}");
    }

    #[test]
    #[cfg(not(feature = "otlp"))]
    fn without_the_otlp_feature_the_refusal_says_how_to_get_it() {
        let error = read("", &[("OTEL_TRACES_EXPORTER", "otlp")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid `OTEL_TRACES_EXPORTER` = \"otlp\": expected \"jaeger\": this build of \
             rocket_opentracing has no OTLP exporter (enable its `otlp` feature), and reports \
             to Jaeger"
        );
        let error = read("otlp_endpoint = \"http://u:s3cret@otel:4318\"", &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid `opentracing.otlp_endpoint` = \"http://<redacted>@otel:4318\" (from TOML \
             source string [default.opentracing]): expected no value: this build of \
             rocket_opentracing has no OTLP exporter (enable its `otlp` feature), and reports \
             to Jaeger"
        );
    }

    #[test]
    fn debug_output_never_shows_the_credentials_of_endpoint_urls() {
        let config = Config {
            endpoint: Some(
                "https://tracer:s3cret-collector@collector.example:14268/api/traces".to_owned(),
            ),
            otlp_endpoint: Some("https://user:s3cret-base@otel.example:4318".to_owned()),
            otlp_traces_endpoint: Some(
                "https://user:s3cret-traces@otel.example:4318/v1/traces".to_owned(),
            ),
            user: Some("tracer".to_owned()),
            password: Some(Secret::new("s3cret-password")),
            otlp_headers: [("api-key".to_owned(), Secret::new("s3cret-header"))].into(),
            ..Config::default()
        };
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            for (key, url) in [
                (
                    "endpoint",
                    "https://<redacted>@collector.example:14268/api/traces",
                ),
                ("otlp_endpoint", "https://<redacted>@otel.example:4318"),
                (
                    "otlp_traces_endpoint",
                    "https://<redacted>@otel.example:4318/v1/traces",
                ),
            ] {
                let field = if shown.contains('\n') {
                    format!("{key}: Some(\n        {url:?},\n    )")
                } else {
                    format!("{key}: Some({url:?})")
                };
                assert!(shown.contains(&field), "{field} in {shown}");
            }
            assert!(shown.contains("user: Some(\"tracer\")") || shown.contains("\"tracer\""));
        }
        // A URL without credentials shows as it is; none shows as `None`.
        let plain = Config {
            endpoint: Some("http://collector:14268/api/traces".to_owned()),
            ..Config::default()
        };
        let shown = format!("{plain:?}");
        assert!(
            shown.contains("endpoint: Some(\"http://collector:14268/api/traces\")"),
            "{shown}"
        );
        assert!(shown.contains("otlp_endpoint: None"), "{shown}");
    }

    #[test]
    fn debug_output_names_every_key_and_keys_name_every_field() {
        // The fields of the pretty form, one a line, four spaces in.
        let shown = format!("{:#?}", Config::default());
        let fields: Vec<&str> = shown
            .lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| !line.starts_with(' '))
            .filter_map(|line| line.split_once(": ").map(|(name, _)| name))
            .collect();
        assert_eq!(fields, KEYS, "{shown}");
        assert!(shown.starts_with("Config {"), "{shown}");
        // Every field of the section is a key (the serialized form has
        // them all, set or not).
        let serialized = Value::serialize(Config::default())
            .unwrap()
            .into_dict()
            .unwrap();
        let mut fields: Vec<&str> = serialized.keys().map(String::as_str).collect();
        let mut keys = KEYS.to_vec();
        fields.sort_unstable();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    /// The section `toml` (without its header) read with the variables
    /// `vars`, and the warnings.
    fn read_warned(
        toml: &str,
        vars: &[(&str, &str)],
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
        Config::read(&figment, env_of(vars))
    }

    /// A bad value of an OTLP setting: (section, variables, the key or
    /// variable a refusal names).
    type BadOtlp = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );

    /// What selects Jaeger or disables tracing: (section, variables, the
    /// key or variable a warning names for it).
    type Choice = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );

    /// Bad values of every OTLP setting, by key and by variable.
    fn bad_otlp_values() -> Vec<BadOtlp> {
        let mut cases: Vec<BadOtlp> = vec![
            ("otlp_protocol = \"grpc\"", &[], "opentracing.otlp_protocol"),
            (
                "otlp_protocol = \"http/json\"",
                &[],
                "opentracing.otlp_protocol",
            ),
            (
                "otlp_compression = \"zstd\"",
                &[],
                "opentracing.otlp_compression",
            ),
            ("otlp_timeout_ms = 0", &[], "opentracing.otlp_timeout_ms"),
            (
                "otlp_timeout_ms = \"soon\"",
                &[],
                "opentracing.otlp_timeout_ms",
            ),
            (
                "otlp_headers = \"a=s3cret\"",
                &[],
                "opentracing.otlp_headers",
            ),
            (
                "otlp_headers = { key = 12345678 }",
                &[],
                "opentracing.otlp_headers.key",
            ),
            (
                "otlp_headers = { \"bad name\" = \"s3cret\" }",
                &[],
                "opentracing.otlp_headers",
            ),
            (
                "otlp_headers = { ok = \"s3cret\\nX-Injected: 1\" }",
                &[],
                "opentracing.otlp_headers",
            ),
            ("otlp_endpoint = 4318", &[], "opentracing.otlp_endpoint"),
            (
                "otlp_traces_endpoint = [\"http://otel:4318\"]",
                &[],
                "opentracing.otlp_traces_endpoint",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")],
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key:s3cret")],
                "OTEL_EXPORTER_OTLP_HEADERS",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s3cret%FF")],
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_COMPRESSION", "br")],
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")],
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0")],
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            ),
        ];
        // URLs are checked by the OTLP exporter's parser.
        if cfg!(feature = "otlp") {
            cases.extend([
                (
                    "otlp_endpoint = \"grpc://u:s3cret@otel:4317\"",
                    &[][..],
                    "opentracing.otlp_endpoint",
                ),
                (
                    "otlp_traces_endpoint = \"otel:4318\"",
                    &[],
                    "opentracing.otlp_traces_endpoint",
                ),
                (
                    "",
                    &[("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://u:s3cret@otel:4317")],
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                ),
                (
                    "",
                    &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otel:4318")],
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                ),
            ]);
        }
        cases
    }

    /// `vars` and `more`.
    fn with<'a>(
        vars: &[(&'a str, &'a str)],
        more: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        vars.iter().chain(more).copied().collect()
    }

    #[test]
    fn bad_otlp_values_refuse_ignition_when_exporting_over_otlp() {
        for (toml, vars, name) in bad_otlp_values() {
            // Selected by the variable, by the key, or (no exporter set) by
            // the refused endpoint itself.
            let selections = [
                (
                    toml.to_owned(),
                    with(vars, &[("OTEL_TRACES_EXPORTER", "otlp")]),
                ),
                (format!("exporter = \"otlp\"\n{toml}"), vars.to_vec()),
                (
                    format!("exporter = \"jaeger\"\n{toml}"),
                    with(vars, &[("OTEL_TRACES_EXPORTER", "otlp")]),
                ),
            ];
            for (toml, vars) in selections {
                let error = read_warned(&toml, &vars)
                    .expect_err(&format!("accepted {toml:?} {vars:?}"))
                    .to_string();
                assert!(
                    error.starts_with(&format!("invalid `{name}` = ")),
                    "{toml:?} {vars:?}: {error}"
                );
                assert!(!error.contains("s3cret"), "{error}");
                assert!(!error.contains('\n'), "{error}");
            }
        }
        // An endpoint that does not read still selects OTLP.
        for toml in [
            "otlp_endpoint = 4318",
            "otlp_traces_endpoint = [\"http://otel:4318\"]",
        ] {
            let error = read_warned(toml, &[]).unwrap_err().to_string();
            assert!(error.contains("endpoint"), "{error}");
        }
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn a_password_with_a_slash_is_hidden_from_debug_and_warnings() {
        let url = "https://user:s3cret/x@otel.example:4318";
        let config = Config {
            otlp_endpoint: Some(url.to_owned()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
        let vars = [
            ("OTEL_TRACES_EXPORTER", "jaeger"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
        ];
        let (_, warnings) = read_warned("", &vars).unwrap();
        assert!(!warnings.is_empty());
        for warning in &warnings {
            assert!(!warning.contains("s3cret"), "{warning}");
        }
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", url)];
        let error = read_warned("", &vars).unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn a_bad_otlp_value_a_higher_source_replaces_refuses_nothing() {
        // The platform's general variable, the application's traces one.
        let vars = [
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ];
        assert!(read_warned("", &vars).is_ok());
        // The section's value, replaced by a variable.
        let vars = [
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ];
        assert!(read_warned("otlp_protocol = \"grpc\"", &vars).is_ok());
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")];
        let (config, _) = read_warned("otlp_traces_endpoint = 4318", &vars).unwrap();
        assert_eq!(config.otlp_traces_url(), "http://otel:4318/v1/traces");
        // The one of higher precedence is bad: still refused.
        let vars = [
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ];
        let error = read_warned("", &vars).unwrap_err().to_string();
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
            "{error}"
        );
    }

    #[test]
    fn a_header_written_with_a_colon_shows_no_token() {
        let header = (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization:Basic czNjcmV0dG9rZW4==",
        );
        let vars = [("OTEL_TRACES_EXPORTER", "jaeger"), header];
        let (_, warnings) = read_warned("", &vars).unwrap();
        assert!(!warnings.is_empty());
        for warning in &warnings {
            assert!(!warning.contains("czNjcmV0dG9rZW4"), "{warning}");
        }
        let vars = [("OTEL_TRACES_EXPORTER", "otlp"), header];
        let error = read_warned("", &vars).unwrap_err().to_string();
        assert!(!error.contains("czNjcmV0dG9rZW4"), "{error}");
        assert!(error.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{error}");
    }

    #[test]
    fn bad_otlp_values_are_ignored_with_one_warning_when_jaeger_is_selected() {
        let selections: [Choice; 3] = [
            ("exporter = \"jaeger\"", &[], "opentracing.exporter"),
            (
                "",
                &[("OTEL_TRACES_EXPORTER", "jaeger")],
                "OTEL_TRACES_EXPORTER",
            ),
            (
                "exporter = \"otlp\"",
                &[("OTEL_TRACES_EXPORTER", "JAEGER")],
                "OTEL_TRACES_EXPORTER",
            ),
        ];
        let defaults = Config::default();
        for (toml, vars, name) in bad_otlp_values() {
            for (choice, chosen_by, by) in selections {
                let toml = format!("{choice}\n{toml}");
                let vars = with(vars, chosen_by);
                let (config, warnings) =
                    read_warned(&toml, &vars).unwrap_or_else(|e| panic!("{toml:?} {vars:?}: {e}"));
                assert_eq!(config.selected_exporter(), Exporter::Jaeger);
                assert_eq!(warnings.len(), 1, "{toml:?} {vars:?}: {warnings:?}");
                let warning = &warnings[0];
                assert!(
                    warning.starts_with(&format!("invalid `{name}` = ")),
                    "{warning}"
                );
                assert!(
                    warning.ends_with(&format!(
                        "; ignored, as the OTLP settings are unused: the exporter is Jaeger \
                         (selected by `{by}`)"
                    )),
                    "{warning}"
                );
                assert!(!warning.contains("s3cret"), "{warning}");
                assert!(!warning.contains('\n'), "{warning}");
                // A value refused is not applied.
                assert_eq!(config.otlp_protocol, defaults.otlp_protocol);
                assert_eq!(config.otlp_compression, defaults.otlp_compression);
                if !name.contains("TIMEOUT") {
                    assert_eq!(config.otlp_timeout_ms, defaults.otlp_timeout_ms, "{name}");
                }
                if name.contains("HEADERS") || name.contains("headers") {
                    assert!(config.otlp_headers.is_empty(), "{:?}", config.otlp_headers);
                }
            }
        }
    }

    #[test]
    fn bad_otlp_values_are_ignored_with_a_warning_when_tracing_is_disabled() {
        let disablings: [Choice; 4] = [
            ("disabled = true", &[], "opentracing.disabled"),
            ("", &[("OTEL_SDK_DISABLED", "true")], "OTEL_SDK_DISABLED"),
            (
                "",
                &[("OTEL_TRACES_EXPORTER", "none")],
                "OTEL_TRACES_EXPORTER",
            ),
            // OTLP chosen, but nothing is exported.
            (
                "exporter = \"otlp\"\ndisabled = true",
                &[],
                "opentracing.disabled",
            ),
        ];
        for (toml, vars, name) in bad_otlp_values() {
            for (choice, disabled_by, by) in disablings {
                let toml = format!("{choice}\n{toml}");
                let vars = with(vars, disabled_by);
                let (config, warnings) =
                    read_warned(&toml, &vars).unwrap_or_else(|e| panic!("{toml:?} {vars:?}: {e}"));
                assert!(config.disabled);
                let warning = &warnings[0];
                assert!(
                    warning.starts_with(&format!("invalid `{name}` = ")),
                    "{warning}"
                );
                assert!(
                    warning.ends_with(&format!(
                        "; ignored, as the OTLP settings are unused: tracing is disabled \
                         (by `{by}`)"
                    )),
                    "{warning}"
                );
                assert!(!warning.contains("s3cret"), "{warning}");
                // Besides, without the `otlp` feature, OTLP chosen.
                let expected = if cfg!(feature = "otlp") || !choice.contains("otlp") {
                    1
                } else {
                    2
                };
                assert_eq!(warnings.len(), expected, "{toml:?} {vars:?}: {warnings:?}");
            }
        }
    }

    #[test]
    fn with_no_exporter_nor_otlp_endpoint_set_bad_otlp_values_are_ignored() {
        let (config, warnings) = read_warned("otlp_protocol = \"grpc\"", &[]).unwrap();
        assert_eq!(config.selected_exporter(), Exporter::Jaeger);
        assert_eq!(
            warnings,
            [format!(
                "invalid `opentracing.otlp_protocol` = \"grpc\" (from TOML source string \
                 [default.opentracing]): expected {}; ignored, as the OTLP settings are unused: \
                 the exporter is Jaeger (neither an OTLP endpoint nor exporter = \"otlp\" is set)",
                otlp::PROTOCOL_EXPECTED
            )]
        );
    }

    #[test]
    fn every_bad_otlp_value_is_warned_about_and_the_rest_is_read() {
        let toml = "exporter = \"jaeger\"\n\
                    agent_port = 7000\n\
                    otlp_compression = \"zstd\"\n\
                    otlp_headers = { a = 1, \"bad name\" = \"v\" }\n\
                    otlp_protocol = \"grpc\"\n\
                    otlp_timeout_ms = -5\n\
                    queue_size = 5";
        let vars = [
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "br"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "250"),
        ];
        let (config, warnings) = read_warned(toml, &vars).unwrap();
        assert_eq!(config.agent_port, 7000);
        assert_eq!(config.queue_size, 5);
        // A good variable over a bad key applies, and the key's value,
        // replaced, is not warned about.
        assert_eq!(config.otlp_timeout_ms, 250);
        let named: Vec<&str> = warnings
            .iter()
            .map(|w| w.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            named,
            [
                "opentracing.otlp_compression",
                "opentracing.otlp_headers.a",
                "opentracing.otlp_protocol",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ],
            "{warnings:?}"
        );
        assert_eq!(config.otlp_compression, OtlpCompression::None);
        assert!(config.otlp_headers.is_empty());
        // Exporting over OTLP, the first refuses ignition.
        let error = read_warned(toml, &with(&vars, &[("OTEL_TRACES_EXPORTER", "otlp")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid `opentracing.otlp_compression` = \"zstd\""),
            "{error}"
        );
    }

    #[test]
    fn what_selects_the_exporter_or_disables_tracing_is_still_refused() {
        let bad = "otlp_protocol = \"grpc\"";
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("exporter = \"zipkin\"", &[], "opentracing.exporter"),
            ("exporter = \"none\"", &[], "opentracing.exporter"),
            (
                "",
                &[("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
            ("", &[("OTEL_SDK_DISABLED", "yes")], "OTEL_SDK_DISABLED"),
            ("disabled = \"yes\"", &[], "opentracing.disabled"),
            ("", &[("JAEGER_DISABLED", "maybe")], "JAEGER_DISABLED"),
        ];
        for (toml, vars, name) in cases {
            let toml = format!("{toml}\n{bad}");
            let error = read_warned(&toml, vars).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("invalid `{name}` = ")),
                "{toml:?} {vars:?}: {error}"
            );
        }
    }

    #[test]
    fn without_the_otlp_feature_otlp_chosen_with_tracing_disabled_is_a_warning() {
        let (config, warnings) = read_warned("exporter = \"otlp\"\ndisabled = true", &[]).unwrap();
        assert!(config.disabled);
        if cfg!(feature = "otlp") {
            assert!(warnings.is_empty(), "{warnings:?}");
        } else {
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("`otlp` feature"), "{warnings:?}");
            assert!(
                warnings[0].ends_with("tracing is disabled (by `opentracing.disabled`)"),
                "{warnings:?}"
            );
        }
    }
}
