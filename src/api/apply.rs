//! Extension: declarative apply of hook sets. `POST /apply` plans (and unless `dryRun`
//! commits) a set's hooks all at once; `GET /apply-sets/{name}` shows a set's last apply and
//! its drift. The rules are the apply service's (`crate::apply`); this file parses, checks
//! scopes and shapes the answers.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::chat_aliases;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, JsonBody};
use super::hooks::{candidate, modify_scopes, read_scope, require_owner_scopes};
use super::schemas::SchemaId;
use super::ApiState;
use crate::apply::{check_alias_templates, check_templates, ApplyRequest, Options, Planned};
use crate::domain::{ApplySetName, HookKey};

/// The body of `POST /apply`, after schema validation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplyBody {
    set: String,
    hooks: Vec<Value>,
    #[serde(default)]
    chat_aliases: Vec<Value>,
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    allow_empty: bool,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    dry_run: bool,
    source: Option<String>,
    expected_revision: Option<u64>,
}

/// The scope that applies a set, and the one that reads its status.
fn apply_scope(set: &ApplySetName) -> [String; 1] {
    [format!("hooks:apply:{set}")]
}

fn status_scope(set: &ApplySetName) -> [String; 1] {
    [format!("hooks:get-apply-set:{set}")]
}

/// `POST /apply`
pub async fn apply(
    state: web::Data<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    state.validate_body(SchemaId::ApplyRequest, &body)?;
    let body: ApplyBody = serde_json::from_value(body)
        .map_err(|e| ApiError::new(ErrorCode::InputValidationError, e.to_string()))?;
    let set = ApplySetName::parse(body.set)?;
    caller.require(&apply_scope(&set))?;
    let hooks = body
        .hooks
        .into_iter()
        .enumerate()
        .map(|(index, hook)| {
            candidate(hook)
                .map_err(|e| ApiError::new(e.code, format!("hooks[{index}]: {}", e.message)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_templates(
        hooks
            .iter()
            .map(|h| (h.key().to_string(), h.task.as_json())),
    )
    .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
    // What createHook and updateHook would require of each listed hook.
    for hook in &hooks {
        caller.require(&modify_scopes(&hook.key()))?;
        require_owner_scopes(&caller, hook)?;
    }
    let chat_aliases = body
        .chat_aliases
        .into_iter()
        .enumerate()
        .map(|(index, alias)| {
            // The request schema checked each against the alias schema, `aliasId` included.
            chat_aliases::definition(alias)
                .map_err(|e| ApiError::new(e.code, format!("chatAliases[{index}]: {}", e.message)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_alias_templates(&chat_aliases)
        .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
    // What writing each listed chat alias over its own API would require.
    for alias in &chat_aliases {
        caller.require(&chat_aliases::modify_scopes(alias))?;
    }
    let request = ApplyRequest {
        set,
        hooks,
        chat_aliases,
        options: Options {
            prune: body.prune,
            force: body.force,
        },
        allow_empty: body.allow_empty,
        source: body.source,
        expected_revision: body.expected_revision,
        applied_by: caller.client_id.clone(),
    };
    let planned = state.apply.plan(&request).await?;
    // What removeHook and removeChatAlias would require of each hook and alias it deletes.
    for key in planned.plan.deletes() {
        caller.require(&[format!("hooks:modify-hook:{key}")])?;
    }
    for key in planned.chat_aliases.deletes() {
        caller.require(&[format!("hooks:modify-chat-alias:{key}")])?;
    }
    let revision = match body.dry_run {
        true => planned.revision,
        false => state.apply.commit(&request, &planned).await?,
    };
    Ok(HttpResponse::Ok().json(answer(&request.set, &planned, revision, body.dry_run)))
}

/// The answer of `POST /apply` (`apply-response.json`).
fn answer(set: &ApplySetName, planned: &Planned, revision: u64, dry_run: bool) -> Value {
    let kept: Vec<Value> = planned.plan.kept.iter().map(key_json).collect();
    json!({
        "set": set,
        "dryRun": dry_run,
        "applied": !dry_run && revision != planned.revision,
        "previousRevision": planned.revision,
        "revision": revision,
        "changes": planned.plan.changes,
        "unchanged": planned.plan.unchanged,
        "kept": kept,
        "chatAliasChanges": planned.chat_aliases.changes,
        "chatAliasesUnchanged": planned.chat_aliases.unchanged,
        "chatAliasesKept": planned.chat_aliases.kept,
    })
}

fn key_json(key: &HookKey) -> Value {
    json!({ "hookGroupId": key.group, "hookId": key.id })
}

/// `GET /apply-sets/{name}`
pub async fn get_apply_set(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let set = ApplySetName::parse(path_param(&req, "name")?)?;
    caller.require(&status_scope(&set))?;
    let Some(status) = state.apply.status(&set).await? else {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("apply set {set} has never been applied"),
        ));
    };
    // The answer holds each hook's and alias's definition, which reading them requires.
    for hook in &status.record.hooks {
        caller.require(&read_scope(&hook.key()))?;
    }
    for alias in &status.record.chat_aliases {
        caller.require(&[format!("hooks:get-chat-alias:{}", alias.alias_id)])?;
    }
    let record = &status.record;
    let hooks: Vec<Value> = record.hooks.iter().map(|h| key_json(&h.key())).collect();
    Ok(HttpResponse::Ok().json(json!({
        "set": record.name,
        "revision": record.revision,
        "source": record.source,
        "appliedAt": crate::domain::iso_time(record.applied_at),
        "appliedBy": record.applied_by,
        "hooks": hooks,
        "drift": status.drift,
        "chatAliases": record.chat_aliases.iter().map(|a| &a.alias_id).collect::<Vec<_>>(),
        "chatAliasDrift": status.chat_alias_drift,
    })))
}
