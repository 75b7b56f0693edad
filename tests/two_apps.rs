//! The two example apps on ephemeral loopback ports, reporting to one UDP
//! agent: a call to the client app's `/call/<name>` produces one trace —
//! caller → client entry span → client call span → server span — and the
//! caller's baggage reaches the server.
#![cfg(all(feature = "client", feature = "viewer"))]

mod common;

use common::agent::{as_i64, field, span_name, string_tag, Agent, Batch};
use common::server::{self, Server};
use rocket::get;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
use std::time::Duration;
use thrift_codec::data::Struct;

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server_app;

#[path = "../examples/client.rs"]
#[allow(dead_code)]
mod client_app;

const CALLER_TRACE: &str = "6309ab92c95468edea0dc1a9772ae2dc";
const CALLER_SPAN: u64 = 0x409423a204bc17a8;

/// A server route (more specific than `/hello/<name>`) answering with the
/// baggage item `user` it received.
#[get("/hello/baggage")]
fn baggage(span: ActiveSpan<'_>) -> String {
    span.baggage_item("user").unwrap_or_default()
}

async fn launch_app(agent: &Agent, service: &str, rocket: rocket::Rocket<rocket::Build>) -> Server {
    let figment = server::figment()
        .merge(("opentracing.service_name", service))
        .merge(("opentracing.agent_port", agent.port()))
        .merge(("opentracing.flush_interval_ms", 600_000));
    Server::launch(rocket.configure(figment)).await
}

/// The span with span id `id`.
fn by_id<'a>(spans: &[&'a Struct], id: i64) -> Option<&'a Struct> {
    spans.iter().copied().find(|s| as_i64(field(s, 3)) == id)
}

fn spans_of<'a>(batches: &'a [Batch], service: &str) -> Vec<&'a Struct> {
    batches
        .iter()
        .filter(|b| b.service_name() == service)
        .flat_map(|b| &b.spans)
        .collect()
}

