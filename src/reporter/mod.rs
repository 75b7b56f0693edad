//! A background reporter delivering finished spans to a Jaeger agent (UDP)
//! or collector (HTTP), or to an OTLP/HTTP endpoint.
//!
//! [`Reporter::spawn`] starts two threads. The *batcher* receives every
//! finished span, counts it, and encodes it into a batch; the *sender*
//! delivers full batches. Finishing a span never blocks and never fails:
//!
//! ```text
//! tracer ──(span finished)──▶ batcher ──(batch full / flush interval)──▶ sender ──▶ agent or collector
//!                              │ queue full: dropped, counted               │ failed: retried, then counted
//! ```
//!
//! - **Agent** (default): each batch is one `Agent.emitBatch` UDP datagram
//!   (compact Thrift) of at most [`MAX_DATAGRAM_SIZE`] bytes, whatever the
//!   spans hold: batches are split by encoded size, and a span too large
//!   for a datagram is trimmed (logs dropped, then long strings cut) or, as
//!   a last resort, counted as failed. The socket binds the wildcard
//!   address, so remote agents work; an agent given by name is resolved
//!   again every 30 s.
//! - **Collector**, when [`ReporterConfig::endpoint`] is set: each batch is
//!   POSTed as a binary-Thrift `Batch` (`application/x-thrift`, at most
//!   [`MAX_COLLECTOR_BATCH_SIZE`] bytes) with optional basic or bearer
//!   authentication. Connection errors, timeouts (5 s), `408`, `429` and
//!   `5xx` answers are retried up to 4 times with jittered exponential
//!   backoff (0.2 s, doubling, at most 5 s).
//! - **OTLP**, when [`ReporterConfig::otlp`] is set (it wins over the
//!   others): each batch (at most [`MAX_OTLP_BATCH_SPANS`] spans and
//!   [`MAX_OTLP_BATCH_SIZE`] bytes) is POSTed as a protobuf
//!   `ExportTraceServiceRequest` (`application/x-protobuf`, gzip if
//!   configured) with the configured headers, the tags mapped to
//!   OpenTelemetry's semantic conventions. `429`, `502`, `503`, `504`,
//!   connection errors and timeouts are retried as above, or after the
//!   answer's `Retry-After` (seconds, at most 30 s); a `400`, and the spans
//!   a `partial_success` answer rejects, are counted as
//!   [`ReporterStats::rejected`] and not retried. Needs the `otlp` feature.
//!
//! The queue is bounded: at most [`ReporterConfig::queue_size`] spans, and
//! [`MAX_QUEUED_BYTES`] of encoded spans, wait for delivery; spans arriving
//! when it is full are dropped and counted. The spans go to the batcher over
//! an unbounded channel, because rustracing drops a span *silently* when a
//! bounded channel is full; the batcher does no I/O and drains it as fast
//! as tracers fill it. When the reporter is the fairing's own
//! ([`OpenTracingFairing::from_config`](crate::OpenTracingFairing::from_config)),
//! request spans that no user code touched arrive another way: as records
//! (ids, times, method, URL, peer, status) in per-thread buffers the batcher
//! swaps out whole, waking only when one fills; they are encoded exactly as
//! the `rustracing` span of the same request would be.
//!
//! Every span ends up counted in [`ReporterStats`]: `reported + dropped +
//! failed == finished` once flushed. Losses are logged as warnings: the
//! first delivery failure as one warning naming the destination and the
//! settings that change it (or switch tracing off, or show spans in the log
//! instead), then at most one batch of warnings every 10 s. Nothing stops
//! the reporter: when the agent or collector comes back, delivery resumes.
//!
//! Spans finished after the [`Reporter`] is dropped, by tracers it handed
//! out, are not delivered but still counted ([`ReporterStats::late`], read
//! through a [`StatsHandle`]) and warned about; keep the reporter alive as
//! long as its tracers (e.g.
//! [`OpenTracingFairing::with_reporter`](crate::OpenTracingFairing::with_reporter)).
//!
//! ```no_run
//! use rocket_opentracing::reporter::{Reporter, ReporterConfig};
//! use rustracing::sampler::AllSampler;
//! use std::time::Duration;
//!
//! let reporter = Reporter::spawn(ReporterConfig::new("my-service"))?;
//! let tracer = reporter.tracer(AllSampler);
//! {
//!     let _span = tracer.span("work").start();
//! }
//! reporter.flush(Duration::from_secs(1));
//! assert_eq!(reporter.stats().finished, 1);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Batches are sent when full, every
//! [`flush_interval`](ReporterConfig::flush_interval), on
//! [`Reporter::flush`] and when the reporter is dropped.

