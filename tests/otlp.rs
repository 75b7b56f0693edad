//! Integration tests of the export over OTLP/HTTP with protobuf, against a
//! stand-in receiver on loopback (`common::otlp`) that decodes every body
//! with the OpenTelemetry project's own definitions: the spans' kind, name,
//! ids, attributes (the semantic conventions), events, links, status and
//! resource; the request's path, content type, headers and compression;
//! retries, rejections and partial successes; and, through real Rocket
//! apps built from their configuration, request spans (recorded with and
//! without a `rustracing` span), graceful shutdown, an unreachable
//! receiver, and one trace across the two example apps.
#![cfg(feature = "otlp")]

mod common;

use common::otlp::*;
use common::reporting::{assert_accounted, spawn, without_timer};
use common::server::{self, Server};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use rocket::figment::Figment;
use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};
use rocket::{get, routes};
use rocket_opentracing::reporter::{OtlpCompression, OtlpConfig, Reporter, ReporterConfig};
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::rustracing::tag::{StdTag, Tag};
use rocket_opentracing::rustracing_jaeger::span::{SpanContextStateBuilder, TraceId};
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SERVICE: &str = "otlp-test";
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Jaeger's sampled flag, and OTLP's "has is_remote" and "is_remote" bits.
const SAMPLED: u32 = 0x1;
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// A reporter configuration exporting to `receiver`, flushed only on
/// demand.
fn otlp_config(receiver: &OtlpReceiver) -> ReporterConfig {
    let mut config = without_timer(ReporterConfig::new(SERVICE));
    config.otlp = Some(OtlpConfig::new(receiver.endpoint()));
    config
}

fn kind(span: &Span) -> SpanKind {
    SpanKind::try_from(span.kind).expect("a known span kind")
}

/// The one span named `name`.
fn named<'a>(spans: &'a [&'a Span], name: &str) -> &'a Span {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one span named {name}: {spans:#?}");
    found[0]
}

/// An event's attributes as strings.
fn event_fields(event: &Event) -> BTreeMap<&str, &str> {
    event
        .attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.as_str(),
                other => panic!("{} is not a string: {other:?}", kv.key),
            };
            (kv.key.as_str(), value)
        })
        .collect()
}

fn nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// ---------------------------------------------------------------------------
// The reporter on its own.
// ---------------------------------------------------------------------------

#[test]
fn spans_arrive_with_their_kind_name_attributes_events_and_links() {
    let receiver = OtlpReceiver::bind();
    let mut config = otlp_config(&receiver);
    config
        .process_tags
        .push(("deployment".to_owned(), "test".to_owned()));
    let (reporter, tracer) = spawn(config);
    assert_eq!(reporter.destination(), receiver.endpoint());
    let before = nanos_now();

    let mut server = tracer
        .span("GET /items/<id>")
        .tag(StdTag::span_kind("server"))
        .tag(StdTag::component("rocket"))
        .tag(StdTag::http_method("GET"))
        .tag(StdTag::http_url("/items/7?color=red&size=2"))
        .tag(Tag::new("peer.ipv4", "10.1.2.3"))
        .tag(StdTag::peer_port(52_000))
        .tag(Tag::new("tenant", "acme"))
        .start();
    server.log(|log| {
        log.std().event("cache.miss").message("no entry for 7");
    });
    server.log(|log| {
        log.field(("rows", "3"));
    });
    server.set_tag(|| StdTag::http_status_code(200));
    let server_context = server.context().unwrap().clone();
    let server_state = server_context.state().clone();

    let client = tracer
        .span("GET upstream:8080")
        .child_of(&server_context)
        .tag(StdTag::span_kind("client"))
        .tag(StdTag::http_method("GET"))
        .tag(StdTag::http_url("http://upstream:8080/stock/7"))
        .tag(Tag::new("peer.hostname", "upstream"))
        .tag(StdTag::peer_port(8080))
        .tag(StdTag::http_status_code(200))
        .start();
    let client_id = client.context().unwrap().state().span_id();
    let job = tracer.span("reindex").follows_from(&server_context).start();
    let job_id = job.context().unwrap().state().span_id();
    drop((client, job, server));

    assert!(reporter.flush(FLUSH_TIMEOUT));
    let exports = receiver.receive(3, RECEIVE_TIMEOUT);
    assert_eq!(exports.len(), 1, "{exports:#?}");
    let export = &exports[0];
    assert_eq!(export.method, "POST");
    assert_eq!(export.path, "/v1/traces");
    assert_eq!(export.header("content-type"), Some(PROTOBUF));
    assert_eq!(export.header("content-encoding"), None);
    assert_eq!(export.raw_body, export.body);

    // The resource: this process.
    let resource = export.resource();
    assert_eq!(str_attr(resource, "service.name"), Some(SERVICE));
    assert_eq!(
        str_attr(resource, "telemetry.sdk.name"),
        Some("rocket_opentracing")
    );
    assert_eq!(str_attr(resource, "telemetry.sdk.language"), Some("rust"));
    assert_eq!(
        str_attr(resource, "telemetry.sdk.version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(str_attr(resource, "deployment"), Some("test"));
    if let Ok(hostname) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        assert_eq!(str_attr(resource, "host.name"), Some(hostname.trim()));
    }
    match attr(resource, "host.ip") {
        Some(Value::ArrayValue(ips)) => assert_eq!(ips.values.len(), 1),
        other => panic!("host.ip is an array of one address: {other:?}"),
    }
    for jaeger_only in ["jaeger.version", "hostname", "ip"] {
        assert!(attr(resource, jaeger_only).is_none(), "{jaeger_only}");
    }
    let scope_spans = &export.request.resource_spans[0].scope_spans;
    assert_eq!(scope_spans.len(), 1);
    let scope = scope_spans[0].scope.as_ref().expect("a scope");
    assert_eq!(scope.name, "rocket_opentracing");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));

    let spans = export.spans();
    assert_eq!(spans.len(), 3);
    let trace = server_state.trace_id();
    for span in &spans {
        assert_eq!(span.trace_id, trace_id(trace.high, trace.low));
        assert_eq!(span.span_id.len(), 8);
        assert!(span.start_time_unix_nano >= before - 1_000_000_000);
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert!(span.end_time_unix_nano <= nanos_now());
    }

    // The server span: the HTTP semantic conventions; logs as events.
    let server = named(&spans, "GET /items/<id>");
    assert_eq!(kind(server), SpanKind::Server);
    assert_eq!(server.span_id, span_id(server_state.span_id()));
    assert!(server.parent_span_id.is_empty());
    assert_eq!(server.flags, SAMPLED | HAS_IS_REMOTE, "a local root");
    let attributes = &server.attributes;
    assert_eq!(
        keys(attributes),
        [
            "client.address",
            "http.request.method",
            "http.response.status_code",
            "network.peer.address",
            "network.peer.port",
            "tenant",
            "url.path",
            "url.query",
        ]
    );
    assert_eq!(str_attr(attributes, "http.request.method"), Some("GET"));
    assert_eq!(str_attr(attributes, "url.path"), Some("/items/7"));
    assert_eq!(str_attr(attributes, "url.query"), Some("color=red&size=2"));
    assert_eq!(int_attr(attributes, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(attributes, "client.address"), Some("10.1.2.3"));
    assert_eq!(
        str_attr(attributes, "network.peer.address"),
        Some("10.1.2.3")
    );
    assert_eq!(int_attr(attributes, "network.peer.port"), Some(52_000));
    assert_eq!(str_attr(attributes, "tenant"), Some("acme"));
    assert_eq!(status_code(server), StatusCode::Unset);
    assert_eq!(server.events.len(), 2);
    assert_eq!(server.events[0].name, "cache.miss");
    assert_eq!(
        event_fields(&server.events[0]),
        BTreeMap::from([("message", "no entry for 7")])
    );
    assert_eq!(server.events[1].name, "log");
    assert_eq!(
        event_fields(&server.events[1]),
        BTreeMap::from([("rows", "3")])
    );
    for event in &server.events {
        assert!(event.time_unix_nano >= server.start_time_unix_nano);
        assert!(event.time_unix_nano <= server.end_time_unix_nano);
    }
    assert!(server.links.is_empty());

    // The client span: its URL and peer as the client conventions say.
    let client = named(&spans, "GET upstream:8080");
    assert_eq!(kind(client), SpanKind::Client);
    assert_eq!(client.span_id, span_id(client_id));
    assert_eq!(client.parent_span_id, server.span_id);
    // Remoteness is said of a server span's parent and of roots only.
    assert_eq!(client.flags, SAMPLED, "a child");
    assert_eq!(
        keys(&client.attributes),
        [
            "http.request.method",
            "http.response.status_code",
            "server.address",
            "server.port",
            "url.full",
        ]
    );
    assert_eq!(
        str_attr(&client.attributes, "url.full"),
        Some("http://upstream:8080/stock/7")
    );
    assert_eq!(
        str_attr(&client.attributes, "server.address"),
        Some("upstream")
    );
    assert_eq!(int_attr(&client.attributes, "server.port"), Some(8080));
    assert_eq!(status_code(client), StatusCode::Unset);

    // A follows_from reference: a link, not a parent.
    let job = named(&spans, "reindex");
    assert_eq!(kind(job), SpanKind::Internal);
    assert_eq!(job.span_id, span_id(job_id));
    assert!(job.parent_span_id.is_empty(), "{job:#?}");
    assert_eq!(job.links.len(), 1);
    let link = &job.links[0];
    assert_eq!(link.trace_id, server.trace_id);
    assert_eq!(link.span_id, server.span_id);
    assert_eq!(
        str_attr(&link.attributes, "opentracing.ref_type"),
        Some("follows_from")
    );
    // A link from a span other than a server's: remoteness unknown.
    assert_eq!(link.flags, SAMPLED);

    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.batches), (3, 1), "{stats:?}");
    assert_accounted(stats, 3);
}

