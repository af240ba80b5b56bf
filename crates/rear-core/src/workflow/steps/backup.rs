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

// --- BACKUP=BORG and BACKUP=RESTIC (session 2) ---

/// Runs `work` with the Borg settings: with `BORGBACKUP_HOST` the repository is remote; without
/// it `BORGBACKUP_REPO` lies below the mounted `BACKUP_URL` when one is set, else it is a local
/// path. The second argument of `work` is the local directory to leave out of the backup.
fn with_borg<T>(
    ctx: &Context<'_>,
    work: impl FnOnce(&backup::borg::BorgSettings, Option<&Path>) -> Result<T>,
) -> Result<T> {
    let remote = !ctx.config.string("BORGBACKUP_HOST").trim().is_empty();
    if !remote && !ctx.config.string("BACKUP_URL").trim().is_empty() {
        with_target(ctx, |dir| {
            let s = backup::borg::BorgSettings::from_config(&ctx.config, Some(dir))?;
            work(&s, Some(dir))
        })
    } else {
        let s = backup::borg::BorgSettings::from_config(&ctx.config, None)?;
        let local = (!remote).then(|| PathBuf::from(&s.repo));
        work(&s, local.as_deref())
    }
}

/// Runs `work` with the restic settings: `RESTIC_REPOSITORY` as it is, or the repository
/// `<hostname>/restic` below the mounted `BACKUP_URL`.
fn with_restic<T>(
    ctx: &Context<'_>,
    work: impl FnOnce(&backup::restic::ResticSettings, Option<&Path>) -> Result<T>,
) -> Result<T> {
    if ctx.config.string("RESTIC_REPOSITORY").trim().is_empty() {
        if ctx.config.string("BACKUP_URL").trim().is_empty() {
            return Err(Error::invalid(
                "RESTIC_REPOSITORY",
                "is not set and neither is BACKUP_URL: BACKUP=RESTIC needs one of them",
            ));
        }
        with_target(ctx, |dir| {
            let s = backup::restic::ResticSettings::from_config(
                &ctx.config,
                &hostname(ctx),
                Some(dir),
            )?;
            work(&s, Some(dir))
        })
    } else {
        let s = backup::restic::ResticSettings::from_config(&ctx.config, &hostname(ctx), None)?;
        let local = s.repo.starts_with('/').then(|| PathBuf::from(&s.repo));
        work(&s, local.as_deref())
    }
}

/// Appends `items` to the array variable `name` (ReaR's `VAR+=( ... )`).
fn append_config_list(ctx: &mut Context<'_>, name: &str, items: &[String]) {
    let mut list = ctx.config.list(name);
    for i in items {
        if !list.contains(i) {
            list.push(i.clone());
        }
    }
    ctx.config.set(name, crate::config::Value::Array(list));
}

/// What the rescue system needs to run borg, a Python program: the `borg` script, the
/// interpreter, the standard library and borg's Python packages (`borg`, `msgpack`,
/// `packaging` and their metadata, which the entry script reads). Returns (programs, trees,
/// excluded trees).
pub fn borg_rescue_files() -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut progs = vec!["borg".to_string(), "python3".to_string()];
    let mut trees = Vec::new();
    let mut exclude = Vec::new();
    if let Ok(real) = std::fs::canonicalize("/usr/bin/python3")
        && let Some(name) = real.file_name().and_then(|n| n.to_str())
    {
        progs.push(name.to_string());
        let stdlib = Path::new("/usr/lib").join(name);
        if stdlib.is_dir() {
            for big in [
                "test",
                "idlelib",
                "tkinter",
                "ensurepip",
                "lib2to3",
                "pydoc_data",
            ] {
                exclude.push(stdlib.join(big).display().to_string());
            }
            trees.push(stdlib.display().to_string());
        }
    }
    let dist = Path::new("/usr/lib/python3/dist-packages");
    if let Ok(entries) = std::fs::read_dir(dist) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                let l = n.to_ascii_lowercase();
                ["borg", "msgpack", "packaging"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .collect();
        names.sort();
        trees.extend(
            names
                .into_iter()
                .map(|n| dist.join(n).display().to_string()),
        );
    }
    (progs, trees, exclude)
}

/// `prep/BORG/default/300_init_archive` (with ReaR's `200_prep_borg`): the settings are valid,
/// borg is installed, the repository exists (created with `BORGBACKUP_ENC_TYPE` when it does
/// not), and the rescue image gets borg and its Python runtime (`REQUIRED_PROGS`,
/// `COPY_AS_IS`).
pub fn prep_borg(ctx: &mut Context<'_>) -> Result<()> {
    let created = with_borg(ctx, |s, _| backup::borg::ensure_repository(ctx.runner, s))?;
    if created {
        ctx.ui
            .message(Level::Info, "Created the Borg repository (BORGBACKUP_REPO)");
    }
    let (progs, trees, exclude) = borg_rescue_files();
    append_config_list(ctx, "REQUIRED_PROGS", &progs);
    append_config_list(ctx, "COPY_AS_IS", &trees);
    append_config_list(ctx, "COPY_AS_IS_EXCLUDE", &exclude);
    Ok(())
}

