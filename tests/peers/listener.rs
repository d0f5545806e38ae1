//! Messages fire hooks: binding patterns, the message context, poison messages, and
//! reconciliation after changes made through the API and behind hookd's back.

use std::time::Duration;

use hookd_testkit::app::{hook_body, metric_value, spawn_app_with, Auth};
use hookd_testkit::wait::eventually;
use reqwest::Method;
use serde_json::json;

use crate::broker::{self, await_listener, bound_hook, next_message, queue_exists, unique};
use crate::fires::{await_fires, by_result, fires, task_payload};

#[tokio::test]
async fn binding_patterns_match_as_rabbitmq_defines_and_fire_with_the_message_context() {
    let Some(f) = broker::fixture("patterns").await else {
        return;
    };
    let (exchange, client, app) = (&f.exchange, &f.client, &f.app);
    app.create_hook(
        "g/patterns",
        bound_hook(&[(exchange, "a.*.c"), (exchange, "d.#")]),
    )
    .await;
    client
        .publish_routed(exchange, "d.probe", &json!({"probe": true}))
        .await;

    let keys = ["a.b.c", "a.b.b.c", "a.c", "d", "d.e.f", "x.d", "a.b.c.d"];
    let mut routed = Vec::new();
    for key in keys {
        let body = serde_json::to_vec(&json!({"key": key})).unwrap();
        if client.publish(exchange, key, &body, None).await {
            routed.push(key);
        }
    }

    assert_eq!(
        routed,
        ["a.b.c", "d", "d.e.f"],
        "`*` is one word, `#` any number"
    );
    let fires = await_fires(app, "g/patterns", 1 + routed.len()).await;
    let mut fired_keys = Vec::new();
    for fire in &fires {
        assert_eq!(fire["firedBy"], "pulseMessage");
        let payload = task_payload(app, fire).await;
        assert_eq!(payload["firedBy"], "pulseMessage");
        assert_eq!(payload["exchange"], exchange.as_str());
        assert_eq!(payload["redelivered"], false);
        if payload["message"].get("probe").is_none() {
            assert_eq!(payload["message"]["key"], payload["routingKey"]);
            fired_keys.push(payload["routingKey"].as_str().unwrap().to_owned());
        }
    }
    fired_keys.sort();
    assert_eq!(fired_keys, routed, "exactly the routed messages fired");
    // Each fire's record keeps the message it was fired with (extension).
    let kept = app
        .call(Method::GET, "/hooks/g/patterns/fires", Auth::Root, None)
        .await
        .expect(200);
    for fire in kept["fires"].as_array().unwrap() {
        let context = &fire["context"];
        assert_eq!(context["trigger"]["exchange"], exchange.as_str());
        if let Some(key) = context["payload"].get("key") {
            assert_eq!(*key, context["trigger"]["routingKey"], "{fire}");
        }
    }
}

