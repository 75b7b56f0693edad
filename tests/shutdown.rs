//! Flush at shutdown on a real server: every span of every request that
//! completed, or was still in flight when graceful shutdown began, reaches
//! the agent before the server future returns.

mod common;

use std::time::Duration;

use common::agent::{span_name, Agent};
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{get, routes, Build, Rocket, Shutdown};
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

/// A server on an ephemeral port reporting to `agent`; spans leave only on
/// flushes (the flush interval is longer than the test).
fn rocket(agent: &Agent, port_tx: rocket::tokio::sync::oneshot::Sender<u16>) -> Rocket<Build> {
    let figment = Figment::from(rocket::Config::debug_default())
        .merge(("address", "127.0.0.1"))
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("opentracing.service_name", "shutdown-test"))
        .merge(("opentracing.agent_port", agent.port()))
        .merge(("opentracing.flush_interval_ms", 600_000));
    let port_tx = std::sync::Mutex::new(Some(port_tx));
    rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .attach(AdHoc::on_liftoff("port", move |rocket| {
            let port = rocket.config().port;
            Box::pin(async move {
                if let Some(tx) = port_tx.lock().unwrap().take() {
                    let _ = tx.send(port);
                }
            })
        }))
        .mount("/", routes![fast, slow])
}

/// Launches the server; returns its port, its shutdown handle and its task.
async fn launch(
    agent: &Agent,
) -> (
    u16,
    Shutdown,
    rocket::tokio::task::JoinHandle<Result<Rocket<rocket::Ignite>, rocket::Error>>,
) {
    let (port_tx, port_rx) = rocket::tokio::sync::oneshot::channel();
    let rocket = rocket(agent, port_tx).ignite().await.expect("ignites");
    let shutdown = rocket.shutdown();
    let server = rocket::tokio::spawn(rocket.launch());
    (port_rx.await.unwrap(), shutdown, server)
}

/// Shuts the server down; returns the stopped Rocket, which the tests keep
/// alive so that the reporter's own flush on drop cannot deliver anything:
/// only the shutdown fairing can.
async fn stop(
    shutdown: Shutdown,
    server: rocket::tokio::task::JoinHandle<Result<Rocket<rocket::Ignite>, rocket::Error>>,
) -> Rocket<rocket::Ignite> {
    shutdown.notify();
    let stopped = rocket::tokio::time::timeout(Duration::from_secs(20), server).await;
    match stopped
        .expect("the server stops in time")
        .expect("no panic")
    {
        Ok(rocket) => rocket,
        // Inspect the error (Rocket panics on dropping an uninspected one).
        Err(e) => panic!("the server failed: {:?}", e.kind()),
    }
}

#[rocket::async_test]
async fn a_burst_of_requests_then_shutdown_loses_nothing() {
    const REQUESTS: u32 = 2_000;
    const CLIENTS: u32 = 16;
    let agent = Agent::bind();
    let (port, shutdown, server) = launch(&agent).await;

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
    let _stopped = stop(shutdown, server).await;

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
    let (port, shutdown, server) = launch(&agent).await;

    let request = rocket::tokio::spawn(async move {
        let url = format!("http://127.0.0.1:{port}/slow");
        reqwest::get(url).await.unwrap().text().await.unwrap()
    });
    // Shutdown begins while /slow sleeps; Rocket lets it finish (grace).
    rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    let _stopped = stop(shutdown, server).await;
    assert_eq!(request.await.unwrap(), "slow");

    let batches = agent.receive(1, Duration::from_secs(10));
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| &b.spans)
        .map(span_name)
        .collect();
    assert_eq!(names, ["GET /slow"]);
}
