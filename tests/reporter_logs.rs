//! What the reporter logs when spans are lost, read through a capturing
//! logger: with nobody listening, one clear warning naming the destination
//! and the settings that change it, then rate-limited summaries; and a
//! warning about spans finished after the reporter was dropped.

mod common;

use common::agent::Agent;
use common::logs;
use common::reporting::{assert_accounted, spawn};
use log::Level;
use rocket_opentracing::reporter::{Reporter, ReporterConfig};
use rustracing_jaeger::Tracer;
use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A local UDP port with nobody listening on it.
fn closed_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A configuration whose flush timer (and so the warning check) runs often.
fn config() -> ReporterConfig {
    let mut config = ReporterConfig::new("reporter-logs-test");
    config.flush_interval = Duration::from_millis(20);
    config
}

fn finish_span(tracer: &Tracer, name: &str) {
    let _span = tracer.span(name.to_owned()).start();
}

/// Finishes spans until one could not be delivered (on loopback a refusal
/// normally fails the datagram it answers, on a loaded machine the next
/// one); returns how many were finished.
fn finish_until_one_fails(reporter: &Reporter, tracer: &Tracer) -> u64 {
    let mut finished = 0;
    while reporter.stats().failed == 0 {
        assert!(finished < 50, "no delivery failed: {:?}", reporter.stats());
        finish_span(tracer, "lost");
        finished += 1;
        assert!(reporter.flush(TIMEOUT));
    }
    finished
}

/// The number in "… N spans{marker}" or "… 1 span{marker}".
fn count_before(text: &str, marker: &str) -> u64 {
    let head = &text[..text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {text}"))];
    let words: Vec<&str> = head.split(' ').collect();
    words[words.len() - 2]
        .parse()
        .unwrap_or_else(|_| panic!("a count before {marker:?} in {text}"))
}

/// Asserts that `text` contains each of `expected`.
fn assert_contains_all<'a>(text: &str, expected: impl IntoIterator<Item = &'a str>) {
    for expected in expected {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
}

/// The warnings so far that contain `needle`.
fn warnings(needle: &str) -> Vec<String> {
    logs::messages(Level::Warn, needle)
}

#[test]
fn no_agent_means_one_clear_warning_then_counted_summaries() {
    logs::install();
    let port = closed_udp_port();
    let destination = format!("127.0.0.1:{port}");
    let mut config = config();
    config.agent_port = port;
    let (reporter, tracer) = spawn(config);

    let mut finished = finish_until_one_fails(&reporter, &tracer);
    let first = logs::wait_for(Level::Warn, &destination, 1, TIMEOUT);
    assert_eq!(first.len(), 1, "{first:#?}");
    let advice = &first[0];
    let failed_at = format!("cannot deliver spans to the Jaeger agent at {destination} (UDP): ");
    assert_contains_all(
        advice,
        [
            failed_at.as_str(),
            "refused",
            "`agent_host`/`agent_port` (JAEGER_AGENT_HOST/JAEGER_AGENT_PORT)",
            "`endpoint` (JAEGER_ENDPOINT)",
            "`disabled = true` (JAEGER_DISABLED=true)",
            "`log_spans = true`",
        ],
    );

    // More failures within 10 s: counted, not logged.
    for _ in 0..5 {
        finish_span(&tracer, "lost-again");
        finished += 1;
        assert!(reporter.flush(TIMEOUT));
    }
    // The batcher checks for losses at least every flush interval (20 ms).
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        warnings(&destination).len(),
        1,
        "{:#?}",
        warnings(&destination)
    );
    let stats = reporter.stats();
    assert!(stats.failed >= 2, "{stats:?}");
    assert_accounted(stats, finished);

    // Dropping the reporter sums up what was not warned about yet.
    let stats_handle = reporter.stats_handle();
    drop(reporter);
    let all = warnings(&destination);
    assert_eq!(all.len(), 2, "{all:#?}");
    let failed = stats_handle.stats().failed;
    let warned_first = count_before(advice, " not delivered;");
    let summary = &all[1];
    assert!(
        summary.contains(&format!(
            "rocket_opentracing reporter: {} more {} could not be delivered to the Jaeger agent at \
             {destination} (UDP) ({failed} failed in all; last error: ",
            failed - warned_first,
            if failed - warned_first == 1 {
                "span"
            } else {
                "spans"
            },
        )),
        "{summary} after {advice}"
    );
    assert_accounted(stats_handle.stats(), finished);
    drop(tracer);
}

