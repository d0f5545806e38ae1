//! The apply-set part of the store contract: how every backend commits an apply set's revision
//! and its hook writes, written once and stamped out per backend by [`apply_contract!`] (as
//! `store_contract!` does for the rest of the trait).
//!
//! A transactional backend makes the writes inside its commit; one without multi-document
//! transactions commits the set's document with the writes pending and `roll_forward` makes
//! them. The promises here hold for both: after a commit the hooks are all written or none
//! (and then the set is pending), and after `roll_forward` all are.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use hookd::domain::{ApplySetName, ApplySetRecord, ApplyWrite, HookKey, Ownership};
use hookd::store::{
    roll_forward, ApplyObserver, Claimed, HookStore, Made, RollClaim, StoreError, Unobserved,
};

use crate::chat::alias;
use crate::contract::{hook_record, key};

/// Emits one `#[tokio::test]` per apply contract function, in a module named `$backend`, through
/// `store_contract!`'s own test arm (`contract` re-exports these functions).
macro_rules! apply_contract {
    ($backend:ident, $make:expr) => {
        $crate::contract::store_contract!(@tests $backend, $make,
            a_committed_apply_writes_every_hook_and_records_the_set,
            hooks_after_a_commit_are_all_written_or_the_set_is_pending,
            a_stale_revision_is_version_conflict_and_writes_nothing,
            concurrent_commits_of_one_set_have_exactly_one_winner,
            a_later_revision_updates_keeping_state_and_prunes_only_its_own_hooks,
            a_roll_forward_interrupted_halfway_is_finished_by_the_next,
            a_roller_taken_over_writes_nothing_more,
            a_set_owns_chat_aliases_as_it_owns_hooks,
        );
    };
}
pub(crate) use apply_contract;

fn set(name: &str) -> ApplySetName {
    ApplySetName::parse(name).expect("valid set name")
}

/// Revision `revision` of set `name`, putting `puts` (fresh records) and deleting `deletes`.
fn revision(name: &str, revision: u64, puts: &[&str], deletes: &[&str]) -> ApplySetRecord {
    let puts: Vec<_> = puts.iter().map(|id| hook_record("g", id)).collect();
    let mut pending: Vec<ApplyWrite> = puts
        .iter()
        .map(|record| ApplyWrite::Put {
            record: Box::new(record.clone()),
        })
        .collect();
    pending.extend(deletes.iter().map(|id| ApplyWrite::delete(key("g", id))));
    ApplySetRecord {
        name: set(name),
        revision,
        source: Some(format!("commit-{revision}")),
        applied_at: Utc.timestamp_millis_opt(1_760_000_000_000).unwrap(),
        applied_by: "ci".into(),
        hooks: puts.into_iter().map(|r| r.hook).collect(),
        chat_aliases: Vec::new(),
        pending,
    }
}

async fn commit<S: HookStore>(
    store: &S,
    record: &ApplySetRecord,
    expected: u64,
) -> Result<Vec<(HookKey, Made)>, StoreError> {
    store
        .commit_apply_set(record, expected, Arc::new(Unobserved))
        .await
}

async fn owner_of<S: HookStore>(store: &S, id: &str) -> Option<Ownership> {
    let record = store.get_hook(&key("g", id)).await.unwrap();
    record.and_then(|r| r.applied)
}

pub async fn a_committed_apply_writes_every_hook_and_records_the_set<S: HookStore>(store: S) {
    let first = revision("s", 1, &["a", "b"], &[]);

    let mut made = commit(&store, &first, 0).await.unwrap();
    let finished = roll_forward(&store, &set("s"), &Unobserved).await.unwrap();
    made.extend(finished.made);

    let expected_owner = Ownership {
        set: set("s"),
        revision: 1,
        source: Some("commit-1".into()),
    };
    for id in ["a", "b"] {
        assert_eq!(
            owner_of(&store, id).await,
            Some(expected_owner.clone()),
            "hook {id}"
        );
    }
    let mut recorded = first.clone();
    recorded.pending.clear();
    assert_eq!(finished.set, Some(recorded.clone()));
    assert_eq!(
        made,
        [
            (key("g", "a"), Made::Inserted),
            (key("g", "b"), Made::Inserted)
        ],
        "the commit or the roll-forward reports each write it made"
    );
    assert_eq!(
        store.get_apply_set(&set("s")).await.unwrap(),
        Some(recorded)
    );
    assert_eq!(store.list_pending_apply_sets().await.unwrap(), []);
    assert_eq!(store.get_apply_set(&set("other")).await.unwrap(), None);
}

