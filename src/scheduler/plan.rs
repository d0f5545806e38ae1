//! Deciding which slots of a due hook to fire, under its missed-fire policy. Pure: no I/O.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{MissedFires, Schedule};

/// A slot found due no more than this long ago is on time, not missed: a scheduler that is
/// running fires it even under `skip` (a busy machine or a slow store can make it a little
/// late). Slots older than this passed while no scheduler was running.
pub const ON_TIME: Duration = Duration::seconds(60);

/// How a scheduler catches up on missed slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// The policy for hooks that do not set their own.
    pub policy: MissedFires,
    /// Under `all`, slots older than this are dropped.
    pub window: Duration,
}

/// What a scheduler does with a hook whose next slot is `due`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The slots to claim and fire now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// The hook's next slot afterwards.
    pub next: Option<DateTime<Utc>>,
}

/// Plans the hook's next step at `now`, given its next unclaimed slot `due`.
///
/// Under `all` the plan covers one slot at a time, so the caller claims and fires each missed
/// slot in turn and a crash loses none of them; the other policies jump straight past `now`.
pub fn plan(
    schedule: &Schedule,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up: CatchUp,
) -> Plan {
    if due > now {
        return Plan {
            fire: Vec::new(),
            next: Some(due),
        };
    }
    let upcoming = schedule.next_after(now);
    match catch_up.policy {
        MissedFires::All => {
            let oldest = now - catch_up.window;
            let first = if due >= oldest {
                Some(due)
            } else {
                schedule.next_after(oldest - Duration::milliseconds(1))
            };
            match first.filter(|slot| *slot <= now) {
                Some(slot) => Plan {
                    fire: vec![slot],
                    next: schedule.next_after(slot),
                },
                None => Plan {
                    fire: Vec::new(),
                    next: upcoming,
                },
            }
        }
        MissedFires::Once | MissedFires::Skip => {
            // `due` is a slot at or before `now`, so there is a latest one.
            let latest = schedule.latest_at_or_before(now).unwrap_or(due);
            let fire = if catch_up.policy == MissedFires::Once || now - latest <= ON_TIME {
                vec![latest]
            } else {
                Vec::new()
            };
            Plan {
                fire,
                next: upcoming,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn quarter_hourly() -> Schedule {
        Schedule::parse(&["*/15 * * * *"]).unwrap()
    }

    fn with(policy: MissedFires) -> CatchUp {
        CatchUp {
            policy,
            window: Duration::hours(24),
        }
    }

    #[test]
    fn a_future_slot_waits_under_every_policy() {
        for policy in [MissedFires::Skip, MissedFires::Once, MissedFires::All] {
            let due = at("2026-05-01T10:15:00Z");
            let plan = plan(
                &quarter_hourly(),
                due,
                at("2026-05-01T10:14:59Z"),
                with(policy),
            );
            assert_eq!(
                plan,
                Plan {
                    fire: vec![],
                    next: Some(due)
                },
                "{policy}"
            );
        }
    }

    #[test]
    fn an_on_time_slot_fires_under_every_policy() {
        for policy in [MissedFires::Skip, MissedFires::Once, MissedFires::All] {
            let due = at("2026-05-01T10:15:00Z");
            let plan = plan(
                &quarter_hourly(),
                due,
                at("2026-05-01T10:15:00.200Z"),
                with(policy),
            );
            assert_eq!(plan.fire, [due], "{policy}");
            assert_eq!(plan.next, Some(at("2026-05-01T10:30:00Z")), "{policy}");
        }
    }

    #[test]
    fn after_an_outage_each_policy_catches_up_its_own_way() {
        let due = at("2026-05-01T10:15:00Z");
        let now = at("2026-05-01T13:07:00Z");
        let skip = plan(&quarter_hourly(), due, now, with(MissedFires::Skip));
        assert!(skip.fire.is_empty());
        assert_eq!(skip.next, Some(at("2026-05-01T13:15:00Z")));
        let once = plan(&quarter_hourly(), due, now, with(MissedFires::Once));
        assert_eq!(once.fire, [at("2026-05-01T13:00:00Z")]);
        assert_eq!(once.next, Some(at("2026-05-01T13:15:00Z")));
        let all = plan(&quarter_hourly(), due, now, with(MissedFires::All));
        assert_eq!(all.fire, [due]);
        assert_eq!(all.next, Some(at("2026-05-01T10:30:00Z")));
    }

    #[test]
    fn all_drops_slots_older_than_the_window() {
        let catch_up = CatchUp {
            policy: MissedFires::All,
            window: Duration::hours(1),
        };
        let due = at("2026-05-01T10:15:00Z");
        let plan = plan(&quarter_hourly(), due, at("2026-05-01T13:07:00Z"), catch_up);
        assert_eq!(plan.fire, [at("2026-05-01T12:15:00Z")]);
    }
}
