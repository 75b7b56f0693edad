//! The OTLP decoder's tests: requests encoded with the OpenTelemetry
//! project's own definitions (`opentelemetry-proto`), hand-written bodies
//! for what those cannot express (invalid UTF-8, unknown fields, hostile
//! input), gzip bodies, the answers' bodies, and properties.

use std::io::Write as _;
use std::sync::OnceLock;

use super::bounds::{EGROUP, I32, I64, LEN, SGROUP, VARINT};
use super::*;
use crate::limits::{DROPPED_LOGS_TAG, TRUNCATION_MARKER};
use crate::viewer::ingest::testing::{
    check_message, check_within, mutate, LIMITS, NO_LIMITS, TIGHT,
};
use crate::viewer::model::{Log, Reference, ReferenceKind, Tag, TagValue};
use opentelemetry_proto::tonic::collector::trace::v1 as collector;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

// -------------------------------------------------------------------
// Requests with the official definitions.

/// An instant, in Unix nanoseconds.
const T0_NS: u64 = 1_700_000_000_123_456_789;
const T0_US: i64 = 1_700_000_000_123_456;
const TRACE: u128 = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;

fn some(value: V) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(some(value)),
        ..Default::default()
    }
}

fn s(value: &str) -> V {
    V::StringValue(value.to_owned())
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![kv("host.name", s("box")), kv("service.name", s(service))],
        ..Default::default()
    }
}

fn request_of(
    resource: Option<Resource>,
    spans: Vec<Span>,
) -> collector::ExportTraceServiceRequest {
    collector::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource,
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".to_owned(),
                    version: "1.2".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn request(service: &str, spans: Vec<Span>) -> collector::ExportTraceServiceRequest {
    request_of(Some(resource(service)), spans)
}

/// A span of 1.5 ms from `T0_NS`, nothing else set.
fn span(trace: u128, id: u64, parent: Option<u64>, name: &str) -> Span {
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: T0_NS,
        end_time_unix_nano: T0_NS + 1_500_000,
        ..Default::default()
    }
}

fn decode(request: &collector::ExportTraceServiceRequest, limits: IngestLimits) -> Decoded {
    decode_request(&request.encode_to_vec(), limits).unwrap()
}

fn decode_one(request: &collector::ExportTraceServiceRequest, limits: IngestLimits) -> SpanRecord {
    let mut decoded = decode(request, limits);
    assert_eq!(decoded.spans.len(), 1, "{decoded:?}");
    assert_eq!(decoded.rejected, 0);
    decoded.spans.remove(0)
}

fn tag(key: &str, value: TagValue) -> Tag {
    Tag {
        key: key.to_owned(),
        value,
    }
}

fn string(key: &str, value: &str) -> Tag {
    tag(key, TagValue::String(value.to_owned()))
}

fn scope_tags() -> [Tag; 2] {
    [
        string("otel.scope.name", "lib"),
        string("otel.scope.version", "1.2"),
    ]
}

