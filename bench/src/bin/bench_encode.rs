//! Spans through the reporter's public API, for `bench/encode`, which runs
//! this under callgrind with two span counts and divides the difference of
//! the instructions by the difference of the counts (start-up and shutdown
//! cancel):
//!
//! ```sh
//! bench_encode <agent|otlp> <sink port> <spans> [server|client]
//! ```
//!
//! It spawns a [`Reporter`] exporting to the stand-in Jaeger agent
//! (`bench_sink`, UDP, compact Thrift) or the stand-in OTLP/HTTP receiver
//! (`bench_otlp_sink`, protobuf, `http://127.0.0.1:<port>/v1/traces`) on
//! 127.0.0.1, finishes `spans` spans of one kind from a tracer sampling
//! everything, flushes, and prints the reporter's counters:
//!
//! ```text
//! bench_encode: spans finished=N reported=N dropped=N failed=N batches=N
//! ```
//!
//! - `server` (the default): the `rustracing` span the fairing builds for
//!   `GET /hello/alice` answered 200 (the same as `benches/reporter.rs`):
//!   operation name, `span.kind`, `component`, `http.method`, `http.url`,
//!   `peer.ipv4`, `peer.port`, `http.status_code`;
//! - `client`: an outgoing call within a request: a child of a caller's
//!   context, `span.kind` client, `http.method`, `http.url` (absolute),
//!   `peer.service`, `http.status_code`, and one log of two fields.
//!
//! The queue holds every span (its size is `spans`), so that none is
//! dropped however the threads are scheduled; batches are sent when full
//! and at the end (the flush interval is an hour). It fails unless every
//! span was reported.

use std::hint::black_box;
use std::time::Duration;

use rocket_opentracing::reporter::{OtlpConfig, Reporter, ReporterConfig};
use rocket_opentracing::rustracing::log::LogField;
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::rustracing::tag::{StdTag, Tag};
use rocket_opentracing::rustracing_jaeger::span::{SpanContext, SpanContextStateBuilder, TraceId};
use rocket_opentracing::rustracing_jaeger::Tracer;
use rocket_opentracing_bench::server_span;

/// How long the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Exporter {
    Agent,
    Otlp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Server,
    Client,
}

struct Args {
    exporter: Exporter,
    port: u16,
    spans: u64,
    kind: Kind,
}

fn args() -> Result<Args, String> {
    let usage = "usage: bench_encode <agent|otlp> <sink port> <spans> [server|client]";
    let mut args = std::env::args().skip(1);
    let exporter = match args.next().as_deref() {
        Some("agent") => Exporter::Agent,
        Some("otlp") => Exporter::Otlp,
        _ => return Err(usage.into()),
    };
    let port = args.next().ok_or(usage)?;
    let spans = args.next().ok_or(usage)?;
    let kind = match args.next().as_deref() {
        None | Some("server") => Kind::Server,
        Some("client") => Kind::Client,
        Some(other) => return Err(format!("{other:?}: {usage}")),
    };
    Ok(Args {
        exporter,
        port: port
            .parse()
            .map_err(|_| format!("{port:?} is not a port"))?,
        spans: spans
            .parse()
            .map_err(|_| format!("{spans:?} is not a count"))?,
        kind,
    })
}

/// An outgoing call made while serving a request: a child of `parent`.
fn client_span(tracer: &Tracer, parent: &SpanContext) {
    let mut span = tracer
        .span("GET users")
        .child_of(parent)
        .tag(StdTag::span_kind("client"))
        .tag(StdTag::http_method("GET"))
        .tag(StdTag::http_url("http://users:8080/users/42"))
        .tag(Tag::new("peer.service", "users"))
        .start();
    span.log(|log| {
        log.field(LogField::new("event", "cache_miss"))
            .field(LogField::new("key", "user:42"));
    });
    span.set_tag(|| StdTag::http_status_code(200));
    black_box(&span);
}

fn main() -> Result<(), String> {
    let Args {
        exporter,
        port,
        spans,
        kind,
    } = args()?;
    let mut config = ReporterConfig::new("bench");
    config.flush_interval = Duration::from_secs(3600);
    config.queue_size = usize::try_from(spans).unwrap_or(usize::MAX).max(1);
    match exporter {
        Exporter::Agent => {
            config.agent_host = "127.0.0.1".into();
            config.agent_port = port;
        }
        Exporter::Otlp => {
            config.otlp = Some(OtlpConfig::new(format!(
                "http://127.0.0.1:{port}/v1/traces"
            )));
        }
    }
    let reporter =
        Reporter::spawn(config).map_err(|e| format!("bench_encode: cannot start: {e}"))?;
    let tracer = reporter.tracer(AllSampler);
    // A caller's context (128-bit trace id, sampled), as a request
    // continuing a trace would have.
    let parent = SpanContext::new(
        SpanContextStateBuilder::new()
            .trace_id(TraceId {
                high: 0x6309_ab92_c954_68ed,
                low: 0xea0d_c1a9_772a_e2dc,
            })
            .span_id(0x4094_23a2_04bc_17a8)
            .finish(),
        Vec::new(),
    );
    for _ in 0..spans {
        match kind {
            Kind::Server => server_span(&tracer),
            Kind::Client => client_span(&tracer, &parent),
        }
    }
    let flushed = reporter.flush(FLUSH_TIMEOUT);
    let stats = reporter.stats();
    println!(
        "bench_encode: spans finished={} reported={} dropped={} failed={} batches={}",
        stats.finished, stats.reported, stats.dropped, stats.failed, stats.batches
    );
    if !flushed || stats.finished != spans || stats.reported != spans {
        return Err(format!(
            "bench_encode: {spans} spans finished, but not all reported (flushed: {flushed})"
        ));
    }
    Ok(())
}
