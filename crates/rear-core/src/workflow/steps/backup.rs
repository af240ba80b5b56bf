//! Steps of the backup (mkbackup, mkbackuponly) and restore (recover, restoreonly) stages, for
//! BACKUP=NETFS (the built-in tar + zstd archive), RSYNC, EXTERNAL and REQUESTRESTORE.

use std::path::{Path, PathBuf};

use super::super::Context;
use super::layout::CapturedLayout;
use crate::backup::methods::{self, ExternalStep, RsyncTarget};
use crate::backup::target::{Mounted, Target};
use crate::backup::{
    self, BackupOptions, BackupType, Compression, Encryption, RestoreOptions, Selection,
};
use crate::report::OutputFiles;
use crate::ui::{Level, Question};
use crate::{Error, Result};

/// `BACKUP_URL` (the configuration loader already took `NETFS_URL` for it when it was unset).
fn backup_url(ctx: &Context<'_>) -> Result<String> {
    let url = ctx.config.string("BACKUP_URL");
    if url.trim().is_empty() {
        return Err(Error::invalid(
            "BACKUP_URL",
            "is not set (e.g. BACKUP_URL=nfs://server/path)",
        ));
    }
    Ok(url.trim().to_string())
}

fn hostname(ctx: &Context<'_>) -> String {
    let p = ctx.config.string("NETFS_PREFIX");
    if p.trim().is_empty() {
        ctx.system.hostname.clone()
    } else {
        p.trim().to_string()
    }
}

fn encryption(ctx: &Context<'_>) -> Result<Option<Encryption>> {
    if !ctx.config.is_true("BACKUP_PROG_CRYPT_ENABLED") {
        return Ok(None);
    }
    let file = ctx.config.string("BACKUP_PROG_CRYPT_KEY_FILE");
    if !file.trim().is_empty() {
        return Ok(Some(Encryption::KeyFile(PathBuf::from(file.trim()))));
    }
    let key = ctx.config.string("BACKUP_PROG_CRYPT_KEY");
    if key.is_empty() {
        return Err(Error::invalid(
            "BACKUP_PROG_CRYPT_ENABLED",
            "is set but neither BACKUP_PROG_CRYPT_KEY nor BACKUP_PROG_CRYPT_KEY_FILE is",
        ));
    }
    Ok(Some(Encryption::Key(key)))
}

/// Mounts BACKUP_URL (when it needs mounting) under the build directory, as ReaR mounts it on
/// `$BUILD_DIR/outputfs`.
fn mount_target(ctx: &Context<'_>) -> Result<Mounted> {
    let target = Target::parse(&backup_url(ctx)?)?;
    let base = ctx.build_dir.clone().unwrap_or_else(|| {
        ctx.config
            .tmp_dir()
            .join(format!("rear.{}", std::process::id()))
    });
    target.mount(
        ctx.runner,
        &base.join("outputfs"),
        &ctx.config.string("BACKUP_OPTIONS"),
    )
}

/// Mounts the target, runs `work` on its directory and unmounts it again, also when `work`
/// failed. The error of `work` comes first; a failed unmount after a successful `work` is an
/// error too (a target left mounted must not go unnoticed).
fn with_target<T>(ctx: &Context<'_>, work: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let mounted = mount_target(ctx)?;
    let result = work(mounted.dir());
    let unmounted = mounted.unmount(ctx.runner);
    let value = result?;
    unmounted?;
    Ok(value)
}

/// Feeds backup progress to the terminal's progress bar.
fn progress<'u>(
    ui: &'u dyn crate::ui::Ui,
    label: &'static str,
) -> impl Fn(&backup::Progress) + Sync + 'u {
    move |p: &backup::Progress| {
        ui.progress(&crate::ui::Progress {
            label: label.to_string(),
            done: p.bytes,
            total: p.total_bytes,
            bytes: true,
            finished: false,
        });
    }
}

fn finish_progress(ui: &dyn crate::ui::Ui) {
    ui.progress(&crate::ui::Progress {
        label: String::new(),
        done: 0,
        total: None,
        bytes: true,
        finished: true,
    });
}

/// `prep/NETFS/400_check_backup_target`: BACKUP_URL is a target rear can write to.
pub fn check_backup_target(ctx: &mut Context<'_>) -> Result<()> {
    match Target::parse(&backup_url(ctx)?)? {
        Target::File(dir) => std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("creating the backup directory", &dir, e)),
        _ => Ok(()),
    }
}

