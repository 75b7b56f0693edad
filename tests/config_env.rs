//! Precedence through the real process environment: Rocket.toml <
//! ROCKET_OPENTRACING < JAEGER_*. One test in its own binary, because it sets
//! environment variables (no other test can observe them).

use rocket_opentracing::Config;

#[test]
fn rocket_toml_then_rocket_env_then_jaeger_env() {
    // The repository's Rocket.toml (cargo runs tests from the package root)
    // sets agent_port = 6831 and log_spans = true.
    let from_toml = Config::from_figment(&rocket::Config::figment()).unwrap();
    assert_eq!(from_toml.agent_port, 6831);
    assert!(from_toml.log_spans);

    std::env::set_var(
        "ROCKET_OPENTRACING",
        r#"{service_name="from-rocket-env",agent_port=7001,log_spans=false}"#,
    );
    let from_rocket_env = Config::from_figment(&rocket::Config::figment()).unwrap();
    assert_eq!(from_rocket_env.service_name(), "from-rocket-env");
    assert_eq!(from_rocket_env.agent_port, 7001);
    assert!(!from_rocket_env.log_spans);

    std::env::set_var("JAEGER_AGENT_PORT", "7002");
    std::env::set_var("JAEGER_SERVICE_NAME", "from-jaeger-env");
    let from_jaeger_env = Config::from_figment(&rocket::Config::figment()).unwrap();
    assert_eq!(from_jaeger_env.service_name(), "from-jaeger-env");
    assert_eq!(from_jaeger_env.agent_port, 7002);

    std::env::set_var("JAEGER_SAMPLER_TYPE", "bogus");
    let error = Config::from_figment(&rocket::Config::figment()).unwrap_err();
    assert!(error.to_string().contains("JAEGER_SAMPLER_TYPE"), "{error}");
}
