//! One finished span as an OTLP `Span` message (see [`super::semconv`] for
//! how tags become attributes), within the configured limits.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::span::TraceId;

use super::semconv::{
    map_tag, split_host, split_target, Mapped, HEADER_ATTRIBUTE_PREFIX, HEADER_TAG_PREFIX,
};
use super::wire::*;
use crate::limits::{count_value, cut_point, DROPPED_LOGS_TAG, TRUNCATION_MARKER};
use crate::record::{
    IpText, LogRef, Logs, Record, Reference, RequestRecord, TagRef, HTTP_METHODS, TRACESTATE_TAG,
};
use crate::reporter::thrift::wire::DEBUG_ID_TAG;
use crate::reporter::trim::Trim;

/// The link attribute saying a link was an OpenTracing `follows_from`
/// reference (as OpenTelemetry's OpenTracing shim writes it).
const REF_TYPE_ATTRIBUTE: &str = "opentracing.ref_type";

/// The 16 bytes of a trace id (64-bit ids are zero-extended, as
/// OpenTelemetry's Jaeger propagator does).
pub(super) fn trace_id_bytes(id: TraceId) -> [u8; 16] {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&id.high.to_be_bytes());
    bytes[8..].copy_from_slice(&id.low.to_be_bytes());
    bytes
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(super) fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Appends a string field, cut to `max` bytes (and marked) if given.
#[inline]
pub(super) fn put_str(buf: &mut Vec<u8>, field: u32, s: &str, max: Option<usize>) {
    let (len, cut) = limited_len(s, max);
    put_len_header(buf, field, len);
    put_limited(buf, s, cut);
}

/// Appends `s`, cut at `cut` (and marked) if given.
#[inline]
fn put_limited(buf: &mut Vec<u8>, s: &str, cut: Option<usize>) {
    match cut {
        Some(cut) => {
            buf.extend_from_slice(&s.as_bytes()[..cut]);
            buf.extend_from_slice(TRUNCATION_MARKER.as_bytes());
        }
        None => buf.extend_from_slice(s.as_bytes()),
    }
}

/// The length a string field's value takes within `max` bytes (cut and
/// marked past it), and where it is cut.
#[inline]
fn limited_len(s: &str, max: Option<usize>) -> (usize, Option<usize>) {
    match max.and_then(|max| cut_point(s, max)) {
        Some(cut) => (cut + TRUNCATION_MARKER.len(), Some(cut)),
        None => (s.len(), None),
    }
}

/// Appends an `AnyValue` field holding `value`, its length computed first
/// (no length to patch afterwards).
#[inline(always)]
fn put_any(buf: &mut Vec<u8>, field: u32, value: TagRef<'_>, max: Option<usize>) {
    match value {
        TagRef::Str(s) => {
            let (len, cut) = limited_len(s, max);
            put_len_header(buf, field, len_field_size(ANY_STRING, len));
            put_len_header(buf, ANY_STRING, len);
            put_limited(buf, s, cut);
        }
        TagRef::Bool(b) => {
            put_len_header(buf, field, 2);
            put_uint(buf, ANY_BOOL, u64::from(b));
        }
        TagRef::Long(l) => {
            put_len_header(buf, field, 1 + varint_len(l as u64));
            put_uint(buf, ANY_INT, l as u64);
        }
        TagRef::Double(d) => {
            put_len_header(buf, field, 9);
            put_double(buf, ANY_DOUBLE, d);
        }
    }
}

/// The encoded length of the `AnyValue` [`put_any`] writes.
#[inline]
fn any_len(value: TagRef<'_>, max: Option<usize>) -> usize {
    match value {
        TagRef::Str(s) => len_field_size(ANY_STRING, limited_len(s, max).0),
        TagRef::Bool(_) => 2,
        TagRef::Long(l) => 1 + varint_len(l as u64),
        TagRef::Double(_) => 9,
    }
}

