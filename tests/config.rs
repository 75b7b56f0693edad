//! Configuration through Rocket's figment: each key's effect on requests,
//! profiles, refusals at ignition.

mod common;

use std::time::Duration;

use common::agent::{span_name, string_tag, Agent};
#[cfg(feature = "collector")]
use common::collector::Collector;
use common::*;
use rocket::figment::providers::{Format, Toml};
use rocket::figment::{Figment, Profile};
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
#[cfg(feature = "otlp")]
use rocket_opentracing::config::Exporter;
use rocket_opentracing::propagation::parse_trace_header;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::{ActiveSpan, Config, OpenTracingFairing};

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

#[get("/health")]
fn health() -> &'static str {
    "ok"
}

#[get("/internal/<_x>")]
fn internal(_x: &str) -> &'static str {
    "internal"
}

#[get("/context")]
fn context(span: ActiveSpan<'_>) -> String {
    span.headers()
        .into_iter()
        .find(|(k, _)| k == "uber-trace-id")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

async fn client_with(toml: &str, fairing: OpenTracingFairing) -> Client {
    common::client_with(toml, fairing, routes![hello, health, internal, context]).await
}

#[rocket::async_test]
async fn skip_paths_produce_no_span() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nskip_paths = [\"/health\", \"/internal/*\"]";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    for path in ["/health", "/internal/metrics", "/internal/x?y=1"] {
        let response = client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{path}");
    }
    assert!(drain(&rx).is_empty(), "skipped paths are not traced");
    client.get("/hello/a").dispatch().await;
    client.get("/healthz").dispatch().await;
    assert_eq!(drain(&rx).len(), 2, "other paths still are");
}

#[rocket::async_test]
async fn traced_attributes_produce_exactly_the_requested_tags() {
    let (tracer, rx) = tracer();
    let toml = r#"[default.opentracing]
traced_attributes = ["user_agent", "client_ip", "path", "query", "host", "route", "route_name",
                     "header.X-Request-Id", "content_length", "content_type", "scheme", "remote_address"]"#;
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    client
        .get("/hello/bob?lang=en")
        .header(Header::new("User-Agent", "curl/8.0"))
        .header(Header::new("X-Request-Id", "req-42"))
        .header(Header::new("Host", "example.test"))
        .remote("192.0.2.7:5555".parse().unwrap())
        .dispatch()
        .await;
    let span = only_span(&rx);
    let tags = tags(&span);
    let expected = [
        ("http.user_agent", s("curl/8.0")),
        ("http.client_ip", s("192.0.2.7")),
        ("http.path", s("/hello/bob")),
        ("http.query", s("lang=en")),
        ("http.host", s("example.test")),
        ("http.route", s("/hello/<name>")),
        ("http.route_name", s("hello")),
        ("http.header.x-request-id", s("req-42")),
        ("http.scheme", s("http")),
        ("peer.address", s("192.0.2.7:5555")),
    ];
    for (name, value) in &expected {
        assert_eq!(tags.get(*name), Some(value), "tag {name}");
    }
    // Absent values are not tagged.
    assert!(!tags.contains_key("http.content_length"));
    assert!(!tags.contains_key("http.content_type"));
    // Nothing beyond the standard tags and the requested ones.
    let standard = [
        "component",
        "http.method",
        "http.status_code",
        "http.url",
        "span.kind",
        "peer.ipv4",
        "peer.port",
    ];
    let extra: Vec<_> = tags
        .keys()
        .filter(|k| !standard.contains(&k.as_str()) && !expected.iter().any(|(n, _)| n == k))
        .collect();
    assert!(extra.is_empty(), "unexpected tags {extra:?}");
}

#[rocket::async_test]
async fn sensitive_headers_only_when_named() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\ntraced_attributes = [\"headers\", \"header.Cookie\"]";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    client
        .get("/hello/x")
        .header(Header::new("Authorization", "Bearer secret"))
        .header(Header::new("Cookie", "session=abc"))
        .header(Header::new("Proxy-Authorization", "Basic xyz"))
        .header(Header::new("Accept", "text/plain"))
        .dispatch()
        .await;
    let tags = tags(&only_span(&rx));
    assert_eq!(tags.get("http.header.accept"), Some(&s("text/plain")));
    assert_eq!(
        tags.get("http.header.cookie"),
        Some(&s("session=abc")),
        "named explicitly"
    );
    assert!(!tags.contains_key("http.header.authorization"));
    assert!(!tags.contains_key("http.header.proxy-authorization"));
}

#[rocket::async_test]
async fn const_zero_sampler_reports_nothing_but_propagates() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nsampler_type = \"const\"\nsampler_param = 0";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    let header = client
        .get("/context")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(drain(&rx).is_empty(), "nothing reported");
    let context = parse_trace_header(&header).expect("a context still propagates");
    assert!(!context.is_sampled());

    // A sampled caller is still honoured.
    client
        .get("/hello/x")
        .header(Header::new("uber-trace-id", "abc:def:0:1"))
        .dispatch()
        .await;
    assert_eq!(drain(&rx).len(), 1);
}

