//! Recreating a disk layout: a reviewable recovery plan computed from the [`Layout`], applied
//! safely and idempotently, and mapped and resized onto different disks (migration).
//!
//! Contract:
//! - [`plan`] is pure: it orders the layout's components with a topological sort (Kahn, stable:
//!   disks, partitions, md, LUKS, PV, VG, LV, filesystems and swap, then mounts with parents
//!   before children) and turns each into [`PlanStep`]s holding the exact [`Cmd`]s to run. A
//!   dependency cycle or a reference to a component that is not in the layout is an error naming
//!   the components; excluded components and everything that depends on them are skipped and
//!   listed in [`Plan::skipped`].
//! - The plan is data. [`Plan::to_shell_script`] renders it as a bash script (ReaR's
//!   `diskrestore.sh`) with the same commands; [`apply::apply`] runs exactly those commands,
//!   only filling in a LUKS passphrase on standard input, which is never part of the plan.
//! - Every step has a [`DoneCheck`]: applying is idempotent, a re-run skips what is already
//!   there, and a state file records finished steps.
//! - Nothing is written to a device that is not in the plan, that holds the rescue medium or the
//!   backup, or whose ID is write-protected: [`safety::Guard`] checks every device argument of
//!   every mutating command before the first one runs.
//! - [`migrate`] maps the layout's disks onto the disks present, renames devices and resizes
//!   partitions; [`references`] rewrites device names and IDs in the restored system's files.
//! - [`rehearse`] applies the partitioning and mkfs steps to sparse files on loop devices.
//! - With [`PlanOptions::mount_only`] (`rear mountonly`) the plan creates and writes nothing: it
//!   assembles md arrays, opens LUKS devices, activates volume groups and mounts the filesystems
//!   that are already on the disks, for repairs from the rescue system.

pub mod apply;
mod commands;
pub mod migrate;
mod plan;
pub mod references;
pub mod rehearse;
pub mod safety;
mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cmd::{Cmd, Effect};

pub use plan::plan;

/// The default directory the target system's filesystems are mounted under.
pub const DEFAULT_TARGET_ROOT: &str = "/mnt/local";

/// What [`plan`] needs besides the layout. Field names follow ReaR's variables where there is one.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(default)]
pub struct PlanOptions {
    /// Where the target filesystems are mounted (`/mnt/local`).
    pub target_root: PathBuf,
    /// A scratch directory for temporary mounts (btrfs subvolume creation).
    pub scratch_dir: PathBuf,
    /// `EXCLUDE_RECREATE`: component IDs not to recreate (with everything that depends on them),
    /// on top of those the layout already marks as excluded.
    pub exclude_recreate: Vec<String>,
    /// `LUKS_CRYPTSETUP_OPTIONS`, split into words: extra options for `cryptsetup luksFormat`.
    pub luks_cryptsetup_options: Vec<String>,
    /// vgcfgbackup files by VG name (`/var/lib/rear/layout/lvm/<vg>.cfg`). A VG with a file is
    /// restored with `pvcreate --restorefile` and `vgcfgrestore`, keeping every UUID.
    pub lvm_restore_files: BTreeMap<String, PathBuf>,
    /// VGs that must be created with vgcreate/lvcreate even when a vgcfgbackup file exists
    /// (a PV was shrunk by migration: `pvcreate --restorefile` refuses a smaller PV).
    pub lvm_no_restore: BTreeSet<String>,
    /// PVs that grew (migration): `lvm pvresize` after `vgcfgrestore` gives the VG the space.
    pub lvm_pvresize: BTreeSet<String>,
    /// Create md arrays with `--assume-clean` (no initial resync).
    pub md_assume_clean: bool,
    /// Notes to show with a component's steps (`resized: why`), by component ID.
    pub notes: BTreeMap<String, Vec<String>>,
    /// Leave out the mount steps (rehearsal).
    pub skip_mounts: bool,
    /// Only plan disks, partitions, filesystems and swap directly on them (rehearsal on loop
    /// devices: the host has no md or device-mapper).
    pub partitions_and_filesystems_only: bool,
    /// Rehearsal: btrfs gets a new UUID (two btrfs with one UUID confuse the kernel, and the
    /// original may still be attached).
    pub rehearsal: bool,
    /// `rear mountonly`: make the existing storage usable and mount it; create nothing.
    pub mount_only: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            target_root: PathBuf::from(DEFAULT_TARGET_ROOT),
            scratch_dir: PathBuf::from("/tmp/rear-recreate"),
            exclude_recreate: Vec::new(),
            luks_cryptsetup_options: Vec::new(),
            lvm_restore_files: BTreeMap::new(),
            lvm_no_restore: BTreeSet::new(),
            lvm_pvresize: BTreeSet::new(),
            md_assume_clean: false,
            notes: BTreeMap::new(),
            skip_mounts: false,
            partitions_and_filesystems_only: false,
            rehearsal: false,
            mount_only: false,
        }
    }
}

