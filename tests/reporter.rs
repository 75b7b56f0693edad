//! Integration tests of the UDP reporter against a fake Jaeger agent (a UDP
//! socket on the loopback interface), using the public API only.

mod common;

use common::agent::*;
use common::reporting::{assert_accounted, spawn, without_timer};
use rocket::get;
use rocket_opentracing::{Limits, OpenTracingFairing};

const DEFAULT_MAX_TAG_VALUE_LENGTH: usize = Limits::DEFAULT.max_tag_value_length;
const DEFAULT_MAX_LOGS_PER_SPAN: usize = Limits::DEFAULT.max_logs_per_span;
use rocket_opentracing::reporter::{ReporterConfig, ReporterStats, MAX_DATAGRAM_SIZE};
use rustracing::sampler::AllSampler;
use rustracing::tag::Tag;
use rustracing_jaeger::Tracer;
use std::collections::HashSet;
use std::io;
use std::net::UdpSocket;
use std::thread;
use std::time::Duration;
use thrift_codec::data::Data;

const SERVICE: &str = "reporter-test";
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

fn config(port: u16) -> ReporterConfig {
    let mut config = without_timer(ReporterConfig::new(SERVICE));
    config.agent_port = port;
    config
}

fn finish_span(tracer: &Tracer, name: String) {
    let _span = tracer.span(name).tag(Tag::new("test", true)).start();
}

#[test]
fn a_few_spans_arrive_intact() {
    let agent = Agent::bind();
    let mut config = config(agent.port());
    config
        .process_tags
        .push(("deployment".to_owned(), "test".to_owned()));
    let (reporter, tracer) = spawn(config);
    assert_eq!(reporter.destination(), format!("udp://{}", agent.addr));

    for name in ["alpha", "beta", "gamma"] {
        let _span = tracer
            .span(name)
            .tag(Tag::new("http.status_code", 200i64))
            .start();
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let batches = agent.receive(3, RECEIVE_TIMEOUT);
    assert_eq!(batches.len(), 1, "{batches:?}");
    let batch = &batches[0];
    assert_eq!(batch.service_name(), SERVICE);
    assert_eq!(batch.process_tag("deployment").as_deref(), Some("test"));
    assert_eq!(
        batch.process_tag("jaeger.version"),
        Some(format!("rocket_opentracing-{}", env!("CARGO_PKG_VERSION")))
    );
    let names: Vec<String> = batch.spans.iter().map(span_name).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    for span in &batch.spans {
        assert_eq!(
            field(span_tag(span, "http.status_code"), 6),
            &Data::I64(200)
        );
        assert_eq!(field(span, 7), &Data::I32(1)); // sampled
    }
    let stats = reporter.stats();
    assert_eq!((stats.reported, stats.batches), (3, 1), "{stats:?}");
    assert_accounted(stats, 3);
    let ip = batch.process_tag("ip").expect("an ip process tag");
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    assert!(batch.process_tag("hostname").is_some());
    assert!(agent.is_quiet(Duration::from_millis(100)));
}

/// Linux's count of datagrams dropped because a receive buffer was full.
fn kernel_udp_drops() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp:"));
    let names = udp.next()?.split_whitespace();
    let values = udp.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
}

/// Sends `spans` spans as fast as possible and receives them.
fn burst(spans: usize) -> (Vec<Batch>, ReporterStats) {
    let agent = Agent::bind();
    let (reporter, _) = spawn(config(agent.port()));
    // A tracer built from the raw sender works the same.
    let tracer = Tracer::with_sender(AllSampler, reporter.span_sender());
    for i in 0..spans {
        let _span = tracer
            .span(format!("burst-{i}"))
            .tag(Tag::new("http.method", "GET"))
            .tag(Tag::new(
                "http.url",
                "/some/fairly/typical/path?with=a&query=string",
            ))
            .start();
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));
    // Flushed: every datagram was sent; what has not arrived soon was lost.
    let batches = agent.receive(spans, Duration::from_secs(2));
    assert!(
        agent.is_quiet(Duration::from_millis(100)),
        "extra datagrams"
    );
    (batches, reporter.stats())
}

#[test]
fn a_burst_is_delivered_exactly_in_full_datagrams() {
    const SPANS: usize = 3_000;
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let drops_before = kernel_udp_drops();
        let (batches, stats) = burst(SPANS);
        let received: usize = batches.iter().map(|b| b.spans.len()).sum();
        // The agent's receive buffer may overflow on a loaded machine; that
        // (and only that) is worth another attempt.
        let kernel_dropped = kernel_udp_drops() > drops_before;
        if received < SPANS && kernel_dropped && attempt < ATTEMPTS {
            eprintln!("attempt {attempt}: the kernel dropped datagrams; retrying");
            continue;
        }
        check_burst(SPANS, &batches, stats);
        return;
    }
}