#[rocket::async_test]
async fn probabilistic_sampler_samples_about_its_rate() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nsampler_type = \"probabilistic\"\nsampler_param = 0.5";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    for _ in 0..400 {
        client.get("/hello/x").dispatch().await;
    }
    let sampled = drain(&rx).len();
    // Binomial(400, 0.5): outside 120..=280 has probability below 1e-15.
    assert!((120..=280).contains(&sampled), "{sampled} of 400 sampled");
}

#[rocket::async_test]
async fn ratelimiting_sampler_limits_new_traces() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nsampler_type = \"ratelimiting\"\nsampler_param = 2";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    for _ in 0..20 {
        client.get("/hello/x").dispatch().await;
    }
    let sampled = drain(&rx).len();
    // A bucket of two, refilled at 2/s: the 20 requests take far less than 1 s.
    assert!((2..=3).contains(&sampled), "{sampled} sampled");
}

#[rocket::async_test]
async fn disabled_traces_nothing_and_serves_as_usual() {
    let (tracer, rx) = tracer();
    let client = client_with(
        "[default.opentracing]\ndisabled = true",
        OpenTracingFairing::all(tracer),
    )
    .await;
    let response = client.get("/hello/x").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "Hello, x!");
    assert_eq!(
        client
            .get("/context")
            .dispatch()
            .await
            .into_string()
            .await
            .unwrap(),
        ""
    );
    assert!(drain(&rx).is_empty());
}

#[rocket::async_test]
async fn mode_naming_and_service_from_config_reach_the_agent() {
    let agent = Agent::bind();
    let toml = format!(
        "[default.opentracing]\nservice_name = \"configured\"\nagent_port = {}\nmode = \"opt_in\"\n\
         operation_name = \"handler\"\ntags = {{ team = \"core\" }}\nflush_interval_ms = 600000",
        agent.port()
    );
    let client = client_with(&toml, OpenTracingFairing::from_config()).await;
    client.get("/hello/x").dispatch().await; // no ActiveSpan: not traced in opt-in mode
    client.get("/context").dispatch().await;
    client.terminate().await; // on_shutdown flushes the reporter

    let batches = agent.receive(1, Duration::from_secs(10));
    assert!(agent.is_quiet(Duration::from_millis(200)), "one span only");
    let spans: Vec<_> = batches.iter().flat_map(|b| &b.spans).collect();
    assert_eq!(
        spans.iter().map(|s| span_name(s)).collect::<Vec<_>>(),
        ["context"]
    );
    assert_eq!(batches[0].service_name(), "configured");
    assert_eq!(batches[0].process_tag("team").as_deref(), Some("core"));
    assert_eq!(string_tag(spans[0], "span.kind").as_deref(), Some("server"));
}

#[test]
fn profiles_select_their_section() {
    let toml = "[default.opentracing]\nservice_name = \"base\"\nagent_port = 7000\n\
                [release.opentracing]\nservice_name = \"prod\"";
    let base = Figment::from(Toml::string(toml).nested());
    let no_env = |_: &str| None;
    let debug =
        Config::from_figment_and_env(&base.clone().select(Profile::new("debug")), no_env).unwrap();
    let release =
        Config::from_figment_and_env(&base.select(Profile::new("release")), no_env).unwrap();
    assert_eq!(debug.service_name(), "base");
    assert_eq!(release.service_name(), "prod");
    assert_eq!(
        release.agent_port, 7000,
        "defaults still apply under a profile"
    );
}

