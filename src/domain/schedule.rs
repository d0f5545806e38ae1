//! Cron schedules: parsing a hook's `schedule` entries and finding the next fire time.
//!
//! Entries have 5 fields, or 6 with seconds first, with standard weekday numbering (0 and 7
//! are Sunday), names (`MON`, `JAN`) and the `@daily`-style macros. Times are UTC. With
//! several entries, the earliest next time wins.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A schedule entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule entry {entry:?} is invalid: {reason}")]
pub struct ScheduleError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed schedule; empty when the hook never fires on time.
#[derive(Debug, Clone)]
pub struct Schedule(Vec<Cron>);

impl Schedule {
    /// Parses every entry.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the first entry that does not parse, and why.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ScheduleError> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref();
                // croner accepts more fields than cron does; only 5 or 6 are cron.
                let fields = entry.split_whitespace().count();
                if !entry.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
                    return Err(ScheduleError {
                        entry: entry.to_owned(),
                        reason: format!("expected 5 fields, or 6 with seconds first, not {fields}"),
                    });
                }
                parser.parse(entry).map_err(|e| ScheduleError {
                    entry: entry.to_owned(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The earliest time strictly after `after` that some entry matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .iter()
            .filter_map(|cron| cron.find_next_occurrence(&after, false).ok())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next(entries: &[&str], after: &str) -> Option<DateTime<Utc>> {
        Schedule::parse(entries).unwrap().next_after(at(after))
    }

    #[test]
    fn five_and_six_field_entries_and_macros_parse() {
        assert_eq!(
            next(&["30 9 * * *"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-02T09:30:00Z"))
        );
        assert_eq!(
            next(&["15 * * * * *"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-01T10:00:15Z"))
        );
        assert_eq!(
            next(&["@daily"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-02T00:00:00Z"))
        );
    }

    #[test]
    fn weekdays_count_from_sunday_zero_and_seven_and_names_work() {
        // 2026-05-01 is a Friday.
        let sunday = Some(at("2026-05-03T00:00:00Z"));
        assert_eq!(next(&["0 0 * * 0"], "2026-05-01T10:00:00Z"), sunday);
        assert_eq!(next(&["0 0 * * 7"], "2026-05-01T10:00:00Z"), sunday);
        assert_eq!(next(&["0 0 * * SUN"], "2026-05-01T10:00:00Z"), sunday);
        assert_eq!(
            next(&["0 0 * * 1"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-04T00:00:00Z"))
        );
    }

    #[test]
    fn the_earliest_entry_wins_and_an_empty_schedule_never_fires() {
        let entries = ["0 12 * * *", "0 11 * * *"];
        assert_eq!(
            next(&entries, "2026-05-01T10:00:00Z"),
            Some(at("2026-05-01T11:00:00Z"))
        );
        assert_eq!(next(&[], "2026-05-01T10:00:00Z"), None);
    }

    #[test]
    fn invalid_entries_are_named_with_the_reason() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "* * * * * * *",
            "0 0 30 2 * 2030 extra",
            "nonsense",
        ] {
            let err = Schedule::parse(&["0 0 * * *", bad]).unwrap_err();
            assert_eq!(err.entry, bad);
            assert!(!err.reason.is_empty());
        }
    }
}
