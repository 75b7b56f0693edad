//! Throughput of the span reporter: typical server spans finished into a
//! [`Reporter`], encoded (compact Thrift), batched into UDP datagrams of at
//! most 65,000 bytes and sent to a fake Jaeger agent of our own on
//! 127.0.0.1 (a thread reading datagrams as fast as it can).
//!
//! - `reporter_batch/N` (N = 1, 100, 1000): per iteration, N spans created,
//!   finished, flushed, and every datagram received by the sink; throughput
//!   in spans/s. N = 1 is the latency of one span through the whole
//!   pipeline (a datagram per span); N = 1000 is bulk throughput (full
//!   datagrams).
//! - `reporter_finish`: only what a request thread pays, creating and
//!   finishing one span into the reporter (the batcher encodes on its own
//!   thread meanwhile); flushes happen outside the timed part.
//! - `reporter_batch_otlp/N`: as `reporter_batch/N`, exported over OTLP/HTTP
//!   (protobuf, at most 512 spans per request) to a stand-in OTLP receiver
//!   on 127.0.0.1 (`rocket_opentracing_bench::otlp_receiver`, threads of
//!   this process answering `200`); every request it received is counted.
//!
//! After each case, the reporter's counters are checked (nothing dropped,
//! nothing failed, every datagram it sent arrived) and the datagram sizes
//! are printed. Before measuring, one round of 1,000 spans is decoded with
//! `thrift_codec` (OTLP: `opentelemetry-proto`), decoders independent of the
//! crate's encoders, to check that what is measured is complete,
//! well-formed spans.
//!
//! ```sh
//! cargo bench --bench reporter
//! ```

#[path = "../../tests/common/agent.rs"]
mod agent;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use agent::{all_spans, span_name, string_tag, Agent, Batch};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_channel::RecvTimeoutError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use rocket_opentracing::reporter::{
    OtlpConfig, Reporter, ReporterConfig, MAX_DATAGRAM_SIZE, MAX_OTLP_BATCH_SPANS,
};
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::rustracing_jaeger::Tracer;
use rocket_opentracing_bench::otlp_receiver::{count_spans, OtlpReceiver, Received};
use rocket_opentracing_bench::server_span;
use socket2::{Domain, Protocol, Socket, Type};

/// Batch sizes of `reporter_batch`.
const BATCH_SIZES: [u64; 3] = [1, 100, 1_000];

/// Spans finished between two (untimed) flushes in `reporter_finish`, well
/// under the reporter's queue of 10,000.
const FINISH_ROUND: u64 = 1_000;

/// Longest wait for a flush, or for the sink to receive what was sent.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Receive buffer asked for the sink's socket (Linux caps it at
/// `net.core.rmem_max`), so that a burst of full datagrams is not dropped
/// by the kernel while the sink thread is descheduled.
const SINK_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// The fake agent, and the tally of what it received.
struct Sink {
    agent: Agent,
    datagrams: u64,
    bytes: u64,
    /// Datagrams other than the last of a flush: those the batcher filled.
    full_datagrams: u64,
    full_bytes: u64,
}

impl Sink {
    /// Binds a UDP socket on 127.0.0.1 (any port) with a large receive
    /// buffer, read by a thread of its own.
    fn bind() -> Sink {
        let socket =
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("a UDP socket");
        // Best effort: the default buffer only risks counted losses.
        let _ = socket.set_recv_buffer_size(SINK_RECEIVE_BUFFER);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        socket.bind(&addr.into()).expect("bind the sink");
        Sink {
            agent: Agent::on(UdpSocket::from(socket)),
            datagrams: 0,
            bytes: 0,
            full_datagrams: 0,
            full_bytes: 0,
        }
    }

    /// Receives datagrams until `total` have arrived since the sink was
    /// bound; returns those of this call, the last flush's.
    fn receive_until(&mut self, total: u64) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + TIMEOUT;
        let mut received = Vec::new();
        while self.datagrams < total {
            match self
                .agent
                .datagrams
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(datagram) => {
                    self.datagrams += 1;
                    self.bytes += datagram.len() as u64;
                    received.push(datagram);
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "the sink received {} of {total} datagrams in {TIMEOUT:?} \
                     (the kernel may have dropped some: see RcvbufErrors in /proc/net/snmp)",
                    self.datagrams
                ),
                Err(RecvTimeoutError::Disconnected) => panic!("the sink thread stopped"),
            }
        }
        if let Some((_, full)) = received.split_last() {
            self.full_datagrams += full.len() as u64;
            self.full_bytes += full.iter().map(|d| d.len() as u64).sum::<u64>();
        }
        received
    }
}

/// A reporter sending to `sink`, flushed only when asked (its timer is an
/// hour), with the default queue of 10,000 spans; and a tracer sampling
/// everything into it.
fn reporter_to(sink: &Sink) -> (Reporter, Tracer) {
    let mut config = ReporterConfig::new("bench");
    config.agent_port = sink.agent.port();
    config.flush_interval = Duration::from_secs(3600);
    let reporter = Reporter::spawn(config).expect("spawn the reporter");
    let tracer = reporter.tracer(AllSampler);
    (reporter, tracer)
}