/// A server span and its client child, using every mapped field, and what
/// they map to.
fn full_request() -> (collector::ExportTraceServiceRequest, Vec<SpanRecord>) {
    let mut root = span(TRACE, 0xA1, None, "GET /work");
    root.kind = span::SpanKind::Server as i32;
    root.attributes = vec![
        kv("http.method", s("GET")),
        kv("http.status_code", V::IntValue(200)),
        kv("sampled", V::BoolValue(true)),
        kv("ratio", V::DoubleValue(0.25)),
        kv("digest", V::BytesValue(vec![0x00, 0xAB])),
        kv(
            "list",
            V::ArrayValue(ArrayValue {
                values: vec![
                    some(s("a")),
                    some(V::IntValue(-1)),
                    some(V::BoolValue(false)),
                    some(V::DoubleValue(1.5)),
                    AnyValue { value: None },
                    some(V::BytesValue(vec![0xFF])),
                    some(V::ArrayValue(ArrayValue { values: vec![] })),
                    some(V::KvlistValue(KeyValueList {
                        values: vec![kv("x", V::IntValue(2))],
                    })),
                ],
            }),
        ),
        kv(
            "map",
            V::KvlistValue(KeyValueList {
                values: vec![
                    kv("k", s("v\"q")),
                    KeyValue {
                        key: "n".to_owned(),
                        ..Default::default()
                    },
                ],
            }),
        ),
        // No value: left out.
        KeyValue {
            key: "unset".to_owned(),
            value: Some(AnyValue { value: None }),
            ..Default::default()
        },
        KeyValue {
            key: "missing".to_owned(),
            ..Default::default()
        },
    ];
    root.status = Some(Status {
        code: status::StatusCode::Ok as i32,
        message: String::new(),
    });
    // Fields the mapping does not read, which prost skips.
    root.trace_state = "vendor=1".to_owned();
    root.flags = 0x301;
    root.dropped_attributes_count = 3;
    root.dropped_links_count = 1;

    let mut child = span(TRACE, 0xB2, Some(0xA1), "db.query");
    child.kind = span::SpanKind::Client as i32;
    child.start_time_unix_nano = T0_NS + 100_000;
    child.end_time_unix_nano = T0_NS + 900_000;
    child.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "connection refused".to_owned(),
    });
    child.events = vec![
        span::Event {
            time_unix_nano: T0_NS + 200_000,
            name: "retry".to_owned(),
            attributes: vec![kv("attempt", V::IntValue(2))],
            ..Default::default()
        },
        span::Event {
            time_unix_nano: T0_NS + 800_000,
            name: String::new(),
            attributes: vec![kv("message", s("gave up"))],
            ..Default::default()
        },
    ];
    child.links = vec![
        span::Link {
            trace_id: (0xCC_u128 << 64 | 0xDD).to_be_bytes().to_vec(),
            span_id: 0x22_u64.to_be_bytes().to_vec(),
            attributes: vec![kv("ignored", s("x"))],
            ..Default::default()
        },
        // Invalid ids: left out.
        span::Link {
            trace_id: vec![0; 16],
            span_id: 0x23_u64.to_be_bytes().to_vec(),
            ..Default::default()
        },
        span::Link {
            trace_id: TRACE.to_be_bytes().to_vec(),
            span_id: vec![1; 7],
            ..Default::default()
        },
    ];

    let mut request = request("checkout", vec![root, child]);
    request.resource_spans[0].schema_url = "https://opentelemetry.io/schemas/1.21.0".to_owned();

    let mut root_tags = vec![
        string("http.method", "GET"),
        tag("http.status_code", TagValue::Long(200)),
        tag("sampled", TagValue::Bool(true)),
        tag("ratio", TagValue::Double(0.25)),
        string("digest", "00ab"),
        string("list", r#"["a",-1,false,1.5,null,"ff",[],{"x":2}]"#),
        string("map", r#"{"k":"v\"q","n":null}"#),
        string("span.kind", "server"),
    ];
    root_tags.extend(scope_tags());
    root_tags.push(string("otel.status_code", "OK"));
    let root_record = SpanRecord {
        trace_id: TRACE,
        span_id: 0xA1,
        parent_span_id: None,
        references: vec![],
        service: "checkout".to_owned(),
        operation: "GET /work".to_owned(),
        start_us: T0_US,
        duration_us: 1500,
        error: false,
        tags: root_tags,
        logs: vec![],
        baggage: vec![],
    };
    let mut child_tags = vec![string("span.kind", "client")];
    child_tags.extend(scope_tags());
    child_tags.extend([
        string("otel.status_code", "ERROR"),
        tag("error", TagValue::Bool(true)),
        string("otel.status_description", "connection refused"),
    ]);
    let child_record = SpanRecord {
        trace_id: TRACE,
        span_id: 0xB2,
        parent_span_id: Some(0xA1),
        references: vec![
            Reference {
                kind: ReferenceKind::ChildOf,
                trace_id: TRACE,
                span_id: 0xA1,
            },
            Reference {
                kind: ReferenceKind::FollowsFrom,
                trace_id: 0xCC << 64 | 0xDD,
                span_id: 0x22,
            },
        ],
        service: "checkout".to_owned(),
        operation: "db.query".to_owned(),
        start_us: T0_US + 100,
        duration_us: 800,
        error: true,
        tags: child_tags,
        logs: vec![
            Log {
                timestamp_us: T0_US + 200,
                fields: vec![string("event", "retry"), tag("attempt", TagValue::Long(2))],
            },
            Log {
                timestamp_us: T0_US + 800,
                fields: vec![string("message", "gave up")],
            },
        ],
        baggage: vec![],
    };
    (request, vec![root_record, child_record])
}

/// The body of [`full_request`], made once.
fn valid_body() -> &'static [u8] {
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    BODY.get_or_init(|| full_request().0.encode_to_vec())
}

#[test]
fn an_official_request_maps_to_records() {
    let (request, expected) = full_request();
    let decoded = decode(&request, LIMITS);
    assert_eq!(decoded.rejected, 0);
    assert_eq!(decoded.spans, expected);
    check_within(&decoded.spans, LIMITS);
}

#[test]
fn an_empty_body_is_an_empty_request() {
    let empty = Decoded {
        spans: vec![],
        rejected: 0,
    };
    assert_eq!(decode_request(&[], LIMITS), Ok(empty.clone()));
    let request = request("svc", vec![]);
    assert_eq!(decode(&request, LIMITS), empty);
}

