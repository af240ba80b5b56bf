//! The log file: /var/log/rear/rear-HOSTNAME.log (LOGFILE), with timestamps.
//!
//! Everything rear-core logs through `tracing` goes here: every step, every external command
//! with its exit status, the time each stage took. `-d` adds command output (debug level), `-D`
//! a trace of every step.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Opens (appends to) the log file and routes tracing to it.
///
/// # Errors
/// When the file cannot be created; the message names it.
pub fn init(path: &Path, debug: bool, debugscript: bool) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating log directory {}: {e}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("opening log file {}: {e}", path.display()))?;
    let level = if debugscript {
        "trace"
    } else if debug {
        "debug"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_env("REAR_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .try_init()
        .map_err(|e| anyhow::anyhow!("setting up logging: {e}"))?;
    Ok(())
}
