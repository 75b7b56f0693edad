//! The `tracing` bridge: `tracing` spans and events inside a request.

#![cfg(feature = "tracing")]

mod common;

use std::sync::Once;

use rocket::{get, routes};
use rocket_opentracing::{instrument, ActiveSpan, OpenTracingFairing, TracingLayer};
use tracing_subscriber::prelude::*;

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::registry()
            .with(TracingLayer::new().error_events_mark_spans(true))
            .init();
    });
}

#[tracing::instrument]
async fn inner(n: u32) -> u32 {
    tracing::info!(n, "inner");
    n + 1
}

#[tracing::instrument(fields(extra = tracing::field::Empty))]
async fn outer() -> u32 {
    tracing::Span::current().record("extra", 42);
    let a = inner(1).await;
    tokio_yield().await;
    inner(a).await
}

async fn tokio_yield() {
    rocket::tokio::task::yield_now().await;
}

#[get("/work")]
async fn work() -> String {
    tracing::warn!("in handler");
    outer().await.to_string()
}

#[rocket::async_test]
async fn smoke() {
    install();
    let (tracer, rx) = common::tracer();
    let client = common::client(OpenTracingFairing::all(tracer), instrument(routes![work])).await;
    let body = client
        .get("/work")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert_eq!(body, "3");
    let spans = common::drain(&rx);
    for span in &spans {
        eprintln!(
            "{} {:x} parent {:?} tags {:?} logs {:?}",
            span.operation_name(),
            span.context().state().span_id(),
            common::parent_id(span),
            common::tags(span),
            span.logs()
        );
    }
    assert_eq!(spans.len(), 4);
}
