//! The request record against the `rustracing` span: with the fairing's own
//! reporter (`from_config`) a plain request span is recorded without a
//! `rustracing` span; with a tracer of one's own it goes through one. The
//! same request, both ways, is decoded from the agent's datagrams by an
//! independent Thrift decoder (`thrift_codec`), and the two spans must be the
//! same in everything but what differs between two requests (span id, start
//! time, duration; the trace id of a new root).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::agent::{as_i64, as_string, as_structs, field, has_field, Agent};
use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_opentracing::reporter::{Reporter, ReporterConfig};
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};
use thrift_codec::data::{Data, Struct};

const FLUSH: Duration = Duration::from_millis(20);

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

#[get("/tagged")]
fn tagged(span: ActiveSpan<'_>) -> &'static str {
    span.set_tag("user.tag", 7);
    "tagged"
}

#[get("/fails")]
fn fails() -> rocket::http::Status {
    rocket::http::Status::ServiceUnavailable
}

/// How the request span is made.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// `OpenTracingFairing::from_config()`: the request record.
    Record,
    /// A tracer of one's own: a `rustracing` span.
    Span,
}

/// A client tracing as `path` says into `agent`.
async fn client(path: Path, agent: &Agent, extra: &str) -> Client {
    let toml = format!(
        "[default.opentracing]\nservice_name = \"svc\"\nagent_port = {}\nflush_interval_ms = {}\n{extra}",
        agent.port(),
        FLUSH.as_millis()
    );
    let fairing = match path {
        Path::Record => OpenTracingFairing::from_config(),
        Path::Span => {
            let mut config = ReporterConfig::new("svc");
            config.agent_port = agent.port();
            config.flush_interval = FLUSH;
            let reporter = Reporter::spawn(config).expect("the reporter starts");
            OpenTracingFairing::all(reporter.tracer(AllSampler)).with_reporter(reporter)
        }
    };
    common::client_with(&toml, fairing, routes![hello, tagged, fails]).await
}

