//! The one-line span logger used when [`ReporterConfig::log_spans`] is on.
//!
//! Each reported span is printed as an `info` record of the `log` crate (which
//! Rocket's logger prints), for example:
//!
//! ```text
//! span GET /hello/<name> trace=6309ab92c95468edea0dc1a9772ae2dc span=409423a204bc17a8 parent=0 duration=1.234ms status=200 error=false
//! ```
//!
//! [`ReporterConfig::log_spans`]: super::ReporterConfig::log_spans

use super::finished::parent_span_id;
use rustracing::tag::TagValue;
use rustracing_jaeger::span::FinishedSpan;
use std::fmt;

/// Tag holding the HTTP status code of a request span.
const STATUS_TAG: &str = "http.status_code";
/// Tag marking a failed operation.
const ERROR_TAG: &str = "error";

/// Logs `span` on one line at `info` level (if that level is enabled).
pub(crate) fn log_span(span: &FinishedSpan) {
    if log::log_enabled!(log::Level::Info) {
        log::info!("{}", SpanLine(span));
    }
}

/// Displays a span as one log line (see [`write_span_line`]).
pub(crate) struct SpanLine<'a>(pub(crate) &'a FinishedSpan);

impl fmt::Display for SpanLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_span_line(f, self.0)
    }
}

/// Writes the one-line summary of `span`: operation name, trace, span and
/// parent ids (hex), duration, `http.status_code` tag (if any) and `error`
/// tag (`false` if absent).
pub(crate) fn write_span_line<W: fmt::Write>(out: &mut W, span: &FinishedSpan) -> fmt::Result {
    let state = span.context().state();
    write!(
        out,
        "span {} trace={} span={:x} parent={:x} duration=",
        span.operation_name(),
        state.trace_id(),
        state.span_id(),
        parent_span_id(span),
    )?;
    write_duration(out, span)?;
    if let Some(status) = tag_value(span, STATUS_TAG) {
        write!(out, " status=")?;
        write_tag_value(out, status)?;
    }
    write!(out, " error=")?;
    match tag_value(span, ERROR_TAG) {
        Some(value) => write_tag_value(out, value),
        None => write!(out, "false"),
    }
}

/// Writes the duration of `span` in milliseconds (0 if it finished before it
/// started).
fn write_duration<W: fmt::Write>(out: &mut W, span: &FinishedSpan) -> fmt::Result {
    let duration = span
        .finish_time()
        .duration_since(span.start_time())
        .unwrap_or_default();
    write!(out, "{:.3}ms", duration.as_secs_f64() * 1000.0)
}

/// The value of the tag named `name`, if `span` has one.
fn tag_value<'a>(span: &'a FinishedSpan, name: &str) -> Option<&'a TagValue> {
    span.tags()
        .iter()
        .find(|tag| tag.name() == name)
        .map(|tag| tag.value())
}

fn write_tag_value<W: fmt::Write>(out: &mut W, value: &TagValue) -> fmt::Result {
    match value {
        TagValue::String(s) => out.write_str(s),
        TagValue::Boolean(b) => write!(out, "{b}"),
        TagValue::Integer(i) => write!(out, "{i}"),
        TagValue::Float(x) => write!(out, "{x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::thrift::testing::finish;
    use rustracing::tag::{StdTag, Tag};
    use rustracing_jaeger::span::{SpanContext, SpanContextStateBuilder, TraceId};
    use std::time::{Duration, SystemTime};

    fn line(span: &FinishedSpan) -> String {
        SpanLine(span).to_string()
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
             span=409423a204bc17a8 parent=0 duration=1.234ms status=200 error=false"
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
            "span db trace=abc span=1 parent=feed duration=2500.000ms error=true"
        );
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
