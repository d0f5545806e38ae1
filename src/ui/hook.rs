//! The hook page (`/ui/hooks/{g}/{h}`): metadata, the schedule in words with its next fire
//! times, bindings and their live status, the fire timeline, and the forms of the actions.
//!
//! The timeline pages by keyset (the API's continuation cursor), so the first page costs the
//! same with ten fires or a million; a filter by result or `firedBy` reads on through the
//! newest fires until a page is full or [`SCAN_LIMIT`] fires were read, and offers to go on
//! from there.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::page::{self, ActionResult, Nav, UiError};
use super::session::{Session, Signed};
use crate::api::error::ApiError;
use crate::api::extract::HookPath;
use crate::api::{fires, hooks, ApiState};
use crate::domain::{iso_time, FireRecord, FiredBy, HookKey, HookRecord, TaskState};

/// Fires on one page of the timeline.
const TIMELINE_PAGE: usize = 25;
/// The most fires one filtered timeline page reads.
const SCAN_LIMIT: usize = 1000;
/// The choices of the timeline's `firedBy` filter.
const FIRED_BY: [FiredBy; 5] = [
    FiredBy::Schedule,
    FiredBy::TriggerHook,
    FiredBy::TriggerHookWithToken,
    FiredBy::PulseMessage,
    FiredBy::Webhook,
];
/// How many upcoming fire times the page shows.
const UPCOMING: usize = 5;

/// `?result=&firedBy=&after=` of the timeline.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TimelineQuery {
    #[serde(default)]
    result: String,
    #[serde(default)]
    fired_by: String,
    #[serde(default)]
    after: String,
}

impl TimelineQuery {
    fn of(req: &HttpRequest) -> Self {
        web::Query::<Self>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default()
    }

    fn keeps(&self, fire: &FireRecord) -> bool {
        let result = if fire.failure.is_some() {
            "error"
        } else {
            "success"
        };
        (self.result.is_empty() || self.result == result)
            && (self.fired_by.is_empty() || self.fired_by == fire.fired_by.as_str())
    }
}

/// One fire on the timeline.
pub struct FireRow {
    fire_id: String,
    time: String,
    fired_by: &'static str,
    task_id: String,
    ok: bool,
    task_state: String,
    error_code: String,
    error: String,
}

/// A page of the timeline, also the fragment the script reloads after a trigger.
#[derive(Template)]
#[template(path = "timeline.html")]
pub struct Timeline {
    base: String,
    /// The session's CSRF token, for each fire's replay forms.
    csrf: String,
    query: TimelineQuery,
    rows: Vec<FireRow>,
    /// The `after` of the next page, when there is one.
    next: String,
    scanned_out: bool,
}

/// One schedule entry, in words.
struct ScheduleLine {
    entry: String,
    words: String,
    zone: String,
}

/// An upcoming fire time, in UTC and in the schedule's zone when it has one.
struct Upcoming {
    utc: String,
    local: String,
}

/// One field of the form generated from the trigger schema.
pub struct TriggerField {
    /// The property name.
    pub name: String,
    /// `text`, `number` or `checkbox`.
    pub input: &'static str,
    /// The schema's description, if any.
    pub description: String,
    /// Whether the schema requires it.
    pub required: bool,
}

#[derive(Template)]
#[template(path = "hook.html")]
pub struct HookPage {
    nav: Nav,
    group: String,
    id: String,
    record: HookRecord,
    task_json: String,
    trigger_schema_json: String,
    schedule: Vec<ScheduleLine>,
    upcoming: Vec<Upcoming>,
    binding_state: String,
    binding_errors: Vec<String>,
    trigger_fields: Vec<TriggerField>,
    timeline: Timeline,
    /// The outcome of the action that led here, shown at the top.
    pub result: Option<ActionResult>,
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The path of the hook's page.
pub fn hook_path(key: &HookKey) -> String {
    format!(
        "/ui/hooks/{}/{}",
        urlencode(key.group.as_str()),
        urlencode(key.id.as_str())
    )
}

/// Percent-encodes one path segment.
pub fn urlencode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Reads one timeline page, by the API's listLastFires operation and scope.
///
/// # Errors
/// `InsufficientScopes`, a bad cursor and store failures.
async fn timeline(
    state: &ApiState,
    session: &Session,
    key: &HookKey,
    query: TimelineQuery,
) -> Result<Timeline, ApiError> {
    let mut after = match query.after.as_str() {
        "" => None,
        token => Some(fires::decode_cursor(token)?),
    };
    let mut rows = Vec::new();
    let mut scanned = 0;
    let mut next = String::new();
    loop {
        let page =
            fires::fire_page(state, &session.caller, key, TIMELINE_PAGE, after.as_ref()).await?;
        scanned += page.fires.len();
        for (fire, task_state) in page.fires.iter().zip(&page.task_states) {
            if query.keeps(fire) && rows.len() < TIMELINE_PAGE {
                rows.push(fire_row(fire, *task_state));
            }
        }
        after = page.next;
        match &after {
            Some(cursor) if rows.len() < TIMELINE_PAGE && scanned < SCAN_LIMIT => {
                next = fires::encode_cursor(cursor);
            }
            Some(cursor) => {
                next = fires::encode_cursor(cursor);
                break;
            }
            None => {
                next.clear();
                break;
            }
        }
    }
    Ok(Timeline {
        base: hook_path(key),
        csrf: session.csrf.clone(),
        scanned_out: rows.len() < TIMELINE_PAGE && !next.is_empty(),
        query,
        rows,
        next,
    })
}

impl Timeline {
    /// The `firedBy` filter's choices, each with whether it is the one selected.
    fn fired_by_options(&self) -> Vec<(&'static str, bool)> {
        FIRED_BY
            .iter()
            .map(|by| (by.as_str(), self.query.fired_by == by.as_str()))
            .collect()
    }
}

fn fire_row(fire: &FireRecord, task_state: Option<TaskState>) -> FireRow {
    let (error_code, error) = fire
        .failure
        .as_ref()
        .map(|f| (f.code.clone(), f.message.clone()))
        .unwrap_or_default();
    FireRow {
        fire_id: fire.fire_id.to_string(),
        time: iso_time(fire.task_create_time),
        fired_by: fire.fired_by.as_str(),
        task_id: fire.task_id.to_string(),
        ok: fire.failure.is_none(),
        task_state: task_state
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned()),
        error_code,
        error,
    }
}

