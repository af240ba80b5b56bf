//! The rescue image store on a real S3 server: `s3s-fs` (an S3 server over a directory, from the
//! s3s project) started on a free port with its own credentials. The server under test is
//! configured with `images.s3_url`; uploads, downloads, a rejected upload and retention go
//! through the real HTTP API, and the objects are checked in s3s-fs's directory.
//!
//! The binary is `$S3S_FS`, else `/var/cache/rear-rs/tools/bin/s3s-fs` (where
//! `scripts/setup.sh` installs it); without it the test fails.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rear_server::config::Config;
use rear_server::images::ImageStore;
use rear_server::store::TokenScope;
use reqwest::StatusCode;

use crate::common::start_with;
use crate::images::{content, list, put, sha};

/// Where `scripts/setup.sh` installs s3s-fs.
const S3S_FS_DEFAULT: &str = "/var/cache/rear-rs/tools/bin/s3s-fs";
const BUCKET: &str = "rear-images";
const PREFIX: &str = "fleet/prod";
const ACCESS_KEY: &str = "rear-test";

/// A running s3s-fs, killed on drop.
struct S3Server {
    child: Child,
    endpoint: String,
    root: PathBuf,
    secret_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    fn start() -> Self {
        let bin =
            std::env::var_os("S3S_FS").map_or_else(|| PathBuf::from(S3S_FS_DEFAULT), PathBuf::from);
        assert!(
            bin.is_file(),
            "s3s-fs not found at {} (set S3S_FS, or run scripts/setup.sh, which runs: cargo install \
             s3s-fs --version 0.14.1 --features binary --locked --root /var/cache/rear-rs/tools)",
            bin.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let secret = rear_server::auth::random_token();
        let secret_file = dir.path().join("s3.secret");
        std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", &secret])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
            secret_file,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("s3s-fs exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs is not listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `[images]` for this server, keeping `keep` images per host.
    fn configure(&self, c: &mut Config, keep: u32) {
        c.images.s3_url = format!("s3://{BUCKET}/{PREFIX}");
        c.images.s3_endpoint.clone_from(&self.endpoint);
        c.images.s3_allow_http = true;
        c.images.s3_region = "us-east-1".into();
        c.images.s3_access_key_id = ACCESS_KEY.into();
        c.images
            .s3_secret_access_key_file
            .clone_from(&self.secret_file);
        c.images.keep_per_host = keep;
    }

    /// The file s3s-fs keeps the object with this SHA-256 in.
    fn object(&self, sha: &str) -> PathBuf {
        self.root
            .join(BUCKET)
            .join(PREFIX)
            .join("sha256")
            .join(&sha[..2])
            .join(&sha[2..])
    }

    /// Unfinished multipart uploads (s3s-fs keeps their parts and ids at its root).
    fn pending_uploads(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".upload") || n.contains(".upload-"))
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts a real S3 server (scripts/test-all.sh runs it)"]
async fn svc_images_on_s3() {
    let s3 = S3Server::start();

    // The startup check: the configured bucket passes; a missing bucket and a wrong secret fail
    // with a message that names the bucket and says what to do.
    let mut config = Config::default();
    s3.configure(&mut config, 2);
    let store = ImageStore::from_config(&config).unwrap();
    store.check().await.unwrap();
    assert!(
        store
            .describe()
            .contains("s3://rear-images/fleet/prod at http://127.0.0.1:")
    );
    let mut missing = config.clone();
    missing.images.s3_url = "s3://no-such-bucket".into();
    let err = ImageStore::from_config(&missing)
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-bucket")
            && err.contains("does not exist")
            && err.contains(&s3.endpoint),
        "{err}"
    );
    let wrong_secret = s3.secret_file.with_file_name("wrong.secret");
    std::fs::write(&wrong_secret, "not-the-secret\n").unwrap();
    let mut wrong = config.clone();
    wrong.images.s3_secret_access_key_file = wrong_secret;
    let err = ImageStore::from_config(&wrong)
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("check the credentials"), "{err}");
    assert!(
        !err.contains("not-the-secret"),
        "the secret is never shown: {err}"
    );

    let mut down = config.clone();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    down.images.s3_endpoint = format!("http://127.0.0.1:{closed_port}");
    let err = ImageStore::from_config(&down)
        .unwrap()
        .check()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&down.images.s3_endpoint) && err.contains("is the S3 server running"),
        "{err}"
    );

    // The real binary: `serve` refuses to start on a missing bucket, and starts and names the
    // bucket when it is there.
    let serve = |bucket: &str| {
        let dir = s3.secret_file.parent().unwrap();
        let toml = dir.join(format!("server-{bucket}.toml"));
        std::fs::write(
            &toml,
            format!(
                "data_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[smtp]\nlisten = \"\"\n\
                 [images]\ns3_url = \"s3://{bucket}/{PREFIX}\"\ns3_endpoint = \"{}\"\n\
                 s3_allow_http = true\ns3_access_key_id = \"{ACCESS_KEY}\"\n\
                 s3_secret_access_key_file = \"{}\"\n",
                dir.join(format!("data-{bucket}")).display(),
                s3.endpoint,
                s3.secret_file.display()
            ),
        )
        .unwrap();
        Command::new(env!("CARGO_BIN_EXE_rear-server"))
            .arg("--config")
            .arg(&toml)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let out = serve("no-such-bucket").wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("s3://no-such-bucket/fleet/prod") && stderr.contains("does not exist"),
        "{stderr}"
    );
    let mut child = serve(BUCKET);
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("rescue images:") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        banner.contains(&format!(
            "rescue images: s3://{BUCKET}/{PREFIX} at {}",
            s3.endpoint
        )),
        "{banner}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let s = start_with(|c| s3.configure(c, 2)).await;
    let site = s.token("site", TokenScope::Site).await;
    let read = s.token("read", TokenScope::Read).await;
    // a spans three parts (8 MiB each at most), b and c one each.
    let a = content(1, (17 << 20) + 12_345);
    let [b, c] = [2u8, 3].map(|i| content(i, 200_000 + usize::from(i)));
    let [sa, sb, sc] = [&a, &b, &c].map(|x| sha(x));

    // A wrong checksum: 400, no object, no unfinished upload left behind.
    let (status, body) = put(&s, Some(&site), "web1", &sb, "", a.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_checksum", "{body}");
    assert!(!s3.object(&sb).exists() && !s3.object(&sa).exists());
    assert_eq!(s3.pending_uploads(), Vec::<String>::new());
    assert_eq!(files_under(&s3.root.join(BUCKET)), 0);

    // Upload: 201, the object under its hash in the bucket with the same bytes.
    let (status, body) = put(
        &s,
        Some(&site),
        "web1",
        &sa,
        "?name=rear-web1.iso",
        a.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "stored");
    assert_eq!(std::fs::read(s3.object(&sa)).unwrap(), a);
    assert_eq!(s3.pending_uploads(), Vec::<String>::new());
    // Again: found in the bucket, nothing new written.
    let (status, body) = put(
        &s,
        Some(&site),
        "web1",
        &sa,
        "?name=rear-web1.iso",
        a.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "existing");
    assert_eq!(s3.pending_uploads(), Vec::<String>::new());

    // Download through the server, streamed from S3.
    let r = s
        .client
        .get(s.url(&format!("/api/v1/hosts/web1/images/{sa}")))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], a.len().to_string().as_str());
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"rear-web1.iso\""
    );
    let got = r.bytes().await.unwrap();
    assert!(got.as_ref() == a.as_slice(), "downloaded bytes differ");

    // Retention (keep 2): the third image removes the oldest object from the bucket.
    for (x, sx) in [(&b, &sb), (&c, &sc)] {
        let (status, body) = put(&s, Some(&site), "web1", sx, "", x.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(list(&s, &read, "web1").await, vec![sc.clone(), sb.clone()]);
    assert!(
        !s3.object(&sa).exists(),
        "oldest object deleted from the bucket"
    );
    assert_eq!(std::fs::read(s3.object(&sb)).unwrap(), b);
    assert_eq!(std::fs::read(s3.object(&sc)).unwrap(), c);
    assert_eq!(
        files_under(&s3.root.join(BUCKET)),
        2,
        "only b and c are left"
    );
    let (status, _) = s
        .api(&read, &format!("/api/v1/hosts/web1/images/{sa}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
