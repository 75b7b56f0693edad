//! The trust boundary (`trust_incoming_sampling`, `untrusted_context`)
//! through Rocket's local client: an untrusted caller can neither force nor
//! suppress sampling, nor force a debug trace, in any format, and its
//! context is linked as configured.

mod common;

use common::*;

use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_opentracing::rustracing::sampler::{AllSampler, NullSampler, Sampler};
use rocket_opentracing::rustracing::span::SpanReference;
use rocket_opentracing::rustracing_jaeger::span::{FinishedSpan, SpanContextState, TraceId};
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

/// The `uber-trace-id` this request would send downstream.
#[get("/out")]
fn out(span: ActiveSpan<'_>) -> String {
    span.headers()
        .into_iter()
        .find(|(name, _)| name == "uber-trace-id")
        .map(|(_, value)| value)
        .unwrap_or_default()
}

/// A sampled (flag 1) Jaeger caller in trace 0xabc, span 0xdef.
const SAMPLED_CALLER: (&str, &str) = ("uber-trace-id", "abc:def:0:1");
const CALLER_TRACE: TraceId = TraceId {
    high: 0,
    low: 0xabc,
};

/// Callers that say "sampled" or "debug", in every format.
const FORCING: &[&[(&str, &str)]] = &[
    &[SAMPLED_CALLER],
    &[("uber-trace-id", "abc:def:0:3")],
    &[SAMPLED_CALLER, ("jaeger-debug-id", "find-me")],
    &[("jaeger-debug-id", "find-me")],
    &[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )],
    &[
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("X-B3-SpanId", "e457b5a2e4d86bd1"),
        ("X-B3-Sampled", "1"),
    ],
    &[
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("X-B3-SpanId", "e457b5a2e4d86bd1"),
        ("X-B3-Flags", "1"),
    ],
    &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")],
    &[("b3", "d")],
];

async fn serve<S>(
    sampler: S,
    section: &str,
) -> (
    Client,
    rocket_opentracing::rustracing_jaeger::span::SpanReceiver,
)
where
    S: Sampler<SpanContextState> + Send + Sync + 'static,
{
    let (tracer, rx) = tracer_sampling(sampler);
    let toml = format!("[default.opentracing]\n{section}");
    let client = client_with(&toml, OpenTracingFairing::all(tracer), routes![out]).await;
    (client, rx)
}

async fn get(client: &Client, headers: &[(&str, &str)]) -> String {
    let mut request = client.get("/out");
    for (name, value) in headers {
        request.add_header(Header::new(name.to_string(), value.to_string()));
    }
    request.dispatch().await.into_string().await.unwrap()
}

fn trace_id(span: &FinishedSpan) -> TraceId {
    span.context().state().trace_id()
}

/// The span's references as (follows-from?, trace id, span id).
fn references(span: &FinishedSpan) -> Vec<(bool, TraceId, u64)> {
    span.references()
        .iter()
        .map(|r| {
            let follows = matches!(r, SpanReference::FollowsFrom(_));
            (follows, r.span().trace_id(), r.span().span_id())
        })
        .collect()
}

#[rocket::async_test]
async fn trusted_by_default_a_caller_decides() {
    for section in ["", "trust_incoming_sampling = true"] {
        let (client, rx) = serve(NullSampler, section).await;
        for headers in FORCING {
            get(&client, headers).await;
            let span = only_span(&rx);
            assert_ne!(span.context().state().flags() & 1, 0, "{headers:?}");
        }
    }
}

