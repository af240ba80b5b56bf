//! Migration: mapping the layout's disks onto the disks present, renaming devices, and resizing
//! partitions (and LVs) onto bigger or smaller disks.
//!
//! Contract:
//! - [`map_disks`] maps every included disk of the layout to a target disk: first the mapping
//!   file (`/etc/rear/mappings/disk_mappings`, lines `old new`), then same name and same size,
//!   then a single unused disk of the same size, then the best fit (the smallest unused disk
//!   that is big enough, else the biggest smaller one on which the layout can shrink). Two
//!   equally good candidates are an ambiguity: it is resolved by the mapping file or by asking
//!   (`LAYOUT_MIGRATION_MAP_<disk>`), never guessed; an unattended run without an answer fails.
//! - [`migrate`] renames disks and their partitions everywhere in the layout (a lookup, so
//!   `sda↔sdb` swaps work) and resizes partitions on disks of another size (see
//!   [`ResizeOptions`]), recording a `resized: why` note per changed component.
//! - LV rule: LVs keep their size when a PV grows (the VG gets free extents: `pvresize` runs
//!   after `vgcfgrestore`). When a PV shrinks, its VG is created with vgcreate/lvcreate
//!   (`pvcreate --restorefile` refuses a smaller PV), and if the LVs no longer fit, every
//!   non-thin LV shrinks by the same factor, rounded down to whole extents; thin volumes keep
//!   their virtual size.

use std::collections::{BTreeMap, BTreeSet};

use super::safety::SystemDevice;
use crate::config::Config;
use crate::layout::model::{Component, Layout, LvLayout, PartRole, PartTable};
use crate::ui::{Level, Question, Ui, ask};
use crate::{Error, Result};

const MIB: u64 = 1024 * 1024;

/// A disk of the running system that a layout disk can be mapped to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetDisk {
    /// Device path.
    pub dev: String,
    /// Size in bytes.
    pub size: u64,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
}

/// The disks that may be targets: whole disks that are not removable, read-only, or in
/// `protected` (write-protected, rescue medium, backup), and not loop/ram/zram devices unless
/// `include_loop` (tests).
pub fn target_disks(
    devices: &[SystemDevice],
    protected: &BTreeSet<String>,
    include_loop: bool,
) -> Vec<TargetDisk> {
    devices
        .iter()
        .filter(|d| d.dtype == "disk" || (include_loop && d.dtype == "loop"))
        .filter(|d| !d.rm && !d.ro && !protected.contains(&d.dev_path()))
        .filter(|d| !d.name.starts_with("ram") && !d.name.starts_with("zram"))
        .map(|d| TargetDisk {
            dev: d.dev_path(),
            size: d.size.unwrap_or(0),
            model: d.model.clone(),
            serial: d.serial.clone(),
        })
        .collect()
}

/// How a disk was mapped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskMap {
    /// The layout's disk.
    pub from: String,
    /// The target disk.
    pub to: String,
    /// Why (`mapping file`, `same name and size`, `only disk of the same size`, `best fit`,
    /// `answered`).
    pub reason: String,
}

/// The disk mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskMapping {
    /// Mapped disks.
    pub maps: Vec<DiskMap>,
    /// Layout disks without a target.
    pub unmapped: Vec<String>,
}

impl DiskMapping {
    /// old → new.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        self.maps
            .iter()
            .map(|m| (m.from.clone(), m.to.clone()))
            .collect()
    }

    /// Whether every disk keeps its name.
    pub fn is_identity(&self) -> bool {
        self.unmapped.is_empty() && self.maps.iter().all(|m| m.from == m.to)
    }

    /// The mapping as text for the user and the `disk_mappings` file.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for m in &self.maps {
            out.push_str(&format!("{} {}  # {}\n", m.from, m.to, m.reason));
        }
        for u in &self.unmapped {
            out.push_str(&format!("# {u} has no target disk\n"));
        }
        out
    }
}