#[test]
fn trace_ids_are_sent_as_16_bytes_64_bit_ones_zero_extended() {
    const LOW: u64 = 0x8448_eb21_1c80_319c;
    const HIGH: u64 = 0x0af7_6519_16cd_43dd;
    let receiver = OtlpReceiver::bind();
    let (reporter, tracer) = spawn(otlp_config(&receiver));

    let narrow = SpanContextStateBuilder::new()
        .trace_id(TraceId { high: 0, low: LOW })
        .span_id(0x1111)
        .finish();
    let narrow = tracer.span("narrow").start_with_state(narrow);
    let narrow_child = tracer
        .span("narrow.child")
        .child_of(narrow.context().unwrap())
        .start();
    let wide = SpanContextStateBuilder::new()
        .trace_id(TraceId {
            high: HIGH,
            low: LOW,
        })
        .span_id(0x2222)
        .finish();
    let wide = tracer.span("wide").start_with_state(wide);
    // A span of the wide trace that follows from the narrow one: the link
    // carries the other trace's zero-extended id.
    let linked = tracer
        .span("wide.linked")
        .child_of(wide.context().unwrap())
        .follows_from(narrow.context().unwrap())
        .start();
    drop((linked, narrow_child, wide, narrow));

    assert!(reporter.flush(FLUSH_TIMEOUT));
    let exports = receiver.receive(4, RECEIVE_TIMEOUT);
    let spans: Vec<&Span> = exports.iter().flat_map(|e| e.spans()).collect();
    assert_eq!(spans.len(), 4);
    let zero_extended = [[0u8; 8], LOW.to_be_bytes()].concat();
    let full = [HIGH.to_be_bytes(), LOW.to_be_bytes()].concat();
    assert_eq!(hex(&zero_extended), "00000000000000008448eb211c80319c");
    assert_eq!(hex(&full), "0af7651916cd43dd8448eb211c80319c");

    let narrow = named(&spans, "narrow");
    assert_eq!(narrow.trace_id, zero_extended);
    assert_eq!(narrow.span_id, span_id(0x1111));
    let child = named(&spans, "narrow.child");
    assert_eq!(child.trace_id, zero_extended);
    assert_eq!(child.parent_span_id, span_id(0x1111));
    let wide = named(&spans, "wide");
    assert_eq!(wide.trace_id, full);
    let linked = named(&spans, "wide.linked");
    assert_eq!(linked.trace_id, full);
    assert_eq!(linked.parent_span_id, span_id(0x2222));
    assert_eq!(linked.links.len(), 1, "{linked:#?}");
    assert_eq!(linked.links[0].trace_id, zero_extended);
    assert_eq!(linked.links[0].span_id, span_id(0x1111));
    assert_eq!(
        str_attr(&linked.links[0].attributes, "opentracing.ref_type"),
        Some("follows_from")
    );
}

