//! A stand-in Jaeger agent for `bench/run`: a UDP socket on 127.0.0.1 that
//! counts the `emitBatch` datagrams it receives, their bytes, the largest one,
//! and the spans in them (each datagram decoded with `thrift_codec`, by the
//! tests' decoder, independent of the crate's encoder).
//!
//! ```sh
//! cargo run --release --example bench_sink -- 0    # 0: an ephemeral port
//! ```
//!
//! The port comes from the first argument, else `BENCH_SINK_PORT`, else 0.
//! On start it prints `bench_sink: listening on 127.0.0.1:<port> (receive
//! buffer <n> bytes)` on stdout.
//! A datagram holding exactly `bench_sink:stop` (e.g. bash's
//! `printf bench_sink:stop >/dev/udp/127.0.0.1/<port>`) makes it print its
//! totals and exit:
//!
//! ```text
//! bench_sink: datagrams=N bytes=N max_size=N spans=N invalid=N max_queued=N cpu_ms=N
//! ```
//!
//! (`max_queued`: the most datagrams received but not yet decoded;
//! `cpu_ms`: the CPU time the sink used, user and system.)
//!
//! Datagrams are handled in the order they were received, so once the
//! process sending spans has exited, the stop datagram comes after all of its
//! spans: the totals are complete. One thread only receives (so that the
//! kernel's buffer is drained fast and drops nothing) and hands each datagram
//! over a channel to the main thread, which decodes. The main thread's id
//! is the process id: `renice -n 19 -p <pid>` lowers the priority of the
//! decoding only (Linux nice values are per thread), so that under a CPU-bound
//! benchmark the sink takes little CPU from the server while the socket is
//! still drained promptly; the decoding then catches up when CPU is free.

#[path = "../../../tests/common/agent.rs"]
mod agent;

use agent::{Agent, Batch};
use rocket_opentracing_bench::{cpu_ms, sink_port};
use std::io::Write;
use std::net::UdpSocket;
use std::panic::{self, AssertUnwindSafe};

/// The datagram that ends the run.
const STOP: &[u8] = b"bench_sink:stop";

/// The socket's receive buffer asked for (the kernel caps it at
/// `net.core.rmem_max`): with the default (about 200 kB, three 65 kB
/// datagrams), a receiving thread that waits a few milliseconds for a CPU
/// under a CPU-bound benchmark loses datagrams.
const RECEIVE_BUFFER: i32 = 16 * 1024 * 1024;

/// `SO_RCVBUF`, which `std` does not expose: the C library's `setsockopt`
/// and `getsockopt`, declared here (the crate has no `libc` dependency).
#[cfg(target_os = "linux")]
mod receive_buffer {
    use std::ffi::{c_int, c_void};
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    const SOL_SOCKET: c_int = 1;
    const SO_RCVBUF: c_int = 8;

    extern "C" {
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
        fn getsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *mut c_void,
            len: *mut u32,
        ) -> c_int;
    }

    /// Asks for a receive buffer of `bytes`; returns the size the kernel
    /// reports afterwards (0 if unknown).
    pub fn enlarge(socket: &UdpSocket, bytes: c_int) -> c_int {
        let fd = socket.as_raw_fd();
        let len = std::mem::size_of::<c_int>() as u32;
        let mut size: c_int = 0;
        let mut size_len = len;
        // SAFETY: `fd` is an open socket for the duration of the calls, and
        // each pointer points to a `c_int` whose size is the length passed.
        unsafe {
            setsockopt(
                fd,
                SOL_SOCKET,
                SO_RCVBUF,
                (&bytes as *const c_int).cast(),
                len,
            );
            if getsockopt(
                fd,
                SOL_SOCKET,
                SO_RCVBUF,
                (&mut size as *mut c_int).cast(),
                &mut size_len,
            ) != 0
            {
                return 0;
            }
        }
        size
    }
}

#[cfg(not(target_os = "linux"))]
mod receive_buffer {
    /// Elsewhere: the default buffer (size unknown, 0).
    pub fn enlarge(_: &std::net::UdpSocket, _: i32) -> i32 {
        0
    }
}

#[derive(Debug, Default)]
struct Totals {
    datagrams: u64,
    bytes: u64,
    max_size: usize,
    spans: u64,
    /// Datagrams that are not a compact-Thrift `emitBatch` message.
    invalid: u64,
    /// The most datagrams waiting to be decoded.
    max_queued: usize,
}

impl Totals {
    fn add(&mut self, datagram: &[u8]) {
        self.datagrams += 1;
        self.bytes += datagram.len() as u64;
        self.max_size = self.max_size.max(datagram.len());
        // The decoder panics on what it does not expect; count, go on.
        match panic::catch_unwind(AssertUnwindSafe(|| Batch::decode(datagram))) {
            Ok(batch) => self.spans += batch.spans.len() as u64,
            Err(_) => self.invalid += 1,
        }
    }
}

fn main() -> Result<(), String> {
    let port = sink_port("bench_sink")?;
    let socket = UdpSocket::bind(("127.0.0.1", port))
        .map_err(|e| format!("bench_sink: cannot bind 127.0.0.1:{port}: {e}"))?;
    let receive_buffer = receive_buffer::enlarge(&socket, RECEIVE_BUFFER);
    let agent = Agent::on(socket);
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "bench_sink: listening on {} (receive buffer {receive_buffer} bytes)",
        agent.addr
    )
    .map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;

    let mut totals = Totals::default();
    for datagram in agent.datagrams.iter() {
        if datagram == STOP {
            break;
        }
        totals.max_queued = totals.max_queued.max(agent.datagrams.len() + 1);
        totals.add(&datagram);
    }
    drop(agent);
    let Totals {
        datagrams,
        bytes,
        max_size,
        spans,
        invalid,
        max_queued,
    } = totals;
    let cpu_ms = cpu_ms().unwrap_or(0);
    writeln!(
        stdout,
        "bench_sink: datagrams={datagrams} bytes={bytes} max_size={max_size} spans={spans} \
         invalid={invalid} max_queued={max_queued} cpu_ms={cpu_ms}"
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}
