//! The OTLP encoder against the OpenTelemetry project's own definitions
//! (`opentelemetry-proto`, decoded with prost): an independent decoder.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind as Kind, status::StatusCode, Span};
use prost::Message;
use rustracing::tag::Tag;
use rustracing_jaeger::span::SpanContext;

use super::batch::Batch;
use super::span::encode_span;
use crate::limits::TRUNCATION_MARKER;
use crate::record::{Record, TRACESTATE_TAG};
use crate::reporter::thrift::testing::{finish, full_span, request_record, state, T0_SECS};
use crate::reporter::trim::{Fit, Trim};

const NANOS: u64 = 1_000_000_000;

/// Encodes `spans` in one batch and decodes the body with the official
/// definitions.
fn roundtrip(spans: &[Record], limits: Trim) -> ExportTraceServiceRequest {
    let mut batch = Batch::new(
        "svc",
        &[
            ("hostname", "box"),
            ("ip", "10.0.0.7"),
            ("jaeger.version", "x"),
            ("env", "test"),
        ],
        1 << 20,
        512,
        limits,
    );
    let mut buf = Vec::new();
    for span in spans {
        assert_eq!(batch.encode(&mut buf, span), Fit::Whole);
        assert!(batch.fits(buf.len()));
        batch.push(&buf);
    }
    let (bytes, start) = batch.take();
    ExportTraceServiceRequest::decode(&bytes[start..]).expect("a valid OTLP request")
}

fn only_span(request: &ExportTraceServiceRequest) -> &Span {
    let spans = &request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 1);
    &spans[0]
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    let mut found = attributes.iter().filter(|kv| kv.key == key);
    let first = found.next()?;
    assert!(found.next().is_none(), "{key} twice");
    first.value.as_ref()?.value.as_ref()
}

