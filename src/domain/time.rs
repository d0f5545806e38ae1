//! How hookd writes a point in time wherever Taskcluster's API shows one.

use chrono::{DateTime, SecondsFormat, Utc};

/// ISO-8601 with milliseconds and a `Z`, the form JavaScript's `toJSON` produces.
pub fn iso_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}
