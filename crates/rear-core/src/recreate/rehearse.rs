//! Rehearsal (`rear layoutonly --dry-run` style): the partitioning and mkfs steps of a plan are
//! applied to sparse files of each disk's size, attached as loop devices, before real disks are
//! touched. md, LUKS and LVM need device-mapper and md, which a rescue kernel has but a build
//! host may not, so the rehearsal covers disks, partitions and the filesystems and swap directly
//! on them; everything else is listed as not rehearsed.
//!
//! Contract: the loop devices and files are always detached and removed, also after a failure.
//! The rehearsal's own [`Guard`] allows only the loop devices, so it cannot touch a real disk.

use std::path::{Path, PathBuf};

use super::apply::{ApplyOptions, ApplyReport, apply};
use super::migrate::{DiskMap, DiskMapping, TargetDisk, migrate};
use super::safety::{Guard, SafetyOptions};
use super::{PlanOptions, plan};
use crate::cmd::{Cmd, Runner, tools};
use crate::config::Config;
use crate::layout::model::{Component, Layout};
use crate::ui::{Level, Ui};
use crate::{Error, Result};

/// What a rehearsal found.
#[derive(Debug, Clone)]
pub struct RehearsalReport {
    /// Layout disk → loop device it was rehearsed on.
    pub disks: Vec<(String, String)>,
    /// What applying did (steps that ran, were skipped).
    pub apply: Option<ApplyReport>,
    /// The error, when a step failed: the real recovery would fail the same way.
    pub error: Option<String>,
    /// Components not rehearsed, with the reason.
    pub not_rehearsed: Vec<(String, String)>,
}

impl RehearsalReport {
    /// Whether every rehearsed step worked.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Rehearses the layout's partitioning and mkfs steps on loop devices in `workdir`.
///
/// # Errors
/// Setting up the loop devices failed (a failing step is reported in [`RehearsalReport::error`],
/// not as an error).
pub fn rehearse(
    layout: &Layout,
    opts: &PlanOptions,
    runner: &dyn Runner,
    ui: &dyn Ui,
    config: &Config,
    workdir: &Path,
) -> Result<RehearsalReport> {
    std::fs::create_dir_all(workdir).map_err(|e| Error::io("creating directory", workdir, e))?;
    let disks: Vec<(String, u64)> = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none() && !opts.exclude_recreate.contains(&e.component.id()))
        .filter_map(|e| match &e.component {
            Component::Disk(d) => Some((d.dev.clone(), d.size)),
            _ => None,
        })
        .collect();
    let mut attached: Vec<(String, String, PathBuf)> = Vec::new();
    let result = (|| -> Result<RehearsalReport> {
        for (dev, size) in &disks {
            let file = workdir.join(format!(
                "{}.img",
                dev.trim_start_matches("/dev/").replace('/', "_")
            ));
            let f = std::fs::File::create(&file).map_err(|e| Error::io("creating", &file, e))?;
            f.set_len(*size)
                .map_err(|e| Error::io("sizing", &file, e))?;
            let loopdev = Cmd::mutate(tools::LOSETUP)
                .args(["-f", "--show", "-P"])
                .arg(&file)
                .describe(format!("attaching a sparse file for {dev}"))
                .output_string(runner)?
                .trim()
                .to_string();
            if loopdev.is_empty() {
                return Err(Error::invalid(
                    "losetup",
                    "printed no loop device (dry run?)",
                ));
            }
            attached.push((dev.clone(), loopdev, file));
        }
        let mapping = DiskMapping {
            maps: attached
                .iter()
                .map(|(d, l, _)| DiskMap {
                    from: d.clone(),
                    to: l.clone(),
                    reason: "rehearsal".into(),
                })
                .collect(),
            unmapped: Vec::new(),
        };
        let targets: Vec<TargetDisk> = attached
            .iter()
            .zip(&disks)
            .map(|((_, l, _), (_, size))| TargetDisk {
                dev: l.clone(),
                size: *size,
                model: None,
                serial: None,
            })
            .collect();
        let migrated = migrate(
            layout,
            &mapping,
            &targets,
            &super::migrate::ResizeOptions::default(),
        )?;
        let mut popts = opts.clone();
        popts.partitions_and_filesystems_only = true;
        popts.skip_mounts = true;
        popts.rehearsal = true;
        popts.scratch_dir = workdir.join("scratch");
        popts.exclude_recreate = opts
            .exclude_recreate
            .iter()
            .map(|x| {
                migrated
                    .renames
                    .get(x)
                    .cloned()
                    .unwrap_or_else(|| x.clone())
            })
            .collect();
        let p = plan(&migrated.layout, &popts)?;
        let guard = Guard::from_system(&p, runner, &SafetyOptions::default())?;
        ui.message(
            Level::Info,
            &format!("Rehearsing {} step(s) on loop devices", p.steps.len()),
        );
        let aopts = ApplyOptions {
            unattended: true,
            ..ApplyOptions::default()
        };
        let (apply_report, error) = match apply(&p, runner, ui, config, &guard, &aopts) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        Ok(RehearsalReport {
            disks: attached
                .iter()
                .map(|(d, l, _)| (d.clone(), l.clone()))
                .collect(),
            apply: apply_report,
            error,
            not_rehearsed: p.skipped.clone(),
        })
    })();
    // a mount left by a failed btrfs step would keep a loop device busy
    if let Ok(entries) = std::fs::read_dir(workdir.join("scratch")) {
        for e in entries.flatten() {
            let _ = Cmd::mutate(tools::UMOUNT)
                .arg(e.path())
                .describe("unmounting a rehearsal scratch mount")
                .run(runner);
        }
    }
    for (_, loopdev, file) in attached.iter().rev() {
        if let Err(e) = Cmd::mutate(tools::LOSETUP)
            .args(["-d", loopdev.as_str()])
            .describe("detaching a rehearsal loop device")
            .run(runner)
        {
            tracing::warn!("{e}");
        }
        let _ = std::fs::remove_file(file);
    }
    result
}
