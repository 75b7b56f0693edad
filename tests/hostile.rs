//! Hostile requests over a real socket: trace headers that are not UTF-8,
//! huge, truncated, overflowing, duplicated or simply absurd never change a
//! response (compared with the same server without tracing) and never fail
//! a request, and the server goes on serving.

mod common;

use std::time::Duration;

use common::server::Server;
use rocket::get;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;
use rocket::tokio::time::timeout;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

#[get("/hello")]
fn hello(span: ActiveSpan<'_>) -> &'static str {
    // Writing the context out must not fail either.
    let _ = span.headers();
    "hello"
}

/// Sends `request` (raw bytes) and returns the status code and the body.
async fn answer(port: u16, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {response:?}"));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status.to_owned(), body.to_owned())
}

fn request_with(headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[rocket::async_test]
async fn hostile_trace_headers_never_change_or_fail_a_response() {
    let (tracer, rx) = common::tracer();
    let traced = rocket::custom(common::server::figment())
        .attach(OpenTracingFairing::all(tracer))
        .mount("/", rocket::routes![hello]);
    let traced = Server::launch(traced).await;
    let plain = rocket::custom(common::server::figment()).mount("/", rocket::routes![hello]);
    let plain = Server::launch(plain).await;

    let huge = "f".repeat(6_000);
    let many_colons = ":".repeat(4_000);
    let cases: Vec<Vec<(&str, &[u8])>> = vec![
        vec![("uber-trace-id", b"\xff\xfe\xfd:\x80:0:1")],
        vec![("uber-trace-id", b"abc:def:0:1\xc3")],
        vec![("uber-trace-id", huge.as_bytes())],
        vec![("uber-trace-id", many_colons.as_bytes())],
        vec![("uber-trace-id", b"ffffffffffffffffffffffffffffffffff:1:0:1")],
        vec![("uber-trace-id", b"1:ffffffffffffffffff:0:1")],
        vec![("uber-trace-id", b"1:1:0:999999999999999999999")],
        vec![("uber-trace-id", b"0:0:0:1")],
        vec![("uber-trace-id", b"abc%3Adef%3A0%3A1%")],
        vec![
            ("uber-trace-id", b"abc:def:0:1"),
            ("uber-trace-id", b"1:2:0:1"),
        ],
        vec![("traceparent", b"00-\xff\xff-00f067aa0ba902b7-01")],
        vec![(
            "traceparent",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        )],
        vec![(
            "traceparent",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        vec![("traceparent", huge.as_bytes())],
        vec![
            (
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", huge.as_bytes()),
        ],
        vec![
            (
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", b"a=\xff,b=2,=,,,c"),
        ],
        vec![("b3", b"-")],
        vec![("b3", b"---")],
        vec![(
            "b3",
            b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
        )],
        vec![("b3", b"\xe2\x82\xac-\xe2\x82\xac-d")],
        vec![
            ("X-B3-TraceId", b"80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", b""),
        ],
        vec![
            ("X-B3-Sampled", b"maybe"),
            ("X-B3-Flags", b"99999999999999999999"),
        ],
        vec![("jaeger-debug-id", huge.as_bytes())],
        vec![("jaeger-debug-id", b"\x01\x02\x7f")],
        vec![("uberctx-", b"empty key")],
        vec![("uberctx-k", b"%ff%fe%zz%")],
        vec![("uberctx-é", b"non-token name")],
    ];
    let names: Vec<String> = (0..90).map(|i| format!("uberctx-k{i}")).collect();
    // A flood of baggage headers (within hyper's limit of 100 headers).
    let flood: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
    let cases = cases.iter().chain(std::iter::once(&flood));

    let mut served = 0;
    for headers in cases {
        let request = request_with(headers);
        let expected = answer(plain.port, &request).await;
        let (status, body) = answer(traced.port, &request).await;
        assert_eq!((&status, &body), (&expected.0, &expected.1), "{headers:?}");
        assert!(!status.starts_with('5'), "{headers:?}: {status}");
        if status == "200" {
            assert_eq!(body, "hello");
            served += 1;
        }
    }

    // Every request Rocket served was traced, and the server still serves.
    assert_eq!(answer(traced.port, &request_with(&[])).await.0, "200");
    let _stopped = traced.stop().await;
    let _plain = plain.stop().await;
    assert_eq!(common::drain(&rx).len(), served + 1);
    assert!(served > 20, "only {served} requests reached Rocket");
}
