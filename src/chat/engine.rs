//! The command engine every platform shares: one chat line in, one answer out, under the
//! speaking user's own scopes.
//!
//! Built-in commands: `help` (only what the user may run here), `whoami`, `status <hook>`,
//! `last <hook>`, `confirm <code>` and `approve <code>`. Anything else is matched against the
//! enabled aliases allowed in the room; the most literal match wins. Every command, permitted
//! or refused, is audited (target `hookd::chat::audit`: user, room, text, result).

use std::sync::Arc;

use super::confirm::{Confirmations, Pending};
use super::run::{Command, Run};
use super::speaker::Speaker;
use crate::clock::Clock;
use crate::domain::chat_alias::ConfirmationMode;
use crate::domain::chat_format::typed_parameters;
use crate::domain::{iso_time, ChatAlias, HookGroupId, HookId, HookKey, Roles, ScopeSet};
use crate::fire::FireDeps;
use chrono::Duration;

/// Fires listed by `last`.
const LAST_FIRES: usize = 5;

/// One chat line addressed to hookd.
#[derive(Debug, Clone)]
pub struct Message {
    /// Who said it.
    pub speaker: Speaker,
    /// Where (a Matrix room id, a Slack channel id).
    pub room: String,
    /// What, without the platform's command prefix.
    pub text: String,
}

/// hookd's answer to a message.
pub enum Answer {
    /// Say this, and that is all.
    Say(String),
    /// Say `ack` now, then fire and say what `run` returns.
    Fire {
        /// The acknowledgement.
        ack: String,
        /// The fire, to await after the ack is out.
        run: Box<Run>,
    },
}

/// The engine: aliases from the store, scopes from the roles, fires through the fire path.
pub struct ChatEngine {
    deps: FireDeps,
    roles: Arc<Roles>,
    clock: Arc<dyn Clock>,
    confirmations: Confirmations,
}

impl ChatEngine {
    /// An engine firing through `deps`, with chat users' scopes from `roles`.
    pub fn new(deps: FireDeps, roles: Arc<Roles>, clock: Arc<dyn Clock>) -> Self {
        Self {
            deps,
            roles,
            clock,
            confirmations: Confirmations::default(),
        }
    }

    /// Answers one message, and audits it.
    pub async fn handle(&self, message: &Message) -> Answer {
        let answer = self.answer(message).await;
        let result = match &answer {
            Answer::Say(text) | Answer::Fire { ack: text, .. } => text.as_str(),
        };
        tracing::info!(
            target: "hookd::chat::audit",
            platform = message.speaker.platform,
            user = %message.speaker.principal(),
            room = %message.room,
            text = %message.text,
            result,
            "chat command"
        );
        answer
    }

    async fn answer(&self, message: &Message) -> Answer {
        let scopes = message.speaker.scopes(&self.roles);
        let text = message.text.trim();
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        match word.to_ascii_lowercase().as_str() {
            "help" => Answer::Say(self.help(message, &scopes).await),
            "whoami" => Answer::Say(whoami(&message.speaker, &scopes)),
            "status" => Answer::Say(self.status(rest, &scopes).await),
            "last" => Answer::Say(self.last(rest, &scopes).await),
            "confirm" => {
                self.confirm(message, rest, ConfirmationMode::OwnCode, &scopes)
                    .await
            }
            "approve" => {
                self.confirm(message, rest, ConfirmationMode::Other, &scopes)
                    .await
            }
            _ => self.run_alias(message, &scopes).await,
        }
    }

    /// The enabled aliases allowed in `room`, from the store.
    async fn aliases_here(&self, room: &str) -> Result<Vec<ChatAlias>, String> {
        let records = self
            .deps
            .store
            .list_chat_aliases()
            .await
            .map_err(|_| "hookd's store is unavailable; try again later".to_owned())?;
        Ok(records
            .into_iter()
            .map(|r| r.alias)
            .filter(|a| a.enabled && a.allows_room(room))
            .collect())
    }

    async fn help(&self, message: &Message, scopes: &ScopeSet) -> String {
        let aliases = match self.aliases_here(&message.room).await {
            Ok(aliases) => aliases,
            Err(e) => return e,
        };
        let mut lines = vec![
            "hookd commands: help, whoami, status <group/hook>, last <group/hook>, \
             confirm <code>, approve <code>"
                .to_owned(),
        ];
        for alias in aliases.iter().filter(|a| may_run(scopes, a)) {
            for format in &alias.formats {
                lines.push(format!("{format} - {}", alias.description));
            }
        }
        if lines.len() == 1 {
            lines.push("You may run no aliases here.".to_owned());
        }
        lines.join("\n")
    }

    async fn status(&self, hook: &str, scopes: &ScopeSet) -> String {
        let key = match hook_key(hook) {
            Ok(key) => key,
            Err(e) => return e,
        };
        if let Some(refusal) = refuse(scopes, &format!("hooks:status:{key}")) {
            return refusal;
        }
        let store = &self.deps.store;
        let record = match store.get_hook(&key).await {
            Ok(Some(record)) => record,
            Ok(None) => return format!("hook {key} does not exist"),
            Err(_) => return "hookd's store is unavailable; try again later".to_owned(),
        };
        let last = match store.list_fires(&key, 1, None).await {
            Ok(fires) => fires.into_iter().next(),
            Err(_) => return "hookd's store is unavailable; try again later".to_owned(),
        };
        let mut text = match last {
            None => format!("hook {key}: never fired"),
            Some(fire) => format!("hook {key}: last fire {}", describe(&fire)),
        };
        if let Some(next) = record.next_scheduled_date {
            text.push_str(&format!("; next scheduled {}", iso_time(next)));
        }
        text
    }

