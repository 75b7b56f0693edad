//! Reading a running server's trace viewer over HTTP (its JSON API).
#![allow(dead_code)]

use rocket::serde::json::{from_str, Value};
use std::time::{Duration, Instant};

/// `GET {url}` as JSON, with its status.
pub async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (
        status,
        from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

/// The spans of trace `id` from the viewer at `viewer` (e.g.
/// `http://127.0.0.1:8000/_traces`), once it holds `spans` of them (the
/// reporter's batcher feeds the store within its tick); panics after 10 s.
pub async fn wait_for_trace(viewer: &str, id: &str, spans: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, trace) = get_json(&format!("{viewer}/api/traces/{id}")).await;
        if status == 200 && trace["spans"].as_array().unwrap().len() == spans {
            return trace["spans"].as_array().unwrap().clone();
        }
        assert!(
            Instant::now() < deadline,
            "trace {id} never had {spans} spans: {trace}"
        );
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