mod agent;
mod batch;
mod batcher;
#[cfg(feature = "collector")]
mod collector;
mod config;
mod consumer;
#[cfg(any(feature = "collector", feature = "otlp"))]
mod http;
mod intake;
mod logging;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
mod process;
mod sender;
mod stats;
pub(crate) mod thrift;
mod trim;

pub(crate) use config::default_service_name;
pub use config::{
    CollectorAuth, OtlpCompression, OtlpConfig, ReporterConfig, DEFAULT_AGENT_HOST,
    DEFAULT_AGENT_PORT, DEFAULT_FLUSH_INTERVAL, DEFAULT_OTLP_ENDPOINT, DEFAULT_OTLP_TIMEOUT,
    DEFAULT_QUEUE_SIZE,
};
pub(crate) use consumer::SpanConsumer;
#[cfg(any(feature = "collector", feature = "otlp"))]
pub(crate) use http::parse_endpoint;
pub(crate) use intake::RecordSender;
#[cfg(feature = "otlp")]
pub use otlp::{MAX_OTLP_BATCH_SIZE, MAX_OTLP_BATCH_SPANS};
pub use stats::{ReporterStats, StatsHandle};

use batch::{Batch, Encoding};
use batcher::{Batcher, Control, QueueBound};
use crossbeam_channel::{Receiver, Sender};
use rustracing::sampler::Sampler;
use rustracing_jaeger::span::{SpanContextState, SpanSender};
use rustracing_jaeger::Tracer;
use sender::{Outbound, SenderThread, Settled, Transport};
use stats::{Advice, Counters, LossLog, Target};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;
use thrift::Wire;
use trim::Trim;

/// Maximum size of a datagram sent to the agent (the whole UDP payload).
pub const MAX_DATAGRAM_SIZE: usize = 65_000;

/// Maximum size of a request body sent to the collector.
pub const MAX_COLLECTOR_BATCH_SIZE: usize = 1024 * 1024;

/// Most bytes of encoded spans waiting for delivery, whatever the queue size.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// Names of the reporter threads.
const BATCHER_THREAD: &str = "rocket-opentracing-batcher";
const SENDER_THREAD: &str = "rocket-opentracing-sender";

/// How long dropping a [`Reporter`] waits for pending spans to be sent.
const DROP_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long dropping a [`Reporter`] waits, at least, for the sender thread
/// to finish the batch it is sending once told to stop; longer for a
/// transport whose requests may take longer (a second more than its
/// request timeout: a collector request times out after 5 s, an OTLP one
/// after its configured timeout).
const SENDER_STOP_TIMEOUT: Duration = Duration::from_secs(6);

/// Longest a dropped reporter waits for its sender, whatever the request
/// timeout: past it, the spans still pending are logged as such.
const MAX_SENDER_STOP_TIMEOUT: Duration = Duration::from_secs(31);

/// How long dropping a reporter waits for its sender to stop, for requests
/// that time out after `request_timeout`.
fn sender_stop_timeout(request_timeout: Duration) -> Duration {
    SENDER_STOP_TIMEOUT
        .max(request_timeout.saturating_add(Duration::from_secs(1)))
        .min(MAX_SENDER_STOP_TIMEOUT)
}

/// Handle of the background threads reporting spans to Jaeger.
///
/// Dropping it sends the pending spans (waiting at most 5 s, plus up to 6 s
/// for a collector request in progress, or an OTLP request's timeout and a
/// second, at most 31 s) and stops delivery, even if tracers
/// or span senders obtained from it are still alive. Spans they finish
/// afterwards are not delivered: they are counted as
/// [`ReporterStats::late`] (see [`Reporter::stats_handle`]) and a warning
/// says so, by a thread that ends with the last of those tracers and
/// senders. Keep the reporter alive as long as its tracers (to share it,
/// wrap it in an `Arc`; in a Rocket app,
/// [`OpenTracingFairing::with_reporter`](crate::OpenTracingFairing::with_reporter)).
pub struct Reporter {
    span_tx: SpanSender,
    records: RecordSender,
    control_tx: Sender<Control>,
    /// Dropped to stop the sender (a closed channel wakes every wait).
    stop_tx: Option<Sender<()>>,
    counters: Arc<Counters>,
    destination: String,
    /// For the last warning, should the batcher not hand its loss log back.
    advice: Advice,
    /// The batcher's loss log, once it has shipped its last spans (the
    /// thread then counts late spans until the last tracer goes: it is
    /// never joined).
    batcher_done: Receiver<LossLog>,
    sender: Option<JoinHandle<()>>,
    sender_done: Receiver<()>,
    /// How long dropping waits for the sender once told to stop.
    sender_stop_timeout: Duration,
}

