//! Fleet health: hosts going stale (a manual clock, no sleeping), failed and drifted and back to
//! ok; `/metrics` read by a Prometheus text-format parser; `rear-server check` through the binary.

use std::process::Command;

use rear_proto::api::ReportSource;
use rear_proto::{OutputFile, Report, RunResult};
use rear_server::health::Clock;
use rear_server::store::{NewReport, TokenScope};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::common::{self, TestServer};

const LAYOUT_A: &str = "# Disk layout dated 20261120\ndisk /dev/vda 21474836480 gpt\n\
                        part /dev/vda 21473787904 1048576 rear-noname none /dev/vda1\n\
                        fs /dev/vda1 / ext4 uuid=1\n";
const LAYOUT_B: &str = "# Disk layout dated 20261121\ndisk /dev/vda 21474836480 gpt\n\
                        part /dev/vda 10736369664 1048576 rear-noname none /dev/vda1\n\
                        part /dev/vda 10736369664 10737418240 rear-noname none /dev/vda2\n\
                        fs /dev/vda1 / ext4 uuid=1\n";

fn run(
    host: &str,
    tags: &[&str],
    workflow: &str,
    at: OffsetDateTime,
    layout: Option<&str>,
) -> Report {
    let mut r = Report::new(host, workflow, "rear-rs 0.1.0");
    r.tags = tags.iter().map(|t| t.to_string()).collect();
    r.started_at = at;
    r.layout = layout.map(str::to_string);
    r
}

/// An inventory as rear writes it, with these packages and ssh.service in `ssh_state`.
fn inventory(packages: &[(&str, &str)], ssh_state: &str) -> serde_json::Value {
    let pkgs: Vec<_> = packages
        .iter()
        .map(|(n, v)| serde_json::json!({"name": n, "version": v, "arch": "amd64"}))
        .collect();
    serde_json::json!({
        "schema_version": 1,
        "collected_at": "2026-11-20T06:00:00Z",
        "hostname": "web1",
        "packages": {"status": "ok", "data": pkgs},
        "services": {"status": "ok", "data": [{"name": "ssh.service", "state": ssh_state}]},
    })
}

