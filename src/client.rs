//! Outgoing calls with reqwest: a client span per call, its context
//! injected into the request headers.
//!
//! ```no_run
//! use rocket::get;
//! use rocket_opentracing::client::TracedRequest;
//! use rocket_opentracing::ActiveSpan;
//!
//! #[get("/call/<name>")]
//! async fn call(name: &str, span: ActiveSpan<'_>) -> Option<String> {
//!     let url = format!("http://127.0.0.1:8000/hello/{name}");
//!     let response = reqwest::Client::new().get(url).send_traced(&span).await.ok()?;
//!     response.text().await.ok()
//! }
//! ```
//!
//! [`TracedRequest::send_traced`] starts a child of the request span named
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
use rustracing_jaeger::Span;

use crate::guard::ActiveSpan;
use crate::redact::without_credentials;

/// Sends a reqwest request inside a client span of the current request.
pub trait TracedRequest {
    /// What sending yields: a future of the response for async reqwest,
    /// the response itself for blocking reqwest.
    type Output;

    /// Sends the request inside a client span named `"{METHOD} {host}:{port}"`,
    /// child of `span`; see the [module docs](self).
    fn send_traced(self, span: &ActiveSpan<'_>) -> Self::Output;

    /// Like [`TracedRequest::send_traced`], naming the client span.
    fn send_traced_as(self, span: &ActiveSpan<'_>, operation_name: &str) -> Self::Output;
}

impl TracedRequest for reqwest::RequestBuilder {
    type Output =
        std::pin::Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send>>;

    fn send_traced(self, span: &ActiveSpan<'_>) -> Self::Output {
        send_async(self, span, None)
    }

    fn send_traced_as(self, span: &ActiveSpan<'_>, operation_name: &str) -> Self::Output {
        send_async(self, span, Some(operation_name))
    }
}

impl TracedRequest for reqwest::blocking::RequestBuilder {
    type Output = reqwest::Result<reqwest::blocking::Response>;

    fn send_traced(self, span: &ActiveSpan<'_>) -> Self::Output {
        send_blocking(self, span, None)
    }

    fn send_traced_as(self, span: &ActiveSpan<'_>, operation_name: &str) -> Self::Output {
        send_blocking(self, span, Some(operation_name))
    }
}

fn send_async(
    builder: reqwest::RequestBuilder,
    span: &ActiveSpan<'_>,
    name: Option<&str>,
) -> <reqwest::RequestBuilder as TracedRequest>::Output {
    let (client, request) = builder.build_split();
    let mut request = match request {
        Ok(request) => request,
        Err(error) => return Box::pin(async move { Err(error) }),
    };
    let (mut child, headers) = start(span, request.method(), request.url(), name);
    inject(request.headers_mut(), headers);
    Box::pin(async move {
        let result = client.execute(request).await;
        record(&mut child, result.as_ref().map(reqwest::Response::status));
        result
    })
}

fn send_blocking(
    builder: reqwest::blocking::RequestBuilder,
    span: &ActiveSpan<'_>,
    name: Option<&str>,
) -> reqwest::Result<reqwest::blocking::Response> {
    let (client, request) = builder.build_split();
    let mut request = request?;
    let (mut child, headers) = start(span, request.method(), request.url(), name);
    inject(request.headers_mut(), headers);
    let result = client.execute(request);
    record(
        &mut child,
        result.as_ref().map(reqwest::blocking::Response::status),
    );
    result
}

/// Starts the client span (inactive when not sampled); returns it with the
/// propagation headers to send.
fn start(
    span: &ActiveSpan<'_>,
    method: &Method,
    url: &Url,
    name: Option<&str>,
) -> (Span, Vec<(String, String)>) {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default();
    let operation_name = match (name, port) {
        (Some(name), _) => name.to_owned(),
        (None, Some(port)) => format!("{method} {host}:{port}"),
        (None, None) => format!("{method} {host}"),
    };
    let child = span.child_with(operation_name, |options| {
        let options = options
            .tag(Tag::new("span.kind", "client"))
            .tag(Tag::new("component", "reqwest"))
            .tag(Tag::new("http.method", method.as_str().to_owned()))
            .tag(Tag::new("http.url", recorded_url(span, url)))
            .tag(Tag::new("peer.hostname", host));
        match port {
            Some(port) => options.tag(Tag::new("peer.port", i64::from(port))).start(),
            None => options.start(),
        }
    });
    let headers = span.headers_for(&child);
    (child, headers)
}

/// The `http.url` of a client span: the URL without credentials, its query
/// as configured (`strip_query`, `redact_query_params`).
fn recorded_url(span: &ActiveSpan<'_>, url: &Url) -> String {
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
fn record(child: &mut Span, outcome: Result<StatusCode, &reqwest::Error>) {
    if !child.is_sampled() {
        return;
    }
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
