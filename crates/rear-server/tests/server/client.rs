//! Client and server together: the real `rear` binary builds a rescue ISO with `mkrescue` and
//! reports to the real server, which then shows the host, the run and the image in the JSON API
//! and on the host page, and gives back the same bytes.

use std::process::Command;

use rear_proto::api::ReportList;
use rear_proto::{Report, RunResult};
use rear_server::store::{Role, TokenScope};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::common::start_with;
use crate::rescue_support;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "builds a rescue ISO with the rear binary and a Debian kernel (scripts/test-all.sh runs it)"]
async fn svc_rear_mkrescue_uploads_its_iso_and_the_host_page_offers_it() {
    let s = start_with(|_| {}).await;
    let site = s.token("site", TokenScope::Site).await;
    let read = s.token("read", TokenScope::Read).await;
    let (kernel, rear) = tokio::task::spawn_blocking(|| {
        (
            rescue_support::debian_kernel(),
            rescue_support::rear_binary(),
        )
    })
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "OUTPUT=ISO\nKERNEL_FILE={}\nISO_DIR={d}/out\nVAR_DIR={d}/var\nLOGFILE={d}/rear.log\nTMPDIR={d}\n\
             REAR_SERVER={}/\nREAR_SERVER_TOKEN={site}\nREAR_SERVER_SEND_RESULT=yes\nREAR_SERVER_UPLOAD_IMAGE=yes\n\
             REAR_SERVER_TAGS=( e2e )\n",
            kernel.image.display(),
            s.base
        ),
    )
    .unwrap();
    let conf = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(rear)
            .env("REAR_LOCK_FILE", conf.join("rear.lock"))
            .arg("-c")
            .arg(&conf)
            .args(["-v", "mkrescue"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rear mkrescue failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("Uploaded the rescue image"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Sent the report"), "{stdout}\n{stderr}");

    // The ISO the client wrote: rear-<hostname>.iso.
    let iso = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "iso"))
        .expect("mkrescue wrote no ISO");
    let iso_name = iso.file_name().unwrap().to_string_lossy().into_owned();
    let host = iso_name
        .strip_prefix("rear-")
        .and_then(|n| n.strip_suffix(".iso"))
        .unwrap()
        .to_string();
    let bytes = std::fs::read(&iso).unwrap();
    let digest = hex(&Sha256::digest(&bytes));

    // The API: the run is there, successful, naming the image; the image is stored.
    let (status, list) = s.api(&read, &format!("/api/v1/hosts/{host}/reports")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list: ReportList = serde_json::from_value(list).unwrap();
    assert_eq!(list.reports.len(), 1, "{list:?}");
    let summary = &list.reports[0];
    assert_eq!(summary.workflow, "mkrescue");
    assert!(summary.success, "{summary:?}");
    let (status, full) = s
        .api(&read, &format!("/api/v1/reports/{}", summary.report_id))
        .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    let report = Report::from_json(full.to_string().as_bytes()).unwrap();
    assert_eq!(report.result, RunResult::Success);
    assert_eq!(report.tags, ["e2e"]);
    let image = report.image.expect("the report names the image");
    assert_eq!(
        (image.name.as_str(), image.size),
        (iso_name.as_str(), bytes.len() as u64)
    );
    assert_eq!(image.sha256, digest);
    let (status, images) = s.api(&read, &format!("/api/v1/hosts/{host}/images")).await;
    assert_eq!(status, StatusCode::OK, "{images}");
    let images = images["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["sha256"], digest.as_str());
    assert_eq!(images[0]["size"], bytes.len() as u64);

    // The host page offers the download to a GUI user, and it is the same ISO.
    s.user("viewer", "viewer-password", Role::Viewer).await;
    let cookie = s.login("viewer", "viewer-password").await;
    let (status, html) = s.page(&cookie, &format!("/hosts/{host}")).await;
    assert_eq!(status, StatusCode::OK);
    let link = format!("/api/v1/hosts/{host}/images/{digest}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(html.contains(&iso_name), "the page names {iso_name}");
    let r = s
        .client
        .get(s.url(&link))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(hex(&Sha256::digest(r.bytes().await.unwrap())), digest);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
