//! The fairing: opens a span when a request arrives and finishes it when the
//! response is ready.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Data, Orbit, Phase, Request, Response, Rocket};
use rustracing::sampler::NullSampler;
use rustracing_jaeger::{Span, Tracer};

use crate::callback::StartSpanCallback;
use crate::config::{Config, Exporter, Mode, OperationName};
use crate::lifecycle::{FastPath, LifecycleState, SpanLifecycle};
use crate::reporter::{Reporter, ReporterStats, SpanConsumer};
use crate::request_state::Slot;
use crate::sampler::SharedSampler;
#[cfg(feature = "viewer")]
use crate::viewer;

/// Managed state: the reporter a fairing started, for
/// [`OpenTracingFairing::reporter_stats_of`].
struct OwnReporter(Arc<Reporter>);

/// How long shutdown waits for the reporter to deliver queued spans.
const SHUTDOWN_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How often shutdown checks whether in-flight requests are done.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(10);

/// The OpenTracing fairing. See the [crate docs](crate) for a tour.
///
/// - [`OpenTracingFairing::all`]: trace every request with your tracer;
/// - [`OpenTracingFairing::opt_in`]: trace only routes taking `ActiveSpan`;
/// - [`OpenTracingFairing::from_config`]: build the Jaeger tracer and its
///   background reporter from `Rocket.toml` and `JAEGER_*` variables.
///
/// Attaching a second `OpenTracingFairing` replaces the first.
pub struct OpenTracingFairing {
    tracer: Option<Tracer>,
    mode: Option<Mode>,
    naming: Option<OperationName>,
    on_start: Option<StartSpanCallback>,
    lifecycle: OnceLock<Arc<SpanLifecycle>>,
    /// The reporter this fairing owns, given
    /// ([`OpenTracingFairing::with_reporter`]) or started at ignition
    /// (flushed at shutdown).
    reporter: OnceLock<Arc<Reporter>>,
}

impl OpenTracingFairing {
    fn new(tracer: Option<Tracer>, mode: Option<Mode>) -> Self {
        OpenTracingFairing {
            tracer,
            mode,
            naming: None,
            on_start: None,
            lifecycle: OnceLock::new(),
            reporter: OnceLock::new(),
        }
    }

    /// Traces every request with `tracer`. Finished spans go to the tracer's
    /// span channel; reporting them is up to whoever holds its receiver (see
    /// [`Reporter`] for one that sends them to Jaeger).
    ///
    /// The `[default.opentracing]` section still applies (naming, traced
    /// attributes, skip paths, `disabled`, and the sampler when
    /// `sampler_type` or `JAEGER_SAMPLER_TYPE` is set); a bad value there
    /// refuses ignition. See [`Config`].
    pub fn all(tracer: Tracer) -> Self {
        Self::new(Some(tracer), Some(Mode::All))
    }

    /// Traces only the requests whose route takes an
    /// [`ActiveSpan`](crate::ActiveSpan). Other requests cost next to
    /// nothing: no span, no timestamp, no request-local state (see
    /// [`Mode::OptIn`] for when a span starts).
    pub fn opt_in(tracer: Tracer) -> Self {
        Self::new(Some(tracer), Some(Mode::OptIn))
    }

    /// Builds the Jaeger tracer and its background reporter at ignition from
    /// the `[default.opentracing]` section of `Rocket.toml` and the standard
    /// `JAEGER_*` variables (see [`Config`]). Mode and naming come from the
    /// configuration too. A configuration error refuses ignition with a
    /// message naming the key.
    pub fn from_config() -> Self {
        Self::new(None, None)
    }

