//! Which requests are traced.

use rocket::serde::{Deserialize, Serialize};

/// Which requests are traced (`mode` in `Rocket.toml`: `"all"` or
/// `"opt_in"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum Mode {
    /// Every request gets a span (the default).
    #[default]
    All,
    /// Only requests whose route takes an [`ActiveSpan`](crate::ActiveSpan)
    /// (Flask-OpenTracing's decorator mode). The span still starts at the
    /// request's arrival, except on a route's first request, whose span
    /// starts when the guard runs (the fairing learns then that the route
    /// asks, and notes the arrival of the requests that may be routed to
    /// it; other requests cost nothing but the hooks).
    OptIn,
}