#[rocket::async_test]
async fn one_trace_runs_through_both_apps() {
    let agent = Agent::bind();
    let server = launch_app(
        &agent,
        "server",
        rocket::build()
            .attach(OpenTracingFairing::from_config())
            .mount("/", server_app::routes())
            .mount("/", rocket::routes![baggage]),
    )
    .await;
    let client = launch_app(
        &agent,
        "client",
        rocket::build()
            .attach(OpenTracingFairing::from_config())
            .manage(client_app::Upstream::new(format!(
                "http://127.0.0.1:{}",
                server.port
            )))
            .mount("/", client_app::routes()),
    )
    .await;

    let http = reqwest::Client::new();
    let call = |path: &str| {
        http.get(format!("http://127.0.0.1:{}{path}", client.port))
            .header(
                "uber-trace-id",
                format!("{CALLER_TRACE}:{CALLER_SPAN:016x}:0:1"),
            )
            .header("uberctx-user", "alice")
            .send()
    };
    let response = call("/call/world").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-trace-id"], CALLER_TRACE);
    assert_eq!(response.text().await.unwrap(), "Hello, world!");
    let response = call("/call/baggage").await.unwrap();
    assert_eq!(
        response.text().await.unwrap(),
        "alice",
        "baggage reached the server"
    );

    let server_port = server.port;
    // Kept alive: only the shutdown fairings can have delivered the spans.
    let _client = client.stop().await;
    let _server = server.stop().await;
    let batches = agent.receive(6, Duration::from_secs(10));

    let client_spans = spans_of(&batches, "client");
    let server_spans = spans_of(&batches, "server");
    assert_eq!(client_spans.len(), 4, "two entry and two call spans");
    assert_eq!(server_spans.len(), 2);

    let hello = *server_spans
        .iter()
        .find(|s| span_name(s) == "GET /hello/<name>")
        .expect("the server span");
    // The parent chain: caller → entry → call → server.
    let call_span = by_id(&client_spans, as_i64(field(hello, 4))).expect("the client call span");
    let entry = by_id(&client_spans, as_i64(field(call_span, 4))).expect("the client entry span");
    assert_eq!(as_i64(field(entry, 4)) as u64, CALLER_SPAN);
    assert_eq!(span_name(entry), "GET /call/<name>");
    assert_eq!(
        span_name(call_span),
        format!("GET 127.0.0.1:{}", server_port)
    );

    // One trace, the caller's.
    for span in [entry, call_span, hello] {
        assert_eq!(
            format!(
                "{:016x}{:016x}",
                as_i64(field(span, 2)),
                as_i64(field(span, 1))
            ),
            CALLER_TRACE
        );
    }
    assert_eq!(
        string_tag(call_span, "span.kind").as_deref(),
        Some("client")
    );
    assert_eq!(string_tag(call_span, "http.method").as_deref(), Some("GET"));
    assert_eq!(
        string_tag(call_span, "http.url"),
        Some(format!("http://127.0.0.1:{}/hello/world", server_port))
    );
    assert_eq!(
        string_tag(call_span, "peer.hostname").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(string_tag(hello, "span.kind").as_deref(), Some("server"));
}

/// The client app reports into the server's trace viewer (its collector
/// endpoint), as the README shows: the server's viewer holds the whole
/// trace, both services' spans joined by their ids.
#[rocket::async_test]
async fn both_apps_share_the_servers_viewer() {
    use rocket::serde::json::Value;

    let agent = Agent::bind();
    let server_figment = server::figment()
        .merge(("opentracing.service_name", "server"))
        .merge(("opentracing.agent_port", agent.port()))
        .merge(("opentracing.flush_interval_ms", 20))
        .merge(("opentracing.viewer", true));
    let server = Server::launch(
        rocket::custom(server_figment)
            .attach(OpenTracingFairing::from_config())
            .mount("/", server_app::routes()),
    )
    .await;
    let viewer = format!("http://127.0.0.1:{}/_traces", server.port);
    let client_figment = server::figment()
        .merge(("opentracing.service_name", "client"))
        .merge(("opentracing.endpoint", format!("{viewer}/api/traces")))
        .merge(("opentracing.flush_interval_ms", 20));
    let client = Server::launch(
        rocket::custom(client_figment)
            .attach(OpenTracingFairing::from_config())
            .manage(client_app::Upstream::new(format!(
                "http://127.0.0.1:{}",
                server.port
            )))
            .mount("/", client_app::routes()),
    )
    .await;

    let response = reqwest::get(format!("http://127.0.0.1:{}/call/alice", client.port))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let trace_id = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let spans = common::viewer::wait_for_trace(&viewer, &trace_id, 3).await;
    let find = |operation: &str| {
        spans
            .iter()
            .find(|s| s["operation"].as_str().unwrap().starts_with(operation))
            .unwrap_or_else(|| panic!("no {operation} span: {spans:?}"))
    };
    let entry = find("GET /call/<name>");
    let call = find("GET 127.0.0.1:");
    let hello = find("GET /hello/<name>");
    assert_eq!(
        (entry["service"].as_str(), call["service"].as_str()),
        (Some("client"), Some("client"))
    );
    assert_eq!(hello["service"], "server");
    // The chain: entry → call → the server's span.
    assert_eq!(entry["parent_span_id"], Value::Null);
    assert_eq!(call["parent_span_id"], entry["span_id"]);
    assert_eq!(hello["parent_span_id"], call["span_id"]);

    // The list and the waterfall show both services in one trace.
    let (_, list) = common::viewer::get_json(&format!("{viewer}/api/traces")).await;
    let summary = &list["traces"][0];
    assert_eq!(summary["trace_id"], trace_id.as_str());
    assert_eq!(
        summary["operation"], "GET /call/<name>",
        "the client's entry span is the root"
    );
    assert_eq!(
        summary["services"],
        rocket::serde::json::json!(["client", "server"])
    );
    let page = reqwest::get(format!("{viewer}/trace/{trace_id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("data-service=\"client\"").count(), 2, "{page}");
    assert_eq!(page.matches("data-service=\"server\"").count(), 1);

    client.stop().await;
    server.stop().await;
}
