//! The system inventory (what cfg2html did for ReaR users): hardware, OS, packages, services,
//! network, users, scheduled jobs, mounts, sysctl settings and time sync, as structured data.
//!
//! Contract:
//! - [`collect`] gathers every section independently. A command gets the section timeout, so a
//!   tool that hangs costs its section and nothing else.
//! - A section that needs a missing tool is [`Section::Unavailable`], one whose tool failed or
//!   timed out is [`Section::Failed`] or [`Section::TimedOut`]: never an empty list that would
//!   look like "no packages".
//! - Files are read below [`InventoryOptions::root`], so tests and chroots can use a tree.
//! - No secrets: password hashes (`/etc/shadow`) are never read.
//! - [`save`] writes `inventory.json` and a readable `inventory.html` into the recovery directory.

mod collect;
mod html;
pub mod parse;

pub use collect::collect;
pub use html::to_html;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cmd::CommandError;
use crate::{Error, Result};

/// The format version of `inventory.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// What to collect from where.
#[derive(Debug, Clone)]
pub struct InventoryOptions {
    /// The root of the system (`/`).
    pub root: PathBuf,
    /// Longest time one command of a section may take.
    pub section_timeout: Duration,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        InventoryOptions {
            root: PathBuf::from("/"),
            section_timeout: Duration::from_secs(30),
        }
    }
}

/// One section's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Section<T> {
    /// Collected.
    Ok {
        /// The data.
        data: T,
    },
    /// A tool it needs is not installed (or the data does not exist on this system).
    Unavailable {
        /// Which tool or file is missing.
        reason: String,
    },
    /// A tool failed.
    Failed {
        /// The error.
        error: String,
    },
    /// A tool hung and was killed.
    TimedOut {
        /// The command that hung.
        command: String,
        /// After how many seconds.
        after_secs: u64,
    },
}

impl<T> Section<T> {
    /// The data, when collected.
    pub fn data(&self) -> Option<&T> {
        match self {
            Section::Ok { data } => Some(data),
            _ => None,
        }
    }
}

impl<T> From<CommandError> for Section<T> {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::NotFound { program, .. } => Section::Unavailable {
                reason: format!("'{program}' is not installed"),
            },
            CommandError::TimedOut { cmd, after } => Section::TimedOut {
                command: cmd,
                after_secs: after.as_secs(),
            },
            other => Section::Failed {
                error: other.to_string(),
            },
        }
    }
}

/// The whole inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When it was collected (RFC 3339).
    pub collected_at: String,
    /// The short host name.
    pub hostname: String,
    /// CPU, memory, DMI, disks, NICs.
    pub hardware: Section<parse::Hardware>,
    /// Distribution, kernel, command line, modules, boot loader config, libc.
    pub os: Section<parse::Os>,
    /// Installed packages with versions.
    pub packages: Section<Vec<parse::Package>>,
    /// Enabled systemd services.
    pub services: Section<Vec<parse::UnitFile>>,
    /// Interfaces, addresses, routes, DNS, hosts, firewall, ssh config.
    pub network: Section<parse::Network>,
    /// Users and groups (no password hashes).
    pub users: Section<parse::Users>,
    /// Cron tables and enabled systemd timers.
    pub scheduled: Section<parse::Scheduled>,
    /// Mounted filesystems (findmnt).
    pub mounts: Section<serde_json::Value>,
    /// Kernel parameters set in sysctl configuration files, with their current values.
    pub sysctl: Section<Vec<parse::Sysctl>>,
    /// Time synchronisation.
    pub time_sync: Section<parse::TimeSync>,
}

/// File names in the recovery directory.
pub const JSON_FILE: &str = "inventory.json";
/// See [`JSON_FILE`].
pub const HTML_FILE: &str = "inventory.html";

/// Writes `inventory.json` and `inventory.html` into `dir`, each under a temporary name first.
///
/// # Errors
/// When `dir` cannot be created or written.
pub fn save(inv: &Inventory, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let json = serde_json::to_string_pretty(inv)
        .map_err(|e| Error::invalid("inventory", e.to_string()))?;
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("writing", &path, e))?;
        Ok(path)
    };
    Ok((write(JSON_FILE, &json)?, write(HTML_FILE, &to_html(inv))?))
}
