//! Trace-context formats end to end through Rocket's local client: Jaeger,
//! W3C Trace Context and B3 in, the configured formats out, sampling
//! decisions kept, `tracestate` passed through, baggage bounded.

mod common;

use common::*;

use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_opentracing::Limits;

const MAX_BAGGAGE_ITEMS: usize = Limits::DEFAULT.max_baggage_items;
const MAX_BAGGAGE_BYTES: usize = Limits::DEFAULT.max_baggage_bytes;
use rocket_opentracing::rustracing::sampler::NullSampler;
use rocket_opentracing::rustracing::tag::TagValue;
use rocket_opentracing::rustracing_jaeger::span::{FinishedSpan, TraceId};
use rocket_opentracing::{ActiveSpan, Config, OpenTracingFairing};

/// Every format, injected.
const INJECT_ALL: &str =
    "[default.opentracing]\ninject_formats = [\"jaeger\", \"w3c\", \"b3\", \"b3_single\"]";

/// The W3C specification's example.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const W3C_TRACE: TraceId = TraceId {
    high: 0x4bf92f3577b34da6,
    low: 0xa3ce929d0e0e4736,
};

/// The B3 specification's example.
const B3_SINGLE: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90";
const B3_TRACE: TraceId = TraceId {
    high: 0x80f198ee56343ba8,
    low: 0x64fe8b2a57d3eff7,
};

/// The headers `ActiveSpan::headers` would send downstream, one
/// `name: value` per line.
#[get("/out")]
fn out(span: ActiveSpan<'_>) -> String {
    lines(span.headers())
}

/// The same for a call made inside a child span.
#[get("/child-out")]
fn child_out(span: ActiveSpan<'_>) -> String {
    let child = span.child("call");
    lines(child.headers())
}

/// Baggage as seen by the route, after trying to add more.
#[get("/baggage?<add>&<size>")]
fn baggage(span: ActiveSpan<'_>, add: usize, size: usize) -> String {
    let mut stored = 0;
    for i in 0..add {
        if span.set_baggage_item(&format!("local{i}"), &"v".repeat(size)) {
            stored += 1;
        }
    }
    let items = span.baggage();
    let bytes: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    format!("{} {bytes} {stored}", items.len())
}

fn lines(headers: Vec<(String, String)>) -> String {
    headers
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect()
}

async fn client_with(toml: &str, fairing: OpenTracingFairing) -> Client {
    common::client_with(toml, fairing, routes![out, child_out, baggage]).await
}

/// GETs `path` with `headers`; the body parsed as (name, value) lines.
async fn get_with(client: &Client, path: &str, headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut request = client.get(path.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(name.to_string(), value.to_string()));
    }
    let body = request.dispatch().await.into_string().await.unwrap();
    body.lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn names(headers: &[(String, String)]) -> Vec<&str> {
    headers.iter().map(|(k, _)| k.as_str()).collect()
}

fn trace_id(span: &FinishedSpan) -> TraceId {
    span.context().state().trace_id()
}

/// What each injected format says about sampling, in one string:
/// `jaeger-flags w3c-flags b3-sampled-or-flags b3-single-state`.
fn decisions(headers: &[(String, String)]) -> String {
    let jaeger = header(headers, "uber-trace-id")
        .and_then(|v| v.rsplit(':').next())
        .unwrap_or("-");
    let w3c = header(headers, "traceparent")
        .and_then(|v| v.rsplit('-').next())
        .unwrap_or("-");
    let b3 = match (
        header(headers, "x-b3-sampled"),
        header(headers, "x-b3-flags"),
    ) {
        (Some(sampled), None) => format!("s{sampled}"),
        (None, Some(flags)) => format!("f{flags}"),
        other => format!("{other:?}"),
    };
    let single = header(headers, "b3")
        .and_then(|v| v.split('-').nth(2))
        .unwrap_or("-");
    format!("{jaeger} {w3c} {b3} {single}")
}