#[test]
fn configured_headers_are_sent_and_gzip_bodies_decode() {
    let receiver = OtlpReceiver::bind();
    let mut config = otlp_config(&receiver);
    config.otlp = Some(OtlpConfig {
        headers: vec![
            ("x-api-key".to_owned(), "s3cret".to_owned()),
            ("X-Scope-OrgID".to_owned(), "tenant-1".to_owned()),
        ],
        compression: OtlpCompression::Gzip,
        ..OtlpConfig::new(receiver.endpoint())
    });
    let (reporter, tracer) = spawn(config);
    for i in 0..20 {
        let _span = tracer
            .span(format!("compressed-{i}"))
            .tag(Tag::new("payload", "abc".repeat(50)))
            .start();
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let exports = receiver.receive(20, RECEIVE_TIMEOUT);
    assert_eq!(exports.len(), 1);
    let export = &exports[0];
    assert_eq!(export.header("x-api-key"), Some("s3cret"));
    assert_eq!(export.header("x-scope-orgid"), Some("tenant-1"));
    assert_eq!(export.header("content-type"), Some(PROTOBUF));
    assert_eq!(export.header("content-encoding"), Some("gzip"));
    assert_eq!(&export.raw_body[..2], [0x1f, 0x8b], "a gzip stream");
    assert!(
        export.raw_body.len() < export.body.len(),
        "compressed: {} of {} bytes",
        export.raw_body.len(),
        export.body.len()
    );
    let names: BTreeSet<&str> = export.spans().iter().map(|s| s.name.as_str()).collect();
    let expected: BTreeSet<String> = (0..20).map(|i| format!("compressed-{i}")).collect();
    assert_eq!(
        names,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    assert_eq!(reporter.stats().reported, 20);
}

/// `n` spans named `{prefix}-{i}`, finished and flushed.
fn finish_spans(reporter: &Reporter, prefix: &str, n: usize) {
    let tracer = reporter.tracer(AllSampler);
    for i in 0..n {
        let _span = tracer.span(format!("{prefix}-{i}")).start();
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));
}

/// The span ids of an export, sorted.
fn span_ids(export: &Export) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = export.spans().iter().map(|s| s.span_id.clone()).collect();
    ids.sort();
    ids
}

#[test]
fn retryable_answers_are_retried_with_backoff_and_nothing_is_lost() {
    let receiver = OtlpReceiver::bind();
    receiver.script([
        Reply::status(503),
        Reply::status(429),
        Reply::status(502),
        Reply::status(504),
    ]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "retried", 5);

    let exports = receiver.receive(5, RECEIVE_TIMEOUT);
    let statuses: Vec<u16> = exports.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [503, 429, 502, 504, 200], "four retries");
    // The same batch each time.
    for export in &exports {
        assert_eq!(span_ids(export), span_ids(&exports[0]));
        assert_eq!(export.spans().len(), 5);
    }
    // Backoff 0.2 s doubling, give or take 20%.
    for (i, pair) in exports.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        let least = Duration::from_millis(200 << i).mul_f64(0.8);
        assert!(gap >= least, "retry {}: {gap:?} < {least:?}", i + 1);
    }
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.batches),
        (5, 0, 1),
        "{stats:?}"
    );
    assert_accounted(stats, 5);
    assert!(receiver.is_quiet(Duration::from_millis(300)));
}

#[test]
fn retries_end_after_four_and_the_batch_counts_as_failed() {
    let receiver = OtlpReceiver::bind();
    receiver.script((0..5).map(|_| Reply::status(503)));
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "abandoned", 3);

    let exports = receiver.drain(Duration::from_millis(500));
    assert_eq!(exports.len(), 5, "one attempt, four retries");
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (0, 3, 0),
        "{stats:?}"
    );
    assert_accounted(stats, 3);
    // The next batch goes through.
    finish_spans(&reporter, "next", 2);
    assert_eq!(receiver.receive(2, RECEIVE_TIMEOUT).len(), 1);
    assert_eq!(reporter.stats().reported, 2);
}

#[test]
fn retry_after_sets_the_wait_before_the_retry() {
    let receiver = OtlpReceiver::bind();
    receiver.script([Reply::retry_after(503, 1), Reply::retry_after(429, 1)]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "later", 4);

    let exports = receiver.receive(4, RECEIVE_TIMEOUT);
    let statuses: Vec<u16> = exports.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [503, 429, 200]);
    for pair in exports.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // The backoff alone would have retried within 0.24 s, then 0.48 s.
        assert!(gap >= Duration::from_millis(950), "{gap:?}");
        assert!(gap < Duration::from_secs(5), "{gap:?}");
        assert_eq!(span_ids(&pair[1]), span_ids(&pair[0]));
    }
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.failed), (4, 0), "{stats:?}");
    assert_accounted(stats, 4);
}

#[test]
fn a_400_is_counted_as_rejected_and_not_retried() {
    let receiver = OtlpReceiver::bind();
    receiver.script([Reply::status(400)]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "refused", 3);

    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (0, 3, 3),
        "{stats:?}"
    );
    assert_accounted(stats, 3);
    // Longer than the first retry's backoff (at most 0.24 s).
    let exports = receiver.drain(Duration::from_millis(800));
    assert_eq!(exports.len(), 1, "not retried: {exports:#?}");
    assert_eq!(exports[0].status, 400);

    finish_spans(&reporter, "accepted", 2);
    let exports = receiver.receive(2, RECEIVE_TIMEOUT);
    assert_eq!(exports.len(), 1);
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (2, 3, 3),
        "{stats:?}"
    );
}

#[test]
fn a_partial_success_counts_its_rejected_spans() {
    let receiver = OtlpReceiver::bind();
    receiver.script([Reply::partial_success(2, "spans too old")]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "partly", 5);

    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected, stats.batches),
        (3, 2, 2, 1),
        "{stats:?}"
    );
    assert_accounted(stats, 5);
    let exports = receiver.drain(Duration::from_millis(500));
    assert_eq!(exports.len(), 1, "not retried");
    assert_eq!(exports[0].spans().len(), 5);
}

#[test]
fn a_partial_success_never_counts_more_than_the_batch_nor_a_zero_count() {
    let receiver = OtlpReceiver::bind();
    receiver.script([
        Reply::partial_success(10, "over the quota"),
        Reply::partial_success(0, "a warning, nothing rejected"),
    ]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    finish_spans(&reporter, "quota", 3);
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (0, 3, 3),
        "{stats:?}"
    );
    finish_spans(&reporter, "warned", 2);
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (2, 3, 3),
        "{stats:?}"
    );
    assert_accounted(stats, 5);
    assert_eq!(receiver.drain(Duration::from_millis(300)).len(), 2);
}

#[test]
fn other_error_answers_fail_without_retry_or_rejection() {
    let receiver = OtlpReceiver::bind();
    receiver.script([Reply::status(500), Reply::status(401), Reply::status(413)]);
    let reporter = Reporter::spawn(otlp_config(&receiver)).unwrap();
    for (batch, spans) in [("a", 1), ("b", 2), ("c", 3)] {
        finish_spans(&reporter, batch, spans);
    }
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.failed, stats.rejected),
        (0, 6, 0),
        "{stats:?}"
    );
    assert_accounted(stats, 6);
    // Longer than the first retry's backoff (at most 0.24 s).
    let exports = receiver.drain(Duration::from_millis(800));
    let statuses: Vec<u16> = exports.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [500, 401, 413], "one attempt each");
}

