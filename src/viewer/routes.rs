//! The viewer's routes, relative to its mount point (`/_traces` by default):
//! the pages, the JSON API, and the collector endpoint other processes
//! report into (the OTLP endpoint is in `otlp_route.rs`).

use rocket::data::{Data, ToByteUnit};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::content::{RawHtml, RawJson};
use rocket::response::{self, Redirect, Responder, Response};
use rocket::serde::json::Json;
use rocket::serde::Serialize;
use rocket::{get, post, routes, Request, Route, State};

use super::access::ViewerAccess;
use super::html::{self, ListForm};
use super::ingest::{decode_batch, IngestLimits};
use super::model::{format_trace_id, parse_trace_id, SpanRecord, TraceSummary};
use super::store::{StoreStats, TraceFilter};
use super::Viewer;

/// Every route of the viewer (the OTLP endpoint with the `otlp` feature).
pub(crate) fn all() -> Vec<Route> {
    #[allow(unused_mut)]
    let mut all = routes![list, trace, api_traces, api_trace, collect];
    #[cfg(feature = "otlp")]
    all.extend(super::otlp_route::routes());
    all
}

/// The pages' `Content-Security-Policy`, also in their `<meta>` tag; as a
/// header it can also keep other sites from framing them.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

/// An HTML page of the viewer, never cached (it shows live data).
pub(crate) struct Page(Status, String);

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        Response::build_from(RawHtml(self.1).respond_to(req)?)
            .status(self.0)
            .raw_header("Content-Security-Policy", CSP)
            .raw_header("Cache-Control", "no-store")
            .ok()
    }
}

/// The answers of the list page.
#[derive(rocket::Responder)]
enum ListAnswer {
    /// The list.
    List(Page),
    /// A valid trace id was looked up: its page.
    Lookup(Box<Redirect>),
    /// A filter value is invalid (the form cannot send one): what is wrong.
    BadFilter((Status, String)),
}

/// `GET /?operation=&error=&min_duration_ms=&limit=`: the trace list;
/// `GET /?id=<trace id>`: redirects to that trace's page.
#[get("/?<filter..>")]
fn list(_access: ViewerAccess, viewer: &State<Viewer>, filter: FilterQuery) -> ListAnswer {
    let id = filter.id.as_deref().and_then(parse_trace_id);
    if let Some(id) = id {
        let to = format!("{}/trace/{}", viewer.base, format_trace_id(id));
        return ListAnswer::Lookup(Box::new(Redirect::to(to)));
    }
    let trace_filter = match filter.to_filter() {
        Ok(trace_filter) => trace_filter,
        Err(e) => return ListAnswer::BadFilter((Status::BadRequest, e)),
    };
    let text = |value: Option<String>| value.unwrap_or_default();
    let form = ListForm {
        operation: text(filter.operation),
        error: text(filter.error),
        min_duration_ms: text(filter.min_duration_ms),
        id: text(filter.id),
        limit: text(filter.limit),
    };
    let page = html::list_page(
        &viewer.base,
        &viewer.store.traces(&trace_filter),
        &form,
        &viewer.store.operations(),
        &viewer.store.stats(),
    );
    ListAnswer::List(Page(Status::Ok, page))
}

/// `GET /trace/<id>`: a trace's waterfall.
#[get("/trace/<id>")]
fn trace(_access: ViewerAccess, viewer: &State<Viewer>, id: &str) -> Page {
    match parse_trace_id(id).and_then(|trace_id| Some((trace_id, viewer.store.trace(trace_id)?))) {
        Some((trace_id, spans)) => {
            Page(Status::Ok, html::trace_page(&viewer.base, trace_id, &spans))
        }
        None => Page(Status::NotFound, html::not_found_page(&viewer.base, id)),
    }
}

/// The filter of a trace list, as given in the query string (kept as text,
/// so that a bad value is explained rather than refused by Rocket).
#[derive(Debug, Clone, Default, PartialEq, Eq, FromForm)]
pub(crate) struct FilterQuery {
    /// Text found in the operation of one of the trace's spans.
    pub(crate) operation: Option<String>,
    /// `true`: traces with an error; `false`: without; empty: both.
    pub(crate) error: Option<String>,
    /// Minimum trace duration, in milliseconds (a decimal number).
    pub(crate) min_duration_ms: Option<String>,
    /// Most traces listed.
    pub(crate) limit: Option<String>,
    /// A trace id to look up (the list page redirects to its trace).
    pub(crate) id: Option<String>,
}

impl FilterQuery {
    /// The store filter these values describe, or what is wrong with them.
    pub(crate) fn to_filter(&self) -> Result<TraceFilter, String> {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let error = match given(&self.error).as_deref() {
            None | Some("any") => None,
            Some("true" | "1" | "yes" | "on") => Some(true),
            Some("false" | "0" | "no" | "off") => Some(false),
            Some(_) => return Err("`error` must be true or false".to_owned()),
        };
        let min_duration_us = match given(&self.min_duration_ms) {
            None => None,
            Some(ms) => match ms.parse::<f64>() {
                Ok(ms) if ms.is_finite() && ms >= 0.0 => {
                    Some((ms * 1000.0).min(i64::MAX as f64) as i64)
                }
                _ => {
                    return Err(
                        "`min_duration_ms` must be a number of milliseconds, at least 0".to_owned(),
                    )
                }
            },
        };
        let limit = match given(&self.limit) {
            None => None,
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err("`limit` must be a whole number, at least 1".to_owned()),
            },
        };
        Ok(TraceFilter {
            operation: given(&self.operation),
            error,
            min_duration_us,
            limit,
        })
    }
}