#[rocket::async_test]
async fn each_format_continues_the_callers_trace() {
    type Case<'a> = (&'a [(&'a str, &'a str)], TraceId, u64);
    let cases: &[Case] = &[
        (
            &[(
                "uber-trace-id",
                "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1",
            )],
            TraceId {
                high: 0x6309ab92c95468ed,
                low: 0xea0dc1a9772ae2dc,
            },
            0x409423a204bc17a8,
        ),
        (
            &[("traceparent", TRACEPARENT)],
            W3C_TRACE,
            0x00f067aa0ba902b7,
        ),
        (&[("b3", B3_SINGLE)], B3_TRACE, 0xe457b5a2e4d86bd1),
        (
            &[
                ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"),
                ("X-B3-SpanId", "e457b5a2e4d86bd1"),
                ("X-B3-Sampled", "1"),
            ],
            B3_TRACE,
            0xe457b5a2e4d86bd1,
        ),
        // 64-bit B3 trace ids.
        (
            &[
                ("X-B3-TraceId", "a3ce929d0e0e4736"),
                ("X-B3-SpanId", "a2fb4a1d1a96d312"),
                ("X-B3-Sampled", "1"),
            ],
            TraceId {
                high: 0,
                low: 0xa3ce929d0e0e4736,
            },
            0xa2fb4a1d1a96d312,
        ),
    ];
    let (tracer, rx) = common::tracer();
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for (headers, trace, parent) in cases {
        let injected = get_with(&client, "/out", headers).await;
        let span = only_span(&rx);
        assert_eq!(trace_id(&span), *trace, "{headers:?}");
        assert_eq!(parent_id(&span), Some(*parent), "{headers:?}");
        assert!(span.references()[0].is_child_of());
        let own = span.context().state().span_id();
        assert_ne!(own, *parent);

        // Downstream, every format carries the same trace, this span as the
        // parent, and the sampled decision.
        let hex_trace = if trace.high == 0 {
            format!("{:016x}", trace.low)
        } else {
            format!("{:016x}{:016x}", trace.high, trace.low)
        };
        assert_eq!(
            header(&injected, "uber-trace-id"),
            Some(format!("{hex_trace}:{own:016x}:0:1").as_str())
        );
        assert_eq!(
            header(&injected, "traceparent"),
            Some(format!("00-{:016x}{:016x}-{own:016x}-01", trace.high, trace.low).as_str()),
            "64-bit ids zero-padded"
        );
        assert_eq!(header(&injected, "x-b3-traceid"), Some(hex_trace.as_str()));
        assert_eq!(
            header(&injected, "x-b3-spanid"),
            Some(format!("{own:016x}").as_str())
        );
        assert_eq!(
            header(&injected, "x-b3-parentspanid"),
            Some(format!("{parent:016x}").as_str())
        );
        assert_eq!(
            header(&injected, "b3"),
            Some(format!("{hex_trace}-{own:016x}-1-{parent:016x}").as_str())
        );
    }
}

#[rocket::async_test]
async fn the_default_inject_formats_are_jaeger_then_w3c() {
    let (tracer, rx) = common::tracer();
    let client = client(OpenTracingFairing::all(tracer), routes![out]).await;
    let injected = get_with(&client, "/out", &[("uberctx-user", "alice")]).await;
    assert_eq!(
        names(&injected),
        ["uber-trace-id", "traceparent", "uberctx-user"]
    );
    let span = only_span(&rx);
    let state = span.context().state();
    assert_eq!(
        header(&injected, "traceparent"),
        Some(
            format!(
                "00-{:016x}{:016x}-{:016x}-01",
                state.trace_id().high,
                state.trace_id().low,
                state.span_id()
            )
            .as_str()
        )
    );
}

#[rocket::async_test]
async fn the_configured_inject_formats_appear_in_order() {
    let (tracer, _rx) = common::tracer();
    let toml = "[default.opentracing]\ninject_formats = [\"b3_single\", \"b3\"]";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    let injected = get_with(
        &client,
        "/out",
        &[("uberctx-user", "alice"), ("traceparent", TRACEPARENT)],
    )
    .await;
    assert_eq!(
        names(&injected),
        [
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled"
        ],
        "no Jaeger: no uberctx-*; no traceparent: no tracestate"
    );

    // A child's headers use the same formats, with the child's ids.
    let injected = get_with(&client, "/child-out", &[]).await;
    assert_eq!(names(&injected)[0], "b3");
    assert_eq!(names(&injected).len(), 4, "a root span has no parent id");

    let toml = "[default.opentracing]\ninject_formats = []";
    let (tracer, _rx) = common::tracer();
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    assert!(get_with(&client, "/out", &[]).await.is_empty());
}

