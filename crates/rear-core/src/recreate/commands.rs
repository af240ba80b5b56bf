//! The commands that recreate each kind of component, faithfully: same partition starts, sizes,
//! types, names and PARTUUIDs (sfdisk script), same md UUID and name, same LUKS UUID, same PV,
//! VG and LV UUIDs (vgcfgrestore, with a vgcreate/lvcreate fallback), same filesystem UUIDs,
//! labels and key mkfs parameters.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{DoneCheck, PlanOptions, PlanStep, PlannedCommand, SecretInput};
use crate::cmd::{Cmd, tools};
use crate::layout::model::{
    Component, Crypt, Filesystem, FsType, Layout, Lv, LvLayout, PartRole, PartTable, Partition, Pv,
    Raid, Swap, Vg, lv_device,
};
use crate::{Error, Result};

/// Type GUIDs used when a GPT partition has no recorded type.
const GPT_LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69E4773D00";
const GPT_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const GPT_BIOS: &str = "21686148-6449-6E6F-744E-656564454649";
const GPT_RAID: &str = "A19D880F-05FC-4D3B-A006-743F0F84911E";
const GPT_LVM: &str = "E6D6D379-F507-44C2-A23C-238F2A3DF928";
const GPT_SWAP: &str = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F";

/// The path of mount point `mp` under `root`.
pub fn target_path(root: &Path, mp: &str) -> PathBuf {
    let rel = mp.trim_start_matches('/');
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Builds steps, collecting every device the plan writes or creates.
pub struct Builder<'a> {
    layout: &'a Layout,
    opts: &'a PlanOptions,
    /// Devices the plan writes or creates.
    pub devices: BTreeSet<String>,
    included: Vec<bool>,
}

fn step(id: String, component: String, description: String, done: DoneCheck) -> PlanStep {
    PlanStep {
        id,
        component,
        description,
        commands: Vec::new(),
        done_check: done,
        wait_for: Vec::new(),
        notes: Vec::new(),
    }
}

fn wipe(dev: &str) -> PlannedCommand {
    PlannedCommand::new(
        Cmd::mutate(tools::WIPEFS)
            .args(["--all", "--force", dev])
            .describe(format!("wiping old signatures on {dev}")),
    )
}

impl<'a> Builder<'a> {
    /// A builder for `layout`.
    pub fn new(layout: &'a Layout, opts: &'a PlanOptions) -> Self {
        Builder {
            layout,
            opts,
            devices: BTreeSet::new(),
            included: vec![true; layout.entries.len()],
        }
    }

