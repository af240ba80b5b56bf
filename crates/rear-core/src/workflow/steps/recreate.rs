//! Steps of `layout/prepare` and `layout/recreate` (recover, layoutonly): map the saved layout
//! onto the disks present, plan the recreation, confirm, and apply the plan. And those of
//! `layout/prep-for-mount` and `layout/do-mount` (mountonly): the same mapping, a plan that only
//! assembles, opens, activates and mounts what is on the disks, and its application.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::super::Context;
use super::layout::LAYOUT_FILE;
use crate::layout::{self, Layout};
use crate::recreate::migrate::{self, Migration, ResizeOptions};
use crate::recreate::safety::{self, Guard, SafetyOptions, SystemDevice};
use crate::recreate::{self, PlanOptions, apply};
use crate::ui::Level;
use crate::{Error, Result};

/// The target root the plan mounts the recreated filesystems under.
pub const TARGET_ROOT: &str = "/mnt/local";

/// What `layout/prepare` worked out, for the later steps.
#[derive(Debug)]
pub struct Recreation {
    /// The saved layout.
    pub layout: Layout,
    /// The block devices of this system.
    pub devices: Vec<SystemDevice>,
    /// Devices that must not be written: rescue medium, backup disk, write-protected IDs.
    pub protected: Vec<String>,
    /// The layout mapped and resized onto the disks present.
    pub migration: Migration,
    /// The plan, once made.
    pub plan: Option<recreate::Plan>,
}

fn layout_file(ctx: &Context<'_>) -> PathBuf {
    ctx.config.layout_dir().join(LAYOUT_FILE)
}

/// Devices holding the rescue medium or the backup: filesystems labelled `REAR-000` or
/// `REAR-EFI` (ReaR's rescue and backup disks), and the device of a `usb://` BACKUP_URL.
fn rescue_and_backup_devices(ctx: &Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let by_label = |label: &str| -> Option<String> {
        let text = crate::cmd::Cmd::probe(crate::cmd::tools::BLKID)
            .args(["-c", "/dev/null", "-L", label])
            .allow_exit_codes(&[2])
            .describe("finding the rescue and backup media")
            .output_string(ctx.runner)
            .ok()?;
        Some(text.trim().to_string()).filter(|s| !s.is_empty())
    };
    for label in ["REAR-000", "REAR-EFI"] {
        out.extend(by_label(label));
    }
    if let Ok(Some(url)) = ctx.config.backup_url()
        && url.scheme == "usb"
    {
        let path = url.path.clone();
        match path.strip_prefix("/dev/disk/by-label/") {
            Some(label) => out.extend(by_label(label)),
            None => out.push(path),
        }
    }
    out
}

/// The device mounted on `/`, when it is a block device.
fn running_root_device() -> Option<String> {
    // The last mount on / is the one in effect.
    let root = crate::system::mounts()
        .ok()?
        .into_iter()
        .rev()
        .find(|m| m.target == "/")?;
    root.source.starts_with("/dev/").then_some(root.source)
}

/// `layout/prepare/default/100_map_disks`.
pub fn map_disks(ctx: &mut Context<'_>) -> Result<()> {
    let path = layout_file(ctx);
    let layout = layout::file::load(&path).map_err(|e| match e {
        Error::Io { .. } => Error::invalid(
            path.display().to_string(),
            "no saved disk layout: was this rescue image made with 'rear mkrescue'?",
        ),
        other => other,
    })?;
    let devices = safety::system_devices(ctx.runner)?;
    let mut safety_opts = SafetyOptions::from_config(&ctx.config);
    safety_opts.protected_devices = rescue_and_backup_devices(ctx);
    // Never the disk the running system lives on: in the rescue system / is in memory, but
    // `rear recover` started by mistake on a running server must not touch its own disk.
    safety_opts.protected_devices.extend(running_root_device());
    let protected_set: BTreeSet<String> = safety::protected_devices(&devices, &safety_opts)
        .into_keys()
        .collect();
    let protected = safety_opts.protected_devices.clone();
    let include_loop = ctx.config.is_true("LAYOUT_INCLUDE_LOOP_DEVICES");
    let targets = migrate::target_disks(&devices, &protected_set, include_loop);
    let resize = ResizeOptions::from_config(&ctx.config);
    let mapping_path = ctx.config.string("CONFIG_DIR") + "/mappings/disk_mappings";
    let mapping_text = std::fs::read_to_string(&mapping_path).ok();
    let mapping = migrate::map_disks(
        &layout,
        &targets,
        mapping_text.as_deref(),
        &resize,
        ctx.ui,
        &ctx.config,
    )?;
    if migrate::must_confirm_mapping(&mapping, &ctx.config)? {
        // shows the mapping itself
        migrate::confirm_mapping(&mapping, ctx.ui, &ctx.config, ctx.options.non_interactive)?;
    }
    let migration = migrate::migrate(&layout, &mapping, &targets, &resize)?;
    let out = ctx.config.layout_dir().join("disk_mappings");
    std::fs::write(&out, mapping.to_text()).map_err(|e| Error::io("writing", &out, e))?;
    ctx.ui.message(
        Level::Progress,
        &format!("Disk mapping:\n{}", mapping.to_text().trim_end()),
    );
    ctx.put(Recreation {
        layout,
        devices,
        protected,
        migration,
        plan: None,
    });
    Ok(())
}

