//! hookd's schedule parser against an independent implementation: the next fire times that
//! Python's croniter computed for a few hundred random expressions
//! (`scripts/croniter_fixture.py` writes the fixture).

use chrono::{DateTime, Utc};
use hookd::domain::Schedule;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    expression: String,
    after: DateTime<Utc>,
    next: Vec<DateTime<Utc>>,
}

#[test]
fn next_times_agree_with_croniter() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("../fixtures/croniter.json")).expect("fixture parses");
    assert!(fixture.cases.len() >= 300, "a few hundred cases");
    let mut disagreements = Vec::new();
    for case in &fixture.cases {
        let schedule = Schedule::parse(&[&case.expression]).unwrap_or_else(|e| {
            panic!("croniter accepts {:?} but hookd says {e}", case.expression)
        });
        let mut after = case.after;
        let mut ours = Vec::new();
        for _ in &case.next {
            let Some(next) = schedule.next_after(after) else {
                break;
            };
            ours.push(next);
            after = next;
        }
        if ours != case.next {
            disagreements.push(format!(
                "{:?} after {}: croniter {:?}, hookd {:?}",
                case.expression, case.after, case.next, ours
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} disagree:\n{}",
        disagreements.len(),
        fixture.cases.len(),
        disagreements.join("\n")
    );
}
