//! The `BACKUP=RESTIC` method: the selection backed up with the real `restic` (0.14 in Debian 12).
//!
//! ReaR has no restic method, so the variables are ours, named after restic's own environment:
//! - `RESTIC_REPOSITORY`: any restic repository (`/srv/restic`, `sftp:user@host:/srv/restic`,
//!   `rest:https://...`, `s3:...`), used as it is. Without it, `BACKUP_URL` (file, nfs, cifs,
//!   usb, sshfs) is mounted as for NETFS and the repository is `<target>/<hostname>/restic`.
//! - `RESTIC_PASSWORD_FILE` (recommended), `RESTIC_PASSWORD` or `RESTIC_PASSWORD_COMMAND`: one is
//!   required. They reach restic in its environment, never on the command line.
//! - Every other `RESTIC_*` variable and the backend credentials (`AWS_*`, `B2_*`, `AZURE_*`,
//!   `GOOGLE_*`, `OS_*`, `ST_*`, `RCLONE_*`) of the configuration are passed on the same way,
//!   e.g. `RESTIC_COMPRESSION=max` or `RESTIC_CACHE_DIR`. The repository also goes in the
//!   environment (`RESTIC_REPOSITORY`), so a URL with credentials never reaches the log.
//! - Snapshots are tagged `rear` and carry the host name (`--host`); a restore takes the newest
//!   such snapshot. restic runs with the backed-up root as its working directory and relative
//!   paths, so the snapshot holds `etc/...` and restores into any `--target`.
//! - Excludes follow [`Selection`]: restic matches patterns against the absolute path on this
//!   host, so anchored patterns get the root prefixed; unanchored ones are passed as they are.

use std::path::{Path, PathBuf};

use super::borg::{in_dir, relative_includes, require_tool};
use super::select::{DEFAULT_EXCLUDES, Selection};
use crate::cmd::{Cmd, CommandError, Output, Runner, tools};
use crate::config::Config;
use crate::{Error, Result};

/// The tag every snapshot made by rear carries.
pub const TAG: &str = "rear";

/// Variable prefixes of the configuration handed to restic's environment.
const ENV_PREFIXES: &[&str] = &[
    "RESTIC_", "AWS_", "B2_", "AZURE_", "GOOGLE_", "OS_", "ST_", "RCLONE_",
];

/// Everything the restic commands need.
#[derive(Debug, Clone)]
pub struct ResticSettings {
    /// The repository (passed as `RESTIC_REPOSITORY`).
    pub repo: String,
    /// The host name recorded in snapshots and used to find the newest one.
    pub hostname: String,
    /// Environment for restic: password, repository options, backend credentials. Never logged.
    pub env: Vec<(String, String)>,
    /// Where the restic program is looked up (`/` normally).
    pub tool_root: PathBuf,
}

impl ResticSettings {
    /// Settings for `repo` with the password in `password_file`.
    pub fn new(repo: impl Into<String>, hostname: impl Into<String>, password_file: &Path) -> Self {
        ResticSettings {
            repo: repo.into(),
            hostname: hostname.into(),
            env: vec![(
                "RESTIC_PASSWORD_FILE".into(),
                password_file.display().to_string(),
            )],
            tool_root: PathBuf::from("/"),
        }
    }

