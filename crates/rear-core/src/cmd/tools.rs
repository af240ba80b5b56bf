//! The registry of every program rear may run.
//!
//! Each tool is a named constant. [`ALL`] lists them; the rescue image builder ships every tool
//! of [`ALL`] that exists on the host (and fails the build for a missing [`Need::Required`] one),
//! and `rear dump` reports which are missing. To call a new program, add it here first.

use std::path::{Path, PathBuf};

/// Directories searched for tools, in order. `$PATH` is deliberately not used.
pub const SEARCH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether recovery can work without a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// Needed on every system: the rescue build fails without it.
    Required,
    /// Needed only for some layouts or methods (LVM, md, LUKS, btrfs, UEFI, ...).
    Optional,
    /// Needed only by one backup method: not shipped by default, the method's prep step adds it
    /// to `REQUIRED_PROGS` when it is configured (restic is 25 MB; borg needs Python).
    MethodOnly,
}

/// A program rear may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tool {
    program: &'static str,
    need: Need,
    package: &'static str,
}

impl Tool {
    const fn new(program: &'static str, need: Need, package: &'static str) -> Self {
        Tool {
            program,
            need,
            package,
        }
    }

    /// The program's file name.
    pub const fn program(&self) -> &'static str {
        self.program
    }

    /// Whether recovery needs it everywhere.
    pub const fn need(&self) -> Need {
        self.need
    }

    /// The Debian package that provides it.
    pub const fn package(&self) -> &'static str {
        self.package
    }

    /// Resolves the tool to an absolute path under `root` (use `/` for the running system).
    pub fn resolve_in(&self, root: &Path) -> Option<PathBuf> {
        SEARCH_DIRS.iter().find_map(|dir| {
            let candidate = root.join(dir.trim_start_matches('/')).join(self.program);
            is_executable(&candidate).then(|| Path::new(dir).join(self.program))
        })
    }

    /// Resolves the tool to an absolute path on the running system.
    pub fn resolve(&self) -> Option<PathBuf> {
        self.resolve_in(Path::new("/"))
    }

    /// Looks a tool up by program name.
    pub fn by_name(program: &str) -> Option<Tool> {
        ALL.iter().copied().find(|t| t.program == program)
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The Debian package that provides `program`, or the program name when it is unknown.
pub fn debian_package_of(program: &str) -> &str {
    Tool::by_name(program).map_or(program, |t| t.package)
}

/// Lists every tool of [`ALL`] that is not installed (useful for `rear dump` and rescue builds).
pub fn missing_tools(root: &Path) -> Vec<Tool> {
    ALL.iter()
        .copied()
        .filter(|t| t.resolve_in(root).is_none())
        .collect()
}

macro_rules! registry {
    ($( $(#[$doc:meta])* $name:ident = $program:literal, $need:ident, $package:literal; )*) => {
        $( $(#[$doc])* pub const $name: Tool = Tool::new($program, Need::$need, $package); )*
        /// Every tool rear may run.
        pub const ALL: &[Tool] = &[ $( $name ),* ];
    };
}

registry! {
    // --- shell and basics ---
    /// Evaluates ReaR's bash configuration files.
    BASH = "bash", Required, "bash";
    HOSTNAME = "hostname", Optional, "hostname";
    UNAME = "uname", Required, "coreutils";
    SYNC = "sync", Required, "coreutils";
    DD = "dd", Required, "coreutils";
    CHROOT = "chroot", Required, "coreutils";
    // --- block devices and partitions (util-linux, fdisk, parted) ---
    LSBLK = "lsblk", Required, "util-linux";
    BLKID = "blkid", Required, "util-linux";
    FINDMNT = "findmnt", Required, "util-linux";
    SFDISK = "sfdisk", Required, "fdisk";
    PARTED = "parted", Optional, "parted";
    PARTX = "partx", Required, "util-linux";
    WIPEFS = "wipefs", Required, "util-linux";
    BLOCKDEV = "blockdev", Required, "util-linux";
    LOSETUP = "losetup", Optional, "mount";
    MOUNT = "mount", Required, "mount";
    UMOUNT = "umount", Required, "mount";
    SWAPON = "swapon", Required, "mount";
    SWAPOFF = "swapoff", Required, "mount";
    MKSWAP = "mkswap", Required, "util-linux";
    UDEVADM = "udevadm", Optional, "udev";
    // --- storage stacks ---
    LVM = "lvm", Optional, "lvm2";
    MDADM = "mdadm", Optional, "mdadm";
    CRYPTSETUP = "cryptsetup", Optional, "cryptsetup-bin";
    DMSETUP = "dmsetup", Optional, "dmsetup";
    MULTIPATH = "multipath", Optional, "multipath-tools";
    // --- filesystems ---
    MKE2FS = "mke2fs", Required, "e2fsprogs";
    TUNE2FS = "tune2fs", Required, "e2fsprogs";
    DUMPE2FS = "dumpe2fs", Required, "e2fsprogs";
    MKFS_XFS = "mkfs.xfs", Optional, "xfsprogs";
    XFS_INFO = "xfs_info", Optional, "xfsprogs";
    XFS_ADMIN = "xfs_admin", Optional, "xfsprogs";
    MKFS_VFAT = "mkfs.vfat", Optional, "dosfstools";
    FATLABEL = "fatlabel", Optional, "dosfstools";
    MKFS_BTRFS = "mkfs.btrfs", Optional, "btrfs-progs";
    BTRFS = "btrfs", Optional, "btrfs-progs";
    // --- boot ---
    EFIBOOTMGR = "efibootmgr", Optional, "efibootmgr";
    GRUB_INSTALL = "grub-install", Optional, "grub2-common";
    GRUB_MKCONFIG = "grub-mkconfig", Optional, "grub2-common";
    GRUB_PROBE = "grub-probe", Optional, "grub-common";
    UPDATE_INITRAMFS = "update-initramfs", Optional, "initramfs-tools";
    DRACUT = "dracut", Optional, "dracut";
    // --- kernel modules ---
    MODPROBE = "modprobe", Required, "kmod";
    // --- backup and transfer ---
    TAR = "tar", Required, "tar";
    ZSTD = "zstd", Optional, "zstd";
    GZIP = "gzip", Required, "gzip";
    RSYNC = "rsync", Optional, "rsync";
    SSH = "ssh", Optional, "openssh-client";
    SSHFS = "sshfs", Optional, "sshfs";
    // --- rescue media ---
    XORRISO = "xorriso", Optional, "xorriso";
    MCOPY = "mcopy", Optional, "mtools";
    MMD = "mmd", Optional, "mtools";
    // --- network ---
    IP = "ip", Required, "iproute2";
    DHCLIENT = "dhclient", Optional, "isc-dhcp-client";
    // --- inventory ---
    DPKG_QUERY = "dpkg-query", Optional, "dpkg";
    RPM = "rpm", Optional, "rpm";
    SYSTEMCTL = "systemctl", Optional, "systemd";
    NFT = "nft", Optional, "nftables";
    IPTABLES_SAVE = "iptables-save", Optional, "iptables";
    GETCONF = "getconf", Optional, "libc-bin";
    TIMEDATECTL = "timedatectl", Optional, "systemd";
    // --- report ---
    /// The local mail transfer agent's sendmail interface (postfix, exim, ...).
    SENDMAIL = "sendmail", Optional, "default-mta";
    // --- recreate ---
    MKDIR = "mkdir", Required, "coreutils";
    CHATTR = "chattr", Optional, "e2fsprogs";
    KPARTX = "kpartx", Optional, "kpartx";
    // --- rescue ---
    DEPMOD = "depmod", Optional, "kmod";
    XZ = "xz", Optional, "xz-utils";
    GRUB_MKSTANDALONE = "grub-mkstandalone", Optional, "grub-common";
    SETSID = "setsid", Required, "util-linux";
    BUSYBOX = "busybox", Optional, "busybox-static";
    LDCONFIG = "ldconfig", Optional, "libc-bin";
    SYSLINUX = "syslinux", Optional, "syslinux";
    GRUB_MKNETDIR = "grub-mknetdir", Optional, "grub-common";
    MDIR = "mdir", Optional, "mtools";
    MDELTREE = "mdeltree", Optional, "mtools";
    // --- rescue (session 2) ---
    SSHD = "sshd", Optional, "openssh-server";
    SSH_KEYGEN = "ssh-keygen", Optional, "openssh-client";
    LOADKEYS = "loadkeys", Optional, "kbd";
    CKBCOMP = "ckbcomp", Optional, "console-setup";
    // --- backup (session 2) ---
    /// The NFS mount helper `mount -t nfs` runs (the rescue image needs it for nfs:// targets).
    MOUNT_NFS = "mount.nfs", Optional, "nfs-common";
    /// The CIFS mount helper `mount -t cifs` runs (for cifs:// targets).
    MOUNT_CIFS = "mount.cifs", Optional, "cifs-utils";
    // --- borg/restic (session 2) ---
    /// BorgBackup (`BACKUP=BORG`); a Python program, see docs/backup.md for the rescue image.
    BORG = "borg", MethodOnly, "borgbackup";
    /// restic (`BACKUP=RESTIC`), a static binary.
    RESTIC = "restic", MethodOnly, "restic";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_unique_programs() {
        let mut names: Vec<_> = ALL.iter().map(|t| t.program()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a program is registered twice");
    }

    #[test]
    fn resolves_from_fixed_dirs_under_a_root() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("usr/sbin");
        std::fs::create_dir_all(&bin).unwrap();
        let lsblk = bin.join("lsblk");
        std::fs::write(&lsblk, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&lsblk, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            LSBLK.resolve_in(root.path()),
            Some(PathBuf::from("/usr/sbin/lsblk"))
        );
        assert_eq!(BLKID.resolve_in(root.path()), None);
        // a file without execute bits is not a tool
        std::fs::write(bin.join("blkid"), "").unwrap();
        assert_eq!(BLKID.resolve_in(root.path()), None);
        assert!(missing_tools(root.path()).contains(&BLKID));
    }

    #[test]
    fn unknown_program_package_falls_back_to_name() {
        assert_eq!(debian_package_of("sfdisk"), "fdisk");
        assert_eq!(debian_package_of("frobnicate"), "frobnicate");
    }
}
