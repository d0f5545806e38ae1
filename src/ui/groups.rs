//! The groups page (`/ui`) and a group's hooks (`/ui/groups/{g}`): what the signed-in client
//! may read, with each hook's last-fire health, failing first, searchable and paged.
//!
//! A hook is listed when the client may read its definition (the API's getHookDefinition
//! scope), and a group when it holds such a hook; a hook's health needs its getHookStatus
//! scope and reads "unknown" without it.
//!
//! Health costs one last-fire read per hook, so a view reads it only for the rows it shows:
//! a group's hooks are paged by (group, id) and the page shown is ordered failing first; the
//! groups page counts failing hooks for the groups it shows, at most [`HEALTH_READS`] hooks in
//! all, and says "not checked" for a group past that. A failing hook on a later page does not
//! move to the first: the price of pages that cost the same with 100 or 100,000 hooks.

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
use crate::domain::{iso_time, HookGroupId, HookRecord};

/// Rows on one page of a listing.
const PAGE_SIZE: usize = 50;
/// Last-fire reads in flight at once while listing.
const HEALTH_READS_IN_FLIGHT: usize = 16;
/// The most last-fire reads one view of the groups page makes.
pub const HEALTH_READS: usize = 500;

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
    hooks: Vec<HookRecord>,
    /// Its failing hooks, when their health was read (within [`HEALTH_READS`]).
    failing: Option<usize>,
}

impl GroupRow {
    fn count(&self) -> usize {
        self.hooks.len()
    }

    fn is_failing(&self) -> bool {
        self.failing.is_some_and(|n| n > 0)
    }
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    nav: Nav,
    q: String,
    groups: Vec<GroupRow>,
    pager: Pager,
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

/// `records` by (group, id), as the listings page them.
pub fn in_order(mut records: Vec<HookRecord>) -> Vec<HookRecord> {
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

/// `GET /ui?q=&page=`: the groups with their hook counts by id, paged, and on the page shown
/// those with failing hooks first.
pub async fn groups(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<actix_web::HttpResponse, UiError> {
    let query = query(&req);
    let records = hooks::readable(&state, &session.caller, None).await?;
    let mut groups: Vec<GroupRow> = Vec::new();
    for record in in_order(records) {
        if !matches(&record, &query.q) {
            continue;
        }
        let group = record.hook.key().group.to_string();
        match groups.last_mut() {
            Some(last) if last.id == group => last.hooks.push(record),
            _ => groups.push(GroupRow {
                id: group,
                hooks: vec![record],
                failing: None,
            }),
        }
    }
    let (mut groups, pager) = Pager::cut(groups, query.page);
    let mut budget = HEALTH_READS;
    for group in &mut groups {
        if group.count() > budget {
            continue;
        }
        budget -= group.count();
        let rows = rows(&state, &session.caller, &group.hooks).await;
        group.failing = Some(rows.iter().filter(|r| r.health == Health::Failing).count());
    }
    // Failing first among the groups shown; unchecked ones after those known to fail.
    groups.sort_by_key(|g| {
        (
            std::cmp::Reverse(g.failing.unwrap_or(0)),
            g.failing.is_none(),
        )
    });
    page::ok(&GroupsPage {
        nav: session.nav(),
        q: query.q,
        groups,
        pager,
    })
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
