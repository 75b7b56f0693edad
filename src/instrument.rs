//! [`instrument`]: routes whose handlers run inside their request's
//! `tracing` span (feature `tracing`).

use rocket::route::{Handler, Outcome, Route};
use rocket::{Data, Request};
use tracing::Instrument;

use crate::guard::ActiveSpan;

/// Wraps each route's handler so that it runs inside its request's
/// `tracing` span ([`ActiveSpan::tracing_span`]): with a
/// [`TracingLayer`](crate::TracingLayer) installed, the `tracing` spans and
/// events of the handler (and of the instrumented code it awaits) land in
/// the request's trace, and every log line inside the request carries its
/// `trace_id` and `span_id`.
///
/// ```rust
/// use rocket::{get, routes};
///
/// #[tracing::instrument]
/// async fn load(id: u32) -> String {
///     tracing::info!(id, "loading");
///     format!("item {id}")
/// }
///
/// #[get("/items/<id>")]
/// async fn item(id: u32) -> String {
///     load(id).await
/// }
///
/// let rocket = rocket::build()
///     .attach(rocket_opentracing::OpenTracingFairing::from_config())
///     .mount("/", rocket_opentracing::instrument(routes![item]));
/// ```
///
/// The handler runs as it would otherwise: same guards, same response,
/// same errors. In opt-in mode an instrumented route asks for its span,
/// as a route taking [`ActiveSpan`] does. A request that is not traced
/// (no fairing, a skipped path, tracing disabled) runs without a span.
pub fn instrument(routes: Vec<Route>) -> Vec<Route> {
    routes
        .into_iter()
        .map(|mut route| {
            route.handler = Box::new(InSpan(route.handler));
            route
        })
        .collect()
}

/// A handler run inside its request's `tracing` span.
#[derive(Clone)]
struct InSpan(Box<dyn Handler>);

#[rocket::async_trait]
impl Handler for InSpan {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        let span = ActiveSpan::of(req);
        let tracing_span = span.tracing_span();
        // `span` lives through the handler: a panic is recorded on the
        // request span, as when the handler holds the guard itself.
        let outcome = self.0.handle(req, data).instrument(tracing_span).await;
        drop(span);
        outcome
    }
}
