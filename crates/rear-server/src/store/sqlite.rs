//! SQLite backend (the embedded default): WAL mode, one file, FTS5 for search.
//!
//! Migrations are the files under `migrations/sqlite/`, compiled into the binary and applied by
//! [`SqliteStore::open`]. Every report insert runs in one transaction that also updates the host's
//! row, its tags and the search index, so a crash never leaves a half-stored report. Reports are
//! written by one writer task that commits the reports waiting at that moment together (group
//! commit) and answers each caller after the commit; when a batch fails it is rolled back and its
//! reports are stored one transaction each, so that a failing report fails alone.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rear_proto::Report;
use rear_proto::api::{HostState, IngestStatus, ReportSource, ReportSummary};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::rows::{
    SUMMARY_COLS, host_from_row, host_select, image_from_row, summary_from_row, token_from_row,
    user_from_row,
};
use super::{
    Count, Facets, HostFilter, HostPage, HostRow, ImageRow, NewReport, Placeholders, SearchHit,
    SessionRow, StateParams, Store, StoreError, StoreResult, StoredReport, TokenRow, TokenScope,
    UserRow, from_millis, fts_query, layout_digest, makes_backup, makes_rescue, migrator, os_label,
    output_bytes, state_rank, state_rank_sql, tag_intervals_sql, to_millis,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "fleet health",
        include_str!("../../migrations/sqlite/0002_fleet_health.sql"),
    ),
    (
        3,
        "images",
        include_str!("../../migrations/sqlite/0003_images.sql"),
    ),
];

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    /// Reports go to the single writer task (group commit).
    writer: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and migrates it.
    ///
    /// # Errors
    /// The file cannot be opened or a migration fails.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        let migrator = migrator(MIGRATIONS);
        migrator.run(&pool).await?;
        let (writer_tx, jobs) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(pool.clone(), jobs));
        Ok(Self {
            pool,
            writer: writer_tx,
        })
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The search entry of a stored report: rowid (the report's seq), hostname and domain, tags,
/// layout, inventory, log tail.
type SearchRow<'a> = (i64, String, String, &'a str, String, &'a str);

/// Inserts one report inside the caller's transaction (the report row, the host's row and tags)
/// and adds its search entry to `search`, which the caller writes with [`insert_search`] before
/// the commit.
///
/// The search entries of a whole transaction go to FTS5 in one statement at its end: FTS5 writes
/// its pending entries to disk (a new index segment, merged later) at every statement savepoint,
/// which SQLite opens for each of the upserts here, so an entry written per report cost a segment
/// per report: over half of the writer's instructions in the profile.
async fn insert_in<'r>(
    tx: &mut SqliteConnection,
    new: &NewReport<'r>,
    search: &mut Vec<SearchRow<'r>>,
) -> StoreResult<IngestStatus> {
    let r = new.report;
    let started = to_millis(r.started_at);
    let tags_json = serde_json::to_string(&r.tags).unwrap_or_else(|_| "[]".into());
    // The host's row before this report: whether the report becomes the newest (the rule of the
    // upsert below) and whether it changes the host's tags.
    let before: Option<(String, i64)> =
        sqlx::query_as("SELECT tags, last_started_at FROM hosts WHERE hostname = ?1")
            .bind(&r.hostname)
            .fetch_optional(&mut *tx)
            .await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO reports (report_id, hostname, workflow, success, error, started_at, \
         duration_ms, received_at, source, rear_version, legacy_mail, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT (report_id) DO NOTHING RETURNING seq",
    )
    .bind(r.report_id.to_string())
    .bind(&r.hostname)
    .bind(&r.workflow)
    .bind(r.result.is_success())
    .bind(r.result.error())
    .bind(started)
    .bind(i64::try_from(r.duration_ms).unwrap_or(i64::MAX))
    .bind(to_millis(new.received_at))
    .bind(new.source.as_str())
    .bind(&r.rear_version)
    .bind(new.legacy_mail)
    .bind(r.to_json())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(seq) = inserted else {
        return Ok(IngestStatus::Duplicate);
    };
    search.push((
        seq,
        format!("{} {}", r.hostname, r.domain),
        r.tags.join(" "),
        r.layout.as_deref().unwrap_or(""),
        if r.inventory.is_null() {
            String::new()
        } else {
            r.inventory.to_string()
        },
        &r.log_tail,
    ));
    // host_tags always holds the tags of the host row (both change only together, here), so
    // they are rewritten only when the report becomes the newest and its tags differ.
    let newest = before.as_ref().is_none_or(|(_, at)| started >= *at);
    if newest && before.as_ref().is_none_or(|(tags, _)| *tags != tags_json) {
        sqlx::query(
            "DELETE FROM host_tags WHERE hostname = ?1; \
             INSERT OR IGNORE INTO host_tags (hostname, tag) SELECT ?1, value FROM json_each(?2)",
        )
        .bind(&r.hostname)
        .bind(&tags_json)
        .execute(&mut *tx)
        .await?;
    }
    let ok = r.result.is_success();
    let rescue_at = (ok && makes_rescue(&r.workflow)).then_some(started);
    let backup_at = (ok && makes_backup(&r.workflow)).then_some(started);
    let layout_sha = layout_digest(r.layout.as_deref());
    // All SET expressions see the old row, so "is this report the newest" is decided once.
    sqlx::query(
        "INSERT INTO hosts (hostname, domain, tags, os, report_count, last_seq, \
         last_started_at, last_rescue_at, last_backup_at, last_success_at, layout_at, \
         layout_sha, rescue_layout_sha, backup_bytes, last_ok) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
         ON CONFLICT (hostname) DO UPDATE SET \
         report_count = hosts.report_count + 1, \
         domain = CASE WHEN excluded.last_started_at >= hosts.last_started_at \
                  THEN excluded.domain ELSE hosts.domain END, \
         tags = CASE WHEN excluded.last_started_at >= hosts.last_started_at \
                THEN excluded.tags ELSE hosts.tags END, \
         os = CASE WHEN excluded.last_started_at >= hosts.last_started_at \
              THEN excluded.os ELSE hosts.os END, \
         last_seq = CASE WHEN excluded.last_started_at >= hosts.last_started_at \
                    THEN excluded.last_seq ELSE hosts.last_seq END, \
         last_ok = CASE WHEN excluded.last_started_at >= hosts.last_started_at \
                   THEN excluded.last_ok ELSE hosts.last_ok END, \
         last_started_at = MAX(excluded.last_started_at, hosts.last_started_at), \
         last_rescue_at = MAX(COALESCE(hosts.last_rescue_at, excluded.last_rescue_at), \
                              COALESCE(excluded.last_rescue_at, hosts.last_rescue_at)), \
         last_backup_at = MAX(COALESCE(hosts.last_backup_at, excluded.last_backup_at), \
                              COALESCE(excluded.last_backup_at, hosts.last_backup_at)), \
         last_success_at = MAX(COALESCE(hosts.last_success_at, excluded.last_success_at), \
                               COALESCE(excluded.last_success_at, hosts.last_success_at)), \
         layout_at = MAX(COALESCE(hosts.layout_at, excluded.layout_at), \
                         COALESCE(excluded.layout_at, hosts.layout_at)), \
         layout_sha = CASE WHEN excluded.layout_at IS NOT NULL \
                      AND (hosts.layout_at IS NULL OR excluded.layout_at >= hosts.layout_at) \
                      THEN excluded.layout_sha ELSE hosts.layout_sha END, \
         rescue_layout_sha = CASE WHEN excluded.last_rescue_at IS NOT NULL \
                      AND (hosts.last_rescue_at IS NULL OR excluded.last_rescue_at >= hosts.last_rescue_at) \
                      THEN excluded.rescue_layout_sha ELSE hosts.rescue_layout_sha END, \
         backup_bytes = CASE WHEN excluded.last_backup_at IS NOT NULL \
                      AND (hosts.last_backup_at IS NULL OR excluded.last_backup_at >= hosts.last_backup_at) \
                      THEN excluded.backup_bytes ELSE hosts.backup_bytes END",
    )
        .bind(&r.hostname)
        .bind(&r.domain)
        .bind(&tags_json)
        .bind(os_label(r))
        .bind(seq)
        .bind(started)
        .bind(rescue_at)
        .bind(backup_at)
        .bind(ok.then_some(started))
        .bind(layout_sha.is_some().then_some(started))
        .bind(&layout_sha)
        .bind(rescue_at.and(layout_sha.as_ref()))
        .bind(backup_at.map(|_| output_bytes(r)))
        .bind(ok)
        .execute(&mut *tx)
        .await?;
    Ok(IngestStatus::Stored)
}