#[rocket::async_test]
async fn unsampled_callers_in_every_format_get_no_span_and_pass_the_decision_on() {
    let cases: &[&[(&str, &str)]] = &[
        &[("uber-trace-id", "abc:def:0:0")],
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "0"),
        ],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "false"),
        ],
        &[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0-05e3ac9a4f6e3b90",
        )],
        // Deny only, no ids.
        &[("b3", "0")],
        &[("X-B3-Sampled", "0")],
    ];
    let (tracer, rx) = common::tracer();
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for headers in cases {
        for path in ["/out", "/child-out"] {
            let injected = get_with(&client, path, headers).await;
            assert!(drain(&rx).is_empty(), "{headers:?} reported a span");
            assert_eq!(decisions(&injected), "0 00 s0 0", "{path} {headers:?}");
        }
    }
    // The caller's trace id goes on.
    let injected = get_with(&client, "/out", cases[2]).await;
    assert_eq!(
        header(&injected, "x-b3-traceid"),
        Some("80f198ee56343ba864fe8b2a57d3eff7")
    );
}

#[rocket::async_test]
async fn sampled_callers_in_every_format_are_sampled_whatever_the_local_sampler() {
    let cases: &[&[(&str, &str)]] = &[
        &[("uber-trace-id", "abc:def:0:1")],
        &[("traceparent", TRACEPARENT)],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "1"),
        ],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "true"),
        ],
        &[("b3", B3_SINGLE)],
    ];
    let (tracer, rx) = common::tracer_sampling(NullSampler);
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for headers in cases {
        let injected = get_with(&client, "/out", headers).await;
        let span = only_span(&rx);
        assert!(parent_id(&span).is_some(), "{headers:?}");
        assert_eq!(span.context().state().flags(), 1, "sampled, not debug");
        assert_eq!(decisions(&injected), "1 01 s1 1", "{headers:?}");
    }
    // Without a caller, the local sampler decides: nothing.
    get_with(&client, "/out", &[]).await;
    assert!(drain(&rx).is_empty());
}

#[rocket::async_test]
async fn debug_forces_sampling_in_every_format() {
    let cases: &[&[(&str, &str)]] = &[
        &[("uber-trace-id", "abc:def:0:2")],
        &[("uber-trace-id", "abc:def:0:3")],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Flags", "1"),
        ],
        // Debug wins over a deny.
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "0"),
            ("X-B3-Flags", "1"),
        ],
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")],
        // jaeger-debug-id with a W3C parent that said "not sampled".
        &[
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            ),
            ("jaeger-debug-id", "find-me"),
        ],
    ];
    let (tracer, rx) = common::tracer_sampling(NullSampler);
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for headers in cases {
        let injected = get_with(&client, "/out", headers).await;
        let span = only_span(&rx);
        assert!(
            parent_id(&span).is_some(),
            "{headers:?}: the trace continues"
        );
        assert_eq!(
            span.context().state().flags(),
            0b11,
            "{headers:?}: sampled and debug"
        );
        // W3C has no debug flag: sampled.
        assert_eq!(decisions(&injected), "3 01 f1 d", "{headers:?}");
        // A child's outgoing call carries the trace's debug decision too.
        let injected = get_with(&client, "/child-out", headers).await;
        assert_eq!(drain(&rx).len(), 2, "the child and the request span");
        assert_eq!(decisions(&injected), "3 01 f1 d", "{headers:?}");
    }

    // A debug decision without ids starts a debug root trace.
    let injected = get_with(&client, "/out", &[("b3", "d")]).await;
    let span = only_span(&rx);
    assert!(span.references().is_empty());
    assert_eq!(span.context().state().flags(), 0b11);
    assert_eq!(decisions(&injected), "3 01 f1 d");
}

#[rocket::async_test]
async fn b3_without_a_sampling_state_keeps_the_trace_and_lets_the_sampler_decide() {
    let deferred: &[&[(&str, &str)]] = &[
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1")],
        &[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
        ],
    ];
    // A sampler that says no: no span, but the trace id travels on.
    let (tracer, rx) = common::tracer_sampling(NullSampler);
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for headers in deferred {
        let injected = get_with(&client, "/out", headers).await;
        assert!(drain(&rx).is_empty(), "{headers:?}");
        assert_eq!(decisions(&injected), "0 00 s0 0");
        assert_eq!(
            header(&injected, "x-b3-traceid"),
            Some("80f198ee56343ba864fe8b2a57d3eff7")
        );
    }
    // A sampler that says yes: a child of the caller.
    let (tracer, rx) = common::tracer();
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for headers in deferred {
        let injected = get_with(&client, "/out", headers).await;
        let span = only_span(&rx);
        assert_eq!(trace_id(&span), B3_TRACE);
        assert_eq!(parent_id(&span), Some(0xe457b5a2e4d86bd1));
        assert_eq!(decisions(&injected), "1 01 s1 1");
    }
}

