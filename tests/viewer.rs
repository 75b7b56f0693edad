//! The in-app trace viewer through Rocket: off by default, the JSON API over
//! the example server's routes, loopback-only access, its own requests not
//! traced, a custom mount point, the store's bound, and configuration errors.
#![cfg(feature = "viewer")]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::agent::Agent;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::{from_str, Value};
use rocket_opentracing::{Config, OpenTracingFairing};

/// The example server's own routes.
#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

const LOCAL: &str = "127.0.0.1:50000";
const REMOTE: &str = "192.0.2.7:50000";

/// A client for the example routes with the viewer on (plus `extra` keys
/// of the `opentracing` section), reporting to a stand-in agent.
async fn viewer_client(agent: &Agent, extra: &str) -> Client {
    let toml = format!(
        "[default.opentracing]\nviewer = true\nservice_name = \"example\"\nagent_port = {}\n\
         flush_interval_ms = 20\n{extra}",
        agent.port()
    );
    let rocket = common::rocket_with(&toml)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    Client::tracked(rocket).await.expect("rocket ignites")
}

async fn get_from<'c>(client: &'c Client, uri: &str, from: &str) -> LocalResponse<'c> {
    let remote: SocketAddr = from.parse().unwrap();
    client.get(uri.to_owned()).remote(remote).dispatch().await
}

async fn json(client: &Client, uri: &str) -> (Status, Value) {
    let response = get_from(client, uri, LOCAL).await;
    let status = response.status();
    assert_eq!(response.content_type(), Some(ContentType::JSON), "{uri}");
    let body = response.into_string().await.unwrap();
    (status, from_str(&body).unwrap())
}

/// The trace list once it holds `spans` spans (the reporter's batcher feeds
/// the store within its tick).
async fn wait_for_spans(client: &Client, spans: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, list) = json(client, "/_traces/api/traces").await;
        assert_eq!(status, Status::Ok);
        if list["spans"].as_u64() == Some(spans) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "{spans} spans never stored: {list}"
        );
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn trace_ids(list: &Value) -> Vec<&str> {
    list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect()
}

#[rocket::async_test]
async fn the_viewer_is_off_by_default() {
    let agent = Agent::bind();
    let toml = format!("[default.opentracing]\nagent_port = {}", agent.port());
    assert!(!Config::default().viewer);
    let rocket = common::rocket_with(&toml)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    let client = Client::tracked(rocket).await.unwrap();
    assert_eq!(
        get_from(&client, "/hello/a", LOCAL).await.status(),
        Status::Ok
    );
    for uri in ["/_traces", "/_traces/", "/_traces/api/traces"] {
        assert_eq!(
            get_from(&client, uri, LOCAL).await.status(),
            Status::NotFound,
            "{uri}"
        );
    }
}

