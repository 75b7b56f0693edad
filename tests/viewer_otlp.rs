//! The trace viewer's OTLP/HTTP endpoint (`POST /_traces/v1/traces`)
//! through Rocket: export requests encoded with the OpenTelemetry project's
//! own definitions (`opentelemetry-proto`), as an OpenTelemetry SDK's
//! exporter sends them, show in the viewer's JSON API with their parent
//! chain, services, kinds, tags, errors and logs; gzip bodies; the answers
//! the OTLP/HTTP specification asks for (200 with an
//! `ExportTraceServiceResponse`, 400, 413, 415 with a `google.rpc.Status`);
//! access control; and a real server over the network.
#![cfg(all(feature = "viewer", feature = "otlp"))]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use common::agent::Agent;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use rocket::http::{ContentType, Header, Status as HttpStatus};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::{from_str, json, Value as Json};
use rocket_opentracing::OpenTracingFairing;

const LOCAL: &str = "127.0.0.1:50000";
const REMOTE: &str = "192.0.2.7:50000";
const URI: &str = "/_traces/v1/traces";

/// The W3C trace-context example's trace id.
const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const ROOT: u64 = 0x00f0_67aa_0ba9_02b7;
const CALL: u64 = 0x1111;
const CHARGE: u64 = 0x2222;

/// `google.rpc.Status`, the body of a failure answer (not among
/// `opentelemetry-proto`'s definitions).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A client of an application with the viewer on (plus `extra` keys of the
/// `opentracing` section), reporting to a stand-in agent.
async fn viewer_client(agent: &Agent, extra: &str) -> Client {
    let toml = format!(
        "[default.opentracing]\nviewer = true\nagent_port = {}\n{extra}",
        agent.port()
    );
    let rocket = common::rocket_with(&toml).attach(OpenTracingFairing::from_config());
    Client::tracked(rocket).await.expect("rocket ignites")
}

fn protobuf() -> ContentType {
    ContentType::new("application", "x-protobuf")
}

async fn post_from<'c>(
    client: &'c Client,
    remote: &str,
    body: Vec<u8>,
    headers: &[(&'static str, &'static str)],
) -> LocalResponse<'c> {
    let remote: SocketAddr = remote.parse().unwrap();
    let mut request = client.post(URI).remote(remote).body(body);
    for (name, value) in headers {
        request = request.header(Header::new(*name, *value));
    }
    request.dispatch().await
}

async fn post<'c>(
    client: &'c Client,
    body: Vec<u8>,
    headers: &[(&'static str, &'static str)],
) -> LocalResponse<'c> {
    post_from(client, LOCAL, body, headers).await
}

async fn post_protobuf(client: &Client, body: Vec<u8>) -> LocalResponse<'_> {
    post(client, body, &[("Content-Type", "application/x-protobuf")]).await
}

/// `GET uri` of the JSON API, from a local client.
async fn json(client: &Client, uri: &str) -> (HttpStatus, Json) {
    let remote: SocketAddr = LOCAL.parse().unwrap();
    let response = client.get(uri.to_owned()).remote(remote).dispatch().await;
    let status = response.status();
    let body = response.into_string().await.unwrap();
    (
        status,
        from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

/// The body of a `200` answer, checked to be an `ExportTraceServiceResponse`.
async fn accepted(response: LocalResponse<'_>) -> ExportTraceServiceResponse {
    assert_eq!(response.status(), HttpStatus::Ok);
    assert_eq!(response.content_type(), Some(protobuf()));
    assert_eq!(response.headers().get_one("X-Trace-Id"), None, "not traced");
    let body = response.into_bytes().await.unwrap();
    ExportTraceServiceResponse::decode(&body[..]).unwrap()
}

/// gRPC's canonical code for a failure answered with `status`: `3`,
/// `INVALID_ARGUMENT`, for `400` and `415`; `8`, `RESOURCE_EXHAUSTED`, for
/// `413`.
fn canonical_code(status: HttpStatus) -> i32 {
    match status.code {
        400 | 415 => 3,
        413 => 8,
        other => panic!("no failure answers {other}"),
    }
}

/// The message of a failure answer to a protobuf request, checked to have
/// `status` and the `google.rpc.Status` code that goes with it.
async fn refused(response: LocalResponse<'_>, status: HttpStatus) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.content_type(), Some(protobuf()));
    let body = response.into_bytes().await.unwrap();
    let answer = RpcStatus::decode(&body[..]).unwrap();
    assert_eq!(
        answer.code,
        canonical_code(status),
        "{status}: {}",
        answer.message
    );
    answer.message
}

fn any(value: Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(value)),
        ..Default::default()
    }
}

fn s(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

/// Now, in Unix nanoseconds, a whole number of microseconds.
fn now_ns() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(now.as_micros()).unwrap() * 1_000
}

fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s(service)),
                kv("telemetry.sdk.language", s("rust")),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "checkout-instrumentation".to_owned(),
                version: "0.1.0".to_owned(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn span(trace: u128, id: u64, parent: Option<u64>, name: &str, times: (u64, u64)) -> Span {
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: times.0,
        end_time_unix_nano: times.1,
        ..Default::default()
    }
}

/// What two services' SDKs export for one request: the frontend's server
/// span and its client call, and the backend's server span, which failed.
fn checkout(t0: u64) -> ExportTraceServiceRequest {
    let ms = 1_000_000;
    let mut root = span(TRACE, ROOT, None, "GET /checkout", (t0, t0 + 10 * ms));
    root.kind = span::SpanKind::Server as i32;
    root.attributes = vec![
        kv("http.request.method", s("GET")),
        kv("http.response.status_code", Value::IntValue(200)),
    ];
    let mut call = span(
        TRACE,
        CALL,
        Some(ROOT),
        "POST /charge",
        (t0 + ms, t0 + 9 * ms),
    );
    call.kind = span::SpanKind::Client as i32;
    let mut charge = span(
        TRACE,
        CHARGE,
        Some(CALL),
        "charge",
        (t0 + 2 * ms, t0 + 8 * ms),
    );
    charge.kind = span::SpanKind::Server as i32;
    charge.attributes = vec![
        kv("retry.count", Value::IntValue(2)),
        kv("amount", Value::DoubleValue(9.99)),
        kv(
            "cards",
            Value::ArrayValue(ArrayValue {
                values: vec![any(s("visa")), any(s("amex"))],
            }),
        ),
        kv("fraud.checked", Value::BoolValue(true)),
    ];
    charge.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "card declined".to_owned(),
    });
    charge.events = vec![span::Event {
        time_unix_nano: t0 + 7 * ms,
        name: "exception".to_owned(),
        attributes: vec![
            kv("exception.type", s("CardError")),
            kv("exception.message", s("declined")),
        ],
        ..Default::default()
    }];
    charge.links = vec![span::Link {
        trace_id: 0xABCu128.to_be_bytes().to_vec(),
        span_id: 0xDEFu64.to_be_bytes().to_vec(),
        ..Default::default()
    }];
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("frontend", vec![root, call]),
            resource_spans("backend", vec![charge]),
        ],
    }
}

/// Checks that the viewer shows [`checkout`]'s trace, as sent at `t0`.
async fn check_checkout(client: &Client, t0: u64) {
    let t0_us = i64::try_from(t0 / 1_000).unwrap();
    let (status, trace) = json(client, &format!("/_traces/api/traces/{TRACE_HEX}")).await;
    assert_eq!(status, HttpStatus::Ok, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    let column = |key: &str| -> Vec<Json> { spans.iter().map(|s| s[key].clone()).collect() };
    assert_eq!(
        column("operation"),
        [
            json!("GET /checkout"),
            json!("POST /charge"),
            json!("charge")
        ],
        "ordered by start"
    );
    let hex = |id: u64| json!(format!("{id:016x}"));
    assert_eq!(column("span_id"), [hex(ROOT), hex(CALL), hex(CHARGE)]);
    assert_eq!(
        column("parent_span_id"),
        [Json::Null, hex(ROOT), hex(CALL)],
        "the parent chain, across services"
    );
    assert_eq!(
        column("service"),
        [json!("frontend"), json!("frontend"), json!("backend")]
    );
    assert_eq!(column("error"), [json!(false), json!(false), json!(true)]);
    assert_eq!(
        column("start_us"),
        [json!(t0_us), json!(t0_us + 1_000), json!(t0_us + 2_000)]
    );
    assert_eq!(
        column("duration_us"),
        [json!(10_000), json!(8_000), json!(6_000)]
    );
    let kinds: Vec<Json> = spans
        .iter()
        .map(|s| {
            let tags = s["tags"].as_array().unwrap();
            let kind = tags.iter().find(|t| t["key"] == "span.kind").unwrap();
            kind["value"].clone()
        })
        .collect();
    assert_eq!(kinds, [json!("server"), json!("client"), json!("server")]);

    let root_tags = spans[0]["tags"].as_array().unwrap();
    for tag in [
        json!({"key": "http.request.method", "value": "GET"}),
        json!({"key": "http.response.status_code", "value": 200}),
        json!({"key": "otel.scope.name", "value": "checkout-instrumentation"}),
        json!({"key": "otel.scope.version", "value": "0.1.0"}),
    ] {
        assert!(root_tags.contains(&tag), "{tag} in {root_tags:?}");
    }
    assert!(
        !root_tags
            .iter()
            .any(|t| t["key"] == "telemetry.sdk.language"),
        "resource attributes are not tags"
    );
    assert_eq!(
        spans[2]["tags"],
        json!([
            {"key": "retry.count", "value": 2},
            {"key": "amount", "value": 9.99},
            {"key": "cards", "value": "[\"visa\",\"amex\"]"},
            {"key": "fraud.checked", "value": true},
            {"key": "span.kind", "value": "server"},
            {"key": "otel.scope.name", "value": "checkout-instrumentation"},
            {"key": "otel.scope.version", "value": "0.1.0"},
            {"key": "otel.status_code", "value": "ERROR"},
            {"key": "error", "value": true},
            {"key": "otel.status_description", "value": "card declined"},
        ])
    );
    assert_eq!(
        spans[2]["logs"],
        json!([{
            "timestamp_us": t0_us + 7_000,
            "fields": [
                {"key": "event", "value": "exception"},
                {"key": "exception.type", "value": "CardError"},
                {"key": "exception.message", "value": "declined"},
            ]
        }])
    );
    assert_eq!(
        spans[2]["references"],
        json!([
            {"kind": "child_of", "trace_id": TRACE_HEX, "span_id": hex(CALL)},
            {"kind": "follows_from", "trace_id": "0000000000000abc", "span_id": hex(0xDEF)},
        ])
    );

    // The trace list's summary.
    let (_, list) = json(client, "/_traces/api/traces").await;
    let summary = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["trace_id"] == TRACE_HEX)
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(summary["operation"], "GET /checkout");
    assert_eq!(summary["service"], "frontend");
    assert_eq!(summary["span_count"], 3);
    assert_eq!(summary["error"], true);
    assert_eq!(summary["duration_us"], 10_000);
    assert_eq!(summary["services"], json!(["backend", "frontend"]));
}

