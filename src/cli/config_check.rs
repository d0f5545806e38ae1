//! `hookd config check`: the effective configuration after layering, as TOML that hookd reads
//! back, each line saying which layer set it, with every secret redacted.
//!
//! A setting is secret when its clap option hides its environment value (`hide_env_values`):
//! the one marker that also keeps it out of `--help`. Secret values print as [`REDACTED`]; a
//! secret URL keeps its scheme, user and hosts, so the operator still sees where it points. Any
//! other value that is a URL with a password has the password redacted too (e.g. an
//! `amqp://user:password@...` task queue). Validation is [`Settings::load`]'s job, not this
//! module's.
//!
//! [`Settings::load`]: crate::config::Settings::load

use std::fmt::Write as _;

use crate::config::layers::{self as config_layers, Layered, Source};

/// What a redacted value (or part of one) prints as.
pub const REDACTED: &str = "<redacted>";

/// The effective configuration as commented TOML.
pub fn render(layered: &Layered) -> String {
    let mut out =
        String::from("# hookd: effective configuration (file < env < flag), secrets redacted.\n");
    if let Some(path) = layered
        .leaf_matches
        .try_get_one::<std::path::PathBuf>(config_layers::CONFIG_ARG)
        .ok()
        .flatten()
    {
        let _ = writeln!(out, "# config file: {}", path.display());
    }
    for arg in config_layers::settings(&layered.leaf) {
        let id = arg.get_id().as_str();
        let key = config_layers::toml_key(id);
        let source = layered.source(id);
        let values: Vec<String> = layered
            .leaf_matches
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let secret = arg.is_hide_env_values_set();
        let shown: Vec<String> = values.iter().map(|v| redact(v, secret)).collect();
        let line = match (source, shown.as_slice()) {
            (Source::Unset, _) | (_, []) => format!("# {key} =  # unset"),
            (_, [one]) if !matches!(arg.get_action(), clap::ArgAction::Append) => {
                format!("{key} = {}  # {}", toml_scalar(one), source.as_str())
            }
            (_, many) => {
                let items: Vec<String> = many.iter().map(|v| toml_scalar(v)).collect();
                format!("{key} = [{}]  # {}", items.join(", "), source.as_str())
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    let file = layered.file_lists();
    let clients: Vec<&str> = file.clients.iter().map(|c| c.client_id.as_str()).collect();
    let roles: Vec<&str> = file.roles.iter().map(|r| r.role_id.as_str()).collect();
    let _ = writeln!(out, "# clients from the file: {}", list_or_none(&clients));
    let _ = writeln!(out, "# roles from the file: {}", list_or_none(&roles));
    out
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// A value as TOML: numbers and booleans bare, everything else a quoted string.
fn toml_scalar(value: &str) -> String {
    if value.parse::<i64>().is_ok() || value == "true" || value == "false" {
        value.to_owned()
    } else {
        toml::Value::String(value.to_owned()).to_string()
    }
}

/// `value` with its secrets replaced by [`REDACTED`]: all of it for a secret setting (but a
/// URL's scheme, user and hosts), and a URL's password for any setting.
pub fn redact(value: &str, secret: bool) -> String {
    match (split_url(value), secret) {
        (Some(url), true) => {
            let user = url
                .user
                .map(|u| format!("{u}:{REDACTED}@"))
                .unwrap_or_default();
            let rest = if url.rest.trim_start_matches('/').is_empty() {
                String::new()
            } else {
                format!("/{REDACTED}")
            };
            format!("{}://{user}{}{rest}", url.scheme, url.hosts)
        }
        (None, true) => REDACTED.to_owned(),
        (Some(url), false) if url.has_password => {
            let user = url.user.unwrap_or_default();
            format!(
                "{}://{user}:{REDACTED}@{}{}",
                url.scheme, url.hosts, url.rest
            )
        }
        (_, false) => value.to_owned(),
    }
}

/// The parts of `scheme://[user[:password]@]hosts[/...]` that redaction needs. Written by
/// hand because MongoDB URIs may list several hosts, which general URL parsers refuse.
struct UrlParts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    has_password: bool,
    hosts: &'a str,
    /// Path, query and fragment, with their leading `/`, `?` or `#`.
    rest: &'a str,
}

fn split_url(value: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = value.split_once("://")?;
    let is_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let (user, has_password) = match userinfo.map(|u| u.split_once(':')) {
        Some(Some((user, _password))) => (Some(user), true),
        Some(None) => (userinfo, false),
        None => (None, false),
    };
    Some(UrlParts {
        scheme,
        user,
        has_password,
        hosts,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_urls_keep_scheme_user_and_hosts_only() {
        assert_eq!(
            redact(
                "mongodb://app:pw@db1:27017,db2:27017/hookd?authSource=x",
                true
            ),
            "mongodb://app:<redacted>@db1:27017,db2:27017/<redacted>"
        );
        assert_eq!(
            redact("https://hooks.slack.example/services/T0/B0/xyz", true),
            "https://hooks.slack.example/<redacted>"
        );
        assert_eq!(redact("whsec_c2VjcmV0", true), REDACTED);
        assert_eq!(redact("smtp://mail:25", true), "smtp://mail:25");
    }

    #[test]
    fn other_values_lose_only_a_url_password() {
        assert_eq!(
            redact("amqp://u:p@broker:5672/%2f", false),
            "amqp://u:<redacted>@broker:5672/%2f"
        );
        assert_eq!(redact("amqp://broker/%2f", false), "amqp://broker/%2f");
        assert_eq!(redact("local", false), "local");
    }
}
