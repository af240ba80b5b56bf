//! `GET /metrics` (Prometheus) and the middleware that counts HTTP requests for it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::{HostQuery, list_hosts};
use crate::AppState;
use crate::auth::extract::ApiUser;
use crate::error::ApiError;

/// `GET /metrics`: per-host gauges and the server's counters, in the Prometheus text format.
/// Authenticated like the JSON API (a `read` bearer token for Prometheus).
pub async fn metrics(State(state): State<AppState>, _user: ApiUser) -> Result<Response, ApiError> {
    let hosts = list_hosts(
        &state,
        &HostQuery {
            domain: None,
            tag: None,
            state: None,
        },
    )
    .await?;
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