fn check_burst(spans: usize, batches: &[Batch], stats: ReporterStats) {
    let names: Vec<String> = all_spans(batches).into_iter().map(span_name).collect();
    assert_eq!(
        names.len(),
        spans,
        "{stats:?}, {} datagrams received",
        batches.len()
    );
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), spans, "duplicated spans");
    for i in 0..spans {
        assert!(unique.contains(&format!("burst-{i}")), "burst-{i} missing");
    }

    assert!(batches.len() < spans / 10, "{} datagrams", batches.len());
    for batch in batches {
        assert!(batch.size <= MAX_DATAGRAM_SIZE, "{} bytes", batch.size);
    }
    // Every datagram but the last is (nearly) full.
    for batch in &batches[..batches.len() - 1] {
        assert!(batch.size > MAX_DATAGRAM_SIZE - 500, "{} bytes", batch.size);
    }

    assert_eq!(stats.reported, spans as u64);
    assert_eq!(stats.batches, batches.len() as u64);
    assert_accounted(stats, spans as u64);
}

#[test]
fn spans_are_sent_within_the_limits() {
    let agent = Agent::bind();
    let (reporter, tracer) = spawn(config(agent.port()));

    let huge_value = "x".repeat(100 * 1024);
    {
        let mut span = tracer
            .span("chatty")
            .tag(Tag::new("payload", huge_value.clone()))
            .tag(Tag::new("exact", "y".repeat(DEFAULT_MAX_TAG_VALUE_LENGTH)))
            .start();
        for i in 0..1_000 {
            span.log(|log| {
                log.field(("message", format!("log {i}")));
            });
        }
    }
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let batches = agent.receive(1, RECEIVE_TIMEOUT);
    let spans = all_spans(&batches);
    let chatty = spans[0];
    let payload = as_string(field(span_tag(chatty, "payload"), 3));
    assert_eq!(
        payload,
        format!(
            "{}...[truncated]",
            &huge_value[..DEFAULT_MAX_TAG_VALUE_LENGTH]
        )
    );
    let exact = as_string(field(span_tag(chatty, "exact"), 3));
    assert_eq!(exact.len(), DEFAULT_MAX_TAG_VALUE_LENGTH, "not cut");
    let Data::List(logs) = field(chatty, 11) else {
        panic!("no logs")
    };
    assert_eq!(logs.len(), DEFAULT_MAX_LOGS_PER_SPAN);
    assert_eq!(
        field(span_tag(chatty, "rocket_opentracing.dropped_logs"), 6),
        &Data::I64(1_000 - DEFAULT_MAX_LOGS_PER_SPAN as i64)
    );

    // Within the limits, nothing was trimmed to fit a datagram.
    let stats = reporter.stats();
    assert_eq!(stats.reported, 1);
    assert_eq!(stats.trimmed, 0);
    assert_accounted(stats, 1);
}

#[test]
fn oversized_spans_are_trimmed_or_dropped() {
    let agent = Agent::bind();
    // No limits: only the datagram's size bounds a span.
    let mut config = config(agent.port());
    config.max_tag_value_length = usize::MAX;
    config.max_logs_per_span = usize::MAX;
    let (reporter, tracer) = spawn(config);

    let huge_value = "x".repeat(100 * 1024);
    {
        let mut span = tracer
            .span("huge-tag")
            .tag(Tag::new("payload", huge_value.clone()))
            .start();
        for i in 0..100 {
            span.log(|log| {
                log.field(("message", format!("log {i}")));
            });
        }
    }
    {
        let mut span = tracer.span("many-logs").start();
        for i in 0..3_000 {
            span.log(|log| {
                log.field(("message", format!("a log line that is not that short {i}")));
            });
        }
    }
    {
        // Thousands of tags cannot be trimmed enough: dropped.
        let mut span = tracer.span("too-many-tags").start();
        span.set_tags(|| (0..6_000).map(|i| Tag::new(format!("tag-{i}"), i as i64)));
    }
    finish_span(&tracer, "normal".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));

    let batches = agent.receive(3, RECEIVE_TIMEOUT);
    for batch in &batches {
        assert!(batch.size <= MAX_DATAGRAM_SIZE, "{} bytes", batch.size);
    }
    let spans = all_spans(&batches);
    let names: Vec<String> = spans.iter().map(|s| span_name(s)).collect();
    assert_eq!(names, ["huge-tag", "many-logs", "normal"]);

    let huge = spans[0];
    assert!(!has_field(huge, 11), "logs of huge-tag were kept");
    let payload = as_string(field(span_tag(huge, "payload"), 3));
    let kept = payload
        .strip_suffix("...[truncated]")
        .unwrap_or_else(|| panic!("no truncation marker: {payload:?}"));
    assert_eq!(kept, &huge_value[..1024]);

    let many_logs = spans[1];
    assert!(!has_field(many_logs, 11), "logs of many-logs were kept");
    assert_eq!(
        field(span_tag(many_logs, "rocket_opentracing.dropped_logs"), 6),
        &Data::I64(3_000)
    );

    let stats = reporter.stats();
    assert_eq!(stats.reported, 3);
    assert_eq!(stats.too_large, 1);
    assert_eq!(stats.failed, 1, "a span too large to send is a failure");
    assert_eq!(stats.trimmed, 2);
    assert_accounted(stats, 4);
}

