//! One finished span as a jaeger.thrift `Span` struct, in either protocol,
//! within the configured limits; and how an oversized span is trimmed.

use std::cell::Cell;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use super::protocol::{write_str_limited, Protocol, StructWriter};
use super::wire::{
    DEBUG_ID_TAG, REF_CHILD_OF, REF_FOLLOWS_FROM, STOP, TAG_BOOL, TAG_DOUBLE, TAG_LONG, TAG_STRING,
};
use crate::limits::{count_value, DROPPED_LOGS_TAG};
pub(crate) use crate::record::TagRef;
use crate::record::{
    micros_between, IpText, LogRef, Record, Reference, RequestRecord, COMPONENT, HTTP_METHODS,
};
#[cfg(test)]
pub(crate) use crate::reporter::trim::TRIMMED_STRING_LEN;
pub(crate) use crate::reporter::trim::{fit_within, Fit, Trim};

/// Appends a jaeger.thrift `Tag` struct; string values are cut to
/// `max_str_len` bytes if given.
#[inline]
pub(super) fn write_tag<P: Protocol>(
    buf: &mut Vec<u8>,
    key: &str,
    value: TagRef<'_>,
    max_str_len: Option<usize>,
) {
    let mut w = StructWriter::<P>::new(buf);
    w.string(1, key, None);
    match value {
        TagRef::Str(s) => {
            w.i32(2, TAG_STRING);
            w.string(3, s, max_str_len);
        }
        TagRef::Double(d) => {
            w.i32(2, TAG_DOUBLE);
            w.double(4, d);
        }
        TagRef::Bool(b) => {
            w.i32(2, TAG_BOOL);
            w.bool(5, b);
        }
        TagRef::Long(l) => {
            w.i32(2, TAG_LONG);
            w.i64(6, l);
        }
    }
    w.end();
}

/// Appends a jaeger.thrift `SpanRef` struct.
pub(super) fn write_span_ref<P: Protocol>(buf: &mut Vec<u8>, reference: Reference) {
    let kind = if reference.child_of {
        REF_CHILD_OF
    } else {
        REF_FOLLOWS_FROM
    };
    let mut w = StructWriter::<P>::new(buf);
    w.i32(1, kind);
    w.i64(2, reference.trace_id.low as i64);
    w.i64(3, reference.trace_id.high as i64);
    w.i64(4, reference.span_id as i64);
    w.end();
}

/// Appends a jaeger.thrift `Log` struct (fields become string tags, their
/// values cut to `max_str_len` bytes if given).
pub(super) fn write_log<P: Protocol>(
    buf: &mut Vec<u8>,
    log: LogRef<'_>,
    max_str_len: Option<usize>,
) {
    let mut w = StructWriter::<P>::new(buf);
    w.i64(1, micros_between(UNIX_EPOCH, log.time()));
    w.list(2, log.fields().len(), P::STRUCT);
    for field in log.fields() {
        let value = TagRef::Str(field.value());
        write_tag::<P>(w.buf(), field.name(), value, max_str_len);
    }
    w.end();
}

/// Appends a jaeger.thrift `Process` struct.
pub(super) fn write_process<P: Protocol>(
    buf: &mut Vec<u8>,
    service_name: &str,
    tags: &[(&str, &str)],
) {
    let mut w = StructWriter::<P>::new(buf);
    w.string(1, service_name, None);
    if !tags.is_empty() {
        w.list(2, tags.len(), P::STRUCT);
        for (key, value) in tags {
            write_tag::<P>(w.buf(), key, TagRef::Str(value), None);
        }
    }
    w.end();
}

/// The constant parts of a request record's tags, encoded once for one
/// protocol: its first three tags (`span.kind`, `component`, `http.method`)
/// whole, per HTTP method, and the others up to their values.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestTagTemplates {
    first: Vec<(&'static str, Vec<u8>)>,
    url: Vec<u8>,
    ipv4: Vec<u8>,
    ipv6: Vec<u8>,
    port: Vec<u8>,
    status: Vec<u8>,
    /// The last peer address written and its text (most requests come
    /// from a few addresses: proxies, load balancers).
    last_peer: Cell<Option<(IpAddr, IpText)>>,
}

/// Strings cut shorter than this leave the templates unused (their values are
/// shorter).
const TEMPLATE_MIN_STR_LEN: usize = 16;

/// A tag struct up to its value: key, value type, the value's field header.
fn tag_head<P: Protocol>(key: &str, long: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = StructWriter::<P>::new(&mut buf);
    w.string(1, key, None);
    if long {
        w.i32(2, TAG_LONG);
        w.field_header(6, P::I64);
    } else {
        w.i32(2, TAG_STRING);
        w.field_header(3, P::STRING);
    }
    buf
}

impl RequestTagTemplates {
    /// The templates in protocol `P`.
    pub(super) fn new<P: Protocol>() -> Self {
        let first = HTTP_METHODS
            .iter()
            .map(|&method| {
                let mut buf = Vec::new();
                write_tag::<P>(&mut buf, "span.kind", TagRef::Str("server"), None);
                write_tag::<P>(&mut buf, "component", TagRef::Str(COMPONENT), None);
                write_tag::<P>(&mut buf, "http.method", TagRef::Str(method), None);
                (method, buf)
            })
            .collect();
        RequestTagTemplates {
            first,
            url: tag_head::<P>("http.url", false),
            ipv4: tag_head::<P>("peer.ipv4", false),
            ipv6: tag_head::<P>("peer.ipv6", false),
            port: tag_head::<P>("peer.port", true),
            status: tag_head::<P>("http.status_code", true),
            last_peer: Cell::new(None),
        }
    }