#[test]
fn large_batches_are_split_within_the_size_bound() {
    use rocket_opentracing::reporter::MAX_OTLP_BATCH_SIZE;
    const SPANS: usize = 30;
    let receiver = OtlpReceiver::bind();
    let mut config = otlp_config(&receiver);
    config.max_tag_value_length = 200_000;
    config.otlp.as_mut().unwrap().compression = OtlpCompression::Gzip;
    let (reporter, tracer) = spawn(config);
    for i in 0..SPANS {
        let _span = tracer
            .span(format!("large-{i}"))
            .tag(Tag::new("blob", format!("{i:03}").repeat(33_000)))
            .start();
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let exports = receiver.receive(SPANS, RECEIVE_TIMEOUT);
    assert!(exports.len() >= 3, "{} requests", exports.len());
    for export in &exports {
        assert!(
            export.body.len() <= MAX_OTLP_BATCH_SIZE,
            "{} bytes",
            export.body.len()
        );
    }
    let spans = spans_of(&exports);
    assert_eq!(spans.len(), SPANS);
    for span in &spans {
        let i: usize = span.span.name["large-".len()..].parse().unwrap();
        assert_eq!(
            str_attr(&span.span.attributes, "blob"),
            Some(format!("{i:03}").repeat(33_000).as_str()),
            "whole"
        );
    }
    let stats = reporter.stats();
    assert_eq!(
        (stats.reported, stats.trimmed),
        (SPANS as u64, 0),
        "{stats:?}"
    );
}

// ---------------------------------------------------------------------------
// Rocket apps with the fairing.
// ---------------------------------------------------------------------------

/// A launched app's configuration: Rocket on an ephemeral loopback port,
/// exporting to `receiver` (its base URL: `/v1/traces` is appended),
/// flushed only at shutdown.
fn app_figment(receiver_base: &str, service: &str) -> Figment {
    server::figment()
        .merge(("opentracing.service_name", service))
        .merge(("opentracing.otlp_endpoint", receiver_base))
        .merge(("opentracing.flush_interval_ms", 600_000))
}

#[get("/items/<id>")]
fn item(id: u32) -> String {
    format!("item {id}")
}

#[get("/touched/<id>")]
fn touched(id: u32, span: ActiveSpan<'_>) -> String {
    span.set_tag("item.id", i64::from(id));
    span.log(|log| {
        log.std().event("cache.miss").message("no entry");
    });
    drop(span.child("render"));
    format!("touched {id}")
}

/// Sends a raw HTTP/1.1 GET on a connection of its own, returning the
/// local port it came from and the response.
fn raw_get(port: u16, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let local_port = stream.local_addr().unwrap().port();
    let mut request =
        format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    (local_port, response)
}

/// The attributes every request span of a GET from loopback has.
const REQUEST_ATTRIBUTES: [&str; 7] = [
    "client.address",
    "http.request.method",
    "http.response.status_code",
    "network.peer.address",
    "network.peer.port",
    "url.path",
    "url.query",
];

#[rocket::async_test]
async fn request_spans_of_an_app_follow_the_semantic_conventions() {
    const TRACE_64: u64 = 0x5b8a_a5a2_d2c8_72e8;
    const CALLER_64: u64 = 0x0000_0000_0000_00ab;
    const TRACE_128: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_128: u64 = 0x00f0_67aa_0ba9_02b7;
    let receiver = OtlpReceiver::bind();
    let app = Server::launch(
        rocket::custom(app_figment(&receiver.base_url(), "conventions"))
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![item, touched]),
    )
    .await;
    let port = app.port;

    let caller_64 = format!("{TRACE_64:016x}:{CALLER_64:016x}:0:1");
    let caller_128 = format!("{TRACE_128}:{CALLER_128:016x}:0:1");
    let (untouched_port, untouched, touched_port, touched) =
        rocket::tokio::task::spawn_blocking(move || {
            let (a, untouched) = raw_get(
                port,
                "/items/7?color=red&size=2",
                &[("uber-trace-id", &caller_64)],
            );
            let (b, touched) = raw_get(port, "/touched/8?x=1", &[("uber-trace-id", &caller_128)]);
            (a, untouched, b, touched)
        })
        .await
        .unwrap();
    assert!(untouched.starts_with("HTTP/1.1 200"), "{untouched}");
    assert!(untouched.ends_with("item 7"), "{untouched}");
    assert!(touched.ends_with("touched 8"), "{touched}");
    let fresh = reqwest::get(format!("http://127.0.0.1:{port}/items/9"))
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    let fresh_trace = fresh.headers()["x-trace-id"].to_str().unwrap().to_owned();

    let _stopped = app.stop().await;
    let exports = receiver.receive(4, RECEIVE_TIMEOUT);
    assert!(exports.iter().all(|e| e.path == "/v1/traces"));
    assert!(exports
        .iter()
        .all(|e| e.header("content-type") == Some(PROTOBUF)));
    assert!(exports.iter().all(|e| e.service_name() == "conventions"));
    let spans: Vec<&Span> = exports.iter().flat_map(|e| e.spans()).collect();
    assert_eq!(spans.len(), 4, "{spans:#?}");

    // Recorded without a rustracing span: a 64-bit caller's trace.
    let items: Vec<&&Span> = spans
        .iter()
        .filter(|s| s.name == "GET /items/<id>")
        .collect();
    assert_eq!(items.len(), 2);
    let untouched = items
        .iter()
        .find(|s| str_attr(&s.attributes, "url.path") == Some("/items/7"))
        .expect("the span of /items/7");
    assert_eq!(kind(untouched), SpanKind::Server);
    assert_eq!(untouched.trace_id, trace_id(0, TRACE_64));
    assert_eq!(untouched.parent_span_id, span_id(CALLER_64));
    assert_eq!(untouched.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
    let attributes = &untouched.attributes;
    assert_eq!(keys(attributes), REQUEST_ATTRIBUTES);
    assert_eq!(str_attr(attributes, "http.request.method"), Some("GET"));
    assert_eq!(str_attr(attributes, "url.query"), Some("color=red&size=2"));
    assert_eq!(int_attr(attributes, "http.response.status_code"), Some(200));
    assert_eq!(str_attr(attributes, "client.address"), Some("127.0.0.1"));
    assert_eq!(
        str_attr(attributes, "network.peer.address"),
        Some("127.0.0.1")
    );
    assert_eq!(
        int_attr(attributes, "network.peer.port"),
        Some(i64::from(untouched_port))
    );
    assert_eq!(status_code(untouched), StatusCode::Unset);
    assert!(untouched.events.is_empty() && untouched.links.is_empty());

    // Touched by the handler (a rustracing span): a 128-bit caller's trace,
    // the same attributes, plus the handler's tag, log and child.
    let touched = named(&spans, "GET /touched/<id>");
    assert_eq!(kind(touched), SpanKind::Server);
    assert_eq!(hex(&touched.trace_id), TRACE_128);
    assert_eq!(touched.parent_span_id, span_id(CALLER_128));
    assert_eq!(touched.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
    let attributes = &touched.attributes;
    let mut expected = REQUEST_ATTRIBUTES.to_vec();
    expected.insert(3, "item.id");
    assert_eq!(keys(attributes), expected);
    assert_eq!(str_attr(attributes, "url.path"), Some("/touched/8"));
    assert_eq!(str_attr(attributes, "url.query"), Some("x=1"));
    assert_eq!(int_attr(attributes, "item.id"), Some(8));
    assert_eq!(
        int_attr(attributes, "network.peer.port"),
        Some(i64::from(touched_port))
    );
    assert_eq!(touched.events.len(), 1);
    assert_eq!(touched.events[0].name, "cache.miss");
    assert_eq!(
        event_fields(&touched.events[0]),
        BTreeMap::from([("message", "no entry")])
    );
    let render = named(&spans, "render");
    assert_eq!(kind(render), SpanKind::Internal);
    assert_eq!(render.trace_id, touched.trace_id);
    assert_eq!(render.parent_span_id, touched.span_id);
    assert_eq!(render.flags, SAMPLED);

    // A new trace: a local root, its id the one the response names.
    let fresh = items
        .iter()
        .find(|s| str_attr(&s.attributes, "url.path") == Some("/items/9"))
        .expect("the span of /items/9");
    assert!(fresh.parent_span_id.is_empty());
    assert_eq!(fresh.flags, SAMPLED | HAS_IS_REMOTE);
    assert_eq!(
        u128::from_str_radix(&fresh_trace, 16).unwrap(),
        u128::from_be_bytes(fresh.trace_id.clone().try_into().unwrap()),
        "{fresh_trace}"
    );
    let mut keys_without_query = REQUEST_ATTRIBUTES.to_vec();
    keys_without_query.retain(|k| *k != "url.query");
    assert_eq!(keys(&fresh.attributes), keys_without_query);
}

#[rocket::async_test]
async fn a_fairing_with_a_reporter_of_its_own_exports_the_same_spans() {
    let receiver = OtlpReceiver::bind();
    let mut config = otlp_config(&receiver);
    config.service_name = "own-reporter".to_owned();
    let reporter = Reporter::spawn(config).unwrap();
    let tracer = reporter.tracer(AllSampler);
    let app = Server::launch(
        rocket::custom(server::figment())
            .attach(OpenTracingFairing::all(tracer).with_reporter(reporter))
            .mount("/", routes![item]),
    )
    .await;
    let port = app.port;
    let (local_port, response) =
        rocket::tokio::task::spawn_blocking(move || raw_get(port, "/items/3?color=blue", &[]))
            .await
            .unwrap();
    assert!(response.ends_with("item 3"), "{response}");
    // Kept alive: the shutdown flush delivers the span.
    let _stopped = app.stop().await;

    let exports = receiver.receive(1, RECEIVE_TIMEOUT);
    let spans = spans_of(&exports);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].service, "own-reporter");
    let span = &spans[0].span;
    assert_eq!(span.name, "GET /items/<id>");
    assert_eq!(kind(span), SpanKind::Server);
    assert_eq!(keys(&span.attributes), REQUEST_ATTRIBUTES);
    assert_eq!(str_attr(&span.attributes, "url.path"), Some("/items/3"));
    assert_eq!(str_attr(&span.attributes, "url.query"), Some("color=blue"));
    assert_eq!(
        int_attr(&span.attributes, "network.peer.port"),
        Some(i64::from(local_port))
    );
    assert_eq!(status_code(span), StatusCode::Unset);
}