/// Parses a `disk_mappings` file: `old new` per line, `#` comments.
pub fn parse_mapping_file(text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() != 2 {
            return Err(Error::invalid(
                format!("disk_mappings line {}", n + 1),
                format!("'{line}' is not 'old new'"),
            ));
        }
        out.push((words[0].to_string(), words[1].to_string()));
    }
    Ok(out)
}

fn layout_disks(layout: &Layout) -> Vec<(String, u64)> {
    layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none())
        .filter_map(|e| match &e.component {
            Component::Disk(d) => Some((d.dev.clone(), d.size)),
            _ => None,
        })
        .collect()
}

/// The smallest size a disk of the layout can shrink to: the end of its partitions minus what
/// the resizable partitions can give up (each keeps at least 1 MiB), plus the GPT backup.
pub fn min_disk_size(layout: &Layout, disk: &str, opts: &ResizeOptions) -> u64 {
    let Some(Component::Disk(d)) = layout.find(disk).map(|e| &e.component) else {
        return u64::MAX;
    };
    let parts = partitions_of(layout, disk);
    let end = parts.iter().map(|p| p.start + p.size).max().unwrap_or(MIB);
    if opts.mode == ResizeMode::Off {
        return end + tail_reserve(d);
    }
    let give: u64 = resizable(&parts, opts)
        .iter()
        .map(|p| p.size.saturating_sub(MIB))
        .sum();
    end.saturating_sub(give) + tail_reserve(d)
}

fn tail_reserve(d: &crate::layout::model::Disk) -> u64 {
    if d.table == PartTable::Gpt {
        33 * d.log_sec.unwrap_or(512)
    } else {
        0
    }
}

/// Maps the layout's disks onto `targets`. See the module documentation.
///
/// # Errors
/// A mapping file naming a disk that is not a target, or an ambiguity nobody resolves.
pub fn map_disks(
    layout: &Layout,
    targets: &[TargetDisk],
    mapping_file: Option<&str>,
    resize: &ResizeOptions,
    ui: &dyn Ui,
    config: &Config,
) -> Result<DiskMapping> {
    let disks = layout_disks(layout);
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut maps: Vec<DiskMap> = Vec::new();
    let mut todo: Vec<(String, u64)> = Vec::new();
    let file_pairs = mapping_file
        .map(parse_mapping_file)
        .transpose()?
        .unwrap_or_default();
    for (dev, size) in &disks {
        if let Some((_, to)) = file_pairs.iter().find(|(from, _)| from == dev) {
            if !targets.iter().any(|t| &t.dev == to) {
                return Err(Error::invalid(
                    "disk_mappings",
                    format!(
                        "{dev} is mapped to {to}, which is not a disk that may be written to here"
                    ),
                ));
            }
            if !used.insert(to.clone()) {
                return Err(Error::invalid(
                    "disk_mappings",
                    format!("{to} is the target of two disks"),
                ));
            }
            maps.push(DiskMap {
                from: dev.clone(),
                to: to.clone(),
                reason: "mapping file".into(),
            });
        } else {
            todo.push((dev.clone(), *size));
        }
    }
    // same name and size
    todo.retain(|(dev, size)| {
        if !used.contains(dev) && targets.iter().any(|t| &t.dev == dev && t.size == *size) {
            used.insert(dev.clone());
            maps.push(DiskMap {
                from: dev.clone(),
                to: dev.clone(),
                reason: "same name and size".into(),
            });
            false
        } else {
            true
        }
    });
    let mut unmapped = Vec::new();
    for (dev, size) in todo {
        let free: Vec<&TargetDisk> = targets.iter().filter(|t| !used.contains(&t.dev)).collect();
        let same: Vec<&TargetDisk> = free.iter().copied().filter(|t| t.size == size).collect();
        let (candidates, reason): (Vec<&TargetDisk>, &str) = if !same.is_empty() {
            (same, "only disk of the same size")
        } else if let Some(min) = free.iter().filter(|t| t.size > size).map(|t| t.size).min() {
            (
                free.iter().copied().filter(|t| t.size == min).collect(),
                "best fit: smallest bigger disk",
            )
        } else {
            let need = min_disk_size(layout, &dev, resize);
            match free.iter().filter(|t| t.size >= need).map(|t| t.size).max() {
                Some(max) => (
                    free.iter().copied().filter(|t| t.size == max).collect(),
                    "best fit: biggest disk the layout can shrink onto",
                ),
                None => (Vec::new(), ""),
            }
        };
        let chosen = match candidates.len() {
            0 => {
                unmapped.push(dev.clone());
                continue;
            }
            1 => (candidates[0].dev.clone(), reason.to_string()),
            _ => {
                let names: Vec<String> = candidates.iter().map(|t| t.dev.clone()).collect();
                let id = format!(
                    "LAYOUT_MIGRATION_MAP_{}",
                    dev.trim_start_matches("/dev/").replace(['/', '-'], "_")
                );
                ui.message(
                    Level::Warning,
                    &format!(
                        "{dev} ({size} bytes) could go to any of {}: which one? (never guessed)",
                        names.join(", ")
                    ),
                );
                let q = Question::new(id, format!("Target disk for {dev}")).choices(names);
                (ask(ui, config, &q)?, "answered".to_string())
            }
        };
        used.insert(chosen.0.clone());
        maps.push(DiskMap {
            from: dev,
            to: chosen.0,
            reason: chosen.1,
        });
    }
    Ok(DiskMapping { maps, unmapped })
}

