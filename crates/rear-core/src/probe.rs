//! Capturing the disk layout of the running system.
//!
//! Contract:
//! - [`probe_layout`] runs read-only tools through the command runner and builds a
//!   [`Layout`]: lsblk for the device tree, sfdisk for partition tables, blkid for signatures,
//!   findmnt for mounts, swapon, LVM's JSON reports, mdadm, cryptsetup luksDump, tune2fs,
//!   xfs_info, btrfs and efibootmgr. It never changes the system.
//! - Each tool's output is read by a pure parser in its own submodule, tested on real captures.
//! - Exclusions ([`ProbeOptions`]: ReaR's `EXCLUDE_MOUNTPOINTS`, `EXCLUDE_VG`,
//!   `ONLY_INCLUDE_VG`, `EXCLUDE_RECREATE`, `AUTOEXCLUDE_DISKS`, `AUTOEXCLUDE_PATH`,
//!   `AUTOEXCLUDE_MULTIPATH`) mark components as excluded, with the reason, together with
//!   everything that depends on them; nothing is dropped from the layout.
//! - The command lines are those of `fixtures/capture.sh`, so [`scenario::fake_runner`] can
//!   replay a captured scenario directory through the whole probe.

pub mod blkid;
pub mod btrfs;
pub mod efibootmgr;
pub mod findmnt;
pub mod lsblk;
pub mod luks;
pub mod lvm;
pub mod mdadm;
pub mod scenario;
pub mod sfdisk;
pub mod swapon;
pub mod tune2fs;
pub mod xfs_info;

use std::collections::HashMap;
use std::path::PathBuf;

use tracing::{debug, warn};

use crate::cmd::{Cmd, Runner, tools};
use crate::layout::model::{
    Bootloader, BootloaderKind, BtrfsMount, BtrfsSubvol, Component, Crypt, Disk, EfiEntry,
    FORMAT_VERSION, Filesystem, FsType, Header, Layout, LuksVersion, Lv, LvLayout, Multipath,
    PartRole, PartTable, Partition, Pv, Raid, Swap, Vg, lv_device,
};
use crate::{Error, Result};

/// What to probe and what to exclude. Field names follow ReaR's variables.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProbeOptions {
    /// `EXCLUDE_MOUNTPOINTS`: mount points whose filesystems are not recreated.
    pub exclude_mountpoints: Vec<String>,
    /// `EXCLUDE_VG`: volume groups not recreated.
    pub exclude_vg: Vec<String>,
    /// `ONLY_INCLUDE_VG`: when not empty, every other VG is excluded.
    pub only_include_vg: Vec<String>,
    /// `EXCLUDE_RECREATE`: component IDs (`fs:/data`, `/dev/vg1`, `pv:/dev/sdb1`).
    pub exclude_recreate: Vec<String>,
    /// `AUTOEXCLUDE_DISKS`: exclude disks no included filesystem or swap uses.
    pub autoexclude_disks: bool,
    /// `AUTOEXCLUDE_PATH`: exclude filesystems mounted below these paths.
    pub autoexclude_path: Vec<String>,
    /// `AUTOEXCLUDE_MULTIPATH`: exclude multipath devices and what is on them.
    pub autoexclude_multipath: bool,
    /// Treat loop devices as disks (tests on loop devices; never on by default).
    pub include_loop_devices: bool,
    /// UEFI or BIOS firmware; `None` checks `/sys/firmware/efi`.
    pub uefi: Option<bool>,
    /// Root of sysfs for values older lsblk does not report (`/sys` when empty).
    pub sys_root: Option<PathBuf>,
    /// Host name to record in the header.
    pub hostname: Option<String>,
    /// Capture time to record in the header (RFC 3339).
    pub created: Option<String>,
}

impl ProbeOptions {
    /// Reads the exclusion variables from a ReaR configuration. ReaR's defaults apply when a
    /// variable is not set: `AUTOEXCLUDE_DISKS=y`, `AUTOEXCLUDE_MULTIPATH=y` and
    /// `AUTOEXCLUDE_PATH=(/media /run /mnt /tmp)`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let flag = |name: &str, default: bool| match config.get_string(name) {
            Some(v) if !v.is_empty() => config.is_true(name),
            _ => default,
        };
        let autoexclude_path = if config.get("AUTOEXCLUDE_PATH").is_some() {
            config.list("AUTOEXCLUDE_PATH")
        } else {
            ["/media", "/run", "/mnt", "/tmp"]
                .map(String::from)
                .to_vec()
        };
        ProbeOptions {
            exclude_mountpoints: config.list("EXCLUDE_MOUNTPOINTS"),
            exclude_vg: config.list("EXCLUDE_VG"),
            only_include_vg: config.list("ONLY_INCLUDE_VG"),
            exclude_recreate: config.list("EXCLUDE_RECREATE"),
            autoexclude_disks: flag("AUTOEXCLUDE_DISKS", true),
            autoexclude_path,
            autoexclude_multipath: flag("AUTOEXCLUDE_MULTIPATH", true),
            ..ProbeOptions::default()
        }
    }
}

fn probe_text(runner: &dyn Runner, cmd: Cmd) -> Result<String> {
    Ok(cmd.output_string(runner)?)
}

