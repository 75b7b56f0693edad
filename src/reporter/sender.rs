//! The sender thread: delivers the batches the batcher ships, through a
//! [`Transport`] (UDP agent or HTTP collector), retrying transient failures
//! with bounded, jittered exponential backoff, and settles every span of
//! every batch as reported or failed.

use super::stats::Counters;
use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender, TryRecvError};
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Retries of one batch after its first attempt failed transiently.
pub(super) const MAX_RETRIES: u32 = 4;

/// Wait before the first retry; doubled for each further one.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Longest wait a receiver's `Retry-After` may ask for before a retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SendError {
    /// Whether trying again later may succeed.
    pub(super) retryable: bool,
    /// Whether the receiver refused the batch itself (never retried,
    /// counted as rejected).
    pub(super) rejected: bool,
    /// How long the receiver asked to wait before a retry, if it did.
    pub(super) retry_after: Option<Duration>,
    /// What went wrong, for the log.
    pub(super) message: String,
}

impl SendError {
    /// A failure worth retrying (timeout, connection refused, 5xx...).
    #[cfg_attr(not(any(feature = "collector", feature = "otlp")), allow(dead_code))]
    pub(super) fn retryable(message: impl Into<String>) -> Self {
        SendError {
            retryable: true,
            rejected: false,
            retry_after: None,
            message: message.into(),
        }
    }

    /// A failure not worth retrying.
    pub(super) fn fatal(message: impl Into<String>) -> Self {
        SendError {
            retryable: false,
            rejected: false,
            retry_after: None,
            message: message.into(),
        }
    }

    /// The receiver refused the batch as invalid: not retried.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(super) fn rejected(message: impl Into<String>) -> Self {
        SendError {
            rejected: true,
            ..SendError::fatal(message)
        }
    }

    /// This failure, the receiver having asked to wait `delay` before a
    /// retry.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(super) fn with_retry_after(self, delay: Option<Duration>) -> Self {
        SendError {
            retry_after: delay,
            ..self
        }
    }
}

/// What the receiver accepted of a delivered batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Accepted {
    /// Spans of the batch the receiver says it rejected (OTLP's
    /// `partial_success`).
    pub(super) rejected: u64,
    /// Why, as the receiver put it.
    pub(super) message: String,
}

impl Accepted {
    /// Every span accepted.
    pub(super) const ALL: Accepted = Accepted {
        rejected: 0,
        message: String::new(),
    };
}

/// A way to deliver one encoded batch.
pub(super) trait Transport: Send {
    /// Delivers `payload`, blocking for at most the transport's timeout.
    fn send(&mut self, payload: &[u8]) -> Result<Accepted, SendError>;
}

/// A batch ready for delivery.
#[derive(Debug)]
pub(super) struct Shipment {
    /// The whole datagram or request body: `payload[start..]`.
    pub(super) payload: Vec<u8>,
    pub(super) start: usize,
    /// Number of spans in it.
    pub(super) spans: u64,
    /// Encoded size of those spans (what the queue's byte bound counts).
    pub(super) span_bytes: u64,
}

/// A message from the batcher to the sender.
#[derive(Debug)]
pub(super) enum Outbound {
    /// Deliver this batch.
    Batch(Shipment),
    /// Acknowledge once every earlier batch is settled.
    Flush(Sender<()>),
}

/// How much of the queue the sender has released: spans and bytes settled
/// (delivered or failed). The batcher compares it with what it accepted.
#[derive(Debug, Default)]
pub(super) struct Settled {
    pub(super) spans: AtomicU64,
    pub(super) bytes: AtomicU64,
}

/// State of the sender thread.
pub(super) struct SenderThread {
    transport: Box<dyn Transport>,
    counters: Arc<Counters>,
    settled: Arc<Settled>,
    /// Wait before the first retry of a batch.
    initial_backoff: Duration,
    /// Disconnected when the reporter stops (so that every later wait sees
    /// it): retries end and what is left is counted as failed unsent.
    stop: Receiver<()>,
}

impl SenderThread {
    pub(super) fn new(
        transport: Box<dyn Transport>,
        counters: Arc<Counters>,
        settled: Arc<Settled>,
        stop: Receiver<()>,
    ) -> Self {
        SenderThread {
            transport,
            counters,
            settled,
            initial_backoff: INITIAL_BACKOFF,
            stop,
        }
    }

