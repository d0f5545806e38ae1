//! The plan of an apply: what it creates, updates, adopts and deletes, decided from the files'
//! hooks, the set's last apply and what is stored. Pure: no store, no clock.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::domain::{ApplySetName, ApplySetRecord, Hook, HookKey, HookRecord};

/// How an apply changes one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// The hook is new.
    Create,
    /// The set's hook changes.
    Update,
    /// A hook that no set owned joins this set (needs `force`), changed or not.
    Adopt,
    /// A hook this set applied before and the files no longer list goes (`prune`).
    Delete,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The hook it changes.
    #[serde(skip)]
    pub key: HookKey,
    /// What happens.
    pub action: Action,
    /// The hook's group.
    pub hook_group_id: String,
    /// The hook's id.
    pub hook_id: String,
    /// The top-level definition fields that differ between `before` and `after`.
    pub fields: Vec<String>,
    /// Whether the stored hook differs from what the set last applied (an edit made elsewhere,
    /// which this apply overwrites or deletes only when forced).
    pub drifted: bool,
    /// The stored definition, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Hook>,
    /// The definition after the apply, unless deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Hook>,
}

/// Why a hook of the files cannot be applied as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Another set owns it.
    #[error("{0} belongs to apply set {1}; remove it there first")]
    OtherSet(HookKey, ApplySetName),
    /// It exists outside any set; `force` adopts it.
    #[error("{0} exists outside any apply set; force adopts it")]
    Unowned(HookKey),
    /// It was edited since this set applied it; `force` overwrites (or deletes) the edit.
    #[error("{0} was changed since this set applied it (drift); force overwrites it")]
    Drifted(HookKey),
    /// The files list it twice.
    #[error("{0} is listed more than once")]
    Duplicate(HookKey),
}

/// Options of one apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete hooks this set applied before that the files no longer list.
    pub prune: bool,
    /// Overwrite drift and adopt hooks no set owns.
    pub force: bool,
}

/// What an apply would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The changes, sorted by hook.
    pub changes: Vec<Change>,
    /// Hooks listed and already as stored.
    pub unchanged: usize,
    /// Hooks this set owns that the files no longer list, kept because not pruning.
    pub kept: Vec<HookKey>,
    /// Every hook the set owns afterwards, as the apply leaves it, sorted by key.
    pub members: Vec<Hook>,
}

