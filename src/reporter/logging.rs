//! The one-line span logger used when [`ReporterConfig::log_spans`] is on.
//!
//! Each reported span is printed as an `info` record of the `log` crate (which
//! Rocket's logger prints), for example:
//!
//! ```text
//! span GET /hello/<name> trace=6309ab92c95468edea0dc1a9772ae2dc span=409423a204bc17a8 parent=0000000000000000 duration=1.234ms status=200 error=false
//! ```
//!
//! Ids are written as everywhere else ([`crate::ids`]): the trace id as the
//! `X-Trace-Id` response header shows it (16 zero-padded lower-case hex
//! digits, 32 when its high 64 bits are not zero), span and parent ids as
//! 16 digits (a root span's parent is `0000000000000000`).
//!
//! [`ReporterConfig::log_spans`]: super::ReporterConfig::log_spans

use crate::ids::{DisplaySpanId, DisplayTraceId};
use crate::record::{Record, TagRef};
use std::fmt;

/// Tag holding the HTTP status code of a request span.
const STATUS_TAG: &str = "http.status_code";
/// Tag marking a failed operation.
const ERROR_TAG: &str = "error";

/// Logs `span` on one line at `info` level (if that level is enabled).
pub(crate) fn log_span(span: &Record) {
    if log::log_enabled!(log::Level::Info) {
        log::info!("{}", SpanLine(span));
    }
}

/// Displays a span as one log line (see [`write_span_line`]).
pub(crate) struct SpanLine<'a>(pub(crate) &'a Record<'a>);

impl fmt::Display for SpanLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_span_line(f, self.0)
    }
}

/// Writes the one-line summary of `span`: operation name, trace, span and
/// parent ids (zero-padded hex, see [`crate::ids`]), duration,
/// `http.status_code` tag (if any) and `error` tag (`false` if absent).
pub(crate) fn write_span_line<W: fmt::Write>(out: &mut W, span: &Record) -> fmt::Result {
    write!(
        out,
        "span {} trace={} span={} parent={} duration=",
        span.operation_name(),
        DisplayTraceId(span.trace_id()),
        DisplaySpanId(span.span_id()),
        DisplaySpanId(span.parent_span_id()),
    )?;
    write_duration(out, span)?;
    // The first tag of each name (a span holds one of each).
    let (mut status, mut error) = (None, None);
    span.for_each_tag(|key, value| {
        let found = match key {
            STATUS_TAG => &mut status,
            ERROR_TAG => &mut error,
            _ => return,
        };
        if found.is_none() {
            let mut text = String::new();
            let _ = write_tag_value(&mut text, value);
            *found = Some(text);
        }
    });
    if let Some(status) = status {
        write!(out, " status={status}")?;
    }
    write!(out, " error={}", error.as_deref().unwrap_or("false"))
}

/// Writes the duration of `span` in milliseconds (0 if it finished before it
/// started).
fn write_duration<W: fmt::Write>(out: &mut W, span: &Record) -> fmt::Result {
    let duration = span
        .finish_time()
        .duration_since(span.start_time())
        .unwrap_or_default();
    write!(out, "{:.3}ms", duration.as_secs_f64() * 1000.0)
}

