//! A real server on an ephemeral loopback port, a UDP socket standing in for
//! the Jaeger agent, and the datagrams decoded: the whole path from an HTTP
//! request to spans on the wire, including the flush at shutdown, with the
//! example server's routes; and one id format everywhere: the `X-Trace-Id`
//! response header, the `log_spans` line, the agent's datagram and the
//! trace viewer name the same trace.

mod common;

use std::time::Duration;

use common::agent::{as_i64, field, span_name, string_tag, Agent};
use common::logs;
use common::server::Server;
use log::Level;
use rocket::figment::Figment;
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

/// The value of response header `name` (case-insensitive) in a raw HTTP
/// response.
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// The test server's settings, tracing as `service_name` into `agent`.
fn traced(service_name: &str, agent: &Agent) -> Figment {
    common::server::figment()
        .merge(("opentracing.service_name", service_name))
        .merge(("opentracing.agent_port", agent.port()))
}

/// The example server's routes with the fairing from `figment`'s
/// settings, running.
async fn launch(figment: Figment) -> Server {
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    Server::launch(rocket).await
}

#[rocket::async_test]
async fn spans_of_a_real_server_reach_the_agent() {
    // (The binary's logger: installed before any Rocket ignites.)
    logs::install();
    let agent = Agent::bind();
    let figment = traced("e2e-service", &agent)
        // Longer than the test: only the shutdown flush can deliver the spans.
        .merge(("opentracing.flush_interval_ms", 600_000));
    let running = launch(figment).await;
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

/// A trace id as the `X-Trace-Id` header must show it, computed here from
/// the agent's datagram: 16 zero-padded digits for a 64-bit id, else 32.
fn expected_trace_id(span: &thrift_codec::data::Struct) -> String {
    let low = as_i64(field(span, 1)) as u64;
    let high = as_i64(field(span, 2)) as u64;
    if high == 0 {
        format!("{low:016x}")
    } else {
        format!("{high:016x}{low:016x}")
    }
}

/// The one `log_spans` line of operation `operation` in trace `trace_id`.
fn span_line(operation: &str, trace_id: &str) -> String {
    let needle = format!("span {operation} trace={trace_id} ");
    let lines = logs::wait_for(Level::Info, &needle, 1, Duration::from_secs(10));
    assert_eq!(lines.len(), 1, "{needle:?} in {lines:?}");
    lines[0].clone()
}

#[rocket::async_test]
async fn the_trace_id_header_log_line_agent_and_viewer_agree() {
    logs::install();
    let agent = Agent::bind();
    let figment = traced("ids-service", &agent)
        .merge(("opentracing.log_spans", true))
        .merge(("opentracing.viewer", cfg!(feature = "viewer")))
        .merge(("opentracing.flush_interval_ms", 50));
    let running = launch(figment).await;
    let port = running.port;

    // Callers' trace ids with leading zeros (which rustracing's own Display
    // drops), 128- and 64-bit, and a new trace of the server's own.
    let callers = [
        Some("0ebebe35c9ee76b6a1b2c3d4e5f60718:00000000000000a1:0:1"),
        Some("1:0000000000000002:0:1"),
        None,
    ];
    let mut header_ids = Vec::new();
    for (i, caller) in callers.iter().enumerate() {
        let extra = caller.map_or_else(String::new, |c| format!("uber-trace-id: {c}\r\n"));
        let response = http_get(port, &format!("/hello/ids{i}"), &extra).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let id = header(&response, "x-trace-id")
            .unwrap_or_else(|| panic!("no X-Trace-Id: {response}"))
            .to_owned();
        header_ids.push(id);
    }
    assert_eq!(header_ids[0], "0ebebe35c9ee76b6a1b2c3d4e5f60718");
    assert_eq!(header_ids[1], "0000000000000001");
    assert!(
        header_ids[2].len() == 16 || header_ids[2].len() == 32,
        "{header_ids:?}"
    );

    let batches = agent.receive(3, Duration::from_secs(10));
    let spans: Vec<_> = batches.iter().flat_map(|b| &b.spans).collect();
    assert_eq!(spans.len(), 3, "{spans:?}");
    for (i, id) in header_ids.iter().enumerate() {
        let operation = "GET /hello/<name>";
        let on_the_wire = spans
            .iter()
            .find(|s| string_tag(s, "http.url") == Some(format!("/hello/ids{i}")))
            .expect("the request's span reached the agent");
        assert_eq!(&expected_trace_id(on_the_wire), id);

        // The log line names the trace exactly as the header does, and the
        // span (and its remote parent) in 16 digits.
        let line = span_line(operation, id);
        let span_id = as_i64(field(on_the_wire, 3)) as u64;
        let parent_id = as_i64(field(on_the_wire, 4)) as u64;
        assert!(
            line.contains(&format!(" span={span_id:016x} parent={parent_id:016x} ")),
            "{line}"
        );
    }
    let first = span_line("GET /hello/<name>", &header_ids[1]);
    assert!(first.contains(" parent=0000000000000002 "), "{first}");

    #[cfg(feature = "viewer")]
    for id in &header_ids {
        // The viewer looks the trace up by the header's value and names it
        // the same way in its JSON and its pages.
        let viewer = format!("http://127.0.0.1:{port}/_traces");
        let spans = common::viewer::wait_for_trace(&viewer, id, 1).await;
        assert_eq!(spans[0]["trace_id"].as_str(), Some(id.as_str()));
        let (status, detail) = common::viewer::get_json(&format!("{viewer}/api/traces/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["trace_id"].as_str(), Some(id.as_str()));

        // The lookup form redirects to the padded id's page, also from the
        // unpadded form older log lines printed.
        for asked in [id.as_str(), id.trim_start_matches('0')] {
            let page = reqwest::get(format!("{viewer}/?id={asked}")).await.unwrap();
            assert_eq!(page.status().as_u16(), 200, "lookup of {asked}");
            assert_eq!(page.url().path(), format!("/_traces/trace/{id}"));
            assert!(page.text().await.unwrap().contains(id.as_str()));
        }
    }

    let _stopped = running.stop().await;
}
