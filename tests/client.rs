//! Outgoing reqwest calls from a route: client spans, injected headers,
//! errors, unsampled callers, and the blocking client. The called service
//! is the fake collector (a minimal HTTP server recording requests).
#![cfg(feature = "client")]

mod common;

use common::collector::{Answer, Collector};
use common::*;
use rocket::http::{Header, Status};
use rocket::{get, routes};
use rocket_opentracing::client::TracedRequest;
use rocket_opentracing::propagation::parse_trace_header;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::rustracing_jaeger::span::FinishedSpan;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing, TraceContext};
use std::time::Duration;

/// Calls `url` with async reqwest; answers with its status (or 502).
#[get("/proxy?<url>")]
async fn proxy(url: &str, span: ActiveSpan<'_>) -> Status {
    match reqwest::Client::new().get(url).send_traced(&span).await {
        Ok(response) => Status::new(response.status().as_u16()),
        Err(_) => Status::BadGateway,
    }
}

/// Calls `url` from inside a child span.
#[get("/nested?<url>")]
async fn nested(url: &str, span: ActiveSpan<'_>) -> Status {
    let step = span.child("fetch");
    match reqwest::Client::new().get(url).send_traced(&step).await {
        Ok(response) => Status::new(response.status().as_u16()),
        Err(_) => Status::BadGateway,
    }
}

/// Calls `url` with blocking reqwest, on a thread of its own.
#[get("/blocking?<url>")]
fn blocking(url: &str, span: ActiveSpan<'_>) -> Status {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let client = reqwest::blocking::Client::new();
                match client.post(url).send_traced_as(&span, "upload") {
                    Ok(response) => Status::new(response.status().as_u16()),
                    Err(_) => Status::BadGateway,
                }
            })
            .join()
            .unwrap()
    })
}

/// How long to wait for more requests at the called service.
const QUIET: Duration = Duration::from_millis(200);

fn int(value: i64) -> TagValue {
    TagValue::Integer(value)
}

/// Serves `routes` and asks `route` (which takes `?url=`) to call `path` on
/// a stand-in server, answered `202 Accepted`: the spans finished, the
/// stand-in and the URL called.
async fn call_via(
    routes: Vec<rocket::Route>,
    route: &str,
    path: &str,
) -> (Vec<FinishedSpan>, Collector, String) {
    let target = Collector::bind();
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes).await;
    let url = format!("http://127.0.0.1:{}{path}", target.addr.port());
    let response = client
        .get(format!("{route}?url={}", urlencode(&url)))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Accepted);
    drop(response);
    (drain(&rx), target, url)
}

/// The context the stand-in server received in the first call's
/// `uber-trace-id` header.
fn injected(target: &Collector) -> TraceContext {
    let received = target.drain(QUIET);
    let header = received[0]
        .header("uber-trace-id")
        .expect("context injected");
    parse_trace_header(header).unwrap()
}

#[rocket::async_test]
async fn a_call_gets_a_client_span_whose_context_travels() {
    let (spans, target, url) = call_via(routes![proxy], "/proxy", "/downstream?q=1").await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let (call, entry) = (&spans[0], &spans[1]);
    assert_eq!(
        call.operation_name(),
        format!("GET 127.0.0.1:{}", target.addr.port())
    );
    assert_eq!(parent_id(call), Some(entry.context().state().span_id()));
    assert_eq!(tag(call, "span.kind"), Some(s("client")));
    assert_eq!(tag(call, "http.method"), Some(s("GET")));
    assert_eq!(tag(call, "http.url"), Some(s(&url)));
    assert_eq!(tag(call, "peer.hostname"), Some(s("127.0.0.1")));
    assert_eq!(
        tag(call, "peer.port"),
        Some(int(i64::from(target.addr.port())))
    );
    assert_eq!(tag(call, "http.status_code"), Some(int(202)));
    assert_eq!(tag(call, "error"), None);

    // The call was answered before the route returned: it is recorded.
    let context = injected(&target);
    assert_eq!(context.span_id, call.context().state().span_id());
    assert_eq!(context.trace_id, entry.context().state().trace_id());
    assert!(context.is_sampled());
}

#[rocket::async_test]
async fn a_call_can_sit_under_a_child_span() {
    let (spans, target, url) = call_via(routes![nested], "/nested", "/downstream").await;
    let names: Vec<&str> = spans.iter().map(|s| s.operation_name()).collect();
    let call_name = format!("GET 127.0.0.1:{}", target.addr.port());
    assert_eq!(names, [call_name.as_str(), "fetch", "GET /nested?<url>"]);
    let (call, step) = (&spans[0], &spans[1]);
    assert_eq!(parent_id(call), Some(step.context().state().span_id()));
    assert_eq!(tag(call, "span.kind"), Some(s("client")));
    assert_eq!(tag(call, "http.url"), Some(s(&url)));
    let context = injected(&target);
    assert_eq!(context.span_id, call.context().state().span_id());
}

#[rocket::async_test]
async fn server_errors_and_transport_errors_mark_the_client_span() {
    let target = Collector::bind();
    target.script([Answer::Status(503)]);
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![proxy]).await;

    let url = format!("http://127.0.0.1:{}/", target.addr.port());
    let response = client
        .get(format!("/proxy?url={}", urlencode(&url)))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    drop(response);
    let spans = drain(&rx);
    assert_eq!(tag(&spans[0], "http.status_code"), Some(int(503)));
    assert_eq!(tag(&spans[0], "error"), Some(TagValue::Boolean(true)));

    // Nobody listens on this port: the connection is refused.
    let url = format!("http://user:secret@127.0.0.1:{}/", closed_port());
    let response = client
        .get(format!("/proxy?url={}", urlencode(&url)))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::BadGateway);
    drop(response);
    let spans = drain(&rx);
    let call = &spans[0];
    assert_eq!(tag(call, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(tag(call, "http.status_code"), None);
    let url_tag = format!("{:?}", tag(call, "http.url"));
    assert!(!url_tag.contains("secret"), "{url_tag}");
    let fields = log_fields(call, 0);
    assert_eq!(fields.get("event").map(String::as_str), Some("error"));
    assert_eq!(
        fields.get("error.kind").map(String::as_str),
        Some("connect")
    );
    assert!(!fields["message"].contains("secret"), "{fields:?}");
}

#[rocket::async_test]
async fn an_unsampled_caller_gets_no_client_span_but_its_decision_travels() {
    let target = Collector::bind();
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![proxy]).await;
    let url = format!("http://127.0.0.1:{}/", target.addr.port());
    let response = client
        .get(format!("/proxy?url={}", urlencode(&url)))
        .header(Header::new(
            "uber-trace-id",
            "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:0",
        ))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Accepted);
    drop(response);
    assert!(drain(&rx).is_empty(), "nothing reported");

    let context = injected(&target);
    assert!(!context.is_sampled());
    assert_eq!(
        format!(
            "{}",
            rocket_opentracing::propagation::DisplayTraceId(context.trace_id)
        ),
        "6309ab92c95468edea0dc1a9772ae2dc"
    );
}

#[rocket::async_test]
async fn the_blocking_client_is_traced_too() {
    let (spans, target, _) = call_via(routes![blocking], "/blocking", "/upload").await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_eq!(spans[0].operation_name(), "upload");
    assert_eq!(tag(&spans[0], "http.method"), Some(s("POST")));
    assert_eq!(
        parent_id(&spans[0]),
        Some(spans[1].context().state().span_id())
    );
    let received = target.drain(QUIET);
    assert_eq!(received[0].method, "POST");
    assert!(received[0].header("uber-trace-id").is_some());
}
