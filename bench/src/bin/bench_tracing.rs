//! The `tracing` bridge's cost per span, for `bench/tracing`: one request
//! to a Rocket app whose handler creates, enters and closes S `tracing`
//! spans, under a `tracing-subscriber` registry alone, with a no-op layer or
//! with [`TracingLayer`], the request sampled or not.
//!
//! ```sh
//! bench_tracing --layer on --sampling all --spans 20000 --agent-port 6831
//! ```
//!
//! - `--layer on|noop|off`: the global subscriber is
//!   `tracing_subscriber::registry()` with `TracingLayer::new()` (`on`), with
//!   a layer that does nothing (`noop`: `tracing_subscriber::layer::Identity`,
//!   the cost of the registry under any layer, TracingLayer's baseline), or
//!   alone (`off`: the registry removes a closed span from its slab only
//!   under a layer, so that alone it skips that work, and keeps every
//!   closed span's slot);
//! - `--sampling all|none`: `OpenTracingFairing::from_config()` with a const
//!   sampler of 1 or 0, reporting to the agent at 127.0.0.1:`--agent-port`
//!   (compact Thrift over UDP, the default exporter);
//! - `--spans S`: `GET /spans/S`, a route mounted with
//!   `rocket_opentracing::instrument`, so that the handler runs inside its
//!   request's `tracing` span; it creates S spans
//!   `tracing::info_span!("child", i = i)`, each entered, exited and closed
//!   before the next (a layer turns each into a child span with one tag).
//!
//! The app is configured by Rocket's defaults and the settings above only
//! (no `Rocket.toml`, no `ROCKET_*` variables; `JAEGER_*` and `OTEL_*`
//! variables still apply, and `bench/tracing` unsets them). Rocket's log is
//! off once the app is ignited (the crate's settings line, logged while it
//! ignites, still shows on stdout). `queue_size` is at least S + 1, so that the burst of spans of the
//! one request, which the benchmark creates faster than any real handler,
//! is never dropped for want of room.
//!
//! After the response, the client is terminated: Rocket's shutdown, whose
//! fairing flushes the reporter (every span delivered to the agent). Then
//! it prints, on stdout:
//!
//! ```text
//! bench_tracing: layer=on sampling=all spans=S status=200 finished=N reported=N dropped=N failed=N batches=N
//! ```
//!
//! (the reporter's counters: with `TracingLayer` and the request sampled,
//! S + 1 spans, the children and the request span; sampled without it, 1;
//! unsampled, 0).

use rocket::config::LogLevel;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::local::blocking::Client;
use rocket::{get, routes};
use rocket_opentracing::{instrument, OpenTracingFairing, TracingLayer};
use tracing_subscriber::layer::{Identity, SubscriberExt};

/// The default capacity of the reporter's queue (`queue_size`).
const DEFAULT_QUEUE_SIZE: u64 = 10_000;

/// Creates `n` `tracing` spans, one after the other, each entered and
/// closed.
#[get("/spans/<n>")]
fn spans(n: u64) -> String {
    for i in 0..n {
        let span = tracing::info_span!("child", i = i);
        let _entered = span.enter();
        // Exited, then closed, at the end of the iteration.
    }
    n.to_string()
}

/// The layer on the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Off,
    Noop,
    On,
}

impl Layer {
    fn as_str(self) -> &'static str {
        match self {
            Layer::Off => "off",
            Layer::Noop => "noop",
            Layer::On => "on",
        }
    }
}

/// The settings of a run.
#[derive(Debug)]
struct Args {
    layer: Layer,
    sampled: bool,
    spans: u64,
    agent_port: u16,
}

const USAGE: &str =
    "usage: bench_tracing --layer on|noop|off --sampling all|none --spans S --agent-port PORT";

