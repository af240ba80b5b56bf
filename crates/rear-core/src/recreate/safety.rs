//! Which devices a plan may write to, enforced on every mutating command.
//!
//! Contract:
//! - The allowed set is exactly the plan's devices ([`Plan::devices`]: its disks and what it
//!   creates on them). A mutating command with any other `/dev/` argument (also in
//!   `key=/dev/...` form) is refused before it runs.
//! - Protected devices are refused even if a plan names them: every device whose UUID, PTUUID,
//!   PARTUUID or WWN (the types in `WRITE_PROTECTED_ID_TYPES`) is in `WRITE_PROTECTED_IDS`, and
//!   the devices the caller names as holding the rescue medium or the backup. Protection covers
//!   the whole disk such a device is on, and everything on that disk.
//! - [`confirm_disks`] shows the target disks (path, size, model, serial) and asks
//!   `LAYOUT_CONFIRM_DISKS`; the default is yes only for unattended runs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Plan;
use crate::cmd::{Cmd, Effect, Runner, tools};
use crate::config::Config;
use crate::ui::{Level, Question, Ui, ask};
use crate::{Error, Result};

/// What must never be written to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SafetyOptions {
    /// `WRITE_PROTECTED_IDS`.
    pub write_protected_ids: Vec<String>,
    /// `WRITE_PROTECTED_ID_TYPES` (default `UUID PTUUID PARTUUID WWN`).
    pub write_protected_id_types: Vec<String>,
    /// Devices holding the rescue medium or the backup (any device on the disk; the whole disk
    /// is protected).
    pub protected_devices: Vec<String>,
}

impl Default for SafetyOptions {
    fn default() -> Self {
        SafetyOptions {
            write_protected_ids: Vec::new(),
            write_protected_id_types: ["UUID", "PTUUID", "PARTUUID", "WWN"]
                .map(String::from)
                .to_vec(),
            protected_devices: Vec::new(),
        }
    }
}

impl SafetyOptions {
    /// Reads `WRITE_PROTECTED_IDS` and `WRITE_PROTECTED_ID_TYPES` (words) from a configuration.
    pub fn from_config(config: &Config) -> Self {
        let mut o = SafetyOptions {
            write_protected_ids: config.list("WRITE_PROTECTED_IDS"),
            ..Self::default()
        };
        let types = config.string("WRITE_PROTECTED_ID_TYPES");
        if !types.trim().is_empty() {
            o.write_protected_id_types = types.split_whitespace().map(str::to_string).collect();
        }
        o
    }
}

/// One block device of the running system, as lsblk reports it (with the IDs protection needs).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize)]
pub struct SystemDevice {
    /// Kernel name.
    pub name: String,
    /// Device path.
    #[serde(default)]
    pub path: Option<String>,
    /// lsblk TYPE.
    #[serde(rename = "type", default)]
    pub dtype: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Serial.
    #[serde(default)]
    pub serial: Option<String>,
    /// WWN.
    #[serde(default)]
    pub wwn: Option<String>,
    /// Filesystem UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Partition table UUID.
    #[serde(default)]
    pub ptuuid: Option<String>,
    /// Partition UUID.
    #[serde(default)]
    pub partuuid: Option<String>,
    /// Removable.
    #[serde(default)]
    pub rm: bool,
    /// Read-only.
    #[serde(default)]
    pub ro: bool,
    /// Where it is mounted (`[SWAP]` for active swap).
    #[serde(default)]
    pub mountpoints: Vec<Option<String>>,
    /// Stacked devices.
    #[serde(default)]
    pub children: Vec<SystemDevice>,
}

