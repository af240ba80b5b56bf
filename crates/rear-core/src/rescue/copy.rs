//! Copying host files into the rescue tree ("stage") with the host's symlink structure.
//!
//! Contract: [`Stage::copy_path`] copies `/some/path` of the host to `STAGE/some/path` such that
//! the same path works inside the rescue system. Every symlink met on the way (a merged-/usr
//! `/lib → usr/lib`, `/sbin/modprobe → /bin/kmod`, `/etc/alternatives/...`) is recreated verbatim
//! in the stage and its target copied too. Files are only ever written to the stage path of the
//! host's canonical path, which has no symlink components on the host and therefore none in the
//! stage: an absolute symlink in the stage is never followed on the host, so nothing is written
//! outside the stage.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// A rescue tree under construction.
#[derive(Debug)]
pub struct Stage {
    root: PathBuf,
    done: BTreeSet<PathBuf>,
    bytes: u64,
}

/// Joins an absolute path below `root` (`/usr/bin` → `ROOT/usr/bin`).
pub fn under(root: &Path, abs: &Path) -> PathBuf {
    let rel: PathBuf = abs
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    root.join(rel)
}

impl Stage {
    /// A stage rooted at `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| Error::io("creating directory", root, e))?;
        Ok(Stage {
            root: root.to_path_buf(),
            done: BTreeSet::new(),
            bytes: 0,
        })
    }

    /// The stage directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bytes of regular files copied so far.
    pub fn bytes_copied(&self) -> u64 {
        self.bytes
    }

    /// The stage path for an absolute rescue-system path, following the stage's own symlinks the
    /// way the host resolves them (`/lib/modules` → `STAGE/usr/lib/modules` on merged-/usr).
    pub fn dest(&self, abs: &Path) -> PathBuf {
        match (abs.parent(), abs.file_name()) {
            (Some(parent), Some(name)) => under(&self.root, &host_canonical(parent)).join(name),
            _ => self.root.clone(),
        }
    }

    /// Creates a directory in the stage; host symlinks along the path are recreated first.
    pub fn mkdir(&mut self, abs: &Path) -> Result<PathBuf> {
        if let Some(parent) = abs.parent() {
            self.copy_symlinks_along(parent)?;
        }
        let meta = std::fs::symlink_metadata(abs);
        if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            self.copy_path(abs)?;
        }
        let d = under(&self.root, &host_canonical(abs));
        std::fs::create_dir_all(&d).map_err(|e| Error::io("creating directory", &d, e))?;
        Ok(d)
    }

    /// Writes a file into the stage.
    pub fn write(&mut self, abs: &Path, data: &[u8], mode: u32) -> Result<()> {
        if let Some(parent) = abs.parent() {
            self.mkdir(parent)?;
        }
        let d = self.dest(abs);
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&d).map_err(|e| Error::io("removing", &d, e))?;
        }
        std::fs::write(&d, data).map_err(|e| Error::io("writing", &d, e))?;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("setting permissions of", &d, e))?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Copies a host file (not following a final symlink: the link and its target are both
    /// copied) to the same path in the stage. Directories are created, not copied recursively
    /// (use [`Stage::copy_tree`]).
    pub fn copy_path(&mut self, abs: &Path) -> Result<()> {
        self.copy_path_as(abs, abs, 0)
    }

    /// Copies host file `from` to rescue path `to` (used for files that come from elsewhere, such
    /// as the modules of an unpacked kernel package).
    pub fn copy_file_to(&mut self, from: &Path, to: &Path) -> Result<()> {
        if let Some(parent) = to.parent() {
            self.mkdir(parent)?;
        }
        let d = self.dest(to);
        self.copy_regular(from, &d)
    }

    fn copy_regular(&mut self, from: &Path, d: &Path) -> Result<()> {
        if d.exists() {
            return Ok(());
        }
        let n = std::fs::copy(from, d).map_err(|e| Error::io("copying", from, e))?;
        self.bytes += n;
        Ok(())
    }

    fn copy_symlinks_along(&mut self, dir: &Path) -> Result<()> {
        let mut prefix = PathBuf::from("/");
        for c in dir.components() {
            if let Component::Normal(n) = c {
                prefix.push(n);
                let m = std::fs::symlink_metadata(&prefix);
                if m.is_ok_and(|m| m.file_type().is_symlink()) {
                    self.copy_path(&prefix.clone())?;
                }
            }
        }
        Ok(())
    }

    fn copy_path_as(&mut self, from: &Path, abs: &Path, depth: usize) -> Result<()> {
        if depth > 40 {
            return Err(Error::invalid(
                abs.display().to_string(),
                "too many levels of symlinks",
            ));
        }
        if !self.done.insert(abs.to_path_buf()) {
            return Ok(());
        }
        if let Some(parent) = abs.parent() {
            self.copy_symlinks_along(parent)?;
        }
        let meta = std::fs::symlink_metadata(from).map_err(|e| Error::io("reading", from, e))?;
        let parent_dest = self.dest(abs.parent().unwrap_or(Path::new("/")));
        std::fs::create_dir_all(&parent_dest)
            .map_err(|e| Error::io("creating directory", &parent_dest, e))?;
        let d = parent_dest.join(abs.file_name().unwrap_or_default());
        if meta.file_type().is_symlink() {
            let target =
                std::fs::read_link(from).map_err(|e| Error::io("reading link", from, e))?;
            if std::fs::symlink_metadata(&d).is_err() {
                std::os::unix::fs::symlink(&target, &d)
                    .map_err(|e| Error::io("creating symlink", &d, e))?;
            }
            let resolved = if target.is_absolute() {
                target
            } else {
                abs.parent().unwrap_or(Path::new("/")).join(target)
            };
            let resolved = normalize_lexically(&resolved);
            if std::fs::symlink_metadata(&resolved).is_ok() {
                self.copy_path_as(&resolved.clone(), &resolved, depth + 1)?;
            }
            Ok(())
        } else if meta.is_dir() {
            std::fs::create_dir_all(&d).map_err(|e| Error::io("creating directory", &d, e))?;
            std::fs::set_permissions(
                &d,
                std::fs::Permissions::from_mode(meta.permissions().mode()),
            )
            .map_err(|e| Error::io("setting permissions of", &d, e))?;
            Ok(())
        } else if meta.is_file() {
            self.copy_regular(from, &d)
        } else {
            // sockets, FIFOs and device nodes are not copied (devtmpfs provides devices).
            Ok(())
        }
    }

    /// Copies a host directory tree (or a single file) to the same path in the stage, keeping
    /// symlinks as symlinks, skipping paths that match one of `exclude` (shell wildcards against
    /// the absolute path, ReaR's `COPY_AS_IS_EXCLUDE`). Returns the regular files copied.
    pub fn copy_tree(&mut self, abs: &Path, exclude: &[String]) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        let excluded = |p: &Path| {
            let s = p.to_string_lossy();
            exclude.iter().any(|pat| {
                let pat = pat.trim_end_matches('/');
                crate::rescue::elf::wildcard_match(pat, &s)
                    || s.starts_with(&format!("{pat}/"))
                    || crate::rescue::elf::wildcard_match(&format!("{pat}/*"), &s)
            })
        };
        if std::fs::symlink_metadata(abs).is_err() || excluded(abs) {
            return Ok(files);
        }
        let walk = walkdir::WalkDir::new(abs)
            .follow_links(false)
            .sort_by_file_name();
        let mut it = walk.into_iter();
        while let Some(entry) = it.next() {
            let entry = entry.map_err(|e| {
                Error::io("walking", e.path().unwrap_or(abs).to_path_buf(), e.into())
            })?;
            let p = entry.path();
            if excluded(p) {
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            if entry.file_type().is_dir() && !entry.path_is_symlink() {
                self.mkdir(p)?;
            } else {
                self.copy_path(p)?;
                if entry.file_type().is_file() {
                    files.push(p.to_path_buf());
                }
            }
        }
        Ok(files)
    }
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalize_lexically(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The host's canonical form of `abs`: the longest existing prefix canonicalised, the rest
/// appended.
pub fn host_canonical(abs: &Path) -> PathBuf {
    let mut existing = abs.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(p)) => {
                rest.push(n);
                existing = p.to_path_buf();
            }
            _ => return abs.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_symlinks_are_recreated() {
        let tmp = tempfile::tempdir().unwrap();
        let mut stage = Stage::new(tmp.path()).unwrap();
        stage.copy_path(Path::new("/bin/bash")).unwrap();
        let bin = tmp.path().join("bin");
        if std::fs::symlink_metadata("/bin")
            .unwrap()
            .file_type()
            .is_symlink()
        {
            assert!(
                std::fs::symlink_metadata(&bin)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            assert!(tmp.path().join("usr/bin/bash").is_file());
        }
        assert!(bin.join("bash").is_file());
    }

    #[test]
    fn absolute_symlinks_are_never_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        // a host file reached through an absolute link
        let target = host.path().join("real");
        std::fs::write(&target, "data").unwrap();
        let link = host.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut stage = Stage::new(tmp.path()).unwrap();
        stage.copy_path(&link).unwrap();
        let staged_link = under(tmp.path(), &link);
        assert_eq!(std::fs::read_link(&staged_link).unwrap(), target);
        assert_eq!(
            std::fs::read_to_string(under(tmp.path(), &target)).unwrap(),
            "data"
        );
    }
}