fn recreation<'c>(ctx: &'c mut Context<'_>) -> Result<&'c mut Recreation> {
    ctx.get_mut::<Recreation>().ok_or_else(|| {
        Error::invalid(
            "layout/prepare",
            "the disks were not mapped before this step",
        )
    })
}

/// `layout/prepare/default/200_plan_recreation`: the plan, also written as
/// `$VAR_DIR/layout/diskrestore.sh` for review and for running by hand.
pub fn plan_recreation(ctx: &mut Context<'_>) -> Result<()> {
    make_plan(ctx, false)
}

/// `layout/prep-for-mount/default/200_plan_mount`: the mount-only plan (md arrays assembled,
/// LUKS devices opened, VGs activated, filesystems mounted under the target root; nothing
/// created), also written as `$VAR_DIR/layout/mountonly.sh`.
pub fn plan_mount(ctx: &mut Context<'_>) -> Result<()> {
    make_plan(ctx, true)
}

/// Plans the mapped layout (to recreate it, or with `mount_only` to mount it), writes the plan
/// as a script into `$VAR_DIR/layout/` and shows it.
fn make_plan(ctx: &mut Context<'_>, mount_only: bool) -> Result<()> {
    let layout_dir = ctx.config.layout_dir();
    let mut opts = PlanOptions::from_config(&ctx.config, Some(&layout_dir.join("lvm")));
    opts.target_root = super::target_root(&ctx.config);
    opts.mount_only = mount_only;
    let rec = recreation(ctx)?;
    rec.migration.apply_to(&mut opts);
    let plan = recreate::plan(&rec.migration.layout, &opts)?;
    let (name, what) = if mount_only {
        ("mountonly.sh", "Mount plan")
    } else {
        ("diskrestore.sh", "Recovery plan")
    };
    let script = layout_dir.join(name);
    std::fs::write(&script, plan.to_shell_script())
        .map_err(|e| Error::io("writing", &script, e))?;
    let summary = plan.summary();
    rec.plan = Some(plan);
    ctx.ui.message(
        Level::Progress,
        &format!(
            "{what} (also in {}):\n{}",
            script.display(),
            summary.trim_end()
        ),
    );
    Ok(())
}