#[rocket::async_test]
async fn untrusted_callers_cannot_force_sampling_or_debug() {
    for context in ["follows_from", "child_of", "ignore"] {
        let section = format!("trust_incoming_sampling = false\nuntrusted_context = \"{context}\"");
        let (client, rx) = serve(NullSampler, &section).await;
        for headers in FORCING {
            let downstream = get(&client, headers).await;
            assert!(drain(&rx).is_empty(), "{context}: {headers:?} was sampled");
            // The local decision is what travels on.
            assert!(downstream.ends_with(":0"), "{context}: {downstream}");
        }

        // The local sampler samples: sampled, never debug, no debug id.
        let (client, rx) = serve(AllSampler, &section).await;
        for headers in FORCING {
            let downstream = get(&client, headers).await;
            let span = only_span(&rx);
            let state = span.context().state();
            assert_eq!(state.flags(), 1, "{context}: {headers:?}");
            assert_eq!(state.debug_id(), None, "{context}: {headers:?}");
            assert!(downstream.ends_with(":1"), "{context}: {downstream}");
        }
    }
}

#[rocket::async_test]
async fn untrusted_callers_cannot_suppress_sampling() {
    let section = "trust_incoming_sampling = false";
    let (client, rx) = serve(AllSampler, section).await;
    for headers in [
        &[("uber-trace-id", "abc:def:0:0")][..],
        &[("b3", "0")],
        &[("X-B3-Sampled", "0")],
    ] {
        get(&client, headers).await;
        assert_eq!(only_span(&rx).context().state().flags(), 1, "{headers:?}");
    }
}

#[rocket::async_test]
async fn follows_from_starts_a_new_trace_linked_to_the_callers_span() {
    // The default untrusted context.
    let (client, rx) = serve(AllSampler, "trust_incoming_sampling = false").await;
    let downstream = get(&client, &[SAMPLED_CALLER]).await;
    let span = only_span(&rx);
    assert_ne!(trace_id(&span), CALLER_TRACE, "a trace of its own");
    assert_eq!(references(&span), [(true, CALLER_TRACE, 0xdef)]);
    // Downstream services continue the new trace. (Formatted as the header
    // is: rustracing's own Display drops the leading zeros of a 128-bit id.)
    let new_trace = rocket_opentracing::propagation::DisplayTraceId(trace_id(&span));
    assert!(
        downstream.starts_with(&format!("{new_trace}:")),
        "{downstream}"
    );

    // A W3C caller is linked the same way.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut request = client.get("/out");
    request.add_header(Header::new("traceparent", traceparent));
    request.add_header(Header::new("tracestate", "vendor=value"));
    request.dispatch().await;
    let span = only_span(&rx);
    let linked = references(&span);
    assert_eq!(linked.len(), 1);
    assert!(linked[0].0, "follows from");
    assert_eq!(linked[0].1.high, 0x4bf92f3577b34da6);
}

#[rocket::async_test]
async fn child_of_continues_the_callers_trace_with_the_local_decision() {
    let section = "trust_incoming_sampling = false\nuntrusted_context = \"child_of\"";
    let (client, rx) = serve(AllSampler, section).await;
    // Even a caller that said "not sampled".
    let downstream = get(&client, &[("uber-trace-id", "abc:def:0:0")]).await;
    let span = only_span(&rx);
    assert_eq!(trace_id(&span), CALLER_TRACE);
    assert_eq!(references(&span), [(false, CALLER_TRACE, 0xdef)]);
    assert!(downstream.starts_with("0000000000000abc:"), "{downstream}");
    assert!(downstream.ends_with(":1"), "{downstream}");
}

#[rocket::async_test]
async fn ignore_starts_an_unlinked_trace() {
    let section = "trust_incoming_sampling = false\nuntrusted_context = \"ignore\"";
    let (client, rx) = serve(AllSampler, section).await;
    get(&client, &[SAMPLED_CALLER]).await;
    let span = only_span(&rx);
    assert_ne!(trace_id(&span), CALLER_TRACE);
    assert!(span.references().is_empty());
}

#[rocket::async_test]
async fn an_unknown_untrusted_context_refuses_ignition() {
    assert_refuses_ignition("[default.opentracing]\nuntrusted_context = \"parent\"").await;
}
