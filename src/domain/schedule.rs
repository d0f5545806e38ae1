//! Cron schedules: parsing a hook's `schedule` entries and finding fire times.
//!
//! A [`Schedule`] can only be made by parsing, so a hook that holds one never needs to check its
//! entries again. It keeps the entries as given, which is what it serializes back to and what
//! two schedules are compared by.
//!
//! Entries have 5 fields, or 6 with seconds first, with standard weekday numbering (0 and 7
//! are Sunday), names (`MON`, `JAN`) and the `@daily`-style macros. Times are UTC unless the
//! entry starts with `TZ=<IANA name> ` (an extension). With several entries, the earliest next
//! time wins.
//!
//! Daylight saving time, in a zone that has it: a local time that does not exist (the hour the
//! clocks skip) fires at the first instant after the gap; a local time that happens twice (the
//! hour the clocks repeat) fires once, at its first occurrence.

use std::sync::Arc;

use chrono::{DateTime, Duration, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize, Serializer};

use super::memo::Memo;

/// A schedule entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule entry {entry:?} is invalid: {reason}")]
pub struct ScheduleError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

/// How far a search may step over repeated local times before it gives up: more than the
/// 3600 one-second slots of a repeated hour.
const MAX_REPEAT_SKIPS: usize = 10_000;

/// Parsed entries by the entries as written, shared by every hook with the same schedule (see
/// `memo`): a stored hook is parsed on every read. Past 10,000 distinct schedules it starts over.
static PARSED: Memo<Vec<String>, Vec<Entry>> = Memo::new(10_000);

/// One parsed entry: a cron pattern read in a time zone (`None` is UTC).
#[derive(Debug, Clone)]
struct Entry {
    cron: Cron,
    zone: Option<Tz>,
}

/// A parsed schedule; empty (the default) when the hook never fires on time.
///
/// Equality compares the entries as written: a changed entry is a changed schedule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct Schedule {
    /// The entries as given, for serializing back exactly.
    written: Vec<String>,
    parsed: Arc<Vec<Entry>>,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl TryFrom<Vec<String>> for Schedule {
    type Error = ScheduleError;

    /// Parses every entry; serde goes through here too, so a stored hook is parsed on load.
    fn try_from(entries: Vec<String>) -> Result<Self, ScheduleError> {
        let parsed = PARSED.get_or_parse(
            entries.as_slice(),
            || entries.clone(),
            || {
                let parser = CronParser::builder()
                    .seconds(Seconds::Optional)
                    .year(Year::Disallowed)
                    .build();
                entries
                    .iter()
                    .map(|entry| parse_entry(&parser, entry))
                    .collect()
            },
        )?;
        Ok(Self {
            written: entries,
            parsed,
        })
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(serializer)
    }
}

/// Parses one entry, see the module docs.
fn parse_entry(parser: &CronParser, entry: &str) -> Result<Entry, ScheduleError> {
    let invalid = |reason: String| ScheduleError {
        entry: entry.to_owned(),
        reason,
    };
    let (zone, pattern) = split_zone(entry).map_err(invalid)?;
    // croner accepts more fields than cron does; only 5 or 6 are cron.
    let fields = pattern.split_whitespace().count();
    if !pattern.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(invalid(format!(
            "expected 5 fields, or 6 with seconds first, not {fields}"
        )));
    }
    // croner reads a stray comma as an empty list: a field that matches nothing, so finding
    // the next time would search for tens of seconds and find none.
    if pattern
        .split_whitespace()
        .any(|field| field.split(',').any(str::is_empty))
    {
        return Err(invalid(
            "a field has an empty list item (a stray comma)".into(),
        ));
    }
    let cron = parser
        .parse(expand_alias(pattern))
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Entry { cron, zone })
}

