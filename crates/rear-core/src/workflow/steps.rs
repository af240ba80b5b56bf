//! Step functions of the foundation: configuration checks, the build directory, tool checks and
//! `rear dump`. Steps of other areas live with their areas and are listed in the registry.

pub mod backup;
pub mod layout;
pub mod recreate;
pub mod rescue;

use std::path::PathBuf;

use super::Context;
use crate::cmd::tools::{self, Need};
use crate::config::is_secret;
use crate::ui::Level;
use crate::{Error, Result};

/// OUTPUT values rear knows.
pub const KNOWN_OUTPUTS: &[&str] = &["ISO", "PXE", "USB", "RAWDISK", "RAMDISK"];
/// BACKUP values rear knows.
pub const KNOWN_BACKUPS: &[&str] = &[
    "NETFS",
    "RSYNC",
    "BORG",
    "RESTIC",
    "EXTERNAL",
    "REQUESTRESTORE",
];

/// `init/default/100_check_config`: OUTPUT, BACKUP and the URLs are valid.
pub fn check_config(ctx: &mut Context<'_>) -> Result<()> {
    let c = &ctx.config;
    for output in c.output().split_whitespace() {
        if !KNOWN_OUTPUTS.contains(&output) {
            return Err(Error::invalid(
                "OUTPUT",
                format!(
                    "'{output}' is not supported (use one of: {})",
                    KNOWN_OUTPUTS.join(", ")
                ),
            ));
        }
    }
    let backup = c.backup();
    if !KNOWN_BACKUPS.contains(&backup.as_str()) {
        return Err(Error::invalid(
            "BACKUP",
            format!(
                "'{backup}' is not supported by this rear (supported: {}); for a vendor tool use \
                 BACKUP=EXTERNAL with EXTERNAL_BACKUP/EXTERNAL_RESTORE",
                KNOWN_BACKUPS.join(", ")
            ),
        ));
    }
    c.backup_url()?;
    c.output_url()?;
    c.rear_server()?;
    if backup == "NETFS" && c.backup_url()?.is_none() {
        return Err(Error::invalid(
            "BACKUP_URL",
            "BACKUP=NETFS needs BACKUP_URL (e.g. nfs://server/path)",
        ));
    }
    Ok(())
}

/// `prep/default/010_make_build_dir`: a private directory under TMPDIR for this run.
pub fn make_build_dir(ctx: &mut Context<'_>) -> Result<()> {
    let base = ctx.config.tmp_dir();
    std::fs::create_dir_all(&base).map_err(|e| Error::io("creating TMPDIR", &base, e))?;
    let dir = base.join(format!("rear.{}.{}", std::process::id(), unique_suffix()));
    std::fs::create_dir(&dir).map_err(|e| Error::io("creating build directory", &dir, e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("securing build directory", &dir, e))?;
    tracing::info!("build directory {}", dir.display());
    ctx.build_dir = Some(dir);
    Ok(())
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:08x}")
}

/// `prep/ISO/300_check_iso_tools`: the programs that write an ISO are installed.
pub fn check_iso_tools(_ctx: &mut Context<'_>) -> Result<()> {
    let needed = [tools::XORRISO, tools::MKFS_VFAT, tools::MCOPY, tools::MMD];
    let missing: Vec<_> = needed.iter().filter(|t| t.resolve().is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|t| t.program()).collect();
    let packages: Vec<&str> = missing.iter().map(|t| t.package()).collect();
    Err(Error::invalid(
        "OUTPUT=ISO",
        format!(
            "needs {} (Debian: apt-get install {})",
            names.join(", "),
            packages.join(" ")
        ),
    ))
}

/// Which tools are there, for `validate` and `dump`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolReport {
    /// (program, resolved path or None, need)
    pub tools: Vec<(String, Option<PathBuf>, Need)>,
}

impl ToolReport {
    /// Looks up every registered tool on the running system.
    pub fn collect() -> Self {
        ToolReport {
            tools: tools::ALL
                .iter()
                .map(|t| (t.program().to_string(), t.resolve(), t.need()))
                .collect(),
        }
    }

    /// The required tools that are missing.
    pub fn missing_required(&self) -> Vec<&str> {
        self.tools
            .iter()
            .filter(|(_, p, n)| p.is_none() && *n == Need::Required)
            .map(|(name, _, _)| name.as_str())
            .collect()
    }
}

/// `validate/default/100_check_tools`: every required tool is installed.
pub fn check_tools(ctx: &mut Context<'_>) -> Result<()> {
    let report = ToolReport::collect();
    for (name, path, need) in &report.tools {
        if path.is_none() && *need == Need::Optional {
            ctx.ui.message(
                Level::Progress,
                &format!("optional tool not installed: {name}"),
            );
        }
    }
    let missing = report.missing_required();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing
            .iter()
            .map(|m| tools::debian_package_of(m))
            .collect();
        return Err(Error::invalid(
            "required tools",
            format!(
                "missing: {} (Debian: apt-get install {})",
                missing.join(", "),
                packages.join(" ")
            ),
        ));
    }
    ctx.ui
        .message(Level::Info, "All required tools are installed.");
    ctx.put(report);
    Ok(())
}

/// What `rear dump` shows; the CLI renders it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dump {
    /// (name, value) of the system definition.
    pub system: Vec<(String, String)>,
    /// (variable, value rendered as bash) for every variable rear uses, secrets masked.
    pub values: Vec<(String, String)>,
    /// Tools, with their resolved paths.
    pub tools: ToolReport,
    /// The saved layout as a tree, when there is one.
    pub layout_tree: Option<(PathBuf, String)>,
}

