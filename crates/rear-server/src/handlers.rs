//! Request handlers: [`api`] (JSON), [`pages`] (HTML), [`admin`] (tokens, users), [`session`]
//! (login and logout).
//!
//! Handlers only translate between HTTP and the store/ingest layers; they authenticate through
//! the extractors of [`crate::auth::extract`] and fail with [`crate::error::ApiError`].

pub mod admin;
pub mod api;
pub mod pages;
pub mod session;

use rear_proto::api::{HostState, HostSummary};
use time::{Duration, OffsetDateTime};

use crate::store::HostRow;

/// Computes a host's state: failed if its last report failed, stale if that report is older than
/// `stale_after`, ok otherwise.
pub fn host_state(row: &HostRow, now: OffsetDateTime, stale_after: Duration) -> HostState {
    if !row.last.success {
        HostState::Failed
    } else if now - row.last.started_at > stale_after {
        HostState::Stale
    } else {
        HostState::Ok
    }
}

/// A stored host row as the API's summary.
pub fn host_summary(row: HostRow, now: OffsetDateTime, stale_after: Duration) -> HostSummary {
    let state = host_state(&row, now, stale_after);
    HostSummary {
        hostname: row.hostname,
        domain: row.domain,
        tags: row.tags,
        os: row.os,
        state,
        report_count: row.report_count,
        last_report: row.last,
        last_rescue_at: row.last_rescue_at,
        last_backup_at: row.last_backup_at,
    }
}

/// The configured stale age.
pub fn stale_after(state: &crate::AppState) -> Duration {
    Duration::hours(i64::try_from(state.config().stale_after_hours).unwrap_or(i64::MAX / 3600))
}
