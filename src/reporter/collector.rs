//! Delivery to a Jaeger collector over HTTP: each batch is POSTed to the
//! collector's `/api/traces` endpoint as a binary-Thrift `Batch`
//! (`Content-Type: application/x-thrift`), the agentless setup of modern
//! Jaeger deployments.

use std::io;
use std::time::Duration;

use ureq::http::StatusCode;
use ureq::Agent;
use url::Url;

use super::http::{authorization, credentials_in, endpoint_url, http_agent, MAX_ANSWER_BODY};
use super::sender::{Accepted, SendError, Transport};
use super::stats::Target;
use super::thrift::Wire;
use super::{CollectorAuth, Destination, Encoding, MAX_COLLECTOR_BATCH_SIZE};
use crate::redact::without_credentials;

/// How long one POST may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The content type of a binary-Thrift Jaeger batch.
const THRIFT_CONTENT_TYPE: &str = "application/x-thrift";

/// Where spans go with a collector `endpoint`: its batches, its size
/// bound, and the HTTP transport (built on the sender thread).
pub(super) fn destination(endpoint: &str, auth: Option<CollectorAuth>) -> io::Result<Destination> {
    let (url, resolved) = endpoint_url("jaeger collector endpoint", endpoint)?;
    Ok(Destination {
        encoding: Encoding::Thrift(Wire::Collector),
        max_len: MAX_COLLECTOR_BATCH_SIZE,
        shown: without_credentials(&url),
        target: Target::Collector(without_credentials(&url)),
        resolved,
        request_timeout: REQUEST_TIMEOUT,
        make_transport: Box::new(move || {
            Ok(Box::new(HttpCollector::new(url, auth)) as Box<dyn Transport>)
        }),
    })
}

/// The HTTP transport: ureq's blocking agent (see [`http_agent`]), on the
/// sender thread.
#[derive(Debug)]
pub(super) struct HttpCollector {
    agent: Agent,
    /// The endpoint without credentials (they travel in `authorization`).
    endpoint: String,
    /// The `authorization` header's value, if any.
    authorization: Option<String>,
}

impl HttpCollector {
    /// Builds the HTTP client; `auth` wins over credentials in the URL
    /// (`https://user:password@collector/api/traces`).
    pub(super) fn new(endpoint: Url, auth: Option<CollectorAuth>) -> Self {
        let agent = http_agent(REQUEST_TIMEOUT);
        let auth = auth.or_else(|| credentials_in(&endpoint));
        HttpCollector {
            agent,
            endpoint: without_credentials(&endpoint),
            authorization: auth.as_ref().map(authorization),
        }
    }
}

impl Transport for HttpCollector {
    /// POSTs one batch. Connection errors, timeouts, `408`, `429` and `5xx`
    /// answers may be retried; other answers outside `2xx` may not.
    fn send(&mut self, payload: &[u8]) -> Result<Accepted, SendError> {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("content-type", THRIFT_CONTENT_TYPE);
        if let Some(value) = &self.authorization {
            request = request.header("authorization", value);
        }
        let mut response = request.send(payload).map_err(|e| {
            // The endpoint holds no credentials; the error may quote it.
            SendError::retryable(format!("POST to the jaeger collector failed: {e}"))
        })?;
        let _ = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BODY)
            .read_to_vec();
        let status = response.status();
        if status.is_success() {
            return Ok(Accepted::ALL);
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
    use crate::reporter::http::parse_endpoint;

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
    fn credentials_in_the_url_become_basic_auth_unless_auth_is_set() {
        let url = parse_endpoint("http://tr%40cer:s3c%3Aret@collector:14268/api/traces").unwrap();
        let collector = HttpCollector::new(url.clone(), None);
        assert_eq!(collector.endpoint, "http://collector:14268/api/traces");
        // base64("tr@cer:s3c:ret")
        assert_eq!(
            collector.authorization.as_deref(),
            Some("Basic dHJAY2VyOnMzYzpyZXQ=")
        );
        let bearer = CollectorAuth::Bearer("t0ken".to_owned());
        let collector = HttpCollector::new(url, Some(bearer));
        assert_eq!(collector.authorization.as_deref(), Some("Bearer t0ken"));
        let plain = parse_endpoint("http://collector/api/traces").unwrap();
        assert_eq!(HttpCollector::new(plain, None).authorization, None);
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