impl Schedule {
    /// Parses every entry.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the first entry that does not parse, and why.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ScheduleError> {
        Self::try_from(
            entries
                .iter()
                .map(|e| e.as_ref().to_owned())
                .collect::<Vec<_>>(),
        )
    }

    /// The entries as given.
    pub fn entries(&self) -> &[String] {
        &self.written
    }

    /// The entries as given, without the parsed form: what to keep of a schedule that only
    /// needs comparing.
    pub fn into_entries(self) -> Vec<String> {
        self.written
    }

    /// Whether the schedule has no entries.
    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }

    /// The earliest time strictly after `after` that some entry matches.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.parsed.iter().filter_map(|e| e.next_after(after)).min()
    }

    /// Each entry in words for people ("At 09:00, on Monday"), with the zone it is read in
    /// (`None` is UTC).
    pub fn in_words(&self) -> Vec<(String, Option<Tz>)> {
        self.parsed
            .iter()
            .map(|e| (e.cron.describe(), e.zone))
            .collect()
    }

    /// The latest time at or before `at` that some entry matches.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.parsed
            .iter()
            .filter_map(|e| e.latest_at_or_before(at))
            .max()
    }

    /// Whether `time` is one of the schedule's fire times.
    pub fn is_slot(&self, time: DateTime<Utc>) -> bool {
        self.next_after(time - Duration::milliseconds(1)) == Some(time)
    }

    /// The slot to fire next, given the one stored for the hook: the stored slot while it is
    /// still a fire time of this schedule and not later than the schedule's next time after
    /// `now` (so a missed slot stays due), else the next time after `now` (the schedule was
    /// changed, or nothing was stored yet).
    pub fn resume(
        &self,
        stored: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let upcoming = self.next_after(now);
        match stored {
            Some(slot) if self.is_slot(slot) && upcoming.is_none_or(|next| slot <= next) => {
                Some(slot)
            }
            _ => upcoming,
        }
    }
}

impl Entry {
    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(zone) = self.zone else {
            return self.cron.find_next_occurrence(&after, false).ok();
        };
        let mut from = after.with_timezone(&zone);
        for _ in 0..MAX_REPEAT_SKIPS {
            let found = self.cron.find_next_occurrence(&from, false).ok()?;
            if !is_repeat(&found) {
                return Some(found.with_timezone(&Utc));
            }
            from = found;
        }
        None
    }

    fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(zone) = self.zone else {
            return self.cron.find_previous_occurrence(&at, true).ok();
        };
        let mut from = at.with_timezone(&zone);
        let mut inclusive = true;
        for _ in 0..MAX_REPEAT_SKIPS {
            let found = self.cron.find_previous_occurrence(&from, inclusive).ok()?;
            if !is_repeat(&found) {
                return Some(found.with_timezone(&Utc));
            }
            from = found;
            inclusive = false;
        }
        None
    }
}

/// Splits a leading `TZ=<name> ` off an entry.
fn split_zone(entry: &str) -> Result<(Option<Tz>, &str), String> {
    let Some(rest) = entry.trim_start().strip_prefix("TZ=") else {
        return Ok((None, entry));
    };
    let (name, pattern) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let zone = name
        .parse::<Tz>()
        .map_err(|_| format!("unknown time zone {name:?}; use an IANA name like Europe/Berlin"))?;
    Ok((Some(zone), pattern))
}

/// Vixie cron's `@midnight`, which croner does not know, is `@daily`.
fn expand_alias(pattern: &str) -> &str {
    if pattern.trim().eq_ignore_ascii_case("@midnight") {
        "@daily"
    } else {
        pattern
    }
}

