//! The ignition line naming the settings in effect that differ from the
//! defaults, and where each came from: `Rocket.toml` and its profile, a
//! `ROCKET_*` variable, a `JAEGER_*` or `OTEL_*` variable; then where spans
//! go, and the settings of the other exporter that go unused. Credentials
//! and header values are never shown.

use rocket::figment::value::{Dict, Num, Value};
use rocket::figment::Figment;

use super::origin::Origin;
use super::otlp::compression_name;
use super::values::redact_value;
use super::{Config, Exporter, Origins, OtlpCompression, KEYS, SECTION};
use crate::redact::redact_credentials;
use crate::reporter::{DEFAULT_AGENT_HOST, DEFAULT_AGENT_PORT};

/// One line naming the settings of `config` that differ from the defaults,
/// grouped by where they came from, then where spans go, e.g. `settings
/// (others at their defaults): from Rocket.toml [debug.opentracing]:
/// log_spans = true; from JAEGER_SERVICE_NAME: service_name = "api";
/// export: Jaeger agent at 127.0.0.1:6831 (UDP)`. `figment` is the one
/// `config` was read from; the `JAEGER_*` and `OTEL_*` variables are those
/// of the process. Passwords, tokens, OTLP header values and the
/// credentials of an endpoint URL show as `<redacted>`.
pub(crate) fn settings_summary(config: &Config, figment: &Figment) -> String {
    summary_with_env(config, figment, |name| std::env::var(name).ok())
}

/// [`settings_summary`] with the environment given as a lookup function.
pub(super) fn summary_with_env(
    config: &Config,
    figment: &Figment,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    // Which keys the JAEGER_* and OTEL_* variables set (they were valid:
    // `config` was read with them).
    let variables = Config::default().apply_env(env).unwrap_or_default();
    format!(
        "{}; {}",
        settings(config, figment, &variables),
        export(config, &variables)
    )
}

/// The settings that differ from the defaults, grouped by origin.
fn settings(config: &Config, figment: &Figment, variables: &Origins) -> String {
    let current = as_dict(config);
    let defaults = as_dict(&Config::default());
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for key in KEYS {
        let value = current.get(*key).map(render).unwrap_or_default();
        if value == defaults.get(*key).map(render).unwrap_or_default() {
            continue;
        }
        let from_figment = Origin::find(figment, &format!("{SECTION}.{key}"));
        let origin = match (variables.variable(key), from_figment) {
            // JAEGER_TAGS and OTEL_RESOURCE_ATTRIBUTES add to the section's
            // tags.
            (Some(variable), Some(origin)) if *key == "tags" => format!("{origin} and {variable}"),
            (Some(variable), _) => variable.to_owned(),
            (None, Some(origin)) => origin.to_string(),
            (None, None) => "the configuration".to_owned(),
        };
        let shown = match current.get(*key) {
            Some(Value::Dict(_, headers)) if *key == "otlp_headers" => header_names(headers),
            _ => redacted(key, value),
        };
        let setting = format!("{key} = {shown}");
        match groups.iter_mut().find(|(from, _)| *from == origin) {
            Some((_, settings)) => settings.push(setting),
            None => groups.push((origin, vec![setting])),
        }
    }
    if groups.is_empty() {
        return "settings: all at their defaults".to_owned();
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(origin, settings)| format!("from {origin}: {}", settings.join(", ")))
        .collect();
    format!("settings (others at their defaults): {}", groups.join("; "))
}