fn string(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

/// The attribute keys, sorted (rustracing does not keep its tags' order).
fn keys(attributes: &[KeyValue]) -> Vec<&str> {
    let mut keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

fn sorted(mut keys: Vec<&str>) -> Vec<&str> {
    keys.sort_unstable();
    keys
}

#[test]
fn the_resource_and_the_scope_describe_the_process_and_the_crate() {
    let request = roundtrip(&[full_span()], Trim::NONE);
    assert_eq!(request.resource_spans.len(), 1);
    let resource = request.resource_spans[0].resource.as_ref().unwrap();
    let attributes = &resource.attributes;
    assert_eq!(attribute(attributes, "service.name"), Some(&string("svc")));
    assert_eq!(
        attribute(attributes, "telemetry.sdk.name"),
        Some(&string("rocket_opentracing"))
    );
    assert_eq!(
        attribute(attributes, "telemetry.sdk.language"),
        Some(&string("rust"))
    );
    assert_eq!(
        attribute(attributes, "telemetry.sdk.version"),
        Some(&string(env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(attribute(attributes, "host.name"), Some(&string("box")));
    assert_eq!(attribute(attributes, "env"), Some(&string("test")));
    assert_eq!(attribute(attributes, "jaeger.version"), None);
    match attribute(attributes, "host.ip") {
        Some(Value::ArrayValue(array)) => {
            assert_eq!(
                array.values,
                vec![AnyValue {
                    value: Some(string("10.0.0.7"))
                }]
            )
        }
        other => panic!("host.ip: {other:?}"),
    }
    let scope = request.resource_spans[0].scope_spans[0]
        .scope
        .as_ref()
        .unwrap();
    assert_eq!(scope.name, "rocket_opentracing");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn configured_resource_attributes_replace_detected_ones_and_keys_stay_unique() {
    let mut batch = Batch::new(
        "svc",
        &[
            ("jaeger.version", "x"),
            ("hostname", "box"),
            ("ip", "10.0.0.7"),
            ("host.name", "web-1"),
            ("ip", "10.9.9.9"),
            ("telemetry.sdk.name", "other"),
            ("service.version", "1.2.3"),
        ],
        1 << 20,
        512,
        Trim::NONE,
    );
    let mut buf = Vec::new();
    batch.encode(&mut buf, &full_span());
    batch.push(&buf);
    let (bytes, start) = batch.take();
    let request = ExportTraceServiceRequest::decode(&bytes[start..]).unwrap();
    let attributes = &request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes;
    // `attribute` fails on a key seen twice.
    assert_eq!(attribute(attributes, "host.name"), Some(&string("web-1")));
    assert_eq!(
        attribute(attributes, "telemetry.sdk.name"),
        Some(&string("rocket_opentracing"))
    );
    assert_eq!(
        attribute(attributes, "service.version"),
        Some(&string("1.2.3"))
    );
    match attribute(attributes, "host.ip") {
        Some(Value::ArrayValue(array)) => {
            assert_eq!(
                array.values,
                vec![AnyValue {
                    value: Some(string("10.9.9.9"))
                }]
            )
        }
        other => panic!("host.ip: {other:?}"),
    }
    let mut keys = keys(attributes);
    let count = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), count, "unique keys");
}

#[test]
fn a_span_keeps_its_ids_times_tags_logs_and_references() {
    let request = roundtrip(&[full_span()], Trim::NONE);
    let span = only_span(&request);
    let mut trace_id = 0x8000_0000_0000_0001u64.to_be_bytes().to_vec();
    trace_id.extend_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(span.trace_id, trace_id);
    assert_eq!(span.span_id, 0xDEAD_BEEF_0000_0001u64.to_be_bytes());
    assert_eq!(span.parent_span_id, 0x1111u64.to_be_bytes());
    assert_eq!(span.name, "GET /hello/<name>");
    assert_eq!(span.kind, Kind::Internal as i32);
    assert_eq!(span.start_time_unix_nano, T0_SECS * NANOS);
    assert_eq!(span.end_time_unix_nano, T0_SECS * NANOS + 1_234_000);
    assert_eq!(
        span.flags, 0x001,
        "sampled, its parent's remoteness unknown"
    );
    let attributes = &span.attributes;
    assert_eq!(attribute(attributes, "a.str"), Some(&string("value")));
    assert_eq!(
        attribute(attributes, "b.bool"),
        Some(&Value::BoolValue(true))
    );
    assert_eq!(
        attribute(attributes, "c.bool"),
        Some(&Value::BoolValue(false))
    );
    assert_eq!(attribute(attributes, "d.long"), Some(&Value::IntValue(-42)));
    assert_eq!(
        attribute(attributes, "e.double"),
        Some(&Value::DoubleValue(2.5))
    );
    assert_eq!(
        attribute(attributes, "jaeger-debug-id"),
        Some(&string("dbg-42"))
    );

    assert_eq!(span.events.len(), 2);
    let first = &span.events[0];
    assert_eq!(first.name, "start");
    assert_eq!(first.time_unix_nano, T0_SECS * NANOS + 10_000);
    assert_eq!(keys(&first.attributes), ["message"]);
    assert_eq!(
        attribute(&first.attributes, "message"),
        Some(&string("hello"))
    );
    let second = &span.events[1];
    assert_eq!(second.name, "log");
    assert_eq!(attribute(&second.attributes, "k"), Some(&string("v")));

    // The follows-from cause, in another trace, is a link.
    assert_eq!(span.links.len(), 1);
    let link = &span.links[0];
    let mut cause = 0xCCCCu64.to_be_bytes().to_vec();
    cause.extend_from_slice(&0xDDDDu64.to_be_bytes());
    assert_eq!(link.trace_id, cause);
    assert_eq!(link.span_id, 0x2222u64.to_be_bytes());
    assert_eq!(
        attribute(&link.attributes, "opentracing.ref_type"),
        Some(&string("follows_from"))
    );
    assert!(span.status.is_none());
}

#[test]
fn a_follows_from_reference_in_the_same_trace_is_a_link_not_the_parent() {
    let caller = SpanContext::new(state(0, 5, 0x77), Vec::new());
    let span = finish(|tracer| {
        tracer
            .span("untrusted")
            .follows_from(&caller)
            .start_with_state(state(0, 5, 0x78))
    });
    let request = roundtrip(&[span], Trim::NONE);
    let span = only_span(&request);
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.links.len(), 1);
    assert_eq!(span.links[0].span_id, 0x77u64.to_be_bytes());
    // 64-bit ids are zero-extended.
    assert_eq!(span.trace_id, [[0u8; 8], 5u64.to_be_bytes()].concat());
}

fn server_span(tags: Vec<Tag>, error_log: bool) -> Record<'static> {
    let caller = SpanContext::new(state(0, 5, 0x77), Vec::new());
    finish(|tracer| {
        let mut options = tracer
            .span("GET /items/<id>")
            .child_of(&caller)
            .tag(Tag::new("span.kind", "server"))
            .tag(Tag::new("component", "rocket"));
        for tag in tags {
            options = options.tag(tag);
        }
        let mut span = options.start_with_state(state(0, 5, 0x78));
        if error_log {
            span.log(|log| {
                log.field(("event", "error")).field(("message", "boom"));
            });
        }
        span
    })
}

#[test]
fn server_spans_follow_the_http_semantic_conventions() {
    let span = server_span(
        vec![
            Tag::new("http.method", "GET"),
            Tag::new("http.url", "/items/7?color=red"),
            Tag::new("peer.ipv4", "10.1.2.3"),
            Tag::new("peer.port", 5555i64),
            Tag::new("http.status_code", 404i64),
            Tag::new("http.route", "/items/<id>"),
            Tag::new("http.host", "shop.example:8000"),
            Tag::new("http.scheme", "https"),
            Tag::new("http.user_agent", "curl/8"),
            Tag::new("http.header.x-request-id", "abc"),
            Tag::new(TRACESTATE_TAG, "rojo=00f067aa0ba902b7"),
            Tag::new("mine", "kept"),
        ],
        false,
    );
    let request = roundtrip(&[span], Trim::NONE);
    let span = only_span(&request);
    assert_eq!(span.kind, Kind::Server as i32);
    assert_eq!(span.parent_span_id, 0x77u64.to_be_bytes());
    assert_eq!(span.flags, 0x301, "sampled, remote parent");
    assert_eq!(span.trace_state, "rojo=00f067aa0ba902b7");
    let a = &span.attributes;
    assert_eq!(
        keys(a),
        sorted(vec![
            "http.request.method",
            "url.path",
            "url.query",
            "network.peer.address",
            "client.address",
            "network.peer.port",
            "http.response.status_code",
            "http.route",
            "server.address",
            "server.port",
            "url.scheme",
            "user_agent.original",
            "http.request.header.x-request-id",
            "mine",
        ])
    );
    assert_eq!(attribute(a, "http.request.method"), Some(&string("GET")));
    assert_eq!(attribute(a, "url.path"), Some(&string("/items/7")));
    assert_eq!(attribute(a, "url.query"), Some(&string("color=red")));
    assert_eq!(attribute(a, "client.address"), Some(&string("10.1.2.3")));
    assert_eq!(
        attribute(a, "network.peer.port"),
        Some(&Value::IntValue(5555))
    );
    assert_eq!(
        attribute(a, "http.response.status_code"),
        Some(&Value::IntValue(404))
    );
    assert_eq!(
        attribute(a, "server.address"),
        Some(&string("shop.example"))
    );
    assert_eq!(attribute(a, "server.port"), Some(&Value::IntValue(8000)));
    match attribute(a, "http.request.header.x-request-id") {
        Some(Value::ArrayValue(array)) => {
            assert_eq!(
                array.values,
                vec![AnyValue {
                    value: Some(string("abc"))
                }]
            )
        }
        other => panic!("header: {other:?}"),
    }
    // A server's 4xx leaves the status unset.
    assert!(span.status.is_none());
}

#[test]
fn the_client_ip_attribute_wins_over_the_peer_for_client_address() {
    let span = server_span(
        vec![
            Tag::new("peer.ipv6", "::1"),
            Tag::new("http.client_ip", "203.0.113.9"),
        ],
        false,
    );
    let request = roundtrip(&[span], Trim::NONE);
    let a = &only_span(&request).attributes;
    assert_eq!(attribute(a, "network.peer.address"), Some(&string("::1")));
    assert_eq!(attribute(a, "client.address"), Some(&string("203.0.113.9")));
}

#[test]
fn errors_and_5xx_set_the_status() {
    let failed = server_span(
        vec![
            Tag::new("http.status_code", 500i64),
            Tag::new("error", true),
        ],
        true,
    );
    let request = roundtrip(&[failed], Trim::NONE);
    let span = only_span(&request);
    let status = span.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "boom");
    assert_eq!(attribute(&span.attributes, "error"), None);
    assert_eq!(
        attribute(&span.attributes, "error.type"),
        Some(&string("500"))
    );
    assert_eq!(span.events[0].name, "error");

    // Without an `error` tag, a server's 5xx is still an error.
    let bare = server_span(vec![Tag::new("http.status_code", 503i64)], false);
    let request = roundtrip(&[bare], Trim::NONE);
    let span = only_span(&request);
    let status = span.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "");
    assert_eq!(
        attribute(&span.attributes, "error.type"),
        Some(&string("503"))
    );

    // The application's own error type is kept, and none added.
    let typed = server_span(
        vec![Tag::new("error", true), Tag::new("error.type", "timeout")],
        false,
    );
    let request = roundtrip(&[typed], Trim::NONE);
    let span = only_span(&request);
    assert_eq!(
        attribute(&span.attributes, "error.type"),
        Some(&string("timeout"))
    );

    // An error without a failing status: the semantic conventions' fallback.
    let failed = server_span(vec![Tag::new("error", true)], false);
    let request = roundtrip(&[failed], Trim::NONE);
    let span = only_span(&request);
    assert_eq!(
        attribute(&span.attributes, "error.type"),
        Some(&string("_OTHER"))
    );
}