impl Reporter {
    /// Starts reporting: to the collector at [`ReporterConfig::endpoint`]
    /// if set, else to the agent (resolved now; if that fails, a warning is
    /// logged and resolution is retried when spans are sent).
    ///
    /// This may block on a DNS lookup: from async code, call it through
    /// `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// Fails if the endpoint is not an `http`/`https` URL, the HTTP client
    /// cannot be built, the process tags are too large to leave room for
    /// spans in a batch, or a thread cannot be spawned.
    pub fn spawn(config: ReporterConfig) -> io::Result<Reporter> {
        Self::spawn_with(config, None)
    }

    /// [`Reporter::spawn`], also showing every finished span (whether
    /// delivered or not) to `consumer`.
    pub(crate) fn spawn_with(
        config: ReporterConfig,
        consumer: Option<Box<dyn SpanConsumer>>,
    ) -> io::Result<Reporter> {
        let Destination {
            encoding,
            max_len,
            shown,
            target,
            resolved,
            request_timeout,
            make_transport,
        } = destination(&config)?;
        let tags = process::process_tags(resolved, &config.process_tags);
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let limits = Trim::limits(config.max_tag_value_length, config.max_logs_per_span);
        let batch = Batch::new(encoding, &config.service_name, &tags, max_len, limits);
        if batch.prefix_len() > max_len / 2 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "service name and process tags are too large for a batch",
            ));
        }

        let counters = Arc::new(Counters::default());
        let settled = Arc::new(Settled::default());
        let (outbound_tx, outbound_rx) = crossbeam_channel::unbounded();
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let (done_tx, sender_done) = crossbeam_channel::bounded(1);
        let sender = spawn_sender(
            make_transport,
            Arc::clone(&counters),
            Arc::clone(&settled),
            stop_rx,
            outbound_rx,
            done_tx,
        )?;

        let (span_tx, span_rx) = crossbeam_channel::unbounded();
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let advice = Advice {
            target,
            log_spans: config.log_spans,
        };
        let batcher = Batcher::new(
            batch,
            QueueBound::new(config.queue_size, MAX_QUEUED_BYTES, settled),
            Arc::clone(&counters),
            outbound_tx,
            config.flush_interval,
            advice.clone(),
            consumer,
        );
        let records = batcher.record_sender();
        let (losses_tx, batcher_done) = crossbeam_channel::bounded(1);
        let receiving = Receiving::start(Arc::clone(&counters));
        // Detached: it outlives the handle while tracers do.
        thread::Builder::new()
            .name(BATCHER_THREAD.to_owned())
            .spawn(move || {
                let _ = losses_tx.send(batcher.run(&span_rx, &control_rx));
                batcher::count_late_spans(&span_rx, &receiving.0);
            })?;
        Ok(Reporter {
            span_tx,
            records,
            control_tx,
            stop_tx: Some(stop_tx),
            counters,
            destination: shown,
            advice,
            batcher_done,
            sender: Some(sender),
            sender_done,
            sender_stop_timeout: sender_stop_timeout(request_timeout),
        })
    }

    /// A sender of finished spans to this reporter, to give to
    /// [`rustracing_jaeger::Tracer::with_sender`].
    pub fn span_sender(&self) -> SpanSender {
        self.span_tx.clone()
    }

    /// Where the fairing hands request spans it records without a
    /// `rustracing` span.
    pub(crate) fn record_sender(&self) -> RecordSender {
        self.records.clone()
    }

    /// A tracer reporting its spans here, sampling with `sampler`.
    pub fn tracer<S>(&self, sampler: S) -> Tracer
    where
        S: Sampler<SpanContextState> + Send + Sync + 'static,
    {
        Tracer::with_sender(sampler, self.span_sender())
    }

    /// Blocks until every span finished before the call is settled
    /// (delivered, or counted as dropped or failed), or until `timeout`
    /// passes. Returns `true` if that happened in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        if self.control_tx.send(Control::Flush(ack_tx)).is_err() {
            return false;
        }
        ack_rx.recv_timeout(timeout).is_ok()
    }

    /// The delivery counters so far.
    pub fn stats(&self) -> ReporterStats {
        self.counters.snapshot()
    }

    /// A handle on the delivery counters that stays valid after this
    /// reporter is dropped, e.g. to see spans finished too late
    /// ([`ReporterStats::late`]).
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle::new(Arc::clone(&self.counters))
    }

    /// Where spans go: `udp://host:port` for an agent, or the collector URL
    /// (without credentials).
    pub fn destination(&self) -> &str {
        &self.destination
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("destination", &self.destination)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let flushed = self.flush(DROP_FLUSH_TIMEOUT);
        // The batcher ships what arrived since, then stops, disconnecting
        // the sender's channel: the sender delivers the rest and stops too.
        let _ = self.control_tx.send(Control::Shutdown);
        // Bounded: the batcher could be stuck writing `log_spans` lines.
        // (Not joined: it goes on counting late spans while tracers live.)
        let losses = self.batcher_done.recv_timeout(DROP_FLUSH_TIMEOUT).ok();
        let grace = if flushed {
            DROP_FLUSH_TIMEOUT
        } else {
            Duration::ZERO
        };
        let mut done = self.sender_done.recv_timeout(grace).is_ok();
        if !done {
            // Still retrying: give up, counting what is left as failed.
            drop(self.stop_tx.take());
            done = self
                .sender_done
                .recv_timeout(self.sender_stop_timeout)
                .is_ok();
        }
        if done {
            if let Some(sender) = self.sender.take() {
                let _ = sender.join();
            }
        } else {
            log::warn!(
                "rocket_opentracing reporter: {} spans still pending at shutdown",
                self.stats().pending()
            );
        }
        losses
            .unwrap_or_else(|| LossLog::new(self.advice.clone()))
            .warn_if_due(&self.counters, true);
    }
}

