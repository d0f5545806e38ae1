//! The listing part of the store contract (the web UI's groups and service pages): hooks
//! counted per group under a key filter and a search, and failed fires across hooks. Listed in
//! `contract::store_contract!`, so every backend runs them.

use hookd::domain::{FireFailure, FireRecord, FiredBy, KeyFilter, ScopeSet, TaskId};
use hookd::store::{GroupCount, HookStore};

use crate::contract::{at, group, hook_record, key};

/// The filter `scopes` grant for reading definitions.
fn readable(scopes: &[&str]) -> KeyFilter {
    let scopes = ScopeSet::new(scopes.iter().map(|s| (*s).to_owned()).collect());
    KeyFilter::granted(&scopes, "hooks:get:", ':')
}

fn counts(pairs: &[(&str, u64)]) -> Vec<GroupCount> {
    pairs
        .iter()
        .map(|(g, hooks)| GroupCount {
            group: group(g),
            hooks: *hooks,
        })
        .collect()
}

async fn insert<S: HookStore>(store: &S, hooks: &[(&str, &str, &str)]) {
    for (g, id, name) in hooks {
        let mut record = hook_record(g, id);
        record.hook.metadata.name = (*name).to_owned();
        store.insert_hook(&record).await.expect("insert");
    }
}

pub async fn count_hooks_counts_per_group_exactly_what_the_filter_and_search_admit<S: HookStore>(
    store: S,
) {
    insert(
        &store,
        &[
            ("a", "h1", "Nightly build"),
            ("a", "nightly/x", "Other"),
            ("ab", "h1", "Deploy web"),
            ("b", "h1", "nothing"),
            ("b", "h2", "DEPLOY api"),
            ("c", "x", "x"),
        ],
    )
    .await;
    // (scopes held, search, hooks counted per group)
    type Case<'a> = (&'a [&'a str], &'a str, &'a [(&'a str, u64)]);
    let cases: &[Case] = &[
        (&["*"], "", &[("a", 2), ("ab", 1), ("b", 2), ("c", 1)]),
        (&[], "", &[]),
        (&["hooks:get:a:*"], "", &[("a", 2)]),
        (&["hooks:get:a*"], "", &[("a", 2), ("ab", 1)]),
        (
            &["hooks:get:a:nightly/*", "hooks:get:b:h2"],
            "",
            &[("a", 1), ("b", 1)],
        ),
        (&["hooks:get:b:h"], "", &[]),
        (&["hooks:status:*", "hooks:get:"], "", &[]),
        (&["*"], "deploy", &[("ab", 1), ("b", 1)]),
        (&["*"], "NIGHTLY", &[("a", 2)]),
        (&["*"], "h1", &[("a", 1), ("ab", 1), ("b", 1)]),
        (&["*"], "b", &[("ab", 1), ("a", 1), ("b", 2)]),
        (&["hooks:get:b:*"], "deploy", &[("b", 1)]),
        (&["*"], "no such hook", &[]),
        (&["*"], "%_.*", &[]),
    ];
    for (scopes, search, expected) in cases {
        let mut expected = counts(expected);
        expected.sort_by(|x, y| x.group.cmp(&y.group));
        assert_eq!(
            store.count_hooks(&readable(scopes), search).await.unwrap(),
            expected,
            "scopes {scopes:?}, search {search:?}"
        );
    }
}

fn failed_at(g: &str, id: &str, ms: i64) -> FireRecord {
    let failure = FireFailure {
        code: "InputError".into(),
        message: format!("{g}/{id} failed at {ms}"),
    };
    FireRecord::new(
        &key(g, id),
        FiredBy::Schedule,
        TaskId::generate(),
        at(ms),
        Some(failure),
    )
}

pub async fn error_fires_are_the_newest_failures_across_the_hooks_the_filter_admits<
    S: HookStore,
>(
    store: S,
) {
    let fires = [
        failed_at("a", "h1", 1_000),
        crate::contract::fire_at(&key("a", "h1"), 5_000),
        failed_at("b", "h1", 3_000),
        failed_at("a", "h2", 4_000),
        crate::contract::fire_at(&key("b", "h1"), 6_000),
        failed_at("a", "h1", 2_000),
    ];
    for fire in &fires {
        store.record_fire(fire).await.unwrap();
    }
    let messages = |fires: Vec<FireRecord>| -> Vec<String> {
        fires
            .into_iter()
            .map(|f| f.failure.expect("only failures").message)
            .collect()
    };

    let all = store.error_fires(&readable(&["*"]), 10).await.unwrap();
    assert_eq!(all[0], fires[3], "whole records");
    assert_eq!(
        messages(all),
        [
            "a/h2 failed at 4000",
            "b/h1 failed at 3000",
            "a/h1 failed at 2000",
            "a/h1 failed at 1000"
        ]
    );
    let two = store.error_fires(&readable(&["*"]), 2).await.unwrap();
    assert_eq!(
        messages(two),
        ["a/h2 failed at 4000", "b/h1 failed at 3000"]
    );
    let only_a_h1 = readable(&["hooks:get:a:h1"]);
    assert_eq!(
        messages(store.error_fires(&only_a_h1, 10).await.unwrap()),
        ["a/h1 failed at 2000", "a/h1 failed at 1000"]
    );
    let group_b = readable(&["hooks:get:b*"]);
    let failed_in_b = store.error_fires(&group_b, 10).await.unwrap();
    assert_eq!(messages(failed_in_b), ["b/h1 failed at 3000"]);
    assert!(store
        .error_fires(&readable(&[]), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .error_fires(&readable(&["*"]), 0)
        .await
        .unwrap()
        .is_empty());
}
