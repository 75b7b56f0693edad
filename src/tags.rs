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
use std::net::IpAddr;

use rocket::http::Status;
use rocket::Request;
use rustracing::tag::{StdTag, Tag};
use rustracing_jaeger::Span;

use crate::redact::QueryPolicy;

/// The value of the `component` tag.
pub const COMPONENT: &str = "rocket";

/// Records the request tags on a span just started (and sampled); `query`
/// says what `http.url` keeps of the query string.
pub(crate) fn record_request(span: &mut Span, req: &Request<'_>, query: &QueryPolicy) {
    span.set_tags(|| {
        let peer = req.remote();
        [
            Some(StdTag::span_kind("server")),
            Some(StdTag::component(COMPONENT)),
            Some(StdTag::http_method(req.method().as_str())),
            Some(StdTag::http_url(request_target(req, query))),
            peer.map(|peer| peer_ip(peer.ip())),
            peer.map(|peer| StdTag::peer_port(peer.port())),
        ]
        .into_iter()
        .flatten()
    });
}

/// The request target (`/path?query`) as received, or with its query as
/// `policy` keeps it; copied without the formatting machinery. (Rocket keeps
/// only the path and query of an absolute-form target: no scheme, host or
/// user name reach it.)
fn request_target(req: &Request<'_>, policy: &QueryPolicy) -> String {
    let uri = req.uri();
    policy.target(uri.path().as_str(), uri.query().map(|query| query.as_str()))
}

/// `peer.ipv4` or `peer.ipv6`, as `StdTag::peer_ip` makes it; an IPv4
/// address is written digit by digit (most peers are IPv4, and `Display`
/// for `Ipv4Addr` goes through the formatting machinery twice).
fn peer_ip(ip: IpAddr) -> Tag {
    let IpAddr::V4(v4) = ip else {
        return StdTag::peer_ip(ip);
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    Tag::new("peer.ipv4", text)
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
    fn peer_ip_is_written_as_display_writes_it() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.0.100.9",
            "192.168.1.20",
            "255.255.255.255",
        ] {
            let tag = peer_ip(ip.parse().unwrap());
            assert_eq!(tag.name(), "peer.ipv4");
            assert_eq!(tag.value(), &TagValue::String(ip.into()));
        }
        for ip in ["::1", "::ffff:10.0.0.1"] {
            let tag = peer_ip(ip.parse().unwrap());
            assert_eq!(tag.name(), "peer.ipv6");
            assert_eq!(tag.value(), &TagValue::String(ip.into()));
        }
    }
}
