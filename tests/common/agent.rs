//! A fake Jaeger agent for the tests: a UDP socket on loopback whose
//! datagrams are decoded with `thrift_codec` (an implementation independent of
//! the crate's own encoder).
#![allow(dead_code)]

use crossbeam_channel::{Receiver, RecvTimeoutError};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use thrift_codec::data::{Data, Elements, Field, Struct};
use thrift_codec::message::Message;
use thrift_codec::{BinaryDecode, CompactDecode};

/// The receive buffer an agent asks for.
const RECEIVE_BUFFER_BYTES: usize = 8 << 20;

/// A fake Jaeger agent: a thread reading datagrams as fast as possible (so
/// that the kernel does not drop any) and passing them on through a channel.
pub struct Agent {
    pub addr: SocketAddr,
    pub datagrams: Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// An agent on an ephemeral loopback port, with a receive buffer as
    /// large as the kernel allows: the reporter sends a flushed batch as
    /// back-to-back datagrams of up to 64 KiB, and on a busy machine the
    /// reading thread may not run before several have arrived.
    pub fn bind() -> Agent {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .expect("create the agent socket");
        // Capped by the kernel at net.core.rmem_max; a smaller buffer is
        // still a working agent.
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&addr.into()).expect("bind the agent socket");
        Agent::on(socket.into())
    }

    pub fn on(socket: UdpSocket) -> Agent {
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let (tx, datagrams) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_reading = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop_reading.load(Ordering::Relaxed) {
                if let Ok(len) = socket.recv(&mut buf) {
                    if tx.send(buf[..len].to_vec()).is_err() {
                        break;
                    }
                }
            }
        });
        Agent {
            addr,
            datagrams,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Receives datagrams until they hold `spans` spans in total or
    /// `timeout` passes.
    pub fn receive(&self, spans: usize, timeout: Duration) -> Vec<Batch> {
        let deadline = Instant::now() + timeout;
        let mut batches = Vec::new();
        while batches.iter().map(|b: &Batch| b.spans.len()).sum::<usize>() < spans {
            match self
                .datagrams
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(bytes) => batches.push(Batch::decode(&bytes)),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => panic!("agent thread stopped"),
            }
        }
        batches
    }

    /// Whether no datagram arrives within `wait`.
    pub fn is_quiet(&self, wait: Duration) -> bool {
        self.datagrams.recv_timeout(wait).is_err()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A decoded `emitBatch` datagram or collector request body.
#[derive(Debug)]
pub struct Batch {
    pub size: usize,
    pub process: Struct,
    pub spans: Vec<Struct>,
}

impl Batch {
    pub fn decode(bytes: &[u8]) -> Batch {
        let mut reader = bytes;
        let message = Message::compact_decode(&mut reader).expect("a valid compact message");
        assert!(reader.is_empty(), "trailing bytes after the message");
        assert_eq!(message.method_name(), "emitBatch");
        Batch::of(bytes.len(), as_struct(field(message.body(), 1)))
    }

    /// Decodes a collector request body: a binary-Thrift `Batch` struct.
    pub fn decode_binary(bytes: &[u8]) -> Batch {
        let mut reader = bytes;
        let batch = Struct::binary_decode(&mut reader).expect("a valid binary Batch struct");
        assert!(reader.is_empty(), "trailing bytes after the batch");
        Batch::of(bytes.len(), &batch)
    }

    fn of(size: usize, batch: &Struct) -> Batch {
        Batch {
            size,
            process: as_struct(field(batch, 1)).clone(),
            spans: as_structs(field(batch, 2)).to_vec(),
        }
    }

    pub fn service_name(&self) -> String {
        as_string(field(&self.process, 1))
    }

    pub fn process_tag(&self, key: &str) -> Option<String> {
        let tags = self.process.fields().iter().find(|f| f.id() == 2)?.data();
        as_structs(tags)
            .iter()
            .find(|tag| as_string(field(tag, 1)) == key)
            .map(|tag| as_string(field(tag, 3)))
    }
}

pub fn field(s: &Struct, id: i16) -> &Data {
    s.fields()
        .iter()
        .find(|f| f.id() == id)
        .map(Field::data)
        .unwrap_or_else(|| panic!("no field {id} in {s:?}"))
}

pub fn has_field(s: &Struct, id: i16) -> bool {
    s.fields().iter().any(|f| f.id() == id)
}

pub fn as_struct(data: &Data) -> &Struct {
    match data {
        Data::Struct(s) => s,
        other => panic!("not a struct: {other:?}"),
    }
}

pub fn as_structs(data: &Data) -> &[Struct] {
    match data {
        Data::List(list) => match &**list {
            Elements::Struct(structs) => structs,
            other => panic!("not a list of structs: {other:?}"),
        },
        other => panic!("not a list: {other:?}"),
    }
}

pub fn as_string(data: &Data) -> String {
    match data {
        Data::Binary(bytes) => String::from_utf8(bytes.clone()).expect("UTF-8"),
        other => panic!("not a string: {other:?}"),
    }
}

pub fn span_name(span: &Struct) -> String {
    as_string(field(span, 5))
}

/// The tag of a decoded span named `key`.
pub fn span_tag<'a>(span: &'a Struct, key: &str) -> &'a Struct {
    as_structs(field(span, 10))
        .iter()
        .find(|tag| as_string(field(tag, 1)) == key)
        .unwrap_or_else(|| panic!("no tag {key}"))
}

pub fn all_spans(batches: &[Batch]) -> Vec<&Struct> {
    batches.iter().flat_map(|b| &b.spans).collect()
}

/// A decoded span's `i64` field (ids, times).
pub fn as_i64(data: &Data) -> i64 {
    match data {
        Data::I64(v) => *v,
        other => panic!("not an i64: {other:?}"),
    }
}

/// The string value of a decoded span's tag, if it has one named `key`.
pub fn string_tag(span: &Struct, key: &str) -> Option<String> {
    if !has_field(span, 10) {
        return None;
    }
    as_structs(field(span, 10))
        .iter()
        .find(|tag| as_string(field(tag, 1)) == key)
        .filter(|tag| has_field(tag, 3))
        .map(|tag| as_string(field(tag, 3)))
}
