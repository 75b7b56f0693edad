//! The example client app: a second service that calls the example server,
//! continuing the trace (the counterpart of Flask-OpenTracing's client
//! example).
//!
//! ```sh
//! cargo run --example server          # port 8000
//! cargo run --example client          # port 8001 (ROCKET_PORT overrides)
//! curl http://127.0.0.1:8001/call/alice
//! ```
//!
//! `GET /call/<name>` calls `GET {SERVER_URL}/hello/<name>` (`SERVER_URL`
//! defaults to `http://127.0.0.1:8000`) with reqwest and answers with the
//! server's status and body unchanged. One trace, three spans: the client's
//! entry span `GET /call/<name>` (service `client`), its call
//! `GET 127.0.0.1:8000` (`span.kind=client`), and the server's span
//! `GET /hello/<name>` (service `server`).

use rocket::http::Status;
use rocket::{get, launch, routes, State};
use rocket_opentracing::client::TracedRequest;
use rocket_opentracing::{ActiveSpan, OpenTracingFairing};

/// Default base URL of the example server.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8000";

/// Default port of the client app.
const DEFAULT_PORT: u16 = 8001;

/// Where the server is, and the HTTP client calling it (one, so that
/// connections are reused).
pub struct Upstream {
    /// Base URL of the server, e.g. `http://127.0.0.1:8000`.
    pub base_url: String,
    /// The HTTP client.
    pub client: reqwest::Client,
}

impl Upstream {
    /// The upstream at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Upstream {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

/// `GET /call/<name>`: calls the server's `/hello/<name>` inside a client
/// span and answers with its status and body (`502` if it cannot be reached).
#[get("/call/<name>")]
async fn call(name: &str, upstream: &State<Upstream>, span: ActiveSpan<'_>) -> (Status, String) {
    let url = format!("{}/hello/{name}", upstream.base_url);
    let response = match upstream.client.get(url).send_traced(&span).await {
        Ok(response) => response,
        Err(e) => {
            return (
                Status::BadGateway,
                format!("the server is unreachable: {e}"),
            )
        }
    };
    let status = Status::new(response.status().as_u16());
    match response.text().await {
        Ok(body) => (status, body),
        Err(e) => (
            Status::BadGateway,
            format!("the server's answer broke off: {e}"),
        ),
    }
}

/// The app's routes (the two-app integration test serves these same routes).
pub fn routes() -> Vec<rocket::Route> {
    routes![call]
}

#[launch]
fn rocket() -> _ {
    let mut figment = rocket::Config::figment();
    if std::env::var_os("ROCKET_PORT").is_none() {
        figment = figment.merge(("port", DEFAULT_PORT));
    }
    let server_url = std::env::var("SERVER_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
    rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .manage(Upstream::new(server_url))
        .mount("/", routes())
}
