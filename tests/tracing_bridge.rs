//! The `tracing` bridge: `tracing` spans and events inside a request land
//! in the request's trace, through [`TracingLayer`], [`instrument`] and
//! `ActiveSpan::instrument`/`in_scope`.
//!
//! Each test runs its Rocket on a current-thread runtime under a
//! subscriber of its own (`tracing::dispatcher::with_default`), so that
//! tests with different layer settings share the binary. The spans are read
//! from a tracer's channel (a tracer of one's own: the bridge's spans are
//! `rustracing` spans there) or, for the fairing's own reporter, decoded
//! from the fake agent's datagrams by `thrift_codec`.

#![cfg(feature = "tracing")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::agent::{all_spans, as_i64, as_string, as_structs, field, span_name, Agent};
use common::otlp::{int_attr, keys, str_attr, OtlpReceiver};
use rocket::futures::future::join_all;
use rocket::{get, routes};
use rocket_opentracing::rustracing::sampler::NullSampler;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::rustracing_jaeger::span::{FinishedSpan, SpanReceiver};
use rocket_opentracing::{instrument, ActiveSpan, OpenTracingFairing, TracingLayer};
use tracing::{Dispatch, Instrument};
use tracing_subscriber::prelude::*;

/// Runs `future` on a current-thread runtime with `layer` (on a registry)
/// as the subscriber.
fn run_with<F: Future>(layer: TracingLayer, future: F) -> F::Output {
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    run_under(dispatch, future)
}

fn run_under<F: Future>(dispatch: Dispatch, future: F) -> F::Output {
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || runtime.block_on(future))
}

/// `GET uri` answered by `routes` under a tracer of one's own sampling
/// everything (`sampled`) or nothing, configured by `toml` (in opt-in mode
/// when it says so); the body, and every span finished.
async fn get(
    sampled: bool,
    toml: &str,
    routes: Vec<rocket::Route>,
    uri: &str,
) -> (String, Vec<FinishedSpan>) {
    let (client, rx) = client(sampled, toml, routes).await;
    let body = client.get(uri.to_owned()).dispatch().await;
    let body = body.into_string().await.unwrap_or_default();
    (body, common::drain(&rx))
}

async fn client(
    sampled: bool,
    toml: &str,
    routes: Vec<rocket::Route>,
) -> (rocket::local::asynchronous::Client, SpanReceiver) {
    let (tracer, rx) = if sampled {
        common::tracer()
    } else {
        common::tracer_sampling(NullSampler)
    };
    // `all` and `opt_in` decide the mode whatever the configuration says.
    let fairing = if toml.contains("mode = \"opt_in\"") {
        OpenTracingFairing::opt_in(tracer)
    } else {
        OpenTracingFairing::all(tracer)
    };
    let client = common::client_with(toml, fairing, routes).await;
    (client, rx)
}

fn id(span: &FinishedSpan) -> u64 {
    span.context().state().span_id()
}

fn trace(span: &FinishedSpan) -> String {
    span.context().state().trace_id().to_string()
}

fn named<'a>(spans: &'a [FinishedSpan], name: &str) -> Vec<&'a FinishedSpan> {
    spans
        .iter()
        .filter(|s| s.operation_name() == name)
        .collect()
}

fn one<'a>(spans: &'a [FinishedSpan], name: &str) -> &'a FinishedSpan {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "one span {name}: {spans:#?}");
    found[0]
}

