//! Sections meant for this crate that it does not read: a misspelt
//! `[default.opentracng]`, a `[default.tracing]` or `[default.jaeger]`, or
//! an `[opentracing]` table at the top of `Rocket.toml` (where Rocket reads
//! a top-level table as a profile). Each draws a warning at ignition naming
//! what was found and the section that is read.

use rocket::figment::{Figment, Profile, Provider};

use super::error::edit_distance;
use super::origin::Origin;
use super::SECTION;

/// Names people give the tracing section, besides misspellings of
/// `opentracing`.
const OTHER_NAMES: [&str; 2] = ["tracing", "jaeger"];

/// One warning line for each section of `figment` that looks meant for
/// this crate but is not read: a top-level key (under any profile) or a
/// profile whose name is `opentracing` misspelt (at most two edits away),
/// `tracing` or `jaeger`. Each line names the section found, where it was
/// found, and the section that is read. Empty when there is none.
pub(crate) fn misplaced_sections(figment: &Figment) -> Vec<String> {
    let Ok(data) = figment.data() else {
        // The figment does not evaluate: reading the section says why.
        return Vec::new();
    };
    let selected = figment.profile();
    let mut warnings = Vec::new();
    for (profile, dict) in &data {
        if profile != selected && looks_meant(profile.as_str().as_str()) {
            let found = dict
                .values()
                .find_map(|value| figment.get_metadata(value.tag()))
                .map(|metadata| found_in(&Origin::of(metadata, None, &[profile.as_str().as_str()])))
                .unwrap_or_default();
            warnings.push(format!(
                "[{profile}]{found} is not read: a top-level table is a Rocket profile, and \
                 the tracing settings are read from [default.{SECTION}] (or [<profile>.{SECTION}])",
            ));
        }
        for (key, value) in dict {
            if key == SECTION || !looks_meant(key) {
                continue;
            }
            let origin = figment
                .get_metadata(value.tag())
                .map(|metadata| Origin::of(metadata, Some(profile), &[key.as_str()]));
            warnings.push(not_read(profile, key, origin));
        }
    }
    warnings
}

