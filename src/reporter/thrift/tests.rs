//! The encoders against an independent decoder (`thrift_codec`).

use super::protocol::{
    write_varint, zigzag_i32, zigzag_i64, Binary, Compact, Protocol, StructWriter,
};
use super::span::{encode_span, encode_span_within, RequestTagTemplates, TRIMMED_STRING_LEN};
use super::testing::*;
use super::wire::*;
use super::*;
use crate::limits::{DROPPED_LOGS_TAG, TRUNCATION_MARKER};
use crate::record::Record;

const WIRES: [Wire; 2] = [Wire::Agent, Wire::Collector];
use rustracing::tag::Tag;
use rustracing_jaeger::span::{SpanContext, SpanContextState};
use rustracing_jaeger::thrift::{agent, jaeger};
use std::time::Duration;
use thrift_codec::data::{Data, Elements, Field, List, Struct};
use thrift_codec::message::{Message, MessageKind};
use thrift_codec::{BinaryDecode, BinaryEncode, CompactDecode, CompactEncode};

/// The decoded form of [`full_span`] (in either protocol).
fn full_span_expected() -> Struct {
    let tag = |key: &str, kind: i32, id: i16, value: Data| {
        Struct::new(vec![
            Field::new(1, key),
            Field::new(2, kind),
            Field::new(id, value),
        ])
    };
    let span_ref = |kind: i32, high: i64, low: i64, id: i64| {
        Struct::new(vec![
            Field::new(1, kind),
            Field::new(2, low),
            Field::new(3, high),
            Field::new(4, id),
        ])
    };
    let log = |micros: i64, fields: Vec<Struct>| {
        Struct::new(vec![
            Field::new(1, T0_SECS as i64 * 1_000_000 + micros),
            Field::new(2, List::from(fields)),
        ])
    };
    Struct::new(vec![
        Field::new(1, -1i64), // u64::MAX as i64
        Field::new(2, 0x8000_0000_0000_0001u64 as i64),
        Field::new(3, 0xDEAD_BEEF_0000_0001u64 as i64),
        Field::new(4, 0x1111i64),
        Field::new(5, "GET /hello/<name>"),
        Field::new(
            6,
            List::from(vec![
                span_ref(REF_CHILD_OF, 0x8000_0000_0000_0001u64 as i64, -1, 0x1111),
                span_ref(REF_FOLLOWS_FROM, 0xCCCC, 0xDDDD, 0x2222),
            ]),
        ),
        Field::new(7, 3i32), // sampled | debug
        Field::new(8, T0_SECS as i64 * 1_000_000),
        Field::new(9, 1234i64),
        Field::new(
            10,
            List::from(vec![
                tag("a.str", TAG_STRING, 3, Data::from("value")),
                tag("b.bool", TAG_BOOL, 5, Data::from(true)),
                tag("c.bool", TAG_BOOL, 5, Data::from(false)),
                tag("d.long", TAG_LONG, 6, Data::from(-42i64)),
                tag("e.double", TAG_DOUBLE, 4, Data::from(2.5f64)),
                tag("jaeger-debug-id", TAG_STRING, 3, Data::from("dbg-42")),
            ]),
        ),
        Field::new(
            11,
            List::from(vec![
                log(
                    10,
                    vec![string_tag("event", "start"), string_tag("message", "hello")],
                ),
                log(20, vec![string_tag("k", "v")]),
            ]),
        ),
    ])
}

