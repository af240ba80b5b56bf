//! Bodies of the rear-server JSON API (`/api/v1/...`) and its error body.
//!
//! The server serialises these; third-party clients and the rear client deserialise them. Times
//! are RFC 3339 strings. Adding an optional field is a compatible change; renaming one is not.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Every error the API returns: a stable machine-readable `error` code and a human `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code, e.g. `unauthorized`, `not_found`, `invalid_report`, `too_large`.
    pub error: String,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

/// Answer to `POST /api/v1/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// The id of the report.
    pub report_id: Uuid,
    /// `stored` the first time, `duplicate` when this id was already stored (nothing changed).
    pub status: IngestStatus,
}

/// Whether an ingest stored something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestStatus {
    /// The report is new and now stored.
    Stored,
    /// A report with this id was already stored; the request changed nothing.
    Duplicate,
}

/// State of a host as shown in the overview (most urgent first: failed, stale, drifted, ok).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostState {
    /// The last report is a failure.
    Failed,
    /// No successful report within the host's expected interval.
    Stale,
    /// The current layout differs from the layout the last rescue image was made from.
    Drifted,
    /// The last report is a success and recent, and the rescue image matches the layout.
    Ok,
}

impl HostState {
    /// The lower-case name used on the wire and in the GUI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Stale => "stale",
            Self::Drifted => "drifted",
        }
    }

    /// Inverse of [`HostState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Self::Ok,
            "failed" => Self::Failed,
            "stale" => Self::Stale,
            "drifted" => Self::Drifted,
            _ => return None,
        })
    }

    /// Every state, most urgent first.
    pub const ALL: [HostState; 4] = [Self::Failed, Self::Stale, Self::Drifted, Self::Ok];
}

/// How a report reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportSource {
    /// `POST /api/v1/reports`.
    Http,
    /// The built-in SMTP listener.
    Smtp,
    /// The built-in LMTP listener.
    Lmtp,
    /// `rear-server ingest` from an MTA pipe transport.
    Pipe,
}

impl ReportSource {
    /// The kebab-case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Smtp => "smtp",
            Self::Lmtp => "lmtp",
            Self::Pipe => "pipe",
        }
    }

    /// Inverse of [`ReportSource::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "http" => Self::Http,
            "smtp" => Self::Smtp,
            "lmtp" => Self::Lmtp,
            "pipe" => Self::Pipe,
            _ => return None,
        })
    }
}

/// One report in a list (without the large fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    /// The report's id.
    pub report_id: Uuid,
    /// Host that sent it.
    pub hostname: String,
    /// Workflow that ran.
    pub workflow: String,
    /// True when the workflow succeeded.
    pub success: bool,
    /// The error of a failed run.
    pub error: Option<String>,
    /// When the run started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Run time in milliseconds.
    pub duration_ms: u64,
    /// When the server stored it.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// How it arrived.
    pub source: ReportSource,
    /// The rear version that ran.
    pub rear_version: String,
    /// True when it was converted from a classic ReaR `RESULT_MAILTO` mail.
    #[serde(default)]
    pub legacy_mail: bool,
}

/// One host in `GET /api/v1/hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSummary {
    /// Short hostname (the key).
    pub hostname: String,
    /// DNS domain, empty when unknown.
    pub domain: String,
    /// Tags of the most recent report.
    pub tags: Vec<String>,
    /// Operating system of the most recent report.
    pub os: String,
    /// ok / failed / stale / drifted.
    pub state: HostState,
    /// Number of stored reports.
    pub report_count: u64,
    /// The most recent report (by start time).
    pub last_report: ReportSummary,
    /// Start of the last successful run that made a rescue image (`mkrescue`, `mkbackup`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_rescue_at: Option<OffsetDateTime>,
    /// Start of the last successful run that made a backup (`mkbackup`, `mkbackuponly`).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_backup_at: Option<OffsetDateTime>,
    /// Start of the newest successful report of any workflow.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// Total size of the output files of the last successful backup run.
    #[serde(default)]
    pub backup_bytes: Option<u64>,
    /// The current layout differs from the one in the last rescue image report.
    #[serde(default)]
    pub drifted: bool,
}

/// `GET /api/v1/hosts`: one page of the hosts matching the filter, by hostname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostList {
    /// The hosts of this page.
    pub hosts: Vec<HostSummary>,
    /// Path and query of the next page (same filters and page size), `None` on the last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /api/v1/hosts/{name}/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportList {
    /// Newest first.
    pub reports: Vec<ReportSummary>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    /// rear-server version.
    pub version: String,
}

/// A rescue image stored on the server for a host (`GET /api/v1/hosts/{name}/images`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    /// Host it was uploaded for.
    pub hostname: String,
    /// File name the client gave (e.g. `rear-web1.iso`).
    pub name: String,
    /// Size in bytes (verified at upload).
    pub size: u64,
    /// SHA-256 of the content, 64 lower-case hex digits (verified at upload; the object's key).
    pub sha256: String,
    /// When it was uploaded.
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
    /// Path of the download, relative to the server (`/api/v1/hosts/{name}/images/{sha256}`).
    pub download: String,
}

/// `GET /api/v1/hosts/{name}/images`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageList {
    /// Newest upload first; at most the server's `images.keep_per_host`.
    pub images: Vec<StoredImage>,
}

/// Whether an upload stored a new object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// The content was new to the store.
    Stored,
    /// The store already had this content (uploaded before, by this or another host).
    Existing,
}

/// Answer to `PUT /api/v1/hosts/{name}/images/{sha256}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// The image as now recorded for the host.
    pub image: StoredImage,
    /// `stored` (201) or `existing` (200).
    pub status: UploadStatus,
    /// SHA-256 of the host's older images that retention removed from its list.
    #[serde(default)]
    pub pruned: Vec<String>,
}
