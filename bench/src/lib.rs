//! Benchmarks of `rocket_opentracing`, kept out of the library's build.
//!
//! - `cargo bench` (from the repository root) runs the Criterion
//!   micro-benchmarks in `benches/`: the fairing's per-request cost and the
//!   reporter's encoding and delivery;
//! - `bench/run` and `bench/soak` build the binaries in `src/bin/` (a bench
//!   server, a keep-alive client, a stand-in Jaeger agent and a stand-in
//!   OTLP/HTTP receiver) and measure throughput, instructions per request,
//!   delivery and memory under load; `bench/encode` counts the reporter's
//!   instructions per span with `src/bin/bench_encode.rs`.
//! - `bench/tracing` counts the instructions of a `tracing` span inside a
//!   request, under a registry alone, with a no-op layer and with the
//!   crate's `TracingLayer`, sampled and unsampled, with
//!   `src/bin/bench_tracing.rs` (`bench/run` runs it too).
//!
//! The library holds what the binaries and the benchmarks share: the
//! stand-in OTLP/HTTP receiver ([`otlp_receiver`]), the span every reporter
//! benchmark finishes ([`server_span`]), the sinks' port ([`sink_port`]) and
//! [`cpu_ms`].

pub mod otlp_receiver;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use rocket_opentracing::rustracing::tag::StdTag;
use rocket_opentracing::rustracing_jaeger::Tracer;

/// Creates and finishes one span like the fairing's for `GET /hello/alice`
/// answered 200: operation name, `span.kind`, `component`, `http.method`,
/// `http.url`, `peer.ipv4`, `peer.port` at start, `http.status_code` at
/// finish.
pub fn server_span(tracer: &Tracer) {
    let mut span = tracer
        .span("GET /hello/<name>")
        .tag(StdTag::span_kind("server"))
        .tag(StdTag::component("rocket"))
        .tag(StdTag::http_method("GET"))
        .tag(StdTag::http_url("/hello/alice"))
        .tag(StdTag::peer_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        .tag(StdTag::peer_port(54_321))
        .start();
    span.set_tag(|| StdTag::http_status_code(200));
    black_box(&span);
}

/// The port a stand-in sink named `program` listens on: its first argument,
/// else `BENCH_SINK_PORT`, else 0 (any free port).
pub fn sink_port(program: &str) -> Result<u16, String> {
    let value = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_SINK_PORT").ok())
        .unwrap_or_else(|| "0".into());
    value
        .parse()
        .map_err(|_| format!("{program}: {value:?} is not a port"))
}

/// The CPU time (user and system, all threads) this process has used, from
/// `/proc/self/stat`, assuming the usual 100 clock ticks per second.
pub fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After "pid (comm) ": state is field 0, utime 11, stime 12.
    let mut fields = stat.rsplit_once(") ")?.1.split(' ').skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * 10)
}
