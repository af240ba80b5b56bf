//! From parsed options to a finished run and its exit code.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rear_core::cmd::SystemRunner;
use rear_core::config::{LoadOptions, LoadedConfig};
use rear_core::system::{SystemInfo, in_rescue_system};
use rear_core::ui::{Level, Ui};
use rear_core::workflow::{self, Context, RunLock, RunOptions};

use crate::cli::{Cli, WorkflowCommand};
use crate::exit;
use crate::term::TermUi;

/// Runs rear with these arguments (the first is the program name) and returns the exit code.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            });
        }
    };
    ExitCode::from(run(cli))
}

pub(crate) fn version_line() -> String {
    format!("Relax-and-Recover (rear-rs) {}", rear_core::VERSION)
}

fn run(cli: Cli) -> u8 {
    let g = &cli.global;
    if g.version {
        println!("{}", version_line());
        return exit::SUCCESS;
    }
    let Some(workflow_cmd) = &cli.workflow else {
        eprintln!("rear: no workflow given. Usage: rear [OPTIONS] WORKFLOW; see 'rear help'");
        return exit::USAGE;
    };
    if let WorkflowCommand::Help = workflow_cmd {
        if g.simulate {
            println!("Simulation: 'help' shows the usage and runs no steps");
        } else {
            let _ = crate::cli::command().print_long_help();
        }
        return exit::SUCCESS;
    }
    let name = workflow_cmd.name();
    if let WorkflowCommand::Layout(cmd) = workflow_cmd {
        return crate::layout_cmd::run(g, cmd);
    }
    let Some(wf) = workflow::find_workflow(name) else {
        eprintln!("rear: BUG: workflow '{name}' has no definition in rear-core");
        return exit::FAILURE;
    };
    let ui = TermUi::new(
        g.verbose || g.debug || g.debugscripts || name == "recover",
        g.quiet,
        g.debug || g.debugscripts,
        !(g.non_interactive || kernel_cmdline_unattended()),
    );

    let system = SystemInfo::detect();
    let mut overrides = BTreeMap::new();
    if let Some(k) = &g.kernel {
        overrides.insert("KERNEL_VERSION".to_string(), k.clone());
    }

    let runner = SystemRunner::new()
        .dry_run(g.simulate)
        .log_output(g.debug || g.debugscripts);
    let load_opts = LoadOptions {
        config_dir: g.config_dir.clone(),
        workflow: name.to_string(),
        extra_files: g.extra_config.clone(),
        rescue_mode: in_rescue_system(),
        system: system.clone(),
        overrides,
    };
    let mut loaded = match rear_core::config::load(&load_opts, &runner) {
        Ok(l) => l,
        Err(e) => return report_error(&e),
    };
    // Workflow options on the command line win over the configuration files.
    if let WorkflowCommand::Restoreonly { target: Some(t) } = workflow_cmd {
        let t = std::path::absolute(t).unwrap_or_else(|_| t.clone());
        loaded.config.set(
            "TARGET_FS_ROOT",
            rear_core::config::Value::Scalar(t.display().to_string()),
        );
    }
    if let WorkflowCommand::Layoutonly { dry_run: true } = workflow_cmd {
        loaded.config.set(
            "LAYOUT_REHEARSAL",
            rear_core::config::Value::Scalar("yes".into()),
        );
    }
    if let WorkflowCommand::Format(f) = workflow_cmd {
        let scalar = |v: String| rear_core::config::Value::Scalar(v);
        loaded
            .config
            .set("FORMAT_DEVICE", scalar(f.device.display().to_string()));
        if f.yes {
            loaded.config.set("FORMAT_YES", scalar("yes".into()));
        }
    }

    let mut log_path = loaded.config.log_file();
    if wf.lockless {
        let mut p = log_path.into_os_string();
        p.push(".lockless");
        log_path = p.into();
    }
    if let Err(e) = crate::logging::init(&log_path, g.debug, g.debugscripts) {
        // Without a log, a real run would leave no trace: only read-only runs may go on.
        if wf.lockless || g.simulate {
            eprintln!("rear: WARNING: {e:#}; continuing without a log file");
        } else {
            eprintln!("rear: ERROR: {e:#} (set LOGFILE in the configuration, or run as root)");
            return exit::USAGE;
        }
    }
    log_header(&loaded, name, g);
    // The configuration was read before the log could be opened: log those commands now.
    for r in runner.transcript() {
        let first_line = r.command.lines().next().unwrap_or_default();
        tracing::info!(
            "exec (before the log was opened): {}... -> exit status {:?} after {} ms",
            first_line.chars().take(100).collect::<String>(),
            r.status,
            r.millis
        );
    }
    for w in &loaded.warnings {
        ui.message(Level::Warning, &format!("configuration: {w}"));
    }

    let _lock = if wf.lockless || g.simulate {
        None
    } else {
        match RunLock::acquire(&RunLock::default_path()) {
            Ok(l) => Some(l),
            Err(e) => return report_error(&e),
        }
    };

    let options = RunOptions {
        simulate: g.simulate,
        step_by_step: g.step_by_step,
        debug: g.debug,
        debugscript: g.debugscripts,
        non_interactive: !ui.interactive,
        expose_secrets: g.expose_secrets,
    };
    let started = Instant::now();
    let started_at = time::OffsetDateTime::now_utc();
    ui.message(Level::Progress, &version_line());
    ui.message(
        Level::Progress,
        &format!("Running rear {name} (PID {})", std::process::id()),
    );
    ui.message(
        Level::Progress,
        &format!("Using log file: {}", log_path.display()),
    );
    let mut ctx = Context::new(
        loaded.config.clone(),
        system,
        &runner,
        &ui,
        options,
        wf.name,
    );
    let result = workflow::run_workflow(&mut ctx, wf);
    cleanup_build_dir(&ctx, g.debug || g.debugscripts);
    if !g.simulate && !matches!(name, "dump" | "validate" | "inventory") {
        send_report(&ctx, &result, started_at, started.elapsed(), &log_path);
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => return report_error(&e),
    };
    if g.simulate {
        println!("Simulation mode: these steps of workflow '{name}' would run, in order:");
        for step in &summary.steps {
            println!("Step {step}");
        }
        return exit::SUCCESS;
    }
    if let Some(dump) = ctx.get::<workflow::steps::Dump>() {
        print!("{}", crate::render::dump(dump, &loaded));
    }
    let secs = started.elapsed().as_secs();
    ui.message(
        Level::Progress,
        &format!("Finished rear {name} in {secs} seconds"),
    );
    tracing::info!("exit code {}", ctx.exit_code);
    ctx.exit_code
}

