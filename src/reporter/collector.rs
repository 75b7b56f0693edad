//! Delivery to a Jaeger collector over HTTP: each batch is POSTed to the
//! collector's `/api/traces` endpoint as a binary-Thrift `Batch`
//! (`Content-Type: application/x-thrift`), the agentless setup of modern
//! Jaeger deployments.

use std::io;
use std::net::ToSocketAddrs;
use std::sync::Arc;

use super::sender::{SendError, Transport};
use super::thrift::Wire;
use super::{CollectorAuth, Destination, MAX_COLLECTOR_BATCH_SIZE};
use crate::redact::{redact_credentials, without_credentials};
use reqwest::blocking::Client;
use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};
use rustls::crypto::CryptoProvider;
use rustls::ClientConfig;
use rustls_platform_verifier::BuilderVerifierExt;
use std::time::Duration;

/// How long one POST may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long connecting to the collector may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The content type of a binary-Thrift Jaeger batch.
const THRIFT_CONTENT_TYPE: &str = "application/x-thrift";

/// Where spans go with a collector `endpoint`: its batches, its size
/// bound, and the HTTP transport (built on the sender thread).
pub(super) fn destination(endpoint: &str, auth: Option<CollectorAuth>) -> io::Result<Destination> {
    let url = parse_endpoint(endpoint).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid jaeger collector endpoint {:?}: {e}",
                redact_credentials(endpoint)
            ),
        )
    })?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let resolved = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next());
    Ok(Destination {
        wire: Wire::Collector,
        max_len: MAX_COLLECTOR_BATCH_SIZE,
        shown: without_credentials(&url),
        resolved,
        make_transport: Box::new(move || {
            let collector = HttpCollector::new(url, auth)
                .map_err(|e| io::Error::other(format!("cannot build the HTTP client: {e}")))?;
            Ok(Box::new(collector) as Box<dyn Transport>)
        }),
    })
}

/// Parses and checks a collector endpoint: an absolute `http` or `https`
/// URL, e.g. `http://jaeger-collector:14268/api/traces`.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    let url = Url::parse(endpoint.trim()).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "http" | "https" => Err("the URL has no host".to_owned()),
        other => Err(format!("unsupported scheme {other:?}; use http or https")),
    }
}

/// The HTTP transport.
#[derive(Debug)]
pub(super) struct HttpCollector {
    client: Client,
    endpoint: Url,
    auth: Option<CollectorAuth>,
}

impl HttpCollector {
    /// Builds the HTTP client. Call it on the thread that sends (reqwest's
    /// blocking client must not be created or dropped inside an async
    /// runtime).
    pub(super) fn new(endpoint: Url, auth: Option<CollectorAuth>) -> Result<Self, String> {
        let tls = tls_config().map_err(|e| format!("TLS setup failed: {e}"))?;
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("rocket_opentracing/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpCollector {
            client,
            endpoint,
            auth,
        })
    }
}

/// The TLS setup of `https` endpoints: rustls with the crypto provider the
/// application installed as the process default, or *ring* when it
/// installed none (this crate never installs one itself), and the
/// platform's certificate verifier (the operating system's trust store).
fn tls_config() -> Result<ClientConfig, rustls::Error> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth())
}

impl Transport for HttpCollector {
    /// POSTs one batch. Connection errors, timeouts, `408`, `429` and `5xx`
    /// answers may be retried; other answers outside `2xx` may not.
    fn send(&mut self, payload: &[u8]) -> Result<(), SendError> {
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, THRIFT_CONTENT_TYPE)
            .body(payload.to_vec());
        request = match &self.auth {
            Some(CollectorAuth::Basic { user, password }) => {
                request.basic_auth(user, Some(password))
            }
            Some(CollectorAuth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().map_err(|e| {
            // Never log the URL's credentials, if any.
            SendError::retryable(format!(
                "POST to the jaeger collector failed: {}",
                e.without_url()
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let message = format!("the jaeger collector answered {status}");
        if is_retryable(status) {
            Err(SendError::retryable(message))
        } else {
            Err(SendError::fatal(message))
        }
    }
}

/// Whether an answer means "try again later".
fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
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

    #[test]
    fn only_transient_answers_are_retried() {
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::REQUEST_TIMEOUT));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::UNAUTHORIZED));
        assert!(!is_retryable(StatusCode::NOT_FOUND));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let basic = CollectorAuth::Basic {
            user: "alice".to_owned(),
            password: "hunter2".to_owned(),
        };
        let bearer = CollectorAuth::Bearer("s3cr3t-token".to_owned());
        let shown = format!("{basic:?} {bearer:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