#[test]
fn client_spans_map_their_url_and_peer_and_fail_on_4xx() {
    let span = finish(|tracer| {
        tracer
            .span("GET")
            .tag(Tag::new("span.kind", "client"))
            .tag(Tag::new("component", "reqwest"))
            .tag(Tag::new("http.method", "GET"))
            .tag(Tag::new("peer.hostname", "api.example"))
            .tag(Tag::new("peer.port", 443i64))
            .tag(Tag::new("http.url", "https://api.example/v1?q=1"))
            .tag(Tag::new("http.status_code", 404i64))
            .start_with_state(state(0, 5, 9))
    });
    let request = roundtrip(&[span], Trim::NONE);
    let span = only_span(&request);
    assert_eq!(span.kind, Kind::Client as i32);
    let a = &span.attributes;
    assert_eq!(
        keys(a),
        sorted(vec![
            "error.type",
            "http.request.method",
            "server.address",
            "server.port",
            "url.full",
            "http.response.status_code"
        ])
    );
    assert_eq!(
        attribute(a, "url.full"),
        Some(&string("https://api.example/v1?q=1"))
    );
    assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(attribute(a, "error.type"), Some(&string("404")));
}

#[test]
fn request_records_read_like_their_rustracing_spans() {
    let record = request_record("GET", Some("[::1]:8000"));
    let request = roundtrip(&[record], Trim::NONE);
    let span = only_span(&request);
    assert_eq!(span.kind, Kind::Server as i32);
    assert_eq!(
        span.trace_id,
        [7u64.to_be_bytes(), 8u64.to_be_bytes()].concat()
    );
    assert_eq!(span.parent_span_id, 10u64.to_be_bytes());
    assert_eq!(span.flags, 0x301);
    assert_eq!(
        span.end_time_unix_nano - span.start_time_unix_nano,
        1_234_000
    );
    let a = &span.attributes;
    assert_eq!(
        keys(a),
        sorted(vec![
            "http.request.method",
            "url.path",
            "url.query",
            "network.peer.address",
            "client.address",
            "network.peer.port",
            "http.response.status_code"
        ])
    );
    assert_eq!(attribute(a, "network.peer.address"), Some(&string("::1")));
    // A server's 4xx: the status stays unset.
    assert_eq!(
        attribute(a, "http.response.status_code"),
        Some(&Value::IntValue(404))
    );
    assert!(span.status.is_none());
}

