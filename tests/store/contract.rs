//! The behaviour every [`HookStore`] backend must show, written once.
//!
//! Each `pub async fn` takes a fresh, empty store and checks one promise of the trait. The
//! [`store_contract!`] macro turns the whole list into `#[tokio::test]`s for one backend:
//!
//! ```ignore
//! store_contract!(sqlite, async { fresh_sqlite_store() });
//! ```
//!
//! The second argument is evaluated once per test and must be a future that yields
//! `(store, guard)`; the guard (a temp dir, a database dropper, or `()`) stays alive until the
//! test has finished with the store. A backend that needs a server may yield
//! `Option<(store, guard)>` instead: `None` (server not configured) skips the test.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use hookd::domain::{
    Binding, Capture, CapturePayload, Encoded, FireContext, FireFailure, FireRecord, FireResult,
    FiredBy, Hook, HookGroupId, HookId, HookKey, HookRecord, JobCursor, JobState, Metadata,
    MissedFires, Refusal, RefusalReason, ReplayJob, ReplayOf, Schedule, SealedToken, SubmittedTask,
    TaskId, TaskIdChoice, TemplateChoice, TriggerSchema, WebhookSecrets,
};
use hookd::store::{FireCursor, HookStore, StoreError};
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

/// Emits one `#[tokio::test]` per contract function, in a module named `$backend`.
///
/// `$make` is evaluated inside that module (which glob-imports its parent), once per test; it
/// must be a future resolving to `(store, guard)`.
macro_rules! store_contract {
    ($backend:ident, $make:expr) => {
        $crate::contract::store_contract!(@tests $backend, $make,
            inserted_hooks_read_back_with_every_field,
            get_of_a_missing_hook_is_none,
            insert_of_an_existing_hook_is_already_exists,
            concurrent_inserts_of_one_key_have_exactly_one_winner,
            replace_with_the_current_version_stores_the_new_record,
            replace_with_a_stale_version_is_version_conflict,
            replace_of_a_missing_hook_is_not_found,
            concurrent_compare_and_set_has_exactly_one_winner,
            delete_reports_whether_the_hook_existed,
            delete_removes_the_hooks_fires_but_not_other_hooks_fires,
            list_hook_groups_is_sorted_and_distinct,
            list_hook_groups_drops_a_group_whose_last_hook_was_deleted,
            list_hooks_is_sorted_by_hook_id_and_scoped_to_its_group,
            list_hooks_after_pages_through_a_group_in_id_order,
            list_fires_is_newest_first_and_scoped_to_the_hook,
            list_fires_honours_the_limit_and_the_cursor,
            paging_through_fires_visits_each_once_even_when_times_are_equal,
            fire_records_round_trip_exactly,
            recording_a_fire_twice_stores_it_once,
            a_fire_reads_back_by_its_id,
            a_fire_keeps_its_context_and_replay_exactly,
            refusals_keep_the_newest_per_hook_and_go_with_their_hook,
            replay_jobs_read_back_list_newest_first_replace_by_version_and_go_with_their_hook,
            inserted_tasks_read_back_exactly,
            insert_of_an_existing_task_is_already_exists,
            get_of_a_missing_task_is_none,
            a_task_and_its_fire_are_written_together,
            a_taken_task_id_stores_neither_the_task_nor_its_fire,
            many_tasks_and_fires_are_written_each_pair_whole_or_not_at_all,
            concurrent_task_and_fire_writes_record_exactly_the_fires_whose_task_was_stored,
            ping_succeeds,
            a_failed_write_among_concurrent_writes_leaves_the_others_committed,
            chat_aliases_read_back_with_every_field,
            insert_of_an_existing_chat_alias_is_already_exists,
            chat_alias_replace_is_compare_and_set,
            chat_aliases_list_sorted_and_delete_says_whether_it_existed,
            chat_cursors_are_saved_and_replaced_per_name,
            count_hooks_counts_per_group_exactly_what_the_filter_and_search_admit,
            error_fires_are_the_newest_failures_across_the_hooks_the_filter_admits,
            hook_schedules_page_through_a_group_with_what_the_scheduler_needs,
            hook_slots_are_written_by_version_each_alone,
            concurrent_hook_slots_writes_on_one_version_have_exactly_one_winner,
        );
    };
    (@tests $backend:ident, $make:expr, $($test:ident),+ $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some((store, _guard)) = $crate::contract::Fresh::fresh($make.await) else {
                        eprintln!("skipping {}: its store is not configured", stringify!($test));
                        return;
                    };
                    $crate::contract::$test(store).await;
                }
            )+
        }
    };
}
pub(crate) use store_contract;

// The apply-set and chat contracts' tests run through the same macro arm, which looks them up
// here.
pub use crate::apply_contract::*;
pub use crate::chat::*;
pub use crate::listing::*;
pub use crate::schedules::*;

/// What a backend's store factory yields: a store, or maybe one when it needs a server.
pub trait Fresh {
    type Store: HookStore;
    type Guard;
    fn fresh(self) -> Option<(Self::Store, Self::Guard)>;
}

impl<S: HookStore, G> Fresh for (S, G) {
    type Store = S;
    type Guard = G;
    fn fresh(self) -> Option<(S, G)> {
        Some(self)
    }
}

