//! The fairing and the `ActiveSpan` guard, through Rocket's local client and
//! the tracer's span receiver. Includes Flask-OpenTracing's test checklist.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::*;
use rocket::http::{Header, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::{get, routes};
use rocket_opentracing::rustracing::sampler::NullSampler;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing, OperationName};

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

#[get("/traced/<name>")]
fn traced(name: &str, span: ActiveSpan<'_>) -> String {
    span.set_tag("user", name.to_owned());
    format!("Hi, {name}!")
}

#[get("/error")]
fn error() -> Status {
    Status::InternalServerError
}

#[get("/teapot")]
fn teapot() -> Status {
    Status::ImATeapot
}

#[get("/panic")]
fn panics() -> &'static str {
    panic!("boom")
}

#[get("/panic-with-span")]
fn panics_with_span(span: ActiveSpan<'_>) -> &'static str {
    span.set_tag("before", true);
    panic!("boom")
}

/// A guard that refuses every request with 400.
struct Refuse;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Refuse {
    type Error = ();
    async fn from_request(_: &'r Request<'_>) -> request::Outcome<Self, ()> {
        request::Outcome::Error((Status::BadRequest, ()))
    }
}

/// A guard that forwards every request.
struct Forward;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Forward {
    type Error = ();
    async fn from_request(_: &'r Request<'_>) -> request::Outcome<Self, ()> {
        request::Outcome::Forward(Status::NotFound)
    }
}

/// A guard that takes 50 ms, then records when it finished.
struct Slow(SystemTime);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Slow {
    type Error = ();
    async fn from_request(_: &'r Request<'_>) -> request::Outcome<Self, ()> {
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        request::Outcome::Success(Slow(SystemTime::now()))
    }
}

#[get("/refused")]
fn refused(_guard: Refuse) -> &'static str {
    "never"
}

#[get("/forwarded")]
fn forwarded(_guard: Forward) -> &'static str {
    "never"
}

#[get("/slow")]
fn slow(guard: Slow, span: ActiveSpan<'_>) -> String {
    span.set_tag("guard_done_us", micros(guard.0));
    "slow".into()
}

fn micros(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn all_routes() -> Vec<rocket::Route> {
    routes![
        hello,
        traced,
        error,
        teapot,
        panics,
        panics_with_span,
        refused,
        forwarded,
        slow
    ]
}

#[rocket::async_test]
async fn traces_every_request_with_the_exact_standard_tags() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    let response = client.get("/hello/alice?x=1").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "Hello, alice!");

    let span = only_span(&rx);
    assert_eq!(span.operation_name(), "GET /hello/<name>");
    let tags = tags(&span);
    let names: Vec<_> = tags.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "component",
            "http.method",
            "http.status_code",
            "http.url",
            "span.kind"
        ]
    );
    assert_eq!(tags["component"], s("rocket"));
    assert_eq!(tags["http.method"], s("GET"));
    assert_eq!(tags["http.url"], s("/hello/alice?x=1"));
    assert_eq!(tags["http.status_code"], TagValue::Integer(200));
    assert_eq!(tags["span.kind"], s("server"));
    assert!(span.logs().is_empty());
    assert!(
        span.references().is_empty(),
        "a request with no trace header is a root"
    );
    assert!(span.finish_time() >= span.start_time());
}

#[rocket::async_test]
async fn peer_address_is_tagged_when_known() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client
        .get("/hello/bob")
        .remote("10.1.2.3:4567".parse().unwrap())
        .dispatch()
        .await;
    let span = only_span(&rx);
    assert_eq!(tag(&span, "peer.ipv4"), Some(s("10.1.2.3")));
    assert_eq!(tag(&span, "peer.port"), Some(TagValue::Integer(4567)));
}

#[rocket::async_test]
async fn unmatched_request_gets_a_fixed_name_and_is_not_an_error() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    let response = client.post("/nowhere/at/all").dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
    let span = only_span(&rx);
    assert_eq!(span.operation_name(), "POST <unmatched>");
    assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(404)));
    assert_eq!(tag(&span, "http.url"), Some(s("/nowhere/at/all")));
    assert_eq!(tag(&span, "error"), None);
}