fn simple_span(name: &'static str) -> Record<'static> {
    finish(|tracer| {
        let mut span = tracer
            .span(name)
            .start_time(t0())
            .tag(Tag::new("k", "v"))
            .start();
        span.set_finish_time(|| t0() + Duration::from_millis(1));
        span
    })
}

fn string_tag(key: &str, value: &str) -> Struct {
    Struct::new(vec![
        Field::new(1, key),
        Field::new(2, TAG_STRING),
        Field::new(3, value),
    ])
}

/// Encodes `spans` into one batch for `wire` (panics if they do not fit).
fn encode_batch(
    wire: Wire,
    service: &str,
    process_tags: &[(&str, &str)],
    spans: &[Record],
) -> Vec<u8> {
    let mut batch = Batch::new(wire, service, process_tags, 65_000);
    let mut buf = Vec::new();
    for span in spans {
        assert_eq!(batch.encode(&mut buf, span), Fit::Whole);
        assert!(batch.fits(buf.len()));
        batch.push(&buf);
    }
    assert_eq!(batch.span_count(), spans.len());
    batch.finish().to_vec()
}

/// Encodes `spans` into one agent datagram (panics if they do not fit).
fn datagram(service: &str, process_tags: &[(&str, &str)], spans: &[Record]) -> Vec<u8> {
    encode_batch(Wire::Agent, service, process_tags, spans)
}

/// `encode_span_within` in the protocol of `wire`.
fn encode_within(wire: Wire, buf: &mut Vec<u8>, span: &Record, max_len: usize) -> Fit {
    match wire {
        Wire::Agent => {
            let templates = RequestTagTemplates::new::<Compact>();
            encode_span_within::<Compact>(buf, span, max_len, Trim::NONE, &templates)
        }
        Wire::Collector => {
            let templates = RequestTagTemplates::new::<Binary>();
            encode_span_within::<Binary>(buf, span, max_len, Trim::NONE, &templates)
        }
    }
}

/// `encode_span` (untrimmed) in the protocol of `wire`.
fn encode_whole(wire: Wire, buf: &mut Vec<u8>, span: &Record) {
    match wire {
        Wire::Agent => encode_span::<Compact>(buf, span, Trim::NONE),
        Wire::Collector => encode_span::<Binary>(buf, span, Trim::NONE),
    }
}

/// Decodes a whole compact `emitBatch` message.
fn decode(bytes: &[u8]) -> Message {
    let mut reader = bytes;
    let message = Message::compact_decode(&mut reader).expect("a valid message");
    assert!(reader.is_empty(), "{} trailing bytes", reader.len());
    message
}

/// Decodes a whole binary struct (a collector body or one span).
fn decode_binary(bytes: &[u8]) -> Struct {
    let mut reader = bytes;
    let decoded = Struct::binary_decode(&mut reader).expect("a valid binary struct");
    assert!(reader.is_empty(), "{} trailing bytes", reader.len());
    decoded
}

/// Decodes one span struct encoded for `wire`.
fn decode_span(wire: Wire, bytes: &[u8]) -> Struct {
    match wire {
        Wire::Agent => {
            let mut reader = bytes;
            let decoded = Struct::compact_decode(&mut reader).expect("a valid span");
            assert!(reader.is_empty(), "{} trailing bytes", reader.len());
            decoded
        }
        Wire::Collector => decode_binary(bytes),
    }
}

/// The `(process, spans)` of a finished batch for `wire`.
fn decode_batch(wire: Wire, bytes: &[u8]) -> (Struct, Vec<Struct>) {
    match wire {
        Wire::Agent => {
            let message = decode(bytes);
            let (process, spans) = batch(&message);
            (process.clone(), spans.to_vec())
        }
        Wire::Collector => {
            let body = decode_binary(bytes);
            let (process, spans) = collector_batch(&body);
            (process.clone(), spans.to_vec())
        }
    }
}

fn field(s: &Struct, id: i16) -> &Data {
    s.fields()
        .iter()
        .find(|f| f.id() == id)
        .map(Field::data)
        .unwrap_or_else(|| panic!("no field {id} in {s:?}"))
}

fn structs(data: &Data) -> &[Struct] {
    match data {
        Data::List(list) => match &**list {
            Elements::Struct(v) => v,
            other => panic!("not a list of structs: {other:?}"),
        },
        other => panic!("not a list: {other:?}"),
    }
}

fn struct_of(data: &Data) -> &Struct {
    match data {
        Data::Struct(s) => s,
        other => panic!("not a struct: {other:?}"),
    }
}

/// The `(process, spans)` of a decoded `emitBatch` message.
fn batch(message: &Message) -> (&Struct, &[Struct]) {
    assert_eq!(message.method_name(), "emitBatch");
    assert_eq!(message.kind(), MessageKind::Oneway);
    assert_eq!(message.sequence_id(), 0);
    assert_eq!(message.body().fields().len(), 1);
    let batch = struct_of(field(message.body(), 1));
    collector_batch(batch)
}

/// The `(process, spans)` of a decoded `Batch` struct.
fn collector_batch(batch: &Struct) -> (&Struct, &[Struct]) {
    let ids: Vec<i16> = batch.fields().iter().map(Field::id).collect();
    assert_eq!(ids, [1, 2]);
    (struct_of(field(batch, 1)), structs(field(batch, 2)))
}

/// The jaeger.thrift batch rustracing_jaeger makes for `spans`.
fn reference_batch(service: &str, tags: &[(&str, &str)], spans: &[Record]) -> jaeger::Batch {
    let process = jaeger::Process {
        service_name: service.to_owned(),
        tags: tags
            .iter()
            .map(|(k, v)| jaeger::Tag::String {
                key: (*k).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
    };
    jaeger::Batch {
        process,
        spans: spans
            .iter()
            .map(|span| jaeger::Span::from(span.span()))
            .collect(),
    }
}

/// The datagram rustracing_jaeger (thrift_codec) encodes for `spans`.
fn reference_datagram(service: &str, tags: &[(&str, &str)], spans: &[Record]) -> Vec<u8> {
    let batch = reference_batch(service, tags, spans);
    let message = Message::from(agent::EmitBatchNotification { batch });
    let mut bytes = Vec::new();
    message.compact_encode(&mut bytes).unwrap();
    bytes
}

/// The collector body thrift_codec's binary encoder makes from
/// rustracing_jaeger's batch for `spans`.
fn reference_collector_body(service: &str, tags: &[(&str, &str)], spans: &[Record]) -> Vec<u8> {
    let batch = Struct::from(reference_batch(service, tags, spans));
    let mut bytes = Vec::new();
    batch.binary_encode(&mut bytes).unwrap();
    bytes
}

#[test]
fn varint_encoding() {
    let cases: &[(u64, &[u8])] = &[
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (300, &[0xAC, 0x02]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (
            u64::MAX,
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        ),
    ];
    for &(n, expected) in cases {
        let mut buf = Vec::new();
        write_varint(&mut buf, n);
        assert_eq!(buf, expected, "varint({n})");
    }
}

#[test]
fn zigzag_encoding() {
    assert_eq!(zigzag_i64(0), 0);
    assert_eq!(zigzag_i64(-1), 1);
    assert_eq!(zigzag_i64(1), 2);
    assert_eq!(zigzag_i64(-2), 3);
    assert_eq!(zigzag_i64(i64::MAX), u64::MAX - 1);
    assert_eq!(zigzag_i64(i64::MIN), u64::MAX);
    assert_eq!(zigzag_i32(0), 0);
    assert_eq!(zigzag_i32(-1), 1);
    assert_eq!(zigzag_i32(1), 2);
    assert_eq!(zigzag_i32(i32::MAX), u32::MAX - 1);
    assert_eq!(zigzag_i32(i32::MIN), u32::MAX);
}

#[test]
fn list_headers() {
    let cases: &[(usize, &[u8])] = &[
        (0, &[0x0C]),
        (1, &[0x1C]),
        (14, &[0xEC]),
        (15, &[0xFC, 0x0F]),
        (127, &[0xFC, 0x7F]),
        (128, &[0xFC, 0x80, 0x01]),
        (u32::MAX as usize, &[0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ];
    for &(len, expected) in cases {
        let mut buf = Vec::new();
        Compact::write_list_header(&mut buf, len, Compact::STRUCT);
        assert_eq!(buf, expected, "list header({len})");
    }
}

#[test]
fn binary_list_headers() {
    let cases: &[(usize, &[u8])] = &[
        (0, &[12, 0, 0, 0, 0]),
        (1, &[12, 0, 0, 0, 1]),
        (300, &[12, 0, 0, 0x01, 0x2C]),
        (i32::MAX as usize, &[12, 0x7F, 0xFF, 0xFF, 0xFF]),
        // Clamped: such a list cannot fit in a batch anyway.
        (u32::MAX as usize, &[12, 0x7F, 0xFF, 0xFF, 0xFF]),
    ];
    for &(len, expected) in cases {
        let mut buf = Vec::new();
        Binary::write_list_header(&mut buf, len, Binary::STRUCT);
        assert_eq!(buf, expected, "list header({len})");
    }
}

#[test]
fn field_header_long_form() {
    let mut buf = Vec::new();
    let mut w = StructWriter::<Compact>::new(&mut buf);
    w.i32(1, 7);
    w.i32(20, 7); // delta 19: long form
    w.i32(3, 7); // negative delta: long form
    w.end();
    assert_eq!(buf, [0x15, 14, 0x05, 40, 14, 0x05, 6, 14, 0x00]);
    let decoded = Struct::compact_decode(&mut &buf[..]).unwrap();
    assert_eq!(
        decoded,
        Struct::new(vec![
            Field::new(1, 7i32),
            Field::new(20, 7i32),
            Field::new(3, 7i32)
        ])
    );
}

#[test]
fn binary_struct_encoding() {
    let mut buf = Vec::new();
    let mut w = StructWriter::<Binary>::new(&mut buf);
    w.i32(1, -2);
    w.i64(20, 0x0102_0304_0506_0708);
    w.double(3, 2.5);
    w.bool(4, true);
    w.bool(5, false);
    w.string(6, "héllo", None);
    w.string(7, "abcdef", Some(2));
    w.list(8, 0, Binary::STRUCT);
    w.end();
    let mut expected: Vec<u8> = Vec::new();
    expected.extend([8, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE]);
    expected.extend([10, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8]);
    expected.extend([4, 0, 3, 0x40, 0x04, 0, 0, 0, 0, 0, 0]);
    expected.extend([2, 0, 4, 1]);
    expected.extend([2, 0, 5, 0]);
    expected.extend([11, 0, 6, 0, 0, 0, 6]);
    expected.extend("héllo".as_bytes());
    expected.extend([11, 0, 7, 0, 0, 0, 2 + TRUNCATION_MARKER.len() as u8]);
    expected.extend(b"ab");
    expected.extend(TRUNCATION_MARKER.as_bytes());
    expected.extend([15, 0, 8, 12, 0, 0, 0, 0]);
    expected.push(0);
    assert_eq!(buf, expected);
    let truncated = format!("ab{TRUNCATION_MARKER}");
    assert_eq!(
        decode_binary(&buf),
        Struct::new(vec![
            Field::new(1, -2i32),
            Field::new(20, 0x0102_0304_0506_0708i64),
            Field::new(3, 2.5f64),
            Field::new(4, true),
            Field::new(5, false),
            Field::new(6, "héllo"),
            Field::new(7, truncated.as_str()),
            Field::new(8, List::from(Vec::<Struct>::new())),
        ])
    );
}

#[test]
fn message_header_and_process() {
    let bytes = datagram("svc", &[("hostname", "h1"), ("jaeger.version", "v")], &[]);
    assert_eq!(&bytes[..2], [0x82, 0x81]);
    assert_eq!(bytes[2], 0); // sequence id
    assert_eq!(&bytes[3..13], b"\x09emitBatch");
    let message = decode(&bytes);
    let (process, spans) = batch(&message);
    assert!(spans.is_empty());
    assert_eq!(
        process,
        &Struct::new(vec![
            Field::new(1, "svc"),
            Field::new(
                2,
                List::from(vec![
                    string_tag("hostname", "h1"),
                    string_tag("jaeger.version", "v")
                ])
            ),
        ])
    );
    let without_tags = datagram("svc", &[], &[]);
    let message = decode(&without_tags);
    assert_eq!(batch(&message).0, &Struct::new(vec![Field::new(1, "svc")]));
}

#[test]
fn collector_body_is_a_bare_batch_with_the_process() {
    let tags = [("hostname", "h1"), ("ip", "10.0.0.1")];
    let bytes = encode_batch(Wire::Collector, "my-svc", &tags, &[]);
    // No message header: Batch.process (STRUCT, field 1) comes first.
    assert_eq!(&bytes[..3], [12, 0, 1]);
    // Process.serviceName (STRING, field 1).
    assert_eq!(&bytes[3..16], b"\x0b\x00\x01\x00\x00\x00\x06my-svc");
    let body = decode_binary(&bytes);
    let (process, spans) = collector_batch(&body);
    assert!(spans.is_empty());
    assert_eq!(
        process,
        &Struct::new(vec![
            Field::new(1, "my-svc"),
            Field::new(
                2,
                List::from(vec![
                    string_tag("hostname", "h1"),
                    string_tag("ip", "10.0.0.1")
                ])
            ),
        ])
    );

    let without_tags = encode_batch(Wire::Collector, "svc", &[], &[]);
    let body = decode_binary(&without_tags);
    assert_eq!(
        collector_batch(&body).0,
        &Struct::new(vec![Field::new(1, "svc")])
    );
}

#[test]
fn prefix_len_and_framing() {
    // Collector, no tags: process field header (3), service name field
    // (3 + 4 + 3), process STOP (1), spans field header (3).
    let mut collector = Batch::new(Wire::Collector, "svc", &[], 1_000);
    assert_eq!(collector.prefix_len(), 17);
    // Then a 5-byte list header and the Batch STOP.
    assert_eq!(collector.finish().len(), 17 + 5 + 1);
    assert_eq!(collector.max_span_len(), 1_000 - (17 + 5 + 1));

    // Agent: message header (2 + 1 + 1 + 9), emitBatch_args.batch and
    // Batch.process headers (2), service name (1 + 1 + 3), STOP (1),
    // spans field header (1).
    let mut agent = Batch::new(Wire::Agent, "svc", &[], 1_000);
    assert_eq!(agent.prefix_len(), 22);
    // Then a 1-byte list header and two STOPs.
    assert_eq!(agent.finish().len(), 22 + 1 + 2);
    assert_eq!(agent.max_span_len(), 1_000 - (22 + 1 + 2));

    let tags = [("hostname", "a-rather-long-host-name")];
    for wire in WIRES {
        let with_tags = Batch::new(wire, "svc", &tags, 1_000);
        let without = Batch::new(wire, "svc", &[], 1_000);
        assert!(with_tags.prefix_len() > without.prefix_len() + 23);
    }
}

#[test]
fn every_span_field_is_encoded() {
    let span = full_span();
    let bytes = datagram("svc", &[], &[span]);
    let message = decode(&bytes);
    let (_, spans) = batch(&message);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0], full_span_expected());
}

#[test]
fn every_span_field_is_encoded_for_the_collector() {
    let span = full_span();
    let bytes = encode_batch(Wire::Collector, "svc", &[("k", "v")], &[span]);
    let body = decode_binary(&bytes);
    let (process, spans) = collector_batch(&body);
    assert_eq!(field(process, 1), &Data::from("svc"));
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0], full_span_expected());
}

#[test]
fn root_span_omits_optional_fields() {
    let span = finish(|tracer| {
        let mut span = tracer
            .span("root")
            .start_time(t0())
            .start_with_state(state(0, 7, 8));
        span.set_finish_time(|| t0() - Duration::from_micros(5));
        span
    });
    let expected = Struct::new(vec![
        Field::new(1, 7i64),
        Field::new(2, 0i64),
        Field::new(3, 8i64),
        Field::new(4, 0i64),
        Field::new(5, "root"),
        Field::new(7, 1i32),
        Field::new(8, T0_SECS as i64 * 1_000_000),
        Field::new(9, -5i64),
    ]);
    for wire in WIRES {
        let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
        assert_eq!(
            decode_batch(wire, &bytes).1,
            std::slice::from_ref(&expected),
            "{wire:?}"
        );
    }
}

#[test]
fn unsampled_references_are_skipped() {
    let unsampled: SpanContextState = "1:5:0:0".parse().unwrap();
    let unsampled = SpanContext::new(unsampled, Vec::new());
    let sampled = SpanContext::new(state(0, 1, 6), Vec::new());
    let span = finish(|tracer| {
        tracer
            .span("child")
            .child_of(&unsampled)
            .follows_from(&sampled)
            .start()
    });
    assert_eq!(span.parent_span_id(), 6);
    for wire in WIRES {
        let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
        let encoded = &decode_batch(wire, &bytes).1[0];
        assert_eq!(field(encoded, 4), &Data::I64(6));
        let refs = structs(field(encoded, 6));
        assert_eq!(refs.len(), 1);
        assert_eq!(field(&refs[0], 1), &Data::I32(REF_FOLLOWS_FROM));
        assert_eq!(field(&refs[0], 4), &Data::I64(6));
    }
}

#[test]
fn matches_rustracing_jaeger_byte_for_byte() {
    let mut spans = vec![full_span()];
    for _ in 0..20 {
        spans.push(simple_span("simple"));
    }
    let tags = [("hostname", "host"), ("jaeger.version", "x-1")];
    assert_eq!(
        datagram("svc", &tags, &spans),
        reference_datagram("svc", &tags, &spans)
    );
    assert_eq!(
        datagram("svc", &[], &spans[..3]),
        reference_datagram("svc", &[], &spans[..3])
    );
}

#[test]
fn collector_matches_thrift_codec_binary_byte_for_byte() {
    let mut spans = vec![full_span()];
    for _ in 0..20 {
        spans.push(simple_span("simple"));
    }
    let tags = [("hostname", "host"), ("jaeger.version", "x-1")];
    assert_eq!(
        encode_batch(Wire::Collector, "svc", &tags, &spans),
        reference_collector_body("svc", &tags, &spans)
    );
    assert_eq!(
        encode_batch(Wire::Collector, "svc", &[], &spans[..3]),
        reference_collector_body("svc", &[], &spans[..3])
    );
    assert_eq!(
        encode_batch(Wire::Collector, "svc", &[], &[]),
        reference_collector_body("svc", &[], &[])
    );
}

#[test]
fn batch_holds_several_spans_in_order() {
    let spans = [
        simple_span("first"),
        full_span(),
        simple_span("third"),
        simple_span("fourth"),
    ];
    for wire in WIRES {
        let bytes = encode_batch(wire, "svc", &[("hostname", "h")], &spans);
        let (process, decoded) = decode_batch(wire, &bytes);
        assert_eq!(field(&process, 1), &Data::from("svc"), "{wire:?}");
        let names: Vec<&Data> = decoded.iter().map(|s| field(s, 5)).collect();
        assert_eq!(
            names,
            [
                &Data::from("first"),
                &Data::from("GET /hello/<name>"),
                &Data::from("third"),
                &Data::from("fourth")
            ],
            "{wire:?}"
        );
        assert_eq!(decoded[1], full_span_expected(), "{wire:?}");
        assert_eq!(field(&decoded[3], 9), &Data::I64(1_000), "{wire:?}");
    }
}

#[test]
fn datagram_is_filled_up_to_its_limit() {
    let span = full_span();
    let mut buf = Vec::new();
    encode_span::<Compact>(&mut buf, &span, Trim::NONE);
    let mut datagram = Batch::new(Wire::Agent, "svc", &[], 5_000);
    while datagram.fits(buf.len()) {
        datagram.push(&buf);
    }
    let count = datagram.span_count();
    assert!(count > 15, "{count} spans");
    let bytes = datagram.finish().to_vec();
    assert!(bytes.len() <= 5_000);
    assert!(bytes.len() + buf.len() > 5_000);
    assert_eq!(batch(&decode(&bytes)).1.len(), count);

    // The buffer is reusable after clear().
    datagram.clear();
    assert!(datagram.is_empty());
    datagram.push(&buf);
    let bytes = datagram.finish().to_vec();
    assert_eq!(bytes, reference_datagram("svc", &[], &[span]));
}

#[test]
fn finish_clear_and_reuse() {
    let tags = [("hostname", "h")];
    for wire in WIRES {
        let mut batch = Batch::new(wire, "svc", &tags, 10_000);
        assert!(batch.is_empty());
        let mut buf = Vec::new();
        for name in ["a", "b", "c"] {
            assert_eq!(batch.encode(&mut buf, &simple_span(name)), Fit::Whole);
            batch.push(&buf);
        }
        assert!(!batch.is_empty());
        assert_eq!(batch.span_count(), 3);
        let first = batch.finish().to_vec();
        let (_, spans) = decode_batch(wire, &first);
        assert_eq!(spans.len(), 3, "{wire:?}");
        assert_eq!(field(&spans[2], 5), &Data::from("c"), "{wire:?}");

        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.span_count(), 0);
        let empty = batch.finish().to_vec();
        assert!(decode_batch(wire, &empty).1.is_empty(), "{wire:?}");
        assert_eq!(empty, encode_batch(wire, "svc", &tags, &[]));

        batch.clear();
        let span = full_span();
        assert_eq!(batch.encode(&mut buf, &span), Fit::Whole);
        batch.push(&buf);
        let reused = batch.finish().to_vec();
        assert_eq!(
            reused,
            encode_batch(wire, "svc", &tags, &[span]),
            "{wire:?}"
        );
        assert_eq!(decode_batch(wire, &reused).1, [full_span_expected()]);
    }
}

#[test]
fn fits_never_lets_a_batch_exceed_max_len() {
    let spans = [
        simple_span("s"),
        simple_span("a-longer-operation-name"),
        full_span(),
    ];
    for wire in WIRES {
        let mut encoded = Vec::new();
        for span in &spans {
            let mut buf = Vec::new();
            encode_whole(wire, &mut buf, span);
            encoded.push(buf);
        }
        let min_len = Batch::new(wire, "svc", &[], 0).total_len(1, 0);
        // Covers the compact list header growing from 1 to 2 bytes at 15
        // spans, and batches too small for any span.
        for max_len in (min_len..3_000).step_by(7) {
            let mut batch = Batch::new(wire, "svc", &[], max_len);
            let mut pushed = 0;
            // Cycle through the span sizes until one does not fit.
            for buf in encoded.iter().cycle() {
                if !batch.fits(buf.len()) {
                    // Tight: one more span would really be too many bytes.
                    let growth = wire.spans_header(pushed + 1).len - wire.spans_header(pushed).len;
                    let bytes = batch.finish().to_vec();
                    assert!(
                        bytes.len() + buf.len() + growth > max_len,
                        "{wire:?} max_len {max_len}"
                    );
                    batch.clear();
                    break;
                }
                batch.push(buf);
                pushed += 1;
            }
            assert!(batch.is_empty());
            for buf in encoded.iter().cycle().take(pushed) {
                batch.push(buf);
            }
            let bytes = batch.finish();
            assert!(
                bytes.len() <= max_len,
                "{wire:?}: {} > {max_len}",
                bytes.len()
            );
            let (_, decoded) = decode_batch(wire, bytes);
            assert_eq!(decoded.len(), pushed, "{wire:?} max_len {max_len}");
            if pushed > 0 {
                assert_eq!(decoded[0], decode_span(wire, &encoded[0]));
            }
        }
    }
}

#[test]
fn max_span_len_leaves_room_for_the_framing() {
    for wire in WIRES {
        let mut batch = Batch::new(wire, "svc", &[], 1_000);
        let span = vec![0u8; batch.max_span_len()];
        assert!(batch.fits(span.len()));
        assert!(!batch.fits(span.len() + 1));
        batch.push(&span);
        assert_eq!(batch.finish().len(), 1_000, "{wire:?}");
    }
}

#[test]
fn oversized_span_drops_logs_first() {
    let span = finish(|tracer| {
        let mut span = tracer.span("chatty").tag(Tag::new("k", "v")).start();
        for i in 0..2_000 {
            span.log(|log| {
                log.field(("message", format!("log line number {i}")));
            });
        }
        span
    });
    for wire in WIRES {
        let mut buf = Vec::new();
        assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Trimmed);
        let encoded = decode_span(wire, &buf);
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
        assert_eq!(field(&encoded, 5), &Data::from("chatty"));
        let tags = structs(field(&encoded, 10));
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0], string_tag("k", "v"));
        assert_eq!(
            tags[1],
            Struct::new(vec![
                Field::new(1, DROPPED_LOGS_TAG),
                Field::new(2, TAG_LONG),
                Field::new(6, 2_000i64)
            ])
        );
    }
}