#[test]
fn spans_with_invalid_ids_are_left_out_and_counted() {
    let kept = span(TRACE, 1, Some(9), "kept");
    let mut zero_parent = span(TRACE, 2, None, "root");
    zero_parent.parent_span_id = vec![0; 8];
    // The high half alone is a trace id, and the low half alone.
    let high = span(1 << 64, 3, None, "high");
    let low = span(1, 4, None, "low");
    let mut spans = vec![kept, zero_parent, high, low];
    type Spoil = fn(&mut Span);
    let invalid: [(&str, Spoil); 8] = [
        ("zero trace id", |s| s.trace_id = vec![0; 16]),
        ("short trace id", |s| s.trace_id.truncate(15)),
        ("long trace id", |s| s.trace_id.push(1)),
        ("no trace id", |s| s.trace_id.clear()),
        ("zero span id", |s| s.span_id = vec![0; 8]),
        ("short span id", |s| s.span_id.truncate(7)),
        ("short parent id", |s| s.parent_span_id = vec![1; 7]),
        ("long parent id", |s| s.parent_span_id = vec![1; 9]),
    ];
    for (name, spoil) in invalid {
        let mut bad = span(TRACE, 5, None, name);
        spoil(&mut bad);
        spans.push(bad);
    }
    let decoded = decode(&request("svc", spans), LIMITS);
    assert_eq!(decoded.rejected, 8);
    let ids: Vec<_> = decoded
        .spans
        .iter()
        .map(|s| {
            (
                s.trace_id,
                s.span_id,
                s.parent_span_id,
                s.operation.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        [
            (TRACE, 1, Some(9), "kept"),
            (TRACE, 2, None, "root"),
            (1 << 64, 3, None, "high"),
            (1, 4, None, "low"),
        ]
    );
    assert!(decoded.spans[1].references.is_empty());
    check_within(&decoded.spans, LIMITS);

    // The answer tells the sender.
    let answer = collector::ExportTraceServiceResponse::decode(&response_body(8)[..]).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 8);
    assert!(partial.error_message.starts_with("8 spans left out: "));
    assert!(partial.error_message.contains("16 bytes"));
    let one = collector::ExportTraceServiceResponse::decode(&response_body(1)[..]).unwrap();
    assert!(one
        .partial_success
        .unwrap()
        .error_message
        .starts_with("1 span left out"));
}

#[test]
fn a_full_success_answers_an_empty_response() {
    assert!(response_body(0).is_empty());
    let answer = collector::ExportTraceServiceResponse::decode(&response_body(0)[..]).unwrap();
    assert_eq!(answer.partial_success, None);
}

#[test]
fn a_failure_answer_carries_the_canonical_code_of_its_http_status() {
    // (HTTP status, gRPC canonical code)
    for (http, code) in [(400, 3), (413, 8), (415, 3)] {
        let body = status_body(http, "what went wrong");
        let status = proto::RpcStatus::decode(&body[..]).unwrap();
        assert_eq!(status.message, "what went wrong");
        assert_eq!(status.code, code, "{http}");
        assert_eq!(rpc_code(http), code, "{http}");
    }
    assert_eq!(INVALID_ARGUMENT, 3);
    assert_eq!(RESOURCE_EXHAUSTED, 8);
    // Never OK.
    for http in [401, 404, 500] {
        assert_ne!(rpc_code(http), 0, "{http}");
    }
}

#[test]
fn the_service_is_the_resources_service_name() {
    let one = |resource| decode_one(&request_of(resource, vec![span(1, 2, None, "x")]), LIMITS);
    assert_eq!(one(None).service, "unknown");
    assert_eq!(one(Some(Resource::default())).service, "unknown");
    assert_eq!(one(Some(resource(""))).service, "unknown");
    let numbered = Resource {
        attributes: vec![kv("service.name", V::IntValue(42))],
        ..Default::default()
    };
    assert_eq!(one(Some(numbered)).service, "42");
    // Other resource attributes are not tags; the service name is not cut.
    let long = "s".repeat(100);
    let record = decode_one(&request(&long, vec![span(1, 2, None, "x")]), TIGHT);
    assert_eq!(record.service, long);
    assert!(record.tag("host.name").is_none());

    // Each resource its own service.
    let mut two = request("first", vec![span(1, 2, None, "a")]);
    let mut second = request("second", vec![span(1, 3, Some(2), "b")]);
    two.resource_spans.append(&mut second.resource_spans);
    let decoded = decode(&two, LIMITS);
    let services: Vec<_> = decoded.spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(services, ["first", "second"]);
}

#[test]
fn kinds_become_span_kind_tags() {
    for (kind, expected) in [
        (0, None),
        (1, Some("internal")),
        (2, Some("server")),
        (3, Some("client")),
        (4, Some("producer")),
        (5, Some("consumer")),
        (6, None),
        (-1, None),
    ] {
        let mut one = span(1, 2, None, "x");
        one.kind = kind;
        let record = decode_one(&request("svc", vec![one]), LIMITS);
        let expected = expected.map(|k| TagValue::String(k.to_owned()));
        assert_eq!(record.tag("span.kind"), expected.as_ref(), "{kind}");
    }
}

#[test]
fn the_status_marks_errors() {
    let with_status = |code: i32, message: &str, attributes: Vec<KeyValue>| {
        let mut one = span(1, 2, None, "x");
        one.status = Some(Status {
            code,
            message: message.to_owned(),
        });
        one.attributes = attributes;
        decode_one(&request("svc", vec![one]), TIGHT)
    };
    let status_tags = |record: &SpanRecord| -> Vec<Tag> {
        record
            .tags
            .iter()
            .filter(|t| t.key.starts_with("otel.status") || t.key == "error")
            .cloned()
            .collect()
    };
    let unset = with_status(0, "ignored", vec![]);
    assert!(!unset.error);
    assert_eq!(status_tags(&unset), []);
    let ok = with_status(1, "ignored", vec![]);
    assert!(!ok.error);
    assert_eq!(status_tags(&ok), [string("otel.status_code", "OK")]);
    let unknown = with_status(7, "ignored", vec![]);
    assert_eq!(status_tags(&unknown), []);
    let bare_error = with_status(2, "", vec![]);
    assert!(bare_error.error);
    assert_eq!(
        status_tags(&bare_error),
        [
            string("otel.status_code", "ERROR"),
            tag("error", TagValue::Bool(true))
        ]
    );
    // An error tag already there is not repeated (it becomes the status's,
    // where it stands); the message is cut.
    let marked = with_status(2, "a long message", vec![kv("error", s("true"))]);
    assert!(marked.error);
    assert_eq!(
        status_tags(&marked),
        [
            tag("error", TagValue::Bool(true)),
            string("otel.status_code", "ERROR"),
            string(
                "otel.status_description",
                &format!("a long m{TRUNCATION_MARKER}")
            ),
        ]
    );
    // An attribute `error = true` marks an error without a status.
    let attribute = with_status(0, "", vec![kv("error", V::BoolValue(true))]);
    assert!(attribute.error);
}

#[test]
fn an_error_status_wins_over_an_error_attribute_saying_otherwise() {
    let failed = |attributes: Vec<KeyValue>| {
        let mut one = span(1, 2, None, "x");
        one.status = Some(Status {
            code: status::StatusCode::Error as i32,
            message: String::new(),
        });
        one.attributes = attributes;
        decode_one(&request("svc", vec![one]), LIMITS)
    };
    let errors = |record: &SpanRecord| -> Vec<Tag> {
        record
            .tags
            .iter()
            .filter(|t| t.key == "error")
            .cloned()
            .collect()
    };
    for value in [
        V::BoolValue(false),
        s("false"),
        s("no"),
        V::IntValue(0),
        V::BoolValue(true),
    ] {
        let record = failed(vec![
            kv("before", V::IntValue(1)),
            kv("error", value.clone()),
            kv("after", V::IntValue(2)),
        ]);
        assert!(record.error, "{value:?}");
        assert_eq!(
            errors(&record),
            [tag("error", TagValue::Bool(true))],
            "{value:?}"
        );
        // Where the attribute stood.
        let keys: Vec<&str> = record.tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys[..3], ["before", "error", "after"], "{value:?}");
    }
    // Repeated `error` attributes: one tag remains.
    let twice = failed(vec![kv("error", s("false")), kv("error", s("maybe"))]);
    assert_eq!(errors(&twice), [tag("error", TagValue::Bool(true))]);
    assert_eq!(twice.tags[0], tag("error", TagValue::Bool(true)));
}

