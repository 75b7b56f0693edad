//! Helpers for the reporter tests: a reporter with a tracer, and the
//! accounting check.
#![allow(dead_code)]

use rocket_opentracing::reporter::{Reporter, ReporterConfig, ReporterStats};
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::rustracing_jaeger::Tracer;
use std::time::Duration;

/// `config` with a flush interval long enough never to trigger in a test
/// that does not want it.
pub fn without_timer(mut config: ReporterConfig) -> ReporterConfig {
    config.flush_interval = Duration::from_secs(600);
    config
}

/// A reporter and a tracer sampling everything into it.
pub fn spawn(config: ReporterConfig) -> (Reporter, Tracer) {
    let reporter = Reporter::spawn(config).expect("spawn the reporter");
    let tracer = reporter.tracer(AllSampler);
    (reporter, tracer)
}

/// Every one of `spans` finished spans is counted exactly once.
pub fn assert_accounted(stats: ReporterStats, spans: u64) {
    assert_eq!(stats.finished, spans, "{stats:?}");
    assert_eq!(
        stats.reported + stats.dropped + stats.failed,
        spans,
        "{stats:?}"
    );
}
