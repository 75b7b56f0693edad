//! Reading a finished span the way every encoder reports it: times in
//! microseconds, the parent within the span's own trace, the references
//! that are reported.

use std::time::SystemTime;

use rustracing_jaeger::span::{FinishedSpan, SpanReference};

/// Signed number of microseconds from `start` to `finish`, like
/// rustracing_jaeger computes timestamps and durations.
pub(crate) fn micros_between(start: SystemTime, finish: SystemTime) -> i64 {
    fn micros(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
    }
    match finish.duration_since(start) {
        Ok(d) => micros(d),
        Err(e) => -micros(e.duration()),
    }
}

/// Whether a span reference is reported (rustracing_jaeger skips references
/// to unsampled spans).
pub(crate) fn is_reported(reference: &&SpanReference) -> bool {
    reference.span().is_sampled()
}

/// The parent span id reported for `span`: the span id of its first
/// (sampled) reference in the same trace, 0 for a root span. (A reference
/// to another trace is a link, not a parent: Jaeger would turn a parent id
/// into a child-of reference within the span's own trace.)
pub(crate) fn parent_span_id(span: &FinishedSpan) -> u64 {
    let trace_id = span.context().state().trace_id();
    span.references()
        .iter()
        .filter(is_reported)
        .find(|r| r.span().trace_id() == trace_id)
        .map_or(0, |r| r.span().span_id())
}
