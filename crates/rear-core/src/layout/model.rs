//! The typed disk layout model: every storage layer of a machine as a flat list of components,
//! each with a stable ID and explicit dependencies.
//!
//! Contract:
//! - A [`Layout`] is an ordered list of [`Entry`]s. Each entry holds one [`Component`], an
//!   optional exclusion reason (an excluded component stays in the layout, it is only not
//!   recreated) and the comment lines written above it in the layout file.
//! - Component IDs follow ReaR's naming, so that `EXCLUDE_RECREATE` values written for ReaR keep
//!   working: the device path for disks, partitions, md arrays, multipath and LUKS mappings
//!   (`/dev/sda1`, `/dev/md0`, `/dev/mapper/cr_root`), `pv:<device>` for a PV, `/dev/<vg>` for a
//!   VG, `/dev/mapper/<vg>-<lv>` for an LV (dashes doubled), `fs:<mountpoint>` for a filesystem,
//!   `btrfsmountedsubvol:<mountpoint>` for a mounted btrfs subvolume and `swap:<device>`.
//! - Dependencies are not stored: they follow from the reference fields (`disk=`, `dev=`, `vg=`,
//!   `pool=`, `devices=`, mount point nesting). Editing a device name in one place therefore
//!   changes the graph consistently. [`Layout::validate`] rejects references to components that
//!   do not exist and dependency cycles.
//! - Sizes and offsets are in bytes.

use std::collections::{BTreeMap, HashMap};

use super::fields::{keyword_enum, record};

keyword_enum! {
    /// The partition table type of a disk (ReaR's "partition label type").
    PartTable {
        /// GUID partition table.
        Gpt = "gpt",
        /// DOS/MBR partition table.
        Msdos = "msdos",
        /// GPT with a hybrid MBR (ReaR `gpt_sync_mbr`).
        GptSyncMbr = "gpt_sync_mbr",
        /// s390 DASD.
        Dasd = "dasd",
        /// No partition table (whole-disk filesystem, PV or md member).
        None = "none",
    }
}

keyword_enum! {
    /// Whether an MBR partition is primary, extended or logical.
    PartRole {
        /// Primary partition (1-4).
        Primary = "primary",
        /// The extended partition that holds the logical ones.
        Extended = "extended",
        /// Logical partition (5 and up).
        Logical = "logical",
    }
}

keyword_enum! {
    /// The layout (segment type) of an LVM logical volume.
    LvLayout {
        /// Linear.
        Linear = "linear",
        /// Striped (`stripes=`, `stripe_size=`).
        Striped = "striped",
        /// Old-style LVM mirror.
        Mirror = "mirror",
        /// RAID0 (dm-raid).
        Raid0 = "raid0",
        /// RAID1 (dm-raid).
        Raid1 = "raid1",
        /// RAID4.
        Raid4 = "raid4",
        /// RAID5.
        Raid5 = "raid5",
        /// RAID6.
        Raid6 = "raid6",
        /// RAID10.
        Raid10 = "raid10",
        /// Thin pool (`pool_metadata_size=`, `chunk_size=`).
        ThinPool = "thin-pool",
        /// Thin volume in a pool (`pool=`; `size=` is the virtual size).
        Thin = "thin",
    }
}

keyword_enum! {
    /// The LUKS on-disk format version.
    LuksVersion {
        /// LUKS1.
        Luks1 = "luks1",
        /// LUKS2.
        Luks2 = "luks2",
    }
}

keyword_enum! {
    /// A filesystem type.
    FsType {
        /// ext2.
        Ext2 = "ext2",
        /// ext3.
        Ext3 = "ext3",
        /// ext4.
        Ext4 = "ext4",
        /// XFS.
        Xfs = "xfs",
        /// FAT (any FAT size; see `fat_size=`).
        Vfat = "vfat",
        /// btrfs.
        Btrfs = "btrfs",
    }
}