#[test]
fn limits_cut_values_and_drop_events() {
    let cut = |kept: &str| format!("{kept}{TRUNCATION_MARKER}");
    let mut one = span(1, 2, None, "operation-name");
    one.attributes = vec![
        kv("exact", s("12345678")),
        kv("over", s("123456789")),
        kv("wide", s("ééééé")),
        kv("bytes", V::BytesValue(vec![0, 1, 2, 3, 4, 5])),
        kv(
            "list",
            V::ArrayValue(ArrayValue {
                values: vec![some(s("abcdefgh")), some(V::IntValue(1))],
            }),
        ),
        kv("a.long.key.is.kept", V::IntValue(1)),
    ];
    one.events = (0..3)
        .map(|i| span::Event {
            time_unix_nano: T0_NS + i,
            name: "an event name".to_owned(),
            attributes: vec![kv("message", s("abcdefghij"))],
            ..Default::default()
        })
        .collect();
    one.dropped_events_count = 2;
    let mut request = request("svc", vec![one]);
    request.resource_spans[0].scope_spans[0].scope = Some(InstrumentationScope {
        name: "instrumentation".to_owned(),
        version: "1.0.0-alpha.1".to_owned(),
        ..Default::default()
    });
    let record = decode_one(&request, TIGHT);
    assert_eq!(record.operation, cut("operatio"));
    assert_eq!(
        record.tags,
        [
            string("exact", "12345678"),
            string("over", &cut("12345678")),
            string("wide", &cut("éééé")),
            string("bytes", &cut("00010203")),
            string("list", &cut(r#"["abcdef"#)),
            tag("a.long.key.is.kept", TagValue::Long(1)),
            string("otel.scope.name", &cut("instrume")),
            string("otel.scope.version", &cut("1.0.0-al")),
            // 2 events kept by nobody, 2 dropped by the sender.
            tag(DROPPED_LOGS_TAG, TagValue::Long(4)),
        ]
    );
    assert_eq!(
        record.logs,
        [Log {
            timestamp_us: T0_US,
            fields: vec![
                string("event", &cut("an event")),
                string("message", &cut("abcdefgh")),
            ],
        }]
    );
    check_within(std::slice::from_ref(&record), TIGHT);

    // Without limits: all of it, and the sender's count alone.
    let record = decode_one(&request, NO_LIMITS);
    assert_eq!(record.operation, "operation-name");
    assert_eq!(record.logs.len(), 3);
    assert_eq!(record.tag(DROPPED_LOGS_TAG), Some(&TagValue::Long(2)));
    // A limit of 0 is 1, as the reporter's; no logs at all.
    let zero = IngestLimits {
        max_str_len: 0,
        max_logs: 0,
    };
    let record = decode_one(&request, zero);
    assert_eq!(record.operation, cut("o"));
    assert!(record.logs.is_empty());
    assert_eq!(record.tag(DROPPED_LOGS_TAG), Some(&TagValue::Long(5)));
}

#[test]
fn arrays_and_lists_are_json_text() {
    let text = |value: V, max_str_len: usize| {
        let mut one = span(1, 2, None, "x");
        one.attributes = vec![kv("v", value)];
        let limits = IngestLimits {
            max_str_len,
            max_logs: 1,
        };
        match decode_one(&request("svc", vec![one]), limits)
            .tags
            .remove(0)
            .value
        {
            TagValue::String(text) => text,
            other => panic!("{other:?}"),
        }
    };
    let escapes = V::ArrayValue(ArrayValue {
        values: vec![
            some(s("q\"b\\n\nr\rt\tc\u{1}é")),
            some(V::DoubleValue(f64::NAN)),
            some(V::DoubleValue(f64::INFINITY)),
            some(V::DoubleValue(1e300)),
        ],
    });
    assert_eq!(
        text(escapes, 4096),
        r#"["q\"b\\n\nr\rt\tc\u0001é",null,null,1e300]"#
    );
    let nested = V::KvlistValue(KeyValueList {
        values: vec![kv(
            "a\"",
            V::ArrayValue(ArrayValue {
                values: vec![some(V::KvlistValue(KeyValueList { values: vec![] }))],
            }),
        )],
    });
    assert_eq!(text(nested, 4096), r#"{"a\"":[{}]}"#);

    // A long value is cut as its whole text would be.
    let long = || {
        V::ArrayValue(ArrayValue {
            values: (0..1000)
                .map(|i| {
                    some(if i % 2 == 0 {
                        s("é\"x")
                    } else {
                        V::BytesValue(vec![0xAB; 3])
                    })
                })
                .collect(),
        })
    };
    let whole = text(long(), usize::MAX);
    assert!(whole.starts_with(r#"["é\"x","ababab","é"#), "{whole}");
    assert_eq!(whole.len(), 500 * 7 + 500 * 8 + 999 + 2);
    for max in [1, 2, 3, 5, 8, 13, 100] {
        let expected = crate::limits::truncate(&whole, max).into_owned();
        assert_eq!(text(long(), max), expected, "{max}");
    }
}

#[test]
fn invalid_utf8_is_replaced() {
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![proto::KeyValue {
                    key: b"service.name".to_vec(),
                    value: Some(proto::AnyValue {
                        value: Some(proto::Value::String(b"svc\xFF".to_vec())),
                    }),
                }],
            }),
            scope_spans: vec![proto::ScopeSpans {
                scope: None,
                spans: vec![proto::Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: b"op\xC3".to_vec(),
                    attributes: vec![proto::KeyValue {
                        key: b"k\xE2\x82".to_vec(),
                        value: Some(proto::AnyValue {
                            value: Some(proto::Value::Array(proto::ArrayValue {
                                values: vec![proto::AnyValue {
                                    value: Some(proto::Value::String(b"\xFFv".to_vec())),
                                }],
                            })),
                        }),
                    }],
                    ..Default::default()
                }],
            }],
        }],
    };
    let decoded = decode_request(&request.encode_to_vec(), LIMITS).unwrap();
    let record = &decoded.spans[0];
    assert_eq!(record.service, "svc\u{FFFD}");
    assert_eq!(record.operation, "op\u{FFFD}");
    assert_eq!(record.tags, [string("k\u{FFFD}", "[\"\u{FFFD}v\"]")]);
}

