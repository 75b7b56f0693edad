//! OpenTelemetry's standard variables (`OTEL_*`), applied over the
//! `opentracing` section after the `JAEGER_*` ones: they take precedence
//! over both. A variable set to an empty value counts as unset, as in
//! OpenTelemetry's SDKs; a signal-specific one (`OTEL_EXPORTER_OTLP_TRACES_*`)
//! wins over its general counterpart (`OTEL_EXPORTER_OTLP_*`).

use percent_encoding::percent_decode_str;

use super::error::invalid;
use super::otlp::{parse_compression, COMPRESSION_EXPECTED, PROTOCOL_EXPECTED};
use super::values::parse_otel_bool;
use super::{Config, ConfigError, Deferred, Exporter, Origins, OtlpProtocol, Secret};

/// The resource attribute that names the service.
const SERVICE_NAME_ATTRIBUTE: &str = "service.name";

/// What `OTEL_SDK_DISABLED` accepts.
const SDK_DISABLED_EXPECTED: &str =
    "true or false (any case), as OpenTelemetry specifies: its SDKs read any other value, \
     1, yes or on included, as false";

impl Config {
    /// Applies the `OTEL_*` variables of `env`, noting in `origins` which
    /// keys they set. A bad value of a variable that selects the exporter
    /// or disables tracing, or sets a resource attribute, is returned; one
    /// of an OTLP setting (`OTEL_EXPORTER_OTLP_*`) is set aside in
    /// `deferred`, unapplied.
    pub(super) fn apply_otel_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
        origins: &mut Origins,
        deferred: &mut Deferred,
    ) -> Result<(), ConfigError> {
        let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());

        if let Some(flag) = var("OTEL_SDK_DISABLED") {
            self.disabled = parse_otel_bool(&flag)
                .ok_or_else(|| invalid("OTEL_SDK_DISABLED", &flag, SDK_DISABLED_EXPECTED))?;
            origins.record("disabled", "OTEL_SDK_DISABLED");
        }
        if let Some(name) = var("OTEL_TRACES_EXPORTER") {
            match name.trim().to_ascii_lowercase().as_str() {
                "otlp" => {
                    self.exporter = Some(Exporter::Otlp);
                    origins.record("exporter", "OTEL_TRACES_EXPORTER");
                }
                "jaeger" => {
                    self.exporter = Some(Exporter::Jaeger);
                    origins.record("exporter", "OTEL_TRACES_EXPORTER");
                }
                "none" => {
                    self.disabled = true;
                    origins.record("disabled", "OTEL_TRACES_EXPORTER");
                }
                _ => {
                    return Err(invalid(
                        "OTEL_TRACES_EXPORTER",
                        &name,
                        "one of otlp, jaeger, none (none traces nothing)",
                    ))
                }
            }
        }

        let mut resource_service_name = None;
        if let Some(attributes) = var("OTEL_RESOURCE_ATTRIBUTES") {
            let mut tagged = false;
            for (key, value) in pairs("OTEL_RESOURCE_ATTRIBUTES", &attributes, false)? {
                if key == SERVICE_NAME_ATTRIBUTE {
                    resource_service_name = Some(value);
                } else {
                    self.tags.insert(key, value);
                    tagged = true;
                }
            }
            if tagged {
                let variable = match origins.variable("tags") {
                    Some(_) => "JAEGER_TAGS and OTEL_RESOURCE_ATTRIBUTES",
                    None => "OTEL_RESOURCE_ATTRIBUTES",
                };
                origins.record("tags", variable);
            }
        }
        if let Some(name) = var("OTEL_SERVICE_NAME") {
            self.service_name = Some(name);
            origins.record("service_name", "OTEL_SERVICE_NAME");
        } else if let Some(name) = resource_service_name {
            self.service_name = Some(name);
            origins.record("service_name", "OTEL_RESOURCE_ATTRIBUTES");
        }

        if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.otlp_endpoint = Some(base.trim().to_owned());
            origins.record("otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT");
            deferred.clear("otlp_endpoint");
            deferred.clear("otlp_traces_endpoint");
            // The variable replaces the section's endpoints, the traces URL
            // of the section included (which would win over it otherwise).
            self.otlp_traces_endpoint = None;
        }
        if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.otlp_traces_endpoint = Some(url.trim().to_owned());
            origins.record("otlp_traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
            deferred.clear("otlp_traces_endpoint");
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(list) = var(variable) {
                match pairs(variable, &list, true) {
                    Ok(pairs) => {
                        self.otlp_headers = pairs
                            .into_iter()
                            .map(|(name, value)| (name, Secret(value)))
                            .collect();
                        origins.record("otlp_headers", variable);
                        deferred.clear("otlp_headers");
                    }
                    Err(e) => deferred.push("otlp_headers", e),
                }
            }
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        ] {
            if let Some(name) = var(variable) {
                match parse_compression(&name) {
                    Some(compression) => {
                        self.otlp_compression = compression;
                        origins.record("otlp_compression", variable);
                        deferred.clear("otlp_compression");
                    }
                    None => deferred.push(
                        "otlp_compression",
                        invalid(variable, &name, COMPRESSION_EXPECTED),
                    ),
                }
            }
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ] {
            if let Some(millis) = var(variable) {
                match millis.trim().parse().ok().filter(|ms: &u64| *ms > 0) {
                    Some(ms) => {
                        self.otlp_timeout_ms = ms;
                        origins.record("otlp_timeout_ms", variable);
                        deferred.clear("otlp_timeout_ms");
                    }
                    None => deferred.push(
                        "otlp_timeout_ms",
                        invalid(
                            variable,
                            &millis,
                            "a whole number of milliseconds, at least 1 (e.g. 10000)",
                        ),
                    ),
                }
            }
        }
        for variable in [
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        ] {
            if let Some(name) = var(variable) {
                match OtlpProtocol::parse(&name) {
                    Some(protocol) => {
                        self.otlp_protocol = protocol;
                        origins.record("otlp_protocol", variable);
                        deferred.clear("otlp_protocol");
                    }
                    None => {
                        deferred.push("otlp_protocol", invalid(variable, &name, PROTOCOL_EXPECTED))
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `key=value` pairs of `variable`'s value `list` (comma-separated,
/// spaces around each part ignored, empty items skipped), values
/// percent-decoded as in W3C baggage. A refusal shows the value unless it
/// is `secret` (header values).
fn pairs(variable: &str, list: &str, secret: bool) -> Result<Vec<(String, String)>, ConfigError> {
    let shown = if secret { "<redacted>" } else { list };
    let example = if secret {
        "x-api-key=<key>,x-scope=team%20a"
    } else {
        "deployment.environment=prod,team=core"
    };
    let mut pairs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .filter(|(key, _)| !key.trim().is_empty())
            .ok_or_else(|| {
                invalid(
                    variable,
                    shown,
                    format!("comma-separated key=value pairs, e.g. {example}"),
                )
            })?;
        let value = percent_decode_str(value.trim())
            .decode_utf8()
            .map_err(|_| {
                invalid(
                    variable,
                    shown,
                    "values percent-encoded from UTF-8 (%C3%A9 for \u{e9})",
                )
            })?;
        pairs.push((key.trim().to_owned(), value.into_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_split_trimmed_and_their_values_percent_decoded() {
        let read = pairs("V", " a=1 , b = x%20y%2Cz ,, c=%C3%A9=2,", false).unwrap();
        assert_eq!(
            read,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y,z".to_owned()),
                ("c".to_owned(), "\u{e9}=2".to_owned()),
            ]
        );
        let refused = pairs("V", "a=1,oops", false).unwrap_err().to_string();
        assert!(
            refused.contains("`V`") && refused.contains("a=1,oops"),
            "{refused}"
        );
        let refused = pairs("V", "=x", false).unwrap_err().to_string();
        assert!(refused.contains("key=value"), "{refused}");
        let refused = pairs("V", "a=%FF", false).unwrap_err().to_string();
        assert!(refused.contains("UTF-8"), "{refused}");
    }

    #[test]
    fn a_refused_header_list_is_not_shown() {
        let refused = pairs("H", "api-key=s3cret,broken", true)
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("s3cret"), "{refused}");
        assert!(refused.contains("<redacted>"), "{refused}");
        let refused = pairs("H", "api-key=s3cret%FF", true)
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("s3cret"), "{refused}");
    }
}