/// What the backup covers: the mounted local filesystems of the layout (ReaR's rule), or only
/// BACKUP_PROG_INCLUDE with BACKUP_ONLY_INCLUDE=yes; minus BACKUP_PROG_EXCLUDE, EXCLUDE_BACKUP,
/// EXCLUDE_MOUNTPOINTS and the target itself.
fn selection(ctx: &Context<'_>, target_dir: &Path) -> Result<Selection> {
    let mut sel = Selection::tree("/");
    let includes: Vec<PathBuf> = ctx
        .config
        .list("BACKUP_PROG_INCLUDE")
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if ctx.config.is_true("BACKUP_ONLY_INCLUDE") {
        if includes.is_empty() {
            return Err(Error::invalid(
                "BACKUP_ONLY_INCLUDE",
                "is yes but BACKUP_PROG_INCLUDE is empty",
            ));
        }
        sel.include = includes;
    } else {
        let layout = ctx.get::<CapturedLayout>().ok_or_else(|| {
            Error::invalid("backup", "the layout was not captured before the backup")
        })?;
        let mut mounts: Vec<PathBuf> = layout
            .layout
            .entries
            .iter()
            .filter(|e| e.excluded.is_none())
            .filter_map(|e| e.component.mountpoint().map(PathBuf::from))
            .collect();
        mounts.extend(includes);
        mounts.sort();
        mounts.dedup();
        sel.include = mounts;
    }
    sel.default_excludes = true;
    sel.exclude = ctx.config.list("BACKUP_PROG_EXCLUDE");
    for id in ctx
        .config
        .list("EXCLUDE_BACKUP")
        .into_iter()
        .chain(ctx.config.list("EXCLUDE_MOUNTPOINTS"))
    {
        let path = id.strip_prefix("fs:").unwrap_or(&id).to_string();
        if path.starts_with('/') {
            sel.exclude_dirs.push(PathBuf::from(path));
        }
    }
    sel.exclude_dirs.push(target_dir.to_path_buf());
    Ok(sel)
}

/// `backup/NETFS/500_make_backup`.
pub fn make_backup(ctx: &mut Context<'_>) -> Result<()> {
    let summary = with_target(ctx, |dir| make_backup_in(ctx, dir))?;
    ctx.ui.message(
        Level::Info,
        &format!(
            "Wrote the {} backup {} ({} files, {} of data, archive {}) in {:.0} s",
            summary.kind.word(),
            summary.archive.display(),
            summary.archived,
            crate::layout::show::human_size(summary.bytes),
            crate::layout::show::human_size(summary.archive_size),
            summary.elapsed.as_secs_f64()
        ),
    );
    for w in &summary.warnings {
        ctx.ui.message(Level::Warning, w);
    }
    let mut outputs = ctx.take::<OutputFiles>().unwrap_or_default();
    outputs.files.push(summary.archive.clone());
    outputs.files.push(summary.manifest.clone());
    ctx.put(outputs);
    Ok(())
}

fn make_backup_in(ctx: &Context<'_>, dir: &Path) -> Result<backup::BackupSummary> {
    let mut opts = BackupOptions::new(dir, hostname(ctx), selection(ctx, dir)?);
    opts.compression =
        Compression::from_tar_options(&ctx.config.list("BACKUP_PROG_COMPRESS_OPTIONS"))?;
    opts.backup_type = match ctx.config.string("BACKUP_TYPE").trim() {
        "" | "full" => BackupType::Full,
        "incremental" => BackupType::Incremental,
        "differential" => BackupType::Differential,
        other => {
            return Err(Error::invalid(
                "BACKUP_TYPE",
                format!("'{other}' is not empty, incremental or differential"),
            ));
        }
    };
    opts.full_backup_days = ctx.config.list("FULLBACKUPDAY");
    opts.encryption = encryption(ctx)?;
    if opts.backup_type == BackupType::Full && ctx.config.is_true("NETFS_KEEP_OLD_BACKUP_COPY") {
        opts.keep_chains = Some(2);
    } else if opts.backup_type != BackupType::Full {
        opts.keep_chains = None;
    }
    ctx.ui.message(
        Level::Progress,
        &format!("Creating the backup archive in {}", dir.display()),
    );
    let summary = backup::create_backup(&opts, &progress(ctx.ui, "Backing up"));
    finish_progress(ctx.ui);
    summary
}

/// `backup/RSYNC/500_make_rsync_backup`.
pub fn make_rsync_backup(ctx: &mut Context<'_>) -> Result<()> {
    let target = RsyncTarget::parse(&backup_url(ctx)?, &hostname(ctx))?;
    let sel = selection(ctx, Path::new("/nonexistent"))?;
    ctx.ui
        .message(Level::Progress, "Copying the files with rsync");
    methods::rsync_backup(ctx.runner, &target, &sel)
}

/// Runs EXTERNAL_BACKUP, EXTERNAL_RESTORE or EXTERNAL_CHECK, allowing the exit codes of
/// EXTERNAL_IGNORE_ERRORS.
fn external(ctx: &Context<'_>, step: ExternalStep, var: &str) -> Result<()> {
    let command = ctx.config.string(var);
    let ignore: Vec<i32> = ctx
        .config
        .list("EXTERNAL_IGNORE_ERRORS")
        .iter()
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let out = methods::run_external(ctx.runner, step, &command, &ignore)?;
    if !out.trim().is_empty() {
        tracing::info!("{var} printed:\n{out}");
    }
    Ok(())
}