#[rocket::async_test]
async fn tracestate_passes_through_unchanged() {
    let state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    let (tracer, rx) = common::tracer();
    let client = client_with(INJECT_ALL, OpenTracingFairing::all(tracer)).await;
    for path in ["/out", "/child-out"] {
        let injected = get_with(
            &client,
            path,
            &[("traceparent", TRACEPARENT), ("tracestate", state)],
        )
        .await;
        assert_eq!(header(&injected, "tracestate"), Some(state), "{path}");
        let position = |name| names(&injected).iter().position(|n| *n == name);
        assert_eq!(
            position("tracestate"),
            position("traceparent").map(|p| p + 1)
        );
        // The request span keeps it (OTLP's trace state; a tag for Jaeger).
        let request_span = drain(&rx)
            .into_iter()
            .find(|span| span.operation_name().starts_with("GET"))
            .expect("the request span");
        let kept = request_span
            .tags()
            .iter()
            .find(|tag| tag.name() == "w3c.tracestate")
            .map(|tag| tag.value().clone());
        assert_eq!(kept, Some(TagValue::String(state.into())), "{path}");
    }

    // Too long: dropped. Without a valid traceparent: dropped.
    let long = format!("rojo={}", "x".repeat(600));
    let cases: &[&[(&str, &str)]] = &[
        &[("traceparent", TRACEPARENT), ("tracestate", &long)],
        &[("tracestate", state)],
        &[
            (
                "traceparent",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", state),
        ],
    ];
    for headers in cases {
        let injected = get_with(&client, "/out", headers).await;
        assert_eq!(header(&injected, "tracestate"), None);
    }

    // Not re-sent when traceparent is not injected.
    let (tracer, _rx) = common::tracer();
    let toml = "[default.opentracing]\ninject_formats = [\"jaeger\"]";
    let client = client_with(toml, OpenTracingFairing::all(tracer)).await;
    let injected = get_with(
        &client,
        "/out",
        &[("traceparent", TRACEPARENT), ("tracestate", state)],
    )
    .await;
    assert_eq!(names(&injected), ["uber-trace-id"]);
}

#[rocket::async_test]
async fn the_extract_order_is_honoured() {
    let jaeger = ("uber-trace-id", "abc:def:0:1");
    let w3c = ("traceparent", TRACEPARENT);
    let b3_single = ("b3", B3_SINGLE);
    let b3_multi = [
        ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
        ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ("X-B3-Sampled", "1"),
    ];
    let all = [
        jaeger,
        w3c,
        b3_single,
        b3_multi[0],
        b3_multi[1],
        b3_multi[2],
    ];

    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<u64>);
    let cases: &[Case] = &[
        // Default order: jaeger, w3c, b3_single, b3.
        ("", &all, Some(0xdef)),
        ("", &all[1..], Some(0x00f067aa0ba902b7)),
        ("", &all[2..], Some(0xe457b5a2e4d86bd1)),
        ("", &all[3..], Some(0xa2fb4a1d1a96d312)),
        (
            "extract_formats = [\"b3\", \"b3_single\", \"w3c\", \"jaeger\"]",
            &all,
            Some(0xa2fb4a1d1a96d312),
        ),
        (
            "extract_formats = [\"w3c\", \"jaeger\"]",
            &all,
            Some(0x00f067aa0ba902b7),
        ),
        // A format not listed is ignored.
        ("extract_formats = [\"b3_single\"]", &[jaeger, w3c], None),
        ("extract_formats = []", &all, None),
    ];
    for (setting, headers, parent) in cases {
        let (tracer, rx) = common::tracer();
        let toml = format!("[default.opentracing]\n{setting}");
        let client = client_with(&toml, OpenTracingFairing::all(tracer)).await;
        get_with(&client, "/out", headers).await;
        assert_eq!(
            parent_id(&only_span(&rx)),
            *parent,
            "{setting:?} {headers:?}"
        );
    }
}