/// `layout/do-mount/default/100_apply_mount_plan`: runs the mount-only plan. Steps whose result
/// is there already (an assembled array, an open LUKS device, a mounted filesystem) are skipped,
/// so running `rear mountonly` twice is harmless.
pub fn apply_mount_plan(ctx: &mut Context<'_>) -> Result<()> {
    let (ui, config, runner) = (ctx.ui, ctx.config.clone(), ctx.runner);
    let unattended = ctx.options.non_interactive;
    let root = super::target_root(&config);
    let rec = recreation(ctx)?;
    let plan = rec
        .plan
        .as_ref()
        .ok_or_else(|| Error::invalid("layout/do-mount", "no plan"))?;
    let safety_opts = SafetyOptions {
        protected_devices: rec.protected.clone(),
        ..SafetyOptions::from_config(&config)
    };
    let guard = Guard::new(plan, &rec.devices, &safety_opts)?;
    // After a failed step (a mistyped passphrase, say) the user may rerun it or open a shell;
    // choosing to edit or abort ends the workflow with the script's path.
    let opts = apply::ApplyOptions {
        unattended,
        trust_existing: true,
        ..Default::default()
    };
    let report = loop {
        let report = apply::apply(plan, runner, ui, &config, &guard, &opts)?;
        match report.stopped {
            None => break report,
            Some((_, _, apply::Stop::Shell)) => {
                // repair in a shell, then the plan runs again (done steps are skipped)
                let shell = crate::cmd::Cmd::mutate(crate::cmd::tools::BASH).arg("-i");
                if let Err(e) = shell.interactive().run(runner) {
                    ui.message(Level::Warning, &format!("{e}"));
                }
            }
            Some((step, error, apply::Stop::EditScript)) => {
                return Err(Error::invalid(
                    format!("mount plan step {step}"),
                    format!(
                        "{error}; edit and run {} by hand",
                        config.layout_dir().join("mountonly.sh").display()
                    ),
                ));
            }
        }
    };
    ui.message(
        Level::Info,
        &format!(
            "The filesystems are mounted under {} ({} steps ran, {} were done already). \
             When you are done: umount -R {}",
            root.display(),
            report.ran.len(),
            report.skipped.len(),
            root.display()
        ),
    );
    Ok(())
}

/// `layout/recreate/default/100_confirm_and_wipe_disks`: shows the disks that will be written,
/// asks (unless unattended), and releases what the rescue system uses on them.
pub fn confirm_and_wipe_disks(ctx: &mut Context<'_>) -> Result<()> {
    if rehearsal(ctx) {
        return Ok(());
    }
    let unattended = ctx.options.non_interactive;
    let (ui, config, runner) = (ctx.ui, ctx.config.clone(), ctx.runner);
    let rec = recreation(ctx)?;
    let plan = rec
        .plan
        .as_ref()
        .ok_or_else(|| Error::invalid("layout/recreate", "no plan"))?;
    safety::confirm_disks(plan, &rec.devices, ui, &config, unattended)?;
    let released = safety::release_disks(plan, &rec.devices, runner)?;
    for r in released {
        ui.message(Level::Progress, &format!("Released {r}"));
    }
    Ok(())
}

/// `layout/recreate/default/200_apply_plan`: runs the plan step by step, resuming after a failed
/// run; every mutating command is checked against the disks of the plan first.
pub fn apply_plan(ctx: &mut Context<'_>) -> Result<()> {
    if rehearsal(ctx) {
        return Ok(());
    }
    let unattended = ctx.options.non_interactive;
    // In $VAR_DIR, not the build directory: a second run after a failure resumes where it stopped.
    let state_file = Some(ctx.config.layout_dir().join("recreate.state"));
    let (ui, config, runner) = (ctx.ui, ctx.config.clone(), ctx.runner);
    let rec = recreation(ctx)?;
    let plan = rec
        .plan
        .as_ref()
        .ok_or_else(|| Error::invalid("layout/recreate", "no plan"))?;
    let safety_opts = SafetyOptions {
        protected_devices: rec.protected.clone(),
        ..SafetyOptions::from_config(&config)
    };
    let guard = Guard::new(plan, &rec.devices, &safety_opts)?;
    let opts = apply::ApplyOptions {
        state_file,
        unattended,
        ..Default::default()
    };
    loop {
        let report = apply::apply(plan, runner, ui, &config, &guard, &opts)?;
        match report.stopped {
            None => {
                ui.message(
                    Level::Info,
                    &format!(
                        "Disk layout recreated ({} steps ran, {} skipped)",
                        report.ran.len(),
                        report.skipped.len()
                    ),
                );
                return Ok(());
            }
            Some((step, error, stop)) => {
                // The user chose to repair by hand: the script or a shell, then apply resumes.
                let script = config.layout_dir().join("diskrestore.sh");
                ui.message(Level::Warning, &format!("Step {step} failed: {error}"));
                let cmd = match stop {
                    apply::Stop::EditScript => crate::cmd::Cmd::mutate(crate::cmd::tools::BASH)
                        .args([
                            "-c",
                            &format!("${{EDITOR:-vi}} {0} && bash {0}", script.display()),
                        ]),
                    apply::Stop::Shell => {
                        crate::cmd::Cmd::mutate(crate::cmd::tools::BASH).arg("-i")
                    }
                };
                if let Err(e) = cmd.interactive().run(runner) {
                    ui.message(Level::Warning, &format!("{e}"));
                }
            }
        }
    }
}