/// Plans the apply of `desired` over the set's `previous` record and the `stored` records of
/// every hook either names.
///
/// # Errors
/// Every [`Refusal`], when there is any.
pub fn plan(
    set: &ApplySetName,
    desired: &[Hook],
    previous: Option<&ApplySetRecord>,
    stored: &HashMap<HookKey, HookRecord>,
    options: Options,
) -> Result<Plan, Vec<Refusal>> {
    let last_applied: HashMap<HookKey, &Hook> = previous
        .map(|p| p.hooks.iter().map(|h| (h.key(), h)).collect())
        .unwrap_or_default();
    let mut refusals = Vec::new();
    let mut changes = Vec::new();
    let mut members = BTreeMap::new();
    let mut unchanged = 0;
    for hook in desired {
        let key = hook.key();
        if members.insert(key.clone(), hook.clone()).is_some() {
            refusals.push(Refusal::Duplicate(key));
            continue;
        }
        let Some(record) = stored.get(&key) else {
            changes.push(change(key, Action::Create, None, Some(hook), false));
            continue;
        };
        let drifted = drifted(record, &last_applied);
        let action = match &record.applied {
            Some(owner) if &owner.set != set => {
                refusals.push(Refusal::OtherSet(key, owner.set.clone()));
                continue;
            }
            None if !options.force => {
                refusals.push(Refusal::Unowned(key));
                continue;
            }
            None => Action::Adopt,
            Some(_) if record.hook == *hook => {
                unchanged += 1;
                continue;
            }
            Some(_) if drifted && !options.force => {
                refusals.push(Refusal::Drifted(key));
                continue;
            }
            Some(_) => Action::Update,
        };
        changes.push(change(key, action, Some(&record.hook), Some(hook), drifted));
    }
    let mut kept = Vec::new();
    for (key, applied) in &last_applied {
        if members.contains_key(key) {
            continue;
        }
        // Only a hook this set still owns is its to keep or delete.
        let Some(record) = stored
            .get(key)
            .filter(|r| r.applied.as_ref().is_some_and(|o| &o.set == set))
        else {
            continue;
        };
        let drifted = drifted(record, &last_applied);
        if !options.prune {
            kept.push(key.clone());
            members.insert(key.clone(), (*applied).clone());
        } else if drifted && !options.force {
            refusals.push(Refusal::Drifted(key.clone()));
        } else {
            changes.push(change(
                key.clone(),
                Action::Delete,
                Some(&record.hook),
                None,
                drifted,
            ));
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    kept.sort();
    Ok(Plan {
        changes,
        unchanged,
        kept,
        members: members.into_values().collect(),
    })
}

/// Whether a stored hook of the set differs from what the set last applied.
fn drifted(record: &HookRecord, last_applied: &HashMap<HookKey, &Hook>) -> bool {
    match last_applied.get(&record.hook.key()) {
        Some(applied) => **applied != record.hook,
        None => false,
    }
}

fn change(
    key: HookKey,
    action: Action,
    before: Option<&Hook>,
    after: Option<&Hook>,
    drifted: bool,
) -> Change {
    Change {
        hook_group_id: key.group.to_string(),
        hook_id: key.id.to_string(),
        key,
        action,
        fields: changed_fields(before, after),
        drifted,
        before: before.cloned(),
        after: after.cloned(),
    }
}

/// The top-level fields in which two definitions differ (every field of the one present when
/// the other is absent), sorted.
pub fn changed_fields(before: Option<&Hook>, after: Option<&Hook>) -> Vec<String> {
    let as_object = |hook: Option<&Hook>| match hook.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_object(before), as_object(after));
    let mut fields: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|field| before.get(*field) != after.get(*field))
        .cloned()
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::hook;
    use crate::domain::{Ownership, SealedToken};

    fn set(name: &str) -> ApplySetName {
        ApplySetName::parse(name).unwrap()
    }

    fn stored(hook: &Hook, owner: Option<&str>) -> (HookKey, HookRecord) {
        let mut record = HookRecord::new(hook.clone(), SealedToken("t".into()));
        record.applied = owner.map(|s| Ownership {
            set: set(s),
            revision: 1,
            source: None,
        });
        (hook.key(), record)
    }

    fn previous(hooks: Vec<Hook>) -> ApplySetRecord {
        ApplySetRecord {
            name: set("s"),
            revision: 1,
            source: None,
            applied_at: chrono::Utc::now(),
            applied_by: "c".into(),
            hooks,
            pending: vec![],
        }
    }

    #[test]
    fn a_plan_creates_updates_and_counts_the_unchanged() {
        let stored: HashMap<_, _> = [
            stored(&hook("same", "n"), Some("s")),
            stored(&hook("old", "n"), Some("s")),
        ]
        .into();
        let last = previous(vec![hook("same", "n"), hook("old", "n")]);
        let desired = [hook("same", "n"), hook("old", "renamed"), hook("new", "n")];

        let plan = plan(
            &set("s"),
            &desired,
            Some(&last),
            &stored,
            Options::default(),
        )
        .unwrap();

        let actions: Vec<_> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.hook_id.as_str()))
            .collect();
        assert_eq!(actions, [(Action::Create, "new"), (Action::Update, "old")]);
        assert_eq!(plan.changes[1].fields, ["metadata"]);
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn pruning_deletes_only_this_sets_hooks_and_without_it_they_are_kept() {
        let gone = hook("gone", "n");
        let theirs = hook("theirs", "n");
        let stored: HashMap<_, _> =
            [stored(&gone, Some("s")), stored(&theirs, Some("other"))].into();
        let last = previous(vec![gone.clone(), theirs.clone()]);

        let kept = plan(&set("s"), &[], Some(&last), &stored, Options::default()).unwrap();
        assert_eq!(kept.kept, [gone.key()]);
        assert!(kept.changes.is_empty());

        let prune = Options {
            prune: true,
            force: false,
        };
        let pruned = plan(&set("s"), &[], Some(&last), &stored, prune).unwrap();
        let deleted: Vec<_> = pruned
            .changes
            .iter()
            .map(|c| (c.action, c.key.clone()))
            .collect();
        assert_eq!(deleted, [(Action::Delete, gone.key())]);
        assert!(pruned.members.is_empty());
    }

    #[test]
    fn other_sets_unowned_hooks_and_drift_are_refused_unless_forced_where_allowed() {
        let edited = hook("edited", "edited elsewhere");
        let stored: HashMap<_, _> = [
            stored(&hook("theirs", "n"), Some("other")),
            stored(&hook("loose", "n"), None),
            stored(&edited, Some("s")),
        ]
        .into();
        let last = previous(vec![hook("edited", "n")]);
        let desired = [hook("theirs", "n"), hook("loose", "x"), hook("edited", "n")];

        let refused = plan(
            &set("s"),
            &desired,
            Some(&last),
            &stored,
            Options::default(),
        );
        assert_eq!(refused.unwrap_err().len(), 3);

        let force = Options {
            prune: false,
            force: true,
        };
        let refused = plan(&set("s"), &desired, Some(&last), &stored, force).unwrap_err();
        assert!(
            matches!(refused.as_slice(), [Refusal::OtherSet(..)]),
            "{refused:?}"
        );
        let forced = plan(&set("s"), &desired[1..], Some(&last), &stored, force).unwrap();
        let actions: Vec<_> = forced
            .changes
            .iter()
            .map(|c| (c.action, c.drifted))
            .collect();
        assert_eq!(actions, [(Action::Update, true), (Action::Adopt, false)]);
    }
}
