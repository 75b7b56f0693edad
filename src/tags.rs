//! The standard tags of a request span (OpenTracing semantic conventions).
//!
//! At start: `span.kind=server`, `component=rocket`, `http.method`,
//! `http.url` (the request target as received: path and query, the query
//! stripped or some of its values redacted as configured with
//! `strip_query` and `redact_query_params`), and `peer.ipv4`/`peer.ipv6`
//! with `peer.port` when Rocket knows the client's address. At finish:
//! `http.status_code`, and for a 5xx response `error=true` with one log entry
//! `event=error`, `error.kind=http`, `message=<status>`. A 4xx is not an error.

use std::borrow::Cow;
use std::net::SocketAddr;

use rocket::http::{Method, Status};
use rocket::Request;
use rustracing::tag::{StdTag, Tag};
use rustracing_jaeger::Span;

use crate::record::{ip_text, peer_ip_tag, COMPONENT};
use crate::redact::QueryPolicy;

/// What the request tags of a span are made of, read from the request
/// when it arrives.
#[derive(Debug, Clone)]
pub(crate) struct RequestTags {
    pub(crate) method: Method,
    /// The request target (`/path?query`) as received, or with its query as
    /// the configuration keeps it. (Rocket keeps only the path and query of
    /// an absolute-form target: no scheme, host or user name reach it.)
    pub(crate) url: String,
    pub(crate) peer: Option<SocketAddr>,
}

impl RequestTags {
    /// The request tags of `req`; `query` says what `http.url` keeps of the
    /// query string.
    pub(crate) fn of(req: &Request<'_>, query: &QueryPolicy) -> Self {
        let uri = req.uri();
        RequestTags {
            method: req.method(),
            url: query.target(uri.path().as_str(), uri.query().map(|query| query.as_str())),
            peer: req.remote(),
        }
    }
}

/// Records the request tags on a span just started (and sampled), in the
/// order a [`RequestRecord`](crate::record::RequestRecord) yields them.
pub(crate) fn record_request(span: &mut Span, tags: &RequestTags) {
    span.set_tags(|| {
        let peer = tags.peer;
        [
            Some(StdTag::span_kind("server")),
            Some(StdTag::component(COMPONENT)),
            Some(StdTag::http_method(tags.method.as_str())),
            Some(StdTag::http_url(tags.url.clone())),
            peer.map(|peer| Tag::new(peer_ip_tag(peer.ip()), ip_text(peer.ip()))),
            peer.map(|peer| StdTag::peer_port(peer.port())),
        ]
        .into_iter()
        .flatten()
    });
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

/// Records an error the application reports: `error=true` and one error
/// log with its message.
pub(crate) fn record_error(span: &mut Span, message: Cow<'static, str>) {
    span.error_log(|log| {
        log.message(message);
    });
    span.set_tag(StdTag::error);
}

/// Records a handler panic: `error=true` and one error log.
pub(crate) fn record_panic(span: &mut Span) {
    span.error_log(|log| {
        log.kind("panic").message("the request handler panicked");
    });
    span.set_tag(StdTag::error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustracing::tag::TagValue;

    #[test]
    fn peer_tags_are_written_as_rustracing_writes_them() {
        for ip in ["10.0.100.9", "::ffff:10.0.0.1"] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let ours = Tag::new(peer_ip_tag(ip), ip_text(ip));
            let theirs = StdTag::peer_ip(ip);
            assert_eq!(ours.name(), theirs.name());
            assert_eq!(ours.value(), theirs.value());
            assert_eq!(theirs.value(), &TagValue::String(ip.to_string().into()));
        }
    }
}