#[rocket::async_test]
async fn a_malformed_format_falls_through_to_the_next_or_a_new_root() {
    let (tracer, rx) = common::tracer();
    let client = client_with("", OpenTracingFairing::all(tracer)).await;
    let bad_jaeger = ("uber-trace-id", "zz:1:0:1");
    let bad_w3c = [
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ];
    for bad in bad_w3c {
        // Bad Jaeger and bad W3C: the B3 header is used.
        get_with(
            &client,
            "/out",
            &[bad_jaeger, ("traceparent", bad), ("b3", B3_SINGLE)],
        )
        .await;
        let span = only_span(&rx);
        assert_eq!(trace_id(&span), B3_TRACE, "{bad}");
        assert_eq!(parent_id(&span), Some(0xe457b5a2e4d86bd1), "{bad}");

        // Nothing valid: a new root trace.
        get_with(&client, "/out", &[bad_jaeger, ("traceparent", bad)]).await;
        let span = only_span(&rx);
        assert!(span.references().is_empty(), "{bad}");
        assert_ne!(trace_id(&span), W3C_TRACE);
    }
    // Bad Jaeger, good W3C.
    get_with(&client, "/out", &[bad_jaeger, ("traceparent", TRACEPARENT)]).await;
    assert_eq!(trace_id(&only_span(&rx)), W3C_TRACE);
}

#[rocket::async_test]
async fn an_unknown_format_name_refuses_ignition_naming_the_key() {
    for key in ["extract_formats", "inject_formats"] {
        let toml = format!("[default.opentracing]\n{key} = [\"jaeger\", \"zipkin\"]");
        let (tracer, _rx) = common::tracer();
        let rocket = rocket_with(&toml)
            .attach(OpenTracingFairing::all(tracer))
            .mount("/", routes![out]);
        let message = Config::from_figment(rocket.figment())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("opentracing.{key}")) && message.contains("zipkin"),
            "{message}"
        );
        assert!(message.contains("b3_single"), "says what is accepted");
        let error = rocket.ignite().await.expect_err("ignition refused");
        assert!(
            matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(f) if f[0].name == "OpenTracing"),
            "{error:?}"
        );
    }
}

#[rocket::async_test]
async fn hostile_baggage_is_bounded_and_the_drops_counted() {
    let (tracer, rx) = common::tracer();
    let client = client_with("", OpenTracingFairing::all(tracer)).await;

    // 300 items of 100 bytes: the first fit, the rest are dropped.
    let mut request = client.get("/baggage?add=0&size=0");
    for i in 0..300 {
        request.add_header(Header::new(format!("uberctx-k{i:03}"), "x".repeat(100)));
    }
    let body = request.dispatch().await.into_string().await.unwrap();
    let fields: Vec<usize> = body.split(' ').map(|n| n.parse().unwrap()).collect();
    let (items, bytes) = (fields[0], fields[1]);
    assert!(
        items <= MAX_BAGGAGE_ITEMS && bytes <= MAX_BAGGAGE_BYTES,
        "{body}"
    );
    // Each item is 4 + 100 bytes: 78 fit in 8 KiB, but only 64 items do.
    assert_eq!(items, MAX_BAGGAGE_ITEMS);
    assert_eq!(
        tag(&only_span(&rx), "baggage.dropped"),
        Some(TagValue::Integer(300 - 64))
    );

    // Huge values: dropped whole; a small item after them still fits.
    let mut request = client.get("/baggage?add=0&size=0");
    request.add_header(Header::new("uberctx-huge", "x".repeat(100_000)));
    request.add_header(Header::new("uberctx-huge2", "x".repeat(MAX_BAGGAGE_BYTES)));
    request.add_header(Header::new("uberctx-user", "alice"));
    let body = request.dispatch().await.into_string().await.unwrap();
    assert_eq!(body, "1 9 0");
    assert_eq!(
        tag(&only_span(&rx), "baggage.dropped"),
        Some(TagValue::Integer(2))
    );

    // The application's own items count against the same bounds.
    let body = client
        .get("/baggage?add=100&size=10")
        .header(Header::new("uberctx-user", "alice"))
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    let local_bytes: usize = (0..63).map(|i| format!("local{i}").len() + 10).sum();
    assert_eq!(body, format!("64 {} 63", 9 + local_bytes));
    assert_eq!(
        tag(&only_span(&rx), "baggage.dropped"),
        Some(TagValue::Integer(100 - 63))
    );

    // Nothing dropped: no tag.
    client
        .get("/baggage?add=3&size=10")
        .dispatch()
        .await
        .into_string()
        .await;
    assert_eq!(tag(&only_span(&rx), "baggage.dropped"), None);
}
