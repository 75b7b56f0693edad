//! The reporter's intake of request records (and of the records of spans
//! inside requests): a buffer per worker thread
//! (a handful of shards, each behind its own lock, so that threads rarely
//! meet), swapped out whole by the batcher. A push costs an uncontended
//! lock and a move; the batcher is woken only when a buffer fills, and
//! otherwise takes the buffers on its own schedule.
//!
//! Records pushed once the reporter is gone are counted as late, never lost
//! silently.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use super::stats::Counters;
use crate::record::{ChildRecord, Record, RecordSink, RequestRecord};

/// Records a buffer holds before its thread wakes the batcher.
const WAKE_AT: usize = 256;

/// Most buffers (one per CPU, up to this).
const MAX_SHARDS: usize = 64;

/// Request records waiting for the batcher, their URLs copied into one
/// text buffer (so that a URL is freed by the thread that made it, and the
/// batcher frees nothing per record).
#[derive(Debug, Default)]
pub(super) struct Buffer {
    /// Each record's URL is `text[url.0..url.1]`.
    pub(super) records: Vec<RequestRecord<(usize, usize)>>,
    pub(super) text: String,
    /// Spans inside requests (from the `tracing` layer).
    pub(super) children: Vec<ChildRecord>,
}

impl Buffer {
    fn with_capacity(records: usize) -> Self {
        Buffer {
            records: Vec::with_capacity(records),
            text: String::with_capacity(records * 32),
            children: Vec::new(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.children.is_empty()
    }

    /// Records held.
    fn len(&self) -> usize {
        self.records.len() + self.children.len()
    }

    /// Moves `other`'s records here.
    fn append(&mut self, other: &mut Buffer) {
        let offset = self.text.len();
        self.text.push_str(&other.text);
        self.records.extend(other.records.drain(..).map(|r| {
            let (start, end) = r.url;
            r.with_url((start + offset, end + offset)).0
        }));
        other.text.clear();
        self.children.append(&mut other.children);
    }

    /// Takes the records out, request records with their URLs, emptying
    /// the buffer (its memory is kept).
    pub(super) fn drain(&mut self, mut f: impl FnMut(Record<'_>)) {
        for record in self.records.drain(..) {
            let (start, end) = record.url;
            let url = self.text.get(start..end).unwrap_or_default();
            f(Record::Request(record.with_url(url).0));
        }
        self.text.clear();
        for child in self.children.drain(..) {
            f(Record::Child(child));
        }
    }
}

/// One buffer, alone on its cache lines.
#[repr(align(128))]
struct Shard(Mutex<Buffer>);

/// The buffers shared by the request threads and the batcher.
pub(super) struct Intake {
    shards: Box<[Shard]>,
    /// Set (under every shard's lock) when the batcher has taken its last
    /// records: pushes are then counted as late.
    closed: AtomicBool,
    wake_tx: Sender<()>,
    counters: Arc<Counters>,
}

impl Intake {
    /// Buffers feeding a batcher, which `wake` wakes; late records are
    /// counted in `counters`.
    pub(super) fn new(counters: Arc<Counters>) -> (Arc<Intake>, Receiver<()>) {
        let shards = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_shards(counters, shards)
    }

    /// [`Intake::new`] with `shards` buffers (at most 64).
    fn with_shards(counters: Arc<Counters>, shards: usize) -> (Arc<Intake>, Receiver<()>) {
        let shards = shards.clamp(1, MAX_SHARDS);
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        let intake = Intake {
            shards: (0..shards)
                .map(|_| Shard(Mutex::new(Buffer::with_capacity(WAKE_AT))))
                .collect(),
            closed: AtomicBool::new(false),
            wake_tx,
            counters,
        };
        (Arc::new(intake), wake_rx)
    }

    /// The shard of the calling thread (threads are spread over the shards
    /// in the order they first push).
    fn shard(&self) -> &Shard {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        let index = INDEX.with(|index| {
            if index.get() == usize::MAX {
                index.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            index.get()
        });
        &self.shards[index % self.shards.len()]
    }

    fn push(&self, record: RequestRecord) {
        let mut buffer = self.shard().0.lock();
        if self.closed.load(Ordering::Acquire) {
            drop(buffer);
            drop(record);
            self.counters.count_late();
            return;
        }
        let start = buffer.text.len();
        buffer.text.push_str(&record.url);
        let end = buffer.text.len();
        let (record, url) = record.with_url((start, end));
        buffer.records.push(record);
        let full = buffer.len() == WAKE_AT;
        drop(buffer);
        drop(url);
        if full {
            let _ = self.wake_tx.try_send(());
        }
    }

    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn push_child(&self, record: ChildRecord) {
        let mut buffer = self.shard().0.lock();
        if self.closed.load(Ordering::Acquire) {
            drop(buffer);
            drop(record);
            self.counters.count_late();
            return;
        }
        buffer.children.push(record);
        let full = buffer.len() == WAKE_AT;
        drop(buffer);
        if full {
            let _ = self.wake_tx.try_send(());
        }
    }

    /// Moves every buffered record into `out`.
    pub(super) fn take(&self, out: &mut Buffer) {
        for shard in self.shards.iter() {
            let mut buffer = shard.0.lock();
            if buffer.is_empty() {
                continue;
            }
            if out.is_empty() {
                // The whole buffer, not a copy: the shard keeps `out`'s.
                std::mem::swap(out, &mut buffer);
            } else {
                out.append(&mut buffer);
            }
        }
    }

    /// From now on, records are counted as late; takes the last ones.
    pub(super) fn close(&self, out: &mut Buffer) {
        for shard in self.shards.iter() {
            let mut buffer = shard.0.lock();
            self.closed.store(true, Ordering::Release);
            out.append(&mut buffer);
        }
    }
}

/// Hands request records to a [`Reporter`](super::Reporter): what the
/// fairing uses instead of a `rustracing` span when the reporter is its
/// own.
#[derive(Clone)]
pub(crate) struct RecordSender(pub(super) Arc<Intake>);

impl RecordSink for RecordSender {
    /// Queues `record` for delivery; never blocks on the reporter.
    fn send(&self, record: RequestRecord) {
        self.0.push(record);
    }

    /// Queues `record` for delivery; never blocks on the reporter.
    fn send_child(&self, record: ChildRecord) {
        self.0.push_child(record);
    }
}

impl std::fmt::Debug for RecordSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSender").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RequestRecord;
    use rustracing_jaeger::span::TraceId;
    use std::time::UNIX_EPOCH;

    fn record(span_id: u64, url: &str) -> RequestRecord {
        RequestRecord {
            trace_id: TraceId { high: 0, low: 1 },
            span_id,
            parent_span_id: None,
            flags: 1,
            operation_name: "GET /".into(),
            start: UNIX_EPOCH,
            finish: UNIX_EPOCH,
            method: "GET",
            url: url.to_owned(),
            peer: None,
            status: Some(200),
        }
    }

    fn taken(buffer: &mut Buffer) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        buffer.drain(|r| match r {
            Record::Request(r) => out.push((r.span_id, r.url.to_owned())),
            _ => panic!("only request records were sent"),
        });
        out
    }

    #[test]
    fn records_from_every_thread_are_taken_with_their_urls() {
        let (intake, _wake) = Intake::with_shards(Arc::new(Counters::default()), 3);
        let sender = RecordSender(Arc::clone(&intake));
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let sender = sender.clone();
                scope.spawn(move || {
                    for i in 0..10 {
                        sender.send(record(thread * 100 + i, &format!("/t{thread}/{i}")));
                    }
                });
            }
        });
        let mut buffer = Buffer::default();
        intake.take(&mut buffer);
        let mut records = taken(&mut buffer);
        records.sort();
        assert_eq!(records.len(), 40);
        for (span_id, url) in records {
            assert_eq!(url, format!("/t{}/{}", span_id / 100, span_id % 100));
        }
        intake.take(&mut buffer);
        assert!(buffer.is_empty(), "taken once");
    }

    #[test]
    fn records_after_close_are_counted_late() {
        let counters = Arc::new(Counters::default());
        let (intake, _wake) = Intake::with_shards(Arc::clone(&counters), 2);
        let sender = RecordSender(Arc::clone(&intake));
        sender.send(record(1, "/before"));
        let mut last = Buffer::default();
        intake.close(&mut last);
        assert_eq!(taken(&mut last), [(1, "/before".to_owned())]);
        sender.send(record(2, "/after"));
        let stats = counters.snapshot();
        assert_eq!((stats.finished, stats.late), (1, 1));
        intake.take(&mut last);
        assert!(last.is_empty(), "a late record is not kept");
    }

    #[test]
    fn a_full_buffer_wakes_the_batcher() {
        let (intake, wake) = Intake::with_shards(Arc::new(Counters::default()), 1);
        let sender = RecordSender(Arc::clone(&intake));
        for i in 0..WAKE_AT as u64 - 1 {
            sender.send(record(i, "/"));
        }
        assert!(wake.try_recv().is_err(), "not full yet");
        sender.send(record(0, "/"));
        assert!(wake.try_recv().is_ok(), "full");
    }
}
