//! Finalize a restored system so that it boots: bind the API filesystems into the target,
//! rebuild its initramfs, install GRUB (BIOS on every boot disk, or UEFI with shim and the
//! removable fallback loader), create the EFI boot entry, request an SELinux relabel; then
//! wrap up by copying the recovery log and layout into the target.
//!
//! Plan, then apply: [`Facts`] are gathered from the target's files, the recorded layout and
//! the rescue system (firmware, `efibootmgr -v`); [`plan`] turns them into a [`FinalizePlan`],
//! a list of exact [`Action`]s (pure, snapshot-tested); [`FinalizePlan::apply`] runs them with a
//! [`Runner`] inside [`ChrootMounts`]. In a dry run the runner records the mutating commands and
//! the file actions are skipped.
//!
//! The target's own programs (grub-install, update-initramfs, dracut) run through
//! `chroot TARGET ...`, so they are not in the tool registry; only `chroot`, `mount`, `umount`,
//! `efibootmgr` and `bash` are.

pub mod chroot;
pub mod efi;
pub mod target;
pub mod wrapup;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::layout::model::{BootloaderKind, Component, Layout};
use crate::probe::efibootmgr::{EfiBoot, parse_efibootmgr};
use crate::{Error, Result};

pub use chroot::ChrootMounts;
pub use efi::{BootEntrySpec, efi_boot_entry, split_partition};
pub use target::{InitramfsTool, TargetOs};
pub use wrapup::{WrapupOptions, wrapup};

/// Where the restored system is mounted in the rescue system (ReaR's `TARGET_FS_ROOT`).
pub const DEFAULT_TARGET: &str = "/mnt/local";

/// The firmware the recovered machine boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    /// Legacy BIOS (or UEFI CSM): GRUB's boot code in the MBR and the BIOS boot partition.
    Bios,
    /// UEFI: a loader on the EFI system partition and a boot entry in NVRAM.
    Uefi,
}

impl Firmware {
    /// The firmware of the running (rescue) system: UEFI when `/sys/firmware/efi` exists.
    pub fn of_running_system() -> Firmware {
        if Path::new("/sys/firmware/efi").is_dir() {
            Firmware::Uefi
        } else {
            Firmware::Bios
        }
    }
}

/// One partition holding the EFI system partition (several when the ESP is on md RAID1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EspPartition {
    /// The whole disk (`/dev/nvme0n1`).
    pub disk: String,
    /// Its partition number.
    pub number: u32,
    /// Its PARTUUID, when known (used to recognise an existing boot entry).
    pub partuuid: Option<String>,
}

/// The EFI system partition of the target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Esp {
    /// Its mount point inside the target (`/boot/efi`).
    pub mountpoint: String,
    /// The partitions it lives on.
    pub partitions: Vec<EspPartition>,
}

/// Everything the plan depends on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Facts {
    /// The target root (`/mnt/local`).
    pub target: PathBuf,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// The target's boot software.
    pub os: TargetOs,
    /// BIOS: the disks GRUB's boot code goes to (every member of a RAID1 holding /boot).
    pub boot_disks: Vec<String>,
    /// UEFI: the ESP.
    pub esp: Option<Esp>,
    /// UEFI: the boot entries the firmware has now (`efibootmgr -v` in the rescue system).
    pub efi_boot: Option<EfiBoot>,
    /// Rebuild the initramfs (needed when the storage stack or its UUIDs changed; ReaR does it
    /// always, as the restored one may lack drivers of the new hardware).
    pub rebuild_initramfs: bool,
    /// Label of the EFI boot entry; defaults to the EFI vendor directory name.
    pub efi_label: Option<String>,
}

/// One thing finalize does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Runs a program of the target: `chroot TARGET argv...`.
    Chroot {
        /// The program and its arguments.
        argv: Vec<String>,
        /// Why, as a lowercase "-ing" phrase.
        why: String,
    },
    /// Runs `efibootmgr` in the rescue system.
    EfiBootMgr {
        /// Its arguments.
        args: Vec<String>,
        /// Why.
        why: String,
    },
    /// Copies a file inside the target (paths absolute inside the target).
    Copy {
        /// Source.
        from: String,
        /// Destination (its directory is created).
        to: String,
        /// Why.
        why: String,
    },
    /// Writes a file inside the target.
    Write {
        /// The path inside the target.
        path: String,
        /// Its contents.
        contents: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Chroot { argv, why } => {
                write!(f, "chroot TARGET {}  # {why}", shell_words::join(argv))
            }
            Action::EfiBootMgr { args, why } => {
                write!(f, "efibootmgr {}  # {why}", shell_words::join(args))
            }
            Action::Copy { from, to, why } => write!(f, "copy {from} -> {to}  # {why}"),
            Action::Write {
                path,
                contents,
                why,
            } => {
                write!(f, "write {path} ({} bytes)  # {why}", contents.len())
            }
        }
    }
}