    /// The thread's main loop; returns when stopped or when the batcher is
    /// gone and every batch is settled.
    pub(super) fn run(mut self, outbound: &Receiver<Outbound>) {
        loop {
            select! {
                recv(outbound) -> message => match message {
                    Ok(Outbound::Batch(shipment)) => self.deliver(shipment),
                    Ok(Outbound::Flush(ack)) => {
                        let _ = ack.send(());
                    }
                    Err(_) => return,
                },
                recv(self.stop) -> _ => break,
            }
        }
        // Stopped: settle what is left without trying.
        for message in outbound.try_iter() {
            match message {
                Outbound::Batch(shipment) => {
                    self.settle_failed(&shipment, "the reporter stopped before delivery")
                }
                Outbound::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// Whether the reporter is stopping.
    fn stopped(&self) -> bool {
        !matches!(self.stop.try_recv(), Err(TryRecvError::Empty))
    }

    /// Delivers one batch, retrying transient failures unless stopped.
    fn deliver(&mut self, shipment: Shipment) {
        if self.stopped() {
            self.settle_failed(&shipment, "the reporter stopped before delivery");
            return;
        }
        let mut backoff = self.initial_backoff;
        let mut retries = 0;
        loop {
            let payload = shipment.payload.get(shipment.start..).unwrap_or_default();
            match self.transport.send(payload) {
                Ok(accepted) => {
                    let rejected = accepted.rejected.min(shipment.spans);
                    self.counters.deliver(shipment.spans - rejected);
                    if rejected > 0 {
                        let message = format!(
                            "the receiver rejected {rejected} of {} spans: {}",
                            shipment.spans, accepted.message
                        );
                        self.counters.reject(rejected, message);
                    }
                    break;
                }
                Err(error) if error.retryable && retries < MAX_RETRIES => {
                    retries += 1;
                    let delay = match error.retry_after {
                        Some(asked) => asked.min(MAX_RETRY_AFTER),
                        None => jitter(backoff),
                    };
                    if !self.wait(delay) {
                        let message =
                            format!("{} (the reporter stopped while retrying)", error.message);
                        self.settle_failed(&shipment, message);
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => {
                    let message = if retries > 0 {
                        format!("{} (after {} retries)", error.message, retries)
                    } else {
                        error.message
                    };
                    if error.rejected {
                        self.counters.reject(shipment.spans, message);
                        self.release(&shipment);
                    } else {
                        self.settle_failed(&shipment, message);
                    }
                    return;
                }
            }
        }
        self.release(&shipment);
    }

    /// Waits `delay`; returns `false` if the reporter was stopped meanwhile.
    fn wait(&self, delay: Duration) -> bool {
        matches!(
            self.stop.recv_timeout(delay),
            Err(RecvTimeoutError::Timeout)
        )
    }

    fn settle_failed(&self, shipment: &Shipment, message: impl ToString) {
        self.counters.fail(shipment.spans, message);
        self.release(shipment);
    }

    /// Frees the shipment's room in the queue.
    fn release(&self, shipment: &Shipment) {
        self.settled
            .bytes
            .fetch_add(shipment.span_bytes, Ordering::AcqRel);
        self.settled
            .spans
            .fetch_add(shipment.spans, Ordering::AcqRel);
    }
}

/// `delay` give or take 20%, so that many processes retrying against one
/// collector spread out.
fn jitter(delay: Duration) -> Duration {
    delay.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A transport answering from a script, recording payloads.
    struct Scripted {
        answers: VecDeque<Result<Accepted, SendError>>,
        sent: Arc<parking_lot::Mutex<Vec<Vec<u8>>>>,
    }

    impl Transport for Scripted {
        fn send(&mut self, payload: &[u8]) -> Result<Accepted, SendError> {
            self.sent.lock().push(payload.to_vec());
            self.answers.pop_front().unwrap_or(Ok(Accepted::ALL))
        }
    }

    fn shipment(spans: u64) -> Shipment {
        Shipment {
            payload: vec![0, spans as u8],
            start: 1,
            spans,
            span_bytes: spans * 10,
        }
    }

    fn run(
        answers: Vec<Result<Accepted, SendError>>,
        shipments: Vec<Shipment>,
    ) -> (Arc<Counters>, Arc<Settled>, usize) {
        let sent = Arc::default();
        let transport = Scripted {
            answers: answers.into(),
            sent: Arc::clone(&sent),
        };
        let counters = Arc::new(Counters::default());
        let settled = Arc::new(Settled::default());
        let (_stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let (tx, rx) = crossbeam_channel::unbounded();
        for s in shipments {
            tx.send(Outbound::Batch(s)).unwrap();
        }
        drop(tx);
        let mut thread = SenderThread::new(
            Box::new(transport),
            Arc::clone(&counters),
            Arc::clone(&settled),
            stop_rx,
        );
        thread.initial_backoff = Duration::from_millis(1);
        thread.run(&rx);
        let attempts = sent.lock().len();
        (counters, settled, attempts)
    }

    #[test]
    fn transient_failures_are_retried_until_delivered() {
        let answers = vec![
            Err(SendError::retryable("503")),
            Err(SendError::retryable("503")),
        ];
        let (counters, settled, attempts) = run(answers, vec![shipment(3)]);
        let stats = counters.snapshot();
        assert_eq!((stats.reported, stats.failed, stats.batches), (3, 0, 1));
        assert_eq!(attempts, 3);
        assert_eq!(settled.spans.load(Ordering::Relaxed), 3);
        assert_eq!(settled.bytes.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn fatal_failures_are_not_retried() {
        let answers = vec![Err(SendError::fatal("400"))];
        let (counters, settled, attempts) = run(answers, vec![shipment(2), shipment(5)]);
        let stats = counters.snapshot();
        assert_eq!((stats.reported, stats.failed), (5, 2));
        assert_eq!(attempts, 2);
        assert_eq!(settled.spans.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn rejected_batches_are_counted_and_not_retried() {
        let answers = vec![Err(SendError::rejected("400"))];
        let (counters, settled, attempts) = run(answers, vec![shipment(2), shipment(5)]);
        let stats = counters.snapshot();
        assert_eq!((stats.reported, stats.failed, stats.rejected), (5, 2, 2));
        assert_eq!(attempts, 2);
        assert_eq!(settled.spans.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn partially_accepted_batches_count_the_rejected_spans() {
        let partial = Accepted {
            rejected: 2,
            message: "spans too old".to_owned(),
        };
        let (counters, settled, attempts) = run(vec![Ok(partial)], vec![shipment(5)]);
        let stats = counters.snapshot();
        assert_eq!(
            (stats.reported, stats.failed, stats.rejected, stats.batches),
            (3, 2, 2, 1)
        );
        assert_eq!(attempts, 1);
        assert_eq!(settled.spans.load(Ordering::Relaxed), 5);
        assert!(counters.last_error().unwrap().contains("spans too old"));
    }

    #[test]
    fn retry_after_replaces_the_backoff() {
        let sent = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let answer = SendError::retryable("503").with_retry_after(Some(Duration::from_millis(1)));
        let transport = Scripted {
            answers: vec![Err(answer)].into(),
            sent: Arc::clone(&sent),
        };
        let counters = Arc::new(Counters::default());
        let (_stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(Outbound::Batch(shipment(1))).unwrap();
        drop(tx);
        let mut thread = SenderThread::new(
            Box::new(transport),
            Arc::clone(&counters),
            Arc::default(),
            stop_rx,
        );
        // Only the receiver's 1 ms can make this test end in time.
        thread.initial_backoff = Duration::from_secs(600);
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            thread.run(&rx);
            let _ = done_tx.send(());
        });
        assert!(done_rx.recv_timeout(Duration::from_secs(60)).is_ok());
        assert_eq!(counters.snapshot().reported, 1);
        assert_eq!(sent.lock().len(), 2);
    }

    #[test]
    fn retries_are_bounded() {
        let answers = (0..=MAX_RETRIES)
            .map(|_| Err(SendError::retryable("timeout")))
            .collect();
        let (counters, _, attempts) = run(answers, vec![shipment(4), shipment(1)]);
        let stats = counters.snapshot();
        assert_eq!((stats.reported, stats.failed), (1, 4));
        assert_eq!(attempts, MAX_RETRIES as usize + 2);
        let error = counters.last_error();
        assert!(error.unwrap().contains("after 4 retries"));
    }

    #[test]
    fn stopping_ends_retries_and_fails_what_is_left() {
        let sent = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let transport = Scripted {
            answers: (0..10).map(|_| Err(SendError::retryable("down"))).collect(),
            sent: Arc::clone(&sent),
        };
        let counters = Arc::new(Counters::default());
        let settled = Arc::new(Settled::default());
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let (tx, rx) = crossbeam_channel::unbounded();
        tx.send(Outbound::Batch(shipment(2))).unwrap();
        tx.send(Outbound::Batch(shipment(3))).unwrap();
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        tx.send(Outbound::Flush(ack_tx)).unwrap();
        let mut thread =
            SenderThread::new(Box::new(transport), Arc::clone(&counters), settled, stop_rx);
        // Long enough that only stopping can end the first retry wait.
        thread.initial_backoff = Duration::from_secs(600);
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            thread.run(&rx);
            let _ = done_tx.send(());
        });
        // The first attempt failed: the thread now waits to retry.
        while sent.lock().is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(stop_tx);
        assert!(
            done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the sender stops promptly"
        );
        let stats = counters.snapshot();
        assert_eq!((stats.reported, stats.failed), (0, 5));
        assert_eq!(sent.lock().len(), 1, "the second batch is not even tried");
        assert!(
            ack_rx.try_recv().is_ok(),
            "pending flushes are acknowledged"
        );
        drop(tx);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(1000));
            assert!(
                d >= Duration::from_millis(800) && d <= Duration::from_millis(1200),
                "{d:?}"
            );
        }
    }
}
