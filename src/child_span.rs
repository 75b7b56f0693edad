//! `ChildSpan`: a span started inside a request, with the same vocabulary as
//! the request's own [`ActiveSpan`](crate::ActiveSpan).

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rustracing::log::LogBuilder;
use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::span::{StartSpanOptions, TraceId};
use rustracing_jaeger::Span;

use crate::lifecycle::SpanLifecycle;
use crate::limits::BAGGAGE_DROPPED_TAG;
use crate::propagation::{self, TraceContext};
use crate::tags;

/// A child span of a request span (or of another child span), from
/// [`ActiveSpan::child`](crate::ActiveSpan::child) or [`ChildSpan::child`].
/// It is finished, and reported, when dropped.
///
/// It speaks the same language as [`ActiveSpan`](crate::ActiveSpan): tags,
/// logs, errors, baggage, its own children, and the headers that carry it
/// to a service called from inside it; every method takes `&self`.
///
/// ```rust
/// # use rocket::get;
/// use rocket_opentracing::ActiveSpan;
///
/// #[get("/page")]
/// fn page(span: ActiveSpan<'_>) -> &'static str {
///     let render = span.child("render");
///     render.set_tag("template", "page.html");
///     let query = render.child("db.query");
///     query.log(|log| { log.std().event("rows fetched"); });
///     "<p>page</p>"
/// } // query, then render, finished here
/// ```
///
/// When the request is not sampled the span is a no-op (tags and logs are
/// dropped), and [`ChildSpan::headers`] carry the request's context, so the
/// unsampled decision still travels downstream. The raw `rustracing_jaeger`
/// span is at hand through [`ChildSpan::with_span`] and
/// [`ChildSpan::into_span`].
#[derive(Debug)]
pub struct ChildSpan {
    span: Mutex<Span>,
    /// What [`ChildSpan::headers`] send: this span's ids when sampled, with
    /// the request's sampling decision; the request's context otherwise.
    /// `None` outside a traced request.
    context: Option<TraceContext>,
    /// The caller's W3C `tracestate`, sent on with every `traceparent`.
    tracestate: Option<Arc<str>>,
    /// Baggage: the parent's when started, then this span's own items.
    baggage: Mutex<Vec<(String, String)>>,
    /// Baggage items set on this span and dropped for being over the bounds.
    baggage_dropped: AtomicI64,
    lifecycle: Option<Arc<SpanLifecycle>>,
}

/// What a child span inherits from its parent.
pub(crate) struct Parent<'a> {
    /// The parent's context (ids and sampling decision).
    pub(crate) context: &'a TraceContext,
    pub(crate) tracestate: Option<Arc<str>>,
    pub(crate) baggage: Vec<(String, String)>,
    pub(crate) lifecycle: &'a Arc<SpanLifecycle>,
}

impl ChildSpan {
    /// A span that records nothing and carries no context (no fairing, or
    /// no traced request).
    pub(crate) fn untraced() -> Self {
        ChildSpan {
            span: Mutex::new(Span::inactive()),
            context: None,
            tracestate: None,
            baggage: Mutex::new(Vec::new()),
            baggage_dropped: AtomicI64::new(0),
            lifecycle: None,
        }
    }

    /// Starts a child of `parent` (`active`: whether the parent span is
    /// still open and sampled); `start` finishes the options.
    pub(crate) fn start<N, F>(parent: Parent<'_>, active: bool, operation_name: N, start: F) -> Self
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span,
    {
        let span = if active && parent.context.is_sampled() {
            let context = parent.context.to_span_context(&parent.baggage);
            start(parent.lifecycle.child_options(operation_name, &context))
        } else {
            Span::inactive()
        };
        let context = match TraceContext::of_span(&span) {
            // The decision (debug included) is the request's.
            Some(mut own) if own.trace_id == parent.context.trace_id => {
                own.flags = parent.context.flags;
                Some(own)
            }
            // Started with references of another trace: its own context.
            Some(own) => Some(own),
            None => Some(parent.context.clone()),
        };
        let tracestate = match &context {
            Some(c) if c.trace_id != parent.context.trace_id => None,
            _ => parent.tracestate,
        };
        ChildSpan {
            span: Mutex::new(span),
            context,
            tracestate,
            baggage: Mutex::new(parent.baggage),
            baggage_dropped: AtomicI64::new(0),
            lifecycle: Some(Arc::clone(parent.lifecycle)),
        }
    }

    /// Whether this span is sampled (will be reported).
    pub fn is_sampled(&self) -> bool {
        self.span.lock().is_sampled()
    }

    /// The trace id, if the request is traced.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.context.as_ref().map(|c| c.trace_id)
    }

    /// This span's id, if sampled (an unsampled child has no id of its own).
    pub fn span_id(&self) -> Option<u64> {
        self.span.lock().context().map(|c| c.state().span_id())
    }

    /// The context that [`ChildSpan::headers`] send: this span's ids when
    /// sampled, the request's otherwise; `None` outside a traced request.
    pub fn context(&self) -> Option<&TraceContext> {
        self.context.as_ref()
    }

