//! Data hygiene: sensitive headers recorded only when named, query strings
//! stripped or redacted (`strip_query`, `redact_query_params`) in server and
//! client spans, and no `user:password@` anywhere, also from a real server
//! given an absolute-form request target.

mod common;

use common::server::Server;
use common::*;
use rocket::figment::providers::{Format, Toml};
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;
use rocket::{get, routes};
use rocket_opentracing::config::ConfigError;
use rocket_opentracing::rustracing_jaeger::span::FinishedSpan;
use rocket_opentracing::{Config, OpenTracingFairing};

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

/// One request through Rocket's local client with the `[default.opentracing]`
/// section `section` and `headers`; the finished span.
async fn span_of(section: &str, target: &str, headers: &[(&str, &str)]) -> FinishedSpan {
    let (tracer, rx) = tracer();
    let toml = format!("[default.opentracing]\n{section}");
    let client = client_with(&toml, OpenTracingFairing::all(tracer), routes![hello]).await;
    let mut request = client.get(target.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(name.to_string(), value.to_string()));
    }
    assert_eq!(request.dispatch().await.status(), Status::Ok);
    only_span(&rx)
}

/// Every tag value and log field of `span`, as text.
fn everything_recorded(span: &FinishedSpan) -> String {
    let tags = tags(span);
    let logs: Vec<_> = (0..span.logs().len())
        .map(|i| log_fields(span, i))
        .collect();
    format!("{tags:?} {logs:?}")
}

fn assert_nothing_recorded(span: &FinishedSpan, secrets: &[&str]) {
    let recorded = everything_recorded(span);
    for secret in secrets {
        assert!(!recorded.contains(secret), "{secret} in {recorded}");
    }
}

/// The four sensitive headers, in unusual casings, with secret values.
const SENSITIVE: [(&str, &str); 4] = [
    ("AUTHORIZATION", "Bearer auth-secret"),
    ("cookie", "session=cookie-secret"),
    ("sEt-CoOkIe", "id=set-cookie-secret"),
    ("Proxy-authorization", "Basic proxy-secret"),
];
const SECRETS: [&str; 4] = [
    "auth-secret",
    "cookie-secret",
    "set-cookie-secret",
    "proxy-secret",
];

#[rocket::async_test]
async fn sensitive_headers_never_go_through_headers_in_any_casing() {
    let mut headers = SENSITIVE.to_vec();
    headers.push(("X-Other", "kept"));
    // The names are exact: a header that merely contains one is not sensitive.
    headers.push(("X-Authorization-Hint", "kept-too"));
    let span = span_of("traced_attributes = [\"headers\"]", "/hello/x", &headers).await;
    let tags = tags(&span);
    assert_eq!(tags.get("http.header.x-other"), Some(&s("kept")));
    assert_eq!(
        tags.get("http.header.x-authorization-hint"),
        Some(&s("kept-too"))
    );
    for name in [
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-authorization",
    ] {
        assert!(!tags.contains_key(&format!("http.header.{name}")), "{name}");
    }
    assert_nothing_recorded(&span, &SECRETS);
}

#[rocket::async_test]
async fn sensitive_headers_are_recorded_when_named() {
    let section = r#"traced_attributes = ["headers", "header.Authorization", "header.cookie",
                     "header.SET-COOKIE", "header.Proxy-Authorization"]"#;
    let span = span_of(section, "/hello/x", &SENSITIVE).await;
    let tags = tags(&span);
    for (name, value) in [
        ("authorization", "Bearer auth-secret"),
        ("cookie", "session=cookie-secret"),
        ("set-cookie", "id=set-cookie-secret"),
        ("proxy-authorization", "Basic proxy-secret"),
    ] {
        assert_eq!(
            tags.get(&format!("http.header.{name}")),
            Some(&s(value)),
            "{name}"
        );
    }

    // Naming one does not let the others through.
    let section = "traced_attributes = [\"headers\", \"header.Cookie\"]";
    let span = span_of(section, "/hello/x", &SENSITIVE).await;
    assert_eq!(
        tag(&span, "http.header.cookie"),
        Some(s("session=cookie-secret"))
    );
    assert_nothing_recorded(&span, &["auth-secret", "set-cookie-secret", "proxy-secret"]);
}

