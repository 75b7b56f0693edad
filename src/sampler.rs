//! Samplers chosen by configuration (see [`SamplerType`]).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use parking_lot::Mutex;
use rocket::serde::{Deserialize, Serialize};
use rustracing::sampler::{BoxSampler, Sampler};
use rustracing_jaeger::span::{CandidateSpan, SpanContextState};

/// Samplers chosen by configuration, as every Jaeger client offers them:
/// `const` (param 0 or 1), `probabilistic` (param = sampling rate) and
/// `ratelimiting` (param = traces per second).
///
/// A sampler decides only for new root traces: a trace continued from a
/// caller keeps the caller's decision (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "lowercase")]
pub enum SamplerType {
    /// Samples all traces (param 1) or none (param 0).
    Const,
    /// Samples each trace with probability `param` (0.0 to 1.0).
    Probabilistic,
    /// Samples at most `param` traces per second.
    Ratelimiting,
}

/// The sampler type names accepted, for error messages.
pub const ACCEPTED_TYPES: &str = "const, probabilistic, ratelimiting";

impl FromStr for SamplerType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "const" => Ok(SamplerType::Const),
            "probabilistic" => Ok(SamplerType::Probabilistic),
            "ratelimiting" | "rate_limiting" => Ok(SamplerType::Ratelimiting),
            _ => Err(()),
        }
    }
}

impl fmt::Display for SamplerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SamplerType::Const => "const",
            SamplerType::Probabilistic => "probabilistic",
            SamplerType::Ratelimiting => "ratelimiting",
        })
    }
}

impl SamplerType {
    /// Checks `param` for this type; the error says what is accepted.
    pub fn check_param(self, param: f64) -> Result<(), &'static str> {
        let ok = match self {
            SamplerType::Const => param == 0.0 || param == 1.0,
            SamplerType::Probabilistic => (0.0..=1.0).contains(&param),
            SamplerType::Ratelimiting => param.is_finite() && param >= 0.0,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            SamplerType::Const => "0 or 1 for the const sampler",
            SamplerType::Probabilistic => "a rate from 0.0 to 1.0 for the probabilistic sampler",
            SamplerType::Ratelimiting => {
                "a number of traces per second (0 or more) for the ratelimiting sampler"
            }
        })
    }

    /// The sampler of this type with `param` (which must have passed
    /// [`SamplerType::check_param`]).
    pub fn build(self, param: f64) -> BoxSampler<SpanContextState> {
        SharedSampler(std::sync::Arc::new(RootSampler::new(self, param))).boxed()
    }
}

/// The sampler of new root traces when the fairing built the tracer: it
/// decides without a candidate span (no operation name is built for it),
/// and the tracer asks the same instance ([`SharedSampler`]), so that a
/// rate limit is one limit.
#[derive(Debug)]
pub(crate) enum RootSampler {
    Always,
    Never,
    Probabilistic(f64),
    RateLimiting(RateLimitingSampler),
}

impl RootSampler {
    /// The sampler of `kind` with `param` (which must have passed
    /// [`SamplerType::check_param`]; an out-of-range rate samples nothing).
    pub(crate) fn new(kind: SamplerType, param: f64) -> Self {
        match kind {
            SamplerType::Const if param == 0.0 => RootSampler::Never,
            SamplerType::Const => RootSampler::Always,
            SamplerType::Probabilistic if (0.0..=1.0).contains(&param) => {
                RootSampler::Probabilistic(param)
            }
            SamplerType::Probabilistic => RootSampler::Never,
            SamplerType::Ratelimiting => RootSampler::RateLimiting(RateLimitingSampler::new(param)),
        }
    }

    /// Whether a new root trace is sampled (as rustracing's samplers of the
    /// same type decide).
    pub(crate) fn sample(&self) -> bool {
        match self {
            RootSampler::Always => true,
            RootSampler::Never => false,
            RootSampler::Probabilistic(rate) => rand::random::<f64>() < *rate,
            RootSampler::RateLimiting(limit) => {
                limit.per_second > 0.0 && limit.admit(Instant::now())
            }
        }
    }
}

/// A [`RootSampler`] shared with a tracer.
#[derive(Debug, Clone)]
pub(crate) struct SharedSampler(pub(crate) std::sync::Arc<RootSampler>);

impl Sampler<SpanContextState> for SharedSampler {
    fn is_sampled(&self, _span: &CandidateSpan<'_>) -> bool {
        self.0.sample()
    }
}

/// Samples at most a given number of traces per second (a token bucket
/// holding at most one second's worth, and at least one trace).
#[derive(Debug)]
pub struct RateLimitingSampler {
    per_second: f64,
    max_balance: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimitingSampler {
    /// A sampler admitting `per_second` traces per second.
    pub fn new(per_second: f64) -> Self {
        let max_balance = per_second.max(1.0);
        RateLimitingSampler {
            per_second,
            max_balance,
            bucket: Mutex::new((max_balance, Instant::now())),
        }
    }

    fn admit(&self, now: Instant) -> bool {
        let mut bucket = self.bucket.lock();
        let (balance, last) = &mut *bucket;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *last = now;
        *balance = (*balance + elapsed * self.per_second).min(self.max_balance);
        if *balance >= 1.0 {
            *balance -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Sampler<SpanContextState> for RateLimitingSampler {
    fn is_sampled(&self, _span: &CandidateSpan<'_>) -> bool {
        self.per_second > 0.0 && self.admit(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_limiting_admits_at_most_the_rate() {
        let sampler = RateLimitingSampler::new(2.0);
        let start = Instant::now();
        let admitted = (0..10).filter(|_| sampler.admit(start)).count();
        assert_eq!(admitted, 2, "a full bucket holds one second's worth");
        assert!(!sampler.admit(start + Duration::from_millis(100)));
        assert!(sampler.admit(start + Duration::from_millis(600)));
    }

    #[test]
    fn root_samplers_decide_as_configured() {
        let always = RootSampler::new(SamplerType::Const, 1.0);
        assert!((0..100).all(|_| always.sample()));
        let never = RootSampler::new(SamplerType::Const, 0.0);
        assert!((0..100).all(|_| !never.sample()));
        let half = RootSampler::new(SamplerType::Probabilistic, 0.5);
        let sampled = (0..10_000).filter(|_| half.sample()).count();
        assert!((4_000..6_000).contains(&sampled), "{sampled}");
        let limited = RootSampler::new(SamplerType::Ratelimiting, 2.0);
        assert_eq!((0..10).filter(|_| limited.sample()).count(), 2);
    }

    #[test]
    fn params_are_checked_per_type() {
        assert!(SamplerType::Const.check_param(1.0).is_ok());
        assert!(SamplerType::Const.check_param(0.5).is_err());
        assert!(SamplerType::Probabilistic.check_param(0.25).is_ok());
        assert!(SamplerType::Probabilistic.check_param(1.5).is_err());
        assert!(SamplerType::Probabilistic.check_param(f64::NAN).is_err());
        assert!(SamplerType::Ratelimiting.check_param(100.0).is_ok());
        assert!(SamplerType::Ratelimiting.check_param(-1.0).is_err());
        assert_eq!("RateLimiting".parse(), Ok(SamplerType::Ratelimiting));
        assert!("remote".parse::<SamplerType>().is_err());
    }
}
