//! A real Rocket server on an ephemeral loopback port, for end-to-end tests.
#![allow(dead_code)]

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::tokio::task::JoinHandle;
use rocket::{Build, Ignite, Rocket, Shutdown};
use std::time::Duration;

/// Rocket's debug defaults on `127.0.0.1`, an ephemeral port, logging off.
pub fn figment() -> Figment {
    Figment::from(rocket::Config::debug_default())
        .merge(("address", "127.0.0.1"))
        .merge(("port", 0))
        .merge(("log_level", "off"))
}

/// A launched server.
pub struct Server {
    pub port: u16,
    pub shutdown: Shutdown,
    task: JoinHandle<Result<Rocket<Ignite>, rocket::Error>>,
}

impl Server {
    /// Ignites and launches `rocket`; returns once it listens.
    pub async fn launch(rocket: Rocket<Build>) -> Server {
        let (port_tx, port_rx) = rocket::tokio::sync::oneshot::channel();
        let port_tx = std::sync::Mutex::new(Some(port_tx));
        let rocket = rocket
            .attach(AdHoc::on_liftoff("port", move |rocket| {
                let port = rocket.config().port;
                Box::pin(async move {
                    if let Some(tx) = port_tx.lock().unwrap().take() {
                        let _ = tx.send(port);
                    }
                })
            }))
            .ignite()
            .await
            .expect("ignites");
        let shutdown = rocket.shutdown();
        let task = rocket::tokio::spawn(rocket.launch());
        Server {
            port: port_rx.await.unwrap(),
            shutdown,
            task,
        }
    }

    /// Shuts the server down gracefully; returns the stopped Rocket, so
    /// that a test can keep it (and its reporter) alive: then only the
    /// shutdown fairing can have delivered the spans, not the reporter's
    /// own flush on drop.
    pub async fn stop(self) -> Rocket<Ignite> {
        self.shutdown.notify();
        let stopped = rocket::tokio::time::timeout(Duration::from_secs(20), self.task).await;
        match stopped
            .expect("the server stops in time")
            .expect("no panic")
        {
            Ok(rocket) => rocket,
            // Inspect the error (Rocket panics on dropping an uninspected one).
            Err(e) => panic!("the server failed: {:?}", e.kind()),
        }
    }
}
