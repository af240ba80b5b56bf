//! `backup-bench backup SRC TARGET [zstd|gzip|none] [LEVEL]` and
//! `backup-bench restore TARGET DEST`: runs rear-core's backup or restore once and prints
//! its summary, for bench/backup/run.sh (which measures time and memory around it).

use std::process::ExitCode;

use rear_core::backup::{
    BackupOptions, Compression, RestoreOptions, Selection, create_backup, restore_backup,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let quiet = |_: &rear_core::backup::Progress| {};
    match args.get(1).map(String::as_str) {
        Some("backup") if args.len() >= 4 => {
            let mut opts = BackupOptions::new(&args[3], "bench", Selection::tree(&args[2]));
            let level = args.get(5).and_then(|l| l.parse().ok());
            opts.compression = match args.get(4).map(String::as_str) {
                Some("gzip") => Compression::Gzip { level: level.unwrap_or(6) },
                Some("none") => Compression::None,
                _ => Compression::Zstd { level: level.map_or(3, |l: u32| l as i32) },
            };
            match create_backup(&opts, &quiet) {
                Ok(s) => {
                    println!(
                        "entries={} bytes={} archive_size={} warnings={} archive={}",
                        s.entries,
                        s.bytes,
                        s.archive_size,
                        s.warnings.len(),
                        s.archive.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("backup failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("restore") if args.len() >= 4 => {
            match restore_backup(&RestoreOptions::new(&args[2], "bench", &args[3]), &quiet) {
                Ok(s) => {
                    println!("entries={} bytes={} warnings={}", s.entries, s.bytes, s.warnings.len());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("restore failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: backup-bench backup SRC TARGET [zstd|gzip|none] [LEVEL] | restore TARGET DEST");
            ExitCode::from(2)
        }
    }
}
