//! Hook definitions: list groups, list, get, create, update and remove.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{ApiError, ErrorCode};
use super::extract::{path_param, HookPath, JsonBody};
use super::ApiState;
use crate::api::schemas::SchemaId;
use crate::domain::{
    Binding, Capture, Hook, HookGroupId, HookId, HookKey, HookRecord, KeyFilter, Metadata,
    MissedFires, Schedule, TriggerSchema,
};
use crate::registry::{Created, Drift};
use crate::store::GroupCount;

/// The body of createHook and updateHook, after schema validation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HookBody {
    hook_group_id: Option<String>,
    hook_id: Option<String>,
    metadata: Metadata,
    #[serde(default)]
    schedule: Vec<String>,
    task: Value,
    trigger_schema: Option<Value>,
    bindings: Option<Vec<Binding>>,
    scopes: Option<Vec<String>>,
    missed_fires: Option<MissedFires>,
    capture: Option<Capture>,
}

/// A checked request body, ready to become a hook. An update keeps the stored bindings, owner
/// scopes and missed-fire policy when the body leaves them out.
struct HookDraft {
    hook: Hook,
    bindings: Option<Vec<Binding>>,
    scopes: Option<Vec<String>>,
    missed_fires: Option<MissedFires>,
    capture: Option<Capture>,
}

impl HookDraft {
    fn parse(state: &ApiState, key: &HookKey, body: Value) -> Result<Self, ApiError> {
        state.validate_body(SchemaId::CreateHookRequest, &body)?;
        Self::from_checked(key, body)
    }

    /// [`HookDraft::parse`] for a body that already matched `create-hook-request.json`.
    fn from_checked(key: &HookKey, body: Value) -> Result<Self, ApiError> {
        let body: HookBody = serde_json::from_value(body)
            .map_err(|e| ApiError::new(ErrorCode::InputValidationError, e.to_string()))?;
        check_body_id(
            "hookGroupId",
            body.hook_group_id.as_deref(),
            key.group.as_str(),
        )?;
        check_body_id("hookId", body.hook_id.as_deref(), key.id.as_str())?;
        let trigger_schema = body
            .trigger_schema
            .unwrap_or_else(|| json!({"type": "object", "additionalProperties": false}));
        // The definition enters the domain here: parsed once, trusted from now on.
        let trigger_schema = TriggerSchema::try_from(trigger_schema)
            .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
        let schedule = Schedule::try_from(body.schedule)
            .map_err(|e| ApiError::new(ErrorCode::InputError, e.to_string()))?;
        let hook = Hook {
            hook_group_id: key.group.clone(),
            hook_id: key.id.clone(),
            metadata: body.metadata,
            schedule,
            task: body.task.into(),
            trigger_schema,
            bindings: Vec::new(),
            scopes: None,
            missed_fires: None,
            capture: None,
        };
        Ok(Self {
            hook,
            bindings: body.bindings,
            scopes: body.scopes,
            missed_fires: body.missed_fires,
            capture: body.capture,
        })
    }

    /// The hook this draft makes, over `previous` when updating.
    fn apply(&self, previous: Option<&Hook>) -> Hook {
        let mut hook = self.hook.clone();
        hook.bindings = self
            .bindings
            .clone()
            .or_else(|| previous.map(|p| p.bindings.clone()))
            .unwrap_or_default();
        hook.scopes = self
            .scopes
            .clone()
            .or_else(|| previous.and_then(|p| p.scopes.clone()));
        hook.missed_fires = self
            .missed_fires
            .or_else(|| previous.and_then(|p| p.missed_fires));
        hook.capture = self
            .capture
            .clone()
            .or_else(|| previous.and_then(|p| p.capture.clone()));
        hook
    }
}

/// A hook definition that is not stored, as `POST /render` and `hookd render` take it: a body
/// that matched `create-hook-request.json` and names its `hookGroupId` and `hookId`, which the
/// hook's role and scopes depend on.
///
/// # Errors
/// `InputValidationError` without the ids, and what createHook refuses in a definition.
pub(super) fn candidate(body: Value) -> Result<Hook, ApiError> {
    let id = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InputValidationError,
                    format!("a hook definition to render must give its {field}"),
                )
            })
    };
    let key = HookKey::new(
        HookGroupId::parse(id("hookGroupId")?)?,
        HookId::parse(id("hookId")?)?,
    );
    Ok(HookDraft::from_checked(&key, body)?.apply(None))
}