/// Where spans go, e.g. `export: OTLP/HTTP to
/// http://otel:4318/v1/traces (selected by OTEL_EXPORTER_OTLP_ENDPOINT;
/// headers api-key; gzip)`, and the other exporter's settings that are set
/// but unused, with how to choose that exporter.
fn export(config: &Config, variables: &Origins) -> String {
    // The key, or the variable that set it.
    let name = |key: &'static str| variables.variable(key).unwrap_or(key);
    if config.disabled {
        return match variables.variable("disabled") {
            Some(variable) => format!("export: none (disabled by {variable})"),
            None => "export: none (disabled = true)".to_owned(),
        };
    }
    match config.selected_exporter() {
        Exporter::Otlp => {
            let selected_by = if config.exporter.is_some() {
                name("exporter")
            } else if config.otlp_traces_endpoint.is_some() {
                name("otlp_traces_endpoint")
            } else {
                name("otlp_endpoint")
            };
            let mut details = vec![format!("selected by {selected_by}")];
            if !config.otlp_headers.is_empty() {
                let names: Vec<&str> = config.otlp_headers.keys().map(String::as_str).collect();
                details.push(format!("headers {}", names.join(", ")));
            }
            if config.otlp_compression != OtlpCompression::None {
                details.push(compression_name(config.otlp_compression).to_owned());
            }
            let mut line = format!(
                "export: OTLP/HTTP to {} ({})",
                redact_credentials(&config.otlp_traces_url()),
                details.join("; ")
            );
            let unused: Vec<&str> = [
                ("endpoint", config.endpoint.is_some()),
                ("agent_host", config.agent_host != DEFAULT_AGENT_HOST),
                ("agent_port", config.agent_port != DEFAULT_AGENT_PORT),
                ("user", config.user.is_some()),
                ("password", config.password.is_some()),
                ("auth_token", config.auth_token.is_some()),
            ]
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(key, _)| name(key))
            .collect();
            if !unused.is_empty() {
                line.push_str(&format!(
                    "; Jaeger settings unused while exporting over OTLP: {} (to report to \
                     Jaeger instead, set exporter = \"jaeger\" or OTEL_TRACES_EXPORTER=jaeger)",
                    unused.join(", ")
                ));
            }
            line
        }
        Exporter::Jaeger => {
            let mut line = match &config.endpoint {
                Some(endpoint) => format!(
                    "export: Jaeger collector at {}",
                    redact_credentials(endpoint.trim())
                ),
                None => format!(
                    "export: Jaeger agent at {}:{} (UDP)",
                    config.agent_host, config.agent_port
                ),
            };
            let defaults = Config::default();
            let unused: Vec<&str> = [
                ("otlp_endpoint", config.otlp_endpoint.is_some()),
                (
                    "otlp_traces_endpoint",
                    config.otlp_traces_endpoint.is_some(),
                ),
                ("otlp_headers", !config.otlp_headers.is_empty()),
                (
                    "otlp_compression",
                    config.otlp_compression != defaults.otlp_compression,
                ),
                (
                    "otlp_timeout_ms",
                    config.otlp_timeout_ms != defaults.otlp_timeout_ms,
                ),
            ]
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(key, _)| name(key))
            .collect();
            if !unused.is_empty() {
                let why = match config.exporter {
                    Some(_) => format!("{} = \"jaeger\"", name("exporter")),
                    None => "no OTLP endpoint nor exporter = \"otlp\" is set".to_owned(),
                };
                line.push_str(&format!(
                    "; OTLP settings unused ({why}): {}",
                    unused.join(", ")
                ));
            }
            line
        }
    }
}

