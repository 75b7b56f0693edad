//! The `ActiveSpan` request guard: a route's handle on its request span.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use rustracing::log::LogBuilder;
use rustracing::tag::{Tag, TagValue};
use rustracing_jaeger::span::{StartSpanOptions, TraceId};
use rustracing_jaeger::Span;

use crate::child_span::{ChildSpan, Parent};
use crate::config::Mode;
use crate::lifecycle::{LifecycleState, SpanLifecycle};
use crate::propagation::{self, TraceContext};
use crate::request_state::{RequestSpan, Slot};
use crate::tags;

/// The span of the current request, as a request guard.
///
/// ```rust
/// # use rocket::get;
/// use rocket_opentracing::ActiveSpan;
///
/// #[get("/hello/<name>")]
/// fn hello(name: &str, span: ActiveSpan<'_>) -> String {
///     span.set_tag("user.name", name.to_owned());
///     span.log(|log| { log.std().event("greeting"); });
///     let _child = span.child("render"); // finished when dropped
///     format!("Hello, {name}!")
/// }
/// ```
///
/// The guard never fails a request. When the request is not traced (no
/// fairing attached, or an untraced request) it is a no-op span; when it is
/// not sampled, tags and logs are dropped but its ids and context still
/// propagate downstream. No lock is held between calls, so it can be used
/// freely across `.await` points.
///
/// If the handler panics while holding the guard, the span gets
/// `error=true` and one error log.
#[derive(Debug)]
pub struct ActiveSpan<'r> {
    span: Option<&'r RequestSpan>,
    lifecycle: Option<&'r Arc<SpanLifecycle>>,
}

impl<'r> ActiveSpan<'r> {
    /// The span of `req`, starting it if the fairing runs in opt-in mode.
    /// A no-op span when `req` is not traced.
    pub fn of(req: &'r Request<'_>) -> Self {
        let Some(LifecycleState(lifecycle)) = req.rocket().state::<LifecycleState>() else {
            warn_no_fairing();
            return ActiveSpan {
                span: None,
                lifecycle: None,
            };
        };
        // Opened on arrival in trace-all mode (unless it can only be
        // unsampled); in opt-in mode, here.
        let span = lifecycle.open_on_demand(Slot::of(req), req);
        ActiveSpan {
            span,
            lifecycle: Some(lifecycle),
        }
    }

    /// The span of `req` if one has been opened for it (Flask-OpenTracing's
    /// `get_span(request)`), for other guards and fairings. `None` outside a
    /// traced request; in opt-in mode, `None` until the `ActiveSpan` guard
    /// has run.
    pub fn get(req: &'r Request<'_>) -> Option<Self> {
        let LifecycleState(lifecycle) = req.rocket().state::<LifecycleState>()?;
        let slot = Slot::of(req);
        let span = match lifecycle.mode {
            Mode::All => lifecycle.open_on_demand(slot, req)?,
            Mode::OptIn => slot.span.get()?,
        };
        Some(ActiveSpan {
            span: Some(span),
            lifecycle: Some(lifecycle),
        })
    }

    /// Whether this request is traced (a span was opened, sampled or not).
    pub fn is_traced(&self) -> bool {
        self.span.is_some()
    }

    /// Whether this request's span is sampled (will be reported).
    pub fn is_sampled(&self) -> bool {
        self.span.is_some_and(|s| s.context.is_sampled())
    }

