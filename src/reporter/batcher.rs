//! The batcher thread: receives finished spans from tracers, counts them,
//! enforces the queue bound, encodes them into size-bounded batches, and
//! ships each batch to the sender thread when it is full, on every flush
//! interval, and on flush requests. It never does I/O, so it keeps up with
//! the tracers however slow the agent or collector is.
//!
//! Once the [`Reporter`](super::Reporter) is dropped (and its last spans
//! shipped), the thread stays while tracers it handed out live, counting
//! the spans they still finish as late ([`count_late_spans`]): tracers send
//! without blocking and would otherwise lose them without a trace.

use super::batch::Batch;
use super::consumer::SpanConsumer;
use super::intake::{Buffer, Intake, RecordSender};
use super::logging::log_span;
use super::sender::{Outbound, Settled, Shipment};
use super::stats::{Advice, Counters, LateLog, LossLog};
use super::trim::Fit;
use crate::record::Record;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rustracing_jaeger::span::FinishedSpan;
use std::mem;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most spans handled in one go before the thread checks for control
/// messages and timers again.
const MAX_DRAIN: usize = 4096;

/// How often the span channel is drained while spans keep arriving.
const BUSY_TICK: Duration = Duration::from_millis(5);

/// Shortest flush interval (avoids a busy loop for a zero interval).
const MIN_FLUSH_INTERVAL: Duration = Duration::from_millis(1);

/// Longest flush interval (avoids `Instant` overflows).
const MAX_FLUSH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// A request to the batcher thread.
#[derive(Debug)]
pub(super) enum Control {
    /// Ship every span received so far, then have the sender acknowledge
    /// on the channel once they are settled.
    Flush(Sender<()>),
    /// Ship every span received so far, then stop.
    Shutdown,
}

/// The queue's bound: spans (and bytes of encoded spans) accepted but not
/// yet settled by the sender.
#[derive(Debug)]
pub(super) struct QueueBound {
    max_spans: u64,
    max_bytes: u64,
    accepted_spans: u64,
    accepted_bytes: u64,
    settled: Arc<Settled>,
}

impl QueueBound {
    pub(super) fn new(max_spans: usize, max_bytes: usize, settled: Arc<Settled>) -> Self {
        QueueBound {
            max_spans: max_spans.max(1) as u64,
            max_bytes: max_bytes as u64,
            accepted_spans: 0,
            accepted_bytes: 0,
            settled,
        }
    }

    /// Whether a span of `bytes` bytes still fits in the queue.
    fn has_room(&self, bytes: usize) -> bool {
        let spans = self.accepted_spans - self.settled.spans.load(Ordering::Acquire);
        let queued = self.accepted_bytes - self.settled.bytes.load(Ordering::Acquire);
        spans < self.max_spans && queued + bytes as u64 <= self.max_bytes
    }

    fn accept(&mut self, bytes: usize) {
        self.accepted_spans += 1;
        self.accepted_bytes += bytes as u64;
    }
}

/// State of the batcher thread.
pub(super) struct Batcher {
    batch: Batch,
    /// Encoded size of the spans in `batch`.
    batch_span_bytes: u64,
    /// Reused buffer holding the encoding of one span.
    span_buf: Vec<u8>,
    queue: QueueBound,
    counters: Arc<Counters>,
    outbound: Sender<Outbound>,
    flush_interval: Duration,
    log_spans: bool,
    /// Sees every span received, when the reporter was given a consumer.
    consumer: Option<Box<dyn SpanConsumer>>,
    losses: LossLog,
    /// The request records the fairing hands over, and the signal that a
    /// buffer of them is full.
    intake: Arc<Intake>,
    wake: Receiver<()>,
    /// Reused: the records taken from the intake.
    records: Buffer,
}

impl Batcher {
    pub(super) fn new(
        batch: Batch,
        queue: QueueBound,
        counters: Arc<Counters>,
        outbound: Sender<Outbound>,
        flush_interval: Duration,
        advice: Advice,
        consumer: Option<Box<dyn SpanConsumer>>,
    ) -> Self {
        let (intake, wake) = Intake::new(Arc::clone(&counters));
        Batcher {
            intake,
            wake,
            records: Buffer::default(),
            span_buf: Vec::with_capacity(batch.max_span_len().min(64 * 1024)),
            batch,
            batch_span_bytes: 0,
            queue,
            counters,
            outbound,
            flush_interval: flush_interval.clamp(MIN_FLUSH_INTERVAL, MAX_FLUSH_INTERVAL),
            log_spans: advice.log_spans,
            consumer,
            losses: LossLog::new(advice),
        }
    }