/// Sends the run's report to rear-server when configured. Never changes the run's outcome.
fn send_report(
    ctx: &Context<'_>,
    result: &rear_core::Result<workflow::RunSummary>,
    started_at: time::OffsetDateTime,
    duration: std::time::Duration,
    log_path: &std::path::Path,
) {
    use rear_core::report::{self, Delivery, OutputFiles, RunFacts, ServerSettings};
    let settings = match ServerSettings::from_config(&ctx.config, &ctx.system.hostname) {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            ctx.ui.message(
                Level::Warning,
                &format!("not reporting to rear-server: {e}"),
            );
            return;
        }
    };
    let no_outputs = OutputFiles::default();
    let outputs = ctx.get::<OutputFiles>().unwrap_or(&no_outputs);
    let facts = RunFacts {
        workflow: ctx.workflow,
        started_at,
        duration,
        error: result.as_ref().err().map(ToString::to_string),
        log_file: Some(log_path),
        outputs,
    };
    let mut r = report::build_report(&ctx.config, &ctx.system, &facts);
    if let Some(inv) = ctx.get::<rear_core::inventory::Inventory>() {
        r.inventory = serde_json::to_value(inv).unwrap_or_default();
    }
    if let (Ok(_), Some(iso)) = (result, outputs.image.as_deref())
        && matches!(settings.url.scheme.as_str(), "http" | "https")
        && ctx.config.is_true("REAR_SERVER_UPLOAD_IMAGE")
    {
        // The image goes first, so that the report that names it finds it stored. A failed
        // upload is a warning: the run and its report stand.
        let digest = r.image.as_ref().map(|i| (i.sha256.as_str(), i.size));
        match report::upload::upload_image(iso, &ctx.system.hostname, &settings, digest) {
            Ok(u) => ctx.ui.message(
                Level::Progress,
                &format!(
                    "{} the rescue image {} ({} bytes, sha256 {}) to {}",
                    if u.new_object {
                        "Uploaded"
                    } else {
                        "The server already had"
                    },
                    iso.display(),
                    u.size,
                    &u.sha256[..12.min(u.sha256.len())],
                    settings.url
                ),
            ),
            Err(e) => ctx.ui.message(
                Level::Warning,
                &format!("could not upload the rescue image to rear-server: {e}"),
            ),
        }
    }
    let queue = report::queue_dir(&ctx.config);
    match report::deliver(&r, outputs.image.as_deref(), &settings, ctx.runner, &queue) {
        Delivery::Sent { via, flushed } => {
            let extra = if flushed > 0 { format!(" (and {flushed} queued)") } else { String::new() };
            ctx.ui.message(Level::Progress, &format!("Sent the report to {} by {via}{extra}", settings.url));
        }
        Delivery::Queued { path, reason } => ctx.ui.message(
            Level::Warning,
            &format!("Could not send the report to {} ({reason}); it is queued in {} and goes with the next run", settings.url, path.display()),
        ),
    }
}

pub(crate) fn report_error(e: &rear_core::Error) -> u8 {
    tracing::error!("{e}");
    let first = e.to_string();
    let mut lines = first.lines();
    eprintln!("rear: ERROR: {}", lines.next().unwrap_or_default());
    for l in lines {
        eprintln!("  {l}");
    }
    if let Some(hint) = e.hint() {
        eprintln!("rear: hint: {hint}");
    }
    exit::code_for(e)
}

fn log_header(loaded: &LoadedConfig, workflow: &str, g: &crate::cli::GlobalOptions) {
    tracing::info!("{} starting workflow {workflow}", version_line());
    tracing::info!("command line: {:?}", std::env::args().collect::<Vec<_>>());
    tracing::info!(
        "simulate={} debug={} debugscripts={}",
        g.simulate,
        g.debug,
        g.debugscripts
    );
    for f in &loaded.files {
        if f.read {
            tracing::info!(
                "configuration file {} (sets: {})",
                f.path.display(),
                f.set.join(" ")
            );
        } else {
            tracing::info!("configuration file {} not present", f.path.display());
        }
    }
}

fn cleanup_build_dir(ctx: &Context<'_>, debug: bool) {
    let Some(dir) = &ctx.build_dir else { return };
    if debug || ctx.config.is_true("KEEP_BUILD_DIR") {
        ctx.ui.message(
            Level::Info,
            &format!("Keeping build directory {}", dir.display()),
        );
        return;
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!("removing build directory {}: {e}", dir.display());
    }
}

/// `unattended` or `auto_recover` on the kernel command line (the rescue system's automatic mode)
/// means no prompt may wait.
fn kernel_cmdline_unattended() -> bool {
    in_rescue_system()
        && std::fs::read_to_string("/proc/cmdline").is_ok_and(|c| {
            c.split_whitespace()
                .any(|w| w == "unattended" || w == "auto_recover")
        })
}