    /// Writes the tags of `record` (in the order
    /// [`Record::for_each_tag`] yields them) if `trim` leaves the first
    /// three whole; returns whether it did.
    fn write<P: Protocol>(
        &self,
        buf: &mut Vec<u8>,
        record: &RequestRecord<&str>,
        trim: Trim,
    ) -> bool {
        if trim
            .max_str_len
            .is_some_and(|max| max < TEMPLATE_MIN_STR_LEN)
        {
            return false;
        }
        let Some((_, first)) = self
            .first
            .iter()
            .find(|(method, _)| *method == record.method)
        else {
            return false;
        };
        buf.extend_from_slice(first);
        buf.extend_from_slice(&self.url);
        write_str_limited::<P>(buf, record.url, trim.max_str_len);
        buf.push(STOP);
        if let Some(peer) = record.peer {
            let ip = match self.last_peer.get() {
                Some((last, text)) if last == peer.ip() => text,
                _ => {
                    let text = IpText::new(peer.ip());
                    self.last_peer.set(Some((peer.ip(), text)));
                    text
                }
            };
            buf.extend_from_slice(if peer.is_ipv4() {
                &self.ipv4
            } else {
                &self.ipv6
            });
            let bytes = ip.as_bytes();
            if trim.max_str_len.is_some_and(|max| max < bytes.len()) {
                write_str_limited::<P>(buf, ip.as_str(), trim.max_str_len);
            } else {
                // ASCII, whole: no need to look for a character boundary.
                P::string_len(buf, bytes.len());
                buf.extend_from_slice(bytes);
            }
            buf.push(STOP);
            buf.extend_from_slice(&self.port);
            P::i64(buf, i64::from(peer.port()));
            buf.push(STOP);
        }
        if let Some(status) = record.status {
            buf.extend_from_slice(&self.status);
            P::i64(buf, i64::from(status));
            buf.push(STOP);
        }
        true
    }
}

/// Encodes `span` as a jaeger.thrift `Span` struct in protocol `P` into
/// `buf` (cleared first).
#[cfg(test)]
pub(super) fn encode_span<P: Protocol>(buf: &mut Vec<u8>, span: &Record, trim: Trim) {
    encode_span_with::<P>(buf, span, trim, &RequestTagTemplates::default());
}

/// [`encode_span`], a request record's tags written from
/// `templates`.
fn encode_span_with<P: Protocol>(
    buf: &mut Vec<u8>,
    span: &Record,
    trim: Trim,
    templates: &RequestTagTemplates,
) {
    buf.clear();
    let trace_id = span.trace_id();
    let ref_count = span.reference_count();
    let (kept_logs, dropped_logs) = span.logs().kept(trim.max_logs);
    let mut dropped_logs = dropped_logs + span.dropped_logs();
    // One tag counts the logs left out, those the span counted too.
    let tagged = match dropped_logs {
        0 => None,
        _ => span.tagged_dropped_logs(),
    };
    dropped_logs += tagged.unwrap_or(0);
    let debug_id = span.debug_id();
    let tag_count = span.tag_count() - usize::from(tagged.is_some())
        + usize::from(debug_id.is_some())
        + usize::from(dropped_logs > 0);

    let mut w = StructWriter::<P>::new(buf);
    w.i64(1, trace_id.low as i64);
    w.i64(2, trace_id.high as i64);
    w.i64(3, span.span_id() as i64);
    w.i64(4, span.parent_span_id() as i64);
    w.string(5, span.operation_name(), trim.max_str_len);
    if ref_count > 0 {
        w.list(6, ref_count, P::STRUCT);
        span.for_each_reference(|reference| write_span_ref::<P>(w.buf(), reference));
    }
    w.i32(7, i32::from(span.flags()));
    let start = span.start_time();
    w.i64(8, micros_between(UNIX_EPOCH, start));
    w.i64(9, micros_between(start, span.finish_time()));
    if tag_count > 0 {
        w.list(10, tag_count, P::STRUCT);
        let templated = match span {
            Record::Request(record) => templates.write::<P>(w.buf(), record, trim),
            Record::Span(_) | Record::Child(_) => false,
        };
        if !templated {
            span.for_each_tag(|name, value| {
                if tagged.is_none() || name != DROPPED_LOGS_TAG {
                    write_tag::<P>(w.buf(), name, value, trim.max_str_len);
                }
            });
        }
        if let Some(debug_id) = debug_id {
            write_tag::<P>(
                w.buf(),
                DEBUG_ID_TAG,
                TagRef::Str(debug_id),
                trim.max_str_len,
            );
        }
        if dropped_logs > 0 {
            let count = count_value(dropped_logs);
            write_tag::<P>(w.buf(), DROPPED_LOGS_TAG, TagRef::Long(count), None);
        }
    }
    if !kept_logs.is_empty() {
        w.list(11, kept_logs.len(), P::STRUCT);
        for log in kept_logs.iter() {
            write_log::<P>(w.buf(), log, trim.max_str_len);
        }
    }
    w.end();
}

/// Encodes `span` in protocol `P` into `buf` within `limits`, using at
/// most `max_len` bytes, trimming it if needed (see [`fit_within`]).
pub(super) fn encode_span_within<P: Protocol>(
    buf: &mut Vec<u8>,
    span: &Record,
    max_len: usize,
    limits: Trim,
    templates: &RequestTagTemplates,
) -> Fit {
    fit_within(buf, span, max_len, limits, |buf, trim| {
        encode_span_with::<P>(buf, span, trim, templates)
    })
}