    /// Keeps `reporter`, the one your tracer reports to, alive as long as
    /// the app: the fairing flushes it at shutdown (after the requests in
    /// flight) and gives its counters ([`OpenTracingFairing::reporter_stats`]),
    /// as for [`OpenTracingFairing::from_config`].
    ///
    /// ```rust,no_run
    /// use rocket::launch;
    /// use rocket_opentracing::rustracing::sampler::AllSampler;
    /// use rocket_opentracing::{OpenTracingFairing, Reporter, ReporterConfig};
    ///
    /// #[launch]
    /// fn rocket() -> _ {
    ///     let reporter = Reporter::spawn(ReporterConfig::new("my-service"))
    ///         .expect("the span reporter starts");
    ///     let tracer = reporter.tracer(AllSampler);
    ///     rocket::build().attach(OpenTracingFairing::all(tracer).with_reporter(reporter))
    /// }
    /// ```
    ///
    /// Without it, the `Reporter` must be kept alive some other way: spans
    /// finished after it is dropped are not delivered (they are counted and
    /// a warning says so).
    pub fn with_reporter(self, reporter: Reporter) -> Self {
        OpenTracingFairing {
            reporter: OnceLock::from(Arc::new(reporter)),
            ..self
        }
    }

    /// Names spans with `naming` instead of the configured strategy.
    pub fn operation_name(mut self, naming: OperationName) -> Self {
        self.naming = Some(naming);
        self
    }

    /// Runs `callback` on each new sampled request span, with its request
    /// (Flask-OpenTracing's `start_span_cb`): add or override tags there. A
    /// panic in the callback is contained and logged.
    ///
    /// In trace-all mode it runs when the request arrives, before routing
    /// (`req.route()` is `None`, and the operation name is set later, when
    /// the response is ready); in opt-in mode it runs when the guard opens
    /// the span, after routing.
    pub fn on_start_span<F>(mut self, callback: F) -> Self
    where
        F: Fn(&mut Span, &Request<'_>) + Send + Sync + 'static,
    {
        self.on_start = Some(Arc::new(callback));
        self
    }

    /// The reporter's counters, when this fairing owns a reporter: given
    /// ([`OpenTracingFairing::with_reporter`]) or started at ignition
    /// ([`OpenTracingFairing::from_config`]).
    pub fn reporter_stats(&self) -> Option<ReporterStats> {
        Some(self.reporter.get()?.stats())
    }

    /// The reporter's counters, from a Rocket this fairing was attached to
    /// with [`OpenTracingFairing::from_config`] or
    /// [`OpenTracingFairing::with_reporter`] (`None` before ignition, or
    /// with a tracer of your own and no reporter given). Works on the
    /// instance `launch()` returns after shutdown, once the shutdown flush
    /// is done:
    ///
    /// ```rust,no_run
    /// # #[rocket::main]
    /// # async fn main() -> Result<(), rocket::Error> {
    /// use rocket_opentracing::OpenTracingFairing;
    ///
    /// let rocket = rocket::build()
    ///     .attach(OpenTracingFairing::from_config())
    ///     .launch()
    ///     .await?;
    /// if let Some(stats) = OpenTracingFairing::reporter_stats_of(&rocket) {
    ///     println!("{} spans reported, {} lost", stats.reported, stats.lost());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn reporter_stats_of<P: Phase>(rocket: &Rocket<P>) -> Option<ReporterStats> {
        Some(rocket.state::<OwnReporter>()?.0.stats())
    }

