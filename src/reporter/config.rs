//! The reporter's settings, their defaults, and the collector's
//! credentials. [`Config`](crate::Config) derives a [`ReporterConfig`] from
//! the `opentracing` section; its defaults are these.

use std::fmt;
use std::time::Duration;

use crate::limits::{DEFAULT_MAX_LOGS_PER_SPAN, DEFAULT_MAX_TAG_VALUE_LENGTH};
use crate::redact::redact_credentials;

/// Default host of the Jaeger agent.
pub const DEFAULT_AGENT_HOST: &str = "127.0.0.1";

/// Default UDP port of the Jaeger agent (`jaeger.thrift` over compact Thrift).
pub const DEFAULT_AGENT_PORT: u16 = 6831;

/// Default capacity of the span queue.
pub const DEFAULT_QUEUE_SIZE: usize = 10_000;

/// Default interval between two sends of pending spans.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Default OTLP/HTTP traces endpoint: an OpenTelemetry collector, or
/// Jaeger v2, on this host (OTLP's standard port for HTTP, 4318).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// Default time one OTLP export request may take (OpenTelemetry's default).
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how spans are exported over OTLP/HTTP with protobuf, to
/// Jaeger v2, Grafana Tempo or any OpenTelemetry collector. Its `Debug`
/// output hides the header values and the endpoint's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The full traces URL, e.g. `"http://localhost:4318/v1/traces"`
    /// ([`DEFAULT_OTLP_ENDPOINT`] by default); `http` or `https`.
    pub endpoint: String,
    /// Headers sent with every export request (name, value), e.g. an API
    /// key; their values are never logged.
    pub headers: Vec<(String, String)>,
    /// Compression of the request bodies (none by default).
    pub compression: OtlpCompression,
    /// Longest time one export request may take, connection included
    /// ([`DEFAULT_OTLP_TIMEOUT`] by default).
    pub timeout: Duration,
}

impl OtlpConfig {
    /// Exports to `endpoint` (the full traces URL), without extra headers
    /// or compression, with the default timeout.
    pub fn new(endpoint: impl Into<String>) -> Self {
        OtlpConfig {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            compression: OtlpCompression::None,
            timeout: DEFAULT_OTLP_TIMEOUT,
        }
    }
}

impl Default for OtlpConfig {
    /// [`OtlpConfig::new`] with [`DEFAULT_OTLP_ENDPOINT`].
    fn default() -> Self {
        OtlpConfig::new(DEFAULT_OTLP_ENDPOINT)
    }
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &redact_credentials(&self.endpoint))
            .field("headers", &headers)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Compression of OTLP request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OtlpCompression {
    /// Bodies sent as they are.
    #[default]
    None,
    /// Bodies gzip-compressed (`Content-Encoding: gzip`).
    Gzip,
}

/// Configuration of a [`Reporter`](super::Reporter). Its `Debug` output hides credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ReporterConfig {
    /// Name of the traced service (the Jaeger process' `serviceName`).
    pub service_name: String,
    /// Host name or IP address of the Jaeger agent, e.g. `"127.0.0.1"` or
    /// `"jaeger-agent"`. A host name is resolved again every 30 s.
    pub agent_host: String,
    /// UDP port of the Jaeger agent ([`DEFAULT_AGENT_PORT`] by default).
    pub agent_port: u16,
    /// URL of a Jaeger collector, e.g.
    /// `"http://jaeger-collector:14268/api/traces"`. When set, spans are
    /// POSTed there and the agent settings are unused.
    pub endpoint: Option<String>,
    /// Credentials for the collector.
    pub auth: Option<CollectorAuth>,
    /// Export over OTLP/HTTP instead of Jaeger's formats: when set, spans
    /// go there, and `endpoint`, `auth` and the agent settings are unused.
    pub otlp: Option<OtlpConfig>,
    /// Capacity of the bounded span queue ([`DEFAULT_QUEUE_SIZE`] by
    /// default; at least 1): spans finished while this many wait for
    /// delivery are dropped (and counted).
    pub queue_size: usize,
    /// Longest time a finished span waits before being sent
    /// ([`DEFAULT_FLUSH_INTERVAL`] by default; clamped to 1 ms ..= 1 day).
    pub flush_interval: Duration,
    /// Also log every reported span on one line at `info` level.
    pub log_spans: bool,
    /// Extra Jaeger process tags (`key`, `value`), added to `jaeger.version`,
    /// `hostname` and `ip`; with OTLP, resource attributes.
    pub process_tags: Vec<(String, String)>,
    /// Longest string tag value, log field value or operation name sent, in
    /// bytes; a longer one is cut (on a character boundary) and ends with
    /// `...[truncated]`
    /// (4,096
    /// by default; at least 1). See [`crate::Limits`].
    pub max_tag_value_length: usize,
    /// Most logs sent per span; the rest are left out and counted in a
    /// `rocket_opentracing.dropped_logs` tag
    /// (128
    /// by default).
    pub max_logs_per_span: usize,
}

impl ReporterConfig {
    /// A configuration for `service_name` with the default settings: agent
    /// at `127.0.0.1:6831`, no collector, a queue of 10,000 spans, a flush
    /// interval of 1 s, span logging off, no extra process tags, and the
    /// default [limits](crate::Limits) on tag values and logs.
    pub fn new(service_name: impl Into<String>) -> Self {
        ReporterConfig {
            service_name: service_name.into(),
            agent_host: DEFAULT_AGENT_HOST.to_owned(),
            agent_port: DEFAULT_AGENT_PORT,
            endpoint: None,
            auth: None,
            otlp: None,
            queue_size: DEFAULT_QUEUE_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            log_spans: false,
            process_tags: Vec::new(),
            max_tag_value_length: DEFAULT_MAX_TAG_VALUE_LENGTH,
            max_logs_per_span: DEFAULT_MAX_LOGS_PER_SPAN,
        }
    }
}

impl fmt::Debug for ReporterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReporterConfig")
            .field("service_name", &self.service_name)
            .field("agent_host", &self.agent_host)
            .field("agent_port", &self.agent_port)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(redact_credentials),
            )
            .field("auth", &self.auth)
            .field("otlp", &self.otlp)
            .field("queue_size", &self.queue_size)
            .field("flush_interval", &self.flush_interval)
            .field("log_spans", &self.log_spans)
            .field("process_tags", &self.process_tags)
            .field("max_tag_value_length", &self.max_tag_value_length)
            .field("max_logs_per_span", &self.max_logs_per_span)
            .finish()
    }
}

impl Default for ReporterConfig {
    /// The default settings (see [`ReporterConfig::new`]) with the file stem
    /// of the current executable as service name (`"rocket"` if unknown).
    fn default() -> Self {
        ReporterConfig::new(default_service_name())
    }
}

/// The current executable's file stem, or `"rocket"`.
pub(crate) fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem()?.to_str().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "rocket".to_owned())
}

/// Credentials sent to the collector with each batch, as other Jaeger
/// clients offer (`JAEGER_USER`/`JAEGER_PASSWORD` or `JAEGER_AUTH_TOKEN`).
///
/// Its `Debug` output never shows the password or token.
#[derive(Clone, PartialEq, Eq)]
pub enum CollectorAuth {
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token (`Authorization: Bearer <token>`).
    Bearer(String),
}

impl fmt::Debug for CollectorAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CollectorAuth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            CollectorAuth::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}
