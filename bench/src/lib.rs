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
//!
//! The library holds what the binaries and the benchmarks share: the
//! stand-in OTLP/HTTP receiver ([`otlp_receiver`]) and [`cpu_ms`].

pub mod otlp_receiver;

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
