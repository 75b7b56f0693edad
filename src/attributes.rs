//! Traced request attributes: what `traced_attributes` records (see [`Attribute`]).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rocket::Request;
use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::Span;

use crate::limits::{Limits, DROPPED_HEADERS_TAG};
use crate::naming::intern;
use crate::redact::{host_without_userinfo, strip_userinfo, QueryPolicy};

/// The attribute names accepted, for error messages.
pub const ACCEPTED: &str = "method, uri, path, query, host, scheme, remote_address, client_ip, \
     user_agent, content_type, content_length, route, route_name, headers, header.<Name>";

/// Headers recorded only when named explicitly.
const SENSITIVE_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

/// Traced attributes (Flask-OpenTracing's `traced_attributes`): request
/// attributes recorded as tags on each request span, chosen in configuration.
///
/// | attribute | tag | value |
/// | --- | --- | --- |
/// | `method` | `http.method` | request method |
/// | `uri` | `http.uri` | path and query as received (query: see below) |
/// | `path` | `http.path` | path |
/// | `query` | `http.query` | query string (see below) |
/// | `host` | `http.host` | `Host` header, without any `user:password@` |
/// | `scheme` | `http.scheme` | `https` when Rocket serves TLS, else `http` |
/// | `remote_address` | `peer.address` | client `ip:port` as connected |
/// | `client_ip` | `http.client_ip` | client IP, honouring Rocket's `ip_header` |
/// | `user_agent` | `http.user_agent` | `User-Agent` header |
/// | `content_type` | `http.content_type` | `Content-Type` header |
/// | `content_length` | `http.content_length` | `Content-Length` header (integer) |
/// | `route` | `http.route` | route template, e.g. `/hello/<name>` |
/// | `route_name` | `http.route_name` | handler name, e.g. `hello` |
/// | `header.<Name>` | `http.header.<name>` | that request header |
/// | `headers` | `http.header.<name>` | every request header but the sensitive ones |
///
/// Absent or empty values are not tagged. `Authorization`, `Cookie`,
/// `Proxy-Authorization` and `Set-Cookie` (in any casing) are recorded only
/// when named explicitly (`header.Authorization`), never through `headers`.
///
/// With `strip_query`, `uri` is the path alone and `query` is not recorded;
/// with `redact_query_params`, the values of those parameters read
/// `REDACTED` in both. A `user:password@` is never recorded: not from the
/// `Host` header (`host`, `header.Host`, `headers`), nor from the URL in a
/// `Referer` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `method`
    Method,
    /// `uri`
    Uri,
    /// `path`
    Path,
    /// `query`
    Query,
    /// `host`
    Host,
    /// `scheme`
    Scheme,
    /// `remote_address`
    RemoteAddress,
    /// `client_ip`
    ClientIp,
    /// `user_agent`
    UserAgent,
    /// `content_type`
    ContentType,
    /// `content_length`
    ContentLength,
    /// `route`
    Route,
    /// `route_name`
    RouteName,
    /// `header.<Name>`: the header and its tag name.
    Header {
        /// Header name as configured.
        name: String,
        /// Tag name, `http.header.<lower-case name>`.
        tag: &'static str,
    },
    /// `headers`: every header except the sensitive ones.
    Headers,
}

impl Attribute {
    /// The attribute's name, as written in `traced_attributes`.
    pub fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Attribute::Method => "method",
            Attribute::Uri => "uri",
            Attribute::Path => "path",
            Attribute::Query => "query",
            Attribute::Host => "host",
            Attribute::Scheme => "scheme",
            Attribute::RemoteAddress => "remote_address",
            Attribute::ClientIp => "client_ip",
            Attribute::UserAgent => "user_agent",
            Attribute::ContentType => "content_type",
            Attribute::ContentLength => "content_length",
            Attribute::Route => "route",
            Attribute::RouteName => "route_name",
            Attribute::Headers => "headers",
            Attribute::Header { name, .. } => return Cow::Owned(format!("header.{name}")),
        })
    }
}

/// An attribute name that is not one of [`ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute(pub String);

impl fmt::Display for UnknownAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown traced attribute {:?} (accepted: {ACCEPTED})",
            self.0
        )
    }
}

impl FromStr for Attribute {
    type Err = UnknownAttribute;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownAttribute(s.to_owned());
        if let Some(name) = s.strip_prefix("header.") {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
            if !valid {
                return Err(unknown());
            }
            let tag = intern(format!("http.header.{}", name.to_ascii_lowercase()));
            return Ok(Attribute::Header {
                name: name.to_owned(),
                tag,
            });
        }
        Ok(match s {
            "method" => Attribute::Method,
            "uri" => Attribute::Uri,
            "path" => Attribute::Path,
            "query" => Attribute::Query,
            "host" => Attribute::Host,
            "scheme" => Attribute::Scheme,
            "remote_address" => Attribute::RemoteAddress,
            "client_ip" => Attribute::ClientIp,
            "user_agent" => Attribute::UserAgent,
            "content_type" => Attribute::ContentType,
            "content_length" => Attribute::ContentLength,
            "route" => Attribute::Route,
            "route_name" => Attribute::RouteName,
            "headers" => Attribute::Headers,
            _ => return Err(unknown()),
        })
    }
}

/// Parses a list of attribute names.
pub fn parse_all(names: &[String]) -> Result<Vec<Attribute>, UnknownAttribute> {
    names.iter().map(|name| name.parse()).collect()
}

