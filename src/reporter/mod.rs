//! A background reporter delivering finished spans to a Jaeger agent.
//!
//! [`Reporter::spawn`] starts a thread that receives finished spans over a
//! bounded channel, encodes them (Thrift compact protocol, `Agent.emitBatch`)
//! and packs as many as fit into each UDP datagram sent to the agent (port
//! 6831 by default). Finishing a span never blocks: rustracing drops the span
//! if the queue is full.
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
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Datagrams are sent when they are full, every
//! [`flush_interval`](ReporterConfig::flush_interval), on [`Reporter::flush`]
//! and when the reporter is dropped. Delivery problems (agent down, spans too
//! large to send) are counted in [`ReporterStats`] and logged as rate-limited
//! warnings; they never stop the reporter.

mod logging;
mod thrift;
mod worker;

use crossbeam_channel::{Receiver, Sender};
use rustracing::sampler::Sampler;
use rustracing_jaeger::span::{SpanContextState, SpanSender};
use rustracing_jaeger::Tracer;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use worker::{Control, Worker};

/// Default UDP port of the Jaeger agent (`jaeger.thrift` over compact Thrift).
pub const DEFAULT_AGENT_PORT: u16 = 6831;

/// Default capacity of the span queue.
pub const DEFAULT_QUEUE_SIZE: usize = 10_000;

/// Default interval between two sends of pending spans.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Maximum size of a datagram sent to the agent (the whole UDP payload).
pub const MAX_DATAGRAM_SIZE: usize = 65_000;

/// Name of the reporter thread.
const THREAD_NAME: &str = "rocket-opentracing-reporter";

/// How long dropping a [`Reporter`] waits for pending spans to be sent.
const DROP_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a single UDP send may block.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Configuration of a [`Reporter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterConfig {
    /// Name of the traced service (the Jaeger process' `serviceName`).
    pub service_name: String,
    /// Host name or IP address of the Jaeger agent, e.g. `"127.0.0.1"` or
    /// `"jaeger-agent"`. It is resolved once, when the reporter is spawned.
    pub agent_host: String,
    /// UDP port of the Jaeger agent ([`DEFAULT_AGENT_PORT`] by default).
    pub agent_port: u16,
    /// Capacity of the bounded span queue ([`DEFAULT_QUEUE_SIZE`] by
    /// default; at least 1). Spans finished while the queue is full are
    /// dropped.
    pub queue_size: usize,
    /// Longest time a finished span waits before being sent
    /// ([`DEFAULT_FLUSH_INTERVAL`] by default; clamped to 1 ms ..= 1 day).
    pub flush_interval: Duration,
    /// Also log every reported span on one line at `info` level.
    pub log_spans: bool,
    /// Extra Jaeger process tags (`key`, `value`), added to `jaeger.version`,
    /// `hostname` and `ip`.
    pub process_tags: Vec<(String, String)>,
}

impl ReporterConfig {
    /// A configuration for `service_name` with the default settings: agent
    /// at `127.0.0.1:6831`, a queue of 10,000 spans, a flush interval of 1 s,
    /// span logging off and no extra process tags.
    pub fn new(service_name: impl Into<String>) -> Self {
        ReporterConfig {
            service_name: service_name.into(),
            agent_host: "127.0.0.1".to_owned(),
            agent_port: DEFAULT_AGENT_PORT,
            queue_size: DEFAULT_QUEUE_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            log_spans: false,
            process_tags: Vec::new(),
        }
    }
}

impl Default for ReporterConfig {
    /// The default settings (see [`ReporterConfig::new`]) with the file stem
    /// of the current executable as service name (`"rocket"` if unknown).
    fn default() -> Self {
        ReporterConfig::new(default_service_name())
    }
}

/// The current executable's file stem, or `"rocket"`.
pub(crate) fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem()?.to_str().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "rocket".to_owned())
}

/// Delivery counters of a [`Reporter`], as returned by [`Reporter::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReporterStats {
    /// Spans in datagrams that were sent successfully.
    pub reported: u64,
    /// Spans in datagrams whose send failed.
    pub failed: u64,
    /// Spans dropped because they did not fit in a datagram even when trimmed.
    pub too_large: u64,
    /// Datagrams sent successfully.
    pub datagrams: u64,
}

/// Counters shared between the [`Reporter`] handle and its thread.
#[derive(Debug, Default)]
struct Counters {
    reported: AtomicU64,
    failed: AtomicU64,
    too_large: AtomicU64,
    datagrams: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ReporterStats {
        ReporterStats {
            reported: self.reported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            too_large: self.too_large.load(Ordering::Relaxed),
            datagrams: self.datagrams.load(Ordering::Relaxed),
        }
    }
}

/// Handle of the background thread reporting spans to a Jaeger agent.
///
/// Dropping it sends the pending spans (waiting at most 5 s) and stops the
/// thread, even if tracers or span senders obtained from it are still alive
/// (spans they finish afterwards are discarded). To share it, wrap it in an
/// `Arc`.
pub struct Reporter {
    span_tx: SpanSender,
    control_tx: Sender<Control>,
    counters: Arc<Counters>,
    agent_addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Resolves the agent address, binds a UDP socket (`0.0.0.0:0` for an
    /// IPv4 agent, `[::]:0` for an IPv6 one) and spawns the reporter thread
    /// `"rocket-opentracing-reporter"`.
    ///
    /// When the agent host name resolves to several addresses, the first
    /// IPv4 address is used, or else the first address.
    ///
    /// # Errors
    ///
    /// Fails if the agent address cannot be resolved, the socket cannot be
    /// set up, the process tags are too large to leave room for spans in a
    /// datagram, or the thread cannot be spawned.
    pub fn spawn(config: ReporterConfig) -> io::Result<Reporter> {
        let agent_addr = resolve_agent(&config.agent_host, config.agent_port)?;
        let socket = connect_socket(agent_addr)?;
        let prefix = batch_prefix(&config, &socket)?;
        // A zero capacity would make a rendezvous channel, dropping most spans.
        let (span_tx, span_rx) = crossbeam_channel::bounded(config.queue_size.max(1));
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(
            socket,
            thrift::Datagram::new(prefix, MAX_DATAGRAM_SIZE),
            Arc::clone(&counters),
            config.flush_interval,
            config.log_spans,
        );
        let thread = spawn_thread(worker, span_rx, control_rx)?;
        Ok(Reporter {
            span_tx,
            control_tx,
            counters,
            agent_addr,
            thread: Some(thread),
        })
    }

    /// A sender of finished spans to this reporter, to give to
    /// [`rustracing_jaeger::Tracer::with_sender`].
    pub fn span_sender(&self) -> SpanSender {
        self.span_tx.clone()
    }

    /// A tracer reporting its spans here, sampling with `sampler`.
    pub fn tracer<S>(&self, sampler: S) -> Tracer
    where
        S: Sampler<SpanContextState> + Send + Sync + 'static,
    {
        Tracer::with_sender(sampler, self.span_sender())
    }

    /// Blocks until every span queued before the call has been sent (or its
    /// send failed), or until `timeout` passes. Returns `true` if the spans
    /// were flushed in time.
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

    /// The agent address spans are sent to.
    pub fn agent_addr(&self) -> SocketAddr {
        self.agent_addr
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("agent_addr", &self.agent_addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if !self.flush(DROP_FLUSH_TIMEOUT) {
            log::warn!("jaeger reporter: pending spans could not be flushed at shutdown");
        }
        // The thread stops on this message (or when the control channel
        // disconnects), whatever the state of the span channel.
        let _ = self.control_tx.send(Control::Shutdown);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::warn!("jaeger reporter: the reporter thread panicked");
            }
        }
    }
}

/// Resolves `host:port`, preferring an IPv4 address.
fn resolve_agent(host: &str, port: u16) -> io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("jaeger agent host {host:?} did not resolve to any address"),
            )
        })
}

