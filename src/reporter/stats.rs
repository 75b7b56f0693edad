//! Delivery accounting: the counters shared by the reporter's threads, the
//! [`ReporterStats`] snapshot users read (also through a [`StatsHandle`]
//! that outlives the reporter), and the rate-limited warnings logged when
//! spans are lost: the first delivery failure names the destination and
//! what to change; later ones are summed up at most every 10 s.

use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Least time between two warnings about lost or trimmed spans.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Delivery counters of a [`Reporter`](super::Reporter), as returned by
/// [`Reporter::stats`](super::Reporter::stats) and
/// [`OpenTracingFairing::reporter_stats`](crate::OpenTracingFairing::reporter_stats).
///
/// Every finished span ends up in exactly one of `reported`, `dropped` and
/// `failed`: once the reporter has flushed (or when nothing is in flight),
/// `reported + dropped + failed == finished`. The difference, at any time,
/// is [`ReporterStats::pending`]. `too_large` and `rejected` (of `failed`), `late` (of
/// `dropped`) and `trimmed` (of `reported`) tell some of those spans apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReporterStats {
    /// Spans the reporter received from tracers.
    pub finished: u64,
    /// Spans delivered: accepted by the collector (HTTP), or handed to the
    /// network and not refused by the agent's host (UDP).
    pub reported: u64,
    /// Spans dropped on arrival, never sent: the queue was full, or the
    /// [`Reporter`](super::Reporter) was already dropped (`late`).
    pub dropped: u64,
    /// Spans whose delivery failed: send errors, refusals, collector errors
    /// after the last retry, spans too large to send even when trimmed, and
    /// spans still undelivered when the reporter stopped.
    pub failed: u64,
    /// Of the `failed` spans, those too large to send even when trimmed.
    pub too_large: u64,
    /// Of the `failed` spans, those the OTLP receiver refused: a whole
    /// batch answered with `400 Bad Request`, or the spans a successful
    /// answer's `partial_success` counts as rejected. Never retried.
    pub rejected: u64,
    /// Spans sent with their logs dropped or long strings cut so that they
    /// fit in a datagram (counted in `reported` as well).
    pub trimmed: u64,
    /// Datagrams (UDP) or requests (HTTP) delivered.
    pub batches: u64,
    /// Of the `dropped` spans, those finished after the
    /// [`Reporter`](super::Reporter) was dropped, by a tracer or span sender
    /// it had handed out (counted until the last of those is dropped; read
    /// them with a [`StatsHandle`]). Keep the reporter alive as long as its
    /// tracers, e.g. with
    /// [`OpenTracingFairing::with_reporter`](crate::OpenTracingFairing::with_reporter).
    pub late: u64,
}

impl ReporterStats {
    /// Spans received but not yet delivered, dropped or failed.
    pub fn pending(&self) -> u64 {
        self.finished
            .saturating_sub(self.reported + self.dropped + self.failed)
    }

    /// Spans lost so far: `dropped + failed`.
    pub fn lost(&self) -> u64 {
        self.dropped + self.failed
    }
}

/// The counters, shared between the [`Reporter`](super::Reporter) handle and
/// its threads; each is only ever incremented.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) finished: AtomicU64,
    pub(super) reported: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) too_large: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) trimmed: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) late: AtomicU64,
    /// Whether the batcher thread still receives spans (see
    /// [`StatsHandle::is_receiving`]).
    pub(super) receiving: AtomicBool,
    /// The last delivery error, for the next warning.
    last_error: Mutex<Option<String>>,
}

impl Counters {
    /// A consistent-enough snapshot: `finished` is read last, so that a
    /// snapshot never shows more settled spans than finished ones, and
    /// `late` before `dropped` (counted in that order), so that it never
    /// shows more late spans than dropped ones.
    pub(super) fn snapshot(&self) -> ReporterStats {
        let late = self.late.load(Ordering::Acquire);
        let reported = self.reported.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let failed = self.failed.load(Ordering::Acquire);
        ReporterStats {
            reported,
            dropped,
            failed,
            too_large: self.too_large.load(Ordering::Acquire),
            rejected: self.rejected.load(Ordering::Acquire),
            trimmed: self.trimmed.load(Ordering::Acquire),
            batches: self.batches.load(Ordering::Acquire),
            late,
            finished: self.finished.load(Ordering::Acquire),
        }
    }

