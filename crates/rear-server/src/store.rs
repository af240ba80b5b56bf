//! Storage of reports, hosts, users, sessions and API tokens, behind the [`Store`] trait.
//!
//! The trait speaks in domain types (`rear_proto` bodies and the rows below); each backend owns its
//! SQL and its migrations, which run in [`open`] before the server accepts anything. SQLite
//! (`sqlite:` URLs or a plain path) is the zero-setup default; PostgreSQL (`postgres:` URLs) is
//! recognised but not implemented yet and fails with a clear message.

pub mod postgres;
mod rows;
pub mod sqlite;

use async_trait::async_trait;
use rear_proto::Report;
use rear_proto::api::{HostState, IngestStatus, ReportSource, ReportSummary};
use time::OffsetDateTime;
use uuid::Uuid;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (names what).
    #[error("{0} already exists")]
    Conflict(String),
    /// The backend is not available in this build.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// Anything the database said.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("running database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database did not take the write (the batch it was in failed, or the writer stopped).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A report about to be stored, with how and when it arrived.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    /// The validated report.
    pub report: &'a Report,
    /// How it arrived.
    pub source: ReportSource,
    /// When it arrived.
    pub received_at: OffsetDateTime,
    /// Converted from a classic ReaR result mail.
    pub legacy_mail: bool,
}

/// A host with its latest report, as stored (the state is computed by the caller, who knows the
/// stale age and the current time).
#[derive(Debug, Clone)]
pub struct HostRow {
    /// Hostname (key).
    pub hostname: String,
    /// Domain of the latest report.
    pub domain: String,
    /// Tags of the latest report.
    pub tags: Vec<String>,
    /// OS of the latest report.
    pub os: String,
    /// Number of stored reports.
    pub report_count: u64,
    /// The latest report by start time.
    pub last: ReportSummary,
    /// Start of the last successful rescue-image run.
    pub last_rescue_at: Option<OffsetDateTime>,
    /// Start of the last successful backup run.
    pub last_backup_at: Option<OffsetDateTime>,
    /// Start of the newest successful report of any workflow.
    pub last_success_at: Option<OffsetDateTime>,
    /// [`layout_digest`] of the newest report that carried a layout.
    pub layout_sha: Option<String>,
    /// [`layout_digest`] of the layout in the newest successful rescue-image report.
    pub rescue_layout_sha: Option<String>,
    /// Total size of the output files of the newest successful backup report.
    pub backup_bytes: Option<u64>,
}

impl HostRow {
    /// True when the host's current layout differs from the one its last rescue image was made
    /// from (unknown, and so false, when either report carried no layout).
    pub fn drifted(&self) -> bool {
        matches!((&self.layout_sha, &self.rescue_layout_sha), (Some(a), Some(b)) if a != b)
    }
}

/// Restricts a host listing.
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    /// Only hosts of this domain (empty string = hosts without domain).
    pub domain: Option<String>,
    /// Only hosts carrying this tag.
    pub tag: Option<String>,
}

/// What the database needs to compute host states itself (the same rule as
/// [`crate::health::host_state`]).
#[derive(Debug, Clone)]
pub struct StateParams {
    /// "Now", Unix milliseconds.
    pub now_ms: i64,
    /// Expected interval of hosts without a tag of their own, milliseconds.
    pub default_ms: i64,
    /// Expected interval per tag, milliseconds.
    pub by_tag: Vec<(String, i64)>,
}

/// One page of the overview, computed in the database.
#[derive(Debug, Clone, Default)]
pub struct HostPage {
    /// Hosts of the selection per state, in the order of [`HostState::ALL`] (failed, stale,
    /// drifted, ok).
    pub counts: [u64; 4],
    /// The page: by state (most urgent first), then by hostname.
    pub rows: Vec<HostRow>,
}

/// How a backend writes its SQL placeholders: PostgreSQL `$N::TYPE`, SQLite `?N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// `$N::TYPE`.
    Postgres,
    /// `?N`.
    Sqlite,
}

/// The relation `iv (tag, ms)` of the per-tag stale intervals for a `WITH` clause: `n` rows of
/// placeholder pairs numbered from `first` (tag, then interval in ms), or an empty relation when
/// no tag has its own interval.
pub(crate) fn tag_intervals_sql(n: usize, first: usize, style: Placeholders) -> String {
    if n == 0 {
        return match style {
            Placeholders::Postgres => "SELECT NULL::TEXT AS tag, NULL::BIGINT AS ms WHERE false",
            Placeholders::Sqlite => "SELECT NULL AS tag, NULL AS ms WHERE 0",
        }
        .to_string();
    }
    let values: Vec<String> = (0..n)
        .map(|i| {
            let (t, ms) = (first + 2 * i, first + 2 * i + 1);
            match style {
                Placeholders::Postgres => format!("(${t}::TEXT, ${ms}::BIGINT)"),
                Placeholders::Sqlite => format!("(?{t}, ?{ms})"),
            }
        })
        .collect();
    format!("VALUES {}", values.join(", "))
}

