//! Integration tests of delivery to a Jaeger HTTP collector (a minimal HTTP
//! server on loopback standing in for it), and of the queue bound.
#![cfg(feature = "collector")]

mod common;

use common::agent::*;
use common::collector::{Answer, Collector};
use common::reporting::{assert_accounted, spawn, without_timer};
use rocket_opentracing::reporter::{CollectorAuth, Reporter, ReporterConfig};
use rustracing::tag::Tag;
use rustracing_jaeger::Tracer;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};
use thrift_codec::data::Data;

const SERVICE: &str = "collector-test";
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

fn config(endpoint: String) -> ReporterConfig {
    let mut config = without_timer(ReporterConfig::new(SERVICE));
    config.endpoint = Some(endpoint);
    config
}

fn finish_span(tracer: &Tracer, name: String) {
    let _span = tracer
        .span(name)
        .tag(Tag::new("http.status_code", 200i64))
        .start();
}

fn names(batches: &[Batch]) -> Vec<String> {
    all_spans(batches).into_iter().map(span_name).collect()
}

#[test]
fn spans_are_posted_as_binary_thrift() {
    let collector = Collector::bind();
    let mut config = config(collector.endpoint());
    config
        .process_tags
        .push(("deployment".to_owned(), "test".to_owned()));
    let (reporter, tracer) = spawn(config);
    assert_eq!(reporter.destination(), collector.endpoint());
    for name in ["alpha", "beta", "gamma"] {
        finish_span(&tracer, name.to_owned());
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let requests = collector.receive(3, RECEIVE_TIMEOUT);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/traces");
    assert_eq!(request.header("content-type"), Some("application/x-thrift"));
    assert_eq!(request.header("authorization"), None);
    let batch = request.batch();
    assert_eq!(batch.service_name(), SERVICE);
    assert_eq!(batch.process_tag("deployment").as_deref(), Some("test"));
    assert_eq!(
        batch.process_tag("jaeger.version"),
        Some(format!("rocket_opentracing-{}", env!("CARGO_PKG_VERSION")))
    );
    assert!(batch.process_tag("ip").is_some());
    assert_eq!(names(&[batch]), ["alpha", "beta", "gamma"]);
    let batch = request.batch();
    assert_eq!(
        field(span_tag(&batch.spans[0], "http.status_code"), 6),
        &Data::I64(200)
    );

    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.batches), (3, 1), "{stats:?}");
    assert_accounted(stats, 3);
}

#[test]
fn credentials_are_sent_as_configured() {
    let collector = Collector::bind();
    let mut basic = config(collector.endpoint());
    basic.auth = Some(CollectorAuth::Basic {
        user: "tracer".to_owned(),
        password: "s3cret".to_owned(),
    });
    let (reporter, tracer) = spawn(basic);
    finish_span(&tracer, "basic".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));
    let mut bearer = config(collector.endpoint());
    bearer.auth = Some(CollectorAuth::Bearer("t0ken".to_owned()));
    let (reporter, tracer) = spawn(bearer);
    finish_span(&tracer, "bearer".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let requests = collector.receive(2, RECEIVE_TIMEOUT);
    assert_eq!(requests.len(), 2);
    // base64("tracer:s3cret")
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic dHJhY2VyOnMzY3JldA==")
    );
    assert_eq!(requests[1].header("authorization"), Some("Bearer t0ken"));
}

#[test]
fn server_errors_are_retried_until_the_collector_recovers() {
    let collector = Collector::bind();
    collector.script([
        Answer::Status(503),
        Answer::Status(500),
        Answer::Status(429),
    ]);
    let (reporter, tracer) = spawn(config(collector.endpoint()));
    for i in 0..5 {
        finish_span(&tracer, format!("retried-{i}"));
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let requests = collector.receive(5, RECEIVE_TIMEOUT);
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 500, 429, 202]);
    // The same batch each time.
    assert!(requests.windows(2).all(|w| w[0].body == w[1].body));
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.failed, stats.batches), (5, 0, 1));
    assert_accounted(stats, 5);
}

#[test]
fn client_errors_are_counted_not_retried() {
    let collector = Collector::bind();
    collector.script([Answer::Status(400)]);
    let (reporter, tracer) = spawn(config(collector.endpoint()));
    for i in 0..4 {
        finish_span(&tracer, format!("refused-{i}"));
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));
    finish_span(&tracer, "accepted".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let requests = collector.receive(1, RECEIVE_TIMEOUT);
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 202]);
    assert_eq!(names(&[requests[1].batch()]), ["accepted"]);
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.failed), (1, 4), "{stats:?}");
    assert_accounted(stats, 5);
}