/// Tags the attributes known when the request arrives; `query` says what
/// `uri` and `query` keep of the query string, and the `headers` attribute
/// records at most `limits.max_traced_headers` headers.
pub(crate) fn record_request(
    attributes: &[Attribute],
    query: &QueryPolicy,
    limits: &Limits,
    span: &mut Span,
    req: &Request<'_>,
) {
    let uri = req.uri();
    for attribute in attributes {
        match attribute {
            Attribute::Method => set(span, "http.method", req.method().as_str()),
            Attribute::Uri => {
                let target = query.target(uri.path().as_str(), uri.query().map(|q| q.as_str()));
                set_string(span, "http.uri", target);
            }
            Attribute::Path => set_string(span, "http.path", uri.path().to_string()),
            Attribute::Query => {
                if let Some(kept) = uri.query().and_then(|q| query.query(q.as_str())) {
                    set_string(span, "http.query", kept.into_owned());
                }
            }
            Attribute::Host => match req.host() {
                Some(host) => set_string(span, "http.host", host.to_string()),
                None => header(span, req, "Host", "http.host"),
            },
            Attribute::Scheme => {
                let tls = req.rocket().config().tls_enabled();
                set(span, "http.scheme", if tls { "https" } else { "http" });
            }
            Attribute::RemoteAddress => {
                if let Some(remote) = req.remote() {
                    set_string(span, "peer.address", remote.to_string());
                }
            }
            Attribute::ClientIp => {
                if let Some(ip) = req.client_ip() {
                    set_string(span, "http.client_ip", ip.to_string());
                }
            }
            Attribute::UserAgent => header(span, req, "User-Agent", "http.user_agent"),
            Attribute::ContentType => header(span, req, "Content-Type", "http.content_type"),
            Attribute::ContentLength => {
                let length = req.headers().get_one("Content-Length");
                if let Some(length) = length.and_then(|l| l.trim().parse::<i64>().ok()) {
                    set(span, "http.content_length", length);
                }
            }
            Attribute::Header { name, tag } => header(span, req, name, tag),
            Attribute::Headers => all_headers(attributes, limits.max_traced_headers, span, req),
            // Known once routed: see `record_route`.
            Attribute::Route | Attribute::RouteName => {}
        }
    }
}

/// Tags the attributes known once the request has been routed.
pub(crate) fn record_route(attributes: &[Attribute], span: &mut Span, req: &Request<'_>) {
    let Some(route) = req.route() else { return };
    for attribute in attributes {
        match attribute {
            Attribute::Route => set(span, "http.route", route.uri.as_str().to_owned()),
            Attribute::RouteName => {
                if let Some(name) = &route.name {
                    set(span, "http.route_name", name.clone());
                }
            }
            _ => {}
        }
    }
}

/// Tags every header but the sensitive ones and those named explicitly,
/// at most `max` of them; the others are counted in a
/// [`DROPPED_HEADERS_TAG`] tag.
fn all_headers(attributes: &[Attribute], max: usize, span: &mut Span, req: &Request<'_>) {
    let mut recorded = 0;
    let mut dropped: i64 = 0;
    for header in req.headers().iter() {
        let name = header.name().as_str();
        let named = attributes.iter().any(
            |a| matches!(a, Attribute::Header { name: n, .. } if n.eq_ignore_ascii_case(name)),
        );
        let sensitive = SENSITIVE_HEADERS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(name));
        if named || sensitive {
            continue;
        }
        let value = recordable(name, header.value());
        if value.is_empty() {
            continue;
        }
        if recorded == max {
            dropped += 1;
            continue;
        }
        recorded += 1;
        let tag = format!("http.header.{}", name.to_ascii_lowercase());
        set(span, tag, value.into_owned());
    }
    if dropped > 0 {
        set(span, DROPPED_HEADERS_TAG, dropped);
    }
}

fn header(span: &mut Span, req: &Request<'_>, name: &str, tag: &'static str) {
    let values: Vec<Cow<'_, str>> = req
        .headers()
        .get(name)
        .map(|value| recordable(name, value))
        .filter(|v| !v.is_empty())
        .collect();
    match values.as_slice() {
        [] => {}
        [one] => set_string(span, tag, one.clone().into_owned()),
        many => set_string(span, tag, many.join(", ")),
    }
}

/// The value of header `name` as it may be recorded: without a
/// `user:password@` in a `Host` or a `Referer`.
fn recordable<'v>(name: &str, value: &'v str) -> Cow<'v, str> {
    if name.eq_ignore_ascii_case("host") {
        Cow::Borrowed(host_without_userinfo(value))
    } else if name.eq_ignore_ascii_case("referer") {
        strip_userinfo(value)
    } else {
        Cow::Borrowed(value)
    }
}

fn set_string(span: &mut Span, name: &'static str, value: String) {
    if !value.is_empty() {
        set(span, name, value);
    }
}

fn set<N, V>(span: &mut Span, name: N, value: V)
where
    N: Into<Cow<'static, str>>,
    V: Into<TagValue>,
{
    span.set_tag(|| Tag::new(name, value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_name() {
        for name in ACCEPTED.split(", ") {
            let name = name.replace("<Name>", "X-Request-Id");
            assert!(name.parse::<Attribute>().is_ok(), "{name}");
        }
        let Ok(Attribute::Header { tag, .. }) = "header.X-Request-Id".parse() else {
            panic!("header attribute");
        };
        assert_eq!(tag, "http.header.x-request-id");
    }

    #[test]
    fn refuses_unknown_names() {
        for bad in [
            "useragent",
            "User_Agent",
            "header.",
            "header.a b",
            "",
            "headers.x",
        ] {
            let err = bad.parse::<Attribute>().unwrap_err();
            assert!(err.to_string().contains("accepted: method"), "{err}");
        }
    }
}