    /// Reads the settings from the configuration; `local_base` is the mounted `BACKUP_URL`
    /// target, used when `RESTIC_REPOSITORY` is not set.
    ///
    /// # Errors
    /// Neither `RESTIC_REPOSITORY` nor a target, or no password variable.
    pub fn from_config(config: &Config, hostname: &str, local_base: Option<&Path>) -> Result<Self> {
        let repo = match config.string("RESTIC_REPOSITORY").trim() {
            "" => match local_base {
                Some(base) => base.join(hostname).join("restic").display().to_string(),
                None => {
                    return Err(Error::invalid(
                        "RESTIC_REPOSITORY",
                        "is not set and neither is BACKUP_URL: BACKUP=RESTIC needs one of them",
                    ));
                }
            },
            r => r.to_string(),
        };
        let mut env: Vec<(String, String)> = config
            .iter()
            .filter(|(n, _)| ENV_PREFIXES.iter().any(|p| n.starts_with(p)))
            .filter(|(n, _)| n.as_str() != "RESTIC_REPOSITORY")
            .map(|(n, v)| (n.clone(), v.as_scalar()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        env.sort();
        if !env.iter().any(|(n, _)| {
            matches!(
                n.as_str(),
                "RESTIC_PASSWORD_FILE" | "RESTIC_PASSWORD" | "RESTIC_PASSWORD_COMMAND"
            )
        }) {
            return Err(Error::invalid(
                "RESTIC_PASSWORD_FILE",
                "is not set: BACKUP=RESTIC needs the repository password in RESTIC_PASSWORD_FILE \
                 (or RESTIC_PASSWORD / RESTIC_PASSWORD_COMMAND)",
            ));
        }
        Ok(ResticSettings {
            repo,
            hostname: hostname.to_string(),
            env,
            tool_root: PathBuf::from("/"),
        })
    }

    fn with_env(&self, mut cmd: Cmd) -> Cmd {
        cmd = cmd.env("RESTIC_REPOSITORY", &self.repo);
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// The repository for messages: a URL's user and password are left out.
    pub fn repo_for_humans(&self) -> String {
        redact_url(&self.repo)
    }
}

/// `scheme://user:pass@host/...` without `user:pass@`.
fn redact_url(repo: &str) -> String {
    if let Some(i) = repo.find("://") {
        let (scheme, rest) = repo.split_at(i + 3);
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}***@{}", &rest[at + 1..]);
        }
    }
    repo.to_string()
}

/// The restic exclude patterns for `sel`: anchored patterns with the root prefixed.
pub fn restic_excludes(sel: &Selection) -> Vec<String> {
    let root = sel.root.display().to_string();
    let root = root.trim_end_matches('/');
    let defaults: &[&str] = if sel.default_excludes {
        DEFAULT_EXCLUDES
    } else {
        &[]
    };
    let mut out = Vec::new();
    for p in sel
        .exclude
        .iter()
        .map(String::as_str)
        .chain(defaults.iter().copied())
    {
        let p = p.trim_end_matches('/');
        if p.is_empty() {
            continue;
        }
        if p.starts_with('/') {
            out.push(format!("{root}{p}"));
        } else {
            out.push(p.to_string());
        }
    }
    // excluded directories are real paths on this host already; restic patterns are globs, so
    // escape the glob characters
    for d in &sel.exclude_dirs {
        if d.starts_with(&sel.root) && d != &sel.root {
            let mut esc = String::new();
            for c in d.display().to_string().chars() {
                if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                    esc.push('\\');
                }
                esc.push(c);
            }
            out.push(esc);
        }
    }
    out
}

