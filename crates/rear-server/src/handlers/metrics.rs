//! `GET /metrics` (Prometheus) and the middleware that counts HTTP requests for it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::host_summary;
use crate::AppState;
use crate::auth::extract::ApiUser;
use crate::error::ApiError;
use crate::store::{HostFilter, all_hosts};

/// `GET /metrics`: per-host gauges and the server's counters, in the Prometheus text format.
/// Authenticated like the JSON API (a `read` bearer token for Prometheus).
pub async fn metrics(State(state): State<AppState>, _user: ApiUser) -> Result<Response, ApiError> {
    // Every host's gauges are exposed, so every host is read (in pages of 5,000).
    let now = state.now();
    let policy = state.stale_policy();
    let hosts: Vec<_> = all_hosts(state.store(), &HostFilter::default(), None)
        .await?
        .into_iter()
        .map(|row| host_summary(row, now, policy))
        .collect();
    let body = crate::metrics::render(&hosts, state.counters(), state.now());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// Counts every request and the time spent answering it.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    state.counters().http_request(start.elapsed());
    resp
}
