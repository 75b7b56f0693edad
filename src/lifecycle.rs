//! The span lifecycle of one launched Rocket: the tracer, the naming table,
//! the callback, and the two operations on a request span — start it
//! (continuing the caller's trace) and finish it (recording the outcome).

use std::borrow::Cow;
use std::mem;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rocket::http::uri::Path;
use rocket::http::Status;
use rocket::Request;
use rustracing::sampler::AllSampler;
use rustracing::tag::Tag;
use rustracing_jaeger::span::{SpanContext, StartSpanOptions};
use rustracing_jaeger::{Span, Tracer};

use crate::asked_routes::AskedRoutes;
use crate::attributes::{self, Attribute};
use crate::callback::{self, StartSpanCallback};
use crate::config::{Config, Mode};
use crate::limits::{count_value, Limits, BAGGAGE_DROPPED_TAG};
use crate::naming::{OperationName, RouteNames};
use crate::propagation::{
    self, Format, Incoming, Sampling, TraceContext, FLAG_DEBUG, FLAG_SAMPLED,
};
use crate::record::{RecordSink, TRACESTATE_TAG};
use crate::redact::QueryPolicy;
use crate::request_state::{BaggageDropped, InFlight, Pending, RequestSpan, Slot, SpanState};
use crate::sampler::RootSampler;
use crate::skip::MountPath;
use crate::skip::SkipPaths;
use crate::tags::{self, RequestTags};
use crate::trust::UntrustedContext;

/// One line per request that dropped baggage: at warn level when the
/// application's own `set_baggage_item` was refused, else (a caller sent
/// too much) at debug level, so that hostile callers cannot flood the log.
fn log_dropped_baggage(dropped: BaggageDropped, limits: &Limits, req: &Request<'_>) {
    if dropped.total() == 0 {
        return;
    }
    let level = if dropped.local > 0 {
        log::Level::Warn
    } else {
        log::Level::Debug
    };
    log::log!(
        level,
        "rocket_opentracing: {} {}: {} baggage items dropped ({} sent by the caller, {} set \
         by the application; at most {} items and {} bytes)",
        req.method(),
        req.uri().path(),
        dropped.total(),
        dropped.incoming,
        dropped.local,
        limits.max_baggage_items,
        limits.max_baggage_bytes,
    );
}

/// Managed state through which the guard and the client helper reach the
/// fairing's span lifecycle.
pub(crate) struct LifecycleState(pub(crate) Arc<SpanLifecycle>);

/// Everything the fairing and the guard share.
pub(crate) struct SpanLifecycle {
    pub(crate) mode: Mode,
    /// SpanLifecycle switched off by configuration: requests are not traced.
    pub(crate) disabled: bool,
    /// Paths never traced.
    pub(crate) skip: SkipPaths,
    /// The trace viewer's mount point, if on: its requests are not traced.
    viewer: Option<MountPath>,
    /// Request attributes recorded as tags.
    attributes: Vec<Attribute>,
    /// What recorded URLs keep of their query string (client spans too).
    pub(crate) query: QueryPolicy,
    /// The user's tracer: its sampler decides for new root traces.
    tracer: Tracer,
    /// The same span channel with a sampler that always samples: used when
    /// the decision was already made upstream (sampled or debug caller).
    forced: Tracer,
    naming: OperationName,
    names: OnceLock<RouteNames>,
    on_start: Option<StartSpanCallback>,
    /// Whether traced requests are counted in flight: when the fairing
    /// owns the reporter, its shutdown waits for their spans.
    count_in_flight: bool,
    /// Response header carrying the trace id, if any.
    pub(crate) trace_id_header: Option<&'static str>,
    /// Formats read from incoming requests, in the order tried.
    extract: Vec<Format>,
    /// Formats written by `ActiveSpan::headers` and `ChildSpan::headers`.
    pub(crate) inject: Vec<Format>,
    /// Traced requests still alive (counted only with a reporter of ours).
    pub(crate) in_flight: InFlight,
    /// Bounds on baggage and traced headers.
    pub(crate) limits: Limits,
    /// What a caller's context becomes when its sampling decision is not
    /// trusted; `None` when it is.
    untrusted: Option<UntrustedContext>,
    /// Set when the reporter is the fairing's own: request spans are then
    /// recorded without a `rustracing` span unless user code asks for one.
    fast: Option<FastPath>,
    /// Set when new root traces are never sampled (const 0 sampler, our
    /// own tracer): a request without a trace context then has only an
    /// unsampled span, and nothing is stored for it unless user code asks
    /// for its span ([`SpanLifecycle::needs_state`]).
    lazy_unsampled: bool,
    /// The routes whose requests had their span opened on demand (in
    /// opt-in mode, every span).
    asked: AskedRoutes,
    /// The reporter's intake, when the reporter is the fairing's own: the
    /// spans of the `tracing` layer go there without a `rustracing` span.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    records: Option<Arc<dyn RecordSink>>,
}

