//! The in-memory span store behind the viewer: the most recent spans, in
//! arrival order, indexed by trace; bounded in spans and in bytes, the
//! oldest evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::model::{SpanRecord, TraceId, TraceSummary};

/// Bound on the memory the stored spans take, whatever their count: the
/// oldest spans are evicted beyond it.
pub const MAX_STORE_BYTES: usize = 64 * 1024 * 1024;

/// Default and largest number of traces a list returns.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// See [`DEFAULT_LIST_LIMIT`].
pub const MAX_LIST_LIMIT: usize = 1000;

/// Which traces a list shows. Every criterion set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilter {
    /// Traces with a span whose operation contains this text (ignoring
    /// ASCII case).
    pub operation: Option<String>,
    /// `Some(true)`: traces with an error span; `Some(false)`: without.
    pub error: Option<bool>,
    /// Traces lasting at least this many microseconds.
    pub min_duration_us: Option<i64>,
    /// Most traces returned, newest first ([`DEFAULT_LIST_LIMIT`] when
    /// `None`; at most [`MAX_LIST_LIMIT`]).
    pub limit: Option<usize>,
}

/// Counters of a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Spans stored now.
    pub spans: usize,
    /// Traces stored now.
    pub traces: usize,
    /// Approximate bytes the stored spans take.
    pub bytes: usize,
    /// Most spans kept.
    pub max_spans: usize,
    /// Spans evicted to make room since the start.
    pub evicted: u64,
}

/// A bounded store of recent spans, shared by the reporter (which adds the
/// process' own spans), the collector endpoint (spans other processes
/// report) and the viewer's pages.
#[derive(Debug)]
pub struct TraceStore {
    inner: Mutex<Inner>,
    max_spans: usize,
    max_bytes: usize,
    evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Every stored span, oldest first; `spans[i]` has sequence number
    /// `first_seq + i`.
    spans: VecDeque<Arc<SpanRecord>>,
    first_seq: u64,
    /// The sequence numbers of each trace's spans, in arrival order.
    traces: HashMap<TraceId, VecDeque<u64>>,
    bytes: usize,
}

impl TraceStore {
    /// A store keeping at most `max_spans` spans (at least 1) and
    /// [`MAX_STORE_BYTES`].
    pub fn new(max_spans: usize) -> Self {
        Self::with_bounds(max_spans, MAX_STORE_BYTES)
    }

    /// A store keeping at most `max_spans` spans (at least 1) taking at
    /// most about `max_bytes` bytes.
    pub fn with_bounds(max_spans: usize, max_bytes: usize) -> Self {
        TraceStore {
            inner: Mutex::new(Inner::default()),
            max_spans: max_spans.max(1),
            max_bytes,
            evicted: AtomicU64::new(0),
        }
    }