#[rocket::async_test]
async fn an_sdk_export_shows_in_the_viewer() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let t0 = now_ns();
    let answer = accepted(post_protobuf(&client, checkout(t0).encode_to_vec()).await).await;
    assert_eq!(answer.partial_success, None, "every span stored");
    check_checkout(&client, t0).await;
    // Content-Type parameters and case do not matter.
    let again = checkout(t0).encode_to_vec();
    let headers = [("Content-Type", "Application/X-Protobuf; charset=binary")];
    accepted(post(&client, again, &headers).await).await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[rocket::async_test]
async fn gzip_bodies_are_accepted_within_a_bound() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let t0 = now_ns();
    let body = gzip(&checkout(t0).encode_to_vec());
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "gzip"),
    ];
    accepted(post(&client, body, &headers).await).await;
    check_checkout(&client, t0).await;

    // Not gzip data.
    let response = post(&client, checkout(t0).encode_to_vec(), &headers).await;
    let message = refused(response, HttpStatus::BadRequest).await;
    assert!(message.contains("gzip"), "{message}");
    // A bomb: 16 MiB of zeros, a few KiB sent.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..16 {
        encoder.write_all(&vec![0; 1 << 20]).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let message = refused(
        post(&client, bomb, &headers).await,
        HttpStatus::PayloadTooLarge,
    )
    .await;
    assert!(message.contains("decompressed"), "{message}");
    // Other encodings.
    let headers = [
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "br"),
    ];
    let response = post(&client, checkout(t0).encode_to_vec(), &headers).await;
    let message = refused(response, HttpStatus::UnsupportedMediaType).await;
    assert!(message.contains("Content-Encoding"), "{message}");
}

#[rocket::async_test]
async fn only_protobuf_is_accepted() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let body = checkout(now_ns()).encode_to_vec();
    for headers in [
        &[("Content-Type", "application/json")][..],
        &[("Content-Type", "text/plain")],
        &[("Content-Type", "application/x-protobufs")],
        &[],
    ] {
        let response = post(&client, body.clone(), headers).await;
        assert_eq!(
            response.status(),
            HttpStatus::UnsupportedMediaType,
            "{headers:?}"
        );
        assert_eq!(response.content_type(), Some(ContentType::JSON));
        let answer: Json = from_str(&response.into_string().await.unwrap()).unwrap();
        let message = answer["message"].as_str().unwrap();
        assert_eq!(answer["code"], 3, "INVALID_ARGUMENT: {answer}");
        assert!(message.contains("application/x-protobuf"), "{message}");
        assert!(message.contains("JSON is not accepted"), "{message}");
    }
    let (_, list) = json(&client, "/_traces/api/traces").await;
    assert_eq!(list["spans"], 0, "nothing stored");
}

