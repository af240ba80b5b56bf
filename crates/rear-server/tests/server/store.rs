//! The storage contract, run against SQLite always and against a real PostgreSQL in `svc_` tests.

use std::sync::Arc;

use rear_proto::RunResult;
use rear_proto::api::{HostState, IngestStatus, ReportSource};
use rear_server::store::{
    HostFilter, HostPage, NewReport, Role, SessionRow, StateParams, Store, StoreError, TokenRow,
    TokenScope, UserRow, layout_digest,
};
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::common::{PgCluster, report, start_with};

async fn insert(store: &dyn Store, r: &rear_proto::Report) -> IngestStatus {
    store
        .insert_report(&NewReport {
            report: r,
            source: ReportSource::Http,
            received_at: OffsetDateTime::now_utc(),
            legacy_mail: false,
        })
        .await
        .unwrap()
}

async fn store_contract(store: Arc<dyn Store>) {
    let s = store.as_ref();
    s.ping().await.unwrap();
    let mut old = report("web1", "mkbackup");
    old.output_files = vec![rear_proto::OutputFile {
        path: "/srv/backup/web1/backup.tar.gz".into(),
        size: 5_000_000,
        sha256: String::new(),
    }];
    let mut new = report("web1", "mkrescue");
    new.started_at = old.started_at + time::Duration::minutes(1);
    new.result = RunResult::Failure {
        error: "boom".into(),
    };
    new.tags = vec!["prod".into(), "dmz".into()];
    new.layout = Some("disk /dev/vdb 999 msdos\n".into());
    let mut db = report("db1", "mkbackuponly");
    db.domain = "db.example.com".into();
    db.tags = vec!["prod".into()];

    assert_eq!(insert(s, &new).await, IngestStatus::Stored);
    assert_eq!(
        insert(s, &old).await,
        IngestStatus::Stored,
        "older report after a newer one"
    );
    assert_eq!(insert(s, &old).await, IngestStatus::Duplicate);
    assert_eq!(insert(s, &db).await, IngestStatus::Stored);

    let web1 = s.host("web1").await.unwrap().unwrap();
    assert_eq!(web1.report_count, 2);
    assert_eq!(
        web1.last.report_id, new.report_id,
        "the newest by start time stays last"
    );
    assert_eq!(web1.tags, ["prod", "dmz"]);
    assert!(!web1.last.success);
    assert_eq!(web1.last.error.as_deref(), Some("boom"));
    let ms = |t: Option<OffsetDateTime>| t.map(|t| t.unix_timestamp_nanos() / 1_000_000);
    assert_eq!(ms(web1.last_backup_at), ms(Some(old.started_at)));
    // The newer mkrescue failed, so the last rescue image is the one of the older mkbackup.
    assert_eq!(ms(web1.last_rescue_at), ms(Some(old.started_at)));
    assert_eq!(
        s.host("db1").await.unwrap().unwrap().last_rescue_at,
        None,
        "mkbackuponly"
    );
    assert!(s.host("nope").await.unwrap().is_none());
    // Fleet health columns: the failed mkrescue carries the newest layout, the older mkbackup
    // made the last image from another one.
    assert_eq!(ms(web1.last_success_at), ms(Some(old.started_at)));
    assert_eq!(web1.backup_bytes, Some(5_000_000));
    assert_eq!(web1.layout_sha, layout_digest(new.layout.as_deref()));
    assert_eq!(web1.rescue_layout_sha, layout_digest(old.layout.as_deref()));
    assert!(web1.drifted());

    let all = s
        .hosts(&HostFilter::default(), None, "", 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|h| h.hostname.as_str()).collect::<Vec<_>>(),
        ["db1", "web1"]
    );
    let dmz = s
        .hosts(
            &HostFilter {
                tag: Some("dmz".into()),
                ..Default::default()
            },
            None,
            "",
            100,
        )
        .await
        .unwrap();
    assert_eq!(dmz.len(), 1);
    let dom = s
        .hosts(
            &HostFilter {
                domain: Some("db.example.com".into()),
                ..Default::default()
            },
            None,
            "",
            100,
        )
        .await
        .unwrap();
    assert_eq!(dom[0].hostname, "db1");
    let facets = s.facets().await.unwrap();
    let tag = |n: &str| facets.tags.iter().find(|c| c.name == n).map(|c| c.hosts);
    assert_eq!(tag("prod"), Some(2));
    assert_eq!(tag("dmz"), Some(1));
    assert_eq!(tag("web"), None, "tags of older reports do not count");
    assert_eq!(facets.domains.len(), 2);

    let reports = s.host_reports("web1", 10).await.unwrap();
    assert_eq!(
        reports.iter().map(|r| r.report_id).collect::<Vec<_>>(),
        [new.report_id, old.report_id]
    );
    assert_eq!(s.host_reports("web1", 1).await.unwrap().len(), 1);
    let recent = s.recent_reports(2).await.unwrap();
    assert_eq!(recent[0].report_id, db.report_id, "by arrival");
    let full = s.report(new.report_id).await.unwrap().unwrap();
    assert_eq!(full.report, new);

    let hits = s.search("vdb", 10).await.unwrap();
    assert_eq!(hits.len(), 1, "prefix of /dev/vdb");
    assert_eq!(hits[0].report.report_id, new.report_id);
    assert!(
        hits[0].snippet.contains('\u{2}'),
        "marked: {:?}",
        hits[0].snippet
    );
    assert_eq!(
        s.search("db1 prod", 10).await.unwrap().len(),
        1,
        "all words must match"
    );
    assert!(s.search("\" OR ( ' :* &", 10).await.unwrap().is_empty());
    assert!(s.search("   ", 10).await.unwrap().is_empty());

    assert_eq!(s.user_count().await.unwrap(), 0);
    let u = UserRow {
        name: "ann".into(),
        password_hash: "$argon2id$x".into(),
        role: Role::Admin,
    };
    s.add_user(&u).await.unwrap();
    assert!(matches!(s.add_user(&u).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.user("ann").await.unwrap().unwrap().role, Role::Admin);
    let now = OffsetDateTime::now_utc();
    let sess = SessionRow {
        token_hash: "h1".into(),
        username: "ann".into(),
        csrf: "c1".into(),
        expires_at: now + time::Duration::hours(1),
    };
    s.add_session(&sess).await.unwrap();
    assert_eq!(s.session("h1", now).await.unwrap().unwrap().csrf, "c1");
    assert!(
        s.session("h1", now + time::Duration::hours(2))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    s.delete_session("h1").await.unwrap();
    assert!(s.session("h1", now).await.unwrap().is_none());

    let t = TokenRow {
        token_hash: "t1".into(),
        name: "web1".into(),
        scope: TokenScope::Host("web1".into()),
    };
    s.add_token(&t).await.unwrap();
    assert!(matches!(
        s.add_token(&t).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.token("t1").await.unwrap().unwrap().scope,
        TokenScope::Host("web1".into())
    );
    assert!(s.token("t2").await.unwrap().is_none());
    assert_eq!(s.tokens().await.unwrap().len(), 1);
    assert_eq!(s.users().await.unwrap()[0].name, "ann");
    assert!(s.delete_token("web1").await.unwrap());
    assert!(s.token("t1").await.unwrap().is_none(), "revoked");
    assert!(!s.delete_token("web1").await.unwrap());

    // States, counts and paging computed in SQL.
    let params = |now: OffsetDateTime| StateParams {
        now_ms: rear_server::store::to_millis(now),
        default_ms: 86_400_000,
        by_tag: vec![("dmz".into(), 1), ("db".into(), 5)],
    };
    let soon = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let all = HostFilter::default();
    let names = |p: &HostPage| {
        p.rows
            .iter()
            .map(|h| h.hostname.clone())
            .collect::<Vec<_>>()
    };
    let page = s
        .host_page(&all, &params(soon), None, 0, 100)
        .await
        .unwrap();
    assert_eq!(page.counts, [1, 0, 0, 1], "web1 failed, db1 ok");
    assert_eq!(names(&page), ["web1", "db1"], "most urgent first");
    let ok = s
        .host_page(&all, &params(soon), Some(HostState::Ok), 0, 100)
        .await
        .unwrap();
    assert_eq!(names(&ok), ["db1"]);
    assert_eq!(ok.counts, [1, 0, 0, 1], "counts ignore the state filter");
    let later = soon + time::Duration::days(2);
    let page = s
        .host_page(&all, &params(later), None, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        page.counts,
        [1, 1, 0, 0],
        "db1 stale after the default interval"
    );
    let prod = HostFilter {
        tag: Some("prod".into()),
        ..Default::default()
    };
    let second = s.host_page(&prod, &params(soon), None, 1, 1).await.unwrap();
    assert_eq!(names(&second), ["db1"], "offset and limit");

    // A report that arrives late (older start) does not replace the newer facts.
    let mut late = report("web1", "mkrescue");
    late.started_at = old.started_at - time::Duration::hours(1);
    late.layout = Some("disk /dev/vdz 1 gpt\n".into());
    assert_eq!(insert(s, &late).await, IngestStatus::Stored);
    let web1 = s.host("web1").await.unwrap().unwrap();
    assert_eq!(web1.rescue_layout_sha, layout_digest(old.layout.as_deref()));
    assert_eq!(web1.layout_sha, layout_digest(new.layout.as_deref()));
    assert_eq!(ms(web1.last_success_at), ms(Some(old.started_at)));

    // Concurrent writers (SQLite: batched into shared transactions): every report answered,
    // duplicates recognised inside one batch too.
    let burst: Vec<_> = (0..100)
        .map(|i| report(&format!("burst{}", i % 10), "mkrescue"))
        .collect();
    let outcomes =
        futures_util::future::join_all(burst.iter().chain(burst.iter()).map(|r| insert(s, r)))
            .await;
    let stored = outcomes
        .iter()
        .filter(|o| **o == IngestStatus::Stored)
        .count();
    assert_eq!((stored, outcomes.len() - stored), (100, 100));
    assert_eq!(s.host("burst3").await.unwrap().unwrap().report_count, 10);

    host_paging(s).await;
    bulk_insert(s).await;
}

/// `Store::insert_reports_bulk` writes what ingest writes: report rows, search entries, host rows
/// and tags, and recognises duplicates (stored before, or twice in one call).
async fn bulk_insert(s: &dyn Store) {
    let mut older = report("bulk1", "mkrescue");
    older.tags = vec!["bulkold".into()];
    let mut newer = report("bulk1", "mkbackup");
    newer.started_at = older.started_at + time::Duration::minutes(5);
    newer.tags = vec!["bulknew".into(), "prod".into()];
    newer.log_tail = "zyxwvut finished".into();
    let other = report("bulk2", "mkrescue");
    let before = report("bulk3", "mkrescue");
    assert_eq!(insert(s, &before).await, IngestStatus::Stored);
    let batch = [&newer, &older, &other, &before, &other];
    let news: Vec<_> = batch
        .iter()
        .map(|r| NewReport {
            report: r,
            source: ReportSource::Http,
            received_at: OffsetDateTime::now_utc(),
            legacy_mail: false,
        })
        .collect();
    let outcomes = s.insert_reports_bulk(&news).await.unwrap();
    use IngestStatus::{Duplicate, Stored};
    assert_eq!(outcomes, [Stored, Stored, Stored, Duplicate, Duplicate]);
    let bulk1 = s.host("bulk1").await.unwrap().unwrap();
    assert_eq!(bulk1.report_count, 2);
    assert_eq!(
        bulk1.last.report_id, newer.report_id,
        "newest by start time"
    );
    assert_eq!(bulk1.tags, ["bulknew", "prod"]);
    assert_eq!(s.host("bulk2").await.unwrap().unwrap().report_count, 1);
    let facets = s.facets().await.unwrap();
    let tag = |n: &str| facets.tags.iter().find(|c| c.name == n).map(|c| c.hosts);
    assert_eq!(tag("bulknew"), Some(1));
    assert_eq!(
        tag("bulkold"),
        None,
        "tags of the older report do not count"
    );
    let hits = s.search("zyxwvut", 10).await.unwrap();
    assert_eq!(hits.len(), 1, "search entry written");
    assert_eq!(hits[0].report.report_id, newer.report_id);
}

/// Keyset paging of `Store::hosts`: every host exactly once, in order, the filters and the state
/// applied in the database.
async fn host_paging(s: &dyn Store) {
    // 257 more hosts (names that sort alike in every collation), a third of them tagged "page3".
    let fleet: Vec<_> = (0..257)
        .map(|i| {
            let mut r = report(&format!("pg{i:04}"), "mkrescue");
            if i % 3 == 0 {
                r.tags = vec!["page3".into()];
            }
            if i % 5 == 0 {
                r.result = RunResult::Failure {
                    error: "boom".into(),
                };
            }
            r
        })
        .collect();
    futures_util::future::join_all(fleet.iter().map(|r| insert(s, r))).await;
    let every = rear_server::store::all_hosts(s, &HostFilter::default(), None)
        .await
        .unwrap();
    let walk = async |filter: &HostFilter, state: Option<HostState>, limit: u32| {
        let params = StateParams {
            now_ms: rear_server::store::to_millis(OffsetDateTime::now_utc()),
            default_ms: 86_400_000,
            by_tag: vec![("page3".into(), 3_600_000)],
        };
        let mut names: Vec<String> = Vec::new();
        let mut pages = 0;
        loop {
            let after = names.last().cloned().unwrap_or_default();
            let page = s
                .hosts(filter, state.map(|st| (st, &params)), &after, limit)
                .await
                .unwrap();
            assert!(page.len() <= limit as usize);
            pages += 1;
            let last = page.len() < limit as usize;
            names.extend(page.into_iter().map(|h| h.hostname));
            if last {
                return (names, pages);
            }
        }
    };
    let (names, pages) = walk(&HostFilter::default(), None, 10).await;
    assert_eq!(pages, every.len() / 10 + 1);
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "in order, no host twice"
    );
    assert_eq!(
        names,
        every.iter().map(|h| h.hostname.clone()).collect::<Vec<_>>()
    );
    let expected: Vec<String> = fleet.iter().map(|r| r.hostname.clone()).collect();
    let paged_fleet: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("pg"))
        .cloned()
        .collect();
    assert_eq!(
        paged_fleet, expected,
        "every host of the fleet exactly once"
    );
    let tagged = HostFilter {
        tag: Some("page3".into()),
        ..Default::default()
    };
    let (names, _) = walk(&tagged, None, 7).await;
    let want: Vec<_> = fleet
        .iter()
        .filter(|r| r.tags == ["page3"])
        .map(|r| r.hostname.clone())
        .collect();
    assert_eq!(names, want, "tag filter applied in the database");
    let (failed, _) = walk(&tagged, Some(HostState::Failed), 4).await;
    let want_failed: Vec<_> = (0..257)
        .filter(|i| i % 3 == 0 && i % 5 == 0)
        .map(|i| format!("pg{i:04}"))
        .collect();
    assert_eq!(failed, want_failed, "state computed in the database");
    let (ok, _) = walk(&tagged, Some(HostState::Ok), 50).await;
    assert_eq!(ok.len() + failed.len(), want.len());
}

