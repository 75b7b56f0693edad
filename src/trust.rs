//! The trust boundary: whether a caller may decide this service's sampling (see [`UntrustedContext`]).

use rocket::serde::{Deserialize, Serialize};

/// The trust boundary: whether a caller may decide this service's sampling.
///
/// By default, as every Jaeger client does, the caller's sampling decision
/// travels with its trace: a caller that says "sampled" (or "debug", or
/// sends `jaeger-debug-id`) is sampled here whatever the local sampler, and
/// one that says "not sampled" is not. Inside a system that is what keeps
/// traces whole. On a service facing the public internet it lets anyone
/// force every request to be traced, and debug-traced, flooding the tracing
/// backend: set `trust_incoming_sampling = false` there.
///
/// Untrusted, the caller's sampled and debug flags and its
/// `jaeger-debug-id` are ignored: the local sampler decides every request
/// as it does for a new trace (rustracing's `PassiveSampler`, which samples
/// every span that has a parent, is the exception: don't use it there). The
/// caller's context can still be linked, as `untrusted_context` says
/// ([`UntrustedContext`]):
///
/// - `"follows_from"` (the default): the request starts a new trace, whose
///   first span has a follows-from reference to the caller's span (Jaeger
///   shows it as a link). A caller can neither force sampling nor choose
///   the trace id its request is recorded under.
/// - `"child_of"`: the request continues the caller's trace (same trace id,
///   the caller's span as parent, its `tracestate`), sampled as the local
///   sampler decides.
/// - `"ignore"`: the request starts a new trace with no reference to the
///   caller's.
///
/// Baggage is not a sampling decision: it is read either way, within the
/// [limits](crate::Limits) (`max_baggage_items = 0` refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum UntrustedContext {
    /// A new trace whose first span follows from the caller's span.
    #[default]
    FollowsFrom,
    /// The caller's trace continues, with the local sampling decision.
    ChildOf,
    /// A new trace, unrelated to the caller's.
    Ignore,
}
