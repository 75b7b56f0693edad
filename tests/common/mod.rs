//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod agent;
pub mod collector;
pub mod logs;
pub mod otlp;
pub mod reporting;
pub mod server;
#[cfg(feature = "viewer")]
pub mod viewer;

use std::collections::BTreeMap;

use rocket::figment::Figment;
use rocket::local::asynchronous::Client;
use rocket::{Build, Rocket, Route};
use rocket_opentracing::rustracing::sampler::{AllSampler, Sampler};
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::rustracing_jaeger::span::{FinishedSpan, SpanContextState, SpanReceiver};
use rocket_opentracing::rustracing_jaeger::Tracer;
use rocket_opentracing::OpenTracingFairing;

/// A tracer sampling everything, and the receiver of its finished spans.
pub fn tracer() -> (Tracer, SpanReceiver) {
    tracer_sampling(AllSampler)
}

/// A tracer sampling new traces with `sampler`, and its span receiver.
pub fn tracer_sampling<S>(sampler: S) -> (Tracer, SpanReceiver)
where
    S: Sampler<SpanContextState> + Send + Sync + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded(1000);
    (Tracer::with_sender(sampler, tx), rx)
}

/// A Rocket with the default configuration, ignoring the repository's
/// `Rocket.toml` (tests stay hermetic).
pub fn rocket() -> Rocket<Build> {
    rocket::custom(Figment::from(rocket::Config::debug_default()))
}

/// A hermetic Rocket whose configuration is `toml` (nested by profile,
/// e.g. a `[default.opentracing]` section).
pub fn rocket_with(toml: &str) -> Rocket<Build> {
    use rocket::figment::providers::{Format, Toml};
    let figment = Figment::from(rocket::Config::debug_default())
        .merge(("log_level", "off"))
        .merge(Toml::string(toml).nested());
    rocket::custom(figment)
}

/// A tracked client for `routes` with `fairing` attached, configured by
/// `toml` (see [`rocket_with`]).
pub async fn client_with(toml: &str, fairing: OpenTracingFairing, routes: Vec<Route>) -> Client {
    Client::tracked(rocket_with(toml).attach(fairing).mount("/", routes))
        .await
        .expect("rocket ignites")
}

/// A tracked client for `routes` with `fairing` attached.
pub async fn client(fairing: OpenTracingFairing, routes: Vec<Route>) -> Client {
    Client::tracked(rocket().attach(fairing).mount("/", routes))
        .await
        .expect("rocket ignites")
}

/// Every span finished so far.
pub fn drain(rx: &SpanReceiver) -> Vec<FinishedSpan> {
    rx.try_iter().collect()
}

/// The one span finished so far (fails if there are more or none).
pub fn only_span(rx: &SpanReceiver) -> FinishedSpan {
    let mut spans = drain(rx);
    assert_eq!(
        spans.len(),
        1,
        "expected one span, got {}: {spans:#?}",
        spans.len()
    );
    spans.remove(0)
}

/// A span's tags by name.
pub fn tags(span: &FinishedSpan) -> BTreeMap<String, TagValue> {
    span.tags()
        .iter()
        .map(|t| (t.name().to_owned(), t.value().clone()))
        .collect()
}

/// A tag's value.
pub fn tag(span: &FinishedSpan, name: &str) -> Option<TagValue> {
    tags(span).remove(name)
}

/// A string tag value.
pub fn s(value: &str) -> TagValue {
    TagValue::String(value.to_owned().into())
}

/// The span id of `span`'s first reference (its parent), if any.
pub fn parent_id(span: &FinishedSpan) -> Option<u64> {
    span.references().first().map(|r| r.span().span_id())
}

/// A log's fields as (name, value) pairs.
pub fn log_fields(span: &FinishedSpan, index: usize) -> BTreeMap<String, String> {
    span.logs()[index]
        .fields()
        .iter()
        .map(|f| (f.name().to_owned(), f.value().to_owned()))
        .collect()
}

/// Asserts that a Rocket configured by `toml` (see [`rocket_with`]) with the
/// tracing fairing refuses to ignite, the fairing failing.
pub async fn assert_refuses_ignition(toml: &str) {
    let (tracer, _rx) = tracer();
    let rocket = rocket_with(toml).attach(OpenTracingFairing::all(tracer));
    let error = rocket.ignite().await.expect_err("ignition refused");
    // (Inspecting the error also keeps Rocket from panicking on its drop.)
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(f) if f[0].name == "OpenTracing"),
        "{error:?}"
    );
}

/// Percent-encodes a URL for a query parameter.
pub fn urlencode(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.local_addr().unwrap().port()
}