/// What recording request spans without a `rustracing` span takes: the
/// tracer's own root sampler, and the reporter's intake.
pub(crate) struct FastPath {
    pub(crate) sampler: Arc<RootSampler>,
    pub(crate) records: Arc<dyn RecordSink>,
}

impl std::fmt::Debug for SpanLifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanLifecycle")
            .field("mode", &self.mode)
            .field("naming", &self.naming)
            .finish_non_exhaustive()
    }
}

impl SpanLifecycle {
    pub(crate) fn new(
        mode: Mode,
        tracer: Tracer,
        naming: OperationName,
        on_start: Option<StartSpanCallback>,
        count_in_flight: bool,
    ) -> Self {
        let forced = tracer.clone_with_sampler(AllSampler);
        SpanLifecycle {
            mode,
            disabled: false,
            skip: SkipPaths::default(),
            viewer: None,
            attributes: Vec::new(),
            query: QueryPolicy::Keep,
            tracer,
            forced,
            naming,
            names: OnceLock::new(),
            on_start,
            count_in_flight,
            trace_id_header: None,
            extract: Format::DEFAULT_EXTRACT.to_vec(),
            inject: Format::DEFAULT_INJECT.to_vec(),
            in_flight: InFlight::default(),
            limits: Limits::DEFAULT,
            untrusted: None,
            fast: None,
            lazy_unsampled: false,
            asked: AskedRoutes::default(),
            records: None,
        }
    }

    /// Records request spans without a `rustracing` span where user code
    /// does not need one (the tracer must sample with `fast.sampler` and
    /// report to the reporter of `fast.records`).
    pub(crate) fn with_fast_path(mut self, fast: FastPath) -> Self {
        self.records = Some(Arc::clone(&fast.records));
        // A start-span callback takes the span as soon as it starts.
        if self.on_start.is_none() {
            self.lazy_unsampled =
                self.mode == Mode::All && matches!(*fast.sampler, RootSampler::Never);
            self.fast = Some(fast);
        }
        self
    }

    /// Whether `on_request` must open the span of `req` (in trace-all
    /// mode): not when it can only be an unsampled new root, which is
    /// opened on demand ([`SpanLifecycle::open_on_demand`]) if at all.
    pub(crate) fn needs_state(&self, req: &Request<'_>) -> bool {
        !self.lazy_unsampled || propagation::carries_context(req.headers())
    }

    /// Whether `on_request` notes the arrival of `req` in opt-in mode: only
    /// when it could be routed to a route that asked for its span before
    /// (the first request of a route starts its span when it asks).
    pub(crate) fn may_ask(&self, req: &Request<'_>) -> bool {
        self.asked.may_ask(req)
    }