fn check_body_id(field: &str, given: Option<&str>, path: &str) -> Result<(), ApiError> {
    match given {
        Some(given) if given != path => Err(ApiError::new(
            ErrorCode::InputError,
            format!("{field} in the body ({given:?}) does not match the path ({path:?})"),
        )),
        _ => Ok(()),
    }
}

/// The scopes to create or update a hook.
/// The scope that reads a hook's definition (getHookDefinition), and so may also render it.
pub(crate) fn read_scope(key: &HookKey) -> [String; 1] {
    [format!("{READ_ACTION}{}:{}", key.group, key.id)]
}

/// getHookDefinition's scope before its key (`group:id`, see [`read_scope`]).
const READ_ACTION: &str = "hooks:get:";

pub(super) fn modify_scopes(key: &HookKey) -> [String; 2] {
    [
        format!("hooks:modify-hook:{key}"),
        format!("assume:hook-id:{key}"),
    ]
}

/// A client may only give a hook scopes it holds itself, so no one escalates through a hook.
pub(super) fn require_owner_scopes(caller: &Caller, hook: &Hook) -> Result<(), ApiError> {
    match &hook.scopes {
        Some(scopes) => caller.require(scopes),
        None => Ok(()),
    }
}

/// The extension header that lets updateHook and removeHook change a hook an apply set owns
/// (`X-Hookd-Force: true`); the set then shows the difference as drift.
pub const FORCE_HEADER: &str = "x-hookd-force";

/// Whether the request forces a change to a hook (or chat alias) an apply set owns.
pub(super) fn drift(req: &HttpRequest) -> Drift {
    let forced = req
        .headers()
        .get(FORCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if forced {
        Drift::Force
    } else {
        Drift::Refuse
    }
}

/// `GET /hooks`
pub async fn list_groups(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&["hooks:list-hooks:"])?;
    let groups = state.store.list_hook_groups().await?;
    Ok(HttpResponse::Ok().json(json!({ "groups": groups })))
}

/// `GET /hooks/{hookGroupId}`
pub async fn list_hooks(
    state: web::Data<ApiState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let group = HookGroupId::parse(path_param(&req, "hookGroupId")?)?;
    caller.require(&[format!("hooks:list-hooks:{group}")])?;
    let records = state.registry.list(&group).await?;
    if records.is_empty() {
        return Err(ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("hook group {group} has no hooks"),
        ));
    }
    let hooks: Vec<&Hook> = records.iter().map(|r| &r.hook).collect();
    Ok(HttpResponse::Ok().json(json!({ "hooks": hooks })))
}

/// Every hook the caller may read (getHookDefinition's scope), by group, in `only` that group
/// when given: what a listing for people shows, so a client with `hooks:get:a:*` sees group `a`
/// and nothing else.
///
/// # Errors
/// Store failures.
pub(crate) async fn readable(
    state: &ApiState,
    caller: &Caller,
    only: Option<&HookGroupId>,
) -> Result<Vec<HookRecord>, ApiError> {
    let groups = match only {
        Some(group) => vec![group.clone()],
        None => state.store.list_hook_groups().await?,
    };
    let mut hooks = Vec::new();
    for group in groups {
        // Through the hook cache, as listHooks reads a group.
        let records = state.registry.list(&group).await?;
        hooks.extend(
            records
                .iter()
                .filter(|r| may_read(caller, &r.hook.key()))
                .cloned(),
        );
    }
    Ok(hooks)
}

/// Per group, how many hooks the caller may read (getHookDefinition's scope) hold `search` in
/// their group, id or name: counted by the store with the caller's scopes as a key filter, so
/// the counts are exact and no definition is read. For listings for people.
///
/// # Errors
/// Store failures.
pub(crate) async fn count_readable(
    state: &ApiState,
    caller: &Caller,
    search: &str,
) -> Result<Vec<GroupCount>, ApiError> {
    let keys = KeyFilter::granted(&caller.scopes, READ_ACTION, ':');
    Ok(state.store.count_hooks(&keys, search).await?)
}

