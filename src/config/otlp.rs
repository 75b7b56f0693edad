//! Which exporter the reporter uses (`exporter`), and the OTLP settings'
//! own values: the protocol (`otlp_protocol`) and the compression
//! (`otlp_compression`), with the words a refusal uses.

use std::fmt;

use rocket::serde::de::{Error as _, Unexpected};
use rocket::serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::reporter::OtlpCompression;

/// Where finished spans are sent: `exporter` in `Rocket.toml`
/// (`"jaeger"` or `"otlp"`), `OTEL_TRACES_EXPORTER` in the environment.
///
/// Unset, an OTLP endpoint (`otlp_endpoint`, `otlp_traces_endpoint` or
/// their `OTEL_EXPORTER_OTLP_*` variables) selects [`Exporter::Otlp`];
/// without one, [`Exporter::Jaeger`]. See [`Config`](super::Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Exporter {
    /// Jaeger's Thrift formats: to the HTTP collector when `endpoint` is
    /// set, else to the agent over UDP (`agent_host`, `agent_port`).
    Jaeger,
    /// OTLP over HTTP with protobuf, to an OpenTelemetry collector,
    /// Jaeger v2, Grafana Tempo or any OTLP/HTTP receiver (the `otlp_*`
    /// keys).
    Otlp,
}

impl Exporter {
    /// The name used in `Rocket.toml` and `OTEL_TRACES_EXPORTER`.
    pub fn name(self) -> &'static str {
        match self {
            Exporter::Jaeger => "jaeger",
            Exporter::Otlp => "otlp",
        }
    }
}

impl fmt::Display for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The OTLP transport (`otlp_protocol`, `OTEL_EXPORTER_OTLP_PROTOCOL`):
/// only OTLP/HTTP with protobuf, `"http/protobuf"`, is supported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `"http/protobuf"`: protobuf bodies POSTed over HTTP(S), usually to
    /// port 4318 (the default).
    #[default]
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The name used in `Rocket.toml` and the `OTEL_*` variables.
    pub fn name(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }

    /// The protocol called `name` (any case, spaces around ignored).
    pub(crate) fn parse(name: &str) -> Option<OtlpProtocol> {
        name.trim()
            .eq_ignore_ascii_case("http/protobuf")
            .then_some(OtlpProtocol::HttpProtobuf)
    }
}

/// What `otlp_protocol` accepts, and what to do instead of gRPC or JSON.
pub(crate) const PROTOCOL_EXPECTED: &str =
    "http/protobuf, the only OTLP protocol supported (no grpc, no http/json): point the \
     endpoint at the receiver's OTLP/HTTP port, 4318, rather than its gRPC port, 4317";

impl Serialize for OtlpProtocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for OtlpProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        OtlpProtocol::parse(&name)
            .ok_or_else(|| D::Error::invalid_value(Unexpected::Str(&name), &PROTOCOL_EXPECTED))
    }
}

/// What `otlp_compression` accepts.
pub(crate) const COMPRESSION_EXPECTED: &str = "gzip or none";

/// The compression called `name`: `gzip` or `none` (any case).
pub(crate) fn parse_compression(name: &str) -> Option<OtlpCompression> {
    match name.trim().to_ascii_lowercase().as_str() {
        "gzip" => Some(OtlpCompression::Gzip),
        "none" => Some(OtlpCompression::None),
        _ => None,
    }
}

/// The name of `compression` in `Rocket.toml`.
pub(crate) fn compression_name(compression: OtlpCompression) -> &'static str {
    match compression {
        OtlpCompression::Gzip => "gzip",
        OtlpCompression::None => "none",
    }
}

/// `otlp_compression`: `"gzip"` or `"none"` into an [`OtlpCompression`].
pub(crate) mod compression {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<OtlpCompression, D::Error> {
        let name = String::deserialize(d)?;
        parse_compression(&name)
            .ok_or_else(|| D::Error::invalid_value(Unexpected::Str(&name), &COMPRESSION_EXPECTED))
    }

    pub(crate) fn serialize<S: Serializer>(c: &OtlpCompression, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(compression_name(*c))
    }
}

/// `base` (an `otlp_endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`) with the
/// traces path appended, as OpenTelemetry SDKs do: `http://otel:4318` and
/// `http://otel:4318/` both become `http://otel:4318/v1/traces`.
pub(crate) fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_without_a_double_slash() {
        assert_eq!(traces_url("http://otel:4318"), "http://otel:4318/v1/traces");
        assert_eq!(
            traces_url(" http://otel:4318/ "),
            "http://otel:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/prefix/"),
            "https://otel.example/prefix/v1/traces"
        );
    }

    #[test]
    fn only_http_protobuf_and_two_compressions_are_read() {
        assert_eq!(
            OtlpProtocol::parse(" HTTP/Protobuf "),
            Some(OtlpProtocol::HttpProtobuf)
        );
        assert_eq!(OtlpProtocol::parse("grpc"), None);
        assert_eq!(OtlpProtocol::parse("http/json"), None);
        assert_eq!(parse_compression("GZIP"), Some(OtlpCompression::Gzip));
        assert_eq!(parse_compression("none"), Some(OtlpCompression::None));
        assert_eq!(parse_compression("zstd"), None);
    }
}