/// `backup/EXTERNAL/500_run_external_backup`.
pub fn run_external_backup(ctx: &mut Context<'_>) -> Result<()> {
    external(ctx, ExternalStep::Backup, "EXTERNAL_BACKUP")
}

/// `backup/default/100_run_pre_backup_script`.
pub fn run_pre_backup_script(ctx: &mut Context<'_>) -> Result<()> {
    super::run_user_commands(ctx, "PRE_BACKUP_SCRIPT")
}

/// `backup/default/900_run_post_backup_script`.
pub fn run_post_backup_script(ctx: &mut Context<'_>) -> Result<()> {
    super::run_user_commands(ctx, "POST_BACKUP_SCRIPT")
}

/// `verify/NETFS/100_check_backup_archive`: the target is reachable and holds a backup of this
/// host (the restore checks every file against the manifest).
pub fn check_backup_archive(ctx: &mut Context<'_>) -> Result<()> {
    let (host_dir, found) = with_target(ctx, |dir| {
        let host_dir = backup::store::host_dir(dir, &hostname(ctx));
        let found = backup::store::list(&host_dir)?;
        Ok((host_dir, found))
    })?;
    let Some(last) = found.last() else {
        return Err(Error::invalid(
            host_dir.display().to_string(),
            "holds no backup of this host: check BACKUP_URL and NETFS_PREFIX",
        ));
    };
    ctx.ui.message(
        Level::Progress,
        &format!("Found {} backup(s); the newest is {}", found.len(), last.id),
    );
    if last.encrypted && !ctx.config.is_true("BACKUP_PROG_CRYPT_ENABLED") {
        return Err(Error::invalid(
            "BACKUP_PROG_CRYPT_ENABLED",
            "the backup is encrypted: set BACKUP_PROG_CRYPT_ENABLED=yes with the key",
        ));
    }
    Ok(())
}

/// `verify/RSYNC/100_check_rsync_source`.
pub fn check_rsync_source(ctx: &mut Context<'_>) -> Result<()> {
    RsyncTarget::parse(&backup_url(ctx)?, &hostname(ctx)).map(|_| ())
}

/// `verify/EXTERNAL/100_run_external_check`.
pub fn run_external_check(ctx: &mut Context<'_>) -> Result<()> {
    external(ctx, ExternalStep::Check, "EXTERNAL_CHECK")
}

/// `restore/NETFS/400_restore_backup`: the full backup and its chain into the target root,
/// every file checked against the manifest.
pub fn restore_backup(ctx: &mut Context<'_>) -> Result<()> {
    let dest = super::target_root(&ctx.config);
    let summary = with_target(ctx, |dir| {
        let mut opts = RestoreOptions::new(dir, hostname(ctx), &dest);
        opts.encryption = encryption(ctx)?;
        ctx.ui.message(
            Level::Progress,
            &format!("Restoring the backup into {}", dest.display()),
        );
        let r = backup::restore_backup(&opts, &progress(ctx.ui, "Restoring"));
        finish_progress(ctx.ui);
        r
    })?;
    ctx.ui.message(
        Level::Info,
        &format!(
            "Restored {} files ({}) from {} in {:.0} s",
            summary.entries,
            crate::layout::show::human_size(summary.bytes),
            summary.chain.join(" + "),
            summary.elapsed.as_secs_f64()
        ),
    );
    for w in &summary.warnings {
        ctx.ui.message(Level::Warning, w);
    }
    Ok(())
}

/// `restore/RSYNC/400_restore_rsync`.
pub fn restore_rsync(ctx: &mut Context<'_>) -> Result<()> {
    let target = RsyncTarget::parse(&backup_url(ctx)?, &hostname(ctx))?;
    methods::rsync_restore(ctx.runner, &target, &super::target_root(&ctx.config))
}

/// `restore/EXTERNAL/400_run_external_restore`.
pub fn run_external_restore(ctx: &mut Context<'_>) -> Result<()> {
    external(ctx, ExternalStep::Restore, "EXTERNAL_RESTORE")
}

/// `restore/REQUESTRESTORE/400_wait_for_manual_restore`: the admin restores the files by hand
/// into the target root, then confirms (`USER_INPUT_REQUESTRESTORE_DONE=yes` pre-answers).
pub fn wait_for_manual_restore(ctx: &mut Context<'_>) -> Result<()> {
    let root = super::target_root(&ctx.config);
    let q = Question::new(
        "REQUESTRESTORE_DONE",
        format!(
            "Restore the files into {} now (another terminal or ssh), then answer 'yes'",
            root.display()
        ),
    )
    .choices(["yes", "abort"]);
    match crate::ui::ask(ctx.ui, &ctx.config, &q)?.as_str() {
        "yes" => Ok(()),
        _ => Err(Error::Aborted { id: q.id }),
    }
}
