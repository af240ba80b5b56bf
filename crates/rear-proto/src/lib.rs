//! Wire types shared by the `rear` client and `rear-server`.
//!
//! Everything in here is plain data with serde derives: it must not depend on the client's or the
//! server's internals, so that both sides can evolve while the format stays versioned.
//!
//! The contract: a [`Report`] is JSON with a `schema_version` of the form `MAJOR.MINOR`. A reader
//! accepts every minor version of the major versions it knows (unknown fields are ignored, so a
//! newer client can add fields) and rejects any other major version with
//! [`ProtoError::UnsupportedVersion`] instead of guessing. [`Report::from_json`] is the one entry
//! point that enforces this; [`Report::validate`] checks the limits a server relies on.
//! `docs/server.md` documents the format for client implementers.

pub mod api;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The major version of the report format this crate reads and writes.
pub const SCHEMA_MAJOR: u32 = 1;
/// The full version string written into new reports.
pub const SCHEMA_VERSION: &str = "1.0";

/// Longest hostname (RFC 1035 limit for a full name).
pub const MAX_HOSTNAME_LEN: usize = 253;
/// Most tags one report may carry.
pub const MAX_TAGS: usize = 64;
/// Longest single tag.
pub const MAX_TAG_LEN: usize = 64;

/// Why a report could not be read or is not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum ProtoError {
    /// The bytes are not JSON, or the JSON does not have the report's shape.
    Malformed(String),
    /// `schema_version` is missing or not `MAJOR.MINOR`.
    BadVersion(String),
    /// The major version is one this build does not know.
    UnsupportedVersion {
        /// The version found in the report.
        found: String,
        /// The major version this build supports.
        supported: u32,
    },
    /// A field breaks a limit or rule (names the field).
    Invalid {
        /// The JSON field at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed report: {m}"),
            Self::BadVersion(v) => write!(
                f,
                "schema_version {v:?} is not of the form MAJOR.MINOR (this server writes {SCHEMA_VERSION})"
            ),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "report schema_version {found} is not supported: this server reads major version {supported}; upgrade rear-server"
            ),
            Self::Invalid { field, message } => write!(f, "invalid field {field}: {message}"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// One run of a rear workflow, as sent to the server at the end of the run (success or failure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `MAJOR.MINOR`; see [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// Chosen by the client once per run; the server stores a report id only once (idempotent retries).
    pub report_id: Uuid,
    /// Short hostname (`uname -n` without the domain).
    pub hostname: String,
    /// DNS domain, empty when unknown.
    #[serde(default)]
    pub domain: String,
    /// Free-form tags from `REAR_SERVER_TAGS`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Version of the rear that ran, e.g. `rear-rs 0.1.0` or `2.7`.
    pub rear_version: String,
    /// Workflow name: `mkrescue`, `mkbackup`, `mkbackuponly`, `recover`, `checklayout`, ...
    pub workflow: String,
    /// How the run ended.
    pub result: RunResult,
    /// When the run started (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// How long the run took, in milliseconds.
    pub duration_ms: u64,
    /// The operating system the run happened on.
    #[serde(default)]
    pub os: OsInfo,
    /// The text of `disklayout.conf` as written by the run, if any.
    #[serde(default)]
    pub layout: Option<String>,
    /// The system inventory; opaque to the server for now (another issue defines its shape).
    #[serde(default)]
    pub inventory: serde_json::Value,
    /// The last lines of the run's log.
    #[serde(default)]
    pub log_tail: String,
    /// Files the run produced (rescue image, backup archive, ...).
    #[serde(default)]
    pub output_files: Vec<OutputFile>,
    /// Where the rescue image can be fetched, when it was uploaded or stored somewhere.
    #[serde(default)]
    pub image: Option<ImageRef>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RunResult {
    /// The workflow finished.
    Success,
    /// The workflow stopped with an error.
    Failure {
        /// The error as the user saw it.
        error: String,
    },
}

impl RunResult {
    /// True for [`RunResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// The error text of a failure.
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Success => None,
            Self::Failure { error } => Some(error),
        }
    }
}

