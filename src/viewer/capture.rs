//! The process' own spans into the store: the reporter's batcher turns each
//! finished span into a [`SpanRecord`], with the same limits as on the wire.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::model::{Baggage, Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue};
use super::store::TraceStore;
use crate::ids::trace_id_u128;
use crate::limits::{count_value, truncate, DROPPED_LOGS_TAG};
use crate::record::{micros_between, Record, TagRef};
use crate::reporter::thrift::wire::DEBUG_ID_TAG;
use crate::reporter::SpanConsumer;

/// Feeds a [`TraceStore`] with the spans a reporter receives.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    store: Arc<TraceStore>,
    service: String,
    max_str_len: usize,
    max_logs: usize,
}

impl Capture {
    /// Records spans of `service` into `store`, string values cut to
    /// `max_str_len` bytes (at least 1) and at most `max_logs` logs kept.
    pub(crate) fn new(
        store: Arc<TraceStore>,
        service: &str,
        max_str_len: usize,
        max_logs: usize,
    ) -> Self {
        Capture {
            store,
            service: service.to_owned(),
            max_str_len: max_str_len.max(1),
            max_logs,
        }
    }

    /// `span` as the viewer keeps it.
    pub(crate) fn to_record(&self, span: &Record) -> SpanRecord {
        let cut = |s: &str| truncate(s, self.max_str_len).into_owned();
        let trace_id = trace_id_u128(span.trace_id());

        let (kept, dropped) = span.logs().kept(self.max_logs);
        let mut dropped = dropped + span.dropped_logs();
        // One tag counts the logs left out, those the span counted too.
        let tagged = match dropped {
            0 => None,
            _ => span.tagged_dropped_logs(),
        };
        dropped += tagged.unwrap_or(0);

        let mut tags: Vec<Tag> = Vec::with_capacity(span.tag_count());
        span.for_each_tag(|key, value| {
            if tagged.is_some() && key == DROPPED_LOGS_TAG {
                return;
            }
            tags.push(Tag {
                key: key.to_owned(),
                value: match value {
                    TagRef::Str(s) => TagValue::String(cut(s)),
                    TagRef::Bool(b) => TagValue::Bool(b),
                    TagRef::Long(i) => TagValue::Long(i),
                    TagRef::Double(f) => TagValue::Double(f),
                },
            });
        });
        if let Some(debug_id) = span.debug_id() {
            tags.push(string_tag(DEBUG_ID_TAG, cut(debug_id)));
        }
        if dropped > 0 {
            tags.push(Tag {
                key: DROPPED_LOGS_TAG.to_owned(),
                value: TagValue::Long(count_value(dropped)),
            });
        }
        let logs = kept
            .iter()
            .map(|log| Log {
                timestamp_us: micros_between(UNIX_EPOCH, log.time()),
                fields: log
                    .fields()
                    .iter()
                    .map(|field| string_tag(field.name(), cut(field.value())))
                    .collect(),
            })
            .collect();
        // As on the wire: references to unsampled spans are not reported.
        let mut references = Vec::with_capacity(span.reference_count());
        span.for_each_reference(|r| {
            references.push(Reference {
                kind: if r.child_of {
                    ReferenceKind::ChildOf
                } else {
                    ReferenceKind::FollowsFrom
                },
                trace_id: trace_id_u128(r.trace_id),
                span_id: r.span_id,
            });
        });
        let mut baggage = Vec::new();
        span.for_each_baggage_item(|key, value| {
            baggage.push(Baggage {
                key: key.to_owned(),
                value: cut(value),
            });
        });
        SpanRecord {
            trace_id,
            span_id: span.span_id(),
            parent_span_id: Some(span.parent_span_id()).filter(|id| *id != 0),
            references,
            service: self.service.clone(),
            operation: cut(span.operation_name()),
            start_us: micros_between(UNIX_EPOCH, span.start_time()),
            duration_us: micros_between(span.start_time(), span.finish_time()),
            error: SpanRecord::is_error(&tags),
            tags,
            logs,
            baggage,
        }
    }
}

impl SpanConsumer for Capture {
    /// Stores `span`.
    fn consume(&self, span: &Record) {
        self.store.insert(self.to_record(span));
    }
}