/// Appends a `KeyValue` in field `field` (the attributes of a span, event,
/// link or resource).
#[inline]
pub(super) fn put_attribute(
    buf: &mut Vec<u8>,
    field: u32,
    key: &str,
    value: TagRef<'_>,
    max: Option<usize>,
) {
    let kv_len = len_field_size(KEY_VALUE_KEY, key.len())
        + len_field_size(KEY_VALUE_VALUE, any_len(value, max));
    put_len_header(buf, field, kv_len);
    put_bytes(buf, KEY_VALUE_KEY, key.as_bytes());
    put_any(buf, KEY_VALUE_VALUE, value, max);
}

/// The `KeyValue.key` field of `key`, encoded.
fn key_head(key: &str) -> Vec<u8> {
    let mut head = Vec::with_capacity(key.len() + 2);
    put_bytes(&mut head, KEY_VALUE_KEY, key.as_bytes());
    head
}

/// [`put_attribute`] of a span, its key encoded by [`key_head`].
#[inline]
fn put_keyed(buf: &mut Vec<u8>, head: &[u8], value: TagRef<'_>, max: Option<usize>) {
    let kv_len = head.len() + len_field_size(KEY_VALUE_VALUE, any_len(value, max));
    put_len_header(buf, SPAN_ATTRIBUTES, kv_len);
    buf.extend_from_slice(head);
    put_any(buf, KEY_VALUE_VALUE, value, max);
}

/// The constant parts of a request record's attributes, encoded once: its
/// `http.request.method` attribute whole, per HTTP method, and the keys of
/// the others.
#[derive(Debug)]
pub(super) struct RequestAttributes {
    methods: Vec<(&'static str, Vec<u8>)>,
    /// The last peer address written, the string limit it was written
    /// within, and its two attributes (`network.peer.address`,
    /// `client.address`), encoded: most requests come from a few addresses
    /// (proxies, load balancers).
    last_peer: RefCell<LastPeer>,
    url_path: Vec<u8>,
    url_query: Vec<u8>,
    peer_address: Vec<u8>,
    client_address: Vec<u8>,
    peer_port: Vec<u8>,
    status_code: Vec<u8>,
}

/// A peer address, the string limit its attributes were written within,
/// and those attributes.
type LastPeer = (Option<(IpAddr, Option<usize>)>, Vec<u8>);

/// The key of a request's method.
const METHOD_KEY: &str = "http.request.method";

impl RequestAttributes {
    pub(super) fn new() -> Self {
        let methods = HTTP_METHODS
            .iter()
            .map(|&method| {
                let mut kv = Vec::new();
                put_attribute(
                    &mut kv,
                    SPAN_ATTRIBUTES,
                    METHOD_KEY,
                    TagRef::Str(method),
                    None,
                );
                (method, kv)
            })
            .collect();
        RequestAttributes {
            methods,
            last_peer: RefCell::new((None, Vec::new())),
            url_path: key_head("url.path"),
            url_query: key_head("url.query"),
            peer_address: key_head("network.peer.address"),
            client_address: key_head("client.address"),
            peer_port: key_head("network.peer.port"),
            status_code: key_head("http.response.status_code"),
        }
    }

    /// Appends the `network.peer.address` and `client.address` attributes
    /// of `ip` (reused when `ip` is the last one written).
    #[inline]
    fn put_peer_ip(&self, buf: &mut Vec<u8>, ip: IpAddr, max: Option<usize>) {
        let mut last = self.last_peer.borrow_mut();
        if last.0 != Some((ip, max)) {
            let text = IpText::new(ip);
            let text = TagRef::Str(text.as_str());
            last.1.clear();
            put_keyed(&mut last.1, &self.peer_address, text, max);
            put_keyed(&mut last.1, &self.client_address, text, max);
            last.0 = Some((ip, max));
        }
        buf.extend_from_slice(&last.1);
    }

