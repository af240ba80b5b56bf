//! Backup targets (`BACKUP_URL`, with `NETFS_URL` as an alias): parse the URL, mount the target
//! to get a local directory, unmount it afterwards.
//!
//! | URL                                   | mounted with                                        |
//! |---------------------------------------|-----------------------------------------------------|
//! | `file:///path`                        | nothing: the directory is used as it is             |
//! | `nfs://server/export`                 | `mount -t nfs -o BACKUP_OPTIONS server:/export DIR`  |
//! | `cifs://server/share`                 | `mount -t cifs -o BACKUP_OPTIONS //server/share DIR` |
//! | `usb:///dev/disk/by-label/REAR-000`   | `mount -o BACKUP_OPTIONS DEVICE DIR`                 |
//! | `sshfs://user@host/path`, `sftp://…`  | `sshfs -o BACKUP_OPTIONS user@host:/path DIR`        |
//!
//! Every mount and unmount goes through the command runner, so dry runs record them. The host
//! kernel of the development machine has no NFS or CIFS client: those mounts are only tested
//! inside a qemu guest (not yet done, see docs/backup.md).

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::{Error, Result};

/// A parsed `BACKUP_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A local directory.
    File(PathBuf),
    /// An NFS export: server and path.
    Nfs {
        /// The server.
        host: String,
        /// The exported path.
        path: String,
    },
    /// A CIFS/SMB share: server and share path.
    Cifs {
        /// The server.
        host: String,
        /// The share (and sub-directory).
        share: String,
    },
    /// A local disk (USB) by device path.
    Usb(PathBuf),
    /// An sshfs target: `[user@]host` and path.
    Sshfs {
        /// `user@host` or `host`.
        host: String,
        /// The remote path.
        path: String,
    },
}

impl Target {
    /// Parses a `BACKUP_URL`.
    ///
    /// # Errors
    /// An unknown scheme or a URL without the parts the scheme needs.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |m: &str| Error::invalid(format!("BACKUP_URL={url}"), m.to_string());
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("not a URL (scheme://...)"))?;
        let split_host = |rest: &str| -> Result<(String, String)> {
            let (host, path) = rest
                .split_once('/')
                .ok_or_else(|| bad("needs a host and a path"))?;
            if host.is_empty() {
                return Err(bad("needs a host"));
            }
            Ok((host.to_string(), format!("/{path}")))
        };
        match scheme {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(bad("file:// needs an absolute path (file:///path)"));
                }
                Ok(Target::File(PathBuf::from(rest)))
            }
            "nfs" => {
                let (host, path) = split_host(rest)?;
                Ok(Target::Nfs { host, path })
            }
            "cifs" => {
                let (host, share) = split_host(rest)?;
                Ok(Target::Cifs { host, share })
            }
            "usb" => {
                if !rest.starts_with("/dev/") {
                    return Err(bad(
                        "usb:// needs a device (usb:///dev/disk/by-label/REAR-000)",
                    ));
                }
                Ok(Target::Usb(PathBuf::from(rest)))
            }
            "sshfs" | "sftp" => {
                let (host, path) = split_host(rest)?;
                Ok(Target::Sshfs { host, path })
            }
            "rsync" => Err(bad("rsync:// is for BACKUP=RSYNC, not for NETFS")),
            other => Err(bad(&format!("unsupported scheme '{other}'"))),
        }
    }

    /// The command that mounts the target on `mountpoint`, or `None` for `file://`.
    pub fn mount_command(&self, mountpoint: &Path, options: &str) -> Option<Cmd> {
        let opts = |c: Cmd| {
            if options.is_empty() {
                c
            } else {
                c.args(["-o", options])
            }
        };
        let mp = mountpoint.as_os_str();
        Some(match self {
            Target::File(_) => return None,
            Target::Nfs { host, path } => opts(Cmd::mutate(tools::MOUNT).args(["-t", "nfs"]))
                .arg(format!("{host}:{path}"))
                .arg(mp)
                .describe(format!("mounting the NFS backup target {host}:{path}")),
            Target::Cifs { host, share } => opts(Cmd::mutate(tools::MOUNT).args(["-t", "cifs"]))
                .arg(format!("//{host}{share}"))
                .arg(mp)
                .describe(format!("mounting the CIFS backup target //{host}{share}")),
            Target::Usb(dev) => opts(Cmd::mutate(tools::MOUNT))
                .arg(usb_mount_source(dev, dev.exists()))
                .arg(mp)
                .describe(format!("mounting the USB backup target {}", dev.display())),
            Target::Sshfs { host, path } => opts(Cmd::mutate(tools::SSHFS))
                .arg(format!("{host}:{path}"))
                .arg(mp)
                .describe(format!("mounting the sshfs backup target {host}:{path}")),
        })
    }

    /// Mounts the target (when it needs mounting) on `mountpoint` with `options`
    /// (`BACKUP_OPTIONS`) and returns the local directory to use.
    ///
    /// # Errors
    /// When the mount point cannot be created or the mount command fails.
    pub fn mount(&self, runner: &dyn Runner, mountpoint: &Path, options: &str) -> Result<Mounted> {
        let Some(cmd) = self.mount_command(mountpoint, options) else {
            let Target::File(dir) = self else {
                unreachable!("only file:// has no mount command")
            };
            return Ok(Mounted {
                dir: dir.clone(),
                mountpoint: None,
            });
        };
        std::fs::create_dir_all(mountpoint)
            .map_err(|e| Error::io("creating mount point", mountpoint, e))?;
        cmd.run(runner)?;
        Ok(Mounted {
            dir: mountpoint.to_path_buf(),
            mountpoint: Some(mountpoint.to_path_buf()),
        })
    }
}

