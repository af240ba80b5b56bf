//! HTTP ingest, the JSON API and the pages that show what was ingested.

use rear_proto::RunResult;
use rear_server::store::{Role, TokenScope};
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::common::{report, start, start_with};

#[tokio::test]
async fn http_ingest_is_idempotent_and_host_appears_in_api_and_gui() {
    let s = start().await;
    let ingest = s.token("web1-token", TokenScope::Host("web1".into())).await;
    let read = s.token("monitoring", TokenScope::Read).await;
    let r = report("web1", "mkrescue");

    let (status, body) = s.post_report(&ingest, &r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "stored");
    assert_eq!(body["report_id"], r.report_id.to_string());
    let (status, body) = s.post_report(&ingest, &r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "duplicate");

    let (status, hosts) = s.api(&read, "/api/v1/hosts").await;
    assert_eq!(status, StatusCode::OK);
    let hosts = hosts["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["hostname"], "web1");
    assert_eq!(hosts[0]["domain"], "example.com");
    assert_eq!(hosts[0]["state"], "ok");
    assert_eq!(hosts[0]["report_count"], 1);
    assert_eq!(hosts[0]["tags"], serde_json::json!(["prod", "web"]));
    assert!(hosts[0]["last_rescue_at"].is_string());
    assert!(hosts[0]["last_backup_at"].is_null());

    let (status, one) = s.api(&read, "/api/v1/hosts/web1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["last_report"]["workflow"], "mkrescue");
    assert_eq!(one["last_report"]["source"], "http");
    let (status, reports) = s.api(&read, "/api/v1/hosts/web1/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reports["reports"].as_array().unwrap().len(), 1);
    let (status, full) = s
        .api(&read, &format!("/api/v1/reports/{}", r.report_id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rear_proto::Report::from_json(full.to_string().as_bytes()).unwrap(),
        r
    );
    let (status, missing) = s.api(&read, "/api/v1/hosts/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"], "not_found");

    s.user("alice", "alice-password", Role::Viewer).await;
    let cookie = s.login("alice", "alice-password").await;
    let (status, html) = s.page(&cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/hosts/web1\""), "{html}");
    assert!(html.contains("<span class=\"state ok\">ok</span>"));
    let (status, html) = s.page(&cookie, "/hosts/web1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("disk /dev/sda 21474836480 gpt"),
        "layout shown: {html}"
    );
    assert!(html.contains("Running rear mkrescue"), "log tail shown");
    assert!(html.contains("(no inventory in this report)"));
    let (status, html) = s.page(&cookie, &format!("/reports/{}", r.report_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Debian GNU/Linux 12"));
}

#[tokio::test]
async fn http_ingest_rejects_forged_malformed_and_oversized_reports() {
    let s = start_with(|c| c.http.max_report_bytes = 8192).await;
    let web1 = s.token("web1-token", TokenScope::Host("web1".into())).await;
    let read = s.token("monitoring", TokenScope::Read).await;

    let (status, body) = s.post_report(&web1, &report("db1", "mkbackup")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("may only report for host web1"),
        "{body}"
    );

    let (status, body) = s.post_raw(&web1, b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_report");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed report"),
        "{body}"
    );

    let mut v = serde_json::to_value(report("web1", "mkrescue")).unwrap();
    v["schema_version"] = "2.0".into();
    let (status, body) = s.post_raw(&web1, v.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("not supported"),
        "{body}"
    );

    let mut bad_tag = report("web1", "mkrescue");
    bad_tag.tags = vec!["<script>".into()];
    let (status, body) = s.post_report(&web1, &bad_tag).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invalid field tags"),
        "{body}"
    );

    let mut big = report("web1", "mkrescue");
    big.log_tail = "x".repeat(20_000);
    let (status, body) = s.post_report(&web1, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "too_large");

    let (status, _) = s
        .post_report("not-a-token", &report("web1", "mkrescue"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = s.post_report(&read, &report("web1", "mkrescue")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "read tokens cannot ingest: {body}"
    );
    let (status, _) = s.api(&web1, "/api/v1/hosts").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "ingest tokens cannot read");

    // Nothing of the above was stored, and the server still answers.
    let (status, hosts) = s.api(&read, "/api/v1/hosts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hosts["hosts"], serde_json::json!([]));
    let health: serde_json::Value = s
        .client
        .get(s.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn host_state_filters_facets_search_and_layout_diff() {
    let s = start().await;
    let site = s.token("site", TokenScope::Site).await;
    let read = s.token("monitoring", TokenScope::Read).await;

    let old = report("web1", "mkbackup");
    let mut new = report("web1", "mkrescue");
    new.started_at = old.started_at + time::Duration::minutes(5);
    new.layout = Some(
        old.layout
            .clone()
            .unwrap()
            .replace("21474836480", "42949672960"),
    );
    new.result = RunResult::Failure {
        error: "mkfs.xfs <missing> & gone".into(),
    };
    let mut stale = report("db1", "mkbackup");
    stale.domain = "db.example.com".into();
    stale.tags = vec!["prod".into(), "db".into()];
    stale.started_at = OffsetDateTime::now_utc() - time::Duration::days(30);
    for r in [&new, &old, &stale] {
        // Out of order on purpose: the newer web1 report arrives first.
        assert_eq!(s.post_report(&site, r).await.0, StatusCode::CREATED);
    }

    let (_, web1) = s.api(&read, "/api/v1/hosts/web1").await;
    assert_eq!(web1["state"], "failed");
    assert_eq!(web1["last_report"]["report_id"], new.report_id.to_string());
    assert_eq!(web1["report_count"], 2);
    assert!(
        web1["last_backup_at"].is_string(),
        "the older mkbackup still counts as backup"
    );
    let (_, db1) = s.api(&read, "/api/v1/hosts/db1").await;
    assert_eq!(db1["state"], "stale");

    let names = |v: &serde_json::Value| -> Vec<String> {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&s.api(&read, "/api/v1/hosts?tag=db").await.1),
        ["db1"]
    );
    assert_eq!(
        names(&s.api(&read, "/api/v1/hosts?tag=prod").await.1),
        ["db1", "web1"]
    );
    assert_eq!(
        names(&s.api(&read, "/api/v1/hosts?domain=example.com").await.1),
        ["web1"]
    );
    assert_eq!(
        names(&s.api(&read, "/api/v1/hosts?state=stale").await.1),
        ["db1"]
    );

    // Paging: `next` (and the Link header) name the following page with the same filters; the
    // last page has none.
    let (_, first) = s.api(&read, "/api/v1/hosts?tag=prod&limit=1").await;
    assert_eq!(names(&first), ["db1"]);
    let next = first["next"].as_str().unwrap().to_string();
    assert_eq!(next, "/api/v1/hosts?limit=1&after=db1&tag=prod");
    let resp = reqwest::Client::new()
        .get(s.url("/api/v1/hosts?tag=prod&limit=1"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["link"].to_str().unwrap(),
        format!("<{next}>; rel=\"next\"")
    );
    let (_, second) = s.api(&read, &next).await;
    assert_eq!(names(&second), ["web1"]);
    assert!(second["next"].is_null(), "last page: {second}");
    let (_, all) = s.api(&read, "/api/v1/hosts?limit=0").await;
    assert_eq!(names(&all), ["db1"], "limit 0 is taken as 1");

    let (_, hits) = s.api(&read, "/api/v1/search?q=42949672960").await;
    let hits = hits["reports"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["report_id"], new.report_id.to_string());
    let (status, hits) = s.api(&read, "/api/v1/search?q=%22%20OR%20(").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "FTS syntax in the query is taken literally"
    );
    assert_eq!(hits["reports"], serde_json::json!([]));

    s.user("viewer", "viewer-password", Role::Viewer).await;
    let cookie = s.login("viewer", "viewer-password").await;
    let (_, html) = s.page(&cookie, "/").await;
    assert!(html.contains(">prod</span></a> (2)"), "tag count: {html}");
    assert!(html.contains(">db</span></a> (1)"), "tag count");
    assert!(html.contains(">stale</span></a> (1)"), "state count");
    let (_, html) = s.page(&cookie, "/?tag=db").await;
    assert!(
        html.contains("/hosts/db1") && !html.contains("href=\"/hosts/web1\""),
        "{html}"
    );
    let (_, html) = s.page(&cookie, "/?state=failed").await;
    assert!(html.contains("href=\"/hosts/web1\"") && !html.contains("href=\"/hosts/db1\""));

    let (_, html) = s.page(&cookie, "/search?q=42949672960").await;
    assert!(html.contains("<mark>42949672960</mark>"), "{html}");

    let (_, html) = s.page(&cookie, "/live").await;
    assert!(
        html.contains("mkfs.xfs &lt;missing&gt; &amp; gone"),
        "escaped error: {html}"
    );
    assert!(!html.contains("<missing>"));
    let (status, rows) = s.page(&cookie, "/live/rows").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows.matches("<tr>").count(), 3);

    let (status, html) = s
        .page(
            &cookie,
            &format!("/hosts/web1/diff?a={}&b={}", old.report_id, new.report_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<span class=\"del\">- disk /dev/sda 21474836480 gpt</span>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"add\">+ disk /dev/sda 42949672960 gpt</span>"));
    assert!(html.contains("2 changed line(s)"));
    let (status, _) = s
        .page(
            &cookie,
            &format!("/hosts/db1/diff?a={}&b={}", old.report_id, new.report_id),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "reports of another host are not diffed"
    );
}

#[tokio::test]
async fn openapi_description_lists_every_api_route() {
    let s = start().await;
    let read = s.token("monitoring", TokenScope::Read).await;
    let (status, doc) = s.api(&read, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    for route in rear_server::router::ROUTES {
        let path = route.example.split('?').next().unwrap();
        if !path.starts_with("/api/") && path != "/healthz" {
            continue;
        }
        let templ = path
            .replace("/web1", "/{name}")
            .replace("/00000000-0000-0000-0000-000000000000", "/{id}")
            .replace(&format!("/images/{}", "0".repeat(64)), "/images/{sha256}");
        let op = &doc["paths"][&templ][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {templ} missing from openapi.json",
            route.method
        );
    }
}

#[tokio::test]
async fn overview_pages_and_puts_failed_hosts_first() {
    let s = start().await;
    for i in 0..130 {
        let mut r = report(&format!("h{i:03}"), "mkrescue");
        if i == 120 {
            r.result = RunResult::Failure {
                error: "boom".into(),
            };
        }
        let status = s
            .state
            .store()
            .insert_report(&rear_server::store::NewReport {
                report: &r,
                source: rear_proto::api::ReportSource::Http,
                received_at: OffsetDateTime::now_utc(),
                legacy_mail: false,
            })
            .await
            .unwrap();
        assert_eq!(status, rear_proto::api::IngestStatus::Stored);
    }
    s.user("v", "viewer-password", Role::Viewer).await;
    let cookie = s.login("v", "viewer-password").await;
    let (_, page0) = s.page(&cookie, "/?tag=prod").await;
    assert_eq!(page0.matches("<tr><td><a href=\"/hosts/").count(), 100);
    assert!(page0.contains("Hosts 1-100 of 130."), "{page0}");
    assert!(page0.contains("<a href=\"/?page=1&amp;tag=prod\">next</a>"));
    let first_row = page0.find("<tr><td><a href=\"/hosts/").unwrap();
    assert!(
        page0[first_row..].starts_with("<tr><td><a href=\"/hosts/h120\">"),
        "failed first"
    );
    let (_, page1) = s.page(&cookie, "/?page=1&tag=prod").await;
    assert_eq!(page1.matches("<tr><td><a href=\"/hosts/").count(), 30);
    assert!(page1.contains("Hosts 101-130 of 130.") && page1.contains(">previous</a>"));
}