#[test]
fn later_fields_replace_earlier_ones_and_messages_merge() {
    // Appending a message's encoding to another's merges them (protobuf's
    // rule): a second request's spans join the first's.
    let mut body = request("svc", vec![span(1, 2, None, "a")]).encode_to_vec();
    body.extend(request("svc", vec![span(1, 3, None, "b")]).encode_to_vec());
    let decoded = decode_request(&body, LIMITS).unwrap();
    assert_eq!(decoded.spans.len(), 2);
    // A repeated singular field: the last one wins.
    let mut one = Pb::default();
    one.bytes(1, &[1; 16])
        .bytes(2, &[2; 8])
        .bytes(5, b"first")
        .bytes(5, b"second");
    let body = wrap_span(&one.0);
    let decoded = decode_request(&body, LIMITS).unwrap();
    assert_eq!(decoded.spans[0].operation, "second");
}

// -------------------------------------------------------------------
// Hand-written bodies.

/// A hand-written protobuf body.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut value: u64) -> &mut Self {
        while value >= 0x80 {
            self.0.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
        self
    }
    fn key(&mut self, number: u64, wire: u8) -> &mut Self {
        self.varint(number << 3 | u64::from(wire))
    }
    fn bytes(&mut self, number: u64, bytes: &[u8]) -> &mut Self {
        self.key(number, LEN).varint(bytes.len() as u64);
        self.0.extend(bytes);
        self
    }
    fn message(&mut self, number: u64, fields: impl FnOnce(&mut Pb)) -> &mut Self {
        let mut inner = Pb::default();
        fields(&mut inner);
        self.bytes(number, &inner.0)
    }
    fn fixed64(&mut self, number: u64, value: u64) -> &mut Self {
        self.key(number, I64);
        self.0.extend(value.to_le_bytes());
        self
    }
}