/// The one span `GET uri` (from `peer`, with `headers`) is reported as.
async fn span_of(
    path: Path,
    uri: &str,
    peer: &str,
    headers: &[(&str, &str)],
    extra: &str,
) -> Struct {
    let agent = Agent::bind();
    let client = client(path, &agent, extra).await;
    let mut request = client.get(uri.to_owned());
    request = request.remote(peer.parse::<SocketAddr>().unwrap());
    for (name, value) in headers {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    request.dispatch().await;
    let batches = agent.receive(1, Duration::from_secs(10));
    let spans: Vec<Struct> = batches.into_iter().flat_map(|b| b.spans).collect();
    assert_eq!(spans.len(), 1, "{path:?}: one span for {uri}");
    assert!(agent.is_quiet(Duration::from_millis(100)), "no other span");
    spans.into_iter().next().unwrap()
}

/// A decoded span with what two requests cannot share taken out: the span
/// id (3), start time (8), duration (9) and log times, and the trace id
/// (1, 2) unless `same_trace`. References, tags and logs are kept in order.
fn comparable(span: &Struct, same_trace: bool) -> Vec<String> {
    let mut out = Vec::new();
    for f in span.fields() {
        match f.id() {
            3 | 8 | 9 => continue,
            1 | 2 if !same_trace => continue,
            6 if !same_trace => {
                // child_of the caller: only its kind and span id.
                for reference in as_structs(f.data()) {
                    out.push(format!(
                        "ref kind={:?} span={}",
                        field(reference, 1),
                        as_i64(field(reference, 4))
                    ));
                }
            }
            10 => {
                for tag in as_structs(f.data()) {
                    let value: Vec<String> = tag
                        .fields()
                        .iter()
                        .filter(|t| t.id() >= 2)
                        .map(|t| match t.data() {
                            Data::Binary(_) => as_string(t.data()),
                            other => format!("{other:?}"),
                        })
                        .collect();
                    out.push(format!("tag {} = {value:?}", as_string(field(tag, 1))));
                }
            }
            11 => {
                // Logs, without their times.
                for log in as_structs(f.data()) {
                    out.push(format!("log {:?}", field(log, 2)));
                }
            }
            _ => out.push(format!("field {} = {:?}", f.id(), f.data())),
        }
    }
    out
}

/// `GET uri` both ways decodes to the same span.
async fn assert_same(uri: &str, peer: &str, headers: &[(&str, &str)], same_trace: bool) -> Struct {
    assert_same_with(uri, peer, headers, same_trace, "").await
}

async fn assert_same_with(
    uri: &str,
    peer: &str,
    headers: &[(&str, &str)],
    same_trace: bool,
    extra: &str,
) -> Struct {
    let recorded = span_of(Path::Record, uri, peer, headers, extra).await;
    let traced = span_of(Path::Span, uri, peer, headers, extra).await;
    assert_eq!(
        comparable(&recorded, same_trace),
        comparable(&traced, same_trace),
        "{uri}: the request record and the rustracing span differ"
    );
    recorded
}

fn tag_names(span: &Struct) -> Vec<String> {
    as_structs(field(span, 10))
        .iter()
        .map(|tag| as_string(field(tag, 1)))
        .collect()
}

#[rocket::async_test]
async fn a_new_root_trace_is_the_same_both_ways() {
    let span = assert_same("/hello/world?x=1&y=2", "10.1.2.3:4567", &[], false).await;
    assert_eq!(
        tag_names(&span),
        [
            "span.kind",
            "component",
            "http.method",
            "http.url",
            "peer.ipv4",
            "peer.port",
            "http.status_code"
        ]
    );
    assert_eq!(as_i64(field(&span, 4)), 0, "a root span has no parent");
    assert!(!has_field(&span, 6), "nor references");
}

#[rocket::async_test]
async fn a_continued_trace_is_the_same_both_ways() {
    let headers = [(
        "uber-trace-id",
        "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1",
    )];
    let span = assert_same("/hello/there", "[2001:db8::1]:443", &headers, true).await;
    assert_eq!(as_i64(field(&span, 4)), 0x4094_23a2_04bc_17a8);
    assert_eq!(as_structs(field(&span, 6)).len(), 1, "child_of the caller");
    assert!(tag_names(&span).contains(&"peer.ipv6".to_owned()));
}

#[rocket::async_test]
async fn a_traceparent_with_debug_flags_and_a_not_found_are_the_same_both_ways() {
    let headers = [(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )];
    assert_same("/nowhere?secret=1", "192.0.2.7:1", &headers, true).await;
    let debug = [(
        "uber-trace-id",
        "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:3",
    )];
    let span = assert_same("/hello/debug", "192.0.2.7:1", &debug, true).await;
    assert_eq!(field(&span, 7), &Data::I32(3), "sampled and debug");
}

#[rocket::async_test]
async fn redacted_urls_server_errors_and_user_tags_are_the_same_both_ways() {
    let redact = "redact_query_params = [\"token\"]";
    assert_same_with("/hello/q?token=abc&x=1", "10.0.0.1:2", &[], false, redact).await;
    // These take a rustracing span on the fast path too.
    let failed = assert_same("/fails", "10.0.0.1:2", &[], false).await;
    assert!(has_field(&failed, 11), "the error log");
    let tagged = assert_same("/tagged", "10.0.0.1:2", &[], false).await;
    assert!(tag_names(&tagged).contains(&"user.tag".to_owned()));
}

#[rocket::async_test]
async fn a_span_whose_request_ends_without_a_response_is_still_reported() {
    let agent = Agent::bind();
    let toml = format!(
        "[default.opentracing]\nservice_name = \"svc\"\nagent_port = {}\nflush_interval_ms = 20\nmode = \"opt_in\"\n",
        agent.port()
    );
    let client =
        common::client_with(&toml, OpenTracingFairing::from_config(), routes![tagged]).await;
    {
        // The guard opens the span; the request is then dropped without
        // being dispatched (as when the runtime shuts down mid-request).
        let request = client.get("/tagged");
        let span = ActiveSpan::of(request.inner());
        assert!(span.is_sampled());
    }
    {
        // The same, the span built as a rustracing span by a tag.
        let request = client.get("/tagged");
        let span = ActiveSpan::of(request.inner());
        span.set_tag("touched", true);
    }
    let mut spans: Vec<Struct> = agent
        .receive(2, Duration::from_secs(10))
        .into_iter()
        .flat_map(|b| b.spans)
        .collect();
    assert_eq!(spans.len(), 2, "reported, not lost");
    let touched = spans
        .iter()
        .position(|span| tag_names(span).contains(&"touched".to_owned()))
        .expect("the touched span");
    let touched = spans.remove(touched);
    assert_eq!(as_string(field(&touched, 5)), "GET <unmatched>");
    assert!(!tag_names(&touched).contains(&"http.status_code".to_owned()));
    // The name it started with: the request was never routed.
    assert_eq!(as_string(field(&spans[0], 5)), "GET <unmatched>");
    let tags = tag_names(&spans[0]);
    assert_eq!(
        tags,
        [
            "span.kind",
            "component",
            "http.method",
            "http.url",
            "peer.ipv4",
            "peer.port"
        ][..tags.len()],
        "the request tags, no status"
    );
    assert!(!tags.contains(&"http.status_code".to_owned()));
}
