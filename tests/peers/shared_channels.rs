//! Hooks' consumers share AMQP channels: what one hook does on a shared channel (removed,
//! moved, its queue deleted, its messages retried and dead-lettered) leaves the other hooks'
//! deliveries alone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hookd::listener::AmqpSettings;
use hookd_testkit::app::{metric_value, spawn_app_with, Auth, TestApp};
use hookd_testkit::services::amqp_url;
use hookd_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{json, Value};

use crate::broker::{self, bound_hook, next_message, rabbitmqctl_output, unique};
use crate::fires::{await_fires, by_result};

/// The channel (its broker process id) each of the hook queues under `prefix` is consumed on.
async fn consumer_channels(prefix: &str) -> BTreeMap<String, String> {
    let listing = rabbitmqctl_output(&[
        "list_consumers",
        "--quiet",
        "--no-table-headers",
        "queue_name",
        "channel_pid",
    ])
    .await;
    let hook_queues = format!("{prefix}/g/");
    (listing.lines())
        .filter_map(|line| line.split_once('\t'))
        .filter(|(queue, _)| queue.starts_with(&hook_queues))
        .map(|(queue, channel)| (queue.to_owned(), channel.trim().to_owned()))
        .collect()
}

/// Waits until `count` hook queues under `prefix` have consumers, and returns on how many
/// channels.
async fn channels_of(prefix: &str, count: usize) -> usize {
    let consumers = eventually(&format!("{count} hook consumers"), || async {
        let consumers = consumer_channels(prefix).await;
        (consumers.len() == count).then_some(consumers)
    })
    .await;
    consumers.values().collect::<BTreeSet<_>>().len()
}

#[tokio::test]
async fn hooks_on_one_channel_keep_consuming_when_one_is_removed_moved_or_loses_its_queue() {
    // Frequent passes, so that one is likely to run while the broker is still deleting h2's
    // queue below, before h2's consumer hears of it: a pass that re-created the queue then
    // left the consumer attached to nothing, and h2 never fired again (see
    // `Reconciler::declare_queue`; about one run in three failed so, one in 25 at 1 s).
    let fast_passes = |s: &mut AmqpSettings| s.reconcile_interval = Duration::from_millis(30);
    let Some(f) = broker::fixture_with("shared", fast_passes).await else {
        return;
    };
    let (prefix, exchange, client, app) = (&f.prefix, &f.exchange, &f.client, &f.app);
    for n in 0..5 {
        app.create_hook(
            &format!("g/h{n}"),
            bound_hook(&[(exchange, &format!("k{n}"))]),
        )
        .await;
    }
    for n in 0..5 {
        let body = json!({"n": n, "round": 1});
        client
            .publish_routed(exchange, &format!("k{n}"), &body)
            .await;
    }
    for n in 0..5 {
        await_fires(app, &format!("g/h{n}"), 1).await;
    }
    assert_eq!(channels_of(prefix, 5).await, 1, "five hooks, one channel");

    // On the same channel: one hook removed, one moved to another routing key, and one whose
    // queue the broker deleted (which cancels its consumer from the broker's side).
    app.call(Method::DELETE, "/hooks/g/h0", Auth::Root, None)
        .await
        .expect(200);
    let moved = bound_hook(&[(exchange, "k1-moved")]);
    app.call(Method::POST, "/hooks/g/h1", Auth::Root, Some(moved))
        .await
        .expect(200);
    client.delete_queue(&format!("{prefix}/g/h2")).await;

    // The untouched hooks never stop consuming: their messages route at once.
    for n in 3..5 {
        let body = serde_json::to_vec(&json!({"n": n, "round": 2})).unwrap();
        assert!(
            client
                .publish(exchange, &format!("k{n}"), &body, None)
                .await
        );
    }
    let round = |n: usize| json!({"n": n, "round": 2});
    client.publish_routed(exchange, "k1-moved", &round(1)).await;
    client.publish_routed(exchange, "k2", &round(2)).await;
    for n in 1..5 {
        let fires = await_fires(app, &format!("g/h{n}"), 2).await;
        let (ok, failed) = by_result(&fires);
        assert!(failed.is_empty(), "h{n}: {fires:?}");
        assert_eq!(ok.len(), 2, "h{n}: each message fired once: {fires:?}");
    }
    eventually("the removed hook's binding is gone", || async {
        (!client.publish(exchange, "k0", b"{}", None).await).then_some(())
    })
    .await;
    assert_eq!(
        channels_of(prefix, 4).await,
        1,
        "four hooks, still one channel"
    );
}