keyword_enum! {
    /// The boot loader found on the system.
    BootloaderKind {
        /// GRUB 2 installed in the MBR or a BIOS boot partition.
        Grub2Bios = "grub2-bios",
        /// GRUB 2 (possibly behind shim) on an EFI system partition.
        Grub2Efi = "grub2-efi",
        /// systemd-boot on an EFI system partition.
        SystemdBoot = "systemd-boot",
        /// Could not be determined.
        Unknown = "unknown",
    }
}

record! {
    /// The header line: format version and where the layout comes from.
    Header = "layout" {
        /// Format version; this code reads and writes [`FORMAT_VERSION`].
        version: u32 = "version",
        /// Host name of the machine the layout describes.
        hostname: Option<String> = "hostname",
        /// When it was captured (RFC 3339, UTC).
        created: Option<String> = "created",
        /// What produced it (`rear-rs 0.1.0`, `rear import of disklayout.conf`).
        source: Option<String> = "source",
    }
}

record! {
    /// A whole disk (or a disk-like device: loop, nvme namespace, virtio disk).
    Disk = "disk" {
        /// Kernel device path (`/dev/sda`).
        dev: String = "dev",
        /// Size in bytes.
        size: u64 = "size",
        /// Partition table type.
        table: PartTable = "table",
        /// Disk identifier: GPT disk GUID, or the MBR signature as `0x1234abcd`.
        ptuuid: Option<String> = "ptuuid",
        /// Logical sector size in bytes.
        log_sec: Option<u64> = "log_sec",
        /// Physical sector size in bytes.
        phy_sec: Option<u64> = "phy_sec",
        /// GPT first usable LBA (in logical sectors).
        first_lba: Option<u64> = "first_lba",
        /// GPT last usable LBA (in logical sectors).
        last_lba: Option<u64> = "last_lba",
        /// Model string.
        model: Option<String> = "model",
        /// Serial number.
        serial: Option<String> = "serial",
        /// World wide name.
        wwn: Option<String> = "wwn",
        /// Transport (sata, nvme, usb, virtio, ...).
        tran: Option<String> = "tran",
        /// Removable medium.
        removable: bool = "removable",
    }
}

record! {
    /// A partition on a disk, md array or multipath device.
    Partition = "part" {
        /// Partition device path (`/dev/sda1`, `/dev/nvme0n1p1`, `/dev/md0p1`).
        dev: String = "dev",
        /// The device holding the partition table.
        disk: String = "disk",
        /// Partition number.
        number: u32 = "number",
        /// Start in bytes.
        start: u64 = "start",
        /// Size in bytes.
        size: u64 = "size",
        /// Partition type: MBR id (`0x83`) or GPT type GUID (upper case).
        ptype: Option<String> = "type",
        /// GPT partition name.
        name: Option<String> = "name",
        /// MBR role (primary, extended, logical).
        role: Option<PartRole> = "role",
        /// Flags in parted's words: boot, esp, bios_grub, legacy_boot, lvm, raid, swap, hidden, ...
        flags: Vec<String> = "flags",
        /// Partition UUID (GPT), or `<disk id>-<nn>` on MBR.
        partuuid: Option<String> = "partuuid",
        /// GPT attribute bits as sfdisk writes them (`RequiredPartition LegacyBIOSBootable GUID:63`).
        attrs: Option<String> = "attrs",
    }
}