#[test]
fn with_log_spans_on_the_warning_says_spans_still_show_locally() {
    logs::install();
    let port = closed_udp_port();
    let mut config = config();
    config.agent_port = port;
    config.log_spans = true;
    let (reporter, tracer) = spawn(config);
    finish_until_one_fails(&reporter, &tracer);
    let first = logs::wait_for(Level::Warn, &format!("127.0.0.1:{port}"), 1, TIMEOUT);
    assert_eq!(first.len(), 1, "{first:#?}");
    assert!(
        first[0].contains("spans still show in this log (`log_spans` is on)"),
        "{}",
        first[0]
    );
    assert!(!first[0].contains("log_spans = true"), "{}", first[0]);
}

#[test]
#[cfg(feature = "collector")]
fn no_collector_means_one_warning_naming_its_url_without_credentials() {
    logs::install();
    let port = common::closed_port();
    let mut config = config();
    config.endpoint = Some(format!("http://tracer:s3cret@127.0.0.1:{port}/api/traces"));
    let (reporter, tracer) = spawn(config);
    finish_span(&tracer, "lost");
    // Refused connections are retried 4 times (about 3 s) before counting.
    assert!(reporter.flush(Duration::from_secs(30)));
    let url = format!("http://127.0.0.1:{port}/api/traces");
    let first = logs::wait_for(Level::Warn, &url, 1, TIMEOUT);
    assert_eq!(first.len(), 1, "{first:#?}");
    let advice = &first[0];
    let failed_at = format!("cannot deliver spans to the Jaeger collector at {url}: ");
    assert_contains_all(
        advice,
        [
            failed_at.as_str(),
            "1 span not delivered",
            "set `endpoint` (JAEGER_ENDPOINT)",
            "`disabled = true` (JAEGER_DISABLED=true)",
        ],
    );
    assert!(
        !advice.contains("s3cret") && !advice.contains("tracer:"),
        "{advice}"
    );
    assert_accounted(reporter.stats(), 1);
}

#[test]
fn spans_finished_after_the_reporter_is_dropped_are_warned_about() {
    logs::install();
    const LATE: &str = "finished after the Reporter was dropped";
    let agent = Agent::bind();
    let mut config = config();
    config.agent_port = agent.port();
    let (reporter, tracer) = spawn(config);
    let stats = reporter.stats_handle();
    drop(reporter);

    finish_span(&tracer, "late");
    let first = logs::wait_for(Level::Warn, LATE, 1, TIMEOUT);
    assert_eq!(
        first,
        [
            "rocket_opentracing reporter: 1 span finished after the Reporter was dropped: keep the Reporter \
          alive for the app's lifetime (OpenTracingFairing::with_reporter); they were not \
          delivered (1 span in all)"
        ]
    );

    // More within 10 s: counted, warned about when the last tracer goes.
    finish_span(&tracer, "later");
    finish_span(&tracer, "latest");
    let deadline = Instant::now() + TIMEOUT;
    while stats.stats().late < 3 {
        assert!(Instant::now() < deadline, "{:?}", stats.stats());
        thread::sleep(Duration::from_millis(2));
    }
    thread::sleep(Duration::from_millis(50));
    assert_eq!(warnings(LATE).len(), 1);
    drop(tracer);
    let all = logs::wait_for(Level::Warn, LATE, 2, TIMEOUT);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[1].starts_with(
            "rocket_opentracing reporter: 2 spans finished after the Reporter was dropped"
        ) && all[1].ends_with("(3 spans in all)"),
        "{}",
        all[1]
    );
    assert!(!stats.is_receiving());
    assert_accounted(stats.stats(), 3);
    assert_eq!((stats.stats().late, stats.stats().dropped), (3, 3));
}
