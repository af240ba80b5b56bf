//! Delivering reports: HTTPS or mail, with an on-disk queue for when the server is down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use rear_proto::Report;

use crate::cmd::{Cmd, Runner, tools};
use crate::config::{Config, RearUrl};
use crate::{Error, Result};

/// Where and how to send reports, from the configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `REAR_SERVER`.
    pub url: RearUrl,
    /// `REAR_SERVER_TOKEN`.
    pub token: Option<String>,
    /// Mail settings, for `mailto:`.
    pub mail: MailSettings,
    /// How long one HTTPS or SMTP attempt may take.
    pub timeout: Duration,
}

/// How report mails are sent.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `REAR_SERVER_SMTP_RELAY=host[:port]`; `None` means the local MTA's sendmail.
    pub relay: Option<String>,
    /// `REAR_SERVER_MAIL_FROM`, default `root@<hostname>`.
    pub from: String,
    /// `REAR_SERVER_MAIL_MAX_IMAGE_SIZE`: the rescue image is attached when smaller.
    pub max_image_size: u64,
}

/// Default for `REAR_SERVER_MAIL_MAX_IMAGE_SIZE`: under Postfix's default message size limit
/// (10,240,000 bytes) once base64 has grown the image by a third.
pub const DEFAULT_MAX_IMAGE_MAIL_SIZE: u64 = 7_000_000;

impl ServerSettings {
    /// The settings, or `None` when reports are off (`REAR_SERVER` empty or
    /// `REAR_SERVER_SEND_RESULT` not true).
    ///
    /// # Errors
    /// When `REAR_SERVER` is not an https://, http:// or mailto: URL.
    pub fn from_config(config: &Config, hostname: &str) -> Result<Option<Self>> {
        let Some(url) = config.rear_server()? else {
            return Ok(None);
        };
        if !config.rear_server_send_result() {
            return Ok(None);
        }
        let token = Some(config.string("REAR_SERVER_TOKEN")).filter(|t| !t.trim().is_empty());
        let relay = Some(config.string("REAR_SERVER_SMTP_RELAY")).filter(|r| !r.trim().is_empty());
        let from = Some(config.string("REAR_SERVER_MAIL_FROM"))
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| format!("root@{hostname}"));
        let max_image_size = config
            .string("REAR_SERVER_MAIL_MAX_IMAGE_SIZE")
            .trim()
            .parse()
            .unwrap_or(DEFAULT_MAX_IMAGE_MAIL_SIZE);
        Ok(Some(ServerSettings {
            url,
            token,
            mail: MailSettings {
                relay,
                from,
                max_image_size,
            },
            timeout: Duration::from_secs(30),
        }))
    }
}

/// What happened to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent, together with `flushed` reports that had been queued before.
    Sent {
        /// `https` or `mail`.
        via: &'static str,
        /// Earlier queued reports sent first.
        flushed: usize,
    },
    /// Could not be sent; it waits in the queue for the next run.
    Queued {
        /// The queued file.
        path: PathBuf,
        /// Why it could not be sent.
        reason: String,
    },
}

/// The queue directory, `$VAR_DIR/report-queue`.
pub fn queue_dir(config: &Config) -> PathBuf {
    config.var_dir().join("report-queue")
}

/// Queues `report`, then sends the queue oldest first (this report last). Never fails: a report
/// that cannot be sent stays queued. `image` is attached to this report's mail when small enough.
pub fn deliver(
    report: &Report,
    image: Option<&Path>,
    settings: &ServerSettings,
    runner: &dyn Runner,
    queue: &Path,
) -> Delivery {
    let own = match enqueue(report, queue) {
        Ok(p) => p,
        Err(e) => {
            // Without a queue the report can still be sent now; it is only not kept.
            tracing::warn!("queueing report {}: {e}", report.report_id);
            queue.join(format!("{}.json", report.report_id))
        }
    };
    let mut pending = queued_files(queue);
    if !pending.contains(&own) {
        pending.push(own.clone());
    }
    let mut flushed = 0;
    for path in pending {
        let queued = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| Report::from_json(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) if path == own => {
                // The queue could not be written: send the report from memory.
                tracing::warn!("reading queued report {}: {e}", path.display());
                report.clone()
            }
            Err(e) => {
                set_aside(&path, &format!("unreadable: {e}"));
                continue;
            }
        };
        let attach = if path == own { image } else { None };
        match send_one(&queued, attach, settings, runner) {
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
                if path == own {
                    return Delivery::Sent {
                        via: via(settings),
                        flushed,
                    };
                }
                flushed += 1;
            }
            Err(SendError::Rejected(reason)) => {
                // The server will never take this report: keep it aside, do not retry forever.
                set_aside(&path, &reason);
                if path == own {
                    return Delivery::Queued { path, reason };
                }
            }
            Err(SendError::Unreachable(reason)) => {
                return Delivery::Queued { path: own, reason };
            }
        }
    }
    Delivery::Queued {
        path: own,
        reason: "not sent".into(),
    }
}