/// Flushes the reporter and waits until the sink has every datagram it
/// sent; returns the datagrams of this flush.
fn deliver(reporter: &Reporter, sink: &mut Sink) -> Vec<Vec<u8>> {
    assert!(reporter.flush(TIMEOUT), "flush timed out");
    sink.receive_until(reporter.stats().batches)
}

/// One measured round of `reporter_batch`: `spans` spans finished,
/// flushed and received.
fn round(tracer: &Tracer, reporter: &Reporter, sink: &mut Sink, spans: u64) -> Vec<Vec<u8>> {
    for _ in 0..spans {
        server_span(tracer);
    }
    deliver(reporter, sink)
}

/// Checks that nothing was lost and prints the datagram sizes.
fn report(case: &str, reporter: &Reporter, sink: &Sink) {
    let stats = reporter.stats();
    let mean = |bytes: u64, n: u64| bytes.checked_div(n).unwrap_or(0);
    eprintln!(
        "{case}: {} spans finished, {} reported, {} dropped, {} failed; \
         {} datagrams received, mean {} bytes (filled ones: {} of them, mean {} bytes; max {MAX_DATAGRAM_SIZE})",
        stats.finished,
        stats.reported,
        stats.dropped,
        stats.failed,
        sink.datagrams,
        mean(sink.bytes, sink.datagrams),
        sink.full_datagrams,
        mean(sink.full_bytes, sink.full_datagrams),
    );
    assert_eq!(stats.dropped, 0, "{case}: {stats:?}");
    assert_eq!(stats.failed, 0, "{case}: {stats:?}");
    assert_eq!(stats.reported, stats.finished, "{case}: {stats:?}");
    assert_eq!(sink.datagrams, stats.batches, "{case}: {stats:?}");
}

/// Decodes one round of 1,000 spans: all there, as built, in datagrams
/// within the limit. Not measured.
fn check_encoding() {
    let mut sink = Sink::bind();
    let (reporter, tracer) = reporter_to(&sink);
    let datagrams = round(&tracer, &reporter, &mut sink, 1_000);
    let batches: Vec<Batch> = datagrams.iter().map(|d| Batch::decode(d)).collect();
    let spans = all_spans(&batches);
    assert_eq!(spans.len(), 1_000);
    for span in spans {
        assert_eq!(span_name(span), "GET /hello/<name>");
        assert_eq!(string_tag(span, "span.kind").as_deref(), Some("server"));
        assert_eq!(
            string_tag(span, "http.url").as_deref(),
            Some("/hello/alice")
        );
    }
    for batch in &batches {
        assert!(batch.size <= MAX_DATAGRAM_SIZE, "{} bytes", batch.size);
    }
    eprintln!(
        "check: 1000 spans decoded from {} datagrams of {:?} bytes ({} bytes per span)",
        batches.len(),
        batches.iter().map(|b| b.size).collect::<Vec<_>>(),
        batches.iter().map(|b| b.size).sum::<usize>() / 1_000,
    );
    report("check", &reporter, &sink);
}

/// Spans per second through the whole reporter (finish, encode, batch,
/// send, receive), for batches of 1, 100 and 1,000 spans per iteration.
fn reporter_batch(c: &mut Criterion) {
    check_encoding();
    let mut group = c.benchmark_group("reporter_batch");
    for spans in BATCH_SIZES {
        let mut sink = Sink::bind();
        let (reporter, tracer) = reporter_to(&sink);
        group.throughput(Throughput::Elements(spans));
        group.bench_function(BenchmarkId::from_parameter(spans), |b| {
            b.iter(|| round(&tracer, &reporter, &mut sink, spans))
        });
        report(&format!("reporter_batch/{spans}"), &reporter, &sink);
    }
    group.finish();
}

/// Time for a request thread to create and finish one server span into
/// the reporter (encoding and sending happen on the reporter's threads).
fn reporter_finish(c: &mut Criterion) {
    let mut sink = Sink::bind();
    let (reporter, tracer) = reporter_to(&sink);
    let mut group = c.benchmark_group("reporter_finish");
    group.throughput(Throughput::Elements(1));
    group.bench_function("server_span", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let spans = left.min(FINISH_ROUND);
                let start = Instant::now();
                for _ in 0..spans {
                    server_span(&tracer);
                }
                timed += start.elapsed();
                deliver(&reporter, &mut sink);
                left -= spans;
            }
            timed
        })
    });
    group.finish();
    report("reporter_finish/server_span", &reporter, &sink);
}

/// The stand-in OTLP receiver, and the tally of what it received.
struct OtlpSink {
    receiver: OtlpReceiver,
    requests: u64,
    bytes: u64,
}

