//! The finished-span record: what the request side hands the reporting side,
//! and the one thing every encoder (Jaeger compact and binary Thrift, the
//! span log line, the trace viewer) reads.
//!
//! A record is either a span finished by a `rustracing` tracer (child spans,
//! a user's own spans, and request spans that user code touched), or a
//! request span recorded without ever building `rustracing`'s heap span
//! ([`RequestRecord`]: ids, times, the request's method, target and peer,
//! the response status). Both read the same way: the request record yields
//! exactly the tags, in the same order, that the `rustracing` span of the
//! same request would hold.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use rustracing::log::{Log, LogField};
use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::span::{FinishedSpan, SpanReference, TraceId};

/// The value of the `component` tag of request spans.
pub(crate) const COMPONENT: &str = "rocket";

/// The HTTP methods Rocket knows (Rocket 0.5 offers no list), in the
/// order encoders look them up.
pub(crate) const HTTP_METHODS: [&str; 9] = [
    "GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PATCH",
];

/// The tag carrying the caller's W3C `tracestate` on the request span (and
/// the trace state of an OTLP span).
pub(crate) const TRACESTATE_TAG: &str = "w3c.tracestate";

/// A borrowed tag value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TagRef<'a> {
    Str(&'a str),
    Double(f64),
    Bool(bool),
    Long(i64),
}

impl<'a> From<&'a TagValue> for TagRef<'a> {
    fn from(value: &'a TagValue) -> Self {
        match value {
            TagValue::String(s) => TagRef::Str(s),
            TagValue::Boolean(b) => TagRef::Bool(*b),
            TagValue::Integer(i) => TagRef::Long(*i),
            TagValue::Float(f) => TagRef::Double(*f),
        }
    }
}

/// A reference from a span to another, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reference {
    /// `child_of` (else `follows_from`).
    pub(crate) child_of: bool,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: u64,
}

/// A request span recorded without a `rustracing` span: what the fairing
/// knows of a sampled request nobody else touched. `U` is how its URL is
/// held: owned when made, a range of the reporter's text buffer while
/// queued, borrowed from that buffer when read.
#[derive(Debug, Clone)]
pub(crate) struct RequestRecord<U = String> {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: u64,
    /// The caller's span, when the trace was continued (a `child_of`
    /// reference within the same trace).
    pub(crate) parent_span_id: Option<u64>,
    /// Jaeger's flags of this span (sampled, debug).
    pub(crate) flags: u8,
    pub(crate) operation_name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) finish: SystemTime,
    pub(crate) method: &'static str,
    /// `http.url`: the request target as the configuration records it.
    pub(crate) url: U,
    pub(crate) peer: Option<SocketAddr>,
    /// The response status; none for a span abandoned before its response
    /// (its request dropped without one, as when the runtime shuts down).
    pub(crate) status: Option<u16>,
}

impl<U> RequestRecord<U> {
    /// The same record with its URL held as `url`; and the URL it had.
    pub(crate) fn with_url<V>(self, url: V) -> (RequestRecord<V>, U) {
        let RequestRecord {
            trace_id,
            span_id,
            parent_span_id,
            flags,
            operation_name,
            start,
            finish,
            method,
            url: old,
            peer,
            status,
        } = self;
        let record = RequestRecord {
            trace_id,
            span_id,
            parent_span_id,
            flags,
            operation_name,
            start,
            finish,
            method,
            url,
            peer,
            status,
        };
        (record, old)
    }
}

/// A span inside a request recorded without a `rustracing` span (a
/// `tracing` span bridged by [`TracingLayer`](crate::TracingLayer)): always
/// a child of another span of its trace, with the tags and logs it was
/// given.
#[derive(Debug, Clone)]
pub(crate) struct ChildRecord {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: u64,
    /// The parent span (a `child_of` reference within the same trace).
    pub(crate) parent_span_id: u64,
    /// Jaeger's flags (sampled, debug): the request's.
    pub(crate) flags: u8,
    pub(crate) operation_name: Cow<'static, str>,
    pub(crate) start: SystemTime,
    pub(crate) finish: SystemTime,
    /// `follows_from` references, after the parent.
    pub(crate) follows_from: Vec<Reference>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<LogEntry>,
    /// Logs left out while the span was recorded (past the limit).
    pub(crate) dropped_logs: usize,
}