/// `backup/BORG/default/500_make_backup`: the NETFS selection archived with borg create.
pub fn make_borg_backup(ctx: &mut Context<'_>) -> Result<()> {
    let archive = with_borg(ctx, |s, local| {
        let sel = selection(ctx, local.unwrap_or(Path::new("/nonexistent")))?;
        ctx.ui
            .message(Level::Progress, "Creating the Borg archive (borg create)");
        backup::borg::create(ctx.runner, s, &sel)
    })?;
    ctx.ui
        .message(Level::Info, &format!("Wrote the Borg archive {archive}"));
    Ok(())
}

/// `verify/BORG/default/400_check_archive_access`: the repository opens and holds an archive.
pub fn check_borg_archive(ctx: &mut Context<'_>) -> Result<()> {
    let archives = with_borg(ctx, |s, _| {
        let a = backup::borg::list_archives(ctx.runner, s)?;
        if a.is_empty() {
            return Err(Error::invalid(
                format!("Borg repository {}", s.repo),
                format!(
                    "holds no archive named {}_*: check BORGBACKUP_REPO and \
                     BORGBACKUP_ARCHIVE_PREFIX",
                    s.archive_prefix
                ),
            ));
        }
        Ok(a)
    })?;
    ctx.ui.message(
        Level::Progress,
        &format!(
            "Found {} Borg archive(s); the newest is {}",
            archives.len(),
            archives.last().map(String::as_str).unwrap_or_default()
        ),
    );
    Ok(())
}

/// `restore/BORG/default/400_restore_backup`: the newest archive into the target root.
pub fn restore_borg(ctx: &mut Context<'_>) -> Result<()> {
    let dest = super::target_root(&ctx.config);
    let name = with_borg(ctx, |s, _| {
        ctx.ui.message(
            Level::Progress,
            &format!("Restoring the newest Borg archive into {}", dest.display()),
        );
        backup::borg::restore(ctx.runner, s, None, &dest)
    })?;
    ctx.ui
        .message(Level::Info, &format!("Restored the Borg archive {name}"));
    Ok(())
}

/// `prep/RESTIC/300_init_repository`: the settings are valid, restic is installed and the
/// repository exists (created when it does not); the rescue image must have restic.
pub fn prep_restic(ctx: &mut Context<'_>) -> Result<()> {
    let created = with_restic(ctx, |s, _| backup::restic::ensure_repository(ctx.runner, s))?;
    if created {
        ctx.ui.message(Level::Info, "Created the restic repository");
    }
    append_config_list(ctx, "REQUIRED_PROGS", &["restic".to_string()]);
    Ok(())
}

/// `backup/RESTIC/500_make_backup`: the NETFS selection backed up with restic backup.
pub fn make_restic_backup(ctx: &mut Context<'_>) -> Result<()> {
    let id = with_restic(ctx, |s, local| {
        let sel = selection(ctx, local.unwrap_or(Path::new("/nonexistent")))?;
        ctx.ui.message(Level::Progress, "Backing up with restic");
        backup::restic::backup(ctx.runner, s, &sel)
    })?;
    ctx.ui
        .message(Level::Info, &format!("Wrote the restic snapshot {id}"));
    Ok(())
}

/// `verify/RESTIC/400_check_snapshot`: the repository opens and holds a snapshot of this host.
pub fn check_restic_snapshot(ctx: &mut Context<'_>) -> Result<()> {
    let snaps = with_restic(ctx, |s, _| {
        let v = backup::restic::list_snapshots(ctx.runner, s)?;
        if v.is_empty() {
            return Err(Error::invalid(
                format!("restic repository {}", s.repo_for_humans()),
                format!(
                    "holds no snapshot of host {} tagged 'rear': check RESTIC_REPOSITORY or \
                     BACKUP_URL and NETFS_PREFIX",
                    s.hostname
                ),
            ));
        }
        Ok(v)
    })?;
    if let Some((id, time)) = snaps.last() {
        ctx.ui.message(
            Level::Progress,
            &format!(
                "Found {} restic snapshot(s); the newest is {id} from {time}",
                snaps.len()
            ),
        );
    }
    Ok(())
}

/// `restore/RESTIC/400_restore_snapshot`: the newest snapshot of this host into the target root.
pub fn restore_restic(ctx: &mut Context<'_>) -> Result<()> {
    let dest = super::target_root(&ctx.config);
    let id = with_restic(ctx, |s, _| {
        ctx.ui.message(
            Level::Progress,
            &format!(
                "Restoring the newest restic snapshot into {}",
                dest.display()
            ),
        );
        backup::restic::restore(ctx.runner, s, None, &dest)
    })?;
    ctx.ui
        .message(Level::Info, &format!("Restored the restic snapshot {id}"));
    Ok(())
}