record! {
    /// A Linux software RAID (md) array.
    Raid = "raid" {
        /// Array device (`/dev/md0`, `/dev/md/root` is resolved to `/dev/mdN`).
        dev: String = "dev",
        /// RAID level (raid0, raid1, raid4, raid5, raid6, raid10, linear).
        level: String = "level",
        /// Number of active devices the array is built for (missing ones included).
        raid_devices: Option<u32> = "raid_devices",
        /// Active member devices.
        devices: Vec<String> = "devices",
        /// Spare devices.
        spares: Vec<String> = "spares",
        /// Superblock version (0.90, 1.0, 1.1, 1.2, ddf, imsm).
        metadata: Option<String> = "metadata",
        /// Chunk size in bytes.
        chunk: Option<u64> = "chunk",
        /// Layout (left-symmetric, n2, ...).
        layout: Option<String> = "layout",
        /// Array name (`host:root`).
        name: Option<String> = "name",
        /// Array UUID (mdadm's colon form).
        uuid: Option<String> = "uuid",
        /// Array size in bytes.
        size: Option<u64> = "size",
        /// Space used on each member in bytes (`mdadm --size`; ReaR's `size=`).
        dev_size: Option<u64> = "dev_size",
        /// Write-intent bitmap: `internal`, or the path of an external bitmap file.
        bitmap: Option<String> = "bitmap",
        /// Partition table on the array (partitioned md).
        table: Option<PartTable> = "table",
        /// Disk identifier of that partition table.
        ptuuid: Option<String> = "ptuuid",
    }
}

record! {
    /// A device-mapper multipath device.
    Multipath = "multipath" {
        /// Device (`/dev/mapper/mpatha`).
        dev: String = "dev",
        /// WWID.
        wwid: Option<String> = "wwid",
        /// Size in bytes.
        size: u64 = "size",
        /// The path devices (`/dev/sdb,/dev/sdc`).
        slaves: Vec<String> = "slaves",
        /// Partition table on the multipath device.
        table: Option<PartTable> = "table",
        /// Disk identifier of that partition table.
        ptuuid: Option<String> = "ptuuid",
    }
}

record! {
    /// A LUKS container and the name of its mapping.
    Crypt = "crypt" {
        /// Mapping name (`cr_root` for `/dev/mapper/cr_root`).
        name: String = "name",
        /// The device that holds the LUKS header.
        dev: String = "dev",
        /// LUKS version.
        version: LuksVersion = "type",
        /// Cipher with mode (`aes-xts-plain64`).
        cipher: Option<String> = "cipher",
        /// Master key size in bits.
        key_size: Option<u64> = "key_size",
        /// Hash used for the key slots / digest.
        hash: Option<String> = "hash",
        /// LUKS UUID.
        uuid: Option<String> = "uuid",
        /// PBKDF of the first key slot (argon2id, argon2i, pbkdf2).
        pbkdf: Option<String> = "pbkdf",
        /// LUKS2 label.
        label: Option<String> = "label",
        /// LUKS2 subsystem.
        subsystem: Option<String> = "subsystem",
        /// LUKS2 encryption sector size in bytes.
        sector_size: Option<u64> = "sector_size",
        /// Offset of the encrypted data in bytes.
        data_offset: Option<u64> = "data_offset",
        /// Key file to use at recreation (ReaR `keyfile=`).
        keyfile: Option<String> = "keyfile",
        /// Passphrase in clear text (ReaR `password=`; only if the admin put it there).
        password: Option<String> = "password",
    }
}

record! {
    /// An LVM physical volume.
    Pv = "pv" {
        /// The device (`/dev/sda2`, `/dev/md0`, `/dev/mapper/cr_lvm`).
        dev: String = "dev",
        /// The volume group it belongs to (none for an orphan PV).
        vg: Option<String> = "vg",
        /// PV UUID.
        uuid: Option<String> = "uuid",
        /// PV size in bytes.
        size: Option<u64> = "size",
    }
}

record! {
    /// An LVM volume group.
    Vg = "vg" {
        /// VG name.
        name: String = "name",
        /// Physical extent size in bytes.
        extent_size: u64 = "extent_size",
        /// Number of extents.
        extents: Option<u64> = "extents",
        /// Size in bytes.
        size: Option<u64> = "size",
        /// VG UUID.
        uuid: Option<String> = "uuid",
    }
}

