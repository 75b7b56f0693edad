//! A stand-in OTLP/HTTP receiver for the tests: the fake collector's
//! HTTP/1.1 server ([`read_request`], [`write_response`]) answering from a
//! script of replies (a status, a `Retry-After` header, a protobuf
//! `ExportTraceServiceResponse` such as a partial success). Every request
//! body is gunzipped when its `Content-Encoding` is `gzip` and decoded with
//! the OpenTelemetry project's own definitions (`opentelemetry-proto`), an
//! implementation independent of the crate's encoder; a body that does not
//! decode is answered `400` and makes [`OtlpReceiver::receive`] fail the
//! test.
#![allow(dead_code)]

use super::collector::{read_request, write_response};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use flate2::read::GzDecoder;
use parking_lot::Mutex;
use prost::Message;
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::common::v1::{any_value::Value, KeyValue};
pub use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};

/// The content type of OTLP/HTTP protobuf bodies.
pub const PROTOBUF: &str = "application/x-protobuf";

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The `Retry-After` header's value, if any.
    pub retry_after: Option<String>,
    /// A protobuf `ExportTraceServiceResponse` (empty: every span accepted).
    pub body: Vec<u8>,
}

impl Reply {
    /// `200` with an empty `ExportTraceServiceResponse`: all accepted.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    /// `status`, no body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
            body: Vec::new(),
        }
    }

    /// `status` with `Retry-After: <seconds>`.
    pub fn retry_after(status: u16, seconds: u64) -> Reply {
        Reply {
            retry_after: Some(seconds.to_string()),
            ..Reply::status(status)
        }
    }

    /// `200` with a `partial_success` rejecting `rejected` spans.
    pub fn partial_success(rejected: i64, message: &str) -> Reply {
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message.to_owned(),
            }),
        };
        Reply {
            body: response.encode_to_vec(),
            ..Reply::ok()
        }
    }
}

/// One export request the receiver got, decoded.
#[derive(Debug, Clone)]
pub struct Export {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as it came over the wire (compressed or not).
    pub raw_body: Vec<u8>,
    /// The body gunzipped, if it was compressed.
    pub body: Vec<u8>,
    pub request: ExportTraceServiceRequest,
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl Export {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every span of the request, in order.
    pub fn spans(&self) -> Vec<&Span> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect()
    }

    /// The attributes of the (one) resource.
    pub fn resource(&self) -> &[KeyValue] {
        assert_eq!(self.request.resource_spans.len(), 1, "one resource");
        self.request.resource_spans[0]
            .resource
            .as_ref()
            .map_or(&[], |r| &r.attributes)
    }

    /// The resource's `service.name`.
    pub fn service_name(&self) -> String {
        str_attr(self.resource(), "service.name")
            .expect("a service.name")
            .to_owned()
    }

    /// Whether the receiver accepted it (answered 2xx).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A span with the `service.name` of its resource.
#[derive(Debug, Clone)]
pub struct ServiceSpan {
    pub service: String,
    pub span: Span,
}

/// Every span of the accepted `exports`, with its service name.
pub fn spans_of(exports: &[Export]) -> Vec<ServiceSpan> {
    exports
        .iter()
        .filter(|e| e.accepted())
        .flat_map(|e| {
            let service = e.service_name();
            e.spans().into_iter().map(move |span| ServiceSpan {
                service: service.clone(),
                span: span.clone(),
            })
        })
        .collect()
}

/// The value of the attribute `key`.
pub fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    let mut found = attributes.iter().filter(|kv| kv.key == key);
    let first = found.next()?;
    assert!(found.next().is_none(), "attribute {key} given twice");
    first.value.as_ref()?.value.as_ref()
}

/// A string attribute.
pub fn str_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attributes, key)? {
        Value::StringValue(s) => Some(s),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

/// An integer attribute.
pub fn int_attr(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attributes, key)? {
        Value::IntValue(i) => Some(*i),
        other => panic!("{key} is not an integer: {other:?}"),
    }
}