/// Shows the mapping and asks `LAYOUT_MIGRATION_CONFIRM_MAPPINGS` (default yes only when
/// unattended).
///
/// # Errors
/// An answer other than yes, or no answer.
pub fn confirm_mapping(
    mapping: &DiskMapping,
    ui: &dyn Ui,
    config: &Config,
    unattended: bool,
) -> Result<()> {
    ui.message(
        Level::Info,
        &format!("Disk mapping:\n{}", mapping.to_text().trim_end()),
    );
    let mut q = Question::new(
        "LAYOUT_MIGRATION_CONFIRM_MAPPINGS",
        "Use this disk mapping? (yes/no)",
    )
    .choices(["yes", "no"]);
    if unattended {
        q = q.default_answer("yes");
    }
    if ask(ui, config, &q)? == "yes" {
        Ok(())
    } else {
        Err(Error::Aborted {
            id: "LAYOUT_MIGRATION_CONFIRM_MAPPINGS".into(),
        })
    }
}

/// The device of partition `n` on `disk`: `/dev/sda` → `/dev/sda1`, `/dev/nvme0n1`, `/dev/loop0`
/// and `/dev/md0` → `…p1`, `/dev/mapper/x` → `/dev/mapper/x-part1`.
pub fn partition_device(disk: &str, n: u32) -> String {
    if disk.starts_with("/dev/mapper/") {
        format!("{disk}-part{n}")
    } else if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

/// How partitions follow a disk of another size (ReaR's `AUTORESIZE_*` variables).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResizeOptions {
    /// Which partitions change.
    pub mode: ResizeMode,
    /// `AUTORESIZE_EXCLUDE_PARTITIONS`: flags (`boot`, `swap`, `efi`/`esp`, `bios_grub`),
    /// partition devices or GPT names that keep their size.
    pub exclude: Vec<String>,
    /// `AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE` (last-partition mode: a disk more than this much
    /// smaller is an error).
    pub shrink_limit_percent: u64,
    /// `AUTOINCREASE_DISK_SIZE_THRESHOLD_PERCENTAGE`: a disk bigger by less than this keeps the
    /// partition sizes (the extra space stays free).
    pub increase_threshold_percent: u64,
}

/// Which partitions are resized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ResizeMode {
    /// `AUTORESIZE_PARTITIONS=true`: every partition that is not excluded grows or shrinks in
    /// proportion to its size.
    Proportional,
    /// ReaR's default: only the last partition of the disk changes.
    LastPartition,
    /// `AUTORESIZE_PARTITIONS=false`: nothing changes (a smaller disk is an error).
    Off,
}