#[test]
fn invalid_values_are_refused_naming_the_key() {
    // (Rocket.toml section, environment, what the error must mention)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "",
            &[("JAEGER_SAMPLER_TYPE", "bogus")],
            &[
                "JAEGER_SAMPLER_TYPE",
                "bogus",
                "const, probabilistic, ratelimiting",
            ],
        ),
        (
            "",
            &[
                ("JAEGER_SAMPLER_TYPE", "const"),
                ("JAEGER_SAMPLER_PARAM", "0.5"),
            ],
            &["JAEGER_SAMPLER_PARAM", "0 or 1"],
        ),
        (
            "",
            &[
                ("JAEGER_SAMPLER_TYPE", "probabilistic"),
                ("JAEGER_SAMPLER_PARAM", "2"),
            ],
            &["JAEGER_SAMPLER_PARAM", "0.0 to 1.0"],
        ),
        (
            "",
            &[("JAEGER_SAMPLER_PARAM", "abc")],
            &["JAEGER_SAMPLER_PARAM", "a number"],
        ),
        (
            "",
            &[("JAEGER_AGENT_PORT", "70000")],
            &["JAEGER_AGENT_PORT", "70000"],
        ),
        (
            "",
            &[("JAEGER_DISABLED", "maybe")],
            &["JAEGER_DISABLED", "true or false"],
        ),
        (
            "",
            &[("JAEGER_TAGS", "a=1,oops")],
            &["JAEGER_TAGS", "key=value"],
        ),
        (
            "sampler_type = \"ratelimiting\"\nsampler_param = -1",
            &[],
            &["opentracing.sampler_param", "-1"],
        ),
        (
            "sampler_type = \"remote\"",
            &[],
            &["sampler_type", "remote"],
        ),
        (
            "traced_attributes = [\"useragent\"]",
            &[],
            &["opentracing.traced_attributes", "useragent", "user_agent"],
        ),
        (
            "skip_paths = [\"health\"]",
            &[],
            &["opentracing.skip_paths", "health"],
        ),
        ("agent_port = \"six\"", &[], &["agent_port"]),
        ("queue_size = 0", &[], &["opentracing.queue_size"]),
        (
            "trace_id_header = \"X Trace\"",
            &[],
            &["opentracing.trace_id_header", "X Trace"],
        ),
        (
            "endpoint = \"jaeger:14268\"",
            &[],
            &["opentracing.endpoint", "jaeger:14268", "http"],
        ),
        (
            "",
            &[("JAEGER_ENDPOINT", "ftp://collector/api/traces")],
            &["JAEGER_ENDPOINT", "ftp://collector/api/traces"],
        ),
        (
            "user = \"tracer\"",
            &[],
            &["opentracing.password", "JAEGER_PASSWORD"],
        ),
        (
            "",
            &[("JAEGER_PASSWORD", "pw")],
            &["opentracing.user", "JAEGER_USER"],
        ),
        (
            "user = \"tracer\"\npassword = \"pw\"\nauth_token = \"tok\"",
            &[],
            &["opentracing.auth_token", "JAEGER_AUTH_TOKEN"],
        ),
        (
            "",
            &[("JAEGER_REPORTER_MAX_QUEUE_SIZE", "0")],
            &["JAEGER_REPORTER_MAX_QUEUE_SIZE", "at least 1"],
        ),
        (
            "",
            &[("JAEGER_REPORTER_FLUSH_INTERVAL", "soon")],
            &["JAEGER_REPORTER_FLUSH_INTERVAL", "soon"],
        ),
        ("colour = \"blue\"", &[], &["colour"]),
        (
            "exporter = \"zipkin\"",
            &[],
            &["opentracing.exporter", "zipkin", "jaeger, otlp"],
        ),
        (
            "",
            &[("OTEL_TRACES_EXPORTER", "zipkin")],
            &["OTEL_TRACES_EXPORTER", "zipkin", "otlp, jaeger, none"],
        ),
        (
            "",
            &[("OTEL_SDK_DISABLED", "maybe")],
            &["OTEL_SDK_DISABLED", "true or false"],
        ),
        (
            "",
            &[("OTEL_SDK_DISABLED", "1")],
            &["`OTEL_SDK_DISABLED` = 1:", "true or false"],
        ),
        (
            "",
            &[("OTEL_RESOURCE_ATTRIBUTES", "team=core,oops")],
            &["OTEL_RESOURCE_ATTRIBUTES", "team=core,oops", "key=value"],
        ),
        (
            "otlp_protocol = \"grpc\"",
            &[],
            &["opentracing.otlp_protocol", "grpc", "http/protobuf", "4318"],
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            &[
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "http/json",
                "http/protobuf",
                "4318",
            ],
        ),
        (
            "otlp_compression = \"zstd\"",
            &[],
            &["opentracing.otlp_compression", "zstd", "gzip or none"],
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "br")],
            &[
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "br",
                "gzip or none",
            ],
        ),
        (
            "otlp_timeout_ms = 0",
            &[],
            &["opentracing.otlp_timeout_ms", "at least 1"],
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            &["OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"],
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key")],
            &["OTEL_EXPORTER_OTLP_HEADERS", "key=value"],
        ),
    ];
    for (toml, env, needles) in cases {
        // Without the collector, any endpoint is refused (for that reason).
        if !cfg!(feature = "collector") && needles.contains(&"http") {
            continue;
        }
        // The OTLP settings are checked when exporting over OTLP.
        let mut env = env.to_vec();
        if needles[0].starts_with("opentracing.otlp_") || needles[0].starts_with("OTEL_EXPORTER_") {
            env.push(("OTEL_TRACES_EXPORTER", "otlp"));
        }
        let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let error = Config::from_figment_and_env(&figment, env)
            .expect_err(&format!(
                "accepted {toml:?} with {env:?}",
                env = env("JAEGER_SAMPLER_TYPE")
            ))
            .to_string();
        for needle in *needles {
            assert!(
                error.contains(needle),
                "{error:?} does not mention {needle:?}"
            );
        }
        assert!(!error.contains('\n'), "one line: {error:?}");
    }
}