fn run_restic(s: &ResticSettings, runner: &dyn Runner, cmd: Cmd) -> Result<Output> {
    match s.with_env(cmd).run(runner) {
        Ok(o) => Ok(o),
        Err(CommandError::Failed { stderr_tail, .. }) if stderr_tail.contains("wrong password") => {
            Err(Error::invalid(
                "RESTIC_PASSWORD_FILE",
                format!(
                    "the password is wrong for the restic repository {} (check \
                     RESTIC_PASSWORD_FILE, RESTIC_PASSWORD or RESTIC_PASSWORD_COMMAND)",
                    s.repo_for_humans()
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn restic(s: &ResticSettings, mutating: bool) -> Result<Cmd> {
    require_tool(tools::RESTIC, &s.tool_root, "RESTIC")?;
    Ok(if mutating {
        Cmd::mutate(tools::RESTIC)
    } else {
        Cmd::probe(tools::RESTIC)
    })
}

/// Whether the repository exists (and the password opens it).
///
/// # Errors
/// restic missing, a wrong password, an unreachable backend.
pub fn repository_exists(runner: &dyn Runner, s: &ResticSettings) -> Result<bool> {
    let cmd = restic(s, false)?
        .args(["cat", "config", "--no-cache"])
        .describe("checking the restic repository");
    match run_restic(s, runner, cmd) {
        Ok(_) => Ok(true),
        Err(Error::Command(CommandError::Failed { stderr_tail, .. }))
            if stderr_tail.contains("Is there a repository at the following location") =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Creates the repository unless it exists; returns whether it was created.
///
/// # Errors
/// restic failing.
pub fn ensure_repository(runner: &dyn Runner, s: &ResticSettings) -> Result<bool> {
    if repository_exists(runner, s)? {
        return Ok(false);
    }
    let cmd = restic(s, true)?
        .args(["init", "--quiet"])
        .describe("creating the restic repository");
    run_restic(s, runner, cmd)?;
    Ok(true)
}

#[derive(serde::Deserialize)]
struct SnapshotJson {
    id: String,
    time: String,
}

/// Parses `restic snapshots --json` into (id, time) pairs, oldest first.
///
/// # Errors
/// Output that is not restic's JSON.
pub fn parse_snapshots(json: &[u8]) -> Result<Vec<(String, String)>> {
    let mut v: Vec<SnapshotJson> = serde_json::from_slice(json)
        .map_err(|e| Error::invalid("restic snapshots --json output", e.to_string()))?;
    // RFC 3339 times of one repository share the format, so they sort as text
    v.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(v.into_iter().map(|s| (s.id, s.time)).collect())
}

/// The snapshots rear made of this host, oldest first.
///
/// # Errors
/// restic failing.
pub fn list_snapshots(runner: &dyn Runner, s: &ResticSettings) -> Result<Vec<(String, String)>> {
    let cmd = restic(s, false)?
        .args(["snapshots", "--json", "--tag", TAG, "--host", &s.hostname])
        .describe("listing the restic snapshots");
    parse_snapshots(&run_restic(s, runner, cmd)?.stdout)
}

/// Backs up `sel` into a new snapshot and returns its ID.
///
/// # Errors
/// restic missing or failing; exit code 3 (some files could not be read) is a warning.
pub fn backup(runner: &dyn Runner, s: &ResticSettings, sel: &Selection) -> Result<String> {
    let program = require_tool(tools::RESTIC, &s.tool_root, "RESTIC")?;
    let mut cmd = in_dir(true, &sel.root, &program).args([
        "backup",
        "--json",
        "--tag",
        TAG,
        "--host",
        &s.hostname,
    ]);
    if sel.one_file_system {
        cmd = cmd.arg("--one-file-system");
    }
    for e in restic_excludes(sel) {
        cmd = cmd.arg("--exclude").arg(e);
    }
    cmd = cmd
        .args(relative_includes(sel))
        .allow_exit_codes(&[3])
        .describe("backing up with restic");
    let out = run_restic(s, runner, cmd)?;
    if out.simulated {
        return Ok("(dry run)".into());
    }
    if out.status == 3 {
        tracing::warn!(
            "restic could not read some files:\n{}",
            crate::cmd::tail_of(&out.stderr, 4096)
        );
    }
    parse_backup_summary(&out.stdout)
}

/// The snapshot ID from the `summary` line of `restic backup --json`.
///
/// # Errors
/// No summary line.
pub fn parse_backup_summary(stdout: &[u8]) -> Result<String> {
    for line in String::from_utf8_lossy(stdout).lines().rev() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
            && v.get("message_type").and_then(|m| m.as_str()) == Some("summary")
            && let Some(id) = v.get("snapshot_id").and_then(|i| i.as_str())
        {
            return Ok(id.to_string());
        }
    }
    Err(Error::invalid(
        "restic backup --json output",
        "has no summary line with the snapshot ID",
    ))
}

/// Restores `snapshot` (the newest of this host made by rear when `None`) into `dest` and
/// returns its ID.
///
/// # Errors
/// No snapshot, restic missing or failing.
pub fn restore(
    runner: &dyn Runner,
    s: &ResticSettings,
    snapshot: Option<&str>,
    dest: &Path,
) -> Result<String> {
    require_tool(tools::RESTIC, &s.tool_root, "RESTIC")?;
    let id = match snapshot {
        Some(id) => id.to_string(),
        None => list_snapshots(runner, s)?
            .pop()
            .map(|(id, _)| id)
            .ok_or_else(|| {
                Error::invalid(
                    format!("restic repository {}", s.repo_for_humans()),
                    format!(
                        "holds no snapshot of host {} tagged '{TAG}': check RESTIC_REPOSITORY \
                         or BACKUP_URL",
                        s.hostname
                    ),
                )
            })?,
    };
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io("creating restore destination", dest, e))?;
    let cmd = restic(s, true)?
        .args(["restore", &id, "--target"])
        .arg(dest)
        .describe(format!("restoring the restic snapshot {id}"));
    run_restic(s, runner, cmd)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    #[test]
    fn settings_from_config() {
        let mut c = Config::new();
        c.set(
            "RESTIC_PASSWORD_FILE",
            Value::Scalar("/etc/rear/restic.pw".into()),
        );
        c.set("AWS_SECRET_ACCESS_KEY", Value::Scalar("k".into()));
        c.set("BACKUP", Value::Scalar("RESTIC".into()));
        let s = ResticSettings::from_config(&c, "h", Some(Path::new("/mnt/t"))).unwrap();
        assert_eq!(s.repo, "/mnt/t/h/restic");
        assert_eq!(
            s.env,
            [
                ("AWS_SECRET_ACCESS_KEY".to_string(), "k".to_string()),
                ("RESTIC_PASSWORD_FILE".into(), "/etc/rear/restic.pw".into())
            ]
        );
        assert!(ResticSettings::from_config(&c, "h", None).is_err());
        c.set("RESTIC_REPOSITORY", Value::Scalar("sftp:u@nas:/r".into()));
        assert_eq!(
            ResticSettings::from_config(&c, "h", None).unwrap().repo,
            "sftp:u@nas:/r"
        );
        let mut c = Config::new();
        c.set("RESTIC_REPOSITORY", Value::Scalar("/r".into()));
        let e = ResticSettings::from_config(&c, "h", None).unwrap_err();
        assert!(e.to_string().contains("RESTIC_PASSWORD_FILE"), "{e}");
    }

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("rest:https://u:p@host:8000/r"),
            "rest:https://***@host:8000/r"
        );
        assert_eq!(redact_url("/srv/restic"), "/srv/restic");
    }

    #[test]
    fn excludes_are_absolute_on_this_host() {
        let mut sel = Selection::tree("/tmp/src");
        sel.default_excludes = true;
        sel.exclude = vec!["/var/cache/".into(), "*.iso".into()];
        sel.exclude_dirs = vec![PathBuf::from("/tmp/src/mnt/b[1]"), PathBuf::from("/other")];
        assert_eq!(
            restic_excludes(&sel),
            [
                "/tmp/src/var/cache",
                "*.iso",
                "/tmp/src/proc/*",
                "/tmp/src/sys/*",
                "/tmp/src/dev/*",
                "/tmp/src/run/*",
                "/tmp/src/tmp/*",
                "/tmp/src/mnt/b\\[1\\]",
            ]
        );
    }

    #[test]
    fn parses_restic_json() {
        let snaps = parse_snapshots(br#"[{"time":"2026-11-26T10:22:51.01Z","id":"b"},{"time":"2026-11-26T10:22:25.25Z","id":"a","paths":["/x"]}]"#).unwrap();
        assert_eq!(snaps[1].0, "b");
        let id = parse_backup_summary(
            b"{\"message_type\":\"status\",\"percent_done\":0}\n{\"message_type\":\"summary\",\"files_new\":3,\"snapshot_id\":\"c3c19d90e5\"}\n",
        )
        .unwrap();
        assert_eq!(id, "c3c19d90e5");
    }
}
