//! The `BACKUP=EXTERNAL` and `BACKUP=RSYNC` methods.
//!
//! EXTERNAL runs the user's `EXTERNAL_BACKUP`, `EXTERNAL_RESTORE` and `EXTERNAL_CHECK` command
//! strings with `bash -c` through the command runner (exit codes listed in
//! `EXTERNAL_IGNORE_ERRORS` count as success). RSYNC copies the selection with the real rsync,
//! keeping ACLs, xattrs, hard links and sparse files, to `rsync://[user@]host[:port]/path` (over
//! ssh) or `rsync://[user@]host[:port]::/module/path` (an rsync daemon), under `<hostname>/backup`.

use std::path::{Path, PathBuf};

use super::select::Selection;

use crate::cmd::{Cmd, Runner, tools};
use crate::{Error, Result};

/// Which EXTERNAL command to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalStep {
    /// `EXTERNAL_CHECK` (read-only: runs in dry runs too).
    Check,
    /// `EXTERNAL_BACKUP`.
    Backup,
    /// `EXTERNAL_RESTORE`.
    Restore,
}

/// Runs one EXTERNAL command string with `bash -c`. Empty commands are an error naming the
/// variable to set.
///
/// # Errors
/// An empty command, or the command failing with an exit code not in `ignore_codes`.
pub fn run_external(
    runner: &dyn Runner,
    step: ExternalStep,
    command: &str,
    ignore_codes: &[i32],
) -> Result<String> {
    let var = match step {
        ExternalStep::Check => "EXTERNAL_CHECK",
        ExternalStep::Backup => "EXTERNAL_BACKUP",
        ExternalStep::Restore => "EXTERNAL_RESTORE",
    };
    if command.trim().is_empty() {
        return Err(Error::invalid(
            var,
            "is empty: set it to the command of your backup software",
        ));
    }
    let cmd = match step {
        ExternalStep::Check => Cmd::probe(tools::BASH),
        _ => Cmd::mutate(tools::BASH),
    };
    Ok(cmd
        .args(["-c", command])
        .allow_exit_codes(ignore_codes)
        .describe(format!("running {var}"))
        .output_string(runner)?)
}

/// Where an rsync backup goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsyncTarget {
    /// The rsync destination argument, e.g. `user@host:/path` or `rsync://host:873/module/path`.
    pub dest: String,
    /// Whether the transport is ssh (`-e ssh`).
    pub ssh: bool,
}

impl RsyncTarget {
    /// Parses `BACKUP_URL=rsync://...` and appends `<hostname>/backup`.
    ///
    /// # Errors
    /// A URL that is not `rsync://`.
    pub fn parse(url: &str, hostname: &str) -> Result<Self> {
        let rest = url.strip_prefix("rsync://").ok_or_else(|| {
            Error::invalid(
                format!("BACKUP_URL={url}"),
                "BACKUP=RSYNC needs an rsync:// URL",
            )
        })?;
        if let Some((host, path)) = rest.split_once("::") {
            let path = path.trim_start_matches('/').trim_end_matches('/');
            return Ok(RsyncTarget {
                dest: format!("rsync://{host}/{path}/{hostname}/backup/"),
                ssh: false,
            });
        }
        let (hostport, path) = rest.split_once('/').ok_or_else(|| {
            Error::invalid(format!("BACKUP_URL={url}"), "needs a host and a path")
        })?;
        let host = hostport.split(':').next().unwrap_or(hostport);
        let path = path.trim_end_matches('/');
        Ok(RsyncTarget {
            dest: format!("{host}:/{path}/{hostname}/backup/"),
            ssh: true,
        })
    }
}

/// The rsync options: ReaR's `BACKUP_RSYNC_OPTIONS` plus ACLs, xattrs and devices.
const RSYNC_OPTS: &[&str] = &[
    "--archive",
    "--hard-links",
    "--acls",
    "--xattrs",
    "--sparse",
    "--numeric-ids",
    "--relative",
    "--one-file-system",
    "--delete",
    "--delete-excluded",
    "--mkpath",
];