/// The logs of `span` as field maps.
fn logs(span: &FinishedSpan) -> Vec<BTreeMap<String, String>> {
    (0..span.logs().len())
        .map(|i| common::log_fields(span, i))
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// --- nested instrumented functions ----------------------------------------

#[tracing::instrument]
async fn price(item: u32) -> u32 {
    rocket::tokio::task::yield_now().await;
    tracing::debug!(item, "priced");
    item * 10
}

#[tracing::instrument(fields(total = tracing::field::Empty))]
async fn order(items: u32) -> u32 {
    let mut total = 0;
    for item in 1..=items {
        total += price(item).await;
        rocket::tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tracing::Span::current().record("total", total);
    total
}

#[get("/order/<items>")]
async fn order_route(items: u32) -> String {
    tracing::info!(items, "ordering");
    order(items).await.to_string()
}

#[test]
fn nested_instrumented_functions_are_child_spans_across_awaits() {
    let (body, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![order_route]), "/order/2"),
    );
    assert_eq!(body, "30");
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let request = one(&spans, "GET /order/<items>");
    let order = one(&spans, "order");
    let prices = named(&spans, "price");
    assert_eq!(prices.len(), 2);

    // One trace; request → order → price.
    for span in &spans {
        assert_eq!(trace(span), trace(request));
    }
    assert_eq!(common::parent_id(request), None);
    assert_eq!(common::parent_id(order), Some(id(request)));
    assert!(order.references()[0].is_child_of());
    for price in &prices {
        assert_eq!(common::parent_id(price), Some(id(order)));
        assert!(price.start_time() >= order.start_time());
        assert!(price.finish_time() <= order.finish_time());
    }
    assert!(order.start_time() >= request.start_time());
    assert!(order.finish_time() <= request.finish_time());
    // Two prices, one after the other (each across an `.await`).
    let (first, second) = if prices[0].start_time() < prices[1].start_time() {
        (prices[0], prices[1])
    } else {
        (prices[1], prices[0])
    };
    assert!(first.finish_time() <= second.start_time());
    assert_eq!(common::tag(first, "item"), Some(TagValue::Integer(1)));
    assert_eq!(common::tag(second, "item"), Some(TagValue::Integer(2)));

    // Fields as tags, also recorded later (`Span::record`).
    assert_eq!(common::tag(order, "items"), Some(TagValue::Integer(2)));
    assert_eq!(common::tag(order, "total"), Some(TagValue::Integer(30)));

    // The handler's event is a log on the request span; the others on
    // their spans.
    assert_eq!(
        logs(request),
        [fields(&[
            ("message", "ordering"),
            ("level", "INFO"),
            ("target", "tracing_bridge"),
            ("items", "2")
        ])]
    );
    assert_eq!(
        logs(first),
        [fields(&[
            ("message", "priced"),
            ("level", "DEBUG"),
            ("target", "tracing_bridge"),
            ("item", "1")
        ])]
    );
    assert!(logs(order).is_empty());
}

// --- events ------------------------------------------------------------------

#[derive(Debug)]
#[allow(dead_code)] // Read through `Debug`.
struct Detail {
    code: u8,
}

#[get("/events")]
fn events() -> &'static str {
    tracing::trace!(flag = true, "trace in handler");
    let span = tracing::info_span!("step", attempt = 1u64);
    let _entered = span.enter();
    tracing::info!(ratio = 0.5, name = "x", "info");
    tracing::warn!(detail = ?Detail { code: 7 }, "warn");
    tracing::error!(error = %"boom", "failed");
    tracing::info!(count = 3);
    "ok"
}

#[test]
fn events_are_logs_with_their_fields_at_every_level() {
    let (_, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![events]), "/events"),
    );
    let request = one(&spans, "GET /events");
    let step = one(&spans, "step");
    assert_eq!(
        logs(request),
        [fields(&[
            ("message", "trace in handler"),
            ("level", "TRACE"),
            ("target", "tracing_bridge"),
            ("flag", "true")
        ])]
    );
    assert_eq!(
        logs(step),
        [
            fields(&[
                ("message", "info"),
                ("level", "INFO"),
                ("target", "tracing_bridge"),
                ("ratio", "0.5"),
                ("name", "x")
            ]),
            fields(&[
                ("message", "warn"),
                ("level", "WARN"),
                ("target", "tracing_bridge"),
                ("detail", "Detail { code: 7 }")
            ]),
            fields(&[
                ("message", "failed"),
                ("level", "ERROR"),
                ("target", "tracing_bridge"),
                ("error", "boom")
            ]),
            // No message: level, target and fields.
            fields(&[
                ("level", "INFO"),
                ("target", "tracing_bridge"),
                ("count", "3")
            ]),
        ]
    );
    assert_eq!(common::tag(step, "attempt"), Some(TagValue::Integer(1)));
    // By default an ERROR event is a log like the others.
    assert_eq!(common::tag(step, "error"), None);
    assert_eq!(common::tag(request, "error"), None);
}

#[get("/fails")]
async fn fails() -> &'static str {
    async {
        tracing::error!("the database is gone");
    }
    .instrument(tracing::info_span!("query"))
    .await;
    tracing::error!("giving up");
    "degraded"
}