#[cfg(feature = "collector")]
#[rocket::async_test]
async fn an_endpoint_sends_spans_to_the_http_collector_instead_of_the_agent() {
    let agent = Agent::bind();
    let collector = Collector::bind();
    let toml = format!(
        "[default.opentracing]\nservice_name = \"via-collector\"\nagent_port = {}\n\
         endpoint = \"{}\"\nuser = \"tracer\"\npassword = \"pw\"\nflush_interval_ms = 600000",
        agent.port(),
        collector.endpoint()
    );
    let client = client_with(&toml, OpenTracingFairing::from_config()).await;
    client.get("/hello/x").dispatch().await;
    client.terminate().await; // on_shutdown flushes the reporter

    let requests = collector.receive(1, Duration::from_secs(10));
    assert_eq!(requests.len(), 1);
    // base64("tracer:pw")
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dHJhY2VyOnB3")
    );
    let batch = requests[0].batch();
    assert_eq!(batch.service_name(), "via-collector");
    assert_eq!(span_name(&batch.spans[0]), "GET /hello/<name>");
    assert!(
        agent.is_quiet(Duration::from_millis(200)),
        "nothing to the agent"
    );
}

#[rocket::async_test]
async fn responses_carry_the_trace_id_in_the_configured_header() {
    let caller_trace = "6309ab92c95468edea0dc1a9772ae2dc";
    let uber = format!("{caller_trace}:409423a204bc17a8:0:1");

    let (traced, rx) = tracer();
    let client = client_with("", OpenTracingFairing::all(traced)).await;
    let response = client
        .get("/hello/x")
        .header(Header::new("uber-trace-id", uber.clone()))
        .dispatch()
        .await;
    assert_eq!(response.headers().get_one("X-Trace-Id"), Some(caller_trace));
    let response = client.get("/hello/y").dispatch().await;
    let own = response
        .headers()
        .get_one("X-Trace-Id")
        .expect("a trace id")
        .to_owned();
    drop(response);
    let spans = drain(&rx);
    assert_eq!(spans.len(), 2);
    let id = spans[1].context().state().trace_id();
    assert_eq!(own, format!("{:016x}{:016x}", id.high, id.low));

    let (traced, _rx) = tracer();
    let toml = "[default.opentracing]\ntrace_id_header = \"X-Request-Trace\"";
    let client = client_with(toml, OpenTracingFairing::all(traced)).await;
    let response = client.get("/hello/x").dispatch().await;
    assert!(response.headers().get_one("X-Request-Trace").is_some());
    assert!(response.headers().get_one("X-Trace-Id").is_none());

    let (traced, _rx) = tracer();
    let toml = "[default.opentracing]\ntrace_id_header = \"\"";
    let client = client_with(toml, OpenTracingFairing::all(traced)).await;
    let response = client.get("/hello/x").dispatch().await;
    assert!(response.headers().get_one("X-Trace-Id").is_none());
    assert_eq!(response.into_string().await.as_deref(), Some("Hello, x!"));

    // Not sampled (the caller decided so): no header, as no trace is kept.
    let (traced, _rx) = tracer();
    let client = client_with("", OpenTracingFairing::all(traced)).await;
    let response = client
        .get("/hello/x")
        .header(Header::new(
            "uber-trace-id",
            format!("{caller_trace}:409423a204bc17a8:0:0"),
        ))
        .dispatch()
        .await;
    assert!(response.headers().get_one("X-Trace-Id").is_none());

    // Not traced (skipped path): no header.
    let (traced, _rx) = tracer();
    let toml = "[default.opentracing]\nskip_paths = [\"/hello/*\"]";
    let client = client_with(toml, OpenTracingFairing::all(traced)).await;
    let response = client.get("/hello/x").dispatch().await;
    assert!(response.headers().get_one("X-Trace-Id").is_none());
}

#[test]
fn a_refused_endpoint_never_shows_its_credentials() {
    let figment = Figment::from(Toml::string(""));
    let env = |name: &str| {
        (name == "JAEGER_ENDPOINT").then(|| "htps://tracer:s3cret@collector/api/traces".to_owned())
    };
    let error = Config::from_figment_and_env(&figment, env)
        .unwrap_err()
        .to_string();
    assert!(error.contains("JAEGER_ENDPOINT"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[cfg(feature = "collector")]
#[test]
fn collector_and_queue_settings_come_from_the_jaeger_variables() {
    let figment = Figment::from(Toml::string("[opentracing]\nqueue_size = 5"));
    let env = |name: &str| {
        let value = match name {
            "JAEGER_ENDPOINT" => "http://collector:14268/api/traces",
            "JAEGER_AUTH_TOKEN" => "t0ken",
            "JAEGER_REPORTER_MAX_QUEUE_SIZE" => "250",
            "JAEGER_REPORTER_FLUSH_INTERVAL" => "2s",
            _ => return None,
        };
        Some(value.to_owned())
    };
    let config = Config::from_figment_and_env(&figment, env).unwrap();
    assert!(
        !format!("{config:?}").contains("t0ken"),
        "secrets are redacted"
    );
    for (value, millis) in [("250", 250), ("250ms", 250), ("1m", 60_000)] {
        let env = |name: &str| (name == "JAEGER_REPORTER_FLUSH_INTERVAL").then(|| value.to_owned());
        let config = Config::from_figment_and_env(&figment, env).unwrap();
        assert_eq!(config.flush_interval_ms, millis, "{value}");
    }
}

#[rocket::async_test]
async fn bad_configuration_refuses_ignition() {
    let (tracer, _rx) = tracer();
    let rocket = rocket_with("[default.opentracing]\ntraced_attributes = [\"nope\"]")
        .attach(OpenTracingFairing::all(tracer))
        .mount("/", routes![hello]);
    let error = rocket.ignite().await.expect_err("ignition refused");
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(f) if f[0].name == "OpenTracing"),
        "{error:?}"
    );
}

#[test]
fn repository_rocket_toml_is_valid_and_documents_every_key() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).unwrap();
    let figment = Figment::from(Toml::string(&text).nested()).select(Profile::new("debug"));
    let config =
        Config::from_figment_and_env(&figment, |_| None).expect("the example config is valid");
    assert!(config.log_spans, "the examples show spans without Jaeger");
    let defaults = rocket::figment::providers::Serialized::defaults(Config::default());
    let keys = Figment::from(defaults)
        .extract::<rocket::figment::value::Dict>()
        .unwrap();
    for key in keys.keys() {
        assert!(
            text.contains(&format!("{key} =")),
            "Rocket.toml does not document `{key}`"
        );
    }
}