fn string_tag(key: &str, value: String) -> Tag {
    Tag {
        key: key.to_owned(),
        value: TagValue::String(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::TRUNCATION_MARKER;
    use rustracing::sampler::AllSampler;
    use rustracing_jaeger::span::SpanContext;
    use rustracing_jaeger::Tracer;

    fn capture(max_str_len: usize, max_logs: usize) -> Capture {
        Capture::new(Arc::new(TraceStore::new(10)), "svc", max_str_len, max_logs)
    }

    /// Spans finished by `build`, in finishing order.
    fn finished(build: impl FnOnce(&Tracer)) -> Vec<Record<'static>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let tracer = Tracer::with_sender(AllSampler, tx);
        build(&tracer);
        rx.try_iter().map(Record::Span).collect()
    }

    #[test]
    fn a_span_keeps_ids_parent_tags_logs_references_and_baggage() {
        let spans = finished(|tracer| {
            let mut parent = tracer.span("parent").start();
            parent.set_baggage_item(|| rustracing::span::BaggageItem::new("user", "alice"));
            let mut child = tracer
                .span("child")
                .child_of(&parent)
                .tag(rustracing::tag::Tag::new("error", true))
                .tag(rustracing::tag::Tag::new("http.status_code", 500i64))
                .tag(rustracing::tag::Tag::new("ratio", 0.5))
                .tag(rustracing::tag::Tag::new("peer", "db"))
                .start();
            child.log(|log| {
                log.std().event("retry");
            });
        });
        let capture = capture(4096, 128);
        let child = capture.to_record(&spans[0]);
        let parent = capture.to_record(&spans[1]);
        assert_eq!(child.trace_id, parent.trace_id);
        assert_ne!(child.trace_id, 0);
        assert_eq!(child.parent_span_id, Some(parent.span_id));
        assert_eq!(parent.parent_span_id, None);
        assert_eq!(
            child.references,
            [Reference {
                kind: ReferenceKind::ChildOf,
                trace_id: parent.trace_id,
                span_id: parent.span_id,
            }]
        );
        assert_eq!(
            (child.operation.as_str(), child.service.as_str()),
            ("child", "svc")
        );
        assert!(child.error && !parent.error);
        assert_eq!(child.tag("http.status_code"), Some(&TagValue::Long(500)));
        assert_eq!(child.tag("ratio"), Some(&TagValue::Double(0.5)));
        assert_eq!(child.tag("peer"), Some(&TagValue::String("db".into())));
        assert_eq!(child.logs.len(), 1);
        assert_eq!(child.logs[0].fields[0].key, "event");
        assert_eq!(
            child.logs[0].fields[0].value,
            TagValue::String("retry".into())
        );
        assert!(child.logs[0].timestamp_us >= child.start_us);
        // Baggage set on the parent before the child started is the child's too.
        let alice = [Baggage {
            key: "user".into(),
            value: "alice".into(),
        }];
        assert_eq!(parent.baggage, alice);
        assert_eq!(child.baggage, alice);
        assert!(child.start_us >= parent.start_us);
        assert!(child.duration_us >= 0 && parent.end_us() >= child.end_us());
    }

    #[test]
    fn a_follows_from_link_into_another_trace_is_no_parent() {
        let caller: SpanContext = {
            let spans = finished(|tracer| drop(tracer.span("caller").start()));
            spans[0].span().context().clone()
        };
        // A new trace linked to the caller's span, as an untrusted caller's
        // request starts one.
        let root = crate::propagation::TraceContext::new_root(true).to_state(None);
        let spans = finished(|tracer| {
            drop(
                tracer
                    .span("linked")
                    .follows_from(&caller)
                    .start_with_state(root),
            )
        });
        let linked = capture(4096, 128).to_record(&spans[0]);
        assert_eq!(
            linked.parent_span_id, None,
            "the link is another trace's span"
        );
        assert_eq!(linked.references.len(), 1);
        assert_eq!(linked.references[0].kind, ReferenceKind::FollowsFrom);
        assert_eq!(linked.references[0].span_id, caller.state().span_id());
        assert_ne!(linked.references[0].trace_id, linked.trace_id);
    }

    #[test]
    fn values_and_logs_are_limited_as_on_the_wire() {
        let spans = finished(|tracer| {
            let mut span = tracer
                .span("é".repeat(10))
                .tag(rustracing::tag::Tag::new("long", "x".repeat(100)))
                .tag(rustracing::tag::Tag::new("short", "ok"))
                .start();
            for i in 0..5 {
                span.log(|log| {
                    log.field(("n", i.to_string()));
                });
            }
        });
        let record = capture(5, 2).to_record(&spans[0]);
        // "é" is 2 bytes: 5 bytes cut to 4 on a character boundary.
        assert_eq!(record.operation, format!("éé{TRUNCATION_MARKER}"));
        assert_eq!(
            record.tag("long"),
            Some(&TagValue::String(format!("xxxxx{TRUNCATION_MARKER}")))
        );
        assert_eq!(record.tag("short"), Some(&TagValue::String("ok".into())));
        assert_eq!(record.logs.len(), 2);
        assert_eq!(record.tag(DROPPED_LOGS_TAG), Some(&TagValue::Long(3)));
    }

    #[test]
    fn recorded_spans_reach_the_store() {
        let spans = finished(|tracer| drop(tracer.span("stored").start()));
        let capture = capture(4096, 128);
        capture.consume(&spans[0]);
        let id = capture.to_record(&spans[0]).trace_id;
        let stored = capture.store.trace(id).expect("stored");
        assert_eq!(stored[0].operation, "stored");
    }
}
