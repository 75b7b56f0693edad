//! The OpenTracing tags this crate (and Jaeger's conventions) record, as
//! OpenTelemetry's semantic conventions name them: the one place where a
//! tag name is mapped to an attribute, a span kind or a status.
//!
//! | tag | server span | client span |
//! | --- | --- | --- |
//! | `span.kind` | the span's kind | the span's kind |
//! | `component` | left out (the instrumentation scope says it) | left out |
//! | `error` | the status (`ERROR`), and `error.type` | the status, and `error.type` |
//! | `http.method` | `http.request.method` | `http.request.method` |
//! | `http.url` | `url.path` and `url.query` | `url.full` |
//! | `http.status_code` | `http.response.status_code` | `http.response.status_code` |
//! | `peer.ipv4`, `peer.ipv6` | `network.peer.address` and `client.address` | `network.peer.address` |
//! | `peer.port` | `network.peer.port` | `server.port` |
//! | `peer.hostname` | `peer.hostname` | `server.address` |
//! | `http.host` | `server.address` and `server.port` | `http.host` |
//! | `http.scheme` | `url.scheme` | `url.scheme` |
//! | `http.user_agent` | `user_agent.original` | `user_agent.original` |
//! | `http.client_ip` | `client.address` (instead of the peer's) | `http.client_ip` |
//! | `http.content_length` | `http.request.body.size` | `http.request.body.size` |
//! | `http.header.<name>` | `http.request.header.<name>` (a one-string array) | the same |
//! | `w3c.tracestate` | the span's `trace_state` | the span's `trace_state` |
//! | `rocket_opentracing.dropped_logs` | `dropped_events_count` | `dropped_events_count` |
//! | anything else | unchanged | unchanged |

use super::wire::SpanKind;
use crate::limits::DROPPED_LOGS_TAG;
use crate::record::TRACESTATE_TAG;

/// What becomes of one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mapped {
    /// Not an attribute: the span's kind, status, trace state or dropped
    /// events count (read apart), or `component`.
    Skip,
    /// An attribute of the same name.
    Same,
    /// An attribute of another name.
    Renamed(&'static str),
    /// `http.status_code`: `http.response.status_code` (and the status of
    /// the span).
    StatusCode,
    /// `http.client_ip` of a server span: `client.address`.
    ClientIp,
    /// The application's own `error.type`: kept, and none added.
    ErrorType,
    /// A server span's request target: `url.path`, and `url.query` when it
    /// has one.
    Target,
    /// The peer's IP address of a server span: `network.peer.address`, and
    /// `client.address` (written last) unless an `http.client_ip` tag says
    /// better.
    PeerIp,
    /// `Host`: `server.address`, and `server.port` when it has one.
    Host,
    /// A request header: `http.request.header.<name>`, a one-string array.
    RequestHeader,
}

/// The prefix of the tags of request headers.
pub(super) const HEADER_TAG_PREFIX: &str = "http.header.";
/// The prefix of their attributes.
pub(super) const HEADER_ATTRIBUTE_PREFIX: &str = "http.request.header.";

/// What the tag `name` becomes on a span of `kind`. (Dispatched on the
/// first byte: most tags are `http.*` or `peer.*`, or names of the
/// application's own, which then cost one comparison.)
#[inline]
pub(super) fn map_tag(name: &str, kind: SpanKind) -> Mapped {
    let server = kind == SpanKind::Server;
    let client = kind == SpanKind::Client;
    match name.as_bytes().first() {
        Some(b'h') => match name {
            "http.method" => Mapped::Renamed("http.request.method"),
            "http.status_code" => Mapped::StatusCode,
            "http.url" if server => Mapped::Target,
            "http.url" if client => Mapped::Renamed("url.full"),
            "http.host" if server => Mapped::Host,
            "http.scheme" => Mapped::Renamed("url.scheme"),
            "http.user_agent" => Mapped::Renamed("user_agent.original"),
            "http.client_ip" if server => Mapped::ClientIp,
            "http.content_length" => Mapped::Renamed("http.request.body.size"),
            _ if name.len() > HEADER_TAG_PREFIX.len() && name.starts_with(HEADER_TAG_PREFIX) => {
                Mapped::RequestHeader
            }
            _ => Mapped::Same,
        },
        Some(b'p') => match name {
            "peer.ipv4" | "peer.ipv6" if server => Mapped::PeerIp,
            "peer.ipv4" | "peer.ipv6" => Mapped::Renamed("network.peer.address"),
            "peer.port" if server => Mapped::Renamed("network.peer.port"),
            "peer.port" if client => Mapped::Renamed("server.port"),
            "peer.hostname" if client => Mapped::Renamed("server.address"),
            _ => Mapped::Same,
        },
        Some(b's') if name == "span.kind" => Mapped::Skip,
        Some(b'c') if name == "component" => Mapped::Skip,
        Some(b'e') if name == "error" => Mapped::Skip,
        Some(b'e') if name == "error.type" => Mapped::ErrorType,
        Some(b'w') if name == TRACESTATE_TAG => Mapped::Skip,
        Some(b'r') if name == DROPPED_LOGS_TAG => Mapped::Skip,
        _ => Mapped::Same,
    }
}

/// A request target split into its path and query (`None` without `?`).
#[inline]
pub(super) fn split_target(target: &str) -> (&str, Option<&str>) {
    // A byte search: '?' is ASCII, so both sides are on char boundaries.
    match target.bytes().position(|b| b == b'?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    }
}

/// A `Host` value split into its host (an IPv6 literal without brackets)
/// and its port, if it has a valid one.
pub(super) fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((address, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (address, port);
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (host, None),
        },
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_by_kind() {
        use Mapped::*;
        let server = SpanKind::Server;
        let client = SpanKind::Client;
        assert_eq!(map_tag("http.url", server), Target);
        assert_eq!(map_tag("http.url", client), Renamed("url.full"));
        assert_eq!(map_tag("http.url", SpanKind::Internal), Same);
        assert_eq!(map_tag("peer.ipv6", server), PeerIp);
        assert_eq!(
            map_tag("peer.ipv4", client),
            Renamed("network.peer.address")
        );
        assert_eq!(map_tag("peer.port", server), Renamed("network.peer.port"));
        assert_eq!(map_tag("peer.port", client), Renamed("server.port"));
        assert_eq!(map_tag("peer.hostname", server), Same);
        assert_eq!(map_tag("http.header.x-a", server), RequestHeader);
        assert_eq!(map_tag("http.header.", server), Same);
        assert_eq!(map_tag("error", client), Skip);
        assert_eq!(map_tag("http.status_code", client), StatusCode);
        assert_eq!(map_tag("http.client_ip", server), ClientIp);
        assert_eq!(map_tag("http.client_ip", client), Same);
        assert_eq!(map_tag("mine", client), Same);
    }

    #[test]
    fn targets_and_hosts_split() {
        assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_target("/a?"), ("/a", Some("")));
        assert_eq!(split_target("/a"), ("/a", None));
        assert_eq!(split_host("example.com:8000"), ("example.com", Some(8000)));
        assert_eq!(split_host("example.com"), ("example.com", None));
        assert_eq!(split_host("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host("[::1]"), ("::1", None));
        assert_eq!(split_host("::1"), ("::1", None));
        assert_eq!(split_host("host:http"), ("host:http", None));
    }
}
