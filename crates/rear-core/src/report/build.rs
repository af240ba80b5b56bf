//! Building a [`Report`] from what a run did.

use std::path::{Path, PathBuf};

use rear_proto::{ImageRef, OsInfo, OutputFile, Report, RunResult};

use crate::config::Config;
use crate::system::SystemInfo;

/// Files a run produced; steps add to it through the workflow context.
#[derive(Debug, Clone, Default)]
pub struct OutputFiles {
    /// The files, in the order they were written.
    pub files: Vec<PathBuf>,
    /// The rescue image among them, if any.
    pub image: Option<PathBuf>,
}

/// What the caller knows about the run.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    /// The workflow.
    pub workflow: &'a str,
    /// When it started.
    pub started_at: time::OffsetDateTime,
    /// How long it took.
    pub duration: std::time::Duration,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The log file, whose tail goes into the report.
    pub log_file: Option<&'a Path>,
    /// The files it wrote.
    pub outputs: &'a OutputFiles,
}

/// Lines of the log that go into a report.
pub const LOG_TAIL_LINES: usize = 200;

/// Builds the report of a run.
pub fn build_report(config: &Config, system: &SystemInfo, facts: &RunFacts<'_>) -> Report {
    let mut report = Report::new(
        &system.hostname,
        facts.workflow,
        &format!("rear-rs {}", crate::VERSION),
    );
    report.domain = domain_name();
    report.tags = config.rear_server_tags();
    report.started_at = facts.started_at;
    report.duration_ms = u64::try_from(facts.duration.as_millis()).unwrap_or(u64::MAX);
    report.result = match &facts.error {
        None => RunResult::Success,
        Some(e) => RunResult::Failure { error: e.clone() },
    };
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    report.os = OsInfo {
        name: crate::system::os_release_field(&os_release, "PRETTY_NAME").unwrap_or_default(),
        version: system.os_version.clone(),
        kernel: system.kernel_version.clone(),
        arch: system.machine.clone(),
    };
    report.layout = ["layout.conf", "disklayout.conf"]
        .iter()
        .find_map(|f| std::fs::read_to_string(config.layout_dir().join(f)).ok());
    report.log_tail = facts
        .log_file
        .map(|p| tail_lines(p, LOG_TAIL_LINES))
        .unwrap_or_default();
    report.output_files = facts
        .outputs
        .files
        .iter()
        .filter_map(|p| {
            let size = std::fs::metadata(p).ok()?.len();
            Some(OutputFile {
                path: p.display().to_string(),
                size,
                sha256: sha256_file(p).unwrap_or_default(),
            })
        })
        .collect();
    report.image = facts.outputs.image.as_ref().and_then(|p| {
        // The image is usually one of the output files, hashed just above: not read again.
        let known = report
            .output_files
            .iter()
            .find(|f| Path::new(&f.path) == p && !f.sha256.is_empty());
        Some(ImageRef {
            name: p.file_name()?.to_string_lossy().into_owned(),
            size: std::fs::metadata(p).ok()?.len(),
            sha256: match known {
                Some(f) => f.sha256.clone(),
                None => sha256_file(p)?,
            },
            url: None,
        })
    });
    report
}

/// The DNS domain of this host: from `/proc/sys/kernel/domainname` when set, else the part of
/// the first name for 127.0.1.1 or this host in /etc/hosts after the first dot.
fn domain_name() -> String {
    let nis = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
    let nis = nis.trim();
    if !nis.is_empty() && nis != "(none)" {
        return nis.to_string();
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let short = host.split('.').next().unwrap_or_default().to_string();
    if let Some((_, domain)) = host.split_once('.') {
        return domain.to_string();
    }
    hosts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find_map(|name| {
            let (first, domain) = name.split_once('.')?;
            (first == short).then(|| domain.to_string())
        })
        .unwrap_or_default()
}

/// The last `n` lines of a file (empty when it cannot be read).
pub fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The SHA-256 of a file, as lower-case hex (`None` when it cannot be read).
pub fn sha256_file(path: &Path) -> Option<String> {
    crate::backup::stream::sha256_file(path)
        .ok()
        .map(|(hex, _)| hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    #[test]
    fn report_carries_result_tags_outputs_and_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("rear.log");
        let lines: Vec<String> = (0..300).map(|i| format!("line {i}")).collect();
        std::fs::write(&log, lines.join("\n")).unwrap();
        let iso = dir.path().join("rear-host.iso");
        std::fs::write(&iso, b"abc").unwrap();
        let mut config = Config::new();
        config.set(
            "REAR_SERVER_TAGS",
            Value::Array(vec!["prod".into(), "web".into()]),
        );
        config.set("VAR_DIR", Value::Scalar(dir.path().display().to_string()));
        std::fs::create_dir_all(dir.path().join("layout")).unwrap();
        std::fs::write(
            dir.path().join("layout/disklayout.conf"),
            "disk /dev/vda 1 gpt\n",
        )
        .unwrap();
        let system =
            SystemInfo::from_parts("ID=debian\nVERSION_ID=12\n", "x86_64", "web1", "6.1.0");
        let outputs = OutputFiles {
            files: vec![iso.clone()],
            image: Some(iso),
        };
        let facts = RunFacts {
            workflow: "mkrescue",
            started_at: time::OffsetDateTime::now_utc(),
            duration: std::time::Duration::from_millis(1500),
            error: Some("step output/ISO/100_make_iso failed".into()),
            log_file: Some(&log),
            outputs: &outputs,
        };
        let r = build_report(&config, &system, &facts);
        assert_eq!(r.hostname, "web1");
        assert_eq!(r.tags, ["prod", "web"]);
        assert_eq!(r.duration_ms, 1500);
        assert_eq!(
            r.result.error(),
            Some("step output/ISO/100_make_iso failed")
        );
        assert_eq!(r.log_tail.lines().count(), LOG_TAIL_LINES);
        assert!(r.log_tail.ends_with("line 299"));
        assert_eq!(r.layout.as_deref(), Some("disk /dev/vda 1 gpt\n"));
        // sha256("abc")
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(r.output_files[0].sha256, abc);
        assert_eq!(r.image.as_ref().unwrap().sha256, abc);
        assert_eq!(r.image.as_ref().unwrap().name, "rear-host.iso");
        // and the server's own reader accepts it
        let back = rear_proto::Report::from_json(r.to_json().as_bytes()).unwrap();
        assert_eq!(back.report_id, r.report_id);
    }
}
