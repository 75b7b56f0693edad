//! The standard Jaeger client variables (`JAEGER_*`), applied over the
//! `opentracing` section: they take precedence, as for every Jaeger client.
//! OpenTelemetry's (`OTEL_*`, in `otel.rs`) are applied after them.

use super::error::invalid;
use super::values::{check_endpoint, parse_bool, parse_millis};
use super::{Config, ConfigError, Deferred, Origins, Secret};
use crate::sampler::ACCEPTED_TYPES;

impl Config {
    /// Applies the standard Jaeger client variables, then OpenTelemetry's;
    /// the bad values of OTLP settings are left unapplied (they are set
    /// aside by [`Config::apply_env_deferring`]).
    pub(super) fn apply_env(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Origins, ConfigError> {
        self.apply_env_deferring(env, &mut Deferred::default())
    }

    /// Applies the standard Jaeger client variables, then OpenTelemetry's,
    /// setting aside in `deferred` the refusals of OTLP settings' values
    /// (`OTEL_EXPORTER_OTLP_*`), which are left unapplied: whether they
    /// refuse ignition depends on the exporter.
    pub(super) fn apply_env_deferring(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
        deferred: &mut Deferred,
    ) -> Result<Origins, ConfigError> {
        let mut origins = Origins::default();
        if let Some(name) = env("JAEGER_SERVICE_NAME") {
            self.service_name = Some(name);
            origins.record("service_name", "JAEGER_SERVICE_NAME");
        }
        if let Some(flag) = env("JAEGER_DISABLED") {
            self.disabled = parse_bool(&flag)
                .ok_or_else(|| invalid("JAEGER_DISABLED", &flag, "true or false"))?;
            origins.record("disabled", "JAEGER_DISABLED");
        }
        if let Some(host) = env("JAEGER_AGENT_HOST") {
            self.agent_host = host;
            origins.record("agent_host", "JAEGER_AGENT_HOST");
        }
        if let Some(port) = env("JAEGER_AGENT_PORT") {
            self.agent_port = port
                .trim()
                .parse()
                .map_err(|_| invalid("JAEGER_AGENT_PORT", &port, "a UDP port number (1-65535)"))?;
            origins.record("agent_port", "JAEGER_AGENT_PORT");
        }
        if let Some(endpoint) = env("JAEGER_ENDPOINT").filter(|e| !e.trim().is_empty()) {
            check_endpoint("JAEGER_ENDPOINT", &endpoint)?;
            self.endpoint = Some(endpoint);
            origins.record("endpoint", "JAEGER_ENDPOINT");
        }
        if let Some(user) = env("JAEGER_USER").filter(|u| !u.is_empty()) {
            self.user = Some(user);
            origins.record("user", "JAEGER_USER");
        }
        if let Some(password) = env("JAEGER_PASSWORD").filter(|p| !p.is_empty()) {
            self.password = Some(Secret(password));
            origins.record("password", "JAEGER_PASSWORD");
        }
        if let Some(token) = env("JAEGER_AUTH_TOKEN").filter(|t| !t.is_empty()) {
            self.auth_token = Some(Secret(token));
            origins.record("auth_token", "JAEGER_AUTH_TOKEN");
        }
        if let Some(size) = env("JAEGER_REPORTER_MAX_QUEUE_SIZE") {
            self.queue_size = size.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(
                    "JAEGER_REPORTER_MAX_QUEUE_SIZE",
                    &size,
                    "a number of spans, at least 1",
                )
            })?;
            origins.record("queue_size", "JAEGER_REPORTER_MAX_QUEUE_SIZE");
        }
        if let Some(interval) = env("JAEGER_REPORTER_FLUSH_INTERVAL") {
            self.flush_interval_ms =
                parse_millis(&interval)
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| {
                        invalid(
                    "JAEGER_REPORTER_FLUSH_INTERVAL",
                    &interval,
                    "a positive number of milliseconds, or a duration such as 500ms, 1s or 1m",
                )
                    })?;
            origins.record("flush_interval_ms", "JAEGER_REPORTER_FLUSH_INTERVAL");
        }
        if let Some(flag) = env("JAEGER_REPORTER_LOG_SPANS") {
            self.log_spans = parse_bool(&flag)
                .ok_or_else(|| invalid("JAEGER_REPORTER_LOG_SPANS", &flag, "true or false"))?;
            origins.record("log_spans", "JAEGER_REPORTER_LOG_SPANS");
        }
        if let Some(kind) = env("JAEGER_SAMPLER_TYPE") {
            let expected = format!("one of {ACCEPTED_TYPES}");
            self.sampler_type = Some(
                kind.parse()
                    .map_err(|_| invalid("JAEGER_SAMPLER_TYPE", &kind, expected))?,
            );
            origins.record("sampler_type", "JAEGER_SAMPLER_TYPE");
        }
        if let Some(param) = env("JAEGER_SAMPLER_PARAM") {
            self.sampler_param = Some(
                param
                    .trim()
                    .parse()
                    .map_err(|_| invalid("JAEGER_SAMPLER_PARAM", &param, "a number"))?,
            );
            origins.record("sampler_param", "JAEGER_SAMPLER_PARAM");
        }
        if let Some(tags) = env("JAEGER_TAGS") {
            for item in tags.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let (key, value) = item
                    .split_once('=')
                    .filter(|(k, _)| !k.trim().is_empty())
                    .ok_or_else(|| {
                        invalid("JAEGER_TAGS", &tags, "comma-separated key=value pairs")
                    })?;
                self.tags
                    .insert(key.trim().to_owned(), value.trim().to_owned());
            }
            origins.record("tags", "JAEGER_TAGS");
        }
        // OpenTelemetry's variables, over the Jaeger ones.
        self.apply_otel_env(&env, &mut origins, deferred)?;
        Ok(origins)
    }
}