#[rocket::async_test]
async fn tag_value_types_are_kept() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\ntraced_attributes = [\"content_length\"]";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    client
        .post("/nowhere")
        .body("12345")
        .header(Header::new("Content-Length", "5"))
        .dispatch()
        .await;
    assert_eq!(
        tag(&only_span(&rx), "http.content_length"),
        Some(TagValue::Integer(5))
    );
}

/// Reads the section of a Rocket-like figment (`toml` nested by profile,
/// the `debug` profile selected) with the JAEGER_* variables of `env`.
fn read_nested(
    toml: &str,
    env: &[(&str, &str)],
) -> Result<Config, rocket_opentracing::ConfigError> {
    let figment = Figment::from(rocket::Config::debug_default())
        .merge(Toml::string(toml).nested())
        .select(Profile::new("debug"));
    Config::from_figment_and_env(&figment, |name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// One line, and every backtick-quoted part a single word (figment's own
/// messages quote lists inside quotes: "expected `one of `a`, `b``").
fn assert_plain_one_line(error: &str) {
    assert!(!error.contains('\n'), "one line: {error}");
    let parts: Vec<&str> = error.split('`').collect();
    assert!(parts.len() % 2 == 1, "balanced backticks: {error}");
    for quoted in parts.iter().skip(1).step_by(2) {
        assert!(
            !quoted.is_empty() && !quoted.contains(' '),
            "nested or empty quotes in {error}"
        );
    }
}

#[test]
fn errors_name_the_key_in_reading_order_and_where_the_value_came_from() {
    // (Rocket.toml text, JAEGER_* variables, the whole message)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "[default.opentracing]\nlog_span = true",
            &[],
            "unknown key `opentracing.log_span` (from TOML source string [default.opentracing]): \
             did you mean `log_spans`?",
        ),
        (
            "[debug.opentracing]\nJAEGER_SERVICE_NAME = \"api\"",
            &[],
            "unknown key `opentracing.JAEGER_SERVICE_NAME` (from TOML source string \
             [debug.opentracing]): did you mean `service_name`?",
        ),
        (
            "[default.opentracing]\nagent_port = \"six\"",
            &[],
            "invalid `opentracing.agent_port` = \"six\" (from TOML source string \
             [default.opentracing]): expected a whole number from 0 to 65535",
        ),
        (
            "[default.opentracing]\nqueue_size = 5\n[debug.opentracing]\nqueue_size = -1",
            &[],
            "invalid `opentracing.queue_size` = -1 (from TOML source string \
             [debug.opentracing]): expected a whole number, 0 or more",
        ),
        (
            "[default.opentracing]\ntags = { team = [\"core\"] }",
            &[],
            "invalid `opentracing.tags.team` = [...] (from TOML source string \
             [default.opentracing]): expected a string",
        ),
        (
            "[default.opentracing]\nmode = \"sometimes\"",
            &[],
            "invalid `opentracing.mode` = \"sometimes\" (from TOML source string \
             [default.opentracing]): expected one of all, opt_in",
        ),
        (
            "[default.opentracing]\nlog_spans = \"maybe\"",
            &[],
            "invalid `opentracing.log_spans` = \"maybe\" (from TOML source string \
             [default.opentracing]): expected true or false",
        ),
        (
            "[default]\nopentracing = \"log_spans\"",
            &[],
            "invalid `opentracing` = \"log_spans\" (from TOML source string \
             [default.opentracing]): expected a table of its keys, e.g. \
             {service_name = \"api\", log_spans = true}",
        ),
        // Refused once read: still named with where it came from.
        (
            "[default.opentracing]\nqueue_size = 0",
            &[],
            "invalid `opentracing.queue_size` = 0 (from TOML source string \
             [default.opentracing]): expected a queue capacity of at least 1",
        ),
        // ... or by the variable that set it.
        (
            "[default.opentracing]\nagent_port = 7000",
            &[("JAEGER_AGENT_PORT", "0")],
            "invalid `JAEGER_AGENT_PORT` = 0: expected a UDP port number (1-65535)",
        ),
        (
            "",
            &[("JAEGER_SERVICE_NAME", " ")],
            "invalid `JAEGER_SERVICE_NAME` = \"\": expected a non-empty name",
        ),
    ];
    for (toml, env, expected) in cases {
        let error = read_nested(toml, env)
            .expect_err(&format!("accepted {toml:?}"))
            .to_string();
        assert_eq!(&error, expected);
        assert_plain_one_line(&error);
    }
}

