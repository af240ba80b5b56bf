//! Turns a mail message into reports (pure: bytes in, reports out).
//!
//! Two kinds of mail are understood:
//! - **rear-rs report mails**: one or more `application/json` attachments (or attachments named
//!   `*.json`) each holding a [`Report`]; a `disklayout.conf` attachment fills the report's layout
//!   when the JSON has none. An `X-Rear-Token` header may carry an ingest token.
//! - **Classic ReaR result mails** (`RESULT_MAILTO`, ReaR 2.x `output/default/950_email_result_files.sh`):
//!   subject `Relax-and-Recover HOST (OUTPUT)`, a text part with the version banner and
//!   `Host HOST using Backup B and Output O`, and the result files (`VERSION`, `README`,
//!   `rear-HOST.log`, ...) as base64 attachments. ReaR sends it only after a successful output
//!   stage, so it becomes a success report. Its id is derived from the Message-ID (or, without one,
//!   from the message bytes), so the same mail delivered twice is stored once.

use mail_parser::{Message, MessageParser, MimeHeaders};
use rear_proto::{OutputFile, Report, RunResult, SCHEMA_VERSION};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc2822;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use super::IngestError;
use crate::auth::hex;

/// Namespace of the v5 UUIDs given to classic ReaR mails.
const LEGACY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_5b7d_4c1e_9a3f_0d8e_7b6a_5c41);
/// Lines of a classic mail's log kept as the report's log tail.
const LOG_TAIL_LINES: usize = 200;

/// The reports found in one mail.
#[derive(Debug)]
pub struct ParsedMail {
    /// Each report and whether it was converted from a classic ReaR mail.
    pub reports: Vec<(Report, bool)>,
    /// The `X-Rear-Token` header, if present.
    pub token: Option<String>,
}

/// Parses a raw RFC 5322 message.
///
/// # Errors
/// [`IngestError::Invalid`] when the bytes are not a message, a JSON attachment is not a valid
/// report, or the message holds no report at all.
pub fn parse_mail(raw: &[u8]) -> Result<ParsedMail, IngestError> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| IngestError::Invalid("the data is not a mail message".into()))?;
    let token = msg
        .header("X-Rear-Token")
        .and_then(|h| h.as_text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let layout_attachment = msg
        .attachments()
        .find(|a| a.attachment_name() == Some("disklayout.conf"))
        .and_then(|a| a.text_contents().map(str::to_string));
    let mut reports = Vec::new();
    for part in msg.attachments() {
        let name = part.attachment_name().unwrap_or("");
        let is_json = part
            .content_type()
            .is_some_and(|ct| ct.ctype() == "application" && ct.subtype() == Some("json"))
            || name.ends_with(".json");
        if !is_json {
            continue;
        }
        let mut report = Report::from_json(part.contents())
            .map_err(|e| IngestError::Invalid(format!("attachment {name:?}: {e}")))?;
        if report.layout.is_none() {
            report.layout.clone_from(&layout_attachment);
        }
        reports.push((report, false));
    }
    if reports.is_empty() {
        if msg
            .subject()
            .is_some_and(|s| s.starts_with("Relax-and-Recover "))
        {
            reports.push((convert_rear_result_mail(&msg, raw)?, true));
        } else {
            return Err(IngestError::Invalid(
                "no rear report in the message: expected an application/json attachment holding \
                 a rear report, or a ReaR RESULT_MAILTO result mail"
                    .into(),
            ));
        }
    }
    Ok(ParsedMail { reports, token })
}

