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

/// One buffer, alone on its cache lines.
#[repr(align(128))]
struct Shard(Mutex<Vec<RequestRecord>>);

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
                .map(|_| Shard(Mutex::new(Vec::with_capacity(WAKE_AT))))
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
        buffer.push(record);
        if buffer.len() == WAKE_AT {
            drop(buffer);
            let _ = self.wake_tx.try_send(());
        }
    }

    /// Moves every buffered record into `out`.
    pub(super) fn take(&self, out: &mut Vec<RequestRecord>) {
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
    pub(super) fn close(&self, out: &mut Vec<RequestRecord>) {
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