/// The finalize plan: the exact actions, in order, and what was skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FinalizePlan {
    /// The target root.
    pub target: PathBuf,
    /// The actions.
    pub actions: Vec<Action>,
    /// Notes on decisions (skipped steps, fallbacks), for the log and the user.
    pub notes: Vec<String>,
}

impl fmt::Display for FinalizePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "target {}", self.target.display())?;
        for a in &self.actions {
            writeln!(f, "{a}")?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

fn chroot(argv: &[&str], why: &str) -> Action {
    Action::Chroot {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        why: why.to_string(),
    }
}

/// The actions that rebuild the initramfs, or a note why not.
fn initramfs_actions(facts: &Facts, actions: &mut Vec<Action>, notes: &mut Vec<String>) {
    if !facts.rebuild_initramfs {
        notes.push("initramfs not rebuilt (not requested)".into());
        return;
    }
    match facts.os.initramfs {
        Some(tool) => actions.push(Action::Chroot {
            argv: tool.argv(),
            why: "rebuilding the initramfs for the recreated storage".into(),
        }),
        None => notes.push(
            "no update-initramfs, dracut or mkinitrd in the target: initramfs not rebuilt".into(),
        ),
    }
}

fn grub_config_action(os: &TargetOs, grub: &str) -> Action {
    if os.has_update_grub {
        chroot(&["update-grub"], "writing the GRUB configuration")
    } else {
        let mkconfig = format!("{grub}-mkconfig");
        chroot(
            &[&mkconfig, "-o", &os.grub_cfg],
            "writing the GRUB configuration",
        )
    }
}

fn bios_actions(facts: &Facts, grub: &str, actions: &mut Vec<Action>, notes: &mut Vec<String>) {
    if facts.boot_disks.is_empty() {
        notes.push("no boot disk known: GRUB boot code not installed".into());
    }
    let install = format!("{grub}-install");
    for disk in &facts.boot_disks {
        actions.push(chroot(
            &[&install, "--target=i386-pc", "--recheck", disk],
            &format!("installing GRUB boot code on {disk}"),
        ));
    }
    actions.push(grub_config_action(&facts.os, grub));
}

fn efi_actions(facts: &Facts, grub: &str, actions: &mut Vec<Action>, notes: &mut Vec<String>) {
    let Some(esp) = &facts.esp else {
        notes.push(
            "UEFI firmware but no EFI system partition in the layout: nothing installed".into(),
        );
        return;
    };
    let os = &facts.os;
    let vendor = os.efi_vendor.as_str();
    let mp = esp.mountpoint.trim_end_matches('/');
    let vendor_dir = format!("{mp}/EFI/{vendor}");
    let boot_dir = format!("{mp}/EFI/BOOT");
    if os.is_redhat_like() && os.shim {
        // RHEL-likes ship shim and a signed GRUB on the ESP (restored from the backup);
        // grub2-install would replace the signed GRUB with an unsigned one.
        notes.push(format!(
            "{} uses the vendor's signed shim and GRUB from the restored ESP: no {grub}-install",
            os.id
        ));
    } else {
        let install = format!("{grub}-install");
        actions.push(chroot(
            &[
                &install,
                "--target=x86_64-efi",
                &format!("--efi-directory={mp}"),
                &format!("--bootloader-id={vendor}"),
                "--no-nvram",
                "--recheck",
            ],
            "installing GRUB for UEFI on the EFI system partition",
        ));
    }
    // The removable-media path: firmware that lost its NVRAM entries (or a replaced board)
    // still boots \EFI\BOOT\BOOTX64.EFI.
    let loader = if os.shim {
        "shimx64.efi"
    } else {
        "grubx64.efi"
    };
    actions.push(Action::Copy {
        from: format!("{vendor_dir}/{loader}"),
        to: format!("{boot_dir}/BOOTX64.EFI"),
        why: "installing the fallback loader for firmware without a boot entry".into(),
    });
    if os.shim {
        actions.push(Action::Copy {
            from: format!("{vendor_dir}/grubx64.efi"),
            to: format!("{boot_dir}/grubx64.efi"),
            why: "installing GRUB next to the fallback shim".into(),
        });
    }
    actions.push(grub_config_action(os, grub));

    let label = facts
        .efi_label
        .clone()
        .unwrap_or_else(|| vendor.to_string());
    let loader_path = efi::loader_path(&format!("EFI/{vendor}/{loader}"));
    // Entries are created last first: efibootmgr puts each new entry first in BootOrder.
    for part in esp.partitions.iter().rev() {
        let spec = BootEntrySpec {
            disk: part.disk.clone(),
            partition: part.number,
            loader: loader_path.clone(),
            label: label.clone(),
        };
        let existing = facts
            .efi_boot
            .as_ref()
            .and_then(|b| efi::existing_entry(b, &spec, part.partuuid.as_deref()));
        match existing {
            Some(num) => notes.push(format!(
                "EFI boot entry Boot{num} '{label}' for {} partition {} already exists",
                part.disk, part.number
            )),
            None => actions.push(Action::EfiBootMgr {
                args: efi_boot_entry(&spec.disk, spec.partition, &spec.loader, &spec.label),
                why: format!(
                    "creating the EFI boot entry '{label}' on {} partition {}",
                    part.disk, part.number
                ),
            }),
        }
    }
}

/// Computes the finalize plan from the facts. Pure.
pub fn plan(facts: &Facts) -> FinalizePlan {
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    initramfs_actions(facts, &mut actions, &mut notes);
    match facts.os.grub.as_deref() {
        None => notes.push(
            "no grub-install in the target: boot loader not installed (only GRUB 2 is supported)"
                .into(),
        ),
        Some(grub) => match facts.firmware {
            Firmware::Bios => bios_actions(facts, grub, &mut actions, &mut notes),
            Firmware::Uefi => efi_actions(facts, grub, &mut actions, &mut notes),
        },
    }
    if facts.os.selinux {
        actions.push(selinux_relabel_action());
    }
    FinalizePlan {
        target: facts.target.clone(),
        actions,
        notes,
    }
}

fn selinux_relabel_action() -> Action {
    Action::Write {
        path: "/.autorelabel".into(),
        contents: String::new(),
        why: "relabelling SELinux contexts on first boot (the restore does not keep them all)"
            .into(),
    }
}

/// Runs one action; file actions are skipped in dry runs (the runner records the commands).
fn apply_action(target: &Path, action: &Action, runner: &dyn Runner, dry_run: bool) -> Result<()> {
    match action {
        Action::Chroot { argv, why } => {
            Cmd::mutate(tools::CHROOT)
                .arg(target)
                .args(argv)
                .describe(why.clone())
                .run(runner)?;
        }
        Action::EfiBootMgr { args, why } => {
            Cmd::mutate(tools::EFIBOOTMGR)
                .args(args)
                .describe(why.clone())
                .run(runner)?;
        }
        Action::Copy { from, to, .. } if !dry_run => {
            let src = target::in_target(target, from);
            let dst = target::in_target(target, to);
            if let Some(dir) = dst.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("creating directory", dir, e))?;
            }
            std::fs::copy(&src, &dst).map_err(|e| Error::io("copying", &src, e))?;
        }
        Action::Write { path, contents, .. } if !dry_run => {
            let p = target::in_target(target, path);
            std::fs::write(&p, contents).map_err(|e| Error::io("writing", &p, e))?;
        }
        Action::Copy { .. } | Action::Write { .. } => {}
    }
    Ok(())
}

