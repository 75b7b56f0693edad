//! Refused configuration: which key (or environment variable), the value
//! found, where it came from and what is accepted, on one line.

use std::fmt;

use rocket::figment::error::{Actual, Kind};

use super::origin::Origin;
use super::values::redact_value;
use super::{KEYS, SECTION};

/// A configuration value that was refused. Its `Display` is one line naming
/// the key as written in `Rocket.toml` (`opentracing.agent_port`) or the
/// environment variable (`JAEGER_AGENT_PORT`), and where the value came from
/// (`Rocket.toml [default.opentracing]`, `ROCKET_OPENTRACING`).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `opentracing` section of Rocket's figment could not be read.
    Figment(Box<rocket::figment::Error>),
    /// A key (or environment variable) holds a value that is not accepted.
    #[non_exhaustive]
    Invalid {
        /// The key or environment variable, e.g. `opentracing.agent_port`
        /// or `JAEGER_AGENT_PORT`.
        key: String,
        /// The value found.
        value: String,
        /// What is accepted.
        expected: String,
        /// Where the value came from, e.g. `Rocket.toml [default.opentracing]`
        /// or `ROCKET_OPENTRACING`; `None` when `key` is the environment
        /// variable itself, or when the figment does not say.
        origin: Option<String>,
    },
    /// The `opentracing` section has a key this crate does not know.
    #[non_exhaustive]
    UnknownKey {
        /// The key, e.g. `opentracing.log_span`.
        key: String,
        /// The known key it is closest to, if one is close.
        did_you_mean: Option<&'static str>,
        /// Where the key was found, as for [`ConfigError::Invalid`].
        origin: Option<String>,
    },
}

/// ` (from <origin>)`, or nothing.
struct From<'a>(&'a Option<String>);

impl fmt::Display for From<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(origin) => write!(f, " (from {origin})"),
            None => Ok(()),
        }
    }
}

/// A refused value: numbers, booleans and placeholders as they are,
/// anything else quoted.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        let bare = value.parse::<f64>().is_ok() && !value.contains(char::is_whitespace)
            || ["true", "false", "[...]", "{...}", "<redacted>"].contains(&value);
        if bare {
            f.write_str(value)
        } else {
            write!(f, "{value:?}")
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Figment(e) => {
                let origin = origin_of(e);
                // Figment's own messages quote with backticks inside
                // backticks; the key is quoted here, the rest is plain.
                let kind = e.kind.to_string().replace('`', "");
                write!(f, "invalid `{}`{}: {kind}", key_of(e), From(&origin))
            }
            ConfigError::Invalid {
                key,
                value,
                expected,
                origin,
            } => write!(
                f,
                "invalid `{key}` = {}{}: expected {expected}",
                Shown(value),
                From(origin)
            ),
            ConfigError::UnknownKey {
                key,
                did_you_mean: Some(known),
                origin,
            } => write!(
                f,
                "unknown key `{key}`{}: did you mean `{known}`?",
                From(origin)
            ),
            ConfigError::UnknownKey {
                key,
                did_you_mean: None,
                origin,
            } => write!(
                f,
                "unknown key `{key}`{}: the keys of [{SECTION}] are {}",
                From(origin),
                KEYS.join(", ")
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Sets where the refused value came from, unless already known.
    pub(crate) fn with_origin(mut self, from: Option<String>) -> Self {
        if let ConfigError::Invalid { origin, .. } | ConfigError::UnknownKey { origin, .. } =
            &mut self
        {
            if origin.is_none() {
                *origin = from;
            }
        }
        self
    }
}

/// The error for `value` of `key`, with what is accepted.
pub(crate) fn invalid(
    key: &str,
    value: impl fmt::Display,
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_string(),
        expected: expected.into(),
        origin: None,
    }
}

/// The path of the value a figment error is about, in reading order and
/// starting with the section: `["opentracing", "tags", "team"]`.
///
/// Figment records the fields of the section first and the key the section
/// was extracted at last (`["tags", "team", "opentracing"]`, which its own
/// message shows as `default.tags.team.opentracing`).
pub(super) fn path_of(error: &rocket::figment::Error) -> Vec<&str> {
    let mut fields: Vec<&str> = error.path.iter().map(String::as_str).collect();
    if fields.last() == Some(&SECTION) {
        fields.pop();
    }
    std::iter::once(SECTION).chain(fields).collect()
}

/// The key a figment error is about, as written in `Rocket.toml`
/// (`opentracing.agent_port`).
fn key_of(error: &rocket::figment::Error) -> String {
    path_of(error).join(".")
}

