//! A stand-in OTLP/HTTP receiver: a minimal HTTP/1.1 server with keep-alive
//! on a TCP listener of the caller's (127.0.0.1), for `bench_otlp_sink`
//! (`bench/run`'s `all_otlp` mode) and the reporter benchmarks.
//!
//! Each connection has a thread of its own. It reads requests one after the
//! other (a `content-length` or chunked body), hands each over a channel as
//! a [`Received`], and only then answers, so that once a client has its
//! answer the body is in the channel:
//!
//! - `POST /v1/traces` with `content-type: application/x-protobuf` and no
//!   `content-encoding`: [`Received::Export`] with the body, answered `200`
//!   with an empty body (an `ExportTraceServiceResponse` without
//!   `partial_success`: everything accepted);
//! - `POST /bench/stop` ([`STOP_PATH`]): [`Received::Stop`], answered `200`,
//!   and the connection closed;
//! - anything else: [`Received::Invalid`] (what it was), answered `404`
//!   (another path) or `415` (another content type or a compressed body).
//!
//! The bodies are not decoded here: [`count_spans`] does it, with the
//! OpenTelemetry project's own message definitions (`opentelemetry-proto`),
//! independent of the crate's hand-written encoder.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The path OTLP/HTTP exports go to.
pub const TRACES_PATH: &str = "/v1/traces";

/// The path of the request that ends a run (`POST`).
pub const STOP_PATH: &str = "/bench/stop";

/// The content type of OTLP/HTTP protobuf bodies.
const PROTOBUF: &str = "application/x-protobuf";

/// Longest body accepted (the crate sends at most 1 MiB).
const MAX_BODY: usize = 64 << 20;

/// What a request to the receiver was.
#[derive(Debug)]
pub enum Received {
    /// The body of an export (`POST /v1/traces`, protobuf, uncompressed).
    Export(Vec<u8>),
    /// A request other than an export or the stop: the request line, and
    /// why it was refused.
    Invalid(String),
    /// `POST /bench/stop`.
    Stop,
}

/// A running receiver: its address, and the requests it received, in the
/// order each connection's thread handed them over.
pub struct OtlpReceiver {
    pub addr: SocketAddr,
    pub received: Receiver<Received>,
}

impl OtlpReceiver {
    /// Serves `listener` on a thread of its own (and a thread per
    /// connection), for as long as the process runs.
    pub fn spawn(listener: TcpListener) -> io::Result<OtlpReceiver> {
        let addr = listener.local_addr()?;
        let (tx, received) = crossbeam_channel::unbounded();
        thread::Builder::new()
            .name("otlp-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let tx = tx.clone();
                    let _ =
                        thread::Builder::new()
                            .name("otlp-connection".into())
                            .spawn(move || {
                                // A connection that breaks ends its thread; the
                                // client sees the error.
                                let _ = serve(stream, &tx);
                            });
                }
            })?;
        Ok(OtlpReceiver { addr, received })
    }

    /// A receiver on an ephemeral port of 127.0.0.1.
    pub fn bind() -> io::Result<OtlpReceiver> {
        OtlpReceiver::spawn(TcpListener::bind(("127.0.0.1", 0))?)
    }

    /// The traces URL of this receiver.
    pub fn traces_url(&self) -> String {
        format!("http://{}{TRACES_PATH}", self.addr)
    }
}

/// The spans in an `ExportTraceServiceRequest` body; an error if it does
/// not decode, or holds a span without a 16-byte trace id and an 8-byte
/// span id.
pub fn count_spans(body: &[u8]) -> Result<u64, String> {
    let request = ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())?;
    let mut spans = 0;
    for span in request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        if span.trace_id.len() != 16 || span.span_id.len() != 8 {
            return Err(format!(
                "a span with a {}-byte trace id and an {}-byte span id",
                span.trace_id.len(),
                span.span_id.len()
            ));
        }
        spans += 1;
    }
    Ok(spans)
}

/// The headers of a request that matter here.
#[derive(Debug, Default)]
struct Head {
    method: String,
    target: String,
    content_length: Option<usize>,
    chunked: bool,
    content_type: Option<String>,
    content_encoding: Option<String>,
    close: bool,
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads a request's line and headers; `None` when the client closed the
/// connection between requests.
fn read_head(reader: &mut impl BufRead, line: &mut String) -> io::Result<Option<Head>> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.trim_end().split(' ');
    let mut head = Head {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        ..Head::default()
    };
    if parts.next() == Some("HTTP/1.0") {
        head.close = true;
    }
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            return Err(invalid_data(
                "the connection closed within a request's headers",
            ));
        }
        let header = line.trim_end();
        if header.is_empty() {
            return Ok(Some(head));
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid_data(format!("not a header: {header:?}")))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                head.content_length = Some(
                    value
                        .parse()
                        .map_err(|_| invalid_data(format!("content-length {value:?}")))?,
                )
            }
            "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
            "content-type" => head.content_type = Some(value.to_ascii_lowercase()),
            "content-encoding" => head.content_encoding = Some(value.to_ascii_lowercase()),
            "connection" => head.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
}

/// Reads a chunked body.
fn read_chunked(reader: &mut impl BufRead, line: &mut String) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        line.clear();
        reader.read_line(line)?;
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| invalid_data(format!("chunk size {size:?}")))?;
        if body.len() + size > MAX_BODY {
            return Err(invalid_data("body too large"));
        }
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if reader.read_line(line)? == 0 || line.trim_end().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(line)?;
    }
}

/// Serves one connection until the client closes it, asks to, or stops
/// the receiver.
fn serve(stream: TcpStream, tx: &Sender<Received>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    while let Some(head) = read_head(&mut reader, &mut line)? {
        let body = if head.chunked {
            read_chunked(&mut reader, &mut line)?
        } else {
            let len = head.content_length.unwrap_or(0);
            if len > MAX_BODY {
                return Err(invalid_data("body too large"));
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            body
        };
        let request = format!("{} {}", head.method, head.target);
        let (status, received) = match (head.method.as_str(), head.target.as_str()) {
            ("POST", TRACES_PATH) => {
                if head.content_type.as_deref() != Some(PROTOBUF) {
                    let why = format!("content-type {:?}", head.content_type);
                    (415, Received::Invalid(format!("{request}: {why}")))
                } else if let Some(encoding) = head.content_encoding {
                    let why = format!("content-encoding {encoding:?}");
                    (415, Received::Invalid(format!("{request}: {why}")))
                } else {
                    (200, Received::Export(body))
                }
            }
            ("POST", STOP_PATH) => (200, Received::Stop),
            _ => (404, Received::Invalid(request)),
        };
        let stop = matches!(received, Received::Stop);
        // Handed over before the answer: once answered, it is queued.
        let _ = tx.send(received);
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            _ => "Unsupported Media Type",
        };
        let close = head.close || stop;
        // One write (the socket has no Nagle delay).
        let answer = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {PROTOBUF}\r\ncontent-length: 0\r\n{}\r\n",
            if close { "connection: close\r\n" } else { "" }
        );
        writer.write_all(answer.as_bytes())?;
        if close {
            return Ok(());
        }
    }
    Ok(())
}
