//! A service that never samples new traces (`sampler_type = "const"`,
//! `sampler_param = 0`, the fairing's own tracer) keeps nothing for a
//! request without a trace context unless user code asks for its span: the
//! span is then opened on demand, unsampled, with ids and baggage that
//! propagate. Callers that sampled their trace are still traced and
//! reported.

mod common;

use std::time::Duration;

use common::agent::{as_i64, field, Agent};
use rocket::http::Header;
use rocket::local::asynchronous::Client;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{get, routes};
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

#[get("/plain")]
fn plain() -> &'static str {
    "plain"
}

#[get("/asks")]
fn asks(span: ActiveSpan<'_>) -> String {
    span.set_baggage_item("tenant", "t-1");
    let headers: Vec<String> = span
        .headers()
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "traced={} sampled={} id={} {}",
        span.is_traced(),
        span.is_sampled(),
        span.trace_id().is_some(),
        headers.join(" ")
    )
}

/// A guard that looks the span up, as another library would.
struct SeesSpan(Option<bool>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SeesSpan {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(SeesSpan(ActiveSpan::get(req).map(|span| span.is_sampled())))
    }
}

#[get("/looks")]
fn looks(seen: SeesSpan) -> String {
    format!("{:?}", seen.0)
}

async fn client(agent: &Agent) -> Client {
    let toml = format!(
        "[default.opentracing]\nservice_name = \"svc\"\nagent_port = {}\nflush_interval_ms = 20\n\
         sampler_type = \"const\"\nsampler_param = 0\n",
        agent.port()
    );
    common::client_with(
        &toml,
        OpenTracingFairing::from_config(),
        routes![plain, asks, looks],
    )
    .await
}

/// The body of `GET path` with `headers`.
async fn body(client: &Client, path: &str, headers: &[(&'static str, &'static str)]) -> String {
    let mut request = client.get(path.to_owned());
    for &(name, value) in headers {
        request = request.header(Header::new(name, value));
    }
    request.dispatch().await.into_string().await.unwrap()
}

#[rocket::async_test]
async fn spans_asked_for_are_opened_unsampled_and_propagate() {
    let agent = Agent::bind();
    let client = client(&agent).await;
    assert_eq!(body(&client, "/plain", &[]).await, "plain");
    let body = body(&client, "/asks", &[]).await;
    assert!(
        body.starts_with("traced=true sampled=false id=true "),
        "{body}"
    );
    assert!(body.contains("uber-trace-id="), "{body}");
    assert!(
        body.contains(":0:0 "),
        "the unsampled decision travels: {body}"
    );
    assert!(
        body.contains("uberctx-tenant=t-1"),
        "baggage travels: {body}"
    );
    // Again on the same route (its span is looked up in on_response now).
    let again = self::body(&client, "/asks", &[]).await;
    assert!(again.starts_with("traced=true sampled=false"), "{again}");
    let looked = self::body(&client, "/looks", &[]).await;
    assert_eq!(looked, "Some(false)", "other guards find the span");
    assert!(
        agent.is_quiet(Duration::from_millis(200)),
        "nothing sampled"
    );
}

#[rocket::async_test]
async fn a_sampled_caller_is_still_traced_and_reported() {
    let agent = Agent::bind();
    let client = client(&agent).await;
    let caller: &'static str = "6309ab92c95468edea0dc1a9772ae2dc:409423a204bc17a8:0:1";
    for path in ["/plain", "/asks"] {
        let response = client
            .get(path)
            .header(Header::new("uber-trace-id", caller))
            .dispatch()
            .await;
        assert!(
            response.headers().get_one("X-Trace-Id").is_some(),
            "{path}: sampled, so looked up"
        );
    }
    let batches = agent.receive(2, Duration::from_secs(10));
    let spans: Vec<_> = batches.iter().flat_map(|b| &b.spans).collect();
    assert_eq!(spans.len(), 2);
    for span in spans {
        assert_eq!(as_i64(field(span, 4)), 0x4094_23a2_04bc_17a8);
    }
    let body = body(&client, "/asks", &[("uber-trace-id", caller)]).await;
    assert!(body.starts_with("traced=true sampled=true"), "{body}");
}