/// Where the value a figment error is about came from.
fn origin_of(error: &rocket::figment::Error) -> Option<String> {
    let metadata = error.metadata.as_ref()?;
    let origin = Origin::of(metadata, error.profile.as_ref(), &path_of(error));
    Some(origin.to_string())
}

/// A figment error of the `opentracing` section, naming the key as written
/// in `Rocket.toml` (`opentracing.agent_port`) and where the value came from
/// (`Rocket.toml [default.opentracing]`, `ROCKET_OPENTRACING`).
pub(crate) fn from_figment(error: rocket::figment::Error) -> ConfigError {
    let mut path = path_of(&error);
    let origin = origin_of(&error);
    let refused = match &error.kind {
        Kind::UnknownField(name, _) => {
            if path.last() != Some(&name.as_str()) {
                path.push(name);
            }
            return ConfigError::UnknownKey {
                key: path.join("."),
                did_you_mean: closest_key(name),
                origin,
            };
        }
        Kind::InvalidValue(actual, expected) | Kind::InvalidType(actual, expected) => {
            let key = path.join(".");
            let value = shown(&key, actual);
            if path.len() == 1 {
                invalid(
                    &key,
                    value,
                    "a table of its keys, e.g. {service_name = \"api\", log_spans = true}",
                )
            } else {
                invalid(&key, value, plain_expected(expected))
            }
        }
        Kind::UnknownVariant(name, variants) => invalid(
            &path.join("."),
            name,
            format!("one of {}", variants.join(", ")),
        ),
        Kind::ISizeOutOfRange(n) => invalid(&path.join("."), n, "a smaller number"),
        Kind::USizeOutOfRange(n) => invalid(&path.join("."), n, "a smaller number"),
        _ => return ConfigError::Figment(Box::new(error)),
    };
    refused.with_origin(origin)
}

/// What serde expected, in the words of the configuration.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" => "a whole number from 0 to 255".to_owned(),
        "u16" => "a whole number from 0 to 65535".to_owned(),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list, e.g. [\"a\", \"b\"]".to_owned(),
        "a map" => "a table, e.g. { name = \"value\" }".to_owned(),
        other => other.to_owned(),
    }
}

/// A value as found, without serde's type prefix, and without secrets.
fn shown(key: &str, actual: &Actual) -> String {
    let text = match actual {
        Actual::Str(s) => s.clone(),
        Actual::Char(c) => c.to_string(),
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Seq => "[...]".to_owned(),
        Actual::Map => "{...}".to_owned(),
        other => other.to_string(),
    };
    // Anything under `otlp_headers` (a header's value, or the whole
    // table given as a string) is a secret.
    let field = if key.split('.').any(|part| part == "otlp_headers") {
        "otlp_headers"
    } else {
        key.rsplit('.').next().unwrap_or(key)
    };
    redact_value(field, text)
}

/// Prefixes the Jaeger and OpenTelemetry variables have that the keys do
/// not (`JAEGER_SERVICE_NAME` is `service_name`,
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is `otlp_endpoint`), stripped in this
/// order.
const ENV_PREFIXES: [&str; 4] = ["jaeger_", "reporter_", "otel_", "exporter_"];

/// Names from elsewhere for a key of the section: Jaeger's and
/// OpenTelemetry's variables (without their prefixes), Flask-OpenTracing's
/// arguments.
const SYNONYMS: [(&str, &str); 10] = [
    ("max_queue_size", "queue_size"),
    ("trace_all_requests", "mode"),
    ("traced_attrs", "traced_attributes"),
    ("sdk_disabled", "disabled"),
    ("traces_exporter", "exporter"),
    ("resource_attributes", "tags"),
    ("otlp_traces_headers", "otlp_headers"),
    ("otlp_traces_compression", "otlp_compression"),
    ("otlp_traces_protocol", "otlp_protocol"),
    ("otlp_traces_timeout", "otlp_timeout_ms"),
];

/// The known key `name` is most likely a misspelling of: at most two edits
/// away (or one for short names), the key of a `JAEGER_*` variable's name
/// (`jaeger_service_name`), or the only key starting with it (`service`).
pub(crate) fn closest_key(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let mut bare = lower.as_str();
    for prefix in ENV_PREFIXES {
        bare = bare.strip_prefix(prefix).unwrap_or(bare);
    }
    if let Some((_, key)) = SYNONYMS.iter().find(|(synonym, _)| *synonym == bare) {
        return Some(key);
    }
    if let Some(close) = closest(bare, KEYS.iter().copied()) {
        return Some(close);
    }
    let mut starting = KEYS.iter().filter(|known| known.starts_with(bare));
    match (starting.next(), starting.next()) {
        (Some(only), None) if bare.len() >= 4 => Some(only),
        _ => None,
    }
}