impl OtlpSink {
    fn bind() -> OtlpSink {
        OtlpSink {
            receiver: OtlpReceiver::bind().expect("start the OTLP receiver"),
            requests: 0,
            bytes: 0,
        }
    }

    /// The bodies received since the last call. The reporter's flush
    /// returns once every request was answered, and the receiver queues a
    /// body before answering it: after a flush, they are all here.
    fn take(&mut self) -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for received in self.receiver.received.try_iter() {
            match received {
                Received::Export(body) => {
                    self.requests += 1;
                    self.bytes += body.len() as u64;
                    bodies.push(body);
                }
                other => panic!("the OTLP receiver got {other:?}"),
            }
        }
        bodies
    }
}

/// A reporter exporting to `sink` over OTLP, flushed only when asked, and
/// a tracer sampling everything into it.
fn otlp_reporter_to(sink: &OtlpSink) -> (Reporter, Tracer) {
    let mut config = ReporterConfig::new("bench");
    config.otlp = Some(OtlpConfig::new(sink.receiver.traces_url()));
    config.flush_interval = Duration::from_secs(3600);
    let reporter = Reporter::spawn(config).expect("spawn the reporter");
    let tracer = reporter.tracer(AllSampler);
    (reporter, tracer)
}

/// One measured round of `reporter_batch_otlp`: `spans` spans finished,
/// flushed and answered; the bodies received.
fn otlp_round(
    tracer: &Tracer,
    reporter: &Reporter,
    sink: &mut OtlpSink,
    spans: u64,
) -> Vec<Vec<u8>> {
    for _ in 0..spans {
        server_span(tracer);
    }
    assert!(reporter.flush(TIMEOUT), "flush timed out");
    sink.take()
}

/// Checks that nothing was lost over OTLP and prints the request sizes.
fn otlp_report(case: &str, reporter: &Reporter, sink: &OtlpSink) {
    let stats = reporter.stats();
    eprintln!(
        "{case}: {} spans finished, {} reported, {} dropped, {} failed; \
         {} requests received, mean {} bytes",
        stats.finished,
        stats.reported,
        stats.dropped,
        stats.failed,
        sink.requests,
        sink.bytes.checked_div(sink.requests).unwrap_or(0),
    );
    assert_eq!(stats.dropped, 0, "{case}: {stats:?}");
    assert_eq!(stats.failed, 0, "{case}: {stats:?}");
    assert_eq!(stats.reported, stats.finished, "{case}: {stats:?}");
    assert_eq!(sink.requests, stats.batches, "{case}: {stats:?}");
}

/// Decodes one round of 1,000 spans sent over OTLP: all there, as built.
/// Not measured.
fn check_otlp_encoding() {
    let mut sink = OtlpSink::bind();
    let (reporter, tracer) = otlp_reporter_to(&sink);
    let bodies = otlp_round(&tracer, &reporter, &mut sink, 1_000);
    let total: u64 = bodies
        .iter()
        .map(|b| count_spans(b).expect("an ExportTraceServiceRequest"))
        .sum();
    assert_eq!(total, 1_000);
    for body in &bodies {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let spans = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans);
        for span in spans {
            assert_eq!(span.name, "GET /hello/<name>");
            let path = span
                .attributes
                .iter()
                .find(|a| a.key == "url.path")
                .and_then(|a| a.value.as_ref()?.value.as_ref());
            assert_eq!(path, Some(&Value::StringValue("/hello/alice".into())));
        }
    }
    assert!(bodies.len() as u64 >= 1_000 / MAX_OTLP_BATCH_SPANS as u64);
    eprintln!(
        "check (OTLP): 1000 spans decoded from {} requests of {:?} bytes ({} bytes per span)",
        bodies.len(),
        bodies.iter().map(Vec::len).collect::<Vec<_>>(),
        bodies.iter().map(Vec::len).sum::<usize>() / 1_000,
    );
    otlp_report("check (OTLP)", &reporter, &sink);
}

/// Spans per second through the whole reporter exporting over OTLP/HTTP
/// (finish, encode, batch, POST, answer), for batches of 1, 100 and 1,000
/// spans per iteration.
fn reporter_batch_otlp(c: &mut Criterion) {
    check_otlp_encoding();
    let mut group = c.benchmark_group("reporter_batch_otlp");
    for spans in BATCH_SIZES {
        let mut sink = OtlpSink::bind();
        let (reporter, tracer) = otlp_reporter_to(&sink);
        group.throughput(Throughput::Elements(spans));
        group.bench_function(BenchmarkId::from_parameter(spans), |b| {
            b.iter(|| otlp_round(&tracer, &reporter, &mut sink, spans))
        });
        otlp_report(&format!("reporter_batch_otlp/{spans}"), &reporter, &sink);
    }
    group.finish();
}

/// Short, bounded runs: each case takes about 5 s (plus, for
/// `reporter_finish`, its untimed flushes).
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = reporter_batch, reporter_finish, reporter_batch_otlp
}
criterion_main!(benches);