#[test]
fn error_events_mark_their_span_only_when_asked() {
    let (_, spans) = run_with(
        TracingLayer::new().error_events_mark_spans(true),
        get(true, "", instrument(routes![fails]), "/fails"),
    );
    let request = one(&spans, "GET /fails");
    let query = one(&spans, "query");
    assert_eq!(common::tag(query, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(
        logs(query),
        [fields(&[
            ("event", "error"),
            ("message", "the database is gone"),
            ("level", "ERROR"),
            ("target", "tracing_bridge")
        ])]
    );
    // The handler's own error event marks the request span (once: the
    // 200 response adds nothing).
    assert_eq!(common::tag(request, "error"), Some(TagValue::Boolean(true)));
    assert_eq!(logs(request).len(), 1);
    assert_eq!(logs(request)[0]["event"], "error");

    let (_, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![fails]), "/fails"),
    );
    for span in &spans {
        assert_eq!(common::tag(span, "error"), None, "{span:?}");
        assert!(logs(span).iter().all(|log| !log.contains_key("event")));
    }
}

// --- spawned tasks, concurrency ---------------------------------------------

#[tracing::instrument]
async fn background(n: u32) -> u32 {
    rocket::tokio::task::yield_now().await;
    n * 2
}

#[get("/spawn")]
async fn spawn() -> String {
    let task = rocket::tokio::spawn(
        async {
            rocket::tokio::task::yield_now().await;
            background(21).await
        }
        .in_current_span(),
    );
    task.await.unwrap().to_string()
}

#[test]
fn a_spawned_task_in_the_current_span_keeps_its_parent() {
    let (body, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![spawn]), "/spawn"),
    );
    assert_eq!(body, "42");
    let request = one(&spans, "GET /spawn");
    let background = one(&spans, "background");
    assert_eq!(common::parent_id(background), Some(id(request)));
    assert_eq!(trace(background), trace(request));
}

#[tracing::instrument]
async fn leaf(request: u32, depth: u32) {
    rocket::tokio::task::yield_now().await;
    tracing::info!(request, depth, "leaf");
}

#[tracing::instrument]
async fn branch(request: u32) {
    for depth in 0..2 {
        leaf(request, depth).await;
    }
}

#[get("/concurrent/<request>")]
async fn concurrent(request: u32) -> String {
    branch(request).await;
    request.to_string()
}

#[test]
fn concurrent_requests_on_one_thread_never_mix_their_spans() {
    const REQUESTS: u32 = 100;
    let spans = run_with(TracingLayer::new(), async {
        let (client, rx) = client(true, "", instrument(routes![concurrent])).await;
        let responses = join_all((0..REQUESTS).map(|i| {
            let client = &client;
            async move {
                let response = client.get(format!("/concurrent/{i}")).dispatch().await;
                response.into_string().await.unwrap()
            }
        }))
        .await;
        assert_eq!(
            responses,
            (0..REQUESTS).map(|i| i.to_string()).collect::<Vec<_>>()
        );
        common::drain(&rx)
    });
    assert_eq!(spans.len(), REQUESTS as usize * 4);
    let mut traces: BTreeMap<String, Vec<&FinishedSpan>> = BTreeMap::new();
    for span in &spans {
        traces.entry(trace(span)).or_default().push(span);
    }
    assert_eq!(traces.len(), REQUESTS as usize);
    let mut seen = BTreeSet::new();
    for spans in traces.values() {
        let request = spans
            .iter()
            .find(|s| s.operation_name() == "GET /concurrent/<request>")
            .expect("the request span");
        let url = match common::tag(request, "http.url") {
            Some(TagValue::String(url)) => url.to_string(),
            other => panic!("{other:?}"),
        };
        let n: i64 = url.rsplit('/').next().unwrap().parse().unwrap();
        assert!(seen.insert(n));
        let branch = spans
            .iter()
            .find(|s| s.operation_name() == "branch")
            .unwrap();
        assert_eq!(common::parent_id(branch), Some(id(request)));
        assert_eq!(common::tag(branch, "request"), Some(TagValue::Integer(n)));
        let leaves: Vec<_> = spans
            .iter()
            .filter(|s| s.operation_name() == "leaf")
            .collect();
        assert_eq!(leaves.len(), 2);
        for leaf in leaves {
            assert_eq!(common::parent_id(leaf), Some(id(branch)));
            assert_eq!(common::tag(leaf, "request"), Some(TagValue::Integer(n)));
            assert_eq!(logs(leaf)[0]["request"], n.to_string());
        }
    }
}

