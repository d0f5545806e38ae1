//! Chat aliases (extension): list, get, create, update and remove.
//!
//! Scopes in Taskcluster's style: `hooks:list-chat-aliases`, `hooks:get-chat-alias:<aliasId>`,
//! `hooks:modify-chat-alias:<aliasId>`; writing an alias also needs the trigger scope of the
//! hook it fires, so no one hands chat users a hook they could not fire themselves. An alias an
//! apply set owns is updated or removed only with `X-Hookd-Force: true`, as a hook.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, JsonBody};
use super::hooks::drift;
use super::schemas::SchemaId;
use super::ApiState;
use crate::chat::{AliasError, AliasRegistry};
use crate::domain::{ChatAlias, ChatAliasId};

fn alias_id(req: &HttpRequest) -> Result<ChatAliasId, ApiError> {
    ChatAliasId::parse(path_param(req, "aliasId")?)
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequestArguments, e.to_string()))
}

/// The alias a write body describes, checked against its schema and the path.
fn parse_body(state: &ApiState, id: &ChatAliasId, mut body: Value) -> Result<ChatAlias, ApiError> {
    state.validate_body(SchemaId::ChatAlias, &body)?;
    match body.get("aliasId").and_then(Value::as_str) {
        Some(given) if given != id.as_str() => {
            return Err(ApiError::new(
                ErrorCode::InputError,
                format!("aliasId in the body ({given:?}) does not match the path ({id:?})"),
            ))
        }
        _ => body["aliasId"] = Value::String(id.to_string()),
    }
    definition(body)
}

/// The alias `body` (valid against the alias schema, naming its `aliasId`) defines.
pub(super) fn definition(body: Value) -> Result<ChatAlias, ApiError> {
    let alias: ChatAlias = serde_json::from_value(body)
        .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
    alias
        .check()
        .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
    Ok(alias)
}

/// What writing `alias` takes: its own modify scope and the trigger scope of its hook.
pub(super) fn modify_scopes(alias: &ChatAlias) -> [String; 2] {
    [
        format!("hooks:modify-chat-alias:{}", alias.alias_id),
        format!("hooks:trigger-hook:{}", alias.hook_key()),
    ]
}

/// `GET /chat-aliases`
pub async fn list_aliases(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&["hooks:list-chat-aliases"])?;
    let records = state.store.list_chat_aliases().await?;
    let aliases: Vec<&ChatAlias> = records.iter().map(|r| &r.alias).collect();
    Ok(HttpResponse::Ok().json(json!({ "aliases": aliases })))
}

/// `GET /chat-aliases/{aliasId}`
pub async fn get_alias(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = alias_id(&req)?;
    caller.require(&[format!("hooks:get-chat-alias:{id}")])?;
    let record = state
        .store
        .get_chat_alias(&id)
        .await?
        .ok_or_else(|| AliasError::NotFound(id))?;
    Ok(HttpResponse::Ok().json(&record.alias))
}

/// `PUT /chat-aliases/{aliasId}`: idempotent create; the alias starts disabled.
pub async fn create_alias(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    write(&state, &req, &caller, body, Write::Create).await
}

/// `POST /chat-aliases/{aliasId}`: replace an existing alias (enabling or disabling it).
pub async fn update_alias(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    write(&state, &req, &caller, body, Write::Update).await
}

/// Which alias write a request makes.
enum Write {
    /// createChatAlias.
    Create,
    /// updateChatAlias.
    Update,
}

/// An alias write, once the caller may make it; answers the alias as stored.
async fn write(
    state: &ApiState,
    req: &HttpRequest,
    caller: &Caller,
    body: Value,
    how: Write,
) -> Result<HttpResponse, ApiError> {
    let alias = writable(state, req, caller, body)?;
    let registry = AliasRegistry::new(state.store.clone());
    let record = match how {
        Write::Create => registry.create(alias).await?,
        Write::Update => registry.update(alias, drift(req)).await?,
    };
    Ok(HttpResponse::Ok().json(&record.alias))
}

/// The alias a create or update writes, once the caller may write it: the alias's own scope
/// (checked before the body is read) and the trigger scope of the hook it names.
fn writable(
    state: &ApiState,
    req: &HttpRequest,
    caller: &Caller,
    body: Value,
) -> Result<ChatAlias, ApiError> {
    let id = alias_id(req)?;
    caller.require(&[format!("hooks:modify-chat-alias:{id}")])?;
    let alias = parse_body(state, &id, body)?;
    caller.require(&modify_scopes(&alias))?;
    Ok(alias)
}

/// `DELETE /chat-aliases/{aliasId}`: `{}` whether or not it existed.
pub async fn remove_alias(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = alias_id(&req)?;
    caller.require(&[format!("hooks:modify-chat-alias:{id}")])?;
    AliasRegistry::new(state.store.clone())
        .remove(&id, drift(&req))
        .await?;
    Ok(HttpResponse::Ok().json(json!({})))
}