record! {
    /// An LVM logical volume.
    Lv = "lv" {
        /// VG name.
        vg: String = "vg",
        /// LV name.
        name: String = "name",
        /// Size in bytes (virtual size for a thin volume).
        size: u64 = "size",
        /// Segment layout.
        layout: LvLayout = "layout",
        /// Number of stripes.
        stripes: Option<u32> = "stripes",
        /// Stripe size in bytes.
        stripe_size: Option<u64> = "stripe_size",
        /// Number of mirrors (mirror and raid1 layouts; ReaR counts copies minus one).
        mirrors: Option<u32> = "mirrors",
        /// Thin pool name (thin volumes).
        pool: Option<String> = "pool",
        /// Thin pool metadata size in bytes.
        pool_metadata_size: Option<u64> = "pool_metadata_size",
        /// Thin pool chunk size in bytes.
        chunk_size: Option<u64> = "chunk_size",
        /// LV UUID.
        uuid: Option<String> = "uuid",
    }
}

record! {
    /// A filesystem, with the mount point it is mounted on and what mkfs needs to recreate it.
    Filesystem = "fs" {
        /// The device it lives on.
        dev: String = "dev",
        /// Filesystem type.
        fstype: FsType = "type",
        /// Mount point (the first one for a btrfs mounted several times).
        mountpoint: Option<String> = "mountpoint",
        /// Mount options.
        options: Option<String> = "options",
        /// Filesystem UUID (vfat: the volume ID as `ABCD-1234`).
        uuid: Option<String> = "uuid",
        /// Label.
        label: Option<String> = "label",
        /// Block size in bytes (ext, xfs).
        block_size: Option<u64> = "block_size",
        /// Inode size in bytes (ext, xfs).
        inode_size: Option<u64> = "inode_size",
        /// Bytes per inode (ext; block count × block size / inode count).
        bytes_per_inode: Option<u64> = "bytes_per_inode",
        /// Reserved blocks: a count, or a percentage ending in `%` (ReaR).
        reserved_blocks: Option<String> = "reserved_blocks",
        /// Maximum mount count (ext; -1 disables).
        max_mounts: Option<i64> = "max_mounts",
        /// Check interval in seconds (ext).
        check_interval: Option<u64> = "check_interval",
        /// Default mount options stored in the superblock (ext).
        default_mount_options: Option<String> = "default_mount_options",
        /// Features: ext feature names, or xfs `name=0|1` settings.
        features: Vec<String> = "features",
        /// Sector size in bytes (xfs, btrfs).
        sector_size: Option<u64> = "sector_size",
        /// Allocation group count (xfs).
        agcount: Option<u64> = "agcount",
        /// Stripe unit in bytes (xfs).
        sunit: Option<u64> = "sunit",
        /// Stripe width in bytes (xfs).
        swidth: Option<u64> = "swidth",
        /// Internal log size in bytes (xfs).
        log_size: Option<u64> = "log_size",
        /// FAT size: 12, 16 or 32 (vfat).
        fat_size: Option<u32> = "fat_size",
        /// Node size in bytes (btrfs).
        node_size: Option<u64> = "node_size",
        /// Data block group profile: single, dup, raid0, raid1, ... (btrfs).
        data_profile: Option<String> = "data_profile",
        /// Metadata block group profile (btrfs).
        metadata_profile: Option<String> = "metadata_profile",
    }
}

record! {
    /// A btrfs subvolume.
    BtrfsSubvol = "subvol" {
        /// The device of the btrfs filesystem.
        dev: String = "dev",
        /// Subvolume ID.
        id: u64 = "id",
        /// Path relative to the top level (`@home`, `@/var/lib/machines`).
        path: String = "path",
        /// It is the default subvolume.
        default: bool = "default",
        /// It is a snapshot (recorded for documentation, never recreated; ReaR does the same).
        snapshot: bool = "snapshot",
        /// It has the no-copy-on-write attribute.
        nocow: bool = "nocow",
    }
}

record! {
    /// A btrfs subvolume mounted somewhere else than the filesystem's own mount point.
    BtrfsMount = "btrfsmount" {
        /// The device of the btrfs filesystem.
        dev: String = "dev",
        /// Mount point.
        mountpoint: String = "mountpoint",
        /// Subvolume path mounted there.
        subvol: Option<String> = "subvol",
        /// Mount options.
        options: Option<String> = "options",
    }
}