// --- what records nothing ------------------------------------------------------

#[get("/quiet")]
async fn quiet() -> &'static str {
    order(1).await;
    "quiet"
}

#[test]
fn an_unsampled_request_records_nothing() {
    let (body, spans) = run_with(
        TracingLayer::new(),
        get(false, "", instrument(routes![quiet]), "/quiet"),
    );
    assert_eq!(body, "quiet");
    assert!(spans.is_empty(), "{spans:#?}");
}

#[test]
fn spans_outside_any_request_record_nothing() {
    let spans = run_with(TracingLayer::new(), async {
        // Not instrumented: the handler's spans have no request span above.
        let (client, rx) = client(true, "", routes![quiet]).await;
        order(3).await;
        tracing::info_span!("outside").in_scope(|| tracing::info!("event"));
        let response = client.get("/quiet").dispatch().await;
        assert_eq!(response.into_string().await.unwrap(), "quiet");
        common::drain(&rx)
    });
    // The request span alone, without logs.
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].operation_name(), "GET /quiet");
    assert!(spans[0].logs().is_empty());
}

#[get("/skipped")]
async fn skipped() -> &'static str {
    order(1).await;
    "skipped"
}

#[test]
fn a_request_not_traced_runs_its_instrumented_handler_without_spans() {
    let (body, spans) = run_with(
        TracingLayer::new(),
        get(
            true,
            "[default.opentracing]\nskip_paths = [\"/skipped\"]\n",
            instrument(routes![skipped]),
            "/skipped",
        ),
    );
    assert_eq!(body, "skipped");
    assert!(spans.is_empty(), "{spans:#?}");
}

// --- references, OpenTelemetry fields, limits -----------------------------------

#[get("/follows")]
fn follows() -> &'static str {
    let first = tracing::info_span!("produce");
    first.in_scope(|| tracing::info!("produced"));
    let second = tracing::info_span!("consume");
    second.follows_from(&first);
    drop(first);
    drop(second);
    "ok"
}

#[test]
fn follows_from_between_tracing_spans_is_a_follows_from_reference() {
    let (_, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![follows]), "/follows"),
    );
    let request = one(&spans, "GET /follows");
    let produce = one(&spans, "produce");
    let consume = one(&spans, "consume");
    let references = consume.references();
    assert_eq!(references.len(), 2, "{references:?}");
    assert!(references[0].is_child_of());
    assert_eq!(references[0].span().span_id(), id(request));
    assert!(references[1].is_follows_from());
    assert_eq!(references[1].span().span_id(), id(produce));
    assert_eq!(produce.references().len(), 1);
}

#[get("/otel")]
fn otel() -> &'static str {
    let span = tracing::info_span!(
        "call",
        otel.name = tracing::field::Empty,
        otel.kind = "CLIENT",
        otel.status_code = tracing::field::Empty,
        peer.service = "billing",
    );
    span.record("otel.name", "POST /charge");
    span.record("otel.status_code", "ERROR");
    drop(span);
    let failed = tracing::info_span!("check", error = true);
    drop(failed);
    "ok"
}

#[test]
fn otel_fields_name_kind_and_fail_a_span() {
    let (_, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![otel]), "/otel"),
    );
    let call = one(&spans, "POST /charge");
    let tags = common::tags(call);
    assert_eq!(tags["span.kind"], common::s("client"));
    assert_eq!(tags["error"], TagValue::Boolean(true));
    assert_eq!(tags["peer.service"], common::s("billing"));
    assert!(!tags.keys().any(|k| k.starts_with("otel.")), "{tags:?}");
    let check = one(&spans, "check");
    assert_eq!(common::tag(check, "error"), Some(TagValue::Boolean(true)));
}

#[get("/limits")]
fn limits() -> &'static str {
    let span = tracing::info_span!("chatty", long = "0123456789abcdef");
    let _entered = span.enter();
    for i in 0..5 {
        tracing::info!(i, text = "0123456789abcdef", "event");
    }
    "ok"
}

