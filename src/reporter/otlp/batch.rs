//! A batch of encoded spans: one `ExportTraceServiceRequest` body holding
//! one `ResourceSpans` (this process) with one `ScopeSpans` (this crate).

use super::span::{
    encode_span, put_attribute, put_str, put_string_array_attribute, RequestAttributes,
};
use super::wire::*;
use crate::record::{Record, TagRef};
use crate::reporter::trim::{fit_within, Fit, Trim};

/// The instrumentation scope's name, and `telemetry.sdk.name`.
const SDK_NAME: &str = "rocket_opentracing";
/// The instrumentation scope's version, and `telemetry.sdk.version`.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Most bytes of a length's varint in the head.
const MAX_VARINT_LEN: usize = 10;

/// Largest buffer a [`Batch`] allocates up front.
const MAX_PREALLOCATED_LEN: usize = 1 << 16;

/// The `Resource` attributes of this process: `service.name`, the
/// `telemetry.sdk.*` attributes (these four the reporter's own), and the
/// process tags: the detected `hostname` as `host.name` and `ip` as
/// `host.ip`, Jaeger's `jaeger.version` left out, the configured ones as
/// they are. Each key appears once: a configured tag (it comes after the
/// detected ones) replaces a detected one of the same name.
fn write_resource(buf: &mut Vec<u8>, service_name: &str, process_tags: &[(&str, &str)]) {
    const OWN: [&str; 4] = [
        "service.name",
        "telemetry.sdk.name",
        "telemetry.sdk.language",
        "telemetry.sdk.version",
    ];
    let mut attributes: Vec<(&str, &str)> = Vec::with_capacity(process_tags.len());
    for &(key, value) in process_tags {
        let key = match key {
            "jaeger.version" => continue,
            "hostname" => "host.name",
            "ip" => "host.ip",
            key if OWN.contains(&key) => continue,
            key => key,
        };
        match attributes.iter_mut().find(|(known, _)| *known == key) {
            Some(kept) => kept.1 = value,
            None => attributes.push((key, value)),
        }
    }
    let resource = begin_message(buf, RESOURCE_SPANS_RESOURCE);
    let own = [service_name, SDK_NAME, "rust", SDK_VERSION];
    for (key, value) in OWN.into_iter().zip(own) {
        put_attribute(buf, RESOURCE_ATTRIBUTES, key, TagRef::Str(value), None);
    }
    for (key, value) in attributes {
        if key == "host.ip" {
            // An array of addresses in the semantic conventions.
            put_string_array_attribute(buf, RESOURCE_ATTRIBUTES, key, "", value, None);
        } else {
            put_attribute(buf, RESOURCE_ATTRIBUTES, key, TagRef::Str(value), None);
        }
    }
    end_message(buf, resource);
}

/// The `ScopeSpans.scope` field: this crate, and its version.
fn write_scope(buf: &mut Vec<u8>) {
    let scope = begin_message(buf, SCOPE_SPANS_SCOPE);
    put_str(buf, SCOPE_NAME, SDK_NAME, None);
    put_str(buf, SCOPE_VERSION, SDK_VERSION, None);
    end_message(buf, scope);
}

/// A batch of encoded spans being filled: at most `max_len` bytes and
/// `max_spans` spans in all.
///
/// The buffer reserves room for the head (the message lengths before the
/// resource and the scope, then those) in front of the spans, so that
/// finishing a batch never moves the span bytes.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The encoded `ResourceSpans.resource` field.
    resource: Vec<u8>,
    /// The encoded `ScopeSpans.scope` field.
    scope: Vec<u8>,
    /// [`Batch::head_room`] reserved bytes, then the spans, each a
    /// `ScopeSpans.spans` field.
    buf: Vec<u8>,
    spans: usize,
    max_len: usize,
    max_spans: usize,
    limits: Trim,
    /// [`Batch::max_span_len`], computed once.
    max_span_len: usize,
    /// The constant parts of request records' attributes.
    request_attributes: RequestAttributes,
}

impl Batch {
    /// An empty batch of at most `max_len` bytes and `max_spans` spans
    /// (at least 1), for the process `service_name` with `process_tags`,
    /// encoding spans within `limits`.
    pub(crate) fn new(
        service_name: &str,
        process_tags: &[(&str, &str)],
        max_len: usize,
        max_spans: usize,
        limits: Trim,
    ) -> Batch {
        let mut resource = Vec::new();
        write_resource(&mut resource, service_name, process_tags);
        let mut scope = Vec::new();
        write_scope(&mut scope);
        let mut batch = Batch {
            resource,
            scope,
            buf: Vec::new(),
            spans: 0,
            max_len,
            max_spans: max_spans.max(1),
            limits,
            max_span_len: 0,
            request_attributes: RequestAttributes::new(),
        };
        batch.buf = batch.fresh_buffer(max_len.min(MAX_PREALLOCATED_LEN));
        batch.max_span_len = batch.largest_span_len();
        batch
    }