impl Default for ResizeOptions {
    fn default() -> Self {
        ResizeOptions {
            mode: ResizeMode::LastPartition,
            exclude: ["boot", "swap", "efi"].map(String::from).to_vec(),
            shrink_limit_percent: 2,
            increase_threshold_percent: 10,
        }
    }
}

impl ResizeOptions {
    /// Reads the `AUTORESIZE_*`, `AUTOSHRINK_*` and `AUTOINCREASE_*` variables.
    pub fn from_config(config: &Config) -> Self {
        let mut o = ResizeOptions::default();
        if config.is_true("AUTORESIZE_PARTITIONS") {
            o.mode = ResizeMode::Proportional;
        } else if config.is_false("AUTORESIZE_PARTITIONS") {
            o.mode = ResizeMode::Off;
        }
        if config.get("AUTORESIZE_EXCLUDE_PARTITIONS").is_some() {
            o.exclude = config.list("AUTORESIZE_EXCLUDE_PARTITIONS");
        }
        if let Some(v) = config
            .get_string("AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE")
            .and_then(|v| v.parse().ok())
        {
            o.shrink_limit_percent = v;
        }
        if let Some(v) = config
            .get_string("AUTOINCREASE_DISK_SIZE_THRESHOLD_PERCENTAGE")
            .and_then(|v| v.parse().ok())
        {
            o.increase_threshold_percent = v;
        }
        o
    }
}

/// A layout mapped and resized for the disks present.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The new layout.
    pub layout: Layout,
    /// Every device renamed, old → new (disks and partitions), for [`super::references`].
    pub renames: BTreeMap<String, String>,
    /// `resized: why` notes by component ID (partition device, LV device).
    pub notes: BTreeMap<String, Vec<String>>,
    /// VGs to create with vgcreate/lvcreate (a PV shrank).
    pub lvm_no_restore: BTreeSet<String>,
    /// PVs that grew (`pvresize` after vgcfgrestore).
    pub pvs_grown: BTreeSet<String>,
}

impl Migration {
    /// Passes the notes and LVM decisions on to the plan options.
    pub fn apply_to(&self, opts: &mut super::PlanOptions) {
        for (k, v) in &self.notes {
            opts.notes
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
        opts.lvm_no_restore
            .extend(self.lvm_no_restore.iter().cloned());
        opts.lvm_pvresize.extend(self.pvs_grown.iter().cloned());
    }
}

fn partitions_of<'a>(layout: &'a Layout, disk: &str) -> Vec<&'a crate::layout::model::Partition> {
    let mut v: Vec<_> = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none())
        .filter_map(|e| match &e.component {
            Component::Partition(p) if p.disk == disk => Some(p),
            _ => None,
        })
        .collect();
    v.sort_by_key(|p| p.start);
    v
}

fn is_fixed(p: &crate::layout::model::Partition, opts: &ResizeOptions) -> bool {
    if p.role == Some(PartRole::Extended) {
        return true;
    }
    opts.exclude.iter().any(|x| {
        let flag = match x.as_str() {
            "efi" => "esp",
            other => other,
        };
        p.flags
            .iter()
            .any(|f| f == flag || (x == "boot" && (f == "bios_grub" || f == "legacy_boot")))
            || p.dev == *x
            || p.name.as_deref() == Some(x.as_str())
    })
}

fn resizable<'a>(
    parts: &[&'a crate::layout::model::Partition],
    opts: &ResizeOptions,
) -> Vec<&'a crate::layout::model::Partition> {
    let free: Vec<_> = parts
        .iter()
        .copied()
        .filter(|p| !is_fixed(p, opts))
        .collect();
    match opts.mode {
        ResizeMode::Proportional => free,
        ResizeMode::LastPartition => {
            let last = parts
                .iter()
                .filter(|p| p.role != Some(PartRole::Extended))
                .max_by_key(|p| p.start + p.size);
            free.into_iter()
                .filter(|p| Some(p.dev.as_str()) == last.map(|l| l.dev.as_str()))
                .collect()
        }
        ResizeMode::Off => Vec::new(),
    }
}

fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1024.0 * MIB as f64))
}