#[rocket::async_test]
async fn a_callers_tracestate_and_an_untrusted_callers_link_come_out_over_otlp() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER: &str = "00f067aa0ba902b7";
    const TRACESTATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
    let receiver = OtlpReceiver::bind();
    let trusting = Server::launch(
        rocket::custom(app_figment(&receiver.base_url(), "trusting"))
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![item]),
    )
    .await;
    let wary = Server::launch(
        rocket::custom(
            app_figment(&receiver.base_url(), "wary")
                .merge(("opentracing.trust_incoming_sampling", false)),
        )
        .attach(OpenTracingFairing::from_config())
        .mount("/", routes![item]),
    )
    .await;
    let http = reqwest::Client::new();
    for port in [trusting.port, wary.port] {
        let response = http
            .get(format!("http://127.0.0.1:{port}/items/5"))
            .header("traceparent", format!("00-{TRACE}-{CALLER}-01"))
            .header("tracestate", TRACESTATE)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let _trusting = trusting.stop().await;
    let _wary = wary.stop().await;

    let exports = receiver.receive(2, RECEIVE_TIMEOUT);
    let spans = spans_of(&exports);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let of = |service: &str| {
        &spans
            .iter()
            .find(|s| s.service == service)
            .unwrap_or_else(|| panic!("no span of {service}: {spans:#?}"))
            .span
    };

    // Trusted: the caller's trace, parent and trace state.
    let trusted = of("trusting");
    assert_eq!(hex(&trusted.trace_id), TRACE);
    assert_eq!(hex(&trusted.parent_span_id), CALLER);
    assert_eq!(trusted.trace_state, TRACESTATE);
    assert_eq!(keys(&trusted.attributes), REQUEST_ATTRIBUTES[..6]);
    assert!(trusted.links.is_empty());

    // Untrusted: a new trace, linked to the caller's span.
    let linked = of("wary");
    assert_ne!(hex(&linked.trace_id), TRACE);
    assert!(linked.parent_span_id.is_empty());
    assert_eq!(
        linked.trace_state, "",
        "the caller's state stays with its trace"
    );
    assert_eq!(linked.links.len(), 1, "{linked:#?}");
    let link = &linked.links[0];
    assert_eq!(hex(&link.trace_id), TRACE);
    assert_eq!(hex(&link.span_id), CALLER);
    assert_eq!(
        str_attr(&link.attributes, "opentracing.ref_type"),
        Some("follows_from")
    );
    // A server span's link is to its caller: a remote span.
    assert_eq!(link.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
}

#[get("/ok")]
fn ok() -> &'static str {
    "ok"
}

#[get("/missing")]
fn missing() -> Status {
    Status::NotFound
}

#[get("/teapot")]
fn teapot() -> Status {
    Status::ImATeapot
}

#[get("/fail")]
fn fail() -> Status {
    Status::InternalServerError
}

#[get("/panic")]
fn panics() -> &'static str {
    panic!("a handler panic (expected by the test)")
}