#[test]
fn limits_apply_to_bridged_spans() {
    let toml = "[default.opentracing]\nmax_logs_per_span = 2\nmax_tag_value_length = 8\n";
    let (_, spans) = run_with(
        TracingLayer::new(),
        get(true, toml, instrument(routes![limits]), "/limits"),
    );
    let chatty = one(&spans, "chatty");
    let tags = common::tags(chatty);
    assert_eq!(tags["long"], common::s("01234567...[truncated]"));
    assert_eq!(
        tags["rocket_opentracing.dropped_logs"],
        TagValue::Integer(3)
    );
    assert_eq!(chatty.logs().len(), 2);
    assert_eq!(logs(chatty)[1]["text"], "01234567...[truncated]");
    assert_eq!(logs(chatty)[1]["i"], "1");
}

// --- ActiveSpan::instrument / in_scope, opt-in mode -----------------------------

#[get("/manual")]
async fn manual(span: ActiveSpan<'_>) -> String {
    // (`tracing::Instrument`, in scope here, has an `instrument` method
    // for every type: the guard's is called by its path.)
    let total = ActiveSpan::instrument(&span, order(1)).await;
    span.in_scope(|| tracing::info_span!("sync").in_scope(|| tracing::info!("inside")));
    total.to_string()
}

#[test]
fn active_span_instrument_and_in_scope_bind_to_the_request_span() {
    // Not wrapped by `instrument`: the guard does it, in opt-in mode too.
    for toml in ["", "[default.opentracing]\nmode = \"opt_in\"\n"] {
        let (body, spans) = run_with(
            TracingLayer::new(),
            get(true, toml, routes![manual], "/manual"),
        );
        assert_eq!(body, "10");
        let request = one(&spans, "GET /manual");
        let order = one(&spans, "order");
        let sync = one(&spans, "sync");
        assert_eq!(common::parent_id(order), Some(id(request)));
        assert_eq!(common::parent_id(sync), Some(id(request)));
        assert_eq!(logs(sync)[0]["message"], "inside");
        assert_eq!(spans.len(), 4, "{spans:#?}");
    }
}

#[get("/asks")]
async fn asks() -> &'static str {
    order(1).await;
    "asks"
}

#[get("/plain")]
async fn plain() -> &'static str {
    order(1).await;
    "plain"
}

#[test]
fn in_opt_in_mode_an_instrumented_route_asks_for_its_span() {
    let toml = "[default.opentracing]\nmode = \"opt_in\"\n";
    let spans = run_with(TracingLayer::new(), async {
        let mut routes = instrument(routes![asks]);
        routes.extend(routes![plain]);
        let (client, rx) = client(true, toml, routes).await;
        for uri in ["/asks", "/plain"] {
            client.get(uri).dispatch().await;
        }
        common::drain(&rx)
    });
    let names: BTreeSet<_> = spans.iter().map(|s| s.operation_name()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["GET /asks", "order", "price"]),
        "{spans:#?}"
    );
}

// --- a crate's own instrumentation ------------------------------------------------

#[get("/tower")]
async fn tower_route() -> String {
    use tower::{Service, ServiceBuilder, ServiceExt};
    let mut service = ServiceBuilder::new()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service_fn(|_request: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("inner")))
        });
    let request = http::Request::get("/inner").body(String::new()).unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    response.status().to_string()
}

#[test]
fn a_crates_own_tracing_instrumentation_lands_in_the_trace() {
    let (body, spans) = run_with(
        TracingLayer::new(),
        get(true, "", instrument(routes![tower_route]), "/tower"),
    );
    assert_eq!(body, "200 OK");
    let request = one(&spans, "GET /tower");
    // tower-http's `TraceLayer` makes a `request` span (method, uri,
    // version) and logs the response in it.
    let inner = one(&spans, "request");
    assert_eq!(common::parent_id(inner), Some(id(request)));
    let tags = common::tags(inner);
    assert_eq!(tags["method"], common::s("GET"));
    assert_eq!(tags["uri"], common::s("/inner"));
    let logs = logs(inner);
    assert!(
        logs.iter()
            .any(|log| log["message"] == "finished processing request"
                && log["target"].starts_with("tower_http")),
        "{logs:?}"
    );
}

// --- the ids in every log line ------------------------------------------------------

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[get("/logged")]
async fn logged() -> &'static str {
    order(1).await;
    tracing::info!("done");
    "logged"
}

