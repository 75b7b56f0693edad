//! Where a setting came from, from the figment's metadata: a file and its
//! profile (`Rocket.toml [default.opentracing]`), a `ROCKET_*` variable
//! (`ROCKET_OPENTRACING`), a provider added in code. (The `JAEGER_*`
//! variables are applied over the figment: see `Origins`.)

use std::fmt;

use rocket::figment::{Figment, Metadata, Profile, Source};

/// Where a value of the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A file (`Rocket.toml`), in the table `[<profile>.<section>]`.
    File {
        /// The file, relative to the working directory when shorter.
        file: String,
        /// The profile the value was found under, if known.
        profile: Option<String>,
        /// The top-level key (`opentracing`).
        section: String,
    },
    /// An environment variable read through the figment
    /// (`ROCKET_OPENTRACING`).
    Env(String),
    /// A provider added in code: `code at src/main.rs:12:5`, or
    /// `code ((&str, bool))` for figment's `(key, value)` provider.
    Code(String),
    /// Another provider: its name, the profile, the top-level key.
    Other {
        /// The provider's name, e.g. `TOML source string`.
        name: String,
        /// The profile the value was found under, if known.
        profile: Option<String>,
        /// The top-level key (`opentracing`).
        section: String,
    },
}

impl Origin {
    /// Where the value at `path` (`["opentracing", "agent_port"]`) came
    /// from, given the metadata of its provider and its profile.
    pub(crate) fn of(metadata: &Metadata, profile: Option<&Profile>, path: &[&str]) -> Origin {
        let section = path.first().copied().unwrap_or_default().to_owned();
        let profile = profile.map(|p| p.as_str().as_str().to_owned());
        if let Some(prefix) = env_prefix(metadata) {
            let names = std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned());
            return Origin::Env(env_variable(&prefix, path, names));
        }
        match &metadata.source {
            Some(Source::File(_)) => Origin::File {
                file: metadata
                    .source
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                profile,
                section,
            },
            Some(Source::Code(location)) => Origin::Code(format!("code at {location}")),
            // Figment's `(key, value)` provider: named after its Rust type.
            None if metadata.name.starts_with('(') || metadata.name.contains("::") => {
                Origin::Code(format!("code ({})", metadata.name))
            }
            Some(Source::Custom(custom)) => Origin::Other {
                name: format!("{} {custom}", metadata.name),
                profile,
                section,
            },
            _ => Origin::Other {
                name: metadata.name.to_string(),
                profile,
                section,
            },
        }
    }

    /// Where the value at `key` (`opentracing.agent_port`) of `figment`
    /// came from, if the figment has one.
    pub(crate) fn find(figment: &Figment, key: &str) -> Option<Origin> {
        let value = figment.find_value(key).ok()?;
        let tag = value.tag();
        let metadata = figment.get_metadata(tag)?;
        // A value of a custom profile comes from the selected one.
        let profile = tag.profile().unwrap_or_else(|| figment.profile().clone());
        let path: Vec<&str> = key.split('.').collect();
        Some(Origin::of(metadata, Some(&profile), &path))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                file: name,
                profile,
                section,
            }
            | Origin::Other {
                name,
                profile,
                section,
            } => match profile {
                Some(profile) => write!(f, "{name} [{profile}.{section}]"),
                None => write!(f, "{name} [{section}]"),
            },
            Origin::Env(variable) => f.write_str(variable),
            Origin::Code(description) => f.write_str(description),
        }
    }
}

/// The variables' prefix (`ROCKET_`) if `metadata` is that of figment's
/// environment provider (named "`ROCKET_` environment variable(s)").
fn env_prefix(metadata: &Metadata) -> Option<String> {
    let name = &metadata.name;
    if !name.contains("environment variable") {
        return None;
    }
    let mut quoted = name.split('`');
    let prefix = match (quoted.next(), quoted.next(), quoted.next()) {
        (Some(_), Some(prefix), Some(_)) => prefix,
        _ => "",
    };
    Some(prefix.to_owned())
}

/// The variable that set the value at `path`: `ROCKET_OPENTRACING`, or a
/// dotted one such as `ROCKET_OPENTRACING.AGENT_PORT` if the environment
/// (`names`) has it (figment nests keys at dots).
fn env_variable(prefix: &str, path: &[&str], names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    for len in (1..=path.len()).rev() {
        let wanted = format!("{prefix}{}", path[..len].join("."));
        if let Some(found) = names.iter().find(|n| n.eq_ignore_ascii_case(&wanted)) {
            return found.clone();
        }
    }
    format!("{prefix}{}", path.first().copied().unwrap_or_default()).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use rocket::figment::providers::{Format, Toml};

    #[test]
    fn a_file_is_named_with_the_table_of_the_profile() {
        let dir = std::env::temp_dir().join(format!("rot-origin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Rocket.toml");
        std::fs::write(
            &file,
            "[default.opentracing]\nagent_port = 7000\n[release.opentracing]\nlog_spans = true\n",
        )
        .unwrap();
        let figment = Figment::from(Toml::file(&file).nested()).select("release");
        let port = Origin::find(&figment, "opentracing.agent_port").unwrap();
        let spans = Origin::find(&figment, "opentracing.log_spans").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let shown = Source::File(file.clone()).to_string();
        assert_eq!(port.to_string(), format!("{shown} [default.opentracing]"));
        assert_eq!(spans.to_string(), format!("{shown} [release.opentracing]"));
        assert_eq!(Origin::find(&figment, "opentracing.queue_size"), None);
    }

    #[test]
    fn an_environment_variable_is_named_as_set() {
        let metadata = Metadata::named("`ROCKET_` environment variable(s)");
        let path = ["opentracing", "agent_port"];
        let none = std::iter::empty();
        assert_eq!(
            Origin::of(&metadata, None, &path),
            Origin::Env(env_variable("ROCKET_", &path, none))
        );
        let none = std::iter::empty();
        assert_eq!(env_variable("ROCKET_", &path, none), "ROCKET_OPENTRACING");
        let dotted = ["ROCKET_OPENTRACING.AGENT_PORT".to_owned()];
        assert_eq!(
            env_variable("ROCKET_", &path, dotted.into_iter()),
            "ROCKET_OPENTRACING.AGENT_PORT"
        );
        let unprefixed = Metadata::named("environment variable(s)");
        assert_eq!(env_prefix(&unprefixed).as_deref(), Some(""));
        assert_eq!(env_prefix(&Metadata::named("TOML file")), None);
    }

    #[test]
    fn other_providers_are_named() {
        let figment = Figment::from(Toml::string("[opentracing]\nagent_port = 1"));
        let origin = Origin::find(&figment, "opentracing.agent_port").unwrap();
        assert_eq!(
            origin.to_string(),
            "TOML source string [default.opentracing]"
        );
        let figment = Figment::new().merge(("opentracing.agent_port", 1));
        let origin = Origin::find(&figment, "opentracing.agent_port").unwrap();
        assert_eq!(origin.to_string(), "code ((&str, i32))");
        let defaults = rocket::figment::providers::Serialized::defaults(Config {
            agent_port: 1,
            ..Config::default()
        });
        let figment = Figment::new().merge(defaults.key("opentracing"));
        let origin = Origin::find(&figment, "opentracing.agent_port").unwrap();
        assert!(
            origin
                .to_string()
                .starts_with("code at src/config/origin.rs:"),
            "{origin}"
        );
    }
}