    /// Appends the `http.request.method` attribute of `method`.
    #[inline]
    fn put_method(&self, buf: &mut Vec<u8>, method: &str, max: Option<usize>) {
        match self.methods.iter().find(|(known, _)| *known == method) {
            // Method names are far shorter than any limit.
            Some((_, kv)) if max.is_none_or(|max| max >= method.len()) => buf.extend_from_slice(kv),
            _ => put_attribute(buf, SPAN_ATTRIBUTES, METHOD_KEY, TagRef::Str(method), max),
        }
    }
}

/// Appends a `KeyValue` in field `field` whose key is `prefix` then
/// `suffix`, holding an array of one string.
pub(super) fn put_string_array_attribute(
    buf: &mut Vec<u8>,
    field: u32,
    prefix: &str,
    suffix: &str,
    value: &str,
    max: Option<usize>,
) {
    let kv = begin_message(buf, field);
    put_len_header(buf, KEY_VALUE_KEY, prefix.len() + suffix.len());
    buf.extend_from_slice(prefix.as_bytes());
    buf.extend_from_slice(suffix.as_bytes());
    let any = begin_message(buf, KEY_VALUE_VALUE);
    let array = begin_message(buf, ANY_ARRAY);
    put_any(buf, ARRAY_VALUES, TagRef::Str(value), max);
    end_message(buf, array);
    end_message(buf, any);
    end_message(buf, kv);
}

/// What the tags say about the span as a whole, gathered while its
/// attributes are written: all but its kind, which is read first.
#[derive(Debug, Default)]
struct Seen<'a> {
    error: bool,
    status_code: Option<i64>,
    /// An `http.client_ip` tag was seen (it is `client.address`).
    client_ip: bool,
    /// A server span's peer IP address, `client.address` unless
    /// `client_ip`.
    peer_ip: Option<TagRef<'a>>,
    dropped_logs: u64,
    trace_state: Option<&'a str>,
    /// The application tagged the span's `error.type` itself.
    error_type: bool,
}

impl Seen<'_> {
    /// Whether the span's status is `ERROR`: an `error` tag, a server's
    /// 5xx answer, a client's 4xx or 5xx.
    fn is_error(&self, kind: SpanKind) -> bool {
        let status = self.status_code.unwrap_or(0);
        self.error
            || (kind == SpanKind::Server && status >= 500)
            || (kind == SpanKind::Client && status >= 400)
    }
}

/// Appends the `error.type` attribute of a failed span: the HTTP status
/// code that failed it (as the HTTP semantic conventions say), else
/// `_OTHER`.
fn put_error_type(buf: &mut Vec<u8>, kind: SpanKind, status_code: Option<i64>) {
    let failing = |code: &i64| match kind {
        SpanKind::Server => *code >= 500,
        SpanKind::Client => *code >= 400,
        _ => false,
    };
    // Failed spans are few: the code's text may allocate.
    let value = match status_code.filter(failing) {
        Some(code) => code.to_string(),
        None => "_OTHER".to_owned(),
    };
    put_attribute(
        buf,
        SPAN_ATTRIBUTES,
        "error.type",
        TagRef::Str(&value),
        None,
    );
}

/// The kind a span's `span.kind` tag gives it (`INTERNAL` without one).
fn kind_of(tags: &[Tag]) -> SpanKind {
    tags.iter()
        .find(|tag| tag.name() == "span.kind")
        .and_then(|tag| match tag.value() {
            TagValue::String(kind) => SpanKind::from_tag(kind),
            _ => None,
        })
        .unwrap_or(SpanKind::Internal)
}

/// The message of a span's error: the `message` (else `error.object`)
/// field of its first log whose `event` is `error`.
fn error_message(logs: Logs<'_>) -> Option<&str> {
    logs.iter()
        .find(|log| {
            log.fields()
                .iter()
                .any(|f| f.name() == "event" && f.value() == "error")
        })
        .and_then(|log| {
            let field = |name| log.fields().iter().find(|f| f.name() == name);
            field("message").or_else(|| field("error.object"))
        })
        .map(|field| field.value())
}