#[rocket::async_test]
async fn client_errors_are_not_errors() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    assert_eq!(
        client.get("/teapot").dispatch().await.status(),
        Status::ImATeapot
    );
    let refused = client.get("/refused").dispatch().await;
    assert_eq!(refused.status(), Status::BadRequest);
    let forwarded = client.get("/forwarded").dispatch().await;
    assert_eq!(forwarded.status(), Status::NotFound);

    let spans = drain(&rx);
    assert_eq!(spans.len(), 3);
    let outcomes: Vec<_> = spans
        .iter()
        .map(|s| {
            (
                s.operation_name().to_owned(),
                tag(s, "http.status_code"),
                tag(s, "error"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("GET /teapot".into(), Some(TagValue::Integer(418)), None),
            ("GET /refused".into(), Some(TagValue::Integer(400)), None),
            // Every route forwarded: named after the last route tried.
            ("GET /forwarded".into(), Some(TagValue::Integer(404)), None),
        ]
    );
}

#[rocket::async_test]
async fn server_error_sets_error_tag_with_one_error_log() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    assert_eq!(
        client.get("/error").dispatch().await.status(),
        Status::InternalServerError
    );
    let span = only_span(&rx);
    assert_eq!(tag(&span, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(500)));
    assert_eq!(span.logs().len(), 1);
    let log = log_fields(&span, 0);
    assert_eq!(log["event"], "error");
    assert_eq!(log["message"], "500 Internal Server Error");
}

#[rocket::async_test]
async fn handler_panic_is_an_error_span_finished_once() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    assert_eq!(
        client.get("/panic").dispatch().await.status(),
        Status::InternalServerError
    );
    assert_eq!(
        client.get("/panic-with-span").dispatch().await.status(),
        Status::InternalServerError
    );
    // The server still serves afterwards.
    assert_eq!(client.get("/hello/x").dispatch().await.status(), Status::Ok);

    let spans = drain(&rx);
    assert_eq!(spans.len(), 3, "one span per request: {spans:#?}");
    for span in &spans[..2] {
        assert_eq!(tag(span, "error"), Some(TagValue::Boolean(true)));
        assert_eq!(tag(span, "http.status_code"), Some(TagValue::Integer(500)));
        assert_eq!(span.logs().len(), 1, "exactly one error log");
        assert_eq!(log_fields(span, 0)["event"], "error");
    }
    // Holding the guard, the panic itself is what gets logged.
    assert_eq!(log_fields(&spans[1], 0)["error.kind"], "panic");
    assert_eq!(tag(&spans[1], "before"), Some(TagValue::Boolean(true)));
    assert_eq!(tag(&spans[2], "error"), None);
}

#[rocket::async_test]
async fn continues_the_callers_trace_with_128_bit_ids() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client
        .get("/hello/x")
        .header(Header::new(
            "uber-trace-id",
            "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1",
        ))
        .dispatch()
        .await;
    let span = only_span(&rx);
    let state = span.context().state();
    assert_eq!(state.trace_id().high, 0x6309ab92c95468ed);
    assert_eq!(state.trace_id().low, 0xea0dc1a9772ae2dc);
    assert_ne!(state.span_id(), 0x409423a204bc17a8);
    assert_eq!(parent_id(&span), Some(0x409423a204bc17a8));
    assert!(span.references()[0].is_child_of());
}

#[rocket::async_test]
async fn malformed_trace_header_starts_a_root_trace() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    for bad in [
        "not-hex:zz:0:1",
        "1:2:3",
        "",
        "ffffffffffffffffffffffffffffffffff:1:0:1",
        "0:0:0:1",
    ] {
        let response = client
            .get("/hello/x")
            .header(Header::new("uber-trace-id", bad))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Ok, "header {bad:?}");
        let span = only_span(&rx);
        assert!(span.references().is_empty(), "header {bad:?} gave a parent");
        let trace_id = span.context().state().trace_id();
        assert!(trace_id.high != 0 || trace_id.low != 0);
    }
}

