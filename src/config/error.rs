//! Refused configuration: which key (or environment variable), the value
//! found, and what is accepted, on one line.

use std::fmt;

use rocket::figment::error::{Actual, Kind};

use super::SECTION;

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
        expected: String,
    },
    /// The `opentracing` section has a key this crate does not know.
    UnknownKey {
        /// The key, e.g. `opentracing.log_span`.
        key: String,
        /// The known key it is closest to, if one is close.
        did_you_mean: Option<&'static str>,
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
            ConfigError::UnknownKey {
                key,
                did_you_mean: Some(known),
            } => write!(f, "unknown key `{key}`: did you mean `{known}`?"),
            ConfigError::UnknownKey {
                key,
                did_you_mean: None,
            } => write!(
                f,
                "unknown key `{key}`: the keys of `[{SECTION}]` are {}",
                super::KEYS.join(", ")
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

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
    }
}

/// A figment error of the `opentracing` section, naming the key as written
/// in `Rocket.toml` (`opentracing.agent_port`).
pub(crate) fn from_figment(error: rocket::figment::Error) -> ConfigError {
    let field: Vec<&str> = error
        .path
        .iter()
        .map(String::as_str)
        .filter(|segment| *segment != SECTION)
        .collect();
    let key = |field: &[&str]| {
        std::iter::once(SECTION)
            .chain(field.iter().copied())
            .collect::<Vec<_>>()
            .join(".")
    };
    match &error.kind {
        Kind::UnknownField(name, _) => ConfigError::UnknownKey {
            key: key(&[name.as_str()]),
            did_you_mean: closest_key(name),
        },
        Kind::InvalidValue(actual, expected) | Kind::InvalidType(actual, expected) => {
            invalid(&key(&field), shown(actual), expected.clone())
        }
        Kind::UnknownVariant(name, variants) => invalid(
            &key(&field),
            name,
            format!("one of {}", variants.join(", ")),
        ),
        Kind::ISizeOutOfRange(n) => invalid(&key(&field), n, "a smaller number"),
        Kind::USizeOutOfRange(n) => invalid(&key(&field), n, "a smaller number"),
        _ => ConfigError::Figment(Box::new(error)),
    }
}

/// A value as found, without serde's type prefix.
fn shown(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => s.clone(),
        Actual::Char(c) => c.to_string(),
        Actual::Bool(b) => b.to_string(),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The known key `name` is most likely a misspelling of: at most two edits
/// away (or one for short names).
pub(crate) fn closest_key(name: &str) -> Option<&'static str> {
    let limit = if name.len() <= 4 { 1 } else { 2 };
    super::KEYS
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// The Levenshtein distance between `a` and `b` (ASCII case ignored).
fn edit_distance(a: &str, b: &str) -> usize {
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
        assert_eq!(closest_key("colour"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