/// Encodes `span` as an OTLP `Span` message body into `buf` (cleared
/// first), within `trim`.
pub(super) fn encode_span(
    buf: &mut Vec<u8>,
    span: &Record,
    trim: Trim,
    request: &RequestAttributes,
) {
    match span {
        Record::Request(record) => encode_request(buf, record, trim, request),
        Record::Span(finished) => encode_any(buf, span, finished.tags(), trim),
        Record::Child(child) => encode_any(buf, span, &child.tags, trim),
    }
}

/// [`encode_span`] for a request record, whose tags are known: the same
/// message as for its `rustracing` span, without reading tags by name.
fn encode_request(
    buf: &mut Vec<u8>,
    record: &RequestRecord<&str>,
    trim: Trim,
    keys: &RequestAttributes,
) {
    buf.clear();
    let max = trim.max_str_len;
    put_bytes(buf, SPAN_TRACE_ID, &trace_id_bytes(record.trace_id));
    put_bytes(buf, SPAN_SPAN_ID, &record.span_id.to_be_bytes());
    if let Some(parent) = record.parent_span_id {
        put_bytes(buf, SPAN_PARENT_SPAN_ID, &parent.to_be_bytes());
    }
    put_str(buf, SPAN_NAME, &record.operation_name, max);
    put_uint(buf, SPAN_KIND, SpanKind::Server as u64);
    put_fixed64(buf, SPAN_START_TIME, unix_nanos(record.start));
    put_fixed64(buf, SPAN_END_TIME, unix_nanos(record.finish));
    keys.put_method(buf, record.method, max);
    let (path, query) = split_target(record.url);
    put_keyed(buf, &keys.url_path, TagRef::Str(path), max);
    if let Some(query) = query {
        put_keyed(buf, &keys.url_query, TagRef::Str(query), max);
    }
    if let Some(peer) = record.peer {
        keys.put_peer_ip(buf, peer.ip(), max);
        let port = TagRef::Long(i64::from(peer.port()));
        put_keyed(buf, &keys.peer_port, port, None);
    }
    if let Some(status) = record.status {
        let code = TagRef::Long(i64::from(status));
        put_keyed(buf, &keys.status_code, code, None);
        if status >= 500 {
            put_error_type(buf, SpanKind::Server, Some(i64::from(status)));
            let status = begin_message(buf, SPAN_STATUS);
            put_uint(buf, STATUS_CODE, STATUS_CODE_ERROR);
            end_message(buf, status);
        }
    }
    let flags = span_flags(
        record.flags,
        SpanKind::Server,
        record.parent_span_id.is_some(),
    );
    put_fixed32(buf, SPAN_FLAGS, flags);
}

