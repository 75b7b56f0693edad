//! Flush at shutdown on a real server: every span of every request that
//! completed, or was still in flight when graceful shutdown began, reaches
//! the agent before the server future returns.

mod common;

use std::time::Duration;

use common::agent::{span_name, Agent};
use common::server::{self, Server};
use rocket::{get, routes};
use rocket_opentracing::OpenTracingFairing;

#[get("/fast/<n>")]
fn fast(n: u32) -> String {
    n.to_string()
}

#[get("/slow")]
async fn slow() -> &'static str {
    rocket::tokio::time::sleep(Duration::from_millis(800)).await;
    "slow"
}

/// A server reporting to `agent`; spans leave only on flushes (the flush
/// interval is longer than the test).
async fn launch(agent: &Agent) -> Server {
    let figment = server::figment()
        .merge(("opentracing.service_name", "shutdown-test"))
        .merge(("opentracing.agent_port", agent.port()))
        .merge(("opentracing.flush_interval_ms", 600_000));
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .mount("/", routes![fast, slow]);
    Server::launch(rocket).await
}

#[rocket::async_test]
async fn a_burst_of_requests_then_shutdown_loses_nothing() {
    const REQUESTS: u32 = 2_000;
    const CLIENTS: u32 = 16;
    let agent = Agent::bind();
    let server = launch(&agent).await;
    let port = server.port;

    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = client.clone();
        tasks.push(rocket::tokio::spawn(async move {
            for n in (c..REQUESTS).step_by(CLIENTS as usize) {
                let url = format!("http://127.0.0.1:{port}/fast/{n}");
                let body = client.get(url).send().await.unwrap().text().await.unwrap();
                assert_eq!(body, n.to_string());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    drop(client);
    let _stopped = server.stop().await;

    let batches = agent.receive(REQUESTS as usize, Duration::from_secs(10));
    let spans: usize = batches.iter().map(|b| b.spans.len()).sum();
    assert_eq!(spans, REQUESTS as usize);
    assert!(batches
        .iter()
        .flat_map(|b| &b.spans)
        .all(|s| span_name(s) == "GET /fast/<n>"));
    assert!(
        agent.is_quiet(Duration::from_millis(100)),
        "extra datagrams"
    );
}

#[rocket::async_test]
async fn a_request_in_flight_at_shutdown_is_delivered() {
    let agent = Agent::bind();
    let server = launch(&agent).await;
    let port = server.port;

    let request = rocket::tokio::spawn(async move {
        let url = format!("http://127.0.0.1:{port}/slow");
        reqwest::get(url).await.unwrap().text().await.unwrap()
    });
    // Shutdown begins while /slow sleeps; Rocket lets it finish (grace).
    rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    let _stopped = server.stop().await;
    assert_eq!(request.await.unwrap(), "slow");

    let batches = agent.receive(1, Duration::from_secs(10));
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| &b.spans)
        .map(span_name)
        .collect();
    assert_eq!(names, ["GET /slow"]);
}