impl SystemDevice {
    /// The device path.
    pub fn dev_path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("/dev/{}", self.name))
    }

    fn id_of(&self, kind: &str) -> Option<&str> {
        match kind {
            "UUID" => self.uuid.as_deref(),
            "PTUUID" => self.ptuuid.as_deref(),
            "PARTUUID" => self.partuuid.as_deref(),
            "WWN" => self.wwn.as_deref(),
            _ => None,
        }
    }

    fn all_paths(&self, out: &mut Vec<String>) {
        out.push(self.dev_path());
        for c in &self.children {
            c.all_paths(out);
        }
    }

    fn any(&self, f: &dyn Fn(&SystemDevice) -> bool) -> bool {
        f(self) || self.children.iter().any(|c| c.any(f))
    }
}

#[derive(Deserialize)]
struct LsblkOut {
    blockdevices: Vec<SystemDevice>,
}

/// Parses `lsblk -J -b -O` into top-level devices (disks) with their children.
pub fn parse_system_devices(text: &str) -> Result<Vec<SystemDevice>> {
    serde_json::from_str::<LsblkOut>(text)
        .map(|o| o.blockdevices)
        .map_err(|e| Error::invalid("output of 'lsblk -J -b -O'", e.to_string()))
}

/// Lists the block devices of the running system. Without udev (a rescue system, a container)
/// lsblk reports no UUID, PTUUID or PARTUUID, so these come from a fresh `blkid` scan too.
pub fn system_devices(runner: &dyn Runner) -> Result<Vec<SystemDevice>> {
    let text = Cmd::probe(tools::LSBLK)
        .args(["-J", "-b", "-O"])
        .describe("listing block devices")
        .output_string(runner)?;
    let mut devices = parse_system_devices(&text)?;
    let ids = Cmd::probe(tools::BLKID)
        .args(["-c", "/dev/null", "-o", "export"])
        .allow_exit_codes(&[2])
        .describe("reading device IDs")
        .output_string(runner)?;
    fill_ids(&mut devices, &ids);
    Ok(devices)
}

/// Fills missing UUID, PTUUID and PARTUUID from `blkid -o export` output.
pub fn fill_ids(devices: &mut [SystemDevice], blkid_export: &str) {
    let mut by_dev: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for block in blkid_export.split("\n\n") {
        let kv: BTreeMap<String, String> = block
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(dev) = kv.get("DEVNAME") {
            by_dev.insert(dev.clone(), kv);
        }
    }
    fn walk(d: &mut SystemDevice, ids: &BTreeMap<String, BTreeMap<String, String>>) {
        if let Some(kv) = ids.get(&d.dev_path()) {
            d.uuid = d.uuid.take().or_else(|| kv.get("UUID").cloned());
            d.ptuuid = d.ptuuid.take().or_else(|| kv.get("PTUUID").cloned());
            d.partuuid = d.partuuid.take().or_else(|| kv.get("PARTUUID").cloned());
        }
        for c in &mut d.children {
            walk(c, ids);
        }
    }
    for d in devices {
        walk(d, &by_dev);
    }
}

/// The allowed and the protected devices of a plan; checks commands before they run.
#[derive(Debug, Clone)]
pub struct Guard {
    allowed: BTreeSet<String>,
    protected: BTreeMap<String, String>,
}