pub async fn hooks_after_a_commit_are_all_written_or_the_set_is_pending<S: HookStore>(store: S) {
    let ids: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();

    commit(&store, &revision("s", 1, &ids, &[]), 0)
        .await
        .unwrap();

    let mut written = 0;
    for id in &ids {
        written += usize::from(store.get_hook(&key("g", id)).await.unwrap().is_some());
    }
    let pending = store.list_pending_apply_sets().await.unwrap();
    match written {
        0 => assert_eq!(
            pending,
            [set("s")],
            "nothing written, so the set is pending"
        ),
        20 => assert_eq!(pending, [], "everything written, so nothing is pending"),
        n => panic!("a commit left {n} of 20 hooks written"),
    }
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();
    for id in &ids {
        assert!(
            owner_of(&store, id).await.is_some(),
            "hook {id} after rolling forward"
        );
    }
    assert_eq!(store.list_pending_apply_sets().await.unwrap(), []);
}

pub async fn a_stale_revision_is_version_conflict_and_writes_nothing<S: HookStore>(store: S) {
    commit(&store, &revision("s", 1, &["a"], &[]), 0)
        .await
        .unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();

    let stale = commit(&store, &revision("s", 1, &["b"], &[]), 0).await;
    let skipped = commit(&store, &revision("s", 3, &["c"], &[]), 2).await;

    assert!(
        matches!(stale, Err(StoreError::VersionConflict)),
        "{stale:?}"
    );
    assert!(
        matches!(skipped, Err(StoreError::VersionConflict)),
        "{skipped:?}"
    );
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();
    for id in ["b", "c"] {
        assert_eq!(
            store.get_hook(&key("g", id)).await.unwrap(),
            None,
            "hook {id}"
        );
    }
    let stored = store.get_apply_set(&set("s")).await.unwrap().unwrap();
    assert_eq!(stored.revision, 1);
}

pub async fn concurrent_commits_of_one_set_have_exactly_one_winner<S: HookStore>(store: S) {
    let store = Arc::new(store);
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        racers.spawn(async move {
            let id = format!("writer-{i}");
            let result = commit(&*store, &revision("s", 1, &[&id], &[]), 0).await;
            (result, id)
        });
    }
    let results = racers.join_all().await;

    let winners: Vec<&String> = results
        .iter()
        .filter(|(r, _)| r.is_ok())
        .map(|(_, id)| id)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one commit wins: {results:?}");
    for (result, _) in &results {
        if let Err(e) = result {
            assert!(matches!(e, StoreError::VersionConflict), "{e:?}");
        }
    }
    roll_forward(&*store, &set("s"), &Unobserved).await.unwrap();
    let hooks = store.list_hooks(&key("g", "x").group).await.unwrap();
    let ids: Vec<&str> = hooks.iter().map(|r| r.hook.hook_id.as_str()).collect();
    assert_eq!(
        ids,
        [winners[0].as_str()],
        "only the winner's hooks are written"
    );
}

pub async fn a_later_revision_updates_keeping_state_and_prunes_only_its_own_hooks<S: HookStore>(
    store: S,
) {
    commit(&store, &revision("s", 1, &["kept", "pruned"], &[]), 0)
        .await
        .unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();
    let loose = hook_record("g", "loose");
    store.insert_hook(&loose).await.unwrap();
    let before = store.get_hook(&key("g", "kept")).await.unwrap().unwrap();

    let mut second = revision("s", 2, &["kept"], &["pruned", "loose"]);
    let ApplyWrite::Put { record } = &mut second.pending[0] else {
        panic!("the first write is the put");
    };
    record.hook.metadata.description = "changed in git".into();
    record.trigger_token = hookd::domain::SealedToken("a token that must not win".into());
    commit(&store, &second, 1).await.unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();

    let kept = store.get_hook(&key("g", "kept")).await.unwrap().unwrap();
    assert_eq!(kept.hook.metadata.description, "changed in git");
    assert_eq!(
        kept.trigger_token, before.trigger_token,
        "the stored token stays"
    );
    assert_eq!(kept.version, before.version + 1);
    assert_eq!(kept.applied.map(|o| o.revision), Some(2));
    assert_eq!(store.get_hook(&key("g", "pruned")).await.unwrap(), None);
    assert_eq!(
        store.get_hook(&key("g", "loose")).await.unwrap(),
        Some(loose),
        "a hook no set owns is never pruned"
    );
}

