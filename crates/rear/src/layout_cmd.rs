//! `rear layout show|import|export`: work on layout files without touching any disk.

use std::path::{Path, PathBuf};

use rear_core::cmd::SystemRunner;
use rear_core::config::LoadOptions;
use rear_core::layout;
use rear_core::layout::rear::Severity;
use rear_core::system::{SystemInfo, in_rescue_system};
use rear_core::workflow::steps::layout::LAYOUT_FILE;

use crate::cli::{GlobalOptions, LayoutCommand};
use crate::exit;
use crate::run::report_error;

/// Runs a `rear layout` command and returns the exit code.
pub fn run(g: &GlobalOptions, cmd: &LayoutCommand) -> u8 {
    match run_inner(g, cmd) {
        Ok(code) => code,
        Err(e) => report_error(&e),
    }
}

fn saved_layout(g: &GlobalOptions) -> rear_core::Result<PathBuf> {
    let opts = LoadOptions {
        config_dir: g.config_dir.clone(),
        workflow: "layout".into(),
        extra_files: g.extra_config.clone(),
        rescue_mode: in_rescue_system(),
        system: SystemInfo::detect(),
        overrides: Default::default(),
    };
    let loaded = rear_core::config::load(&opts, &SystemRunner::new())?;
    Ok(loaded.config.layout_dir().join(LAYOUT_FILE))
}

fn write_out(output: Option<&Path>, text: &str) -> rear_core::Result<()> {
    match output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(p) => {
            // Never clobber a file half-way: write aside, then rename.
            let tmp = p.with_extension("tmp-rear");
            std::fs::write(&tmp, text).map_err(|e| rear_core::Error::io("writing", &tmp, e))?;
            std::fs::rename(&tmp, p).map_err(|e| rear_core::Error::io("writing", p, e))
        }
    }
}

fn run_inner(g: &GlobalOptions, cmd: &LayoutCommand) -> rear_core::Result<u8> {
    match cmd {
        LayoutCommand::Show { file } => {
            let path = match file {
                Some(f) => f.clone(),
                None => saved_layout(g)?,
            };
            let l = layout::file::load(&path)?;
            print!("{}", layout::show::tree(&l));
            Ok(exit::SUCCESS)
        }
        LayoutCommand::Import {
            format: _,
            output,
            file,
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| rear_core::Error::io("reading", file, e))?;
            let (l, diags) = layout::rear::import(&text);
            let mut errors = 0;
            for d in &diags {
                let sev = if d.severity == Severity::Error {
                    errors += 1;
                    "error"
                } else {
                    "warning"
                };
                eprintln!("{}:{}: {sev}: {}", file.display(), d.line, d.message);
            }
            write_out(output.as_deref(), &layout::file::write(&l))?;
            if errors > 0 {
                eprintln!(
                    "rear: {errors} line(s) of {} could not be imported (listed above); the rest was",
                    file.display()
                );
                return Ok(exit::USAGE);
            }
            Ok(exit::SUCCESS)
        }
        LayoutCommand::Export {
            format: _,
            output,
            file,
        } => {
            let path = match file {
                Some(f) => f.clone(),
                None => saved_layout(g)?,
            };
            let l = layout::file::load(&path)?;
            write_out(output.as_deref(), &layout::rear::export(&l))?;
            Ok(exit::SUCCESS)
        }
    }
}