/// Converts a classic ReaR `RESULT_MAILTO` mail.
fn convert_rear_result_mail(msg: &Message<'_>, raw: &[u8]) -> Result<Report, IngestError> {
    let subject = msg.subject().unwrap_or("");
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let mut version = String::new();
    let mut host = String::new();
    let mut backup = String::new();
    let mut output = String::new();
    let mut build_date = None;
    for line in body.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Relax-and-Recover ")
            && version.is_empty()
            && rest.contains(" / ")
        {
            version = rest.split(" / ").next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix("Host ") {
            // "Host HOST using Backup NETFS and Output ISO"
            let words: Vec<&str> = rest.split_whitespace().collect();
            if let [h, "using", "Backup", b, "and", "Output", o] = words.as_slice() {
                host = (*h).to_string();
                backup = (*b).to_string();
                output = (*o).to_string();
            }
        } else if let Some(d) = line.strip_prefix("Build date: ") {
            build_date = OffsetDateTime::parse(d.trim(), &Rfc2822).ok();
        }
    }
    if host.is_empty() {
        // Subject "Relax-and-Recover HOST (OUTPUT)" when the banner was edited out.
        host = subject
            .trim_start_matches("Relax-and-Recover ")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
    }
    if host.is_empty() {
        return Err(IngestError::Invalid(
            "ReaR result mail without a host name (neither a 'Host ... using Backup' line nor a \
             subject 'Relax-and-Recover HOST (OUTPUT)')"
                .into(),
        ));
    }
    let (hostname, domain) = match host.split_once('.') {
        Some((h, d)) => (h.to_string(), d.to_string()),
        None => (host.clone(), String::new()),
    };

    let mut output_files = Vec::new();
    let mut log = None;
    for part in msg.attachments() {
        let name = part.attachment_name().unwrap_or("attachment").to_string();
        let data = part.contents();
        if name.starts_with("rear-") && name.ends_with(".log") {
            log = Some(String::from_utf8_lossy(data).into_owned());
        }
        output_files.push(OutputFile {
            path: name,
            size: data.len() as u64,
            sha256: hex(&Sha256::digest(data)),
        });
    }

    let offset = build_date.map_or(UtcOffset::UTC, OffsetDateTime::offset);
    let log_info = log
        .as_deref()
        .map(|l| scan_rear_log(l, offset))
        .unwrap_or_default();
    let started_at = log_info
        .started
        .or(build_date)
        .or_else(|| {
            msg.date()
                .and_then(|d| OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok())
        })
        .unwrap_or_else(OffsetDateTime::now_utc);
    let duration_ms = match (log_info.started, log_info.last) {
        (Some(a), Some(b)) if b > a => u64::try_from((b - a).whole_milliseconds()).unwrap_or(0),
        _ => 0,
    };
    let id_source = match msg.message_id() {
        Some(id) => id.as_bytes().to_vec(),
        None => Sha256::digest(raw).to_vec(),
    };
    let log_tail = log
        .as_deref()
        .map(|l| {
            let lines: Vec<&str> = l.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        })
        .unwrap_or_default();
    Ok(Report {
        schema_version: SCHEMA_VERSION.to_string(),
        report_id: Uuid::new_v5(&LEGACY_NAMESPACE, &id_source),
        hostname,
        domain,
        tags: Vec::new(),
        rear_version: if version.is_empty() {
            "ReaR".into()
        } else {
            format!("ReaR {version}")
        },
        workflow: log_info.workflow.unwrap_or_else(|| "mkrescue".into()),
        result: RunResult::Success,
        started_at,
        duration_ms,
        os: rear_proto::OsInfo::default(),
        layout: None,
        inventory: serde_json::json!({
            "rear_result_mail": { "subject": subject, "backup": backup, "output": output }
        }),
        log_tail,
        output_files,
        image: None,
    })
}

#[derive(Debug, Default)]
struct LogInfo {
    workflow: Option<String>,
    started: Option<OffsetDateTime>,
    last: Option<OffsetDateTime>,
}

