//! Bind mounts that make a restored tree usable as a chroot: `/proc`, `/sys`, `/dev`, `/run`
//! and, on UEFI, `/sys/firmware/efi/efivars` (grub-install and efibootmgr need it to write
//! boot entries).
//!
//! The mounts are undone in reverse order by [`ChrootMounts::unmount`], which reports every
//! failure, or on drop, which can only log them (`warn!`): call `unmount` where an error matters.

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::{Error, Result};

/// The API filesystems bound into the target, in mount order.
pub const BIND_DIRS: [&str; 4] = ["/proc", "/sys", "/dev", "/run"];

/// The EFI variables filesystem, bound after `/sys` when the rescue system has it.
pub const EFIVARS: &str = "/sys/firmware/efi/efivars";

/// Active bind mounts into a target root.
pub struct ChrootMounts<'r> {
    target: PathBuf,
    mounted: Vec<PathBuf>,
    runner: &'r dyn Runner,
}

impl std::fmt::Debug for ChrootMounts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChrootMounts")
            .field("target", &self.target)
            .field("mounted", &self.mounted)
            .finish()
    }
}

/// The sources to bind into a target, given whether the rescue system has efivars mounted.
pub fn bind_sources(efivars: bool) -> Vec<&'static str> {
    let mut v: Vec<&str> = BIND_DIRS.to_vec();
    if efivars {
        v.insert(2, EFIVARS);
    }
    v
}

impl<'r> ChrootMounts<'r> {
    /// Binds the API filesystems into `target` (usually `/mnt/local`). On a failure the mounts
    /// made so far are undone and the error is returned.
    pub fn bind(target: &Path, runner: &'r dyn Runner) -> Result<Self> {
        let efivars = Path::new(EFIVARS)
            .join("")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some());
        Self::bind_these(target, &bind_sources(efivars), runner)
    }

    /// Binds the given absolute source directories to the same paths under `target`.
    pub fn bind_these(target: &Path, sources: &[&str], runner: &'r dyn Runner) -> Result<Self> {
        let mut me = ChrootMounts {
            target: target.to_path_buf(),
            mounted: Vec::new(),
            runner,
        };
        for src in sources {
            let dst = target.join(src.trim_start_matches('/'));
            if let Err(e) = std::fs::create_dir_all(&dst) {
                let err = Error::io("creating mount point", &dst, e);
                let _ = me.unmount_all();
                return Err(err);
            }
            let r = Cmd::mutate(tools::MOUNT)
                .arg("--bind")
                .arg(src)
                .arg(&dst)
                .describe(format!(
                    "binding {src} into the target {}",
                    target.display()
                ))
                .run(runner);
            if let Err(e) = r {
                let _ = me.unmount_all();
                return Err(e.into());
            }
            me.mounted.push(dst);
        }
        Ok(me)
    }

    /// The target root.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The mount points currently held, in mount order.
    pub fn mounted(&self) -> &[PathBuf] {
        &self.mounted
    }

    fn unmount_all(&mut self) -> Vec<Error> {
        let mut errors = Vec::new();
        while let Some(dst) = self.mounted.pop() {
            let r = Cmd::mutate(tools::UMOUNT)
                .arg(&dst)
                .describe(format!("unmounting {} from the target", dst.display()))
                .run(self.runner);
            if let Err(e) = r {
                // A busy /dev (a process left in the chroot) must not keep /proc mounted too.
                let lazy = Cmd::mutate(tools::UMOUNT)
                    .arg("--lazy")
                    .arg(&dst)
                    .describe(format!("lazily unmounting {}", dst.display()))
                    .run(self.runner);
                if lazy.is_err() {
                    errors.push(Error::from(e));
                }
            }
        }
        errors
    }

    /// Unmounts everything in reverse order. A mount that cannot be unmounted even lazily is
    /// reported; the others are still unmounted.
    pub fn unmount(mut self) -> Result<()> {
        let errors = self.unmount_all();
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.into_iter().next().expect("one error")),
            n => Err(Error::Invalid {
                what: format!("bind mounts under {}", self.target.display()),
                message: format!(
                    "{n} could not be unmounted: {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }),
        }
    }
}

impl Drop for ChrootMounts<'_> {
    fn drop(&mut self) {
        for e in self.unmount_all() {
            tracing::warn!("leaving a bind mount behind: {e}");
        }
    }
}