/// A request of one resource, one scope, and a span whose fields are
/// `span` (encoded).
fn wrap_span(span: &[u8]) -> Vec<u8> {
    let mut body = Pb::default();
    body.message(1, |rs| {
        rs.message(2, |ss| {
            ss.bytes(2, span);
        });
    });
    body.0
}

/// A valid span's fields: trace 1, span 2.
fn ids() -> Pb {
    let mut fields = Pb::default();
    let mut trace = [0; 16];
    trace[15] = 1;
    fields.bytes(1, &trace).bytes(2, &2u64.to_be_bytes());
    fields
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let mut fields = ids();
    fields.bytes(5, b"op");
    fields.key(100, VARINT).varint(u64::MAX);
    // Eight bytes which, read as fields, would set the start time.
    fields.key(101, I64).0.extend([0x39, 1, 0, 0, 0, 0, 0, 0]);
    fields.key(102, I32).0.extend([1, 2, 3, 4]);
    fields.bytes(103, b"anything");
    // A group holding fields and another group.
    fields.key(104, SGROUP);
    fields.key(1, VARINT).varint(1).bytes(2, b"x");
    fields.key(5, SGROUP).key(1, I32).0.extend([0; 4]);
    fields.key(5, EGROUP).key(104, EGROUP);
    fields.fixed64(8, 2_000);
    let decoded = decode_request(&wrap_span(&fields.0), LIMITS).unwrap();
    assert_eq!(decoded.spans.len(), 1);
    assert_eq!(decoded.spans[0].operation, "op");
    assert_eq!(
        (decoded.spans[0].start_us, decoded.spans[0].duration_us),
        (0, 2)
    );
}

#[test]
fn truncated_bodies_are_errors() {
    let body = valid_body();
    for len in 1..body.len() {
        let err = decode_request(&body[..len], LIMITS).unwrap_err();
        check_message(&err);
        assert!(
            matches!(
                err,
                OtlpError::Oversized { .. } | OtlpError::Truncated { .. }
            ),
            "{len}: {err}"
        );
    }
    // A value overrunning its message, within the body.
    let mut fields = ids();
    fields.key(5, LEN).varint(10);
    let mut body = wrap_span(&fields.0);
    body.extend([b'x'; 10]);
    assert!(matches!(
        decode_request(&body, LIMITS),
        Err(OtlpError::Oversized { size: 10, .. })
    ));
    // A fixed64 and a group cut short.
    let mut fields = ids();
    fields.key(7, I64).0.extend([1; 3]);
    assert!(matches!(
        decode_request(&wrap_span(&fields.0), LIMITS),
        Err(OtlpError::Truncated { .. })
    ));
    let mut fields = ids();
    fields.key(99, SGROUP).key(1, VARINT).varint(5);
    assert!(matches!(
        decode_request(&wrap_span(&fields.0), LIMITS),
        Err(OtlpError::Truncated { .. })
    ));
}

/// An attribute value `depth` arrays deep, around an empty value.
fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut value = Vec::new(); // an empty AnyValue
    for _ in 0..depth {
        let mut array = Pb::default();
        array.bytes(1, &value); // ArrayValue.values
        let mut any = Pb::default();
        any.bytes(5, &array.0); // AnyValue.array_value
        value = any.0;
    }
    let mut fields = ids();
    fields.message(9, |kv| {
        kv.bytes(1, b"deep").bytes(2, &value);
    });
    wrap_span(&fields.0)
}

