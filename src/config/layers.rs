//! Configuration layering: one TOML file, then `HOOKD_*` environment variables, then flags,
//! each layer overriding the one before it.
//!
//! Every option of `hookd serve` ([`ServeArgs`](crate::config::ServeArgs)) is a setting with a
//! flag, an environment variable (clap's `env`) and a TOML key (its name in camelCase, see
//! [`toml_key`]), so adding a setting is a one-place change: a new field. The file's values enter
//! clap as the *defaults* of a second parse. Clap's own precedence (flag, then environment,
//! then default) then gives flag > env > file > built-in default, and the same value parsers
//! check every layer. What this module leaves to others: reading the file
//! ([`ConfigFile`](crate::config::ConfigFile), whose clients and roles travel on in
//! [`Layered::file`]) and validating the combination
//! ([`Settings::load`](crate::config::Settings::load)).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::error::ConfigError;
use super::file::{ConfigFile, FileLists};

/// Id of the option naming the config file; it has no TOML key of its own.
pub const CONFIG_ARG: &str = "config";

/// A parsed command line with the config file's values applied.
#[derive(Debug, Clone)]
pub struct Layered {
    /// Matches of the whole command line, for `FromArgMatches`.
    pub matches: ArgMatches,
    /// The innermost subcommand, as declared: its settings in order.
    pub leaf: Command,
    /// Matches of that subcommand.
    pub leaf_matches: ArgMatches,
    /// Ids of the settings whose value came from the file.
    pub from_file: BTreeSet<String>,
    /// The config file, when one was named.
    pub file: Option<ConfigFile>,
}

impl Layered {
    /// The file's clients and roles; none without a file.
    pub fn file_lists(&self) -> FileLists {
        self.file
            .as_ref()
            .map(|file| file.lists.clone())
            .unwrap_or_default()
    }

    /// Where the value of setting `id` came from.
    pub fn source(&self, id: &str) -> Source {
        match self.leaf_matches.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) => Source::Flag,
            Some(clap::parser::ValueSource::EnvVariable) => Source::Env,
            _ if self.from_file.contains(id) => Source::File,
            Some(_) => Source::Default,
            None => Source::Unset,
        }
    }
}

/// The layer a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// A `HOOKD_*` environment variable.
    Env,
    /// The TOML config file.
    File,
    /// The built-in default.
    Default,
    /// No layer set it and it has no default.
    Unset,
}

impl Source {
    /// The word `hookd config check` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Env => "env",
            Self::File => "file",
            Self::Default => "default",
            Self::Unset => "unset",
        }
    }
}

/// The TOML key of the setting with clap id `id`: `data_dir` is `dataDir`.
pub fn toml_key(id: &str) -> String {
    let mut key = String::with_capacity(id.len());
    let mut upper = false;
    for c in id.chars() {
        match c {
            '_' | '-' => upper = true,
            c if upper => {
                key.extend(c.to_uppercase());
                upper = false;
            }
            c => key.push(c),
        }
    }
    key
}

/// The options of `command` that are settings: every long option but `--help`, `--version`
/// and `--config`.
pub fn settings(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| {
        let id = arg.get_id().as_str();
        arg.get_long().is_some() && !matches!(id, "help" | "version" | CONFIG_ARG)
    })
}

/// Parses `argv` against `command`; when the innermost subcommand has a `--config` option and
/// a file is named (flag or `HOOKD_CONFIG`), parses again with the file's values as defaults.
///
/// # Errors
/// [`ConfigError::Command`] for a bad command line; the file's read, parse, unknown-key and
/// bad-value errors.
pub fn parse<I, T>(command: Command, argv: I) -> Result<Layered, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let first = command.clone().try_get_matches_from(&argv)?;
    let path = subcommand_path(&first);
    let leaf_matches = leaf_of(&first, &path);
    let config = leaf_matches
        .try_get_one::<PathBuf>(CONFIG_ARG)
        .ok()
        .flatten()
        .cloned();
    let Some(config) = config else {
        let leaf = leaf_command(&command, &path);
        let leaf_matches = leaf_matches.clone();
        return Ok(Layered {
            matches: first,
            leaf,
            leaf_matches,
            from_file: BTreeSet::new(),
            file: None,
        });
    };
    let file = ConfigFile::read(&config)?;
    let leaf = leaf_command(&command, &path);
    let defaults = file_defaults(&leaf, &file.settings, &file.path)?;
    let from_file = defaults.iter().map(|(id, _)| id.clone()).collect();
    // The mutated command lists the file's settings last; `leaf` keeps the declared order.
    let command = with_defaults(command, &path, &defaults);
    let matches = command.try_get_matches_from(&argv)?;
    let leaf_matches = leaf_of(&matches, &path).clone();
    Ok(Layered {
        leaf,
        matches,
        leaf_matches,
        from_file,
        file: Some(file),
    })
}

