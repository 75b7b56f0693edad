//! The propagation formats, as named in `Rocket.toml`.

use std::fmt;
use std::str::FromStr;

use rocket::http::HeaderMap;
use rocket::serde::{Deserialize, Serialize};

use super::{b3, jaeger, w3c, Found, Malformed, TraceContext};

/// A propagation format. In `Rocket.toml`, by its `snake_case` name:
/// `"jaeger"`, `"w3c"`, `"b3"` (multi-header), `"b3_single"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum Format {
    /// `uber-trace-id`, `jaeger-debug-id`, `uberctx-*` baggage.
    Jaeger,
    /// W3C Trace Context: `traceparent`, `tracestate`.
    W3c,
    /// B3 multi-header: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`,
    /// `X-B3-Sampled`, `X-B3-Flags`.
    B3,
    /// B3 single-header: `b3`.
    B3Single,
}

impl Format {
    /// Every format, in the default extraction order.
    pub const ALL: [Format; 4] = [Format::Jaeger, Format::W3c, Format::B3Single, Format::B3];

    /// The formats accepted on the way in, in the order tried: Jaeger, W3C,
    /// B3 single-header, B3 multi-header (the B3 specification gives the
    /// single header precedence over the multiple ones).
    pub const DEFAULT_EXTRACT: &'static [Format] = &Format::ALL;

    /// The formats sent on the way out: Jaeger and W3C.
    pub const DEFAULT_INJECT: &'static [Format] = &[Format::Jaeger, Format::W3c];

    /// The accepted names, for error messages.
    pub const ACCEPTED: &'static str = "jaeger, w3c, b3, b3_single";

    /// The format's name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jaeger => "jaeger",
            Format::W3c => "w3c",
            Format::B3 => "b3",
            Format::B3Single => "b3_single",
        }
    }

    /// Parses a list of format names, keeping the first of duplicates; the
    /// `Err` is the first unknown name.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Format>, UnknownFormat> {
        let mut formats = Vec::with_capacity(names.len());
        for name in names {
            let format = name.as_ref().parse()?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        Ok(formats)
    }

    /// This format's context in `headers`: `None` when its headers are
    /// absent.
    pub(super) fn extract(self, headers: &HeaderMap<'_>) -> Option<Result<Found, Malformed>> {
        match self {
            Format::Jaeger => jaeger::extract(headers),
            Format::W3c => w3c::extract(headers),
            Format::B3 => b3::extract_multi(headers),
            Format::B3Single => b3::extract_single(headers),
        }
    }

    pub(super) fn inject(
        self,
        context: &TraceContext,
        tracestate: Option<&str>,
        out: &mut Vec<(String, String)>,
    ) {
        match self {
            Format::Jaeger => jaeger::inject(context, out),
            Format::W3c => w3c::inject(context, tracestate, out),
            Format::B3 => b3::inject_multi(context, out),
            Format::B3Single => b3::inject_single(context, out),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// A format by name (ASCII case and surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A format name that is not one of [`Format::ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown propagation format {:?} (expected one of {})",
            self.0,
            Format::ACCEPTED
        )
    }
}

impl std::error::Error for UnknownFormat {}
