//! The example server: every request becomes a span.
//!
//! ```sh
//! cargo run --example server
//! curl http://127.0.0.1:8000/hello/alice
//! curl http://127.0.0.1:8000/log
//! curl http://127.0.0.1:8000/error
//! ```
//!
//! With no Jaeger running, the spans are printed on the console (the
//! repository's `Rocket.toml` turns on `log_spans`). With a Jaeger agent on
//! 127.0.0.1:6831 (or `JAEGER_AGENT_HOST`/`JAEGER_AGENT_PORT`), they appear
//! in the Jaeger UI under the service `server`. Ctrl-C or SIGTERM shuts down
//! gracefully, delivering the queued spans first.

use rocket::http::Status;
use rocket::{get, launch, routes};
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

/// `GET /hello/<name>`: a plain route; traced all the same.
#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

/// `GET /log`: opens a child span of the request span and logs an event to it.
#[get("/log")]
fn log(span: ActiveSpan<'_>) -> &'static str {
    let mut child = span.child("log");
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

/// The example's routes (the end-to-end test serves these same routes).
pub fn routes() -> Vec<rocket::Route> {
    routes![hello, log, error]
}

#[launch]
fn rocket() -> _ {
    rocket::build()
        .attach(OpenTracingFairing::from_config())
        .mount("/", routes())
}
