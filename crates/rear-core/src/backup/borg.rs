//! The `BACKUP=BORG` method: the selection archived with the real `borg` (BorgBackup 1.2).
//!
//! Contract:
//! - The configuration uses ReaR's names: `BORGBACKUP_HOST`, `BORGBACKUP_USERNAME`,
//!   `BORGBACKUP_PORT` and `BORGBACKUP_REPO` give `ssh://user@host:port/REPO`; without a host the
//!   repository is local: `BORGBACKUP_REPO` below the mounted `BACKUP_URL` target when one is set,
//!   else the path itself. `BORGBACKUP_ARCHIVE_PREFIX`, `BORGBACKUP_COMPRESSION`,
//!   `BORGBACKUP_ENC_TYPE` (used when the repository is created), `BORGBACKUP_REMOTE_PATH`,
//!   `BORGBACKUP_UMASK`, `BORGBACKUP_EXCLUDE_CACHES`, `BORGBACKUP_EXCLUDE_IF_NOBACKUP`,
//!   `BORGBACKUP_TIMESTAMP` and `BORGBACKUP_PRUNE_KEEP_*` mean what they mean in ReaR.
//! - Secrets never appear on a command line or in the log: the passphrase goes to borg in the
//!   environment (`BORG_PASSPHRASE` exported in `local.conf` as ReaR documents it, or
//!   `BORGBACKUP_PASSPHRASE`), or as a file read by `BORG_PASSCOMMAND`
//!   (`BORGBACKUP_PASSPHRASE_FILE`). Every other `BORG_*` variable of the configuration is passed
//!   on too. The command runner logs argument lists, never environments.
//! - Archives are named `<prefix>_<UTC time with microseconds>`; a restore takes the newest
//!   archive with the prefix. Paths in the archive are relative to the backed-up root (`etc/...`),
//!   because borg runs with the root as its working directory; `borg extract` runs in the
//!   destination. Borg 1.2 has no `-C` option, so both run through
//!   `bash -c 'cd -- DIR && exec borg ...'` (see [`in_dir`]).
//! - Excludes follow [`Selection`]: `BACKUP_PROG_EXCLUDE` globs become borg `sh:` patterns
//!   (anchored ones relative to the root, unanchored ones under `**/`), the default excludes too,
//!   and excluded directories (the backup target, `EXCLUDE_MOUNTPOINTS`) become `pp:` prefixes.
//!   Borg's `--one-file-system` replaces the walk's own rule; unlike the NETFS walk, borg does
//!   enter a network filesystem when it is itself an include path.

use std::path::{Path, PathBuf};

use super::select::{DEFAULT_EXCLUDES, Selection};
use crate::cmd::{Cmd, CommandError, Output, Runner, tools};
use crate::config::Config;
use crate::{Error, Result};

/// Everything the borg commands need.
#[derive(Debug, Clone)]
pub struct BorgSettings {
    /// The repository: a local path or `ssh://user@host:port/path`.
    pub repo: String,
    /// `BORGBACKUP_ARCHIVE_PREFIX` (default `rear`).
    pub archive_prefix: String,
    /// `BORGBACKUP_COMPRESSION` (`lz4`, `zstd,3`, ...; borg's default when empty).
    pub compression: String,
    /// `BORGBACKUP_ENC_TYPE` for `borg init` (`none`, `repokey`, `keyfile`, `repokey-blake2`, ...).
    pub encryption: String,
    /// `BORGBACKUP_REMOTE_PATH` (`--remote-path`).
    pub remote_path: String,
    /// `BORGBACKUP_UMASK` (`--umask`).
    pub umask: String,
    /// `BORGBACKUP_EXCLUDE_CACHES`.
    pub exclude_caches: bool,
    /// `BORGBACKUP_EXCLUDE_IF_NOBACKUP`.
    pub exclude_if_nobackup: bool,
    /// `BORGBACKUP_TIMESTAMP` (`--timestamp`).
    pub timestamp: String,
    /// `borg prune` options from `BORGBACKUP_PRUNE_KEEP_*` (no pruning when empty).
    pub prune: Vec<String>,
    /// Environment for borg: the passphrase and the other `BORG_*` variables. Never logged.
    pub env: Vec<(String, String)>,
    /// Where the borg program is looked up (`/` normally; tests use an empty root to check the
    /// error for a missing tool).
    pub tool_root: PathBuf,
}