record! {
    /// A swap area on a device.
    Swap = "swap" {
        /// The device (or swap file path).
        dev: String = "dev",
        /// Swap UUID.
        uuid: Option<String> = "uuid",
        /// Swap label.
        label: Option<String> = "label",
        /// Size in bytes.
        size: Option<u64> = "size",
    }
}

record! {
    /// The boot loader of the system.
    Bootloader = "bootloader" {
        /// Which boot loader.
        kind: BootloaderKind = "kind",
        /// Disks the boot code is installed on (BIOS).
        disks: Vec<String> = "disks",
        /// Mount point of the EFI system partition (UEFI).
        esp: Option<String> = "esp",
        /// The EFI loader path of the current boot entry (`\EFI\debian\shimx64.efi`).
        loader: Option<String> = "loader",
    }
}

record! {
    /// An EFI boot manager entry (`efibootmgr -v`).
    EfiEntry = "efientry" {
        /// Boot number (`0001`).
        num: String = "num",
        /// Entry label.
        label: String = "label",
        /// The entry is active.
        active: bool = "active",
        /// Position in BootOrder (0 = first), when listed there.
        order: Option<u32> = "order",
        /// The entry is BootCurrent.
        current: bool = "current",
        /// PARTUUID of the partition the loader is on.
        partuuid: Option<String> = "partuuid",
        /// Loader file path (`\EFI\debian\shimx64.efi`).
        loader: Option<String> = "loader",
        /// The whole device path as efibootmgr printed it.
        path: Option<String> = "path",
    }
}

record! {
    /// A ReaR component this version cannot model (drbd, opaldisk, smartarray, logicaldrive,
    /// dasd_channel, ...), kept verbatim so that importing and exporting a ReaR file keeps it.
    Foreign = "foreign" {
        /// The ReaR line, without a leading `#`.
        rear: String = "rear",
    }
}

/// The layout file format version written by this code.
pub const FORMAT_VERSION: u32 = 1;

/// One storage component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Component {
    Disk(Disk),
    Partition(Partition),
    Raid(Raid),
    Multipath(Multipath),
    Crypt(Crypt),
    Pv(Pv),
    Vg(Vg),
    Lv(Lv),
    Filesystem(Filesystem),
    BtrfsSubvol(BtrfsSubvol),
    BtrfsMount(BtrfsMount),
    Swap(Swap),
    Bootloader(Bootloader),
    EfiEntry(EfiEntry),
    Foreign(Foreign),
}

/// Doubles dashes as device-mapper does in `/dev/mapper/<vg>-<lv>`.
pub fn dm_escape(name: &str) -> String {
    name.replace('-', "--")
}

/// The `/dev/mapper/` name of an LV.
pub fn lv_device(vg: &str, lv: &str) -> String {
    format!("/dev/mapper/{}-{}", dm_escape(vg), dm_escape(lv))
}