impl<S: HookStore, G> Fresh for Option<(S, G)> {
    type Store = S;
    type Guard = G;
    fn fresh(self) -> Option<(S, G)> {
        self
    }
}

// ---- Test data -------------------------------------------------------------------------------

/// A hook key from strings that must be valid ids.
pub fn key(group: &str, id: &str) -> HookKey {
    HookKey::new(
        self::group(group),
        HookId::parse(id).expect("valid hook id"),
    )
}

/// A hook group id from a string that must be valid.
pub fn group(name: &str) -> HookGroupId {
    HookGroupId::parse(name).expect("valid group id")
}

/// A millisecond-precision instant, `ms` after the epoch.
pub fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("valid time")
}

/// A freshly created hook record with a realistic definition, version 1, nothing scheduled.
pub fn hook_record(group: &str, id: &str) -> HookRecord {
    let key = key(group, id);
    let hook = Hook {
        hook_group_id: key.group.clone(),
        hook_id: key.id.clone(),
        metadata: Metadata {
            name: format!("Nightly build of {id}"),
            description: "Builds the `main` branch every night and on demand.\n\n* uploads \
                          artifacts\n* notifies #releng"
                .into(),
            owner: "releng@example.com".into(),
            email_on_error: true,
        },
        schedule: Schedule::parse(&["0 0 3 * * *", "0 30 15 * * 1-5"]).expect("valid schedule"),
        task: json!({
            "$let": {"branch": {"$if": "firedBy == 'triggerHook'", "then": "${payload.branch}",
                                "else": "main"}},
            "in": {
                "provisionerId": "proj-releng",
                "workerType": "linux-large",
                "created": {"$fromNow": "0 seconds"},
                "deadline": {"$fromNow": "1 day"},
                "payload": {
                    "image": "ubuntu:24.04",
                    "command": ["/bin/bash", "-c", "make nightly BRANCH=${branch}"],
                    "maxRunTime": 3600,
                },
                "metadata": {
                    "name": "nightly ${branch}",
                    "description": "ünïcödé survives too",
                    "owner": "releng@example.com",
                    "source": "https://example.com/hooks",
                },
                "tags": {},
            },
        })
        .into(),
        trigger_schema: TriggerSchema::parse(json!({
            "type": "object",
            "properties": {"branch": {"type": "string", "pattern": "^[a-z0-9/-]+$"}},
            "additionalProperties": false,
        }))
        .expect("valid trigger schema"),
        bindings: vec![Binding {
            exchange: "exchange/taskcluster-github/v1/push".into(),
            routing_key_pattern: "primary.example.#".into(),
        }],
        scopes: None,
        missed_fires: None,
        capture: None,
    };
    HookRecord::new(hook, SealedToken(format!("v1.{group}.{id}.c2VhbGVk")))
}

/// `record` after a scheduler pass (a next fire time, the task id reserved for it and two
/// claimed slots before it) and a webhook secret rotation, so every stored field is set.
pub fn scheduled(mut record: HookRecord, next_ms: i64) -> HookRecord {
    record.next_scheduled_date = Some(at(next_ms));
    record.next_task_id = Some(TaskId::generate());
    record.claimed_slots = vec![at(next_ms - 120_000), at(next_ms - 60_000)];
    record.webhook_secrets = Some(WebhookSecrets {
        current: SealedToken("v1.current.c2VhbGVk".into()),
        previous: Some(SealedToken("v1.previous.c2VhbGVk".into())),
        rotated: Some(at(next_ms - 30_000)),
    });
    record
}

/// `record` as an update would write it: one version later, with a changed description.
pub fn updated(record: &HookRecord, description: &str) -> HookRecord {
    let mut next = record.clone();
    next.version += 1;
    next.hook.metadata.description = description.into();
    next
}

/// A successful fire of `key` at `ms` after the epoch.
pub fn fire_at(key: &HookKey, ms: i64) -> FireRecord {
    FireRecord::new(key, FiredBy::Schedule, TaskId::generate(), at(ms), None)
}

/// A task in the outbox, as a fire of `key` would submit it.
pub fn submitted_task(key: &HookKey) -> SubmittedTask {
    SubmittedTask {
        task_id: TaskId::generate(),
        hook_group_id: key.group.clone(),
        hook_id: key.id.clone(),
        fire_id: Uuid::now_v7(),
        fired_by: FiredBy::TriggerHook,
        submitted: at(1_760_000_000_123),
        task: json!({
            "provisionerId": "proj-releng",
            "workerType": "linux-large",
            "created": "2025-10-09T08:53:20.123Z",
            "deadline": "2025-10-10T08:53:20.123Z",
            "payload": {"command": ["make", "nightly"], "env": {"N": 1.5, "E": null}},
            "metadata": {"name": "n", "description": "d", "owner": "o@example.com",
                         "source": "https://example.com"},
        }),
    }
}