/// A local UDP port with nobody listening on it.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn survives_an_agent_outage() {
    let port = free_port();
    let (reporter, tracer) = spawn(config(port));
    let mut sent = 0u64;

    // ICMP "port unreachable" on loopback is reported right after the send.
    for i in 0..5 {
        finish_span(&tracer, format!("lost-{i}"));
        sent += 1;
        assert!(reporter.flush(FLUSH_TIMEOUT), "reporter thread is stuck");
    }
    let stats = reporter.stats();
    // On loopback the refusal is normally there right after each send; on a
    // loaded machine one may arrive late and fail the next send instead.
    assert!(stats.failed >= 1, "{stats:?}");
    assert_eq!(stats.failed + stats.reported, 5, "{stats:?}");

    // The agent comes back on the same port: delivery resumes by itself.
    let agent = match UdpSocket::bind(("127.0.0.1", port)) {
        Ok(socket) => Agent::on(socket),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return, // port taken meanwhile
        Err(e) => panic!("cannot rebind the agent: {e}"),
    };
    let mut delivered = None;
    for i in 0..20 {
        finish_span(&tracer, format!("back-{i}"));
        sent += 1;
        assert!(reporter.flush(FLUSH_TIMEOUT), "reporter thread is stuck");
        if let Some(batch) = agent.receive(1, Duration::from_millis(500)).first() {
            delivered = Some(span_name(&batch.spans[0]));
            break;
        }
    }
    let delivered = delivered.expect("no span delivered after the agent came back");
    assert!(delivered.starts_with("back-"), "{delivered}");
    assert_accounted(reporter.stats(), sent);
}

#[test]
fn dropping_the_reporter_sends_pending_spans_without_hanging() {
    let agent = Agent::bind();
    let (reporter, tracer) = spawn(config(agent.port()));
    for i in 0..10 {
        finish_span(&tracer, format!("pending-{i}"));
    }

    // The tracer (holding a span sender) outlives the reporter.
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        drop(reporter);
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "dropping the reporter hung"
    );

    let batches = agent.receive(10, RECEIVE_TIMEOUT);
    let names: Vec<String> = all_spans(&batches).into_iter().map(span_name).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("pending-{i}")).collect();
    assert_eq!(names, expected);

    // Spans finished after the reporter is gone are not sent (they are
    // counted: see `late_spans_are_counted_until_the_last_tracer_goes`).
    finish_span(&tracer, "after-drop".to_owned());
    assert!(agent.is_quiet(Duration::from_millis(200)));
}

