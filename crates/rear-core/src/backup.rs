//! The built-in backup (`BACKUP=NETFS`): archive format, targets, restore and verification.
//!
//! A backup is a tar stream in GNU tar's PAX format (see [`tar`]) compressed with zstd on all
//! cores (or gzip, or nothing), optionally encrypted with age, written with a manifest beside it
//! under `<target>/<hostname>/` (see [`store`] for the layout). Plain GNU tar can always restore
//! it: `tar --zstd --xattrs --acls --xattrs-include='*' --numeric-owner -xpf ARCHIVE -C /mnt/local`.
//!
//! - [`create_backup`] walks the selection ([`select`]) on one thread, reads files and builds tar
//!   members on several worker threads, and writes them in order through the compressor, whose
//!   own workers use all cores. Every queue is bounded, so memory stays bounded.
//! - [`restore_backup`] restores a backup and, for incremental and differential backups, the
//!   chain before it (deletions included), checking every file against the manifest.
//! - [`verify_backup`] reads a backup the same way without writing anything.
//!
//! The target directory is a plain local directory; [`target`] mounts NFS, CIFS, USB and sshfs
//! targets to get one. [`methods`] runs the RSYNC and EXTERNAL backup methods.

pub mod borg;
pub mod create;
pub mod crypt;
pub mod manifest;
pub mod meta;
pub mod methods;
pub mod queue;
pub mod restic;
pub mod restore;
pub mod select;
pub mod store;
pub mod stream;
pub mod tar;
pub mod target;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use create::create_backup;
pub use crypt::Encryption;
pub use restore::{restore_backup, verify_backup};
pub use select::Selection;
pub use store::BackupKind;
pub use stream::Compression;

/// What kind of backup to make (`BACKUP_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackupType {
    /// A full backup every time (`BACKUP_TYPE` empty).
    #[default]
    Full,
    /// Changes since the previous backup (`BACKUP_TYPE=incremental`).
    Incremental,
    /// Changes since the last full backup (`BACKUP_TYPE=differential`).
    Differential,
}

/// Everything [`create_backup`] needs.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The local directory of the target (a mounted NFS export, USB filesystem, ... or the path
    /// of a `file://` URL). Backups go to `<location>/<hostname>/`.
    pub location: PathBuf,
    /// The host name (`HOSTNAME`), the sub-directory on the target.
    pub hostname: String,
    /// What to back up.
    pub selection: Selection,
    /// How to compress.
    pub compression: Compression,
    /// Full, incremental or differential.
    pub backup_type: BackupType,
    /// Days on which an incremental or differential run makes a full backup instead
    /// (`FULLBACKUPDAY`, English day names or abbreviations such as `Mon`).
    pub full_backup_days: Vec<String>,
    /// Encryption, when `BACKUP_PROG_CRYPT_ENABLED` is true.
    pub encryption: Option<Encryption>,
    /// Worker threads for reading and for compression (0: all cores).
    pub threads: usize,
    /// Re-read the written archive and compare its checksum before committing it.
    pub verify: bool,
    /// How many backup chains (a full backup and what builds on it) to keep after a successful
    /// backup; `None` keeps all. ReaR replaces its single `backup.tar.gz`, which is `Some(1)`.
    pub keep_chains: Option<usize>,
    /// Set to stop the backup; it then fails and leaves the last good backup alone.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl BackupOptions {
    /// Options for a full, zstd-compressed, verified backup of `selection` to `location`.
    pub fn new(
        location: impl Into<PathBuf>,
        hostname: impl Into<String>,
        selection: Selection,
    ) -> Self {
        BackupOptions {
            location: location.into(),
            hostname: hostname.into(),
            selection,
            compression: Compression::default(),
            backup_type: BackupType::Full,
            full_backup_days: Vec::new(),
            encryption: None,
            threads: 0,
            verify: true,
            keep_chains: Some(1),
            cancel: None,
        }
    }
}

