//! What the HTTP transports (the Jaeger collector's and OTLP's) share: the
//! blocking HTTP client and how an endpoint URL is checked.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;
use url::Url;

use super::CollectorAuth;
use crate::redact::redact_credentials;

/// How long connecting may take (within a request's own timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of an answer's body is read (the rest is dropped).
pub(super) const MAX_ANSWER_BODY: u64 = 64 * 1024;

/// Parses and checks an endpoint: an absolute `http` or `https` URL with
/// a host, e.g. `http://jaeger-collector:14268/api/traces`.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    let url = Url::parse(endpoint.trim()).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "http" | "https" => Err("the URL has no host".to_owned()),
        other => Err(format!("unsupported scheme {other:?}; use http or https")),
    }
}

/// Parses an endpoint `what` names (for the error) as [`parse_endpoint`]
/// does, and resolves its host now, for the `ip` process tag (`None` if
/// that fails: the transport resolves it again when it sends).
pub(super) fn endpoint_url(what: &str, endpoint: &str) -> io::Result<(Url, Option<SocketAddr>)> {
    let url = parse_endpoint(endpoint).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid {what} {:?}: {e}", redact_credentials(endpoint)),
        )
    })?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let resolved = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next());
    Ok((url, resolved))
}

/// ureq's blocking agent, for requests of at most `timeout` each
/// (connecting within 2 s of it), answers outside `2xx` read rather than
/// turned into errors, and redirects not followed: a `3xx` fails the batch
/// (following it would count a login page as delivery, and send the
/// configured headers to another host).
///
/// `https` endpoints use rustls with the crypto provider the application
/// installed as the process default, or *ring* when it installed none (this
/// crate installs none), and the platform's certificate verifier (the
/// operating system's trust store). Proxies come from `HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, as for most HTTP clients.
pub(super) fn http_agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("rocket_opentracing/", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .new_agent()
}

/// Basic credentials written into the endpoint URL, if any.
pub(super) fn credentials_in(url: &Url) -> Option<CollectorAuth> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    Some(CollectorAuth::Basic {
        user: decode(url.username()),
        password: decode(url.password().unwrap_or_default()),
    })
}

/// The `authorization` header's value for `auth`.
pub(super) fn authorization(auth: &CollectorAuth) -> String {
    match auth {
        CollectorAuth::Basic { user, password } => {
            format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
        }
        CollectorAuth::Bearer(token) => format!("Bearer {token}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        let url = parse_endpoint(" http://collector:14268/api/traces ").unwrap();
        assert_eq!(url.host_str(), Some("collector"));
        assert_eq!(url.port(), Some(14268));
        assert!(parse_endpoint("https://collector/api/traces").is_ok());
        assert!(parse_endpoint("collector:14268").is_err());
        assert!(parse_endpoint("udp://collector:6831").is_err());
        assert!(parse_endpoint("/api/traces").is_err());
        assert!(parse_endpoint("").is_err());
    }
}
