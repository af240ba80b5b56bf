//! The JSON API under `/api/v1` and `/healthz`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
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

/// Query of `GET /api/v1/hosts`.
#[derive(Debug, Deserialize)]
pub struct HostQuery {
    /// Only this domain.
    pub domain: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// Only this state.
    pub state: Option<HostState>,
}

/// Hosts matching a query, with their state.
pub async fn list_hosts(state: &AppState, q: &HostQuery) -> Result<Vec<HostSummary>, ApiError> {
    let filter = HostFilter {
        domain: q.domain.clone(),
        tag: q.tag.clone(),
    };
    let now = state.now();
    let policy = state.stale_policy();
    Ok(state
        .store()
        .hosts(&filter)
        .await?
        .into_iter()
        .map(|row| host_summary(row, now, policy))
        .filter(|h| q.state.is_none_or(|s| h.state == s))
        .collect())
}

/// `GET /api/v1/hosts`.
pub async fn hosts(
    State(state): State<AppState>,
    _user: ApiUser,
    Query(q): Query<HostQuery>,
) -> Result<Json<HostList>, ApiError> {
    Ok(Json(HostList {
        hosts: list_hosts(&state, &q).await?,
    }))
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