/// Whether `time` is the second occurrence of a local time the clocks repeat.
fn is_repeat(time: &DateTime<Tz>) -> bool {
    matches!(
        time.timezone().from_local_datetime(&time.naive_local()),
        LocalResult::Ambiguous(first, _) if first != *time
    )
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
    fn entries_read_in_words_with_their_zone() {
        let schedule = Schedule::parse(&["0 9 * * 1", "TZ=Europe/Berlin 30 6 * * *"]).unwrap();
        let words = schedule.in_words();
        assert_eq!(words.len(), 2);
        assert!(words[0].0.contains("09:00"), "{:?}", words[0]);
        assert_eq!(words[0].1, None);
        assert_eq!(words[1].1, Some(chrono_tz::Europe::Berlin));
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
        for daily in ["@daily", "@midnight"] {
            assert_eq!(
                next(&[daily], "2026-05-01T10:00:00Z"),
                Some(at("2026-05-02T00:00:00Z"))
            );
        }
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
    fn hooks_with_the_same_schedule_share_one_parse() {
        let a = Schedule::parse(&["0 7 * * 1", "TZ=Europe/Berlin 30 9 * * *"]).unwrap();
        let b: Schedule = serde_json::from_value(serde_json::json!([
            "0 7 * * 1",
            "TZ=Europe/Berlin 30 9 * * *"
        ]))
        .unwrap();
        assert!(Arc::ptr_eq(&a.parsed, &b.parsed));
        assert_eq!(a, b);
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

    #[test]
    fn stray_commas_are_refused_rather_than_matching_nothing() {
        // croner alone accepts these, and a search for their next time takes seconds.
        for bad in [
            ", * * * *",
            "1, * * * *",
            "* ,2 * * *",
            "0 0 1,,15 * *",
            "TZ=UTC , * * * *",
        ] {
            let err = Schedule::parse(&[bad]).unwrap_err();
            assert!(err.reason.contains("stray comma"), "{bad}: {err}");
        }
        assert!(Schedule::parse(&["0,30 9,17 1,15 * 1,3,5"]).is_ok());
    }

    #[test]
    fn unknown_zones_and_zone_without_pattern_are_refused() {
        let err = Schedule::parse(&["TZ=Mars/Olympus 0 9 * * *"]).unwrap_err();
        assert!(err.reason.contains("Mars/Olympus"), "{err}");
        assert!(Schedule::parse(&["TZ=Europe/Berlin"]).is_err());
        assert!(Schedule::parse(&["TZ=Europe/Berlin 0 9 * * 1-5"]).is_ok());
    }

    #[test]
    fn zoned_entries_fire_at_local_time() {
        // Friday 2026-05-01; Berlin is UTC+2 in summer, New York UTC-4.
        assert_eq!(
            next(&["TZ=Europe/Berlin 0 9 * * 1-5"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-04T07:00:00Z"))
        );
        assert_eq!(
            next(&["TZ=America/New_York 0 9 * * *"], "2026-05-01T10:00:00Z"),
            Some(at("2026-05-01T13:00:00Z"))
        );
    }

    #[test]
    fn a_skipped_local_time_fires_at_the_end_of_the_gap() {
        // Berlin skips 02:00-03:00 on 2026-03-29 (at 01:00Z); New York on 2026-03-08 (07:00Z).
        let berlin = ["TZ=Europe/Berlin 30 2 * * *"];
        assert_eq!(
            next(&berlin, "2026-03-28T12:00:00Z"),
            Some(at("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            next(&berlin, "2026-03-29T01:00:00Z"),
            Some(at("2026-03-30T00:30:00Z"))
        );
        assert_eq!(
            next(&["TZ=America/New_York 30 2 * * *"], "2026-03-07T12:00:00Z"),
            Some(at("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn a_repeated_local_time_fires_once_at_its_first_occurrence() {
        // Berlin repeats 02:00-03:00 on 2026-10-25 (CEST until 01:00Z, then CET).
        let daily = ["TZ=Europe/Berlin 30 2 * * *"];
        assert_eq!(
            next(&daily, "2026-10-24T12:00:00Z"),
            Some(at("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            next(&daily, "2026-10-25T00:30:00Z"),
            Some(at("2026-10-26T01:30:00Z"))
        );
        let hourly = ["TZ=Europe/Berlin 0 * * * *"];
        assert_eq!(
            next(&hourly, "2026-10-25T00:00:00Z"),
            Some(at("2026-10-25T02:00:00Z")),
            "02:00 CET repeats 02:00 CEST and must not fire again"
        );
        // New York repeats 01:00-02:00 on 2026-11-01 (EDT until 06:00Z, then EST).
        let ny = ["TZ=America/New_York 30 1 * * *"];
        assert_eq!(
            next(&ny, "2026-10-31T12:00:00Z"),
            Some(at("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            next(&ny, "2026-11-01T05:30:00Z"),
            Some(at("2026-11-02T06:30:00Z"))
        );
        let schedule = Schedule::parse(&ny).unwrap();
        assert_eq!(
            schedule.latest_at_or_before(at("2026-11-01T07:00:00Z")),
            Some(at("2026-11-01T05:30:00Z")),
            "searching backwards also skips the repeat"
        );
    }

    #[test]
    fn leap_days_and_month_ends() {
        assert_eq!(
            next(&["0 0 29 2 *"], "2026-03-01T00:00:00Z"),
            Some(at("2028-02-29T00:00:00Z"))
        );
        assert_eq!(
            next(&["0 0 31 * *"], "2026-04-01T00:00:00Z"),
            Some(at("2026-05-31T00:00:00Z")),
            "April has no 31st"
        );
        assert_eq!(
            next(&["0 12 L * *"], "2026-02-01T00:00:00Z"),
            Some(at("2026-02-28T12:00:00Z"))
        );
        assert_eq!(
            next(&["0 12 L * *"], "2028-02-01T00:00:00Z"),
            Some(at("2028-02-29T12:00:00Z"))
        );
    }

    #[test]
    fn slots_are_recognised_and_the_latest_due_one_found() {
        let schedule = Schedule::parse(&["*/15 * * * *"]).unwrap();
        assert!(schedule.is_slot(at("2026-05-01T10:15:00Z")));
        assert!(!schedule.is_slot(at("2026-05-01T10:16:00Z")));
        assert_eq!(
            schedule.latest_at_or_before(at("2026-05-01T10:29:59Z")),
            Some(at("2026-05-01T10:15:00Z"))
        );
        assert_eq!(
            schedule.latest_at_or_before(at("2026-05-01T10:30:00Z")),
            Some(at("2026-05-01T10:30:00Z"))
        );
    }

    #[test]
    fn a_schedule_serializes_back_as_written_and_a_bad_stored_one_does_not_load() {
        let written = serde_json::json!(["0 0 * * *", "TZ=Europe/Berlin 30 9 * * 1-5"]);
        let schedule: Schedule = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(serde_json::to_value(&schedule).unwrap(), written);
        assert_eq!(schedule, Schedule::parse(schedule.entries()).unwrap());
        let err = serde_json::from_value::<Schedule>(serde_json::json!([", * * * *"])).unwrap_err();
        assert!(err.to_string().contains("stray comma"), "{err}");
    }

    #[test]
    fn resume_keeps_a_valid_stored_slot_and_replaces_a_stale_one() {
        let schedule = Schedule::parse(&["*/15 * * * *"]).unwrap();
        let now = at("2026-05-01T10:20:00Z");
        let missed = at("2026-05-01T09:45:00Z");
        assert_eq!(schedule.resume(Some(missed), now), Some(missed));
        assert_eq!(schedule.resume(None, now), Some(at("2026-05-01T10:30:00Z")));
        assert_eq!(
            schedule.resume(Some(at("2026-05-01T10:31:00Z")), now),
            Some(at("2026-05-01T10:30:00Z")),
            "a slot of an older schedule is replaced"
        );
        assert_eq!(
            schedule.resume(Some(at("2026-05-01T11:00:00Z")), now),
            Some(at("2026-05-01T10:30:00Z")),
            "a stored slot later than the schedule's next time is replaced"
        );
    }
}