    /// Counts one span finished after the reporter was dropped: finished,
    /// dropped, and late (in that order, see [`Counters::snapshot`]).
    pub(super) fn count_late(&self) {
        self.finished.fetch_add(1, Ordering::AcqRel);
        self.dropped.fetch_add(1, Ordering::AcqRel);
        self.late.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts `spans` spans whose delivery failed with `error`.
    pub(super) fn fail(&self, spans: u64, error: impl ToString) {
        *self.last_error.lock() = Some(error.to_string());
        self.failed.fetch_add(spans, Ordering::AcqRel);
    }

    /// Counts `spans` spans the receiver refused (failed, and rejected)
    /// with `error`.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(super) fn reject(&self, spans: u64, error: impl ToString) {
        self.rejected.fetch_add(spans, Ordering::AcqRel);
        self.fail(spans, error);
    }

    /// The last delivery error recorded.
    pub(super) fn last_error(&self) -> Option<String> {
        self.last_error.lock().clone()
    }

    /// Counts `spans` spans delivered in one batch.
    pub(super) fn deliver(&self, spans: u64) {
        self.batches.fetch_add(1, Ordering::AcqRel);
        self.reported.fetch_add(spans, Ordering::AcqRel);
    }
}

/// A handle on a [`Reporter`](super::Reporter)'s counters that stays valid
/// after the reporter is dropped, from
/// [`Reporter::stats_handle`](super::Reporter::stats_handle).
///
/// Dropping a reporter does not end its accounting: spans that tracers it
/// handed out finish afterwards are counted as [`ReporterStats::late`] (and
/// `dropped`) until the last of those tracers and span senders is dropped.
#[derive(Clone)]
pub struct StatsHandle {
    counters: Arc<Counters>,
}

impl StatsHandle {
    pub(super) fn new(counters: Arc<Counters>) -> Self {
        StatsHandle { counters }
    }

    /// The delivery counters so far (as
    /// [`Reporter::stats`](super::Reporter::stats) gives them).
    pub fn stats(&self) -> ReporterStats {
        self.counters.snapshot()
    }

    /// Whether the reporter's batcher thread still receives spans: while
    /// the reporter lives, and after it is dropped as long as any tracer or
    /// span sender it handed out is alive (their spans are then counted as
    /// `late`). `false` once the thread has ended.
    pub fn is_receiving(&self) -> bool {
        self.counters.receiving.load(Ordering::Acquire)
    }
}

impl fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsHandle")
            .field("stats", &self.stats())
            .field("receiving", &self.is_receiving())
            .finish()
    }
}

/// Where a reporter delivers spans, as its warnings name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A Jaeger agent: its host (as configured) and UDP port.
    Agent { host: String, port: u16 },
    /// A Jaeger collector: its URL without credentials.
    #[cfg_attr(not(feature = "collector"), allow(dead_code))]
    Collector(String),
    /// An OTLP/HTTP endpoint: its URL without credentials.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    Otlp(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Agent { host, port } if host.contains(':') => {
                write!(f, "the Jaeger agent at [{host}]:{port} (UDP)")
            }
            Target::Agent { host, port } => write!(f, "the Jaeger agent at {host}:{port} (UDP)"),
            Target::Collector(url) => write!(f, "the Jaeger collector at {url}"),
            Target::Otlp(url) => write!(f, "the OTLP endpoint {url}"),
        }
    }
}

/// What the first delivery warning needs to know besides the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Advice {
    /// Where spans go.
    pub(super) target: Target,
    /// Whether spans are also printed in the log (`log_spans`).
    pub(super) log_spans: bool,
}

/// `span` or `spans`, for `n` of them.
fn noun(n: u64) -> &'static str {
    if n == 1 {
        "span"
    } else {
        "spans"
    }
}

/// `1 span` or `n spans`.
fn spans(n: u64) -> String {
    format!("{n} {}", noun(n))
}

