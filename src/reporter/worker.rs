//! The reporter thread: receives finished spans, packs them into datagrams
//! and sends them to the agent; handles flush and shutdown requests.

use super::logging::log_span;
use super::thrift::{encode_span_within, Datagram, Fit};
use super::Counters;
use crossbeam_channel::{select, Receiver, Sender};
use rustracing_jaeger::span::FinishedSpan;
use std::io;
use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most spans handled in one go before the thread checks for control
/// messages and timers again.
const MAX_DRAIN: usize = 4096;

/// Shortest flush interval (avoids a busy loop for a zero interval).
const MIN_FLUSH_INTERVAL: Duration = Duration::from_millis(1);

/// Longest flush interval (avoids `Instant` overflows).
const MAX_FLUSH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Least time between two warnings about lost or trimmed spans.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// A request to the reporter thread.
#[derive(Debug)]
pub(super) enum Control {
    /// Send every span queued so far, then acknowledge on the channel.
    Flush(Sender<()>),
    /// Send every span queued so far, then stop.
    Shutdown,
}

/// State of the reporter thread.
pub(super) struct Worker {
    socket: UdpSocket,
    datagram: Datagram,
    /// Reused buffer holding the encoding of one span.
    span_buf: Vec<u8>,
    counters: Arc<Counters>,
    flush_interval: Duration,
    log_spans: bool,
    problems: ProblemLog,
}

impl Worker {
    /// Makes the thread state; `socket` must be connected to the agent.
    pub(super) fn new(
        socket: UdpSocket,
        datagram: Datagram,
        counters: Arc<Counters>,
        flush_interval: Duration,
        log_spans: bool,
    ) -> Self {
        let span_buf = Vec::with_capacity(datagram.max_span_len());
        Worker {
            socket,
            datagram,
            span_buf,
            counters,
            flush_interval: flush_interval.clamp(MIN_FLUSH_INTERVAL, MAX_FLUSH_INTERVAL),
            log_spans,
            problems: ProblemLog::default(),
        }
    }

    /// The thread's main loop; returns on [`Control::Shutdown`] or when the
    /// [`Reporter`](super::Reporter) is gone.
    pub(super) fn run(mut self, spans: &Receiver<FinishedSpan>, control: &Receiver<Control>) {
        let mut next_flush = Instant::now() + self.flush_interval;
        loop {
            let timeout = next_flush.saturating_duration_since(Instant::now());
            select! {
                recv(spans) -> span => match span {
                    Ok(span) => {
                        self.add(span);
                        self.drain(spans, MAX_DRAIN);
                    }
                    // Unreachable while the Reporter (which holds a sender) lives.
                    Err(_) => break,
                },
                recv(control) -> message => match message {
                    Ok(Control::Flush(ack)) => {
                        self.flush(spans);
                        let _ = ack.send(());
                    }
                    Ok(Control::Shutdown) | Err(_) => break,
                },
                default(timeout) => {}
            }
            if Instant::now() >= next_flush {
                self.send_pending();
                next_flush = Instant::now() + self.flush_interval;
            }
            self.problems.warn_if_due(false);
        }
        self.flush(spans);
        self.problems.warn_if_due(true);
    }

    /// Sends every span queued so far (not those queued meanwhile, so that
    /// a flush ends even under a constant load).
    fn flush(&mut self, spans: &Receiver<FinishedSpan>) {
        self.drain(spans, spans.len());
        self.send_pending();
    }

    /// Adds up to `max` immediately available spans.
    fn drain(&mut self, spans: &Receiver<FinishedSpan>, max: usize) {
        for _ in 0..max {
            match spans.try_recv() {
                Ok(span) => self.add(span),
                Err(_) => break,
            }
        }
    }

    /// Encodes `span` and adds it to the current datagram, first sending
    /// the datagram if the span does not fit in it.
    fn add(&mut self, span: FinishedSpan) {
        if self.log_spans {
            log_span(&span);
        }
        match encode_span_within(&mut self.span_buf, &span, self.datagram.max_span_len()) {
            Fit::Whole => {}
            Fit::Trimmed => self.problems.trimmed += 1,
            Fit::TooLarge => {
                self.counters.too_large.fetch_add(1, Ordering::Relaxed);
                self.problems.too_large += 1;
                return;
            }
        }
        if !self.datagram.fits(self.span_buf.len()) {
            self.send_pending();
        }
        self.datagram.push(&self.span_buf);
    }

    /// Sends the current datagram, if it holds any span, and starts a new one.
    fn send_pending(&mut self) {
        if self.datagram.is_empty() {
            return;
        }
        let spans = self.datagram.span_count() as u64;
        match self.socket.send(self.datagram.finish()) {
            Ok(_) => {
                self.counters.reported.fetch_add(spans, Ordering::Relaxed);
                self.counters.datagrams.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.counters.failed.fetch_add(spans, Ordering::Relaxed);
                self.problems.record_failure(spans, error);
            }
        }
        self.datagram.clear();
    }
}

/// Delivery problems not yet logged; logged at most once per
/// [`WARN_INTERVAL`] so that an unreachable agent never floods the log.
#[derive(Debug, Default)]
struct ProblemLog {
    failed_spans: u64,
    failed_datagrams: u64,
    last_error: Option<io::Error>,
    too_large: u64,
    trimmed: u64,
    last_warning: Option<Instant>,
}

impl ProblemLog {
    fn record_failure(&mut self, spans: u64, error: io::Error) {
        self.failed_spans += spans;
        self.failed_datagrams += 1;
        self.last_error = Some(error);
    }

    fn is_empty(&self) -> bool {
        self.failed_datagrams == 0 && self.too_large == 0 && self.trimmed == 0
    }

    /// Logs the problems recorded since the last warning, if any, and if
    /// the last warning is old enough (or `force`).
    fn warn_if_due(&mut self, force: bool) {
        if self.is_empty() {
            return;
        }
        let due = self
            .last_warning
            .map_or(true, |last| last.elapsed() >= WARN_INTERVAL);
        if !(due || force) {
            return;
        }
        if self.failed_datagrams > 0 {
            log::warn!(
                "jaeger reporter: {} spans lost: {} datagrams could not be sent to the agent (last error: {})",
                self.failed_spans,
                self.failed_datagrams,
                self.last_error
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string),
            );
        }
        if self.too_large > 0 {
            log::warn!(
                "jaeger reporter: {} spans dropped: too large for a datagram even when trimmed",
                self.too_large
            );
        }
        if self.trimmed > 0 {
            log::warn!(
                "jaeger reporter: {} spans trimmed (logs dropped, long strings truncated) to fit in a datagram",
                self.trimmed
            );
        }
        *self = ProblemLog {
            last_warning: Some(Instant::now()),
            ..ProblemLog::default()
        };
    }
}
