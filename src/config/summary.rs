//! The ignition line naming the settings in effect that differ from the
//! defaults, and where each came from: `Rocket.toml` and its profile, a
//! `ROCKET_*` variable, a `JAEGER_*` variable. Credentials are never shown.

use rocket::figment::value::{Dict, Num, Value};
use rocket::figment::Figment;

use super::origin::Origin;
use super::values::redact_value;
use super::{Config, KEYS, SECTION};

/// One line naming the settings of `config` that differ from the defaults,
/// grouped by where they came from, e.g. `settings (others at their
/// defaults): from Rocket.toml [debug.opentracing]: log_spans = true;
/// from JAEGER_SERVICE_NAME: service_name = "api"`. `figment` is the one
/// `config` was read from; the `JAEGER_*` variables are those of the
/// process. Passwords, tokens and the credentials of an endpoint URL show
/// as `<redacted>`.
pub(crate) fn settings_summary(config: &Config, figment: &Figment) -> String {
    summary_with_env(config, figment, |name| std::env::var(name).ok())
}

/// [`settings_summary`] with the environment given as a lookup function.
pub(super) fn summary_with_env(
    config: &Config,
    figment: &Figment,
    env: impl Fn(&str) -> Option<String>,
) -> String {
    // Which keys the JAEGER_* variables set (they were valid: `config` was
    // read with them).
    let jaeger = Config::default().apply_env(env).unwrap_or_default();
    let current = as_dict(config);
    let defaults = as_dict(&Config::default());
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for key in KEYS {
        let value = current.get(*key).map(render).unwrap_or_default();
        if value == defaults.get(*key).map(render).unwrap_or_default() {
            continue;
        }
        let from_figment = Origin::find(figment, &format!("{SECTION}.{key}"));
        let origin = match (jaeger.variable(key), from_figment) {
            // JAEGER_TAGS adds to the section's tags.
            (Some(variable), Some(origin)) if *key == "tags" => format!("{origin} and {variable}"),
            (Some(variable), _) => variable.to_owned(),
            (None, Some(origin)) => origin.to_string(),
            (None, None) => "the configuration".to_owned(),
        };
        let setting = format!("{key} = {}", redacted(key, value));
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

    #[test]
    fn defaults_say_so() {
        assert_eq!(summary("", &[]), "settings: all at their defaults");
        // Set, but to the default value.
        let toml = "[default.opentracing]\nagent_port = 6831\nlog_spans = false";
        assert_eq!(summary(toml, &[]), "settings: all at their defaults");
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
             \"/traces\""
        );
    }

    #[test]
    fn tags_from_both_name_both() {
        let toml = "[default.opentracing]\ntags = { team = \"core\" }";
        let line = summary(toml, &[("JAEGER_TAGS", "zone=eu")]);
        assert_eq!(
            line,
            "settings (others at their defaults): from TOML source string \
             [default.opentracing] and JAEGER_TAGS: tags = {team = \"core\", zone = \"eu\"}"
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
            "settings (others at their defaults): from JAEGER_AUTH_TOKEN: auth_token = <redacted>"
        );
    }
}