/// The rsync command that backs up `include` (absolute paths of the backed-up system, found under
/// `root`, normally `/`) to `target`, leaving out `exclude` patterns (anchored at `/`).
pub fn rsync_backup_command(
    target: &RsyncTarget,
    root: &Path,
    include: &[PathBuf],
    exclude: &[String],
) -> Cmd {
    let mut cmd = Cmd::mutate(tools::RSYNC).args(RSYNC_OPTS);
    if target.ssh {
        cmd = cmd.args(["-e", "ssh"]);
    }
    for e in exclude {
        cmd = cmd.arg(format!("--exclude={e}"));
    }
    for i in include {
        // "<root>/./<path>": --relative keeps what follows "/./"
        let rel = i.strip_prefix("/").unwrap_or(i);
        let mut src = root.join(".").join(rel).into_os_string();
        if rel.as_os_str().is_empty() {
            src.push("/");
        }
        cmd = cmd.arg(src);
    }
    // rsync exit code 24: files vanished during the transfer (ReaR accepts it too)
    cmd.arg(&target.dest)
        .allow_exit_codes(&[24])
        .describe("copying the backup with rsync")
}

/// The rsync command that restores from `target` into `destination`.
pub fn rsync_restore_command(target: &RsyncTarget, destination: &Path) -> Cmd {
    let mut cmd = Cmd::mutate(tools::RSYNC).args([
        "--archive",
        "--hard-links",
        "--acls",
        "--xattrs",
        "--sparse",
        "--numeric-ids",
    ]);
    if target.ssh {
        cmd = cmd.args(["-e", "ssh"]);
    }
    let mut dst = destination.as_os_str().to_os_string();
    dst.push("/");
    cmd.arg(&target.dest)
        .arg(dst)
        .describe("restoring the backup with rsync")
}

/// Runs an rsync backup of `sel` to `target`.
///
/// # Errors
/// When rsync fails.
pub fn rsync_backup(runner: &dyn Runner, target: &RsyncTarget, sel: &Selection) -> Result<()> {
    let mut exclude = sel.exclude.clone();
    if sel.default_excludes {
        exclude.extend(
            super::select::DEFAULT_EXCLUDES
                .iter()
                .map(|s| (*s).to_string()),
        );
    }
    rsync_backup_command(target, &sel.root, &sel.include, &exclude).run(runner)?;
    Ok(())
}

/// Restores an rsync backup from `target` into `destination`.
///
/// # Errors
/// When rsync fails.
pub fn rsync_restore(runner: &dyn Runner, target: &RsyncTarget, destination: &Path) -> Result<()> {
    std::fs::create_dir_all(destination)
        .map_err(|e| Error::io("creating restore destination", destination, e))?;
    rsync_restore_command(target, destination).run(runner)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_urls() {
        assert_eq!(
            RsyncTarget::parse("rsync://root@nas/srv/rear", "h").unwrap(),
            RsyncTarget {
                dest: "root@nas:/srv/rear/h/backup/".into(),
                ssh: true
            }
        );
        assert_eq!(
            RsyncTarget::parse("rsync://nas::/mod/sub", "h").unwrap(),
            RsyncTarget {
                dest: "rsync://nas/mod/sub/h/backup/".into(),
                ssh: false
            }
        );
        assert!(RsyncTarget::parse("nfs://x/y", "h").is_err());
    }

    #[test]
    fn external_runs_through_bash_and_honours_ignored_codes() {
        let runner = crate::cmd::SystemRunner::new();
        let out = run_external(&runner, ExternalStep::Check, "echo ok; exit 0", &[]).unwrap();
        assert_eq!(out.trim(), "ok");
        assert!(run_external(&runner, ExternalStep::Backup, "exit 3", &[]).is_err());
        assert!(run_external(&runner, ExternalStep::Backup, "exit 3", &[3]).is_ok());
        assert!(run_external(&runner, ExternalStep::Restore, "  ", &[]).is_err());
    }
}