impl FinalizePlan {
    /// Runs the actions in order inside bind mounts of the API filesystems, unmounting them
    /// afterwards (also after a failure; the first error wins). `dry_run` skips file actions;
    /// the commands are recorded or run as the runner decides.
    pub fn apply(&self, runner: &dyn Runner, dry_run: bool) -> Result<()> {
        let mounts = ChrootMounts::bind(&self.target, runner)?;
        let result = self.apply_in(&mounts, runner, dry_run);
        let unmounted = mounts.unmount();
        result.and(unmounted)
    }

    /// Runs the actions with mounts that the caller already holds.
    pub fn apply_in(
        &self,
        mounts: &ChrootMounts<'_>,
        runner: &dyn Runner,
        dry_run: bool,
    ) -> Result<()> {
        for a in &self.actions {
            tracing::info!("finalize: {a}");
            apply_action(mounts.target(), a, runner, dry_run)?;
        }
        Ok(())
    }
}

/// Derives the boot disks and the ESP from a layout (already mapped to the replacement
/// hardware's device names): the disks below the boot loader's recorded disks, or below the
/// filesystem of `/boot` (else `/`) through partitions, md members, LUKS and LVM; and the
/// partitions of the ESP (each RAID1 member's, when the ESP is on md).
pub fn boot_devices(layout: &Layout) -> (Vec<String>, Option<Esp>) {
    let comps: Vec<&Component> = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none())
        .map(|e| &e.component)
        .collect();
    let bootloader = comps.iter().find_map(|c| match c {
        Component::Bootloader(b) => Some(b),
        _ => None,
    });
    // Resolve a device down to the whole disks below it (partition -> disk, md -> members,
    // LV -> PVs, LUKS -> its device).
    fn disks_below(dev: &str, comps: &[&Component], out: &mut Vec<String>, depth: u32) {
        if depth > 16 {
            return;
        }
        let mut found = false;
        for c in comps {
            match c {
                Component::Partition(p) if p.dev == dev => {
                    found = true;
                    disks_below(&p.disk, comps, out, depth + 1);
                }
                Component::Raid(r) if r.dev == dev => {
                    found = true;
                    for m in &r.devices {
                        disks_below(m, comps, out, depth + 1);
                    }
                }
                Component::Crypt(k) if format!("/dev/mapper/{}", k.name) == dev => {
                    found = true;
                    disks_below(&k.dev, comps, out, depth + 1);
                }
                Component::Lv(l) if c.id() == dev || format!("/dev/{}/{}", l.vg, l.name) == dev => {
                    found = true;
                    for pv in comps.iter().filter_map(|c| match c {
                        Component::Pv(p) if p.vg.as_deref() == Some(l.vg.as_str()) => Some(p),
                        _ => None,
                    }) {
                        disks_below(&pv.dev, comps, out, depth + 1);
                    }
                }
                _ => {}
            }
        }
        if !found && !out.iter().any(|d| d == dev) {
            out.push(dev.to_string());
        }
    }
    let mut boot_disks = Vec::new();
    let wanted: Vec<String> = match bootloader {
        Some(b) if !b.disks.is_empty() => b.disks.clone(),
        _ => {
            let fs_dev = |mp: &str| {
                comps.iter().find_map(|c| match c {
                    Component::Filesystem(f) if f.mountpoint.as_deref() == Some(mp) => {
                        Some(f.dev.clone())
                    }
                    _ => None,
                })
            };
            fs_dev("/boot")
                .or_else(|| fs_dev("/"))
                .into_iter()
                .collect()
        }
    };
    for d in &wanted {
        disks_below(d, &comps, &mut boot_disks, 0);
    }
    boot_disks.sort();
    boot_disks.dedup();

    let esp_mp = bootloader.and_then(|b| b.esp.clone()).or_else(|| {
        ["/boot/efi", "/efi", "/boot"].iter().find_map(|mp| {
            comps.iter().find_map(|c| match c {
                Component::Filesystem(f)
                    if f.mountpoint.as_deref() == Some(mp)
                        && f.fstype == crate::layout::model::FsType::Vfat =>
                {
                    Some(mp.to_string())
                }
                _ => None,
            })
        })
    });
    let esp = esp_mp.and_then(|mp| {
        let dev = comps.iter().find_map(|c| match c {
            Component::Filesystem(f) if f.mountpoint.as_deref() == Some(mp.as_str()) => {
                Some(f.dev.clone())
            }
            _ => None,
        })?;
        // The ESP itself, or the members of the RAID1 it is on.
        let members: Vec<String> = comps
            .iter()
            .find_map(|c| match c {
                Component::Raid(r) if r.dev == dev => Some(r.devices.clone()),
                _ => None,
            })
            .unwrap_or_else(|| vec![dev.clone()]);
        let partitions = members
            .iter()
            .filter_map(|m| {
                comps
                    .iter()
                    .find_map(|c| match c {
                        Component::Partition(p) if &p.dev == m => Some(EspPartition {
                            disk: p.disk.clone(),
                            number: p.number,
                            partuuid: p.partuuid.clone(),
                        }),
                        _ => None,
                    })
                    .or_else(|| {
                        split_partition(m).map(|(disk, number)| EspPartition {
                            disk,
                            number,
                            partuuid: None,
                        })
                    })
            })
            .collect();
        Some(Esp {
            mountpoint: mp,
            partitions,
        })
    });
    (boot_disks, esp)
}