    /// The trace id, if traced.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.span.map(|s| s.context.trace_id)
    }

    /// This span's id, if traced.
    pub fn span_id(&self) -> Option<u64> {
        self.span.map(|s| s.context.span_id)
    }

    /// The ids and sampling decision of this span, if traced.
    pub fn context(&self) -> Option<&TraceContext> {
        self.span.map(|s| &s.context)
    }

    /// Runs `f` on the underlying `rustracing_jaeger` span (inactive when
    /// not sampled or already finished), under a short lock: don't `.await`
    /// or block inside, and don't call this `ActiveSpan`'s other methods from
    /// `f` (the lock is not re-entrant).
    pub fn with_span<R>(&self, f: impl FnOnce(&mut Span) -> R) -> Option<R> {
        let (span, lifecycle) = (self.span?, self.lifecycle?);
        let mut state = span.state.lock();
        Some(f(lifecycle.span_mut(span, &mut state)))
    }

    /// Sets a tag (replacing one of the same name).
    pub fn set_tag<N, V>(&self, name: N, value: V)
    where
        N: Into<Cow<'static, str>>,
        V: Into<TagValue>,
    {
        self.with_span(|span| span.set_tag(|| Tag::new(name, value)));
    }

    /// Adds a log entry; see `rustracing::log::LogBuilder`. As with
    /// [`ActiveSpan::with_span`], don't call this span's methods from `f`.
    pub fn log<F: FnOnce(&mut LogBuilder)>(&self, f: F) {
        self.with_span(|span| span.log(f));
    }

    /// Sets a baggage item: it travels with the trace to downstream services
    /// (as `uberctx-<name>` headers, when `jaeger` is among the injected
    /// formats) and is inherited by child spans started afterwards. Names
    /// are case-insensitive (stored lower-cased).
    ///
    /// Baggage is bounded: at most `max_baggage_items` items and
    /// `max_baggage_bytes` bytes of names and values per request (64 and
    /// 8 KiB by default; see [`crate::Limits`]), counting what the caller
    /// sent. An item
    /// that would not fit (or has an empty name) is dropped, and an existing
    /// item of that name keeps its value; the request span then gets a
    /// `baggage.dropped` tag counting every dropped item, and one warning is
    /// logged for the request. Returns whether the item was stored (`false`
    /// too when the request is not traced).
    pub fn set_baggage_item(&self, name: &str, value: &str) -> bool {
        let (Some(span), Some(lifecycle)) = (self.span, self.lifecycle) else {
            return false;
        };
        let mut state = span.state.lock();
        let stored = propagation::baggage::set(&mut state.baggage, name, value, &lifecycle.limits);
        if !stored {
            state.baggage_dropped.local = state.baggage_dropped.local.saturating_add(1);
        }
        stored
    }

    /// A baggage item's value (names are case-insensitive).
    pub fn baggage_item(&self, name: &str) -> Option<String> {
        let span = self.span?;
        let state = span.state.lock();
        let (_, value) = state
            .baggage
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        Some(value.clone())
    }

    /// All baggage items, as (name, value) pairs.
    pub fn baggage(&self) -> Vec<(String, String)> {
        self.span
            .map(|span| span.state.lock().baggage.clone())
            .unwrap_or_default()
    }

    /// Starts a child span of the request span, with the request's baggage;
    /// it is finished (and reported) when dropped. A no-op span when the
    /// request is not sampled. See [`ChildSpan`].
    pub fn child<N>(&self, operation_name: N) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
    {
        self.child_with(operation_name, |options| options.start())
    }

    /// Like [`ActiveSpan::child`], with the start options at hand (tags,
    /// start time, further references).
    pub fn child_with<N, F>(&self, operation_name: N, f: F) -> ChildSpan
    where
        N: Into<Cow<'static, str>>,
        F: FnOnce(StartSpanOptions<'_>) -> Span,
    {
        let (Some(span), Some(lifecycle)) = (self.span, self.lifecycle) else {
            return ChildSpan::untraced();
        };
        let (baggage, open) = {
            let state = span.state.lock();
            (state.baggage.clone(), !state.finished)
        };
        let parent = Parent {
            context: &span.context,
            tracestate: span.tracestate.as_deref().map(Arc::from),
            baggage,
            lifecycle,
        };
        ChildSpan::start(parent, open, operation_name, f)
    }

    /// Marks the request span as failed: `error=true` and an error log with
    /// `message` (the response status is recorded as usual).
    pub fn set_error(&self, message: impl Into<Cow<'static, str>>) {
        if let (Some(span), Some(lifecycle)) = (self.span, self.lifecycle) {
            let mut state = span.state.lock();
            state.error_recorded = true;
            tags::record_error(lifecycle.span_mut(span, &mut state), message.into());
        }
    }

    /// The headers that carry this span's context (and baggage) to a service
    /// this request calls, as (name, value) pairs, in the configured
    /// `inject_formats` (default: `uber-trace-id`, `traceparent`), with the
    /// caller's `tracestate` after `traceparent` and the baggage as
    /// `uberctx-*` when `jaeger` is among them. The sampling decision travels
    /// in every format. Empty when not traced.
    pub fn headers(&self) -> Vec<(String, String)> {
        let (Some(span), Some(lifecycle)) = (self.span, self.lifecycle) else {
            return Vec::new();
        };
        let baggage = span.state.lock().baggage.clone();
        propagation::inject(
            &span.context,
            &baggage,
            span.tracestate.as_deref(),
            &lifecycle.inject,
        )
    }
}