/// Runs a probe command whose failure only means "no information" (a tool that is not
/// installed, a device without a table); the failure is logged.
fn optional_text(runner: &dyn Runner, cmd: Cmd) -> Option<String> {
    match cmd.output_string(runner) {
        Ok(t) => Some(t),
        Err(e) => {
            debug!("optional probe failed: {e}");
            None
        }
    }
}

/// Runs a command that adds details (mkfs parameters); a failure is a warning, and the
/// component is recorded without those details.
fn detail_text(runner: &dyn Runner, cmd: Cmd) -> String {
    match cmd.output_string(runner) {
        Ok(t) => t,
        Err(e) => {
            warn!("{e}; recording the filesystem without its mkfs parameters");
            String::new()
        }
    }
}

const FS_TYPES: &[&str] = &["ext2", "ext3", "ext4", "xfs", "vfat", "btrfs"];

fn flags_for(table: &str, ptype: &str, bootable: bool, attrs: Option<&str>) -> Vec<String> {
    let mut f = Vec::new();
    let t = ptype.to_ascii_uppercase();
    let t = t.trim_start_matches("0X");
    if bootable {
        f.push("boot".to_string());
    }
    let typed = match (table, t) {
        ("gpt", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") | ("dos", "EF") => Some("esp"),
        ("gpt", "21686148-6449-6E6F-744E-656564454649") => Some("bios_grub"),
        ("gpt", "A19D880F-05FC-4D3B-A006-743F0F84911E") | ("dos", "FD") => Some("raid"),
        ("gpt", "E6D6D379-F507-44C2-A23C-238F2A3DF928") | ("dos", "8E") => Some("lvm"),
        ("gpt", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F") | ("dos", "82") => Some("swap"),
        _ => None,
    };
    f.extend(typed.map(str::to_string));
    if attrs.is_some_and(|a| a.contains("LegacyBIOSBootable")) {
        f.push("legacy_boot".to_string());
    }
    f
}

/// Captures the layout of the running system. See the module documentation.
///
/// # Errors
/// A failing mandatory tool (lsblk, blkid, findmnt) or unreadable output, naming the command.
pub fn probe_layout(runner: &dyn Runner, opts: &ProbeOptions) -> Result<Layout> {
    let lsblk_cmd = Cmd::probe(tools::LSBLK)
        .args(["-J", "-b", "-O"])
        .describe("listing block devices");
    let mut devices = match lsblk_cmd.output_string(runner) {
        Ok(text) => lsblk::flatten(&lsblk::parse_lsblk_json(&text)?),
        // util-linux before 2.27 (RHEL 7) has no JSON output; its KEY="value" pairs carry the
        // same columns
        Err(e) => {
            warn!("{e}; falling back to lsblk -P");
            let pairs = Cmd::probe(tools::LSBLK)
                .args(["-P", "-b", "-O"])
                .describe("listing block devices")
                .output_string(runner)?;
            lsblk::parse_lsblk_pairs(&pairs)
        }
    };
    let sys_root = opts
        .sys_root
        .clone()
        .unwrap_or_else(|| PathBuf::from("/sys"));
    lsblk::backfill_from_sys(&mut devices, &sys_root);

    let blkid_text = probe_text(
        runner,
        Cmd::probe(tools::BLKID)
            .args(["-o", "export"])
            .describe("reading filesystem signatures")
            .allow_exit_codes(&[2]),
    )?;
    let blkid: HashMap<String, blkid::BlkidDevice> = blkid::parse_blkid_export(&blkid_text)
        .into_iter()
        .map(|d| (d.devname.clone(), d))
        .collect();

    let mounts = findmnt::parse_findmnt_json(&probe_text(
        runner,
        Cmd::probe(tools::FINDMNT)
            .args(["-J", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS,UUID,LABEL"])
            .describe("listing mounted filesystems"),
    )?)?;

    let swaps = optional_text(
        runner,
        Cmd::probe(tools::SWAPON)
            .args([
                "--show=NAME,TYPE,SIZE,USED,PRIO,UUID,LABEL",
                "--bytes",
                "--raw",
            ])
            .describe("listing active swap"),
    )
    .map(|t| swapon::parse_swapon(&t))
    .unwrap_or_default();

    let mut layout = Layout::new();
    layout.header = Header {
        version: FORMAT_VERSION,
        hostname: opts.hostname.clone(),
        created: opts.created.clone(),
        source: Some(format!("rear-rs {} probe", crate::VERSION)),
    };

    let is_disk = |b: &lsblk::BlockDevice| {
        let name = &b.dev.name;
        (b.dev.dtype == "disk" || (b.dev.dtype == "loop" && opts.include_loop_devices))
            && b.parents.is_empty()
            && !name.starts_with("zram")
            && !name.starts_with("ram")
            && b.dev.size.unwrap_or(0) > 0
    };
    let has_table = |b: &lsblk::BlockDevice, devices: &[lsblk::BlockDevice]| {
        let path = b.dev.dev_path();
        // lsblk's PTTYPE of a partition is its disk's table type, not a table of its own
        b.dev.dtype != "part"
            && (b.dev.pttype.is_some()
                || blkid.get(&path).is_some_and(|d| d.pttype.is_some())
                || devices
                    .iter()
                    .any(|c| c.dev.dtype == "part" && c.parents.contains(&path)))
    };

    // --- disks, md arrays and multipath devices, each with its partition table -------------
    let mut tables: Vec<(String, sfdisk::PartitionTable)> = Vec::new();
    // disks (with their partitions) first, then md arrays, then multipath devices, so that the
    // layout reads in the order things are built
    let mut stacked: Vec<&lsblk::BlockDevice> = devices.iter().collect();
    stacked.sort_by_key(|b| match b.dev.dtype.as_str() {
        "disk" | "loop" => 0,
        t if t.starts_with("raid") || t == "linear" || t == "md" => 1,
        "mpath" => 2,
        _ => 3,
    });
    let is_md = |t: &str| t.starts_with("raid") || t == "linear" || t == "md";
    for b in stacked {
        // only devices that become components carry a partition table rear recreates
        if !(is_disk(b) || is_md(&b.dev.dtype) || b.dev.dtype == "mpath") {
            continue;
        }
        let path = b.dev.dev_path();
        let holds_table = has_table(b, &devices);
        let table = if holds_table {
            let cmd = Cmd::probe(tools::SFDISK)
                .args(["--json", path.as_str()])
                .describe(format!("reading the partition table of {path}"));
            match optional_text(runner, cmd) {
                Some(t) => Some(sfdisk::parse_sfdisk_json(&t)?),
                None => None,
            }
        } else {
            None
        };
        let table_kind = table.as_ref().map(|t| match t.label.as_str() {
            "dos" => PartTable::Msdos,
            other => PartTable::from(other),
        });
        let ptuuid = table.as_ref().and_then(|t| t.id.clone()).map(|id| {
            if id.starts_with("0x") {
                id
            } else {
                id.to_lowercase()
            }
        });
        if is_disk(b) {
            layout.push(Component::Disk(Disk {
                dev: path.clone(),
                size: b.dev.size.unwrap_or(0),
                table: table_kind.clone().unwrap_or(PartTable::None),
                ptuuid: ptuuid.clone(),
                log_sec: b.dev.log_sec,
                phy_sec: b.dev.phy_sec,
                first_lba: table.as_ref().and_then(|t| t.firstlba),
                last_lba: table.as_ref().and_then(|t| t.lastlba),
                model: b.dev.model.clone(),
                serial: b.dev.serial.clone(),
                wwn: b.dev.wwn.clone(),
                tran: b.dev.tran.clone(),
                removable: b.dev.rm,
            }));
        } else if is_md(&b.dev.dtype) {
            let mut d = mdadm::parse_mdadm_export(&probe_text(
                runner,
                Cmd::probe(tools::MDADM)
                    .args(["--detail", "--export", path.as_str()])
                    .describe(format!("reading md array {path}")),
            )?);
            if let Some(t) = optional_text(
                runner,
                Cmd::probe(tools::MDADM)
                    .args(["--detail", path.as_str()])
                    .describe(format!("reading md array {path}")),
            ) {
                d.merge_text(&t);
            }
            if d.devices.is_empty() {
                d.devices = b.parents.clone();
            }
            layout.push(Component::Raid(Raid {
                dev: path.clone(),
                level: d.level.unwrap_or_else(|| b.dev.dtype.clone()),
                raid_devices: d.raid_devices,
                devices: d.devices,
                spares: d.spares,
                metadata: d.metadata,
                chunk: d.chunk,
                layout: d.layout,
                name: d.name,
                uuid: d.uuid,
                size: d.size.or(b.dev.size),
                dev_size: d.dev_size,
                bitmap: d.bitmap,
                table: table_kind.clone(),
                ptuuid: ptuuid.clone(),
            }));
        } else if b.dev.dtype == "mpath" {
            // device-mapper's UUID of a multipath map is "mpath-<WWID>"
            let wwid = b
                .dev
                .maj_min
                .as_ref()
                .and_then(|mm| {
                    std::fs::read_to_string(sys_root.join("dev/block").join(mm).join("dm/uuid"))
                        .ok()
                })
                .and_then(|u| u.trim().strip_prefix("mpath-").map(str::to_string))
                .or_else(|| b.dev.wwn.clone());
            layout.push(Component::Multipath(Multipath {
                dev: path.clone(),
                wwid,
                size: b.dev.size.unwrap_or(0),
                slaves: b.parents.clone(),
                table: table_kind.clone(),
                ptuuid: ptuuid.clone(),
            }));
        }
        if let Some(t) = table {
            let sec = t.sector_size();
            let label = t.label.clone();
            for p in &t.partitions {
                let number = sfdisk::partition_number(&p.node).unwrap_or(0);
                let partuuid = p
                    .uuid
                    .as_ref()
                    .map(|u| u.to_lowercase())
                    .or_else(|| blkid.get(&p.node).and_then(|d| d.partuuid.clone()));
                let ptype = if label == "dos" {
                    format!("0x{}", p.ptype.to_lowercase())
                } else {
                    p.ptype.to_uppercase()
                };
                let role = (label == "dos").then(|| {
                    if number > 4 {
                        PartRole::Logical
                    } else if matches!(p.ptype.to_lowercase().as_str(), "5" | "f" | "85") {
                        PartRole::Extended
                    } else {
                        PartRole::Primary
                    }
                });
                layout.push(Component::Partition(Partition {
                    dev: p.node.clone(),
                    disk: path.clone(),
                    number,
                    start: p.start * sec,
                    size: p.size * sec,
                    flags: flags_for(&label, &p.ptype, p.bootable, p.attrs.as_deref()),
                    ptype: Some(ptype),
                    name: p.name.clone(),
                    role,
                    partuuid,
                    attrs: p.attrs.clone(),
                }));
            }
            tables.push((path, t));
        }
    }

    // --- LUKS ---------------------------------------------------------------------------------
    for b in devices.iter().filter(|b| b.dev.dtype == "crypt") {
        let Some(under) = b.parents.first() else {
            continue;
        };
        let is_luks = blkid
            .get(under)
            .and_then(|d| d.fstype.as_deref())
            .is_none_or(|t| t == "crypto_LUKS");
        if !is_luks {
            continue;
        }
        let dump = probe_text(
            runner,
            Cmd::probe(tools::CRYPTSETUP)
                .args(["luksDump", under.as_str()])
                .describe(format!("reading the LUKS header of {under}")),
        )?;
        let l = luks::parse_luks_dump(&dump);
        layout.push(Component::Crypt(Crypt {
            name: b.dev.name.clone(),
            dev: under.clone(),
            version: if l.version == 1 {
                LuksVersion::Luks1
            } else {
                LuksVersion::Luks2
            },
            cipher: l.cipher,
            key_size: l.key_size,
            hash: l.hash,
            uuid: l.uuid,
            pbkdf: l.pbkdf,
            label: l.label,
            subsystem: l.subsystem,
            sector_size: l.sector_size,
            data_offset: l.data_offset,
            keyfile: None,
            password: None,
        }));
    }

    // --- LVM ------------------------------------------------------------------------------------
    let uses_lvm = devices.iter().any(|b| b.dev.dtype == "lvm")
        || blkid
            .values()
            .any(|d| d.fstype.as_deref() == Some("LVM2_member"));
    if uses_lvm {
        let mut report = lvm::LvmReport::default();
        let lvm_cmds: [(&str, Vec<&str>); 3] = [
            (
                "pvs",
                vec![
                    "--reportformat",
                    "json",
                    "--units",
                    "b",
                    "--nosuffix",
                    "-o+pv_uuid,dev_size,pe_start,pv_pe_count,pv_pe_alloc_count,pv_mda_count,pv_mda_size,pv_ba_start,pv_ba_size,pv_tags",
                ],
            ),
            (
                "vgs",
                vec![
                    "--reportformat",
                    "json",
                    "--units",
                    "b",
                    "--nosuffix",
                    "-o+vg_uuid,vg_extent_size,vg_extent_count,vg_free_count,vg_mda_count,vg_mda_size,pv_count,lv_count,vg_tags",
                ],
            ),
            (
                "lvs",
                vec![
                    "-a",
                    "--reportformat",
                    "json",
                    "--units",
                    "b",
                    "--nosuffix",
                    "-o+lv_uuid,lv_full_name,lv_layout,lv_role,segtype,pool_lv,data_lv,metadata_lv,lv_metadata_size,chunk_size,stripes,stripe_size,region_size,origin,thin_id,discards,zero,lv_kernel_major,lv_kernel_minor,lv_dm_path,lv_tags",
                ],
            ),
        ];
        for (sub, args) in lvm_cmds {
            let cmd = Cmd::probe(tools::LVM)
                .arg(sub)
                .args(args)
                .describe(format!("listing LVM {sub}"));
            let line = cmd.command_line();
            report.add_json(&probe_text(runner, cmd)?, &line)?;
        }
        for pv in &report.pvs {
            layout.push(Component::Pv(Pv {
                dev: pv.name.clone(),
                vg: pv.vg.clone(),
                uuid: pv.uuid.clone(),
                size: pv.size,
            }));
        }
        for vg in &report.vgs {
            layout.push(Component::Vg(Vg {
                name: vg.name.clone(),
                extent_size: vg.extent_size.unwrap_or(4 * 1024 * 1024),
                extents: vg.extent_count,
                size: vg.size,
                uuid: vg.uuid.clone(),
            }));
        }
        // thin pools before their volumes, as they must be created first
        let mut lvs = report.lvs.clone();
        lvs.sort_by_key(|l| l.pool.is_some());
        for l in lvs {
            let layout_kind = match (l.layout.as_deref().unwrap_or(""), l.segtype.as_deref()) {
                ("thin,pool", _) | (_, Some("thin-pool")) => LvLayout::ThinPool,
                ("thin,sparse", _) | (_, Some("thin")) => LvLayout::Thin,
                (lay, _) if lay.starts_with("raid,") => LvLayout::from(&lay[5..]),
                ("mirror", _) => LvLayout::Mirror,
                ("striped", _) => LvLayout::Striped,
                ("linear", _) => LvLayout::Linear,
                (lay, _) => LvLayout::from(lay),
            };
            // lvs counts the images of a mirror or raid1 LV as its stripes; lvcreate wants
            // -m (copies minus one) for those and -i (stripes) for the striped layouts
            let mirrored = matches!(layout_kind, LvLayout::Mirror | LvLayout::Raid1);
            let striped = !mirrored
                && (matches!(
                    layout_kind,
                    LvLayout::Striped
                        | LvLayout::Raid0
                        | LvLayout::Raid4
                        | LvLayout::Raid5
                        | LvLayout::Raid6
                        | LvLayout::Raid10
                ) || l.stripes.is_some_and(|s| s > 1));
            layout.push(Component::Lv(Lv {
                vg: l.vg.clone(),
                name: l.name.clone(),
                size: l.size.unwrap_or(0),
                stripes: l.stripes.filter(|_| striped),
                stripe_size: l.stripe_size.filter(|&s| striped && s > 0),
                mirrors: l.stripes.filter(|_| mirrored).map(|s| s.saturating_sub(1)),
                pool: l.pool.clone().filter(|_| layout_kind == LvLayout::Thin),
                pool_metadata_size: l
                    .metadata_size
                    .filter(|_| layout_kind == LvLayout::ThinPool),
                chunk_size: l
                    .chunk_size
                    .filter(|&c| layout_kind == LvLayout::ThinPool && c > 0),
                uuid: l.uuid.clone(),
                layout: layout_kind,
            }));
        }
    }

    // --- filesystems, btrfs subvolumes and mounts --------------------------------------------
    let by_name = |dev: &str| {
        devices
            .iter()
            .find(|b| {
                b.dev.dev_path() == dev
                    || b.dev
                        .kname
                        .as_deref()
                        .map(|k| format!("/dev/{k}"))
                        .as_deref()
                        == Some(dev)
            })
            .map(|b| b.dev.dev_path())
    };
    let canonical = |dev: &str| -> String {
        // /dev/vg/lv, /dev/dm-N and /dev/md/NAME spellings → the name lsblk uses
        if let Some(p) = by_name(dev) {
            return p;
        }
        let parts: Vec<&str> = dev.trim_start_matches("/dev/").split('/').collect();
        if parts.len() == 2 && parts[0] != "mapper" && parts[0] != "md" {
            return lv_device(parts[0], parts[1]);
        }
        // a symlink (/dev/md/boot, /dev/disk/by-uuid/...) on the running system
        if let Some(p) = std::fs::canonicalize(dev)
            .ok()
            .and_then(|r| by_name(&r.to_string_lossy()))
        {
            return p;
        }
        dev.to_string()
    };
    let mut seen_fs: Vec<String> = Vec::new();
    for m in &mounts {
        let (Some(dev), Some(fstype)) = (m.device(), m.fstype.as_deref()) else {
            continue;
        };
        if !dev.starts_with("/dev/") || !FS_TYPES.contains(&fstype) {
            continue;
        }
        let dev = canonical(dev);
        if seen_fs.contains(&dev) {
            if fstype == "btrfs" {
                layout.push(Component::BtrfsMount(BtrfsMount {
                    dev: dev.clone(),
                    mountpoint: m.target.clone(),
                    subvol: m.subvol(),
                    options: m.options.clone(),
                }));
            }
            continue;
        }
        seen_fs.push(dev.clone());
        let bl = blkid.get(&dev).cloned().unwrap_or_default();
        let mut fs = Filesystem {
            dev: dev.clone(),
            fstype: FsType::from(fstype),
            mountpoint: Some(m.target.clone()),
            options: m.options.clone(),
            uuid: bl.uuid.clone(),
            label: bl.label.clone(),
            ..Filesystem::default()
        };
        match fstype {
            "ext2" | "ext3" | "ext4" => {
                // without the superblock the filesystem is still recorded, only less faithfully
                let t = detail_text(
                    runner,
                    Cmd::probe(tools::TUNE2FS)
                        .args(["-l", dev.as_str()])
                        .describe(format!("reading the ext superblock of {dev}")),
                );
                let e = tune2fs::parse_tune2fs(&t);
                fs.uuid = e.uuid.clone().or(fs.uuid);
                fs.label = e.label.clone();
                fs.block_size = e.block_size;
                fs.inode_size = e.inode_size;
                fs.bytes_per_inode = e.bytes_per_inode();
                fs.reserved_blocks = e.reserved_blocks.map(|r| r.to_string());
                fs.max_mounts = e.max_mounts;
                fs.check_interval = e.check_interval;
                fs.default_mount_options = e.default_mount_options.clone();
                // needs_recovery is the journal state of a mounted filesystem, not a mkfs feature
                fs.features = e
                    .features
                    .iter()
                    .filter(|f| *f != "needs_recovery")
                    .cloned()
                    .collect();
            }
            "xfs" => {
                let t = detail_text(
                    runner,
                    Cmd::probe(tools::XFS_INFO)
                        .arg(dev.as_str())
                        .describe(format!("reading the XFS geometry of {dev}")),
                );
                let x = xfs_info::parse_xfs_info(&t);
                fs.block_size = x.block_size;
                fs.sector_size = x.sector_size;
                fs.inode_size = x.inode_size;
                fs.agcount = x.agcount;
                fs.sunit = x.sunit.filter(|&s| s > 0);
                fs.swidth = x.swidth.filter(|&s| s > 0);
                fs.log_size = x.log_size;
                fs.features = x.features;
            }
            "vfat" => {
                // only a low-level probe (-p) reports the FAT size, as VERSION=FAT12/16/32
                let version = optional_text(
                    runner,
                    Cmd::probe(tools::BLKID)
                        .args(["-p", "-o", "export", dev.as_str()])
                        .describe(format!("reading the FAT type of {dev}")),
                )
                .and_then(|t| blkid::parse_blkid_export(&t).into_iter().next())
                .and_then(|d| d.version)
                .or(bl.version.clone());
                fs.fat_size = match version.as_deref() {
                    Some("FAT12") => Some(12),
                    Some("FAT16") => Some(16),
                    Some("FAT32") => Some(32),
                    _ => None,
                };
            }
            _ => {}
        }
        layout.push(Component::Filesystem(fs));
        if fstype == "btrfs" {
            let default = optional_text(
                runner,
                Cmd::probe(tools::BTRFS)
                    .args(["subvolume", "get-default", m.target.as_str()])
                    .describe(format!("reading the default subvolume of {}", m.target)),
            )
            .and_then(|t| btrfs::parse_get_default(&t));
            let list = optional_text(
                runner,
                Cmd::probe(tools::BTRFS)
                    .args([
                        "subvolume",
                        "list",
                        "-a",
                        "-p",
                        "-u",
                        "-q",
                        m.target.as_str(),
                    ])
                    .describe(format!("listing the subvolumes of {}", m.target)),
            )
            .map(|t| btrfs::parse_subvolume_list(&t))
            .unwrap_or_default();
            if let Some(t) = optional_text(
                runner,
                Cmd::probe(tools::BTRFS)
                    .args(["filesystem", "usage", "-b", m.target.as_str()])
                    .describe(format!("reading the block group profiles of {}", m.target)),
            ) {
                let (data, meta) = btrfs::parse_usage_profiles(&t);
                if let Some(Component::Filesystem(f)) = layout
                    .entries
                    .iter_mut()
                    .rev()
                    .map(|e| &mut e.component)
                    .find(|c| matches!(c, Component::Filesystem(_)))
                {
                    f.data_profile = data;
                    f.metadata_profile = meta;
                }
            }
            for s in list {
                layout.push(Component::BtrfsSubvol(BtrfsSubvol {
                    dev: dev.clone(),
                    id: s.id,
                    path: s.path,
                    default: default == Some(s.id),
                    snapshot: s.parent_uuid.is_some(),
                    nocow: false,
                }));
            }
        }
    }

    // --- swap -----------------------------------------------------------------------------------
    for s in swaps.iter().filter(|s| s.kind.as_deref() != Some("file")) {
        let dev = canonical(&s.name);
        let bl = blkid.get(&dev).cloned().unwrap_or_default();
        layout.push(Component::Swap(Swap {
            dev,
            uuid: s.uuid.clone().or(bl.uuid),
            label: s.label.clone().or(bl.label),
            size: s.size,
        }));
    }

    // --- boot loader ----------------------------------------------------------------------------
    let uefi = opts
        .uefi
        .unwrap_or_else(|| sys_root.join("firmware/efi").exists());
    probe_boot(runner, uefi, &mut layout);

    exclude_unknown_devices(&mut layout);
    exclude_unsupported(&mut layout, &blkid);
    apply_exclusions(&mut layout, opts);
    let problems = layout.validate();
    for p in &problems {
        warn!("probed layout: {}", p.message);
    }
    if let Some(cycle) = problems
        .iter()
        .find(|p| p.message.starts_with("dependency cycle"))
    {
        return Err(Error::invalid("probed layout", cycle.message.clone()));
    }
    Ok(layout)
}

/// Saves the LVM metadata of every included VG with `lvm vgcfgbackup -f DIR/<vg>.cfg <vg>`, as
/// ReaR does (`/var/lib/rear/layout/lvm/<vg>.cfg`), so that recovery can restore VGs with
/// `vgcfgrestore` and keep every UUID. The command only writes that file, so it also runs in
/// dry runs. Returns the files written.
///
/// # Errors
/// The directory cannot be created or vgcfgbackup fails (naming the VG).
pub fn save_vg_metadata(
    runner: &dyn Runner,
    layout: &Layout,
    dir: &std::path::Path,
) -> Result<Vec<PathBuf>> {
    let vgs: Vec<&str> = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none())
        .filter_map(|e| match &e.component {
            Component::Vg(v) => Some(v.name.as_str()),
            _ => None,
        })
        .collect();
    if vgs.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    let mut files = Vec::new();
    for vg in vgs {
        let file = dir.join(format!("{vg}.cfg"));
        Cmd::probe(tools::LVM)
            .arg("vgcfgbackup")
            .arg("-f")
            .arg(&file)
            .arg(vg)
            .describe(format!("saving the LVM metadata of VG {vg}"))
            .run(runner)?;
        files.push(file);
    }
    Ok(files)
}

fn probe_boot(runner: &dyn Runner, uefi: bool, layout: &mut Layout) {
    let esp = layout.components().find_map(|c| match c {
        Component::Filesystem(f) if f.fstype == FsType::Vfat => {
            let on_esp = layout.components().any(|p| {
                matches!(p, Component::Partition(p) if p.dev == f.dev && p.flags.iter().any(|x| x == "esp"))
            });
            on_esp.then(|| f.mountpoint.clone()).flatten()
        }
        _ => None,
    });
    if uefi {
        let efi = optional_text(
            runner,
            Cmd::probe(tools::EFIBOOTMGR)
                .arg("-v")
                .describe("listing EFI boot entries"),
        )
        .map(|t| efibootmgr::parse_efibootmgr(&t))
        .unwrap_or_default();
        // BootCurrent, or else the first BootOrder entry on a disk partition
        let current = efi
            .current
            .as_deref()
            .and_then(|c| efi.entries.iter().find(|e| e.num == c))
            .or_else(|| {
                efi.order.iter().find_map(|o| {
                    efi.entries
                        .iter()
                        .find(|e| e.num == *o && e.partuuid.is_some())
                })
            });
        let loader = current.and_then(|e| e.loader.clone());
        let kind = match loader.as_deref().map(str::to_ascii_lowercase) {
            Some(l) if l.contains("systemd-boot") => BootloaderKind::SystemdBoot,
            Some(l) if l.contains("grub") || l.contains("shim") => BootloaderKind::Grub2Efi,
            None if esp.is_some() => BootloaderKind::Grub2Efi,
            _ => BootloaderKind::Unknown,
        };
        layout.push(Component::Bootloader(Bootloader {
            kind,
            disks: Vec::new(),
            esp,
            loader,
        }));
        for e in &efi.entries {
            layout.push(Component::EfiEntry(EfiEntry {
                num: e.num.clone(),
                label: e.label.clone(),
                active: e.active,
                order: efi
                    .order
                    .iter()
                    .position(|o| *o == e.num)
                    .and_then(|p| u32::try_from(p).ok()),
                current: efi.current.as_deref() == Some(e.num.as_str()),
                partuuid: e.partuuid.clone(),
                loader: e.loader.clone(),
                path: e.path.clone(),
            }));
        }
    } else {
        // BIOS: GRUB goes to the disks with a BIOS boot partition, else to the disk holding /boot
        // or / (ReaR guesses the same way)
        let mut disks: Vec<String> = layout
            .components()
            .filter_map(|c| match c {
                Component::Partition(p) if p.flags.iter().any(|f| f == "bios_grub") => {
                    Some(p.disk.clone())
                }
                _ => None,
            })
            .collect();
        if disks.is_empty() {
            let boot = ["/boot", "/"].iter().find_map(|mp| {
                layout.components().find_map(|c| match c {
                    Component::Filesystem(f) if f.mountpoint.as_deref() == Some(mp) => {
                        Some(f.dev.clone())
                    }
                    _ => None,
                })
            });
            if let Some(dev) = boot {
                disks.extend(disks_under(layout, &dev));
            }
        }
        disks.dedup();
        if !disks.is_empty() {
            layout.push(Component::Bootloader(Bootloader {
                kind: BootloaderKind::Grub2Bios,
                disks,
                esp,
                loader: None,
            }));
        }
    }
}

/// The disks a device ultimately sits on.
fn disks_under(layout: &Layout, dev: &str) -> Vec<String> {
    let deps = layout.dependencies();
    let Some(start) = layout
        .entries
        .iter()
        .position(|e| e.component.provides_device().as_deref() == Some(dev))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut todo = vec![start];
    let mut seen = vec![false; layout.entries.len()];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        match &layout.entries[i].component {
            Component::Disk(d) => out.push(d.dev.clone()),
            // boot code goes on the multipath device, never on one of its paths
            Component::Multipath(m) => {
                out.push(m.dev.clone());
                continue;
            }
            _ => {}
        }
        todo.extend(deps[i].iter().filter_map(|d| d.as_ref().ok().copied()));
    }
    out.sort();
    out
}

/// Excludes what sits on a device rear does not capture (a filesystem on a loop device, an NBD
/// or a device lsblk does not list), with everything above it, as ReaR comments such lines out:
/// the layout then stays valid and can be read back.
fn exclude_unknown_devices(layout: &mut Layout) {
    let deps = layout.dependencies();
    let unknown: Vec<(usize, String)> = deps
        .iter()
        .enumerate()
        .filter_map(|(i, list)| {
            list.iter()
                .find_map(|d| d.as_ref().err())
                .map(|missing| (i, missing.clone()))
        })
        .collect();
    for (i, missing) in unknown {
        let reason = format!("it is on {missing}, which is not part of the captured layout");
        exclude_with_dependents(layout, i, &reason);
    }
}

/// Marks entry `index` and everything built on it as excluded, keeping earlier reasons.
fn exclude_with_dependents(layout: &mut Layout, index: usize, reason: &str) {
    let mut all = vec![index];
    all.extend(layout.dependents_of(index));
    for j in all {
        if layout.entries[j].excluded.is_none() {
            layout.entries[j].excluded = Some(reason.to_string());
        }
    }
}

/// Excludes what rear-rs cannot recreate, with the reason: a btrfs filesystem that spans
/// several devices (ReaR refuses those too; blkid shows its UUID on each member).
fn exclude_unsupported(layout: &mut Layout, blkid: &HashMap<String, blkid::BlkidDevice>) {
    let multi: Vec<(usize, Vec<String>)> = layout
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.component {
            Component::Filesystem(f) if f.fstype == FsType::Btrfs => {
                let uuid = f.uuid.as_deref()?;
                let mut members: Vec<String> = blkid
                    .values()
                    .filter(|d| {
                        d.fstype.as_deref() == Some("btrfs") && d.uuid.as_deref() == Some(uuid)
                    })
                    .map(|d| d.devname.clone())
                    .collect();
                members.sort();
                (members.len() > 1).then_some((i, members))
            }
            _ => None,
        })
        .collect();
    for (i, members) in multi {
        warn!(
            "btrfs on several devices ({}) cannot be recreated",
            members.join(", ")
        );
        let reason = format!(
            "multi-device btrfs ({}) is not supported; recreate it by hand",
            members.join(",")
        );
        exclude_with_dependents(layout, i, &reason);
    }
}

/// Marks excluded components (and everything that depends on them) with the reason, following
/// ReaR's exclusion variables. An entry keeps the first reason it gets.
pub fn apply_exclusions(layout: &mut Layout, opts: &ProbeOptions) {
    let exclude = |layout: &mut Layout, index: usize, reason: &str| {
        let mut all = vec![index];
        all.extend(layout.dependents_of(index));
        for i in all {
            let e = &mut layout.entries[i];
            if e.excluded.is_none() {
                e.excluded = Some(reason.to_string());
            }
        }
    };
    let count = layout.entries.len();
    for i in 0..count {
        let c = layout.entries[i].component.clone();
        if let Some(mp) = c.mountpoint() {
            if opts.exclude_mountpoints.iter().any(|x| x == mp) {
                exclude(layout, i, &format!("EXCLUDE_MOUNTPOINTS={mp}"));
            } else if let Some(p) = opts.autoexclude_path.iter().find(|p| {
                let p = p.trim_end_matches('/');
                mp.starts_with(&format!("{p}/"))
            }) {
                exclude(layout, i, &format!("AUTOEXCLUDE_PATH={p}"));
            }
        }
        let vg_name = match &c {
            Component::Vg(v) => Some(v.name.clone()),
            Component::Pv(p) => p.vg.clone(),
            _ => None,
        };
        if let Some(vg) = vg_name {
            if opts.exclude_vg.contains(&vg) {
                exclude(layout, i, &format!("EXCLUDE_VG={vg}"));
            } else if !opts.only_include_vg.is_empty() && !opts.only_include_vg.contains(&vg) {
                exclude(layout, i, &format!("ONLY_INCLUDE_VG does not list {vg}"));
            }
        }
        let id = c.id();
        if opts.exclude_recreate.contains(&id) {
            exclude(layout, i, &format!("EXCLUDE_RECREATE={id}"));
        }
        if opts.autoexclude_multipath && matches!(c, Component::Multipath(_)) {
            exclude(layout, i, "AUTOEXCLUDE_MULTIPATH");
        }
    }
    if opts.autoexclude_disks {
        // disks that hold no included filesystem, mounted subvolume or swap
        let deps = layout.dependencies();
        let mut used = vec![false; count];
        let mut todo: Vec<usize> = (0..count)
            .filter(|&i| {
                layout.entries[i].excluded.is_none()
                    && matches!(
                        layout.entries[i].component,
                        Component::Filesystem(_) | Component::BtrfsMount(_) | Component::Swap(_)
                    )
            })
            .collect();
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut used[i], true) {
                continue;
            }
            todo.extend(deps[i].iter().filter_map(|d| d.as_ref().ok().copied()));
        }
        let unused_disks: Vec<usize> = (0..count)
            .filter(|&i| matches!(layout.entries[i].component, Component::Disk(_)) && !used[i])
            .collect();
        for i in unused_disks {
            exclude(
                layout,
                i,
                "AUTOEXCLUDE_DISKS: no included filesystem or swap uses it",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::FakeRunner;
    use crate::layout::model::Vg;

    #[test]
    fn vg_metadata_for_included_vgs_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut layout = Layout::new();
        layout.push(Component::Vg(Vg {
            name: "vg0".into(),
            extent_size: 4 << 20,
            ..Vg::default()
        }));
        layout.push(Component::Vg(Vg {
            name: "vgx".into(),
            extent_size: 4 << 20,
            ..Vg::default()
        }));
        layout.entries[1].excluded = Some("EXCLUDE_VG=vgx".into());
        let want = dir.path().join("lvm/vg0.cfg");
        let line = format!("lvm vgcfgbackup -f {} vg0", want.display());
        let fake = FakeRunner::new().on(&line, "");
        let files = save_vg_metadata(&fake, &layout, &dir.path().join("lvm")).unwrap();
        assert_eq!(files, vec![want]);
        assert_eq!(fake.calls(), vec![line]);
        // a failing vgcfgbackup is an error naming the VG
        let err = save_vg_metadata(&FakeRunner::new(), &layout, dir.path()).unwrap_err();
        assert!(err.to_string().contains("vgcfgbackup"), "{err}");
    }

    #[test]
    fn options_from_rear_config() {
        use crate::config::{Config, Value};
        let vars = [
            (
                "EXCLUDE_MOUNTPOINTS",
                Value::Array(vec!["/data".into(), "/scratch".into()]),
            ),
            ("EXCLUDE_VG", Value::Array(vec!["vgbackup".into()])),
            (
                "EXCLUDE_RECREATE",
                Value::Array(vec!["fs:/srv".into(), "/dev/vg1".into()]),
            ),
            ("AUTOEXCLUDE_DISKS", Value::Scalar("no".into())),
            ("AUTOEXCLUDE_PATH", Value::Array(vec!["/media".into()])),
        ];
        let config = Config::from_vars(vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let o = ProbeOptions::from_config(&config);
        assert_eq!(o.exclude_mountpoints, vec!["/data", "/scratch"]);
        assert_eq!(o.exclude_vg, vec!["vgbackup"]);
        assert_eq!(o.exclude_recreate, vec!["fs:/srv", "/dev/vg1"]);
        assert!(!o.autoexclude_disks);
        // unset: ReaR's defaults
        assert!(o.autoexclude_multipath);
        assert_eq!(o.autoexclude_path, vec!["/media"]);
        let d = ProbeOptions::from_config(&Config::from_vars(Default::default()));
        assert!(d.autoexclude_disks);
        assert_eq!(d.autoexclude_path, vec!["/media", "/run", "/mnt", "/tmp"]);
    }
}
