//! The example server: every request becomes a span.
//!
//! ```sh
//! cargo run --example server
//! curl http://127.0.0.1:8000/hello/alice
//! curl http://127.0.0.1:8000/log
//! curl http://127.0.0.1:8000/error
//! curl http://127.0.0.1:8000/work
//! ```
//!
//! Then open <http://127.0.0.1:8000/_traces/>: the repository's `Rocket.toml`
//! turns on the in-app trace viewer, which lists the recent traces and draws
//! each as a waterfall. With no Jaeger running, the spans are also printed on
//! the console (`log_spans`). With a Jaeger agent on
//! 127.0.0.1:6831 (or `JAEGER_AGENT_HOST`/`JAEGER_AGENT_PORT`), they appear
//! in the Jaeger UI under the service `server`. Ctrl-C or SIGTERM shuts down
//! gracefully, delivering the queued spans first.
//!
//! `/work` also runs `tracing`-instrumented code: a `tracing` subscriber
//! prints its events on the console, each line naming the request's
//! `trace_id` and `span_id`, and [`TracingLayer`] records its spans and
//! events in the request's trace.

use std::time::Duration;

use rocket::http::Status;
use rocket::tokio::time::sleep;
use rocket::{get, launch, routes, Route};
use rocket_opentracing::rustracing::tag::Tag;
#[cfg(feature = "tracing")]
use rocket_opentracing::TracingLayer;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

/// `GET /hello/<name>`: a plain route; traced all the same.
#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

/// `GET /log`: opens a child span of the request span and logs an event to it.
#[get("/log")]
fn log(span: ActiveSpan<'_>) -> &'static str {
    let child = span.child("log");
    child.log(|log| {
        log.std()
            .event("log")
            .message("an event logged on a child span");
    });
    "log"
}

/// `GET /error`: answers 500; the span carries `error=true`.
#[get("/error")]
fn error() -> Status {
    Status::InternalServerError
}

/// `GET /work`: a request doing some work, two steps of which fail (the
/// request still succeeds). Child spans of its `ActiveSpan` first, then
/// `#[tracing::instrument]` functions, which the `tracing` bridge records in
/// the same trace (the route is mounted with
/// [`rocket_opentracing::instrument`]):
///
/// ```text
/// GET /work
/// ├── load
/// │   └── db.query
/// ├── cache.refresh      error=true
/// └── load_order         (a `tracing` span, as are its children)
///     ├── query_db
///     └── fetch_price    error=true
/// ```
#[get("/work")]
async fn work(span: ActiveSpan<'_>) -> String {
    {
        let load = span.child("load");
        let query = load.child_with("db.query", |options| {
            options
                .tag(Tag::new("db.type", "sql"))
                .tag(Tag::new(
                    "db.statement",
                    "SELECT * FROM items WHERE owner = ?",
                ))
                .start()
        });
        sleep(Duration::from_millis(3)).await;
        query.set_tag("db.rows", 3i64);
    }
    {
        let refresh = span.child("cache.refresh");
        sleep(Duration::from_millis(1)).await;
        refresh.set_error("cache unavailable: connection refused");
    }
    let order_id = 7;
    let total = load_order(order_id).await;
    // Directly in the handler: a log on the request span.
    tracing::info!(order_id, total, "order loaded");
    format!("order {order_id}: {total} cents")
}

/// An order's total, in cents: its items from the database, priced by the
/// price service, or from the catalogue when that fails.
#[tracing::instrument]
async fn load_order(order_id: u64) -> u64 {
    let items = query_db(order_id).await;
    match fetch_price(items).await {
        Ok(total) => total,
        Err(error) => {
            tracing::warn!(%error, "priced from the catalogue instead");
            u64::from(items) * 250
        }
    }
}

/// The number of items of an order. `db.rows` is recorded once known.
#[tracing::instrument(fields(
    db.system = "sqlite",
    db.statement = "SELECT count(*) FROM items WHERE order_id = ?",
    db.rows = tracing::field::Empty,
))]
async fn query_db(order_id: u64) -> u32 {
    sleep(Duration::from_millis(2)).await;
    let rows = 3;
    tracing::Span::current().record("db.rows", rows);
    tracing::info!(rows, "items counted");
    rows
}

/// The price of `items` from the price service, which is down: an `ERROR`
/// event (`TracingLayer::error_events_mark_spans` marks the span failed).
#[tracing::instrument(fields(otel.kind = "client", peer.service = "prices"))]
async fn fetch_price(items: u32) -> Result<u64, String> {
    sleep(Duration::from_millis(1)).await;
    let error = "price service unavailable: timed out";
    tracing::error!(error, "no price");
    Err(error.to_owned())
}

/// The example's routes (the end-to-end tests serve these same routes);
/// `/work` runs inside its request's `tracing` span.
pub fn routes() -> Vec<Route> {
    let mut routes = routes![hello, log, error];
    routes.extend(in_tracing_span(routes![work]));
    routes
}

/// `routes`, each handler run inside its request's `tracing` span.
#[cfg(feature = "tracing")]
fn in_tracing_span(routes: Vec<Route>) -> Vec<Route> {
    rocket_opentracing::instrument(routes)
}

/// `routes` as they are: without the library's `tracing` feature (its
/// `--no-default-features` tests compile this file) there is no bridge.
#[cfg(not(feature = "tracing"))]
fn in_tracing_span(routes: Vec<Route>) -> Vec<Route> {
    routes
}

/// The `tracing` subscriber: events at `INFO` and above on the console, and
/// every span and event inside a sampled request in its trace. (A second
/// call, or a subscriber already installed, leaves the first in place.)
#[cfg(feature = "tracing")]
fn install_tracing_subscriber() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;

    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(LevelFilter::INFO))
        .with(TracingLayer::new().error_events_mark_spans(true))
        .try_init();
}

#[cfg(not(feature = "tracing"))]
fn install_tracing_subscriber() {}

#[launch]
fn rocket() -> _ {
    install_tracing_subscriber();
    rocket::build()
        .attach(OpenTracingFairing::from_config())
        .mount("/", routes())
}
