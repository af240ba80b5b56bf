//! A real postfix on localhost relaying report mails to the LMTP listener.
//!
//! Each test starts a private postfix instance (own config, queue and log directories under a
//! temporary directory, its own SMTP port, `postfix -c DIR start`) and stops it at the end, so the
//! system's postfix configuration is never touched.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rear_server::store::TokenScope;
use reqwest::StatusCode;

use crate::common::{MailClient, report, report_mail, start};

const REAR_MAIL: &str = include_str!("../../fixtures/rear-mail/rear-2.7-result-mail-ISO.eml");

struct Postfix {
    dir: tempfile::TempDir,
    smtp: SocketAddr,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postfix {
    /// Starts postfix relaying every mail for domain `rear.test` to `lmtp` over LMTP.
    fn start(lmtp: SocketAddr) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rear-postfix")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        let out = Command::new("chown")
            .arg("postfix:postfix")
            .arg(d.join("data"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let port = free_port();
        std::fs::write(
            d.join("etc/main.cf"),
            format!(
                "compatibility_level = 3.6\nmeta_directory = /etc/postfix\n\
                 queue_directory = {d}/queue\ndata_directory = {d}/data\n\
                 mail_owner = postfix\nsetgid_group = postdrop\n\
                 inet_interfaces = loopback-only\ninet_protocols = ipv4\n\
                 myhostname = postfix-test.localdomain\nmydestination =\n\
                 relay_domains = rear.test\ntransport_maps = inline:{{ rear.test=lmtp:inet:{lmtp} }}\n\
                 mynetworks = 127.0.0.0/8\n\
                 smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
                 alias_maps =\nalias_database =\nsmtputf8_enable = no\n\
                 maillog_file = {d}/maillog\nmaillog_file_prefixes = /tmp\n\
                 bounce_queue_lifetime = 0\nmaximal_queue_lifetime = 0\n",
                d = d.display()
            ),
        )
        .unwrap();
        let services = [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        std::fs::write(
            d.join("etc/master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n{}\n",
                services.join("\n")
            ),
        )
        .unwrap();
        let out = Command::new("postfix")
            .arg("-c")
            .arg(d.join("etc"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postfix start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(d.join("maillog")).unwrap_or_default()
        );
        Self {
            dir,
            smtp: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    fn config_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("etc")
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.config_dir())
            .arg("stop")
            .output();
    }
}

async fn connect_when_ready(addr: SocketAddr) -> MailClient {
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let (c, greeting) = MailClient::connect(addr).await;
            assert!(greeting.starts_with("220"), "{greeting}");
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("postfix does not listen on {addr}");
}

async fn wait_for(what: &str, log: impl Fn() -> String, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; postfix log:\n{}", log());
}

fn assert_postfix_installed() {
    assert!(
        Path::new("/usr/sbin/postfix").exists(),
        "postfix is installed (apt-get install postfix)"
    );
}

#[tokio::test]
#[ignore = "needs postfix (scripts/test-all.sh runs it)"]
async fn svc_postfix_relays_report_and_rear_mail_over_lmtp() {
    assert_postfix_installed();
    let s = start().await;
    let read = s.token("monitoring", TokenScope::Read).await;
    let pf = Postfix::start(s.server.lmtp_addr.unwrap());
    let mut c = connect_when_ready(pf.smtp).await;
    assert!(c.cmd("EHLO client.test").await.starts_with("250"));

    let r = report("pfhost", "mkbackup");
    for mail in [
        report_mail(&r, ""),
        REAR_MAIL.replace("\r\n", "\n").replace('\n', "\r\n"),
    ] {
        assert!(
            c.cmd("MAIL FROM:<root@client.test>")
                .await
                .starts_with("250")
        );
        let rcpt = c.cmd("RCPT TO:<reports@rear.test>").await;
        assert!(rcpt.starts_with("250"), "postfix relays rear.test: {rcpt}");
        assert!(c.cmd("DATA").await.starts_with("354"));
        c.send_data(&mail).await;
        let queued = c.reply().await;
        assert!(queued.starts_with("250"), "{queued}");
    }
    // A mail without a report is refused by rear-server with its reason; postfix logs the bounce.
    assert!(
        c.cmd("MAIL FROM:<root@client.test>")
            .await
            .starts_with("250")
    );
    assert!(
        c.cmd("RCPT TO:<reports@rear.test>")
            .await
            .starts_with("250")
    );
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send_data("From: root@client.test\r\nSubject: hello\r\n\r\nno report here\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"), "postfix queues it");
    c.cmd("QUIT").await;

    let store = s.state.clone();
    wait_for(
        "pfhost and vm to arrive",
        || pf.maillog(),
        async || {
            store.store().host("pfhost").await.unwrap().is_some()
                && store.store().host("vm").await.unwrap().is_some()
        },
    )
    .await;
    wait_for(
        "the bounce to be logged",
        || pf.maillog(),
        async || pf.maillog().contains("no rear report in the message"),
    )
    .await;

    let (status, host) = s.api(&read, "/api/v1/hosts/pfhost").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(host["last_report"]["source"], "lmtp");
    assert_eq!(host["last_report"]["report_id"], r.report_id.to_string());
    let (_, vm) = s.api(&read, "/api/v1/hosts/vm").await;
    assert_eq!(vm["last_report"]["legacy_mail"], true);
    assert_eq!(vm["last_report"]["source"], "lmtp");
    let log = pf.maillog();
    let relay = format!("relay={}", s.server.lmtp_addr.unwrap().ip());
    assert_eq!(log.matches("status=sent").count(), 2, "{log}");
    assert!(log.contains(&relay), "{log}");
    assert!(log.contains("status=bounced"), "{log}");
}