    /// Adds `span`, evicting the oldest spans beyond the bounds. A span
    /// larger than the byte bound on its own is not kept.
    pub fn insert(&self, span: SpanRecord) {
        let size = span.approx_size();
        if size > self.max_bytes {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut inner = self.inner.lock();
        let mut evicted = 0;
        while inner.spans.len() >= self.max_spans || inner.bytes + size > self.max_bytes {
            if !inner.evict_oldest() {
                break;
            }
            evicted += 1;
        }
        let seq = inner.first_seq + inner.spans.len() as u64;
        inner
            .traces
            .entry(span.trace_id)
            .or_default()
            .push_back(seq);
        inner.bytes += size;
        inner.spans.push_back(Arc::new(span));
        drop(inner);
        if evicted > 0 {
            self.evicted.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Adds every span of `spans`.
    pub fn extend(&self, spans: impl IntoIterator<Item = SpanRecord>) {
        for span in spans {
            self.insert(span);
        }
    }

    /// The stored spans of trace `id`, ordered by start time; `None` when
    /// none is stored.
    pub fn trace(&self, id: TraceId) -> Option<Vec<Arc<SpanRecord>>> {
        let inner = self.inner.lock();
        let seqs = inner.traces.get(&id)?;
        let mut spans: Vec<_> = seqs.iter().map(|seq| Arc::clone(inner.get(*seq))).collect();
        drop(inner);
        spans.sort_by_key(|s| (s.start_us, s.parent_span_id.is_some()));
        Some(spans)
    }

    /// Summaries of the stored traces matching `filter`, newest first.
    pub fn traces(&self, filter: &TraceFilter) -> Vec<TraceSummary> {
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_LIST_LIMIT)
            .min(MAX_LIST_LIMIT);
        let operation = filter
            .operation
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_ascii_lowercase);
        let inner = self.inner.lock();
        let mut matching: Vec<TraceSummary> = inner
            .traces
            .iter()
            .filter(|(_, seqs)| match &operation {
                Some(op) => seqs
                    .iter()
                    .any(|seq| contains_ignore_ascii_case(&inner.get(*seq).operation, op)),
                None => true,
            })
            .map(|(id, seqs)| summarize(*id, seqs.iter().map(|seq| &**inner.get(*seq))))
            .filter(|s| filter.error.is_none_or(|e| s.error == e))
            .filter(|s| filter.min_duration_us.is_none_or(|d| s.duration_us >= d))
            .collect();
        drop(inner);
        matching.sort_by(|a, b| {
            b.start_us
                .cmp(&a.start_us)
                .then(a.trace_id.cmp(&b.trace_id))
        });
        matching.truncate(limit);
        matching
    }

    /// The distinct operation names stored, sorted (for the filter form).
    pub fn operations(&self) -> Vec<String> {
        let inner = self.inner.lock();
        let mut names: Vec<String> = inner.spans.iter().map(|s| s.operation.clone()).collect();
        drop(inner);
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The store's counters.
    pub fn stats(&self) -> StoreStats {
        let inner = self.inner.lock();
        StoreStats {
            spans: inner.spans.len(),
            traces: inner.traces.len(),
            bytes: inner.bytes,
            max_spans: self.max_spans,
            evicted: self.evicted.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn get(&self, seq: u64) -> &Arc<SpanRecord> {
        &self.spans[(seq - self.first_seq) as usize]
    }

    /// Evicts the oldest span; `false` when the store is empty.
    fn evict_oldest(&mut self) -> bool {
        let Some(oldest) = self.spans.pop_front() else {
            return false;
        };
        let seq = self.first_seq;
        self.first_seq += 1;
        self.bytes -= oldest.approx_size();
        if let Some(seqs) = self.traces.get_mut(&oldest.trace_id) {
            // A trace's sequence numbers increase, so the oldest is first.
            debug_assert_eq!(seqs.front(), Some(&seq));
            seqs.pop_front();
            if seqs.is_empty() {
                self.traces.remove(&oldest.trace_id);
            }
        }
        true
    }
}

fn contains_ignore_ascii_case(haystack: &str, lower_needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(lower_needle)
}

/// The summary of trace `id` from its spans (at least one).
pub(crate) fn summarize<'a>(
    id: TraceId,
    spans: impl Iterator<Item = &'a SpanRecord> + Clone,
) -> TraceSummary {
    let ids: std::collections::HashSet<u64> = spans.clone().map(|s| s.span_id).collect();
    let is_root = |s: &SpanRecord| s.parent_span_id.is_none_or(|p| !ids.contains(&p));
    let mut root: Option<&SpanRecord> = None;
    let mut earliest: Option<&SpanRecord> = None;
    let (mut start, mut end, mut count, mut error) = (i64::MAX, i64::MIN, 0, false);
    let mut services: Vec<String> = Vec::new();
    for span in spans {
        count += 1;
        start = start.min(span.start_us);
        end = end.max(span.end_us());
        error |= span.error;
        if !services.contains(&span.service) {
            services.push(span.service.clone());
        }
        let earlier =
            |current: Option<&SpanRecord>| current.is_none_or(|c| span.start_us < c.start_us);
        if earlier(earliest) {
            earliest = Some(span);
        }
        if is_root(span) && earlier(root) {
            root = Some(span);
        }
    }
    services.sort_unstable();
    let root = root.or(earliest).expect("a stored trace has a span");
    // OpenTracing's tag, or OpenTelemetry's attribute (spans sent over OTLP).
    let status = root
        .tag("http.status_code")
        .or_else(|| root.tag("http.response.status_code"));
    let status_code = match status {
        Some(super::model::TagValue::Long(code)) => Some(*code),
        Some(super::model::TagValue::String(code)) => code.parse().ok(),
        _ => None,
    };
    TraceSummary {
        trace_id: id,
        service: root.service.clone(),
        operation: root.operation.clone(),
        start_us: start,
        duration_us: end.saturating_sub(start).max(0),
        span_count: count,
        error,
        status_code,
        services,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::model::{Tag, TagValue};

    fn span(trace_id: TraceId, span_id: u64, parent: Option<u64>, start_us: i64) -> SpanRecord {
        SpanRecord {
            trace_id,
            span_id,
            parent_span_id: parent,
            references: Vec::new(),
            service: "svc".into(),
            operation: format!("op-{span_id}"),
            start_us,
            duration_us: 10,
            error: false,
            tags: Vec::new(),
            logs: Vec::new(),
            baggage: Vec::new(),
        }
    }

    fn span_ids(store: &TraceStore, id: TraceId) -> Option<Vec<u64>> {
        Some(store.trace(id)?.iter().map(|s| s.span_id).collect())
    }

    #[test]
    fn spans_are_found_by_trace_and_ordered_by_start() {
        let store = TraceStore::new(100);
        store.insert(span(1, 12, Some(11), 20));
        store.insert(span(2, 21, None, 5));
        store.insert(span(1, 11, None, 10));
        store.insert(span(1, 13, Some(11), 15));
        assert_eq!(span_ids(&store, 1), Some(vec![11, 13, 12]));
        assert_eq!(span_ids(&store, 2), Some(vec![21]));
        assert_eq!(span_ids(&store, 3), None);
        let stats = store.stats();
        assert_eq!((stats.spans, stats.traces, stats.evicted), (4, 2, 0));
    }

    #[test]
    fn the_oldest_spans_are_evicted_beyond_the_span_bound() {
        let store = TraceStore::new(3);
        store.insert(span(1, 11, None, 0));
        store.insert(span(2, 21, None, 1));
        store.insert(span(1, 12, Some(11), 2));
        store.insert(span(3, 31, None, 3));
        // 11 went first: trace 1 keeps 12, trace 2 and 3 are whole.
        assert_eq!(span_ids(&store, 1), Some(vec![12]));
        assert_eq!(span_ids(&store, 3), Some(vec![31]));
        store.insert(span(3, 32, Some(31), 4));
        store.insert(span(3, 33, Some(31), 5));
        // 21 and 12 evicted: traces 1 and 2 are gone from the index.
        assert_eq!(span_ids(&store, 1), None);
        assert_eq!(span_ids(&store, 2), None);
        assert_eq!(span_ids(&store, 3), Some(vec![31, 32, 33]));
        let stats = store.stats();
        assert_eq!((stats.spans, stats.traces, stats.evicted), (3, 1, 3));
        assert_eq!(store.traces(&TraceFilter::default()).len(), 1);
    }

    #[test]
    fn the_byte_bound_evicts_too_and_refuses_a_span_larger_than_itself() {
        let one = span(1, 1, None, 0).approx_size();
        let store = TraceStore::with_bounds(100, one * 2);
        for i in 1..=5 {
            store.insert(span(i, i as u64, None, i as i64));
        }
        let stats = store.stats();
        assert_eq!((stats.spans, stats.evicted), (2, 3));
        assert!(stats.bytes <= one * 2);
        assert_eq!(span_ids(&store, 5), Some(vec![5]));

        let mut huge = span(9, 9, None, 9);
        huge.operation = "x".repeat(one * 2);
        store.insert(huge);
        assert_eq!(span_ids(&store, 9), None);
        assert_eq!(store.stats().spans, 2, "nothing evicted for it");
        assert_eq!(store.stats().evicted, 4);
    }

    #[test]
    fn a_long_run_keeps_the_index_consistent() {
        let store = TraceStore::new(50);
        for i in 0..10_000u64 {
            let trace = u128::from(i % 37);
            store.insert(span(trace, i + 1, None, i as i64));
        }
        let stats = store.stats();
        assert_eq!(stats.spans, 50);
        let listed: usize = store
            .traces(&TraceFilter {
                limit: Some(MAX_LIST_LIMIT),
                ..TraceFilter::default()
            })
            .iter()
            .map(|t| t.span_count)
            .sum();
        assert_eq!(listed, 50, "every stored span belongs to a listed trace");
        // The last 50 spans are 9951..=10000.
        for i in 9950..10_000u64 {
            let trace = u128::from(i % 37);
            assert!(span_ids(&store, trace).unwrap().contains(&(i + 1)));
        }
    }

    #[test]
    fn summaries_take_the_root_and_cover_every_span() {
        let store = TraceStore::new(100);
        let mut root = span(7, 1, None, 100);
        root.duration_us = 50;
        root.operation = "GET /hello/<name>".into();
        root.tags.push(Tag {
            key: "http.status_code".into(),
            value: TagValue::Long(200),
        });
        let mut child = span(7, 2, Some(1), 120);
        child.duration_us = 100; // ends after the root
        child.error = true;
        child.service = "client".into();
        // A span whose parent was never stored counts, but is not the root.
        let orphan = span(7, 3, Some(99), 150);
        store.extend([child, orphan, root]);
        let summary = &store.traces(&TraceFilter::default())[0];
        assert_eq!(summary.trace_id, 7);
        assert_eq!(summary.operation, "GET /hello/<name>");
        assert_eq!(summary.start_us, 100);
        assert_eq!(summary.duration_us, 120);
        assert_eq!(summary.span_count, 3);
        assert!(summary.error);
        assert_eq!(summary.status_code, Some(200));
        assert_eq!(summary.services, ["client", "svc"]);
    }

    #[test]
    fn a_root_sent_over_otlp_gives_its_status_too() {
        let store = TraceStore::new(10);
        let mut root = span(8, 1, None, 100);
        root.tags.push(Tag {
            key: "http.response.status_code".into(),
            value: TagValue::Long(503),
        });
        store.extend([root]);
        let summary = &store.traces(&TraceFilter::default())[0];
        assert_eq!(summary.status_code, Some(503));
    }

    #[test]
    fn filters_select_by_operation_error_and_duration() {
        let store = TraceStore::new(100);
        let mut slow = span(1, 1, None, 10);
        slow.duration_us = 5_000;
        slow.operation = "GET /slow".into();
        let mut failing = span(2, 2, None, 20);
        failing.operation = "GET /error".into();
        failing.error = true;
        let mut nested = span(3, 3, None, 30);
        nested.operation = "GET /work".into();
        let mut db = span(3, 4, Some(3), 31);
        db.operation = "DB.Query".into();
        store.extend([slow, failing, nested, db]);
        let ids = |filter: TraceFilter| -> Vec<TraceId> {
            store.traces(&filter).iter().map(|t| t.trace_id).collect()
        };
        assert_eq!(ids(TraceFilter::default()), [3, 2, 1], "newest first");
        let by_op = |op: &str| TraceFilter {
            operation: Some(op.into()),
            ..TraceFilter::default()
        };
        assert_eq!(ids(by_op("get /")), [3, 2, 1]);
        assert_eq!(ids(by_op("db.query")), [3], "any span's operation");
        assert_eq!(ids(by_op("  ")), [3, 2, 1], "blank is no filter");
        let errors = |e| TraceFilter {
            error: Some(e),
            ..TraceFilter::default()
        };
        assert_eq!(ids(errors(true)), [2]);
        assert_eq!(ids(errors(false)), [3, 1]);
        let min = TraceFilter {
            min_duration_us: Some(5_000),
            ..TraceFilter::default()
        };
        assert_eq!(ids(min), [1]);
        let limited = TraceFilter {
            limit: Some(2),
            ..TraceFilter::default()
        };
        assert_eq!(ids(limited), [3, 2]);
        assert_eq!(
            store.operations(),
            ["DB.Query", "GET /error", "GET /slow", "GET /work"]
        );
    }
}