fn write_tag_value<W: fmt::Write>(out: &mut W, value: TagRef<'_>) -> fmt::Result {
    match value {
        TagRef::Str(s) => out.write_str(s),
        TagRef::Bool(b) => write!(out, "{b}"),
        TagRef::Long(i) => write!(out, "{i}"),
        TagRef::Double(x) => write!(out, "{x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::thrift::testing::finish;
    use rustracing::tag::{StdTag, Tag};
    use rustracing_jaeger::span::{SpanContext, SpanContextStateBuilder, TraceId};
    use std::time::{Duration, SystemTime};

    fn line(span: &Record) -> String {
        SpanLine(span).to_string()
    }

    #[test]
    fn formats_a_request_record_as_its_rustracing_span() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let record = Record::Request(crate::record::RequestRecord {
            trace_id: "6309ab92c95468edea0dc1a9772ae2dc".parse().unwrap(),
            span_id: 0x4094_23a2_04bc_17a8,
            parent_span_id: Some(7),
            flags: 1,
            operation_name: "GET /hello/<name>".into(),
            start,
            finish: start + Duration::from_micros(1234),
            method: "GET",
            url: "/hello/x",
            peer: Some("10.0.0.1:80".parse().unwrap()),
            status: Some(404),
        });
        assert_eq!(
            line(&record),
            "span GET /hello/<name> trace=6309ab92c95468edea0dc1a9772ae2dc \
             span=409423a204bc17a8 parent=0000000000000007 duration=1.234ms status=404 error=false"
        );
    }

    #[test]
    fn formats_a_request_span() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let trace_id: TraceId = "6309ab92c95468edea0dc1a9772ae2dc".parse().unwrap();
        let span = finish(|tracer| {
            let mut span = tracer
                .span("GET /hello/<name>")
                .start_time(start)
                .tag(StdTag::http_status_code(200))
                .start_with_state(
                    SpanContextStateBuilder::new()
                        .trace_id(trace_id)
                        .span_id(0x4094_23a2_04bc_17a8)
                        .finish(),
                );
            span.set_finish_time(|| start + Duration::from_micros(1234));
            span
        });
        assert_eq!(
            line(&span),
            "span GET /hello/<name> trace=6309ab92c95468edea0dc1a9772ae2dc \
             span=409423a204bc17a8 parent=0000000000000000 duration=1.234ms status=200 error=false"
        );
    }

    #[test]
    fn formats_parent_error_and_missing_status() {
        let parent_state = SpanContextStateBuilder::new()
            .trace_id(TraceId {
                high: 0,
                low: 0xabc,
            })
            .span_id(0xfeed)
            .finish();
        let parent = SpanContext::new(parent_state, Vec::new());
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let span = finish(|tracer| {
            let mut span = tracer
                .span("db")
                .child_of(&parent)
                .start_time(start)
                .tag(Tag::new("error", true))
                .start_with_state(
                    SpanContextStateBuilder::new()
                        .trace_id(TraceId {
                            high: 0,
                            low: 0xabc,
                        })
                        .span_id(0x1)
                        .finish(),
                );
            span.set_finish_time(|| start + Duration::from_millis(2500));
            span
        });
        assert_eq!(
            line(&span),
            "span db trace=0000000000000abc span=0000000000000001 parent=000000000000feed \
             duration=2500.000ms error=true"
        );
    }

    /// A span of trace `trace_id` (given as the `X-Trace-Id` header shows
    /// it), with span id `span_id`, as a child of span `parent` if not 0.
    fn span_in(trace_id: &str, span_id: u64, parent: u64) -> Record<'static> {
        let trace_id = crate::ids::parse_trace_id(trace_id).unwrap();
        let state = |span_id| {
            SpanContextStateBuilder::new()
                .trace_id(trace_id)
                .span_id(span_id)
                .finish()
        };
        let parent = SpanContext::new(state(parent), Vec::new());
        finish(|tracer| {
            let mut span = tracer.span("op");
            if parent.state().span_id() != 0 {
                span = span.child_of(&parent);
            }
            span.start_with_state(state(span_id))
        })
    }

    /// The `trace=`, `span=` and `parent=` values of a span line.
    fn ids_of(line: &str) -> [&str; 3] {
        let value = |key: &str| {
            line.split(' ')
                .find_map(|field| field.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {line}"))
        };
        [value("trace="), value("span="), value("parent=")]
    }

    #[test]
    fn ids_keep_their_leading_zeros_as_in_the_trace_id_header() {
        // rustracing's own Display writes these as `ebebe35c9ee76b6…` and
        // `1`; the X-Trace-Id header (DisplayTraceId) pads them.
        for (trace_id, span_id, parent, expected) in [
            (
                "0ebebe35c9ee76b6a1b2c3d4e5f60718",
                0x0a,
                0x00ff,
                [
                    "0ebebe35c9ee76b6a1b2c3d4e5f60718",
                    "000000000000000a",
                    "00000000000000ff",
                ],
            ),
            (
                "0ebebe35c9ee76b6",
                0x0123_4567_89ab_cdef,
                0,
                ["0ebebe35c9ee76b6", "0123456789abcdef", "0000000000000000"],
            ),
            (
                "1",
                1,
                2,
                ["0000000000000001", "0000000000000001", "0000000000000002"],
            ),
            (
                // High bits 1: 32 digits, the high half padded too.
                "10000000000000001",
                u64::MAX,
                0,
                [
                    "00000000000000010000000000000001",
                    "ffffffffffffffff",
                    "0000000000000000",
                ],
            ),
        ] {
            let span = span_in(trace_id, span_id, parent);
            let line = line(&span);
            assert_eq!(ids_of(&line), expected, "{line}");
            let header = DisplayTraceId(span.trace_id()).to_string();
            assert_eq!(ids_of(&line)[0], header, "the X-Trace-Id format");
        }
    }

    #[test]
    fn prints_no_url_header_or_other_tag() {
        let span = finish(|tracer| {
            tracer
                .span("GET /login")
                .tag(StdTag::http_url("/login?token=url-secret"))
                .tag(Tag::new("http.header.authorization", "Bearer auth-secret"))
                .tag(Tag::new("http.header.cookie", "session=cookie-secret"))
                .tag(Tag::new("peer.hostname", "user:pw@host"))
                .tag(StdTag::http_status_code(401))
                .start()
        });
        let line = line(&span);
        assert!(line.ends_with(" status=401 error=false"), "{line}");
        for secret in ["url-secret", "auth-secret", "cookie-secret", "pw@"] {
            assert!(!line.contains(secret), "{line}");
        }
    }

    #[test]
    fn negative_duration_is_zero() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let span = finish(|tracer| {
            let mut span = tracer.span("x").start_time(start).start();
            span.set_finish_time(|| start - Duration::from_secs(1));
            span
        });
        assert!(
            line(&span).contains(" duration=0.000ms "),
            "{}",
            line(&span)
        );
    }
}
