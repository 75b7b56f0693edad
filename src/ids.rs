//! Trace and span ids as text, in one format everywhere (the `X-Trace-Id`
//! header, the propagation headers, log lines, the trace viewer): a trace id
//! is 16 zero-padded lower-case hex digits when its high 64 bits are zero,
//! else 32; a span id is always 16. Parsing accepts 1 to 32 digits in
//! either case, as a person may quote an id. New ids are random and never 0.

use std::fmt;

use rustracing_jaeger::span::TraceId;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Formats a trace id as Jaeger clients and `X-Trace-Id` do: 16 zero-padded
/// lower-case hex digits for a 64-bit id, 32 for a 128-bit one.
#[derive(Debug, Clone, Copy)]
pub struct DisplayTraceId(pub TraceId);

impl DisplayTraceId {
    /// The id's digits, written into `buf` (cheaper than the formatting
    /// machinery: this runs on every sampled response).
    pub(crate) fn encode(self, buf: &mut [u8; 32]) -> &str {
        let len = self.encode_digits(buf);
        // Only ASCII hex digits were written.
        std::str::from_utf8(&buf[..len]).unwrap_or_default()
    }

    /// [`DisplayTraceId::encode`], as bytes: the digits are `buf[..len]`
    /// for the `len` returned (16 or 32).
    pub(crate) fn encode_digits(self, buf: &mut [u8; 32]) -> usize {
        if self.0.high == 0 {
            lower_hex_into(&mut buf[..16], self.0.low);
            16
        } else {
            lower_hex_into(&mut buf[..16], self.0.high);
            lower_hex_into(&mut buf[16..], self.0.low);
            32
        }
    }
}

impl fmt::Display for DisplayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 32]))
    }
}

/// Formats a span id (or a parent span id, 0 for none): always 16
/// zero-padded lower-case hex digits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DisplaySpanId(pub(crate) u64);

impl fmt::Display for DisplaySpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; 16];
        lower_hex_into(&mut buf, self.0);
        f.write_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

/// Writes `value` as `out.len()` (at most 16) zero-padded lower-case hex
/// digits.
fn lower_hex_into(out: &mut [u8], value: u64) {
    let mut value = value;
    let mut pairs = out.rchunks_exact_mut(2);
    for pair in &mut pairs {
        // Two digits at a time, from a table of every byte's two digits.
        let at = usize::from(value as u8) * 2;
        pair.copy_from_slice(&HEX_PAIRS[at..at + 2]);
        value >>= 8;
    }
    if let [last] = pairs.into_remainder() {
        *last = DIGITS[(value & 0xf) as usize];
    }
}

/// The two lower-case hex digits of every byte value, in order.
const HEX_PAIRS: [u8; 512] = {
    let mut pairs = [0; 512];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte * 2] = DIGITS[byte >> 4];
        pairs[byte * 2 + 1] = DIGITS[byte & 0xf];
        byte += 1;
    }
    pairs
};

/// Parses a hexadecimal trace id of 1 to 32 digits (either case).
pub fn parse_trace_id(s: &str) -> Option<TraceId> {
    if s.len() <= 16 {
        Some(TraceId {
            high: 0,
            low: parse_hex_u64(s)?,
        })
    } else if s.len() <= 32 && s.is_ascii() {
        let (high, low) = s.split_at(s.len() - 16);
        Some(TraceId {
            high: parse_hex_u64(high)?,
            low: parse_hex_u64(low)?,
        })
    } else {
        None
    }
}

/// Parses 1 to 16 hexadecimal digits (no sign, no prefix, either case).
pub(crate) fn parse_hex_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parses exactly `len` lower-case hex digits (`len` at most 16), as the
/// fixed-width W3C and B3 fields are written.
pub(crate) fn lower_hex_u64(s: &str, len: usize) -> Option<u64> {
    if s.len() != len || len > 16 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// A trace id as one 128-bit number.
#[cfg_attr(not(feature = "viewer"), allow(dead_code))]
pub(crate) fn trace_id_u128(id: TraceId) -> u128 {
    u128::from(id.high) << 64 | u128::from(id.low)
}

/// A 128-bit number as a trace id.
#[cfg_attr(not(feature = "viewer"), allow(dead_code))]
pub(crate) fn trace_id_from_u128(id: u128) -> TraceId {
    TraceId {
        high: (id >> 64) as u64,
        low: id as u64,
    }
}

/// A new random span id (never 0).
pub(crate) fn random_span_id() -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    }
}

/// A new random 128-bit trace id and span id (neither 0), drawn at once
/// from the thread's generator (a CSPRNG seeded from the OS: ids cannot be
/// predicted from outside).
pub(crate) fn random_root_ids() -> (TraceId, u64) {
    use rand::Rng;
    let [high, low, span] = rand::thread_rng().gen::<[u64; 3]>();
    let low = if low == 0 { random_span_id() } else { low };
    let span = if span == 0 { random_span_id() } else { span };
    (TraceId { high, low }, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_what_the_formatter_writes() {
        let mut value: u64 = 0x0123_4567_89ab_cdef;
        for _ in 0..200 {
            value = value.rotate_left(7).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5a;
            for len in 1..=16 {
                let mut out = [0u8; 16];
                lower_hex_into(&mut out[..len], value);
                let expected = format!("{value:016x}");
                assert_eq!(
                    &out[..len],
                    &expected.as_bytes()[16 - len..],
                    "{value:x} {len}"
                );
            }
        }
    }

    #[test]
    fn trace_ids_are_zero_padded_16_or_32_digits() {
        let short = TraceId { high: 0, low: 1 };
        assert_eq!(DisplayTraceId(short).to_string(), "0000000000000001");
        let long = TraceId { high: 1, low: 2 };
        assert_eq!(
            DisplayTraceId(long).to_string(),
            "00000000000000010000000000000002"
        );
        assert_eq!(DisplaySpanId(0xabc).to_string(), "0000000000000abc");
    }

    #[test]
    fn parsing_takes_what_formatting_gives_and_any_case() {
        for id in [
            TraceId { high: 0, low: 1 },
            TraceId {
                high: 0x0ebe,
                low: u64::MAX,
            },
        ] {
            assert_eq!(parse_trace_id(&DisplayTraceId(id).to_string()), Some(id));
            assert_eq!(trace_id_from_u128(trace_id_u128(id)), id);
        }
        assert_eq!(parse_trace_id("ABC").map(|id| id.low), Some(0xabc));
        assert_eq!(parse_trace_id(""), None);
        assert_eq!(parse_trace_id(&"1".repeat(33)), None);
        assert_eq!(parse_trace_id("+1"), None);
        assert_eq!(lower_hex_u64("0A", 2), None);
        assert_eq!(lower_hex_u64("0a", 2), Some(10));
    }
}
