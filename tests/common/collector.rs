//! A fake Jaeger HTTP collector for the tests: a minimal HTTP/1.1 server on
//! loopback that records each request and answers from a script; request
//! bodies are decoded as binary-Thrift `Batch` structs with `thrift_codec`.
#![allow(dead_code)]

use super::agent::Batch;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// One request received by the collector.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn batch(&self) -> Batch {
        Batch::decode_binary(&self.body)
    }
}

/// What the collector does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answer with this status.
    Status(u16),
    /// Wait until [`Collector::release`] is called, then answer 202.
    Stall,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Answer>>,
}

/// A fake collector; dropping it stops accepting (open connections end
/// when the client closes them).
pub struct Collector {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    requests: Receiver<Received>,
    release: Sender<()>,
}

impl Collector {
    pub fn bind() -> Collector {
        Collector::on(TcpListener::bind("127.0.0.1:0").expect("bind the collector"))
    }

    pub fn on(listener: TcpListener) -> Collector {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (tx, requests) = crossbeam_channel::unbounded();
        let (release, released) = crossbeam_channel::unbounded::<()>();
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let shared = Arc::clone(&accept_shared);
                let tx = tx.clone();
                let released = released.clone();
                thread::spawn(move || serve(stream, &shared, &tx, &released));
            }
        });
        Collector {
            addr,
            shared,
            requests,
            release,
        }
    }

    /// `http://127.0.0.1:<port>/api/traces`
    pub fn endpoint(&self) -> String {
        format!("http://{}/api/traces", self.addr)
    }

    /// Answers the next requests as given (then 202 again).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().extend(answers);
    }

    /// Lets one stalled request through.
    pub fn release(&self) {
        let _ = self.release.send(());
    }

    /// Receives requests until their batches hold `spans` spans or
    /// `timeout` passes; only successfully answered requests count.
    pub fn receive(&self, spans: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::new();
        let mut count = 0;
        while count < spans {
            match self
                .requests
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(request) => {
                    if (200..300).contains(&request.status) {
                        count += request.batch().spans.len();
                    }
                    received.push(request);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => panic!("collector stopped"),
            }
        }
        received
    }

    /// Every request received within `wait`.
    pub fn drain(&self, wait: Duration) -> Vec<Received> {
        let mut received = Vec::new();
        while let Ok(request) = self.requests.recv_timeout(wait) {
            received.push(request);
        }
        received
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(stream: TcpStream, shared: &Shared, tx: &Sender<Received>, released: &Receiver<()>) {
    let mut writer = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    while let Some(mut request) = read_request(&mut reader) {
        let answer = shared
            .script
            .lock()
            .pop_front()
            .unwrap_or(Answer::Status(202));
        request.status = match answer {
            Answer::Status(status) => status,
            Answer::Stall => {
                let _ = released.recv();
                202
            }
        };
        let status = request.status;
        let _ = tx.send(request);
        if write_response(&mut writer, status, &[], &[]).is_err() {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request (its body sized by `Content-Length`) from a
/// keep-alive connection; `None` once the connection ends. Its `status` is
/// 0 until answered.
pub fn read_request(reader: &mut impl BufRead) -> Option<Received> {
    let mut request_line = String::new();
    match reader.read_line(&mut request_line) {
        Ok(0) | Err(_) => return None,
        Ok(_) => {}
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
        status: 0,
    })
}

/// Writes an HTTP/1.1 answer with `status`, `headers` and `body`.
pub fn write_response(
    writer: &mut impl Write,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}