#[test]
fn limits_cut_values_and_count_dropped_logs_as_dropped_events() {
    let span = finish(|tracer| {
        let mut span = tracer
            .span("x".repeat(20))
            .tag(Tag::new("long", "y".repeat(300)))
            .start_with_state(state(0, 5, 9));
        for i in 0..5 {
            span.log(|log| {
                log.field(("message", format!("log {i}")));
            });
        }
        span
    });
    let request = roundtrip(&[span], Trim::limits(8, 2));
    let span = only_span(&request);
    assert_eq!(span.name, format!("xxxxxxxx{TRUNCATION_MARKER}"));
    assert_eq!(
        attribute(&span.attributes, "long"),
        Some(&string(&format!("yyyyyyyy{TRUNCATION_MARKER}")))
    );
    assert_eq!(span.events.len(), 2);
    assert_eq!(span.events[0].name, "log 0");
    assert_eq!(span.dropped_events_count, 3);
}

#[test]
fn long_nested_messages_and_many_spans_decode() {
    let spans: Vec<Record> = (0..300)
        .map(|i| {
            finish(|tracer| {
                tracer
                    .span(format!("span-{i}"))
                    .tag(Tag::new("payload", "z".repeat(i * 7)))
                    .start_with_state(state(1, 2, i as u64 + 1))
            })
        })
        .collect();
    let request = roundtrip(&spans, Trim::NONE);
    let decoded = &request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(decoded.len(), 300);
    for (i, span) in decoded.iter().enumerate() {
        assert_eq!(span.name, format!("span-{i}"));
        assert_eq!(
            attribute(&span.attributes, "payload"),
            Some(&string(&"z".repeat(i * 7)))
        );
    }
}