/// Checks what a backend does with a stored hook whose definition no longer parses (a backend
/// test breaks the document by hand first): reads of it and of its group are corrupt, never a
/// hook with an empty schedule, and deleting it still works.
pub async fn unparsable_hook_is_corrupt_until_deleted<S: HookStore>(store: &S, hook: &HookRecord) {
    let key = hook.hook.key();
    let err = store.get_hook(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "get: {err:?}");
    let err = store.list_hooks(&key.group).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "list: {err:?}");
    let err = (store.list_hook_schedules_after(&key.group, None, 10).await).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "schedules: {err:?}");
    assert!(store.delete_hook(&key).await.unwrap(), "delete");
}

/// Pages through every fire of `key`, `page` at a time, following the last item's cursor.
pub async fn all_fires<S: HookStore>(store: &S, key: &HookKey, page: usize) -> Vec<FireRecord> {
    let mut seen = Vec::new();
    let mut cursor: Option<FireCursor> = None;
    loop {
        let batch = store
            .list_fires(key, page, cursor.as_ref())
            .await
            .expect("list_fires");
        assert!(batch.len() <= page, "a page holds at most `limit` fires");
        let Some(last) = batch.last() else { break };
        cursor = Some(FireCursor {
            time: last.task_create_time,
            fire_id: last.fire_id,
        });
        seen.extend(batch);
        assert!(seen.len() <= 10_000, "pagination does not terminate");
    }
    seen
}

/// Sorts fires the way the trait orders them: newest first, then fire id descending.
fn newest_first(fires: &mut [FireRecord]) {
    fires.sort_by_key(|f| Reverse((f.task_create_time, f.fire_id)));
}

/// Runs `tasks` copies of `op` at once and returns their results.
pub async fn race<S, T, F, Fut>(store: &Arc<S>, tasks: usize, op: F) -> Vec<T>
where
    S: HookStore,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in 0..tasks {
        set.spawn(op(Arc::clone(store), i));
    }
    set.join_all().await
}

// ---- Hooks -----------------------------------------------------------------------------------

pub async fn inserted_hooks_read_back_with_every_field<S: HookStore>(store: S) {
    let plain = hook_record("releng", "nightly/linux-64");
    let mut full = scheduled(hook_record("releng", "weekly"), 1_760_000_000_250);
    full.version = 7;
    full.hook.metadata.email_on_error = false;
    full.hook.scopes = Some(vec!["queue:create-task:proj-releng/*".into()]);
    full.hook.missed_fires = Some(MissedFires::All);
    full.hook.capture = Some(Capture {
        payload: CapturePayload::Keep,
        redact: vec!["/secret".into(), "/$x.y".into()],
    });
    full.hook.schedule = Schedule::default();
    full.hook.bindings = vec![];
    for record in [&plain, &full] {
        store.insert_hook(record).await.expect("insert");
        let got = store.get_hook(&record.hook.key()).await.expect("get");
        assert_eq!(got.as_ref(), Some(record));
    }
}

pub async fn get_of_a_missing_hook_is_none<S: HookStore>(store: S) {
    store.insert_hook(&hook_record("g", "other")).await.unwrap();
    assert_eq!(store.get_hook(&key("g", "missing")).await.unwrap(), None);
    assert_eq!(store.get_hook(&key("h", "other")).await.unwrap(), None);
}

pub async fn insert_of_an_existing_hook_is_already_exists<S: HookStore>(store: S) {
    let first = hook_record("g", "h");
    store.insert_hook(&first).await.unwrap();
    let second = updated(&first, "a different hook under the same name");
    let err = store.insert_hook(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(
        store.get_hook(&first.hook.key()).await.unwrap(),
        Some(first)
    );
}

pub async fn concurrent_inserts_of_one_key_have_exactly_one_winner<S: HookStore>(store: S) {
    let store = Arc::new(store);
    let results = race(&store, 8, |store, i| async move {
        let record = updated(&hook_record("g", "contended"), &format!("writer {i}"));
        (store.insert_hook(&record).await, record)
    })
    .await;
    let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one insert wins");
    for (result, _) in &results {
        if let Err(e) = result {
            assert!(matches!(e, StoreError::AlreadyExists), "{e:?}");
        }
    }
    let stored = store.get_hook(&key("g", "contended")).await.unwrap();
    assert_eq!(
        stored.as_ref(),
        Some(&winners[0].1),
        "the winner's record is stored"
    );
}

pub async fn replace_with_the_current_version_stores_the_new_record<S: HookStore>(store: S) {
    let first = hook_record("g", "h");
    store.insert_hook(&first).await.unwrap();
    let second = scheduled(updated(&first, "second"), 1_760_000_060_000);
    store.replace_hook(&second, 1).await.expect("replace v1");
    assert_eq!(
        store.get_hook(&first.hook.key()).await.unwrap().as_ref(),
        Some(&second)
    );
    // Clearing the schedule fields is a write like any other.
    let mut third = updated(&second, "third");
    third.next_scheduled_date = None;
    third.next_task_id = None;
    third.claimed_slots.clear();
    store.replace_hook(&third, 2).await.expect("replace v2");
    assert_eq!(
        store.get_hook(&first.hook.key()).await.unwrap(),
        Some(third)
    );
}

pub async fn replace_with_a_stale_version_is_version_conflict<S: HookStore>(store: S) {
    let first = hook_record("g", "h");
    store.insert_hook(&first).await.unwrap();
    let second = updated(&first, "second");
    store.replace_hook(&second, 1).await.unwrap();
    let stale = updated(&first, "written from a stale read");
    let err = store.replace_hook(&stale, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict), "{err:?}");
    assert_eq!(
        store.get_hook(&first.hook.key()).await.unwrap(),
        Some(second)
    );
}