/// What `mount` gets for a `usb://` device: the path itself when it exists, else, for a
/// `/dev/disk/by-label/L` or `/dev/disk/by-uuid/U` path, `LABEL=L` or `UUID=U`. A rescue system
/// without udev has no `/dev/disk/by-*` links, and mount(8) finds the device by probing.
pub fn usb_mount_source(dev: &Path, exists: bool) -> std::ffi::OsString {
    if !exists {
        for (dir, key) in [("/dev/disk/by-label/", "LABEL="), ("/dev/disk/by-uuid/", "UUID=")] {
            if let Some(name) = dev.to_str().and_then(|d| d.strip_prefix(dir)) {
                // udev escapes spaces and slashes in the link name (\x20, \x2f).
                let name = name.replace("\\x20", " ").replace("\\x2f", "/");
                return format!("{key}{name}").into();
            }
        }
    }
    dev.as_os_str().to_owned()
}

/// A mounted (or local) target.
#[derive(Debug)]
#[must_use = "unmount the target when done"]
pub struct Mounted {
    dir: PathBuf,
    mountpoint: Option<PathBuf>,
}

impl Mounted {
    /// The local directory to pass as `location`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts the target (nothing for `file://`).
    ///
    /// # Errors
    /// When `umount` fails (for example because the target is busy).
    pub fn unmount(self, runner: &dyn Runner) -> Result<()> {
        if let Some(mp) = &self.mountpoint {
            Cmd::mutate(tools::UMOUNT)
                .arg(mp.as_os_str())
                .describe(format!("unmounting the backup target {}", mp.display()))
                .run(runner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::FakeRunner;

    #[test]
    fn usb_device_falls_back_to_label_and_uuid_without_udev_links() {
        let by_label = Path::new("/dev/disk/by-label/REAR-000");
        assert_eq!(usb_mount_source(by_label, true), by_label.as_os_str());
        assert_eq!(usb_mount_source(by_label, false), "LABEL=REAR-000");
        assert_eq!(
            usb_mount_source(Path::new("/dev/disk/by-label/my\\x20disk"), false),
            "LABEL=my disk"
        );
        assert_eq!(
            usb_mount_source(Path::new("/dev/disk/by-uuid/1234-ABCD"), false),
            "UUID=1234-ABCD"
        );
        assert_eq!(usb_mount_source(Path::new("/dev/sdb1"), false), "/dev/sdb1");
    }

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            Target::parse("file:///srv/backup").unwrap(),
            Target::File("/srv/backup".into())
        );
        assert_eq!(
            Target::parse("nfs://nas/export/rear").unwrap(),
            Target::Nfs {
                host: "nas".into(),
                path: "/export/rear".into()
            }
        );
        assert_eq!(
            Target::parse("cifs://nas/share").unwrap(),
            Target::Cifs {
                host: "nas".into(),
                share: "/share".into()
            }
        );
        assert_eq!(
            Target::parse("usb:///dev/disk/by-label/REAR-000").unwrap(),
            Target::Usb("/dev/disk/by-label/REAR-000".into())
        );
        assert!(matches!(
            Target::parse("sftp://u@h/p").unwrap(),
            Target::Sshfs { .. }
        ));
        assert!(Target::parse("file://relative").is_err());
        assert!(Target::parse("ftp://x/y").is_err());
        assert!(Target::parse("nfs:///nohost").is_err());
    }

    #[test]
    fn mounts_and_unmounts_through_the_runner() {
        let dir = tempfile::tempdir().unwrap();
        let mp = dir.path().join("mnt");
        let runner = FakeRunner::new()
            .on(
                &format!(
                    "mount -t nfs -o 'vers=4,nolock' nas:/export {}",
                    mp.display()
                ),
                "",
            )
            .on(&format!("umount {}", mp.display()), "");
        let t = Target::parse("nfs://nas/export").unwrap();
        let m = t.mount(&runner, &mp, "vers=4,nolock").unwrap();
        assert_eq!(m.dir(), mp);
        m.unmount(&runner).unwrap();
        let calls = runner.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(
            calls[0].starts_with("mount -t nfs -o 'vers=4,nolock' nas:/export "),
            "{calls:?}"
        );
        assert!(calls[1].starts_with("umount "), "{calls:?}");
    }
}