/// Marks the batcher thread as receiving spans (see
/// [`StatsHandle::is_receiving`]) until dropped, when the thread ends
/// (even by a panic).
struct Receiving(Arc<Counters>);

impl Receiving {
    fn start(counters: Arc<Counters>) -> Self {
        counters.receiving.store(true, Ordering::Release);
        Receiving(counters)
    }
}

impl Drop for Receiving {
    fn drop(&mut self) {
        self.0.receiving.store(false, Ordering::Release);
    }
}

/// Builds a transport, on the sender thread.
type MakeTransport = Box<dyn FnOnce() -> io::Result<Box<dyn Transport>> + Send>;

/// Where spans go, as [`Reporter::spawn`] needs to know it.
struct Destination {
    encoding: Encoding,
    /// Largest datagram or request body.
    max_len: usize,
    /// For logs and [`Reporter::destination`]: without credentials.
    shown: String,
    /// For warnings: the agent's host and port, or the collector's URL
    /// without credentials.
    target: Target,
    /// The address resolved now, for the `ip` process tag.
    resolved: Option<SocketAddr>,
    /// Longest a delivery may take (zero for UDP).
    request_timeout: Duration,
    make_transport: MakeTransport,
}

fn destination(config: &ReporterConfig) -> io::Result<Destination> {
    if let Some(otlp) = &config.otlp {
        #[cfg(feature = "otlp")]
        return otlp::destination(otlp);
        #[cfg(not(feature = "otlp"))]
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "an OTLP endpoint ({}) needs the `otlp` feature of rocket_opentracing, \
                 which this build leaves out",
                crate::redact::redact_credentials(&otlp.endpoint)
            ),
        ));
    }
    if let Some(endpoint) = &config.endpoint {
        #[cfg(feature = "collector")]
        return collector::destination(endpoint, config.auth.clone());
        #[cfg(not(feature = "collector"))]
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a jaeger collector endpoint ({}) needs the `collector` feature of \
                 rocket_opentracing, which this build leaves out",
                crate::redact::redact_credentials(endpoint)
            ),
        ));
    }
    let (host, port) = (config.agent_host.clone(), config.agent_port);
    let resolved = match agent::resolve(&host, port) {
        Ok(addr) => Some(addr),
        Err(e) => {
            // Not a warning yet: the first span that cannot be delivered
            // gets one, saying what to change.
            log::info!(
                "rocket_opentracing reporter: agent {host}:{port}: {e}; resolved again when spans are sent"
            );
            None
        }
    };
    Ok(Destination {
        encoding: Encoding::Thrift(Wire::Agent),
        max_len: MAX_DATAGRAM_SIZE,
        shown: format!("udp://{host}:{port}"),
        target: Target::Agent {
            host: host.clone(),
            port,
        },
        resolved,
        request_timeout: Duration::ZERO,
        make_transport: Box::new(move || {
            Ok(Box::new(agent::UdpAgent::new(&host, port, resolved)) as Box<dyn Transport>)
        }),
    })
}

