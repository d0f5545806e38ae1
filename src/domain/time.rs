//! How hookd writes a point in time wherever Taskcluster's API shows one, and at the head of
//! each human log line.
//!
//! Every fire writes seven times (the template's `now` twice, the task's `created`, `deadline`
//! and `expires`, the times of its fire record and outbox row), and chrono formats them through
//! the general formatting machinery, piece by piece: 3.6 % of a token trigger's instructions
//! (BENCHMARKS.md, issue 15, ninth round). So the common case, a year of four digits, is
//! written here digit by digit, to exactly the text chrono writes; anything else (a year
//! outside 0 to 9999, a leap second) is left to chrono. The stamp in front of a log line, one
//! per fire, costs a third here of what tracing-subscriber's own formatter spends on it.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// ISO-8601 with milliseconds and a `Z`, the form JavaScript's `toJSON` produces.
pub fn iso_time(time: DateTime<Utc>) -> String {
    rfc3339(&time, SecondsFormat::Millis)
}

/// RFC 3339 with microseconds and a `Z`: the stamp tracing-subscriber puts in front of a line.
pub fn micros_time(time: DateTime<Utc>) -> String {
    rfc3339(&time, SecondsFormat::Micros)
}

/// Serializes `time` as chrono's own `Serialize` does (RFC 3339, `Z`, as many fraction digits
/// as the time needs: none, 3, 6 or 9), only faster. For `#[serde(serialize_with)]`.
///
/// # Errors
/// The serializer's.
pub fn serialize_rfc3339<S: Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(time, SecondsFormat::AutoSi))
}

/// `time` as `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the fraction as `precision` says; `precision`
/// is [`SecondsFormat::Millis`], [`SecondsFormat::Micros`] or [`SecondsFormat::AutoSi`].
fn rfc3339(time: &DateTime<Utc>, precision: SecondsFormat) -> String {
    let nanos = time.nanosecond();
    let Ok(year) = u32::try_from(time.year()) else {
        return time.to_rfc3339_opts(precision, true);
    };
    // chrono writes a fifth year digit with a sign, and a leap second as second 60.
    if year > 9999 || nanos >= 1_000_000_000 {
        return time.to_rfc3339_opts(precision, true);
    }
    let mut out = String::with_capacity(30);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, time.month(), 2);
    out.push('-');
    push_digits(&mut out, time.day(), 2);
    out.push('T');
    push_digits(&mut out, time.hour(), 2);
    out.push(':');
    push_digits(&mut out, time.minute(), 2);
    out.push(':');
    push_digits(&mut out, time.second(), 2);
    let (fraction, digits) = match precision {
        SecondsFormat::Millis => (nanos / 1_000_000, 3),
        SecondsFormat::Micros => (nanos / 1_000, 6),
        _ if nanos == 0 => (0, 0),
        _ if nanos % 1_000_000 == 0 => (nanos / 1_000_000, 3),
        _ if nanos % 1_000 == 0 => (nanos / 1_000, 6),
        _ => (nanos, 9),
    };
    if digits > 0 {
        out.push('.');
        push_digits(&mut out, fraction, digits);
    }
    out.push('Z');
    out
}

/// Appends `value` as exactly `digits` decimal digits, zero-padded; `value` has no more.
fn push_digits(out: &mut String, value: u32, digits: u32) {
    let mut divisor = 10_u32.pow(digits - 1);
    while divisor > 0 {
        let digit = (value / divisor) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::{Rng, SeedableRng};

    /// Times of every shape the formatter distinguishes, and many random ones.
    fn times() -> Vec<DateTime<Utc>> {
        let at = |secs: i64, nanos: u32| Utc.timestamp_opt(secs, nanos).unwrap();
        let mut times = vec![
            at(0, 0),
            at(1_764_587_142, 0),
            at(1_764_587_142, 914_000_000),
            at(1_764_587_142, 914_123_000),
            at(1_764_587_142, 914_123_456),
            at(1_764_587_142, 1),
            at(1_764_587_142, 999_999_999),
            // A leap second, which chrono writes as second 60.
            at(1_483_228_799, 1_500_000_000),
            // The first and last instants of four-digit years, and either side of them.
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            (Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap())
                .with_nanosecond(999_999_999)
                .unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        let min = DateTime::<Utc>::MIN_UTC.timestamp();
        let max = DateTime::<Utc>::MAX_UTC.timestamp();
        for _ in 0..20_000 {
            let nanos = match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(0..1_000) * 1_000_000,
                2 => rng.gen_range(0..1_000_000) * 1_000,
                _ => rng.gen_range(0..1_000_000_000),
            };
            // Mostly the years hookd meets, sometimes any year chrono can hold.
            let secs = if rng.gen_bool(0.9) {
                rng.gen_range(0..4_102_444_800)
            } else {
                rng.gen_range(min..max)
            };
            times.push(at(secs, nanos));
        }
        times
    }

    #[test]
    fn times_with_a_fixed_fraction_are_what_chrono_writes() {
        type Writer = fn(DateTime<Utc>) -> String;
        let formats: [(Writer, SecondsFormat); 2] = [
            (iso_time, SecondsFormat::Millis),
            (micros_time, SecondsFormat::Micros),
        ];
        for time in times() {
            for (format, precision) in formats {
                assert_eq!(
                    format(time),
                    time.to_rfc3339_opts(precision, true),
                    "{time:?}, {precision:?}"
                );
            }
        }
    }

    #[test]
    fn serialized_times_are_what_chrono_serializes() {
        #[derive(serde::Serialize)]
        struct Fast(#[serde(serialize_with = "serialize_rfc3339")] DateTime<Utc>);
        for time in times() {
            assert_eq!(
                serde_json::to_string(&Fast(time)).unwrap(),
                serde_json::to_string(&time).unwrap(),
                "{time:?}"
            );
        }
    }
}
