//! The README's settings table against the code: one row per setting, and nothing stale.

use std::collections::BTreeMap;

use clap::Command;
use hookd::config::file::FILE_ONLY_KEYS;
use hookd::config::layers::{self as config_layers, CONFIG_ARG};
use hookd::config::ServeArgs;

const BEGIN: &str = "<!-- settings:begin -->";
const END: &str = "<!-- settings:end -->";
/// What the table shows where a column does not apply.
const NONE: &str = "—";

/// One documented setting: env var, TOML key and default, keyed by flag (or TOML key).
type Rows = BTreeMap<String, [String; 3]>;

/// `hookd serve`'s options, built (so that flags carry their implicit defaults).
fn serve_command() -> Command {
    let mut command = <ServeArgs as clap::Args>::augment_args(Command::new("serve"));
    command.build();
    command
}

fn code(text: &str) -> String {
    format!("`{text}`")
}

/// The rows the code implies. A default the code knows is shown as code; one it does not
/// (e.g. "number of cores") is free text, checked only to not look like a value.
fn expected_rows() -> Rows {
    let command = serve_command();
    let mut rows = Rows::new();
    let config = command
        .get_arguments()
        .find(|arg| arg.get_id() == CONFIG_ARG)
        .expect("serve has --config");
    for arg in config_layers::settings(&command).chain([config]) {
        let long = arg.get_long().expect("settings have a long flag");
        let env = arg
            .get_env()
            .unwrap_or_else(|| panic!("--{long} has no environment variable"));
        let key = if arg.get_id() == CONFIG_ARG {
            NONE.to_owned()
        } else {
            code(&config_layers::toml_key(arg.get_id().as_str()))
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if defaults.is_empty() {
            String::new()
        } else {
            code(&defaults.join(","))
        };
        rows.insert(
            code(&format!("--{long}")),
            [code(&env.to_string_lossy()), key, default],
        );
    }
    for key in FILE_ONLY_KEYS {
        rows.insert(code(key), [NONE.to_owned(), code(key), String::new()]);
    }
    rows
}

/// The rows of the README table, with each row's meaning.
fn documented_rows() -> (Rows, Vec<String>) {
    let readme = include_str!("../../README.md");
    let start = readme.find(BEGIN).expect("README has the settings markers") + BEGIN.len();
    let end = readme.find(END).expect("README closes the settings table");
    let mut rows = Rows::new();
    let mut empty_meanings = Vec::new();
    for line in readme[start..end].lines().skip(3) {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect();
        let [flag, env, key, default, meaning] = cells.as_slice() else {
            panic!("a settings row has five cells: {line}");
        };
        let name = if flag == NONE { key } else { flag };
        if meaning.is_empty() {
            empty_meanings.push(name.clone());
        }
        rows.insert(name.clone(), [env.clone(), key.clone(), default.clone()]);
    }
    (rows, empty_meanings)
}

#[test]
fn the_readme_settings_table_has_one_current_row_per_setting() {
    let expected = expected_rows();
    let (documented, empty_meanings) = documented_rows();
    let missing: Vec<&String> = expected
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    let stale: Vec<&String> = documented
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "settings without a README row: {missing:?}"
    );
    assert!(stale.is_empty(), "README rows of no setting: {stale:?}");
    assert!(
        empty_meanings.is_empty(),
        "rows without a meaning: {empty_meanings:?}"
    );
    for (name, [env, key, default]) in &expected {
        let [doc_env, doc_key, doc_default] = &documented[name];
        assert_eq!(
            (doc_env, doc_key),
            (env, key),
            "env var and TOML key of {name}"
        );
        if default.is_empty() {
            assert!(
                !doc_default.starts_with('`'),
                "{name} has no default in the code, but the README shows {doc_default}"
            );
        } else {
            assert_eq!(doc_default, default, "default of {name}");
        }
    }
}

#[test]
fn every_setting_has_a_flag_an_env_var_and_a_distinct_toml_key() {
    let command = serve_command();
    let mut keys: Vec<String> = config_layers::settings(&command)
        .map(|arg| {
            assert!(arg.get_env().is_some(), "{:?} has no env var", arg.get_id());
            config_layers::toml_key(arg.get_id().as_str())
        })
        .collect();
    let count = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), count, "two settings share a TOML key");
    assert!(keys.iter().all(|k| !FILE_ONLY_KEYS.contains(&k.as_str())));
}