fn schedule_lines(record: &HookRecord) -> Vec<ScheduleLine> {
    record
        .hook
        .schedule
        .entries()
        .iter()
        .zip(record.hook.schedule.in_words())
        .map(|(entry, (words, zone))| ScheduleLine {
            entry: entry.clone(),
            words,
            zone: zone.map_or_else(|| "UTC".to_owned(), |z| z.name().to_owned()),
        })
        .collect()
}

/// The next fire times from `now`, starting at the slot the scheduler fires next.
fn upcoming(state: &ApiState, record: &HookRecord, now: DateTime<Utc>) -> Vec<Upcoming> {
    let zones: Vec<_> = record
        .hook
        .schedule
        .in_words()
        .into_iter()
        .map(|(_, z)| z)
        .collect();
    // A local time is shown when every entry reads in the same zone; mixed zones stay in UTC.
    let zone = match zones.first() {
        Some(Some(first)) if zones.iter().all(|z| *z == Some(*first)) => Some(*first),
        _ => None,
    };
    let mut times = Vec::new();
    let mut next = fires::next_scheduled_date(state, record);
    while let Some(time) = next.filter(|_| times.len() < UPCOMING) {
        times.push(Upcoming {
            utc: time.format("%a %Y-%m-%d %H:%M:%S UTC").to_string(),
            local: zone.map_or_else(String::new, |z| {
                format!(
                    "{} ({})",
                    time.with_timezone(&z).format("%a %Y-%m-%d %H:%M:%S %Z"),
                    z.name()
                )
            }),
        });
        next = record.hook.schedule.next_after(time.max(now));
    }
    times
}

/// The generated form's fields: the trigger schema's top-level properties of plain types.
fn trigger_fields(schema: &Value) -> Vec<TriggerField> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| TriggerField {
            name: name.clone(),
            input: match property.get("type").and_then(Value::as_str) {
                Some("integer" | "number") => "number",
                Some("boolean") => "checkbox",
                _ => "text",
            },
            description: property
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            required: required.contains(&name.as_str()),
        })
        .collect()
}

/// Builds the hook page for the session, by the API's operations and scopes.
///
/// # Errors
/// What reading the hook or its fires is refused with.
pub async fn view(
    state: &ApiState,
    session: &Session,
    key: &HookKey,
    query: TimelineQuery,
) -> Result<HookPage, ApiError> {
    let record = hooks::read(state, &session.caller, key).await?;
    let timeline = timeline(state, session, key, query).await?;
    let binding = fires::binding_status(state, &record);
    let trigger_schema = record.hook.trigger_schema.as_json().clone();
    Ok(HookPage {
        nav: session.nav(),
        group: key.group.to_string(),
        id: key.id.to_string(),
        task_json: pretty(&record.hook.task),
        trigger_schema_json: pretty(&trigger_schema),
        schedule: schedule_lines(&record),
        upcoming: upcoming(state, &record, state.clock.now()),
        binding_state: binding["state"].as_str().unwrap_or_default().to_owned(),
        binding_errors: binding["errors"]
            .as_array()
            .map(|e| e.iter().map(|e| e.to_string()).collect())
            .unwrap_or_default(),
        trigger_fields: trigger_fields(&trigger_schema),
        timeline,
        record: HookRecord::clone(&record),
        result: None,
    })
}

/// `GET /ui/hooks/{g}/{h}?result=&firedBy=&after=`
pub async fn hook(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    HookPath(key): HookPath,
    req: HttpRequest,
) -> Result<HttpResponse, UiError> {
    let page = view(&state, &session, &key, TimelineQuery::of(&req)).await?;
    page::ok(&page)
}

/// `GET /ui/hooks/{g}/{h}/timeline?...`: the timeline alone, which the script reloads.
pub async fn timeline_fragment(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    HookPath(key): HookPath,
    req: HttpRequest,
) -> Result<HttpResponse, UiError> {
    let timeline = timeline(&state, &session, &key, TimelineQuery::of(&req)).await?;
    page::ok(&timeline)
}

impl HookPage {
    /// The page with `result` shown at its top.
    pub fn with(mut self, result: ActionResult) -> Self {
        self.result = Some(result);
        self
    }

    fn csrf(&self) -> &str {
        &self.nav.csrf
    }

    fn base(&self) -> &str {
        &self.timeline.base
    }
}