    fn partitions_of(&self, disk: &str) -> Vec<&'a Partition> {
        let mut parts: Vec<&Partition> = self
            .layout
            .entries
            .iter()
            .filter(|e| {
                e.excluded.is_none() && !self.opts.exclude_recreate.contains(&e.component.id())
            })
            .filter_map(|e| match &e.component {
                Component::Partition(p) if p.disk == disk => Some(p),
                _ => None,
            })
            .collect();
        parts.sort_by_key(|p| p.number);
        parts
    }

    /// The steps that create entry `i`.
    pub fn create_steps(&mut self, i: usize) -> Result<Vec<PlanStep>> {
        let _ = &self.included;
        let c = &self.layout.entries[i].component;
        let id = c.id();
        Ok(match c {
            Component::Disk(d) => {
                self.devices.insert(d.dev.clone());
                if d.table == PartTable::None {
                    return Ok(Vec::new());
                }
                vec![self.table_step(
                    &d.dev,
                    &d.table,
                    d.ptuuid.as_deref(),
                    d.first_lba,
                    d.last_lba,
                    d.log_sec.unwrap_or(512),
                    &id,
                )?]
            }
            Component::Multipath(m) => {
                self.devices.insert(m.dev.clone());
                match &m.table {
                    Some(t) if *t != PartTable::None => {
                        vec![self.table_step(
                            &m.dev,
                            t,
                            m.ptuuid.as_deref(),
                            None,
                            None,
                            512,
                            &id,
                        )?]
                    }
                    _ => Vec::new(),
                }
            }
            Component::Partition(p) => {
                // created by its disk's partition table step
                self.devices.insert(p.dev.clone());
                Vec::new()
            }
            Component::Raid(r) => {
                let mut steps = vec![self.raid_step(r, &id)];
                if let Some(t) = r.table.as_ref().filter(|t| **t != PartTable::None) {
                    let mut s =
                        self.table_step(&r.dev, t, r.ptuuid.as_deref(), None, None, 512, &id)?;
                    s.id = format!("table:{}", r.dev);
                    steps.push(s);
                }
                steps
            }
            Component::Crypt(cr) => self.crypt_steps(cr, &id),
            Component::Pv(pv) => vec![self.pv_step(pv, &id)],
            Component::Vg(vg) => vec![self.vg_step(vg, &id)],
            Component::Lv(lv) => self.lv_step(lv, &id).into_iter().collect(),
            Component::Filesystem(f) => {
                if let FsType::Other(t) = &f.fstype {
                    return Err(Error::NotImplemented {
                        what: format!("creating a '{t}' filesystem ({id})"),
                    });
                }
                vec![self.fs_step(f, &id)]
            }
            Component::Swap(s) => vec![self.swap_step(s, &id)],
            // created together with their filesystem (see fs_step)
            Component::BtrfsSubvol(_) | Component::BtrfsMount(_) => Vec::new(),
            Component::Bootloader(_) | Component::EfiEntry(_) => Vec::new(),
            Component::Foreign(f) => {
                return Err(Error::NotImplemented {
                    what: format!("recreating ReaR component '{}'", f.rear),
                });
            }
        })
    }

    /// The steps that make entry `i`, which is on the disks already, usable (`rear mountonly`):
    /// md arrays are assembled (degraded ones too), LUKS devices opened, volume groups
    /// activated. Nothing is created or written; disks, partitions, PVs, LVs, filesystems and
    /// swap need no step (the mount steps follow). The plan's device list is the same as when
    /// recreating, so the guard and the review show the same devices.
    pub fn activate_steps(&mut self, i: usize) -> Result<Vec<PlanStep>> {
        let c = &self.layout.entries[i].component;
        let id = c.id();
        Ok(match c {
            Component::Disk(_)
            | Component::Multipath(_)
            | Component::Partition(_)
            | Component::Pv(_)
            | Component::Lv(_) => {
                // only for the device bookkeeping
                let _ = self.create_steps(i)?;
                Vec::new()
            }
            Component::Raid(r) => {
                self.devices.insert(r.dev.clone());
                let mut s = step(
                    format!("md-assemble:{}", r.dev),
                    id,
                    format!(
                        "assemble {} array {} from {}",
                        r.level,
                        r.dev,
                        r.devices.join(", ")
                    ),
                    DoneCheck::MdArray {
                        dev: r.dev.clone(),
                        uuid: r.uuid.clone(),
                    },
                );
                let mut cmd =
                    Cmd::mutate(tools::MDADM).args(["--assemble", r.dev.as_str(), "--run"]);
                if let Some(u) = &r.uuid {
                    cmd = cmd.args(["--uuid", u.as_str()]);
                }
                cmd = cmd
                    .args(r.devices.iter().chain(&r.spares))
                    .describe(format!("assembling {}", r.dev));
                s.commands.push(PlannedCommand::new(cmd));
                s.wait_for.push(r.dev.clone());
                vec![s]
            }
            Component::Crypt(cr) => self
                .crypt_steps(cr, &id)
                .into_iter()
                .filter(|s| s.id.starts_with("luks-open:"))
                .collect(),
            Component::Vg(vg) => {
                self.devices.insert(format!("/dev/{}", vg.name));
                let mut s = step(
                    format!("vg-activate:{}", vg.name),
                    id,
                    format!("activate volume group {} and its logical volumes", vg.name),
                    DoneCheck::Recorded,
                );
                s.commands.push(PlannedCommand::new(
                    Cmd::mutate(tools::LVM)
                        .args(["vgchange", "--activate", "y", vg.name.as_str()])
                        .describe(format!("activating VG {}", vg.name)),
                ));
                vec![s]
            }
            _ => Vec::new(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn table_step(
        &mut self,
        dev: &str,
        table: &PartTable,
        ptuuid: Option<&str>,
        first_lba: Option<u64>,
        last_lba: Option<u64>,
        sector: u64,
        component: &str,
    ) -> Result<PlanStep> {
        let label = match table {
            PartTable::Gpt => "gpt",
            PartTable::Msdos => "dos",
            other => {
                return Err(Error::NotImplemented {
                    what: format!("recreating a '{other}' partition table on {dev}"),
                });
            }
        };
        let gpt = label == "gpt";
        let parts = self.partitions_of(dev);
        let mut script = String::new();
        let _ = writeln!(script, "label: {label}");
        if let Some(id) = ptuuid {
            let _ = writeln!(script, "label-id: {id}");
        }
        let _ = writeln!(script, "unit: sectors");
        if gpt {
            if let Some(f) = first_lba {
                let _ = writeln!(script, "first-lba: {f}");
            }
            if let Some(l) = last_lba {
                let _ = writeln!(script, "last-lba: {l}");
            }
        }
        let _ = writeln!(script);
        let mut expected = Vec::new();
        for p in &parts {
            let (start, size) = (p.start / sector, p.size / sector);
            let _ = write!(script, "{} : start={start}, size={size}", p.dev);
            let _ = write!(script, ", type={}", partition_type(p, gpt));
            if gpt {
                if let Some(u) = &p.partuuid {
                    let _ = write!(script, ", uuid={u}");
                }
                if let Some(n) = &p.name {
                    let _ = write!(script, ", name=\"{}\"", n.replace('"', ""));
                }
                let attrs = match (&p.attrs, p.flags.iter().any(|f| f == "legacy_boot")) {
                    (Some(a), _) => Some(a.clone()),
                    (None, true) => Some("LegacyBIOSBootable".to_string()),
                    (None, false) => None,
                };
                if let Some(a) = attrs {
                    let _ = write!(script, ", attrs=\"{a}\"");
                }
            } else if p.flags.iter().any(|f| f == "boot") {
                let _ = write!(script, ", bootable");
            }
            let _ = writeln!(script);
            let uuid = if gpt { p.partuuid.clone() } else { None };
            expected.push((p.number, start, size, uuid));
        }
        let mut s = step(
            format!("disk:{dev}"),
            component.to_string(),
            format!(
                "create {} partition table on {dev} with {} partition(s)",
                if gpt { "GPT" } else { "MBR" },
                parts.len()
            ),
            DoneCheck::PartitionTable {
                disk: dev.to_string(),
                label: label.to_string(),
                id: ptuuid.map(str::to_string),
                partitions: expected,
            },
        );
        s.commands.push(wipe(dev));
        s.commands.push(PlannedCommand::new(
            Cmd::mutate(tools::SFDISK)
                .args(["--wipe", "always", "--wipe-partitions", "always", dev])
                .stdin_bytes(script)
                .describe(format!("writing the partition table of {dev}")),
        ));
        // the kernel does not always pick up new partitions of a loop or md device by itself,
        // and without udev nobody else tells it
        if dev.starts_with("/dev/mapper/") {
            // partitions of a device-mapper device (multipath) are dm mappings made by kpartx,
            // named <dev>-part<N> as Debian and SUSE do
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::KPARTX)
                    .args(["-a", "-s", "-p", "-part", dev])
                    .describe(format!("mapping the partitions of {dev}")),
            ));
        } else {
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::PARTX)
                    .args(["-u", dev])
                    .allow_exit_codes(&[1])
                    .describe(format!("updating the kernel's partitions of {dev}")),
            ));
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::PARTX)
                    .args(["-a", dev])
                    .allow_exit_codes(&[1])
                    .describe(format!("adding missing partitions of {dev} to the kernel")),
            ));
        }
        s.wait_for = parts
            .iter()
            .filter(|p| p.role != Some(PartRole::Extended))
            .map(|p| p.dev.clone())
            .collect();
        Ok(s)
    }

    fn raid_step(&mut self, r: &Raid, component: &str) -> PlanStep {
        self.devices.insert(r.dev.clone());
        let mut s = step(
            format!("raid:{}", r.dev),
            component.to_string(),
            format!(
                "create {} array {} from {}",
                r.level,
                r.dev,
                r.devices.join(", ")
            ),
            DoneCheck::MdArray {
                dev: r.dev.clone(),
                uuid: r.uuid.clone(),
            },
        );
        for d in r.devices.iter().chain(&r.spares) {
            s.commands.push(wipe(d));
        }
        let mut cmd = Cmd::mutate(tools::MDADM).args(["--create", r.dev.as_str(), "--run"]);
        if let Some(m) = &r.metadata {
            cmd = cmd.args(["--metadata", m.as_str()]);
        }
        cmd = cmd.args(["--level", r.level.as_str()]);
        let raid_devices = r
            .raid_devices
            .map_or(r.devices.len(), |n| n as usize)
            .max(r.devices.len());
        cmd = cmd.arg("--raid-devices").arg(raid_devices.to_string());
        if let Some(u) = &r.uuid {
            cmd = cmd.args(["--uuid", u.as_str()]);
        }
        if let Some(n) = &r.name {
            cmd = cmd.args(["--name", n.as_str()]);
        }
        let striped = matches!(
            r.level.as_str(),
            "raid0" | "raid4" | "raid5" | "raid6" | "raid10" | "0" | "4" | "5" | "6" | "10"
        );
        if let Some(c) = r.chunk.filter(|_| striped) {
            cmd = cmd.arg("--chunk").arg(format!("{}K", c / 1024));
        }
        if let Some(l) = &r.layout {
            cmd = cmd.args(["--layout", l.as_str()]);
        }
        if !r.spares.is_empty() {
            cmd = cmd.arg("--spare-devices").arg(r.spares.len().to_string());
        }
        if self.opts.md_assume_clean {
            cmd = cmd.arg("--assume-clean");
        }
        cmd = cmd.args(&r.devices);
        let missing = raid_devices - r.devices.len();
        if missing > 0 {
            s.notes.push(format!(
                "degraded: {missing} member(s) given as 'missing', as in the layout"
            ));
        }
        cmd = cmd
            .args(std::iter::repeat_n("missing", missing))
            .args(&r.spares);
        s.commands.push(PlannedCommand::new(
            cmd.describe(format!("creating md array {}", r.dev)),
        ));
        s.wait_for.push(r.dev.clone());
        s
    }

    fn crypt_steps(&mut self, c: &Crypt, component: &str) -> Vec<PlanStep> {
        let mapper = format!("/dev/mapper/{}", c.name);
        self.devices.insert(mapper.clone());
        let secret = || {
            c.keyfile.is_none().then(|| SecretInput::LuksPassphrase {
                name: c.name.clone(),
                password: c.password.clone(),
            })
        };
        let mut format = step(
            format!("luks-format:{}", c.dev),
            component.to_string(),
            format!("format {} as {} for {}", c.dev, c.version, c.name),
            DoneCheck::Signature {
                dev: c.dev.clone(),
                fstype: "crypto_LUKS".into(),
                uuid: c.uuid.clone(),
            },
        );
        format.commands.push(wipe(&c.dev));
        let mut cmd = Cmd::mutate(tools::CRYPTSETUP).args([
            "luksFormat",
            "--batch-mode",
            "--type",
            c.version.as_str(),
        ]);
        let opt = |cmd: Cmd, flag: &str, v: Option<String>| match v {
            Some(v) => cmd.args([flag, v.as_str()]),
            None => cmd,
        };
        cmd = opt(cmd, "--cipher", c.cipher.clone());
        cmd = opt(cmd, "--key-size", c.key_size.map(|k| k.to_string()));
        cmd = opt(cmd, "--hash", c.hash.clone());
        cmd = opt(cmd, "--uuid", c.uuid.clone());
        cmd = opt(cmd, "--label", c.label.clone());
        cmd = opt(cmd, "--subsystem", c.subsystem.clone());
        cmd = opt(cmd, "--pbkdf", c.pbkdf.clone());
        cmd = opt(cmd, "--sector-size", c.sector_size.map(|k| k.to_string()));
        cmd = opt(
            cmd,
            "--offset",
            c.data_offset.map(|o| (o / 512).to_string()),
        );
        cmd = cmd.args(&self.opts.luks_cryptsetup_options);
        cmd = opt(cmd, "--key-file", c.keyfile.clone());
        cmd = cmd
            .arg(&c.dev)
            .describe(format!("formatting {} as LUKS", c.dev));
        format.commands.push(PlannedCommand {
            cmd,
            secret: secret(),
        });
        if c.keyfile.is_none() {
            format.notes.push(format!(
                "asks for the passphrase of {} (pre-answer: USER_INPUT_LUKS_PASSPHRASE_{})",
                c.name, c.name
            ));
        }
        let mut open = step(
            format!("luks-open:{}", c.name),
            component.to_string(),
            format!("open {} as {mapper}", c.dev),
            DoneCheck::CryptOpen {
                name: c.name.clone(),
            },
        );
        let mut cmd = Cmd::mutate(tools::CRYPTSETUP).args([
            "open",
            "--type",
            "luks",
            c.dev.as_str(),
            c.name.as_str(),
        ]);
        cmd = opt(cmd, "--key-file", c.keyfile.clone());
        open.commands.push(PlannedCommand {
            cmd: cmd.describe(format!("opening {}", c.dev)),
            secret: secret(),
        });
        open.wait_for.push(mapper);
        vec![format, open]
    }

    fn restore_file(&self, vg: &str) -> Option<&'a PathBuf> {
        if self.opts.lvm_no_restore.contains(vg) {
            return None;
        }
        self.opts.lvm_restore_files.get(vg)
    }

    fn lvs_of(&self, vg: &str) -> Vec<&'a Lv> {
        self.layout
            .entries
            .iter()
            .filter(|e| e.excluded.is_none())
            .filter_map(|e| match &e.component {
                Component::Lv(l) if l.vg == vg => Some(l),
                _ => None,
            })
            .collect()
    }

    fn pv_step(&mut self, pv: &Pv, component: &str) -> PlanStep {
        let mut s = step(
            format!("pv:{}", pv.dev),
            component.to_string(),
            format!("create LVM physical volume on {}", pv.dev),
            DoneCheck::Signature {
                dev: pv.dev.clone(),
                fstype: "LVM2_member".into(),
                uuid: pv.uuid.clone(),
            },
        );
        s.commands.push(wipe(&pv.dev));
        let mut cmd = Cmd::mutate(tools::LVM).args(["pvcreate", "-ff", "--yes"]);
        if let Some(u) = &pv.uuid {
            cmd = cmd.args(["--uuid", u.as_str()]);
            match pv.vg.as_deref().and_then(|vg| self.restore_file(vg)) {
                Some(f) => cmd = cmd.arg("--restorefile").arg(f),
                None => cmd = cmd.arg("--norestorefile"),
            }
        }
        cmd = cmd
            .arg(&pv.dev)
            .describe(format!("creating PV on {}", pv.dev));
        s.commands.push(PlannedCommand::new(cmd));
        s
    }

    fn vg_step(&mut self, vg: &Vg, component: &str) -> PlanStep {
        self.devices.insert(format!("/dev/{}", vg.name));
        let lvs = self.lvs_of(&vg.name);
        let thin: Vec<&Lv> = lvs
            .iter()
            .copied()
            .filter(|l| matches!(l.layout, LvLayout::Thin | LvLayout::ThinPool))
            .collect();
        let mut s = step(
            format!("vg:{}", vg.name),
            component.to_string(),
            String::new(),
            DoneCheck::Vg {
                name: vg.name.clone(),
            },
        );
        if let Some(file) = self.restore_file(&vg.name) {
            s.description = format!(
                "restore volume group {} and its LVs from {}",
                vg.name,
                file.display()
            );
            let mut cmd = Cmd::mutate(tools::LVM).arg("vgcfgrestore");
            if !thin.is_empty() {
                // vgcfgrestore refuses thin pools without --force; their metadata is not
                // restored, so the pools and thin volumes are removed and created again below
                cmd = cmd.arg("--force");
            }
            cmd = cmd
                .arg("-f")
                .arg(file)
                .arg(&vg.name)
                .describe(format!("restoring VG {}", vg.name));
            s.commands.push(PlannedCommand::new(cmd));
            if !thin.is_empty() {
                let mut names: Vec<String> = thin
                    .iter()
                    .filter(|l| l.layout == LvLayout::Thin)
                    .map(|l| format!("{}/{}", vg.name, l.name))
                    .collect();
                names.extend(
                    thin.iter()
                        .filter(|l| l.layout == LvLayout::ThinPool)
                        .map(|l| format!("{}/{}", vg.name, l.name)),
                );
                s.commands.push(PlannedCommand::new(
                    Cmd::mutate(tools::LVM)
                        .args(["lvremove", "-f", "-y"])
                        .args(&names)
                        .describe(format!(
                            "removing thin pools and volumes of {} to create them again",
                            vg.name
                        )),
                ));
                s.notes.push(
                    "thin pools and thin volumes are created again with lvcreate (new LV UUIDs)"
                        .into(),
                );
            }
            let pvs_of_vg: Vec<String> = self
                .layout
                .components()
                .filter_map(|c| match c {
                    Component::Pv(p) if p.vg.as_deref() == Some(vg.name.as_str()) => {
                        Some(p.dev.clone())
                    }
                    _ => None,
                })
                .filter(|d| self.opts.lvm_pvresize.contains(d))
                .collect();
            for pv in pvs_of_vg {
                s.notes.push(format!(
                    "{pv} is bigger than before: pvresize gives {} the extra space",
                    vg.name
                ));
                s.commands.push(PlannedCommand::new(
                    Cmd::mutate(tools::LVM)
                        .args(["pvresize", pv.as_str()])
                        .describe(format!("growing PV {pv}")),
                ));
            }
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::LVM)
                    .args(["vgchange", "-a", "y", vg.name.as_str()])
                    .describe(format!("activating VG {}", vg.name)),
            ));
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::LVM)
                    .args(["vgmknodes", vg.name.as_str()])
                    .describe(format!("creating device nodes of VG {}", vg.name)),
            ));
            for l in &lvs {
                self.devices.insert(lv_device(&l.vg, &l.name));
                self.devices.insert(format!("/dev/{}/{}", l.vg, l.name));
                if !matches!(l.layout, LvLayout::Thin | LvLayout::ThinPool) {
                    s.wait_for.push(lv_device(&l.vg, &l.name));
                }
            }
        } else {
            let pvs: Vec<String> = self
                .layout
                .entries
                .iter()
                .filter(|e| e.excluded.is_none())
                .filter_map(|e| match &e.component {
                    Component::Pv(p) if p.vg.as_deref() == Some(vg.name.as_str()) => {
                        Some(p.dev.clone())
                    }
                    _ => None,
                })
                .collect();
            s.description = format!("create volume group {} on {}", vg.name, pvs.join(", "));
            if vg.uuid.is_some() {
                s.notes.push(format!(
                    "no vgcfgbackup file for {}: the VG and its LVs get new UUIDs",
                    vg.name
                ));
            }
            s.commands.push(PlannedCommand::new(
                Cmd::mutate(tools::LVM)
                    .args(["vgcreate", "--yes", "-s"])
                    .arg(format!("{}k", vg.extent_size / 1024))
                    .arg(&vg.name)
                    .args(&pvs)
                    .describe(format!("creating VG {}", vg.name)),
            ));
        }
        s
    }

    fn lv_step(&mut self, lv: &Lv, component: &str) -> Option<PlanStep> {
        let dev = lv_device(&lv.vg, &lv.name);
        self.devices.insert(dev.clone());
        self.devices.insert(format!("/dev/{}/{}", lv.vg, lv.name));
        let restored = self.restore_file(&lv.vg).is_some();
        if restored && !matches!(lv.layout, LvLayout::Thin | LvLayout::ThinPool) {
            return None; // vgcfgrestore created it
        }
        let mut s = step(
            format!("lv:{}/{}", lv.vg, lv.name),
            component.to_string(),
            format!("create {} logical volume {}/{}", lv.layout, lv.vg, lv.name),
            DoneCheck::Lv {
                vg: lv.vg.clone(),
                name: lv.name.clone(),
            },
        );
        let mut cmd = Cmd::mutate(tools::LVM).args(["lvcreate", "--yes"]);
        match &lv.layout {
            LvLayout::ThinPool => {
                cmd = cmd
                    .args(["--type", "thin-pool", "-L"])
                    .arg(format!("{}b", lv.size));
                if let Some(m) = lv.pool_metadata_size {
                    cmd = cmd.arg("--poolmetadatasize").arg(format!("{m}b"));
                }
                if let Some(c) = lv.chunk_size {
                    cmd = cmd.arg("--chunksize").arg(format!("{}k", c / 1024));
                }
            }
            LvLayout::Thin => {
                cmd = cmd
                    .args(["--type", "thin", "-V"])
                    .arg(format!("{}b", lv.size));
                cmd = cmd
                    .arg("--thinpool")
                    .arg(lv.pool.clone().unwrap_or_default());
            }
            other => {
                match other {
                    LvLayout::Linear => {}
                    LvLayout::Striped => cmd = cmd.args(["--type", "striped"]),
                    l => cmd = cmd.args(["--type", l.as_str()]),
                }
                cmd = cmd.arg("-L").arg(format!("{}b", lv.size));
                if let Some(m) = lv.mirrors.filter(|_| {
                    matches!(other, LvLayout::Mirror | LvLayout::Raid1 | LvLayout::Raid10)
                }) {
                    cmd = cmd.arg("-m").arg(m.to_string());
                }
                if let Some(st) = lv
                    .stripes
                    .filter(|&n| n > 1 || matches!(other, LvLayout::Striped))
                    && !matches!(other, LvLayout::Raid1 | LvLayout::Mirror)
                {
                    cmd = cmd.arg("-i").arg(st.to_string());
                    if let Some(ss) = lv.stripe_size {
                        cmd = cmd.arg("-I").arg(format!("{}k", ss / 1024));
                    }
                }
            }
        }
        cmd = cmd
            .arg("-n")
            .arg(&lv.name)
            .arg(&lv.vg)
            .describe(format!("creating LV {}/{}", lv.vg, lv.name));
        s.commands.push(PlannedCommand::new(cmd));
        s.wait_for.push(dev);
        Some(s)
    }

    fn fs_step(&mut self, f: &Filesystem, component: &str) -> PlanStep {
        let mut s = step(
            component.to_string(),
            component.to_string(),
            format!(
                "create {} filesystem on {}{}",
                f.fstype,
                f.dev,
                f.mountpoint
                    .as_deref()
                    .map(|m| format!(" for {m}"))
                    .unwrap_or_default()
            ),
            DoneCheck::Signature {
                dev: f.dev.clone(),
                fstype: f.fstype.as_str().to_string(),
                uuid: f.uuid.clone(),
            },
        );
        s.commands.push(wipe(&f.dev));
        let mut f = f.clone();
        if self.opts.rehearsal && f.fstype == FsType::Btrfs && f.uuid.is_some() {
            f.uuid = None;
            s.done_check = DoneCheck::Recorded;
            s.notes
                .push("rehearsal: btrfs gets a new UUID (the original may be attached)".into());
        }
        let f = &f;
        let resized = self
            .opts
            .notes
            .get(component)
            .is_some_and(|n| !n.is_empty())
            || self.opts.notes.get(&f.dev).is_some_and(|n| !n.is_empty());
        s.commands.extend(
            mkfs_commands(f, resized, self.is_whole_disk(&f.dev))
                .into_iter()
                .map(PlannedCommand::new),
        );
        if f.fstype == FsType::Btrfs {
            s.commands.extend(
                self.btrfs_subvolume_commands(f)
                    .into_iter()
                    .map(PlannedCommand::new),
            );
        }
        s
    }

    fn is_whole_disk(&self, dev: &str) -> bool {
        self.layout
            .components()
            .any(|c| matches!(c, Component::Disk(d) if d.dev == dev))
    }

    fn btrfs_subvolume_commands(&self, f: &Filesystem) -> Vec<Cmd> {
        let mut subvols: Vec<_> = self
            .layout
            .entries
            .iter()
            .filter(|e| {
                e.excluded.is_none() && !self.opts.exclude_recreate.contains(&e.component.id())
            })
            .filter_map(|e| match &e.component {
                Component::BtrfsSubvol(s) if s.dev == f.dev && !s.snapshot && s.id != 5 => Some(s),
                _ => None,
            })
            .collect();
        if subvols.is_empty() {
            return Vec::new();
        }
        // parents before children: IDs grow with creation, and a parent is created first
        subvols.sort_by_key(|s| (s.id, s.path.matches('/').count()));
        let dir = self
            .opts
            .scratch_dir
            .join(format!("btrfs{}", f.dev.replace('/', "-")));
        let mut out = vec![
            Cmd::mutate(tools::MKDIR)
                .arg("-p")
                .arg(&dir)
                .describe("creating a scratch mount point"),
            Cmd::mutate(tools::MOUNT)
                .args(["-t", "btrfs", "-o", "subvolid=5", f.dev.as_str()])
                .arg(&dir)
                .describe(format!("mounting the top level of {}", f.dev)),
        ];
        for sv in &subvols {
            let path = dir.join(sv.path.trim_start_matches('/'));
            // a nested subvolume may sit in a plain directory of its parent (`@/srv/nested`),
            // which the restore would create only later
            if let Some(parent) = path.parent().filter(|p| *p != dir.as_path()) {
                out.push(
                    Cmd::mutate(tools::MKDIR)
                        .arg("-p")
                        .arg(parent)
                        .describe(format!(
                            "creating the directory that holds subvolume {}",
                            sv.path
                        )),
                );
            }
            out.push(
                Cmd::mutate(tools::BTRFS)
                    .args(["subvolume", "create"])
                    .arg(&path)
                    .describe(format!("creating btrfs subvolume {}", sv.path)),
            );
            if sv.nocow {
                out.push(
                    Cmd::mutate(tools::CHATTR)
                        .arg("+C")
                        .arg(&path)
                        .describe(format!("setting no-copy-on-write on {}", sv.path)),
                );
            }
        }
        if let Some(def) = subvols.iter().find(|s| s.default) {
            out.push(
                Cmd::mutate(tools::BTRFS)
                    .args(["subvolume", "set-default"])
                    .arg(dir.join(def.path.trim_start_matches('/')))
                    .describe(format!("making {} the default subvolume", def.path)),
            );
        }
        out.push(
            Cmd::mutate(tools::UMOUNT)
                .arg(&dir)
                .describe(format!("unmounting the top level of {}", f.dev)),
        );
        out
    }

    fn swap_step(&mut self, sw: &Swap, component: &str) -> PlanStep {
        let mut s = step(
            component.to_string(),
            component.to_string(),
            format!("create swap on {}", sw.dev),
            DoneCheck::Signature {
                dev: sw.dev.clone(),
                fstype: "swap".into(),
                uuid: sw.uuid.clone(),
            },
        );
        s.commands.push(wipe(&sw.dev));
        let mut cmd = Cmd::mutate(tools::MKSWAP).arg("-f");
        if let Some(u) = &sw.uuid {
            cmd = cmd.args(["-U", u.as_str()]);
        }
        if let Some(l) = &sw.label {
            cmd = cmd.args(["-L", l.as_str()]);
        }
        s.commands.push(PlannedCommand::new(
            cmd.arg(&sw.dev)
                .describe(format!("creating swap on {}", sw.dev)),
        ));
        s
    }

    /// The step that mounts entry `i` under the target root.
    pub fn mount_step(&mut self, i: usize) -> Option<PlanStep> {
        let c = &self.layout.entries[i].component;
        let (dev, mp, fstype, options, subvol) = match c {
            Component::Filesystem(f) => (
                f.dev.clone(),
                f.mountpoint.clone()?,
                f.fstype.as_str().to_string(),
                f.options.clone(),
                None,
            ),
            Component::BtrfsMount(m) => (
                m.dev.clone(),
                m.mountpoint.clone(),
                "btrfs".to_string(),
                m.options.clone(),
                m.subvol.clone(),
            ),
            _ => return None,
        };
        let target = target_path(&self.opts.target_root, &mp);
        let mut s = step(
            format!("mount:{mp}"),
            c.id(),
            format!("mount {dev} on {}", target.display()),
            DoneCheck::Mounted {
                target: target.display().to_string(),
            },
        );
        let opts = mount_options(options.as_deref(), subvol.as_deref());
        s.commands.push(PlannedCommand::new(
            Cmd::mutate(tools::MKDIR)
                .arg("-p")
                .arg(&target)
                .describe(format!("creating mount point {}", target.display())),
        ));
        let mut cmd = Cmd::mutate(tools::MOUNT).args(["-t", fstype.as_str()]);
        if !opts.is_empty() {
            cmd = cmd.args(["-o", opts.as_str()]);
        }
        s.commands.push(PlannedCommand::new(
            cmd.arg(&dev)
                .arg(&target)
                .describe(format!("mounting {dev} on {}", target.display())),
        ));
        Some(s)
    }
}

