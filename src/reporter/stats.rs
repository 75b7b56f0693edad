//! Delivery accounting: the counters shared by the reporter's threads, the
//! [`ReporterStats`] snapshot users read, and the rate-limited warning logged
//! when spans are lost.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// is [`ReporterStats::pending`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReporterStats {
    /// Spans the reporter received from tracers.
    pub finished: u64,
    /// Spans delivered: accepted by the collector (HTTP), or handed to the
    /// network and not refused by the agent's host (UDP).
    pub reported: u64,
    /// Spans dropped on arrival because the queue was full.
    pub dropped: u64,
    /// Spans whose delivery failed: send errors, refusals, collector errors
    /// after the last retry, spans too large to send even when trimmed, and
    /// spans still undelivered when the reporter stopped.
    pub failed: u64,
    /// Of the `failed` spans, those too large to send even when trimmed.
    pub too_large: u64,
    /// Spans sent with their logs dropped or long strings cut so that they
    /// fit in a datagram (counted in `reported` as well).
    pub trimmed: u64,
    /// Datagrams (UDP) or requests (HTTP) delivered.
    pub batches: u64,
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
    pub(super) trimmed: AtomicU64,
    pub(super) batches: AtomicU64,
    /// The last delivery error, for the next warning.
    last_error: Mutex<Option<String>>,
}

impl Counters {
    /// A consistent-enough snapshot: `finished` is read last, so that a
    /// snapshot never shows more settled spans than finished ones.
    pub(super) fn snapshot(&self) -> ReporterStats {
        let reported = self.reported.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let failed = self.failed.load(Ordering::Acquire);
        ReporterStats {
            reported,
            dropped,
            failed,
            too_large: self.too_large.load(Ordering::Acquire),
            trimmed: self.trimmed.load(Ordering::Acquire),
            batches: self.batches.load(Ordering::Acquire),
            finished: self.finished.load(Ordering::Acquire),
        }
    }

    /// Counts `spans` spans whose delivery failed with `error`.
    pub(super) fn fail(&self, spans: u64, error: impl ToString) {
        *self.last_error.lock() = Some(error.to_string());
        self.failed.fetch_add(spans, Ordering::AcqRel);
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

/// Logs a warning when spans were lost or trimmed since the last one, at
/// most once per [`WARN_INTERVAL`], so that an unreachable agent never floods
/// the log.
#[derive(Debug, Default)]
pub(super) struct LossLog {
    warned: ReporterStats,
    last_warning: Option<Instant>,
}

impl LossLog {
    /// Warns about what changed since the last warning, if anything did and
    /// the last warning is old enough (or `force`).
    pub(super) fn warn_if_due(&mut self, counters: &Counters, force: bool) {
        let now = counters.snapshot();
        let dropped = now.dropped - self.warned.dropped;
        let failed = now.failed - self.warned.failed;
        let too_large = now.too_large - self.warned.too_large;
        let trimmed = now.trimmed - self.warned.trimmed;
        if dropped + failed + trimmed == 0 {
            return;
        }
        let due = self
            .last_warning
            .is_none_or(|last| last.elapsed() >= WARN_INTERVAL);
        if !(due || force) {
            return;
        }
        if dropped > 0 {
            log::warn!(
                "jaeger reporter: {dropped} spans dropped: the queue was full \
                 ({} dropped in all)",
                now.dropped
            );
        }
        if failed > too_large {
            let error = counters.last_error();
            log::warn!(
                "jaeger reporter: {} spans could not be delivered ({} failed in all; last error: {})",
                failed - too_large,
                now.failed,
                error.as_deref().unwrap_or("unknown"),
            );
        }
        if too_large > 0 {
            log::warn!(
                "jaeger reporter: {too_large} spans dropped: too large to send even when trimmed"
            );
        }
        if trimmed > 0 {
            log::warn!(
                "jaeger reporter: {trimmed} spans trimmed (logs dropped, long strings cut) to fit in a batch"
            );
        }
        self.warned = now;
        self.last_warning = Some(Instant::now());
    }
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

    #[test]
    fn warnings_are_rate_limited_but_forced_at_the_end() {
        let counters = Counters::default();
        let mut log = LossLog::default();
        log.warn_if_due(&counters, false);
        assert!(log.last_warning.is_none(), "nothing lost, nothing logged");
        counters.fail(1, "down");
        log.warn_if_due(&counters, false);
        let first = log.last_warning.expect("first loss is logged at once");
        counters.fail(1, "down");
        log.warn_if_due(&counters, false);
        assert_eq!(log.last_warning, Some(first), "second loss waits");
        assert_eq!(log.warned.failed, 1);
        log.warn_if_due(&counters, true);
        assert_eq!(log.warned.failed, 2, "forced warning covers the rest");
    }
}
