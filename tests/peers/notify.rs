//! Failure notices: email through a real SMTP server (aiosmtpd, started by scripts/test.sh),
//! and chat notices to a real HTTP receiver on loopback.

use std::sync::Arc;

use chrono::Duration;
use hookd::clock::{Clock, ManualClock};
use hookd::domain::{
    FireFailure, FireRecord, FiredBy, Hook, HookGroupId, HookId, Metadata, Schedule, TaskId,
    TriggerSchema,
};
use hookd::notify::{Audience, ChatNotifier, EmailNotifier, Notifier};
use hookd_testkit::app::{hook_body, spawn_app_with};
use hookd_testkit::receiver::Receiver;
use hookd_testkit::services::smtp;
use hookd_testkit::wait::eventually;
use serde_json::json;

/// Every delivered mail addressed to `to`.
fn mails_to(maildir: &std::path::Path, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|mail| mail.lines().any(|l| l.starts_with("To:") && l.contains(to)))
        .collect()
}

/// An owner address no other test or earlier run has used.
fn unique_owner(label: &str) -> String {
    format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple())
}

fn hook(owner: &str, email_on_error: bool) -> Hook {
    Hook {
        hook_group_id: HookGroupId::parse("notify").unwrap(),
        hook_id: HookId::parse("nightly/build").unwrap(),
        metadata: Metadata {
            name: "Nightly build".into(),
            description: "d".into(),
            owner: owner.into(),
            email_on_error,
        },
        schedule: Schedule::parse(&["0 0 * * *"]).unwrap(),
        task: json!({}).into(),
        trigger_schema: TriggerSchema::parse(json!({})).unwrap(),
        bindings: vec![],
        scopes: None,
        missed_fires: None,
        capture: None,
    }
}

fn failed_fire(
    hook: &Hook,
    fired_by: FiredBy,
    code: &str,
    time: chrono::DateTime<chrono::Utc>,
) -> FireRecord {
    let failure = FireFailure {
        code: code.into(),
        message: "JSON-e error: unknown context value nosuch".into(),
    };
    FireRecord::new(
        &hook.key(),
        fired_by,
        TaskId::generate(),
        time,
        Some(failure),
    )
}

fn email_notifier(clock: &ManualClock) -> Notifier {
    let (url, _) = smtp();
    let email = EmailNotifier::new(&url, "hookd@example.com").unwrap();
    Notifier::new(
        Some(email),
        None,
        Duration::hours(1),
        Arc::new(clock.clone()),
    )
}

#[tokio::test]
async fn a_failing_scheduled_fire_mails_the_owner_once_per_window() {
    let (_, maildir) = smtp();
    let clock = ManualClock::new("2026-05-01T00:00:00Z".parse().unwrap());
    let notifier = email_notifier(&clock);
    let owner = unique_owner("window");
    let hook = hook(&owner, true);

    for _ in 0..3 {
        notifier
            .error_fire(
                &hook,
                &failed_fire(&hook, FiredBy::Schedule, "InputError", clock.now()),
                Audience::Everyone,
            )
            .await;
        clock.advance(Duration::minutes(10));
    }
    let mails = mails_to(&maildir, &owner);
    assert_eq!(mails.len(), 1, "one mail within the window");
    let mail = &mails[0];
    assert!(
        mail.contains("Subject: hookd: hook notify/nightly/build failed"),
        "{mail}"
    );
    assert!(mail.contains("unknown context value nosuch"), "{mail}");
    assert!(
        mail.contains("/api/hooks/v1/hooks/notify/nightly%2Fbuild"),
        "{mail}"
    );

    clock.advance(Duration::hours(1));
    notifier
        .error_fire(
            &hook,
            &failed_fire(&hook, FiredBy::Schedule, "InputError", clock.now()),
            Audience::Everyone,
        )
        .await;
    assert_eq!(
        mails_to(&maildir, &owner).len(),
        2,
        "a new window, a new mail"
    );
    assert_eq!(notifier.failures(), 0);
}

#[tokio::test]
async fn no_mail_without_email_on_error_for_other_triggers_or_for_transient_failures() {
    let (_, maildir) = smtp();
    let clock = ManualClock::new("2026-05-01T00:00:00Z".parse().unwrap());
    let notifier = email_notifier(&clock);

    let owners = [
        unique_owner("optout"),
        unique_owner("trigger"),
        unique_owner("transient"),
    ];
    let opted_out = hook(&owners[0], false);
    notifier
        .error_fire(
            &opted_out,
            &failed_fire(&opted_out, FiredBy::Schedule, "InputError", clock.now()),
            Audience::Everyone,
        )
        .await;
    let triggered = hook(&owners[1], true);
    notifier
        .error_fire(
            &triggered,
            &failed_fire(&triggered, FiredBy::TriggerHook, "InputError", clock.now()),
            Audience::Everyone,
        )
        .await;
    let transient = hook(&owners[2], true);
    notifier
        .error_fire(
            &transient,
            &failed_fire(
                &transient,
                FiredBy::Schedule,
                "ServiceUnavailable",
                clock.now(),
            ),
            Audience::ChatOnly,
        )
        .await;

    for owner in &owners {
        assert!(mails_to(&maildir, owner).is_empty(), "no mail for {owner}");
    }
}

