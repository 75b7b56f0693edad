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

/// The Flask-OpenTracing request attribute names accepted as aliases, for
/// error messages (see [`Attribute`]).
pub const FLASK_ACCEPTED: &str =
    "url, full_path, remote_addr, query_string, args, endpoint, url_rule, referrer";

/// Flask-OpenTracing's names (Flask request attributes) and the attribute
/// each stands for, recorded under that attribute's tag. Flask names that
/// are also Rocket names (`method`, `path`, `host`, `scheme`, `headers`,
/// `user_agent`, `content_type`, `content_length`) need no alias.
const FLASK_ALIASES: [(&str, &str); 8] = [
    ("url", "uri"),
    ("full_path", "uri"),
    ("remote_addr", "remote_address"),
    ("query_string", "query"),
    ("args", "query"),
    ("endpoint", "route_name"),
    ("url_rule", "route"),
    ("referrer", "header.Referer"),
];

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
/// Absent or empty values are not tagged.
///
/// # Flask-OpenTracing names
///
/// Flask-OpenTracing's `traced_attributes` names Flask request attributes;
/// those with a faithful counterpart here are accepted as aliases, so a
/// configuration carried over from a Flask service keeps working. An alias
/// records exactly what its Rocket name records, under the Rocket name's tag
/// (Flask-OpenTracing tags under the attribute's own name).
///
/// | Flask name | Rocket name | tag | difference |
/// | --- | --- | --- | --- |
/// | `method`, `path`, `host`, `scheme`, `user_agent`, `content_type`, `content_length` | the same | as above | `path` is the path as received (percent-encoded); Flask's is decoded |
/// | `headers` | `headers` | `http.header.<name>` | one tag per header, sensitive ones left out; Flask records one text of every header |
/// | `url` | `uri` | `http.uri` | Flask's `url` is the full URL (`http://host/path?query`); `uri` is the path and query as received (the server span's `http.url` too) |
/// | `full_path` | `uri` | `http.uri` | the same: path and query |
/// | `remote_addr` | `remote_address` | `peer.address` | `ip:port` of the connection; Flask's is the IP alone (`client_ip` honours Rocket's `ip_header`) |
/// | `query_string` | `query` | `http.query` | text rather than bytes |
/// | `args` | `query` | `http.query` | the query string as received, not a parsed dictionary |
/// | `endpoint` | `route_name` | `http.route_name` | the handler's name, as Flask's view name |
/// | `url_rule` | `route` | `http.route` | the route template, e.g. `/hello/<name>` |
/// | `referrer` | `header.Referer` | `http.header.referer` | none (no `user:password@` is recorded) |
///
/// Other Flask attributes (`base_url`, `url_root`, `host_url`,
/// `access_route`, `cookies`, `form`, `json`, `data`, `mimetype`,
/// `is_secure`, `view_args`, `blueprint`...) have no faithful counterpart
/// and are refused, as any unknown name, with the accepted list. `Authorization`, `Cookie`,
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

impl Attribute {
    /// Whether `self` and `other` record the same tags.
    fn same_as(&self, other: &Attribute) -> bool {
        match (self, other) {
            (Attribute::Header { tag: a, .. }, Attribute::Header { tag: b, .. }) => a == b,
            _ => self == other,
        }
    }
}

/// An attribute name that is not one of [`ACCEPTED`] or [`FLASK_ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute(pub String);

impl fmt::Display for UnknownAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown traced attribute {:?} (accepted: {ACCEPTED}; or Flask-OpenTracing's \
             {FLASK_ACCEPTED})",
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
        let name = FLASK_ALIASES
            .iter()
            .find(|(flask, _)| *flask == s)
            .map_or(s, |(_, rocket)| *rocket);
        if name != s {
            return name.parse().map_err(|_| unknown());
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

/// Parses a list of attribute names; an attribute named twice (`uri` and
/// its alias `url`, `header.X-Id` and `header.x-id`) is kept once, where it
/// first appears.
pub fn parse_all(names: &[String]) -> Result<Vec<Attribute>, UnknownAttribute> {
    let mut attributes: Vec<Attribute> = Vec::with_capacity(names.len());
    for name in names {
        let attribute: Attribute = name.parse()?;
        if !attributes.iter().any(|known| known.same_as(&attribute)) {
            attributes.push(attribute);
        }
    }
    Ok(attributes)
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
    fn flask_names_are_aliases_of_rocket_names() {
        let listed: Vec<&str> = FLASK_ACCEPTED.split(", ").collect();
        let aliased: Vec<&str> = FLASK_ALIASES.iter().map(|(flask, _)| *flask).collect();
        assert_eq!(listed, aliased, "FLASK_ACCEPTED lists the aliases");
        for (flask, rocket) in FLASK_ALIASES {
            let alias: Attribute = flask.parse().unwrap();
            let own: Attribute = rocket.parse().unwrap();
            assert_eq!(alias, own, "{flask}");
            assert_eq!(alias.name(), rocket, "{flask} is named as Rocket's");
        }
        let expected = [
            ("url", Attribute::Uri),
            ("full_path", Attribute::Uri),
            ("remote_addr", Attribute::RemoteAddress),
            ("query_string", Attribute::Query),
            ("args", Attribute::Query),
            ("endpoint", Attribute::RouteName),
            ("url_rule", Attribute::Route),
        ];
        for (flask, attribute) in expected {
            assert_eq!(flask.parse::<Attribute>().unwrap(), attribute, "{flask}");
        }
        let Ok(Attribute::Header { name, tag }) = "referrer".parse() else {
            panic!("referrer is a header");
        };
        assert_eq!((name.as_str(), tag), ("Referer", "http.header.referer"));
        // Flask names with no faithful counterpart are refused.
        for refused in [
            "base_url",
            "url_root",
            "access_route",
            "cookies",
            "mimetype",
            "json",
        ] {
            assert!(refused.parse::<Attribute>().is_err(), "{refused}");
        }
    }

    #[test]
    fn an_attribute_named_twice_is_recorded_once() {
        let names: Vec<String> = [
            "uri",
            "url",
            "full_path",
            "header.X-Id",
            "header.x-id",
            "path",
        ]
        .map(String::from)
        .to_vec();
        let parsed = parse_all(&names).unwrap();
        assert_eq!(parsed.len(), 3, "{parsed:?}");
        assert_eq!(parsed[0], Attribute::Uri);
        assert_eq!(parsed[1].name(), "header.X-Id");
        assert_eq!(parsed[2], Attribute::Path);
    }

    #[test]
    fn an_unknown_name_lists_both_kinds_of_names() {
        let err = "colour".parse::<Attribute>().unwrap_err().to_string();
        assert!(err.contains("accepted: method, uri"), "{err}");
        assert!(err.contains("Flask-OpenTracing's url, full_path"), "{err}");
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