    /// Starts the reporter when this fairing builds its own tracer; the
    /// agent's DNS lookup runs on a blocking thread.
    async fn spawn_reporter(
        &self,
        config: &Config,
        consumer: Option<Box<dyn SpanConsumer>>,
    ) -> Result<Option<Arc<Reporter>>, String> {
        if let Some(reporter) = self.reporter.get() {
            return Ok(Some(Arc::clone(reporter)));
        }
        if self.tracer.is_some() || config.disabled {
            return Ok(None);
        }
        let otlp = config.selected_exporter() == Exporter::Otlp;
        if !otlp
            && config.endpoint.is_none()
            && (config.user.is_some() || config.auth_token.is_some())
        {
            log::warn!(
                "rocket_opentracing: collector credentials are set but unused: \
                 spans go to the agent, as `opentracing.endpoint` (JAEGER_ENDPOINT) is not set"
            );
        }
        let reporter_config = config.reporter_config();
        let spawned = rocket::tokio::task::spawn_blocking(move || {
            Reporter::spawn_with(reporter_config, consumer)
        })
        .await
        .map_err(|e| format!("cannot start the span reporter: {e}"))?;
        let reporter = spawned.map_err(|e| {
            let keys = if otlp {
                "`opentracing.otlp_endpoint` (OTEL_EXPORTER_OTLP_ENDPOINT)"
            } else if config.endpoint.is_some() {
                "`opentracing.endpoint` (JAEGER_ENDPOINT)"
            } else {
                "`opentracing.agent_host`/`agent_port` (JAEGER_AGENT_HOST/JAEGER_AGENT_PORT)"
            };
            format!("cannot start the span reporter ({keys}): {e}")
        })?;
        log::info!(
            "rocket_opentracing: reporting spans to {}",
            reporter.destination()
        );
        Ok(Some(Arc::new(reporter)))
    }

    fn build(&self, config: &Config, reporter: Option<&Arc<Reporter>>) -> SpanLifecycle {
        let root_sampler = Arc::new(config.root_sampler());
        let tracer = match (&self.tracer, reporter) {
            // The user's tracer; the configured sampler replaces its own only
            // when set.
            (Some(tracer), _) => match config.sampler() {
                Some(sampler) => tracer.clone_with_sampler(sampler),
                None => tracer.clone(),
            },
            (None, Some(reporter)) => reporter.tracer(SharedSampler(Arc::clone(&root_sampler))),
            // Disabled: a tracer that samples nothing and reports nowhere.
            (None, None) => {
                let (tx, _) = crossbeam_channel::bounded(1);
                Tracer::with_sender(NullSampler, tx)
            }
        };
        let lifecycle = SpanLifecycle::new(
            self.mode.unwrap_or(config.mode),
            tracer,
            self.naming.unwrap_or(config.operation_name),
            self.on_start.clone(),
            reporter.is_some(),
        );
        let lifecycle = lifecycle.configure(config);
        match (&self.tracer, reporter) {
            // The tracer is ours, reporting to our reporter: request spans
            // can go to it without a rustracing span.
            (None, Some(reporter)) => lifecycle.with_fast_path(FastPath {
                sampler: root_sampler,
                records: Arc::new(reporter.record_sender()),
            }),
            _ => lifecycle,
        }
    }
}