impl Guard {
    /// Builds the guard for `plan` on a system with `devices`.
    ///
    /// # Errors
    /// When a disk of the plan is protected, is not present, or is smaller than the plan needs.
    pub fn new(plan: &Plan, devices: &[SystemDevice], opts: &SafetyOptions) -> Result<Guard> {
        let protected = protected_devices(devices, opts);
        for d in &plan.disks {
            if let Some(why) = protected.get(&d.dev) {
                return Err(Error::invalid(
                    format!("target disk {}", d.dev),
                    format!(
                        "{why}; map the layout onto another disk (disk_mappings) or remove the ID from WRITE_PROTECTED_IDS"
                    ),
                ));
            }
            match devices.iter().find(|s| s.dev_path() == d.dev) {
                None => {
                    return Err(Error::invalid(
                        format!("target disk {}", d.dev),
                        "is not present on this system; map the layout onto the disks that are (disk_mappings)",
                    ));
                }
                Some(s) if s.size.is_some_and(|sz| sz < d.size) => {
                    return Err(Error::invalid(
                        format!("target disk {}", d.dev),
                        format!(
                            "has {} bytes, the plan needs {}; use migration to shrink the layout",
                            s.size.unwrap_or(0),
                            d.size
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(Guard {
            allowed: plan.devices.clone(),
            protected,
        })
    }

    /// Builds the guard from the running system (`lsblk -J -b -O`).
    ///
    /// # Errors
    /// As [`Guard::new`], and when lsblk fails.
    pub fn from_system(plan: &Plan, runner: &dyn Runner, opts: &SafetyOptions) -> Result<Guard> {
        Guard::new(plan, &system_devices(runner)?, opts)
    }

    /// The devices the plan may write.
    pub fn allowed(&self) -> &BTreeSet<String> {
        &self.allowed
    }

    /// Checks one command: a mutating command may only name allowed, unprotected devices.
    ///
    /// # Errors
    /// Naming the command and the device it must not touch.
    pub fn check(&self, cmd: &Cmd) -> Result<()> {
        if cmd.effect() != Effect::Mutating {
            return Ok(());
        }
        for arg in cmd.arguments() {
            let arg = arg.to_string_lossy();
            let candidates = [Some(arg.as_ref()), arg.split_once('=').map(|(_, v)| v)];
            for dev in candidates
                .into_iter()
                .flatten()
                .filter(|d| d.starts_with("/dev/"))
            {
                if let Some(why) = self.protected.get(dev) {
                    return Err(Error::invalid(
                        format!("command '{}'", cmd.command_line()),
                        format!("refusing to write to {dev}: {why}"),
                    ));
                }
                if !self.allowed.contains(dev) {
                    return Err(Error::invalid(
                        format!("command '{}'", cmd.command_line()),
                        format!(
                            "refusing to write to {dev}: it is not a device of the recovery plan"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks every mutating command of the plan.
    ///
    /// # Errors
    /// The first command that would touch a device it must not.
    pub fn check_plan(&self, plan: &Plan) -> Result<()> {
        plan.mutating_commands().try_for_each(|c| self.check(c))
    }
}

/// Every device that must not be written, with the reason: all devices of a disk that has a
/// `WRITE_PROTECTED_IDS` ID (of the `WRITE_PROTECTED_ID_TYPES`) anywhere on it, or that holds
/// one of `opts.protected_devices` (rescue medium, backup).
pub fn protected_devices(
    devices: &[SystemDevice],
    opts: &SafetyOptions,
) -> BTreeMap<String, String> {
    let mut protected = BTreeMap::new();
    let ids: BTreeSet<String> = opts
        .write_protected_ids
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    for top in devices {
        let mut why = None;
        for kind in &opts.write_protected_id_types {
            if top.any(&|d| {
                d.id_of(kind)
                    .is_some_and(|v| ids.contains(&v.to_ascii_lowercase()))
            }) {
                why = Some(format!("one of its {kind}s is in WRITE_PROTECTED_IDS"));
                break;
            }
        }
        if why.is_none() {
            for p in &opts.protected_devices {
                let canon = std::fs::canonicalize(p)
                    .ok()
                    .and_then(|c| c.to_str().map(str::to_string));
                if top.any(&|d| d.dev_path() == *p || Some(d.dev_path()) == canon) {
                    why = Some(format!("it holds {p} (rescue medium or backup)"));
                    break;
                }
            }
        }
        if let Some(why) = why {
            let mut paths = Vec::new();
            top.all_paths(&mut paths);
            for p in paths {
                protected.insert(p, format!("{} is write-protected: {why}", top.dev_path()));
            }
        }
    }
    protected
}

/// Shows the disks the plan will write to and asks for confirmation (`LAYOUT_CONFIRM_DISKS`).
/// The default answer is yes only when `unattended` is set.
///
/// # Errors
/// [`Error::Aborted`] when the answer is no, or when nobody can answer.
pub fn confirm_disks(
    plan: &Plan,
    devices: &[SystemDevice],
    ui: &dyn Ui,
    config: &Config,
    unattended: bool,
) -> Result<()> {
    let mut text = String::from("These disks will be overwritten (everything on them is lost):\n");
    for d in &plan.disks {
        let s = devices.iter().find(|s| s.dev_path() == d.dev);
        text.push_str(&format!(
            "  {}  {} bytes  model {}  serial {}\n",
            d.dev,
            s.and_then(|s| s.size).unwrap_or(d.size),
            s.and_then(|s| s.model.as_deref()).unwrap_or("?").trim(),
            s.and_then(|s| s.serial.as_deref()).unwrap_or("?").trim(),
        ));
    }
    ui.message(Level::Info, text.trim_end());
    let mut q = Question::new("LAYOUT_CONFIRM_DISKS", "Overwrite these disks? (yes/no)")
        .choices(["yes", "no"]);
    if unattended {
        q = q.default_answer("yes");
    }
    match ask(ui, config, &q)?.as_str() {
        "yes" => Ok(()),
        _ => Err(Error::Aborted {
            id: "LAYOUT_CONFIRM_DISKS".into(),
        }),
    }
}

/// Stops everything that uses the plan's disks before they are rewritten: unmounts filesystems
/// and turns off swap on them, closes LUKS mappings, deactivates LVs and stops md arrays built on
/// them (a rescue system may have activated old stacks, and a disk in use cannot be
/// repartitioned). Only devices on the plan's disks are touched: the walk starts at the plan's
/// disks in the device tree. Returns what was done, in order.
///
/// # Errors
/// The first command that fails, naming the device.
pub fn release_disks(
    plan: &Plan,
    devices: &[SystemDevice],
    runner: &dyn Runner,
) -> Result<Vec<String>> {
    fn walk(d: &SystemDevice, out: &mut Vec<SystemDevice>) {
        for c in &d.children {
            walk(c, out);
        }
        out.push(d.clone());
    }
    let mut order = Vec::new();
    for top in devices
        .iter()
        .filter(|t| plan.disks.iter().any(|d| d.dev == t.dev_path()))
    {
        walk(top, &mut order);
    }
    let mut done = Vec::new();
    let mut seen = BTreeSet::new();
    for d in order {
        let dev = d.dev_path();
        if !seen.insert(dev.clone()) {
            continue; // an md array or VG on two plan disks appears under both
        }
        let mut mps: Vec<String> = d.mountpoints.iter().flatten().cloned().collect();
        mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mp in mps {
            let cmd = if mp == "[SWAP]" {
                Cmd::mutate(tools::SWAPOFF)
                    .arg(&dev)
                    .describe(format!("turning off swap on {dev} before it is rewritten"))
            } else {
                Cmd::mutate(tools::UMOUNT).arg(&mp).describe(format!(
                    "unmounting {mp} ({dev}) before its disk is rewritten"
                ))
            };
            cmd.run(runner)?;
            done.push(cmd.command_line());
        }
        let cmd = match d.dtype.as_str() {
            "crypt" => Some(Cmd::mutate(tools::CRYPTSETUP).args(["close", d.name.as_str()])),
            "lvm" => Some(Cmd::mutate(tools::LVM).args(["lvchange", "-a", "n", dev.as_str()])),
            t if t.starts_with("raid") || t == "md" || t == "linear" => {
                Some(Cmd::mutate(tools::MDADM).args(["--stop", dev.as_str()]))
            }
            _ => None,
        };
        if let Some(cmd) = cmd {
            let cmd = cmd.describe(format!("releasing {dev} before its disk is rewritten"));
            cmd.run(runner)?;
            done.push(cmd.command_line());
        }
    }
    Ok(done)
}
