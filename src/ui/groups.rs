//! The groups page (`/ui`) and a group's hooks (`/ui/groups/{g}`): what the signed-in client
//! may read, with each hook's last-fire health, failing first, searchable and paged.
//!
//! A hook is listed when the client may read its definition (the API's getHookDefinition
//! scope), and a group when it holds such a hook; a hook's health needs its getHookStatus
//! scope and reads "unknown" without it.
//!
//! The groups page reads no definition: the store counts each group's readable hooks (and
//! those matching the search) with the client's scopes as a key filter, and failing hooks are
//! found from the newest [`FAILURE_WINDOW`] failed fires across hooks (an index of failed
//! fires), each checked against its hook's last fire; groups with failing hooks come first.
//! A hook whose last fire failed before that window is not counted there, which the page says
//! when the window is full; its group's page shows it. A group's page reads that group's
//! hooks (through the hook cache) and one last fire per row it shows: hooks are paged by id
//! and the page shown is ordered failing first.

use std::collections::{HashMap, HashSet};

use actix_web::{web, HttpRequest};
use askama::Template;
use futures_util::{stream, StreamExt};
use serde::Deserialize;

use super::page::{self, Nav, UiError};
use super::session::Signed;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::path_param;
use crate::api::{fires, hooks, ApiState};
use crate::domain::{iso_time, FireRecord, HookGroupId, HookKey, HookRecord};

/// Rows on one page of a listing.
const PAGE_SIZE: usize = 50;
/// Last-fire reads in flight at once while listing.
const HEALTH_READS_IN_FLIGHT: usize = 16;
/// The newest failed fires the groups page reads to find failing hooks.
const FAILURE_WINDOW: usize = 500;

/// `?q=&page=` of both listings.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

/// A hook's health as its last fire tells it; the order is the listing's (failing first).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// The last fire failed.
    Failing,
    /// The client may not read the hook's status.
    Unknown,
    /// It never fired.
    Never,
    /// The last fire created its task.
    Ok,
}

impl Health {
    /// Its CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Ok => "ok",
            Self::Unknown | Self::Never => "",
        }
    }

    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Unknown => "unknown",
            Self::Never => "never fired",
            Self::Ok => "ok",
        }
    }
}

/// One hook of a listing.
pub struct HookRow {
    group: String,
    id: String,
    name: String,
    health: Health,
    last_fire: String,
}

/// One group of the groups page.
struct GroupRow {
    id: String,
    /// Its hooks the client may read (and that match the search).
    hooks: u64,
    /// Those whose last fire failed, among the newest [`FAILURE_WINDOW`] failed fires.
    failing: u64,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    nav: Nav,
    q: String,
    groups: Vec<GroupRow>,
    pager: Pager,
    /// The failed fires read, when that was all [`FAILURE_WINDOW`] (older ones were not).
    window_full: Option<usize>,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    nav: Nav,
    group: String,
    q: String,
    hooks: Vec<HookRow>,
    pager: Pager,
}

/// Where a listing is, for its previous/next links.
pub struct Pager {
    page: usize,
    pages: usize,
    total: usize,
}

impl Pager {
    fn cut<T>(items: Vec<T>, page: usize) -> (Vec<T>, Self) {
        let total = items.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = page.min(pages - 1);
        let shown = items
            .into_iter()
            .skip(page * PAGE_SIZE)
            .take(PAGE_SIZE)
            .collect();
        (shown, Self { page, pages, total })
    }

    fn has_previous(&self) -> bool {
        self.page > 0
    }

    fn has_next(&self) -> bool {
        self.page + 1 < self.pages
    }

    fn previous(&self) -> usize {
        self.page.saturating_sub(1)
    }

    fn next(&self) -> usize {
        self.page + 1
    }

    fn number(&self) -> usize {
        self.page + 1
    }
}

/// The rows of `records` with their health, failing first, then by group and id.
async fn rows(state: &ApiState, caller: &Caller, records: &[HookRecord]) -> Vec<HookRow> {
    let mut rows: Vec<HookRow> = stream::iter(records)
        .map(|record| async move {
            let key = record.hook.key();
            let (health, last_fire) = match fires::last_fire(state, caller, &key).await {
                Ok(Some(fire)) if fire.failure.is_some() => {
                    (Health::Failing, iso_time(fire.task_create_time))
                }
                Ok(Some(fire)) => (Health::Ok, iso_time(fire.task_create_time)),
                Ok(None) => (Health::Never, String::new()),
                Err(_) => (Health::Unknown, String::new()),
            };
            HookRow {
                group: key.group.to_string(),
                id: key.id.to_string(),
                name: record.hook.metadata.name.clone(),
                health,
                last_fire,
            }
        })
        .buffered(HEALTH_READS_IN_FLIGHT)
        .collect()
        .await;
    rows.sort_by(|a, b| (a.health, &a.group, &a.id).cmp(&(b.health, &b.group, &b.id)));
    rows
}