/// `layout/recreate/default/300_mount_target`: the plan mounted the filesystems; make sure the
/// root filesystem is there before anything is restored.
pub fn mount_target(ctx: &mut Context<'_>) -> Result<()> {
    if rehearsal(ctx) {
        return Ok(());
    }
    let root = super::target_root(&ctx.config);
    if crate::system::mounts()?
        .iter()
        .any(|m| Path::new(&m.target) == root)
    {
        Ok(())
    } else {
        Err(Error::invalid(
            root.display().to_string(),
            "no filesystem is mounted there after recreating the layout: check the plan \
             ($VAR_DIR/layout/diskrestore.sh) and the log",
        ))
    }
}

/// `finalize/default/100_fix_references`: after a migration, device names and IDs that changed
/// are rewritten in the restored system (fstab, crypttab, mdadm.conf, GRUB configuration,
/// resume=, ...).
pub fn fix_references(ctx: &mut Context<'_>) -> Result<()> {
    let Some(rec) = ctx.get::<Recreation>() else {
        return Ok(());
    };
    let changes = crate::recreate::references::Changes::from_renames(&rec.migration.renames);
    let changed =
        crate::recreate::references::fix_files(&super::target_root(&ctx.config), &changes)?;
    for f in changed {
        ctx.ui.message(
            Level::Progress,
            &format!("Updated device references in {}", f.display()),
        );
    }
    Ok(())
}

/// `finalize/default/300_rebuild_initramfs_and_install_bootloader`: in a chroot of the target,
/// the initramfs is made again with the target's own tool (for the new hardware's drivers), GRUB
/// is installed for BIOS on every boot disk or into the ESP for UEFI with its boot entry, and an
/// SELinux relabel is requested where needed.
pub fn make_target_bootable(ctx: &mut Context<'_>) -> Result<()> {
    let layout = match ctx.get::<Recreation>() {
        Some(rec) => rec.migration.layout.clone(),
        None => layout::file::load(&layout_file(ctx))?,
    };
    let facts =
        crate::finalize::Facts::gather(&super::target_root(&ctx.config), &layout, ctx.runner)?;
    let plan = crate::finalize::plan(&facts);
    ctx.ui.message(
        Level::Progress,
        &format!(
            "Making the recovered system bootable:\n{}",
            plan.to_string().trim_end()
        ),
    );
    plan.apply(ctx.runner, ctx.options.simulate)
}

/// Whether this is a rehearsal (`rear layoutonly --dry-run`): the layout is recreated on sparse
/// files attached as loop devices, and no disk of the system is touched.
fn rehearsal(ctx: &Context<'_>) -> bool {
    ctx.config.is_true("LAYOUT_REHEARSAL")
}

/// `layout/recreate/default/050_rehearse` (rehearsals only): partitions and filesystems of the
/// plan are made on sparse files of the disks' sizes, so errors show before real disks are
/// touched. md, LUKS and LVM are not rehearsed (the report says so).
pub fn rehearse(ctx: &mut Context<'_>) -> Result<()> {
    if !rehearsal(ctx) {
        return Ok(());
    }
    let layout_dir = ctx.config.layout_dir();
    let mut opts = PlanOptions::from_config(&ctx.config, Some(&layout_dir.join("lvm")));
    let work = ctx
        .build_dir
        .clone()
        .unwrap_or_else(|| ctx.config.tmp_dir())
        .join("rehearsal");
    let (ui, config, runner) = (ctx.ui, ctx.config.clone(), ctx.runner);
    let rec = recreation(ctx)?;
    rec.migration.apply_to(&mut opts);
    let report =
        recreate::rehearse::rehearse(&rec.migration.layout, &opts, runner, ui, &config, &work)?;
    for (disk, loopdev) in &report.disks {
        ui.message(Level::Progress, &format!("rehearsed {disk} on {loopdev}"));
    }
    for (id, why) in &report.not_rehearsed {
        ui.message(Level::Progress, &format!("not rehearsed: {id} ({why})"));
    }
    match &report.error {
        None => {
            ui.message(Level::Info, "Rehearsal passed: the plan's partitions and filesystems can be created (no disk was touched)");
            Ok(())
        }
        Some(e) => Err(Error::invalid(
            "rehearsal",
            format!("the recreation would fail: {e}"),
        )),
    }
}
