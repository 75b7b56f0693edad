//! The benchmark server: `GET /hello/<name>` answering `Hello, <name>!`, with
//! the tracing chosen by `BENCH_TRACING`:
//!
//! - `none`: no fairing attached (the baseline);
//! - `all`: every request traced and sampled, reported to the agent at
//!   `JAEGER_AGENT_HOST`/`JAEGER_AGENT_PORT` (default 127.0.0.1:6831);
//! - `all_no_header`: as `all`, without the `X-Trace-Id` response header
//!   (`trace_id_header = ""`), to show what that header costs;
//! - `all_otlp`: as `all`, exported over OTLP/HTTP (`exporter = "otlp"`) to
//!   the receiver whose base URL `BENCH_OTLP_ENDPOINT` gives (default
//!   `http://127.0.0.1:4318`; `otlp_endpoint`, `/v1/traces` appended);
//! - `unsampled`: the fairing attached, sampler const 0;
//! - `opt_in`: the opt-in fairing; `/hello/<name>` does not take
//!   `ActiveSpan`, so it is not traced.
//!
//! Every mode also mounts `GET /traced/<name>`, which takes `ActiveSpan`
//! (so that opt-in mode has a route that asks for the span, as a real app
//! would); the benchmark does not call it.
//!
//! ```sh
//! BENCH_TRACING=all ROCKET_PORT=8000 cargo run --release --example bench
//! ```
//!
//! The repository's `Rocket.toml` is not read (it turns on `log_spans`):
//! only Rocket's defaults, `ROCKET_*` variables (port, log level, workers),
//! `JAEGER_*` and `OTEL_*` variables apply (`bench/run` unsets the latter). On shutdown (Ctrl-C, SIGTERM) the
//! reporter's counters are printed on stderr, so that a benchmark can check
//! that every span was delivered. `bench/run` drives it.

use rocket::figment::providers::{Env, Serialized};
use rocket::figment::Figment;
use rocket::{get, routes};
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

#[get("/traced/<name>")]
fn traced(name: &str, span: ActiveSpan<'_>) -> String {
    span.set_tag("name", name.to_owned());
    format!("Hello, {name}!")
}

/// The tracing under test, from `BENCH_TRACING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tracing {
    None,
    All,
    AllNoHeader,
    AllOtlp,
    Unsampled,
    OptIn,
}

impl Tracing {
    fn from_env() -> Result<Self, String> {
        let value = std::env::var("BENCH_TRACING").unwrap_or_else(|_| "all".into());
        match value.as_str() {
            "none" => Ok(Tracing::None),
            "all" => Ok(Tracing::All),
            "all_no_header" => Ok(Tracing::AllNoHeader),
            "all_otlp" => Ok(Tracing::AllOtlp),
            "unsampled" => Ok(Tracing::Unsampled),
            "opt_in" => Ok(Tracing::OptIn),
            other => Err(format!(
                "BENCH_TRACING={other:?}: expected none, all, all_no_header, all_otlp, \
                 unsampled or opt_in"
            )),
        }
    }

    /// The `opentracing` settings of this mode: `mode`, `sampler_param`
    /// (of a const sampler) and `trace_id_header`; `None` for no fairing.
    fn section(self) -> Option<(&'static str, f64, &'static str)> {
        match self {
            Tracing::None => None,
            Tracing::All => Some(("all", 1.0, "X-Trace-Id")),
            Tracing::AllNoHeader => Some(("all", 1.0, "")),
            Tracing::AllOtlp => Some(("all", 1.0, "X-Trace-Id")),
            Tracing::Unsampled => Some(("all", 0.0, "X-Trace-Id")),
            Tracing::OptIn => Some(("opt_in", 1.0, "X-Trace-Id")),
        }
    }
}

/// The OTLP receiver's base URL in mode `all_otlp`.
const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4318";

/// Rocket's defaults and `ROCKET_*` variables, without `Rocket.toml`.
fn figment(tracing: Tracing) -> Figment {
    let mut figment = Figment::from(rocket::Config::default())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global());
    if tracing == Tracing::AllOtlp {
        let endpoint = std::env::var("BENCH_OTLP_ENDPOINT")
            .unwrap_or_else(|_| DEFAULT_OTLP_ENDPOINT.to_owned());
        figment = figment
            .merge(Serialized::default("opentracing.exporter", "otlp"))
            .merge(Serialized::default("opentracing.otlp_endpoint", endpoint));
    }
    match tracing.section() {
        None => figment,
        Some((mode, sampler_param, trace_id_header)) => figment
            .merge(Serialized::default("opentracing.service_name", "bench"))
            .merge(Serialized::default("opentracing.mode", mode))
            .merge(Serialized::default("opentracing.sampler_type", "const"))
            .merge(Serialized::default(
                "opentracing.sampler_param",
                sampler_param,
            ))
            .merge(Serialized::default(
                "opentracing.trace_id_header",
                trace_id_header,
            )),
    }
}

#[rocket::main]
async fn main() -> Result<(), String> {
    let tracing = Tracing::from_env()?;
    let mut rocket = rocket::custom(figment(tracing)).mount("/", routes![hello, traced]);
    if tracing != Tracing::None {
        rocket = rocket.attach(OpenTracingFairing::from_config());
    }
    let rocket = rocket.launch().await.map_err(|e| e.to_string())?;
    // After shutdown (the fairing has flushed the reporter): its counters.
    if let Some(stats) = OpenTracingFairing::reporter_stats_of(&rocket) {
        eprintln!(
            "bench: spans finished={} reported={} dropped={} failed={} batches={}",
            stats.finished, stats.reported, stats.dropped, stats.failed, stats.batches
        );
    }
    Ok(())
}
