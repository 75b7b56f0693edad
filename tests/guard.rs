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
    let headers = span.headers_for(&child);
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
    let child_sees = child
        .context()
        .and_then(|c| c.baggage_items().iter().find(|b| b.name() == "tenant"))
        .map(|b| b.value().to_owned())
        .unwrap_or_default();
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