#[test]
fn batches_are_bounded_by_span_count_and_size() {
    let mut batch = Batch::new("svc", &[], 4096, 3, Trim::NONE);
    let mut buf = Vec::new();
    let span = full_span();
    batch.encode(&mut buf, &span);
    for _ in 0..3 {
        assert!(batch.fits(buf.len()));
        batch.push(&buf);
    }
    assert!(!batch.fits(buf.len()), "three spans at most");
    let (bytes, start) = batch.take();
    assert!(bytes.len() - start <= 4096);
    assert!(batch.is_empty());
    let big = finish(|tracer| {
        tracer
            .span("big")
            .tag(Tag::new("payload", "p".repeat(10_000)))
            .start_with_state(state(0, 1, 2))
    });
    assert_eq!(batch.encode(&mut buf, &big), Fit::Trimmed);
    assert!(buf.len() <= batch.max_span_len());
    batch.push(&buf);
    let (bytes, start) = batch.take();
    let request = ExportTraceServiceRequest::decode(&bytes[start..]).unwrap();
    let span = only_span(&request);
    let value = attribute(&span.attributes, "payload");
    assert!(
        matches!(value, Some(Value::StringValue(s)) if s.ends_with(TRUNCATION_MARKER) && s.len() < 1100),
        "{value:?}"
    );
}

#[test]
fn an_encoded_span_is_a_valid_span_message_on_its_own() {
    let mut buf = Vec::new();
    encode_span(
        &mut buf,
        &full_span(),
        Trim::NONE,
        &super::span::RequestAttributes::new(),
    );
    let span = Span::decode(&buf[..]).expect("a Span message");
    assert_eq!(span.name, "GET /hello/<name>");
}

#[test]
fn a_span_of_the_largest_length_fits_an_empty_batch_within_the_bound() {
    for max_len in [300, 1_000, 70_000, crate::reporter::MAX_OTLP_BATCH_SIZE] {
        let mut batch = Batch::new("svc", &[("hostname", "box")], max_len, 512, Trim::NONE);
        let largest = batch.max_span_len();
        // Any bytes do: the batch does not look inside a span.
        let span = vec![0u8; largest];
        assert!(batch.fits(span.len()), "{max_len}");
        batch.push(&span);
        assert!(!batch.fits(1), "{max_len}: nothing more fits");
        let (bytes, start) = batch.take();
        assert!(bytes.len() - start <= max_len, "{max_len}");
        let mut empty = Batch::new("svc", &[("hostname", "box")], max_len, 512, Trim::NONE);
        assert!(
            !empty.fits(largest + 1),
            "{max_len}: the largest is the largest"
        );
        empty.push(&[]);
    }
}

#[test]
fn a_peer_written_again_under_another_limit_is_cut_by_it() {
    let attributes = super::span::RequestAttributes::new();
    let record = || request_record("GET", Some("[2001:db8::1234:5678]:8000"));
    let mut buf = Vec::new();
    encode_span(&mut buf, &record(), Trim::NONE, &attributes);
    encode_span(&mut buf, &record(), Trim::limits(4, 0), &attributes);
    let span = Span::decode(&buf[..]).unwrap();
    let cut = string(&format!("2001{TRUNCATION_MARKER}"));
    assert_eq!(
        attribute(&span.attributes, "network.peer.address"),
        Some(&cut)
    );
    encode_span(&mut buf, &record(), Trim::NONE, &attributes);
    let span = Span::decode(&buf[..]).unwrap();
    let whole = string("2001:db8::1234:5678");
    assert_eq!(attribute(&span.attributes, "client.address"), Some(&whole));
}