impl Component {
    /// The record keyword (`disk`, `part`, ...).
    pub fn keyword(&self) -> &'static str {
        use super::fields::Record;
        match self {
            Component::Disk(_) => Disk::KEYWORD,
            Component::Partition(_) => Partition::KEYWORD,
            Component::Raid(_) => Raid::KEYWORD,
            Component::Multipath(_) => Multipath::KEYWORD,
            Component::Crypt(_) => Crypt::KEYWORD,
            Component::Pv(_) => Pv::KEYWORD,
            Component::Vg(_) => Vg::KEYWORD,
            Component::Lv(_) => Lv::KEYWORD,
            Component::Filesystem(_) => Filesystem::KEYWORD,
            Component::BtrfsSubvol(_) => BtrfsSubvol::KEYWORD,
            Component::BtrfsMount(_) => BtrfsMount::KEYWORD,
            Component::Swap(_) => Swap::KEYWORD,
            Component::Bootloader(_) => Bootloader::KEYWORD,
            Component::EfiEntry(_) => EfiEntry::KEYWORD,
            Component::Foreign(_) => Foreign::KEYWORD,
        }
    }

    /// The component's ID, in ReaR's naming (see the module documentation).
    pub fn id(&self) -> String {
        match self {
            Component::Disk(d) => d.dev.clone(),
            Component::Partition(p) => p.dev.clone(),
            Component::Raid(r) => r.dev.clone(),
            Component::Multipath(m) => m.dev.clone(),
            Component::Crypt(c) => format!("/dev/mapper/{}", c.name),
            Component::Pv(p) => format!("pv:{}", p.dev),
            Component::Vg(v) => format!("/dev/{}", v.name),
            Component::Lv(l) => lv_device(&l.vg, &l.name),
            Component::Filesystem(f) => {
                format!("fs:{}", f.mountpoint.as_deref().unwrap_or(&f.dev))
            }
            Component::BtrfsSubvol(s) => format!("btrfssubvol:{}:{}", s.dev, s.path),
            Component::BtrfsMount(m) => format!("btrfsmountedsubvol:{}", m.mountpoint),
            Component::Swap(s) => format!("swap:{}", s.dev),
            Component::Bootloader(_) => "bootloader".to_string(),
            Component::EfiEntry(e) => format!("efientry:{}", e.num),
            Component::Foreign(f) => {
                let mut w = f.rear.split_whitespace();
                let kw = w.next().unwrap_or("");
                format!("{kw}:{}", w.next().unwrap_or(""))
            }
        }
    }

    /// The block device this component provides to others, if any (a partition, an LV, a LUKS
    /// mapping, ...).
    pub fn provides_device(&self) -> Option<String> {
        match self {
            Component::Disk(_)
            | Component::Partition(_)
            | Component::Raid(_)
            | Component::Multipath(_)
            | Component::Crypt(_)
            | Component::Lv(_) => Some(self.id()),
            _ => None,
        }
    }

    /// The mount point this component mounts, if any.
    pub fn mountpoint(&self) -> Option<&str> {
        match self {
            Component::Filesystem(f) => f.mountpoint.as_deref(),
            Component::BtrfsMount(m) => Some(&m.mountpoint),
            _ => None,
        }
    }
}

/// One line of the layout: a component, whether it is excluded, and the comments above it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The component.
    pub component: Component,
    /// Why it is excluded from recreation (`EXCLUDE_MOUNTPOINTS=/tmp`), or `None` when it is
    /// recreated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// Comment lines written above it (without the leading `#`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
}

impl Entry {
    /// An included entry without comments.
    pub fn new(component: Component) -> Self {
        Entry {
            component,
            excluded: None,
            comments: Vec::new(),
        }
    }
}

/// A whole disk layout.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Layout {
    /// Where the layout comes from.
    pub header: Header,
    /// The components, in file order.
    pub entries: Vec<Entry>,
    /// Comment lines after the last component.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trailing_comments: Vec<String>,
}

/// A problem found by [`Layout::validate`], naming the entry (its index in `entries`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the entry in [`Layout::entries`].
    pub entry: usize,
    /// What is wrong.
    pub message: String,
}

impl Layout {
    /// An empty layout with a current-version header.
    pub fn new() -> Self {
        Layout {
            header: Header {
                version: FORMAT_VERSION,
                ..Header::default()
            },
            ..Layout::default()
        }
    }

    /// Appends an included component.
    pub fn push(&mut self, component: Component) {
        self.entries.push(Entry::new(component));
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.entries.iter().map(|e| &e.component)
    }

