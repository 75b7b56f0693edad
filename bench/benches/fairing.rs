//! Per-request cost of the fairing: `GET /hello/<name>` dispatched through
//! Rocket's blocking local client (no network), with each tracing mode.
//!
//! - `none`: no fairing attached (the baseline the others compare to);
//! - `all_sampled`: `OpenTracingFairing::all`, every request sampled;
//! - `all_unsampled`: the same fairing with sampler const 0, set through
//!   `opentracing.sampler_type`/`sampler_param` (nothing sampled, no span
//!   sent);
//! - `opt_in_untraced`: `OpenTracingFairing::opt_in` on a route that does not
//!   take `ActiveSpan` (no span at all);
//! - `opt_in_traced`: the opt-in fairing on a route that does take it;
//! - `all_uber_trace_id` / `all_traceparent`: a sampled request continuing a
//!   caller's trace from a Jaeger or a W3C header.
//!
//! Finished spans go to an unbounded channel drained by a thread of its own,
//! as they would to the reporter's batcher. The repository's `Rocket.toml`
//! is not read: each Rocket is built from Rocket's debug defaults, logging
//! off, and the `opentracing.*` keys set here.
//!
//! ```sh
//! cargo bench --bench fairing
//! ```

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::blocking::Client;
use rocket::{get, routes, Build, Rocket};
use rocket_opentracing::rustracing::sampler::AllSampler;
use rocket_opentracing::rustracing_jaeger::span::SpanReceiver;
use rocket_opentracing::rustracing_jaeger::Tracer;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

/// The route under test: it does not take `ActiveSpan`.
#[get("/hello/<name>")]
fn hello(name: &str) -> String {
    format!("Hello, {name}!")
}

/// The same route for the opt-in mode's traced case: it takes `ActiveSpan`.
#[get("/traced/<name>")]
fn traced(name: &str, _span: ActiveSpan<'_>) -> String {
    format!("Hello, {name}!")
}

/// The client address every request claims, so that `peer.ipv4` and
/// `peer.port` are recorded as for a real connection.
const REMOTE: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 54_321));

/// A caller's Jaeger context: 128-bit trace id, parent span id, sampled.
const UBER_TRACE_ID: &str = "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1";

/// The same caller's context in W3C Trace Context form.
const TRACEPARENT: &str = "00-6309ab92c95468edea0dc1a9772ae2dc-409423a204bc17a8-01";

/// Which sampler the configuration sets.
#[derive(Clone, Copy)]
enum Sampling {
    /// None set: the tracer's own, which samples everything.
    Tracer,
    /// `sampler_type = "const"`, `sampler_param = 0`: nothing sampled.
    Never,
}

/// A hermetic Rocket (no `Rocket.toml`, no `ROCKET_*` variables, logging
/// off) serving both routes.
fn rocket(sampling: Sampling) -> Rocket<Build> {
    let mut figment = Figment::from(rocket::Config::debug_default()).merge(("log_level", "off"));
    if let Sampling::Never = sampling {
        figment = figment
            .merge(("opentracing.sampler_type", "const"))
            .merge(("opentracing.sampler_param", 0));
    }
    rocket::custom(figment).mount("/", routes![hello, traced])
}

/// A tracer sampling everything (unless the configuration says otherwise)
/// whose finished spans are received and dropped by a thread of its own,
/// so that memory stays flat. The thread ends when the tracer (and every
/// clone of it, i.e. the Rocket) is dropped.
fn drained_tracer() -> (Tracer, JoinHandle<u64>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let tracer = Tracer::with_sender(AllSampler, tx);
    (tracer, thread::spawn(move || drain(rx)))
}

/// Receives and drops spans until every sender is gone; returns their count.
fn drain(rx: SpanReceiver) -> u64 {
    rx.iter().map(drop).count() as u64
}

/// The count of spans the drain thread received, once it ends; fails
/// rather than hanging if it does not end soon (the tracer outlived its
/// Rocket).
fn join(drain: JoinHandle<u64>, case: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !drain.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{case}: the drain thread did not end: the tracer outlived its Rocket"
        );
        thread::sleep(Duration::from_millis(1));
    }
    drain.join().expect("the drain thread")
}