/// `dump/default/100_collect_dump`: the system definition and the effective configuration.
pub fn collect_dump(ctx: &mut Context<'_>) -> Result<()> {
    let c = &ctx.config;
    let sys = [
        "ARCH",
        "OS",
        "OS_MASTER_VENDOR",
        "OS_VENDOR",
        "OS_VERSION",
        "HOSTNAME",
        "KERNEL_VERSION",
    ];
    let system = sys.iter().map(|k| (k.to_string(), c.string(k))).collect();
    let mut values = Vec::new();
    for (name, value) in c.iter() {
        if !crate::config::is_known_variable(name) || sys.contains(&name.as_str()) {
            continue;
        }
        let rendered =
            if is_secret(name) && !ctx.options.expose_secrets && !value.as_scalar().is_empty() {
                "******** (secret: use -e to show)".to_string()
            } else {
                let text = value.to_bash();
                // URLs may carry credentials
                if name.ends_with("_URL") && !ctx.options.expose_secrets {
                    crate::config::RearUrl::parse(&value.as_scalar())
                        .map(|u| u.redacted())
                        .unwrap_or(text)
                } else {
                    text
                }
            };
        values.push((name.clone(), rendered));
    }
    let layout_path = ctx.config.layout_dir().join(layout::LAYOUT_FILE);
    let layout_tree = crate::layout::file::load(&layout_path)
        .ok()
        .map(|l| (layout_path, crate::layout::show::tree(&l)));
    ctx.put(Dump {
        system,
        values,
        tools: ToolReport::collect(),
        layout_tree,
    });
    Ok(())
}

/// `rescue/default/050_collect_inventory` and `inventory/default/100_collect_inventory`: the
/// inventory, saved as JSON and HTML in the recovery directory (which goes into the rescue
/// image) and kept for the run's report.
pub fn collect_inventory(ctx: &mut Context<'_>) -> Result<()> {
    ctx.ui
        .message(Level::Progress, "Collecting the system inventory");
    let opts = crate::inventory::InventoryOptions::default();
    let inv = crate::inventory::collect(ctx.runner, &opts, &ctx.system.hostname);
    let (json, html) = crate::inventory::save(&inv, &ctx.config.recovery_dir())?;
    ctx.ui.message(
        Level::Info,
        &format!(
            "Wrote the inventory to {} and {}",
            json.display(),
            html.display()
        ),
    );
    ctx.put(inv);
    Ok(())
}

/// `setup/default/100_run_pre_recovery_script`: `PRE_RECOVERY_SCRIPT` (a command, or an array
/// of commands), each run with `bash -c`, before anything is recreated. A failure stops recovery.
pub fn run_pre_recovery_script(ctx: &mut Context<'_>) -> Result<()> {
    run_user_commands(ctx, "PRE_RECOVERY_SCRIPT")
}

/// Runs the commands of a ReaR hook variable (`PRE_RECOVERY_SCRIPT`, `POST_RECOVERY_SCRIPT`,
/// `PRE_BACKUP_SCRIPT`, ...), each with `bash -c`, in order.
///
/// # Errors
/// The first command that fails, naming the variable.
pub fn run_user_commands(ctx: &mut Context<'_>, variable: &str) -> Result<()> {
    let commands: Vec<String> = match ctx.config.get(variable) {
        Some(crate::config::Value::Scalar(s)) if !s.trim().is_empty() => vec![s.clone()],
        Some(crate::config::Value::Array(a)) => {
            a.iter().filter(|c| !c.trim().is_empty()).cloned().collect()
        }
        _ => Vec::new(),
    };
    for c in commands {
        ctx.ui
            .message(Level::Progress, &format!("Running {variable}: {c}"));
        crate::cmd::Cmd::mutate(tools::BASH)
            .args(["-c", &c])
            .describe(format!("running {variable}"))
            .run(ctx.runner)?;
    }
    Ok(())
}

/// `wrapup/default/100_copy_logs_and_layout`: the recovery log and the layout go into the
/// recovered system (`<target>/var/log/rear/recover/`), then `POST_RECOVERY_SCRIPT` runs.
pub fn copy_logs_and_layout(ctx: &mut Context<'_>) -> Result<()> {
    let target = target_root(&ctx.config);
    let log = ctx.config.log_file();
    let layout_dir = ctx.config.layout_dir();
    let opts = crate::finalize::WrapupOptions {
        target,
        log: log.is_file().then_some(log),
        layout_dir: layout_dir.is_dir().then_some(layout_dir),
        post_recovery_script: ctx.config.list("POST_RECOVERY_SCRIPT"),
    };
    let report = crate::finalize::wrapup(&opts, ctx.runner, ctx.options.simulate)?;
    ctx.ui.message(
        Level::Progress,
        &format!(
            "Copied {} log and layout files to {}",
            report.copied.len(),
            opts.target
                .join(crate::finalize::wrapup::RECOVER_LOG_DIR)
                .display()
        ),
    );
    Ok(())
}

/// Where recovery mounts the recreated filesystems and restores the files: `TARGET_FS_ROOT`
/// (`/mnt/local`; `restoreonly --target DIR` sets it).
pub fn target_root(config: &crate::config::Config) -> PathBuf {
    let t = config.string("TARGET_FS_ROOT");
    PathBuf::from(if t.trim().is_empty() {
        recreate::TARGET_ROOT
    } else {
        t.trim()
    })
}
