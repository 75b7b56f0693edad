//! Delivery over OTLP/HTTP: each batch is POSTed to the traces endpoint as
//! a protobuf `ExportTraceServiceRequest` (`application/x-protobuf`),
//! gzip-compressed if configured, with the configured headers; the answer
//! is read as the OTLP/HTTP specification says:
//!
//! - `2xx`: delivered; a `partial_success` in the answer counts its
//!   `rejected_spans` as rejected (failed, not retried);
//! - `429`, `502`, `503`, `504`, connection errors and timeouts: retried
//!   (by the sender) after the delay a `Retry-After` header gives in
//!   seconds, else with jittered exponential backoff;
//! - `400`: the batch is rejected (counted, not retried);
//! - anything else: failed, not retried.

use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;
use ureq::http::{HeaderMap, StatusCode};
use ureq::Agent;

use crate::reporter::config::{OtlpCompression, OtlpConfig};
use url::Url;

use crate::redact::without_credentials;
use crate::reporter::http::{authorization, credentials_in, http_agent, MAX_ANSWER_BODY};
use crate::reporter::sender::{Accepted, SendError, Transport};

/// The content type of OTLP/HTTP protobuf bodies.
pub(crate) const PROTOBUF_CONTENT_TYPE: &str = "application/x-protobuf";

/// OTLP's `ExportTraceServiceResponse` (as much of it as is read).
#[derive(Clone, PartialEq, Message)]
struct ExportTraceServiceResponse {
    #[prost(message, optional, tag = "1")]
    partial_success: Option<ExportTracePartialSuccess>,
}

/// OTLP's `ExportTracePartialSuccess`.
#[derive(Clone, PartialEq, Message)]
struct ExportTracePartialSuccess {
    #[prost(int64, tag = "1")]
    rejected_spans: i64,
    #[prost(string, tag = "2")]
    error_message: String,
}

/// The OTLP/HTTP transport, on the sender thread.
pub(crate) struct OtlpHttp {
    agent: Agent,
    /// The endpoint without credentials (they travel in `authorization`).
    endpoint: String,
    headers: Vec<(String, String)>,
    compression: OtlpCompression,
    /// Reused: the compressed body.
    compressed: Vec<u8>,
}

impl OtlpHttp {
    /// A transport for `config`, its endpoint `url` (checked); credentials
    /// in the URL become basic authentication, unless an `authorization`
    /// header is configured.
    pub(crate) fn new(url: Url, config: OtlpConfig) -> Self {
        let mut headers = config.headers;
        let has_authorization = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if let Some(auth) = credentials_in(&url).filter(|_| !has_authorization) {
            headers.push(("authorization".to_owned(), authorization(&auth)));
        }
        OtlpHttp {
            agent: http_agent(config.timeout),
            endpoint: without_credentials(&url),
            headers,
            compression: config.compression,
            compressed: Vec::new(),
        }
    }

    fn compress(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.compressed.clear();
        let mut encoder = GzEncoder::new(&mut self.compressed, Compression::fast());
        encoder.write_all(payload)?;
        encoder.finish()?;
        Ok(())
    }
}