#[test]
fn an_unknown_key_lists_the_keys_only_without_a_suggestion() {
    let error = read_nested("[default.opentracing]\ncolour = \"blue\"", &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "unknown key `opentracing.colour` (from TOML source string [default.opentracing]): \
             the keys of [opentracing] are service_name, disabled, agent_host,"
        ),
        "{error}"
    );
    assert!(error.ends_with("viewer_loopback_only"), "{error}");
    assert_plain_one_line(&error);

    let error = read_nested("[default.opentracing]\nlog_span = true", &[])
        .unwrap_err()
        .to_string();
    assert!(
        !error.contains("service_name"),
        "no list with a suggestion: {error}"
    );
}

#[test]
fn a_rocket_toml_file_is_named_with_its_profile() {
    let dir = std::env::temp_dir().join(format!("rot-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Rocket.toml");
    std::fs::write(
        &file,
        "[default.opentracing]\nlog_spans = true\n[release.opentracing]\nlog_span = false\n",
    )
    .unwrap();
    let figment = Figment::from(rocket::Config::release_default())
        .merge(Toml::file(&file).nested())
        .select(Profile::new("release"));
    let error = Config::from_figment_and_env(&figment, |_| None)
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        error,
        format!(
            "unknown key `opentracing.log_span` (from {} [release.opentracing]): did you mean \
             `log_spans`?",
            rocket::figment::Source::File(file.clone())
        )
    );
    assert!(!error.contains("release.log_span.opentracing"), "{error}");
}

#[test]
fn a_secret_of_the_wrong_type_is_not_shown() {
    let error = read_nested(
        "[default.opentracing]\nuser = \"tracer\"\npassword = 12345678",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("opentracing.password"), "{error}");
    assert!(!error.contains("12345678"), "{error}");
}

/// The tags of one request's span with `traced_attributes = <attributes>`.
async fn tags_for(attributes: &str) -> std::collections::BTreeMap<String, TagValue> {
    let (tracer, rx) = tracer();
    let toml = format!("[default.opentracing]\ntraced_attributes = {attributes}");
    let client = client_with(&toml, OpenTracingFairing::all(tracer)).await;
    client
        .get("/hello/bob?lang=en")
        .header(Header::new("Referer", "https://site.test/page"))
        .remote("192.0.2.7:5555".parse().unwrap())
        .dispatch()
        .await;
    tags(&only_span(&rx))
}

#[rocket::async_test]
async fn flask_attribute_names_are_accepted_and_recorded_as_rocket_names() {
    let flask = tags_for(
        "[\"url\", \"remote_addr\", \"query_string\", \"endpoint\", \"url_rule\", \
         \"referrer\", \"method\", \"path\"]",
    )
    .await;
    let rocket = tags_for(
        "[\"uri\", \"remote_address\", \"query\", \"route_name\", \"route\", \
         \"header.Referer\", \"method\", \"path\"]",
    )
    .await;
    assert_eq!(flask, rocket, "the same tags under the same names");
    let expected = [
        ("http.uri", s("/hello/bob?lang=en")),
        ("peer.address", s("192.0.2.7:5555")),
        ("http.query", s("lang=en")),
        ("http.route_name", s("hello")),
        ("http.route", s("/hello/<name>")),
        ("http.header.referer", s("https://site.test/page")),
        ("http.path", s("/hello/bob")),
    ];
    for (name, value) in &expected {
        assert_eq!(flask.get(*name), Some(value), "tag {name}");
    }
    for flask_name in ["url", "remote_addr", "query_string", "endpoint", "url_rule"] {
        assert!(!flask.contains_key(flask_name), "no {flask_name} tag");
    }

    // Aliases of one attribute record it once.
    let both = tags_for("[\"uri\", \"url\", \"full_path\", \"args\", \"query\"]").await;
    assert_eq!(both.get("http.uri"), Some(&s("/hello/bob?lang=en")));
    assert_eq!(both.get("http.query"), Some(&s("lang=en")));
}