/// Renames devices and resizes partitions for `mapping` onto `targets`. See the module
/// documentation.
///
/// # Errors
/// A disk that cannot hold its partitions even after shrinking, or a mapping onto a disk that
/// is not in `targets`.
pub fn migrate(
    layout: &Layout,
    mapping: &DiskMapping,
    targets: &[TargetDisk],
    opts: &ResizeOptions,
) -> Result<Migration> {
    let mut out = layout.clone();
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // unmapped disks are not recreated, nor anything on them
    for u in &mapping.unmapped {
        if let Some(i) = out.entries.iter().position(|e| e.component.id() == *u) {
            let mut all = vec![i];
            all.extend(out.dependents_of(i));
            for j in all {
                out.entries[j]
                    .excluded
                    .get_or_insert_with(|| format!("migration: no target disk for {u}"));
            }
        }
    }
    // 1. resize on the old names
    let mut part_change: BTreeMap<String, i128> = BTreeMap::new();
    for m in &mapping.maps {
        let target = targets.iter().find(|t| t.dev == m.to).ok_or_else(|| {
            Error::invalid(
                format!("disk mapping {} -> {}", m.from, m.to),
                "the target disk is not present",
            )
        })?;
        let Some(Component::Disk(d)) = out.find(&m.from).map(|e| e.component.clone()) else {
            continue;
        };
        if target.size == d.size {
            continue;
        }
        let changes = resize_disk(&out, &d, target.size, opts)?;
        for e in &mut out.entries {
            match &mut e.component {
                Component::Disk(x) if x.dev == d.dev => {
                    x.size = target.size;
                    x.last_lba = None;
                }
                Component::Partition(p) if p.disk == d.dev => {
                    if let Some((start, size)) = changes.positions.get(&p.dev)
                        && (*start, *size) != (p.start, p.size)
                    {
                        {
                            if *size != p.size {
                                part_change
                                    .insert(p.dev.clone(), i128::from(*size) - i128::from(p.size));
                                notes.entry(p.dev.clone()).or_default().push(format!(
                                    "resized: {} -> {} because {} has {} instead of {} ({})",
                                    gib(p.size),
                                    gib(*size),
                                    m.to,
                                    gib(target.size),
                                    gib(d.size),
                                    changes.why
                                ));
                            } else {
                                notes.entry(p.dev.clone()).or_default().push(format!(
                                    "moved: starts at {} instead of {} (a partition before it was resized)",
                                    start, p.start
                                ));
                            }
                            p.start = *start;
                            p.size = *size;
                        }
                    }
                }
                _ => {}
            }
        }
        if changes.positions.is_empty() && target.size > d.size {
            notes
                .entry(d.dev.clone())
                .or_default()
                .push(changes.why.clone());
        }
    }
    // 2. LVM follows resized PVs
    let (lvm_no_restore, pvs_grown) = resize_lvm(&mut out, &part_change, &mut notes);
    // 3. rename
    let mut renames = BTreeMap::new();
    for m in &mapping.maps {
        if m.from == m.to {
            continue;
        }
        renames.insert(m.from.clone(), m.to.clone());
        for p in partitions_of(layout, &m.from) {
            renames.insert(p.dev.clone(), partition_device(&m.to, p.number));
        }
    }
    rename_devices(&mut out, &renames);
    let notes = notes
        .into_iter()
        .map(|(k, v)| (renames.get(&k).cloned().unwrap_or(k), v))
        .collect();
    let pvs_grown = pvs_grown
        .into_iter()
        .map(|k| renames.get(&k).cloned().unwrap_or(k))
        .collect();
    Ok(Migration {
        layout: out,
        renames,
        notes,
        lvm_no_restore,
        pvs_grown,
    })
}

struct DiskChanges {
    positions: BTreeMap<String, (u64, u64)>,
    why: String,
}