/// The attribute keys, sorted.
pub fn keys(attributes: &[KeyValue]) -> Vec<&str> {
    let mut keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

/// A span's status code (`Unset` without a status).
pub fn status_code(span: &Span) -> StatusCode {
    span.status.as_ref().map_or(StatusCode::Unset, |s| s.code())
}

/// A span's status message (empty without a status).
pub fn status_message(span: &Span) -> &str {
    span.status.as_ref().map_or("", |s| s.message.as_str())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A trace id as OTLP carries it: `high` then `low`, big-endian.
pub fn trace_id(high: u64, low: u64) -> Vec<u8> {
    let mut id = high.to_be_bytes().to_vec();
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// A span id as OTLP carries it.
pub fn span_id(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// The body gunzipped if `content_encoding` says so, then decoded.
fn decode(
    content_encoding: Option<&str>,
    raw: &[u8],
) -> Result<(Vec<u8>, ExportTraceServiceRequest), String> {
    let body = match content_encoding {
        None => raw.to_vec(),
        Some(encoding) if encoding.eq_ignore_ascii_case("gzip") => {
            let mut body = Vec::new();
            GzDecoder::new(raw)
                .read_to_end(&mut body)
                .map_err(|e| format!("the body does not gunzip: {e}"))?;
            body
        }
        Some(other) => return Err(format!("unknown content-encoding {other:?}")),
    };
    let request = ExportTraceServiceRequest::decode(body.as_slice())
        .map_err(|e| format!("the body is not an ExportTraceServiceRequest: {e}"))?;
    Ok((body, request))
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
}

/// A stand-in OTLP/HTTP receiver on loopback; dropping it stops accepting
/// (open connections end when the client closes them).
pub struct OtlpReceiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    requests: Receiver<Result<Export, String>>,
}

impl OtlpReceiver {
    /// A receiver on an ephemeral loopback port.
    pub fn bind() -> OtlpReceiver {
        OtlpReceiver::on(TcpListener::bind("127.0.0.1:0").expect("bind the OTLP receiver"))
    }

    /// A receiver accepting on `listener`.
    pub fn on(listener: TcpListener) -> OtlpReceiver {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (tx, requests) = crossbeam_channel::unbounded();
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let shared = Arc::clone(&accept_shared);
                let tx = tx.clone();
                thread::spawn(move || serve(stream, &shared, &tx));
            }
        });
        OtlpReceiver {
            addr,
            shared,
            requests,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`: an `otlp_endpoint`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>/v1/traces`: the traces URL.
    pub fn endpoint(&self) -> String {
        format!("{}/v1/traces", self.base_url())
    }

    /// Answers the next requests as given (then `200` again).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().extend(replies);
    }

    fn next(&self, timeout: Duration) -> Option<Export> {
        match self.requests.recv_timeout(timeout) {
            Ok(Ok(export)) => Some(export),
            Ok(Err(error)) => panic!("the OTLP receiver got an undecodable request: {error}"),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("the OTLP receiver stopped"),
        }
    }

    /// Receives requests until the accepted ones hold `spans` spans or
    /// `timeout` passes (every request received is returned).
    pub fn receive(&self, spans: usize, timeout: Duration) -> Vec<Export> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        let mut count = 0;
        while count < spans {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Some(export) => {
                    if export.accepted() {
                        count += export.spans().len();
                    }
                    received.push(export);
                }
                None => break,
            }
        }
        received
    }

    /// Every request received until none arrives for `wait`.
    pub fn drain(&self, wait: Duration) -> Vec<Export> {
        let mut received = Vec::new();
        while let Some(export) = self.next(wait) {
            received.push(export);
        }
        received
    }

    /// Whether no request arrives within `wait`.
    pub fn is_quiet(&self, wait: Duration) -> bool {
        self.next(wait).is_none()
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(stream: TcpStream, shared: &Shared, tx: &Sender<Result<Export, String>>) {
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let at = Instant::now();
        let decoded = decode(request.header("content-encoding"), &request.body);
        let reply = match &decoded {
            Ok(_) => shared.script.lock().pop_front().unwrap_or_else(Reply::ok),
            Err(error) => Reply {
                body: error.clone().into_bytes(),
                ..Reply::status(400)
            },
        };
        let accepted = decoded.is_ok();
        let _ = tx.send(decoded.map(|(body, decoded)| Export {
            method: request.method,
            path: request.path,
            headers: request.headers,
            raw_body: request.body,
            body,
            request: decoded,
            status: reply.status,
            at,
        }));
        let content_type = if accepted { PROTOBUF } else { "text/plain" };
        let mut headers = vec![("content-type", content_type)];
        if let Some(seconds) = &reply.retry_after {
            headers.push(("retry-after", seconds.as_str()));
        }
        if write_response(&mut writer, reply.status, &headers, &reply.body).is_err() {
            return;
        }
    }
}
