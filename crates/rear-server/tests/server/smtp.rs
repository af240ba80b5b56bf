//! Mail ingest over the built-in SMTP and LMTP listeners.

use rear_server::store::TokenScope;
use reqwest::StatusCode;

use crate::common::{MailClient, report, report_mail, start, start_with};

const REAR_MAIL: &str = include_str!("../../fixtures/rear-mail/rear-2.7-result-mail-ISO.eml");

/// ReaR's mail has bare LF line ends (it is piped to sendmail); SMTP needs CRLF.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[tokio::test]
async fn smtp_ingest_json_report_then_host_in_api() {
    let s = start().await;
    let read = s.token("monitoring", TokenScope::Read).await;
    let (mut c, greeting) = MailClient::connect(s.server.smtp_addr.unwrap()).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(
        ehlo.contains("250-SIZE 33554432") || ehlo.contains("250 SIZE 33554432"),
        "{ehlo}"
    );
    assert!(
        !ehlo.contains("STARTTLS"),
        "STARTTLS is not offered until implemented"
    );

    let r = report("mail1", "mkbackup");
    let reply = c.send_mail(&report_mail(&r, "")).await;
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(reply.contains(&r.report_id.to_string()), "{reply}");
    // The same report again (a retrying MTA) is accepted and not stored twice.
    let reply = c.send_mail(&report_mail(&r, "")).await;
    assert!(reply.starts_with("250 "), "{reply}");
    assert!(c.cmd("QUIT").await.starts_with("221"));

    let (status, host) = s.api(&read, "/api/v1/hosts/mail1").await;
    assert_eq!(status, StatusCode::OK, "{host}");
    assert_eq!(host["report_count"], 1);
    assert_eq!(host["last_report"]["source"], "smtp");
}

#[tokio::test]
async fn smtp_rejects_bad_mail_with_reasons_and_keeps_serving() {
    let s = start_with(|c| c.smtp.max_message_bytes = 4096).await;
    let (mut c, _) = MailClient::connect(s.server.smtp_addr.unwrap()).await;
    assert!(
        c.cmd("MAIL FROM:<a@b>").await.starts_with("503"),
        "hello first"
    );
    assert!(c.cmd("LHLO x").await.starts_with("500"), "LHLO is for LMTP");
    assert!(c.cmd("EHLO x").await.starts_with("250"));
    assert!(
        c.cmd("RCPT TO:<a@b>").await.starts_with("503"),
        "MAIL first"
    );
    assert!(c.cmd("DATA").await.starts_with("503"));
    assert!(
        c.cmd("MAIL FROM:<a@b> SIZE=999999")
            .await
            .starts_with("552"),
        "declared size"
    );
    assert!(c.cmd("STARTTLS").await.starts_with("502"));
    assert!(c.cmd("BOGUS").await.starts_with("500"));

    let reply = c
        .send_mail("From: a@b\r\nSubject: hello\r\n\r\njust text\r\n")
        .await;
    assert!(reply.starts_with("550 5.6.0 no rear report"), "{reply}");

    let mut big = report("big1", "mkrescue");
    big.log_tail = "y".repeat(8000);
    let reply = c.send_mail(&report_mail(&big, "")).await;
    assert!(reply.starts_with("552 5.3.4"), "{reply}");

    let v2host = report("v2host", "mkrescue");
    let mut v2 = serde_json::to_value(&v2host).unwrap();
    v2["schema_version"] = "2.0".into();
    let mail = report_mail(&v2host, "").replace(&v2host.to_json(), &v2.to_string());
    assert!(mail.contains("\"schema_version\":\"2.0\""));
    let reply = c.send_mail(&mail).await;
    assert!(
        reply.starts_with("550") && reply.contains("not supported"),
        "{reply}"
    );

    // The session is still usable after every rejection.
    let ok = report("ok1", "mkrescue");
    let reply = c.send_mail(&report_mail(&ok, "")).await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(s.state.store().host("big1").await.unwrap().is_none());
    assert!(s.state.store().host("ok1").await.unwrap().is_some());
}

#[tokio::test]
async fn smtp_mail_token_is_checked_and_can_be_required() {
    let s = start_with(|c| c.auth.mail_requires_token = true).await;
    let token = s.token("web1", TokenScope::Host("web1".into())).await;
    let (mut c, _) = MailClient::connect(s.server.smtp_addr.unwrap()).await;
    c.cmd("EHLO x").await;
    let reply = c
        .send_mail(&report_mail(&report("web1", "mkrescue"), ""))
        .await;
    assert!(
        reply.starts_with("550") && reply.contains("X-Rear-Token"),
        "{reply}"
    );
    let reply = c
        .send_mail(&report_mail(
            &report("db9", "mkrescue"),
            &format!("X-Rear-Token: {token}\r\n"),
        ))
        .await;
    assert!(
        reply.starts_with("550") && reply.contains("only report for host web1"),
        "{reply}"
    );
    let reply = c
        .send_mail(&report_mail(
            &report("web1", "mkrescue"),
            &format!("X-Rear-Token: {token}\r\n"),
        ))
        .await;
    assert!(reply.starts_with("250"), "{reply}");
}

