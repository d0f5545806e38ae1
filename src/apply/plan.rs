//! The plan of an apply: what it creates, updates, adopts and deletes, decided from the files'
//! members (hooks, chat aliases), the set's last apply and what is stored. Pure: no store, no
//! clock. One planner serves both kinds through [`Member`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Display};
use std::hash::Hash;

use serde::Serialize;
use serde_json::Value;

use crate::domain::{
    ApplySetName, ChatAlias, ChatAliasId, ChatAliasRecord, Hook, HookKey, HookRecord, OwnedRecord,
};

/// Something an apply set owns: a hook or a chat alias.
pub trait Member: Clone + PartialEq + Serialize {
    /// Its name, unique among its kind.
    type Key: Clone + Ord + Hash + Display + Debug;
    /// How it is stored, with its ownership.
    type Record: OwnedRecord;
    /// The fields that name it in an answer.
    type Name: Clone + PartialEq + Debug + Serialize;
    /// Its name.
    fn key(&self) -> Self::Key;
    /// The fields that name `key` in an answer.
    fn name(key: &Self::Key) -> Self::Name;
    /// The definition a stored record holds.
    fn stored(record: &Self::Record) -> &Self;
}

/// How a hook is named in an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookName {
    /// The hook's group.
    pub hook_group_id: String,
    /// The hook's id.
    pub hook_id: String,
}

impl Member for Hook {
    type Key = HookKey;
    type Record = HookRecord;
    type Name = HookName;

    fn key(&self) -> HookKey {
        Hook::key(self)
    }

    fn name(key: &HookKey) -> HookName {
        HookName {
            hook_group_id: key.group.to_string(),
            hook_id: key.id.to_string(),
        }
    }

    fn stored(record: &HookRecord) -> &Hook {
        &record.hook
    }
}

/// How a chat alias is named in an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasName {
    /// The alias id.
    pub alias_id: String,
}

impl Member for ChatAlias {
    type Key = ChatAliasId;
    type Record = ChatAliasRecord;
    type Name = AliasName;

    fn key(&self) -> ChatAliasId {
        self.alias_id.clone()
    }

    fn name(key: &ChatAliasId) -> AliasName {
        AliasName {
            alias_id: key.to_string(),
        }
    }

    fn stored(record: &ChatAliasRecord) -> &ChatAlias {
        &record.alias
    }
}

/// How an apply changes one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// The member is new.
    Create,
    /// The set's member changes.
    Update,
    /// A member that no set owned joins this set (needs `force`), changed or not.
    Adopt,
    /// A member this set applied before and the files no longer list goes (`prune`).
    Delete,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change<M: Member> {
    /// The member it changes.
    #[serde(skip)]
    pub key: M::Key,
    /// What happens.
    pub action: Action,
    /// The member's name fields (`hookGroupId` and `hookId`, or `aliasId`).
    #[serde(flatten)]
    pub name: M::Name,
    /// The top-level definition fields that differ between `before` and `after`.
    pub fields: Vec<String>,
    /// Whether the stored member differs from what the set last applied (an edit made
    /// elsewhere, which this apply overwrites or deletes only when forced).
    pub drifted: bool,
    /// The stored definition, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<M>,
    /// The definition after the apply, unless deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<M>,
}

/// Why a member of the files cannot be applied as asked; `K` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal<K: Display> {
    /// Another set owns it.
    #[error("{0} belongs to apply set {1}; remove it there first")]
    OtherSet(K, ApplySetName),
    /// It exists outside any set; `force` adopts it.
    #[error("{0} exists outside any apply set; force adopts it")]
    Unowned(K),
    /// It was edited since this set applied it; `force` overwrites (or deletes) the edit.
    #[error("{0} was changed since this set applied it (drift); force overwrites it")]
    Drifted(K),
    /// The files list it twice.
    #[error("{0} is listed more than once")]
    Duplicate(K),
}

/// Options of one apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete members this set applied before that the files no longer list.
    pub prune: bool,
    /// Overwrite drift and adopt members no set owns.
    pub force: bool,
}

/// What an apply would do to the members of one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<M: Member> {
    /// The changes, sorted by key.
    pub changes: Vec<Change<M>>,
    /// Members listed and already as stored.
    pub unchanged: usize,
    /// Members this set owns that the files no longer list, kept because not pruning.
    pub kept: Vec<M::Key>,
    /// Every member the set owns afterwards, as the apply leaves it, sorted by key.
    pub members: Vec<M>,
}

impl<M: Member> Plan<M> {
    /// The members this plan deletes.
    pub fn deletes(&self) -> impl Iterator<Item = &M::Key> {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| &c.key)
    }
}

