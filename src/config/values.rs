//! How the values of the `opentracing` section are read: lists of names
//! into typed values (refusing the first unknown name with what is
//! accepted), and the checks and parsers shared by `Rocket.toml` keys and
//! environment variables.

use rocket::serde::de::{Error as _, Unexpected};
use rocket::serde::ser::SerializeSeq;
use rocket::serde::{Deserialize, Deserializer, Serializer};

use super::error::{closest, invalid};
use super::ConfigError;
use crate::attributes::{self, Attribute};
use crate::propagation::Format;
use crate::redact::redact_credentials;
use crate::skip::SkipPaths;

/// What a `skip_paths` entry must be.
pub(crate) const SKIP_PATH_EXPECTED: &str =
    "a path starting with '/', optionally ending in '*' to match a prefix";

/// `traced_attributes`: names into [`Attribute`]s.
pub(crate) mod attribute_list {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Attribute>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        attributes::parse_all(&names).map_err(|e| {
            let mut expected = format!(
                "one of {}, or Flask-OpenTracing's {}",
                attributes::ACCEPTED,
                attributes::FLASK_ACCEPTED
            );
            if let Some(name) = attribute_suggestion(&e.0) {
                expected.push_str(&format!("; did you mean {name}?"));
            }
            D::Error::invalid_value(Unexpected::Str(&e.0), &expected.as_str())
        })
    }

    pub(crate) fn serialize<S: Serializer>(list: &[Attribute], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for attribute in list {
            seq.serialize_element(&attribute.name())?;
        }
        seq.end()
    }
}

/// The traced attribute name (Rocket's or Flask-OpenTracing's) closest to
/// an unknown `name`, if one is at most two edits away (one for short
/// names).
pub(crate) fn attribute_suggestion(name: &str) -> Option<&'static str> {
    let known = attributes::ACCEPTED
        .split(", ")
        .chain(attributes::FLASK_ACCEPTED.split(", "))
        .filter(|known| !known.contains('<'));
    closest(name, known)
}

/// `extract_formats`, `inject_formats`: names into [`Format`]s (any case,
/// duplicates dropped).
pub(crate) mod format_list {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Format>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Format::parse_list(&names).map_err(|e| {
            D::Error::invalid_value(
                Unexpected::Str(&e.0),
                &format!("one of {}", Format::ACCEPTED).as_str(),
            )
        })
    }

    pub(crate) fn serialize<S: Serializer>(list: &[Format], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for format in list {
            seq.serialize_element(format.name())?;
        }
        seq.end()
    }
}

/// `skip_paths`: entries into [`SkipPaths`].
pub(crate) mod skip_paths {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SkipPaths, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        SkipPaths::parse(&entries)
            .map_err(|e| D::Error::invalid_value(Unexpected::Str(&e.0), &SKIP_PATH_EXPECTED))
    }

    pub(crate) fn serialize<S: Serializer>(paths: &SkipPaths, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(paths.entries())
    }
}

/// Whether `path` can be the viewer's mount point: an absolute path of
/// static, unreserved segments, not the root (the viewer would take the
/// application's `/`).
pub(crate) fn is_viewer_path(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    trimmed.starts_with('/')
        && trimmed.len() > 1
        && trimmed.split('/').skip(1).all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        })
}

/// Whether `name` is empty (no header) or a valid HTTP header name (a token).
pub(crate) fn is_header_name(name: &str) -> bool {
    name.trim()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks a collector endpoint given as `key`: an `http(s)` URL, shown
/// without its credentials when refused.
pub(crate) fn check_endpoint(key: &str, endpoint: &str) -> Result<(), ConfigError> {
    #[cfg(feature = "collector")]
    {
        check_url(key, endpoint, "http://jaeger-collector:14268/api/traces")
    }
    #[cfg(not(feature = "collector"))]
    {
        Err(invalid(
            key,
            redact_credentials(endpoint),
            "no value: this build of rocket_opentracing has no HTTP collector \
             (enable its `collector` feature) and reports to the agent",
        ))
    }
}

/// Checks an OTLP endpoint given as `key`: an `http(s)` URL with a host,
/// shown without its credentials when refused; `example` is one that would
/// be accepted. (Without the `otlp` feature nothing is exported over OTLP:
/// selecting it is refused elsewhere, naming the feature.)
pub(crate) fn check_otlp_endpoint(
    key: &str,
    endpoint: &str,
    example: &str,
) -> Result<(), ConfigError> {
    #[cfg(feature = "otlp")]
    {
        check_url(key, endpoint, example)
    }
    #[cfg(not(feature = "otlp"))]
    {
        let _ = (key, endpoint, example);
        Ok(())
    }
}

/// Checks `endpoint`, given as `key`, with the reporter's URL parser: an
/// `http(s)` URL with a host, like `example`.
#[cfg(any(feature = "collector", feature = "otlp"))]
fn check_url(key: &str, endpoint: &str, example: &str) -> Result<(), ConfigError> {
    crate::reporter::parse_endpoint(endpoint)
        .map(drop)
        .map_err(|reason| {
            invalid(
                key,
                redact_credentials(endpoint),
                format!("an http(s) URL such as {example} ({reason})"),
            )
        })
}

/// Whether `value` can be sent as an HTTP header value: no control
/// characters (line breaks, NUL) other than tab.
pub(crate) fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The value of the key `field` (`password`, `endpoint`) as it may be
/// shown: a password, token or OTLP header value as `<redacted>`, an
/// endpoint URL without its credentials.
pub(crate) fn redact_value(field: &str, value: String) -> String {
    match field {
        "password" | "auth_token" | "otlp_headers" => "<redacted>".to_owned(),
        "endpoint" | "otlp_endpoint" | "otlp_traces_endpoint" => redact_credentials(&value),
        _ => value,
    }
}

/// Milliseconds from `"250"`, `"250ms"`, `"2s"` or `"1m"`.
pub(crate) fn parse_millis(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// A flag from `"true"`, `"1"`, `"yes"` or `"on"` (and their opposites),
/// in any case.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A flag of OpenTelemetry's (`OTEL_SDK_DISABLED`): `"true"` or `"false"`
/// in any case, spaces around ignored; nothing else. (OpenTelemetry's SDKs
/// read any other value as false: refusing it keeps this process from
/// disagreeing silently with the others of a deployment.)
pub(crate) fn parse_otel_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opentelemetry_flag_is_true_or_false_only() {
        for (value, flag) in [
            ("true", true),
            ("TRUE", true),
            (" True ", true),
            ("false", false),
            ("FaLsE", false),
            ("\tfalse\n", false),
        ] {
            assert_eq!(parse_otel_bool(value), Some(flag), "{value:?}");
        }
        for value in [
            "1", "0", "yes", "no", "on", "off", "t", "f", "y", "", "truee", "true1",
        ] {
            assert_eq!(parse_otel_bool(value), None, "{value:?}");
        }
        // Jaeger's flags keep their wider reading.
        assert_eq!(parse_bool("yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
    }

    #[test]
    fn an_unknown_attribute_suggests_the_closest_name() {
        assert_eq!(attribute_suggestion("useragent"), Some("user_agent"));
        assert_eq!(attribute_suggestion("User_Agent"), Some("user_agent"));
        assert_eq!(attribute_suggestion("remote_adr"), Some("remote_addr"));
        assert_eq!(attribute_suggestion("url_rules"), Some("url_rule"));
        assert_eq!(attribute_suggestion("colour"), None);
        assert_eq!(attribute_suggestion("header"), Some("headers"));
        assert_eq!(attribute_suggestion("cookies"), None);
    }
}