#[tokio::test]
async fn poison_messages_are_recorded_as_error_fires_and_do_not_block_the_queue() {
    let Some(f) = broker::fixture("poison").await else {
        return;
    };
    let (exchange, client, app) = (&f.exchange, &f.client, &f.app);
    let mut hook = bound_hook(&[(exchange, "#")]);
    hook["triggerSchema"] = json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    });
    app.create_hook("g/poison", hook).await;

    client
        .publish_routed(exchange, "k", &json!({"n": "not a number"}))
        .await;
    assert!(client.publish(exchange, "k", b"{not json", None).await);
    assert!(client.publish(exchange, "k", br#"{"n": 7}"#, None).await);

    let fires = await_fires(app, "g/poison", 3).await;
    let (ok, failed) = by_result(&fires);
    assert_eq!(
        ok.len(),
        1,
        "the good message behind the poison fired: {fires:?}"
    );
    assert_eq!(task_payload(app, &ok[0]).await["message"], json!({"n": 7}));
    let mut errors: Vec<String> = failed
        .iter()
        .map(|f| f["error"].as_str().unwrap_or_default().to_owned())
        .collect();
    errors.sort();
    assert_eq!(errors.len(), 2, "{fires:?}");
    assert!(errors[0].contains("not JSON"), "{errors:?}");
    assert!(errors[1].contains("triggerSchema"), "{errors:?}");
}

#[tokio::test]
async fn an_update_moves_traffic_at_once_and_remove_deletes_the_queue() {
    let Some(f) = broker::fixture("moves").await else {
        return;
    };
    let (url, prefix, exchange, client, app) = (&f.url, &f.prefix, &f.exchange, &f.client, &f.app);
    let (old, new) = (exchange, unique("new"));
    client.exchange(&new).await;
    app.create_hook("g/moving", bound_hook(&[(old, "k")])).await;
    client.publish_routed(old, "k", &json!({"on": "old"})).await;

    let update = bound_hook(&[(&new, "k")]);
    app.call(Method::POST, "/hooks/g/moving", Auth::Root, Some(update))
        .await
        .expect(200);
    client
        .publish_routed(&new, "k", &json!({"on": "new"}))
        .await;

    assert!(
        !client.publish(old, "k", b"{}", None).await,
        "the old binding is gone"
    );
    let fires = await_fires(app, "g/moving", 2).await;
    let mut seen = Vec::new();
    for fire in &fires {
        seen.push(task_payload(app, fire).await["message"]["on"].clone());
    }
    seen.sort_by_key(|v| v.to_string());
    assert_eq!(seen, [json!("new"), json!("old")]);

    let queue = format!("{prefix}/g/moving");
    assert!(queue_exists(url, &queue).await);
    app.call(Method::DELETE, "/hooks/g/moving", Auth::Root, None)
        .await
        .expect(200);
    eventually("the removed hook's queue is deleted", || async {
        (!queue_exists(url, &queue).await).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_queue_deleted_behind_hookds_back_is_restored_with_its_bindings() {
    let Some(f) = broker::fixture("restore").await else {
        return;
    };
    let (prefix, exchange, client, app) = (&f.prefix, &f.exchange, &f.client, &f.app);
    app.create_hook("g/fragile", bound_hook(&[(exchange, "k.#")]))
        .await;
    client
        .publish_routed(exchange, "k.1", &json!({"n": 1}))
        .await;
    await_fires(app, "g/fragile", 1).await;

    client.delete_queue(&format!("{prefix}/g/fragile")).await;
    // The history lists fires newest first; a later fire time makes "newest" mean the second
    // message (at one time, fires sort by their ids, which need not follow arrival).
    app.clock.advance(chrono::Duration::seconds(1));
    client
        .publish_routed(exchange, "k.2", &json!({"n": 2}))
        .await;

    let fires = await_fires(app, "g/fragile", 2).await;
    assert_eq!(
        task_payload(app, &fires[0]).await["message"],
        json!({"n": 2})
    );
}

#[tokio::test]
async fn a_binding_to_a_missing_exchange_is_reported_until_it_appears_and_breaks_nothing() {
    let Some(f) = broker::fixture("missing").await else {
        return;
    };
    let (exchange, client, app) = (&f.exchange, &f.client, &f.app);
    let (present, missing) = (exchange, unique("missing"));
    app.create_hook("g/half", bound_hook(&[(&missing, "#"), (present, "half")]))
        .await;
    app.create_hook("g/other", bound_hook(&[(present, "other")]))
        .await;

    let errors = eventually("the missing exchange is reported", || async {
        let status = app.status("g/half").await;
        let errors = status["bindingStatus"]["errors"].clone();
        (errors.as_array().is_some_and(|e| !e.is_empty())).then_some(errors)
    })
    .await;
    assert!(errors[0].as_str().unwrap().contains(&missing), "{errors}");
    client.publish_routed(present, "half", &json!({})).await;
    client.publish_routed(present, "other", &json!({})).await;
    await_fires(app, "g/half", 1).await;
    await_fires(app, "g/other", 1).await;
    assert_eq!(
        app.status("g/other").await["bindingStatus"],
        json!({"state": "active", "errors": []})
    );

    client.exchange(&missing).await;
    client.publish_routed(&missing, "late", &json!({})).await;
    await_fires(app, "g/half", 2).await;
    let status = app.status("g/half").await;
    assert_eq!(status["bindingStatus"]["errors"], json!([]));
    assert_eq!(fires(app, "g/half").await.len(), 2);
}

#[tokio::test]
async fn hook_changes_are_announced_on_the_hook_change_exchanges() {
    let Some(f) = broker::fixture("events").await else {
        return;
    };
    let (prefix, client, app) = (&f.prefix, &f.client, &f.app);
    await_listener(app, "connected").await;
    let mut announcements = Vec::new();
    for kind in ["hook-created", "hook-updated", "hook-deleted"] {
        let exchange = format!("{prefix}/exchange/{kind}");
        announcements.push(client.consume(&unique(kind), &exchange, "#").await);
    }

    app.create_hook("g/announced", hook_body()).await;
    app.call(
        Method::POST,
        "/hooks/g/announced",
        Auth::Root,
        Some(hook_body()),
    )
    .await
    .expect(200);
    app.call(Method::DELETE, "/hooks/g/announced", Auth::Root, None)
        .await
        .expect(200);

    for consumer in &mut announcements {
        let message = next_message(consumer).await;
        let body: serde_json::Value = serde_json::from_slice(&message.data).unwrap();
        assert_eq!(body, json!({"hookGroupId": "g", "hookId": "announced"}));
        assert_eq!(message.routing_key.as_str(), "g.announced");
    }
}

#[tokio::test]
async fn a_replica_reconciles_a_hook_changed_through_another_at_once() {
    let Some(f) = broker::fixture("replicas").await else {
        return;
    };
    let dir = f.app.data_dir().to_owned();
    let mut settings = broker::listener_settings(&f.url, &f.prefix);
    // Only the announcement can make this replica look at the hook before the test ends.
    settings.reconcile_interval = Duration::from_secs(3600);
    let replica = spawn_app_with(move |s| {
        s.data_dir = dir.clone();
        s.amqp = Some(settings.clone());
    })
    .await;
    await_listener(&f.app, "connected").await;
    await_listener(&replica, "connected").await;
    let missing = unique("missing");

    f.app
        .create_hook("g/shared", bound_hook(&[(&missing, "#")]))
        .await;

    let errors = eventually("the replica reconciles the new hook", || async {
        let status = replica.status("g/shared").await;
        let errors = status["bindingStatus"]["errors"].clone();
        errors
            .as_array()
            .is_some_and(|e| !e.is_empty())
            .then_some(errors)
    })
    .await;
    assert!(errors[0].as_str().unwrap().contains(&missing), "{errors}");
}

#[tokio::test]
async fn a_message_redelivered_after_its_fire_was_recorded_is_acked_without_another_fire() {
    let Some(url) = hookd_testkit::services::amqp_url() else {
        return;
    };
    let _broker = broker::shared().await;
    let (prefix, exchange) = (unique("redelivered"), unique("exchange"));
    let client = broker::Client::connect(&url).await;
    client.exchange(&exchange).await;
    // Both processes use one SQLite store in a directory of the test's own, which outlives
    // the first of them.
    let data = tempfile::tempdir().expect("temp dir");
    let listening = |data: std::path::PathBuf| {
        let settings = broker::listener_settings(&url, &prefix);
        spawn_app_with(move |s| {
            s.data_dir = data.clone();
            s.mongodb = None;
            s.amqp = Some(settings.clone());
        })
    };
    let first = listening(data.path().to_owned()).await;
    first
        .create_hook("g/redelivered", bound_hook(&[(&exchange, "r.#")]))
        .await;
    let body = serde_json::to_vec(&json!({"n": 1})).unwrap();
    let publish = || client.publish(&exchange, "r.x", &body, Some("message-1"));
    eventually("a queue takes the message", || async {
        publish().await.then_some(())
    })
    .await;
    await_fires(&first, "g/redelivered", 1).await;
    first.stop().await;

    // The same message back in the queue, marked redelivered: what the broker does when a
    // consumer's connection drops after the fire was recorded but before its ack arrived.
    assert!(publish().await, "the hook's queue outlives its consumer");
    assert!(client.bounce(&format!("{prefix}/g/redelivered")).await);
    let second = listening(data.path().to_owned()).await;
    let scrape = eventually("the redelivered message is acked", || async {
        let scrape = second.metrics().await;
        metric_value(&scrape, "hookd_amqp_messages_acked_total")
            .is_some_and(|acked| acked >= 1.0)
            .then_some(scrape)
    })
    .await;
    for result in ["success", "error"] {
        let series = format!("hookd_fires_total{{fired_by=\"pulseMessage\",result=\"{result}\"}}");
        assert_eq!(
            metric_value(&scrape, &series),
            None,
            "not fired again: {scrape}"
        );
    }

    let fires = fires(&second, "g/redelivered").await;
    assert_eq!(fires.len(), 1, "one message, one fire: {fires:?}");
    assert_eq!(fires[0]["result"], "success", "{fires:?}");
    second.stop().await;
}
