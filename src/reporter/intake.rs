//! The reporter's intake of request records: a buffer per worker thread
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
use crate::record::{RecordSink, RequestRecord};

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
}

impl Buffer {
    fn with_capacity(records: usize) -> Self {
        Buffer {
            records: Vec::with_capacity(records),
            text: String::with_capacity(records * 32),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty()
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
    }

    /// Takes the records out, each with its URL, emptying the buffer (its
    /// memory is kept).
    pub(super) fn drain(&mut self, mut f: impl FnMut(RequestRecord<&str>)) {
        for record in self.records.drain(..) {
            let (start, end) = record.url;
            let url = self.text.get(start..end).unwrap_or_default();
            f(record.with_url(url).0);
        }
        self.text.clear();
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
        let shards = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_SHARDS);
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
        let full = buffer.records.len() == WAKE_AT;
        drop(buffer);
        drop(url);
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
}

impl std::fmt::Debug for RecordSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSender").finish_non_exhaustive()
    }
}