    /// Whether `req` may have a span to finish in `on_response`: opened on
    /// arrival (trace-all mode), or on demand for a request that could be
    /// routed to a route that asked.
    pub(crate) fn may_have_span(&self, req: &Request<'_>) -> bool {
        // By path, not by `req.route()`: a request whose guard opened its
        // span and then forwarded ends on another route, or on none.
        (self.mode == Mode::All && self.needs_state(req)) || self.asked.may_ask(req)
    }

    /// The span of `req` in `slot`, for user code asking for it: opened
    /// now if it is traced but `on_request` left it to be opened on demand
    /// (see [`SpanLifecycle::needs_state`]; in opt-in mode, always).
    pub(crate) fn open_on_demand<'s>(
        &self,
        slot: &'s Slot,
        req: &Request<'_>,
    ) -> Option<&'s RequestSpan> {
        if let Some(span) = slot.span.get() {
            return Some(span);
        }
        let arrival = match self.mode {
            // Noted on arrival, unless the route had not asked before.
            Mode::OptIn => match slot.arrival.get() {
                Some(&arrival) => arrival,
                None if self.traces(req.uri().path()) => SystemTime::now(),
                None => return None,
            },
            // What `on_request` leaves to be opened on demand: only an
            // unsampled span, for which no time is recorded.
            Mode::All if !self.needs_state(req) && self.traces(req.uri().path()) => {
                SystemTime::now()
            }
            Mode::All => return None,
        };
        self.asked.mark(req.route());
        Some(self.open(slot, req, arrival))
    }

    /// Applies the request-selection settings of `config`.
    pub(crate) fn configure(mut self, config: &Config) -> Self {
        self.disabled = config.disabled;
        self.skip = config.skip_paths.clone();
        self.viewer = config.viewer_base().map(MountPath::new);
        self.attributes = config.traced_attributes.clone();
        self.query = config.query_policy();
        // Interned: set on every traced response without allocating a name.
        self.trace_id_header = config
            .trace_id_header()
            .map(|name| crate::naming::intern(name.to_owned()));
        self.extract = config.extract_formats.clone();
        self.inject = config.inject_formats.clone();
        self.limits = config.limits();
        self.untrusted = config.untrusted();
        self
    }

    /// Whether a request to `path` is traced at all.
    pub(crate) fn traces(&self, path: Path<'_>) -> bool {
        !self.disabled
            && (self.skip.is_empty() || !self.skip.matches(path.as_str()))
            && !self
                .viewer
                .as_ref()
                .is_some_and(|viewer| viewer.contains(path))
    }

    /// Builds the per-route name table (at liftoff, when routes are final).
    pub(crate) fn set_routes<'a>(&self, routes: impl Iterator<Item = &'a rocket::Route>) {
        let _ = self.names.set(RouteNames::new(self.naming, routes));
    }

    /// The operation name of `req`, from its route if it has one.
    pub(crate) fn operation_name(&self, req: &Request<'_>) -> Cow<'static, str> {
        match self.names.get() {
            Some(names) => names.name(req.method(), req.route()),
            // Before liftoff (never for a routed request): an empty table
            // names routes without interning; it does not allocate.
            None => {
                RouteNames::new(self.naming, std::iter::empty()).name(req.method(), req.route())
            }
        }
    }

    /// The span of `req` in `slot`, started now (as of `arrival`) unless it
    /// already was. From then on, with a reporter of ours, the request
    /// counts as in flight until it is dropped, so that shutdown waits for
    /// its span.
    pub(crate) fn open<'s>(
        &self,
        slot: &'s Slot,
        req: &Request<'_>,
        arrival: SystemTime,
    ) -> &'s RequestSpan {
        slot.span.get_or_init(|| {
            let mut span = self.start(req, arrival);
            if self.count_in_flight {
                span.in_flight = Some(self.in_flight.enter());
            }
            span
        })
    }

    /// Starts the span of `req`, as of `arrival`, continuing the caller's
    /// trace when its headers carry a valid one (in a configured format).
    pub(crate) fn start(&self, req: &Request<'_>, arrival: SystemTime) -> RequestSpan {
        let (mut incoming, outcome) =
            propagation::extract_bounded(req.headers(), &self.extract, &self.limits);
        if let Err(why) = outcome {
            log::debug!(
                "rocket_opentracing: ignoring the trace header ({why}); starting a new trace"
            );
        }
        let link = match self.untrusted {
            Some(untrusted) => distrust(&mut incoming, untrusted),
            None => None,
        };
        let debug_id = incoming.debug_id.as_deref();
        let debug = debug_id.is_some() || incoming.sampling == Sampling::Debug;
        // Jaeger semantics: the sampling decision is made once, at the root,
        // and travels with the trace. Only a new root, or a caller that
        // deferred its decision (B3), asks the sampler (`None` here).
        let decided = match incoming.sampling {
            _ if debug => Some(true),
            Sampling::NotSampled => Some(false),
            Sampling::Sampled | Sampling::Debug => Some(true),
            Sampling::Deferred => None,
        };
        let mut context = match &incoming.parent {
            Some(parent) => parent.new_child(),
            None => TraceContext::new_root(true),
        };
        // Keep the caller's other flag bits; set the decision's (cleared
        // again if the span is not sampled).
        context.flags &= !(FLAG_SAMPLED | FLAG_DEBUG);
        context.flags |= if debug {
            FLAG_SAMPLED | FLAG_DEBUG
        } else {
            FLAG_SAMPLED
        };

        if let Some(fast) = &self.fast {
            // Recorded without a rustracing span unless there is more to
            // it than the standard tags: traced attributes, a debug id, a
            // link or a caller's `tracestate` go the general way.
            if self.attributes.is_empty()
                && debug_id.is_none()
                && link.is_none()
                && incoming.tracestate.is_none()
            {
                let sampled = decided.unwrap_or_else(|| fast.sampler.sample());
                return self.start_pending(fast, req, arrival, incoming, context, sampled);
            }
        }
        let tracer = match decided {
            Some(true) => Some(&self.forced),
            Some(false) => None,
            None => Some(&self.tracer),
        };

        // The sampler sees the operation name and the parent; the request
        // tags are formatted only once the span is known to be sampled.
        let mut span = match tracer {
            None => Span::inactive(),
            Some(tracer) => {
                let mut options = tracer.span(self.operation_name(req)).start_time(arrival);
                if let Some(parent) = &incoming.parent {
                    options = options.child_of(&parent.to_span_context(&[]));
                }
                if let Some(link) = &link {
                    options = options.follows_from(&link.to_span_context(&[]));
                }
                options.start_with_state(context.to_state(debug_id))
            }
        };
        if span.is_sampled() {
            tags::record_request(&mut span, &RequestTags::of(req, &self.query));
            if let Some(state) = &incoming.tracestate {
                span.set_tag(|| Tag::new(TRACESTATE_TAG, state.clone()));
            }
            attributes::record_request(&self.attributes, &self.query, &self.limits, &mut span, req);
            if let Some(callback) = &self.on_start {
                callback::run(callback, &mut span, req);
            }
        } else {
            context.flags &= !(FLAG_SAMPLED | FLAG_DEBUG);
        }
        RequestSpan::new(
            context,
            (Some(Box::new(span)), None),
            incoming.baggage,
            incoming.baggage_dropped,
            incoming.tracestate,
        )
    }

    /// The end of [`SpanLifecycle::start`] on the fast path: the span of
    /// `context` kept [`Pending`] when `sampled`.
    fn start_pending(
        &self,
        fast: &FastPath,
        req: &Request<'_>,
        arrival: SystemTime,
        incoming: Incoming,
        mut context: TraceContext,
        sampled: bool,
    ) -> RequestSpan {
        let pending = if sampled {
            Some(Pending {
                // As a rustracing span would start: before routing (trace-all
                // mode), the name of a request not routed; renamed when it
                // finishes.
                name: self.operation_name(req),
                start: arrival,
                tags: RequestTags::of(req, &self.query),
                parent_span_id: incoming.parent.as_ref().map(|parent| parent.span_id),
                sink: Arc::clone(&fast.records),
            })
        } else {
            context.flags &= !(FLAG_SAMPLED | FLAG_DEBUG);
            None
        };
        RequestSpan::new(
            context,
            (None, pending),
            incoming.baggage,
            incoming.baggage_dropped,
            incoming.tracestate,
        )
    }

    /// The span of `request_span` for user code to change: a pending span
    /// is built first, as [`SpanLifecycle::start`] would have built it.
    pub(crate) fn span_mut<'s>(
        &self,
        request_span: &RequestSpan,
        state: &'s mut SpanState,
    ) -> &'s mut Span {
        self.build_if_pending(request_span, state);
        state.span.get_or_insert_with(|| Box::new(Span::inactive()))
    }

    /// Builds the `rustracing` span a pending span stands for, if any.
    fn build_if_pending(&self, request_span: &RequestSpan, state: &mut SpanState) {
        if let Some(pending) = state.pending.take() {
            state.span = Some(Box::new(self.build_pending(&request_span.context, pending)));
        }
    }

    /// The `rustracing` span a pending span stands for (its operation name
    /// is set when it finishes).
    fn build_pending(&self, context: &TraceContext, pending: Pending) -> Span {
        let mut options = self.forced.span(pending.name).start_time(pending.start);
        if let Some(parent_span_id) = pending.parent_span_id {
            // The caller's span, in the same trace.
            let parent = TraceContext {
                span_id: parent_span_id,
                ..context.clone()
            };
            options = options.child_of(&parent.to_span_context(&[]));
        }
        let mut span = options.start_with_state(context.to_state(None));
        tags::record_request(&mut span, &pending.tags);
        span
    }
    /// Options for a child of `parent` (already sampled: always started).
    pub(crate) fn child_options<N>(
        &self,
        operation_name: N,
        parent: &SpanContext,
    ) -> StartSpanOptions<'_>
    where
        N: Into<Cow<'static, str>>,
    {
        self.forced.span(operation_name).child_of(parent)
    }

    /// Reports `record`, a span inside a request: to the reporter's intake
    /// when the reporter is ours, else as a `rustracing` span of the
    /// tracer (to its channel).
    #[cfg(feature = "tracing")]
    pub(crate) fn report_child(&self, record: crate::record::ChildRecord) {
        match &self.records {
            Some(records) => records.send_child(record),
            None => drop(self.child_span_of(record)),
        }
    }

    /// The `rustracing` span `record` stands for, finished when dropped.
    #[cfg(feature = "tracing")]
    fn child_span_of(&self, record: crate::record::ChildRecord) -> Span {
        let context = TraceContext {
            trace_id: record.trace_id,
            span_id: record.span_id,
            parent_span_id: 0,
            flags: record.flags,
        };
        let parent = TraceContext {
            span_id: record.parent_span_id,
            ..context.clone()
        };
        let mut options = self
            .forced
            .span(record.operation_name)
            .start_time(record.start)
            .child_of(&parent.to_span_context(&[]));
        for reference in &record.follows_from {
            let target = TraceContext {
                trace_id: reference.trace_id,
                span_id: reference.span_id,
                parent_span_id: 0,
                flags: FLAG_SAMPLED,
            };
            options = options.follows_from(&target.to_span_context(&[]));
        }
        let mut span = options.start_with_state(context.to_state(None));
        for tag in record.tags {
            span.set_tag(|| tag);
        }
        for entry in record.logs {
            span.log(|log| {
                log.time(entry.time);
                for field in entry.fields {
                    log.field(field);
                }
            });
        }
        if record.dropped_logs > 0 {
            let n = count_value(record.dropped_logs);
            span.set_tag(|| Tag::new(crate::limits::DROPPED_LOGS_TAG, n));
        }
        span.set_finish_time(|| record.finish);
        span
    }

    /// Finishes the span of `req` with the response `status`; a second call
    /// does nothing.
    pub(crate) fn finish(&self, request_span: &RequestSpan, req: &Request<'_>, status: Status) {
        let (mut span, error_recorded, dropped) = {
            let mut state = request_span.state.lock();
            if mem::replace(&mut state.finished, true) {
                return;
            }
            #[cfg(feature = "tracing")]
            let events = request_span
                .take_events()
                .filter(|events| !events.logs.is_empty() || events.dropped > 0 || events.error);
            #[cfg(not(feature = "tracing"))]
            let events: Option<std::convert::Infallible> = None;
            // A pending span (the fast path) is recorded as it is unless
            // its error log, dropped-baggage tag or events take a
            // rustracing span.
            let plain = status.code < 500 && state.baggage_dropped.total() == 0 && events.is_none();
            if plain {
                if let Some(pending) = state.pending.take() {
                    drop(state);
                    let name = self.operation_name(req);
                    let (record, sink) =
                        pending.record(&request_span.context, name, Some(status.code));
                    sink.send(record);
                    return;
                }
            }
            self.build_if_pending(request_span, &mut state);
            let span = state.span.take().map_or_else(Span::inactive, |span| *span);
            #[cfg(feature = "tracing")]
            let span = {
                let mut span = span;
                if let Some(events) = events {
                    state.error_recorded |= record_events(&mut span, events);
                }
                span
            };
            (span, state.error_recorded, state.baggage_dropped)
        };
        if span.is_sampled() {
            span.set_operation_name(|| self.operation_name(req));
            attributes::record_route(&self.attributes, &mut span, req);
            tags::record_status(&mut span, status, error_recorded);
            if dropped.total() > 0 {
                let n = count_value(dropped.total());
                span.set_tag(|| rustracing::tag::Tag::new(BAGGAGE_DROPPED_TAG, n));
            }
        }
        log_dropped_baggage(dropped, &self.limits, req);
        // Dropping the span finishes it and hands it to the reporter.
        drop(span);
    }
}