    async fn last(&self, hook: &str, scopes: &ScopeSet) -> String {
        let key = match hook_key(hook) {
            Ok(key) => key,
            Err(e) => return e,
        };
        if let Some(refusal) = refuse(scopes, &format!("hooks:list-last-fires:{key}")) {
            return refusal;
        }
        match self.deps.store.list_fires(&key, LAST_FIRES, None).await {
            Ok(fires) if fires.is_empty() => format!("hook {key} has no fires"),
            Ok(fires) => std::iter::once(format!("last fires of hook {key}:"))
                .chain(fires.iter().map(describe))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(_) => "hookd's store is unavailable; try again later".to_owned(),
        }
    }

    async fn confirm(
        &self,
        message: &Message,
        code: &str,
        mode: ConfirmationMode,
        scopes: &ScopeSet,
    ) -> Answer {
        let principal = message.speaker.principal();
        let now = self.clock.now();
        let released =
            self.confirmations
                .release(code, mode, &principal, &message.room, now, |pending| {
                    // An approver must be someone who may run the alias themselves.
                    mode == ConfirmationMode::OwnCode || may_run(scopes, &pending.command.alias)
                });
        let pending = match released {
            Ok(pending) => pending,
            Err(e) => return Answer::Say(e.to_string()),
        };
        let approver = (mode == ConfirmationMode::Other).then_some(principal);
        self.start(pending.command, approver).await
    }

    async fn run_alias(&self, message: &Message, scopes: &ScopeSet) -> Answer {
        let aliases = match self.aliases_here(&message.room).await {
            Ok(aliases) => aliases,
            Err(e) => return Answer::Say(e),
        };
        let best = aliases
            .iter()
            .flat_map(|alias| {
                alias
                    .formats
                    .iter()
                    .filter_map(move |f| f.matches(&message.text).map(|m| (alias, m)))
            })
            .max_by_key(|(_, m)| m.literals);
        let Some((alias, matched)) = best else {
            return Answer::Say("unknown command; say `help` for what you may run".to_owned());
        };
        let missing = scopes.missing(alias.required_scopes().iter().map(String::as_str));
        if !missing.is_empty() {
            return Answer::Say(format!(
                "{} may not run {}: missing scopes {}",
                message.speaker.principal(),
                alias.alias_id,
                missing.join(", ")
            ));
        }
        let schema = match self.deps.store.get_hook(&alias.hook_key()).await {
            Ok(Some(record)) => record.hook.trigger_schema.as_json().clone(),
            Ok(None) => return Answer::Say(format!("hook {} does not exist", alias.hook_key())),
            Err(_) => return Answer::Say("hookd's store is unavailable; try again later".into()),
        };
        let command = Command {
            alias: alias.clone(),
            principal: message.speaker.principal(),
            platform: message.speaker.platform,
            room: message.room.clone(),
            text: message.text.clone(),
            parameters: typed_parameters(matched.parameters, &schema),
        };
        let confirmation = &alias.confirmation;
        if confirmation.mode == ConfirmationMode::None {
            return self.start(command, None).await;
        }
        let timeout =
            Duration::seconds(i64::try_from(confirmation.timeout_secs).unwrap_or(i64::MAX));
        let now = self.clock.now();
        let mode = confirmation.mode;
        let code = self.confirmations.park(
            Pending {
                command,
                mode,
                expires: now + timeout,
            },
            now,
        );
        let how = match mode {
            ConfirmationMode::Other => format!("another permitted user says `approve {code}`"),
            _ => format!("you say `confirm {code}`"),
        };
        Answer::Say(format!(
            "{} needs confirmation: it runs when {how} within {} s",
            alias.alias_id, confirmation.timeout_secs
        ))
    }

    async fn start(&self, command: Command, approved_by: Option<String>) -> Answer {
        match Run::prepare(&self.deps, &self.clock, command, approved_by).await {
            Ok(run) => Answer::Fire {
                ack: run.ack().await,
                run: Box::new(run),
            },
            Err(e) => Answer::Say(e.to_string()),
        }
    }
}

/// Whether a holder of `scopes` may run `alias`.
fn may_run(scopes: &ScopeSet, alias: &ChatAlias) -> bool {
    alias
        .required_scopes()
        .iter()
        .all(|scope| scopes.satisfies(scope))
}

/// A refusal when `scopes` lack `scope`.
fn refuse(scopes: &ScopeSet, scope: &str) -> Option<String> {
    (!scopes.satisfies(scope)).then(|| format!("you lack the scope {scope}"))
}

fn whoami(speaker: &Speaker, scopes: &ScopeSet) -> String {
    format!(
        "you are {}, with scopes: {}",
        speaker.principal(),
        scopes.as_slice().join(", ")
    )
}

/// `group/hook` as a hook key.
fn hook_key(text: &str) -> Result<HookKey, String> {
    let usage = || "say it as `<group>/<hook>`".to_owned();
    let (group, id) = text.split_once('/').ok_or_else(usage)?;
    Ok(HookKey::new(
        HookGroupId::parse(group).map_err(|e| e.to_string())?,
        HookId::parse(id).map_err(|e| e.to_string())?,
    ))
}

fn describe(fire: &crate::domain::FireRecord) -> String {
    let when = iso_time(fire.task_create_time);
    let by = fire.fired_by.as_str();
    match &fire.failure {
        None => format!("{when} by {by}: task {}", fire.task_id),
        Some(failure) => format!("{when} by {by}: {} ({})", failure.code, failure.message),
    }
}