/// The partition type for sfdisk: the recorded one, or one derived from the flags.
fn partition_type(p: &Partition, gpt: bool) -> String {
    if let Some(t) = &p.ptype {
        return if gpt {
            t.clone()
        } else {
            t.trim_start_matches("0x")
                .trim_start_matches("0X")
                .to_ascii_lowercase()
        };
    }
    let has = |f: &str| p.flags.iter().any(|x| x == f);
    let (g, m) = if has("esp") {
        (GPT_ESP, "ef")
    } else if has("bios_grub") {
        (GPT_BIOS, "83")
    } else if has("raid") {
        (GPT_RAID, "fd")
    } else if has("lvm") {
        (GPT_LVM, "8e")
    } else if has("swap") {
        (GPT_SWAP, "82")
    } else if p.role == Some(PartRole::Extended) {
        (GPT_LINUX, "5")
    } else {
        (GPT_LINUX, "83")
    };
    if gpt { g.to_string() } else { m.to_string() }
}

/// Mount options for recreation: the recorded ones without those that describe state rather
/// than a wish (`ro`, `subvolid=`, `seclabel`), with `subvol=` for a btrfs subvolume mount.
pub fn mount_options(options: Option<&str>, subvol: Option<&str>) -> String {
    let mut out: Vec<String> = options
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
        .filter(|o| !matches!(*o, "ro" | "rw" | "seclabel" | "noauto" | "defaults"))
        .filter(|o| !o.starts_with("subvolid="))
        .filter(|o| subvol.is_none() || !o.starts_with("subvol="))
        .map(str::to_string)
        .collect();
    if let Some(sv) = subvol {
        out.push(format!("subvol={sv}"));
    }
    out.join(",")
}

