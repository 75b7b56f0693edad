//! Numbers and instants as people read them: durations (`1.5 ms`), UTC
//! timestamps (`2026-11-21 17:05:42.123`, also as a `<time>` element), and
//! plurals.

use std::fmt::{self, Display};

/// `"s"` unless `n` is 1.
pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Formats a duration in microseconds for people: `0 µs`, `999 µs`,
/// `1.5 ms`, `12.3 ms`, `2.25 s` (three significant digits at most, trailing
/// zeros dropped). Negative values (clock skew) keep their sign.
pub(super) fn format_duration(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let abs = us.unsigned_abs();
    if abs < 1000 {
        return format!("{sign}{abs} µs");
    }
    // Seconds from 999.5 ms, which would round to 1000 ms.
    let (unit, name) = if abs < 999_500 {
        (1_000, "ms")
    } else {
        (1_000_000, "s")
    };
    let decimals = match abs / unit {
        0..=9 => 2,
        10..=99 => 1,
        _ => 0,
    };
    let step = unit / 10u64.pow(decimals);
    let rounded = abs / step + u64::from(abs % step >= step / 2);
    let scale = 10u64.pow(decimals);
    let mut text = format!("{sign}{}", rounded / scale);
    if decimals > 0 {
        let fraction = format!("{:0width$}", rounded % scale, width = decimals as usize);
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
    }
    text.push(' ');
    text.push_str(name);
    text
}

/// A date and time of the proleptic Gregorian calendar, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl Civil {
    /// The UTC date and time `us` microseconds after the Unix epoch
    /// (before it when negative), truncated to the millisecond.
    fn from_unix_us(us: i64) -> Civil {
        const DAY_US: i64 = 86_400_000_000;
        let days = us.div_euclid(DAY_US);
        let in_day = us.rem_euclid(DAY_US) / 1000; // milliseconds
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (in_day / 3_600_000) as u32,
            minute: (in_day / 60_000 % 60) as u32,
            second: (in_day / 1000 % 60) as u32,
            millis: (in_day % 1000) as u32,
        }
    }
}

/// Year, month (1 to 12) and day (1 to 31) of the day `days` after
/// 1970-01-01: Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097); // 400-year eras
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats an instant (microseconds since the Unix epoch) in UTC to the
/// millisecond: `2026-11-21 17:05:42.123`.
fn format_timestamp(us: i64) -> String {
    let c = Civil::from_unix_us(us);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// An instant as a `<time>` element: the readable UTC time, with the
/// machine-readable one in `datetime` (for years 0 to 9999).
pub(super) struct Time(pub(super) i64);

impl Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::from_unix_us(self.0);
        let text = format_timestamp(self.0);
        if (0..=9999).contains(&c.year) {
            write!(
                f,
                "<time datetime=\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\">{text}</time>",
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
            )
        } else {
            f.write_str(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_formatted_for_people() {
        for (us, text) in [
            (0, "0 µs"),
            (1, "1 µs"),
            (999, "999 µs"),
            (1000, "1 ms"),
            (1500, "1.5 ms"),
            (1234, "1.23 ms"),
            (12_345, "12.3 ms"),
            (123_456, "123 ms"),
            (999_499, "999 ms"),
            (999_500, "1 s"),
            (2_250_000, "2.25 s"),
            (61_000_000, "61 s"),
            (3_600_000_000, "3600 s"),
            (-1500, "-1.5 ms"),
            (-5, "-5 µs"),
        ] {
            assert_eq!(format_duration(us), text, "{us}");
        }
        // No overflow at the ends.
        assert!(format_duration(i64::MAX).ends_with(" s"));
        assert!(format_duration(i64::MIN).starts_with('-'));
    }

    #[test]
    fn timestamps_are_formatted_in_utc() {
        for (us, text) in [
            (0, "1970-01-01 00:00:00.000"),
            (-1, "1969-12-31 23:59:59.999"),
            (1_709_210_096_789_000, "2024-02-29 12:34:56.789"),
            (951_782_400_000_000, "2000-02-29 00:00:00.000"),
            (1_795_280_742_123_456, "2026-11-21 17:05:42.123"),
            (4_107_542_400_000_000, "2100-03-01 00:00:00.000"),
        ] {
            assert_eq!(format_timestamp(us), text, "{us}");
        }
        // The whole range converts without panicking.
        format_timestamp(i64::MIN);
        format_timestamp(i64::MAX);
        assert_eq!(
            Time(0).to_string(),
            "<time datetime=\"1970-01-01T00:00:00.000Z\">1970-01-01 00:00:00.000</time>"
        );
        assert!(!Time(i64::MAX).to_string().contains("datetime"));
    }
}