#[rocket::async_test]
async fn without_traced_attributes_no_header_is_recorded() {
    let span = span_of("", "/hello/x", &SENSITIVE).await;
    assert_nothing_recorded(&span, &SECRETS);
    let names: Vec<_> = tags(&span).into_keys().collect();
    assert!(
        names.iter().all(|n| !n.starts_with("http.header.")),
        "{names:?}"
    );
}

const URI_ATTRIBUTES: &str = "traced_attributes = [\"uri\", \"query\", \"path\"]\n";

#[rocket::async_test]
async fn by_default_the_query_is_recorded_as_received() {
    let span = span_of(URI_ATTRIBUTES, "/hello/x?token=abc&b=2", &[]).await;
    assert_eq!(tag(&span, "http.url"), Some(s("/hello/x?token=abc&b=2")));
    assert_eq!(tag(&span, "http.uri"), Some(s("/hello/x?token=abc&b=2")));
    assert_eq!(tag(&span, "http.query"), Some(s("token=abc&b=2")));
}

#[rocket::async_test]
async fn strip_query_records_the_path_alone() {
    let section = format!("{URI_ATTRIBUTES}strip_query = true");
    for target in ["/hello/x?token=abc&b=2", "/hello/x?", "/hello/x"] {
        let span = span_of(&section, target, &[]).await;
        assert_eq!(tag(&span, "http.url"), Some(s("/hello/x")), "{target}");
        assert_eq!(tag(&span, "http.uri"), Some(s("/hello/x")), "{target}");
        assert_eq!(tag(&span, "http.path"), Some(s("/hello/x")), "{target}");
        assert_eq!(tag(&span, "http.query"), None, "{target}");
    }
}

#[rocket::async_test]
async fn redact_query_params_replaces_their_values_only() {
    let section = format!("{URI_ATTRIBUTES}redact_query_params = [\"Token\", \"sig\"]");
    let query = "a=1&TOKEN=abc&sig=&%74oken=zz&tokens=keep&sig=x%26y&c";
    let span = span_of(&section, &format!("/hello/x?{query}"), &[]).await;
    let expected = "a=1&TOKEN=REDACTED&sig=&%74oken=REDACTED&tokens=keep&sig=REDACTED&c";
    assert_eq!(
        tag(&span, "http.url"),
        Some(s(&format!("/hello/x?{expected}")))
    );
    assert_eq!(
        tag(&span, "http.uri"),
        Some(s(&format!("/hello/x?{expected}")))
    );
    assert_eq!(tag(&span, "http.query"), Some(s(expected)));
    assert_nothing_recorded(&span, &["abc", "zz", "x%26y"]);

    // Nothing named: byte for byte.
    let span = span_of(&section, "/hello/x?a=%41+b&&tokens=1", &[]).await;
    assert_eq!(
        tag(&span, "http.url"),
        Some(s("/hello/x?a=%41+b&&tokens=1"))
    );
}

#[rocket::async_test]
async fn strip_query_wins_over_redact_query_params() {
    let section = format!("{URI_ATTRIBUTES}strip_query = true\nredact_query_params = [\"token\"]");
    let span = span_of(&section, "/hello/x?token=abc&b=2", &[]).await;
    assert_eq!(tag(&span, "http.url"), Some(s("/hello/x")));
    assert_eq!(tag(&span, "http.uri"), Some(s("/hello/x")));
    assert_eq!(tag(&span, "http.query"), None);
}