#[test]
fn oversized_span_truncates_long_strings() {
    // 'é' is two bytes: the cut must fall on a char boundary.
    let huge: String = std::iter::once('a')
        .chain(std::iter::repeat('é'))
        .take(50_000)
        .collect();
    let span = finish(|tracer| {
        let mut span = tracer
            .span("big")
            .tag(Tag::new("huge", huge.clone()))
            .tag(Tag::new("small", "kept"))
            .start();
        span.log(|log| {
            log.field(("k", "v"));
        });
        span
    });
    for wire in WIRES {
        let mut buf = Vec::new();
        assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Trimmed);
        assert!(buf.len() < 2_000);
        let encoded = decode_span(wire, &buf);
        let tags = structs(field(&encoded, 10));
        let Data::Binary(value) = field(&tags[0], 3) else {
            panic!("not a string tag: {:?}", tags[0]);
        };
        let value = String::from_utf8(value.clone()).expect("valid UTF-8");
        assert!(value.ends_with(TRUNCATION_MARKER));
        let kept = &value[..value.len() - TRUNCATION_MARKER.len()];
        assert_eq!(kept.len(), TRIMMED_STRING_LEN - 1);
        assert!(huge.starts_with(kept));
        assert_eq!(tags[1], string_tag("small", "kept"));
        // The dropped log is counted.
        assert_eq!(field(&tags[2], 1), &Data::from(DROPPED_LOGS_TAG));
        assert_eq!(field(&tags[2], 6), &Data::I64(1));
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
    }
}

