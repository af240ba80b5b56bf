//! PostgreSQL backend (for scale): selected by a `postgres://` or `postgresql://` database URL.
//!
//! Same contract as the SQLite store, its own SQL and migrations (`migrations/postgres/`). Search
//! uses a `tsvector` column generated from the report's searchable text with the `simple`
//! configuration (no stemming: hostnames and device names must match as written), a GIN index,
//! `ts_rank` ordering and `ts_headline` excerpts. The text is split at every non-alphanumeric
//! character before indexing (as SQLite's unicode61 tokenizer does), so `vdb` finds `/dev/vdb`.

use std::time::Duration;

use async_trait::async_trait;
use rear_proto::Report;
use rear_proto::api::{HostState, IngestStatus, ReportSummary};
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{
    SUMMARY_COLS, host_from_row, host_select, image_from_row, summary_from_row, token_from_row,
    user_from_row,
};
use super::{
    Count, Facets, HostFilter, HostPage, HostRow, ImageRow, NewReport, Placeholders, SearchHit,
    SessionRow, StateParams, Store, StoreError, StoreResult, StoredReport, TokenRow, TokenScope,
    UserRow, from_millis, layout_digest, makes_backup, makes_rescue, migrator, os_label,
    output_bytes, pg_tsquery, state_rank, state_rank_sql, tag_intervals_sql, to_millis,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "fleet health",
        include_str!("../../migrations/postgres/0002_fleet_health.sql"),
    ),
    (
        3,
        "images",
        include_str!("../../migrations/postgres/0003_images.sql"),
    ),
];

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and migrates.
    ///
    /// # Errors
    /// The server cannot be reached or a migration fails.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrator(MIGRATIONS).run(&pool).await?;
        Ok(Self { pool })
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn search_text(r: &Report) -> String {
    let inventory = if r.inventory.is_null() {
        String::new()
    } else {
        r.inventory.to_string()
    };
    [
        r.hostname.as_str(),
        r.domain.as_str(),
        &r.tags.join(" "),
        r.layout.as_deref().unwrap_or(""),
        &inventory,
        &r.log_tail,
    ]
    .join("\n")
}

