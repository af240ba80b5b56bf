//! Row mapping shared by the SQLite and PostgreSQL stores: both select the same columns with the
//! same types (text, 64-bit integers, booleans), so one generic function per row type serves
//! both backends.

use rear_proto::api::{ReportSource, ReportSummary};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use super::{
    HostRow, ImageRow, Role, StoreError, StoreResult, TokenRow, TokenScope, UserRow, from_millis,
};

/// Columns of `reports` that make a [`ReportSummary`], prefixed with `r.`.
pub(super) const SUMMARY_COLS: &str = "r.report_id, r.hostname, r.workflow, r.success, r.error, r.started_at, \
     r.duration_ms, r.received_at, r.source, r.rear_version, r.legacy_mail";

/// A [`ReportSummary`] from the [`SUMMARY_COLS`] of a row.
pub(super) fn summary_from_row<R>(row: &R) -> StoreResult<ReportSummary>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("report_id")?;
    let source: String = row.try_get("source")?;
    Ok(ReportSummary {
        report_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("{id}: {e}")))?,
        hostname: row.try_get("hostname")?,
        workflow: row.try_get("workflow")?,
        success: row.try_get("success")?,
        error: row.try_get("error")?,
        started_at: from_millis(row.try_get("started_at")?)?,
        duration_ms: u64::try_from(row.try_get::<i64, _>("duration_ms")?).unwrap_or(0),
        received_at: from_millis(row.try_get("received_at")?)?,
        source: ReportSource::parse(&source)
            .ok_or_else(|| StoreError::Corrupt(format!("source {source}")))?,
        rear_version: row.try_get("rear_version")?,
        legacy_mail: row.try_get("legacy_mail")?,
    })
}

/// A [`HostRow`] from a row of [`host_select`].
pub(super) fn host_from_row<R>(row: &R) -> StoreResult<HostRow>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let tags: String = row.try_get("tags")?;
    Ok(HostRow {
        hostname: row.try_get("h_hostname")?,
        domain: row.try_get("domain")?,
        tags: serde_json::from_str(&tags).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        os: row.try_get("os")?,
        report_count: u64::try_from(row.try_get::<i64, _>("report_count")?).unwrap_or(0),
        last: summary_from_row(row)?,
        last_rescue_at: row
            .try_get::<Option<i64>, _>("last_rescue_at")?
            .map(from_millis)
            .transpose()?,
        last_backup_at: row
            .try_get::<Option<i64>, _>("last_backup_at")?
            .map(from_millis)
            .transpose()?,
        last_success_at: row
            .try_get::<Option<i64>, _>("last_success_at")?
            .map(from_millis)
            .transpose()?,
        layout_sha: row.try_get("layout_sha")?,
        rescue_layout_sha: row.try_get("rescue_layout_sha")?,
        backup_bytes: row
            .try_get::<Option<i64>, _>("backup_bytes")?
            .map(|b| u64::try_from(b).unwrap_or(0)),
    })
}

/// Hosts joined with their last report, for [`host_from_row`].
pub(super) fn host_select() -> String {
    format!(
        "SELECT h.hostname AS h_hostname, h.domain, h.tags, h.os, h.report_count, \
         h.last_rescue_at, h.last_backup_at, h.last_success_at, h.layout_sha, \
         h.rescue_layout_sha, h.backup_bytes, {SUMMARY_COLS} \
         FROM hosts h JOIN reports r ON r.seq = h.last_seq"
    )
}

/// An `images` row (`hostname, sha256, name, size, uploaded_at`).
pub(super) fn image_from_row<R>(row: &R) -> StoreResult<ImageRow>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let size: i64 = row.try_get("size")?;
    Ok(ImageRow {
        hostname: row.try_get("hostname")?,
        sha256: row.try_get("sha256")?,
        name: row.try_get("name")?,
        size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("image size {size}")))?,
        uploaded_at: from_millis(row.try_get("uploaded_at")?)?,
    })
}

/// A `users` row (`name, password_hash, role`).
pub(super) fn user_from_row<R>(row: &R) -> StoreResult<UserRow>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let role: String = row.try_get("role")?;
    Ok(UserRow {
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
    })
}

/// An `api_tokens` row (`token_hash, name, scope, hostname`).
pub(super) fn token_from_row<R>(row: &R) -> StoreResult<TokenRow>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let scope: String = row.try_get("scope")?;
    let host: Option<String> = row.try_get("hostname")?;
    let scope = match (scope.as_str(), host) {
        ("host", Some(h)) => TokenScope::Host(h),
        ("site", _) => TokenScope::Site,
        ("read", _) => TokenScope::Read,
        (other, _) => return Err(StoreError::Corrupt(format!("token scope {other}"))),
    };
    Ok(TokenRow {
        token_hash: row.try_get("token_hash")?,
        name: row.try_get("name")?,
        scope,
    })
}
