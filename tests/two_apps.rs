//! The two example apps on ephemeral loopback ports, reporting to one UDP
//! agent: a call to the client app's `/call/<name>` produces one trace —
//! caller → client entry span → client call span → server span — and the
//! caller's baggage reaches the server.

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
