//! The configurable limits, each at its boundary, through Rocket's local
//! client: baggage items and bytes, traced headers, and (through the
//! reporter built from the configuration, to a stand-in agent) tag value
//! length and logs per span.

mod common;

use std::time::Duration;

use common::agent::{as_string, as_structs, field, span_tag, string_tag, Agent};
use common::*;
use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
/// The documented tag counting the headers left out.
const DROPPED_HEADERS_TAG: &str = "rocket_opentracing.dropped_headers";
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
use thrift_codec::data::Data;

/// The baggage as the route sees it after adding `add` items of `size`
/// bytes: `items bytes stored`.
#[get("/baggage?<add>&<size>")]
fn baggage(span: ActiveSpan<'_>, add: usize, size: usize) -> String {
    let stored = (0..add)
        .filter(|i| span.set_baggage_item(&format!("l{i}"), &"v".repeat(size)))
        .count();
    let items = span.baggage();
    let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    format!("{} {bytes} {stored}", items.len())
}

/// Logs `n` entries on the request span.
#[get("/logs/<n>")]
fn logs(span: ActiveSpan<'_>, n: usize) -> &'static str {
    for i in 0..n {
        span.log(|log| {
            log.field(("message", format!("entry {i}")));
        });
    }
    "logged"
}

async fn get(client: &Client, path: &str, headers: &[(String, String)]) -> String {
    let mut request = client.get(path.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(name.clone(), value.clone()));
    }
    request.dispatch().await.into_string().await.unwrap()
}

/// `n` baggage headers `uberctx-kN: vvv` (each item 2 + 3 = 5 bytes for
/// n <= 10).
fn baggage_headers(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("uberctx-k{i}"), "vvv".to_owned()))
        .collect()
}

fn dropped_baggage(rx: &rocket_opentracing::rustracing_jaeger::span::SpanReceiver) -> Option<i64> {
    match tag(&only_span(rx), "baggage.dropped") {
        Some(TagValue::Integer(n)) => Some(n),
        None => None,
        other => panic!("{other:?}"),
    }
}

#[rocket::async_test]
async fn baggage_items_are_bounded_as_configured() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nmax_baggage_items = 3";
    let client = client_with(toml, OpenTracingFairing::all(tracer), routes![baggage]).await;

    // Exactly the limit: all kept.
    let body = get(&client, "/baggage?add=0&size=0", &baggage_headers(3)).await;
    assert_eq!(body, "3 15 0");
    assert_eq!(dropped_baggage(&rx), None);

    // One more: dropped and counted.
    let body = get(&client, "/baggage?add=0&size=0", &baggage_headers(4)).await;
    assert_eq!(body, "3 15 0");
    assert_eq!(dropped_baggage(&rx), Some(1));

    // The application's items count against the same limit.
    let body = get(&client, "/baggage?add=2&size=1", &baggage_headers(2)).await;
    assert_eq!(body, "3 13 1");
    assert_eq!(dropped_baggage(&rx), Some(1));
}

#[rocket::async_test]
async fn baggage_bytes_are_bounded_as_configured() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nmax_baggage_bytes = 10";
    let client = client_with(toml, OpenTracingFairing::all(tracer), routes![baggage]).await;

    // Two items of 5 bytes: exactly 10.
    let body = get(&client, "/baggage?add=0&size=0", &baggage_headers(2)).await;
    assert_eq!(body, "2 10 0");
    assert_eq!(dropped_baggage(&rx), None);

    // One byte over: the item that does not fit is dropped.
    let mut headers = baggage_headers(1);
    headers.push(("uberctx-k1".into(), "vvvv".into()));
    let body = get(&client, "/baggage?add=0&size=0", &headers).await;
    assert_eq!(body, "1 5 0");
    assert_eq!(dropped_baggage(&rx), Some(1));
}

#[rocket::async_test]
async fn zero_refuses_all_baggage() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\nmax_baggage_items = 0";
    let client = client_with(toml, OpenTracingFairing::all(tracer), routes![baggage]).await;
    let body = get(&client, "/baggage?add=2&size=1", &baggage_headers(2)).await;
    assert_eq!(body, "0 0 0");
    assert_eq!(dropped_baggage(&rx), Some(4));
}