#[rocket::async_test]
async fn debug_id_alone_starts_a_sampled_debug_trace() {
    // A tracer that samples nothing by itself: the debug header must win.
    let (tracer, rx) = tracer_sampling(NullSampler);
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client
        .get("/hello/x")
        .header(Header::new("jaeger-debug-id", "find-me"))
        .dispatch()
        .await;
    let span = only_span(&rx);
    let state = span.context().state();
    assert_ne!(
        state.trace_id().low,
        0,
        "a debug-id-only context must not give trace id 0"
    );
    assert_eq!(state.debug_id(), Some("find-me"));
    assert_eq!(state.flags() & 0b11, 0b11, "sampled and debug");
    assert!(span.references().is_empty());
}

#[rocket::async_test]
async fn unsampled_caller_gets_no_span_but_its_decision_travels_on() {
    let (tracer, rx) = tracer();

    #[get("/peek")]
    fn peek(span: ActiveSpan<'_>) -> String {
        let child = span.child("inner");
        assert!(!child.is_sampled());
        child
            .headers()
            .into_iter()
            .find(|(k, _)| k == "uber-trace-id")
            .map(|(_, v)| v)
            .unwrap_or_default()
    }

    let client = client(OpenTracingFairing::all(tracer), routes![peek]).await;
    let injected = client
        .get("/peek")
        .header(Header::new("uber-trace-id", "abcdef:1234:0:0"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(drain(&rx).is_empty(), "an unsampled trace reports nothing");
    let parts: Vec<_> = injected.split(':').collect();
    assert_eq!(parts.len(), 4, "{injected}");
    assert_eq!(parts[0], "0000000000abcdef");
    assert_ne!(
        parts[1], "0000000000001234",
        "our own span id goes downstream"
    );
    assert_eq!(parts[3], "0");
}

#[rocket::async_test]
async fn sampled_caller_is_sampled_whatever_the_local_sampler() {
    let (tracer, rx) = tracer_sampling(NullSampler);
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client
        .get("/hello/x")
        .header(Header::new("uber-trace-id", "abcdef:1234:0:1"))
        .dispatch()
        .await;
    client.get("/hello/y").dispatch().await;
    let spans = drain(&rx);
    assert_eq!(
        spans.len(),
        1,
        "the caller's decision wins; new roots ask the sampler"
    );
    assert_eq!(parent_id(&spans[0]), Some(0x1234));
}

#[rocket::async_test]
async fn opt_in_traces_only_routes_asking_for_the_span() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::opt_in(tracer), all_routes()).await;
    client.get("/hello/x").dispatch().await;
    client.get("/nowhere").dispatch().await;
    client.get("/error").dispatch().await;
    assert!(drain(&rx).is_empty(), "untraced routes make no span");

    let response = client.get("/traced/zoe").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "Hi, zoe!");
    let span = only_span(&rx);
    assert_eq!(span.operation_name(), "GET /traced/<name>");
    assert_eq!(tag(&span, "user"), Some(s("zoe")));
    assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(200)));
    assert_eq!(tag(&span, "span.kind"), Some(s("server")));
}

#[rocket::async_test]
async fn opt_in_span_starts_at_arrival_not_when_the_guard_runs() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::opt_in(tracer), all_routes()).await;
    // The route's first request teaches the fairing that it asks for the
    // span (that one starts when it asks); from then on, at arrival.
    client.get("/slow").dispatch().await;
    let first = only_span(&rx);
    client.get("/slow").dispatch().await;
    let span = only_span(&rx);
    assert!(span.start_time() > first.start_time());
    let Some(TagValue::Integer(guard_done)) = tag(&span, "guard_done_us") else {
        panic!("tag missing");
    };
    let start = micros(span.start_time());
    assert!(
        guard_done - start >= 50_000,
        "span started {}µs before the guard ended",
        guard_done - start
    );
}

#[rocket::async_test]
async fn guard_in_trace_all_mode_does_not_trace_twice() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client.get("/traced/ann").dispatch().await;
    let span = only_span(&rx);
    assert_eq!(tag(&span, "user"), Some(s("ann")));
}

#[rocket::async_test]
async fn handler_name_strategy() {
    let (tracer, rx) = tracer();
    let fairing = OpenTracingFairing::all(tracer).operation_name(OperationName::Handler);
    let client = client(fairing, all_routes()).await;
    client.get("/hello/x").dispatch().await;
    client.get("/missing").dispatch().await;
    let names: Vec<_> = drain(&rx)
        .iter()
        .map(|s| s.operation_name().to_owned())
        .collect();
    assert_eq!(names, ["hello", "GET <unmatched>"]);
}