#[rocket::async_test]
async fn the_json_api_serves_the_traces_of_the_example_routes() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let work = get_from(&client, "/work", LOCAL).await;
    assert_eq!(work.status(), Status::Ok);
    let work_id = work.headers().get_one("X-Trace-Id").unwrap().to_owned();
    assert_eq!(
        get_from(&client, "/error", LOCAL).await.status(),
        Status::InternalServerError
    );
    assert_eq!(
        get_from(&client, "/hello/bob", LOCAL).await.status(),
        Status::Ok
    );

    let list = wait_for_spans(&client, 6).await;
    // Alongside the reporter, not instead of it: the agent got them too.
    let batches = agent.receive(6, Duration::from_secs(10));
    assert_eq!(batches.iter().map(|b| b.spans.len()).sum::<usize>(), 6);
    assert_eq!(list["max_spans"], 10_000);
    assert_eq!(list["evicted"], 0);
    let traces = list["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 3, "{list}");
    // Newest first.
    assert_eq!(traces[0]["operation"], "GET /hello/<name>");
    assert_eq!(traces[2]["operation"], "GET /work");
    let work = &traces[2];
    assert_eq!(
        work["trace_id"],
        work_id.as_str(),
        "the id the response header gave"
    );
    assert_eq!(work["span_count"], 4);
    assert_eq!(work["error"], true, "its cache.refresh span failed");
    assert_eq!(work["status_code"], 200);
    assert_eq!(work["service"], "example");
    assert_eq!(work["services"], rocket::serde::json::json!(["example"]));
    assert!(work["duration_us"].as_i64().unwrap() >= 4_000, "{work}");
    assert!(work["start_us"].as_i64().unwrap() > 1_600_000_000_000_000);
    assert_eq!(traces[1]["status_code"], 500);
    assert_eq!(traces[1]["error"], true);
    assert_eq!(traces[0]["error"], false);

    // One trace, by the id of the response header.
    let (status, trace) = json(&client, &format!("/_traces/api/traces/{work_id}")).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(trace["trace_id"], work_id.as_str());
    let spans = trace["spans"].as_array().unwrap();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["GET /work", "load", "db.query", "cache.refresh"],
        "ordered by start"
    );
    let id = |i: usize| spans[i]["span_id"].as_str().unwrap();
    assert_eq!(spans[0]["parent_span_id"], Value::Null);
    assert_eq!(spans[1]["parent_span_id"], id(0));
    assert_eq!(spans[2]["parent_span_id"], id(1));
    assert_eq!(spans[3]["parent_span_id"], id(0));
    assert!(spans.iter().all(|s| s["trace_id"] == work_id.as_str()));
    assert_eq!(
        spans[1]["references"],
        rocket::serde::json::json!([{"kind": "child_of", "trace_id": work_id, "span_id": id(0)}])
    );
    let errors: Vec<bool> = spans
        .iter()
        .map(|s| s["error"].as_bool().unwrap())
        .collect();
    assert_eq!(errors, [false, false, false, true]);
    let tags = spans[2]["tags"].as_array().unwrap();
    assert!(tags.contains(&rocket::serde::json::json!({"key": "db.type", "value": "sql"})));
    assert!(tags.contains(&rocket::serde::json::json!({"key": "db.rows", "value": 3})));
    let log = &spans[3]["logs"][0];
    assert!(log["timestamp_us"].as_i64().unwrap() >= spans[3]["start_us"].as_i64().unwrap());
    assert!(log["fields"]
        .as_array()
        .unwrap()
        .contains(&rocket::serde::json::json!({"key": "event", "value": "error"})));
    let root_tags = spans[0]["tags"].as_array().unwrap();
    assert!(
        root_tags.contains(&rocket::serde::json::json!({"key": "http.status_code", "value": 200}))
    );

    // Upper-case and short forms of the id find it too.
    let upper = work_id.to_ascii_uppercase();
    assert_eq!(
        json(&client, &format!("/_traces/api/traces/{upper}"))
            .await
            .0,
        Status::Ok
    );

    // Unknown and malformed ids.
    let (status, body) = json(&client, "/_traces/api/traces/abcdef").await;
    assert_eq!(status, Status::NotFound);
    assert!(
        body["error"].as_str().unwrap().contains("no such trace"),
        "{body}"
    );
    let (status, body) = json(&client, "/_traces/api/traces/not-hex").await;
    assert_eq!(status, Status::BadRequest);
    assert!(body["error"].is_string());
}