    /// Bytes reserved in front of the spans.
    fn head_room(&self) -> usize {
        2 * (1 + MAX_VARINT_LEN) + self.resource.len() + self.scope.len()
    }

    fn fresh_buffer(&self, capacity: usize) -> Vec<u8> {
        let head_room = self.head_room();
        let mut buf = Vec::with_capacity(head_room + capacity);
        buf.resize(head_room, 0);
        buf
    }

    /// The lengths of the `ScopeSpans` and `ResourceSpans` messages holding
    /// `spans_len` bytes of spans.
    fn message_lens(&self, spans_len: usize) -> (usize, usize) {
        let scope_spans = self.scope.len() + spans_len;
        let resource_spans =
            self.resource.len() + len_field_size(RESOURCE_SPANS_SCOPE_SPANS, scope_spans);
        (scope_spans, resource_spans)
    }

    /// The size of the request body holding `spans_len` bytes of spans.
    fn total_len(&self, spans_len: usize) -> usize {
        let (_, resource_spans) = self.message_lens(spans_len);
        len_field_size(REQUEST_RESOURCE_SPANS, resource_spans)
    }

    /// The largest span that fits in an empty batch: its own field header
    /// and the longer lengths of the three enclosing messages included.
    fn largest_span_len(&self) -> usize {
        let fits =
            |len: usize| self.total_len(len_field_size(SCOPE_SPANS_SPANS, len)) <= self.max_len;
        // A first guess within a few bytes of the answer (each of the four
        // lengths takes at most 5 bytes more), then byte by byte.
        let mut len = self.max_len.saturating_sub(self.total_len(0) + 20);
        while fits(len + 1) {
            len += 1;
        }
        while len > 0 && !fits(len) {
            len -= 1;
        }
        len
    }

    /// Size of the body without spans: the resource and the scope.
    pub(crate) fn prefix_len(&self) -> usize {
        self.total_len(0)
    }

    /// The largest encoded span that fits in an otherwise empty batch.
    pub(crate) fn max_span_len(&self) -> usize {
        self.max_span_len
    }

    /// Encodes `span` into `buf` (cleared first), within the limits and
    /// trimmed to at most [`Batch::max_span_len`] bytes if needed.
    pub(crate) fn encode(&self, buf: &mut Vec<u8>, span: &Record) -> Fit {
        fit_within(buf, span, self.max_span_len, self.limits, |buf, trim| {
            encode_span(buf, span, trim, &self.request_attributes)
        })
    }

    /// Number of spans in the batch.
    pub(crate) fn span_count(&self) -> usize {
        self.spans
    }

    /// Whether the batch holds no span.
    pub(crate) fn is_empty(&self) -> bool {
        self.spans == 0
    }

    fn spans_len(&self) -> usize {
        self.buf.len() - self.head_room()
    }

    /// Whether a span encoded in `span_len` bytes can be added.
    pub(crate) fn fits(&self, span_len: usize) -> bool {
        self.spans < self.max_spans
            && self.total_len(self.spans_len() + len_field_size(SCOPE_SPANS_SPANS, span_len))
                <= self.max_len
    }

    /// Appends a span encoded by [`Batch::encode`] (check [`Batch::fits`]
    /// first).
    pub(crate) fn push(&mut self, encoded_span: &[u8]) {
        put_len_header(&mut self.buf, SCOPE_SPANS_SPANS, encoded_span.len());
        self.buf.extend_from_slice(encoded_span);
        self.spans += 1;
    }

    /// Completes the request body and hands over its buffer, without
    /// copying the spans: the body is `bytes[start..]`. The batch is left
    /// empty, with a new buffer.
    pub(crate) fn take(&mut self) -> (Vec<u8>, usize) {
        let (scope_spans, resource_spans) = self.message_lens(self.spans_len());
        let mut head = Vec::with_capacity(self.head_room());
        put_len_header(&mut head, REQUEST_RESOURCE_SPANS, resource_spans);
        head.extend_from_slice(&self.resource);
        put_len_header(&mut head, RESOURCE_SPANS_SCOPE_SPANS, scope_spans);
        head.extend_from_slice(&self.scope);
        let start = self.head_room() - head.len();
        self.buf[start..start + head.len()].copy_from_slice(&head);
        let fresh = self.fresh_buffer(self.buf.capacity() - self.head_room());
        let bytes = std::mem::replace(&mut self.buf, fresh);
        self.spans = 0;
        (bytes, start)
    }
}