/// Spawns the sender thread, which first builds its transport; returns
/// once the transport is ready, or its error.
fn spawn_sender(
    make_transport: MakeTransport,
    counters: Arc<Counters>,
    settled: Arc<Settled>,
    stop: Receiver<()>,
    outbound: Receiver<Outbound>,
    done: Sender<()>,
) -> io::Result<JoinHandle<()>> {
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let thread = thread::Builder::new()
        .name(SENDER_THREAD.to_owned())
        .spawn(move || {
            let transport = match make_transport() {
                Ok(transport) => {
                    let _ = ready_tx.send(Ok(()));
                    transport
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            SenderThread::new(transport, counters, settled, stop).run(&outbound);
            let _ = done.send(());
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(thread),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("the reporter's sender thread panicked")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporter_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Reporter>();
    }

    #[test]
    fn config_defaults() {
        let config = ReporterConfig::new("svc");
        assert_eq!(config.service_name, "svc");
        assert_eq!(config.agent_host, "127.0.0.1");
        assert_eq!(config.agent_port, 6831);
        assert_eq!(config.endpoint, None);
        assert_eq!(config.auth, None);
        assert_eq!(config.queue_size, 10_000);
        assert_eq!(config.flush_interval, Duration::from_secs(1));
        assert!(!config.log_spans);
        assert!(config.process_tags.is_empty());
    }

    #[test]
    fn default_service_name_is_the_executable_stem() {
        let expected = std::env::current_exe()
            .unwrap()
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(ReporterConfig::default().service_name, expected);
    }

    #[test]
    fn dropping_waits_for_a_request_in_progress_to_time_out() {
        assert_eq!(sender_stop_timeout(Duration::ZERO), SENDER_STOP_TIMEOUT);
        assert_eq!(
            sender_stop_timeout(Duration::from_secs(5)),
            SENDER_STOP_TIMEOUT
        );
        assert_eq!(
            sender_stop_timeout(Duration::from_secs(20)),
            Duration::from_secs(21)
        );
        // A shutdown is never held for an hour.
        assert_eq!(
            sender_stop_timeout(Duration::from_secs(3600)),
            MAX_SENDER_STOP_TIMEOUT
        );
    }

    #[test]
    fn rejects_oversized_process_tags() {
        let mut config = ReporterConfig::new("svc");
        config.agent_port = 9;
        config
            .process_tags
            .push(("huge".to_owned(), "x".repeat(MAX_DATAGRAM_SIZE)));
        let err = Reporter::spawn(config).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn rejects_endpoints_that_are_not_http_urls() {
        let mut config = ReporterConfig::new("svc");
        config.endpoint = Some("jaeger:14268".to_owned());
        let err = Reporter::spawn(config).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("jaeger:14268"), "{err}");
    }

    #[test]
    #[cfg(feature = "collector")]
    fn destination_hides_collector_credentials() {
        let mut config = ReporterConfig::new("svc");
        config.endpoint = Some("http://user:secret@127.0.0.1:9/api/traces".to_owned());
        let reporter = Reporter::spawn(config).unwrap();
        assert_eq!(reporter.destination(), "http://127.0.0.1:9/api/traces");
        let mut config = ReporterConfig::new("svc");
        config.agent_port = 9;
        let reporter = Reporter::spawn(config).unwrap();
        assert_eq!(reporter.destination(), "udp://127.0.0.1:9");
    }
}
