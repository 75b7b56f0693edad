//! Finished spans for the tests of the encoders and of their consumers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustracing::sampler::AllSampler;
use rustracing::tag::Tag;
use rustracing_jaeger::span::{SpanContext, SpanContextState, SpanContextStateBuilder, TraceId};
use rustracing_jaeger::Tracer;

use crate::record::{Record, RequestRecord};

pub(crate) const T0_SECS: u64 = 1_700_000_000;

pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0_SECS)
}

pub(crate) fn state(high: u64, low: u64, span_id: u64) -> SpanContextState {
    SpanContextStateBuilder::new()
        .trace_id(TraceId { high, low })
        .span_id(span_id)
        .finish()
}

/// Finishes the span built by `build` and returns it.
pub(crate) fn finish<F>(build: F) -> Record<'static>
where
    F: FnOnce(&Tracer) -> rustracing_jaeger::Span,
{
    let (tx, rx) = crossbeam_channel::unbounded();
    let tracer = Tracer::with_sender(AllSampler, tx);
    drop(build(&tracer));
    Record::Span(rx.try_recv().expect("a finished span"))
}

/// A span using every feature: 128-bit trace id, tags of each type,
/// logs, child-of and follows-from references, a debug id.
pub(crate) fn full_span() -> Record<'static> {
    // The parent is in the span's trace; the cause, in another one.
    let parent = SpanContext::new(state(0x8000_0000_0000_0001, u64::MAX, 0x1111), Vec::new());
    let cause = SpanContext::new(state(0xCCCC, 0xDDDD, 0x2222), Vec::new());
    let own = SpanContextStateBuilder::new()
        .trace_id(TraceId {
            high: 0x8000_0000_0000_0001,
            low: u64::MAX,
        })
        .span_id(0xDEAD_BEEF_0000_0001)
        .debug_id("dbg-42".to_owned())
        .finish();
    finish(|tracer| {
        let mut span = tracer
            .span("GET /hello/<name>")
            .child_of(&parent)
            .follows_from(&cause)
            .start_time(t0())
            .tag(Tag::new("a.str", "value"))
            .tag(Tag::new("b.bool", true))
            .tag(Tag::new("c.bool", false))
            .tag(Tag::new("d.long", -42i64))
            .tag(Tag::new("e.double", 2.5f64))
            .start_with_state(own);
        span.log(|log| {
            log.field(("event", "start"))
                .field(("message", "hello"))
                .time(t0() + Duration::from_micros(10));
        });
        span.log(|log| {
            log.field(("k", "v")).time(t0() + Duration::from_micros(20));
        });
        span.set_finish_time(|| t0() + Duration::from_micros(1234));
        span
    })
}

/// A request record as the fairing makes it: answered 404 (a `CONNECT`
/// request is left without an answer), from `peer` if given.
pub(crate) fn request_record(method: &'static str, peer: Option<&str>) -> Record<'static> {
    Record::Request(RequestRecord {
        trace_id: TraceId { high: 7, low: 8 },
        span_id: 9,
        parent_span_id: Some(10),
        flags: 1,
        operation_name: "GET /hello/<name>".into(),
        start: t0(),
        finish: t0() + Duration::from_micros(1234),
        method,
        url: "/hello/world?x=1",
        peer: peer.map(|peer| peer.parse().unwrap()),
        status: (method != "CONNECT").then_some(404),
    })
}
