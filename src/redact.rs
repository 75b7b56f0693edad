//! What of a URL may be recorded. Credentials (`http://user:password@host/`)
//! never reach a span tag, a log line or a `Debug` output; the query string
//! is recorded as received, without the values of chosen parameters
//! (`redact_query_params`), or not at all (`strip_query`): see
//! [`QueryPolicy`].

use std::borrow::Cow;

#[cfg(any(feature = "collector", feature = "client", feature = "otlp"))]
use url::Url;

/// `url` with any `user:password@` part replaced by `<redacted>@`, even
/// when it does not parse: safe to log.
///
/// A URL that parses has its credentials in the authority, which ends at
/// the first `/`, `?` or `#`. One that does not may hold a password with
/// an unencoded `/`, `?` or `#` (`https://user:pa/ss@host`): everything up
/// to the last `@` is then taken as credentials, as hiding too much is safe.
pub(crate) fn redact_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return match url.rfind('@') {
            Some(at) => format!("<redacted>{}", &url[at..]),
            None => url.to_owned(),
        };
    };
    let rest = &url[scheme_end..];
    let credentials_end = if parses(url) {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest[..authority_end].rfind('@')
    } else {
        rest.rfind('@')
    };
    match credentials_end {
        Some(at) => format!("{}<redacted>{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

/// Whether `url` parses as a URL (without a URL parser in this build,
/// none is taken to).
fn parses(url: &str) -> bool {
    #[cfg(any(feature = "collector", feature = "client", feature = "otlp"))]
    {
        Url::parse(url.trim()).is_ok()
    }
    #[cfg(not(any(feature = "collector", feature = "client", feature = "otlp")))]
    {
        let _ = url;
        false
    }
}

/// `url` without its user name and password: safe to tag or log.
#[cfg(any(feature = "collector", feature = "client", feature = "otlp"))]
pub(crate) fn without_credentials(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.into()
}

/// What replaces the value of a redacted query parameter (OpenTelemetry's
/// convention).
pub(crate) const REDACTED: &str = "REDACTED";

/// What a recorded URL keeps of its query string: the server span's
/// `http.url`, the `uri` and `query` attributes, a client span's
/// `http.url`. Decided once, at configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum QueryPolicy {
    /// The query as received (neither option set): nothing to do.
    #[default]
    Keep,
    /// No query (`strip_query = true`); a client URL loses its fragment too.
    Strip,
    /// The values of these parameters (names lower-cased) replaced by
    /// [`REDACTED`] (`redact_query_params`).
    Redact(Box<[String]>),
}

impl QueryPolicy {
    /// The policy for the configuration's `strip_query` and
    /// `redact_query_params`: stripping wins over redacting.
    pub(crate) fn new(strip: bool, redact: &[String]) -> Self {
        if strip {
            QueryPolicy::Strip
        } else if redact.is_empty() {
            QueryPolicy::Keep
        } else {
            QueryPolicy::Redact(redact.iter().map(|name| name.to_lowercase()).collect())
        }
    }

    /// The query string to record, if any: `None` when stripped; borrowed
    /// unless a value was redacted.
    pub(crate) fn query<'q>(&self, query: &'q str) -> Option<Cow<'q, str>> {
        match self {
            QueryPolicy::Keep => Some(Cow::Borrowed(query)),
            QueryPolicy::Strip => None,
            QueryPolicy::Redact(names) => Some(redact_query(query, names)),
        }
    }

    /// The request target to record: `path`, then `?` and the query as
    /// this policy keeps it. With [`QueryPolicy::Keep`] a plain copy.
    pub(crate) fn target(&self, path: &str, query: Option<&str>) -> String {
        match query.and_then(|query| self.query(query)) {
            None => path.to_owned(),
            Some(query) => {
                let mut target = String::with_capacity(path.len() + 1 + query.len());
                target.push_str(path);
                target.push('?');
                target.push_str(&query);
                target
            }
        }
    }

    #[cfg(feature = "client")]
    /// A client URL to record: without credentials, its query as this
    /// policy keeps it; stripped, it ends with the path (no fragment
    /// either, which may carry tokens as well).
    pub(crate) fn url(&self, url: &Url) -> String {
        let mut shown = without_credentials(url);
        // In a serialized URL, the first `#` starts the fragment, and the
        // first `?` before it starts the query: before them, both are
        // percent-encoded (a fragment may hold a `?`, a query a `?`).
        let fragment = shown.find('#').unwrap_or(shown.len());
        let query = shown[..fragment].find('?');
        match self {
            QueryPolicy::Keep => {}
            QueryPolicy::Strip => shown.truncate(query.unwrap_or(fragment)),
            QueryPolicy::Redact(names) => {
                if let Some(start) = query.map(|i| i + 1) {
                    if let Cow::Owned(redacted) = redact_query(&shown[start..fragment], names) {
                        shown.replace_range(start..fragment, &redacted);
                    }
                }
            }
        }
        shown
    }
}

