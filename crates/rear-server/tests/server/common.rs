//! Test harness: start a server, make tokens and users, log in, talk SMTP.

use std::net::SocketAddr;

use rear_proto::Report;
use rear_server::auth::password::hash_password;
use rear_server::auth::{random_token, sha256_hex};
use rear_server::config::Config;
use rear_server::store::{Role, TokenRow, TokenScope, UserRow};
use rear_server::{AppState, Listeners, Server};
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct TestServer {
    pub server: Server,
    pub state: AppState,
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_with_clock(tweak, rear_server::health::Clock::system()).await
}

/// A server whose "now" is `clock` (a manual clock lets a test move time without sleeping).
pub async fn start_with_clock(
    tweak: impl FnOnce(&mut Config),
    clock: rear_server::health::Clock,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    let store = rear_server::store::open(&config.database_url())
        .await
        .unwrap();
    let state = AppState::with_clock(store, config, clock).unwrap();
    let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let listeners = Listeners {
        http: bind().await,
        smtp: Some(bind().await),
        lmtp: Some(bind().await),
    };
    let server = Server::start(state.clone(), listeners).unwrap();
    let base = format!("http://{}", server.http_addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestServer {
        server,
        state,
        base,
        client,
        _dir: dir,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn token(&self, name: &str, scope: TokenScope) -> String {
        let token = random_token();
        self.state
            .store()
            .add_token(&TokenRow {
                token_hash: sha256_hex(&token),
                name: name.into(),
                scope,
            })
            .await
            .unwrap();
        token
    }

    pub async fn user(&self, name: &str, password: &str, role: Role) {
        let password_hash = hash_password(password).unwrap();
        self.state
            .store()
            .add_user(&UserRow {
                name: name.into(),
                password_hash,
                role,
            })
            .await
            .unwrap();
    }

    /// Logs in through the real form; returns the `Cookie` header value of the session.
    pub async fn login(&self, name: &str, password: &str) -> String {
        let (status, cookie) = self.try_login(name, password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login of {name} failed");
        cookie.expect("a session cookie")
    }

    pub async fn try_login(&self, name: &str, password: &str) -> (StatusCode, Option<String>) {
        let form = self.client.get(self.url("/login")).send().await.unwrap();
        assert_eq!(form.status(), StatusCode::OK);
        let login_cookie = set_cookie(&form, "rear_login_csrf").expect("login csrf cookie");
        let html = form.text().await.unwrap();
        let csrf = hidden_value(&html, "csrf");
        assert_eq!(csrf, login_cookie, "double-submit token");
        let resp = self
            .client
            .post(self.url("/login"))
            .header("Cookie", format!("rear_login_csrf={login_cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", name),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (
            status,
            set_cookie(&resp, "rear_session")
                .filter(|v| !v.is_empty())
                .map(|v| format!("rear_session={v}")),
        )
    }

    /// GET with a session cookie; returns status and body.
    pub async fn page(&self, cookie: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(self.url(path))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post_report(
        &self,
        token: &str,
        report: &Report,
    ) -> (StatusCode, serde_json::Value) {
        self.post_raw(token, report.to_json().into_bytes()).await
    }

    pub async fn post_raw(&self, token: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
        let r = self
            .client
            .post(self.url("/api/v1/reports"))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (
            r.status(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn api(&self, token: &str, path: &str) -> (StatusCode, serde_json::Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (
            r.status(),
            r.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

/// The value a response sets for cookie `name`.
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (kv, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// The value of the hidden input `name` in a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden input") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A report for tests, with a layout and tags.
pub fn report(host: &str, workflow: &str) -> Report {
    let mut r = Report::new(host, workflow, "rear-rs 0.1.0");
    r.domain = "example.com".into();
    r.tags = vec!["prod".into(), "web".into()];
    r.layout = Some(format!(
        "disk /dev/sda 21474836480 gpt\npart /dev/sda 1048576 1048576 rear-noname bios_grub /dev/sda1\n# host {host}\n"
    ));
    r.log_tail = "2026-11-26 06:00:00 Running rear mkrescue\nfinished".into();
    r.os.name = "Debian GNU/Linux 12 (bookworm)".into();
    r
}

/// A mail carrying `report` as JSON attachment.
pub fn report_mail(report: &Report, extra_headers: &str) -> String {
    format!(
        "From: root@{h}\r\nTo: reports@rear-server\r\nSubject: rear {w} on {h}\r\n{extra_headers}\
         Message-ID: <{id}@{h}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XyZ\"\r\n\r\n\
         --XyZ\r\nContent-Type: text/plain\r\n\r\nrear report for {h}\r\n\
         --XyZ\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename=\"rear-report.json\"\r\n\r\n\
         {json}\r\n--XyZ--\r\n",
        h = report.hostname,
        w = report.workflow,
        id = report.report_id,
        json = report.to_json()
    )
}

/// A minimal SMTP/LMTP client.
pub struct MailClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl MailClient {
    pub async fn connect(addr: SocketAddr) -> (Self, String) {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (r, w) = stream.into_split();
        let mut c = Self {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.unwrap();
            assert!(n > 0, "server closed the connection; got so far: {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                return all;
            }
        }
    }

    pub async fn cmd(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    /// Sends the message body after a 354 (dot-stuffed, terminated); does not read the reply.
    pub async fn send_data(&mut self, message: &str) {
        let mut out = String::new();
        for line in message.split("\r\n") {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(".\r\n");
        self.writer.write_all(out.as_bytes()).await.unwrap();
    }

    /// A whole SMTP transaction; returns the reply to the end of DATA.
    pub async fn send_mail(&mut self, message: &str) -> String {
        assert!(self.cmd("MAIL FROM:<root@client>").await.starts_with("250"));
        assert!(
            self.cmd("RCPT TO:<reports@rear-server>")
                .await
                .starts_with("250")
        );
        assert!(self.cmd("DATA").await.starts_with("354"));
        self.send_data(message).await;
        self.reply().await
    }
}

/// A throw-away PostgreSQL cluster from Debian's `postgresql` package, started with `initdb` and
/// `pg_ctl` as user `postgres` on a free local port, stopped and removed on drop.
pub struct PgCluster {
    pub url: String,
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl PgCluster {
    pub fn start() -> Self {
        let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        versions.sort();
        let bin = versions.last().expect("a PostgreSQL version").join("bin");
        let dir = tempfile::tempdir().unwrap();
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(std::process::Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path()));
        let data = dir.path().join("data");
        run(std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "rear", "--no-sync", "-D"])
            .arg(&data));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        run(std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                dir.path().display()
            ))
            .args(["-w", "start"]));
        Self {
            url: format!("postgres://rear@127.0.0.1:{port}/postgres"),
            bin,
            dir,
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