pub async fn replace_of_a_missing_hook_is_not_found<S: HookStore>(store: S) {
    let err = store
        .replace_hook(&hook_record("g", "h"), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(store.get_hook(&key("g", "h")).await.unwrap(), None);
}

pub async fn concurrent_compare_and_set_has_exactly_one_winner<S: HookStore>(store: S) {
    let store = Arc::new(store);
    let first = hook_record("g", "cas");
    store.insert_hook(&first).await.unwrap();
    let results = race(&store, 16, |store, i| {
        let next = updated(&first, &format!("writer {i}"));
        async move { (store.replace_hook(&next, 1).await, next) }
    })
    .await;
    let stored = store.get_hook(&first.hook.key()).await.unwrap();
    assert_eq!(stored.as_ref(), Some(the_one_winner(&results)));
}

/// What the one compare-and-set among `results` that won wrote; every other lost its race.
pub fn the_one_winner<T>(results: &[(Result<(), StoreError>, T)]) -> &T {
    let winners: Vec<_> = results.iter().filter(|(r, _)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one compare-and-set wins");
    for (result, _) in results {
        if let Err(e) = result {
            assert!(matches!(e, StoreError::VersionConflict), "{e:?}");
        }
    }
    &winners[0].1
}

pub async fn delete_reports_whether_the_hook_existed<S: HookStore>(store: S) {
    let record = hook_record("g", "h");
    store.insert_hook(&record).await.unwrap();
    assert!(store.delete_hook(&record.hook.key()).await.unwrap());
    assert_eq!(store.get_hook(&record.hook.key()).await.unwrap(), None);
    assert!(!store.delete_hook(&record.hook.key()).await.unwrap());
    // The name is free again.
    store
        .insert_hook(&record)
        .await
        .expect("re-create after delete");
}

pub async fn delete_removes_the_hooks_fires_but_not_other_hooks_fires<S: HookStore>(store: S) {
    let (doomed, kept, cousin) = (key("g", "doomed"), key("g", "kept"), key("g2", "doomed"));
    for k in [&doomed, &kept, &cousin] {
        store
            .insert_hook(&hook_record(k.group.as_str(), k.id.as_str()))
            .await
            .unwrap();
    }
    let mut expected_kept = Vec::new();
    for ms in 1..=3 {
        store.record_fire(&fire_at(&doomed, ms)).await.unwrap();
        for k in [&kept, &cousin] {
            let fire = fire_at(k, ms);
            store.record_fire(&fire).await.unwrap();
            expected_kept.push(fire);
        }
    }
    assert!(store.delete_hook(&doomed).await.unwrap());
    assert!(store
        .list_fires(&doomed, 100, None)
        .await
        .unwrap()
        .is_empty());
    let mut survivors = store.list_fires(&kept, 100, None).await.unwrap();
    survivors.extend(store.list_fires(&cousin, 100, None).await.unwrap());
    newest_first(&mut survivors);
    newest_first(&mut expected_kept);
    assert_eq!(survivors, expected_kept);
    // A hook re-created under the old name starts with an empty history.
    store
        .insert_hook(&hook_record("g", "doomed"))
        .await
        .unwrap();
    assert!(store
        .list_fires(&doomed, 100, None)
        .await
        .unwrap()
        .is_empty());
}

pub async fn list_hook_groups_is_sorted_and_distinct<S: HookStore>(store: S) {
    assert!(store.list_hook_groups().await.unwrap().is_empty());
    for (g, h) in [
        ("zeta", "a"),
        ("alpha", "a"),
        ("Mid-group", "x"),
        ("alpha", "b"),
        ("beta_2", "c"),
    ] {
        store.insert_hook(&hook_record(g, h)).await.unwrap();
    }
    let groups = store.list_hook_groups().await.unwrap();
    let names: Vec<&str> = groups.iter().map(HookGroupId::as_str).collect();
    assert_eq!(names, ["Mid-group", "alpha", "beta_2", "zeta"]);
}

pub async fn list_hook_groups_drops_a_group_whose_last_hook_was_deleted<S: HookStore>(store: S) {
    for (g, h) in [("a", "1"), ("b", "1"), ("b", "2")] {
        store.insert_hook(&hook_record(g, h)).await.unwrap();
    }
    store.delete_hook(&key("b", "1")).await.unwrap();
    let names = |groups: Vec<HookGroupId>| groups.into_iter().map(String::from).collect::<Vec<_>>();
    assert_eq!(names(store.list_hook_groups().await.unwrap()), ["a", "b"]);
    store.delete_hook(&key("b", "2")).await.unwrap();
    assert_eq!(names(store.list_hook_groups().await.unwrap()), ["a"]);
}

pub async fn list_hooks_is_sorted_by_hook_id_and_scoped_to_its_group<S: HookStore>(store: S) {
    let ids = [
        "nightly/linux",
        "Zed",
        "nightly",
        "a_b",
        "a-b",
        "nightly-x",
        "0",
    ];
    for id in ids {
        store.insert_hook(&hook_record("mine", id)).await.unwrap();
    }
    store
        .insert_hook(&hook_record("theirs", "a-b"))
        .await
        .unwrap();
    store.insert_hook(&hook_record("mine2", "b")).await.unwrap();
    let listed = store.list_hooks(&group("mine")).await.unwrap();
    let mut expected: Vec<HookRecord> = ids.iter().map(|id| hook_record("mine", id)).collect();
    expected.sort_by(|a, b| a.hook.hook_id.as_str().cmp(b.hook.hook_id.as_str()));
    assert_eq!(listed, expected);
    assert!(store.list_hooks(&group("empty")).await.unwrap().is_empty());
}

pub async fn list_hooks_after_pages_through_a_group_in_id_order<S: HookStore>(store: S) {
    for id in ["c", "a", "e", "b", "d"] {
        store.insert_hook(&hook_record("mine", id)).await.unwrap();
    }
    store
        .insert_hook(&hook_record("theirs", "b2"))
        .await
        .unwrap();
    let mut pages = Vec::new();
    let mut after: Option<HookId> = None;
    loop {
        let page = store
            .list_hooks_after(&group("mine"), after.as_ref(), 2)
            .await
            .unwrap();
        let ids: Vec<String> = page.iter().map(|r| r.hook.hook_id.to_string()).collect();
        after = page.last().map(|r| r.hook.hook_id.clone());
        pages.push(ids);
        if page.len() < 2 {
            break;
        }
    }
    assert_eq!(pages, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    let empty = store.list_hooks_after(&group("empty"), None, 2).await;
    assert!(empty.unwrap().is_empty());
}

// ---- Fires -----------------------------------------------------------------------------------

pub async fn list_fires_is_newest_first_and_scoped_to_the_hook<S: HookStore>(store: S) {
    let (mine, other_hook, other_group) = (key("g", "h"), key("g", "h2"), key("g2", "h"));
    let oldest = fire_at(&mine, 1_000);
    let newest = fire_at(&mine, 3_000);
    let middle = fire_at(&mine, 2_000);
    for fire in [&oldest, &newest, &middle] {
        store.record_fire(fire).await.unwrap();
        store
            .record_fire(&fire_at(&other_hook, 2_500))
            .await
            .unwrap();
        store
            .record_fire(&fire_at(&other_group, 2_500))
            .await
            .unwrap();
    }
    let listed = store.list_fires(&mine, 100, None).await.unwrap();
    assert_eq!(listed, [newest, middle, oldest]);
    assert!(store
        .list_fires(&key("g", "none"), 100, None)
        .await
        .unwrap()
        .is_empty());
}

pub async fn list_fires_honours_the_limit_and_the_cursor<S: HookStore>(store: S) {
    let k = key("g", "h");
    let fires: Vec<_> = (1..=5).map(|i| fire_at(&k, i * 1_000)).collect();
    for fire in &fires {
        store.record_fire(fire).await.unwrap();
    }
    assert!(store.list_fires(&k, 0, None).await.unwrap().is_empty());
    assert_eq!(
        store.list_fires(&k, 2, None).await.unwrap(),
        [fires[4].clone(), fires[3].clone()]
    );
    let cursor = FireCursor {
        time: fires[3].task_create_time,
        fire_id: fires[3].fire_id,
    };
    assert_eq!(
        store.list_fires(&k, 2, Some(&cursor)).await.unwrap(),
        [fires[2].clone(), fires[1].clone()],
        "a cursor resumes strictly after the fire it names",
    );
    let last = FireCursor {
        time: fires[0].task_create_time,
        fire_id: fires[0].fire_id,
    };
    assert!(store
        .list_fires(&k, 2, Some(&last))
        .await
        .unwrap()
        .is_empty());
}

pub async fn paging_through_fires_visits_each_once_even_when_times_are_equal<S: HookStore>(
    store: S,
) {
    let (k, neighbour) = (key("g", "busy"), key("g", "busy/neighbour"));
    // Five instants with five fires each; ids at one instant are random, so only the fire id
    // tie-break (not insertion order or time) can order them.
    let mut fires: Vec<FireRecord> = (0..25)
        .map(|i| {
            let mut fire = fire_at(&k, 1_760_000_000_000 + (i % 5) * 60_000);
            fire.fire_id = Uuid::new_v4();
            fire
        })
        .collect();
    for i in 0..fires.len() {
        // Insert in a scrambled order (7 is coprime to 25).
        store
            .record_fire(&fires[(i * 7) % fires.len()])
            .await
            .unwrap();
        store
            .record_fire(&fire_at(&neighbour, 1_760_000_000_000))
            .await
            .unwrap();
    }
    newest_first(&mut fires);
    for page in [1, 3, 4, 5, 24, 25, 26, 100] {
        let seen = all_fires(&store, &k, page).await;
        let unique: HashSet<Uuid> = seen.iter().map(|f| f.fire_id).collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "page size {page}: a fire was listed twice"
        );
        assert_eq!(
            seen, fires,
            "page size {page}: every fire once, newest first"
        );
    }
}

pub async fn fire_records_round_trip_exactly<S: HookStore>(store: S) {
    let k = key("g", "nightly/linux");
    let ok = FireRecord::new(
        &k,
        FiredBy::TriggerHookWithToken,
        TaskId::generate(),
        Utc::now(),
        None,
    );
    let failed = FireRecord::new(
        &k,
        FiredBy::PulseMessage,
        TaskId::generate(),
        Utc::now() - chrono::Duration::seconds(1),
        Some(FireFailure {
            code: "InsufficientScopes".into(),
            message: "The hook lacks `queue:create-task:proj-releng/linux`.".into(),
        }),
    );
    store.record_fire(&ok).await.unwrap();
    store.record_fire(&failed).await.unwrap();
    assert_eq!(store.list_fires(&k, 10, None).await.unwrap(), [ok, failed]);
}

pub async fn recording_a_fire_twice_stores_it_once<S: HookStore>(store: S) {
    let k = key("g", "h");
    let fire = FireRecord::new(&k, FiredBy::Schedule, TaskId::generate(), Utc::now(), None);
    store.record_fire(&fire).await.unwrap();
    store.record_fire(&fire).await.unwrap();
    assert_eq!(store.list_fires(&k, 10, None).await.unwrap(), [fire]);
}

pub async fn a_fire_reads_back_by_its_id<S: HookStore>(store: S) {
    let k = key("g", "h");
    let task_id = TaskId::generate();
    let mut fire = FireRecord::new(&k, FiredBy::Schedule, task_id.clone(), Utc::now(), None);
    fire.fire_id = FireRecord::settled_id(&task_id);
    store.record_fire(&fire).await.unwrap();
    assert_eq!(store.get_fire(fire.fire_id).await.unwrap(), Some(fire));
    let unknown = FireRecord::settled_id(&TaskId::generate());
    assert_eq!(store.get_fire(unknown).await.unwrap(), None);
}

pub async fn a_fire_keeps_its_context_and_replay_exactly<S: HookStore>(store: S) {
    let k = key("g", "h");
    let mut trigger = serde_json::Map::new();
    trigger.insert("clientId".into(), json!("ci"));
    trigger.insert("headers".into(), json!({"x-github-event": "push"}));
    // Keys MongoDB restricts in documents survive.
    let payload = json!({"$ref": 1, "a.b": [1, 2.5, null], "gone": "secret"});
    let capture = Capture {
        payload: CapturePayload::Keep,
        redact: vec!["/gone".into()],
    };
    let mut original = FireRecord::new(
        &k,
        FiredBy::TriggerHook,
        TaskId::generate(),
        at(1_000),
        None,
    );
    original.context = Some(FireContext::keep(
        Some(&payload),
        trigger,
        &json!({"$if": "true", "then": {"x": "${payload}"}}),
        Some(&capture),
        1 << 16,
    ));
    let mut replay = FireRecord::new(
        &k,
        FiredBy::TriggerHook,
        TaskId::generate(),
        at(2_000),
        None,
    );
    replay.context = original.context.clone();
    replay.replay = Some(ReplayOf {
        fire_id: original.fire_id,
        client_id: "operator".into(),
    });
    for fire in [&original, &replay] {
        store.record_fire(fire).await.unwrap();
        assert_eq!(
            store.get_fire(fire.fire_id).await.unwrap().as_ref(),
            Some(fire)
        );
    }
    assert_eq!(
        store.list_fires(&k, 10, None).await.unwrap(),
        [replay, original]
    );
}

pub async fn refusals_keep_the_newest_per_hook_and_go_with_their_hook<S: HookStore>(store: S) {
    let (k, other) = (key("g", "h"), key("g", "other"));
    store.insert_hook(&hook_record("g", "h")).await.unwrap();
    let refusal = |key: &HookKey, ms: i64| {
        let mut r = Refusal::new(
            key,
            FiredBy::Webhook,
            at(ms),
            RefusalReason::BadSignature,
            "no".into(),
        );
        r.context = Some(FireContext::keep(
            Some(&json!({"$a": 1})),
            Default::default(),
            &json!({}),
            None,
            100,
        ));
        r
    };
    // Equal times, so the order rests on the id too; recorded out of order.
    let mine: Vec<Refusal> = (0..6).map(|i| refusal(&k, 1_000 + i / 2)).collect();
    for r in mine.iter().rev().chain(mine.iter().take(1)) {
        store.record_refusal(r, 4).await.unwrap();
    }
    store
        .record_refusal(&refusal(&other, 5_000), 4)
        .await
        .unwrap();
    let mut newest = mine.clone();
    newest.sort_by_key(|r| Reverse((r.time, r.refusal_id)));
    newest.truncate(4);
    assert_eq!(
        store.list_refusals(&k, 10).await.unwrap(),
        newest,
        "the newest 4 are kept"
    );
    assert_eq!(store.list_refusals(&k, 2).await.unwrap(), newest[..2]);
    assert!(store.delete_hook(&k).await.unwrap());
    assert!(store.list_refusals(&k, 10).await.unwrap().is_empty());
    assert_eq!(store.list_refusals(&other, 10).await.unwrap().len(), 1);
}

// ---- Replay jobs -----------------------------------------------------------------------------

fn replay_job(key: &HookKey, created_ms: i64) -> ReplayJob {
    ReplayJob {
        job_id: Uuid::now_v7(),
        hook_group_id: key.group.clone(),
        hook_id: key.id.clone(),
        since: at(0),
        until: at(10_000),
        result: FireResult::Error,
        template: TemplateChoice::Current,
        task_id: TaskIdChoice::New,
        client_id: "someone".into(),
        created: at(created_ms),
        state: JobState::Running,
        planned: 3,
        replayed: 0,
        failed: 0,
        cursor: None,
        next_at: at(created_ms),
        version: 1,
    }
}

pub async fn replay_jobs_read_back_list_newest_first_replace_by_version_and_go_with_their_hook<
    S: HookStore,
>(
    store: S,
) {
    let (k, other) = (key("g", "h"), key("g", "other"));
    let (older, newer, elsewhere) = (
        replay_job(&k, 1_000),
        replay_job(&k, 2_000),
        replay_job(&other, 1_500),
    );
    for job in [&older, &newer, &elsewhere] {
        store.insert_replay_job(job).await.unwrap();
    }
    let err = store.insert_replay_job(&older).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(
        store.get_replay_job(older.job_id).await.unwrap().as_ref(),
        Some(&older)
    );
    assert_eq!(store.get_replay_job(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store.list_replay_jobs(&k, 10).await.unwrap(),
        [newer.clone(), older.clone()]
    );
    assert_eq!(
        store.list_replay_jobs(&k, 1).await.unwrap(),
        std::slice::from_ref(&newer)
    );

    let mut progressed = older.clone();
    progressed.cursor = Some(JobCursor {
        time: at(9_000),
        fire_id: Uuid::now_v7(),
    });
    progressed.replayed = 1;
    progressed.version = 2;
    store.replace_replay_job(&progressed, 1).await.unwrap();
    assert_eq!(
        store.get_replay_job(older.job_id).await.unwrap(),
        Some(progressed.clone())
    );
    let err = store.replace_replay_job(&progressed, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict), "{err:?}");
    let err = store
        .replace_replay_job(&replay_job(&k, 3_000), 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    let mut done = newer.clone();
    done.state = JobState::Done;
    done.version = 2;
    store.replace_replay_job(&done, 1).await.unwrap();
    assert_eq!(
        store.running_replay_jobs().await.unwrap(),
        [progressed, elsewhere.clone()],
        "only running jobs, oldest first"
    );
    store.delete_hook(&k).await.unwrap();
    assert!(store.list_replay_jobs(&k, 10).await.unwrap().is_empty());
    assert_eq!(store.running_replay_jobs().await.unwrap(), [elsewhere]);
}

// ---- Tasks -----------------------------------------------------------------------------------

pub async fn inserted_tasks_read_back_exactly<S: HookStore>(store: S) {
    let task = submitted_task(&key("g", "nightly/linux"));
    store.insert_task(&task).await.unwrap();
    assert_eq!(store.get_task(&task.task_id).await.unwrap(), Some(task));
}

pub async fn insert_of_an_existing_task_is_already_exists<S: HookStore>(store: S) {
    let task = submitted_task(&key("g", "h"));
    store.insert_task(&task).await.unwrap();
    let mut again = submitted_task(&key("g", "other"));
    again.task_id = task.task_id.clone();
    let err = store.insert_task(&again).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(store.get_task(&task.task_id).await.unwrap(), Some(task));
}

pub async fn get_of_a_missing_task_is_none<S: HookStore>(store: S) {
    store
        .insert_task(&submitted_task(&key("g", "h")))
        .await
        .unwrap();
    assert_eq!(store.get_task(&TaskId::generate()).await.unwrap(), None);
}

/// A task as the fire `fire` submits it, and that fire's success record.
pub fn fired_task(key: &HookKey, ms: i64) -> (SubmittedTask, FireRecord) {
    let fire = fire_at(key, ms);
    let task = SubmittedTask::of_fire(&fire, submitted_task(key).task);
    (task, fire)
}

pub async fn a_task_and_its_fire_are_written_together<S: HookStore>(store: S) {
    let (task, fire) = fired_task(&key("g", "h"), 1_760_000_000_000);
    store
        .insert_task_and_record_fire(&task, &fire)
        .await
        .unwrap();
    assert_eq!(store.get_task(&task.task_id).await.unwrap(), Some(task));
    assert_eq!(
        store.get_fire(fire.fire_id).await.unwrap(),
        Some(fire.clone())
    );
    assert_eq!(
        store.list_fires(&key("g", "h"), 10, None).await.unwrap(),
        [fire]
    );
}

pub async fn a_taken_task_id_stores_neither_the_task_nor_its_fire<S: HookStore>(store: S) {
    let k = key("g", "h");
    let (task, _) = fired_task(&k, 1_760_000_000_000);
    store.insert_task(&task).await.unwrap();
    let (mut again, mut fire) = fired_task(&k, 1_760_000_001_000);
    again.task_id = task.task_id.clone();
    fire.task_id = task.task_id.clone();
    again.task = json!({"another": "task"});

    let err = store
        .insert_task_and_record_fire(&again, &fire)
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::AlreadyExists), "{err:?}");
    assert_eq!(store.get_task(&task.task_id).await.unwrap(), Some(task));
    assert_eq!(store.get_fire(fire.fire_id).await.unwrap(), None);
}

pub async fn many_tasks_and_fires_are_written_each_pair_whole_or_not_at_all<S: HookStore>(
    store: S,
) {
    let (taken, _) = fired_task(&key("g", "h0"), 1_760_000_000_000);
    store.insert_task(&taken).await.unwrap();
    let mut pairs: Vec<_> = (0..3)
        .map(|i| fired_task(&key("g", &format!("h{i}")), 1_760_000_001_000 + i))
        .collect();
    // The middle pair's task id is taken: it stores nothing, the others all of theirs.
    pairs[1].0.task_id = taken.task_id.clone();
    pairs[1].1.task_id = taken.task_id.clone();
    let encoded: Vec<_> = (pairs.iter())
        .map(|(task, fire)| (Encoded::new(task.clone()), Encoded::new(fire.clone())))
        .collect();
    let refs: Vec<_> = encoded.iter().map(|(task, fire)| (task, fire)).collect();

    let answers = store.insert_tasks_and_record_fires(&refs).await.unwrap();

    assert_eq!(answers.len(), 3);
    assert!(
        matches!(answers[1], Err(StoreError::AlreadyExists)),
        "{answers:?}"
    );
    assert_eq!(store.get_task(&taken.task_id).await.unwrap(), Some(taken));
    assert_eq!(store.get_fire(pairs[1].1.fire_id).await.unwrap(), None);
    for i in [0, 2] {
        assert!(answers[i].is_ok(), "{i}: {answers:?}");
        let (task, fire) = &pairs[i];
        assert_eq!(
            store.get_task(&task.task_id).await.unwrap().as_ref(),
            Some(task)
        );
        assert_eq!(
            store.get_fire(fire.fire_id).await.unwrap().as_ref(),
            Some(fire)
        );
    }
    assert!(store
        .insert_tasks_and_record_fires(&[])
        .await
        .unwrap()
        .is_empty());
}

pub async fn concurrent_task_and_fire_writes_record_exactly_the_fires_whose_task_was_stored<
    S: HookStore,
>(
    store: S,
) {
    let store = Arc::new(store);
    let k = key("g", "h");
    let (taken, _) = fired_task(&k, 1_760_000_000_000);
    store.insert_task(&taken).await.unwrap();
    // Every fourth writer reuses the taken task id; writes of one group commit share a batch.
    let results = race(&store, 32, |store, i| {
        let (mut task, mut fire) = fired_task(
            &key("g", "h"),
            1_760_000_000_000 + i64::try_from(i).unwrap(),
        );
        if i % 4 == 0 {
            task.task_id = taken.task_id.clone();
            fire.task_id = taken.task_id.clone();
        }
        async move {
            let result = store.insert_task_and_record_fire(&task, &fire).await;
            (i, task, fire, result)
        }
    })
    .await;
    for (i, task, fire, result) in &results {
        let recorded = store.get_fire(fire.fire_id).await.unwrap();
        if i % 4 == 0 {
            assert!(
                matches!(result, Err(StoreError::AlreadyExists)),
                "{i}: {result:?}"
            );
            assert_eq!(
                recorded, None,
                "{i}: its fire was rolled back with its task"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
            assert_eq!(recorded.as_ref(), Some(fire), "{i}");
            assert_eq!(
                store.get_task(&task.task_id).await.unwrap().as_ref(),
                Some(task)
            );
        }
    }
    assert_eq!(store.list_fires(&k, 100, None).await.unwrap().len(), 24);
}

// ---- Health and batching ---------------------------------------------------------------------

pub async fn ping_succeeds<S: HookStore>(store: S) {
    store.ping().await.expect("ping");
}

pub async fn a_failed_write_among_concurrent_writes_leaves_the_others_committed<S: HookStore>(
    store: S,
) {
    let store = Arc::new(store);
    let existing = hook_record("g", "existing");
    store.insert_hook(&existing).await.unwrap();
    // Every fourth writer re-inserts the existing hook; the rest create new ones.
    let results = race(&store, 32, |store, i| async move {
        let record = if i % 4 == 0 {
            updated(&hook_record("g", "existing"), &format!("duplicate {i}"))
        } else {
            hook_record("g", &format!("new-{i:02}"))
        };
        (i, store.insert_hook(&record).await)
    })
    .await;
    for (i, result) in &results {
        if i % 4 == 0 {
            assert!(
                matches!(result, Err(StoreError::AlreadyExists)),
                "{i}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
        }
    }
    let listed = store
        .list_hooks(&existing.hook.hook_group_id)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1 + 24);
    assert_eq!(listed[0], existing, "the failed duplicates changed nothing");
    for i in (0..32).filter(|i| i % 4 != 0) {
        let id = format!("new-{i:02}");
        assert!(
            listed.iter().any(|r| r.hook.hook_id.as_str() == id),
            "{id} was committed"
        );
    }
}