/// `query` with the value of every parameter named in `names` (lower-cased)
/// replaced by [`REDACTED`]; everything else byte for byte. Parameters are
/// separated by `&`; a name is compared case-insensitively once decoded as
/// a form decodes it (`%XX` escapes, `+` for a space), as Rocket's query
/// guards read it. A parameter without `=`, or with an empty value, has
/// nothing to hide and is kept.
fn redact_query<'q>(query: &'q str, names: &[String]) -> Cow<'q, str> {
    let mut redacted: Option<String> = None;
    // Bytes of `query` already copied into `redacted`.
    let mut copied = 0;
    let mut start = 0;
    for param in query.split('&') {
        let param_start = start;
        start += param.len() + 1;
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if value.is_empty() || !names.iter().any(|n| name_matches(name, n)) {
            continue;
        }
        let value_start = param_start + name.len() + 1;
        let out = redacted.get_or_insert_with(|| String::with_capacity(query.len()));
        out.push_str(&query[copied..value_start]);
        out.push_str(REDACTED);
        copied = value_start + value.len();
    }
    match redacted {
        None => Cow::Borrowed(query),
        Some(mut out) => {
            out.push_str(&query[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Whether the raw (encoded) parameter name `raw` is `lower` (lower-cased),
/// ignoring case.
fn name_matches(raw: &str, lower: &str) -> bool {
    fn folded(name: &str) -> impl Iterator<Item = char> + '_ {
        name.chars().flat_map(char::to_lowercase)
    }
    if !raw.contains(['%', '+']) {
        return folded(raw).eq(lower.chars());
    }
    let spaced = raw.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy();
    folded(&decoded).eq(lower.chars())
}

/// A `Host` header value without a `user:password@` part (a URL's
/// authority may carry one; a host never does): what follows the last `@`.
pub(crate) fn host_without_userinfo(host: &str) -> &str {
    host.rsplit_once('@').map_or(host, |(_, host)| host)
}

/// `url` (a URL or not) with the `user:password@` part of its authority
/// removed; borrowed when it has none. For header values such as `Referer`.
pub(crate) fn strip_userinfo(url: &str) -> Cow<'_, str> {
    let Some(authority_start) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{}", &url[..authority_start], &rest[at + 1..])),
        None => Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_even_from_bad_urls() {
        assert_eq!(
            redact_credentials("htps://user:secret@collector/api/traces"),
            "htps://<redacted>@collector/api/traces"
        );
        assert_eq!(
            redact_credentials("user:secret@collector"),
            "<redacted>@collector"
        );
        // A password with an unencoded '/', '?' or '#': the URL does not
        // parse; everything up to the last '@' goes.
        for url in [
            "https://user:s3cret/x@otel.example:4318",
            "https://user:s3c?ret@otel.example:4318/v1/traces",
            "https://user:s3c#ret@otel.example:4318",
        ] {
            let shown = redact_credentials(url);
            assert!(!shown.contains("s3c"), "{url}: {shown}");
            assert!(shown.ends_with("@otel.example:4318") || shown.ends_with("/v1/traces"));
        }
    }

    #[cfg(any(feature = "collector", feature = "client", feature = "otlp"))]
    #[test]
    fn an_at_sign_after_a_parsed_urls_authority_is_kept() {
        assert_eq!(
            redact_credentials("http://collector:14268/api/traces?a=b@c"),
            "http://collector:14268/api/traces?a=b@c"
        );
        assert_eq!(
            redact_credentials("http://u:p@collector/api/traces?a=b@c"),
            "http://<redacted>@collector/api/traces?a=b@c"
        );
    }

    #[cfg(any(feature = "collector", feature = "client", feature = "otlp"))]
    #[test]
    fn credentials_never_reach_the_url_tag() {
        let url = Url::parse("https://user:secret@api.example.com:8443/v1?q=1").unwrap();
        assert_eq!(
            without_credentials(&url),
            "https://api.example.com:8443/v1?q=1"
        );
        let plain = Url::parse("http://127.0.0.1:8000/hello/x").unwrap();
        assert_eq!(without_credentials(&plain), "http://127.0.0.1:8000/hello/x");
        // A user name alone, a password alone, an empty password.
        for url in ["http://token@h/x", "http://:secret@h/x", "http://user:@h/x"] {
            let url = Url::parse(url).unwrap();
            assert_eq!(without_credentials(&url), "http://h/x");
        }
    }

    fn redact(names: &[&str]) -> QueryPolicy {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        QueryPolicy::new(false, &names)
    }

    /// The query as `policy` records it; `None` when stripped.
    fn query(policy: &QueryPolicy, query: &str) -> Option<String> {
        policy.query(query).map(Cow::into_owned)
    }

    #[test]
    fn the_policy_follows_the_two_options_and_strip_wins() {
        assert_eq!(QueryPolicy::new(false, &[]), QueryPolicy::Keep);
        assert_eq!(QueryPolicy::new(true, &[]), QueryPolicy::Strip);
        assert_eq!(
            QueryPolicy::new(true, &["token".to_owned()]),
            QueryPolicy::Strip
        );
        assert_eq!(
            redact(&["Token", "SIG"]),
            QueryPolicy::Redact(vec!["token".to_owned(), "sig".to_owned()].into())
        );
    }

    #[test]
    fn keep_borrows_the_query_and_strip_drops_it() {
        let q = "a=1&token=x";
        assert!(matches!(QueryPolicy::Keep.query(q), Some(Cow::Borrowed(b)) if b == q));
        assert_eq!(QueryPolicy::Strip.query(q), None);
        assert_eq!(QueryPolicy::Strip.query(""), None);
    }

    #[test]
    fn named_values_are_redacted_wherever_they_stand() {
        let policy = redact(&["token", "sig"]);
        let cases = [
            ("token=abc", "token=REDACTED"),
            ("token=abc&a=1", "token=REDACTED&a=1"),
            ("a=1&token=abc&b=2", "a=1&token=REDACTED&b=2"),
            ("a=1&token=abc", "a=1&token=REDACTED"),
            (
                "token=1&sig=2&token=3",
                "token=REDACTED&sig=REDACTED&token=REDACTED",
            ),
            // The whole value, '=' and escapes included.
            ("token=a=b%26c&d=e", "token=REDACTED&d=e"),
            // Empty parameters and order kept byte for byte.
            ("&&token=x&&z=%41+b&", "&&token=REDACTED&&z=%41+b&"),
        ];
        for (raw, expected) in cases {
            assert_eq!(query(&policy, raw).as_deref(), Some(expected), "{raw}");
        }
    }

    #[test]
    fn names_match_ignoring_case_once_decoded() {
        let policy = redact(&["Token", "my key", "a=b", "über"]);
        for raw in [
            "TOKEN=x",
            "tOkEn=x",
            "%74oken=x",
            "to%6Ben=x",
            "to%6ben=x",
            "my+key=x",
            "my%20key=x",
            "MY%20Key=x",
            "a%3Db=x",
            "%C3%9Cber=x",
            "%c3%bcber=x",
        ] {
            let name = raw.split_once('=').unwrap().0;
            assert_eq!(
                query(&policy, raw),
                Some(format!("{name}=REDACTED")),
                "{raw}"
            );
        }
    }

    #[test]
    fn other_parameters_are_kept_and_the_query_borrowed() {
        let policy = redact(&["token"]);
        for raw in [
            "",
            "tokens=x",
            "xtoken=x",
            "toke=x",
            "token%=x",
            "%zz=1",
            // Nothing to hide: no value.
            "token",
            "token=",
            "a=1&token&token=",
            // The value of another parameter, even when it reads "token=".
            "a=token=x",
            // `;` does not separate parameters (as for Rocket).
            "a=1;token=x",
            // `+` is a space: "to+ken" is "to ken".
            "to+ken=x",
        ] {
            assert!(
                matches!(policy.query(raw), Some(Cow::Borrowed(q)) if q == raw),
                "{raw}"
            );
        }
        assert_eq!(
            query(&redact(&["to+ken"]), "to%2Bken=x&to+ken=y").as_deref(),
            Some("to%2Bken=REDACTED&to+ken=y")
        );
    }

    #[test]
    fn the_target_is_the_path_and_the_query_kept() {
        let keep = QueryPolicy::Keep;
        assert_eq!(keep.target("/x", None), "/x");
        assert_eq!(keep.target("/x", Some("")), "/x?");
        assert_eq!(keep.target("/x", Some("token=1")), "/x?token=1");
        let strip = QueryPolicy::Strip;
        assert_eq!(strip.target("/x", None), "/x");
        assert_eq!(strip.target("/x", Some("")), "/x");
        assert_eq!(strip.target("/x", Some("token=1")), "/x");
        let policy = redact(&["token"]);
        assert_eq!(policy.target("/x", None), "/x");
        assert_eq!(
            policy.target("/x", Some("token=1&b")),
            "/x?token=REDACTED&b"
        );
        assert_eq!(policy.target("/x", Some("b=1")), "/x?b=1");
    }

    #[cfg(feature = "client")]
    #[test]
    fn client_urls_lose_credentials_and_the_query_as_the_policy_says() {
        let url = |s: &str| Url::parse(s).unwrap();
        let full = url("https://user:pw@api.example.com:8443/v1/x?a=1&token=s#frag?token=f");
        assert_eq!(
            QueryPolicy::Keep.url(&full),
            "https://api.example.com:8443/v1/x?a=1&token=s#frag?token=f"
        );
        assert_eq!(
            QueryPolicy::Strip.url(&full),
            "https://api.example.com:8443/v1/x"
        );
        assert_eq!(
            redact(&["token"]).url(&full),
            "https://api.example.com:8443/v1/x?a=1&token=REDACTED#frag?token=f"
        );
        // A '?' in the fragment is not a query.
        let fragment_only = url("http://h/p#a?token=f");
        assert_eq!(QueryPolicy::Strip.url(&fragment_only), "http://h/p");
        assert_eq!(
            redact(&["token"]).url(&fragment_only),
            "http://h/p#a?token=f"
        );
        // A '?' inside the query is part of it.
        let url2 = url("http://h/p?next=/a?token=1&token=2");
        assert_eq!(
            redact(&["token"]).url(&url2),
            "http://h/p?next=/a?token=1&token=REDACTED"
        );
        assert_eq!(QueryPolicy::Strip.url(&url("http://h/")), "http://h/");
        assert_eq!(QueryPolicy::Strip.url(&url("http://h/?")), "http://h/");
    }

    #[test]
    fn a_host_never_carries_userinfo() {
        assert_eq!(
            host_without_userinfo("example.com:8000"),
            "example.com:8000"
        );
        assert_eq!(host_without_userinfo("user:pw@example.com"), "example.com");
        assert_eq!(host_without_userinfo("a@b@example.com"), "example.com");
        assert_eq!(host_without_userinfo("@example.com"), "example.com");
        assert_eq!(host_without_userinfo("user@"), "");
    }

    #[test]
    fn userinfo_is_stripped_from_url_values() {
        assert_eq!(
            strip_userinfo("https://user:pw@site.test/p?q=a@b"),
            "https://site.test/p?q=a@b"
        );
        assert_eq!(strip_userinfo("http://a@b@site.test"), "http://site.test");
        for kept in [
            "https://site.test/p@x",
            "https://site.test?q=a@b",
            "https://site.test#a@b",
            "mailto:a@b",
            "/relative@x",
        ] {
            assert!(
                matches!(strip_userinfo(kept), Cow::Borrowed(k) if k == kept),
                "{kept}"
            );
        }
    }
}