    /// Where request records for this batcher go.
    pub(super) fn record_sender(&self) -> RecordSender {
        RecordSender(Arc::clone(&self.intake))
    }

    /// The thread's main loop; returns on [`Control::Shutdown`] or when the
    /// [`Reporter`](super::Reporter) is gone, handing back the loss log for
    /// a last warning once the sender is done.
    ///
    /// The thread does not wake for each span: it sleeps on the control
    /// channel and drains the span channel in bulk every [`BUSY_TICK`]
    /// while `rustracing` spans keep coming, backing off to the flush
    /// interval when they stop; request records wake it only when a
    /// buffer of them fills. A tracer's send then never has a sleeping
    /// receiver to wake, and each span costs its encoding and little else.
    /// Every span received before a flush deadline is shipped at that
    /// deadline.
    pub(super) fn run(
        mut self,
        spans: &Receiver<FinishedSpan>,
        control: &Receiver<Control>,
    ) -> LossLog {
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut tick = BUSY_TICK;
        loop {
            let wake = (Instant::now() + tick).min(next_flush);
            crossbeam_channel::select! {
                recv(control) -> message => match message {
                    Ok(Control::Flush(ack)) => {
                        self.flush(spans);
                        let _ = self.outbound.send(Outbound::Flush(ack));
                    }
                    Ok(Control::Shutdown) | Err(_) => break,
                },
                // Never disconnected: the intake holds a sender.
                recv(self.wake) -> _ => {}
                default(wake.saturating_duration_since(Instant::now())) => {}
            }
            self.take_records();
            let drained = self.drain(spans, MAX_DRAIN);
            tick = match drained {
                // More may be waiting: only check for control messages.
                MAX_DRAIN => Duration::ZERO,
                0 => (tick * 2).clamp(BUSY_TICK, self.flush_interval.max(BUSY_TICK)),
                _ => BUSY_TICK,
            };
            if Instant::now() >= next_flush {
                self.ship();
                next_flush = Instant::now() + self.flush_interval;
            }
            self.losses.warn_if_due(&self.counters, false);
        }
        self.flush(spans);
        let mut last = mem::take(&mut self.records);
        self.intake.close(&mut last);
        self.add_records(&mut last);
        self.ship();
        self.losses
    }

    /// Adds the request records buffered so far.
    fn take_records(&mut self) {
        let mut records = mem::take(&mut self.records);
        self.intake.take(&mut records);
        self.add_records(&mut records);
        // The buffer (now empty) is kept for the next time.
        self.records = records;
    }

    fn add_records(&mut self, records: &mut Buffer) {
        records.drain(|record| self.add(record));
    }

    /// Ships every span received so far (not those arriving meanwhile, so
    /// that a flush ends even under a constant load).
    fn flush(&mut self, spans: &Receiver<FinishedSpan>) {
        self.take_records();
        self.drain(spans, spans.len());
        self.ship();
    }

    /// Adds up to `max` immediately available spans; returns how many.
    fn drain(&mut self, spans: &Receiver<FinishedSpan>, max: usize) -> usize {
        for n in 0..max {
            match spans.try_recv() {
                Ok(span) => self.add(Record::Span(span)),
                Err(_) => return n,
            }
        }
        max
    }

