//! The layout of backups on a target directory, and how a backup is committed.
//!
//! ```text
//! <target>/<hostname>/
//!     20261126-061500-F.tar.zst[.age]        archive of a full backup
//!     20261126-061500-F.manifest[.age]       its manifest (written last: its presence commits the backup)
//!     20261127-061500-I.tar.zst  + .manifest incremental, relative to the backup named in its manifest
//!     20261128-061500-D.tar.zst  + .manifest differential, relative to the last full backup
//!     .20261129-061500-F.tar.zst.partial     a backup being written (or left by a crash)
//! ```
//! A backup is written under a `.…partial` name, verified, then renamed: archive first, manifest
//! second. A backup without its manifest is not committed: listing ignores it and the next backup
//! removes it, so an interrupted or failed run never replaces the last good backup.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The kind of a stored backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// Everything.
    Full,
    /// Changes since the previous backup of the chain.
    Incremental,
    /// Changes since the last full backup.
    Differential,
}

impl BackupKind {
    /// The letter in file names.
    pub fn letter(self) -> char {
        match self {
            BackupKind::Full => 'F',
            BackupKind::Incremental => 'I',
            BackupKind::Differential => 'D',
        }
    }

    /// The word in manifests.
    pub fn word(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Incremental => "incremental",
            BackupKind::Differential => "differential",
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        match c {
            'F' => Some(BackupKind::Full),
            'I' => Some(BackupKind::Incremental),
            'D' => Some(BackupKind::Differential),
            _ => None,
        }
    }
}

/// A committed backup found on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its ID, `YYYYMMDD-HHMMSS-K`.
    pub id: String,
    /// Its kind.
    pub kind: BackupKind,
    /// The archive file.
    pub archive: PathBuf,
    /// The manifest file.
    pub manifest: PathBuf,
    /// Whether both are age-encrypted.
    pub encrypted: bool,
}

/// `<target>/<hostname>`.
pub fn host_dir(target: &Path, hostname: &str) -> PathBuf {
    target.join(hostname)
}

/// The committed backups in `dir`, oldest first.
///
/// # Errors
/// When the directory cannot be read (a missing directory is an empty list).
pub fn list(dir: &Path) -> Result<Vec<Stored>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing backups in", dir, e)),
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io("listing backups in", dir, e))?;
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    let mut out = Vec::new();
    for n in &names {
        let (stem, encrypted) = if let Some(s) = n.strip_suffix(".manifest.age") {
            (s, true)
        } else if let Some(s) = n.strip_suffix(".manifest") {
            (s, false)
        } else {
            continue;
        };
        if n.starts_with('.') {
            continue;
        }
        let Some(kind) = stem.chars().last().and_then(BackupKind::from_letter) else {
            continue;
        };
        let archive = names.iter().find(|a| {
            a.starts_with(&format!("{stem}.tar")) && !a.ends_with(".partial") && {
                let rest = &a[stem.len()..];
                [".tar.zst", ".tar.gz", ".tar"]
                    .iter()
                    .any(|s| rest == *s || rest == format!("{s}.age"))
            }
        });
        let Some(archive) = archive else {
            tracing::warn!(
                "backup {stem} in {} has a manifest but no archive",
                dir.display()
            );
            continue;
        };
        out.push(Stored {
            id: stem.to_string(),
            kind,
            archive: dir.join(archive),
            manifest: dir.join(n),
            encrypted,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Removes what interrupted runs left in `dir`: `.…partial` files and archives without a
/// manifest. Returns the removed names.
///
/// # Errors
/// When the directory cannot be read or a file not removed.
pub fn clean_leftovers(dir: &Path) -> Result<Vec<String>> {
    let committed = list(dir)?;
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(removed);
    };
    for e in rd.flatten() {
        let Some(n) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let partial = n.starts_with('.') && n.ends_with(".partial");
        let orphan = n.contains(".tar")
            && !n.starts_with('.')
            && !committed.iter().any(|s| s.archive == e.path());
        if partial || orphan {
            std::fs::remove_file(e.path()).map_err(|err| Error::io("removing", e.path(), err))?;
            tracing::info!(
                "removed leftover of an interrupted backup: {}",
                e.path().display()
            );
            removed.push(n);
        }
    }
    Ok(removed)
}

/// Renames a finished partial file into place and syncs the directory.
///
/// # Errors
/// When renaming fails.
pub fn commit(partial: &Path, final_path: &Path) -> Result<()> {
    std::fs::rename(partial, final_path)
        .map_err(|e| Error::io("renaming into place", final_path, e))?;
    if let Some(dir) = final_path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
