//! The JSON API under `/api/v1` and `/healthz`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rear_proto::Report;
use rear_proto::api::{
    Health, HostList, HostState, HostSummary, IngestResponse, IngestStatus, ReportList,
    ReportSource,
};
use serde::Deserialize;
use uuid::Uuid;

use super::host_summary;
use crate::AppState;
use crate::auth::extract::{ApiUser, IngestToken};
use crate::error::ApiError;
use crate::ingest::{Incoming, Sender, ingest_report};
use crate::store::HostFilter;

/// The OpenAPI description served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /healthz`: 200 when the database answers, 503 otherwise. No authentication.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let ok = state.store().ping().await.is_ok();
    let body = Health {
        status: if ok { "ok" } else { "database unavailable" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// `POST /api/v1/reports`: stores a report sent with an ingest token. 201 when stored, 200 when
/// it was a duplicate.
pub async fn post_report(
    State(state): State<AppState>,
    IngestToken(token): IngestToken,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let body = body.map_err(|e| {
        let max = state.config().http.max_report_bytes;
        tracing::warn!(token = token.name, reason = %e, "report rejected");
        state
            .counters()
            .ingest(ReportSource::Http, crate::metrics::IngestOutcome::Error);
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "report exceeds the limit of {max} bytes (http.max_report_bytes)"
            ))
        } else {
            ApiError::BadRequest {
                code: "bad_body",
                message: e.body_text(),
            }
        }
    })?;
    let report = Report::from_json(&body).map_err(|e| {
        tracing::warn!(token = token.name, reason = %e, "report rejected");
        state
            .counters()
            .ingest(ReportSource::Http, crate::metrics::IngestOutcome::Error);
        ApiError::BadRequest {
            code: "invalid_report",
            message: e.to_string(),
        }
    })?;
    let incoming = Incoming {
        report,
        source: ReportSource::Http,
        legacy_mail: false,
    };
    let resp = ingest_report(&state, &incoming, &Sender::Token(token)).await?;
    let code = match resp.status {
        IngestStatus::Stored => StatusCode::CREATED,
        IngestStatus::Duplicate => StatusCode::OK,
    };
    Ok((code, Json(resp)))
}

/// Hosts per page of `GET /api/v1/hosts` when the request gives no `limit`.
pub const HOSTS_PAGE_DEFAULT: u32 = 500;
/// Largest page of `GET /api/v1/hosts` (a larger `limit` is cut to it).
pub const HOSTS_PAGE_MAX: u32 = 5000;

/// Query of `GET /api/v1/hosts`.
#[derive(Debug, Default, Deserialize)]
pub struct HostQuery {
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// Only this state.
    pub state: Option<HostState>,
    /// Hosts per page (default [`HOSTS_PAGE_DEFAULT`], at most [`HOSTS_PAGE_MAX`]).
    pub limit: Option<u32>,
    /// Start after this hostname (the cursor of the previous page).
    pub after: Option<String>,
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl HostQuery {
    /// The page size asked for, within 1..=[`HOSTS_PAGE_MAX`].
    fn page_size(&self) -> u32 {
        self.limit
            .unwrap_or(HOSTS_PAGE_DEFAULT)
            .clamp(1, HOSTS_PAGE_MAX)
    }

    /// Path and query of the page after `last` with the same filters and size.
    fn next_link(&self, last: &str) -> String {
        let mut url = format!(
            "/api/v1/hosts?limit={}&after={}",
            self.page_size(),
            query_value(last)
        );
        for (k, v) in [
            ("domain", self.domain.as_deref()),
            ("tag", self.tag.as_deref()),
            ("state", self.state.map(HostState::as_str)),
        ] {
            if let Some(v) = v {
                url.push_str(&format!("&{k}={}", query_value(v)));
            }
        }
        url
    }
}

/// One page of the hosts matching a query, with their state, and the link to the next page.
pub async fn list_hosts(state: &AppState, q: &HostQuery) -> Result<HostList, ApiError> {
    let filter = HostFilter {
        domain: q.domain.clone(),
        tag: q.tag.clone(),
    };
    let now = state.now();
    let policy = state.stale_policy();
    let params = policy.params(now);
    let limit = q.page_size();
    // One more than the page tells whether there is a next page.
    let mut rows = state
        .store()
        .hosts(
            &filter,
            q.state.map(|s| (s, &params)),
            q.after.as_deref().unwrap_or(""),
            limit + 1,
        )
        .await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|h| q.next_link(&h.hostname))
    } else {
        None
    };
    Ok(HostList {
        hosts: rows
            .into_iter()
            .map(|row| host_summary(row, now, policy))
            .collect(),
        next,
    })
}

/// `GET /api/v1/hosts?domain=&tag=&state=&limit=&after=`: one page of hosts by hostname; the
/// body's `next` and a `Link: <...>; rel="next"` header name the next page.
pub async fn hosts(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(q): Query<HostQuery>,
) -> Result<Response, ApiError> {
    let page = list_hosts(&state, &q).await?;
    let link = page.next.as_ref().map(|n| format!("<{n}>; rel=\"next\""));
    let mut resp = Json(page).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, link);
    }
    Ok(resp)
}

/// `GET /api/v1/hosts/{name}`.
pub async fn host(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(name): Path<String>,
) -> Result<Json<HostSummary>, ApiError> {
    let row = state
        .store()
        .host(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no host {name}")))?;
    Ok(Json(host_summary(row, state.now(), state.stale_policy())))
}

/// Query with a limit.
#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    /// At most this many (default 100, capped at 1000).
    pub limit: Option<u32>,
}

/// `GET /api/v1/hosts/{name}/reports`.
pub async fn host_reports(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(name): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<ReportList>, ApiError> {
    if state.store().host(&name).await?.is_none() {
        return Err(ApiError::NotFound(format!("no host {name}")));
    }
    let limit = q.limit.unwrap_or(100).min(1000);
    Ok(Json(ReportList {
        reports: state.store().host_reports(&name, limit).await?,
    }))
}

/// `GET /api/v1/reports`: the most recently received reports.
pub async fn recent(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(q): Query<LimitQuery>,
) -> Result<Json<ReportList>, ApiError> {
    let limit = q.limit.unwrap_or(20).min(1000);
    Ok(Json(ReportList {
        reports: state.store().recent_reports(limit).await?,
    }))
}

/// `GET /api/v1/reports/{id}`: one report in full, as it was received.
pub async fn report(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Report>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::BadRequest {
        code: "bad_id",
        message: format!("{id:?} is not a report id (UUID)"),
    })?;
    let stored = state
        .store()
        .report(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no report {id}")))?;
    Ok(Json(stored.report))
}

/// Query of `GET /api/v1/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Words that must all match.
    pub q: Option<String>,
}

/// `GET /api/v1/search?q=`: matching reports, best first.
pub async fn search(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(q): Query<SearchQuery>,
) -> Result<Json<ReportList>, ApiError> {
    let hits = state
        .store()
        .search(q.q.as_deref().unwrap_or(""), 100)
        .await?;
    Ok(Json(ReportList {
        reports: hits.into_iter().map(|h| h.report).collect(),
    }))
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi(_user: ApiUser) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