/// The operating system of the reporting host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// `PRETTY_NAME` from os-release, e.g. `Debian GNU/Linux 12 (bookworm)`.
    #[serde(default)]
    pub name: String,
    /// `VERSION_ID` from os-release.
    #[serde(default)]
    pub version: String,
    /// Kernel release (`uname -r`).
    #[serde(default)]
    pub kernel: String,
    /// Machine architecture (`uname -m`).
    #[serde(default)]
    pub arch: String,
}

/// A file written by the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path or URL where the run put the file.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content, empty when not computed.
    #[serde(default)]
    pub sha256: String,
}

/// A rescue image that can be downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// File name of the image, e.g. `rear-web1.iso`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Where to fetch it, when it is not stored on the server itself.
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<serde_json::Value>,
}

/// Parses `MAJOR.MINOR` into its numbers.
pub fn parse_schema_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(major) || !all_digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl Report {
    /// A new report for a run that starts now, with a fresh id and [`SCHEMA_VERSION`].
    pub fn new(hostname: &str, workflow: &str, rear_version: &str) -> Self {
        Self {
            schema_version: SCHEMA_VERSION.to_string(),
            report_id: Uuid::new_v4(),
            hostname: hostname.to_string(),
            domain: String::new(),
            tags: Vec::new(),
            rear_version: rear_version.to_string(),
            workflow: workflow.to_string(),
            result: RunResult::Success,
            started_at: OffsetDateTime::now_utc(),
            duration_ms: 0,
            os: OsInfo::default(),
            layout: None,
            inventory: serde_json::Value::Null,
            log_tail: String::new(),
            output_files: Vec::new(),
            image: None,
        }
    }

    /// Reads a report from JSON, checking the version first so that a report of an unknown major
    /// version is rejected as such rather than as a shape mismatch.
    ///
    /// # Errors
    /// [`ProtoError::Malformed`], [`ProtoError::BadVersion`] or [`ProtoError::UnsupportedVersion`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProtoError> {
        let probe: VersionProbe =
            serde_json::from_slice(bytes).map_err(|e| ProtoError::Malformed(e.to_string()))?;
        let version = match probe.schema_version {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => return Err(ProtoError::BadVersion(other.to_string())),
            None => return Err(ProtoError::BadVersion("(missing)".to_string())),
        };
        let (major, _minor) = parse_schema_version(&version)
            .ok_or_else(|| ProtoError::BadVersion(version.clone()))?;
        if major != SCHEMA_MAJOR {
            return Err(ProtoError::UnsupportedVersion {
                found: version,
                supported: SCHEMA_MAJOR,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| ProtoError::Malformed(e.to_string()))
    }

    /// Serialises the report as compact JSON.
    pub fn to_json(&self) -> String {
        // A Report has only string keys and serialisable values, so this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the rules the server relies on: a usable hostname, sane tags, a domain that is a name.
    ///
    /// # Errors
    /// [`ProtoError::Invalid`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), ProtoError> {
        check_name("hostname", &self.hostname, false)?;
        check_name("domain", &self.domain, true)?;
        if self.tags.len() > MAX_TAGS {
            return Err(ProtoError::Invalid {
                field: "tags",
                message: format!("{} tags, at most {MAX_TAGS} allowed", self.tags.len()),
            });
        }
        for tag in &self.tags {
            let ok = !tag.is_empty()
                && tag.len() <= MAX_TAG_LEN
                && tag
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.:/".contains(c));
            if !ok {
                return Err(ProtoError::Invalid {
                    field: "tags",
                    message: format!(
                        "tag {tag:?} must be 1-{MAX_TAG_LEN} letters, digits or -_.:/"
                    ),
                });
            }
        }
        if self.workflow.is_empty()
            || self.workflow.len() > 64
            || !self
                .workflow
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ProtoError::Invalid {
                field: "workflow",
                message: format!("{:?} is not a workflow name", self.workflow),
            });
        }
        for f in &self.output_files {
            if !f.sha256.is_empty() && !is_sha256_hex(&f.sha256) {
                return Err(ProtoError::Invalid {
                    field: "output_files",
                    message: format!("sha256 of {} is not 64 lower-case hex digits", f.path),
                });
            }
        }
        if let Some(img) = &self.image
            && !is_sha256_hex(&img.sha256)
        {
            return Err(ProtoError::Invalid {
                field: "image",
                message: "sha256 is not 64 lower-case hex digits".to_string(),
            });
        }
        Ok(())
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Host and domain names: DNS-ish labels (letters, digits, `-`, `_`) separated by dots.
fn check_name(field: &'static str, value: &str, empty_ok: bool) -> Result<(), ProtoError> {
    if value.is_empty() {
        return if empty_ok {
            Ok(())
        } else {
            Err(ProtoError::Invalid {
                field,
                message: "must not be empty".to_string(),
            })
        };
    }
    let ok = value.len() <= MAX_HOSTNAME_LEN
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(ProtoError::Invalid {
            field,
            message: format!("{value:?} is not a host or domain name"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("web1", "mkrescue", "rear-rs 0.1.0");
        r.domain = "example.com".into();
        r.tags = vec!["prod".into(), "web".into()];
        r.result = RunResult::Failure {
            error: "mkfs.xfs not found".into(),
        };
        r.started_at = time::macros::datetime!(2026-11-26 06:00:00.5 UTC);
        r.duration_ms = 61_000;
        r.layout = Some("disk /dev/sda 21474836480 gpt\n".into());
        r.inventory = serde_json::json!({"cpus": 2});
        r.output_files = vec![OutputFile {
            path: "/var/lib/rear/output/rear-web1.iso".into(),
            size: 1024,
            sha256: "a".repeat(64),
        }];
        r
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let r = sample();
        let back = Report::from_json(r.to_json().as_bytes()).unwrap();
        assert_eq!(back, r);
        back.validate().unwrap();
    }

    #[test]
    fn wire_shape_is_stable() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["schema_version"], "1.0");
        assert_eq!(v["result"]["status"], "failure");
        assert_eq!(v["result"]["error"], "mkfs.xfs not found");
        assert_eq!(v["started_at"], "2026-11-26T06:00:00.5Z");
        let ok = serde_json::to_value(RunResult::Success).unwrap();
        assert_eq!(ok, serde_json::json!({"status": "success"}));
    }

    #[test]
    fn newer_minor_with_unknown_fields_is_accepted() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["schema_version"] = "1.7".into();
        v["something_new"] = serde_json::json!({"x": 1});
        let r = Report::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(r.hostname, "web1");
    }

    #[test]
    fn unknown_major_is_rejected_as_unsupported() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["schema_version"] = "2.0".into();
        // Even a shape that no longer matches must report the version, not a field error.
        v.as_object_mut().unwrap().remove("hostname");
        let err = Report::from_json(v.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ProtoError::UnsupportedVersion {
                found: "2.0".into(),
                supported: 1
            }
        );
        assert!(err.to_string().contains("upgrade rear-server"), "{err}");
    }

    #[test]
    fn bad_or_missing_version_is_rejected() {
        for bad in [
            r#"{"schema_version": 1}"#,
            r#"{"schema_version": "1"}"#,
            r#"{"x": 1}"#,
        ] {
            let err = Report::from_json(bad.as_bytes()).unwrap_err();
            assert!(matches!(err, ProtoError::BadVersion(_)), "{bad}: {err:?}");
        }
        assert!(matches!(
            Report::from_json(b"not json"),
            Err(ProtoError::Malformed(_))
        ));
        assert_eq!(parse_schema_version("1.12"), Some((1, 12)));
        assert_eq!(parse_schema_version("1.x"), None);
        assert_eq!(parse_schema_version("+1.0"), None);
    }

    #[test]
    fn validate_names_the_field_at_fault() {
        type Mutation = fn(&mut Report);
        let cases: [(Mutation, &str); 6] = [
            (|r| r.hostname = String::new(), "hostname"),
            (|r| r.hostname = "web1; rm -rf /".into(), "hostname"),
            (|r| r.domain = "a..b".into(), "domain"),
            (|r| r.tags = vec!["has space".into()], "tags"),
            (|r| r.workflow = "mk rescue".into(), "workflow"),
            (|r| r.output_files[0].sha256 = "XYZ".into(), "output_files"),
        ];
        for (mutate, field) in cases {
            let mut r = sample();
            mutate(&mut r);
            match r.validate() {
                Err(ProtoError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected {field} to be rejected, got {other:?}"),
            }
        }
    }
}
