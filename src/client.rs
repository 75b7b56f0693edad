//! Outgoing calls with reqwest: a client span per call, its context
//! injected into the request headers.
//!
//! ```no_run
//! use rocket::{get, launch, routes, State};
//! use rocket_opentracing::client::TracedRequest;
//! use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
//!
//! #[get("/call/<name>")]
//! async fn call(name: &str, span: ActiveSpan<'_>, http: &State<reqwest::Client>) -> Option<String> {
//!     let url = format!("http://127.0.0.1:8000/hello/{name}");
//!     let response = http.get(url).send_traced(&span).await.ok()?;
//!     response.text().await.ok()
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     rocket::build()
//!         .attach(OpenTracingFairing::from_config())
//!         .manage(reqwest::Client::new()) // one client, its connections reused
//!         .mount("/", routes![call])
//! }
//! ```
//!
//! The parent may be the request's [`ActiveSpan`] or any [`ChildSpan`] of it
//! ([`ParentSpan`]), so a call can sit under the step that makes it:
//!
//! ```no_run
//! use rocket::{get, State};
//! use rocket_opentracing::client::TracedRequest;
//! use rocket_opentracing::ActiveSpan;
//!
//! #[get("/report")]
//! async fn report(span: ActiveSpan<'_>, http: &State<reqwest::Client>) -> Option<String> {
//!     let fetch = span.child("fetch.prices");
//!     let response = http.get("http://127.0.0.1:8001/prices").send_traced(&fetch).await.ok()?;
//!     response.text().await.ok()
//! }
//! ```
//!
//! [`TracedRequest::send_traced`] starts a child of the given span named
//! `"{METHOD} {host}:{port}"` (e.g. `GET 127.0.0.1:8000`) with the tags
//! `span.kind=client`, `component=reqwest`, `http.method`, `http.url`
//! (never with a user name or password; with `strip_query`, without query
//! or fragment; the values of the `redact_query_params` as `REDACTED`),
//! `peer.hostname` and `peer.port`; injects
//! its context and the request's baggage into the request headers; sends the
//! request; and records `http.status_code`, or `error=true` with an error
//! log on a transport error or a `5xx` answer. The span finishes when the
//! response headers arrive (or the send fails).
//!
//! When the request is traced but not sampled, no span is started, but the
//! request's context still goes downstream so that the decision travels.
//! Without a trace (no fairing, or a skipped path), the request is sent
//! unchanged.
//!
//! [`reqwest::blocking::RequestBuilder`] gets the same method, returning
//! the response directly.

use std::future::Future;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use rustracing::tag::Tag;

use crate::child_span::{ChildSpan, ParentSpan};
#[cfg(doc)]
use crate::guard::ActiveSpan;
use crate::redact::without_credentials;

/// Sends a reqwest request inside a client span, child of the request's
/// [`ActiveSpan`] or of a [`ChildSpan`].
pub trait TracedRequest {
    /// What sending yields: a future of the response for async reqwest,
    /// the response itself for blocking reqwest.
    type Output;

    /// Sends the request inside a client span named `"{METHOD} {host}:{port}"`,
    /// child of `span`; see the [module docs](self).
    fn send_traced(self, span: &impl ParentSpan) -> Self::Output;

    /// Like [`TracedRequest::send_traced`], naming the client span.
    fn send_traced_as(self, span: &impl ParentSpan, operation_name: &str) -> Self::Output;
}

impl TracedRequest for reqwest::RequestBuilder {
    type Output =
        std::pin::Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send>>;

    fn send_traced(self, span: &impl ParentSpan) -> Self::Output {
        send_async(self, span, None)
    }

    fn send_traced_as(self, span: &impl ParentSpan, operation_name: &str) -> Self::Output {
        send_async(self, span, Some(operation_name))
    }
}

impl TracedRequest for reqwest::blocking::RequestBuilder {
    type Output = reqwest::Result<reqwest::blocking::Response>;

    fn send_traced(self, span: &impl ParentSpan) -> Self::Output {
        send_blocking(self, span, None)
    }

