//! The jaeger.thrift schema: a `Batch` and the structs in it (`Process`,
//! `Span`, `SpanRef`, `Tag`, `Log`) read with the [`Reader`] and mapped to
//! [`SpanRecord`]s, within the [limits](super::IngestLimits).

use super::reader::{Reader, Result, T_BOOL, T_DOUBLE, T_STRUCT};
use super::{count_dropped_logs, limited_hex, limited_text, UNKNOWN_SERVICE};
#[cfg(test)]
use crate::limits::{DROPPED_LOGS_TAG, TRUNCATION_MARKER};
use crate::viewer::model::{Log, Reference, ReferenceKind, SpanRecord, Tag, TagValue, TraceId};

pub(super) use crate::reporter::thrift::wire::TAG_STRING;
use crate::reporter::thrift::wire::{
    REF_CHILD_OF, REF_FOLLOWS_FROM, TAG_BINARY, TAG_BOOL, TAG_DOUBLE, TAG_LONG,
};

/// The 128-bit trace id of jaeger.thrift's two signed halves.
fn trace_id(high: i64, low: i64) -> TraceId {
    (u128::from(high as u64) << 64) | u128::from(low as u64)
}

/// The fields of a jaeger.thrift `Tag`, as read.
#[derive(Default)]
struct RawTag<'a> {
    key: &'a [u8],
    kind: Option<i32>,
    string: &'a [u8],
    double: f64,
    boolean: bool,
    long: i64,
    binary: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads the `Batch` struct.
    pub(super) fn batch(&mut self) -> Result<Vec<SpanRecord>> {
        let mut service = None;
        let mut spans = Vec::new();
        self.read_struct(|r, ty, id| match id {
            1 => {
                Self::expect("Batch.process", ty, T_STRUCT)?;
                service = r.process()?;
                Ok(())
            }
            2 => {
                spans.clear();
                r.read_list(ty, "Batch.spans", |r, _| {
                    spans.extend(r.span()?);
                    Ok(())
                })
            }
            _ => r.skip(ty),
        })?;
        // The process may come after the spans.
        let service = service
            .filter(|name: &String| !name.is_empty())
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
        for span in &mut spans {
            self.charge(service.len())?;
            span.service.clone_from(&service);
        }
        Ok(spans)
    }

    /// Reads a `Process` struct: its service name, if it has one.
    fn process(&mut self) -> Result<Option<String>> {
        let mut name = None;
        self.read_struct(|r, ty, id| match id {
            1 => {
                let bytes = r.read_bytes(ty, "Process.serviceName")?;
                name = Some(String::from_utf8_lossy(bytes).into_owned());
                Ok(())
            }
            2 => r.read_list(ty, "Process.tags", |r, _| r.skip(T_STRUCT)),
            _ => r.skip(ty),
        })?;
        Ok(name)
    }

    /// Reads a `Span` struct: `None` if its trace or span id is 0.
    fn span(&mut self) -> Result<Option<SpanRecord>> {
        let (mut low, mut high, mut span_id, mut parent) = (0, 0, 0, 0);
        let (mut start_us, mut duration_us) = (0, 0);
        let mut operation = String::new();
        let mut references = Vec::new();
        let mut tags = Vec::new();
        let mut logs = Vec::new();
        let mut dropped_logs = 0usize;
        let max_logs = self.limits.max_logs;
        self.read_struct(|r, ty, id| {
            match id {
                1 => low = r.read_i64(ty, "Span.traceIdLow")?,
                2 => high = r.read_i64(ty, "Span.traceIdHigh")?,
                3 => span_id = r.read_i64(ty, "Span.spanId")?,
                4 => parent = r.read_i64(ty, "Span.parentSpanId")?,
                5 => {
                    let bytes = r.read_bytes(ty, "Span.operationName")?;
                    operation = limited_text(bytes, r.limits.max_str_len);
                }
                6 => {
                    references.clear();
                    r.read_list(ty, "Span.references", |r, _| {
                        references.extend(r.reference()?);
                        Ok(())
                    })?;
                }
                7 => {
                    r.read_i32(ty, "Span.flags")?;
                }
                8 => start_us = r.read_i64(ty, "Span.startTime")?,
                9 => duration_us = r.read_i64(ty, "Span.duration")?,
                10 => {
                    tags.clear();
                    r.read_list(ty, "Span.tags", |r, _| {
                        tags.extend(r.tag()?);
                        Ok(())
                    })?;
                }
                11 => {
                    logs.clear();
                    dropped_logs = 0;
                    r.read_list(ty, "Span.logs", |r, i| {
                        if i < max_logs {
                            logs.push(r.log()?);
                        } else {
                            r.skip(T_STRUCT)?;
                            dropped_logs += 1;
                        }
                        Ok(())
                    })?;
                }
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;

        let trace_id = trace_id(high, low);
        let span_id = span_id as u64;
        if trace_id == 0 || span_id == 0 {
            return Ok(None);
        }
        if let Some(added) = count_dropped_logs(&mut tags, dropped_logs) {
            self.charge(added)?;
        }
        let parent_span_id = match parent as u64 {
            0 => references
                .iter()
                .find(|r: &&Reference| r.kind == ReferenceKind::ChildOf && r.trace_id == trace_id)
                .map(|r| r.span_id),
            parent => Some(parent),
        };
        self.charge(std::mem::size_of::<SpanRecord>() + operation.len())?;
        Ok(Some(SpanRecord {
            trace_id,
            span_id,
            parent_span_id,
            references,
            service: String::new(),
            operation,
            start_us,
            duration_us,
            error: SpanRecord::is_error(&tags),
            tags,
            logs,
            baggage: Vec::new(),
        }))
    }

    /// Reads a `SpanRef` struct: `None` if its type is unknown or an id 0.
    fn reference(&mut self) -> Result<Option<Reference>> {
        let (mut kind, mut low, mut high, mut span_id) = (None, 0, 0, 0);
        self.read_struct(|r, ty, id| {
            match id {
                1 => kind = Some(r.read_i32(ty, "SpanRef.refType")?),
                2 => low = r.read_i64(ty, "SpanRef.traceIdLow")?,
                3 => high = r.read_i64(ty, "SpanRef.traceIdHigh")?,
                4 => span_id = r.read_i64(ty, "SpanRef.spanId")?,
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;
        let kind = match kind {
            Some(REF_CHILD_OF) => ReferenceKind::ChildOf,
            Some(REF_FOLLOWS_FROM) => ReferenceKind::FollowsFrom,
            _ => return Ok(None),
        };
        let (trace_id, span_id) = (trace_id(high, low), span_id as u64);
        if trace_id == 0 || span_id == 0 {
            return Ok(None);
        }
        self.charge(std::mem::size_of::<Reference>())?;
        Ok(Some(Reference {
            kind,
            trace_id,
            span_id,
        }))
    }

    /// Reads a `Tag` struct (of a span or a log): `None` if its type is
    /// unknown.
    fn tag(&mut self) -> Result<Option<Tag>> {
        let mut raw = RawTag::default();
        self.read_struct(|r, ty, id| {
            match id {
                1 => raw.key = r.read_bytes(ty, "Tag.key")?,
                2 => raw.kind = Some(r.read_i32(ty, "Tag.vType")?),
                3 => raw.string = r.read_bytes(ty, "Tag.vStr")?,
                4 => {
                    Self::expect("Tag.vDouble", ty, T_DOUBLE)?;
                    raw.double = f64::from_be_bytes(r.array()?);
                }
                5 => {
                    Self::expect("Tag.vBool", ty, T_BOOL)?;
                    raw.boolean = r.byte()? != 0;
                }
                6 => raw.long = r.read_i64(ty, "Tag.vLong")?,
                7 => raw.binary = r.read_bytes(ty, "Tag.vBinary")?,
                _ => r.skip(ty)?,
            }
            Ok(())
        })?;
        let max = self.limits.max_str_len;
        let value = match raw.kind {
            Some(TAG_STRING) => TagValue::String(limited_text(raw.string, max)),
            Some(TAG_DOUBLE) => TagValue::Double(raw.double),
            Some(TAG_BOOL) => TagValue::Bool(raw.boolean),
            Some(TAG_LONG) => TagValue::Long(raw.long),
            Some(TAG_BINARY) => TagValue::String(limited_hex(raw.binary, max)),
            _ => return Ok(None),
        };
        let key = String::from_utf8_lossy(raw.key).into_owned();
        let value_len = match &value {
            TagValue::String(s) => s.len(),
            _ => 0,
        };
        self.charge(std::mem::size_of::<Tag>() + key.len() + value_len)?;
        Ok(Some(Tag { key, value }))
    }

    /// Reads a `Log` struct.
    fn log(&mut self) -> Result<Log> {
        let mut timestamp_us = 0;
        let mut fields = Vec::new();
        self.read_struct(|r, ty, id| match id {
            1 => {
                timestamp_us = r.read_i64(ty, "Log.timestamp")?;
                Ok(())
            }
            2 => {
                fields.clear();
                r.read_list(ty, "Log.fields", |r, _| {
                    fields.extend(r.tag()?);
                    Ok(())
                })
            }
            _ => r.skip(ty),
        })?;
        self.charge(std::mem::size_of::<Log>())?;
        Ok(Log {
            timestamp_us,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::reporter::thrift::testing::finish;
    use crate::reporter::thrift::Trim;
    use crate::viewer::ingest::reader::{T_I32, T_I64, T_LIST, T_STOP, T_STRING};
    use crate::viewer::ingest::testing::{
        body, body_within, check_within, decode_one, mutate, one_span, round_trip_spans, string,
        tag, valid_body, LIMITS, NO_LIMITS, TIGHT, W,
    };
    use crate::viewer::ingest::{decode_batch, IngestError, IngestLimits, MAX_DECODED_BYTES};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use rustracing::tag::Tag as OtTag;

    // ---------------------------------------------------------------
    // Round trip through our own reporter's encoder.

    #[test]
    fn reporter_bodies_round_trip() {
        let (spans, expected) = round_trip_spans();
        let decoded = decode_batch(&body("client", &spans), LIMITS).unwrap();
        assert_eq!(decoded, expected);
        check_within(&decoded, LIMITS);
    }

    #[test]
    fn the_service_comes_from_the_process_and_defaults_to_unknown() {
        let spans = round_trip_spans().0;
        let decoded = decode_batch(&body("", &spans[1..2]), LIMITS).unwrap();
        assert_eq!(decoded[0].service, "unknown");

        // No process at all, and the process after the spans.
        let mut w = W::default();
        w.field(T_LIST, 2).list(T_STRUCT, 1).span(1, 2).stop();
        assert_eq!(decode_one(&w.done(), LIMITS).service, "unknown");
        let mut w = W::default();
        w.field(T_LIST, 2).list(T_STRUCT, 1).span(1, 2);
        w.field(T_STRUCT, 1).field(T_STRING, 1).str("late").stop();
        assert_eq!(decode_one(&w.stop().done(), LIMITS).service, "late");
    }

    #[test]
    fn an_empty_batch_has_no_spans() {
        let body = body("client", &[]);
        assert_eq!(decode_batch(&body, LIMITS), Ok(Vec::new()));
        // A batch without its spans field.
        assert_eq!(decode_batch(&[T_STOP], LIMITS), Ok(Vec::new()));
    }

    // ---------------------------------------------------------------
    // Mapping details, from hand-written bodies.

    #[test]
    fn binary_tags_become_hex_and_unknown_tag_types_are_left_out() {
        let body = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 4);
            w.field(T_STRING, 1)
                .str("bin")
                .field(T_I32, 2)
                .i32(TAG_BINARY);
            w.field(T_STRING, 7).bytes(&[0x00, 0xAB, 0x7F]).stop();
            w.field(T_STRING, 1).str("odd").field(T_I32, 2).i32(5);
            w.field(T_STRING, 3).str("x").stop();
            // vType after the value; no vType at all.
            w.field(T_STRING, 3).str("late").field(T_STRING, 1).str("k");
            w.field(T_I32, 2).i32(TAG_STRING).stop();
            w.field(T_STRING, 1).str("typeless").stop();
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(
            span.tags,
            [string("bin", "00ab7f"), string("k", "late")],
            "{span:?}"
        );
        // Hex is cut like any string value.
        let long = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 1);
            w.field(T_STRING, 1)
                .str("bin")
                .field(T_I32, 2)
                .i32(TAG_BINARY);
            w.field(T_STRING, 7).bytes(&[0, 1, 2, 3, 4, 5, 6, 7]).stop();
        });
        let limits = IngestLimits {
            max_str_len: 5,
            max_logs: 1,
        };
        let expected = format!("00010{TRUNCATION_MARKER}");
        assert_eq!(decode_one(&long, limits).tags, [string("bin", &expected)]);
        let limits = IngestLimits {
            max_str_len: 16,
            max_logs: 1,
        };
        let whole = "0001020304050607";
        assert_eq!(decode_one(&long, limits).tags, [string("bin", whole)]);
    }

    #[test]
    fn references_of_unknown_type_or_to_nothing_are_left_out() {
        let body = one_span(|w| {
            w.field(T_LIST, 6).list(T_STRUCT, 4);
            for (kind, span_id) in [(2, 7), (REF_FOLLOWS_FROM, 0), (REF_CHILD_OF, 9)] {
                w.field(T_I32, 1).i32(kind).field(T_I64, 2).i64(1);
                w.field(T_I64, 3).i64(0).field(T_I64, 4).i64(span_id).stop();
            }
            // No type.
            w.field(T_I64, 2).i64(1).field(T_I64, 4).i64(5).stop();
        });
        let span = decode_one(&body, LIMITS);
        let child_of = Reference {
            kind: ReferenceKind::ChildOf,
            trace_id: 1,
            span_id: 9,
        };
        assert_eq!(span.references, [child_of]);
        // Without parentSpanId, the child_of reference in the trace is the
        // parent.
        assert_eq!(span.parent_span_id, Some(9));
    }

    #[test]
    fn the_parent_is_never_a_reference_into_another_trace_or_a_follows_from() {
        let body = one_span(|w| {
            w.field(T_I64, 4).i64(0);
            w.field(T_LIST, 6).list(T_STRUCT, 2);
            w.field(T_I32, 1).i32(REF_CHILD_OF).field(T_I64, 2).i64(99);
            w.field(T_I64, 4).i64(5).stop();
            w.field(T_I32, 1)
                .i32(REF_FOLLOWS_FROM)
                .field(T_I64, 2)
                .i64(1);
            w.field(T_I64, 4).i64(6).stop();
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.references.len(), 2);
        assert_eq!(span.parent_span_id, None);
    }

    #[test]
    fn spans_with_a_zero_id_are_left_out() {
        let mut w = W::default();
        w.batch_head(4).span(0, 2).span(1, 0).span(1, 2);
        w.stop(); // a span without any field
        let spans = decode_batch(&w.stop().done(), LIMITS).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].trace_id, spans[0].span_id), (1, 2));
        // A high half alone is a trace id.
        let body = one_span(|w| {
            w.field(T_I64, 1).i64(0).field(T_I64, 2).i64(-1);
        });
        assert_eq!(
            decode_one(&body, LIMITS).trace_id,
            u128::from(u64::MAX) << 64
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let body = one_span(|w| {
            w.field(T_STRING, 5).bytes(b"op\xFF");
            w.field(T_LIST, 10)
                .list(T_STRUCT, 1)
                .string_tag(b"k\xC3", b"v\xE2\x82");
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.operation, "op\u{FFFD}");
        assert_eq!(span.tags, [string("k\u{FFFD}", "v\u{FFFD}")]);

        // Cut after the replacement, on a char boundary: the 3 bytes of
        // U+FFFD do not fit in 4 bytes after "ab".
        let body = one_span(|w| {
            w.field(T_STRING, 5).bytes(b"ab\xFFcd");
        });
        let limits = IngestLimits {
            max_str_len: 4,
            max_logs: 1,
        };
        let span = decode_one(&body, limits);
        assert_eq!(span.operation, format!("ab{TRUNCATION_MARKER}"));
        let limits = IngestLimits {
            max_str_len: 5,
            max_logs: 1,
        };
        let span = decode_one(&body, limits);
        assert_eq!(span.operation, format!("ab\u{FFFD}{TRUNCATION_MARKER}"));
    }

    #[test]
    fn later_fields_replace_earlier_ones() {
        let body = one_span(|w| {
            w.field(T_STRING, 5)
                .str("first")
                .field(T_STRING, 5)
                .str("second");
            w.field(T_LIST, 10).list(T_STRUCT, 1).string_tag(b"a", b"1");
            w.field(T_LIST, 10).list(T_STRUCT, 1).string_tag(b"b", b"2");
        });
        let span = decode_one(&body, LIMITS);
        assert_eq!(span.operation, "second");
        assert_eq!(span.tags, [string("b", "2")]);
    }

    // ---------------------------------------------------------------
    // Limits.

    fn logged(logs: usize) -> Record<'static> {
        finish(|tracer| {
            let mut span = tracer
                .span("operation") // 9 bytes: cut
                .tag(OtTag::new("exact", "12345678"))
                .tag(OtTag::new("over", "123456789"))
                // 'é' is two bytes: cut on a char boundary, at 8 bytes.
                .tag(OtTag::new("wide", "ééééé"))
                .tag(OtTag::new("number", 1_234_567_890_123i64))
                .start();
            for _ in 0..logs {
                span.log(|log| {
                    log.field(("message", "abcdefghij"));
                });
            }
            span
        })
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let limits = IngestLimits {
            max_str_len: 8,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(2)]), limits);
        let cut = |kept: &str| format!("{kept}{TRUNCATION_MARKER}");
        assert_eq!(span.operation, cut("operatio"));
        assert_eq!(
            span.tags,
            [
                string("exact", "12345678"),
                tag("number", TagValue::Long(1_234_567_890_123)),
                string("over", &cut("12345678")),
                string("wide", &cut("éééé")),
            ]
        );
        assert_eq!(span.logs.len(), 2);
        assert_eq!(span.logs[0].fields, [string("message", &cut("abcdefgh"))]);
        // The service name and keys are not cut.
        let long_key = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, 1);
            w.string_tag(b"a.long.key", b"v");
        });
        let span = decode_one(&long_key, limits);
        assert_eq!(span.tags, [string("a.long.key", "v")]);
        // A limit of 0 is 1, like the reporter's.
        let zero = IngestLimits {
            max_str_len: 0,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(0)]), zero);
        assert_eq!(span.operation, cut("o"));
    }

    #[test]
    fn logs_over_the_limit_are_dropped_and_counted() {
        let limits = IngestLimits {
            max_str_len: 8,
            max_logs: 2,
        };
        let span = decode_one(&body("svc", &[logged(5)]), limits);
        assert_eq!(span.logs.len(), 2);
        assert_eq!(span.tags.len(), 5);
        assert_eq!(span.tags[4], tag(DROPPED_LOGS_TAG, TagValue::Long(3)));
        // Within the limit: no count.
        let span = decode_one(&body("svc", &[logged(2)]), limits);
        assert!(span.tag(DROPPED_LOGS_TAG).is_none());
        // No logs at all.
        let none = IngestLimits {
            max_str_len: 8,
            max_logs: 0,
        };
        let span = decode_one(&body("svc", &[logged(1)]), none);
        assert!(span.logs.is_empty());
        assert_eq!(span.tag(DROPPED_LOGS_TAG), Some(&TagValue::Long(1)));
    }

    #[test]
    fn logs_the_sender_dropped_are_added_to() {
        // The sending reporter kept 2 logs of 5; we keep 1 of those.
        let reported = body_within("svc", &[logged(5)], Trim::limits(4096, 2));
        let limits = IngestLimits {
            max_str_len: 4096,
            max_logs: 1,
        };
        let span = decode_one(&reported, limits);
        assert_eq!(span.logs.len(), 1);
        let counts: Vec<_> = span
            .tags
            .iter()
            .filter(|t| t.key == DROPPED_LOGS_TAG)
            .collect();
        assert_eq!(counts, [&tag(DROPPED_LOGS_TAG, TagValue::Long(4))]);
    }

    #[test]
    fn limits_cut_as_the_reporter_does() {
        // What the reporter sends within limits is what we make of what it
        // sends without: the same cuts, the same dropped-logs tag.
        let mut spans = round_trip_spans().0;
        spans.extend([logged(0), logged(1), logged(3)]);
        for (max_str_len, max_logs) in [(1, 0), (3, 1), (8, 2), (13, 5)] {
            let limits = IngestLimits {
                max_str_len,
                max_logs,
            };
            let trimmed = body_within("svc", &spans, Trim::limits(max_str_len, max_logs));
            let expected = decode_batch(&trimmed, NO_LIMITS).unwrap();
            let decoded = decode_batch(&body("svc", &spans), limits).unwrap();
            assert_eq!(decoded, expected, "{limits:?}");
            check_within(&decoded, limits);
        }
    }

    #[test]
    fn the_decoded_size_is_bounded() {
        // A long service name is copied into every span.
        let name = "s".repeat(64 * 1024);
        let mut w = W::default();
        w.field(T_STRUCT, 1).field(T_STRING, 1).str(&name).stop();
        w.field(T_LIST, 2).list(T_STRUCT, 1000);
        for id in 1..=1000 {
            w.span(1, id);
        }
        let body = w.stop().done();
        assert!(body.len() < 128 * 1024);
        assert_eq!(
            decode_batch(&body, LIMITS),
            Err(IngestError::TooLargeDecoded)
        );
        // A hundred such spans fit.
        let mut w = W::default();
        w.field(T_STRUCT, 1).field(T_STRING, 1).str(&name).stop();
        w.field(T_LIST, 2).list(T_STRUCT, 100);
        for id in 1..=100 {
            w.span(1, id);
        }
        assert_eq!(decode_batch(&w.stop().done(), LIMITS).unwrap().len(), 100);

        // Empty tags, 15 bytes each, take more than that decoded.
        let tags = MAX_DECODED_BYTES / std::mem::size_of::<Tag>() + 1;
        let body = one_span(|w| {
            w.field(T_LIST, 10).list(T_STRUCT, tags as i32);
            for _ in 0..tags {
                w.field(T_STRING, 1)
                    .str("")
                    .field(T_I32, 2)
                    .i32(TAG_LONG)
                    .stop();
            }
        });
        assert_eq!(
            decode_batch(&body, LIMITS),
            Err(IngestError::TooLargeDecoded)
        );
    }

    // ---------------------------------------------------------------
    // Properties.

    proptest! {
        #[test]
        fn tight_limits_only_cut_and_drop(
            edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 0..4),
        ) {
            // Whatever decodes without limits decodes within them, the same
            // spans with values cut and logs dropped.
            let mut body = valid_body().to_vec();
            mutate(&mut body, &edits);
            if let Ok(full) = decode_batch(&body, NO_LIMITS) {
                let tight = decode_batch(&body, TIGHT).unwrap();
                prop_assert_eq!(full.len(), tight.len());
                for (full, tight) in full.iter().zip(&tight) {
                    prop_assert_eq!(
                        (full.trace_id, full.span_id, full.parent_span_id),
                        (tight.trace_id, tight.span_id, tight.parent_span_id)
                    );
                    prop_assert_eq!(&full.references, &tight.references);
                    prop_assert_eq!(
                        limited_text(full.operation.as_bytes(), TIGHT.max_str_len),
                        tight.operation.clone()
                    );
                    prop_assert_eq!(
                        full.logs.len().min(TIGHT.max_logs),
                        tight.logs.len()
                    );
                    check_within(std::slice::from_ref(tight), TIGHT);
                }
            }
        }
    }
}
