//! Credentials in URLs (`http://user:password@host/...`) never reach a
//! span tag, a log line or a `Debug` output: these helpers take them out.

use reqwest::Url;

/// `url` with any `user:password@` part replaced by `<redacted>@`, even
/// when it does not parse: safe to log.
pub(crate) fn redact_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return match url.rfind('@') {
            Some(at) => format!("<redacted>{}", &url[at..]),
            None => url.to_owned(),
        };
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

/// `url` without its user name and password: safe to tag or log.
pub(crate) fn without_credentials(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.as_str().to_owned();
    }
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.into()
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
            redact_credentials("http://collector:14268/api/traces?a=b@c"),
            "http://collector:14268/api/traces?a=b@c"
        );
        assert_eq!(
            redact_credentials("user:secret@collector"),
            "<redacted>@collector"
        );
    }

    #[test]
    fn credentials_never_reach_the_url_tag() {
        let url = Url::parse("https://user:secret@api.example.com:8443/v1?q=1").unwrap();
        assert_eq!(
            without_credentials(&url),
            "https://api.example.com:8443/v1?q=1"
        );
        let plain = Url::parse("http://127.0.0.1:8000/hello/x").unwrap();
        assert_eq!(without_credentials(&plain), "http://127.0.0.1:8000/hello/x");
    }
}