/// A log of a span recorded without a `rustracing` span.
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    pub(crate) time: SystemTime,
    pub(crate) fields: Vec<LogField>,
}

/// A log as encoders read it, whichever kind of span holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogRef<'a> {
    time: SystemTime,
    fields: &'a [LogField],
}

impl<'a> LogRef<'a> {
    pub(crate) fn time(&self) -> SystemTime {
        self.time
    }

    pub(crate) fn fields(&self) -> &'a [LogField] {
        self.fields
    }
}

/// The logs of a span, whichever kind of span holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Logs<'a> {
    Span(&'a [Log]),
    Entries(&'a [LogEntry]),
}

impl<'a> Logs<'a> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Logs::Span(logs) => logs.len(),
            Logs::Entries(logs) => logs.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The logs kept within `max_logs`, and how many were left out (the
    /// count a [`DROPPED_LOGS_TAG`](crate::limits::DROPPED_LOGS_TAG) tag
    /// reports).
    pub(crate) fn kept(self, max_logs: usize) -> (Logs<'a>, usize) {
        match self {
            Logs::Span(logs) => {
                let (kept, dropped) = crate::limits::kept_logs(logs, max_logs);
                (Logs::Span(kept), dropped)
            }
            Logs::Entries(logs) => {
                let (kept, dropped) = crate::limits::kept_logs(logs, max_logs);
                (Logs::Entries(kept), dropped)
            }
        }
    }

    /// Each log, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = LogRef<'a>> {
        let (span, entries) = match self {
            Logs::Span(logs) => (logs, &[][..]),
            Logs::Entries(logs) => (&[][..], logs),
        };
        let span = span.iter().map(|log| LogRef {
            time: log.time(),
            fields: log.fields(),
        });
        let entries = entries.iter().map(|log| LogRef {
            time: log.time,
            fields: &log.fields,
        });
        span.chain(entries)
    }
}

/// Where the request side hands records to the reporting side (the
/// reporter's intake); it must not block.
pub(crate) trait RecordSink: Send + Sync {
    /// Takes `record` for delivery.
    fn send(&self, record: RequestRecord);

    /// Takes `record`, a span inside a request, for delivery.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn send_child(&self, record: ChildRecord);
}

/// A finished span, however it was recorded.
#[derive(Debug)]
pub(crate) enum Record<'a> {
    /// Finished by a `rustracing` tracer.
    Span(FinishedSpan),
    /// A request span recorded by the fairing alone (its URL borrowed from
    /// the reporter's buffer).
    Request(RequestRecord<&'a str>),
    /// A span inside a request recorded without a `rustracing` span.
    Child(ChildRecord),
}

/// Text of an IP address, without allocating: at most 45 bytes (the longest
/// IPv6 text form).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpText {
    buf: [u8; 45],
    len: usize,
}

impl IpText {
    pub(crate) fn new(ip: IpAddr) -> Self {
        let mut text = IpText {
            buf: [0; 45],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            IpAddr::V6(v6) => {
                use std::io::Write;
                let mut cursor = std::io::Cursor::new(&mut text.buf[..]);
                let _ = write!(cursor, "{v6}");
                text.len = usize::try_from(cursor.position()).unwrap_or(0);
            }
        }
        text
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    /// The text's bytes (ASCII).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// The `peer.ipv4`/`peer.ipv6` tag name of `ip`.
pub(crate) fn peer_ip_tag(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "peer.ipv4",
        IpAddr::V6(_) => "peer.ipv6",
    }
}

/// The text of `ip` as `Display` writes it, IPv4 digit by digit.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    IpText::new(ip).as_str().to_owned()
}

/// Whether a `rustracing` span reference is reported (rustracing_jaeger
/// skips references to unsampled spans).
fn is_reported(reference: &&SpanReference) -> bool {
    reference.span().is_sampled()
}