/// [`encode_span`] for a span with a list of tags (a `rustracing` span, a
/// child record), its tags mapped by name.
fn encode_any(buf: &mut Vec<u8>, span: &Record, tags: &[Tag], trim: Trim) {
    buf.clear();
    let max = trim.max_str_len;
    let kind = kind_of(tags);
    let trace_id = span.trace_id();

    put_bytes(buf, SPAN_TRACE_ID, &trace_id_bytes(trace_id));
    put_bytes(buf, SPAN_SPAN_ID, &span.span_id().to_be_bytes());
    let parent = parent_of(span, trace_id);
    if let Some(parent) = parent {
        put_bytes(buf, SPAN_PARENT_SPAN_ID, &parent.to_be_bytes());
    }
    put_str(buf, SPAN_NAME, span.operation_name(), max);
    put_uint(buf, SPAN_KIND, kind as u64);
    let start = span.start_time();
    put_fixed64(buf, SPAN_START_TIME, unix_nanos(start));
    put_fixed64(buf, SPAN_END_TIME, unix_nanos(span.finish_time()));

    let mut seen = Seen::default();
    for tag in tags {
        put_tag(buf, tag.name(), tag.value().into(), kind, &mut seen, max);
    }
    if let (Some(ip), false) = (seen.peer_ip, seen.client_ip) {
        put_attribute(buf, SPAN_ATTRIBUTES, "client.address", ip, max);
    }
    if let Some(debug_id) = span.debug_id() {
        let debug_id = TagRef::Str(debug_id);
        put_attribute(buf, SPAN_ATTRIBUTES, DEBUG_ID_TAG, debug_id, max);
    }
    // Protobuf fields may come in any order: the trace state, read with
    // the tags, follows them.
    if let Some(state) = seen.trace_state {
        put_bytes(buf, SPAN_TRACE_STATE, state.as_bytes());
    }

    let (kept, dropped) = span.logs().kept(trim.max_logs);
    for log in kept.iter() {
        put_event(buf, log, max);
    }
    let dropped = dropped + span.dropped_logs();
    let dropped_events = seen.dropped_logs + count_value(dropped) as u64;
    if dropped_events > 0 {
        put_uint(
            buf,
            SPAN_DROPPED_EVENTS,
            dropped_events.min(u64::from(u32::MAX)),
        );
    }

    let mut parent_seen = false;
    span.for_each_reference(|reference| {
        if !parent_seen && Some(reference.span_id) == parent && reference.trace_id == trace_id {
            parent_seen = true;
        } else {
            put_link(buf, reference, kind);
        }
    });

    if seen.is_error(kind) {
        if !seen.error_type {
            put_error_type(buf, kind, seen.status_code);
        }
        let status = begin_message(buf, SPAN_STATUS);
        if let Some(message) = error_message(span.logs()) {
            put_str(buf, STATUS_MESSAGE, message, max);
        }
        put_uint(buf, STATUS_CODE, STATUS_CODE_ERROR);
        end_message(buf, status);
    }

    put_fixed32(
        buf,
        SPAN_FLAGS,
        span_flags(span.flags(), kind, parent.is_some()),
    );
}

/// A span's `flags`: the sampled bit, and whether its parent is remote
/// where that is known: a server span's parent is the caller's (remote), a
/// root has none; the parent of another span may have been extracted by
/// the application, so its remoteness is left unsaid.
fn span_flags(jaeger_flags: u8, kind: SpanKind, has_parent: bool) -> u32 {
    let sampled = u32::from(jaeger_flags & 1);
    match (kind, has_parent) {
        (SpanKind::Server, true) => sampled | FLAGS_HAS_IS_REMOTE | FLAGS_IS_REMOTE,
        (_, false) => sampled | FLAGS_HAS_IS_REMOTE,
        (_, true) => sampled,
    }
}

/// The parent span: the first `child_of` reference within the span's own
/// trace (a `follows_from` reference, or one to another trace, is a link).
fn parent_of(span: &Record, trace_id: TraceId) -> Option<u64> {
    let mut parent = None;
    span.for_each_reference(|r| {
        if parent.is_none() && r.child_of && r.trace_id == trace_id {
            parent = Some(r.span_id);
        }
    });
    parent
}

/// Appends a `Span.Link` for `reference`, from a span of `kind`.
fn put_link(buf: &mut Vec<u8>, reference: Reference, kind: SpanKind) {
    let link = begin_message(buf, SPAN_LINKS);
    put_bytes(buf, LINK_TRACE_ID, &trace_id_bytes(reference.trace_id));
    put_bytes(buf, LINK_SPAN_ID, &reference.span_id.to_be_bytes());
    if !reference.child_of {
        put_attribute(
            buf,
            LINK_ATTRIBUTES,
            REF_TYPE_ATTRIBUTE,
            TagRef::Str("follows_from"),
            None,
        );
    }
    // Only sampled spans' references are reported. A server span's link
    // is to its (untrusted) caller: remote; another span's may be either.
    let remote = match kind {
        SpanKind::Server => FLAGS_HAS_IS_REMOTE | FLAGS_IS_REMOTE,
        _ => 0,
    };
    put_fixed32(buf, LINK_FLAGS, 1 | remote);
    end_message(buf, link);
}