impl Args {
    fn parse() -> Result<Self, String> {
        let mut layer = None;
        let mut sampled = None;
        let mut spans = None;
        let mut agent_port = None;
        let mut args = std::env::args().skip(1);
        while let Some(name) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("bench_tracing: {name} needs a value\n{USAGE}"))?;
            let bad = || format!("bench_tracing: {name} {value:?}: not understood\n{USAGE}");
            match name.as_str() {
                "--layer" => {
                    layer = Some(match value.as_str() {
                        "on" => Layer::On,
                        "noop" => Layer::Noop,
                        "off" => Layer::Off,
                        _ => return Err(bad()),
                    })
                }
                "--sampling" => {
                    sampled = Some(match value.as_str() {
                        "all" => true,
                        "none" => false,
                        _ => return Err(bad()),
                    })
                }
                "--spans" => spans = Some(value.parse().map_err(|_| bad())?),
                "--agent-port" => agent_port = Some(value.parse().map_err(|_| bad())?),
                _ => return Err(format!("bench_tracing: unknown option {name}\n{USAGE}")),
            }
        }
        match (layer, sampled, spans, agent_port) {
            (Some(layer), Some(sampled), Some(spans), Some(agent_port)) => Ok(Args {
                layer,
                sampled,
                spans,
                agent_port,
            }),
            _ => Err(format!("bench_tracing: missing options\n{USAGE}")),
        }
    }
}

/// Rocket's defaults, its log off, and the tracing of `args`.
fn figment(args: &Args) -> Figment {
    let sampler_param = if args.sampled { 1.0 } else { 0.0 };
    Figment::from(rocket::Config::default())
        .merge(Serialized::default("log_level", LogLevel::Off))
        .merge(Serialized::default(
            "opentracing.service_name",
            "bench_tracing",
        ))
        .merge(Serialized::default("opentracing.mode", "all"))
        .merge(Serialized::default("opentracing.agent_host", "127.0.0.1"))
        .merge(Serialized::default(
            "opentracing.agent_port",
            args.agent_port,
        ))
        .merge(Serialized::default("opentracing.sampler_type", "const"))
        .merge(Serialized::default(
            "opentracing.sampler_param",
            sampler_param,
        ))
        .merge(Serialized::default(
            "opentracing.queue_size",
            DEFAULT_QUEUE_SIZE.max(args.spans + 1),
        ))
}

fn main() -> Result<(), String> {
    let args = Args::parse()?;
    let registry = tracing_subscriber::registry();
    let installed = match args.layer {
        Layer::On => tracing::subscriber::set_global_default(registry.with(TracingLayer::new())),
        Layer::Noop => tracing::subscriber::set_global_default(registry.with(Identity::new())),
        Layer::Off => tracing::subscriber::set_global_default(registry),
    };
    installed.map_err(|e| format!("bench_tracing: cannot install the subscriber: {e}"))?;

    let rocket = rocket::custom(figment(&args))
        .attach(OpenTracingFairing::from_config())
        .mount("/", instrument(routes![spans]));
    let client = Client::untracked(rocket).map_err(|e| format!("bench_tracing: {e}"))?;
    let response = client.get(format!("/spans/{}", args.spans)).dispatch();
    let status = response.status().code;
    let body = response.into_string().unwrap_or_default();
    if body != args.spans.to_string() {
        return Err(format!(
            "bench_tracing: unexpected answer {status} {body:?}"
        ));
    }
    // Rocket's shutdown: the fairing flushes the reporter.
    let rocket = client.terminate();
    let stats = OpenTracingFairing::reporter_stats_of(&rocket)
        .ok_or("bench_tracing: the fairing has no reporter")?;
    println!(
        "bench_tracing: layer={} sampling={} spans={} status={status} finished={} reported={} \
         dropped={} failed={} batches={}",
        args.layer.as_str(),
        if args.sampled { "all" } else { "none" },
        args.spans,
        stats.finished,
        stats.reported,
        stats.dropped,
        stats.failed,
        stats.batches
    );
    Ok(())
}