/// What a backup did.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The new backup's ID.
    pub id: String,
    /// Its kind (an incremental run may have made a full backup).
    pub kind: BackupKind,
    /// The archive file.
    pub archive: PathBuf,
    /// The manifest file.
    pub manifest: PathBuf,
    /// Paths in the selection.
    pub entries: u64,
    /// Entries stored in this archive.
    pub archived: u64,
    /// File content bytes read.
    pub bytes: u64,
    /// Size of the archive on the target.
    pub archive_size: u64,
    /// SHA-256 of the archive.
    pub archive_sha256: String,
    /// Files that could not be read, and other non-fatal problems.
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Everything [`restore_backup`] and [`verify_backup`] need.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The local directory of the target (as in [`BackupOptions::location`]).
    pub location: PathBuf,
    /// The host name whose backups to restore.
    pub hostname: String,
    /// Where to restore to (`/mnt/local` in the rescue system). Ignored by [`verify_backup`].
    pub destination: PathBuf,
    /// The backup to restore (its ID); the newest when `None`.
    pub backup_id: Option<String>,
    /// The key, for encrypted backups.
    pub encryption: Option<Encryption>,
    /// Restore owners (needs root; default: when running as root).
    pub set_owner: bool,
    /// Set to stop the restore.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl RestoreOptions {
    /// Options to restore the newest backup of `hostname` in `location` into `destination`.
    pub fn new(
        location: impl Into<PathBuf>,
        hostname: impl Into<String>,
        destination: impl Into<PathBuf>,
    ) -> Self {
        RestoreOptions {
            location: location.into(),
            hostname: hostname.into(),
            destination: destination.into(),
            backup_id: None,
            encryption: None,
            set_owner: rustix::process::geteuid().is_root(),
            cancel: None,
        }
    }
}

/// What a restore or verification did.
#[derive(Debug, Clone, Default)]
pub struct RestoreSummary {
    /// The backups applied, in order (full first).
    pub chain: Vec<String>,
    /// Entries restored (or checked).
    pub entries: u64,
    /// File content bytes restored (or checked).
    pub bytes: u64,
    /// Paths deleted because a later backup of the chain no longer had them.
    pub deleted: u64,
    /// Non-fatal problems (for example xattrs the destination filesystem does not support).
    pub warnings: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// The phase a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Archiving files.
    Backup,
    /// Re-reading the written archive.
    Verify,
    /// Restoring files.
    Restore,
}

/// A progress report: sent about twice a second and once at the end of a phase.
#[derive(Debug, Clone)]
pub struct Progress {
    /// What is going on.
    pub phase: Phase,
    /// Entries done.
    pub files: u64,
    /// Content bytes done.
    pub bytes: u64,
    /// Content bytes expected (an estimate for backups: the used space of the filesystems).
    pub total_bytes: Option<u64>,
    /// Time since the phase started.
    pub elapsed: Duration,
}

impl Progress {
    /// Bytes per second so far.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            #[allow(clippy::cast_precision_loss)]
            let b = self.bytes as f64;
            b / s
        } else {
            0.0
        }
    }

    /// Estimated time left, when the total is known.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.total_bytes?;
        let rate = self.rate();
        if rate <= 0.0 || total <= self.bytes {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let left = (total - self.bytes) as f64 / rate;
        Some(Duration::from_secs_f64(left.min(1e7)))
    }

    /// One line for the user: `Backup: 1200 files, 350 MiB, 120.5 MiB/s, ETA 0:42`.
    pub fn line(&self) -> String {
        let mib = |b: f64| b / (1024.0 * 1024.0);
        #[allow(clippy::cast_precision_loss)]
        let mut s = format!(
            "{:?}: {} files, {:.0} MiB, {:.1} MiB/s",
            self.phase,
            self.files,
            mib(self.bytes as f64),
            mib(self.rate())
        );
        if let Some(eta) = self.eta() {
            let t = eta.as_secs();
            s.push_str(&format!(", ETA {}:{:02}", t / 60, t % 60));
        }
        s
    }
}

/// A progress callback that forwards [`Progress::line`] to a [`crate::ui::Ui`].
pub fn ui_progress(ui: &dyn crate::ui::Ui) -> impl Fn(&Progress) + Sync + '_ {
    move |p: &Progress| ui.message(crate::ui::Level::Progress, &p.line())
}

fn cancelled(flag: Option<&Arc<AtomicBool>>) -> bool {
    flag.is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
}