#[get("/panic/guarded")]
fn panics_guarded(span: ActiveSpan<'_>) -> &'static str {
    let _span = span;
    panic!("a handler panic holding its span (expected by the test)")
}

/// Calls this app's own `/<path>` in a client span; answers with the
/// status it got.
#[cfg(feature = "client")]
#[get("/call/<path>")]
async fn call(path: &str, span: ActiveSpan<'_>, config: &rocket::Config) -> String {
    use rocket_opentracing::client::TracedRequest;
    let url = format!("http://127.0.0.1:{}/{path}", config.port);
    let response = reqwest::Client::new()
        .get(url)
        .send_traced(&span)
        .await
        .expect("the app answers");
    response.status().as_u16().to_string()
}

#[cfg(feature = "client")]
#[rocket::async_test]
async fn statuses_follow_the_semantic_conventions() {
    let receiver = OtlpReceiver::bind();
    let app = Server::launch(
        rocket::custom(app_figment(&receiver.base_url(), "statuses"))
            .attach(OpenTracingFairing::from_config())
            .mount(
                "/",
                routes![ok, missing, teapot, fail, panics, panics_guarded, call],
            ),
    )
    .await;
    let port = app.port;
    let http = reqwest::Client::new();
    for (path, status, body) in [
        ("/ok", 200, "ok"),
        ("/missing", 404, ""),
        ("/teapot", 418, ""),
        ("/fail", 500, ""),
        ("/panic", 500, ""),
        ("/panic/guarded", 500, ""),
        ("/call/missing", 200, "404"),
        ("/call/ok", 200, "200"),
    ] {
        let response = http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let text = response.text().await.unwrap();
        if !body.is_empty() {
            assert_eq!(text, body, "{path}");
        }
    }
    let _stopped = app.stop().await;

    // 8 server spans, 2 client spans, 2 server spans of the calls.
    let exports = receiver.receive(12, RECEIVE_TIMEOUT);
    let spans: Vec<&Span> = exports.iter().flat_map(|e| e.spans()).collect();
    assert_eq!(spans.len(), 12, "{spans:#?}");
    let server_span = |path: &str, called: bool| -> &Span {
        let found: Vec<&&Span> = spans
            .iter()
            .filter(|s| {
                kind(s) == SpanKind::Server
                    && str_attr(&s.attributes, "url.path") == Some(path)
                    && s.parent_span_id.is_empty() != called
            })
            .collect();
        assert_eq!(found.len(), 1, "{path}: {spans:#?}");
        found[0]
    };
    let code = |span: &Span| int_attr(&span.attributes, "http.response.status_code");

    for (path, status) in [("/ok", 200), ("/missing", 404), ("/teapot", 418)] {
        let span = server_span(path, false);
        assert_eq!(code(span), Some(status), "{path}");
        assert_eq!(status_code(span), StatusCode::Unset, "{path}: {span:#?}");
    }
    for path in ["/fail", "/panic"] {
        let span = server_span(path, false);
        assert_eq!(code(span), Some(500), "{path}");
        assert_eq!(status_code(span), StatusCode::Error, "{path}");
        assert_eq!(status_message(span), "500 Internal Server Error", "{path}");
        assert_eq!(span.events.len(), 1, "{path}: the error log");
        assert_eq!(span.events[0].name, "error");
        assert_eq!(
            event_fields(&span.events[0]),
            BTreeMap::from([
                ("error.kind", "http"),
                ("message", "500 Internal Server Error")
            ])
        );
    }
    let guarded = server_span("/panic/guarded", false);
    assert_eq!(code(guarded), Some(500));
    assert_eq!(status_code(guarded), StatusCode::Error);
    assert_eq!(status_message(guarded), "the request handler panicked");
    assert_eq!(guarded.events.len(), 1, "{guarded:#?}");
    assert_eq!(
        event_fields(&guarded.events[0]),
        BTreeMap::from([
            ("error.kind", "panic"),
            ("message", "the request handler panicked")
        ])
    );

    // The client spans: a 4xx answer is an error; their callees are their
    // children.
    for (path, status, error) in [("missing", 404, true), ("ok", 200, false)] {
        let caller = server_span(&format!("/call/{path}"), false);
        assert_eq!(status_code(caller), StatusCode::Unset, "/call/{path}");
        let client: Vec<&&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == caller.span_id)
            .collect();
        assert_eq!(client.len(), 1, "/call/{path}");
        let client = client[0];
        assert_eq!(kind(client), SpanKind::Client);
        assert_eq!(client.name, format!("GET 127.0.0.1:{port}"));
        assert_eq!(
            str_attr(&client.attributes, "url.full"),
            Some(format!("http://127.0.0.1:{port}/{path}").as_str())
        );
        assert_eq!(code(client), Some(status));
        let expected = if error {
            StatusCode::Error
        } else {
            StatusCode::Unset
        };
        assert_eq!(status_code(client), expected, "{client:#?}");
        let callee = server_span(&format!("/{path}"), true);
        assert_eq!(callee.parent_span_id, client.span_id);
        assert_eq!(callee.trace_id, caller.trace_id);
        assert_eq!(status_code(callee), StatusCode::Unset, "a 4xx of a server");
    }
}

#[rocket::async_test]
async fn the_config_keys_set_the_traces_url_headers_and_gzip() {
    let receiver = OtlpReceiver::bind();
    let headers = BTreeMap::from([("x-api-key", "s3cret"), ("x-tenant", "blue")]);
    let figment = server::figment()
        .merge(("opentracing.service_name", "keys"))
        .merge(("opentracing.otlp_traces_endpoint", receiver.endpoint()))
        .merge(("opentracing.otlp_headers", headers))
        .merge(("opentracing.otlp_compression", "gzip"))
        .merge(("opentracing.otlp_timeout_ms", 5_000))
        .merge(("opentracing.flush_interval_ms", 600_000));
    let app = Server::launch(
        rocket::custom(figment)
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![item]),
    )
    .await;
    let response = reqwest::get(format!("http://127.0.0.1:{}/items/1", app.port))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stopped = app.stop().await;

    let exports = receiver.receive(1, RECEIVE_TIMEOUT);
    assert_eq!(exports.len(), 1);
    let export = &exports[0];
    assert_eq!(export.path, "/v1/traces");
    assert_eq!(export.header("x-api-key"), Some("s3cret"));
    assert_eq!(export.header("x-tenant"), Some("blue"));
    assert_eq!(export.header("content-encoding"), Some("gzip"));
    assert_eq!(&export.raw_body[..2], [0x1f, 0x8b]);
    assert_eq!(export.service_name(), "keys");
    assert_eq!(export.spans()[0].name, "GET /items/<id>");
    let stats = OpenTracingFairing::reporter_stats_of(&stopped).unwrap();
    assert_eq!(stats.reported, 1, "{stats:?}");
}