#[rocket::async_test]
async fn concurrent_requests_get_distinct_spans() {
    #[get("/overlap/<name>")]
    async fn overlap(name: &str, span: ActiveSpan<'_>) -> String {
        span.set_tag("user", name.to_owned());
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        span.set_tag("user_after_wait", name.to_owned());
        name.to_owned()
    }

    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![overlap]).await;
    let (a, b) = rocket::tokio::join!(
        client.get("/overlap/a").dispatch(),
        client.get("/overlap/b").dispatch()
    );
    assert_eq!((a.status(), b.status()), (Status::Ok, Status::Ok));
    let spans = drain(&rx);
    assert_eq!(spans.len(), 2);
    for span in &spans {
        let Some(TagValue::String(url)) = tag(span, "http.url") else {
            panic!("no url");
        };
        let name = url.trim_start_matches("/overlap/").to_owned();
        assert_eq!(
            tag(span, "user"),
            Some(s(&name)),
            "tags went to the wrong span"
        );
        assert_eq!(tag(span, "user_after_wait"), Some(s(&name)));
    }
    // The two requests really ran at the same time.
    assert!(spans[0].start_time() < spans[1].finish_time());
    assert!(spans[1].start_time() < spans[0].finish_time());
    let ids: BTreeSet<_> = spans
        .iter()
        .map(|s| s.context().state().span_id())
        .collect();
    let traces: BTreeSet<_> = spans
        .iter()
        .map(|s| s.context().state().trace_id())
        .collect();
    assert_eq!((ids.len(), traces.len()), (2, 2));
}

#[rocket::async_test]
async fn a_fairing_looking_up_the_span_early_does_not_switch_tracing_off() {
    use rocket::fairing::AdHoc;
    let (tracer, rx) = tracer();
    // Attached before ours: its on_request runs first.
    let early = AdHoc::on_request("early lookup", |req, _| {
        Box::pin(async move {
            assert!(ActiveSpan::get(req).is_none());
        })
    });
    let rocket = rocket()
        .attach(early)
        .attach(OpenTracingFairing::opt_in(tracer))
        .mount("/", all_routes());
    let client = rocket::local::asynchronous::Client::tracked(rocket)
        .await
        .unwrap();
    client.get("/traced/eve").dispatch().await;
    assert_eq!(tag(&only_span(&rx), "user"), Some(s("eve")));
}

#[rocket::async_test]
async fn a_5xx_is_an_error_even_if_the_handler_said_otherwise() {
    #[get("/claims-fine")]
    fn claims_fine(span: ActiveSpan<'_>) -> Status {
        span.set_tag("error", false);
        Status::ServiceUnavailable
    }
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![claims_fine]).await;
    client.get("/claims-fine").dispatch().await;
    assert_eq!(tag(&only_span(&rx), "error"), Some(TagValue::Boolean(true)));
}

#[rocket::async_test]
async fn debug_id_with_a_parent_keeps_the_trace_and_forces_sampling() {
    let (tracer, rx) = tracer_sampling(NullSampler);
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    client
        .get("/hello/x")
        .header(Header::new("uber-trace-id", "abc:def:0:0"))
        .header(Header::new("jaeger-debug-id", "dbg"))
        .dispatch()
        .await;
    let span = only_span(&rx);
    assert_eq!(span.context().state().trace_id().low, 0xabc);
    assert_eq!(parent_id(&span), Some(0xdef));
    assert_eq!(span.context().state().debug_id(), Some("dbg"));
}

#[rocket::async_test]
async fn many_requests_finish_exactly_one_span_each() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), all_routes()).await;
    for path in [
        "/hello/a",
        "/error",
        "/panic",
        "/refused",
        "/nope",
        "/traced/b",
        "/teapot",
    ] {
        client.get(path).dispatch().await;
    }
    let spans = drain(&rx);
    assert_eq!(spans.len(), 7);
    let ids: BTreeSet<_> = spans
        .iter()
        .map(|s| s.context().state().span_id())
        .collect();
    assert_eq!(ids.len(), 7, "no span reported twice");
    assert!(spans.iter().all(|s| tag(s, "http.status_code").is_some()));
}

