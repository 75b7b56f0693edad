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

use std::time::Duration;

use rocket::http::Status;
use rocket::tokio::time::sleep;
use rocket::{get, launch, routes};
use rocket_opentracing::rustracing::tag::Tag;
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

/// `GET /work`: a request doing some work in nested child spans, one of
/// which fails (the request still succeeds):
///
/// ```text
/// GET /work
/// ├── load
/// │   └── db.query
/// └── cache.refresh   error=true
/// ```
#[get("/work")]
async fn work(span: ActiveSpan<'_>) -> &'static str {
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
    let refresh = span.child("cache.refresh");
    sleep(Duration::from_millis(1)).await;
    refresh.set_error("cache unavailable: connection refused");
    "done"
}

/// The example's routes (the end-to-end tests serve these same routes).
pub fn routes() -> Vec<rocket::Route> {
    routes![hello, log, error, work]
}

#[launch]
fn rocket() -> _ {
    rocket::build()
        .attach(OpenTracingFairing::from_config())
        .mount("/", routes())
}