/// Records on `span` the events the `tracing` layer recorded for it;
/// returns whether one of them marked it as failed.
#[cfg(feature = "tracing")]
fn record_events(span: &mut Span, events: crate::request_state::RequestEvents) -> bool {
    for entry in events.logs {
        span.log(|log| {
            log.time(entry.time);
            for field in entry.fields {
                log.field(field);
            }
        });
    }
    if events.dropped > 0 {
        let n = count_value(events.dropped);
        span.set_tag(|| Tag::new(crate::limits::DROPPED_LOGS_TAG, n));
    }
    if events.error {
        span.set_tag(rustracing::tag::StdTag::error);
    }
    events.error
}

/// Takes the sampling decision away from an untrusted caller: its sampled
/// and debug flags and its debug id are dropped, so the local sampler
/// decides. What remains of its context is as `untrusted` says: kept as
/// the parent (`child_of`), returned to be linked from a new trace
/// (`follows_from`), or dropped (`ignore`).
fn distrust(incoming: &mut Incoming, untrusted: UntrustedContext) -> Option<TraceContext> {
    incoming.sampling = Sampling::Deferred;
    incoming.debug_id = None;
    if let Some(parent) = &mut incoming.parent {
        parent.flags &= !(FLAG_SAMPLED | FLAG_DEBUG);
    }
    match untrusted {
        UntrustedContext::ChildOf => None,
        UntrustedContext::FollowsFrom => {
            incoming.tracestate = None;
            incoming.parent.take()
        }
        UntrustedContext::Ignore => {
            incoming.tracestate = None;
            incoming.parent = None;
            None
        }
    }
}