#[test]
fn every_log_line_inside_a_request_names_its_trace() {
    let lines = Lines::default();
    let writer = lines.clone();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || writer.clone());
    let dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(fmt)
            .with(TracingLayer::new()),
    );
    for sampled in [true, false] {
        lines.0.lock().unwrap().clear();
        let (header, spans) = run_under(dispatch.clone(), async {
            let (client, rx) = client(sampled, "", instrument(routes![logged])).await;
            let response = client.get("/logged").dispatch().await;
            let header = response.headers().get_one("X-Trace-Id").map(str::to_owned);
            (header, common::drain(&rx))
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        // Both events, `priced` and `done`, name the request's trace and
        // span.
        let ids: BTreeSet<_> = text
            .lines()
            .map(|line| {
                let ids = line.split_once("request{").expect("in the request span").1;
                ids.split_once('}').unwrap().0.to_owned()
            })
            .collect();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(ids.len(), 1, "{text}");
        let ids = ids.into_iter().next().unwrap();
        if sampled {
            // As the response header says, and the span reported.
            let request = one(&spans, "GET /logged");
            let expected = format!("trace_id={} span_id={:016x}", header.unwrap(), id(request));
            assert_eq!(ids, expected);
        } else {
            // Unsampled: the ids are in the lines, nothing is recorded (and
            // no header is sent).
            assert!(spans.is_empty());
            assert!(header.is_none());
            let (trace_id, span_id) = ids.split_once(' ').unwrap();
            let hex =
                |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
            let trace_id = trace_id.strip_prefix("trace_id=").unwrap();
            assert!(hex(trace_id, 32) || hex(trace_id, 16), "{ids}");
            assert!(hex(span_id.strip_prefix("span_id=").unwrap(), 16), "{ids}");
        }
    }
}

// --- the fairing's own reporter ------------------------------------------------------

#[test]
fn with_the_fairings_reporter_the_spans_reach_the_agent() {
    let agent = Agent::bind();
    let toml = format!(
        "[default.opentracing]\nservice_name = \"svc\"\nagent_port = {}\nflush_interval_ms = 20\n",
        agent.port()
    );
    run_with(TracingLayer::new(), async {
        let client = common::client_with(
            &toml,
            OpenTracingFairing::from_config(),
            instrument(routes![order_route, follows]),
        )
        .await;
        for uri in ["/order/2", "/follows"] {
            client.get(uri).dispatch().await;
        }
    });
    let batches = agent.receive(7, Duration::from_secs(5));
    let spans = all_spans(&batches);
    assert_eq!(spans.len(), 7);
    let by_name = |name: &str| -> Vec<_> {
        spans
            .iter()
            .filter(|s| span_name(s) == name)
            .copied()
            .collect()
    };
    let span_id = |s: &thrift_codec::data::Struct| as_i64(field(s, 3));
    let parent = |s: &thrift_codec::data::Struct| as_i64(field(s, 4));
    let trace_low = |s: &thrift_codec::data::Struct| as_i64(field(s, 1));
    let tag = |s: &thrift_codec::data::Struct, key: &str| {
        as_structs(field(s, 10))
            .iter()
            .find(|t| as_string(field(t, 1)) == key)
            .cloned()
    };

    let request = by_name("GET /order/<items>")[0];
    let order = by_name("order")[0];
    assert_eq!(parent(order), span_id(request));
    assert_eq!(trace_low(order), trace_low(request));
    let items = tag(order, "items").expect("the items tag");
    assert_eq!(as_i64(field(&items, 6)), 2);
    let total = tag(order, "total").expect("the total tag");
    assert_eq!(as_i64(field(&total, 6)), 30);
    let prices = by_name("price");
    assert_eq!(prices.len(), 2);
    for price in &prices {
        assert_eq!(parent(price), span_id(order));
        // One log: message, level, target, item (sorted by name).
        let logs = as_structs(field(price, 11));
        assert_eq!(logs.len(), 1);
        let names: Vec<_> = as_structs(field(&logs[0], 2))
            .iter()
            .map(|f| as_string(field(f, 1)))
            .collect();
        assert_eq!(names, ["item", "level", "message", "target"]);
    }
    // The handler's event is the request span's log.
    assert_eq!(as_structs(field(request, 11)).len(), 1);

    let consume = by_name("consume")[0];
    let produce = by_name("produce")[0];
    let references = as_structs(field(consume, 6));
    assert_eq!(references.len(), 2);
    // refType 1 = FOLLOWS_FROM, to `produce`.
    assert_eq!(field(&references[1], 1), &thrift_codec::data::Data::I32(1));
    assert_eq!(as_i64(field(&references[1], 4)), span_id(produce));
}

#[get("/noisy")]
fn noisy() -> rocket::http::Status {
    for i in 0..4 {
        tracing::info!(i, "noise");
    }
    rocket::http::Status::InternalServerError
}

#[test]
fn logs_left_out_of_a_request_span_are_counted_once() {
    // Two of the handler's four events are kept (the limit), two counted;
    // the 500's error log is one more than the limit, left out when the
    // span is encoded: one tag counts the three.
    let agent = Agent::bind();
    let toml = format!(
        "[default.opentracing]\nagent_port = {}\nflush_interval_ms = 20\nmax_logs_per_span = 2\n",
        agent.port()
    );
    run_with(TracingLayer::new(), async {
        let client = common::client_with(
            &toml,
            OpenTracingFairing::from_config(),
            instrument(routes![noisy]),
        )
        .await;
        client.get("/noisy").dispatch().await;
    });
    let batches = agent.receive(1, Duration::from_secs(5));
    let spans = all_spans(&batches);
    assert_eq!(spans.len(), 1);
    let logs = as_structs(field(spans[0], 11));
    assert_eq!(logs.len(), 2);
    let dropped: Vec<_> = as_structs(field(spans[0], 10))
        .iter()
        .filter(|t| as_string(field(t, 1)) == "rocket_opentracing.dropped_logs")
        .map(|t| as_i64(field(t, 6)))
        .collect();
    assert_eq!(dropped, [3]);
}

#[get("/exported")]
async fn exported() -> &'static str {
    order(1).await;
    let call = tracing::info_span!("call", otel.kind = "client", peer.service = "billing");
    call.follows_from(tracing::Span::current().id());
    call.in_scope(|| tracing::warn!(attempt = 2, "slow"));
    "ok"
}