/// Writes the search entries of a transaction in one statement (see [`insert_in`]).
async fn insert_search(tx: &mut SqliteConnection, search: &[SearchRow<'_>]) -> StoreResult<()> {
    if search.is_empty() {
        return Ok(());
    }
    let rows = serde_json::to_string(search).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO reports_fts (rowid, hostname, tags, layout, inventory, log) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?1)",
    )
    .bind(rows)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Most reports committed in one transaction.
const MAX_BATCH: usize = 128;

/// A report waiting for the writer, with the channel its outcome goes back on.
struct Job {
    report: Report,
    source: ReportSource,
    received_at: OffsetDateTime,
    legacy_mail: bool,
    reply: oneshot::Sender<StoreResult<IngestStatus>>,
}

/// The single writer of reports (group commit): takes the reports that are waiting, up to
/// [`MAX_BATCH`], and stores them in one transaction (see [`write_batch`] for failures). Every
/// sender gets its answer only after the commit, so
/// "stored" still means "on disk". With one report waiting this is one transaction per report,
/// as before; under load the fsync of the commit is shared.
async fn writer(pool: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let outcomes = write_batch(&pool, &batch).await;
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
}

async fn write_batch(pool: &SqlitePool, batch: &[Job]) -> Vec<StoreResult<IngestStatus>> {
    match try_batch(pool, batch).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        // The batch was rolled back: each report again in its own transaction, so that the one
        // that fails fails alone.
        Err(_) if batch.len() > 1 => {
            let mut outcomes = Vec::with_capacity(batch.len());
            for job in batch {
                outcomes.push(
                    try_batch(pool, std::slice::from_ref(job))
                        .await
                        .map(|o| o[0]),
                );
            }
            outcomes
        }
        Err(e) => vec![Err(e)],
    }
}