impl PlanOptions {
    /// Reads `EXCLUDE_RECREATE` and `LUKS_CRYPTSETUP_OPTIONS` from a configuration, and the
    /// vgcfgbackup files found in `lvm_dir` (`/var/lib/rear/layout/lvm`, files `<vg>.cfg`).
    pub fn from_config(config: &crate::config::Config, lvm_dir: Option<&std::path::Path>) -> Self {
        let luks = config.string("LUKS_CRYPTSETUP_OPTIONS");
        let mut opts = PlanOptions {
            exclude_recreate: config.list("EXCLUDE_RECREATE"),
            luks_cryptsetup_options: shell_words::split(&luks)
                .unwrap_or_else(|_| luks.split_whitespace().map(str::to_string).collect()),
            ..PlanOptions::default()
        };
        if let Some(dir) = lvm_dir {
            opts.lvm_restore_files = lvm_restore_files_in(dir);
        }
        opts
    }
}

/// The vgcfgbackup files `<vg>.cfg` in `dir`, by VG name.
pub fn lvm_restore_files_in(dir: &std::path::Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "cfg")
                && let Some(vg) = p.file_stem().and_then(|s| s.to_str())
            {
                out.insert(vg.to_string(), p.clone());
            }
        }
    }
    out
}

/// A recovery plan: the ordered steps that recreate a layout.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The steps, in the order they run.
    pub steps: Vec<PlanStep>,
    /// The disks the plan writes to (whole devices: partition tables are written on them).
    pub disks: Vec<PlannedDisk>,
    /// Every device path the plan creates or writes (disks, partitions, md, LUKS mappings, VGs,
    /// LVs). The apply engine refuses a mutating command naming any other `/dev/` path.
    pub devices: BTreeSet<String>,
    /// Components not recreated, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Where the filesystems are mounted.
    pub target_root: PathBuf,
    /// Scratch directory for temporary mounts.
    pub scratch_dir: PathBuf,
    /// A mount-only plan ([`PlanOptions::mount_only`]): nothing is created.
    pub mount_only: bool,
}

/// A disk the plan writes to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedDisk {
    /// Device path.
    pub dev: String,
    /// Size in bytes the layout expects.
    pub size: u64,
}

/// One step of a plan: the commands that create one thing, and how to tell it already exists.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// Stable ID (`disk:/dev/sda`, `fs:/boot`, `mount:/boot`); the state file records it.
    pub id: String,
    /// The layout component it comes from.
    pub component: String,
    /// What it does, for the user.
    pub description: String,
    /// The commands, in order.
    pub commands: Vec<PlannedCommand>,
    /// How to tell the step is already done.
    pub done_check: DoneCheck,
    /// Devices that must exist after the step (partition nodes appear late without udev).
    pub wait_for: Vec<String>,
    /// Notes for the reviewer (`resized: ...`, `new UUID: ...`).
    pub notes: Vec<String>,
}

