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