/// Stores the reports of a batch in one transaction, all or none. No savepoint per report:
/// FTS5 writes its pending index entries to disk at every savepoint (a new segment per report,
/// which then has to be merged: over half of the writer's work in the profile), and only once
/// per commit without them.
async fn try_batch(pool: &SqlitePool, batch: &[Job]) -> StoreResult<Vec<IngestStatus>> {
    // IMMEDIATE: the first statement of a report reads, and a read transaction that later
    // writes fails at once (SQLITE_BUSY) when another connection (a login, a token) wrote in
    // between; taking the write lock up front waits for the busy timeout instead.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut search = Vec::with_capacity(batch.len());
    for job in batch {
        let new = NewReport {
            report: &job.report,
            source: job.source,
            received_at: job.received_at,
            legacy_mail: job.legacy_mail,
        };
        outcomes.push(insert_in(&mut tx, &new, &mut search).await?);
    }
    insert_search(&mut tx, &search).await?;
    tx.commit().await?;
    Ok(outcomes)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_report(&self, new: &NewReport<'_>) -> StoreResult<IngestStatus> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            report: new.report.clone(),
            source: new.source,
            received_at: new.received_at,
            legacy_mail: new.legacy_mail,
            reply,
        };
        if self.writer.send(job).await.is_err() {
            return Err(StoreError::Unavailable(
                "the database writer stopped".into(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the database writer stopped".into(),
            ))
        })
    }

    async fn insert_reports_bulk(
        &self,
        reports: &[NewReport<'_>],
    ) -> StoreResult<Vec<IngestStatus>> {
        // IMMEDIATE as in `try_batch`: next to the writer task a bulk load waits for the lock.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut out = Vec::with_capacity(reports.len());
        let mut search = Vec::with_capacity(reports.len());
        for new in reports {
            out.push(insert_in(&mut tx, new, &mut search).await?);
        }
        insert_search(&mut tx, &search).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn hosts(
        &self,
        filter: &HostFilter,
        state: Option<(HostState, &StateParams)>,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<HostRow>> {
        // Placeholders: 1 domain, 2 tag, 3 after, 4 limit; with a state 5 now, 6 default
        // interval, 7 state rank, then a (tag, interval) pair per configured tag. Ordered and
        // cut by the primary key's index: a page costs the same wherever it starts.
        let (cte, by_state) = match state {
            None => (String::new(), String::new()),
            Some((_, p)) => {
                let n = p.by_tag.len();
                let iv = tag_intervals_sql(n, 8, Placeholders::Sqlite);
                (
                    format!("WITH iv (tag, ms) AS ({iv}) "),
                    format!(" AND {} = ?7", state_rank_sql("?5", "?6", n > 0)),
                )
            }
        };
        let sql = format!(
            "{cte}{} WHERE (?1 IS NULL OR h.domain = ?1) AND (?2 IS NULL OR EXISTS \
             (SELECT 1 FROM host_tags t WHERE t.hostname = h.hostname AND t.tag = ?2)) \
             AND h.hostname > ?3{by_state} ORDER BY h.hostname LIMIT ?4",
            host_select()
        );
        let mut q = sqlx::query(&sql)
            .bind(filter.domain.as_deref())
            .bind(filter.tag.as_deref())
            .bind(after)
            .bind(i64::from(limit));
        if let Some((s, p)) = state {
            q = q.bind(p.now_ms).bind(p.default_ms).bind(state_rank(s));
            for (tag, ms) in &p.by_tag {
                q = q.bind(tag.as_str()).bind(*ms);
            }
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(host_from_row).collect()
    }

    async fn host_page(
        &self,
        filter: &HostFilter,
        params: &StateParams,
        state: Option<HostState>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<HostPage> {
        // Placeholders: 1 now, 2 default interval, 3 domain, 4 tag, then a (tag, interval) pair
        // per configured tag, then (page only) state rank, limit, offset.
        let n = params.by_tag.len();
        let iv = tag_intervals_sql(n, 5, Placeholders::Sqlite);
        let cte = format!(
            "WITH iv (tag, ms) AS ({iv}), st AS (SELECT h.hostname AS hn, {} AS rank \
             FROM hosts h \
             WHERE (?3 IS NULL OR h.domain = ?3) AND (?4 IS NULL OR EXISTS \
             (SELECT 1 FROM host_tags t WHERE t.hostname = h.hostname AND t.tag = ?4)))",
            state_rank_sql("?1", "?2", n > 0)
        );
        let counts_sql = format!(
            "{cte} SELECT CAST(rank AS BIGINT) AS rank, COUNT(*) AS n FROM st GROUP BY rank"
        );
        let (s, l, o) = (5 + 2 * n, 6 + 2 * n, 7 + 2 * n);
        let page_sql = format!(
            "{cte} {} JOIN st ON st.hn = h.hostname \
             WHERE (?{s} IS NULL OR st.rank = ?{s}) \
             ORDER BY st.rank, h.hostname LIMIT ?{l} OFFSET ?{o}",
            host_select()
        );
        fn bind<'q>(
            sql: &'q str,
            params: &StateParams,
            filter: &HostFilter,
        ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
            let mut q = sqlx::query(sql)
                .bind(params.now_ms)
                .bind(params.default_ms)
                .bind(filter.domain.clone())
                .bind(filter.tag.clone());
            for (tag, ms) in &params.by_tag {
                q = q.bind(tag.clone()).bind(*ms);
            }
            q
        }
        let mut page = HostPage::default();
        for row in bind(&counts_sql, params, filter)
            .fetch_all(&self.pool)
            .await?
        {
            let rank: i64 = row.try_get("rank")?;
            let n: i64 = row.try_get("n")?;
            if let Some(c) = usize::try_from(rank)
                .ok()
                .and_then(|i| page.counts.get_mut(i))
            {
                *c = u64::try_from(n).unwrap_or(0);
            }
        }
        let rows = bind(&page_sql, params, filter)
            .bind(state.map(state_rank))
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?;
        page.rows = rows.iter().map(host_from_row).collect::<StoreResult<_>>()?;
        Ok(page)
    }

    async fn host(&self, hostname: &str) -> StoreResult<Option<HostRow>> {
        let sql = format!("{} WHERE h.hostname = ?1", host_select());
        let row = sqlx::query(&sql)
            .bind(hostname)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(host_from_row).transpose()
    }

    async fn host_reports(&self, hostname: &str, limit: u32) -> StoreResult<Vec<ReportSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM reports r WHERE r.hostname = ?1 \
             ORDER BY r.started_at DESC, r.seq DESC LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(hostname)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn report(&self, id: Uuid) -> StoreResult<Option<StoredReport>> {
        let sql = format!("SELECT {SUMMARY_COLS}, r.body FROM reports r WHERE r.report_id = ?1");
        let Some(row) = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let body: String = row.try_get("body")?;
        let report: Report =
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(StoredReport {
            summary: summary_from_row(&row)?,
            report,
        }))
    }

    async fn recent_reports(&self, limit: u32) -> StoreResult<Vec<ReportSummary>> {
        let sql = format!("SELECT {SUMMARY_COLS} FROM reports r ORDER BY r.seq DESC LIMIT ?1");
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn facets(&self) -> StoreResult<Facets> {
        let count = |rows: Vec<SqliteRow>| -> StoreResult<Vec<Count>> {
            rows.iter()
                .map(|r| {
                    Ok(Count {
                        name: r.try_get(0)?,
                        hosts: u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
                    })
                })
                .collect()
        };
        let domains =
            sqlx::query("SELECT domain, COUNT(*) FROM hosts GROUP BY domain ORDER BY domain")
                .fetch_all(&self.pool)
                .await?;
        let tags = sqlx::query("SELECT tag, COUNT(*) FROM host_tags GROUP BY tag ORDER BY tag")
            .fetch_all(&self.pool)
            .await?;
        Ok(Facets {
            domains: count(domains)?,
            tags: count(tags)?,
        })
    }

    async fn search(&self, query: &str, limit: u32) -> StoreResult<Vec<SearchHit>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {SUMMARY_COLS}, snippet(reports_fts, -1, char(2), char(3), '…', 12) AS snip \
             FROM reports_fts JOIN reports r ON r.seq = reports_fts.rowid \
             WHERE reports_fts MATCH ?1 ORDER BY rank LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(fts)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    report: summary_from_row(row)?,
                    snippet: row.try_get("snip")?,
                })
            })
            .collect()
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn add_user(&self, user: &UserRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("user {}", user.name))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    async fn user(&self, name: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query("SELECT name, password_hash, role FROM users WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn set_user(&self, user: &UserRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
             role = excluded.role",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn add_session(&self, s: &SessionRow) -> StoreResult<()> {
        // Logins are rare; clearing expired sessions here keeps the table small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1")
            .bind(to_millis(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&s.token_hash)
        .bind(&s.username)
        .bind(&s.csrf)
        .bind(to_millis(s.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT token_hash, username, csrf, expires_at FROM sessions \
             WHERE token_hash = ?1 AND expires_at > ?2",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SessionRow {
                token_hash: row.try_get("token_hash")?,
                username: row.try_get("username")?,
                csrf: row.try_get("csrf")?,
                expires_at: from_millis(row.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn add_token(&self, t: &TokenRow) -> StoreResult<()> {
        let (scope, host) = match &t.scope {
            TokenScope::Host(h) => ("host", Some(h.as_str())),
            TokenScope::Site => ("site", None),
            TokenScope::Read => ("read", None),
        };
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, name, scope, hostname, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&t.token_hash)
        .bind(&t.name)
        .bind(scope)
        .bind(host)
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("token {}", t.name))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query(
            "SELECT token_hash, name, scope, hostname FROM api_tokens WHERE token_hash = ?1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| token_from_row(&row)).transpose()
    }

    async fn users(&self) -> StoreResult<Vec<UserRow>> {
        let rows = sqlx::query("SELECT name, password_hash, role FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRow>> {
        let rows =
            sqlx::query("SELECT token_hash, name, scope, hostname FROM api_tokens ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn delete_token(&self, name: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn add_image(&self, image: &ImageRow) -> StoreResult<bool> {
        let size = i64::try_from(image.size)
            .map_err(|_| StoreError::Corrupt(format!("image size {}", image.size)))?;
        let done = sqlx::query(
            "INSERT INTO images (hostname, sha256, name, size, uploaded_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hostname, sha256) DO NOTHING",
        )
        .bind(&image.hostname)
        .bind(&image.sha256)
        .bind(&image.name)
        .bind(size)
        .bind(to_millis(image.uploaded_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn host_images(&self, hostname: &str) -> StoreResult<Vec<ImageRow>> {
        let rows = sqlx::query(
            "SELECT hostname, sha256, name, size, uploaded_at FROM images \
             WHERE hostname = ?1 ORDER BY seq DESC",
        )
        .bind(hostname)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }

    async fn prune_images(&self, hostname: &str, keep: u32) -> StoreResult<Vec<(String, bool)>> {
        let mut tx = self.pool.begin().await?;
        let removed: Vec<String> = sqlx::query_scalar(
            "DELETE FROM images WHERE hostname = ?1 AND seq NOT IN \
             (SELECT seq FROM images WHERE hostname = ?1 ORDER BY seq DESC LIMIT ?2) \
             RETURNING sha256",
        )
        .bind(hostname)
        .bind(i64::from(keep))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(removed.len());
        for sha in removed {
            let used: i64 =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = ?1)")
                    .bind(&sha)
                    .fetch_one(&mut *tx)
                    .await?;
            out.push((sha, used != 0));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn image_referenced(&self, sha256: &str) -> StoreResult<bool> {
        let used: i64 =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = ?1)")
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?;
        Ok(used != 0)
    }
}