#[test]
fn nesting_bombs_are_refused() {
    // Within the bound: the JSON text of the nesting.
    let decoded = decode_request(&nested_arrays(12), LIMITS).unwrap();
    let expected = format!("{}null{}", "[".repeat(12), "]".repeat(12));
    assert_eq!(decoded.spans[0].tags, [string("deep", &expected)]);
    // Past it, however deep: refused by the walk, before prost (whose own
    // limit is 100) sees it.
    for depth in [14, 50, 100, 1_000] {
        let err = decode_request(&nested_arrays(depth), LIMITS).unwrap_err();
        assert_eq!(err, OtlpError::TooDeep, "{depth}");
        check_message(&err);
    }
    // Key-value lists, and groups in unknown fields.
    let mut value = Vec::new();
    for _ in 0..1_000 {
        let mut list = Pb::default();
        list.message(1, |kv| {
            kv.bytes(1, b"k").bytes(2, &value);
        });
        let mut any = Pb::default();
        any.bytes(6, &list.0);
        value = any.0;
    }
    let mut fields = ids();
    fields.message(9, |kv| {
        kv.bytes(1, b"deep").bytes(2, &value);
    });
    assert_eq!(
        decode_request(&wrap_span(&fields.0), LIMITS),
        Err(OtlpError::TooDeep)
    );
    let mut groups = Pb::default();
    for _ in 0..10_000 {
        groups.key(50, SGROUP);
    }
    for _ in 0..10_000 {
        groups.key(50, EGROUP);
    }
    assert_eq!(decode_request(&groups.0, LIMITS), Err(OtlpError::TooDeep));
}

#[test]
fn huge_declared_lengths_are_refused() {
    for size in [u64::MAX, 1 << 40, u64::from(u32::MAX), 1000] {
        let mut body = Pb::default();
        body.key(1, LEN).varint(size);
        let err = decode_request(&body.0, LIMITS).unwrap_err();
        assert_eq!(
            err,
            OtlpError::Oversized {
                size,
                at: 1,
                left: 0
            }
        );
        check_message(&err);
        // A string of a span, and an unknown field's.
        for number in [5, 77] {
            let mut fields = ids();
            fields.key(number, LEN).varint(size);
            let err = decode_request(&wrap_span(&fields.0), LIMITS).unwrap_err();
            assert!(matches!(err, OtlpError::Oversized { .. }), "{err}");
        }
    }
}

#[test]
fn bad_varints_keys_and_wire_types_are_named() {
    let ten = [0xFF; 9];
    let cases = [
        // An unknown varint field (9) whose tenth byte is past 64 bits,
        // and one of 11 bytes.
        (
            [&[0x48][..], &ten, &[0x02]].concat(),
            OtlpError::BadVarint { at: 1 },
        ),
        (
            [&[0x48][..], &ten, &[0xFF, 0x01]].concat(),
            OtlpError::BadVarint { at: 1 },
        ),
        // Field number 0; wire types 6 and 7; an end of group alone.
        (vec![0x02, 0x00], OtlpError::BadKey { at: 0 }),
        (vec![0x0E], OtlpError::BadKey { at: 0 }),
        (vec![0x0F], OtlpError::BadKey { at: 0 }),
        (vec![0x4C], OtlpError::UnexpectedEndGroup { at: 0 }),
        // A known field of the wrong wire type.
        (
            vec![0x08, 0x01],
            OtlpError::WrongWireType {
                field: "ExportTraceServiceRequest.resource_spans",
                found: VARINT,
                expected: LEN,
            },
        ),
    ];
    for (body, expected) in cases {
        let err = decode_request(&body, LIMITS).unwrap_err();
        assert_eq!(err, expected, "{body:?}");
        check_message(&err);
    }
    // A key past 32 bits.
    let mut body = Pb::default();
    body.varint(1 << 35);
    assert_eq!(
        decode_request(&body.0, LIMITS),
        Err(OtlpError::BadKey { at: 0 })
    );
    // A group ended by another field's end.
    let mut body = Pb::default();
    body.key(60, SGROUP).key(61, EGROUP);
    assert_eq!(
        decode_request(&body.0, LIMITS),
        Err(OtlpError::UnexpectedEndGroup { at: 2 })
    );
    // The start time as a varint.
    let mut fields = ids();
    fields.key(7, VARINT).varint(5);
    let err = decode_request(&wrap_span(&fields.0), LIMITS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Span.start_time_unix_nano: wire type varint, expected i64"
    );
}

#[test]
fn floods_of_empty_messages_hit_the_message_budget() {
    // A million empty spans: 2 bytes each in the body, a few hundred
    // bytes each decoded.
    let spans: Vec<u8> = [0x12, 0x00].repeat(1 << 20);
    let mut body = Pb::default();
    body.message(1, |rs| {
        rs.bytes(2, &spans);
    });
    assert!(body.0.len() <= MAX_INFLATED_BYTES);
    let err = decode_request(&body.0, LIMITS).unwrap_err();
    assert_eq!(err, OtlpError::TooLargeMessage);
    check_message(&err);
    // Empty attributes of one span.
    let mut fields = ids();
    for _ in 0..(1 << 20) {
        fields.bytes(9, &[]);
    }
    assert_eq!(
        decode_request(&wrap_span(&fields.0), LIMITS),
        Err(OtlpError::TooLargeMessage)
    );
    // Empty resources: the struct of each counted too.
    let body = [0x0A, 0x00].repeat(1 << 20);
    assert_eq!(
        decode_request(&body, LIMITS),
        Err(OtlpError::TooLargeMessage)
    );
    // Ten thousand real spans are fine.
    let spans: Vec<Span> = (1..=10_000).map(|id| span(1, id, None, "s")).collect();
    let decoded = decode(&request("svc", spans), LIMITS);
    assert_eq!(decoded.spans.len(), 10_000);
}

