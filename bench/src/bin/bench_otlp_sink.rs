//! A stand-in OTLP/HTTP receiver for `bench/run` (its `all_otlp` mode): an
//! HTTP/1.1 server with keep-alive on 127.0.0.1 that answers every
//! `POST /v1/traces` with `200` and an empty protobuf body (everything
//! accepted), and counts the requests, their bytes, the largest one, and the
//! spans in them (each body decoded with `opentelemetry-proto`, the
//! OpenTelemetry project's own definitions, independent of the crate's
//! encoder). See `rocket_opentracing_bench::otlp_receiver`.
//!
//! ```sh
//! cargo run --release -p rocket_opentracing_bench --bin bench_otlp_sink -- 0    # 0: an ephemeral port
//! ```
//!
//! The port comes from the first argument, else `BENCH_SINK_PORT`, else 0.
//! On start it prints `bench_otlp_sink: listening on 127.0.0.1:<port>` on
//! stdout. A `POST /bench/stop` makes it print its totals and exit (e.g.
//! from bash: `exec 3<>/dev/tcp/127.0.0.1/<port>; printf 'POST /bench/stop
//! HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n' >&3; cat <&3`):
//!
//! ```text
//! bench_otlp_sink: requests=N bytes=N max_size=N spans=N invalid=N max_queued=N cpu_ms=N
//! ```
//!
//! (`requests`: the exports answered `200`; `invalid`: other requests, and
//! exports whose body did not decode; `max_queued`: the most requests
//! received but not yet decoded; `cpu_ms`: the CPU time the sink used, user
//! and system.)
//!
//! Each connection's thread hands a body over before answering it, so once
//! the process exporting spans has exited (all its requests answered), the
//! stop comes after all of its bodies: the totals are complete. As in
//! `bench_sink`, the decoding is the main thread's alone, whose id is the
//! process id: `renice -n 19 -p <pid>` lowers its priority only (the
//! threads answering requests are started by a thread that already exists
//! when the `listening` line is printed, and keep their priority).

use std::io::Write;
use std::net::TcpListener;

use rocket_opentracing_bench::otlp_receiver::{count_spans, OtlpReceiver, Received};
use rocket_opentracing_bench::{cpu_ms, sink_port};

#[derive(Debug, Default)]
struct Totals {
    requests: u64,
    bytes: u64,
    max_size: usize,
    spans: u64,
    invalid: u64,
    max_queued: usize,
}

fn main() -> Result<(), String> {
    let port = sink_port("bench_otlp_sink")?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("bench_otlp_sink: cannot bind 127.0.0.1:{port}: {e}"))?;
    let receiver =
        OtlpReceiver::spawn(listener).map_err(|e| format!("bench_otlp_sink: cannot start: {e}"))?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "bench_otlp_sink: listening on {}", receiver.addr)
        .map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;

    let mut totals = Totals::default();
    let mut reported_invalid = 0;
    for received in receiver.received.iter() {
        totals.max_queued = totals.max_queued.max(receiver.received.len() + 1);
        let problem = match received {
            Received::Stop => break,
            Received::Export(body) => {
                totals.requests += 1;
                totals.bytes += body.len() as u64;
                totals.max_size = totals.max_size.max(body.len());
                match count_spans(&body) {
                    Ok(spans) => {
                        totals.spans += spans;
                        continue;
                    }
                    Err(e) => format!("a body of {} bytes did not decode: {e}", body.len()),
                }
            }
            Received::Invalid(request) => format!("refused: {request}"),
        };
        totals.invalid += 1;
        // The first few, on stderr (the totals count them all).
        if reported_invalid < 5 {
            reported_invalid += 1;
            eprintln!("bench_otlp_sink: {problem}");
        }
    }
    let Totals {
        requests,
        bytes,
        max_size,
        spans,
        invalid,
        max_queued,
    } = totals;
    let cpu_ms = cpu_ms().unwrap_or(0);
    writeln!(
        stdout,
        "bench_otlp_sink: requests={requests} bytes={bytes} max_size={max_size} spans={spans} \
         invalid={invalid} max_queued={max_queued} cpu_ms={cpu_ms}"
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}
