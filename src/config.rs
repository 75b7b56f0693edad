//! Configuration: the `[default.opentracing]` section of `Rocket.toml`,
//! overridden by the standard `JAEGER_*` environment variables.

use std::fmt;
use std::time::Duration;

use rocket::figment::Figment;
use rocket::serde::{Deserialize, Serialize};

use crate::naming::OperationName;
use crate::reporter::{default_service_name, ReporterConfig};
use crate::Mode;

/// The `opentracing` section of Rocket's configuration.
///
/// Read at ignition through Rocket's own figment, so profiles
/// (`[debug.opentracing]`, `[release.opentracing]`) and
/// `ROCKET_OPENTRACING='{...}'` overrides work as for every Rocket setting.
/// The standard Jaeger environment variables then override it: precedence is
/// `Rocket.toml` < `ROCKET_*` < `JAEGER_*`. A missing section means the
/// defaults below; an unknown key or a value of the wrong type refuses
/// ignition with an error naming the key.
///
/// ```toml
/// [default.opentracing]
/// # Service name reported to Jaeger. Default: the executable's name.
/// # Env: JAEGER_SERVICE_NAME
/// service_name = "my-service"
/// # Jaeger agent (UDP, compact thrift). Env: JAEGER_AGENT_HOST, JAEGER_AGENT_PORT
/// agent_host = "127.0.0.1"
/// agent_port = 6831
/// # Also print each finished span on one line through Rocket's logger.
/// # Env: JAEGER_REPORTER_LOG_SPANS
/// log_spans = false
/// # "all": trace every request; "opt_in": only routes that take `ActiveSpan`.
/// # Used by `OpenTracingFairing::from_config()`.
/// mode = "all"
/// # "route": "GET /hello/<name>"; "handler": the handler's function name.
/// operation_name = "route"
/// # Capacity of the queue of finished spans waiting for the reporter.
/// queue_size = 10000
/// # How often the reporter sends what it has, in milliseconds.
/// flush_interval_ms = 1000
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", default, deny_unknown_fields)]
pub struct Config {
    /// Service name reported to Jaeger; `None` means the executable's name.
    pub service_name: Option<String>,
    /// Host name or IP address of the Jaeger agent. Default `127.0.0.1`.
    pub agent_host: String,
    /// UDP port of the Jaeger agent (compact thrift). Default `6831`.
    pub agent_port: u16,
    /// Print each finished span through Rocket's logger. Default `false`.
    pub log_spans: bool,
    /// Which requests the config-built fairing traces. Default [`Mode::All`].
    pub mode: Mode,
    /// How spans are named. Default [`OperationName::Route`].
    pub operation_name: OperationName,
    /// Capacity of the finished-span queue. Default `10000`.
    pub queue_size: usize,
    /// Reporter flush interval in milliseconds. Default `1000`.
    pub flush_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: None,
            agent_host: "127.0.0.1".into(),
            agent_port: 6831,
            log_spans: false,
            mode: Mode::All,
            operation_name: OperationName::Route,
            queue_size: 10_000,
            flush_interval_ms: 1_000,
        }
    }
}

/// The configuration section's name in `Rocket.toml`.
pub const SECTION: &str = "opentracing";

/// A configuration value that was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// The `opentracing` section of Rocket's figment could not be read.
    Figment(Box<rocket::figment::Error>),
    /// A key (or environment variable) holds a value that is not accepted.
    Invalid {
        /// The key or environment variable, e.g. `JAEGER_AGENT_PORT`.
        key: String,
        /// The value found.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Figment(e) => write!(f, "invalid `{SECTION}` configuration: {e}"),
            ConfigError::Invalid {
                key,
                value,
                expected,
            } => write!(f, "invalid `{key}` = {value:?}: expected {expected}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the `opentracing` section of `figment` (defaults when absent),
    /// then applies the `JAEGER_*` variables of the process environment.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
        Self::from_figment_and_env(figment, |name| std::env::var(name).ok())
    }

    /// As [`Config::from_figment`], with the environment given as a lookup
    /// function (so it can be tested without touching the process's).
    pub fn from_figment_and_env(
        figment: &Figment,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = if figment.contains(SECTION) {
            figment
                .extract_inner::<Config>(SECTION)
                .map_err(|e| ConfigError::Figment(Box::new(e)))?
        } else {
            Config::default()
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the standard Jaeger client variables.
    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(name) = env("JAEGER_SERVICE_NAME") {
            self.service_name = Some(name);
        }
        if let Some(host) = env("JAEGER_AGENT_HOST") {
            self.agent_host = host;
        }
        if let Some(port) = env("JAEGER_AGENT_PORT") {
            self.agent_port = port.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "JAEGER_AGENT_PORT".into(),
                value: port.clone(),
                expected: "a UDP port number (1-65535)",
            })?;
        }
        if let Some(flag) = env("JAEGER_REPORTER_LOG_SPANS") {
            self.log_spans = parse_bool(&flag).ok_or_else(|| ConfigError::Invalid {
                key: "JAEGER_REPORTER_LOG_SPANS".into(),
                value: flag.clone(),
                expected: "true or false",
            })?;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: String, expected| ConfigError::Invalid {
            key: format!("{SECTION}.{key}"),
            value,
            expected,
        };
        if self
            .service_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(invalid("service_name", String::new(), "a non-empty name"));
        }
        if self.agent_host.trim().is_empty() {
            return Err(invalid(
                "agent_host",
                String::new(),
                "a host name or IP address",
            ));
        }
        if self.agent_port == 0 {
            return Err(invalid(
                "agent_port",
                "0".into(),
                "a UDP port number (1-65535)",
            ));
        }
        if self.queue_size == 0 {
            return Err(invalid(
                "queue_size",
                "0".into(),
                "a queue capacity of at least 1",
            ));
        }
        if self.flush_interval_ms == 0 {
            return Err(invalid(
                "flush_interval_ms",
                "0".into(),
                "at least 1 millisecond",
            ));
        }
        Ok(())
    }

    /// The service name: the configured one, else the executable's name.
    pub fn service_name(&self) -> String {
        self.service_name
            .clone()
            .unwrap_or_else(default_service_name)
    }

    /// The reporter settings this configuration describes.
    pub fn reporter_config(&self) -> ReporterConfig {
        let mut reporter = ReporterConfig::new(self.service_name());
        reporter.agent_host = self.agent_host.clone();
        reporter.agent_port = self.agent_port;
        reporter.log_spans = self.log_spans;
        reporter.queue_size = self.queue_size;
        reporter.flush_interval = Duration::from_millis(self.flush_interval_ms);
        reporter
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
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
}