/// A client for `rocket`, untracked (no cookie jar: less work that is not
/// the fairing's).
fn client(rocket: Rocket<Build>) -> Client {
    Client::untracked(rocket).expect("rocket ignites")
}

/// One request to `uri` with the extra `headers`; checks the answer.
fn request(client: &Client, uri: &str, headers: &[(&'static str, &'static str)]) {
    let mut req = client.get(uri).remote(REMOTE);
    for &(name, value) in headers {
        req = req.header(Header::new(name, value));
    }
    let response = req.dispatch();
    assert_eq!(response.status(), Status::Ok);
}

/// The fairing a case attaches.
#[derive(Clone, Copy)]
enum Tracing {
    /// No fairing.
    None,
    /// `OpenTracingFairing::all`, with this sampling.
    All(Sampling),
    /// `OpenTracingFairing::opt_in`.
    OptIn,
}

impl Tracing {
    /// The Rocket of this case, and the thread draining its spans (if
    /// traced).
    fn rocket(self) -> (Rocket<Build>, Option<JoinHandle<u64>>) {
        let fairing = match self {
            Tracing::None => return (rocket(Sampling::Tracer), None),
            Tracing::All(_) => OpenTracingFairing::all,
            Tracing::OptIn => OpenTracingFairing::opt_in,
        };
        let sampling = match self {
            Tracing::All(sampling) => sampling,
            _ => Sampling::Tracer,
        };
        let (tracer, drain) = drained_tracer();
        let rocket = rocket(sampling);
        (rocket.attach(fairing(tracer)), Some(drain))
    }
}

/// A measured case.
struct Case {
    name: &'static str,
    tracing: Tracing,
    uri: &'static str,
    headers: &'static [(&'static str, &'static str)],
    /// Whether each request sends a span (checked after the measurement).
    sends_spans: bool,
}

/// The cases, in the order of the report.
const CASES: [Case; 7] = [
    Case {
        name: "none",
        tracing: Tracing::None,
        uri: "/hello/alice",
        headers: &[],
        sends_spans: false,
    },
    Case {
        name: "all_sampled",
        tracing: Tracing::All(Sampling::Tracer),
        uri: "/hello/alice",
        headers: &[],
        sends_spans: true,
    },
    Case {
        name: "all_unsampled",
        tracing: Tracing::All(Sampling::Never),
        uri: "/hello/alice",
        headers: &[],
        sends_spans: false,
    },
    Case {
        name: "opt_in_untraced",
        tracing: Tracing::OptIn,
        uri: "/hello/alice",
        headers: &[],
        sends_spans: false,
    },
    Case {
        name: "opt_in_traced",
        tracing: Tracing::OptIn,
        uri: "/traced/alice",
        headers: &[],
        sends_spans: true,
    },
    Case {
        name: "all_uber_trace_id",
        tracing: Tracing::All(Sampling::Tracer),
        uri: "/hello/alice",
        headers: &[("uber-trace-id", UBER_TRACE_ID)],
        sends_spans: true,
    },
    Case {
        name: "all_traceparent",
        tracing: Tracing::All(Sampling::Tracer),
        uri: "/hello/alice",
        headers: &[("traceparent", TRACEPARENT)],
        sends_spans: true,
    },
];

/// Time per request (`GET /hello/<name>`, answered `200 Hello, alice!`) for
/// each tracing mode; compare each to `none` for the fairing's own cost.
fn fairing(c: &mut Criterion) {
    let mut group = c.benchmark_group("fairing");
    for case in CASES {
        let (rocket, drain) = case.tracing.rocket();
        let client = client(rocket);
        let mut requests = 0u64;
        group.bench_function(case.name, |b| {
            b.iter(|| {
                request(&client, case.uri, case.headers);
                requests += 1;
            })
        });
        // The tracer lives in the Rocket: dropping the client ends the drain.
        drop(client);
        if let Some(drain) = drain {
            let spans = join(drain, case.name);
            let expected = if case.sends_spans { requests } else { 0 };
            assert_eq!(spans, expected, "{}: spans reported", case.name);
        }
    }
    group.finish();
}

/// Short, bounded runs: each case takes about 5 s.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = fairing
}
criterion_main!(benches);
