//! The viewer's collector endpoint (`POST /_traces/api/traces`). The input
//! is a request body, decoded as a binary-Thrift jaeger.thrift `Batch`
//! without limits and within tight ones (strings of 8 bytes, 1 log).
//!
//! Checks: no panic, no stack overflow and no out-of-memory, whatever the
//! body; an error's message is short plain text; decoded spans have
//! non-zero ids and keep within the limits; whatever decodes without
//! limits decodes within them too, to the same spans with string values cut
//! as the reporter cuts them and logs past the limit dropped and counted in
//! the `rocket_opentracing.dropped_logs` tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rocket_opentracing::fuzzing::decode_batch;
use rocket_opentracing_fuzz::decoded::check_decoder;

fuzz_target!(|body: &[u8]| {
    check_decoder(|max_str_len, max_logs| {
        decode_batch(body, max_str_len, max_logs).map(|spans| (spans, ()))
    });
});