/// The request's `tracing` span (feature `tracing`).
#[cfg(feature = "tracing")]
impl ActiveSpan<'_> {
    /// The request's `tracing` span: `request`, at `INFO` level with the
    /// target `rocket_opentracing`, and the fields `trace_id` and `span_id`
    /// (as `X-Trace-Id` and the span id are written), so that every log
    /// line inside it names the trace. When the request is sampled, a
    /// [`TracingLayer`](crate::TracingLayer) makes the `tracing` spans
    /// created inside it child spans of the request span, and its events
    /// logs. `Span::none()` when the request is not traced.
    ///
    /// Each call makes a new `tracing` span (of the same request); see
    /// [`ActiveSpan::instrument`] and [`ActiveSpan::in_scope`].
    pub fn tracing_span(&self) -> tracing::Span {
        crate::bridge::request_tracing_span(self.span.zip(self.lifecycle))
    }

    /// `future`, run inside the request's `tracing` span
    /// ([`ActiveSpan::tracing_span`]).
    ///
    /// ```rust
    /// # use rocket::get;
    /// use rocket_opentracing::ActiveSpan;
    ///
    /// #[tracing::instrument]
    /// async fn query(sql: &str) -> usize {
    ///     tracing::debug!(sql, "querying");
    ///     3
    /// }
    ///
    /// #[get("/rows")]
    /// async fn rows(span: ActiveSpan<'_>) -> String {
    ///     let n = span.instrument(query("SELECT 1")).await;
    ///     format!("{n} rows")
    /// }
    /// ```
    ///
    /// Where `tracing::Instrument` is in scope, `span.instrument(..)` is
    /// that trait's method (it has one for every type, taking `self`):
    /// write `ActiveSpan::instrument(&span, future)` there.
    pub fn instrument<F: std::future::Future>(
        &self,
        future: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.tracing_span())
    }

    /// Runs `f` inside the request's `tracing` span
    /// ([`ActiveSpan::tracing_span`]).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.tracing_span().in_scope(f)
    }
}

impl Drop for ActiveSpan<'_> {
    fn drop(&mut self) {
        // Dropped while unwinding: the handler panicked. Record it on the span
        // (Rocket answers 500; the fairing then won't log the error twice).
        if !std::thread::panicking() {
            return;
        }
        if let (Some(span), Some(lifecycle)) = (self.span, self.lifecycle) {
            let mut state = span.state.lock();
            if !state.error_recorded && !state.finished {
                state.error_recorded = true;
                tags::record_panic(lifecycle.span_mut(span, &mut state));
            }
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ActiveSpan<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(ActiveSpan::of(req))
    }
}

fn warn_no_fairing() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "rocket_opentracing: a route asked for `ActiveSpan` but no `OpenTracingFairing` \
             is attached; spans are no-ops"
        );
    }
}