fn via(settings: &ServerSettings) -> &'static str {
    if settings.url.scheme == "mailto" {
        "mail"
    } else {
        "https"
    }
}

fn enqueue(report: &Report, queue: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(queue).map_err(|e| Error::io("creating report queue", queue, e))?;
    let path = queue.join(format!("{}.json", report.report_id));
    let tmp = queue.join(format!(".{}.json.tmp", report.report_id));
    std::fs::write(&tmp, report.to_json()).map_err(|e| Error::io("writing report", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("writing report", &path, e))?;
    Ok(path)
}

/// Queued reports, oldest first (by modification time, then name).
fn queued_files(queue: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(queue) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

fn set_aside(path: &Path, reason: &str) {
    tracing::warn!(
        "report {} was rejected and is set aside: {reason}",
        path.display()
    );
    let Some(dir) = path.parent().map(|d| d.join("rejected")) else {
        return;
    };
    let _ = std::fs::create_dir_all(&dir);
    if let Some(name) = path.file_name() {
        let _ = std::fs::rename(path, dir.join(name));
        let _ = std::fs::write(dir.join(name).with_extension("reason"), reason);
    }
}

enum SendError {
    /// Try again later (network, 5xx, 401/403 until the token is fixed).
    Unreachable(String),
    /// The server refused this report for good (400, 413, 422).
    Rejected(String),
}

fn send_one(
    report: &Report,
    image: Option<&Path>,
    settings: &ServerSettings,
    runner: &dyn Runner,
) -> Result<(), SendError> {
    if settings.url.scheme == "mailto" {
        send_mail(report, image, settings, runner)
    } else {
        send_https(report, settings)
    }
}

/// The ingest endpoint for a server URL (`https://dr.example.com/prefix` →
/// `https://dr.example.com/prefix/api/v1/reports`).
pub fn ingest_endpoint(url: &RearUrl) -> String {
    api_url(url, "reports")
}

/// `PATH` of the JSON API under a server URL: `<scheme>://[user@]host<prefix>/api/v1/PATH`.
pub fn api_url(url: &RearUrl, path: &str) -> String {
    let base = url.path.trim_end_matches('/');
    let user = url
        .user
        .as_ref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!("{}://{user}{}{base}/api/v1/{path}", url.scheme, url.host)
}

/// The HTTP client for rear-server: the system's CA certificates (the platform verifier), and
/// error statuses returned as answers (their body explains them) rather than as errors.
/// `whole` limits a whole request (reports); `connect` and `answer` limit connecting and the wait
/// for the answer after the body was sent (images, whose upload takes as long as it takes).
pub(super) fn agent(
    whole: Option<std::time::Duration>,
    connect: Option<std::time::Duration>,
    answer: Option<std::time::Duration>,
) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(whole)
        .timeout_connect(connect)
        .timeout_recv_response(answer)
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into()
}

fn send_https(report: &Report, settings: &ServerSettings) -> Result<(), SendError> {
    let endpoint = ingest_endpoint(&settings.url);
    let agent = agent(Some(settings.timeout), None, None);
    let mut req = agent
        .post(&endpoint)
        .header("Content-Type", "application/json");
    if let Some(t) = &settings.token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    tracing::info!("sending report {} to {endpoint}", report.report_id);
    let mut resp = req
        .send(report.to_json().as_bytes())
        .map_err(|e| SendError::Unreachable(format!("{endpoint}: {e}")))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    match status {
        200..=299 => Ok(()),
        400 | 413 | 415 | 422 => Err(SendError::Rejected(format!(
            "{endpoint}: HTTP {status}: {body}"
        ))),
        _ => Err(SendError::Unreachable(format!(
            "{endpoint}: HTTP {status}: {body}"
        ))),
    }
}

/// `X-Rear-Token`, the ingest token of report mails.
#[derive(Debug, Clone)]
struct XRearToken(String);

impl Header for XRearToken {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Rear-Token")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(XRearToken(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Builds the report mail (RFC 5322 bytes).
///
/// # Errors
/// When an address does not parse.
pub fn report_mail(
    report: &Report,
    image: Option<&Path>,
    settings: &ServerSettings,
) -> Result<Vec<u8>, String> {
    let to: Mailbox = settings
        .url
        .opaque
        .parse()
        .map_err(|e| format!("REAR_SERVER mailto address: {e}"))?;
    let from: Mailbox = settings
        .mail
        .from
        .parse()
        .map_err(|e| format!("REAR_SERVER_MAIL_FROM: {e}"))?;
    let status = if report.result.is_success() {
        "success"
    } else {
        "FAILED"
    };
    let subject = format!("rear {} on {}: {status}", report.workflow, report.hostname);
    let mut text = format!(
        "rear {} on {} ended with {status} after {} s.\n",
        report.workflow,
        report.hostname,
        report.duration_ms / 1000
    );
    if let Some(e) = report.result.error() {
        text.push_str(&format!("\nError: {e}\n"));
    }
    let json = ContentType::parse("application/json").map_err(|e| e.to_string())?;
    let mut parts = MultiPart::mixed()
        .singlepart(SinglePart::plain(text))
        .singlepart(Attachment::new("report.json".into()).body(report.to_json(), json));
    if let Some(layout) = &report.layout {
        parts = parts.singlepart(
            Attachment::new("disklayout.conf".into()).body(layout.clone(), ContentType::TEXT_PLAIN),
        );
    }
    if let Some(img) = image
        && std::fs::metadata(img).is_ok_and(|m| m.len() < settings.mail.max_image_size)
        && let Ok(bytes) = std::fs::read(img)
    {
        let name = img
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let octet = ContentType::parse("application/octet-stream").map_err(|e| e.to_string())?;
        parts = parts.singlepart(Attachment::new(name).body(bytes, octet));
    }
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject);
    if let Some(t) = &settings.token {
        builder = builder.header(XRearToken(t.clone()));
    }
    let msg = builder.multipart(parts).map_err(|e| e.to_string())?;
    Ok(msg.formatted())
}

fn send_mail(
    report: &Report,
    image: Option<&Path>,
    settings: &ServerSettings,
    runner: &dyn Runner,
) -> Result<(), SendError> {
    let bytes = report_mail(report, image, settings).map_err(SendError::Rejected)?;
    match &settings.mail.relay {
        None => Cmd::mutate(tools::SENDMAIL)
            .args(["-t", "-oi"])
            .stdin_bytes(bytes)
            .timeout(settings.timeout)
            .describe(format!(
                "mailing report {} to {}",
                report.report_id, settings.url.opaque
            ))
            .run(runner)
            .map(|_| ())
            .map_err(|e| SendError::Unreachable(e.to_string())),
        Some(relay) => {
            use lettre::Transport;
            let (host, port) = match relay.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().unwrap_or(25)),
                None => (relay.clone(), 25),
            };
            let tls = lettre::transport::smtp::client::TlsParameters::new(host.clone())
                .map_err(|e| SendError::Unreachable(format!("TLS setup for {host}: {e}")))?;
            let transport = lettre::SmtpTransport::builder_dangerous(&host)
                .port(port)
                .tls(lettre::transport::smtp::client::Tls::Opportunistic(tls))
                .timeout(Some(settings.timeout))
                .build();
            let from = settings
                .mail
                .from
                .parse()
                .map_err(|e| SendError::Rejected(format!("{e}")))?;
            let to = settings
                .url
                .opaque
                .parse()
                .map_err(|e| SendError::Rejected(format!("{e}")))?;
            let envelope = lettre::address::Envelope::new(Some(from), vec![to])
                .map_err(|e| SendError::Rejected(e.to_string()))?;
            tracing::info!(
                "sending report {} by SMTP via {host}:{port}",
                report.report_id
            );
            transport
                .send_raw(&envelope, &bytes)
                .map(|_| ())
                .map_err(|e| SendError::Unreachable(format!("SMTP relay {host}:{port}: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn settings(url: &str) -> ServerSettings {
        let mut c = Config::new();
        c.set("REAR_SERVER", Value::Scalar(url.into()));
        c.set("REAR_SERVER_SEND_RESULT", Value::Scalar("yes".into()));
        c.set("REAR_SERVER_TOKEN", Value::Scalar("tok".into()));
        ServerSettings::from_config(&c, "web1").unwrap().unwrap()
    }

    #[test]
    fn off_unless_configured_and_enabled() {
        let mut c = Config::new();
        assert!(ServerSettings::from_config(&c, "h").unwrap().is_none());
        c.set("REAR_SERVER", Value::Scalar("https://dr".into()));
        assert!(
            ServerSettings::from_config(&c, "h").unwrap().is_none(),
            "SEND_RESULT is off"
        );
        c.set("REAR_SERVER_SEND_RESULT", Value::Scalar("y".into()));
        assert!(ServerSettings::from_config(&c, "h").unwrap().is_some());
    }

    #[test]
    fn endpoint_keeps_prefix_and_port() {
        let s = settings("https://dr.example.com:8443/rear/");
        assert_eq!(
            ingest_endpoint(&s.url),
            "https://dr.example.com:8443/rear/api/v1/reports"
        );
    }

    #[test]
    fn mail_has_json_and_layout_attachments_and_token() {
        let s = settings("mailto:rear@dr.example.com");
        let mut r = Report::new("web1", "mkrescue", "rear-rs 0.1.0");
        r.layout = Some("disk /dev/vda 1 gpt\n".into());
        let mail = String::from_utf8(report_mail(&r, None, &s).unwrap()).unwrap();
        assert!(
            mail.contains("Subject: rear mkrescue on web1: success"),
            "{mail}"
        );
        assert!(mail.contains("X-Rear-Token: tok"));
        assert!(mail.contains("Content-Type: application/json"));
        assert!(mail.contains("filename=\"report.json\""));
        assert!(mail.contains("filename=\"disklayout.conf\""));
        assert!(mail.contains("From: root@web1"));
        assert!(mail.contains(&r.report_id.to_string()));
    }

    #[test]
    fn unreachable_server_queues_and_next_run_flushes_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let queue = dir.path().join("queue");
        // A port nothing listens on: connection refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let down = settings(&format!("http://127.0.0.1:{port}"));
        let first = Report::new("web1", "mkbackup", "rear-rs 0.1.0");
        match deliver(&first, None, &down, &crate::cmd::FakeRunner::new(), &queue) {
            Delivery::Queued { path, reason } => {
                assert!(path.exists(), "queued file missing");
                assert!(reason.contains("127.0.0.1"), "{reason}");
            }
            other => panic!("expected Queued, got {other:?}"),
        }
        // The server comes up: a tiny HTTP server that accepts and records two reports.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{BufRead, BufReader, Read, Write};
            let mut ids = Vec::new();
            for _ in 0..2 {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut len = 0usize;
                let mut auth = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if lower.starts_with("authorization:") {
                        auth = line.trim().to_string();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let r = Report::from_json(&body).unwrap();
                ids.push((r.report_id, auth));
                let resp =
                    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
                reader.get_mut().write_all(resp.as_bytes()).unwrap();
            }
            ids
        });
        let second = Report::new("web1", "mkbackup", "rear-rs 0.1.0");
        let up = settings(&format!("http://127.0.0.1:{port}"));
        let d = deliver(&second, None, &up, &crate::cmd::FakeRunner::new(), &queue);
        assert_eq!(
            d,
            Delivery::Sent {
                via: "https",
                flushed: 1
            }
        );
        let ids = server.join().unwrap();
        assert_eq!(
            ids[0].0, first.report_id,
            "the older queued report goes first"
        );
        assert_eq!(ids[1].0, second.report_id);
        assert_eq!(ids[0].1.to_ascii_lowercase(), "authorization: bearer tok");
        assert_eq!(
            queued_files(&queue),
            Vec::<PathBuf>::new(),
            "queue not emptied"
        );
    }
}