/// Reads the workflow and the first and last timestamps of a ReaR 2.x log
/// (`2026-11-26 06:17:30.561395393 Running rear mkrescue (PID ...)`). ReaR writes local time
/// without a zone; `offset` is the one of the mail's build date.
fn scan_rear_log(log: &str, offset: UtcOffset) -> LogInfo {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let stamp = |line: &str| {
        line.get(..19)
            .and_then(|s| PrimitiveDateTime::parse(s, &fmt).ok())
            .map(|t| t.assume_offset(offset))
    };
    let mut info = LogInfo::default();
    for line in log.lines() {
        let Some(t) = stamp(line) else { continue };
        info.started.get_or_insert(t);
        info.last = Some(t);
        if info.workflow.is_none()
            && let Some(rest) = line.split_once(" Running rear ").map(|(_, r)| r)
        {
            info.workflow = rest.split_whitespace().next().map(str::to_string);
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAR_MAIL: &[u8] =
        include_bytes!("../../fixtures/rear-mail/rear-2.7-result-mail-ISO.eml");

    #[test]
    fn parse_rear27_result_mail_iso() {
        let parsed = parse_mail(REAR_MAIL).unwrap();
        assert_eq!(parsed.reports.len(), 1);
        let (r, legacy) = &parsed.reports[0];
        assert!(legacy);
        r.validate().unwrap();
        assert_eq!(r.hostname, "vm");
        assert_eq!(r.rear_version, "ReaR 2.7");
        assert_eq!(r.workflow, "dump");
        assert!(r.result.is_success());
        let names: Vec<&str> = r.output_files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["VERSION", "README", "rear-vm.log"]);
        assert!(
            r.output_files
                .iter()
                .all(|f| f.sha256.len() == 64 && f.size > 0)
        );
        assert!(r.log_tail.contains("Running rear dump"), "{}", r.log_tail);
        assert_eq!(r.inventory["rear_result_mail"]["output"], "ISO");
        assert_eq!(r.inventory["rear_result_mail"]["backup"], "NETFS");
        assert_eq!(r.started_at.date().year(), 2026);
        // Same bytes, same id: a redelivered mail is a duplicate, not a second report.
        assert_eq!(
            parse_mail(REAR_MAIL).unwrap().reports[0].0.report_id,
            r.report_id
        );
    }

    fn json_mail(report_json: &str, extra_headers: &str) -> Vec<u8> {
        format!(
            "From: rear@web1\r\nTo: reports@server\r\nSubject: rear report\r\n{extra_headers}\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain\r\n\r\nrear report\r\n\
             --b1\r\nContent-Type: application/json; name=\"report.json\"\r\n\
             Content-Disposition: attachment; filename=\"report.json\"\r\n\r\n{report_json}\r\n\
             --b1\r\nContent-Type: text/plain; name=\"disklayout.conf\"\r\n\
             Content-Disposition: attachment; filename=\"disklayout.conf\"\r\n\r\n\
             disk /dev/vda 10737418240 gpt\r\n--b1--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn json_attachment_with_layout_and_token() {
        let report = Report::new("web1", "mkbackup", "rear-rs 0.1.0");
        let raw = json_mail(&report.to_json(), "X-Rear-Token: s3cret\r\n");
        let parsed = parse_mail(&raw).unwrap();
        assert_eq!(parsed.token.as_deref(), Some("s3cret"));
        let (r, legacy) = &parsed.reports[0];
        assert!(!legacy);
        assert_eq!(r.report_id, report.report_id);
        assert!(r.layout.as_deref().unwrap().starts_with("disk /dev/vda"));
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\r\n\r\n".to_vec(),
            vec![0xff; 4096],
            b"Subject: Relax-and-Recover \r\n\r\n".to_vec(),
            b"Subject: Relax-and-Recover\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n".to_vec(),
            b"Content-Type: application/json\r\nContent-Disposition: attachment; filename=a.json\r\n\r\n{".to_vec(),
        ];
        // Every prefix of the real ReaR mail: truncated deliveries must fail cleanly or parse.
        inputs.extend(
            (0..REAR_MAIL.len())
                .step_by(97)
                .map(|n| REAR_MAIL[..n].to_vec()),
        );
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let mut m = REAR_MAIL.to_vec();
            for _ in 0..20 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = usize::try_from(seed % m.len() as u64).unwrap_or(0);
                m[i] = seed.to_le_bytes()[4];
            }
            inputs.push(m);
        }
        for input in inputs {
            if let Ok(p) = parse_mail(&input) {
                for (r, _) in p.reports {
                    // Whatever was parsed still has to pass validation before it is stored.
                    let _ = r.validate();
                }
            }
        }
    }

    #[test]
    fn rejects_mail_without_report_and_bad_json() {
        let plain = b"From: a@b\r\nSubject: hello\r\n\r\njust text\r\n";
        let e = parse_mail(plain).unwrap_err();
        assert!(e.to_string().contains("no rear report"), "{e}");
        let e = parse_mail(&json_mail(r#"{"schema_version":"9.0"}"#, "")).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }
}