fn resize_disk(
    layout: &Layout,
    d: &crate::layout::model::Disk,
    new_size: u64,
    opts: &ResizeOptions,
) -> Result<DiskChanges> {
    let parts = partitions_of(layout, &d.dev);
    let usable_new = new_size - tail_reserve(d);
    let last_end = parts.iter().map(|p| p.start + p.size).max().unwrap_or(0);
    let grow = new_size > d.size;
    let mode = match opts.mode {
        ResizeMode::Proportional => {
            "proportional growth/shrink of the partitions that are not boot, ESP or swap"
        }
        ResizeMode::LastPartition => {
            "only the last partition changes (AUTORESIZE_PARTITIONS is not true)"
        }
        ResizeMode::Off => "AUTORESIZE_PARTITIONS=false",
    };
    let delta: i128 = if grow {
        let pct = (new_size - d.size) * 100 / d.size.max(1);
        if pct < opts.increase_threshold_percent || opts.mode == ResizeMode::Off {
            return Ok(DiskChanges {
                positions: BTreeMap::new(),
                why: format!(
                    "not resized: {} is only {pct}% bigger (AUTOINCREASE_DISK_SIZE_THRESHOLD_PERCENTAGE={}); the extra space stays free",
                    d.dev, opts.increase_threshold_percent
                ),
            });
        }
        i128::from(new_size - d.size)
    } else {
        if last_end <= usable_new {
            return Ok(DiskChanges {
                positions: BTreeMap::new(),
                why: "the partitions fit as they are".into(),
            });
        }
        let pct = (d.size - new_size) * 100 / d.size.max(1);
        if opts.mode == ResizeMode::LastPartition && pct > opts.shrink_limit_percent {
            return Err(Error::invalid(
                format!("disk {}", d.dev),
                format!(
                    "the target disk is {pct}% smaller; only up to AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE={} is shrunk automatically (set AUTORESIZE_PARTITIONS=true for proportional shrinking, or edit the layout)",
                    opts.shrink_limit_percent
                ),
            ));
        }
        -i128::from(last_end - usable_new)
    };
    let res = resizable(&parts, opts);
    let total: u64 = res.iter().map(|p| p.size).sum();
    if res.is_empty() || total == 0 {
        if grow {
            return Ok(DiskChanges {
                positions: BTreeMap::new(),
                why: "no partition may be resized; the extra space stays free".into(),
            });
        }
        return Err(Error::invalid(
            format!("disk {}", d.dev),
            "the partitions do not fit on the smaller disk and none may be shrunk",
        ));
    }
    let mib = i128::from(MIB);
    let mut change: BTreeMap<String, i128> = BTreeMap::new();
    for p in &res {
        let share = delta * i128::from(p.size) / i128::from(total);
        change.insert(p.dev.clone(), share.div_euclid(mib) * mib);
    }
    // rounding: a shrink must free at least what is needed
    if !grow {
        let mut sum: i128 = change.values().sum();
        while sum > delta {
            let biggest = res
                .iter()
                .max_by_key(|p| i128::from(p.size) + change[&p.dev])
                .map(|p| p.dev.clone())
                .unwrap_or_default();
            *change.entry(biggest).or_default() -= mib;
            sum -= mib;
        }
    }
    for p in &res {
        if i128::from(p.size) + change[&p.dev] < mib {
            return Err(Error::invalid(
                format!("partition {}", p.dev),
                "would shrink below 1 MiB; the disk is too small",
            ));
        }
    }
    // new positions: every partition moves by the changes of the partitions before it
    let mut positions = BTreeMap::new();
    for p in &parts {
        let shift: i128 = parts
            .iter()
            .filter(|q| q.start < p.start && q.role != Some(PartRole::Extended))
            .filter(|q| !(p.role == Some(PartRole::Extended) && q.role == Some(PartRole::Logical)))
            .map(|q| change.get(&q.dev).copied().unwrap_or(0))
            .sum();
        let own: i128 = if p.role == Some(PartRole::Extended) {
            parts
                .iter()
                .filter(|q| q.role == Some(PartRole::Logical))
                .map(|q| change.get(&q.dev).copied().unwrap_or(0))
                .sum()
        } else {
            change.get(&p.dev).copied().unwrap_or(0)
        };
        let start = u64::try_from(i128::from(p.start) + shift).unwrap_or(0);
        let size = u64::try_from(i128::from(p.size) + own).unwrap_or(0);
        positions.insert(p.dev.clone(), (start, size));
    }
    let end = positions.values().map(|(s, z)| s + z).max().unwrap_or(0);
    if end > usable_new {
        return Err(Error::invalid(
            format!("disk {}", d.dev),
            format!("the resized partitions end at {end}, beyond the usable {usable_new} bytes"),
        ));
    }
    Ok(DiskChanges {
        positions,
        why: mode.to_string(),
    })
}