/// Whether the caller may read the hook `key`'s definition.
pub(crate) fn may_read(caller: &Caller, key: &HookKey) -> bool {
    caller.require(&read_scope(key)).is_ok()
}

/// `GET /hooks/{hookGroupId}/{hookId}`
pub async fn get_hook(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let record = read(&state, &caller, &key).await?;
    Ok(HttpResponse::Ok().json(&record.hook))
}

/// getHookDefinition's scope check and read (through the hook cache), for every way in (the
/// API and the UI).
///
/// # Errors
/// `InsufficientScopes`, `ResourceNotFound` and store failures.
pub(crate) async fn read(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
) -> Result<Arc<HookRecord>, ApiError> {
    caller.require(&read_scope(key))?;
    Ok(state.registry.definition(key).await?)
}

/// `PUT /hooks/{hookGroupId}/{hookId}`: idempotent create.
pub async fn create_hook(
    state: web::Data<ApiState>,
    HookPath(key): HookPath,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let record = create(&state, &caller, &key, body).await?;
    Ok(HttpResponse::Ok().json(&record.hook))
}

/// createHook's checks and write, for every way in.
///
/// # Errors
/// `InsufficientScopes`, what the body breaks, `RequestConflict` for a different hook of that
/// name, and store failures.
pub(crate) async fn create(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    body: Value,
) -> Result<HookRecord, ApiError> {
    caller.require(&modify_scopes(key))?;
    let hook = HookDraft::parse(state, key, body)?.apply(None);
    require_owner_scopes(caller, &hook)?;
    let (Created::New(record) | Created::Unchanged(record)) = state.registry.create(hook).await?;
    Ok(record)
}

/// `POST /hooks/{hookGroupId}/{hookId}`: update an existing hook.
pub async fn update_hook(
    state: web::Data<ApiState>,
    req: HttpRequest,
    HookPath(key): HookPath,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let record = update(&state, &caller, &key, body, drift(&req), |_| Ok(())).await?;
    Ok(HttpResponse::Ok().json(&record.hook))
}

/// updateHook's checks and write, for every way in. `expect` sees the stored definition about
/// to be replaced and may refuse it: the UI answers a concurrent edit with a conflict there.
/// `drift` says whether a hook an apply set owns may change.
///
/// # Errors
/// `InsufficientScopes`, what the body breaks, what `expect` refuses, `ResourceNotFound`, a
/// hook a set owns (unless forced) and store failures.
pub(crate) async fn update(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    body: Value,
    drift: Drift,
    expect: impl Fn(&Hook) -> Result<(), ApiError>,
) -> Result<HookRecord, ApiError> {
    caller.require(&modify_scopes(key))?;
    let draft = HookDraft::parse(state, key, body)?;
    state
        .registry
        .update_with(key, drift, |previous| {
            expect(previous)?;
            let hook = draft.apply(Some(previous));
            require_owner_scopes(caller, &hook)?;
            Ok::<_, ApiError>(hook)
        })
        .await
}

/// `DELETE /hooks/{hookGroupId}/{hookId}`: `{}` whether or not it existed.
pub async fn remove_hook(
    state: web::Data<ApiState>,
    req: HttpRequest,
    HookPath(key): HookPath,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    remove(&state, &caller, &key, drift(&req)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// removeHook's check and write, for every way in; whether the hook existed. `drift` says
/// whether a hook an apply set owns may go.
///
/// # Errors
/// `InsufficientScopes`, a hook a set owns (unless forced) and store failures.
pub(crate) async fn remove(
    state: &ApiState,
    caller: &Caller,
    key: &HookKey,
    drift: Drift,
) -> Result<bool, ApiError> {
    caller.require(&[format!("hooks:modify-hook:{key}")])?;
    Ok(state.registry.remove_with(key, drift).await?)
}