/// Whether `record`'s group, id or name holds the search `q`.
fn matches(record: &HookRecord, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    let key = record.hook.key();
    q.is_empty()
        || key.group.as_str().to_lowercase().contains(&q)
        || key.id.as_str().to_lowercase().contains(&q)
        || record.hook.metadata.name.to_lowercase().contains(&q)
}

/// `records` by (group, id), as the listing pages them.
fn in_order(mut records: Vec<HookRecord>) -> Vec<HookRecord> {
    records.sort_by(|a, b| {
        let (a, b) = (a.hook.key(), b.hook.key());
        (a.group.as_str(), a.id.as_str()).cmp(&(b.group.as_str(), b.id.as_str()))
    });
    records
}

fn query(req: &HttpRequest) -> ListQuery {
    web::Query::<ListQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

/// `GET /ui?q=&page=`: the groups with their readable hooks counted (those matching the
/// search, when there is one), groups with failing hooks first, then by id; paged.
pub async fn groups(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<actix_web::HttpResponse, UiError> {
    let query = query(&req);
    let caller = &session.caller;
    let counts = hooks::count_readable(&state, caller, query.q.trim()).await?;
    let (failing, window_full) = failing_per_group(&state, caller, &query.q).await?;
    let mut groups: Vec<GroupRow> = counts
        .into_iter()
        .map(|count| GroupRow {
            failing: failing.get(&count.group).copied().unwrap_or(0),
            id: count.group.to_string(),
            hooks: count.hooks,
        })
        .collect();
    // The counts come by group id; a stable sort keeps that order among equals.
    groups.sort_by_key(|g| std::cmp::Reverse(g.failing));
    let (groups, pager) = Pager::cut(groups, query.page);
    page::ok(&GroupsPage {
        nav: session.nav(),
        q: query.q,
        groups,
        pager,
        window_full: window_full.then_some(FAILURE_WINDOW),
    })
}

/// Per group, the hooks the client may read (and that match the search `q`) whose last fire
/// failed, found among the newest [`FAILURE_WINDOW`] failed fires it may see; and whether that
/// window was full.
async fn failing_per_group(
    state: &ApiState,
    caller: &Caller,
    q: &str,
) -> Result<(HashMap<HookGroupId, u64>, bool), ApiError> {
    let failed = fires::error_fires(state, caller, FAILURE_WINDOW).await?;
    let window_full = failed.len() == FAILURE_WINDOW;
    let mut seen = HashSet::new();
    // Newest first, so this keeps each hook's newest failure.
    let candidates: Vec<HookKey> = failed
        .iter()
        .map(FireRecord::key)
        .filter(|key| hooks::may_read(caller, key) && seen.insert(key.clone()))
        .collect();
    // A hook fired again since its failure may be healthy now: its last fire says.
    let still_failing: Vec<HookGroupId> = stream::iter(candidates)
        .map(|key| async move {
            let last = fires::last_fire(state, caller, &key).await.ok().flatten()?;
            last.failure.as_ref()?;
            if !q.trim().is_empty() {
                // The name is in the definition: read (through the hook cache) only for a search.
                let record = hooks::read(state, caller, &key).await.ok()?;
                matches(&record, q).then_some(())?;
            }
            Some(key.group)
        })
        .buffer_unordered(HEALTH_READS_IN_FLIGHT)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let mut per_group = HashMap::new();
    for group in still_failing {
        *per_group.entry(group).or_default() += 1;
    }
    Ok((per_group, window_full))
}

/// `GET /ui/groups/{g}?q=&page=`: the group's readable hooks by id, paged, and on the page
/// shown failing first.
pub async fn group(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<actix_web::HttpResponse, UiError> {
    let group = HookGroupId::parse(path_param(&req, "hookGroupId")?).map_err(ApiError::from)?;
    let query = query(&req);
    let records = hooks::readable(&state, &session.caller, Some(&group)).await?;
    let records: Vec<HookRecord> = in_order(records)
        .into_iter()
        .filter(|r| matches(r, &query.q))
        .collect();
    let (shown, pager) = Pager::cut(records, query.page);
    let hooks = rows(&state, &session.caller, &shown).await;
    page::ok(&GroupPage {
        nav: session.nav(),
        group: group.to_string(),
        q: query.q,
        hooks,
        pager,
    })
}