#[tokio::test]
async fn an_unreachable_mail_server_is_counted_and_does_not_fail_the_caller() {
    let clock = ManualClock::new("2026-05-01T00:00:00Z".parse().unwrap());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let email =
        EmailNotifier::new(&format!("smtp://127.0.0.1:{closed}"), "hookd@example.com").unwrap();
    let notifier = Notifier::new(
        Some(email),
        None,
        Duration::hours(1),
        Arc::new(clock.clone()),
    );
    let hook = hook("owner-down@example.com", true);
    notifier
        .error_fire(
            &hook,
            &failed_fire(&hook, FiredBy::Schedule, "InputError", clock.now()),
            Audience::Everyone,
        )
        .await;
    assert_eq!(notifier.failures(), 1);
}

#[tokio::test]
async fn every_error_fire_is_announced_to_the_chat_webhook_once_per_window() {
    let chat = Receiver::start().await;
    let clock = ManualClock::new("2026-05-01T00:00:00Z".parse().unwrap());
    let notifier = Notifier::new(
        None,
        Some(ChatNotifier::new(
            reqwest::Client::new(),
            format!("{}/hooks/chat", chat.url),
        )),
        Duration::hours(1),
        Arc::new(clock.clone()),
    );
    let hook = hook("x@example.com", false);
    for fired_by in [FiredBy::TriggerHook, FiredBy::Schedule] {
        notifier
            .error_fire(
                &hook,
                &failed_fire(&hook, fired_by, "InputError", clock.now()),
                Audience::Everyone,
            )
            .await;
    }
    let received = chat.received();
    assert_eq!(received.len(), 1);
    let text = received[0].json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("notify/nightly/build") && text.contains("nosuch"),
        "{text}"
    );
}

#[tokio::test]
async fn an_error_fire_through_the_api_reaches_the_chat_webhook() {
    let chat = Receiver::start().await;
    let url = format!("{}/hooks/chat", chat.url);
    let app = spawn_app_with(move |s| s.notify.chat_webhook_url = Some(url.clone())).await;
    let mut body = hook_body();
    body["task"] = json!({"x": {"$eval": "nosuch"}});
    app.create_hook("g/broken", body).await;
    app.trigger("g/broken", json!({}))
        .await
        .expect_error(400, "InputError");

    // The notice is sent in the background, after the answer.
    let received = eventually("the chat webhook receives a notice", || async {
        Some(chat.received()).filter(|r| !r.is_empty())
    })
    .await;
    assert_eq!(received.len(), 1, "one notice for the error fire");
    assert!(received[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("g/broken"));
}

#[tokio::test]
async fn a_failing_scheduled_hook_mails_its_owner_once_per_window_and_only_if_it_asked() {
    let (url, maildir) = smtp();
    let app = spawn_app_with(move |s| {
        s.notify.smtp_url = Some(url.clone());
        s.notify.from = "hookd@example.com".into();
    })
    .await;
    let (quiet, loud) = (unique_owner("quiet"), unique_owner("loud"));
    for (path, owner, email_on_error) in [("g/quiet", &quiet, false), ("g/loud", &loud, true)] {
        let mut body = hook_body();
        body["metadata"]["owner"] = json!(owner);
        body["metadata"]["emailOnError"] = json!(email_on_error);
        body["schedule"] = json!(["* * * * * *"]);
        body["task"] = json!({"x": {"$eval": "nosuch"}});
        app.create_hook(path, body).await;
    }
    // Five failing slots of each hook, all within one notification window.
    for _ in 0..5 {
        app.clock.advance(Duration::seconds(1));
        app.tick().await;
    }
    let fires = app.last_fires("g/loud", "").await;
    assert_eq!(
        fires["lastFires"].as_array().unwrap().len(),
        5,
        "every slot fired and failed: {fires:#}"
    );

    // The mail is sent in the background and delivered by another process.
    let mails = eventually(&format!("a mail reaches {loud}"), || async {
        Some(mails_to(&maildir, &loud)).filter(|m| !m.is_empty())
    })
    .await;
    assert_eq!(
        mails.len(),
        1,
        "one mail for five failures within the window"
    );
    assert!(
        mails[0].contains("g/loud") && mails[0].contains("nosuch"),
        "{}",
        mails[0]
    );
    assert!(
        mails_to(&maildir, &quiet).is_empty(),
        "emailOnError: false sends nothing"
    );
}