/// Plans the apply of `desired` over what set `set` `last_applied` and the `stored` records of
/// every member either names.
///
/// # Errors
/// Every [`Refusal`], when there is any.
pub fn plan<M: Member>(
    set: &ApplySetName,
    desired: &[M],
    last_applied: &[M],
    stored: &HashMap<M::Key, M::Record>,
    options: Options,
) -> Result<Plan<M>, Vec<Refusal<M::Key>>> {
    let last_applied: HashMap<M::Key, &M> = last_applied.iter().map(|m| (m.key(), m)).collect();
    let mut refusals = Vec::new();
    let mut changes = Vec::new();
    let mut members = BTreeMap::new();
    let mut unchanged = 0;
    for member in desired {
        let key = member.key();
        if members.insert(key.clone(), member.clone()).is_some() {
            refusals.push(Refusal::Duplicate(key));
            continue;
        }
        let Some(record) = stored.get(&key) else {
            changes.push(change(key, Action::Create, None, Some(member), false));
            continue;
        };
        let current = M::stored(record);
        let drifted = drifted(&key, current, &last_applied);
        let action = match record.ownership() {
            Some(owner) if &owner.set != set => {
                refusals.push(Refusal::OtherSet(key, owner.set.clone()));
                continue;
            }
            None if !options.force => {
                refusals.push(Refusal::Unowned(key));
                continue;
            }
            None => Action::Adopt,
            Some(_) if current == member => {
                unchanged += 1;
                continue;
            }
            Some(_) if drifted && !options.force => {
                refusals.push(Refusal::Drifted(key));
                continue;
            }
            Some(_) => Action::Update,
        };
        changes.push(change(key, action, Some(current), Some(member), drifted));
    }
    let mut kept = Vec::new();
    for (key, applied) in &last_applied {
        if members.contains_key(key) {
            continue;
        }
        // Only a member this set still owns is its to keep or delete.
        let Some(record) = stored
            .get(key)
            .filter(|r| r.ownership().is_some_and(|o| &o.set == set))
        else {
            continue;
        };
        let current = M::stored(record);
        let drifted = drifted(key, current, &last_applied);
        if !options.prune {
            kept.push(key.clone());
            members.insert(key.clone(), (*applied).clone());
        } else if drifted && !options.force {
            refusals.push(Refusal::Drifted(key.clone()));
        } else {
            changes.push(change(
                key.clone(),
                Action::Delete,
                Some(current),
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

/// Whether a stored member of the set differs from what the set last applied.
fn drifted<M: Member>(key: &M::Key, stored: &M, last_applied: &HashMap<M::Key, &M>) -> bool {
    last_applied
        .get(key)
        .is_some_and(|applied| *applied != stored)
}

fn change<M: Member>(
    key: M::Key,
    action: Action,
    before: Option<&M>,
    after: Option<&M>,
    drifted: bool,
) -> Change<M> {
    Change {
        name: M::name(&key),
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
pub fn changed_fields<M: Serialize>(before: Option<&M>, after: Option<&M>) -> Vec<String> {
    let as_object = |member: Option<&M>| match member.map(serde_json::to_value) {
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

    #[test]
    fn a_plan_creates_updates_and_counts_the_unchanged() {
        let stored: HashMap<_, _> = [
            stored(&hook("same", "n"), Some("s")),
            stored(&hook("old", "n"), Some("s")),
        ]
        .into();
        let last = vec![hook("same", "n"), hook("old", "n")];
        let desired = [hook("same", "n"), hook("old", "renamed"), hook("new", "n")];

        let plan = plan(&set("s"), &desired, &last, &stored, Options::default()).unwrap();

        let actions: Vec<_> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.name.hook_id.as_str()))
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
        let last = vec![gone.clone(), theirs.clone()];

        let kept = plan(&set("s"), &[], &last, &stored, Options::default()).unwrap();
        assert_eq!(kept.kept, [gone.key()]);
        assert!(kept.changes.is_empty());

        let prune = Options {
            prune: true,
            force: false,
        };
        let pruned = plan(&set("s"), &[], &last, &stored, prune).unwrap();
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
        let last = vec![hook("edited", "n")];
        let desired = [hook("theirs", "n"), hook("loose", "x"), hook("edited", "n")];

        let refused = plan(&set("s"), &desired, &last, &stored, Options::default());
        assert_eq!(refused.unwrap_err().len(), 3);

        let force = Options {
            prune: false,
            force: true,
        };
        let refused = plan(&set("s"), &desired, &last, &stored, force).unwrap_err();
        assert!(
            matches!(refused.as_slice(), [Refusal::OtherSet(..)]),
            "{refused:?}"
        );
        let forced = plan(&set("s"), &desired[1..], &last, &stored, force).unwrap();
        let actions: Vec<_> = forced
            .changes
            .iter()
            .map(|c| (c.action, c.drifted))
            .collect();
        assert_eq!(actions, [(Action::Update, true), (Action::Adopt, false)]);
    }
}