#[test]
fn the_keys_default_to_off_and_empty_names_are_refused() {
    let config = Config::default();
    assert!(!config.strip_query);
    assert!(config.redact_query_params.is_empty());

    let read = |toml: &str| {
        let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
        Config::from_figment_and_env(&figment, |_| None)
    };
    let config = read("strip_query = true\nredact_query_params = [\"token\", \"SIG\"]").unwrap();
    assert!(config.strip_query);
    assert_eq!(config.redact_query_params, ["token", "SIG"]);

    for bad in ["[\"\"]", "[\"token\", \"\"]"] {
        match read(&format!("redact_query_params = {bad}")) {
            Err(ConfigError::Invalid { key, value, .. }) => {
                assert_eq!(key, "opentracing.redact_query_params");
                assert_eq!(value, "");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let err = read("strip_query = \"yes\"").unwrap_err();
    assert!(err.to_string().contains("strip_query"), "{err}");
}

#[rocket::async_test]
async fn an_empty_parameter_name_refuses_ignition() {
    assert_refuses_ignition("[default.opentracing]\nredact_query_params = [\"\"]").await;
}

#[rocket::async_test]
async fn no_userinfo_from_the_host_or_referer_headers() {
    // Rocket's local client parses no `Host`: the header itself is read.
    let section = "traced_attributes = [\"host\", \"headers\"]";
    let span = span_of(
        section,
        "/hello/x",
        &[
            ("Host", "user:host-secret@example.test:8080"),
            (
                "Referer",
                "https://user:referer-secret@site.test/page?q=a@b",
            ),
        ],
    )
    .await;
    assert_eq!(tag(&span, "http.host"), Some(s("example.test:8080")));
    assert_eq!(tag(&span, "http.header.host"), Some(s("example.test:8080")));
    assert_eq!(
        tag(&span, "http.header.referer"),
        Some(s("https://site.test/page?q=a@b"))
    );
    assert_nothing_recorded(&span, &["host-secret", "referer-secret", "user:"]);

    // Named explicitly, too; a plain host is kept as it is.
    let span = span_of(
        "traced_attributes = [\"header.Host\"]",
        "/hello/x",
        &[("Host", "a@b@example.test")],
    )
    .await;
    assert_eq!(tag(&span, "http.header.host"), Some(s("example.test")));
    let span = span_of(
        "traced_attributes = [\"host\"]",
        "/hello/x",
        &[("Host", "h.test:1")],
    )
    .await;
    assert_eq!(tag(&span, "http.host"), Some(s("h.test:1")));
}

/// Sends `request` (raw HTTP/1.1) to `port`; returns the whole response.
async fn raw_http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[rocket::async_test]
async fn an_absolute_form_target_keeps_only_its_path_and_query() {
    let (tracer, rx) = tracer();
    let figment = common::server::figment()
        .merge(("opentracing.traced_attributes", ["uri", "host", "headers"]));
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::all(tracer))
        .mount("/", routes![hello]);
    let server = Server::launch(rocket).await;
    let response = raw_http(
        server.port,
        "GET http://user:url-secret@example.test:8080/hello/x?a=1 HTTP/1.1\r\n\
         Host: user:host-secret@example.test:8080\r\n\
         Connection: close\r\n\r\n",
    )
    .await;
    server.stop().await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("Hello, x!"), "{response}");

    let span = only_span(&rx);
    // Rocket keeps the path and query of the target; the host comes from
    // the `Host` header, which Rocket parses, dropping the user name.
    assert_eq!(tag(&span, "http.url"), Some(s("/hello/x?a=1")));
    assert_eq!(tag(&span, "http.uri"), Some(s("/hello/x?a=1")));
    assert_eq!(tag(&span, "http.host"), Some(s("example.test:8080")));
    assert_eq!(tag(&span, "http.header.host"), Some(s("example.test:8080")));
    assert_nothing_recorded(&span, &["url-secret", "host-secret", "user:"]);
}

/// Client spans (the `client` feature): the same hygiene on outgoing calls.
#[cfg(feature = "client")]
mod client_spans {
    use super::*;
    use common::collector::Collector;
    use rocket_opentracing::client::TracedRequest;
    use rocket_opentracing::rustracing::tag::TagValue;
    use rocket_opentracing::ActiveSpan;
    use std::time::Duration;

    /// Calls `url` with async reqwest, with credentials in headers; answers
    /// with the called service's status (or 502).
    #[get("/proxy?<url>")]
    async fn proxy(url: &str, span: ActiveSpan<'_>) -> Status {
        let request = reqwest::Client::new()
            .get(url)
            .bearer_auth("bearer-secret")
            .header("Cookie", "session=cookie-secret");
        match request.send_traced(&span).await {
            Ok(response) => Status::new(response.status().as_u16()),
            Err(_) => Status::BadGateway,
        }
    }

    /// How long to wait for more requests at the called service.
    const QUIET: Duration = Duration::from_millis(200);

    /// Calls `url` through the `proxy` route configured with `section`; the
    /// client span, and the path the called service received.
    async fn client_span(section: &str, path: &str) -> (FinishedSpan, String) {
        let target = Collector::bind();
        let (tracer, rx) = tracer();
        let toml = format!("[default.opentracing]\n{section}");
        let client = client_with(&toml, OpenTracingFairing::all(tracer), routes![proxy]).await;
        let url = format!(
            "http://user:url-secret@127.0.0.1:{}{path}",
            target.addr.port()
        );
        let response = client
            .get(format!("/proxy?url={}", urlencode(&url)))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Accepted);
        drop(response);
        let mut spans = drain(&rx);
        assert_eq!(spans.len(), 2, "{spans:#?}");
        let call = spans.remove(0);
        assert_eq!(tag(&call, "span.kind"), Some(s("client")));
        let received = target.drain(QUIET);
        assert_eq!(received.len(), 1);
        // The request itself is sent as it was built: only the record changes.
        // (reqwest turns the URL's user name and password into the
        // `Authorization` header, replacing the bearer token.)
        assert_eq!(received[0].header("cookie"), Some("session=cookie-secret"));
        assert!(received[0].header("authorization").is_some());
        let sent = received[0].path.clone();
        // No credential of the call is recorded on its span.
        assert_nothing_recorded(
            &call,
            &["url-secret", "user:", "bearer-secret", "cookie-secret"],
        );
        (call, sent)
    }

    #[rocket::async_test]
    async fn client_spans_follow_the_query_options() {
        let path = "/down/x?a=1&Token=t-secret#frag";
        let port_of = |span: &FinishedSpan| match tag(span, "peer.port") {
            Some(TagValue::Integer(port)) => port,
            other => panic!("{other:?}"),
        };

        let (call, sent) = client_span("", path).await;
        assert_eq!(sent, "/down/x?a=1&Token=t-secret");
        let base = format!("http://127.0.0.1:{}", port_of(&call));
        assert_eq!(tag(&call, "http.url"), Some(s(&format!("{base}{path}"))));

        let (call, sent) = client_span("strip_query = true", path).await;
        assert_eq!(sent, "/down/x?a=1&Token=t-secret");
        let base = format!("http://127.0.0.1:{}", port_of(&call));
        assert_eq!(tag(&call, "http.url"), Some(s(&format!("{base}/down/x"))));

        let (call, sent) = client_span("redact_query_params = [\"token\"]", path).await;
        assert_eq!(sent, "/down/x?a=1&Token=t-secret");
        let base = format!("http://127.0.0.1:{}", port_of(&call));
        assert_eq!(
            tag(&call, "http.url"),
            Some(s(&format!("{base}/down/x?a=1&Token=REDACTED#frag")))
        );
        assert_nothing_recorded(&call, &["t-secret"]);
    }

    #[rocket::async_test]
    async fn a_failed_call_logs_no_url() {
        let (tracer, rx) = tracer();
        let toml = "[default.opentracing]\nredact_query_params = [\"token\"]";
        let client = client_with(toml, OpenTracingFairing::all(tracer), routes![proxy]).await;
        // Nobody listens on this port: the connection is refused.
        let url = format!(
            "http://user:url-secret@127.0.0.1:{}/x?token=t-secret",
            closed_port()
        );
        let response = client
            .get(format!("/proxy?url={}", urlencode(&url)))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::BadGateway);
        drop(response);
        let call = drain(&rx).remove(0);
        assert_eq!(tag(&call, "error"), Some(TagValue::Boolean(true)));
        assert!(log_fields(&call, 0)["message"].contains("<url>"));
        assert_nothing_recorded(&call, &["url-secret", "t-secret", "bearer-secret"]);
    }
}
