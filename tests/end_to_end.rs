//! A real server on an ephemeral loopback port, a UDP socket standing in for
//! the Jaeger agent, and the datagrams decoded: the whole path from an HTTP
//! request to spans on the wire, including the flush at shutdown, with the
//! example server's routes.

mod common;

use std::time::Duration;

use common::agent::{as_i64, field, span_name, string_tag, Agent};
use common::server::Server;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;
use rocket_opentracing::OpenTracingFairing;

/// The example server's own routes.
#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

/// Sends one HTTP/1.1 request and returns the whole response.
async fn http_get(port: u16, path: &str, extra_headers: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra_headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[rocket::async_test]
async fn spans_of_a_real_server_reach_the_agent() {
    let agent = Agent::bind();
    let figment = common::server::figment()
        .merge(("opentracing.service_name", "e2e-service"))
        .merge(("opentracing.agent_port", agent.port()))
        // Longer than the test: only the shutdown flush can deliver the spans.
        .merge(("opentracing.flush_interval_ms", 600_000));
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    let running = Server::launch(rocket).await;
    let port = running.port;

    let hello = http_get(
        port,
        "/hello/world",
        "uber-trace-id: 6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1\r\n",
    )
    .await;
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.ends_with("Hello, world!"), "{hello}");
    assert!(http_get(port, "/log", "").await.ends_with("log"));
    assert!(http_get(port, "/error", "")
        .await
        .starts_with("HTTP/1.1 500"));

    // Kept alive: only the shutdown fairing can have delivered the spans.
    let _stopped = running.stop().await;

    let batches = agent.receive(4, Duration::from_secs(10));
    assert!(batches.iter().all(|b| b.service_name() == "e2e-service"));
    let spans: Vec<_> = batches.iter().flat_map(|b| &b.spans).collect();
    let names: Vec<_> = spans.iter().map(|s| span_name(s)).collect();
    assert_eq!(spans.len(), 4, "{names:?}");
    let by_name = |name: &str| *spans.iter().find(|s| span_name(s) == name).unwrap();

    // Continued the caller's 128-bit trace, as a child of its span.
    let hello = by_name("GET /hello/<name>");
    assert_eq!(as_i64(field(hello, 2)) as u64, 0x6309ab92c95468ed);
    assert_eq!(as_i64(field(hello, 1)) as u64, 0xea0dc1a9772ae2dc);
    assert_eq!(as_i64(field(hello, 4)) as u64, 0x409423a204bc17a8);
    assert_eq!(
        string_tag(hello, "http.url").as_deref(),
        Some("/hello/world")
    );
    assert_eq!(string_tag(hello, "span.kind").as_deref(), Some("server"));

    // The child span of /log is parented to its request span.
    let request = by_name("GET /log");
    let child = by_name("log");
    assert_eq!(as_i64(field(child, 4)), as_i64(field(request, 3)));
    assert_eq!(as_i64(field(child, 1)), as_i64(field(request, 1)));
    assert_eq!(as_i64(field(request, 4)), 0, "a root span");

    // The 500 is an error.
    let error = by_name("GET /error");
    let error_tag = common::agent::span_tag(error, "error");
    assert!(
        format!("{error_tag:?}").contains("Bool(true)"),
        "{error_tag:?}"
    );
}