/// Waits until `done` holds, for at most `RECEIVE_TIMEOUT`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + RECEIVE_TIMEOUT;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn late_spans_are_counted_until_the_last_tracer_goes() {
    let agent = Agent::bind();
    let (reporter, tracer) = spawn(config(agent.port()));
    let sender = reporter.span_sender();
    let stats = reporter.stats_handle();
    finish_span(&tracer, "in-time".to_owned());
    drop(reporter);
    assert_eq!(all_spans(&agent.receive(1, RECEIVE_TIMEOUT)).len(), 1);
    assert_accounted(stats.stats(), 1);
    assert!(stats.is_receiving(), "tracers are left");

    // Late spans, from the tracer and from another thread's tracer.
    for i in 0..3 {
        finish_span(&tracer, format!("late-{i}"));
    }
    thread::spawn(move || {
        let tracer = Tracer::with_sender(AllSampler, sender);
        finish_span(&tracer, "late-elsewhere".to_owned());
    })
    .join()
    .unwrap();
    wait_until("4 late spans", || stats.stats().late == 4);
    let counted = stats.stats();
    assert_eq!((counted.reported, counted.dropped), (1, 4), "{counted:?}");
    assert_accounted(counted, 5);
    assert!(
        agent.is_quiet(Duration::from_millis(100)),
        "late spans are not sent"
    );

    // The thread ends with the last tracer (the other thread's is gone).
    assert!(stats.is_receiving());
    drop(tracer);
    wait_until("the batcher thread ends", || !stats.is_receiving());
    assert_accounted(stats.stats(), 5);
}

#[test]
fn pending_spans_are_sent_every_flush_interval() {
    let agent = Agent::bind();
    let mut config = config(agent.port());
    config.flush_interval = Duration::from_millis(50);
    config.log_spans = true;
    let (reporter, tracer) = spawn(config);

    finish_span(&tracer, "periodic".to_owned());
    // No explicit flush: the timer sends it.
    let batches = agent.receive(1, RECEIVE_TIMEOUT);
    let names: Vec<String> = all_spans(&batches).into_iter().map(span_name).collect();
    assert_eq!(names, ["periodic"]);
    // The counters are updated right after the send: sync with the thread.
    assert!(reporter.flush(FLUSH_TIMEOUT));
    assert_eq!(reporter.stats().reported, 1);
}

#[test]
fn flush_with_nothing_pending_sends_nothing() {
    let agent = Agent::bind();
    let (reporter, _tracer) = spawn(config(agent.port()));
    assert!(reporter.flush(FLUSH_TIMEOUT));
    assert!(agent.is_quiet(Duration::from_millis(100)));
    assert_eq!(reporter.stats(), ReporterStats::default());
    assert_eq!(reporter.stats().pending(), 0);
}

#[test]
fn reports_to_an_ipv6_agent() {
    let Ok(socket) = UdpSocket::bind("[::1]:0") else {
        eprintln!("IPv6 loopback unavailable: skipped");
        return;
    };
    let agent = Agent::on(socket);
    let mut config = config(agent.port());
    config.agent_host = "::1".to_owned();
    let (reporter, tracer) = spawn(config);
    assert_eq!(
        reporter.destination(),
        format!("udp://::1:{}", agent.port())
    );

    finish_span(&tracer, "over-ipv6".to_owned());
    assert!(reporter.flush(FLUSH_TIMEOUT));
    let batches = agent.receive(1, RECEIVE_TIMEOUT);
    let names: Vec<String> = all_spans(&batches).into_iter().map(span_name).collect();
    assert_eq!(names, ["over-ipv6"]);
}

#[get("/owned")]
fn owned() -> &'static str {
    "owned"
}

/// The app built in a function of its own, as `#[launch]` does: the
/// reporter would be dropped on return if the fairing did not keep it.
fn app_with_own_reporter(port: u16) -> rocket::Rocket<rocket::Build> {
    let (reporter, tracer) = spawn(config(port));
    common::rocket()
        .attach(OpenTracingFairing::all(tracer).with_reporter(reporter))
        .mount("/", rocket::routes![owned])
}

#[rocket::async_test]
async fn the_fairing_keeps_a_given_reporter_for_the_apps_lifetime() {
    let agent = Agent::bind();
    let client = rocket::local::asynchronous::Client::tracked(app_with_own_reporter(agent.port()))
        .await
        .expect("rocket ignites");
    for _ in 0..3 {
        let response = client.get("/owned").dispatch().await;
        assert_eq!(response.status(), rocket::http::Status::Ok);
    }
    // The batcher counts the spans as it receives them.
    let deadline = std::time::Instant::now() + RECEIVE_TIMEOUT;
    loop {
        let stats =
            OpenTracingFairing::reporter_stats_of(client.rocket()).expect("an owned reporter");
        if stats.finished == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        thread::sleep(Duration::from_millis(5));
    }
    // Shutting the app down drops the fairing and with it the reporter,
    // which flushes: every span arrives.
    drop(client);
    let batches = agent.receive(3, RECEIVE_TIMEOUT);
    let names: Vec<String> = all_spans(&batches).into_iter().map(span_name).collect();
    assert_eq!(names, ["GET /owned", "GET /owned", "GET /owned"]);
}
