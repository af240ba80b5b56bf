//! The HTML pages of the web GUI; each needs a logged-in [`WebUser`].

use axum::extract::{Path, Query, State};
use axum::response::Html;
use rear_proto::api::HostState;
use serde::Deserialize;
use uuid::Uuid;

use super::api::SearchQuery;
use super::host_summary;
use crate::AppState;
use crate::auth::extract::WebUser;
use crate::error::{ApiError, PageError};
use crate::store::StoredReport;
use crate::web::{page, pages};

/// Query of the overview (all optional; empty values mean "no filter").
#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    /// Domain filter.
    pub domain: Option<String>,
    /// Tag filter.
    pub tag: Option<String>,
    /// State filter.
    pub state: Option<String>,
    /// Page number, from 0.
    pub page: Option<usize>,
}

/// `GET /`.
pub async fn overview(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Query(q): Query<OverviewQuery>,
) -> Result<Html<String>, PageError> {
    let st = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(HostState::parse(s).ok_or_else(|| ApiError::BadRequest {
            code: "bad_state",
            message: format!("state {s:?} is not ok, failed, stale or drifted"),
        })?),
    };
    let filter = pages::OverviewFilter {
        domain: q.domain,
        tag: q.tag.filter(|t| !t.is_empty()),
        state: st,
        page: q.page.unwrap_or(0),
    };
    // States, counts and the page come from the database: the page's cost does not grow with
    // the fleet. Counts per state are over the domain/tag selection.
    let now = state.now();
    let host_filter = crate::store::HostFilter {
        domain: filter.domain.clone(),
        tag: filter.tag.clone(),
    };
    let offset = u32::try_from(filter.page.saturating_mul(pages::PAGE_SIZE)).unwrap_or(u32::MAX);
    let page_rows = state
        .store()
        .host_page(
            &host_filter,
            &state.stale_policy().params(now),
            filter.state,
            offset,
            u32::try_from(pages::PAGE_SIZE).unwrap_or(100),
        )
        .await?;
    let hosts: Vec<_> = page_rows
        .rows
        .into_iter()
        .map(|row| host_summary(row, now, state.stale_policy()))
        .collect();
    let facets = state.store().facets().await?;
    let body = pages::overview(&hosts, &page_rows.counts, &facets, &filter, now);
    Ok(Html(page("Overview", Some(&user), &body)))
}

/// `GET /live`.
pub async fn live(
    State(state): State<AppState>,
    WebUser(user): WebUser,
) -> Result<Html<String>, PageError> {
    let recent = state.store().recent_reports(20).await?;
    Ok(Html(page(
        "Last 20",
        Some(&user),
        &pages::live(&recent, state.now()),
    )))
}

/// `GET /live/rows`: the table rows alone, for the live page's poller.
pub async fn live_rows(
    State(state): State<AppState>,
    WebUser(_user): WebUser,
) -> Result<Html<String>, PageError> {
    let recent = state.store().recent_reports(20).await?;
    Ok(Html(pages::live_rows(&recent, state.now())))
}

/// `GET /search?q=`.
pub async fn search(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>, PageError> {
    let query = q.q.unwrap_or_default();
    let hits = state.store().search(&query, 100).await?;
    Ok(Html(page(
        "Search",
        Some(&user),
        &pages::search(&query, &hits, state.now()),
    )))
}

/// How many older reports the host page looks at to find an inventory to compare with.
const PREVIOUS_INVENTORY_LOOKBACK: usize = 10;

/// `GET /hosts/{name}`.
pub async fn host(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Path(name): Path<String>,
) -> Result<Html<String>, PageError> {
    let row = state
        .store()
        .host(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no host {name}")))?;
    let now = state.now();
    let summary = host_summary(row, now, state.stale_policy());
    let reports = state.store().host_reports(&name, 200).await?;
    let latest = state.store().report(summary.last_report.report_id).await?;
    // The inventory to compare with: the newest older report that carries one (checklayout runs
    // do not collect an inventory), looking back a few reports at most.
    let mut previous = None;
    if latest
        .as_ref()
        .is_some_and(|l| !l.report.inventory.is_null())
    {
        for r in reports.iter().skip(1).take(PREVIOUS_INVENTORY_LOOKBACK) {
            if let Some(s) = state.store().report(r.report_id).await?
                && !s.report.inventory.is_null()
            {
                previous = Some(s);
                break;
            }
        }
    }
    let mut body = pages::host(&summary, &reports, latest.as_ref(), previous.as_ref(), now);
    let images = super::images::host_images(&state, &name).await?;
    body.push_str(&pages::host_images(&images, now));
    Ok(Html(page(&name, Some(&user), &body)))
}

/// Query of the diff page.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    /// Older report id.
    pub a: String,
    /// Newer report id.
    pub b: String,
}

async fn host_report(state: &AppState, host: &str, id: &str) -> Result<StoredReport, PageError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::BadRequest {
        code: "bad_id",
        message: format!("{id:?} is not a report id"),
    })?;
    match state.store().report(id).await? {
        Some(r) if r.report.hostname == host => Ok(r),
        _ => Err(ApiError::NotFound(format!("no report {id} for host {host}")).into()),
    }
}

/// `GET /hosts/{name}/diff?a=&b=`.
pub async fn diff(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Html<String>, PageError> {
    let a = host_report(&state, &name, &q.a).await?;
    let b = host_report(&state, &name, &q.b).await?;
    Ok(Html(page(
        &format!("{name} layout diff"),
        Some(&user),
        &pages::diff(&name, &a, &b),
    )))
}

/// `GET /reports/{id}`.
pub async fn report(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let uuid = Uuid::parse_str(&id).map_err(|_| ApiError::BadRequest {
        code: "bad_id",
        message: format!("{id:?} is not a report id"),
    })?;
    let r = state
        .store()
        .report(uuid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report {id}")))?;
    Ok(Html(page(
        &format!("{} {}", r.report.hostname, r.report.workflow),
        Some(&user),
        &pages::report(&r),
    )))
}