#[test]
fn a_flask_name_without_a_counterpart_is_refused_with_the_accepted_names() {
    let error = read_nested(
        "[default.opentracing]\ntraced_attributes = [\"url\", \"base_url\"]",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "invalid `opentracing.traced_attributes` = \"base_url\" (from TOML source string \
             [default.opentracing]): expected one of method, uri,"
        ),
        "{error}"
    );
    assert!(
        error.contains("or Flask-OpenTracing's url, full_path, remote_addr"),
        "{error}"
    );
    assert_plain_one_line(&error);

    let error = read_nested(
        "[default.opentracing]\ntraced_attributes = [\"remote_adr\"]",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(error.ends_with("; did you mean remote_addr?"), "{error}");
}

#[test]
fn otlp_errors_name_the_key_or_variable_and_where_the_value_came_from() {
    const PROTOCOL: &str = "expected http/protobuf, the only OTLP protocol supported (no grpc, \
                            no http/json): point the endpoint at the receiver's OTLP/HTTP \
                            port, 4318, rather than its gRPC port, 4317";
    // (Rocket.toml text, variables, the whole message)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], String);
    let cases: &[Case] = &[
        (
            "[debug.opentracing]\notlp_protocol = \"grpc\"",
            &[],
            format!(
                "invalid `opentracing.otlp_protocol` = \"grpc\" (from TOML source string \
                 [debug.opentracing]): {PROTOCOL}"
            ),
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
            format!("invalid `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` = \"grpc\": {PROTOCOL}"),
        ),
        (
            "[default.opentracing]\nexporter = \"zipkin\"",
            &[],
            "invalid `opentracing.exporter` = \"zipkin\" (from TOML source string \
             [default.opentracing]): expected one of jaeger, otlp"
                .to_owned(),
        ),
        (
            "",
            &[("OTEL_TRACES_EXPORTER", "console")],
            "invalid `OTEL_TRACES_EXPORTER` = \"console\": expected one of otlp, jaeger, none \
             (none traces nothing)"
                .to_owned(),
        ),
        (
            "[default.opentracing]\notlp_timeout_ms = 0",
            &[],
            "invalid `opentracing.otlp_timeout_ms` = 0 (from TOML source string \
             [default.opentracing]): expected at least 1 millisecond"
                .to_owned(),
        ),
        (
            "[default.opentracing]\notlp_timeout_ms = 5",
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "5s")],
            "invalid `OTEL_EXPORTER_OTLP_TIMEOUT` = \"5s\": expected a whole number of \
             milliseconds, at least 1 (e.g. 10000)"
                .to_owned(),
        ),
        (
            "[default.opentracing]\notlp_headers = { \"x-api-key\" = \"s3cret\\nX-Injected: 1\" }",
            &[],
            "invalid `opentracing.otlp_headers` = <redacted> (from TOML source string \
             [default.opentracing]): expected a value of the header x-api-key without control \
             characters (line breaks, NUL)"
                .to_owned(),
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_HEADERS", "api-key:s3cret")],
            "invalid `OTEL_EXPORTER_OTLP_HEADERS` = <redacted>: expected comma-separated \
             key=value pairs, e.g. x-api-key=<key>,x-scope=team%20a"
                .to_owned(),
        ),
        (
            "",
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "deflate")],
            "invalid `OTEL_EXPORTER_OTLP_COMPRESSION` = \"deflate\": expected gzip or none"
                .to_owned(),
        ),
    ];
    for (toml, env, expected) in cases {
        // Exporting over OTLP (unless the case selects the exporter).
        let mut env = env.to_vec();
        if env.iter().all(|(name, _)| *name != "OTEL_TRACES_EXPORTER") {
            env.push(("OTEL_TRACES_EXPORTER", "otlp"));
        }
        let error = read_nested(toml, &env)
            .expect_err(&format!("accepted {toml:?} {env:?}"))
            .to_string();
        assert_eq!(&error, expected);
        assert!(!error.contains("s3cret"), "{error}");
        assert_plain_one_line(&error);
    }
}

#[rocket::async_test]
async fn bad_otlp_settings_refuse_ignition_only_when_exporting_over_otlp() {
    let bad = "otlp_protocol = \"grpc\"\notlp_compression = \"zstd\"\notlp_timeout_ms = 0\n\
               otlp_headers = { \"x-api-key\" = \"s3cret\\nX-Injected: 1\" }";
    // Jaeger chosen, or tracing disabled: the application starts.
    for choice in ["exporter = \"jaeger\"", "disabled = true"] {
        let toml = format!("[default.opentracing]\n{choice}\n{bad}");
        let (tracer, _rx) = tracer();
        let client = client_with(&toml, OpenTracingFairing::all(tracer)).await;
        assert_eq!(
            client.get("/hello/x").dispatch().await.status(),
            Status::Ok,
            "{choice}"
        );
        let config = read_nested(&toml, &[]).unwrap();
        assert_eq!(config.otlp_timeout_ms, 10_000, "{choice}");
        assert!(config.otlp_headers.is_empty(), "{choice}");
    }
    // Chosen by the variable, over the key.
    let toml = format!("[default.opentracing]\nexporter = \"otlp\"\n{bad}");
    assert!(read_nested(&toml, &[("OTEL_TRACES_EXPORTER", "jaeger")]).is_ok());
    // Exporting over OTLP: refused, naming the first.
    let error = read_nested(&toml, &[]).unwrap_err().to_string();
    assert!(
        error.starts_with("invalid `opentracing.otlp_compression` = \"zstd\""),
        "{error}"
    );
    assert_refuses_ignition(&toml).await;
    // What selects the exporter is still refused when bad.
    let toml = format!("[default.opentracing]\nexporter = \"zipkin\"\n{bad}");
    let error = read_nested(&toml, &[]).unwrap_err().to_string();
    assert!(
        error.starts_with("invalid `opentracing.exporter` = \"zipkin\""),
        "{error}"
    );
    assert_refuses_ignition(&toml).await;
}

