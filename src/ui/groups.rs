//! The groups page (`/ui`) and a group's hooks (`/ui/groups/{g}`): what the signed-in client
//! may read, with each hook's last-fire health, failing first, searchable and paged.
//!
//! A hook is listed when the client may read its definition (the API's getHookDefinition
//! scope), and a group when it holds such a hook; a hook's health needs its getHookStatus
//! scope and reads "unknown" without it.

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
    hooks: usize,
    failing: usize,
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

/// Each readable hook with its health, failing first, then by name.
async fn rows(state: &ApiState, caller: &Caller, records: Vec<HookRecord>) -> Vec<HookRow> {
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

fn matches(row: &HookRow, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty()
        || row.group.to_lowercase().contains(&q)
        || row.id.to_lowercase().contains(&q)
        || row.name.to_lowercase().contains(&q)
}

fn query(req: &HttpRequest) -> ListQuery {
    web::Query::<ListQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

/// `GET /ui?q=&page=`: the groups with their hook counts, groups with failing hooks first.
pub async fn groups(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<actix_web::HttpResponse, UiError> {
    let query = query(&req);
    let records = hooks::readable(&state, &session.caller, None).await?;
    let hooks = rows(&state, &session.caller, records).await;
    let mut groups: Vec<GroupRow> = Vec::new();
    for row in hooks.iter().filter(|r| matches(r, &query.q)) {
        match groups.iter_mut().find(|g| g.id == row.group) {
            Some(group) => {
                group.hooks += 1;
                group.failing += usize::from(row.health == Health::Failing);
            }
            None => groups.push(GroupRow {
                id: row.group.clone(),
                hooks: 1,
                failing: usize::from(row.health == Health::Failing),
            }),
        }
    }
    groups.sort_by(|a, b| b.failing.cmp(&a.failing).then_with(|| a.id.cmp(&b.id)));
    let (groups, pager) = Pager::cut(groups, query.page);
    page::ok(&GroupsPage {
        nav: session.nav(),
        q: query.q,
        groups,
        pager,
    })
}

/// `GET /ui/groups/{g}?q=&page=`: the group's readable hooks, failing first.
pub async fn group(
    state: web::Data<ApiState>,
    Signed(session): Signed,
    req: HttpRequest,
) -> Result<actix_web::HttpResponse, UiError> {
    let group = HookGroupId::parse(path_param(&req, "hookGroupId")?).map_err(ApiError::from)?;
    let query = query(&req);
    let records = hooks::readable(&state, &session.caller, Some(&group)).await?;
    let rows = rows(&state, &session.caller, records).await;
    let rows: Vec<HookRow> = rows.into_iter().filter(|r| matches(r, &query.q)).collect();
    let (hooks, pager) = Pager::cut(rows, query.page);
    page::ok(&GroupPage {
        nav: session.nav(),
        group: group.to_string(),
        q: query.q,
        hooks,
        pager,
    })
}
