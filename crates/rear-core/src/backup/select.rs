//! What goes into a backup, by ReaR's rules, and the walk that finds it.
//!
//! The caller gives the include paths (ReaR: the mounted local filesystems of the disk layout plus
//! `BACKUP_PROG_INCLUDE`, or only `BACKUP_PROG_INCLUDE` with `BACKUP_ONLY_INCLUDE=yes`) and the
//! exclude patterns (`BACKUP_PROG_EXCLUDE`, paths from `EXCLUDE_BACKUP`). The walk then:
//! - stays on the filesystem of each include path (like `tar --one-file-system`): a mount point
//!   inside it is stored as an empty directory unless it is itself included;
//! - never enters network filesystems (NFS, CIFS/SMB, FUSE such as sshfs, ...), even when included;
//! - skips `/proc/*`, `/sys/*`, `/dev/*`, `/run/*` and `/tmp/*` (the directories themselves are
//!   kept so the mount points exist after restore) unless `default_excludes` is off;
//! - skips the backup target directory itself (by device and inode, whatever its path);
//! - matches exclude globs against the path as restored (`/home/x/.cache`), where `*` does not
//!   match `/` (tar's `--no-wildcards-match-slash`); an excluded directory is skipped whole;
//! - visits directory entries in byte order, so archives of the same tree are identical;
//! - detects hard links by (device, inode) and skips sockets with a log line.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::{Error, Result};

/// The excludes ReaR always applies (kernel and volatile filesystems).
pub const DEFAULT_EXCLUDES: &[&str] = &["/proc/*", "/sys/*", "/dev/*", "/run/*", "/tmp/*"];

/// Which files a backup contains.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The directory that is `/` of the backed-up system (normally `/`). Archive paths are
    /// relative to it.
    pub root: PathBuf,
    /// What to back up, as absolute paths of the backed-up system (`/`, `/boot`, `/home`).
    pub include: Vec<PathBuf>,
    /// Exclude globs matched against absolute paths of the backed-up system.
    pub exclude: Vec<String>,
    /// Apply [`DEFAULT_EXCLUDES`].
    pub default_excludes: bool,
    /// Stay on the filesystem of each include path.
    pub one_file_system: bool,
    /// Directories to leave out whole, by identity (the backup target); real paths on this host.
    pub exclude_dirs: Vec<PathBuf>,
}

impl Selection {
    /// Backs up the whole tree under `root` with no excludes (used by tests and simple calls).
    pub fn tree(root: impl Into<PathBuf>) -> Self {
        Selection {
            root: root.into(),
            include: vec![PathBuf::from("/")],
            exclude: Vec::new(),
            default_excludes: false,
            one_file_system: true,
            exclude_dirs: Vec::new(),
        }
    }
}

/// One thing the walk found.
#[derive(Debug)]
pub struct Found {
    /// Its real path on this host.
    pub real: PathBuf,
    /// Its archive path (relative, no leading `/`; empty for the root).
    pub name: Vec<u8>,
    /// Its `lstat` metadata.
    pub md: Metadata,
    /// The archive path of the first link to the same inode, when this is a later link.
    pub hardlink_to: Option<Vec<u8>>,
}

/// Filesystem magic numbers of network and FUSE filesystems (statfs f_type).
const NETWORK_FS: &[(i64, &str)] = &[
    (0x6969, "nfs"),
    (0x517B, "smb"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x6573_5546, "fuse"),
    (0x0102_1997, "9p"),
    (0x7461_636f, "ocfs2"),
    (0x0114_0006, "afs"),
    (0x5346_414F, "afs"),
    (0x0BD0_0BD0, "lustre"),
    (0x47504653, "gpfs"),
    (0x00C3_6400, "ceph"),
];

/// The network filesystem type `path` is on, if any.
pub fn network_fs(path: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast, clippy::cast_possible_wrap)]
    let t = st.f_type as i64;
    NETWORK_FS.iter().find(|(m, _)| *m == t).map(|(_, n)| *n)
}