/// The LV rule (module documentation). Returns the VGs that must be created anew and the PVs
/// that grew.
fn resize_lvm(
    layout: &mut Layout,
    part_change: &BTreeMap<String, i128>,
    notes: &mut BTreeMap<String, Vec<String>>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    // a PV's change: its partition's, also through a LUKS container on it
    let crypt_on: BTreeMap<String, String> = layout
        .components()
        .filter_map(|c| match c {
            Component::Crypt(cr) => Some((format!("/dev/mapper/{}", cr.name), cr.dev.clone())),
            _ => None,
        })
        .collect();
    let mut vg_change: BTreeMap<String, i128> = BTreeMap::new();
    let mut shrunk = BTreeSet::new();
    let mut grown = BTreeSet::new();
    for c in layout.components() {
        if let Component::Pv(pv) = c {
            let base = crypt_on.get(&pv.dev).unwrap_or(&pv.dev);
            if let (Some(ch), Some(vg)) = (part_change.get(base), &pv.vg) {
                *vg_change.entry(vg.clone()).or_default() += ch;
                if *ch < 0 {
                    shrunk.insert(vg.clone());
                } else {
                    grown.insert(pv.dev.clone());
                }
            }
        }
    }
    for vg_name in &shrunk {
        let Some(Component::Vg(vg)) = layout
            .find(&format!("/dev/{vg_name}"))
            .map(|e| e.component.clone())
        else {
            continue;
        };
        let old_size = vg
            .size
            .or(vg.extents.map(|x| x * vg.extent_size))
            .unwrap_or(0);
        let new_size = u64::try_from(i128::from(old_size) + vg_change[vg_name]).unwrap_or(0);
        let ext = vg.extent_size.max(1);
        let lvs: Vec<usize> = (0..layout.entries.len())
            .filter(|&i| matches!(&layout.entries[i].component, Component::Lv(l) if l.vg == *vg_name && l.layout != LvLayout::Thin))
            .collect();
        let allocated: u64 = lvs
            .iter()
            .map(|&i| match &layout.entries[i].component {
                Component::Lv(l) => l.size + 2 * l.pool_metadata_size.unwrap_or(0),
                _ => 0,
            })
            .sum();
        // leave a few extents for metadata and rounding
        let capacity = new_size.saturating_sub(ext * (lvs.len() as u64 + 2));
        notes.entry(format!("/dev/{vg_name}")).or_default().push(format!(
            "created with vgcreate/lvcreate: a PV of {vg_name} is smaller on the new disk, which vgcfgrestore refuses"
        ));
        if allocated <= capacity || allocated == 0 {
            continue;
        }
        let (num, den) = (u128::from(capacity), u128::from(allocated));
        for i in lvs {
            if let Component::Lv(l) = &mut layout.entries[i].component {
                let new = u64::try_from(u128::from(l.size) * num / den).unwrap_or(0) / ext * ext;
                notes.entry(crate::layout::model::lv_device(&l.vg, &l.name)).or_default().push(format!(
                    "resized: {} -> {} because VG {vg_name} shrank to about {} (every LV shrinks by the same factor)",
                    gib(l.size),
                    gib(new),
                    gib(new_size)
                ));
                l.size = new;
            }
        }
    }
    (shrunk, grown)
}