#[test]
fn batch_encode_trims_to_its_max_span_len() {
    let span = finish(|tracer| {
        let mut span = tracer
            .span("x".repeat(5_000))
            .tag(Tag::new("k", "v"))
            .start();
        span.log(|log| {
            log.field(("message", "a log"));
        });
        span
    });
    for wire in WIRES {
        let batch = Batch::new(wire, "svc", &[], 2_000);
        let mut buf = Vec::new();
        assert_eq!(batch.encode(&mut buf, &span), Fit::Trimmed, "{wire:?}");
        assert!(buf.len() <= batch.max_span_len());
        assert!(batch.fits(buf.len()));
        let encoded = decode_span(wire, &buf);
        let expected_name = format!("{}{TRUNCATION_MARKER}", "x".repeat(TRIMMED_STRING_LEN));
        assert_eq!(field(&encoded, 5), &Data::from(expected_name.as_str()));
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");

        // Whole when there is room, and the same bytes as the protocol's
        // encoder with that limit.
        let roomy = Batch::new(wire, "svc", &[], 60_000);
        assert_eq!(roomy.encode(&mut buf, &span), Fit::Whole);
        let mut direct = Vec::new();
        encode_within(wire, &mut direct, &span, roomy.max_span_len());
        assert_eq!(buf, direct);
        assert_eq!(structs(field(&decode_span(wire, &buf), 11)).len(), 1);

        // The limit is exactly max_span_len(): an untrimmable span of
        // that size fits, one byte more does not.
        let small = simple_span("small");
        let mut whole = Vec::new();
        encode_whole(wire, &mut whole, &small);
        let overhead = 1_000 - Batch::new(wire, "svc", &[], 1_000).max_span_len();
        let exact = Batch::new(wire, "svc", &[], overhead + whole.len());
        assert_eq!(exact.max_span_len(), whole.len());
        assert_eq!(exact.encode(&mut buf, &small), Fit::Whole);
        assert_eq!(buf, whole);
        let short = Batch::new(wire, "svc", &[], overhead + whole.len() - 1);
        assert_eq!(short.encode(&mut buf, &small), Fit::TooLarge, "{wire:?}");
        assert!(buf.is_empty());
    }
}