#[rocket::async_test]
async fn the_list_filters_by_operation_error_and_duration() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let id_of =
        |response: &LocalResponse<'_>| response.headers().get_one("X-Trace-Id").unwrap().to_owned();
    let work = id_of(&get_from(&client, "/work", LOCAL).await);
    let error = id_of(&get_from(&client, "/error", LOCAL).await);
    let hello = id_of(&get_from(&client, "/hello/x", LOCAL).await);
    wait_for_spans(&client, 6).await;

    let list = |query: &'static str| {
        let client = &client;
        async move { json(client, &format!("/_traces/api/traces?{query}")).await }
    };
    let ids = |(status, body): (Status, Value)| {
        assert_eq!(status, Status::Ok, "{body}");
        trace_ids(&body)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(list("error=true").await),
        [error.as_str(), work.as_str()]
    );
    assert_eq!(ids(list("error=false").await), [hello.as_str()]);
    assert_eq!(
        ids(list("operation=DB.QUERY").await),
        [work.as_str()],
        "any span, any case"
    );
    assert_eq!(ids(list("operation=%2Fhello").await), [hello.as_str()]);
    assert_eq!(
        ids(list("min_duration_ms=3.5").await),
        [work.as_str()],
        "/work sleeps 4 ms"
    );
    assert_eq!(ids(list("limit=1").await), [hello.as_str()]);
    assert_eq!(
        ids(list("operation=&error=&min_duration_ms=").await).len(),
        3,
        "blank: no filter"
    );
    for bad in [
        "error=maybe",
        "min_duration_ms=-1",
        "min_duration_ms=soon",
        "limit=0",
    ] {
        let (status, body) = list(bad).await;
        assert_eq!(status, Status::BadRequest, "{bad}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
}

#[rocket::async_test]
async fn only_loopback_clients_without_proxy_headers_may_use_it() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let uri = "/_traces/api/traces";
    assert_eq!(get_from(&client, uri, LOCAL).await.status(), Status::Ok);
    assert_eq!(
        get_from(&client, uri, "[::1]:4000").await.status(),
        Status::Ok
    );
    assert_eq!(
        get_from(&client, uri, REMOTE).await.status(),
        Status::NotFound
    );
    assert_eq!(
        get_from(&client, uri, "[2001:db8::1]:4000").await.status(),
        Status::NotFound
    );
    // No peer address (e.g. a Unix socket): refused.
    assert_eq!(client.get(uri).dispatch().await.status(), Status::NotFound);
    // A loopback peer relaying someone else's request: refused.
    for (name, value) in [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Real-IP", "127.0.0.1"),
        ("Forwarded", "for=203.0.113.9"),
        ("X-Forwarded-Host", "example.com"),
    ] {
        let response = client
            .get(uri)
            .remote(LOCAL.parse().unwrap())
            .header(Header::new(name, value))
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::NotFound, "{name}");
    }
    // The application itself is unaffected.
    assert_eq!(
        get_from(&client, "/hello/x", REMOTE).await.status(),
        Status::Ok
    );

    let open = viewer_client(&agent, "viewer_loopback_only = false").await;
    assert_eq!(get_from(&open, uri, REMOTE).await.status(), Status::Ok);
}

#[rocket::async_test]
async fn requests_to_the_viewer_are_not_traced() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    get_from(&client, "/hello/x", LOCAL).await;
    wait_for_spans(&client, 1).await;
    for uri in [
        "/_traces",
        "/_traces/",
        "/_traces/api/traces",
        "/_traces/api/traces/1",
        "/_traces/nowhere",
        "//_traces//api/traces",
        "/%5Ftraces/api/traces",
    ] {
        let response = get_from(&client, uri, LOCAL).await;
        assert_eq!(response.headers().get_one("X-Trace-Id"), None, "{uri}");
        // Refused ones neither.
        let response = get_from(&client, uri, REMOTE).await;
        assert_eq!(response.headers().get_one("X-Trace-Id"), None, "{uri}");
    }
    // A path that only starts like the viewer's is the application's.
    let response = get_from(&client, "/_tracesx", LOCAL).await;
    assert!(response.headers().get_one("X-Trace-Id").is_some());
    // Give the batcher time to store any span, then count.
    rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    let list = wait_for_spans(&client, 2).await;
    let operations: Vec<&str> = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["GET <unmatched>", "GET /hello/<name>"]);
}

#[rocket::async_test]
async fn the_viewer_can_be_mounted_elsewhere() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "viewer_path = \"/dev/traces/\"").await;
    get_from(&client, "/hello/x", LOCAL).await;
    assert_eq!(
        get_from(&client, "/dev/traces/api/traces", LOCAL)
            .await
            .status(),
        Status::Ok
    );
    assert_eq!(
        get_from(&client, "/_traces/api/traces", LOCAL)
            .await
            .status(),
        Status::NotFound
    );
    let response = get_from(&client, "/dev/traces/api/traces", LOCAL).await;
    assert_eq!(response.headers().get_one("X-Trace-Id"), None, "not traced");
}