/// Renames devices in every reference field of the layout (`renames`: old → new).
pub fn rename_devices(layout: &mut Layout, renames: &BTreeMap<String, String>) {
    let r = |s: &mut String| {
        if let Some(n) = renames.get(s.as_str()) {
            *s = n.clone();
        }
    };
    for e in &mut layout.entries {
        match &mut e.component {
            Component::Disk(d) => r(&mut d.dev),
            Component::Partition(p) => {
                r(&mut p.dev);
                r(&mut p.disk);
            }
            Component::Raid(x) => {
                x.devices.iter_mut().for_each(r);
                x.spares.iter_mut().for_each(r);
            }
            Component::Multipath(m) => m.slaves.iter_mut().for_each(r),
            Component::Crypt(c) => r(&mut c.dev),
            Component::Pv(p) => r(&mut p.dev),
            Component::Filesystem(f) => r(&mut f.dev),
            Component::BtrfsSubvol(s) => r(&mut s.dev),
            Component::BtrfsMount(m) => r(&mut m.dev),
            Component::Swap(s) => r(&mut s.dev),
            Component::Bootloader(b) => b.disks.iter_mut().for_each(r),
            Component::Vg(_)
            | Component::Lv(_)
            | Component::EfiEntry(_)
            | Component::Foreign(_) => {}
        }
    }
}

/// Whether the disk mapping must be shown and confirmed, following `MIGRATION_MODE`: `true`
/// always (even an identity mapping), `false` never, but then a mapping that is not the identity
/// is an error; unset: when the mapping is not the identity or a disk has no target (ReaR's
/// automatic migration mode, which also starts when two disks have the same size: an ambiguity
/// that [`map_disks`] already asks about).
///
/// # Errors
/// `MIGRATION_MODE=false` with a mapping that moves or drops a disk.
pub fn must_confirm_mapping(mapping: &DiskMapping, config: &Config) -> Result<bool> {
    if config.is_true("MIGRATION_MODE") {
        return Ok(true);
    }
    if config.is_false("MIGRATION_MODE") {
        if mapping.is_identity() {
            return Ok(false);
        }
        return Err(Error::invalid(
            "MIGRATION_MODE=false",
            format!(
                "the disks differ from the layout and must be mapped:\n{}set MIGRATION_MODE=true or provide /etc/rear/mappings/disk_mappings",
                mapping.to_text()
            ),
        ));
    }
    Ok(!mapping.is_identity())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn mapping(to: &str) -> DiskMapping {
        DiskMapping {
            maps: vec![DiskMap {
                from: "/dev/sda".into(),
                to: to.into(),
                reason: "test".into(),
            }],
            unmapped: Vec::new(),
        }
    }

    #[test]
    fn migration_mode_decides_confirmation() {
        let mut c = Config::new();
        assert!(!must_confirm_mapping(&mapping("/dev/sda"), &c).unwrap());
        assert!(must_confirm_mapping(&mapping("/dev/sdb"), &c).unwrap());
        c.set("MIGRATION_MODE", Value::Scalar("true".into()));
        assert!(must_confirm_mapping(&mapping("/dev/sda"), &c).unwrap());
        c.set("MIGRATION_MODE", Value::Scalar("false".into()));
        assert!(!must_confirm_mapping(&mapping("/dev/sda"), &c).unwrap());
        let err = must_confirm_mapping(&mapping("/dev/sdb"), &c)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/sda /dev/sdb"), "{err}");
    }

    #[test]
    fn partition_names_follow_the_disk() {
        assert_eq!(partition_device("/dev/sda", 1), "/dev/sda1");
        assert_eq!(partition_device("/dev/nvme0n1", 3), "/dev/nvme0n1p3");
        assert_eq!(partition_device("/dev/md0", 2), "/dev/md0p2");
        assert_eq!(
            partition_device("/dev/mapper/mpatha", 1),
            "/dev/mapper/mpatha-part1"
        );
    }

    #[test]
    fn mapping_file_syntax() {
        let pairs =
            parse_mapping_file("# comment\n/dev/sda /dev/sdb # moved\n\n/dev/sdc\t/dev/sdd\n")
                .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("/dev/sda".into(), "/dev/sdb".into()),
                ("/dev/sdc".into(), "/dev/sdd".into())
            ]
        );
        assert!(parse_mapping_file("/dev/sda\n").is_err());
    }
}