impl BorgSettings {
    /// Settings for the repository `repo` with ReaR's defaults and no passphrase.
    pub fn new(repo: impl Into<String>) -> Self {
        BorgSettings {
            repo: repo.into(),
            archive_prefix: "rear".into(),
            compression: String::new(),
            encryption: "none".into(),
            remote_path: String::new(),
            umask: String::new(),
            exclude_caches: false,
            exclude_if_nobackup: false,
            timestamp: String::new(),
            prune: Vec::new(),
            env: Vec::new(),
            tool_root: PathBuf::from("/"),
        }
    }

    /// Sets the passphrase (given to borg as `BORG_PASSPHRASE`).
    #[must_use]
    pub fn passphrase(mut self, pass: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != "BORG_PASSPHRASE");
        self.env.push(("BORG_PASSPHRASE".into(), pass.into()));
        self
    }

    /// Reads the settings from the configuration. `local_base` is the mounted `BACKUP_URL`
    /// target, under which a local `BORGBACKUP_REPO` lies.
    ///
    /// # Errors
    /// No `BORGBACKUP_REPO`, or a prefix that is not alphanumeric (ReaR's rule: `_` separates
    /// the prefix from the time).
    pub fn from_config(config: &Config, local_base: Option<&Path>) -> Result<Self> {
        let get = |n: &str| config.string(n).trim().to_string();
        let repo_path = get("BORGBACKUP_REPO");
        if repo_path.is_empty() {
            return Err(Error::invalid(
                "BORGBACKUP_REPO",
                "is not set: BACKUP=BORG needs the path of the Borg repository",
            ));
        }
        let host = get("BORGBACKUP_HOST");
        let repo = if host.is_empty() {
            match local_base {
                Some(base) => base
                    .join(repo_path.trim_start_matches('/'))
                    .display()
                    .to_string(),
                None => repo_path,
            }
        } else {
            let user = get("BORGBACKUP_USERNAME");
            let port = match get("BORGBACKUP_PORT") {
                p if p.is_empty() => "22".to_string(),
                p => p,
            };
            let at = if user.is_empty() {
                String::new()
            } else {
                format!("{user}@")
            };
            let path = if repo_path.starts_with('/') {
                repo_path
            } else {
                format!("/{repo_path}")
            };
            format!("ssh://{at}{host}:{port}{path}")
        };
        let mut s = BorgSettings::new(repo);
        let prefix = get("BORGBACKUP_ARCHIVE_PREFIX");
        if !prefix.is_empty() {
            s.archive_prefix = prefix;
        }
        if !s.archive_prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "BORGBACKUP_ARCHIVE_PREFIX",
                format!(
                    "'{}' must be letters and digits only ('_' separates it from the time)",
                    s.archive_prefix
                ),
            ));
        }
        s.compression = get("BORGBACKUP_COMPRESSION");
        let enc = get("BORGBACKUP_ENC_TYPE");
        if !enc.is_empty() {
            s.encryption = enc;
        }
        s.remote_path = get("BORGBACKUP_REMOTE_PATH");
        s.umask = get("BORGBACKUP_UMASK");
        s.exclude_caches = config.is_true("BORGBACKUP_EXCLUDE_CACHES");
        s.exclude_if_nobackup = config.is_true("BORGBACKUP_EXCLUDE_IF_NOBACKUP");
        s.timestamp = get("BORGBACKUP_TIMESTAMP");
        for (var, opt) in [
            ("WITHIN", "--keep-within"),
            ("LAST", "--keep-last"),
            ("MINUTELY", "--keep-minutely"),
            ("HOURLY", "--keep-hourly"),
            ("DAILY", "--keep-daily"),
            ("WEEKLY", "--keep-weekly"),
            ("MONTHLY", "--keep-monthly"),
            ("YEARLY", "--keep-yearly"),
        ] {
            // the deprecated BORGBACKUP_PRUNE_<X> still counts, as in ReaR
            let mut v = get(&format!("BORGBACKUP_PRUNE_KEEP_{var}"));
            if v.is_empty() {
                v = get(&format!("BORGBACKUP_PRUNE_{var}"));
            }
            if !v.is_empty() {
                s.prune.push(opt.to_string());
                s.prune.push(v);
            }
        }
        // BORG_* variables of the configuration (ReaR: `export BORG_PASSPHRASE=...`).
        for (name, value) in config.iter() {
            if name.starts_with("BORG_") {
                s.env.push((name.clone(), value.as_scalar()));
            }
        }
        let pass = config.string("BORGBACKUP_PASSPHRASE");
        if !pass.is_empty() {
            s = s.passphrase(pass);
        }
        let file = get("BORGBACKUP_PASSPHRASE_FILE");
        if !file.is_empty() {
            s.env.retain(|(k, _)| k != "BORG_PASSCOMMAND");
            s.env.push((
                "BORG_PASSCOMMAND".into(),
                shell_words::join(["cat", "--", &file]),
            ));
        }
        Ok(s)
    }

    fn common_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if !self.remote_path.is_empty() {
            a.push("--remote-path".into());
            a.push(self.remote_path.clone());
        }
        if !self.umask.is_empty() {
            a.push("--umask".into());
            a.push(self.umask.clone());
        }
        a
    }

    fn env_for(&self, cmd: Cmd) -> Cmd {
        // The mount point of the target and the rescue system's empty security directory make
        // borg ask whether a "relocated" or "unknown unencrypted" repository is fine; stdin is
        // /dev/null, so it would abort. The admin configured this repository: it is fine.
        let mut cmd = cmd
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_DISPLAY_PASSPHRASE", "no");
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        cmd
    }
}