#[rocket::async_test]
async fn the_store_keeps_the_most_recent_spans() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "viewer_max_spans = 5").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let response = get_from(&client, &format!("/hello/{i}"), LOCAL).await;
        ids.push(response.headers().get_one("X-Trace-Id").unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let list = loop {
        let (_, list) = json(&client, "/_traces/api/traces").await;
        if list["evicted"] == 7 || Instant::now() > deadline {
            break list;
        }
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(list["spans"], 5, "{list}");
    assert_eq!(list["max_spans"], 5);
    assert_eq!(list["evicted"], 7);
    let newest: Vec<&str> = ids.iter().rev().take(5).map(String::as_str).collect();
    assert_eq!(trace_ids(&list), newest);
    let (status, _) = json(&client, &format!("/_traces/api/traces/{}", ids[0])).await;
    assert_eq!(status, Status::NotFound, "evicted");
}

#[rocket::async_test]
async fn bad_viewer_settings_refuse_ignition() {
    for bad in [
        "viewer_path = \"/\"",
        "viewer_path = \"traces\"",
        "viewer_path = \"/a/<b>\"",
        "viewer_path = \"/a b\"",
        "viewer_path = \"/a//b\"",
        "viewer_path = \"\"",
        "viewer_max_spans = 0",
    ] {
        common::assert_refuses_ignition(&format!("[default.opentracing]\nviewer = true\n{bad}"))
            .await;
    }
    common::assert_refuses_ignition("[default.opentracing]\nviewer = \"yes\"").await;
}

#[test]
fn a_bad_viewer_setting_is_named() {
    use rocket::figment::providers::{Format, Toml};
    use rocket::figment::Figment;
    for (toml, key) in [
        ("viewer_path = \"/\"", "opentracing.viewer_path"),
        ("viewer_max_spans = 0", "opentracing.viewer_max_spans"),
    ] {
        let figment = Figment::from(Toml::string(&format!("[opentracing]\n{toml}")));
        let error = Config::from_figment_and_env(&figment, |_| None).unwrap_err();
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[rocket::async_test]
async fn the_collector_endpoint_takes_what_a_reporter_sends() {
    use rocket_opentracing::reporter::{Reporter, ReporterConfig};
    use rocket_opentracing::rustracing::sampler::AllSampler;

    let agent = Agent::bind();
    let figment = common::server::figment()
        .merge(("opentracing.viewer", true))
        .merge(("opentracing.agent_port", agent.port()));
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    let running = common::server::Server::launch(rocket).await;
    let url = format!("http://127.0.0.1:{}/_traces/api/traces", running.port);

    // Another process' reporter, pointed at the viewer.
    let mut config = ReporterConfig::new("other-service");
    config.endpoint = Some(url.clone());
    let (trace_id, parent_id) = rocket::tokio::task::spawn_blocking(|| {
        let reporter = Reporter::spawn(config).unwrap();
        let tracer = reporter.tracer(AllSampler);
        let ids = {
            let parent = tracer.span("remote-parent").start();
            let _child = tracer.span("remote-child").child_of(&parent).start();
            let state = parent.context().unwrap().state();
            (state.trace_id().to_string(), state.span_id())
        };
        assert!(reporter.flush(Duration::from_secs(10)));
        let stats = reporter.stats();
        assert_eq!((stats.reported, stats.failed), (2, 0), "{stats:?}");
        ids
    })
    .await
    .unwrap();

    let (_, trace) = common::viewer::get_json(&format!("{url}/{trace_id}")).await;
    let http = reqwest::Client::new();
    let spans = trace["spans"].as_array().expect("the trace is stored");
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["operation"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["remote-parent", "remote-child"]);
    assert!(spans.iter().all(|s| s["service"] == "other-service"));
    assert_eq!(
        spans[1]["parent_span_id"],
        format!("{parent_id:016x}").as_str()
    );

    // Not a batch, and too large a body.
    let response = http.post(&url).body("not thrift").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = from_str(&response.text().await.unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("jaeger.thrift"),
        "{body}"
    );
    let huge = vec![0u8; 1024 * 1024 + 1];
    let response = http.post(&url).body(huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
    running.stop().await;
}

#[rocket::async_test]
async fn the_collector_endpoint_refuses_remote_clients() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "").await;
    let post = |from: &'static str| {
        client
            .post("/_traces/api/traces")
            .remote(from.parse().unwrap())
            .body(b"x".as_slice())
            .dispatch()
    };
    assert_eq!(post(REMOTE).await.status(), Status::NotFound);
    assert_eq!(
        post(LOCAL).await.status(),
        Status::BadRequest,
        "admitted, but not a batch"
    );
}

#[rocket::async_test]
async fn hostile_span_data_is_escaped_on_the_pages() {
    let agent = Agent::bind();
    let client = viewer_client(&agent, "traced_attributes = [\"user_agent\"]").await;
    let hostile = "\"><script>alert(1)</script><img src=x onerror=alert(2)>'&";
    let response = client
        .get("/hello/%3Cscript%3Ealert(3)%3C%2Fscript%3E")
        .remote(LOCAL.parse().unwrap())
        .header(Header::new("User-Agent", hostile))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let id = response.headers().get_one("X-Trace-Id").unwrap().to_owned();
    wait_for_spans(&client, 1).await;

    let list = get_from(&client, "/_traces/?operation=%3Cscript%3E", LOCAL).await;
    assert_eq!(list.content_type(), Some(ContentType::HTML));
    let csp = list
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let list = list.into_string().await.unwrap();
    let trace = get_from(&client, &format!("/_traces/trace/{id}"), LOCAL).await;
    assert_eq!(trace.status(), Status::Ok);
    let trace = trace.into_string().await.unwrap();
    for page in [&list, &trace] {
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        // (" onerror=" stays as text, harmless inside the escaped "&lt;img".)
    }
    // The values are there, escaped.
    assert!(
        trace.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{trace}"
    );
    assert!(
        trace.contains("/hello/%3Cscript%3Ealert(3)"),
        "the URL, as received"
    );
    assert!(
        list.contains("&lt;script&gt;"),
        "the filter value, echoed escaped"
    );
    // The unknown trace page and the lookup of a hostile id.
    let missing = get_from(&client, "/_traces/trace/%3Cb%3Ex", LOCAL).await;
    assert_eq!(missing.status(), Status::NotFound);
    assert!(!missing.into_string().await.unwrap().contains("<b>x"));
    let lookup = get_from(&client, "/_traces/?id=%22%3E%3Cscript%3E", LOCAL).await;
    assert_eq!(
        lookup.status(),
        Status::Ok,
        "an invalid id is shown, not followed"
    );
    assert!(!lookup.into_string().await.unwrap().contains("<script"));
}

#[rocket::async_test]
async fn the_viewer_shows_spans_the_reporter_could_not_deliver() {
    // No collector behind the endpoint, and room for one queued span: the
    // reporter drops or fails them all, the viewer still shows every one.
    let toml = format!(
        "[default.opentracing]\nviewer = true\nqueue_size = 1\nflush_interval_ms = 20\n\
         endpoint = \"http://127.0.0.1:{}/api/traces\"",
        common::closed_port()
    );
    let rocket = common::rocket_with(&toml)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes());
    let client = Client::tracked(rocket).await.expect("rocket ignites");
    for i in 0..5 {
        get_from(&client, &format!("/hello/{i}"), LOCAL).await;
    }
    let list = wait_for_spans(&client, 5).await;
    assert_eq!(trace_ids(&list).len(), 5);
    let stats = OpenTracingFairing::reporter_stats_of(client.rocket()).unwrap();
    assert_eq!(stats.reported, 0, "{stats:?}");
}