async fn state_of(s: &TestServer, token: &str, host: &str) -> String {
    let (code, body) = s.api(token, &format!("/api/v1/hosts/{host}")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body["state"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn host_goes_stale_failed_drifted_and_back_to_ok() {
    let t0 = time::macros::datetime!(2026-11-20 06:00 UTC);
    let clock = Clock::manual(t0);
    let s = common::start_with_clock(
        |c| {
            c.stale_after_hours = 48;
            c.stale_after_hours_by_tag.insert("prod".into(), 24);
        },
        clock.clone(),
    )
    .await;
    let ingest = s.token("site", TokenScope::Site).await;
    let read = s.token("read", TokenScope::Read).await;
    s.user("ann", "correct horse", rear_server::store::Role::Viewer)
        .await;
    let cookie = s.login("ann", "correct horse").await;
    let post = |r: Report| {
        let s = &s;
        let ingest = &ingest;
        async move {
            let (code, body) = s.post_report(ingest, &r).await;
            assert_eq!(code, StatusCode::CREATED, "{body}");
        }
    };

    let mut first = run("web1", &["prod"], "mkrescue", t0, Some(LAYOUT_A));
    first.inventory = inventory(&[("bash", "5.2.15-2"), ("nginx", "1.22.1-9")], "enabled");
    post(first).await;
    post(run("dev1", &["dev"], "mkrescue", t0, Some(LAYOUT_A))).await;
    assert_eq!(state_of(&s, &read, "web1").await, "ok");

    // 25 hours later: past prod's 24 h, within the default 48 h.
    clock.advance(Duration::hours(25));
    assert_eq!(state_of(&s, &read, "web1").await, "stale");
    assert_eq!(state_of(&s, &read, "dev1").await, "ok");
    let (_, overview) = s.page(&cookie, "/?state=stale").await;
    assert!(overview.contains("Hosts (stale): 1"), "{overview}");
    assert!(overview.contains("/hosts/web1"), "{overview}");

    // A checklayout run shows another layout than the rescue image's: drifted.
    post(run(
        "web1",
        &["prod"],
        "checklayout",
        clock.now(),
        Some(LAYOUT_B),
    ))
    .await;
    assert_eq!(state_of(&s, &read, "web1").await, "drifted");
    let (_, host_page) = s.page(&cookie, "/hosts/web1").await;
    assert!(
        host_page.contains("The layout changed since the last rescue image"),
        "{host_page}"
    );
    // The layout (classic ReaR format here) as a tree: both partitions below the disk.
    assert!(
        host_page.contains(
            "<ul class=\"tree\"><li><code>disk /dev/vda 20.0 GiB gpt</code><ul>\
             <li><code>part /dev/vda1 10.0 GiB</code><ul><li><code>fs ext4 /</code></li></ul></li>\
             <li><code>part /dev/vda2 10.0 GiB</code></li></ul></li></ul>"
        ),
        "{host_page}"
    );
    let (_, drifted) = s.api(&read, "/api/v1/hosts?state=drifted").await;
    assert_eq!(drifted["hosts"].as_array().unwrap().len(), 1, "{drifted}");

    // The next mkrescue fails: failed, whatever else holds.
    clock.advance(Duration::hours(1));
    let mut failed = run("web1", &["prod"], "mkrescue", clock.now(), Some(LAYOUT_B));
    failed.result = RunResult::Failure {
        error: "mkisofs failed".into(),
    };
    post(failed).await;
    assert_eq!(state_of(&s, &read, "web1").await, "failed");

    // A successful mkrescue with the new layout: ok again.
    clock.advance(Duration::hours(1));
    let mut fixed = run("web1", &["prod"], "mkrescue", clock.now(), Some(LAYOUT_B));
    fixed.inventory = inventory(&[("bash", "5.2.15-2+b1"), ("postgresql", "15")], "disabled");
    post(fixed).await;
    assert_eq!(state_of(&s, &read, "web1").await, "ok");
    // The host page compares the inventory with the last report that had one (the first).
    let (_, host_page) = s.page(&cookie, "/hosts/web1").await;
    for part in [
        "<h2>Inventory changes</h2>",
        "<h3>Packages added (1)</h3><ul class=\"changes\"><li>postgresql:amd64 15</li>",
        "<h3>Packages removed (1)</h3><ul class=\"changes\"><li>nginx:amd64 1.22.1-9</li>",
        "<li>bash:amd64 5.2.15-2 &rarr; 5.2.15-2+b1</li>",
        "<li>ssh.service enabled &rarr; disabled</li>",
    ] {
        assert!(host_page.contains(part), "{part} in {host_page}");
    }
    assert!(!host_page.contains("drifted</span>"), "{host_page}");
    // A comment-only difference (the dated header) is not drift.
    let relabelled = LAYOUT_B.replace("20261121", "20261122");
    post(run(
        "web1",
        &["prod"],
        "checklayout",
        clock.now(),
        Some(&relabelled),
    ))
    .await;
    assert_eq!(state_of(&s, &read, "web1").await, "ok");

    // dev1 goes stale after its default 48 h.
    clock.advance(Duration::hours(22));
    assert_eq!(state_of(&s, &read, "dev1").await, "stale");
    let (_, overview) = s.page(&cookie, "/").await;
    assert!(
        overview.contains("<a href=\"/?state=stale\"><span>stale</span></a> (1)"),
        "{overview}"
    );
}

fn metric<'a>(
    scrape: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> &'a prometheus_parse::Value {
    &scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .value
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text() {
    let t0 = time::macros::datetime!(2026-11-20 06:00 UTC);
    let clock = Clock::manual(t0);
    let s = common::start_with_clock(|_| {}, clock.clone()).await;
    let ingest = s.token("site", TokenScope::Site).await;
    let read = s.token("prometheus", TokenScope::Read).await;

    let mut backup = run("db1", &["prod"], "mkbackup", t0, Some(LAYOUT_A));
    backup.domain = "example.com".into();
    backup.output_files = vec![
        OutputFile {
            path: "/var/lib/rear/output/rear-db1.iso".into(),
            size: 100_000_000,
            sha256: String::new(),
        },
        OutputFile {
            path: "/srv/backup/db1/backup.tar.gz".into(),
            size: 2_000_000_000,
            sha256: String::new(),
        },
    ];
    assert_eq!(s.post_report(&ingest, &backup).await.0, StatusCode::CREATED);
    assert_eq!(s.post_report(&ingest, &backup).await.0, StatusCode::OK);
    let mut failed = run("web1", &[], "mkrescue", t0, None);
    failed.result = RunResult::Failure {
        error: "no space".into(),
    };
    assert_eq!(s.post_report(&ingest, &failed).await.0, StatusCode::CREATED);
    assert_eq!(
        s.post_raw(&ingest, b"{not json".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );
    // One report by SMTP.
    let (mut smtp, _) = common::MailClient::connect(s.server.smtp_addr.unwrap()).await;
    assert!(smtp.cmd("EHLO client").await.starts_with("250"));
    let mail = common::report_mail(&run("mail1", &[], "mkrescue", t0, None), "");
    assert!(smtp.send_mail(&mail).await.starts_with("250"));
    clock.advance(Duration::seconds(90));

    // Authenticated like the API.
    let anon = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    // The parser skips lines it cannot read: every sample line must have become a sample.
    let sample_lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert_eq!(scrape.samples.len(), sample_lines, "{text}");

    use prometheus_parse::Value::{Counter, Gauge};
    let db1 = [("host", "db1"), ("domain", "example.com")];
    assert_eq!(
        metric(&scrape, "rear_host_state", &[db1[0], ("state", "ok")]),
        &Gauge(1.0)
    );
    assert_eq!(
        metric(&scrape, "rear_host_state", &[db1[0], ("state", "failed")]),
        &Gauge(0.0)
    );
    assert_eq!(
        metric(
            &scrape,
            "rear_host_state",
            &[("host", "web1"), ("state", "failed")]
        ),
        &Gauge(1.0)
    );
    assert_eq!(
        metric(&scrape, "rear_host_last_success_age_seconds", &db1),
        &Gauge(90.0)
    );
    assert_eq!(
        metric(&scrape, "rear_host_rescue_image_age_seconds", &db1),
        &Gauge(90.0)
    );
    assert_eq!(
        metric(&scrape, "rear_host_backup_size_bytes", &db1),
        &Gauge(2_100_000_000.0)
    );
    assert_eq!(
        metric(&scrape, "rear_hosts", &[("state", "failed")]),
        &Gauge(1.0)
    );
    assert_eq!(
        metric(&scrape, "rear_hosts", &[("state", "ok")]),
        &Gauge(2.0)
    );
    let counter = |name, transport| metric(&scrape, name, &[("transport", transport)]).clone();
    assert_eq!(
        counter("rear_server_reports_stored_total", "http"),
        Counter(2.0)
    );
    assert_eq!(
        counter("rear_server_reports_stored_total", "smtp"),
        Counter(1.0)
    );
    assert_eq!(
        counter("rear_server_reports_duplicate_total", "http"),
        Counter(1.0)
    );
    assert_eq!(
        counter("rear_server_ingest_errors_total", "http"),
        Counter(1.0)
    );
    assert!(scrape.docs.contains_key("rear_host_state"));
    let requests = text
        .lines()
        .find_map(|l| l.strip_prefix("rear_server_http_request_duration_seconds_count "))
        .unwrap();
    // Five requests before this one (which is counted when it is answered).
    assert_eq!(requests, "5");
}

const BIN: &str = env!("CARGO_BIN_EXE_rear-server");

fn check(config: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one status line: {stdout:?}");
    (
        out.status.code().unwrap_or(-1),
        stdout.trim_end().to_string(),
    )
}

#[test]
fn check_command_follows_nagios_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nstale_after_hours = 192\n[stale_after_hours_by_tag]\nhourly = 1\n",
            dir.path().display()
        ),
    )
    .unwrap();

    // No database yet: UNKNOWN.
    let (code, line) = check(&config, &[]);
    assert_eq!(code, 3, "{line}");
    assert!(line.starts_with("REAR UNKNOWN - no database in"), "{line}");

    let now = OffsetDateTime::now_utc();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite:{}", dir.path().join("rear-server.db").display());
        let store = rear_server::store::open(&url).await.unwrap();
        let mut failed = run("db1", &["prod"], "mkbackup", now - Duration::hours(1), None);
        failed.result = RunResult::Failure {
            error: "tar: /srv: Cannot open".into(),
        };
        let reports = [
            run(
                "web1",
                &["prod"],
                "mkrescue",
                now - Duration::hours(3),
                Some(LAYOUT_A),
            ),
            run(
                "web2",
                &["prod"],
                "mkrescue",
                now - Duration::hours(3),
                Some(LAYOUT_A),
            ),
            run(
                "web2",
                &["prod"],
                "checklayout",
                now - Duration::hours(1),
                Some(LAYOUT_B),
            ),
            run(
                "old1",
                &["legacy"],
                "mkrescue",
                now - Duration::days(9),
                None,
            ),
            run(
                "cron1",
                &["hourly"],
                "mkrescue",
                now - Duration::hours(2),
                None,
            ),
            failed,
        ];
        for r in &reports {
            store
                .insert_report(&NewReport {
                    report: r,
                    source: ReportSource::Http,
                    received_at: now,
                    legacy_mail: false,
                })
                .await
                .unwrap();
        }
    });

    let (code, line) = check(&config, &["--host", "web1"]);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with("REAR OK - web1 ok: last mkrescue "),
        "{line}"
    );
    let (text, perf) = line.split_once(" | ").expect("perfdata");
    assert!(!text.contains('|'));
    assert!(perf.starts_with("last_success_age=1"), "{perf}");
    assert!(
        perf.contains(";;691200;0"),
        "192 h as critical threshold: {perf}"
    );
    assert!(perf.contains("rescue_image_age="), "{perf}");

    let (code, line) = check(&config, &["--host", "web2"]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("REAR WARNING - web2 drifted: the layout changed"),
        "{line}"
    );

    let (code, line) = check(&config, &["--host", "db1"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("REAR CRITICAL - db1 failed: mkbackup at ")
            && line.contains("tar: /srv: Cannot open"),
        "{line}"
    );

    let (code, line) = check(&config, &["--host", "old1"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.contains("old1 stale: last successful report 9d ago (expected every 8d)"),
        "{line}"
    );
    let (code, line) = check(&config, &["--host", "cron1"]);
    assert_eq!(code, 2, "per-tag interval of 1 h: {line}");
    assert!(line.contains("(expected every 60m)"), "{line}");

    let (code, line) = check(&config, &["--host", "nosuch"]);
    assert_eq!(code, 3, "{line}");
    assert_eq!(line, "REAR UNKNOWN - no reports from host nosuch");

    let (code, line) = check(&config, &[]);
    assert_eq!(code, 2, "{line}");
    assert_eq!(
        line,
        "REAR CRITICAL - 5 hosts in fleet: 1 failed (db1), 2 stale (cron1, old1), \
         1 drifted (web2), 1 ok | hosts=5;;;0 failed=1;;;0 stale=2;;;0 drifted=1;;;0 ok=1;;;0"
    );
    let (code, line) = check(&config, &["--tag", "legacy"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("REAR CRITICAL - 1 hosts in tag legacy: 1 stale (old1)"),
        "{line}"
    );
    let (code, line) = check(&config, &["--tag", "nosuch"]);
    assert_eq!(code, 3, "{line}");
    assert_eq!(line, "REAR UNKNOWN - no hosts in tag nosuch");

    let (code, _) = check(&dir.path().join("missing.toml"), &[]);
    assert_eq!(code, 3, "an unreadable config is UNKNOWN");
}
