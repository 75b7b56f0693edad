//! The standard tags of a request span (OpenTracing semantic conventions).
//!
//! At start: `span.kind=server`, `component=rocket`, `http.method`,
//! `http.url` (the request target as received), and `peer.ipv4`/`peer.ipv6`
//! with `peer.port` when Rocket knows the client's address. At finish:
//! `http.status_code`, and for a 5xx response `error=true` with one log entry
//! `event=error`, `error.kind=http`, `message=<status>`. A 4xx is not an error.

use rocket::http::Status;
use rocket::Request;
use rustracing::tag::StdTag;
use rustracing_jaeger::span::StartSpanOptions;
use rustracing_jaeger::Span;

/// The value of the `component` tag.
pub const COMPONENT: &str = "rocket";

/// Adds the request tags to the options of a span being started.
pub(crate) fn request_tags<'a>(
    mut options: StartSpanOptions<'a>,
    req: &Request<'_>,
) -> StartSpanOptions<'a> {
    options = options
        .tag(StdTag::span_kind("server"))
        .tag(StdTag::component(COMPONENT))
        .tag(StdTag::http_method(req.method().as_str()))
        .tag(StdTag::http_url(req.uri().to_string()));
    if let Some(remote) = req.remote() {
        options = options
            .tag(StdTag::peer_ip(remote.ip()))
            .tag(StdTag::peer_port(remote.port()));
    }
    options
}

/// Records the response status on a finishing span.
///
/// `error_recorded` is set when the error (a handler panic) was already
/// logged on the span, so a 500 does not log it twice.
pub(crate) fn record_status(span: &mut Span, status: Status, error_recorded: bool) {
    span.set_tag(|| StdTag::http_status_code(status.code));
    if status.code >= 500 && !error_recorded {
        span.error_log(|log| {
            log.kind("http").message(status.to_string());
        });
        // `error_log` keeps an `error` tag the handler may have set to false.
        span.set_tag(StdTag::error);
    }
}

/// Records a handler panic: `error=true` and one error log.
pub(crate) fn record_panic(span: &mut Span) {
    span.error_log(|log| {
        log.kind("panic").message("the request handler panicked");
    });
    span.set_tag(StdTag::error);
}