/// A command of a step.
#[derive(Debug, Clone)]
pub struct PlannedCommand {
    /// The command, with its input text when it has one (sfdisk script).
    pub cmd: Cmd,
    /// A secret fed on standard input at apply time, never stored in the plan.
    pub secret: Option<SecretInput>,
}

impl PlannedCommand {
    fn new(cmd: Cmd) -> Self {
        PlannedCommand { cmd, secret: None }
    }
}

/// A secret to feed a command on standard input when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretInput {
    /// The passphrase of a LUKS container: the layout's `password=`, else the pre-answer
    /// `USER_INPUT_LUKS_PASSPHRASE_<name>`, else asked through the UI (question ID
    /// `LUKS_PASSPHRASE_<name>`).
    LuksPassphrase {
        /// The mapping name.
        name: String,
        /// A clear-text password from the layout.
        password: Option<String>,
    },
}

/// How to tell a step is already done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoneCheck {
    /// No check: only the state file tells.
    Recorded,
    /// The disk has this partition table.
    PartitionTable {
        /// The disk.
        disk: String,
        /// `gpt` or `dos`.
        label: String,
        /// Disk identifier, when the layout has one.
        id: Option<String>,
        /// The partitions: number, start and size in sectors, PARTUUID (GPT).
        partitions: Vec<(u32, u64, u64, Option<String>)>,
    },
    /// `blkid -p` finds this signature (TYPE, and UUID when known) on the device.
    Signature {
        /// The device.
        dev: String,
        /// blkid's TYPE (`ext4`, `swap`, `crypto_LUKS`, `LVM2_member`).
        fstype: String,
        /// The UUID.
        uuid: Option<String>,
    },
    /// An md array with this UUID is running on the device.
    MdArray {
        /// The array device.
        dev: String,
        /// The array UUID.
        uuid: Option<String>,
    },
    /// The LUKS mapping is open.
    CryptOpen {
        /// The mapping name.
        name: String,
    },
    /// The volume group exists.
    Vg {
        /// VG name.
        name: String,
    },
    /// The logical volume exists.
    Lv {
        /// VG name.
        vg: String,
        /// LV name.
        name: String,
    },
    /// Something is mounted on this directory.
    Mounted {
        /// The mount point.
        target: String,
    },
}

impl Plan {
    /// Every mutating command of the plan, in order.
    pub fn mutating_commands(&self) -> impl Iterator<Item = &Cmd> {
        self.steps
            .iter()
            .flat_map(|s| s.commands.iter().map(|c| &c.cmd))
            .filter(|c| c.effect() == Effect::Mutating)
    }

    /// The plan as a reviewable text: every step with its commands and input.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "disks: {}",
            self.disks
                .iter()
                .map(|d| format!("{} ({} bytes)", d.dev, d.size))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "{:>3}. [{}] {}", i + 1, s.id, s.description);
            for n in &s.notes {
                let _ = writeln!(out, "       note: {n}");
            }
            let _ = writeln!(
                out,
                "       done when: {}",
                script::describe_check(&s.done_check)
            );
            for c in &s.commands {
                let _ = writeln!(out, "       $ {}", c.cmd.command_line());
                if let Some(input) = c.cmd.input() {
                    for line in String::from_utf8_lossy(input).lines() {
                        let _ = writeln!(out, "         | {line}");
                    }
                }
                if c.secret.is_some() {
                    let _ = writeln!(out, "         | <passphrase>");
                }
            }
            if !s.wait_for.is_empty() {
                let _ = writeln!(out, "       wait for: {}", s.wait_for.join(" "));
            }
        }
        for (id, why) in &self.skipped {
            let _ = writeln!(out, "skipped {id}: {why}");
        }
        out
    }

    /// Renders the plan as a bash script an administrator can review, edit and run by hand.
    pub fn to_shell_script(&self) -> String {
        script::render(self)
    }

    /// The step with this ID.
    pub fn step(&self, id: &str) -> Option<&PlanStep> {
        self.steps.iter().find(|s| s.id == id)
    }
}