/// A tool's path, or an error that names the Debian package to install.
///
/// # Errors
/// The program is not installed under `root`.
pub fn require_tool(tool: tools::Tool, root: &Path, method: &str) -> Result<PathBuf> {
    tool.resolve_in(root).ok_or_else(|| {
        Error::invalid(
            format!("BACKUP={method}"),
            format!(
                "needs the program '{}', which is not installed (Debian: apt-get install {})",
                tool.program(),
                tool.package()
            ),
        )
    })
}

/// A command that runs `program` (an absolute path) with `dir` as its working directory:
/// `bash -c 'cd -- "$1" && shift && exec "$@"' rear-in-dir DIR PROGRAM ARGS...`.
pub fn in_dir(mutating: bool, dir: &Path, program: &Path) -> Cmd {
    let cmd = if mutating {
        Cmd::mutate(tools::BASH)
    } else {
        Cmd::probe(tools::BASH)
    };
    cmd.args([
        "-c",
        "cd -- \"$1\" || exit 125; shift; exec \"$@\"",
        "rear-in-dir",
    ])
    .arg(dir)
    .arg(program)
}

/// The include arguments for a tool run in the root: `.` for `/`, else the relative path.
pub fn relative_includes(sel: &Selection) -> Vec<PathBuf> {
    sel.include
        .iter()
        .map(|i| {
            let rel = i.strip_prefix("/").unwrap_or(i);
            if rel.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                rel.to_path_buf()
            }
        })
        .collect()
}

/// The borg exclude patterns for `sel` (archive paths are relative to the root).
pub fn borg_excludes(sel: &Selection) -> Vec<String> {
    let mut out = Vec::new();
    let defaults: &[&str] = if sel.default_excludes {
        DEFAULT_EXCLUDES
    } else {
        &[]
    };
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
        match p.strip_prefix('/') {
            Some(anchored) => out.push(format!("sh:{anchored}")),
            None => out.push(format!("sh:**/{p}")),
        }
    }
    for d in &sel.exclude_dirs {
        if let Ok(rel) = d.strip_prefix(&sel.root)
            && !rel.as_os_str().is_empty()
        {
            out.push(format!("pp:{}", rel.display()));
        }
    }
    out
}