/// The SQL expression (over `h` = hosts, with a CTE `iv(tag, ms)` of
/// the tag intervals) that ranks a host's state like [`HostState::ALL`]: 0 failed, 1 stale,
/// 2 drifted, 3 ok. `now` and `default` are the placeholders of the backend.
pub(crate) fn state_rank_sql(now: &str, default: &str, with_tags: bool) -> String {
    // Without per-tag intervals the correlated subquery (one per host) is left out.
    let interval = if with_tags {
        format!(
            "COALESCE((SELECT MIN(iv.ms) FROM host_tags t JOIN iv ON iv.tag = t.tag \
             WHERE t.hostname = h.hostname), {default})"
        )
    } else {
        default.to_string()
    };
    format!(
        "CASE WHEN NOT h.last_ok THEN 0 \
         WHEN h.last_success_at IS NULL OR {now} - h.last_success_at > {interval} THEN 1 \
         WHEN h.layout_sha <> h.rescue_layout_sha THEN 2 \
         ELSE 3 END"
    )
}

/// A name and how many hosts have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// Domain or tag.
    pub name: String,
    /// Number of hosts.
    pub hosts: u64,
}

/// Domain and tag counts for the overview's filters.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    /// Hosts per domain.
    pub domains: Vec<Count>,
    /// Hosts per tag.
    pub tags: Vec<Count>,
}

/// A full-text search hit.
#[derive(Debug, Clone)]
pub struct SearchHit {
    /// The matching report.
    pub report: ReportSummary,
    /// A short excerpt with the match; matched terms are between `\u{2}` and `\u{3}` (plain text).
    pub snippet: String,
}

/// A stored report with its summary.
#[derive(Debug, Clone)]
pub struct StoredReport {
    /// Summary columns.
    pub summary: ReportSummary,
    /// The full report as received.
    pub report: Report,
}

/// Password hash of users that log in through the directory: not a PHC string, so it never
/// verifies as a local password.
pub const EXTERNAL_PASSWORD: &str = "!external";

/// Role of a local user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read only.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    /// `viewer` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
        }
    }

    /// Inverse of [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A local user.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Login name.
    pub name: String,
    /// PHC string of the argon2 hash.
    pub password_hash: String,
    /// Role.
    pub role: Role,
}

/// A login session (the cookie value itself is never stored, only its SHA-256).
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Hex SHA-256 of the cookie value.
    pub token_hash: String,
    /// User it belongs to.
    pub username: String,
    /// The CSRF token forms of this session must carry.
    pub csrf: String,
    /// When it stops being valid.
    pub expires_at: OffsetDateTime,
}

/// What an API token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Send reports for one host only.
    Host(String),
    /// Send reports for any host of the site.
    Site,
    /// Read the JSON API.
    Read,
}

/// An API token (only its SHA-256 is stored).
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Name given by the admin.
    pub name: String,
    /// What it allows.
    pub scope: TokenScope,
}

/// A rescue image recorded for a host (the object itself is in [`crate::images::ImageStore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Host it was uploaded for.
    pub hostname: String,
    /// SHA-256 of the content (hex, lower case).
    pub sha256: String,
    /// File name the client gave.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub uploaded_at: OffsetDateTime,
}

