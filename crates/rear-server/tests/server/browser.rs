//! The web GUI in a real headless Chromium (Debian's `chromium` and `chromium-driver`), driven
//! over WebDriver with fantoccini: log in through the form, the overview, the tag filter, the
//! search and the live view picking up a report that arrives while it is open.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rear_server::store::{Role, TokenScope};
use reqwest::StatusCode;

use crate::common::{self, report};

/// A private chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn connect(&self) -> Client {
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&self.url)
                .await
            {
                Ok(c) => return c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn host_rows(c: &Client) -> Vec<String> {
    let mut names = Vec::new();
    for row in c
        .find_all(Locator::Css("section table tbody tr td:first-child a"))
        .await
        .unwrap()
    {
        names.push(row.text().await.unwrap());
    }
    names
}

/// Fills in and sends the login form the browser was sent to; waits for the overview.
async fn log_in(c: &Client, user: &str, password: &str) {
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//section/h1[starts-with(., 'Hosts')]"))
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs chromium and chromium-driver (scripts/test-all.sh runs svc_ tests)"]
async fn svc_browser_overview_filter_search_and_live_view() {
    let s = common::start().await;
    s.user("ann", "correct horse", Role::Viewer).await;
    let ingest = s.token("site", TokenScope::Site).await;
    let mut web1 = report("web1", "mkrescue");
    web1.tags = vec!["prod".into(), "web".into()];
    let mut db1 = report("db1", "mkbackup");
    db1.tags = vec!["db".into()];
    db1.log_tail = "postgresql cluster 15/main backed up".into();
    for r in [&web1, &db1] {
        assert_eq!(s.post_report(&ingest, r).await.0, StatusCode::CREATED);
    }

    let driver = Driver::start();
    let c = driver.connect().await;
    let result = async {
        // Every page needs a login: the browser lands on the form.
        c.goto(&s.url("/")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/login"));
        log_in(&c, "ann", "correct horse").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/");

        // The overview lists both hosts.
        assert_eq!(text_of(&c, "section h1").await, "Hosts: 2");
        assert_eq!(host_rows(&c).await, ["db1", "web1"]);

        // Filter by tag through the side bar link.
        c.find(Locator::Css("aside a[href='/?tag=prod']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h1[contains(., 'tagged prod')]"))
            .await
            .unwrap();
        assert_eq!(host_rows(&c).await, ["web1"]);

        // Search through the form.
        c.goto(&s.url("/search")).await.unwrap();
        c.find(Locator::Id("q"))
            .await
            .unwrap()
            .send_keys("postgresql")
            .await
            .unwrap();
        c.find(Locator::Css("form[role=search] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//p[contains(., 'result(s)')]"))
            .await
            .unwrap();
        let hits = c
            .find_all(Locator::Css("main li a[href^='/hosts/']"))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].text().await.unwrap(), "db1");
        assert!(
            c.find(Locator::Css("main li mark"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .eq_ignore_ascii_case("postgresql")
        );

        // The live view: a report sent while the page is open shows up without a reload.
        c.goto(&s.url("/live")).await.unwrap();
        let rows = c.find_all(Locator::Css("#live-rows tr")).await.unwrap();
        assert_eq!(rows.len(), 2);
        let started = Instant::now();
        let new1 = report("new1", "checklayout");
        assert_eq!(s.post_report(&ingest, &new1).await.0, StatusCode::CREATED);
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//tbody[@id='live-rows']//a[text()='new1']"))
            .await
            .expect("the live view shows the new report within 10 s");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            c.find_all(Locator::Css("#live-rows tr"))
                .await
                .unwrap()
                .len(),
            3
        );
        assert!(
            text_of(&c, "#live-status")
                .await
                .starts_with("Updates every")
        );
    }
    .await;
    let _ = c.close().await;
    result
}

/// On a phone-sized screen (390 x 844 CSS pixels) no page is wider than the screen: wide tables,
/// layouts and log lines scroll inside their own box instead of widening the page.
#[tokio::test]
#[ignore = "needs chromium and chromium-driver (scripts/test-all.sh runs svc_ tests)"]
async fn svc_browser_pages_fit_a_phone_screen() {
    let s = common::start().await;
    s.user("ann", "correct horse", Role::Viewer).await;
    let ingest = s.token("site", TokenScope::Site).await;
    let mut r = report("web1-with-a-rather-long-hostname", "mkbackup");
    r.tags = vec![
        "prod".into(),
        "web".into(),
        "dmz".into(),
        "frankfurt-datacenter-2".into(),
    ];
    r.layout = Some(format!(
        "{}crypt name=luks-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 dev=/dev/md127 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 uuid=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n",
        r.layout.unwrap_or_default()
    ));
    r.log_tail = format!(
        "{}\n2026-11-26 06:00:01 tar: /srv/data/exports/customers/2026/very/deep/path/with/a/file-name-that-goes-on-and-on.csv: file changed as we read it\n",
        r.log_tail
    );
    let (status, body) = s.post_report(&ingest, &r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let report_id = r.report_id;

    let driver = Driver::start();
    let c = driver.connect().await;
    let result = async {
        c.goto(&s.url("/")).await.unwrap();
        log_in(&c, "ann", "correct horse").await;
        c.set_window_size(390, 844).await.unwrap();
        let host = "/hosts/web1-with-a-rather-long-hostname".to_string();
        for path in [
            "/".to_string(),
            "/?tag=prod".to_string(),
            host,
            "/search?q=customers".to_string(),
            "/live".to_string(),
            format!("/reports/{report_id}"),
        ] {
            c.goto(&s.url(&path)).await.unwrap();
            let v = c
                .execute(
                    "return [document.documentElement.scrollWidth, window.innerWidth]",
                    vec![],
                )
                .await
                .unwrap();
            let (page, screen) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap());
            assert!(
                screen <= 400,
                "the window is {screen} px wide, not a phone's"
            );
            assert!(
                page <= screen,
                "{path} is {page} px wide on a {screen} px screen"
            );
        }
    }
    .await;
    let _ = c.close().await;
    result
}