#[rocket::async_trait]
impl Fairing for OpenTracingFairing {
    fn info(&self) -> Info {
        Info {
            name: "OpenTracing",
            kind: Kind::Ignite
                | Kind::Liftoff
                | Kind::Request
                | Kind::Response
                | Kind::Shutdown
                | Kind::Singleton,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        for warning in crate::config::misplaced_sections(rocket.figment()) {
            log::warn!("rocket_opentracing: {warning}");
        }
        let config = match Config::from_figment(rocket.figment()) {
            Ok(config) => config,
            Err(e) => {
                log::error!("rocket_opentracing: {e}");
                return Err(rocket);
            }
        };
        log::info!(
            "rocket_opentracing: {}",
            crate::config::settings_summary(&config, rocket.figment())
        );
        #[cfg(feature = "viewer")]
        let store = viewer::store_for(&config);
        #[cfg(feature = "viewer")]
        let consumer = store.as_ref().map(|store| viewer::consumer(store, &config));
        #[cfg(not(feature = "viewer"))]
        let consumer = None;
        #[cfg(not(feature = "viewer"))]
        if config.viewer {
            log::warn!(
                "rocket_opentracing: `opentracing.viewer` is ignored: this build has no trace \
                 viewer (the `viewer` feature of rocket_opentracing is off)"
            );
        }
        let reporter = match self.spawn_reporter(&config, consumer).await {
            Ok(reporter) => reporter,
            Err(e) => {
                log::error!("rocket_opentracing: {e}");
                return Err(rocket);
            }
        };
        let lifecycle = Arc::new(self.build(&config, reporter.as_ref()));
        if lifecycle.disabled {
            log::info!("rocket_opentracing: tracing is disabled by configuration");
        }
        #[cfg(feature = "viewer")]
        let rocket = match store {
            Some(store) => viewer::mount(rocket, &config, store, self.tracer.is_some()),
            None => rocket,
        };
        if self.lifecycle.set(lifecycle.clone()).is_err() {
            log::error!("rocket_opentracing: this fairing was already ignited; attach a new one");
            return Err(rocket);
        }
        let rocket = rocket.manage(LifecycleState(lifecycle));
        Ok(match reporter {
            Some(reporter) => {
                // Already set when the reporter was given.
                let _ = self.reporter.set(Arc::clone(&reporter));
                rocket.manage(OwnReporter(reporter))
            }
            None => rocket,
        })
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        if let Some(lifecycle) = self.lifecycle.get() {
            lifecycle.set_routes(rocket.routes());
        }
        #[cfg(feature = "viewer")]
        viewer::log_address(rocket);
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(lifecycle) = self.lifecycle.get() else {
            return;
        };
        if !lifecycle.traces(req.uri().path()) {
            return;
        }
        if lifecycle.mode == Mode::All {
            if lifecycle.needs_state(req) {
                lifecycle.open(Slot::of(req), req, SystemTime::now());
            }
        } else if lifecycle.may_ask(req) {
            // In opt-in mode only the arrival is noted, for requests that
            // may ask for their span: the guard opens it.
            Slot::of(req).arrival.get_or_init(SystemTime::now);
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some(lifecycle) = self.lifecycle.get() else {
            return;
        };
        // Looking the span up stores an empty slot when there is none.
        if !lifecycle.may_have_span(req) {
            return;
        }
        if let Some(span) = Slot::of(req).span.get() {
            lifecycle.finish(span, req, res.status());
            // Only a sampled trace can be looked up by its id.
            let header = lifecycle
                .trace_id_header
                .filter(|_| span.context.is_sampled());
            if let Some(name) = header {
                // A scan of the few headers set so far is cheaper than a
                // lookup, which hashes the name.
                let present = res
                    .headers()
                    .iter()
                    .any(|h| h.name().as_str().eq_ignore_ascii_case(name));
                if !present {
                    res.set_raw_header(name, span.trace_id_text());
                }
            }
        }
    }

    /// Delivers the spans of every request: those finished so far at once,
    /// then, once the requests still in flight are done (or Rocket's grace
    /// and mercy periods are over), theirs.
    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let Some(lifecycle) = self.lifecycle.get() else {
            return;
        };
        let Some(reporter) = self.reporter.get() else {
            return;
        };
        flush(reporter).await;
        if lifecycle.in_flight.count() == 0 {
            return;
        }
        let shutdown = &rocket.config().shutdown;
        let limit = Duration::from_secs(u64::from(shutdown.grace) + u64::from(shutdown.mercy));
        let deadline = Instant::now() + limit;
        while lifecycle.in_flight.count() > 0 && Instant::now() < deadline {
            rocket::tokio::time::sleep(IN_FLIGHT_POLL).await;
        }
        if lifecycle.in_flight.count() > 0 {
            log::warn!(
                "rocket_opentracing: {} traced requests still running after {limit:?}; \
                 their spans are sent when they end, if the reporter still runs",
                lifecycle.in_flight.count()
            );
        }
        flush(reporter).await;
    }
}

/// Waits (on a blocking thread) for the reporter to deliver queued spans.
async fn flush(reporter: &Arc<Reporter>) {
    let reporter = Arc::clone(reporter);
    let flushed =
        rocket::tokio::task::spawn_blocking(move || reporter.flush(SHUTDOWN_FLUSH_TIMEOUT))
            .await
            .unwrap_or(false);
    if !flushed {
        log::warn!(
            "rocket_opentracing: spans still queued at shutdown after {SHUTDOWN_FLUSH_TIMEOUT:?}"
        );
    }
}