    /// Counts `span` (and shows it to the consumer, if any), then encodes it
    /// into the current batch (shipping the batch first if the span does
    /// not fit), or drops it if the queue is full.
    fn add(&mut self, span: Record<'_>) {
        self.counters.finished.fetch_add(1, Ordering::AcqRel);
        // The consumer sees every span, delivered to Jaeger or not.
        if let Some(consumer) = &self.consumer {
            consumer.consume(&span);
        }
        // Checked before encoding, so that a full queue costs nothing more.
        if !self.queue.has_room(0) {
            self.counters.dropped.fetch_add(1, Ordering::AcqRel);
            return;
        }
        let fit = self.batch.encode(&mut self.span_buf, &span);
        match fit {
            Fit::Whole | Fit::Trimmed => {}
            Fit::TooLarge => {
                self.counters.too_large.fetch_add(1, Ordering::AcqRel);
                self.counters
                    .fail(1, "a span too large to send even when trimmed");
                return;
            }
        }
        let len = self.span_buf.len();
        if !self.queue.has_room(len) {
            self.counters.dropped.fetch_add(1, Ordering::AcqRel);
            return;
        }
        if !self.batch.fits(len) {
            self.ship();
        }
        self.batch.push(&self.span_buf);
        self.batch_span_bytes += len as u64;
        self.queue.accept(len);
        if fit == Fit::Trimmed {
            self.counters.trimmed.fetch_add(1, Ordering::AcqRel);
        }
        if self.log_spans {
            log_span(&span);
        }
    }

    /// Hands the current batch, if it holds any span, to the sender.
    fn ship(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let spans = self.batch.span_count() as u64;
        // The batch's buffer itself is sent (the batch takes a new one).
        let (payload, start) = self.batch.take();
        let shipment = Shipment {
            payload,
            start,
            spans,
            span_bytes: self.batch_span_bytes,
        };
        self.batch_span_bytes = 0;
        if let Err(unsent) = self.outbound.send(Outbound::Batch(shipment)) {
            // The sender thread is gone (it panicked): count, don't lose silently.
            if let Outbound::Batch(shipment) = unsent.0 {
                self.counters
                    .fail(shipment.spans, "the reporter's sender thread is gone");
            }
        }
    }
}

/// After the reporter is gone: receives the spans tracers still finish,
/// counting each as late (never delivered) and warning about them (rate
/// limited, see [`LateLog`]), until every tracer and span sender is dropped.
/// Sleeps while nothing arrives (blocking receives, woken at most for a due
/// warning).
pub(super) fn count_late_spans(spans: &Receiver<FinishedSpan>, counters: &Counters) {
    let mut log = LateLog::default();
    loop {
        let received = match log.next_warning(counters) {
            Some(due) => spans.recv_deadline(due),
            None => spans.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(span) => {
                drop(span);
                counters.count_late();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        log.warn_if_due(counters, false);
    }
    log.warn_if_due(counters, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_spans_are_counted_until_the_last_sender_goes() {
        use crate::reporter::thrift::testing::finish;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = crossbeam_channel::unbounded();
        let late = || {
            let Record::Span(span) = finish(|tracer| tracer.span("late").start()) else {
                unreachable!("a rustracing span")
            };
            span
        };
        tx.send(late()).unwrap();
        let thread = {
            let counters = Arc::clone(&counters);
            std::thread::spawn(move || count_late_spans(&rx, &counters))
        };
        let other = tx.clone();
        other.send(late()).unwrap();
        drop(other);
        let deadline = Instant::now() + Duration::from_secs(10);
        while counters.snapshot().late < 2 {
            assert!(Instant::now() < deadline, "{:?}", counters.snapshot());
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!thread.is_finished(), "a sender is left");
        drop(tx);
        thread.join().expect("no panic");
        let stats = counters.snapshot();
        assert_eq!(
            (stats.finished, stats.dropped, stats.late, stats.reported),
            (2, 2, 2, 0)
        );
        assert_eq!(stats.pending(), 0);
    }

    #[test]
    fn the_queue_is_bounded_in_spans_and_bytes_until_settled() {
        let settled = Arc::new(Settled::default());
        let mut queue = QueueBound::new(3, 100, Arc::clone(&settled));
        assert!(queue.has_room(60));
        queue.accept(60);
        assert!(!queue.has_room(41), "41 more bytes exceed 100");
        assert!(queue.has_room(40));
        queue.accept(20);
        queue.accept(10);
        assert!(!queue.has_room(0), "three spans are queued");

        // The sender settles the first two spans (80 bytes).
        settled.spans.fetch_add(2, Ordering::Release);
        settled.bytes.fetch_add(80, Ordering::Release);
        assert!(queue.has_room(90));
        assert!(!queue.has_room(91));
    }
}
