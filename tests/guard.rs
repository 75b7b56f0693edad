//! What a route can do with its `ActiveSpan`.

mod common;

use std::time::Duration;

use common::*;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_opentracing::propagation::parse_trace_header;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

#[get("/work")]
fn work(span: ActiveSpan<'_>) -> String {
    span.set_tag("answer", 42i64);
    span.log(|log| {
        log.std().event("working").message("step 1");
    });
    let child = span.child("step");
    let headers = child.headers();
    let ids = format!(
        "{:x}:{:x}",
        span.trace_id().unwrap().low,
        span.span_id().unwrap()
    );
    drop(child);
    let header = &headers
        .iter()
        .find(|(k, _)| k == "uber-trace-id")
        .unwrap()
        .1;
    format!("{ids}|{header}")
}

#[get("/baggage")]
fn baggage(span: ActiveSpan<'_>) -> String {
    let incoming = span.baggage_item("User").unwrap_or_default();
    span.set_baggage_item("tenant", "acme corp");
    let child = span.child("child");
    // The raw span inherits the baggage too.
    let raw_sees = child.with_span(|raw| {
        raw.context()
            .and_then(|c| c.baggage_items().iter().find(|b| b.name() == "tenant"))
            .map(|b| b.value().to_owned())
    });
    assert_eq!(raw_sees, child.baggage_item("tenant"));
    let child_sees = child.baggage_item("tenant").unwrap_or_default();
    let headers: Vec<String> = span
        .headers()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{incoming}|{child_sees}|{}", headers.join(","))
}

#[get("/async")]
async fn across_await(span: ActiveSpan<'_>) -> &'static str {
    span.set_tag("before", true);
    rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    let _child = span.child("after-await");
    rocket::tokio::task::yield_now().await;
    span.set_tag("after", true);
    "done"
}

#[rocket::async_test]
async fn tags_logs_ids_children_and_injection() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::opt_in(tracer), routes![work]).await;
    let body = client
        .get("/work")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    let (ids, header) = body.split_once('|').unwrap();

    let spans = drain(&rx);
    assert_eq!(spans.len(), 2);
    let (child, request) = (&spans[0], &spans[1]);
    assert_eq!(child.operation_name(), "step");
    assert_eq!(request.operation_name(), "GET /work");

    let request_state = request.context().state();
    assert_eq!(
        ids,
        format!(
            "{:x}:{:x}",
            request_state.trace_id().low,
            request_state.span_id()
        )
    );
    assert_eq!(parent_id(child), Some(request_state.span_id()));
    assert_eq!(child.context().state().trace_id(), request_state.trace_id());

    assert_eq!(tag(request, "answer"), Some(TagValue::Integer(42)));
    assert_eq!(request.logs().len(), 1);
    assert_eq!(log_fields(request, 0)["event"], "working");

    // The context handed out for an outgoing call is the child's.
    let injected = parse_trace_header(header).unwrap();
    assert_eq!(injected.trace_id, request_state.trace_id());
    assert_eq!(injected.span_id, child.context().state().span_id());
    assert!(injected.is_sampled());
}

#[rocket::async_test]
async fn baggage_is_read_set_inherited_and_injected() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![baggage]).await;
    let body = client
        .get("/baggage")
        .header(Header::new("uberctx-user", "alice"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    let parts: Vec<_> = body.splitn(3, '|').collect();
    assert_eq!(parts[0], "alice");
    assert_eq!(parts[1], "acme corp");
    assert!(parts[2].contains("uberctx-user=alice"), "{body}");
    assert!(parts[2].contains("uberctx-tenant=acme%20corp"), "{body}");
    assert!(parts[2].contains("uber-trace-id="), "{body}");
    assert_eq!(drain(&rx).len(), 2);
}

#[rocket::async_test]
async fn usable_across_await_points() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![across_await]).await;
    assert_eq!(client.get("/async").dispatch().await.status(), Status::Ok);
    let spans = drain(&rx);
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].operation_name(), "after-await");
    assert_eq!(tag(&spans[1], "before"), Some(TagValue::Boolean(true)));
    assert_eq!(tag(&spans[1], "after"), Some(TagValue::Boolean(true)));
}

#[rocket::async_test]
async fn no_fairing_means_a_noop_span_and_an_unharmed_request() {
    #[get("/probe")]
    fn probe(span: ActiveSpan<'_>) -> String {
        span.set_tag("ignored", true);
        let child = span.child("ignored");
        format!(
            "{} {} {:?} {} {}",
            span.is_traced(),
            span.is_sampled(),
            span.trace_id(),
            child.is_sampled(),
            span.headers().len()
        )
    }
    let client2 = Client::tracked(rocket().mount("/", routes![probe]))
        .await
        .unwrap();
    let body = client2
        .get("/probe")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert_eq!(body, "false false None false 0");
}

#[rocket::async_test]
async fn span_lookup_outside_a_traced_request_is_none() {
    let (tracer, _rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![work]).await;
    // A request that has not gone through the fairing.
    let request = client.get("/work");
    assert!(ActiveSpan::get(request.inner()).is_none());
}