#[test]
fn delivery_resumes_when_a_down_collector_comes_back() {
    // A port with nobody listening: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/api/traces");
    let (reporter, tracer) = spawn(config(endpoint));
    finish_span(&tracer, "while-down".to_owned());
    // Ship the batch; its first attempt is refused and it waits to retry.
    assert!(!reporter.flush(Duration::from_millis(100)));

    let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else {
        eprintln!("port {port} taken meanwhile: skipped");
        return;
    };
    let collector = Collector::on(listener);
    assert!(reporter.flush(FLUSH_TIMEOUT));
    let requests = collector.receive(1, RECEIVE_TIMEOUT);
    assert_eq!(names(&[requests[0].batch()]), ["while-down"]);
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.failed), (1, 0), "{stats:?}");
}

/// Waits until the reporter has received `spans` spans.
fn wait_finished(reporter: &Reporter, spans: u64) {
    let deadline = Instant::now() + RECEIVE_TIMEOUT;
    while reporter.stats().finished < spans {
        assert!(Instant::now() < deadline, "{:?}", reporter.stats());
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_full_queue_drops_and_counts_exactly() {
    let collector = Collector::bind();
    collector.script([Answer::Stall]);
    let mut config = config(collector.endpoint());
    config.queue_size = 10;
    let (reporter, tracer) = spawn(config);

    for i in 0..10 {
        finish_span(&tracer, format!("queued-{i}"));
    }
    // Ship the batch of 10; the collector holds the request: the queue is full.
    assert!(!reporter.flush(Duration::from_millis(50)));
    for i in 0..90 {
        finish_span(&tracer, format!("dropped-{i}"));
    }
    wait_finished(&reporter, 100);
    let stats = reporter.stats();
    assert_eq!(
        (stats.dropped, stats.reported, stats.pending()),
        (90, 0, 10),
        "{stats:?}"
    );

    collector.release();
    assert!(reporter.flush(FLUSH_TIMEOUT));
    // Room again: new spans are accepted.
    finish_span(&tracer, "after".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let requests = collector.receive(11, RECEIVE_TIMEOUT);
    let batches: Vec<Batch> = requests.iter().map(|r| r.batch()).collect();
    let mut expected: Vec<String> = (0..10).map(|i| format!("queued-{i}")).collect();
    expected.push("after".to_owned());
    assert_eq!(names(&batches), expected);
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.dropped, stats.failed), (11, 90, 0));
    assert_accounted(stats, 101);
}

#[test]
fn a_burst_then_drop_delivers_every_span() {
    const SPANS: usize = 3_000;
    let collector = Collector::bind();
    let (reporter, tracer) = spawn(config(collector.endpoint()));
    for i in 0..SPANS {
        finish_span(&tracer, format!("burst-{i}"));
    }
    let dropped = thread::spawn(move || drop(reporter));
    let requests = collector.receive(SPANS, RECEIVE_TIMEOUT);
    let batches: Vec<Batch> = requests.iter().map(|r| r.batch()).collect();
    let expected: Vec<String> = (0..SPANS).map(|i| format!("burst-{i}")).collect();
    assert_eq!(names(&batches), expected);
    for request in &requests {
        assert!(request.body.len() <= rocket_opentracing::reporter::MAX_COLLECTOR_BATCH_SIZE);
    }
    dropped.join().expect("dropping the reporter");
}

#[test]
fn https_endpoints_speak_tls_without_touching_the_process_default() {
    // A TCP listener standing in for an HTTPS collector: it records the
    // first bytes the reporter sends and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(RECEIVE_TIMEOUT))
            .expect("read timeout");
        let mut header = [0u8; 6];
        std::io::Read::read_exact(&mut stream, &mut header).expect("a TLS record header");
        header
    });
    let (reporter, tracer) = spawn(config(format!("https://127.0.0.1:{port}/api/traces")));
    finish_span(&tracer, "over-tls".to_owned());
    // The handshake fails (the stand-in hangs up), so the batch waits to be
    // retried.
    assert!(!reporter.flush(Duration::from_millis(500)));
    let header = first_bytes.join().unwrap();
    // A TLS handshake record (type 22, version 3.x) carrying a ClientHello
    // (handshake type 1): the collector's client speaks TLS.
    assert_eq!((header[0], header[1], header[5]), (22, 3, 1), "{header:?}");
    // The crypto provider was chosen for this client alone; the process
    // default stays the application's to install.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let stats = reporter.stats();
    assert_eq!((stats.finished, stats.reported), (1, 0), "{stats:?}");
}

#[test]
fn the_applications_own_reqwest_clients_are_unaffected() {
    // This crate enables no TLS feature of reqwest: a reqwest client of the
    // application's (here one without TLS) builds, rather than panicking
    // for want of a rustls crypto provider.
    assert!(reqwest::blocking::Client::builder().build().is_ok());
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}
