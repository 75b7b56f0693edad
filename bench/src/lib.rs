//! Benchmarks of `rocket_opentracing`, kept out of the library's build.
//!
//! - `cargo bench` (from the repository root) runs the Criterion
//!   micro-benchmarks in `benches/`: the fairing's per-request cost and the
//!   reporter's encoding and delivery;
//! - `bench/run` and `bench/soak` build the binaries in `src/bin/` (a bench
//!   server, a keep-alive client and a stand-in Jaeger agent) and measure
//!   throughput, instructions per request, delivery and memory under load.