/// Walks the selection, calling `found` for each entry in archive order. Problems with single
/// files (vanished, unreadable) are reported through `warn` and the walk goes on, like
/// `tar --ignore-failed-read`. `found` returning an error stops the walk.
///
/// # Errors
/// Bad exclude patterns, an include path that does not exist, or an error from `found`.
pub fn walk(
    sel: &Selection,
    warn: &mut dyn FnMut(String),
    found: &mut dyn FnMut(Found) -> Result<()>,
) -> Result<()> {
    let mut gb = GlobSetBuilder::new();
    let patterns: Vec<&str> = sel
        .exclude
        .iter()
        .map(String::as_str)
        .chain(
            if sel.default_excludes {
                DEFAULT_EXCLUDES
            } else {
                &[]
            }
            .iter()
            .copied(),
        )
        .collect();
    for p in &patterns {
        let trimmed = p.trim_end_matches('/');
        // GNU tar's exclusion patterns are unanchored (ReaR runs `tar -X` without --anchored):
        // a pattern without a leading '/' ('*.iso', 'lost+found') matches at any depth.
        let unanchored;
        let pat = if trimmed.starts_with('/') {
            trimmed
        } else {
            unanchored = format!("/**/{trimmed}");
            unanchored.as_str()
        };
        gb.add(
            GlobBuilder::new(pat)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::invalid(format!("exclude pattern '{p}'"), e.to_string()))?,
        );
    }
    let excludes = gb
        .build()
        .map_err(|e| Error::invalid("exclude patterns", e.to_string()))?;
    let skip_ids: HashSet<(u64, u64)> = sel
        .exclude_dirs
        .iter()
        .filter_map(|d| std::fs::metadata(d).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();

    let mut includes: Vec<PathBuf> = sel.include.iter().map(|p| normalize(p)).collect();
    includes.sort();
    includes.dedup();
    let include_set: HashSet<PathBuf> = includes.iter().cloned().collect();
    let mut walker = Walker {
        sel,
        excludes,
        skip_ids,
        include_set,
        links: HashMap::new(),
        visited_roots: HashSet::new(),
    };
    for inc in &includes {
        walker.walk_root(inc, warn, found)?;
    }
    Ok(())
}

/// `/a/./b/` → `/a/b`, always absolute.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

struct Walker<'a> {
    sel: &'a Selection,
    excludes: GlobSet,
    skip_ids: HashSet<(u64, u64)>,
    include_set: HashSet<PathBuf>,
    links: HashMap<(u64, u64), Vec<u8>>,
    visited_roots: HashSet<(u64, u64)>,
}

