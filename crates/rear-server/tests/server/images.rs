//! Rescue images: upload with verification, idempotent re-upload, retention with shared objects,
//! download, the host page's links, and refusal without credentials; on SQLite always and on a
//! real PostgreSQL in the `svc_` test.

use std::path::{Path, PathBuf};

use rear_server::store::{Role, TokenScope};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{PgCluster, TestServer, report, start_with};

/// Deterministic content of `len` bytes that differs per `seed`.
pub(crate) fn content(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect()
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn object(dir: &Path, sha: &str) -> PathBuf {
    dir.join("sha256").join(&sha[..2]).join(&sha[2..])
}

/// Every object file in the store.
fn objects(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(prefixes) = std::fs::read_dir(dir.join("sha256")) else {
        return out;
    };
    for p in prefixes {
        let p = p.unwrap();
        for f in std::fs::read_dir(p.path()).unwrap() {
            out.push(format!(
                "{}{}",
                p.file_name().to_string_lossy(),
                f.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

pub(crate) async fn put(
    s: &TestServer,
    token: Option<&str>,
    host: &str,
    sha: &str,
    query: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = s
        .client
        .put(s.url(&format!("/api/v1/hosts/{host}/images/{sha}{query}")))
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn list(s: &TestServer, read: &str, host: &str) -> Vec<String> {
    let (status, body) = s.api(read, &format!("/api/v1/hosts/{host}/images")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sha256"].as_str().unwrap().to_string())
        .collect()
}

/// The whole image story against one server whose `images.keep_per_host` is 2.
async fn image_flow(s: &TestServer) {
    let dir = s.state.config().images_dir();
    let site = s.token("site", TokenScope::Site).await;
    let web2 = s.token("web2", TokenScope::Host("web2".into())).await;
    let read = s.token("read", TokenScope::Read).await;
    let [a, b, c, d, e] = [1u8, 2, 3, 4, 5].map(|i| content(i, 300_000 + usize::from(i)));
    let [sa, sb, sc, sd, se] = [&a, &b, &c, &d, &e].map(|x| sha(x));

    // Without credentials, with a read token, or for another host: refused, nothing stored.
    assert_eq!(
        put(s, None, "web1", &sa, "", a.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        put(s, Some(&read), "web1", &sa, "", a.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = put(s, Some(&web2), "web1", &sa, "", a.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Wrong checksum and wrong size: 400, no object, no temporary file, no row.
    let (status, body) = put(s, Some(&site), "web1", &sb, "", a.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_checksum", "{body}");
    let (status, body) = put(s, Some(&site), "web1", &sa, "?size=5", a.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_size", "{body}");
    let (status, body) = put(s, Some(&site), "web1", "ABC", "", a.clone()).await;
    assert_eq!(body["error"], "bad_sha256", "{status} {body}");
    assert!(objects(&dir).is_empty(), "{:?}", objects(&dir));
    assert_eq!(
        std::fs::read_dir(dir.join("tmp"))
            .map(Iterator::count)
            .unwrap_or(0),
        0,
        "rejected uploads leave no temporary file"
    );
    assert!(list(s, &read, "web1").await.is_empty());

    // Upload: 201, stored under its hash with the same bytes.
    let (status, body) = put(
        s,
        Some(&site),
        "web1",
        &sa,
        "?name=rear-web1.iso",
        a.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "stored");
    assert_eq!(body["image"]["size"], a.len());
    assert_eq!(std::fs::read(object(&dir, &sa)).unwrap(), a);

    // Re-upload: idempotent (200, "existing", one row, one object).
    let (status, body) = put(
        s,
        Some(&site),
        "web1",
        &sa,
        "?name=rear-web1.iso",
        a.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "existing");
    assert_eq!(list(s, &read, "web1").await, vec![sa.clone()]);
    assert_eq!(objects(&dir), vec![sa.clone()]);

    // Download: the same bytes, with its name; nothing without credentials or for another host.
    let url = s.url(&format!("/api/v1/hosts/web1/images/{sa}"));
    let r = s.client.get(&url).bearer_auth(&read).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"rear-web1.iso\""
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), a.as_slice());
    let anon = s.client.get(&url).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .api(&read, &format!("/api/v1/hosts/web2/images/{sa}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "web2 has no such image yet");

    // web2 uploads the same content with its host token: a second row, still one object.
    let (status, body) = put(s, Some(&web2), "web2", &sa, "", a.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "existing");
    assert_eq!(objects(&dir), vec![sa.clone()]);

    // Retention (keep 2): web1's third image drops a from web1's list, but web2 still names it.
    for (x, sx) in [(&b, &sb), (&c, &sc)] {
        let (status, body) = put(s, Some(&site), "web1", sx, "", x.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(list(s, &read, "web1").await, vec![sc.clone(), sb.clone()]);
    assert!(object(&dir, &sa).exists(), "shared object kept");
    // web2's third image drops a from web2 too: now nothing names it and the object goes.
    for (x, sx) in [(&d, &sd), (&e, &se)] {
        let (status, body) = put(s, Some(&web2), "web2", sx, "", x.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if *sx == se {
            assert_eq!(body["pruned"], serde_json::json!([sa.clone()]), "{body}");
        }
    }
    assert_eq!(list(s, &read, "web2").await, vec![se.clone(), sd.clone()]);
    assert!(!object(&dir, &sa).exists(), "unreferenced object deleted");
    let mut expected = vec![sb.clone(), sc.clone(), sd.clone(), se.clone()];
    expected.sort();
    assert_eq!(objects(&dir), expected);

    // The host page links the downloads; a GUI session may download.
    assert_eq!(
        s.post_report(&site, &report("web1", "mkrescue")).await.0,
        StatusCode::CREATED
    );
    s.user("viewer", "viewer-password", Role::Viewer).await;
    let cookie = s.login("viewer", "viewer-password").await;
    let (status, html) = s.page(&cookie, "/hosts/web1").await;
    assert_eq!(status, StatusCode::OK);
    let link = format!("/api/v1/hosts/web1/images/{sc}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let r = s
        .client
        .get(s.url(&link))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sha(&r.bytes().await.unwrap()), sc);
}

#[tokio::test]
async fn images_upload_verify_retention_and_download() {
    let s = start_with(|c| c.images.keep_per_host = 2).await;
    image_flow(&s).await;
}

/// The client side (`rear_core::report::upload`) against the real server: a first upload stores
/// the file, a second is harmless, a wrong token is an error, and the bytes come back unchanged.
#[tokio::test]
async fn client_uploads_rescue_image_to_server() {
    use rear_core::config::RearUrl;
    use rear_core::report::{MailSettings, ServerSettings, upload};

    let s = start_with(|_| {}).await;
    let token = s.token("web1", TokenScope::Host("web1".into())).await;
    let read = s.token("read", TokenScope::Read).await;
    let tmp = tempfile::tempdir().unwrap();
    let iso = tmp.path().join("rear-web1.iso");
    let bytes = content(9, 3 << 20);
    std::fs::write(&iso, &bytes).unwrap();
    let settings = |token: &str| ServerSettings {
        url: RearUrl::parse(&format!("{}/", s.base)).unwrap(),
        token: Some(token.to_string()),
        mail: MailSettings {
            relay: None,
            from: "root@web1".into(),
            max_image_size: 0,
        },
        timeout: std::time::Duration::from_secs(10),
    };
    let run = |settings: ServerSettings| {
        let iso = iso.clone();
        tokio::task::spawn_blocking(move || upload::upload_image(&iso, "web1", &settings, None))
    };
    let first = run(settings(&token)).await.unwrap().unwrap();
    assert_eq!(first.sha256, sha(&bytes));
    assert_eq!(first.size, bytes.len() as u64);
    assert!(first.new_object);
    let again = run(settings(&token)).await.unwrap().unwrap();
    assert!(!again.new_object, "second upload finds the object");
    let err = run(settings("wrong-token")).await.unwrap().unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");

    let r = s
        .client
        .get(s.url(&format!("/api/v1/hosts/web1/images/{}", first.sha256)))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"rear-web1.iso\""
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

#[tokio::test]
#[ignore = "needs PostgreSQL (scripts/test-all.sh runs it)"]
async fn svc_postgres_images_upload_and_retention() {
    let pg = PgCluster::start();
    let url = pg.url.clone();
    let s = start_with(move |c| {
        c.database_url = Some(url);
        c.images.keep_per_host = 2;
    })
    .await;
    image_flow(&s).await;
}