/// The warning logged on the first delivery failure of a reporter: what
/// failed and where, how many spans were lost, and what to change: the
/// destination (configuration keys and `JAEGER_*` variables), switching
/// tracing off, or seeing the spans in the log instead.
pub(super) fn first_failure_warning(advice: &Advice, lost: u64, error: &str) -> String {
    let target = &advice.target;
    let elsewhere = match target {
        Target::Agent { .. } => {
            "Is Jaeger running? To report elsewhere, set `agent_host`/`agent_port` \
             (JAEGER_AGENT_HOST/JAEGER_AGENT_PORT), or a collector `endpoint` (JAEGER_ENDPOINT)"
        }
        Target::Collector(_) => {
            "Is the collector running? To report elsewhere, set `endpoint` (JAEGER_ENDPOINT), \
             or unset it to use the agent at `agent_host`/`agent_port` \
             (JAEGER_AGENT_HOST/JAEGER_AGENT_PORT)"
        }
        Target::Otlp(_) => {
            "Is the OpenTelemetry collector (or Jaeger v2) running? To export elsewhere, set \
             `otlp_endpoint` (OTEL_EXPORTER_OTLP_ENDPOINT), or `exporter = \"jaeger\"` \
             (OTEL_TRACES_EXPORTER=jaeger) to report to Jaeger's agent or collector"
        }
    };
    let locally = if advice.log_spans {
        "spans still show in this log (`log_spans` is on)"
    } else {
        "`log_spans = true` (JAEGER_REPORTER_LOG_SPANS=true) shows spans in this log \
         without Jaeger"
    };
    format!(
        "rocket_opentracing reporter: cannot deliver spans to {target}: {error}. {} not delivered; \
         further losses are counted (ReporterStats) and summed up here at most every {} s. \
         {elsewhere}; to switch tracing off, `disabled = true` (JAEGER_DISABLED=true); {locally}.",
        spans(lost),
        WARN_INTERVAL.as_secs(),
    )
}

/// Whether a rate-limited warning may be logged now: there was none yet,
/// or the last one (at `last_warning`) is at least [`WARN_INTERVAL`] old.
/// [`LossLog`] and [`LateLog`] share this limit.
fn interval_passed(last_warning: Option<Instant>) -> bool {
    last_warning.is_none_or(|last| last.elapsed() >= WARN_INTERVAL)
}

/// Spans dropped because the queue was full (not because they were late).
fn queue_full(stats: &ReporterStats) -> u64 {
    stats.dropped.saturating_sub(stats.late)
}

/// Logs a warning when spans were lost or trimmed since the last one, at
/// most once per [`WARN_INTERVAL`], so that an unreachable agent never floods
/// the log. The first delivery failure gets the [`first_failure_warning`].
#[derive(Debug)]
pub(super) struct LossLog {
    advice: Advice,
    /// Whether the first delivery failure was warned about.
    advised: bool,
    warned: ReporterStats,
    last_warning: Option<Instant>,
}

impl LossLog {
    pub(super) fn new(advice: Advice) -> Self {
        LossLog {
            advice,
            advised: false,
            warned: ReporterStats::default(),
            last_warning: None,
        }
    }

    /// Warns about what changed since the last warning, if anything did and
    /// the last warning is old enough (or `force`).
    pub(super) fn warn_if_due(&mut self, counters: &Counters, force: bool) {
        let now = counters.snapshot();
        let since = |now: u64, then: u64| now.saturating_sub(then);
        // Late spans are the late-span warning's (see `LateLog`).
        let dropped = since(queue_full(&now), queue_full(&self.warned));
        let failed = since(now.failed, self.warned.failed);
        let too_large = since(now.too_large, self.warned.too_large).min(failed);
        let trimmed = since(now.trimmed, self.warned.trimmed);
        if dropped + failed + trimmed == 0 {
            return;
        }
        if !(force || interval_passed(self.last_warning)) {
            return;
        }
        if dropped > 0 {
            log::warn!(
                "rocket_opentracing reporter: {} dropped: the queue was full ({} dropped in all)",
                spans(dropped),
                queue_full(&now)
            );
        }
        let undelivered = failed - too_large;
        if undelivered > 0 {
            let error = counters.last_error();
            let error = error.as_deref().unwrap_or("unknown error");
            if self.advised {
                log::warn!(
                    "rocket_opentracing reporter: {undelivered} more {} could not be delivered to {} \
                     ({} failed in all; last error: {error})",
                    noun(undelivered),
                    self.advice.target,
                    now.failed,
                );
            } else {
                log::warn!(
                    "{}",
                    first_failure_warning(&self.advice, undelivered, error)
                );
                self.advised = true;
            }
        }
        if too_large > 0 {
            log::warn!(
                "rocket_opentracing reporter: {} dropped: too large to send even when trimmed",
                spans(too_large)
            );
        }
        if trimmed > 0 {
            log::warn!(
                "rocket_opentracing reporter: {} trimmed (logs dropped, long strings cut) to fit in a batch",
                spans(trimmed)
            );
        }
        self.warned = now;
        self.last_warning = Some(Instant::now());
    }
}