impl Transport for OtlpHttp {
    fn send(&mut self, payload: &[u8]) -> Result<Accepted, SendError> {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("content-type", PROTOBUF_CONTENT_TYPE);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = match self.compression {
            OtlpCompression::None => payload,
            OtlpCompression::Gzip => {
                self.compress(payload)
                    .map_err(|e| SendError::fatal(format!("gzip compression failed: {e}")))?;
                request = request.header("content-encoding", "gzip");
                &self.compressed
            }
        };
        let mut response = request.send(body).map_err(|e| {
            // The endpoint holds no credentials; the error may quote it.
            SendError::retryable(format!("POST to the OTLP endpoint failed: {e}"))
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BODY)
            .read_to_vec()
            .unwrap_or_default();
        if status.is_success() {
            return Ok(accepted(&answer));
        }
        let message = format!("the OTLP endpoint answered {status}{}", detail(&answer));
        Err(match classify(status) {
            Answer::Retry => SendError::retryable(message).with_retry_after(retry_after),
            Answer::Rejected => SendError::rejected(message),
            Answer::Fail => SendError::fatal(message),
        })
    }
}

/// What a successful answer's body says was accepted (an undecodable body
/// is taken as "everything").
fn accepted(answer: &[u8]) -> Accepted {
    match ExportTraceServiceResponse::decode(answer) {
        Ok(ExportTraceServiceResponse {
            partial_success: Some(partial),
        }) if partial.rejected_spans > 0 => Accepted {
            rejected: partial.rejected_spans as u64,
            // Logged: short, one line.
            message: printable(&partial.error_message),
        },
        _ => Accepted::ALL,
    }
}

/// A short, printable excerpt of an error answer's body, if it is text.
fn detail(answer: &[u8]) -> String {
    match std::str::from_utf8(answer) {
        Ok(text) if !text.trim().is_empty() => format!(": {}", printable(text)),
        _ => String::new(),
    }
}

/// What a receiver said, fit for one log line: at most 200 bytes, control
/// characters and line or paragraph separators as spaces.
fn printable(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    let cut = crate::limits::floor_char_boundary(text, MAX);
    text[..cut]
        .chars()
        .map(|c| match c {
            '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// What to do after an answer outside `2xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Retry,
    Rejected,
    Fail,
}

/// The OTLP/HTTP specification's retryable answers, and `400`.
fn classify(status: StatusCode) -> Answer {
    match status.as_u16() {
        429 | 502 | 503 | 504 => Answer::Retry,
        400 => Answer::Rejected,
        _ => Answer::Fail,
    }
}

/// A `Retry-After` header's delay, when given in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_the_specification_says() {
        for code in [429, 502, 503, 504] {
            assert_eq!(classify(StatusCode::from_u16(code).unwrap()), Answer::Retry);
        }
        assert_eq!(classify(StatusCode::BAD_REQUEST), Answer::Rejected);
        for code in [401, 403, 404, 413, 500, 501] {
            assert_eq!(classify(StatusCode::from_u16(code).unwrap()), Answer::Fail);
        }
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn partial_success_counts_rejected_spans() {
        let answer = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "too old".to_owned(),
            }),
        }
        .encode_to_vec();
        assert_eq!(
            accepted(&answer),
            Accepted {
                rejected: 3,
                message: "too old".to_owned()
            }
        );
        assert_eq!(accepted(&[]), Accepted::ALL);
        // A receiver's message cannot forge log lines or flood the log.
        let hostile = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 1,
                error_message: format!("x\nWARN forged\r\n{}", "y".repeat(60_000)),
            }),
        }
        .encode_to_vec();
        let message = accepted(&hostile).message;
        assert!(!message.contains(['\n', '\r']), "{message}");
        assert!(message.len() <= 200, "{}", message.len());
        assert_eq!(accepted(b"{\"json\": true}"), Accepted::ALL);
    }

    #[test]
    fn credentials_in_the_url_become_basic_auth_unless_a_header_is_set() {
        let url = Url::parse("http://us%40er:pa%3Ass@otel:4318/v1/traces").unwrap();
        let otlp = OtlpHttp::new(url.clone(), OtlpConfig::new(url.as_str()));
        assert_eq!(otlp.endpoint, "http://otel:4318/v1/traces");
        // base64("us@er:pa:ss")
        let expected = (
            "authorization".to_owned(),
            "Basic dXNAZXI6cGE6c3M=".to_owned(),
        );
        assert_eq!(otlp.headers, vec![expected]);
        let mut config = OtlpConfig::new(url.as_str());
        config.headers = vec![("Authorization".to_owned(), "Bearer t".to_owned())];
        let otlp = OtlpHttp::new(url, config);
        assert_eq!(otlp.headers.len(), 1);
        assert_eq!(otlp.headers[0].1, "Bearer t");
    }

    #[test]
    fn error_details_are_short_and_printable() {
        assert_eq!(detail(b""), "");
        assert_eq!(detail(&[0xff, 0xfe]), "");
        assert_eq!(detail(b"bad\nthing"), ": bad thing");
        assert_eq!(detail("a\u{2028}b\u{2029}c".as_bytes()), ": a b c");
        assert_eq!(detail("x".repeat(500).as_bytes()).len(), 202);
    }
}
