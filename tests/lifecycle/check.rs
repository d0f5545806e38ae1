//! `hookd config check` against the real binary: layering precedence per kind of setting,
//! redaction of every secret, and clear failures for invalid configurations.

use std::collections::BTreeMap;
use std::process::Output;

use crate::hookd;

/// Runs `hookd config check` with a config file holding `toml`, exactly the environment `env`
/// and the flags `flags`.
fn check(toml: &str, env: &[(&str, &str)], flags: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hookd.toml");
    std::fs::write(&file, toml).unwrap();
    hookd()
        .env_clear()
        .envs(env.iter().copied())
        .args(["config", "check", "--config"])
        .arg(&file)
        .args(flags)
        .output()
        .unwrap()
}

/// The printed settings: TOML key to (value as printed, layer).
fn effective(output: &Output) -> BTreeMap<String, (String, String)> {
    assert!(
        output.status.success(),
        "config check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (assignment, source) = line.rsplit_once("  # ").expect("a source comment");
            let (key, value) = assignment.split_once(" = ").expect("key = value");
            (key.to_owned(), (value.to_owned(), source.to_owned()))
        })
        .collect()
}

/// One setting of each kind, with a distinct value for the file, the environment and a flag,
/// each as it is written there and as `config check` prints it.
struct Case {
    key: &'static str,
    env: &'static str,
    flag: &'static str,
    /// (TOML value, env value, flag value)
    inputs: [&'static str; 3],
    /// Printed value when set by the file, env, flag.
    printed: [&'static str; 3],
}

const CASES: &[Case] = &[
    Case {
        key: "listen",
        env: "HOOKD_LISTEN",
        flag: "--listen",
        inputs: ["\"127.0.0.1:1001\"", "127.0.0.1:1002", "127.0.0.1:1003"],
        printed: [
            "\"127.0.0.1:1001\"",
            "\"127.0.0.1:1002\"",
            "\"127.0.0.1:1003\"",
        ],
    },
    Case {
        key: "dataDir",
        env: "HOOKD_DATA_DIR",
        flag: "--data-dir",
        inputs: ["\"/srv/file\"", "/srv/env", "/srv/flag"],
        printed: ["\"/srv/file\"", "\"/srv/env\"", "\"/srv/flag\""],
    },
    Case {
        key: "bodyLimit",
        env: "HOOKD_BODY_LIMIT",
        flag: "--body-limit",
        inputs: ["1001", "1002", "1003"],
        printed: ["1001", "1002", "1003"],
    },
    Case {
        key: "workers",
        env: "HOOKD_WORKERS",
        flag: "--workers",
        inputs: ["1", "2", "3"],
        printed: ["1", "2", "3"],
    },
    Case {
        key: "missedFires",
        env: "HOOKD_MISSED_FIRES",
        flag: "--missed-fires",
        inputs: ["\"skip\"", "once", "all"],
        printed: ["\"skip\"", "\"once\"", "\"all\""],
    },
    Case {
        key: "catchUpWindow",
        env: "HOOKD_CATCH_UP_WINDOW",
        flag: "--catch-up-window",
        inputs: ["\"1h\"", "2h", "3h"],
        printed: ["\"1h\"", "\"2h\"", "\"3h\""],
    },
    Case {
        key: "serviceRoles",
        env: "HOOKD_ROLES",
        flag: "--roles",
        inputs: ["[\"api\", \"listener\"]", "scheduler", "listener,api"],
        printed: [
            "[\"api\", \"listener\"]",
            "[\"scheduler\"]",
            "[\"listener\", \"api\"]",
        ],
    },
    Case {
        key: "notifyFrom",
        env: "HOOKD_NOTIFY_FROM",
        flag: "--notify-from",
        inputs: [
            "\"file@example.org\"",
            "env@example.org",
            "flag@example.org",
        ],
        printed: [
            "\"file@example.org\"",
            "\"env@example.org\"",
            "\"flag@example.org\"",
        ],
    },
    Case {
        key: "mongodbFireRetentionDays",
        env: "HOOKD_MONGODB_FIRE_RETENTION_DAYS",
        flag: "--mongodb-fire-retention-days",
        inputs: ["10", "20", "30"],
        printed: ["10", "20", "30"],
    },
    Case {
        key: "rootAccessToken",
        env: "HOOKD_ROOT_ACCESS_TOKEN",
        flag: "--root-access-token",
        inputs: ["\"file-token\"", "env-token", "flag-token"],
        printed: ["\"<redacted>\"", "\"<redacted>\"", "\"<redacted>\""],
    },
];

#[test]
fn each_kind_of_setting_takes_the_file_then_env_then_flag() {
    for case in CASES {
        let toml = format!("{} = {}\n", case.key, case.inputs[0]);
        let env = [(case.env, case.inputs[1])];
        let flags = [case.flag, case.inputs[2]];
        let layers = [
            check(&toml, &[], &[]),
            check(&toml, &env, &[]),
            check(&toml, &env, &flags),
        ];
        for ((output, printed), source) in
            layers.iter().zip(case.printed).zip(["file", "env", "flag"])
        {
            let shown = effective(output).remove(case.key);
            assert_eq!(
                shown,
                Some((printed.to_owned(), source.to_owned())),
                "{} set by the {source} layer and those below",
                case.key
            );
        }
    }
}

#[test]
fn a_boolean_setting_can_be_turned_on_by_the_file_and_off_by_the_environment() {
    let on = check("migrate = true\n", &[], &[]);
    assert_eq!(effective(&on)["migrate"], ("true".into(), "file".into()));
    let off = check("migrate = true\n", &[("HOOKD_MIGRATE", "false")], &[]);
    assert_eq!(effective(&off)["migrate"], ("false".into(), "env".into()));
    let flag = check("", &[("HOOKD_MIGRATE", "false")], &["--migrate"]);
    assert_eq!(effective(&flag)["migrate"], ("true".into(), "flag".into()));
}

#[test]
fn settings_no_layer_sets_show_their_default() {
    let output = check("", &[], &[]);
    let settings = effective(&output);
    assert_eq!(
        settings["listen"],
        ("\"127.0.0.1:8080\"".into(), "default".into())
    );
    assert_eq!(
        settings["taskQueue"],
        ("\"local\"".into(), "default".into())
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("# workers =  # unset"));
}

/// Secret values, each unique enough that finding it in the output is a leak.
const SECRETS: &[&str] = &[
    "rootTokenS3cret",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "TcTokenS3cret",
    "c2lua1NlY3JldFZhbHVl",
    "SmtpPassS3cret",
    "ChatPathS3cret",
    "AmqpPassS3cret",
    "MongoPassS3cret",
    "SlackSigningS3cret",
    "MattermostTokenS3cret",
    "MatrixTokenS3cret",
];

#[test]
fn config_check_redacts_every_secret() {
    let file = format!(
        r#"
        rootAccessToken = "{}"
        triggerTokenKey = "{}"
        taskQueue = "taskcluster+https://tc.example"
        taskclusterClientId = "hookd"
        taskclusterAccessToken = "{}"
        sinkSecret = "whsec_{}"
        smtpUrl = "smtps://mailer:{}@mail.example:465"
        chatWebhookUrl = "https://chat.example/hooks/{}"
        amqpUrl = "amqp://hookd:{}@broker.example:5672/%2f"
        mongodbUri = "mongodb://hookd:{}@db1.example:27017,db2.example:27017/hookd"
        slackSigningSecret = "{}"
        mattermostCommandToken = "{}"
        matrixAccessToken = "{}"
        "#,
        SECRETS[0],
        SECRETS[1],
        SECRETS[2],
        SECRETS[3],
        SECRETS[4],
        SECRETS[5],
        SECRETS[6],
        SECRETS[7],
        SECRETS[8],
        SECRETS[9],
        SECRETS[10],
    );
    let output = check(&file, &[], &[]);
    let settings = effective(&output);
    let printed = String::from_utf8_lossy(&output.stdout);
    for secret in SECRETS {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    assert_eq!(
        settings["mongodbUri"].0,
        "\"mongodb://hookd:<redacted>@db1.example:27017,db2.example:27017/<redacted>\"",
        "a secret URL still shows where it points"
    );
    assert_eq!(settings["taskclusterClientId"].0, "\"hookd\"");
}

#[test]
fn a_task_queue_url_loses_its_password_in_config_check() {
    let output = check(
        "taskQueue = \"amqp://hookd:QueuePassS3cret@broker.example/%2f\"\n",
        &[],
        &[],
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!printed.contains("QueuePassS3cret"), "{printed}");
    assert!(printed.contains("amqp://hookd:<redacted>@broker.example/%2f"));
}

#[test]
fn invalid_configurations_fail_with_a_message_naming_the_problem() {
    for (toml, flags, expected) in [
        ("bodyLimit = \"lots\"\n", &[][..], "bodyLimit"),
        ("listne = \"127.0.0.1:1\"\n", &[][..], "listne"),
        ("serviceRoles = [\"api\", \"cook\"]\n", &[][..], "cook"),
        (
            "taskQueue = \"https://r.example\"\n",
            &[][..],
            "--sink-secret",
        ),
        ("triggerTokenKey = \"abc\"\n", &[][..], "triggerTokenKey"),
        (
            "mongodbFireRetentionDays = 0\n",
            &[][..],
            "mongodbFireRetentionDays",
        ),
        (
            "[[clients]]\nclientId = \"ci\"\n",
            &[][..],
            "accessTokenHash",
        ),
        (
            "",
            &["--amqp-url", "amqp://b/", "--amqp-prefetch", "0"][..],
            "--amqp-prefetch",
        ),
        ("listen = [\n", &[][..], "hookd.toml"),
    ] {
        let output = check(toml, &[], flags);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{toml:?} {flags:?} should fail");
        assert!(
            stderr.contains(expected),
            "{toml:?} {flags:?}: the message should name {expected}:\n{stderr}"
        );
    }
}