#[test]
fn the_decoded_size_is_bounded() {
    // A long service name is copied into every span.
    let name = "s".repeat(64 * 1024);
    let spans = |n: u64| (1..=n).map(|id| span(1, id, None, "x")).collect();
    let body = request(&name, spans(300)).encode_to_vec();
    assert!(body.len() < 128 * 1024);
    let err = decode_request(&body, LIMITS).unwrap_err();
    assert_eq!(err, OtlpError::TooLargeDecoded);
    check_message(&err);
    assert_eq!(decode(&request(&name, spans(100)), LIMITS).spans.len(), 100);
}

// -------------------------------------------------------------------
// gzip.

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzip_bodies_are_decompressed_within_the_bound() {
    let body = valid_body();
    assert_eq!(gunzip(&gzip(body), MAX_INFLATED_BYTES).unwrap(), body);
    // Two members are one body.
    let mut two = gzip(&body[..10]);
    two.extend(gzip(&body[10..]));
    assert_eq!(gunzip(&two, MAX_INFLATED_BYTES).unwrap(), body);
    // Exactly the bound, and one byte past it.
    assert_eq!(gunzip(&gzip(body), body.len()).unwrap(), body);
    assert_eq!(
        gunzip(&gzip(body), body.len() - 1),
        Err(InflateError::TooLarge)
    );
    // Not gzip, cut short, or trailing garbage.
    assert_eq!(gunzip(b"not gzip", 100), Err(InflateError::Invalid));
    let whole = gzip(body);
    assert_eq!(
        gunzip(&whole[..whole.len() - 4], MAX_INFLATED_BYTES),
        Err(InflateError::Invalid)
    );
    let mut trailing = whole.clone();
    trailing.extend(b"garbage");
    assert_eq!(
        gunzip(&trailing, MAX_INFLATED_BYTES),
        Err(InflateError::Invalid)
    );
}

#[test]
fn a_gzip_bomb_stops_at_the_bound() {
    // 16 MiB of zeros in a few KiB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..16 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
    assert_eq!(
        gunzip(&bomb, MAX_INFLATED_BYTES),
        Err(InflateError::TooLarge)
    );
}

// -------------------------------------------------------------------
// Properties.

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..2048)) {
        for limits in [LIMITS, TIGHT] {
            match decode_request(&body, limits) {
                Ok(decoded) => check_within(&decoded.spans, limits),
                Err(err) => check_message(&err),
            }
        }
    }

    #[test]
    fn mutated_bodies_never_panic(
        edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 1..8),
        cut in any::<Index>(),
    ) {
        let mut body = valid_body().to_vec();
        mutate(&mut body, &edits);
        let len = cut.index(body.len() + 1);
        for body in [&body[..], &body[..len]] {
            for limits in [LIMITS, TIGHT] {
                match decode_request(body, limits) {
                    Ok(decoded) => check_within(&decoded.spans, limits),
                    Err(err) => check_message(&err),
                }
            }
        }
    }

    #[test]
    fn tight_limits_only_cut_and_drop(
        edits in vec((any::<Index>(), any::<u8>(), 0u8..3), 0..4),
    ) {
        // Whatever decodes without limits decodes within them, the same
        // spans with values cut and logs dropped.
        let mut body = valid_body().to_vec();
        mutate(&mut body, &edits);
        if let Ok(full) = decode_request(&body, NO_LIMITS) {
            let tight = decode_request(&body, TIGHT).unwrap();
            prop_assert_eq!(full.rejected, tight.rejected);
            prop_assert_eq!(full.spans.len(), tight.spans.len());
            for (full, tight) in full.spans.iter().zip(&tight.spans) {
                prop_assert_eq!(
                    (full.trace_id, full.span_id, full.parent_span_id),
                    (tight.trace_id, tight.span_id, tight.parent_span_id)
                );
                prop_assert_eq!(&full.references, &tight.references);
                prop_assert_eq!(&full.service, &tight.service);
                prop_assert_eq!(
                    (full.start_us, full.duration_us, full.error),
                    (tight.start_us, tight.duration_us, tight.error)
                );
                prop_assert_eq!(
                    crate::limits::truncate(&full.operation, TIGHT.max_str_len),
                    tight.operation.as_str()
                );
                prop_assert_eq!(full.logs.len().min(TIGHT.max_logs), tight.logs.len());
                check_within(std::slice::from_ref(tight), TIGHT);
            }
        }
    }
}