#[rocket::async_test]
async fn traced_headers_are_bounded_as_configured() {
    let (tracer, rx) = tracer();
    let toml = "[default.opentracing]\ntraced_attributes = [\"headers\"]\nmax_traced_headers = 3";
    let client = client_with(toml, OpenTracingFairing::all(tracer), routes![logs]).await;
    let headers = |n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("X-H{i}"), format!("{i}")))
            .collect()
    };
    let recorded = |span: &rocket_opentracing::rustracing_jaeger::span::FinishedSpan| {
        tags(span)
            .keys()
            .filter(|name| name.starts_with("http.header."))
            .count()
    };

    // Exactly the limit (the local client sends no headers of its own).
    get(&client, "/logs/0", &headers(3)).await;
    let span = only_span(&rx);
    assert_eq!(recorded(&span), 3, "{:?}", tags(&span));
    assert_eq!(tag(&span, DROPPED_HEADERS_TAG), None);

    // One more: left out and counted.
    get(&client, "/logs/0", &headers(4)).await;
    let span = only_span(&rx);
    assert_eq!(recorded(&span), 3, "{:?}", tags(&span));
    assert_eq!(
        tag(&span, "http.header.x-h3"),
        None,
        "the last one is left out"
    );
    assert_eq!(tag(&span, DROPPED_HEADERS_TAG), Some(TagValue::Integer(1)));

    // A hostile client sending many: still 3.
    get(&client, "/logs/0", &headers(90)).await;
    let span = only_span(&rx);
    assert_eq!(recorded(&span), 3);
    assert_eq!(tag(&span, DROPPED_HEADERS_TAG), Some(TagValue::Integer(87)));
}

#[rocket::async_test]
async fn the_configured_reporter_sends_values_and_logs_within_the_limits() {
    let agent = Agent::bind();
    let toml = format!(
        "[default.opentracing]\nagent_port = {}\nflush_interval_ms = 20\n\
         traced_attributes = [\"header.X-Exact\", \"header.X-Long\"]\n\
         max_tag_value_length = 16\nmax_logs_per_span = 2",
        agent.port()
    );
    let client = Client::tracked(
        rocket_with(&toml)
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![logs]),
    )
    .await
    .expect("rocket ignites");

    let headers = [
        ("X-Exact".to_owned(), "e".repeat(16)),
        ("X-Long".to_owned(), "l".repeat(17)),
    ];
    assert_eq!(get(&client, "/logs/2", &headers).await, "logged");
    assert_eq!(get(&client, "/logs/3", &headers).await, "logged");

    let batches = agent.receive(2, Duration::from_secs(10));
    let spans = common::agent::all_spans(&batches);
    assert_eq!(spans.len(), 2);
    for span in &spans {
        let exact = as_string(field(span_tag(span, "http.header.x-exact"), 3));
        assert_eq!(exact, "e".repeat(16), "exactly the limit: not cut");
        let long = as_string(field(span_tag(span, "http.header.x-long"), 3));
        assert_eq!(long, format!("{}...[truncated]", "l".repeat(16)));
        let Data::List(logs) = field(span, 11) else {
            panic!("no logs: {span:?}");
        };
        assert_eq!(logs.len(), 2);
    }
    // Two logs: none dropped; three: one.
    let by_url = |url: &str| {
        *spans
            .iter()
            .find(|s| string_tag(s, "http.url").as_deref() == Some(url))
            .unwrap()
    };
    let has_tag = |span: &thrift_codec::data::Struct, key: &str| {
        as_structs(field(span, 10))
            .iter()
            .any(|tag| as_string(field(tag, 1)) == key)
    };
    assert!(!has_tag(
        by_url("/logs/2"),
        "rocket_opentracing.dropped_logs"
    ));
    assert_eq!(
        field(
            span_tag(by_url("/logs/3"), "rocket_opentracing.dropped_logs"),
            6
        ),
        &Data::I64(1)
    );
}

#[rocket::async_test]
async fn a_zero_tag_value_length_refuses_ignition_naming_the_key() {
    use rocket::figment::providers::{Format, Toml};
    use rocket::figment::Figment;
    use rocket_opentracing::Config;

    let section = |value: usize| format!("[opentracing]\nmax_tag_value_length = {value}");
    let figment = Figment::from(Toml::string(&section(0)));
    let error = Config::from_figment_and_env(&figment, |_| None).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("opentracing.max_tag_value_length"),
        "{error}"
    );
    let figment = Figment::from(Toml::string(&section(1)));
    assert!(Config::from_figment_and_env(&figment, |_| None).is_ok());

    assert_refuses_ignition("[default.opentracing]\nmax_tag_value_length = 0").await;
}