/// The warning about spans finished after the reporter was dropped, rate
/// limited like [`LossLog`]'s: the first at once, then at most one every
/// [`WARN_INTERVAL`], and a last one when the last tracer goes.
#[derive(Debug, Default)]
pub(super) struct LateLog {
    /// Late spans warned about so far.
    warned: u64,
    last_warning: Option<Instant>,
}

impl LateLog {
    /// When a warning about late spans not yet warned about is due, if any
    /// are (`None`: nothing to warn about).
    pub(super) fn next_warning(&self, counters: &Counters) -> Option<Instant> {
        if counters.late.load(Ordering::Acquire) == self.warned {
            return None;
        }
        Some(
            self.last_warning
                .map_or_else(Instant::now, |last| last + WARN_INTERVAL),
        )
    }

    /// Warns about the late spans counted since the last warning, if any
    /// and the last warning is old enough (or `force`).
    pub(super) fn warn_if_due(&mut self, counters: &Counters, force: bool) {
        let late = counters.late.load(Ordering::Acquire);
        let new = late.saturating_sub(self.warned);
        if new == 0 || !(force || interval_passed(self.last_warning)) {
            return;
        }
        log::warn!("{}", late_warning(new, late));
        self.warned = late;
        self.last_warning = Some(Instant::now());
    }
}