/// Which firmware the layout's boot loader needs: UEFI for GRUB-EFI or systemd-boot.
pub fn firmware_of_layout(layout: &Layout) -> Option<Firmware> {
    layout.components().find_map(|c| match c {
        Component::Bootloader(b) => match b.kind {
            BootloaderKind::Grub2Bios => Some(Firmware::Bios),
            BootloaderKind::Grub2Efi | BootloaderKind::SystemdBoot => Some(Firmware::Uefi),
            _ => None,
        },
        _ => None,
    })
}

impl Facts {
    /// Gathers the facts: the target's files, the layout's boot devices, the rescue system's
    /// firmware and, on UEFI, its boot entries (`efibootmgr -v`, read-only).
    pub fn gather(target: &Path, layout: &Layout, runner: &dyn Runner) -> Result<Facts> {
        let firmware = Firmware::of_running_system();
        let (boot_disks, esp) = boot_devices(layout);
        let efi_boot = if firmware == Firmware::Uefi {
            let text = Cmd::probe(tools::EFIBOOTMGR)
                .arg("-v")
                .describe("listing the EFI boot entries")
                .output_string(runner)?;
            Some(parse_efibootmgr(&text))
        } else {
            None
        };
        Ok(Facts {
            target: target.to_path_buf(),
            firmware,
            os: TargetOs::detect(target),
            boot_disks,
            esp,
            efi_boot,
            rebuild_initramfs: true,
            efi_label: None,
        })
    }
}