#[tokio::test]
async fn sqlite_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    store_contract(rear_server::store::open(&url).await.unwrap()).await;
    // Reopening runs the migrations again without harm.
    let again = rear_server::store::open(&url).await.unwrap();
    assert!(again.host("web1").await.unwrap().is_some());
}

#[tokio::test]
#[ignore = "needs PostgreSQL (scripts/test-all.sh runs it)"]
async fn svc_postgres_store_contract() {
    let pg = PgCluster::start();
    store_contract(rear_server::store::open(&pg.url).await.unwrap()).await;
    let again = rear_server::store::open(&pg.url).await.unwrap();
    assert!(
        again.host("web1").await.unwrap().is_some(),
        "migrations are idempotent"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL (scripts/test-all.sh runs it)"]
async fn svc_postgres_server_ingest_api_and_search() {
    let pg = PgCluster::start();
    let url = pg.url.clone();
    let s = start_with(move |c| c.database_url = Some(url)).await;
    let token = s.token("site", TokenScope::Site).await;
    let read = s.token("read", TokenScope::Read).await;
    let r = report("pg1", "mkbackup");
    assert_eq!(s.post_report(&token, &r).await.0, StatusCode::CREATED);
    assert_eq!(s.post_report(&token, &r).await.0, StatusCode::OK);
    let (status, host) = s.api(&read, "/api/v1/hosts/pg1").await;
    assert_eq!(status, StatusCode::OK, "{host}");
    assert_eq!(host["state"], "ok");
    let (_, hits) = s.api(&read, "/api/v1/search?q=21474836480").await;
    assert_eq!(hits["reports"][0]["report_id"], r.report_id.to_string());
}

/// A report whose write fails inside a group-commit batch fails alone: the batch is rolled back
/// and its other reports are stored one by one (with their search entries).
#[tokio::test]
async fn sqlite_failing_report_in_a_batch_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = rear_server::store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    // A trigger refusing one hostname stands in for a write that fails (disk full, corruption).
    let out = std::process::Command::new("sqlite3")
        .arg(&path)
        .arg(
            "CREATE TRIGGER poison BEFORE INSERT ON reports WHEN NEW.hostname = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned report'); END;",
        )
        .output()
        .expect("the sqlite3 CLI (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<_> = (0..40)
        .map(|i| {
            let host = if i == 17 {
                "poison".to_string()
            } else {
                format!("fine{i:02}")
            };
            report(&host, "mkrescue")
        })
        .collect();
    // All sent at once: the writer takes them in a few batches, one of them with the poison.
    let news: Vec<_> = reports
        .iter()
        .map(|r| NewReport {
            report: r,
            source: ReportSource::Http,
            received_at: OffsetDateTime::now_utc(),
            legacy_mail: false,
        })
        .collect();
    let outcomes =
        futures_util::future::join_all(news.iter().map(|n| store.insert_report(n))).await;
    for (r, o) in reports.iter().zip(&outcomes) {
        if r.hostname == "poison" {
            let e = o.as_ref().unwrap_err().to_string();
            assert!(e.contains("poisoned report"), "{e}");
        } else {
            assert_eq!(o.as_ref().unwrap(), &IngestStatus::Stored, "{}", r.hostname);
        }
    }
    assert!(store.host("poison").await.unwrap().is_none());
    assert_eq!(store.host("fine18").await.unwrap().unwrap().report_count, 1);
    let hits = store.search("fine18", 10).await.unwrap();
    assert_eq!(
        hits.len(),
        1,
        "search entry of a report stored after the retry"
    );
    assert_eq!(
        store
            .hosts(&HostFilter::default(), None, "", 100)
            .await
            .unwrap()
            .len(),
        39
    );
}