#[tokio::test]
async fn lmtp_answers_per_recipient() {
    let s = start().await;
    let (mut c, greeting) = MailClient::connect(s.server.lmtp_addr.unwrap()).await;
    assert!(greeting.contains("LMTP"), "{greeting}");
    assert!(c.cmd("EHLO x").await.starts_with("500"), "EHLO is for SMTP");
    assert!(c.cmd("LHLO mta.example").await.starts_with("250"));
    assert!(c.cmd("MAIL FROM:<root@web2>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<reports@a>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<reports@b>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    let r = report("web2", "checklayout");
    c.send_data(&report_mail(&r, "")).await;
    assert!(c.reply().await.starts_with("250"));
    assert!(
        c.reply().await.starts_with("250"),
        "second recipient gets its own reply"
    );
    let host = s.state.store().host("web2").await.unwrap().unwrap();
    assert_eq!(host.last.source.as_str(), "lmtp");
}

#[tokio::test]
async fn smtp_ingests_real_rear_27_result_mail() {
    let s = start().await;
    let read = s.token("monitoring", TokenScope::Read).await;
    let (mut c, _) = MailClient::connect(s.server.smtp_addr.unwrap()).await;
    c.cmd("EHLO x").await;
    let mail = crlf(REAR_MAIL);
    assert!(c.send_mail(&mail).await.starts_with("250"));
    assert!(
        c.send_mail(&mail).await.starts_with("250"),
        "redelivery is accepted"
    );

    let (status, host) = s.api(&read, "/api/v1/hosts/vm").await;
    assert_eq!(status, StatusCode::OK, "{host}");
    assert_eq!(host["report_count"], 1, "redelivery is not a second report");
    assert_eq!(host["state"], "ok");
    assert_eq!(host["last_report"]["legacy_mail"], true);
    assert_eq!(host["last_report"]["rear_version"], "ReaR 2.7");
    let id = host["last_report"]["report_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, full) = s.api(&read, &format!("/api/v1/reports/{id}")).await;
    assert_eq!(full["output_files"].as_array().unwrap().len(), 3);
    assert!(
        full["log_tail"]
            .as_str()
            .unwrap()
            .contains("Relax-and-Recover 2.7")
    );
}

/// A self-signed P-256 certificate for `localhost`, made with the openssl CLI.
fn make_cert(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert.display().to_string(), key.display().to_string())
}

async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut all = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).await.unwrap() > 0,
            "closed after {all:?}"
        );
        all.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            return all;
        }
    }
}

#[tokio::test]
async fn smtp_starttls_upgrades_and_can_be_required() {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncWriteExt, BufReader};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(certs.path());
    let (c2, k2) = (cert.clone(), key.clone());
    let s = start_with(move |c| {
        c.smtp.tls_cert = c2;
        c.smtp.tls_key = k2;
        c.smtp.require_tls = true;
    })
    .await;

    let (mut c, _) = MailClient::connect(s.server.smtp_addr.unwrap()).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(
        c.cmd("MAIL FROM:<root@client>").await.starts_with("530"),
        "TLS required"
    );
    drop(c);

    let mut tcp = tokio::net::TcpStream::connect(s.server.smtp_addr.unwrap())
        .await
        .unwrap();
    let mut plain = BufReader::new(&mut tcp);
    assert!(read_reply(&mut plain).await.starts_with("220"));
    plain
        .get_mut()
        .write_all(b"EHLO client.example\r\nSTARTTLS\r\n")
        .await
        .unwrap();
    assert!(read_reply(&mut plain).await.starts_with("250"));
    assert!(read_reply(&mut plain).await.starts_with("220 2.0.0"));

    let mut roots = RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let mut tls = BufReader::new(tls);

    tls.get_mut()
        .write_all(b"EHLO client.example\r\n")
        .await
        .unwrap();
    let ehlo = read_reply(&mut tls).await;
    assert!(
        ehlo.starts_with("250") && !ehlo.contains("STARTTLS"),
        "{ehlo}"
    );
    let r = report("tls1", "mkrescue");
    let mail = report_mail(&r, "");
    tls.get_mut()
        .write_all(b"MAIL FROM:<root@client>\r\nRCPT TO:<reports@rear-server>\r\nDATA\r\n")
        .await
        .unwrap();
    assert!(read_reply(&mut tls).await.starts_with("250"));
    assert!(read_reply(&mut tls).await.starts_with("250"));
    assert!(read_reply(&mut tls).await.starts_with("354"));
    tls.get_mut()
        .write_all(format!("{mail}\r\n.\r\n").as_bytes())
        .await
        .unwrap();
    let stored = read_reply(&mut tls).await;
    assert!(
        stored.starts_with("250") && stored.contains(&r.report_id.to_string()),
        "{stored}"
    );
    assert!(s.state.store().host("tls1").await.unwrap().is_some());
}

#[test]
fn broken_tls_files_fail_start_with_the_file_name() {
    let cfg = rear_server::config::SmtpConfig {
        tls_cert: "/nonexistent/cert.pem".into(),
        tls_key: "/nonexistent/key.pem".into(),
        ..Default::default()
    };
    let err = rear_server::smtp::load_tls(&cfg).err().expect("an error");
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
}