/// Names of the subcommands on the command line, outermost first.
fn subcommand_path(matches: &ArgMatches) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        path.push(name.to_owned());
        current = sub;
    }
    path
}

fn leaf_of<'m>(matches: &'m ArgMatches, path: &[String]) -> &'m ArgMatches {
    path.iter()
        .fold(matches, |m, name| m.subcommand_matches(name).unwrap_or(m))
}

fn leaf_command(command: &Command, path: &[String]) -> Command {
    path.iter()
        .fold(command, |c, name| c.find_subcommand(name).unwrap_or(c))
        .clone()
}

/// `command` with the innermost subcommand's settings defaulting to the file's values.
fn with_defaults(command: Command, path: &[String], defaults: &[(String, Vec<String>)]) -> Command {
    match path.split_first() {
        Some((name, rest)) => {
            command.mut_subcommand(name, |sub| with_defaults(sub, rest, defaults))
        }
        None => defaults.iter().fold(command, |command, (id, values)| {
            command.mut_arg(id, |arg| arg.default_values(values))
        }),
    }
}

/// The file's settings as (clap id, values) pairs, each value checked by the setting's own
/// parser so that a bad one is reported with the file and key that hold it.
fn file_defaults(
    leaf: &Command,
    table: &toml::Table,
    path: &Path,
) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let mut defaults = Vec::new();
    for (key, value) in table {
        let arg = settings(leaf)
            .find(|arg| toml_key(arg.get_id().as_str()) == *key)
            .ok_or_else(|| ConfigError::UnknownKey {
                path: path.to_owned(),
                key: key.clone(),
            })?;
        let bad = |message: String| ConfigError::BadValue {
            path: path.to_owned(),
            key: key.clone(),
            message,
        };
        let values = scalars(arg, value).map_err(bad)?;
        check_values(arg, &values).map_err(|e| bad(clap_reason(&e)))?;
        defaults.push((arg.get_id().as_str().to_owned(), values));
    }
    Ok(defaults)
}

/// Runs `values` through the setting's own value parser, on a command holding only that
/// option (so that its relations to other options and its env var play no part).
fn check_values(arg: &Arg, values: &[String]) -> Result<(), clap::Error> {
    let id = arg.get_id().as_str().to_owned();
    let long = arg.get_long().unwrap_or(&id).to_owned();
    let probe = Arg::new(id)
        .long(long.clone())
        .action(ArgAction::Append)
        .value_parser(arg.get_value_parser().clone());
    let argv = values
        .iter()
        .map(|v| OsString::from(format!("--{long}={v}")));
    Command::new("hookd")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from(argv)
        .map(drop)
}

/// A TOML value as the texts clap would read: one for a scalar, one per item for a list
/// setting (an array, or a string split at the setting's delimiter).
fn scalars(arg: &Arg, value: &toml::Value) -> Result<Vec<String>, String> {
    let is_list = matches!(arg.get_action(), ArgAction::Append);
    let values = match value {
        toml::Value::Array(items) if is_list => {
            items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?
        }
        toml::Value::String(text) if is_list => match arg.get_value_delimiter() {
            Some(delimiter) => text.split(delimiter).map(str::to_owned).collect(),
            None => vec![text.clone()],
        },
        value => vec![scalar(value)?],
    };
    Ok(values)
}

fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string, number or boolean, found {}",
            other.type_str()
        )),
    }
}

/// Clap's reason without its `error:` prefix and usage hint.
fn clap_reason(error: &clap::Error) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_are_the_ids_in_camel_case() {
        assert_eq!(toml_key("listen"), "listen");
        assert_eq!(toml_key("data_dir"), "dataDir");
        assert_eq!(
            toml_key("webhook_secret_grace_secs"),
            "webhookSecretGraceSecs"
        );
    }
}
