//! The command line, compatible with ReaR's:
//! `rear [-V -v -d -D -s -S -q -n -e -r KERNEL -c DIR -C CONF] WORKFLOW [OPTIONS]`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Relax-and-Recover (rear-rs): Linux bare-metal disaster recovery.
#[derive(Debug, Parser)]
#[command(
    name = "rear",
    about = "Relax-and-Recover (rear-rs): Linux bare-metal disaster recovery",
    long_about = "Relax-and-Recover (rear-rs) captures a Linux system's disk layout, backs up its \
files and builds a bootable rescue system. Booted on bare metal, the rescue system runs \
'rear recover', which recreates the layout, restores the files and makes the machine boot again.\n\n\
Configuration is read from /etc/rear/site.conf and /etc/rear/local.conf (bash syntax, as ReaR).",
    disable_version_flag = true,
    disable_help_subcommand = true,
    after_help = crate::exit::TABLE,
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,

    /// The workflow to run.
    #[command(subcommand)]
    pub workflow: Option<WorkflowCommand>,
}

/// Options that apply to every workflow.
#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Print the version and exit.
    #[arg(short = 'V', long = "version", global = true)]
    pub version: bool,

    /// Verbose: show progress messages.
    #[arg(short = 'v', long = "verbose", global = true)]
    pub verbose: bool,

    /// Debug: also log the output of every command run, and keep the build directory.
    #[arg(short = 'd', long = "debug", global = true)]
    pub debug: bool,

    /// Debugscript: as -d, plus a trace of every step in the log.
    #[arg(short = 'D', long = "debugscripts", global = true)]
    pub debugscripts: bool,

    /// Simulation: print the steps that would run, in order, and run none.
    #[arg(short = 's', long = "simulate", global = true)]
    pub simulate: bool,

    /// Step by step: ask before each step.
    #[arg(short = 'S', long = "step-by-step", global = true)]
    pub step_by_step: bool,

    /// Quiet: only warnings and errors.
    #[arg(short = 'q', long = "quiet", global = true)]
    pub quiet: bool,

    /// Kernel version to use (default: the running kernel).
    #[arg(short = 'r', value_name = "KERNEL", global = true)]
    pub kernel: Option<String>,

    /// Configuration directory.
    #[arg(
        short = 'c',
        value_name = "DIR",
        default_value = "/etc/rear",
        global = true
    )]
    pub config_dir: PathBuf,

    /// Extra configuration file, read last (absolute or relative to the configuration
    /// directory; ".conf" may be left out). May be given several times.
    #[arg(short = 'C', value_name = "CONF", global = true)]
    pub extra_config: Vec<String>,

    /// Non-interactive: never wait for input; prompts take their pre-answer or default.
    #[arg(short = 'n', long = "non-interactive", global = true)]
    pub non_interactive: bool,

    /// Expose secrets: show passwords and keys in the log and in 'dump'.
    #[arg(short = 'e', long = "expose-secrets", global = true)]
    pub expose_secrets: bool,
}

/// The workflows.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Show this usage.
    Help,
    /// Show the system definition and the configuration.
    Dump,
    /// Create the rescue media only.
    Mkrescue,
    /// Create rescue media and the backup.
    Mkbackup,
    /// Create the backup only.
    Mkbackuponly,
    /// Recover the system (in the rescue system).
    Recover,
    /// Restore the backup only.
    Restoreonly {
        /// Restore into this directory instead of /mnt/local.
        #[arg(long, value_name = "DIR")]
        target: Option<PathBuf>,
    },
    /// Recreate the disk layout only.
    Layoutonly {
        /// Rehearse: create the partitions and filesystems on sparse files (loop devices) of the
        /// disks' sizes instead of the disks, and report what would fail. No disk is touched.
        #[arg(long)]
        dry_run: bool,
    },
    /// Save the disk layout.
    Savelayout,
    /// Check whether the disk layout changed (exit 1 if it did).
    Checklayout,
    /// Mount the recovered system's filesystems under /mnt/local.
    Mountonly,
    /// Format a USB disk as rescue medium (REAR-000).
    Format(FormatArgs),
    /// Check the configuration and the tools recovery needs.
    Validate,
    /// Create a distribution archive of rear itself.
    Mkdist,
    /// Collect the system inventory (hardware, packages, services, network, ...).
    Inventory,
    /// Show, import or export a layout file (no lock, changes nothing on disks).
    #[command(subcommand)]
    Layout(LayoutCommand),
}

/// `rear layout ...`.
#[derive(Debug, Subcommand)]
pub enum LayoutCommand {
    /// Print the layout as a dependency tree, from disks up to mount points.
    Show {
        /// The layout file (default: the saved one, $VAR_DIR/layout/layout.conf).
        file: Option<PathBuf>,
    },
    /// Read a layout in another format and write it as a rear layout file.
    Import {
        /// The input format: `rear` is ReaR's disklayout.conf.
        #[arg(long, value_enum, default_value = "rear")]
        format: LayoutFormat,
        /// Write here instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// The file to read.
        file: PathBuf,
    },
    /// Write a layout file in another format.
    Export {
        /// The output format: `rear` is ReaR's disklayout.conf.
        #[arg(long, value_enum, default_value = "rear")]
        format: LayoutFormat,
        /// Write here instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// The layout file (default: the saved one).
        file: Option<PathBuf>,
    },
}

/// Foreign layout formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LayoutFormat {
    /// ReaR 2.x `disklayout.conf`.
    Rear,
}

/// Options of `rear format`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Make the disk bootable with EFI (adds a REAR-EFI partition). Long form only, because
    /// `-e` is the global --expose-secrets.
    #[arg(long = "efi")]
    pub efi: bool,
    /// Make the disk bootable with legacy BIOS only.
    #[arg(short = 'b', long = "bios")]
    pub bios: bool,
    /// Format even if the disk holds data.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Answer yes to the confirmation.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// The disk, e.g. /dev/sdX.
    pub device: PathBuf,
}

impl WorkflowCommand {
    /// The workflow's name, as in `rear-core`'s registry.
    pub fn name(&self) -> &'static str {
        match self {
            WorkflowCommand::Help => "help",
            WorkflowCommand::Dump => "dump",
            WorkflowCommand::Mkrescue => "mkrescue",
            WorkflowCommand::Mkbackup => "mkbackup",
            WorkflowCommand::Mkbackuponly => "mkbackuponly",
            WorkflowCommand::Recover => "recover",
            WorkflowCommand::Restoreonly { .. } => "restoreonly",
            WorkflowCommand::Layoutonly { .. } => "layoutonly",
            WorkflowCommand::Savelayout => "savelayout",
            WorkflowCommand::Checklayout => "checklayout",
            WorkflowCommand::Mountonly => "mountonly",
            WorkflowCommand::Format(_) => "format",
            WorkflowCommand::Validate => "validate",
            WorkflowCommand::Mkdist => "mkdist",
            WorkflowCommand::Inventory => "inventory",
            WorkflowCommand::Layout(_) => "layout",
        }
    }
}

/// The clap command, for man pages and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        super::command().debug_assert();
    }
}
