//! The `rear-server` binary: first start prints a login, pipe ingest exit codes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_rear-server");
const REAR_MAIL: &[u8] = include_bytes!("../../fixtures/rear-mail/rear-2.7-result-mail-ISO.eml");

fn ingest(data_dir: &std::path::Path, mail: &[u8]) -> (i32, String) {
    // A config that was asked for explicitly must exist.
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/on/purpose.toml", "ingest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/on/purpose.toml"));

    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("ingest")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(mail).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pipe_ingest_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = ingest(dir.path(), REAR_MAIL);
    assert_eq!(code, 0, "{err}");
    let (code, err) = ingest(dir.path(), b"From: a@b\nSubject: hi\n\nno report\n");
    assert_eq!(code, 65, "rejected mail is EX_DATAERR: {err}");
    assert!(err.contains("no rear report"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite:{}", dir.path().join("rear-server.db").display());
        let store = rear_server::store::open(&url).await.unwrap();
        let host = store
            .host("vm")
            .await
            .unwrap()
            .expect("host from the piped mail");
        assert_eq!(host.last.source.as_str(), "pipe");
    });
}

#[test]
fn first_start_creates_admin_and_prints_login() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[smtp]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut password = None;
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(u) = line.trim().strip_prefix("web GUI and API: ") {
            url = Some(u.trim_end_matches('/').to_string());
        }
        if let Some(rest) = line.split_once("with password ").map(|(_, r)| r) {
            password = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
    }
    let (url, password) = (
        url.expect("prints the URL"),
        password.expect("prints a password"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = client.get(format!("{url}/login")).send().await.unwrap();
        let csrf = crate::common::set_cookie(&form, "rear_login_csrf").unwrap();
        let resp = client
            .post(format!("{url}/login"))
            .header("Cookie", format!("rear_login_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "admin"),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        resp.status()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        result,
        StatusCode::SEE_OTHER,
        "the printed admin password logs in"
    );
    assert!(dir.path().join("rear-server.db").exists());
}

#[test]
fn token_add_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["token", "add", "web1", "--host", "web1"]);
    assert_eq!(code, Some(0));
    let secret = out.split_whitespace().last().unwrap().to_string();
    assert_eq!(secret.len(), 64, "{out}");
    assert_eq!(run(&["token", "add", "fleet", "--site"]).0, Some(0));
    let (_, list, _) = run(&["token", "list"]);
    assert_eq!(list, "fleet\tsite\nweb1\thost web1\n");
    assert!(!list.contains(&secret), "secrets are not listed");
    assert_eq!(run(&["token", "remove", "web1"]).0, Some(0));
    let (code, _, err) = run(&["token", "remove", "web1"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no token named web1"), "{err}");
    let (code, _, err) = run(&["token", "add", "x"]);
    assert_eq!(code, Some(1), "{err}");
}