/// Appends a `Span.Event` for `log`: named by its `event` field, else its
/// `message` field, else `log`; its other fields are attributes.
fn put_event(buf: &mut Vec<u8>, log: LogRef<'_>, max: Option<usize>) {
    let fields = log.fields();
    let name_field = fields
        .iter()
        .position(|f| f.name() == "event")
        .or_else(|| fields.iter().position(|f| f.name() == "message"));
    let event = begin_message(buf, SPAN_EVENTS);
    put_fixed64(buf, EVENT_TIME, unix_nanos(log.time()));
    let name = name_field.map_or("log", |i| fields[i].value());
    put_str(buf, EVENT_NAME, name, max);
    for (i, field) in fields.iter().enumerate() {
        if Some(i) != name_field {
            put_attribute(
                buf,
                EVENT_ATTRIBUTES,
                field.name(),
                TagRef::Str(field.value()),
                max,
            );
        }
    }
    end_message(buf, event);
}

/// Appends the attributes tag `name` becomes, noting in `seen` what the
/// span as a whole needs.
#[inline]
fn put_tag<'a>(
    buf: &mut Vec<u8>,
    name: &str,
    value: TagRef<'a>,
    kind: SpanKind,
    seen: &mut Seen<'a>,
    max: Option<usize>,
) {
    match map_tag(name, kind) {
        Mapped::Skip => match (name, value) {
            ("error", TagRef::Bool(error)) => seen.error = error,
            (TRACESTATE_TAG, TagRef::Str(state)) => seen.trace_state = Some(state),
            (DROPPED_LOGS_TAG, TagRef::Long(n)) => seen.dropped_logs = n.max(0) as u64,
            _ => {}
        },
        Mapped::Same => put_attribute(buf, SPAN_ATTRIBUTES, name, value, max),
        Mapped::Renamed(key) => put_attribute(buf, SPAN_ATTRIBUTES, key, value, max),
        Mapped::StatusCode => {
            if let TagRef::Long(code) = value {
                seen.status_code = Some(code);
            }
            let key = "http.response.status_code";
            put_attribute(buf, SPAN_ATTRIBUTES, key, value, max);
        }
        Mapped::ErrorType => {
            seen.error_type = true;
            put_attribute(buf, SPAN_ATTRIBUTES, name, value, max);
        }
        Mapped::ClientIp => {
            seen.client_ip = true;
            put_attribute(buf, SPAN_ATTRIBUTES, "client.address", value, max);
        }
        Mapped::Target => match value {
            TagRef::Str(target) => {
                let (path, query) = split_target(target);
                put_attribute(buf, SPAN_ATTRIBUTES, "url.path", TagRef::Str(path), max);
                if let Some(query) = query {
                    put_attribute(buf, SPAN_ATTRIBUTES, "url.query", TagRef::Str(query), max);
                }
            }
            other => put_attribute(buf, SPAN_ATTRIBUTES, name, other, max),
        },
        Mapped::PeerIp => {
            put_attribute(buf, SPAN_ATTRIBUTES, "network.peer.address", value, max);
            seen.peer_ip = Some(value);
        }
        Mapped::Host => match value {
            TagRef::Str(host) => {
                let (address, port) = split_host(host);
                put_attribute(
                    buf,
                    SPAN_ATTRIBUTES,
                    "server.address",
                    TagRef::Str(address),
                    max,
                );
                if let Some(port) = port {
                    let port = TagRef::Long(i64::from(port));
                    put_attribute(buf, SPAN_ATTRIBUTES, "server.port", port, None);
                }
            }
            other => put_attribute(buf, SPAN_ATTRIBUTES, name, other, max),
        },
        Mapped::RequestHeader => match value {
            TagRef::Str(header) => {
                let suffix = &name[HEADER_TAG_PREFIX.len()..];
                put_string_array_attribute(
                    buf,
                    SPAN_ATTRIBUTES,
                    HEADER_ATTRIBUTE_PREFIX,
                    suffix,
                    header,
                    max,
                );
            }
            other => put_attribute(buf, SPAN_ATTRIBUTES, name, other, max),
        },
    }
}