/// The name of `known` closest to `name` (ASCII case ignored), if one is at
/// most two edits away (one for names of four letters or fewer); the first
/// of equally close ones.
pub(crate) fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = if name.len() <= 4 { 1 } else { 2 };
    known
        .map(|known| (edit_distance(name, known), known))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// The Levenshtein distance between `a` and `b` (ASCII case ignored).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<u8> = a.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<u8> = b.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_key() {
        assert_eq!(closest_key("log_span"), Some("log_spans"));
        assert_eq!(closest_key("agent_prot"), Some("agent_port"));
        assert_eq!(closest_key("Log_Spans"), Some("log_spans"));
        assert_eq!(closest_key("colour"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_the_key_of_a_jaeger_variable_or_a_unique_prefix() {
        assert_eq!(closest_key("jaeger_service_name"), Some("service_name"));
        assert_eq!(closest_key("JAEGER_AGENT_HOST"), Some("agent_host"));
        assert_eq!(
            closest_key("jaeger_reporter_max_queue_size"),
            Some("queue_size")
        );
        assert_eq!(closest_key("reporter_log_spans"), Some("log_spans"));
        assert_eq!(closest_key("trace_all_requests"), Some("mode"));
        assert_eq!(closest_key("service"), Some("service_name"));
        assert_eq!(closest_key("flush_interval"), Some("flush_interval_ms"));
        // Two keys start with it: no guess.
        assert_eq!(closest_key("sampler"), None);
        // Too short to be a prefix worth suggesting.
        assert_eq!(closest_key("ma"), None);
    }

    #[test]
    fn suggests_the_key_of_an_opentelemetry_variable() {
        assert_eq!(
            closest_key("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some("otlp_endpoint")
        );
        assert_eq!(
            closest_key("otel_exporter_otlp_traces_endpoint"),
            Some("otlp_traces_endpoint")
        );
        assert_eq!(
            closest_key("otel_exporter_otlp_traces_headers"),
            Some("otlp_headers")
        );
        assert_eq!(
            closest_key("otel_exporter_otlp_timeout"),
            Some("otlp_timeout_ms")
        );
        assert_eq!(
            closest_key("otel_exporter_otlp_traces_timeout"),
            Some("otlp_timeout_ms")
        );
        assert_eq!(closest_key("otel_service_name"), Some("service_name"));
        assert_eq!(closest_key("otel_traces_exporter"), Some("exporter"));
        assert_eq!(closest_key("otel_sdk_disabled"), Some("disabled"));
        assert_eq!(closest_key("otel_resource_attributes"), Some("tags"));
        assert_eq!(closest_key("otlp_header"), Some("otlp_headers"));
    }

    #[test]
    fn the_path_reads_from_the_section_down() {
        let mut error =
            rocket::figment::Error::from(Kind::InvalidType(Actual::Seq, "a string".to_owned()));
        error.path = vec!["tags".into(), "opentracing".into(), SECTION.into()];
        assert_eq!(key_of(&error), "opentracing.tags.opentracing");
        let refused = from_figment(error).to_string();
        assert_eq!(
            refused,
            "invalid `opentracing.tags.opentracing` = [...]: expected a string"
        );
    }

    #[test]
    fn secrets_are_not_shown_in_a_refused_value() {
        let actual = Actual::Signed(12345);
        assert_eq!(shown("opentracing.password", &actual), "<redacted>");
        assert_eq!(shown("opentracing.auth_token", &actual), "<redacted>");
        let url = Actual::Str("htp://u:s3cret@host/api".into());
        assert!(!shown("opentracing.endpoint", &url).contains("s3cret"));
        assert_eq!(shown("opentracing.agent_port", &actual), "12345");
        let header = Actual::Str("s3cret".into());
        assert_eq!(
            shown("opentracing.otlp_headers.api-key", &header),
            "<redacted>"
        );
        assert_eq!(shown("opentracing.otlp_headers", &header), "<redacted>");
        let url = Actual::Str("htp://u:s3cret@host:4318".into());
        assert!(!shown("opentracing.otlp_endpoint", &url).contains("s3cret"));
        assert!(!shown("opentracing.otlp_traces_endpoint", &url).contains("s3cret"));
    }
}