/// Runs a borg command, turning the failures users meet into errors that say what to do.
fn run_borg(s: &BorgSettings, runner: &dyn Runner, cmd: Cmd) -> Result<Output> {
    match s.env_for(cmd).run(runner) {
        Ok(o) => Ok(o),
        Err(CommandError::Failed { stderr_tail, .. })
            if stderr_tail.contains("is incorrect")
                || stderr_tail.contains("passphrase supplied") =>
        {
            Err(Error::invalid(
                "BORG_PASSPHRASE",
                format!(
                    "the passphrase is wrong for the Borg repository {} (set BORG_PASSPHRASE, \
                     BORGBACKUP_PASSPHRASE or BORGBACKUP_PASSPHRASE_FILE to the repository's \
                     passphrase)",
                    s.repo
                ),
            ))
        }
        Err(CommandError::Failed { stderr_tail, .. })
            if stderr_tail.contains("passphrase") && stderr_tail.contains("Enter") =>
        {
            Err(Error::invalid(
                "BORG_PASSPHRASE",
                format!(
                    "the Borg repository {} is encrypted and no passphrase is set (set \
                     BORG_PASSPHRASE, BORGBACKUP_PASSPHRASE or BORGBACKUP_PASSPHRASE_FILE)",
                    s.repo
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn borg(s: &BorgSettings, mutating: bool) -> Result<Cmd> {
    // Cmd resolves registry tools from the fixed directories; `tool_root` only decides whether
    // borg counts as installed (tests point it at an empty directory).
    require_tool(tools::BORG, &s.tool_root, "BORG")?;
    Ok(if mutating {
        Cmd::mutate(tools::BORG)
    } else {
        Cmd::probe(tools::BORG)
    })
}

/// Whether the repository exists (and the passphrase opens it).
///
/// # Errors
/// Borg missing, a wrong passphrase, an unreachable host.
pub fn repository_exists(runner: &dyn Runner, s: &BorgSettings) -> Result<bool> {
    let cmd = borg(s, false)?
        .arg("info")
        .args(s.common_args())
        .arg(&s.repo)
        .describe("checking the Borg repository");
    match run_borg(s, runner, cmd) {
        Ok(_) => Ok(true),
        Err(Error::Command(CommandError::Failed { stderr_tail, .. }))
            if stderr_tail.contains("does not exist") =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Creates the repository with `BORGBACKUP_ENC_TYPE` unless it exists. Returns whether it was
/// created.
///
/// # Errors
/// Borg failing.
pub fn ensure_repository(runner: &dyn Runner, s: &BorgSettings) -> Result<bool> {
    if repository_exists(runner, s)? {
        return Ok(false);
    }
    let cmd = borg(s, true)?
        .arg("init")
        .args(["--encryption", &s.encryption])
        .args(s.common_args())
        .arg("--make-parent-dirs")
        .arg(&s.repo)
        .describe("creating the Borg repository");
    run_borg(s, runner, cmd)?;
    Ok(true)
}

/// Archives `sel` into a new archive and returns its name; prunes afterwards when
/// `BORGBACKUP_PRUNE_KEEP_*` is set.
///
/// # Errors
/// Borg missing or failing (exit code 1, "warning", counts as success, as in ReaR).
pub fn create(runner: &dyn Runner, s: &BorgSettings, sel: &Selection) -> Result<String> {
    let program = require_tool(tools::BORG, &s.tool_root, "BORG")?;
    let archive = format!("{}_{}", s.archive_prefix, utc_stamp());
    let mut cmd = in_dir(true, &sel.root, &program)
        .arg("create")
        .args(s.common_args());
    if sel.one_file_system {
        cmd = cmd.arg("--one-file-system");
    }
    if !s.compression.is_empty() {
        cmd = cmd.args(["--compression", &s.compression]);
    }
    if s.exclude_caches {
        cmd = cmd.arg("--exclude-caches");
    }
    if s.exclude_if_nobackup {
        cmd = cmd.args(["--exclude-if-present", ".nobackup"]);
    }
    if !s.timestamp.is_empty() {
        cmd = cmd.args(["--timestamp", &s.timestamp]);
    }
    for e in borg_excludes(sel) {
        cmd = cmd.arg("--exclude").arg(e);
    }
    cmd = cmd
        .arg(format!("{}::{archive}", s.repo))
        .args(relative_includes(sel))
        .allow_exit_codes(&[1])
        .describe("creating the Borg archive");
    let out = run_borg(s, runner, cmd)?;
    if out.status == 1 {
        tracing::warn!(
            "borg create finished with warnings:\n{}",
            crate::cmd::tail_of(&out.stderr, 4096)
        );
    }
    if !s.prune.is_empty() {
        let cmd = borg(s, true)?
            .arg("prune")
            .args(s.common_args())
            .args(&s.prune)
            .args(["--glob-archives", &format!("{}_*", s.archive_prefix)])
            .arg(&s.repo)
            .describe("pruning old Borg archives");
        run_borg(s, runner, cmd)?;
    }
    Ok(archive)
}

/// The current UTC time with microseconds, `2026-11-26T10:22:17.123456`: archive names sort by it.
pub fn utc_stamp() -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_else(|_| "0".into())
}

#[derive(serde::Deserialize)]
struct ListJson {
    archives: Vec<ArchiveJson>,
}

#[derive(serde::Deserialize)]
struct ArchiveJson {
    name: String,
}

/// Parses `borg list --json` output into archive names (oldest first, as borg lists them).
///
/// # Errors
/// Output that is not borg's JSON.
pub fn parse_list(json: &[u8]) -> Result<Vec<String>> {
    let l: ListJson = serde_json::from_slice(json)
        .map_err(|e| Error::invalid("borg list --json output", e.to_string()))?;
    Ok(l.archives.into_iter().map(|a| a.name).collect())
}

/// The archives with the prefix, oldest first.
///
/// # Errors
/// Borg failing.
pub fn list_archives(runner: &dyn Runner, s: &BorgSettings) -> Result<Vec<String>> {
    let cmd = borg(s, false)?
        .args(["list", "--json"])
        .args(s.common_args())
        .args(["--glob-archives", &format!("{}_*", s.archive_prefix)])
        .arg(&s.repo)
        .describe("listing the Borg archives");
    parse_list(&run_borg(s, runner, cmd)?.stdout)
}

/// Restores `archive` (the newest with the prefix when `None`) into `dest` and returns its name.
///
/// # Errors
/// No archive, borg missing or failing.
pub fn restore(
    runner: &dyn Runner,
    s: &BorgSettings,
    archive: Option<&str>,
    dest: &Path,
) -> Result<String> {
    let program = require_tool(tools::BORG, &s.tool_root, "BORG")?;
    let name = match archive {
        Some(a) => a.to_string(),
        None => list_archives(runner, s)?.pop().ok_or_else(|| {
            Error::invalid(
                format!("Borg repository {}", s.repo),
                format!(
                    "holds no archive named {}_*: check BORGBACKUP_REPO and \
                     BORGBACKUP_ARCHIVE_PREFIX",
                    s.archive_prefix
                ),
            )
        })?,
    };
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io("creating restore destination", dest, e))?;
    let cmd = in_dir(true, dest, &program)
        .args(["extract", "--sparse"])
        .args(s.common_args())
        .arg(format!("{}::{name}", s.repo))
        .describe(format!("restoring the Borg archive {name}"));
    run_borg(s, runner, cmd)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Value};

    #[test]
    fn repo_from_rear_variables() {
        let mut c = Config::new();
        c.set("BORGBACKUP_HOST", Value::Scalar("nas".into()));
        c.set("BORGBACKUP_USERNAME", Value::Scalar("borg".into()));
        c.set("BORGBACKUP_REPO", Value::Scalar("/srv/borg/h".into()));
        c.set("BORGBACKUP_PORT", Value::Scalar("2222".into()));
        c.set("BORG_PASSPHRASE", Value::Scalar("s3cret".into()));
        c.set("BORGBACKUP_PRUNE_KEEP_LAST", Value::Scalar("3".into()));
        let s = BorgSettings::from_config(&c, None).unwrap();
        assert_eq!(s.repo, "ssh://borg@nas:2222/srv/borg/h");
        assert_eq!(s.prune, ["--keep-last", "3"]);
        assert!(
            s.env
                .contains(&("BORG_PASSPHRASE".to_string(), "s3cret".to_string()))
        );

        let mut c = Config::new();
        c.set("BORGBACKUP_REPO", Value::Scalar("/borg/h".into()));
        c.set(
            "BORGBACKUP_PASSPHRASE_FILE",
            Value::Scalar("/etc/a b".into()),
        );
        let s = BorgSettings::from_config(&c, Some(Path::new("/mnt/t"))).unwrap();
        assert_eq!(s.repo, "/mnt/t/borg/h");
        assert!(
            s.env
                .contains(&("BORG_PASSCOMMAND".into(), "cat -- '/etc/a b'".into()))
        );

        c.set("BORGBACKUP_ARCHIVE_PREFIX", Value::Scalar("re_ar".into()));
        assert!(BorgSettings::from_config(&c, None).is_err());
        assert!(BorgSettings::from_config(&Config::new(), None).is_err());
    }

    #[test]
    fn excludes_become_borg_patterns() {
        let mut sel = Selection::tree("/");
        sel.default_excludes = true;
        sel.exclude = vec!["/home/*/.cache/".into(), "*.iso".into()];
        sel.exclude_dirs = vec![PathBuf::from("/mnt/backup"), PathBuf::from("/elsewhere")];
        let p = borg_excludes(&sel);
        assert_eq!(
            p,
            [
                "sh:home/*/.cache",
                "sh:**/*.iso",
                "sh:proc/*",
                "sh:sys/*",
                "sh:dev/*",
                "sh:run/*",
                "sh:tmp/*",
                "pp:mnt/backup",
                "pp:elsewhere",
            ]
        );
        assert_eq!(relative_includes(&sel), [PathBuf::from(".")]);
    }

    #[test]
    fn parses_borg_list_json() {
        let names = parse_list(
            br#"{"archives":[{"archive":"rear_1","barchive":"rear_1","id":"ab","name":"rear_1","start":"2026-11-26T10:22:17.000000","time":"2026-11-26T10:22:17.000000"},{"name":"rear_2"}],"encryption":{"mode":"repokey"}}"#,
        )
        .unwrap();
        assert_eq!(names, ["rear_1", "rear_2"]);
    }
}
