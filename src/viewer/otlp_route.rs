//! The viewer's OTLP/HTTP endpoint, `POST /v1/traces` relative to its
//! mount point (`/_traces/v1/traces` by default): what an OpenTelemetry
//! SDK's OTLP exporter sends with the `http/protobuf` protocol, answered as
//! the OTLP/HTTP specification says:
//!
//! - `200 OK` with an `application/x-protobuf` `ExportTraceServiceResponse`:
//!   empty when every span was stored, else with `partial_success` counting
//!   the spans left out for an invalid id, and why;
//! - `400 Bad Request` for a body that does not decode (or is not gzip
//!   data when it says so);
//! - `413 Payload Too Large` for a body over 1 MiB, or over 4 MiB once
//!   gunzipped;
//! - `415 Unsupported Media Type` for a `Content-Type` other than
//!   `application/x-protobuf` (OTLP/JSON is not accepted), or a
//!   `Content-Encoding` other than `gzip` (or none);
//!
//! the failures with a `google.rpc.Status` body holding the gRPC canonical
//! code (`3`, `INVALID_ARGUMENT`, for `400` and `415`; `8`,
//! `RESOURCE_EXHAUSTED`, for `413`) and the message, protobuf-encoded for a
//! protobuf request, else as JSON (`{"code": 3, "message": "…"}`). Clients
//! the viewer refuses get `404`, as on its other routes.

use rocket::data::{Data, ToByteUnit};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::json;
use rocket::{post, routes, Request, Route, State};

use super::access::ViewerAccess;
use super::ingest::otlp::{
    decode_request, gunzip, response_body, rpc_code, status_body, InflateError, MAX_INFLATED_BYTES,
};
use super::ingest::IngestLimits;
use super::routes::MAX_COLLECTOR_BODY;
use super::Viewer;

/// The OTLP routes.
pub(crate) fn routes() -> Vec<Route> {
    routes![export]
}

/// The media type of OTLP/HTTP's binary protobuf encoding.
const PROTOBUF: &str = "application/x-protobuf";

/// The headers telling how a request body is encoded.
pub(crate) struct BodyEncoding {
    /// `Content-Type`, as sent.
    content_type: Option<String>,
    /// `Content-Encoding`, as sent.
    content_encoding: Option<String>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BodyEncoding {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let header = |name| req.headers().get_one(name).map(str::to_owned);
        Outcome::Success(BodyEncoding {
            content_type: header("Content-Type"),
            content_encoding: header("Content-Encoding"),
        })
    }
}

impl BodyEncoding {
    /// Whether the body is binary protobuf (parameters ignored).
    fn is_protobuf(&self) -> bool {
        self.content_type.as_deref().is_some_and(|value| {
            let media_type = value.split(';').next().unwrap_or_default().trim();
            media_type.eq_ignore_ascii_case(PROTOBUF)
        })
    }

    /// Whether the body is gzip-compressed; `Err` for another encoding.
    fn is_gzip(&self) -> Result<bool, String> {
        match self.content_encoding.as_deref().map(str::trim) {
            None | Some("") => Ok(false),
            Some(coding) if coding.eq_ignore_ascii_case("identity") => Ok(false),
            Some(coding) if coding.eq_ignore_ascii_case("gzip") => Ok(true),
            Some(_) => Err("unsupported Content-Encoding: send gzip or no encoding".to_owned()),
        }
    }
}

/// An answer: its status, content type and body.
type Answer = (Status, (ContentType, Vec<u8>));

fn protobuf() -> ContentType {
    ContentType::new("application", "x-protobuf")
}

/// A failure answer to a protobuf request.
fn failure(status: Status, message: impl Into<String>) -> Answer {
    let message = message.into();
    log::debug!("rocket_opentracing: the trace viewer refused an OTLP request: {message}");
    (status, (protobuf(), status_body(status.code, &message)))
}

/// `POST /v1/traces`: an OTLP/HTTP trace export (see the [module
/// documentation](self)); its spans join the store.
#[post("/v1/traces", data = "<body>")]
async fn export(
    _access: ViewerAccess,
    viewer: &State<Viewer>,
    encoding: BodyEncoding,
    body: Data<'_>,
) -> Answer {
    if !encoding.is_protobuf() {
        let message = format!(
            "this endpoint takes OTLP/HTTP protobuf (Content-Type: {PROTOBUF}); \
             OTLP/JSON is not accepted: configure the exporter for http/protobuf"
        );
        log::debug!("rocket_opentracing: the trace viewer refused an OTLP request: {message}");
        let status = Status::UnsupportedMediaType;
        let body = json!({ "code": rpc_code(status.code), "message": message })
            .to_string()
            .into_bytes();
        return (status, (ContentType::JSON, body));
    }
    let gzip = match encoding.is_gzip() {
        Ok(gzip) => gzip,
        Err(message) => return failure(Status::UnsupportedMediaType, message),
    };
    let body = match body.open(MAX_COLLECTOR_BODY.bytes()).into_bytes().await {
        Ok(body) if body.is_complete() => body.into_inner(),
        Ok(_) => {
            return failure(
                Status::PayloadTooLarge,
                format!("a request body is at most {MAX_COLLECTOR_BODY} bytes"),
            )
        }
        Err(e) => return failure(Status::BadRequest, format!("cannot read the body: {e}")),
    };
    let body = if gzip {
        match gunzip(&body, MAX_INFLATED_BYTES) {
            Ok(inflated) => inflated,
            Err(InflateError::Invalid) => {
                return failure(Status::BadRequest, "the body is not valid gzip data")
            }
            Err(InflateError::TooLarge) => {
                return failure(
                    Status::PayloadTooLarge,
                    format!("a request body is at most {MAX_INFLATED_BYTES} bytes decompressed"),
                )
            }
        }
    } else {
        body
    };
    let limits = IngestLimits {
        max_str_len: viewer.max_str_len,
        max_logs: viewer.max_logs,
    };
    match decode_request(&body, limits) {
        Ok(decoded) => {
            let rejected = decoded.rejected;
            viewer.store.extend(decoded.spans);
            (Status::Ok, (protobuf(), response_body(rejected)))
        }
        Err(e) => failure(
            Status::BadRequest,
            format!("not an OTLP ExportTraceServiceRequest: {e}"),
        ),
    }
}
