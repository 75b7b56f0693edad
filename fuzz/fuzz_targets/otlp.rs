//! The viewer's OTLP/HTTP endpoint (`POST /_traces/v1/traces`). The input
//! is a request body, decoded as a protobuf `ExportTraceServiceRequest`
//! without limits and within tight ones (strings of 8 bytes, 1 log).
//!
//! Checks: no panic, no stack overflow and no out-of-memory, whatever the
//! body (nested values, floods of empty messages, huge declared lengths);
//! an error's message is short plain text; decoded spans have non-zero ids
//! and keep within the limits; whatever decodes without limits decodes
//! within them too, to the same spans (and the same count of spans left
//! out) with string values cut as the reporter cuts them and events past
//! the limit dropped and counted in the `rocket_opentracing.dropped_logs`
//! tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::fuzzing::decode_otlp;
use rocket_opentracing_fuzz::decoded::check_decoder;

fuzz_target!(|body: &[u8]| {
    check_decoder(|max_str_len, max_logs| decode_otlp(body, max_str_len, max_logs));
});