impl Walker<'_> {
    fn real(&self, sys: &Path) -> PathBuf {
        self.sel.root.join(sys.strip_prefix("/").unwrap_or(sys))
    }

    fn walk_root(
        &mut self,
        sys: &Path,
        warn: &mut dyn FnMut(String),
        found: &mut dyn FnMut(Found) -> Result<()>,
    ) -> Result<()> {
        let real = self.real(sys);
        let md = std::fs::symlink_metadata(&real)
            .map_err(|e| Error::io("reading include path", &real, e))?;
        if let Some(fs) = network_fs(&real) {
            warn(format!(
                "{} is on a network filesystem ({fs}); not backed up",
                sys.display()
            ));
            return Ok(());
        }
        if !self.visited_roots.insert((md.dev(), md.ino())) {
            return Ok(());
        }
        // an include inside another include on the same filesystem is already covered
        let covered = sys.ancestors().skip(1).any(|a| {
            self.include_set.contains(a)
                && std::fs::symlink_metadata(self.real(a)).is_ok_and(|m| m.dev() == md.dev())
        });
        if covered {
            return Ok(());
        }
        let dev = md.dev();
        self.visit(sys.to_path_buf(), real, md, dev, warn, found)
    }

    fn visit(
        &mut self,
        sys: PathBuf,
        real: PathBuf,
        md: Metadata,
        root_dev: u64,
        warn: &mut dyn FnMut(String),
        found: &mut dyn FnMut(Found) -> Result<()>,
    ) -> Result<()> {
        // Depth-first with an explicit stack: (system path, real path, metadata).
        let mut stack = vec![(sys, real, md)];
        while let Some((sys, real, md)) = stack.pop() {
            let ft = md.file_type();
            if ft.is_socket() {
                tracing::info!("skipping socket {}", sys.display());
                continue;
            }
            let name = sys
                .strip_prefix("/")
                .unwrap_or(&sys)
                .as_os_str()
                .as_bytes()
                .to_vec();
            let mut hardlink_to = None;
            if !ft.is_dir() && md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                match self.links.get(&key) {
                    Some(first) => hardlink_to = Some(first.clone()),
                    None => {
                        self.links.insert(key, name.clone());
                    }
                }
            }
            let is_dir = ft.is_dir();
            let dev = md.dev();
            found(Found {
                real: real.clone(),
                name,
                md,
                hardlink_to,
            })?;
            if !is_dir {
                continue;
            }
            if self.sel.one_file_system && dev != root_dev {
                // a mount point: stored as a directory, not entered
                continue;
            }
            let entries = match std::fs::read_dir(&real) {
                Ok(rd) => rd,
                Err(e) => {
                    warn(format!("cannot read directory {}: {e}", real.display()));
                    continue;
                }
            };
            let mut children: Vec<(std::ffi::OsString, PathBuf)> = Vec::new();
            for e in entries {
                match e {
                    Ok(e) => children.push((e.file_name(), e.path())),
                    Err(e) => warn(format!("cannot read directory {}: {e}", real.display())),
                }
            }
            children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            // push in reverse so the smallest name is visited first
            for (fname, child_real) in children.into_iter().rev() {
                let child_sys = sys.join(OsStr::new(&fname));
                if self.excludes.is_match(&child_sys) {
                    tracing::debug!("excluded {}", child_sys.display());
                    continue;
                }
                let cmd = match std::fs::symlink_metadata(&child_real) {
                    Ok(m) => m,
                    Err(e) => {
                        warn(format!("cannot stat {}: {e}", child_real.display()));
                        continue;
                    }
                };
                if cmd.is_dir() {
                    if self.skip_ids.contains(&(cmd.dev(), cmd.ino())) {
                        tracing::info!("not backing up the backup target {}", child_sys.display());
                        continue;
                    }
                    if cmd.dev() != dev && self.include_set.contains(&child_sys) {
                        // another include path; walked on its own
                        continue;
                    }
                    if cmd.dev() != dev
                        && let Some(fs) = network_fs(&child_real)
                    {
                        tracing::info!("not entering {fs} mount {}", child_sys.display());
                    }
                }
                stack.push((child_sys, child_real, cmd));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sel: &Selection) -> Vec<String> {
        let mut out = Vec::new();
        walk(sel, &mut |_| {}, &mut |f| {
            out.push(String::from_utf8(f.name).unwrap());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn unanchored_patterns_match_at_any_depth() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        for f in ["x.iso", "a/y.iso", "a/b/z.iso", "a/b/keep.txt"] {
            std::fs::write(r.join(f), "").unwrap();
        }
        let mut sel = Selection::tree(r);
        sel.exclude = vec!["*.iso".into()];
        let mut seen = Vec::new();
        walk(&sel, &mut |_| {}, &mut |f: Found| {
            seen.push(f.real.to_string_lossy().into_owned());
            Ok(())
        })
        .unwrap();
        assert!(seen.iter().any(|p| p.ends_with("keep.txt")), "{seen:?}");
        assert!(!seen.iter().any(|p| p.ends_with(".iso")), "{seen:?}");
    }

    #[test]
    fn walk_orders_and_excludes() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for p in ["b/x", "a", "tmp/junk", "home/u/.cache/c", "home/u/keep"] {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::hard_link(r.join("a"), r.join("b/link")).unwrap();
        let mut sel = Selection::tree(r);
        sel.default_excludes = true;
        sel.exclude = vec!["/home/*/.cache".into()];
        assert_eq!(
            names(&sel),
            [
                "",
                "a",
                "b",
                "b/link",
                "b/x",
                "home",
                "home/u",
                "home/u/keep",
                "tmp"
            ]
        );
        let mut links = Vec::new();
        walk(&sel, &mut |_| {}, &mut |f| {
            if let Some(t) = f.hardlink_to {
                links.push((f.name, t));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(links, [(b"b/link".to_vec(), b"a".to_vec())]);
        sel.exclude_dirs = vec![r.join("home")];
        assert!(!names(&sel).contains(&"home".to_string()));
    }
}
