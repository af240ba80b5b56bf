//! Wrap up a recovery: keep the evidence in the recovered system and run the user's hook.
//!
//! Copies the recovery log and the layout directory into `TARGET/var/log/rear/recover/`
//! (ReaR keeps them there too, so the first boot shows how the system was recreated), then runs
//! `POST_RECOVERY_SCRIPT` (each array element a bash command line, run with `bash -c` in the
//! rescue system, as ReaR does) through the command runner.

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::{Error, Result};

/// Where in the target the evidence goes.
pub const RECOVER_LOG_DIR: &str = "var/log/rear/recover";

/// Inputs of [`wrapup`].
#[derive(Debug, Clone, Default)]
pub struct WrapupOptions {
    /// The target root (`/mnt/local`).
    pub target: PathBuf,
    /// The recovery log file, if any.
    pub log: Option<PathBuf>,
    /// The layout directory (`/var/lib/rear/layout`), copied recursively, if any.
    pub layout_dir: Option<PathBuf>,
    /// `POST_RECOVERY_SCRIPT`: bash command lines, run in order.
    pub post_recovery_script: Vec<String>,
}

/// What [`wrapup`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WrapupReport {
    /// Files copied into the target (paths on the rescue system).
    pub copied: Vec<PathBuf>,
    /// Commands of POST_RECOVERY_SCRIPT that ran.
    pub scripts_run: usize,
}

fn copy_tree(src: &Path, dst: &Path, copied: &mut Vec<PathBuf>) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io("creating directory", dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| Error::io("reading directory", src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading directory", src, e))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry
            .file_type()
            .map_err(|e| Error::io("reading", &from, e))?;
        if ft.is_dir() {
            copy_tree(&from, &to, copied)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to).map_err(|e| Error::io("copying", &from, e))?;
            copied.push(to);
        }
        // Symlinks and special files in the layout dir are not evidence; skipped.
    }
    Ok(())
}

/// Copies the log and layout into the target, then runs POST_RECOVERY_SCRIPT. In a dry run
/// (`dry_run`) nothing is copied and the scripts are only recorded by the runner.
pub fn wrapup(opts: &WrapupOptions, runner: &dyn Runner, dry_run: bool) -> Result<WrapupReport> {
    let mut report = WrapupReport::default();
    let dest = opts.target.join(RECOVER_LOG_DIR);
    if !dry_run {
        std::fs::create_dir_all(&dest).map_err(|e| Error::io("creating directory", &dest, e))?;
        if let Some(log) = &opts.log {
            let name = log
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| "rear-recover.log".into());
            let to = dest.join(name);
            std::fs::copy(log, &to).map_err(|e| Error::io("copying the recovery log", log, e))?;
            report.copied.push(to);
        }
        if let Some(dir) = &opts.layout_dir {
            copy_tree(dir, &dest.join("layout"), &mut report.copied)?;
        }
    }
    for script in &opts.post_recovery_script {
        Cmd::mutate(tools::BASH)
            .arg("-c")
            .arg(script)
            .env("TARGET_FS_ROOT", &opts.target)
            .describe("running POST_RECOVERY_SCRIPT")
            .run(runner)?;
        report.scripts_run += 1;
    }
    Ok(report)
}