#[rocket::async_test]
async fn other_guards_reach_the_request_span() {
    use rocket::request::{FromRequest, Outcome, Request};

    struct SeesSpan(bool);

    #[rocket::async_trait]
    impl<'r> FromRequest<'r> for SeesSpan {
        type Error = ();
        async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
            let span = ActiveSpan::get(req);
            if let Some(span) = &span {
                span.set_tag("seen_by_guard", true);
            }
            Outcome::Success(SeesSpan(span.is_some()))
        }
    }

    #[get("/seen")]
    fn seen(guard: SeesSpan) -> String {
        guard.0.to_string()
    }

    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![seen]).await;
    let body = client
        .get("/seen")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert_eq!(body, "true");
    assert_eq!(
        tag(&only_span(&rx), "seen_by_guard"),
        Some(TagValue::Boolean(true))
    );
}

#[rocket::async_test]
async fn over_the_wire_parentage_between_two_apps() {
    // App A's route hands its context to app B as a caller would.
    #[get("/outer")]
    fn outer(span: ActiveSpan<'_>) -> String {
        span.headers()
            .into_iter()
            .map(|(k, v)| format!("{k}\n{v}"))
            .next()
            .unwrap()
    }
    #[get("/inner")]
    fn inner() -> &'static str {
        "inner"
    }

    let (tracer_a, rx_a) = tracer();
    let (tracer_b, rx_b) = tracer();
    let a = client(OpenTracingFairing::all(tracer_a), routes![outer]).await;
    let b = client(OpenTracingFairing::all(tracer_b), routes![inner]).await;
    let header = a
        .get("/outer")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    let (name, value) = header.split_once('\n').unwrap();
    b.get("/inner")
        .header(Header::new(name.to_owned(), value.to_owned()))
        .dispatch()
        .await;

    let outer = only_span(&rx_a);
    let inner = only_span(&rx_b);
    assert_eq!(
        inner.context().state().trace_id(),
        outer.context().state().trace_id()
    );
    assert_eq!(parent_id(&inner), Some(outer.context().state().span_id()));
}

/// Child spans speak the guard's language: tags, logs, errors, baggage,
/// their own children and headers.
#[get("/nested")]
fn nested(span: ActiveSpan<'_>) -> String {
    let render = span.child("render");
    render.set_tag("template", "hello.html");
    render.log(|log| {
        log.std().event("rendering");
    });
    render.set_baggage_item("step", "render");
    let query = render.child("db.query");
    query.set_tag("db.rows", 3i64);
    query.set_error("timeout");
    let header = query
        .headers()
        .into_iter()
        .find(|(k, _)| k == "uber-trace-id")
        .unwrap()
        .1;
    let baggage = query.baggage_item("STEP").unwrap_or_default();
    let ids = format!("{:x}", query.span_id().unwrap());
    format!("{header}|{baggage}|{ids}")
}

#[rocket::async_test]
async fn child_spans_offer_the_guards_vocabulary() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![nested]).await;
    let response = client.get("/nested").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let body = response.into_string().await.unwrap();
    let parts: Vec<&str> = body.split('|').collect();

    let spans = drain(&rx);
    let names: Vec<&str> = spans.iter().map(|s| s.operation_name()).collect();
    assert_eq!(names, ["db.query", "render", "GET /nested"]);
    let (query, render, request) = (&spans[0], &spans[1], &spans[2]);
    assert_eq!(parent_id(render), Some(request.context().state().span_id()));
    assert_eq!(parent_id(query), Some(render.context().state().span_id()));
    assert_eq!(tag(render, "template"), Some(s("hello.html")));
    assert_eq!(log_fields(render, 0)["event"], "rendering");
    assert_eq!(tag(query, "db.rows"), Some(TagValue::Integer(3)));
    assert_eq!(tag(query, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(log_fields(query, 0)["message"], "timeout");
    // The request itself did not fail.
    assert_eq!(tag(request, "error"), None);

    // The headers of the grandchild carry its own ids, and the baggage set
    // on its parent.
    let injected = parse_trace_header(parts[0]).unwrap();
    assert_eq!(injected.span_id, query.context().state().span_id());
    assert_eq!(format!("{:x}", injected.span_id), parts[2]);
    assert_eq!(injected.trace_id, request.context().state().trace_id());
    assert_eq!(parts[1], "render");
}

#[rocket::async_test]
async fn unsampled_child_spans_carry_the_requests_decision() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![nested_unsampled]).await;
    let body = client
        .get("/nested_unsampled")
        .header(Header::new(
            "uber-trace-id",
            "00000000000000aa:00000000000000bb:0:0",
        ))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(drain(&rx).is_empty());
    let injected = parse_trace_header(&body).unwrap();
    assert_eq!(injected.trace_id.low, 0xaa);
    assert!(!injected.is_sampled());
}

#[get("/nested_unsampled")]
fn nested_unsampled(span: ActiveSpan<'_>) -> String {
    let child = span.child("inner").child("innermost");
    child.set_tag("ignored", true);
    assert!(!child.is_sampled());
    assert_eq!(child.span_id(), None);
    child
        .headers()
        .into_iter()
        .find(|(k, _)| k == "uber-trace-id")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[get("/request_error")]
fn request_error(span: ActiveSpan<'_>) -> &'static str {
    span.set_error("payment declined");
    "declined"
}

#[rocket::async_test]
async fn the_request_span_can_be_marked_failed() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![request_error]).await;
    let response = client.get("/request_error").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let span = only_span(&rx);
    assert_eq!(tag(&span, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(200)));
    assert_eq!(log_fields(&span, 0)["message"], "payment declined");
}