/// The storage backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Stores a report unless its id is already stored.
    async fn insert_report(&self, new: &NewReport<'_>) -> StoreResult<IngestStatus>;
    /// Bulk loading only (the benchmark's prefill, imports; never an ingest path): stores the
    /// reports in one transaction with the same rows, host updates and search entries as
    /// [`Store::insert_report`], and answers when it is committed. One failing report fails the
    /// whole call. The outcomes are in the order of `reports`.
    async fn insert_reports_bulk(
        &self,
        reports: &[NewReport<'_>],
    ) -> StoreResult<Vec<IngestStatus>>;
    /// One page of the hosts matching the filter (and, when given, the state, computed in SQL by
    /// the rule of [`Store::host_page`]), by hostname: at most `limit` hosts whose name sorts
    /// after `after` (keyset paging; `""` starts at the first host).
    async fn hosts(
        &self,
        filter: &HostFilter,
        state: Option<(HostState, &StateParams)>,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<HostRow>>;
    /// One page of hosts matching the filter (and the state, when given), most urgent state
    /// first, with the counts per state of the filter's selection; states computed in SQL.
    async fn host_page(
        &self,
        filter: &HostFilter,
        params: &StateParams,
        state: Option<HostState>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<HostPage>;
    /// One host.
    async fn host(&self, hostname: &str) -> StoreResult<Option<HostRow>>;
    /// Reports of a host, newest first.
    async fn host_reports(&self, hostname: &str, limit: u32) -> StoreResult<Vec<ReportSummary>>;
    /// One report in full.
    async fn report(&self, id: Uuid) -> StoreResult<Option<StoredReport>>;
    /// The most recently received reports, newest first.
    async fn recent_reports(&self, limit: u32) -> StoreResult<Vec<ReportSummary>>;
    /// Host counts per domain and per tag.
    async fn facets(&self) -> StoreResult<Facets>;
    /// Full-text search over hostnames, tags, layouts, inventories and logs (all words must match).
    async fn search(&self, query: &str, limit: u32) -> StoreResult<Vec<SearchHit>>;
    /// Number of local users.
    async fn user_count(&self) -> StoreResult<u64>;
    /// Adds a local user; [`StoreError::Conflict`] if the name exists.
    async fn add_user(&self, user: &UserRow) -> StoreResult<()>;
    /// Looks a user up.
    async fn user(&self, name: &str) -> StoreResult<Option<UserRow>>;
    /// Creates a user or replaces its password hash and role (directory users at each login).
    async fn set_user(&self, user: &UserRow) -> StoreResult<()>;
    /// Stores a session.
    async fn add_session(&self, session: &SessionRow) -> StoreResult<()>;
    /// Looks a session up by cookie hash (expired ones are not returned).
    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionRow>>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Stores an API token; [`StoreError::Conflict`] if the name exists.
    async fn add_token(&self, token: &TokenRow) -> StoreResult<()>;
    /// Looks an API token up by hash.
    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>>;
    /// All users, by name (password hashes included; never show them).
    async fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// All API tokens, by name.
    async fn tokens(&self) -> StoreResult<Vec<TokenRow>>;
    /// Revokes the token with this name; false when there is none.
    async fn delete_token(&self, name: &str) -> StoreResult<bool>;
    /// Records an uploaded image for its host; false (and nothing changed) when the host already
    /// has an image with this SHA-256.
    async fn add_image(&self, image: &ImageRow) -> StoreResult<bool>;
    /// The images of a host, newest upload first.
    async fn host_images(&self, hostname: &str) -> StoreResult<Vec<ImageRow>>;
    /// Retention: removes all but the newest `keep` images of a host from its list (in one
    /// transaction) and returns the removed rows' SHA-256 together with whether any row (of any
    /// host) still names that object.
    async fn prune_images(&self, hostname: &str, keep: u32) -> StoreResult<Vec<(String, bool)>>;
    /// True when some host's image list names the object.
    async fn image_referenced(&self, sha256: &str) -> StoreResult<bool>;
}

/// Hosts per [`Store::hosts`] call in [`all_hosts`].
const ALL_HOSTS_CHUNK: u32 = 5000;

/// Every host matching the filter (and state), by hostname, read in pages of 5,000 (for callers
/// that need the whole selection: `/metrics` and `rear-server check`).
///
/// # Errors
/// What the store returns.
pub async fn all_hosts(
    store: &dyn Store,
    filter: &HostFilter,
    state: Option<(HostState, &StateParams)>,
) -> StoreResult<Vec<HostRow>> {
    let mut out: Vec<HostRow> = Vec::new();
    loop {
        let after = out.last().map_or("", |h| h.hostname.as_str()).to_string();
        let page = store.hosts(filter, state, &after, ALL_HOSTS_CHUNK).await?;
        let done = page.len() < ALL_HOSTS_CHUNK as usize;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Opens the database named by `url` and runs its migrations.
///
/// `sqlite:PATH`, `sqlite://PATH` or a plain path select SQLite (created when missing);
/// `postgres://` and `postgresql://` select PostgreSQL, which this build does not implement yet.
///
/// # Errors
/// Connection or migration failures, or [`StoreError::NotImplemented`] for PostgreSQL.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(std::sync::Arc::new(
            postgres::PostgresStore::open(url).await?,
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Ok(std::sync::Arc::new(
        sqlite::SqliteStore::open(std::path::Path::new(path)).await?,
    ))
}

/// Unix milliseconds of a time (as stored).
pub fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Inverse of [`to_millis`].
pub(crate) fn from_millis(ms: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// Workflows whose success means a fresh rescue image.
pub(crate) fn makes_rescue(workflow: &str) -> bool {
    matches!(workflow, "mkrescue" | "mkbackup")
}

/// SHA-256 (hex) of a layout with comment lines, blank lines and trailing blanks removed, so that
/// the header with the date of the run does not count as a change; `None` without a layout.
pub fn layout_digest(layout: Option<&str>) -> Option<String> {
    use sha2::{Digest, Sha256};
    let layout = layout?;
    let mut h = Sha256::new();
    for line in layout.lines().map(str::trim_end) {
        if line.is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    Some(
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

/// Total size of a report's output files (what a backup run wrote).
pub(crate) fn output_bytes(report: &Report) -> i64 {
    let total: u64 = report.output_files.iter().map(|f| f.size).sum();
    i64::try_from(total).unwrap_or(i64::MAX)
}

/// Index of a state in [`HostState::ALL`] (its rank in SQL).
pub(crate) fn state_rank(s: HostState) -> i64 {
    match s {
        HostState::Failed => 0,
        HostState::Stale => 1,
        HostState::Drifted => 2,
        HostState::Ok => 3,
    }
}

/// Workflows whose success means a fresh backup.
pub(crate) fn makes_backup(workflow: &str) -> bool {
    matches!(workflow, "mkbackup" | "mkbackuponly")
}

/// Turns free user input into a PostgreSQL `to_tsquery` text in which every word must match as a
/// prefix; only alphanumeric runs survive, so tsquery operators in the input cannot take effect.
pub(crate) fn pg_tsquery(input: &str) -> Option<String> {
    // The indexed text is split at every non-alphanumeric character; split the query the same way.
    let words: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("'{w}':*"))
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" & "))
    }
}

/// The OS column of a host: `PRETTY_NAME (kernel)`.
pub(crate) fn os_label(report: &Report) -> String {
    if report.os.name.is_empty() {
        String::new()
    } else if report.os.kernel.is_empty() {
        report.os.name.clone()
    } else {
        format!("{} ({})", report.os.name, report.os.kernel)
    }
}

/// A migrator over migrations compiled into the binary (no sqlx macros needed).
pub(crate) fn migrator(
    migrations: &'static [(i64, &'static str, &'static str)],
) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use std::borrow::Cow;
    Migrator {
        migrations: Cow::Owned(
            migrations
                .iter()
                .map(|(v, d, sql)| {
                    Migration::new(
                        *v,
                        Cow::Borrowed(*d),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

/// Turns free user input into an FTS query in which every word must match as a prefix; quoting
/// each word keeps FTS operators in the input from being interpreted (or failing to parse).
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .take(16)
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(fts_query("web1 prod").unwrap(), r#""web1"* "prod"*"#);
        assert_eq!(fts_query(r#"a"b OR"#).unwrap(), r#""a""b"* "OR"*"#);
        assert_eq!(fts_query("   "), None);
    }

    #[test]
    fn pg_tsquery_quotes_every_word() {
        assert_eq!(
            pg_tsquery("web1 it's").unwrap(),
            "'web1':* & 'it':* & 's':*"
        );
        assert_eq!(
            pg_tsquery("/dev/vdb & !x").unwrap(),
            "'dev':* & 'vdb':* & 'x':*"
        );
        assert_eq!(pg_tsquery("' :* &"), None);
    }

    #[test]
    fn tag_intervals_in_both_placeholder_styles() {
        assert_eq!(
            tag_intervals_sql(2, 5, Placeholders::Postgres),
            "VALUES ($5::TEXT, $6::BIGINT), ($7::TEXT, $8::BIGINT)"
        );
        assert_eq!(
            tag_intervals_sql(1, 8, Placeholders::Sqlite),
            "VALUES (?8, ?9)"
        );
        assert!(tag_intervals_sql(0, 5, Placeholders::Sqlite).ends_with("WHERE 0"));
    }

    #[test]
    fn layout_digest_ignores_comments_and_blank_lines() {
        let a = "# Disk layout dated 20261126\ndisk /dev/sda 100 gpt\n\npart /dev/sda 50 1M \n";
        let b = "# Disk layout dated 20261127\ndisk /dev/sda 100 gpt\npart /dev/sda 50 1M\n";
        let c = "disk /dev/sda 200 gpt\npart /dev/sda 50 1M\n";
        assert_eq!(layout_digest(Some(a)), layout_digest(Some(b)));
        assert_ne!(layout_digest(Some(a)), layout_digest(Some(c)));
        assert_eq!(layout_digest(None), None);
    }

    #[test]
    fn millis_round_trip() {
        let t = time::macros::datetime!(2026-11-26 06:00:00.123 UTC);
        assert_eq!(from_millis(to_millis(t)).unwrap(), t);
    }
}
