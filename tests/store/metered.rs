//! The metrics decorator: a backend wrapped in `MeteredStore` still meets the whole contract,
//! and every call is timed under its operation's name.

use std::sync::Arc;

use hookd::metrics::{MeteredStore, Metrics};
use hookd::store::{HookStore, SqliteStore};
use tempfile::TempDir;

use crate::contract::{hook_record, store_contract};

/// A SQLite store behind the decorator, reporting to `metrics`.
fn metered_store(metrics: Arc<Metrics>) -> (MeteredStore, TempDir) {
    let dir = TempDir::new().expect("temp dir");
    let backend = SqliteStore::open(&dir.path().join("hookd.sqlite")).expect("open store");
    (MeteredStore::new(Arc::new(backend), metrics), dir)
}

store_contract!(metered, async { metered_store(Arc::new(Metrics::new())) });

#[tokio::test]
async fn each_call_is_counted_under_its_operation_whether_it_succeeds_or_not() {
    let metrics = Arc::new(Metrics::new());
    let (store, _dir) = metered_store(Arc::clone(&metrics));
    let hook = hook_record("g", "timed");

    store.insert_hook(&hook).await.unwrap();
    store.insert_hook(&hook).await.unwrap_err();
    store.get_hook(&hook.hook.key()).await.unwrap();

    let text = metrics.encode();
    let count = |operation: &str| {
        let series =
            format!(r#"hookd_store_operation_duration_seconds_count{{operation="{operation}"}} "#);
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map(str::to_owned)
    };
    assert_eq!(count("insert_hook").as_deref(), Some("2"), "{text}");
    assert_eq!(count("get_hook").as_deref(), Some("1"), "{text}");
    assert_eq!(count("list_hooks"), None, "{text}");
}