/// Rebuilds the target's initramfs with its own tool (inside the chroot the caller holds).
pub fn rebuild_initramfs(mounts: &ChrootMounts<'_>, runner: &dyn Runner) -> Result<()> {
    let os = TargetOs::detect(mounts.target());
    let tool = os.initramfs.ok_or_else(|| Error::Invalid {
        what: format!("target {}", mounts.target().display()),
        message: "has no update-initramfs, dracut or mkinitrd; install one and rebuild the initramfs by hand".into(),
    })?;
    Cmd::mutate(tools::CHROOT)
        .arg(mounts.target())
        .args(tool.argv())
        .describe("rebuilding the initramfs of the target")
        .run(runner)?;
    Ok(())
}

fn grub_of(os: &TargetOs, target: &Path) -> Result<String> {
    os.grub.clone().ok_or_else(|| Error::Invalid {
        what: format!("target {}", target.display()),
        message: "has no grub-install or grub2-install; the boot loader must be installed by hand"
            .into(),
    })
}

/// Installs GRUB for BIOS on each disk (every RAID1 member) and writes its configuration.
pub fn install_grub_bios(
    mounts: &ChrootMounts<'_>,
    disks: &[String],
    runner: &dyn Runner,
) -> Result<()> {
    let os = TargetOs::detect(mounts.target());
    let grub = grub_of(&os, mounts.target())?;
    let mut actions = Vec::new();
    let facts = Facts {
        target: mounts.target().to_path_buf(),
        firmware: Firmware::Bios,
        os,
        boot_disks: disks.to_vec(),
        esp: None,
        efi_boot: None,
        rebuild_initramfs: false,
        efi_label: None,
    };
    bios_actions(&facts, &grub, &mut actions, &mut Vec::new());
    for a in &actions {
        apply_action(mounts.target(), a, runner, false)?;
    }
    Ok(())
}

/// Installs GRUB for UEFI on the ESP mounted at `esp.mountpoint` in the target, the fallback
/// loader, the configuration and the boot entries (not duplicating those in `efi_boot`).
pub fn install_grub_efi(
    mounts: &ChrootMounts<'_>,
    esp: &Esp,
    efi_boot: Option<&EfiBoot>,
    label: Option<&str>,
    runner: &dyn Runner,
) -> Result<()> {
    let os = TargetOs::detect(mounts.target());
    let grub = grub_of(&os, mounts.target())?;
    let facts = Facts {
        target: mounts.target().to_path_buf(),
        firmware: Firmware::Uefi,
        os,
        boot_disks: Vec::new(),
        esp: Some(esp.clone()),
        efi_boot: efi_boot.cloned(),
        rebuild_initramfs: false,
        efi_label: label.map(str::to_string),
    };
    let mut actions = Vec::new();
    efi_actions(&facts, &grub, &mut actions, &mut Vec::new());
    for a in &actions {
        apply_action(mounts.target(), a, runner, false)?;
    }
    Ok(())
}

/// Creates `/.autorelabel` in the target when it uses SELinux; returns whether it did.
pub fn selinux_relabel_needed(target: &Path) -> Result<bool> {
    if !target::selinux_enabled(target) {
        return Ok(false);
    }
    let p = target.join(".autorelabel");
    std::fs::write(&p, "").map_err(|e| Error::io("writing", &p, e))?;
    Ok(true)
}