/// A UDP socket bound to the wildcard address of the agent's family and
/// connected to the agent (so that ICMP errors are reported on later sends).
fn connect_socket(agent: SocketAddr) -> io::Result<UdpSocket> {
    let local: IpAddr = match agent {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((local, 0))?;
    socket.connect(agent)?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    Ok(socket)
}

/// The encoded datagram prefix, holding the Jaeger process description.
fn batch_prefix(config: &ReporterConfig, socket: &UdpSocket) -> io::Result<Vec<u8>> {
    let tags = process_tags(config, socket);
    let tags: Vec<(&str, &str)> = tags
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let prefix = thrift::batch_prefix(&config.service_name, &tags);
    if prefix.len() > MAX_DATAGRAM_SIZE / 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "service name and process tags are too large for a Jaeger datagram",
        ));
    }
    Ok(prefix)
}

/// The Jaeger process tags: `jaeger.version`, `hostname` and `ip` (when
/// known), then the configured ones.
fn process_tags(config: &ReporterConfig, socket: &UdpSocket) -> Vec<(String, String)> {
    let mut tags = vec![(
        "jaeger.version".to_owned(),
        concat!("rocket_opentracing-", env!("CARGO_PKG_VERSION")).to_owned(),
    )];
    if let Some(hostname) = hostname() {
        tags.push(("hostname".to_owned(), hostname));
    }
    if let Some(ip) = local_ip(socket) {
        tags.push(("ip".to_owned(), ip.to_string()));
    }
    tags.extend(config.process_tags.iter().cloned());
    tags
}

/// The host name, from `/proc/sys/kernel/hostname` or `$HOSTNAME`.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// The local IP address used to reach the agent, unless it is a loopback
/// (or unspecified) address.
fn local_ip(socket: &UdpSocket) -> Option<IpAddr> {
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn spawn_thread(
    worker: Worker,
    span_rx: Receiver<rustracing_jaeger::span::FinishedSpan>,
    control_rx: Receiver<Control>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(THREAD_NAME.to_owned())
        .spawn(move || worker.run(&span_rx, &control_rx))
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
    fn resolves_ipv4_and_ipv6_agents() {
        let v4 = resolve_agent("127.0.0.1", 6831).unwrap();
        assert_eq!(v4, SocketAddr::from(([127, 0, 0, 1], 6831)));
        let v6 = resolve_agent("::1", 6831).unwrap();
        assert_eq!(v6, SocketAddr::from((Ipv6Addr::LOCALHOST, 6831)));
        assert!(resolve_agent("localhost", 6831).is_ok());
    }

    #[test]
    fn binds_the_wildcard_address_of_the_agent_family() {
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(agent.local_addr().unwrap()).unwrap();
        assert!(socket.local_addr().unwrap().is_ipv4());
        assert!(local_ip(&socket).is_none());
    }

    #[test]
    fn process_tags_include_version_and_extra_tags() {
        let mut config = ReporterConfig::new("svc");
        config
            .process_tags
            .push(("env".to_owned(), "test".to_owned()));
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect_socket(agent.local_addr().unwrap()).unwrap();
        let tags = process_tags(&config, &socket);
        assert_eq!(tags[0].0, "jaeger.version");
        assert_eq!(
            tags[0].1,
            format!("rocket_opentracing-{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(tags.last().unwrap(), &("env".to_owned(), "test".to_owned()));
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
}
