//! Configuration through the real process environment: precedence
//! (Rocket.toml < ROCKET_OPENTRACING < JAEGER_* < OTEL_*) and the origin errors name
//! (`ROCKET_OPENTRACING`, a `Rocket.toml` given by `ROCKET_CONFIG` and its
//! profile). In a binary of its own, because these tests set environment
//! variables; they take turns (one lock), and each starts and ends with
//! none of the variables set.

use std::sync::{Mutex, MutexGuard};

use rocket_opentracing::Config;

/// Every variable these tests set.
const VARIABLES: &[&str] = &[
    "ROCKET_OPENTRACING",
    "ROCKET_OPENTRACING.AGENT_PORT",
    "ROCKET_CONFIG",
    "ROCKET_PROFILE",
    "JAEGER_AGENT_PORT",
    "JAEGER_SERVICE_NAME",
    "JAEGER_SAMPLER_TYPE",
    "JAEGER_DISABLED",
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

static ENVIRONMENT: Mutex<()> = Mutex::new(());

/// The environment to one test at a time, cleared before and after.
struct Environment {
    /// Held, never read: the other tests wait until it is dropped.
    _turn: MutexGuard<'static, ()>,
}

impl Environment {
    fn take() -> Self {
        // A failed test poisons the lock; the others still run.
        let guard = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
        clear();
        Environment { _turn: guard }
    }

    fn set(&self, name: &str, value: &str) {
        std::env::set_var(name, value);
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        clear();
    }
}

fn clear() {
    for name in VARIABLES {
        std::env::remove_var(name);
    }
}

/// Reads the section from Rocket's own figment (the process environment,
/// `Rocket.toml` or `ROCKET_CONFIG`).
fn read() -> Result<Config, rocket_opentracing::ConfigError> {
    Config::from_figment(&rocket::Config::figment())
}

/// A `Rocket.toml` of `text` in a directory of its own, removed on drop.
struct TempToml(std::path::PathBuf);

impl TempToml {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rot-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Rocket.toml");
        std::fs::write(&file, text).unwrap();
        TempToml(file)
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn rocket_toml_then_rocket_env_then_jaeger_env() {
    let env = Environment::take();
    // The repository's Rocket.toml (cargo runs tests from the package root)
    // sets agent_port = 6831 and log_spans = true.
    let from_toml = read().unwrap();
    assert_eq!(from_toml.agent_port, 6831);
    assert!(from_toml.log_spans);

    env.set(
        "ROCKET_OPENTRACING",
        r#"{service_name="from-rocket-env",agent_port=7001,log_spans=false}"#,
    );
    let from_rocket_env = read().unwrap();
    assert_eq!(from_rocket_env.service_name(), "from-rocket-env");
    assert_eq!(from_rocket_env.agent_port, 7001);
    assert!(!from_rocket_env.log_spans);

    env.set("JAEGER_AGENT_PORT", "7002");
    env.set("JAEGER_SERVICE_NAME", "from-jaeger-env");
    let from_jaeger_env = read().unwrap();
    assert_eq!(from_jaeger_env.service_name(), "from-jaeger-env");
    assert_eq!(from_jaeger_env.agent_port, 7002);

    env.set("JAEGER_SAMPLER_TYPE", "bogus");
    let error = read().unwrap_err();
    assert!(error.to_string().contains("JAEGER_SAMPLER_TYPE"), "{error}");
}

#[test]
fn an_unknown_key_in_rocket_opentracing_names_the_variable() {
    let env = Environment::take();
    env.set("ROCKET_OPENTRACING", "{log_span=true}");
    let error = read().unwrap_err().to_string();
    // Figment's own message says `for key "LOG_SPAN.OPENTRACING"`.
    assert_eq!(
        error,
        "unknown key `opentracing.log_span` (from ROCKET_OPENTRACING): did you mean `log_spans`?"
    );

    env.set("ROCKET_OPENTRACING", "{colour=\"blue\"}");
    let error = read().unwrap_err().to_string();
    assert!(
        error.starts_with(
            "unknown key `opentracing.colour` (from ROCKET_OPENTRACING): the keys of \
             [opentracing] are service_name, disabled,"
        ),
        "{error}"
    );
}

#[test]
fn an_invalid_value_in_the_environment_names_the_variable() {
    let env = Environment::take();
    env.set("ROCKET_OPENTRACING", "{agent_port=\"six\"}");
    assert_eq!(
        read().unwrap_err().to_string(),
        "invalid `opentracing.agent_port` = \"six\" (from ROCKET_OPENTRACING): expected a whole \
         number from 0 to 65535"
    );

    // Not a table (an unclosed brace reads as a string).
    env.set("ROCKET_OPENTRACING", "{log_spans=true");
    assert_eq!(
        read().unwrap_err().to_string(),
        "invalid `opentracing` = \"{log_spans=true\" (from ROCKET_OPENTRACING): expected a \
         table of its keys, e.g. {service_name = \"api\", log_spans = true}"
    );

    // Figment nests variables at dots: the dotted variable is named.
    env.set("ROCKET_OPENTRACING", "{log_spans=true}");
    env.set("ROCKET_OPENTRACING.AGENT_PORT", "six");
    assert_eq!(
        read().unwrap_err().to_string(),
        "invalid `opentracing.agent_port` = \"six\" (from ROCKET_OPENTRACING.AGENT_PORT): \
         expected a whole number from 0 to 65535"
    );

    // Refused after reading (a queue of 0): the variable still named.
    env.set("ROCKET_OPENTRACING", "{queue_size=0}");
    std::env::remove_var("ROCKET_OPENTRACING.AGENT_PORT");
    assert_eq!(
        read().unwrap_err().to_string(),
        "invalid `opentracing.queue_size` = 0 (from ROCKET_OPENTRACING): expected a queue \
         capacity of at least 1"
    );
}

#[test]
fn an_unknown_key_in_rocket_toml_names_the_file_and_profile() {
    let env = Environment::take();
    let toml = TempToml::new(
        "unknown",
        "[default.opentracing]\nlog_spans = true\n[release.opentracing]\nlog_span = false\n",
    );
    env.set("ROCKET_CONFIG", toml.0.to_str().unwrap());
    env.set("ROCKET_PROFILE", "release");
    let error = read().unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "unknown key `opentracing.log_span` (from {} [release.opentracing]): did you mean \
             `log_spans`?",
            rocket::figment::Source::File(toml.0.clone())
        )
    );
    assert!(!error.contains("release.log_span.opentracing"), "{error}");

    // The debug profile does not read [release.opentracing].
    env.set("ROCKET_PROFILE", "debug");
    assert!(read().unwrap().log_spans);
}