#[test]
fn span_too_large_even_when_trimmed() {
    let span = finish(|tracer| {
        let mut span = tracer.span("tags").start();
        span.set_tags(|| (0..5_000).map(|i| Tag::new(format!("tag-{i}"), i as i64)));
        span
    });
    for wire in WIRES {
        let mut buf = Vec::new();
        assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::TooLarge);
        assert!(buf.is_empty());
        let batch = Batch::new(wire, "svc", &[], 60_000);
        buf.push(1);
        assert_eq!(batch.encode(&mut buf, &span), Fit::TooLarge);
        assert!(buf.is_empty());
    }
}

#[test]
fn small_span_is_encoded_whole() {
    let span = simple_span("small");
    for wire in WIRES {
        let mut buf = Vec::new();
        assert_eq!(encode_within(wire, &mut buf, &span, 60_000), Fit::Whole);
        let mut whole = Vec::new();
        encode_whole(wire, &mut whole, &span);
        assert_eq!(buf, whole);
        assert_eq!(field(&decode_span(wire, &buf), 5), &Data::from("small"));
        // Exactly at the limit is fine; one byte less cannot be trimmed away.
        assert_eq!(
            encode_within(wire, &mut buf, &span, whole.len()),
            Fit::Whole
        );
        assert_eq!(
            encode_within(wire, &mut buf, &span, whole.len() - 1),
            Fit::TooLarge
        );
    }
}