/// Whether a section called `name` was probably meant for this crate.
fn looks_meant(name: &str) -> bool {
    edit_distance(name, SECTION) <= 2 || OTHER_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The warning for the section `key` of `profile`, found in `origin`.
fn not_read(profile: &Profile, key: &str, origin: Option<Origin>) -> String {
    let read = format!("[{profile}.{SECTION}]");
    match origin {
        Some(Origin::Env(variable)) => {
            let prefix = variable
                .len()
                .checked_sub(key.len())
                .and_then(|end| variable.get(..end))
                .unwrap_or_default();
            let wanted = format!("{prefix}{SECTION}").to_ascii_uppercase();
            format!(
                "the environment variable {variable} is not read: the tracing settings are read \
                 from {wanted} and from [default.{SECTION}] in Rocket.toml"
            )
        }
        origin => format!(
            "section [{profile}.{key}]{} is not read: the tracing settings are read from {read}",
            origin.as_ref().map(found_in).unwrap_or_default()
        ),
    }
}

/// ` in <file>` or ` (from <provider>)`: where a section was found, without
/// the table (the warning names it).
fn found_in(origin: &Origin) -> String {
    match origin {
        Origin::File { file, .. } => format!(" in {file}"),
        Origin::Other { name, .. } => format!(" (from {name})"),
        Origin::Env(_) | Origin::Code(_) => format!(" (from {origin})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::{Format, Serialized, Toml};
    use rocket::figment::value::{Dict, Map};
    use rocket::figment::{Error, Metadata};

    /// What a Rocket application's figment is, from a `Rocket.toml` text.
    fn rocket_figment(toml: &str) -> Figment {
        Figment::from(rocket::Config::default())
            .merge(Toml::string(toml).nested())
            .select("debug")
    }

    #[test]
    fn nothing_to_say_about_a_right_section_or_none() {
        assert!(misplaced_sections(&rocket_figment("")).is_empty());
        let figment = rocket_figment(
            "[default]\nport = 8000\n[default.opentracing]\nlog_spans = true\n\
             [release.opentracing]\nlog_spans = false\n[default.databases]\nurl = \"x\"",
        );
        assert!(misplaced_sections(&figment).is_empty());
    }

    #[test]
    fn misspelt_or_other_names_are_named_with_the_section_read() {
        for name in [
            "opentracng",
            "open_tracing",
            "opentraceing",
            "OpenTracing",
            "open-tracing",
            "tracing",
            "jaeger",
            "Jaeger",
        ] {
            let figment = rocket_figment(&format!("[default.{name}]\nlog_spans = true"));
            let warnings = misplaced_sections(&figment);
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            let warning = &warnings[0];
            assert!(
                warning.starts_with(&format!("section [default.{name}] ")),
                "{warning}"
            );
            assert!(warning.contains("[default.opentracing]"), "{warning}");
            assert!(warning.contains("TOML source string"), "{warning}");
            assert!(!warning.contains('\n'), "{warning}");
        }
        for name in [
            "opentelemetry",
            "telemetry",
            "tracer",
            "databases",
            "limits",
        ] {
            let figment = rocket_figment(&format!("[default.{name}]\nx = 1"));
            assert!(misplaced_sections(&figment).is_empty(), "{name}");
        }
    }

    #[test]
    fn every_profile_is_checked_and_names_its_own_section() {
        let figment = rocket_figment("[release.tracing]\nlog_spans = true");
        assert_eq!(
            misplaced_sections(&figment),
            [
                "section [release.tracing] (from TOML source string) is not read: the tracing \
              settings are read from [release.opentracing]"
            ]
        );
    }

    #[test]
    fn a_file_is_named() {
        let dir = std::env::temp_dir().join(format!("rot-sections-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Rocket.toml");
        std::fs::write(
            &file,
            "[default.tracing]\nlog_spans = true\n[opentracing]\nx = 1\n",
        )
        .unwrap();
        let figment = Figment::from(rocket::Config::default())
            .merge(Toml::file(&file).nested())
            .select("debug");
        let warnings = misplaced_sections(&figment);
        std::fs::remove_dir_all(&dir).unwrap();
        let shown = rocket::figment::Source::File(file.clone());
        assert_eq!(
            warnings,
            [
                format!(
                    "section [default.tracing] in {shown} is not read: the tracing settings are \
                     read from [default.opentracing]"
                ),
                format!(
                    "[opentracing] in {shown} is not read: a top-level table is a Rocket \
                     profile, and the tracing settings are read from [default.opentracing] \
                     (or [<profile>.opentracing])"
                ),
            ]
        );
    }

    #[test]
    fn a_top_level_table_is_a_profile_not_read() {
        let figment = rocket_figment("[opentracing]\nlog_spans = true\n[jaeger]\nx = 1");
        assert_eq!(
            misplaced_sections(&figment),
            [
                "[jaeger] (from TOML source string) is not read: a top-level table is a Rocket \
                 profile, and the tracing settings are read from [default.opentracing] (or \
                 [<profile>.opentracing])",
                "[opentracing] (from TOML source string) is not read: a top-level table is a \
                 Rocket profile, and the tracing settings are read from [default.opentracing] \
                 (or [<profile>.opentracing])",
            ]
        );
    }

    #[test]
    fn a_profile_that_is_selected_is_not_a_mistake() {
        let toml = Toml::string("[tracing]\nport = 1").nested();
        let figment = Figment::from(toml).select("tracing");
        assert!(misplaced_sections(&figment).is_empty());
    }

    /// Figment's environment provider, without the process environment.
    struct FakeEnv(&'static str);

    impl Provider for FakeEnv {
        fn metadata(&self) -> Metadata {
            Metadata::named("`ROCKET_` environment variable(s)")
        }

        fn data(&self) -> Result<Map<Profile, Dict>, Error> {
            let mut section = Dict::new();
            section.insert("log_spans".into(), true.into());
            let mut global = Dict::new();
            global.insert(self.0.into(), section.into());
            Ok(Map::from([(Profile::Global, global)]))
        }
    }

    #[test]
    fn an_environment_variable_is_named() {
        let figment = Figment::from(Serialized::defaults(rocket::Config::default()))
            .merge(FakeEnv("tracing"))
            .select("debug");
        assert_eq!(
            misplaced_sections(&figment),
            [
                "the environment variable ROCKET_TRACING is not read: the tracing settings are \
              read from ROCKET_OPENTRACING and from [default.opentracing] in Rocket.toml"
            ]
        );
        let figment = Figment::from(FakeEnv("opentracing"));
        assert!(misplaced_sections(&figment).is_empty());
    }
}