#[test]
fn the_environment_overrides_rocket_toml_and_is_named_when_refused() {
    let env = Environment::take();
    let toml = TempToml::new("override", "[default.opentracing]\nagent_port = 7000\n");
    env.set("ROCKET_CONFIG", toml.0.to_str().unwrap());
    assert_eq!(read().unwrap().agent_port, 7000);
    env.set("ROCKET_OPENTRACING", "{agent_port=-1}");
    let error = read().unwrap_err().to_string();
    assert!(
        error.starts_with("invalid `opentracing.agent_port` = -1 (from ROCKET_OPENTRACING)"),
        "{error}"
    );
}

#[test]
fn otel_variables_win_over_jaeger_variables_and_rocket_opentracing() {
    let env = Environment::take();
    env.set(
        "ROCKET_OPENTRACING",
        r#"{service_name="from-rocket-env",otlp_timeout_ms=100,otlp_compression="gzip"}"#,
    );
    env.set("JAEGER_SERVICE_NAME", "from-jaeger-env");
    env.set("JAEGER_DISABLED", "true");
    assert!(read().unwrap().disabled);
    assert_eq!(read().unwrap().service_name(), "from-jaeger-env");

    env.set(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-resource,team=a%20b",
    );
    env.set("OTEL_SDK_DISABLED", "false");
    let config = read().unwrap();
    assert!(
        !config.disabled,
        "OTEL_SDK_DISABLED wins over JAEGER_DISABLED"
    );
    assert_eq!(config.service_name(), "from-resource");
    assert_eq!(config.tags["team"], "a b");
    env.set("OTEL_SERVICE_NAME", "from-otel");
    assert_eq!(read().unwrap().service_name(), "from-otel");

    // Empty variables count as unset.
    env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "");
    env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "");
    let config = read().unwrap();
    assert_eq!(config.otlp_timeout_ms, 100);
    assert_eq!(
        config.otlp_compression,
        rocket_opentracing::config::OtlpCompression::Gzip
    );
    env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "2500");
    env.set("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none");
    let config = read().unwrap();
    assert_eq!(config.otlp_timeout_ms, 2500);
    assert_eq!(
        config.otlp_compression,
        rocket_opentracing::config::OtlpCompression::None
    );

    env.set("OTEL_TRACES_EXPORTER", "none");
    assert!(read().unwrap().disabled);

    // Tracing disabled: a bad OTLP setting is unused, and ignored.
    env.set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon");
    assert_eq!(read().unwrap().otlp_timeout_ms, 2500);
    // Exporting over OTLP, it refuses ignition.
    env.set("OTEL_TRACES_EXPORTER", "otlp");
    assert_eq!(
        read().unwrap_err().to_string(),
        "invalid `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` = \"soon\": expected a whole number of \
         milliseconds, at least 1 (e.g. 10000)"
    );
}