#[test]
fn limits_cut_values_and_count_logs_at_their_boundaries() {
    let logged = |logs: usize| {
        finish(|tracer| {
            let mut span = tracer
                .span("operation") // 9 bytes: cut
                .tag(Tag::new("exact", "12345678"))
                .tag(Tag::new("over", "123456789"))
                // 'é' is two bytes: cut on a char boundary, at 8 bytes.
                .tag(Tag::new("wide", "ééééé"))
                .tag(Tag::new("number", 1_234_567_890_123i64))
                .start();
            for _ in 0..logs {
                span.log(|log| {
                    log.field(("message", "abcdefghij"));
                });
            }
            span
        })
    };
    let cut = |kept: &str| format!("{kept}{TRUNCATION_MARKER}");
    for wire in WIRES {
        let batch = Batch::new(wire, "svc", &[], 60_000).with_limits(Trim::limits(8, 2));
        let mut buf = Vec::new();

        // Exactly the most logs: all kept, no count.
        assert_eq!(batch.encode(&mut buf, &logged(2)), Fit::Whole, "{wire:?}");
        let encoded = decode_span(wire, &buf);
        assert_eq!(field(&encoded, 5), &Data::from(cut("operatio")));
        let tags = structs(field(&encoded, 10));
        assert_eq!(tags.len(), 4, "no dropped-logs tag: {tags:?}");
        // (rustracing sorts tags by name)
        assert_eq!(tags[0], string_tag("exact", "12345678"));
        assert_eq!(field(&tags[1], 6), &Data::I64(1_234_567_890_123));
        assert_eq!(tags[2], string_tag("over", &cut("12345678")));
        assert_eq!(tags[3], string_tag("wide", &cut("éééé")));
        let logs = structs(field(&encoded, 11));
        assert_eq!(logs.len(), 2);
        let fields = structs(field(&logs[0], 2));
        assert_eq!(fields[0], string_tag("message", &cut("abcdefgh")));

        // One log more: left out and counted.
        assert_eq!(batch.encode(&mut buf, &logged(3)), Fit::Whole, "{wire:?}");
        let encoded = decode_span(wire, &buf);
        assert_eq!(structs(field(&encoded, 11)).len(), 2);
        let tags = structs(field(&encoded, 10));
        assert_eq!(field(&tags[4], 1), &Data::from(DROPPED_LOGS_TAG));
        assert_eq!(field(&tags[4], 6), &Data::I64(1));

        // No logs at all.
        let silent = Batch::new(wire, "svc", &[], 60_000).with_limits(Trim::limits(8, 0));
        assert_eq!(silent.encode(&mut buf, &logged(1)), Fit::Whole);
        let encoded = decode_span(wire, &buf);
        assert!(encoded.fields().iter().all(|f| f.id() != 11), "logs kept");
    }
}