#[rocket::async_test]
async fn bodies_that_do_not_decode_are_refused() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    // Not protobuf; a body cut short.
    let message = refused(
        post_protobuf(&client, b"{\"resourceSpans\": []}".to_vec()).await,
        HttpStatus::BadRequest,
    )
    .await;
    assert!(
        message.starts_with("not an OTLP ExportTraceServiceRequest: "),
        "{message}"
    );
    let body = checkout(now_ns()).encode_to_vec();
    let cut = body[..body.len() - 3].to_vec();
    let message = refused(post_protobuf(&client, cut).await, HttpStatus::BadRequest).await;
    assert!(message.contains("byte"), "{message}");
    // Attribute values nested 1000 arrays deep.
    let mut value = AnyValue { value: None };
    for _ in 0..1000 {
        value = any(Value::ArrayValue(ArrayValue {
            values: vec![value],
        }));
    }
    let mut request = checkout(now_ns());
    request.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(KeyValue {
            key: "deep".to_owned(),
            value: Some(value),
            ..Default::default()
        });
    let message = refused(
        post_protobuf(&client, request.encode_to_vec()).await,
        HttpStatus::BadRequest,
    )
    .await;
    assert!(message.contains("nested deeper"), "{message}");
    // Over 1 MiB.
    let huge = vec![0u8; 1024 * 1024 + 1];
    let message = refused(
        post_protobuf(&client, huge).await,
        HttpStatus::PayloadTooLarge,
    )
    .await;
    assert!(message.contains("at most"), "{message}");
    let (_, list) = json(&client, "/_traces/api/traces").await;
    assert_eq!(list["spans"], 0, "nothing stored");
}

#[rocket::async_test]
async fn spans_with_invalid_ids_are_a_partial_success() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let t0 = now_ns();
    let kept = span(TRACE, ROOT, None, "kept", (t0, t0 + 1_000));
    let mut zero = span(TRACE, CALL, Some(ROOT), "zero trace id", (t0, t0 + 1_000));
    zero.trace_id = vec![0; 16];
    let mut short = span(
        TRACE,
        CHARGE,
        Some(ROOT),
        "8-byte trace id",
        (t0, t0 + 1_000),
    );
    short.trace_id.truncate(8);
    let request = ExportTraceServiceRequest {
        resource_spans: vec![resource_spans("svc", vec![kept, zero, short])],
    };
    let answer = accepted(post_protobuf(&client, request.encode_to_vec()).await).await;
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 2);
    assert!(partial.error_message.contains("16 bytes"), "{partial:?}");
    let (_, trace) = json(&client, &format!("/_traces/api/traces/{TRACE_HEX}")).await;
    assert_eq!(trace["spans"].as_array().unwrap().len(), 1);
    assert_eq!(trace["spans"][0]["operation"], "kept");
    // An empty request is a success too.
    let answer = accepted(post_protobuf(&client, Vec::new()).await).await;
    assert_eq!(answer.partial_success, None);
}

#[rocket::async_test]
async fn remote_clients_are_refused() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let body = checkout(now_ns()).encode_to_vec();
    let protobuf = [("Content-Type", "application/x-protobuf")];
    assert_eq!(
        post_from(&client, REMOTE, body.clone(), &protobuf)
            .await
            .status(),
        HttpStatus::NotFound
    );
    let relayed = post(
        &client,
        body.clone(),
        &[protobuf[0], ("X-Forwarded-For", "203.0.113.9")],
    )
    .await;
    assert_eq!(relayed.status(), HttpStatus::NotFound);
    let (_, list) = json(&client, "/_traces/api/traces").await;
    assert_eq!(list["spans"], 0, "nothing stored");

    let open = viewer_client(&agent, "viewer_loopback_only = false").await;
    accepted(post_from(&open, REMOTE, body, &protobuf).await).await;
}

#[rocket::async_test]
async fn an_exporter_reaches_a_running_server() {
    let agent = Agent::bind();
    let figment = common::server::figment()
        .merge(("opentracing.viewer", true))
        .merge(("opentracing.agent_port", agent.port()));
    let rocket = rocket::custom(figment).attach(OpenTracingFairing::from_config());
    let running = common::server::Server::launch(rocket).await;
    let viewer = format!("http://127.0.0.1:{}/_traces", running.port);

    // As an SDK's exporter configured with the endpoint
    // http://127.0.0.1:<port>/_traces/v1/traces and gzip compression.
    let t0 = now_ns();
    let response = reqwest::Client::new()
        .post(format!("{viewer}/v1/traces"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "gzip")
        .body(gzip(&checkout(t0).encode_to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = response.bytes().await.unwrap();
    let answer = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(answer.partial_success, None);

    let (status, trace) =
        common::viewer::get_json(&format!("{viewer}/api/traces/{TRACE_HEX}")).await;
    assert_eq!(status, 200, "{trace}");
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[2]["service"], "backend");
    assert_eq!(spans[2]["parent_span_id"], format!("{CALL:016x}").as_str());
    assert_eq!(spans[2]["error"], true);
    running.stop().await;
}