    /// The entry with this ID.
    pub fn find(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.component.id() == id)
    }

    /// Index of the entry that provides `device`, accepting the `/dev/<vg>/<lv>` and
    /// `/dev/mapper/<vg>-<lv>` spellings for LVs.
    fn device_index(&self) -> HashMap<String, usize> {
        let mut map = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(dev) = e.component.provides_device() {
                map.entry(dev).or_insert(i);
            }
            if let Component::Lv(l) = &e.component {
                map.entry(format!("/dev/{}/{}", l.vg, l.name)).or_insert(i);
            }
        }
        map
    }

    /// The IDs each entry depends on, by entry index. A reference to something that is not in
    /// the layout is reported as `Err(reference)` so validation can name it.
    pub fn dependencies(&self) -> Vec<Vec<Result<usize, String>>> {
        let devices = self.device_index();
        let ids: HashMap<String, usize> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.component.id(), i))
            .collect();
        let dev = |d: &str| devices.get(d).copied().ok_or_else(|| d.to_string());
        let id = |d: &str| ids.get(d).copied().ok_or_else(|| d.to_string());
        // mount points, for nesting: the nearest mounted ancestor of a mount point
        let mounts: BTreeMap<&str, usize> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.component.mountpoint().map(|m| (m, i)))
            .collect();
        let parent_mount = |mp: &str, me: usize| -> Option<usize> {
            let mut path = std::path::Path::new(mp);
            while let Some(parent) = path.parent() {
                let p = parent.to_str().unwrap_or("/");
                if let Some(&i) = mounts.get(p)
                    && i != me
                {
                    return Some(i);
                }
                path = parent;
            }
            None
        };
        // btrfs filesystems by device
        let btrfs_fs = |d: &str| {
            self.entries
                .iter()
                .position(|e| matches!(&e.component, Component::Filesystem(f) if f.dev == d))
                .ok_or_else(|| format!("fs on {d}"))
        };

        self.entries
            .iter()
            .enumerate()
            .map(|(me, e)| {
                let mut deps = Vec::new();
                match &e.component {
                    Component::Disk(_) | Component::EfiEntry(_) | Component::Foreign(_) => {}
                    Component::Partition(p) => deps.push(dev(&p.disk)),
                    Component::Raid(r) => {
                        deps.extend(r.devices.iter().chain(&r.spares).map(|d| dev(d)));
                    }
                    // ReaR writes no disk lines for the paths of a multipath device, so a
                    // path that is not in the layout is not an error
                    Component::Multipath(m) => {
                        deps.extend(m.slaves.iter().filter_map(|d| dev(d).ok()).map(Ok));
                    }
                    Component::Crypt(c) => deps.push(dev(&c.dev)),
                    Component::Pv(p) => deps.push(dev(&p.dev)),
                    Component::Vg(v) => {
                        for (i, other) in self.entries.iter().enumerate() {
                            if let Component::Pv(p) = &other.component
                                && p.vg.as_deref() == Some(v.name.as_str())
                            {
                                deps.push(Ok(i));
                            }
                        }
                    }
                    Component::Lv(l) => {
                        deps.push(id(&format!("/dev/{}", l.vg)));
                        if let Some(pool) = &l.pool {
                            deps.push(id(&lv_device(&l.vg, pool)));
                        }
                    }
                    Component::Filesystem(f) => {
                        deps.push(dev(&f.dev));
                        if let Some(mp) = &f.mountpoint {
                            deps.extend(parent_mount(mp, me).map(Ok));
                        }
                    }
                    Component::BtrfsSubvol(s) => deps.push(btrfs_fs(&s.dev)),
                    Component::BtrfsMount(m) => {
                        deps.push(btrfs_fs(&m.dev));
                        if let Some(sv) = &m.subvol {
                            let sv = sv.trim_start_matches('/');
                            if let Some(i) = self.entries.iter().position(|e| {
                                matches!(&e.component, Component::BtrfsSubvol(s)
                                    if s.dev == m.dev && s.path.trim_start_matches('/') == sv)
                            }) {
                                deps.push(Ok(i));
                            }
                        }
                        deps.extend(parent_mount(&m.mountpoint, me).map(Ok));
                    }
                    Component::Swap(s) => {
                        // a swap file has no device component
                        if s.dev.starts_with("/dev/") {
                            deps.push(dev(&s.dev));
                        }
                    }
                    Component::Bootloader(b) => {
                        deps.extend(b.disks.iter().map(|d| dev(d)));
                        if let Some(esp) = &b.esp
                            && let Some(&i) = mounts.get(esp.as_str())
                        {
                            deps.push(Ok(i));
                        }
                    }
                }
                deps
            })
            .collect()
    }

    /// Checks that every reference of an included component resolves, that IDs are unique and
    /// that there is no dependency cycle. Returns every problem found.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            let id = e.component.id();
            if let Some(first) = seen.insert(id.clone(), i) {
                problems.push(Problem {
                    entry: i,
                    message: format!(
                        "component {id} is defined twice (first as entry {})",
                        first + 1
                    ),
                });
            }
        }
        let deps = self.dependencies();
        for (i, list) in deps.iter().enumerate() {
            // an excluded component is not recreated, so what it sits on need not be known
            if self.entries[i].excluded.is_some() {
                continue;
            }
            for d in list {
                if let Err(missing) = d {
                    problems.push(Problem {
                        entry: i,
                        message: format!(
                            "{} depends on {missing}, which is not in the layout",
                            self.entries[i].component.id()
                        ),
                    });
                }
            }
        }
        if let Err(cycle) = self.order_from(&deps) {
            problems.push(cycle);
        }
        problems
    }

    /// The entries in dependency order (every entry after everything it depends on), keeping
    /// file order where there is a choice. Unresolved references are ignored here; a cycle is an
    /// error naming its components.
    pub fn dependency_order(&self) -> Result<Vec<usize>, Problem> {
        self.order_from(&self.dependencies())
    }

    fn order_from(&self, deps: &[Vec<Result<usize, String>>]) -> Result<Vec<usize>, Problem> {
        // depth-first post-order with colouring; a grey node reached again is a cycle
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            White,
            Grey,
            Black,
        }
        let adj: Vec<Vec<usize>> = deps
            .iter()
            .map(|list| {
                list.iter()
                    .filter_map(|d| d.as_ref().ok().copied())
                    .collect()
            })
            .collect();
        let n = self.entries.len();
        let mut mark = vec![Mark::White; n];
        let mut order = Vec::with_capacity(n);
        for start in 0..n {
            if mark[start] != Mark::White {
                continue;
            }
            // explicit stack of (node, position in its dependency list)
            let mut stack = vec![(start, 0usize)];
            mark[start] = Mark::Grey;
            while let Some(top) = stack.last_mut() {
                let (node, pos) = *top;
                if pos == adj[node].len() {
                    mark[node] = Mark::Black;
                    order.push(node);
                    stack.pop();
                    continue;
                }
                top.1 += 1;
                let d = adj[node][pos];
                match mark[d] {
                    Mark::White => {
                        mark[d] = Mark::Grey;
                        stack.push((d, 0));
                    }
                    Mark::Grey => {
                        let from = stack.iter().position(|(s, _)| *s == d).unwrap_or(0);
                        let mut names: Vec<String> = stack[from..]
                            .iter()
                            .map(|(s, _)| self.entries[*s].component.id())
                            .collect();
                        names.push(self.entries[d].component.id());
                        return Err(Problem {
                            entry: d,
                            message: format!("dependency cycle: {}", names.join(" -> ")),
                        });
                    }
                    Mark::Black => {}
                }
            }
        }
        Ok(order)
    }

    /// The entries that depend on entry `index`, directly or not (ReaR's child components),
    /// in layout order.
    pub fn dependents_of(&self, index: usize) -> Vec<usize> {
        let deps = self.dependencies();
        let mut marked = vec![false; self.entries.len()];
        marked[index] = true;
        let mut changed = true;
        while changed {
            changed = false;
            for (i, list) in deps.iter().enumerate() {
                if !marked[i] && list.iter().any(|d| matches!(d, Ok(j) if marked[*j])) {
                    marked[i] = true;
                    changed = true;
                }
            }
        }
        (0..self.entries.len())
            .filter(|&i| i != index && marked[i])
            .collect()
    }
}