#[get("/n/<n>")]
fn numbered(n: u32) -> String {
    n.to_string()
}

#[rocket::async_test]
async fn graceful_shutdown_delivers_every_completed_requests_span() {
    // More than one request's worth (at most 512 spans each).
    const REQUESTS: u32 = 600;
    const CLIENTS: u32 = 8;
    let receiver = OtlpReceiver::bind();
    let app = Server::launch(
        rocket::custom(app_figment(&receiver.base_url(), "shutdown"))
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![numbered]),
    )
    .await;
    let port = app.port;
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let http = http.clone();
        tasks.push(rocket::tokio::spawn(async move {
            for n in (c..REQUESTS).step_by(CLIENTS as usize) {
                let url = format!("http://127.0.0.1:{port}/n/{n}");
                let body = http.get(url).send().await.unwrap().text().await.unwrap();
                assert_eq!(body, n.to_string());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(http);
    // Kept alive: apart from a full batch of 512, only the shutdown flush
    // can have delivered the spans (the flush interval is long).
    let stopped = app.stop().await;

    let exports = receiver.receive(REQUESTS as usize, RECEIVE_TIMEOUT);
    assert!(exports.len() >= 2, "{} requests", exports.len());
    assert!(exports
        .iter()
        .all(|e| e.spans().len() <= rocket_opentracing::reporter::MAX_OTLP_BATCH_SPANS));
    let spans = spans_of(&exports);
    assert_eq!(spans.len(), REQUESTS as usize);
    let ids: BTreeSet<&[u8]> = spans.iter().map(|s| s.span.span_id.as_slice()).collect();
    assert_eq!(ids.len(), REQUESTS as usize, "no span twice");
    let paths: BTreeSet<String> = spans
        .iter()
        .map(|s| str_attr(&s.span.attributes, "url.path").unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..REQUESTS).map(|n| format!("/n/{n}")).collect();
    assert_eq!(paths, expected);
    assert!(spans.iter().all(|s| s.span.name == "GET /n/<n>"));
    let stats = OpenTracingFairing::reporter_stats_of(&stopped).unwrap();
    assert_eq!(stats.reported, u64::from(REQUESTS), "{stats:?}");
    assert_accounted(stats, u64::from(REQUESTS));
    assert!(
        receiver.is_quiet(Duration::from_millis(200)),
        "extra requests"
    );
}

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

/// The reporter's counters, read from inside the app: finished, reported,
/// dropped, failed.
struct Counters(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Counters {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let s = OpenTracingFairing::reporter_stats_of(req.rocket()).expect("a reporter");
        let text = format!("{} {} {} {}", s.finished, s.reported, s.dropped, s.failed);
        request::Outcome::Success(Counters(text))
    }
}

#[get("/stats")]
fn stats(counters: Counters) -> String {
    counters.0
}

/// A response as compared between a traced and an untraced app: status,
/// headers (without `date` and the trace id header), body.
async fn observed(http: &reqwest::Client, port: u16, path: &str) -> (u16, Vec<String>, String) {
    let response = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date" && *name != "x-trace-id")
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    headers.sort();
    (status, headers, response.text().await.unwrap())
}

#[rocket::async_test]
async fn an_unreachable_receiver_leaves_requests_alone_and_delivery_resumes() {
    let port = common::closed_port();
    let base = format!("http://127.0.0.1:{port}");
    let figment = app_figment(&base, "unreachable")
        .merge(("opentracing.flush_interval_ms", 50))
        .merge(("opentracing.queue_size", 2))
        .merge(("opentracing.skip_paths", ["/stats"]));
    let traced = Server::launch(
        rocket::custom(figment)
            .attach(OpenTracingFairing::from_config())
            .mount("/", routes![hello, missing, fail, stats]),
    )
    .await;
    let untraced =
        Server::launch(rocket::custom(server::figment()).mount("/", routes![hello, missing, fail]))
            .await;

    // While nothing listens: every answer as without tracing.
    const PATHS: [&str; 3] = ["/hello/alice", "/missing", "/fail"];
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        for path in PATHS {
            let http = http.clone();
            let (traced, untraced) = (traced.port, untraced.port);
            tasks.push(rocket::tokio::spawn(async move {
                let expected = observed(&http, untraced, path).await;
                let got = observed(&http, traced, path).await;
                assert_eq!(got, expected, "{path}");
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let response = http
        .get(format!("http://127.0.0.1:{}/hello/alice", traced.port))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("x-trace-id"));
    let finished = 4 * PATHS.len() + 1;

    // Every span settles as dropped (the queue is full while the first
    // batch is retried) or failed (after its retries).
    let deadline = Instant::now() + Duration::from_secs(30);
    let counters = loop {
        let text = http
            .get(format!("http://127.0.0.1:{}/stats", traced.port))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counters: Vec<usize> = text.split(' ').map(|n| n.parse().unwrap()).collect();
        if counters[0] == finished && counters[2] + counters[3] == finished {
            break counters;
        }
        assert!(Instant::now() < deadline, "spans still pending: {text}");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (reported, dropped, failed) = (counters[1], counters[2], counters[3]);
    assert_eq!(reported, 0);
    assert!(dropped > 0 && failed > 0, "{counters:?}");

    // A receiver appears on that port: delivery resumes.
    let receiver = OtlpReceiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    for name in ["bob", "carol"] {
        let got = observed(&http, traced.port, &format!("/hello/{name}")).await;
        assert_eq!(got.0, 200);
        assert_eq!(got.2, format!("Hello, {name}!"));
    }
    let exports = receiver.receive(2, RECEIVE_TIMEOUT);
    let spans = spans_of(&exports);
    let paths: BTreeSet<&str> = spans
        .iter()
        .map(|s| str_attr(&s.span.attributes, "url.path").unwrap())
        .collect();
    assert_eq!(paths, BTreeSet::from(["/hello/bob", "/hello/carol"]));

    let stopped = traced.stop().await;
    untraced.stop().await;
    let stats = OpenTracingFairing::reporter_stats_of(&stopped).unwrap();
    assert_eq!(
        (stats.reported, stats.dropped, stats.failed),
        (2, dropped as u64, failed as u64),
        "{stats:?}"
    );
    assert_accounted(stats, finished as u64 + 2);
}

// ---------------------------------------------------------------------------
// The two example apps.
// ---------------------------------------------------------------------------

#[cfg(feature = "client")]
#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server_app;

#[cfg(feature = "client")]
#[path = "../examples/client.rs"]
#[allow(dead_code)]
mod client_app;

/// The one span of `service` named `name`.
#[cfg(feature = "client")]
fn span_of<'a>(spans: &'a [ServiceSpan], service: &str, name: &str) -> &'a Span {
    let found: Vec<&ServiceSpan> = spans
        .iter()
        .filter(|s| s.service == service && s.span.name == name)
        .collect();
    assert_eq!(found.len(), 1, "{service} {name}: {spans:#?}");
    &found[0].span
}

#[cfg(feature = "client")]
#[rocket::async_test]
async fn the_example_apps_export_one_trace_over_otlp() {
    const CALLER_TRACE: &str = "6309ab92c95468edea0dc1a9772ae2dc";
    const CALLER_SPAN: u64 = 0x4094_23a2_04bc_17a8;
    let receiver = OtlpReceiver::bind();
    let server = Server::launch(
        rocket::build()
            .configure(app_figment(&receiver.base_url(), "server"))
            .attach(OpenTracingFairing::from_config())
            .mount("/", server_app::routes()),
    )
    .await;
    let client = Server::launch(
        rocket::build()
            .configure(app_figment(&receiver.base_url(), "client"))
            .attach(OpenTracingFairing::from_config())
            .manage(client_app::Upstream::new(format!(
                "http://127.0.0.1:{}",
                server.port
            )))
            .mount("/", client_app::routes()),
    )
    .await;

    let http = reqwest::Client::new();
    let response = http
        .get(format!("http://127.0.0.1:{}/call/world", client.port))
        .header(
            "uber-trace-id",
            format!("{CALLER_TRACE}:{CALLER_SPAN:016x}:0:1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-trace-id"], CALLER_TRACE);
    assert_eq!(response.text().await.unwrap(), "Hello, world!");
    // A trace the client app starts.
    let response = http
        .get(format!("http://127.0.0.1:{}/call/bob", client.port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let new_trace = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let server_port = server.port;
    // Kept alive: only the shutdown flushes can have delivered the spans.
    let _client = client.stop().await;
    let _server = server.stop().await;
    let exports = receiver.receive(6, RECEIVE_TIMEOUT);
    let spans = spans_of(&exports);
    assert_eq!(spans.len(), 6, "{spans:#?}");

    for (trace, caller) in [
        (CALLER_TRACE.to_owned(), Some(CALLER_SPAN)),
        (new_trace, None),
    ] {
        let trace = u128::from_str_radix(&trace, 16).unwrap().to_be_bytes();
        let in_trace: Vec<ServiceSpan> = spans
            .iter()
            .filter(|s| s.span.trace_id == trace)
            .cloned()
            .collect();
        assert_eq!(in_trace.len(), 3, "{in_trace:#?}");
        let entry = span_of(&in_trace, "client", "GET /call/<name>");
        let call = span_of(&in_trace, "client", &format!("GET 127.0.0.1:{server_port}"));
        let hello = span_of(&in_trace, "server", "GET /hello/<name>");
        // The parent chain: (caller →) entry → call → server.
        match caller {
            Some(caller) => {
                assert_eq!(entry.parent_span_id, span_id(caller));
                assert_eq!(entry.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
            }
            None => {
                assert!(entry.parent_span_id.is_empty());
                assert_eq!(entry.flags, SAMPLED | HAS_IS_REMOTE);
            }
        }
        assert_eq!(call.parent_span_id, entry.span_id);
        assert_eq!(hello.parent_span_id, call.span_id);
        assert_eq!(hello.flags, SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
        assert_eq!(kind(entry), SpanKind::Server);
        assert_eq!(kind(call), SpanKind::Client);
        assert_eq!(kind(hello), SpanKind::Server);
        assert_eq!(call.flags, SAMPLED);

        let attributes = &call.attributes;
        let name = if caller.is_some() { "world" } else { "bob" };
        assert_eq!(
            str_attr(attributes, "url.full"),
            Some(format!("http://127.0.0.1:{server_port}/hello/{name}").as_str())
        );
        assert_eq!(str_attr(attributes, "http.request.method"), Some("GET"));
        assert_eq!(str_attr(attributes, "server.address"), Some("127.0.0.1"));
        assert_eq!(
            int_attr(attributes, "server.port"),
            Some(i64::from(server_port))
        );
        assert_eq!(int_attr(attributes, "http.response.status_code"), Some(200));
        assert_eq!(
            str_attr(&hello.attributes, "url.path"),
            Some(format!("/hello/{name}").as_str())
        );
        for span in [entry, call, hello] {
            assert_eq!(status_code(span), StatusCode::Unset);
        }
    }
}

#[test]
fn https_endpoints_speak_tls() {
    // A TCP listener standing in for an HTTPS receiver: it records the
    // first bytes the reporter sends and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(RECEIVE_TIMEOUT))
            .expect("read timeout");
        let mut header = [0u8; 6];
        stream.read_exact(&mut header).expect("a TLS record header");
        header
    });
    let mut config = without_timer(ReporterConfig::new(SERVICE));
    config.otlp = Some(OtlpConfig::new(format!(
        "https://127.0.0.1:{port}/v1/traces"
    )));
    let (reporter, tracer) = spawn(config);
    drop(tracer.span("over-tls").start());
    // The handshake fails (the stand-in hangs up): the batch waits to be
    // retried.
    assert!(!reporter.flush(Duration::from_millis(500)));
    let header = first_bytes.join().unwrap();
    // A TLS handshake record (type 22, version 3.x) carrying a ClientHello.
    assert_eq!((header[0], header[1], header[5]), (22, 3, 1), "{header:?}");
    let stats = reporter.stats();
    assert_eq!((stats.finished, stats.reported), (1, 0), "{stats:?}");
}

#[test]
fn a_redirect_fails_the_batch_and_is_not_followed() {
    // The endpoint answers 302 to another listener, as an authenticating
    // proxy would; nothing may reach that listener, headers least of all.
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = endpoint.local_addr().unwrap().port();
    let location = format!("http://{}/login", elsewhere.local_addr().unwrap());
    let answered = std::thread::spawn(move || {
        let (stream, _) = endpoint.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let request = common::collector::read_request(&mut reader).expect("a request");
        let mut writer = stream;
        common::collector::write_response(&mut writer, 302, &[("location", &location)], b"")
            .unwrap();
        request.path
    });
    let mut otlp = OtlpConfig::new(format!("http://127.0.0.1:{port}/v1/traces"));
    otlp.headers = vec![("x-api-key".to_owned(), "s3cret".to_owned())];
    let mut config = without_timer(ReporterConfig::new(SERVICE));
    config.otlp = Some(otlp);
    let (reporter, tracer) = spawn(config);
    drop(tracer.span("redirected").start());
    assert!(reporter.flush(FLUSH_TIMEOUT));
    assert_eq!(answered.join().unwrap(), "/v1/traces");
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.failed), (0, 1), "{stats:?}");
    elsewhere.set_nonblocking(true).unwrap();
    assert!(
        elsewhere.accept().is_err(),
        "the redirect was followed to another host"
    );
}