#[cfg(feature = "otlp")]
#[test]
fn a_refused_otlp_endpoint_is_named_and_shown_without_credentials() {
    let error = read_nested("[default.opentracing]\notlp_endpoint = \"otel:4318\"", &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid `opentracing.otlp_endpoint` = \"otel:4318\" (from TOML source string \
         [default.opentracing]): expected an http(s) URL such as http://otel-collector:4318 \
         (unsupported scheme \"otel\"; use http or https)"
    );
    assert_plain_one_line(&error);
    let error = read_nested(
        "",
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "grpc://tracer:s3cret@otel:4317",
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with(
            "invalid `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` = \"grpc://<redacted>@otel:4317\": \
             expected an http(s) URL such as http://otel-collector:4318/v1/traces"
        ),
        "{error}"
    );
}

#[cfg(feature = "otlp")]
#[test]
fn otel_variables_win_over_jaeger_variables_and_the_section() {
    let toml = "[default.opentracing]\nservice_name = \"from-toml\"\n\
                otlp_traces_endpoint = \"http://from-toml:4318/v1/traces\"\n\
                otlp_headers = { from-toml = \"1\" }\n\
                tags = { team = \"core\" }";
    let config = read_nested(
        toml,
        &[
            ("JAEGER_SERVICE_NAME", "from-jaeger"),
            ("OTEL_SERVICE_NAME", "from-otel"),
            ("JAEGER_TAGS", "zone=eu"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "zone=eu-west%2C1,deployment.environment=prod",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0ken"),
        ],
    )
    .unwrap();
    assert_eq!(config.service_name(), "from-otel");
    assert_eq!(config.selected_exporter(), Exporter::Otlp);
    assert_eq!(
        config.otlp_traces_url(),
        "https://otel.example:4318/v1/traces"
    );
    let headers: Vec<(&str, &str)> = config
        .otlp_headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose()))
        .collect();
    assert_eq!(headers, [("authorization", "Bearer t0ken")]);
    let tags: Vec<(&str, &str)> = config
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        tags,
        [
            ("deployment.environment", "prod"),
            ("team", "core"),
            ("zone", "eu-west,1")
        ]
    );
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("t0ken"),
        "header values are redacted: {shown}"
    );

    // Without an OTLP endpoint nor an exporter: Jaeger, as before.
    let config = read_nested("[default.opentracing]\nagent_port = 7000", &[]).unwrap();
    assert_eq!(config.selected_exporter(), Exporter::Jaeger);
    // An explicit exporter wins: the variable over the key.
    let config = read_nested(
        "[default.opentracing]\nexporter = \"jaeger\"\notlp_endpoint = \"http://otel:4318\"",
        &[],
    )
    .unwrap();
    assert_eq!(config.selected_exporter(), Exporter::Jaeger);
    let config = read_nested(
        "[default.opentracing]\nexporter = \"jaeger\"",
        &[("OTEL_TRACES_EXPORTER", "otlp")],
    )
    .unwrap();
    assert_eq!(config.selected_exporter(), Exporter::Otlp);
    assert_eq!(
        config.otlp_traces_url(),
        rocket_opentracing::reporter::DEFAULT_OTLP_ENDPOINT
    );
}

#[rocket::async_test]
async fn selecting_otlp_refuses_ignition_only_without_the_otlp_feature() {
    let toml = "[default.opentracing]\nexporter = \"otlp\"";
    if cfg!(feature = "otlp") {
        let (tracer, _rx) = tracer();
        let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
        assert_eq!(client.get("/hello/x").dispatch().await.status(), Status::Ok);
    } else {
        assert_refuses_ignition(toml).await;
    }
}

#[cfg(not(feature = "otlp"))]
#[test]
fn without_the_otlp_feature_an_otlp_endpoint_variable_is_refused_naming_it() {
    let error = read_nested("", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid `OTEL_EXPORTER_OTLP_ENDPOINT` = \"http://otel:4318\": expected no value: this \
         build of rocket_opentracing has no OTLP exporter (enable its `otlp` feature), and \
         reports to Jaeger"
    );
    assert_plain_one_line(&error);
    // Jaeger chosen explicitly: the endpoint is unused, and accepted.
    assert!(read_nested(
        "",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
            ("OTEL_TRACES_EXPORTER", "jaeger"),
        ],
    )
    .is_ok());
}