#[test]
fn a_reference_to_another_trace_is_a_link_not_a_parent() {
    let other_trace = SpanContext::new(state(0, 0xBBBB, 0x1111), Vec::new());
    let own = state(0, 0xAAAA, 0x2222);
    let span = finish(|tracer| {
        tracer
            .span("linked")
            .follows_from(&other_trace)
            .start_with_state(own)
    });
    assert_eq!(span.parent_span_id(), 0);
    for wire in WIRES {
        let bytes = encode_batch(wire, "svc", &[], std::slice::from_ref(&span));
        let encoded = &decode_batch(wire, &bytes).1[0];
        assert_eq!(field(encoded, 4), &Data::I64(0), "no parent");
        let refs = structs(field(encoded, 6));
        assert_eq!(refs.len(), 1);
        assert_eq!(field(&refs[0], 1), &Data::I32(REF_FOLLOWS_FROM));
        assert_eq!(field(&refs[0], 2), &Data::I64(0xBBBB));
        assert_eq!(field(&refs[0], 4), &Data::I64(0x1111));
    }
}

#[test]
fn request_records_encode_the_same_from_their_templates() {
    // Shared, so that the last peer's text is reused and replaced.
    let compact = RequestTagTemplates::new::<Compact>();
    let binary = RequestTagTemplates::new::<Binary>();
    for method in ["GET", "PATCH", "CONNECT"] {
        for peer in [
            None,
            Some("10.0.0.1:80"),
            Some("10.0.0.1:81"),
            Some("10.0.0.2:80"),
            Some("[::1]:8000"),
            Some("[2001:db8:85a3:1234:5678:8a2e:370:7334]:443"),
        ] {
            let span = request_record(method, peer);
            for trim in [
                Trim::NONE,
                Trim::limits(100, 10),
                Trim::limits(20, 10),
                Trim::limits(3, 10),
            ] {
                let mut plain = Vec::new();
                let mut copied = Vec::new();
                encode_span::<Compact>(&mut plain, &span, trim);
                encode_span_within::<Compact>(&mut copied, &span, usize::MAX, trim, &compact);
                assert_eq!(plain, copied, "compact {method} {peer:?} {trim:?}");
                encode_span::<Binary>(&mut plain, &span, trim);
                encode_span_within::<Binary>(&mut copied, &span, usize::MAX, trim, &binary);
                assert_eq!(plain, copied, "binary {method} {peer:?} {trim:?}");
            }
        }
    }
}