/// The body of `GET /api/traces`.
#[derive(Debug, Serialize)]
#[serde(crate = "rocket::serde")]
pub(crate) struct TraceList {
    /// The matching traces, newest first.
    traces: Vec<TraceSummary>,
    /// Spans stored now.
    spans: usize,
    /// Most spans stored.
    max_spans: usize,
    /// Spans evicted so far.
    evicted: u64,
}

/// The body of `GET /api/traces/<id>`.
#[derive(Debug, Serialize)]
#[serde(crate = "rocket::serde")]
pub(crate) struct TraceDetail<'a> {
    /// The trace id, as asked for (normalized).
    trace_id: String,
    /// Its stored spans, ordered by start.
    spans: Vec<&'a SpanRecord>,
}

/// The body of an error answer from the JSON API.
#[derive(Debug, Serialize)]
#[serde(crate = "rocket::serde")]
pub(crate) struct ApiError {
    /// What went wrong.
    error: String,
}

type ApiResult<T> = Result<Json<T>, (Status, Json<ApiError>)>;

fn api_error(status: Status, error: impl Into<String>) -> (Status, Json<ApiError>) {
    (
        status,
        Json(ApiError {
            error: error.into(),
        }),
    )
}

/// `GET /api/traces?operation=&error=&min_duration_ms=&limit=`.
#[get("/api/traces?<filter..>")]
fn api_traces(
    _access: ViewerAccess,
    viewer: &State<Viewer>,
    filter: FilterQuery,
) -> ApiResult<TraceList> {
    let filter = filter
        .to_filter()
        .map_err(|e| api_error(Status::BadRequest, e))?;
    let StoreStats {
        spans,
        max_spans,
        evicted,
        ..
    } = viewer.store.stats();
    Ok(Json(TraceList {
        traces: viewer.store.traces(&filter),
        spans,
        max_spans,
        evicted,
    }))
}

/// `GET /api/traces/<id>`: the spans of one trace.
#[get("/api/traces/<id>")]
fn api_trace(
    _access: ViewerAccess,
    viewer: &State<Viewer>,
    id: &str,
) -> Result<RawJson<String>, (Status, Json<ApiError>)> {
    let trace_id = parse_trace_id(id)
        .ok_or_else(|| api_error(Status::BadRequest, "a trace id is 1 to 32 hex digits"))?;
    let spans = viewer
        .store
        .trace(trace_id)
        .ok_or_else(|| api_error(Status::NotFound, "no such trace is stored"))?;
    let detail = TraceDetail {
        trace_id: format_trace_id(trace_id),
        spans: spans.iter().map(|s| &**s).collect(),
    };
    rocket::serde::json::to_string(&detail)
        .map(RawJson)
        .map_err(|e| api_error(Status::InternalServerError, e.to_string()))
}

/// Largest collector request body accepted (as the reporter sends at most),
/// on the Thrift and the OTLP endpoints.
pub(super) const MAX_COLLECTOR_BODY: usize = crate::reporter::MAX_COLLECTOR_BATCH_SIZE;

/// The answer to a collector request.
#[derive(Debug, Serialize)]
#[serde(crate = "rocket::serde")]
pub(crate) struct Collected {
    /// Spans added to the store.
    spans: usize,
}

/// `POST /api/traces`: a Jaeger collector endpoint. The body is one
/// binary-Thrift `jaeger.thrift` `Batch` (`application/x-thrift`, at most
/// 1 MiB), as Jaeger clients and this crate's reporter send; its spans join
/// the store. Answers `202` with `{"spans": n}`, `400` for a body that is
/// not such a batch, `413` for a larger one.
#[post("/api/traces", data = "<body>")]
async fn collect(
    _access: ViewerAccess,
    viewer: &State<Viewer>,
    body: Data<'_>,
) -> Result<(Status, Json<Collected>), (Status, Json<ApiError>)> {
    let body = body
        .open(MAX_COLLECTOR_BODY.bytes())
        .into_bytes()
        .await
        .map_err(|e| api_error(Status::BadRequest, format!("cannot read the body: {e}")))?;
    if !body.is_complete() {
        return Err(api_error(
            Status::PayloadTooLarge,
            format!("a batch is at most {MAX_COLLECTOR_BODY} bytes"),
        ));
    }
    let limits = IngestLimits {
        max_str_len: viewer.max_str_len,
        max_logs: viewer.max_logs,
    };
    let spans = decode_batch(&body, limits).map_err(|e| {
        log::debug!("rocket_opentracing: the trace viewer refused a batch: {e}");
        api_error(
            Status::BadRequest,
            format!("not a jaeger.thrift Batch: {e}"),
        )
    })?;
    let count = spans.len();
    viewer.store.extend(spans);
    Ok((Status::Accepted, Json(Collected { spans: count })))
}