    /// Runs `f` on the underlying `rustracing_jaeger` span (inactive when
    /// not sampled), under a short lock: don't `.await` or block inside, and
    /// don't call this span's other methods from `f`.
    pub fn with_span<R>(&self, f: impl FnOnce(&mut Span) -> R) -> R {
        f(&mut self.span.lock())
    }

    /// The underlying `rustracing_jaeger` span, finished when it is dropped.
    pub fn into_span(self) -> Span {
        self.span.into_inner()
    }

    /// Sets a tag (replacing one of the same name).
    pub fn set_tag<N, V>(&self, name: N, value: V)
    where
        N: Into<Cow<'static, str>>,
        V: Into<TagValue>,
    {
        self.span.lock().set_tag(|| Tag::new(name, value));
    }

    /// Adds a log entry; see `rustracing::log::LogBuilder`. Don't call this
    /// span's methods from `f`.
    pub fn log<F: FnOnce(&mut LogBuilder)>(&self, f: F) {
        self.span.lock().log(f);
    }

    /// Marks the span as failed: `error=true` and an error log with
    /// `message`.
    pub fn set_error(&self, message: impl Into<Cow<'static, str>>) {
        tags::record_error(&mut self.span.lock(), message.into());
    }

    /// Sets a baggage item for this span's children and the calls made
    /// inside it, within the same bounds as
    /// [`ActiveSpan::set_baggage_item`](crate::ActiveSpan::set_baggage_item)
    /// (an item that does not fit is dropped, counted in this span's
    /// `baggage.dropped` tag). Returns whether the item was stored.
    pub fn set_baggage_item(&self, name: &str, value: &str) -> bool {
        let Some(lifecycle) = &self.lifecycle else {
            return false;
        };
        let stored = {
            let mut baggage = self.baggage.lock();
            propagation::baggage::set(&mut baggage, name, value, &lifecycle.limits)
        };
        if !stored {
            let dropped = self.baggage_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            self.set_tag(BAGGAGE_DROPPED_TAG, dropped);
        }
        stored
    }

    /// A baggage item's value (names are case-insensitive).
    pub fn baggage_item(&self, name: &str) -> Option<String> {
        let baggage = self.baggage.lock();
        let (_, value) = baggage.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        Some(value.clone())
    }

    /// All baggage items, as (name, value) pairs.
    pub fn baggage(&self) -> Vec<(String, String)> {
        self.baggage.lock().clone()
    }

    /// Starts a child of this span, with its baggage; finished when dropped.
    pub fn child<N>(&self, operation_name: N) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
    {
        self.child_with(operation_name, |options| options.start())
    }

    /// Like [`ChildSpan::child`], with the start options at hand (tags,
    /// start time, further references).
    pub fn child_with<N, F>(&self, operation_name: N, f: F) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span,
    {
        let (Some(context), Some(lifecycle)) = (&self.context, &self.lifecycle) else {
            return ChildSpan::untraced();
        };
        let parent = Parent {
            context,
            tracestate: self.tracestate.clone(),
            baggage: self.baggage(),
            lifecycle,
        };
        ChildSpan::start(parent, self.is_sampled(), operation_name, f)
    }

    /// The headers that carry this span's context and baggage to a service
    /// called from inside it, as (name, value) pairs, in the configured
    /// `inject_formats`, as [`ActiveSpan::headers`](crate::ActiveSpan::headers).
    /// Empty outside a traced request.
    pub fn headers(&self) -> Vec<(String, String)> {
        let (Some(context), Some(lifecycle)) = (&self.context, &self.lifecycle) else {
            return Vec::new();
        };
        propagation::inject(
            context,
            &self.baggage.lock(),
            self.tracestate.as_deref(),
            &lifecycle.inject,
        )
    }

    /// The query policy of the fairing's configuration, for client spans.
    #[cfg(feature = "client")]
    pub(crate) fn lifecycle(&self) -> Option<&SpanLifecycle> {
        self.lifecycle.as_deref()
    }
}

/// A span an outgoing call can be made inside: the request's
/// [`ActiveSpan`](crate::ActiveSpan) or a [`ChildSpan`] (see
/// [`TracedRequest`](crate::client::TracedRequest)).
pub trait ParentSpan {
    /// Starts a child span, the start options at hand (`f` is not called
    /// when the child would not be sampled); finished when dropped. See
    /// [`ChildSpan::child_with`].
    fn child_with<N, F>(&self, operation_name: N, f: F) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span;
}

impl ParentSpan for ChildSpan {
    fn child_with<N, F>(&self, operation_name: N, f: F) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span,
    {
        ChildSpan::child_with(self, operation_name, f)
    }
}

impl ParentSpan for crate::ActiveSpan<'_> {
    fn child_with<N, F>(&self, operation_name: N, f: F) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span,
    {
        crate::ActiveSpan::child_with(self, operation_name, f)
    }
}