#[rocket::async_test]
async fn start_span_callback_adds_and_overrides_tags() {
    let (tracer, rx) = tracer();
    let fairing = OpenTracingFairing::all(tracer).on_start_span(|span, req| {
        let agent = req
            .headers()
            .get_one("User-Agent")
            .unwrap_or("none")
            .to_owned();
        span.set_tag(|| rocket_opentracing::rustracing::tag::Tag::new("user_agent", agent));
        span.set_tag(|| rocket_opentracing::rustracing::tag::Tag::new("component", "custom"));
    });
    let client = client(fairing, all_routes()).await;
    client
        .get("/hello/x")
        .header(Header::new("User-Agent", "test-agent/1"))
        .dispatch()
        .await;
    let span = only_span(&rx);
    assert_eq!(tag(&span, "user_agent"), Some(s("test-agent/1")));
    assert_eq!(tag(&span, "component"), Some(s("custom")));
}

#[rocket::async_test]
async fn panicking_callback_does_not_fail_the_request() {
    let (tracer, rx) = tracer();
    let fairing = OpenTracingFairing::all(tracer).on_start_span(|_, _| panic!("callback bug"));
    let client = client(fairing, all_routes()).await;
    let response = client.get("/hello/x").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().await.unwrap(), "Hello, x!");
    let span = only_span(&rx);
    assert_eq!(tag(&span, "error"), None);
    assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(200)));
}

/// A response carrying its own trace id header, in another casing.
#[derive(rocket::Responder)]
struct WithOwnTraceId(&'static str, Header<'static>);

#[get("/own_trace_id")]
fn own_trace_id() -> WithOwnTraceId {
    WithOwnTraceId("mine", Header::new("x-trace-id", "set-by-the-handler"))
}

#[rocket::async_test]
async fn a_trace_id_header_the_handler_set_is_kept() {
    let (tracer, rx) = tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![own_trace_id]).await;
    let response = client.get("/own_trace_id").dispatch().await;
    let values: Vec<&str> = response.headers().get("X-Trace-Id").collect();
    assert_eq!(values, ["set-by-the-handler"]);
    drop(response);
    // The request was traced all the same.
    assert_eq!(drain(&rx).len(), 1);
}

/// A guard that always forwards.
struct Forwards;

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Forwards {
    type Error = ();

    async fn from_request(_: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        rocket::request::Outcome::Forward(Status::NotFound)
    }
}

#[get("/forwarded", rank = 1)]
fn opens_then_forwards(_span: ActiveSpan<'_>, _forwards: Forwards) -> &'static str {
    "unreachable"
}

#[get("/forwarded", rank = 2)]
fn takes_over() -> &'static str {
    "second"
}

#[rocket::async_test]
async fn opt_in_span_opened_before_a_forward_is_finished_with_the_response() {
    let (tracer, rx) = tracer();
    let client = client(
        OpenTracingFairing::opt_in(tracer),
        routes![opens_then_forwards, takes_over],
    )
    .await;
    for _ in 0..2 {
        let response = client.get("/forwarded").dispatch().await;
        assert_eq!(response.into_string().await.unwrap(), "second");
        let span = only_span(&rx);
        assert_eq!(tag(&span, "http.status_code"), Some(TagValue::Integer(200)));
        assert_eq!(span.operation_name(), "GET /forwarded");
    }
}

#[rocket::async_test]
async fn opt_in_guard_opens_no_span_where_tracing_is_off() {
    for toml in [
        "[default.opentracing]\nskip_paths = [\"/traced/*\"]\n",
        "[default.opentracing]\ndisabled = true\n",
    ] {
        let (tracer, rx) = tracer();
        let client = client_with(toml, OpenTracingFairing::opt_in(tracer), all_routes()).await;
        for _ in 0..2 {
            let response = client.get("/traced/zoe").dispatch().await;
            assert_eq!(response.into_string().await.unwrap(), "Hi, zoe!");
        }
        assert!(drain(&rx).is_empty(), "{toml}: no span");
    }
}