/// Inserts one report inside the caller's transaction (the report row with its search text, the
/// host's row and tags): two round trips per report instead of three.
///
/// The first statement stores the report (`ins`: nothing for a duplicate, and then nothing
/// else happens) and upserts the host (GREATEST ignores NULLs, which is what "latest known time"
/// needs). The tags are a statement of their own, run only when the report became the host's
/// newest: it must see the tag rows another transaction for the same host committed while this
/// one waited for the host row's lock, and in READ COMMITTED only a new statement's snapshot does
/// (a CTE of the first statement would not).
async fn insert_in(tx: &mut PgConnection, new: &NewReport<'_>) -> StoreResult<IngestStatus> {
    let r = new.report;
    let started = to_millis(r.started_at);
    let ok = r.result.is_success();
    let rescue_at = (ok && makes_rescue(&r.workflow)).then_some(started);
    let backup_at = (ok && makes_backup(&r.workflow)).then_some(started);
    let layout_sha = layout_digest(r.layout.as_deref());
    let stored: Option<(i64, i64)> = sqlx::query_as(
        "WITH ins AS (\
           INSERT INTO reports (report_id, hostname, workflow, success, error, started_at, \
           duration_ms, received_at, source, rear_version, legacy_mail, body, search_text) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
           ON CONFLICT (report_id) DO NOTHING RETURNING seq), \
         up AS (\
           INSERT INTO hosts (hostname, domain, tags, os, report_count, last_seq, \
           last_started_at, last_rescue_at, last_backup_at, last_success_at, layout_at, \
           layout_sha, rescue_layout_sha, backup_bytes, last_ok) \
           SELECT $2, $14, $15, $16, 1, ins.seq, $6, $17, $18, $19, $20, $21, $22, $23, $4 \
           FROM ins \
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
           last_started_at = GREATEST(excluded.last_started_at, hosts.last_started_at), \
           last_rescue_at = GREATEST(hosts.last_rescue_at, excluded.last_rescue_at), \
           last_backup_at = GREATEST(hosts.last_backup_at, excluded.last_backup_at), \
           last_success_at = GREATEST(hosts.last_success_at, excluded.last_success_at), \
           layout_at = GREATEST(hosts.layout_at, excluded.layout_at), \
           layout_sha = CASE WHEN excluded.layout_at IS NOT NULL \
                        AND (hosts.layout_at IS NULL OR excluded.layout_at >= hosts.layout_at) \
                        THEN excluded.layout_sha ELSE hosts.layout_sha END, \
           rescue_layout_sha = CASE WHEN excluded.last_rescue_at IS NOT NULL \
                        AND (hosts.last_rescue_at IS NULL OR excluded.last_rescue_at >= hosts.last_rescue_at) \
                        THEN excluded.rescue_layout_sha ELSE hosts.rescue_layout_sha END, \
           backup_bytes = CASE WHEN excluded.last_backup_at IS NOT NULL \
                        AND (hosts.last_backup_at IS NULL OR excluded.last_backup_at >= hosts.last_backup_at) \
                        THEN excluded.backup_bytes ELSE hosts.backup_bytes END \
           RETURNING last_seq) \
         SELECT ins.seq, up.last_seq FROM ins, up",
    )
    .bind(r.report_id.to_string())
    .bind(&r.hostname)
    .bind(&r.workflow)
    .bind(ok)
    .bind(r.result.error())
    .bind(started)
    .bind(i64::try_from(r.duration_ms).unwrap_or(i64::MAX))
    .bind(to_millis(new.received_at))
    .bind(new.source.as_str())
    .bind(&r.rear_version)
    .bind(new.legacy_mail)
    .bind(r.to_json())
    .bind(search_text(r))
    .bind(&r.domain)
    .bind(serde_json::to_string(&r.tags).unwrap_or_else(|_| "[]".into()))
    .bind(os_label(r))
    .bind(rescue_at)
    .bind(backup_at)
    .bind(ok.then_some(started))
    .bind(layout_sha.is_some().then_some(started))
    .bind(&layout_sha)
    .bind(rescue_at.and(layout_sha.as_ref()))
    .bind(backup_at.map(|_| output_bytes(r)))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((seq, last_seq)) = stored else {
        return Ok(IngestStatus::Duplicate);
    };
    if last_seq == seq {
        // Tags the host keeps are neither deleted nor inserted again.
        sqlx::query(
            "WITH gone AS (DELETE FROM host_tags WHERE hostname = $1 AND tag <> ALL($2)) \
             INSERT INTO host_tags (hostname, tag) SELECT $1, unnest($2::TEXT[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&r.hostname)
        .bind(&r.tags)
        .execute(&mut *tx)
        .await?;
    }
    Ok(IngestStatus::Stored)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_report(&self, new: &NewReport<'_>) -> StoreResult<IngestStatus> {
        let mut tx = self.pool.begin().await?;
        let status = insert_in(&mut tx, new).await?;
        tx.commit().await?;
        Ok(status)
    }

    async fn insert_reports_bulk(
        &self,
        reports: &[NewReport<'_>],
    ) -> StoreResult<Vec<IngestStatus>> {
        // Host rows are locked in hostname order, so concurrent bulk loads wait for each other
        // instead of deadlocking.
        let mut order: Vec<usize> = (0..reports.len()).collect();
        order.sort_by(|&a, &b| reports[a].report.hostname.cmp(&reports[b].report.hostname));
        let mut out = vec![IngestStatus::Duplicate; reports.len()];
        let mut tx = self.pool.begin().await?;
        for i in order {
            out[i] = insert_in(&mut tx, &reports[i]).await?;
        }
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
                let iv = tag_intervals_sql(n, 8, Placeholders::Postgres);
                (
                    format!("WITH iv (tag, ms) AS ({iv}) "),
                    format!(
                        " AND {} = $7::BIGINT",
                        state_rank_sql("$5::BIGINT", "$6::BIGINT", n > 0)
                    ),
                )
            }
        };
        let sql = format!(
            "{cte}{} WHERE ($1::TEXT IS NULL OR h.domain = $1) AND ($2::TEXT IS NULL OR EXISTS \
             (SELECT 1 FROM host_tags t WHERE t.hostname = h.hostname AND t.tag = $2)) \
             AND h.hostname > $3{by_state} ORDER BY h.hostname LIMIT $4",
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
        let iv = tag_intervals_sql(n, 5, Placeholders::Postgres);
        let cte = format!(
            "WITH iv (tag, ms) AS ({iv}), st AS (SELECT h.hostname AS hn, {} AS rank \
             FROM hosts h \
             WHERE ($3::TEXT IS NULL OR h.domain = $3) AND ($4::TEXT IS NULL OR EXISTS \
             (SELECT 1 FROM host_tags t WHERE t.hostname = h.hostname AND t.tag = $4)))",
            state_rank_sql("$1::BIGINT", "$2::BIGINT", n > 0)
        );
        let counts_sql = format!(
            "{cte} SELECT CAST(rank AS BIGINT) AS rank, COUNT(*) AS n FROM st GROUP BY rank"
        );
        let (s, l, o) = (5 + 2 * n, 6 + 2 * n, 7 + 2 * n);
        let page_sql = format!(
            "{cte} {} JOIN st ON st.hn = h.hostname \
             WHERE (${s}::BIGINT IS NULL OR st.rank = ${s}) \
             ORDER BY st.rank, h.hostname LIMIT ${l} OFFSET ${o}",
            host_select()
        );
        fn bind<'q>(
            sql: &'q str,
            params: &StateParams,
            filter: &HostFilter,
        ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
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
        let sql = format!("{} WHERE h.hostname = $1", host_select());
        let row = sqlx::query(&sql)
            .bind(hostname)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(host_from_row).transpose()
    }

    async fn host_reports(&self, hostname: &str, limit: u32) -> StoreResult<Vec<ReportSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS} FROM reports r WHERE r.hostname = $1 \
             ORDER BY r.started_at DESC, r.seq DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(hostname)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn report(&self, id: Uuid) -> StoreResult<Option<StoredReport>> {
        let sql = format!("SELECT {SUMMARY_COLS}, r.body FROM reports r WHERE r.report_id = $1");
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
        let sql = format!("SELECT {SUMMARY_COLS} FROM reports r ORDER BY r.seq DESC LIMIT $1");
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn facets(&self) -> StoreResult<Facets> {
        let count = |rows: Vec<PgRow>| -> StoreResult<Vec<Count>> {
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
        let Some(tsq) = pg_tsquery(query) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {SUMMARY_COLS}, ts_headline('simple', \
             regexp_replace(r.search_text, '([^[:alnum:][:space:]])', ' \\1 ', 'g'), q, \
             'StartSel=\"' || chr(2) || '\", StopSel=\"' || chr(3) || '\", MaxWords=20, MinWords=6') AS snip \
             FROM reports r, to_tsquery('simple', $1) q \
             WHERE r.search @@ q ORDER BY ts_rank(r.search, q) DESC, r.seq DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(tsq)
            .bind(i64::from(limit))
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
            "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4)",
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
        let row = sqlx::query("SELECT name, password_hash, role FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    async fn set_user(&self, user: &UserRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
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
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(to_millis(OffsetDateTime::now_utc()))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, csrf, expires_at) VALUES ($1, $2, $3, $4)",
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
             WHERE token_hash = $1 AND expires_at > $2",
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
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
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
             VALUES ($1, $2, $3, $4, $5)",
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
            "SELECT token_hash, name, scope, hostname FROM api_tokens WHERE token_hash = $1",
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
        let r = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hostname, sha256) DO NOTHING",
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
             WHERE hostname = $1 ORDER BY seq DESC",
        )
        .bind(hostname)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(image_from_row).collect()
    }

    async fn prune_images(&self, hostname: &str, keep: u32) -> StoreResult<Vec<(String, bool)>> {
        let mut tx = self.pool.begin().await?;
        let removed: Vec<String> = sqlx::query_scalar(
            "DELETE FROM images WHERE hostname = $1 AND seq NOT IN \
             (SELECT seq FROM images WHERE hostname = $1 ORDER BY seq DESC LIMIT $2) \
             RETURNING sha256",
        )
        .bind(hostname)
        .bind(i64::from(keep))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(removed.len());
        for sha in removed {
            let used: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = $1)")
                    .bind(&sha)
                    .fetch_one(&mut *tx)
                    .await?;
            out.push((sha, used));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn image_referenced(&self, sha256: &str) -> StoreResult<bool> {
        let used: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = $1)")
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?;
        Ok(used)
    }
}