/// A hook whose tasks go to a worker queue, or (`stuck`) to one nobody is bound for, so the
/// sink refuses them and the listener retries and then dead-letters its messages.
fn relayed_hook(exchange: &str, routing_key: &str, stuck: bool) -> Value {
    let mut hook = bound_hook(&[(exchange, routing_key)]);
    if stuck {
        hook["task"]["taskQueueId"] = json!("proj/nobody");
    }
    hook
}

async fn relaying_app(url: &str, prefix: &str, tasks: &str) -> TestApp {
    let listener = broker::listener_settings(url, prefix);
    let task_queue = broker::task_queue(url, tasks);
    spawn_app_with(move |s| {
        s.amqp = Some(listener.clone());
        s.task_queue = task_queue.clone();
    })
    .await
}

#[tokio::test]
async fn retries_and_dead_letters_of_one_hook_leave_another_hooks_deliveries_on_the_channel_alone()
{
    const MESSAGES: usize = 10;
    let Some(url) = amqp_url() else { return };
    let _broker = broker::shared().await;
    let (prefix, exchange, tasks) = (unique("nacks"), unique("exchange"), unique("tasks"));
    let (client, mut worker) = broker::relay_ends(&url, &exchange, &tasks).await;
    let app = relaying_app(&url, &prefix, &tasks).await;
    app.create_hook("g/stuck", relayed_hook(&exchange, "stuck", true))
        .await;
    app.create_hook("g/flowing", relayed_hook(&exchange, "flowing", false))
        .await;
    assert_eq!(
        channels_of(&prefix, 2).await,
        1,
        "both hooks on one channel"
    );
    let mut dead_letters = client
        .consume_existing(&format!("{prefix}/dead-letter"))
        .await;

    // Interleaved on the one channel: every `stuck` message is nacked and requeued twice,
    // then dead-lettered, while the `flowing` ones around it are acked.
    for n in 0..MESSAGES {
        for key in ["stuck", "flowing"] {
            let body = serde_json::to_vec(&json!({"n": n, "key": key})).unwrap();
            let id = format!("{key}-{n}");
            assert!(client.publish(&exchange, key, &body, Some(&id)).await);
        }
    }

    let mut relayed = BTreeSet::new();
    for _ in 0..MESSAGES {
        let task = next_message(&mut worker).await;
        let body: Value = serde_json::from_slice(&task.data).unwrap();
        let payload = &body["task"]["payload"];
        assert_eq!(payload["message"]["key"], "flowing", "{body}");
        assert_eq!(payload["redelivered"], false, "never handed back: {body}");
        assert!(relayed.insert(payload["message"]["n"].as_u64()), "{body}");
    }
    let mut dead = BTreeSet::new();
    for _ in 0..MESSAGES {
        let message = next_message(&mut dead_letters).await;
        let body: Value = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(body["key"], "stuck", "{body}");
        assert!(dead.insert(body["n"].as_u64()), "{body}");
    }

    let scrape = eventually("every settlement counted", || async {
        let scrape = app.metrics().await;
        let acked = metric_value(&scrape, "hookd_amqp_messages_acked_total");
        let dead = metric_value(&scrape, "hookd_amqp_messages_dead_lettered_total");
        (acked == Some(MESSAGES as f64) && dead == Some(MESSAGES as f64)).then_some(scrape)
    })
    .await;
    let count = |series| metric_value(&scrape, series);
    assert_eq!(
        count("hookd_amqp_messages_requeued_total"),
        Some(2.0 * MESSAGES as f64)
    );
    assert_eq!(
        count("hookd_amqp_messages_consumed_total"),
        Some(4.0 * MESSAGES as f64),
        "three deliveries of each stuck message, one of each flowing one"
    );
    let fires = await_fires(&app, "g/flowing", MESSAGES).await;
    assert_eq!(fires.len(), MESSAGES, "one fire per message: {fires:?}");
}