impl Record<'_> {
    pub(crate) fn trace_id(&self) -> TraceId {
        match self {
            Record::Span(span) => span.context().state().trace_id(),
            Record::Request(r) => r.trace_id,
            Record::Child(r) => r.trace_id,
        }
    }

    pub(crate) fn span_id(&self) -> u64 {
        match self {
            Record::Span(span) => span.context().state().span_id(),
            Record::Request(r) => r.span_id,
            Record::Child(r) => r.span_id,
        }
    }

    /// The parent span id reported: the span id of the first (reported)
    /// reference in the same trace, 0 for a root span. (A reference to
    /// another trace is a link, not a parent: Jaeger would turn a parent id
    /// into a child-of reference within the span's own trace.)
    pub(crate) fn parent_span_id(&self) -> u64 {
        let trace_id = self.trace_id();
        let mut parent = 0;
        self.references_while(|r| {
            if r.trace_id == trace_id {
                parent = r.span_id;
                return false;
            }
            true
        });
        parent
    }

    /// Jaeger's flags (sampled, debug).
    pub(crate) fn flags(&self) -> u8 {
        match self {
            Record::Span(span) => span.context().state().flags(),
            Record::Request(r) => r.flags,
            Record::Child(r) => r.flags,
        }
    }

    /// The `jaeger-debug-id` the caller asked for, if any.
    pub(crate) fn debug_id(&self) -> Option<&str> {
        match self {
            Record::Span(span) => span.context().state().debug_id(),
            Record::Request(_) | Record::Child(_) => None,
        }
    }

    pub(crate) fn operation_name(&self) -> &str {
        match self {
            Record::Span(span) => span.operation_name(),
            Record::Request(r) => &r.operation_name,
            Record::Child(r) => &r.operation_name,
        }
    }

    pub(crate) fn start_time(&self) -> SystemTime {
        match self {
            Record::Span(span) => span.start_time(),
            Record::Request(r) => r.start,
            Record::Child(r) => r.start,
        }
    }

    pub(crate) fn finish_time(&self) -> SystemTime {
        match self {
            Record::Span(span) => span.finish_time(),
            Record::Request(r) => r.finish,
            Record::Child(r) => r.finish,
        }
    }

    /// The number of references reported.
    pub(crate) fn reference_count(&self) -> usize {
        let mut n = 0;
        self.references_while(|_| {
            n += 1;
            true
        });
        n
    }

    /// Calls `f` on each reported reference, in order.
    pub(crate) fn for_each_reference(&self, mut f: impl FnMut(Reference)) {
        self.references_while(|r| {
            f(r);
            true
        });
    }

    /// Calls `f` on each reported reference until it returns `false`.
    fn references_while(&self, mut f: impl FnMut(Reference) -> bool) {
        match self {
            Record::Span(span) => {
                for r in span.references().iter().filter(is_reported) {
                    let target = r.span();
                    let reference = Reference {
                        child_of: r.is_child_of(),
                        trace_id: target.trace_id(),
                        span_id: target.span_id(),
                    };
                    if !f(reference) {
                        return;
                    }
                }
            }
            Record::Request(r) => {
                if let Some(parent) = r.parent_span_id {
                    f(Reference {
                        child_of: true,
                        trace_id: r.trace_id,
                        span_id: parent,
                    });
                }
            }
            Record::Child(r) => {
                let parent = Reference {
                    child_of: true,
                    trace_id: r.trace_id,
                    span_id: r.parent_span_id,
                };
                if !f(parent) {
                    return;
                }
                for reference in &r.follows_from {
                    if !f(*reference) {
                        return;
                    }
                }
            }
        }
    }

    /// The number of tags (not counting the debug id, which encoders add).
    pub(crate) fn tag_count(&self) -> usize {
        match self {
            Record::Span(span) => span.tags().len(),
            Record::Request(r) => {
                4 + if r.peer.is_some() { 2 } else { 0 } + usize::from(r.status.is_some())
            }
            Record::Child(r) => r.tags.len(),
        }
    }

    /// Calls `f` on each tag, in order. A request record's tags are those
    /// its `rustracing` span would hold: `span.kind`, `component`,
    /// `http.method`, `http.url`, `peer.ipv4`/`peer.ipv6` and `peer.port`
    /// when the peer is known, `http.status_code` when there was a
    /// response.
    pub(crate) fn for_each_tag(&self, mut f: impl FnMut(&str, TagRef<'_>)) {
        match self {
            Record::Span(span) => {
                for tag in span.tags() {
                    f(tag.name(), tag.value().into());
                }
            }
            Record::Request(r) => {
                f("span.kind", TagRef::Str("server"));
                f("component", TagRef::Str(COMPONENT));
                f("http.method", TagRef::Str(r.method));
                f("http.url", TagRef::Str(r.url));
                if let Some(peer) = r.peer {
                    let ip = IpText::new(peer.ip());
                    f(peer_ip_tag(peer.ip()), TagRef::Str(ip.as_str()));
                    f("peer.port", TagRef::Long(i64::from(peer.port())));
                }
                if let Some(status) = r.status {
                    f("http.status_code", TagRef::Long(i64::from(status)));
                }
            }
            Record::Child(r) => {
                for tag in &r.tags {
                    f(tag.name(), tag.value().into());
                }
            }
        }
    }

    /// The logs (a request record has none).
    pub(crate) fn logs(&self) -> Logs<'_> {
        match self {
            Record::Span(span) => Logs::Span(span.logs()),
            Record::Request(_) => Logs::Span(&[]),
            Record::Child(r) => Logs::Entries(&r.logs),
        }
    }

    /// Logs left out before the span reached the reporter (to be counted
    /// with those the encoder leaves out).
    pub(crate) fn dropped_logs(&self) -> usize {
        match self {
            Record::Child(r) => r.dropped_logs,
            Record::Span(_) | Record::Request(_) => 0,
        }
    }

    /// The count of a [`DROPPED_LOGS_TAG`](crate::limits::DROPPED_LOGS_TAG)
    /// tag the span already holds (logs it left out itself, as a request
    /// span does past the limit of its `tracing` events): an encoder that
    /// leaves out more writes one tag counting both.
    pub(crate) fn tagged_dropped_logs(&self) -> Option<usize> {
        let mut count = None;
        self.for_each_tag(|name, value| {
            if let (crate::limits::DROPPED_LOGS_TAG, TagRef::Long(n)) = (name, value) {
                count = Some(usize::try_from(n).unwrap_or(0));
            }
        });
        count
    }

    /// The span's baggage items as (name, value) pairs (a request record
    /// has none: a request's baggage is propagated, not recorded).
    #[cfg_attr(not(feature = "viewer"), allow(dead_code))]
    pub(crate) fn for_each_baggage_item(&self, mut f: impl FnMut(&str, &str)) {
        if let Record::Span(span) = self {
            for item in span.context().baggage_items() {
                f(item.name(), item.value());
            }
        }
    }
}

#[cfg(test)]
impl Record<'_> {
    /// The `rustracing` span of a record made of one.
    pub(crate) fn span(&self) -> &FinishedSpan {
        match self {
            Record::Span(span) => span,
            Record::Request(_) | Record::Child(_) => {
                panic!("a record made without rustracing has no rustracing span")
            }
        }
    }
}

/// Signed number of microseconds from `start` to `finish`, like
/// rustracing_jaeger computes timestamps and durations.
pub(crate) fn micros_between(start: SystemTime, finish: SystemTime) -> i64 {
    fn micros(d: std::time::Duration) -> i64 {
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
    }
    match finish.duration_since(start) {
        Ok(d) => micros(d),
        Err(e) => -micros(e.duration()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_what_display_writes() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.0.100.9",
            "192.168.1.20",
            "255.255.255.255",
            "::1",
            "::ffff:10.0.0.1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::8a2e:370:7334",
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(parsed), parsed.to_string());
        }
    }
}