#[test]
fn exported_over_otlp_the_spans_keep_their_parents_attributes_events_and_links() {
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    let receiver = OtlpReceiver::bind();
    let toml = format!(
        "[default.opentracing]\nservice_name = \"svc\"\notlp_endpoint = \"{}\"\nflush_interval_ms = 20\n",
        receiver.base_url()
    );
    run_with(TracingLayer::new(), async {
        let client = common::client_with(
            &toml,
            OpenTracingFairing::from_config(),
            instrument(routes![exported]),
        )
        .await;
        client.get("/exported").dispatch().await;
    });
    let exports = receiver.receive(4, Duration::from_secs(5));
    let spans: Vec<_> = exports.iter().flat_map(|e| e.spans()).collect();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let by_name = |name: &str| *spans.iter().find(|s| s.name == name).unwrap();
    let request = by_name("GET /exported");
    let order = by_name("order");
    let price = by_name("price");
    let call = by_name("call");
    for span in [order, price, call] {
        assert_eq!(span.trace_id, request.trace_id);
    }
    assert_eq!(order.parent_span_id, request.span_id);
    assert_eq!(price.parent_span_id, order.span_id);
    assert_eq!(call.parent_span_id, request.span_id);
    assert_eq!(order.kind, SpanKind::Internal as i32);
    assert_eq!(call.kind, SpanKind::Client as i32);
    assert_eq!(int_attr(&order.attributes, "items"), Some(1));
    assert_eq!(int_attr(&order.attributes, "total"), Some(10));
    assert_eq!(keys(&call.attributes), ["peer.service"]);
    assert_eq!(str_attr(&call.attributes, "peer.service"), Some("billing"));
    // The event, named by its message; a follows_from link to the request
    // span (the `tracing` span it follows is the request's own).
    assert_eq!(call.events.len(), 1);
    assert_eq!(call.events[0].name, "slow");
    // (Log fields are text, in OpenTracing.)
    assert_eq!(str_attr(&call.events[0].attributes, "attempt"), Some("2"));
    assert_eq!(str_attr(&call.events[0].attributes, "level"), Some("WARN"));
    assert_eq!(call.links.len(), 1);
    assert_eq!(call.links[0].span_id, request.span_id);
    assert_eq!(
        str_attr(&call.links[0].attributes, "opentracing.ref_type"),
        Some("follows_from")
    );
}