#[test]
fn otel_sdk_disabled_is_true_or_false_only() {
    let env = Environment::take();
    for (value, disabled) in [("true", true), (" TRUE ", true), ("False", false)] {
        env.set("OTEL_SDK_DISABLED", value);
        assert_eq!(read().unwrap().disabled, disabled, "{value:?}");
    }
    for value in ["1", "yes", "on", "0", "no", "off"] {
        env.set("OTEL_SDK_DISABLED", value);
        let error = read()
            .expect_err(&format!("accepted OTEL_SDK_DISABLED={value}"))
            .to_string();
        assert!(
            error.starts_with("invalid `OTEL_SDK_DISABLED` = ")
                && error.contains(value)
                && error.contains(": expected true or false"),
            "{error}"
        );
    }
    // JAEGER_DISABLED keeps its wider reading.
    std::env::remove_var("OTEL_SDK_DISABLED");
    for value in ["1", "yes", "on"] {
        env.set("JAEGER_DISABLED", value);
        assert!(read().unwrap().disabled, "{value:?}");
    }
}

#[test]
fn otlp_variables_a_platform_injects_do_not_stop_an_application_reporting_to_jaeger() {
    let env = Environment::take();
    // What a platform may set in every container, for an OTLP/gRPC
    // collector, with a malformed header list too.
    env.set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    env.set("OTEL_EXPORTER_OTLP_HEADERS", "api-key:s3cret");
    env.set("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd");
    env.set("OTEL_EXPORTER_OTLP_TIMEOUT", "10s");
    env.set("OTEL_TRACES_EXPORTER", "jaeger");
    let config = read().unwrap();
    assert_eq!(
        config.selected_exporter(),
        rocket_opentracing::config::Exporter::Jaeger
    );
    // The values ignored are not applied.
    assert!(config.otlp_headers.is_empty());
    assert_eq!(config.otlp_timeout_ms, 10_000);

    // Selected by the section too.
    std::env::remove_var("OTEL_TRACES_EXPORTER");
    env.set("ROCKET_OPENTRACING", r#"{exporter="jaeger"}"#);
    assert!(read().is_ok());

    // Exporting over OTLP, the first one refuses ignition.
    env.set("ROCKET_OPENTRACING", r#"{exporter="otlp"}"#);
    let error = read().unwrap_err().to_string();
    assert!(
        error.starts_with("invalid `OTEL_EXPORTER_OTLP_HEADERS` = <redacted>: "),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[cfg(feature = "otlp")]
#[test]
fn an_otlp_endpoint_variable_selects_otlp_over_the_section() {
    use rocket_opentracing::config::Exporter;
    let env = Environment::take();
    // The repository's Rocket.toml reports to the agent.
    assert_eq!(read().unwrap().selected_exporter(), Exporter::Jaeger);
    env.set(
        "ROCKET_OPENTRACING",
        r#"{otlp_traces_endpoint="http://from-rocket-env:4318/v1/traces"}"#,
    );
    let config = read().unwrap();
    assert_eq!(config.selected_exporter(), Exporter::Otlp);
    assert_eq!(
        config.otlp_traces_url(),
        "http://from-rocket-env:4318/v1/traces"
    );

    // The variable replaces the section's endpoints.
    env.set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://from-otel:4318");
    assert_eq!(
        read().unwrap().otlp_traces_url(),
        "http://from-otel:4318/v1/traces"
    );
    env.set(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://from-otel-traces:4318/traces",
    );
    assert_eq!(
        read().unwrap().otlp_traces_url(),
        "http://from-otel-traces:4318/traces"
    );

    env.set("OTEL_TRACES_EXPORTER", "jaeger");
    assert_eq!(read().unwrap().selected_exporter(), Exporter::Jaeger);

    // Jaeger selected: gRPC is unused, and ignored...
    env.set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    assert_eq!(read().unwrap().selected_exporter(), Exporter::Jaeger);
    // ... the endpoint selecting OTLP, it is refused.
    std::env::remove_var("OTEL_TRACES_EXPORTER");
    let error = read().unwrap_err().to_string();
    assert!(
        error.starts_with(
            "invalid `OTEL_EXPORTER_OTLP_PROTOCOL` = \"grpc\": expected http/protobuf"
        ),
        "{error}"
    );
}