    fn send_traced_as(self, span: &impl ParentSpan, operation_name: &str) -> Self::Output {
        send_blocking(self, span, Some(operation_name))
    }
}

fn send_async(
    builder: reqwest::RequestBuilder,
    span: &impl ParentSpan,
    name: Option<&str>,
) -> <reqwest::RequestBuilder as TracedRequest>::Output {
    let (client, request) = builder.build_split();
    let mut request = match request {
        Ok(request) => request,
        Err(error) => return Box::pin(async move { Err(error) }),
    };
    let (child, headers) = start(span, request.method(), request.url(), name);
    inject(request.headers_mut(), headers);
    Box::pin(async move {
        let result = client.execute(request).await;
        record(&child, result.as_ref().map(reqwest::Response::status));
        result
    })
}

fn send_blocking(
    builder: reqwest::blocking::RequestBuilder,
    span: &impl ParentSpan,
    name: Option<&str>,
) -> reqwest::Result<reqwest::blocking::Response> {
    let (client, request) = builder.build_split();
    let mut request = request?;
    let (child, headers) = start(span, request.method(), request.url(), name);
    inject(request.headers_mut(), headers);
    let result = client.execute(request);
    record(
        &child,
        result.as_ref().map(reqwest::blocking::Response::status),
    );
    result
}

/// Starts the client span (inactive when not sampled); returns it with the
/// propagation headers to send.
fn start(
    span: &impl ParentSpan,
    method: &Method,
    url: &Url,
    name: Option<&str>,
) -> (ChildSpan, Vec<(String, String)>) {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default();
    let operation_name = match (name, port) {
        (Some(name), _) => name.to_owned(),
        (None, Some(port)) => format!("{method} {host}:{port}"),
        (None, None) => format!("{method} {host}"),
    };
    // The tags are built only for a child that is sampled.
    let child = span.child_with(operation_name, |options| {
        let options = options
            .tag(Tag::new("span.kind", "client"))
            .tag(Tag::new("component", "reqwest"))
            .tag(Tag::new("http.method", method.as_str().to_owned()))
            .tag(Tag::new("peer.hostname", host));
        match port {
            Some(port) => options.tag(Tag::new("peer.port", i64::from(port))).start(),
            None => options.start(),
        }
    });
    if child.is_sampled() {
        child.set_tag("http.url", recorded_url(&child, url));
    }
    let headers = child.headers();
    (child, headers)
}

/// The `http.url` of a client span: the URL without credentials, its query
/// as configured (`strip_query`, `redact_query_params`).
fn recorded_url(span: &ChildSpan, url: &Url) -> String {
    match span.lifecycle() {
        Some(lifecycle) => lifecycle.query.url(url),
        None => without_credentials(url),
    }
}

/// Adds the propagation headers, replacing any of the same name.
fn inject(headers: &mut HeaderMap, pairs: Vec<(String, String)>) {
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
}

/// Records the outcome on the client span (then dropped: finished).
fn record(child: &ChildSpan, outcome: Result<StatusCode, &reqwest::Error>) {
    if !child.is_sampled() {
        return;
    }
    child.with_span(|span| record_on(span, outcome));
}

fn record_on(child: &mut rustracing_jaeger::Span, outcome: Result<StatusCode, &reqwest::Error>) {
    match outcome {
        Ok(status) => {
            child.set_tag(|| Tag::new("http.status_code", i64::from(status.as_u16())));
            if status.is_server_error() {
                child.set_tag(|| Tag::new("error", true));
            }
        }
        Err(error) => {
            child.set_tag(|| Tag::new("error", true));
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "request"
            };
            let message = error_message(error);
            child.log(|log| {
                log.error().kind(kind).message(message);
            });
        }
    }
}

/// The message of `error`, without its URL (which may carry credentials).
fn error_message(error: &reqwest::Error) -> String {
    let text = error.to_string();
    match error.url() {
        Some(url) => text.replace(url.as_str(), "<url>"),
        None => text,
    }
}