/// The mkfs (and tune2fs) commands that recreate `f` with its UUID, label and parameters.
/// When the partition was resized, geometry that depends on the size (xfs agcount and log size,
/// ext bytes-per-inode stays) is left to mkfs.
pub fn mkfs_commands(f: &Filesystem, resized: bool, whole_disk: bool) -> Vec<Cmd> {
    let dev = f.dev.as_str();
    let what = format!("creating {} filesystem on {dev}", f.fstype);
    match &f.fstype {
        FsType::Ext2 | FsType::Ext3 | FsType::Ext4 => {
            let mut cmd = Cmd::mutate(tools::MKE2FS).args(["-F", "-t", f.fstype.as_str()]);
            if let Some(u) = &f.uuid {
                cmd = cmd.args(["-U", u.as_str()]);
            }
            if let Some(l) = &f.label {
                cmd = cmd.args(["-L", l.as_str()]);
            }
            if let Some(b) = f.block_size {
                cmd = cmd.arg("-b").arg(b.to_string());
            }
            if let Some(i) = f.inode_size {
                cmd = cmd.arg("-I").arg(i.to_string());
            }
            if let Some(i) = f.bytes_per_inode {
                cmd = cmd.arg("-i").arg(i.to_string());
            }
            let features: Vec<&str> = f
                .features
                .iter()
                .map(String::as_str)
                .filter(|x| !matches!(*x, "needs_recovery" | "orphan_present" | "recover"))
                .collect();
            if !features.is_empty() {
                cmd = cmd.arg("-O").arg(features.join(","));
            }
            let mut out = vec![cmd.arg(dev).describe(what)];
            let mut tune = Cmd::mutate(tools::TUNE2FS);
            let mut any = false;
            if let Some(r) = &f.reserved_blocks {
                match r.strip_suffix('%') {
                    Some(p) => tune = tune.arg("-m").arg(p),
                    None => tune = tune.arg("-r").arg(r),
                }
                any = true;
            }
            if let Some(c) = f.max_mounts {
                tune = tune.arg("-c").arg(c.to_string());
                any = true;
            }
            if let Some(i) = f.check_interval {
                let v = if i == 0 {
                    "0".to_string()
                } else {
                    format!("{}d", i.div_ceil(86400))
                };
                tune = tune.arg("-i").arg(v);
                any = true;
            }
            if let Some(o) = &f.default_mount_options {
                tune = tune.arg("-o").arg(o);
                any = true;
            }
            if any {
                out.push(
                    tune.arg(dev)
                        .describe(format!("setting the recorded ext parameters of {dev}")),
                );
            }
            out
        }
        FsType::Xfs => {
            let mut cmd = Cmd::mutate(tools::MKFS_XFS).arg("-f");
            let mut m = Vec::new();
            let mut i = Vec::new();
            let mut n = Vec::new();
            let mut l = Vec::new();
            let mut d = Vec::new();
            if let Some(u) = &f.uuid {
                m.push(format!("uuid={u}"));
            }
            for feat in &f.features {
                let Some((k, v)) = feat.split_once('=') else {
                    continue;
                };
                let setting = format!("{k}={v}");
                match k {
                    "crc" | "finobt" | "rmapbt" | "reflink" | "bigtime" | "inobtcount" => {
                        m.push(setting)
                    }
                    "sparse" | "nrext64" => i.push(setting),
                    "ftype" => n.push(setting),
                    "lazy-count" => l.push(setting),
                    _ => {}
                }
            }
            if let Some(s) = f.inode_size {
                i.insert(0, format!("size={s}"));
            }
            if !resized {
                if let Some(a) = f.agcount {
                    d.push(format!("agcount={a}"));
                }
                if let Some(ls) = f.log_size {
                    l.insert(0, format!("size={ls}"));
                }
            }
            if let (Some(su), Some(sw)) = (f.sunit, f.swidth)
                && su > 0
                && sw > 0
            {
                d.push(format!("su={su},sw={}", sw / su));
            }
            if let Some(l) = &f.label {
                cmd = cmd.args(["-L", l.as_str()]);
            }
            if let Some(b) = f.block_size {
                cmd = cmd.arg("-b").arg(format!("size={b}"));
            }
            if let Some(s) = f.sector_size {
                cmd = cmd.arg("-s").arg(format!("size={s}"));
            }
            for (flag, list) in [("-m", m), ("-i", i), ("-n", n), ("-l", l), ("-d", d)] {
                if !list.is_empty() {
                    cmd = cmd.arg(flag).arg(list.join(","));
                }
            }
            vec![cmd.arg(dev).describe(what)]
        }
        FsType::Vfat => {
            let mut cmd = Cmd::mutate(tools::MKFS_VFAT);
            if whole_disk {
                cmd = cmd.arg("-I");
            }
            if let Some(fat) = f.fat_size {
                cmd = cmd.arg("-F").arg(fat.to_string());
            }
            if let Some(u) = &f.uuid {
                cmd = cmd.arg("-i").arg(u.replace('-', ""));
            }
            if let Some(l) = &f.label {
                cmd = cmd.args(["-n", l.as_str()]);
            }
            if let Some(s) = f.sector_size {
                cmd = cmd.arg("-S").arg(s.to_string());
            }
            vec![cmd.arg(dev).describe(what)]
        }
        FsType::Btrfs => {
            let mut cmd = Cmd::mutate(tools::MKFS_BTRFS).arg("-f");
            if let Some(u) = &f.uuid {
                cmd = cmd.args(["-U", u.as_str()]);
            }
            if let Some(l) = &f.label {
                cmd = cmd.args(["-L", l.as_str()]);
            }
            if let Some(nsz) = f.node_size {
                cmd = cmd.arg("-n").arg(nsz.to_string());
            }
            if let Some(s) = f.sector_size {
                cmd = cmd.arg("-s").arg(s.to_string());
            }
            vec![cmd.arg(dev).describe(what)]
        }
        // refused by the plan before it gets here
        FsType::Other(_) => Vec::new(),
    }
}