/// OTLP headers as they may be logged: their names, values redacted.
fn header_names(headers: &Dict) -> String {
    let entries: Vec<String> = headers
        .keys()
        .map(|name| format!("{name} = <redacted>"))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// The configuration's keys and values.
fn as_dict(config: &Config) -> Dict {
    Value::serialize(config)
        .ok()
        .and_then(Value::into_dict)
        .unwrap_or_default()
}

/// A value as it would be written in `Rocket.toml`; `unset` for none.
fn render(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{:?}", c.to_string()),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => number(*n),
        Value::Empty(..) => "unset".to_owned(),
        Value::Array(_, items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Dict(_, dict) => {
            let entries: Vec<String> = dict
                .iter()
                .map(|(k, v)| format!("{k} = {}", render(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

/// A number as written in `Rocket.toml`.
fn number(n: Num) -> String {
    match n {
        Num::U8(v) => v.to_string(),
        Num::U16(v) => v.to_string(),
        Num::U32(v) => v.to_string(),
        Num::U64(v) => v.to_string(),
        Num::U128(v) => v.to_string(),
        Num::USize(v) => v.to_string(),
        Num::I8(v) => v.to_string(),
        Num::I16(v) => v.to_string(),
        Num::I32(v) => v.to_string(),
        Num::I64(v) => v.to_string(),
        Num::I128(v) => v.to_string(),
        Num::ISize(v) => v.to_string(),
        Num::F32(v) => v.to_string(),
        Num::F64(v) => v.to_string(),
    }
}

/// `value` of `key` as it may be logged: secrets and URL credentials
/// replaced by `<redacted>`.
fn redacted(key: &str, value: String) -> String {
    if value == "unset" {
        value
    } else {
        redact_value(key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::{Format, Toml};

    fn summary(toml: &str, env: &[(&str, &str)]) -> String {
        let figment = Figment::from(rocket::Config::default())
            .merge(Toml::string(toml).nested())
            .select("debug");
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let config = Config::from_figment_and_env(&figment, env).expect("valid");
        summary_with_env(&config, &figment, env)
    }

    /// Where spans go by default.
    const AGENT: &str = "export: Jaeger agent at 127.0.0.1:6831 (UDP)";

    #[test]
    fn defaults_say_so() {
        let defaults = format!("settings: all at their defaults; {AGENT}");
        assert_eq!(summary("", &[]), defaults);
        // Set, but to the default value.
        let toml = "[default.opentracing]\nagent_port = 6831\nlog_spans = false";
        assert_eq!(summary(toml, &[]), defaults);
    }

    #[test]
    fn each_setting_is_named_with_where_it_came_from() {
        let toml = "[default.opentracing]\nlog_spans = true\nagent_port = 7000\n\
                    traced_attributes = [\"url\", \"user_agent\"]\n\
                    [debug.opentracing]\nviewer_path = \"/traces\"";
        let env = [
            ("JAEGER_SERVICE_NAME", "api"),
            ("JAEGER_AGENT_PORT", "7001"),
        ];
        assert_eq!(
            summary(toml, &env),
            "settings (others at their defaults): from JAEGER_SERVICE_NAME: service_name = \
             \"api\"; from JAEGER_AGENT_PORT: agent_port = 7001; from TOML source string \
             [default.opentracing]: log_spans = true, traced_attributes = [\"uri\", \
             \"user_agent\"]; from TOML source string [debug.opentracing]: viewer_path = \
             \"/traces\"; export: Jaeger agent at 127.0.0.1:7001 (UDP)"
        );
    }

    #[test]
    fn tags_from_both_name_both() {
        let toml = "[default.opentracing]\ntags = { team = \"core\" }";
        let line = summary(toml, &[("JAEGER_TAGS", "zone=eu")]);
        assert_eq!(
            line,
            format!(
                "settings (others at their defaults): from TOML source string \
                 [default.opentracing] and JAEGER_TAGS: tags = {{team = \"core\", zone = \
                 \"eu\"}}; {AGENT}"
            )
        );
    }

    #[test]
    #[cfg(feature = "collector")]
    fn credentials_are_redacted() {
        let toml =
            "[default.opentracing]\nendpoint = \"http://u:s3cret@collector:14268/api/traces\"\n\
                    user = \"tracer\"\npassword = \"pa55\"";
        let line = summary(toml, &[]);
        assert!(!line.contains("s3cret") && !line.contains("pa55"), "{line}");
        assert!(line.contains("password = <redacted>"), "{line}");
        assert!(
            line.contains("endpoint = \"http://<redacted>@collector:14268/api/traces\""),
            "{line}"
        );
        assert!(line.contains("user = \"tracer\""), "{line}");

        let line = summary("", &[("JAEGER_AUTH_TOKEN", "t0ken")]);
        assert_eq!(
            line,
            format!(
                "settings (others at their defaults): from JAEGER_AUTH_TOKEN: auth_token = \
                 <redacted>; {AGENT}"
            )
        );
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn otlp_export_names_its_destination_and_header_names_only() {
        let toml = "[default.opentracing]\n\
                    otlp_endpoint = \"http://u:pw0rd@otel:4318/\"\n\
                    otlp_headers = { \"x-api-key\" = \"s3cret\", tenant = \"t3nant\" }\n\
                    otlp_compression = \"gzip\"";
        let line = summary(toml, &[]);
        for secret in ["s3cret", "t3nant", "pw0rd"] {
            assert!(!line.contains(secret), "{line}");
        }
        assert!(
            line.contains("otlp_headers = {tenant = <redacted>, x-api-key = <redacted>}"),
            "{line}"
        );
        assert!(
            line.ends_with(
                "; export: OTLP/HTTP to http://<redacted>@otel:4318/v1/traces (selected by \
                 otlp_endpoint; headers tenant, x-api-key; gzip)"
            ),
            "{line}"
        );

        let env = [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://tempo.example/otlp/v1/traces",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Basic%20czNjcmV0",
            ),
        ];
        let line = summary("", &env);
        assert!(!line.contains("czNjcmV0"), "{line}");
        assert!(
            line.contains(
                "from OTEL_EXPORTER_OTLP_HEADERS: otlp_headers = {authorization = <redacted>}"
            ),
            "{line}"
        );
        assert!(
            line.ends_with(
                "; export: OTLP/HTTP to https://tempo.example/otlp/v1/traces (selected by \
                 OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; headers authorization)"
            ),
            "{line}"
        );

        // `exporter = "otlp"` alone: the default endpoint.
        let line = summary("[default.opentracing]\nexporter = \"otlp\"", &[]);
        assert!(
            line.ends_with(
                "; export: OTLP/HTTP to http://localhost:4318/v1/traces (selected by exporter)"
            ),
            "{line}"
        );
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn unused_jaeger_settings_are_named_with_how_to_choose_jaeger() {
        let toml = "[default.opentracing]\nagent_host = \"jaeger-agent\"\nagent_port = 7000";
        let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")];
        let line = summary(toml, &env);
        assert!(
            line.ends_with(
                "; export: OTLP/HTTP to http://otel:4318/v1/traces (selected by \
                 OTEL_EXPORTER_OTLP_ENDPOINT); Jaeger settings unused while exporting over \
                 OTLP: agent_host, agent_port (to report to Jaeger instead, set exporter = \
                 \"jaeger\" or OTEL_TRACES_EXPORTER=jaeger)"
            ),
            "{line}"
        );

        // Jaeger chosen: the OTLP settings are the unused ones.
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            ("OTEL_TRACES_EXPORTER", "jaeger"),
        ];
        let line = summary(toml, &env);
        assert!(
            line.ends_with(
                "; export: Jaeger agent at jaeger-agent:7000 (UDP); OTLP settings unused \
                 (OTEL_TRACES_EXPORTER = \"jaeger\"): OTEL_EXPORTER_OTLP_ENDPOINT"
            ),
            "{line}"
        );
    }

    #[test]
    #[cfg(all(feature = "otlp", feature = "collector"))]
    fn an_unused_collector_is_named_without_its_credentials() {
        let toml = "[default.opentracing]\n\
                    endpoint = \"http://u:s3cret@collector:14268/api/traces\"\n\
                    auth_token = \"t0ken\"\n\
                    otlp_traces_endpoint = \"http://otel:4318/v1/traces\"";
        let line = summary(toml, &[]);
        assert!(
            !line.contains("s3cret") && !line.contains("t0ken"),
            "{line}"
        );
        assert!(
            line.contains(
                "export: OTLP/HTTP to http://otel:4318/v1/traces (selected by \
                 otlp_traces_endpoint); Jaeger settings unused while exporting over OTLP: \
                 endpoint, auth_token (to report to Jaeger instead, set exporter = \"jaeger\""
            ),
            "{line}"
        );
        let line = summary(&format!("{toml}\nexporter = \"jaeger\""), &[]);
        assert!(
            line.ends_with(
                "; export: Jaeger collector at http://<redacted>@collector:14268/api/traces; \
                 OTLP settings unused (exporter = \"jaeger\"): otlp_traces_endpoint"
            ),
            "{line}"
        );
    }

    #[test]
    fn disabled_tracing_exports_nothing_and_says_what_disabled_it() {
        let line = summary("", &[("OTEL_TRACES_EXPORTER", "none")]);
        assert!(
            line.ends_with("; export: none (disabled by OTEL_TRACES_EXPORTER)"),
            "{line}"
        );
        let line = summary("[default.opentracing]\ndisabled = true", &[]);
        assert!(line.ends_with("; export: none (disabled = true)"), "{line}");
        let line = summary("", &[("OTEL_SDK_DISABLED", "true")]);
        assert!(
            line.contains("from OTEL_SDK_DISABLED: disabled = true"),
            "{line}"
        );
    }

    #[test]
    #[cfg(feature = "otlp")]
    fn resource_attributes_and_jaeger_tags_name_both() {
        let toml = "[default.opentracing]\ntags = { team = \"core\" }";
        let env = [
            ("JAEGER_TAGS", "zone=eu"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=api,deployment.environment=prod",
            ),
        ];
        let line = summary(toml, &env);
        assert!(
            line.contains(
                "from OTEL_RESOURCE_ATTRIBUTES: service_name = \"api\"; from TOML source \
                 string [default.opentracing] and JAEGER_TAGS and OTEL_RESOURCE_ATTRIBUTES: \
                 tags = {deployment.environment = \"prod\", team = \"core\", zone = \"eu\"}"
            ),
            "{line}"
        );
    }
}
