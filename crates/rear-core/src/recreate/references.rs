//! Fixing references in the restored system: device names and IDs that changed (migration onto
//! other disks, a UUID that had to change) are rewritten in fstab, crypttab, mdadm.conf, the
//! GRUB configuration, `resume=` and similar files.
//!
//! Contract: [`rewrite`] is a pure text transform. It replaces whole tokens only (`/dev/sda1` is
//! not rewritten inside `/dev/sda10`, a UUID not inside a longer word), in one pass, so that
//! swapped names (`sda↔sdb`) come out right. [`fix_files`] applies it to the usual files under
//! the target root and reports which ones changed.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Old → new replacements (device paths, UUIDs, by-id names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pairs: Vec<(String, String)>,
}

impl Changes {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a replacement (ignored when old and new are the same).
    pub fn add(&mut self, old: impl Into<String>, new: impl Into<String>) -> &mut Self {
        let (old, new) = (old.into(), new.into());
        if old != new && !old.is_empty() {
            self.pairs.push((old, new));
        }
        self
    }

    /// The device renames of a migration.
    pub fn from_renames(renames: &std::collections::BTreeMap<String, String>) -> Self {
        let mut c = Changes::new();
        for (o, n) in renames {
            c.add(o.clone(), n.clone());
        }
        c
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Rewrites every whole-token occurrence of an old value in `text`. See the module
/// documentation.
pub fn rewrite(text: &str, changes: &Changes) -> String {
    // longest first, so that /dev/sda10 wins over /dev/sda1 where both are listed
    let mut pairs: Vec<&(String, String)> = changes.pairs.iter().collect();
    pairs.sort_by_key(|(o, _)| std::cmp::Reverse(o.len()));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut prev: Option<char> = None;
    'outer: while i < text.len() {
        let rest = &text[i..];
        if !prev.is_some_and(is_word) {
            for (old, new) in &pairs {
                if rest.starts_with(old.as_str()) {
                    let next = rest[old.len()..].chars().next();
                    if !next.is_some_and(is_word) {
                        out.push_str(new);
                        i += old.len();
                        prev = old.chars().last();
                        continue 'outer;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        prev = Some(c);
        i += c.len_utf8();
    }
    out
}

/// The files (relative to the target root) whose references are fixed.
pub const FILES_TO_PATCH: &[&str] = &[
    "etc/fstab",
    "etc/crypttab",
    "etc/mdadm.conf",
    "etc/mdadm/mdadm.conf",
    "etc/default/grub",
    "etc/default/grub.d/rear-resume.cfg",
    "boot/grub/grub.cfg",
    "boot/grub2/grub.cfg",
    "boot/grub/menu.lst",
    "etc/initramfs-tools/conf.d/resume",
    "etc/kernel/cmdline",
    "etc/sysconfig/bootloader",
    "etc/lilo.conf",
];

/// Rewrites [`FILES_TO_PATCH`] (those that exist) under `root`; returns the files that changed.
///
/// # Errors
/// A file that cannot be read or written.
pub fn fix_files(root: &Path, changes: &Changes) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    if changes.is_empty() {
        return Ok(changed);
    }
    for rel in FILES_TO_PATCH {
        let path = root.join(rel);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let new = rewrite(&text, changes);
        if new != text {
            std::fs::write(&path, new).map_err(|e| Error::io("writing", &path, e))?;
            tracing::info!("fixed device references in {}", path.display());
            changed.push(path);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swap_sda_sdb() -> Changes {
        let mut c = Changes::new();
        c.add("/dev/sda", "/dev/sdb")
            .add("/dev/sda1", "/dev/sdb1")
            .add("/dev/sda2", "/dev/sdb2");
        c.add("/dev/sdb", "/dev/sda").add("/dev/sdb1", "/dev/sda1");
        c
    }

    #[test]
    fn fstab_devices_swap_without_clobbering() {
        let fstab = "/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /data xfs defaults 0 2\n/dev/sda10 /x ext4 defaults 0 2\n# /dev/sda2 was swap\nUUID=1234 /boot ext4 defaults 0 2\n";
        let out = rewrite(fstab, &swap_sda_sdb());
        assert_eq!(
            out,
            "/dev/sdb1 / ext4 defaults 0 1\n/dev/sda1 /data xfs defaults 0 2\n/dev/sda10 /x ext4 defaults 0 2\n# /dev/sdb2 was swap\nUUID=1234 /boot ext4 defaults 0 2\n"
        );
    }

    #[test]
    fn crypttab_mdadm_grub_and_resume() {
        let mut c = Changes::new();
        c.add("/dev/vda3", "/dev/nvme0n1p3")
            .add("/dev/vda2", "/dev/nvme0n1p2");
        c.add(
            "0a1b2c3d-0000-4000-8000-000000000001",
            "0a1b2c3d-0000-4000-8000-00000000000f",
        );
        let crypttab = "cr_root /dev/vda3 none luks,discard\n";
        assert_eq!(
            rewrite(crypttab, &c),
            "cr_root /dev/nvme0n1p3 none luks,discard\n"
        );
        let mdadm = "ARRAY /dev/md0 metadata=1.2 name=host:0 UUID=aa:bb:cc:dd devices=/dev/vda2,/dev/vda3\n";
        assert_eq!(
            rewrite(mdadm, &c),
            "ARRAY /dev/md0 metadata=1.2 name=host:0 UUID=aa:bb:cc:dd devices=/dev/nvme0n1p2,/dev/nvme0n1p3\n"
        );
        let grub = "GRUB_CMDLINE_LINUX=\"resume=/dev/vda2 root=UUID=0a1b2c3d-0000-4000-8000-000000000001 quiet\"\n";
        assert_eq!(
            rewrite(grub, &c),
            "GRUB_CMDLINE_LINUX=\"resume=/dev/nvme0n1p2 root=UUID=0a1b2c3d-0000-4000-8000-00000000000f quiet\"\n"
        );
        // a UUID inside a longer word is not a reference
        assert_eq!(
            rewrite("x0a1b2c3d-0000-4000-8000-000000000001", &c),
            "x0a1b2c3d-0000-4000-8000-000000000001"
        );
        // LV names with dashes are whole tokens
        let mut lv = Changes::new();
        lv.add("/dev/mapper/vg-root", "/dev/mapper/vg-newroot");
        assert_eq!(
            rewrite("/dev/mapper/vg-root / /dev/mapper/vg-root-old /x", &lv),
            "/dev/mapper/vg-newroot / /dev/mapper/vg-root-old /x"
        );
    }

    #[test]
    fn fix_files_only_touches_files_that_change() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/default")).unwrap();
        std::fs::write(
            root.path().join("etc/fstab"),
            "/dev/sda1 / ext4 defaults 0 1\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/default/grub"), "GRUB_TIMEOUT=5\n").unwrap();
        let changed = fix_files(root.path(), &swap_sda_sdb()).unwrap();
        assert_eq!(changed, vec![root.path().join("etc/fstab")]);
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/fstab")).unwrap(),
            "/dev/sdb1 / ext4 defaults 0 1\n"
        );
    }
}