/// The warning about `new` spans (`total` in all) finished after the
/// reporter was dropped.
pub(super) fn late_warning(new: u64, total: u64) -> String {
    format!(
        "rocket_opentracing reporter: {} finished after the Reporter was dropped: keep the Reporter alive \
         for the app's lifetime (OpenTracingFairing::with_reporter); they were not delivered \
         ({} in all)",
        spans(new),
        spans(total),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_what_is_not_settled() {
        let counters = Counters::default();
        counters.finished.fetch_add(10, Ordering::Relaxed);
        counters.deliver(4);
        counters.dropped.fetch_add(2, Ordering::Relaxed);
        counters.fail(1, "refused");
        let stats = counters.snapshot();
        assert_eq!(stats.pending(), 3);
        assert_eq!(stats.lost(), 3);
        assert_eq!(stats.batches, 1);
        assert_eq!(counters.last_error.lock().as_deref(), Some("refused"));
    }

    fn agent_advice(log_spans: bool) -> Advice {
        Advice {
            target: Target::Agent {
                host: "127.0.0.1".to_owned(),
                port: 6831,
            },
            log_spans,
        }
    }

    #[test]
    fn warnings_are_rate_limited_but_forced_at_the_end() {
        let counters = Counters::default();
        let mut log = LossLog::new(agent_advice(false));
        log.warn_if_due(&counters, false);
        assert!(log.last_warning.is_none(), "nothing lost, nothing logged");
        counters.fail(1, "down");
        log.warn_if_due(&counters, false);
        let first = log.last_warning.expect("first loss is logged at once");
        assert!(log.advised, "with the advice");
        counters.fail(1, "down");
        log.warn_if_due(&counters, false);
        assert_eq!(log.last_warning, Some(first), "second loss waits");
        assert_eq!(log.warned.failed, 1);
        log.warn_if_due(&counters, true);
        assert_eq!(log.warned.failed, 2, "forced warning covers the rest");
    }

    #[test]
    fn the_advice_waits_for_a_delivery_failure() {
        let counters = Counters::default();
        let mut log = LossLog::new(agent_advice(false));
        counters.too_large.fetch_add(1, Ordering::AcqRel);
        counters.fail(1, "a span too large to send even when trimmed");
        counters.dropped.fetch_add(2, Ordering::AcqRel);
        log.warn_if_due(&counters, true);
        assert!(
            !log.advised,
            "a span too large or a full queue is no delivery failure"
        );
        counters.fail(3, "Connection refused (os error 111)");
        log.warn_if_due(&counters, true);
        assert!(log.advised);
    }

    #[test]
    fn late_spans_are_not_queue_drops() {
        let counters = Counters::default();
        counters.count_late();
        counters.count_late();
        let stats = counters.snapshot();
        assert_eq!(
            (stats.finished, stats.dropped, stats.late, stats.pending()),
            (2, 2, 2, 0)
        );
        assert_eq!(queue_full(&stats), 0);
        let mut log = LossLog::new(agent_advice(false));
        log.warn_if_due(&counters, false);
        assert!(
            log.last_warning.is_none(),
            "late spans have a warning of their own"
        );
    }

    #[test]
    fn the_first_failure_names_the_destination_and_the_way_out() {
        let error = "Connection refused (os error 111)";
        let agent = first_failure_warning(&agent_advice(false), 8, error);
        for expected in [
            "cannot deliver spans to the Jaeger agent at 127.0.0.1:6831 (UDP): \
             Connection refused (os error 111). 8 spans not delivered",
            "`agent_host`/`agent_port` (JAEGER_AGENT_HOST/JAEGER_AGENT_PORT)",
            "`endpoint` (JAEGER_ENDPOINT)",
            "`disabled = true` (JAEGER_DISABLED=true)",
            "`log_spans = true` (JAEGER_REPORTER_LOG_SPANS=true) shows spans in this log",
            "at most every 10 s",
        ] {
            assert!(agent.contains(expected), "{expected:?} in {agent}");
        }
        let logged = first_failure_warning(&agent_advice(true), 1, error);
        assert!(logged.contains(" 1 span not delivered"), "{logged}");
        assert!(logged.contains("spans still show in this log (`log_spans` is on)"));
        assert!(!logged.contains("log_spans = true"), "{logged}");

        let v6 = Advice {
            target: Target::Agent {
                host: "::1".to_owned(),
                port: 6831,
            },
            log_spans: false,
        };
        assert!(first_failure_warning(&v6, 1, error).contains("agent at [::1]:6831 (UDP)"));

        let collector = Advice {
            target: Target::Collector("https://jaeger:14268/api/traces".to_owned()),
            log_spans: false,
        };
        let message = first_failure_warning(&collector, 2, "the jaeger collector answered 503");
        for expected in [
            "cannot deliver spans to the Jaeger collector at https://jaeger:14268/api/traces: \
             the jaeger collector answered 503",
            "set `endpoint` (JAEGER_ENDPOINT), or unset it",
            "`disabled = true` (JAEGER_DISABLED=true)",
        ] {
            assert!(message.contains(expected), "{expected:?} in {message}");
        }
    }

    #[test]
    fn late_warnings_are_rate_limited_and_forced_at_the_end() {
        let counters = Counters::default();
        let mut log = LateLog::default();
        assert_eq!(log.next_warning(&counters), None, "nothing to warn about");
        counters.count_late();
        let due = log.next_warning(&counters).expect("due at once");
        assert!(due <= Instant::now());
        log.warn_if_due(&counters, false);
        assert_eq!(log.warned, 1);
        assert_eq!(log.next_warning(&counters), None);
        counters.count_late();
        counters.count_late();
        let next = log.next_warning(&counters).expect("a warning is pending");
        assert!(
            next > Instant::now() + WARN_INTERVAL / 2,
            "not before the interval"
        );
        log.warn_if_due(&counters, false);
        assert_eq!(log.warned, 1, "rate limited");
        log.warn_if_due(&counters, true);
        assert_eq!(log.warned, 3, "the last warning covers the rest");
        assert_eq!(
            late_warning(2, 3),
            "rocket_opentracing reporter: 2 spans finished after the Reporter was dropped: keep the \
             Reporter alive for the app's lifetime (OpenTracingFairing::with_reporter); they \
             were not delivered (3 spans in all)"
        );
    }

    #[test]
    fn a_stats_handle_reads_the_shared_counters() {
        let counters = Arc::new(Counters::default());
        let handle = StatsHandle::new(Arc::clone(&counters));
        assert!(!handle.is_receiving());
        counters.receiving.store(true, Ordering::Release);
        counters.count_late();
        assert!(handle.is_receiving());
        assert_eq!(handle.stats().late, 1);
        assert!(format!("{handle:?}").contains("late: 1"));
    }
}