/// Panics after the first write, as a crash of the process making the writes would stop it.
struct CrashAfterFirst;

impl ApplyObserver for CrashAfterFirst {
    fn wrote(&self, _index: usize, _total: usize) {
        panic!("crashed after a write");
    }
}

pub async fn a_roll_forward_interrupted_halfway_is_finished_by_the_next<S: HookStore>(store: S) {
    let store = Arc::new(store);
    commit(&*store, &revision("s", 1, &["a", "b", "c"], &[]), 0)
        .await
        .unwrap();

    let crashing = Arc::clone(&store);
    let crashed =
        tokio::spawn(async move { roll_forward(&*crashing, &set("s"), &CrashAfterFirst).await })
            .await;
    let finished = roll_forward(&*store, &set("s"), &Unobserved).await.unwrap();

    // A transactional backend had nothing left to roll forward, so nothing crashed there.
    let _ = crashed;
    assert!(finished.set.is_some_and(|s| s.pending.is_empty()));
    for id in ["a", "b", "c"] {
        assert!(owner_of(&*store, id).await.is_some(), "hook {id}");
    }
}

/// A roller that fell behind (claimed, then stalled while another finished its revision and a
/// later apply pruned a hook) must not write when it resumes: that would recreate the hook.
pub async fn a_roller_taken_over_writes_nothing_more<S: HookStore>(store: S) {
    commit(&store, &revision("s", 1, &["a", "b"], &[]), 0)
        .await
        .unwrap();
    let stale = match RollClaim::take(&store, &set("s")).await.unwrap() {
        Claimed::Pending(claim) => claim,
        Claimed::Settled(set) => {
            // A transactional backend made the writes in its commit: nothing to roll.
            assert!(set.is_some_and(|s| s.pending.is_empty()));
            return;
        }
    };
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();
    commit(&store, &revision("s", 2, &["a"], &["b"]), 1)
        .await
        .unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();

    let resumed = stale.roll(&store, &Unobserved).await.unwrap();

    assert_eq!(resumed.made, [], "the stale roller wrote nothing");
    assert_eq!(
        store.get_hook(&key("g", "b")).await.unwrap(),
        None,
        "b stays pruned"
    );
    assert_eq!(owner_of(&store, "a").await.map(|o| o.revision), Some(2));
    let stored = store.get_apply_set(&set("s")).await.unwrap().unwrap();
    assert_eq!((stored.revision, stored.pending.len()), (2, 0));
}

pub async fn a_set_owns_chat_aliases_as_it_owns_hooks<S: HookStore>(store: S) {
    let loose = alias("loose", "written over the API");
    store.insert_chat_alias(&loose).await.unwrap();
    let mut first = revision("s", 1, &["a"], &[]);
    let deploy = alias("deploy", "from git");
    first.chat_aliases = vec![deploy.alias.clone()];
    first.pending.push(ApplyWrite::PutChatAlias {
        record: Box::new(deploy.clone()),
    });
    commit(&store, &first, 0).await.unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();

    let stored = store.get_chat_alias(&deploy.alias.alias_id).await.unwrap();
    assert_eq!(
        stored.and_then(|r| r.applied).map(|o| (o.set, o.revision)),
        Some((set("s"), 1)),
        "the alias is written with its set"
    );

    let mut second = revision("s", 2, &["a"], &[]);
    for id in [&deploy.alias.alias_id, &loose.alias.alias_id] {
        second.pending.push(ApplyWrite::DeleteChatAlias {
            alias_id: id.clone(),
        });
    }
    commit(&store, &second, 1).await.unwrap();
    roll_forward(&store, &set("s"), &Unobserved).await.unwrap();

    let left = store.list_chat_aliases().await.unwrap();
    assert_eq!(left, [loose], "only the set's own alias is deleted");
}
