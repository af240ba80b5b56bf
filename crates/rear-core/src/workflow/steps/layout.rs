//! Steps of the layout stages: save the layout (savelayout, mkrescue, mkbackup, checklayout) and
//! compare it with the saved one (checklayout).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::super::Context;
use crate::layout::{self, Layout};
use crate::probe::ProbeOptions;
use crate::ui::Level;
use crate::{Error, Result};

/// The layout captured by this run, and where it was written.
#[derive(Debug, Clone)]
pub struct CapturedLayout {
    /// The layout.
    pub layout: Layout,
    /// The file it was written to.
    pub path: PathBuf,
}

/// The name of the layout file in `$VAR_DIR/layout`.
pub const LAYOUT_FILE: &str = "layout.conf";
/// Checksums of `CHECK_CONFIG_FILES`, next to the layout.
pub const CONFIG_SUMS_FILE: &str = "config-files.sha256";

/// Whether this workflow saves into the build directory instead of `$VAR_DIR/layout`: checklayout
/// compares against the saved layout, and mkbackuponly must not replace the layout that the
/// rescue image was made with (as ReaR does).
fn saves_to_build_dir(workflow: &str) -> bool {
    matches!(workflow, "checklayout" | "mkbackuponly")
}

/// `layout/save/default/100_save_disk_layout`.
pub fn save_disk_layout(ctx: &mut Context<'_>) -> Result<()> {
    ctx.ui.message(Level::Progress, "Creating disk layout");
    let mut opts = ProbeOptions::from_config(&ctx.config);
    opts.hostname = Some(ctx.system.hostname.clone());
    opts.include_loop_devices = ctx.config.is_true("LAYOUT_INCLUDE_LOOP_DEVICES");
    opts.created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .ok();
    let dir = if saves_to_build_dir(ctx.workflow) {
        ctx.build_dir
            .clone()
            .ok_or_else(|| Error::invalid("build directory", "was not created before layout/save"))?
            .join("layout")
    } else {
        ctx.config.layout_dir()
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating layout directory", &dir, e))?;
    let layout::SavedLayout { layout, path, .. } = layout::save_layout(ctx.runner, &opts, &dir)?;
    write_config_sums(
        &ctx.config.list("CHECK_CONFIG_FILES"),
        &dir.join(CONFIG_SUMS_FILE),
    )?;
    let excluded = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_some())
        .count();
    ctx.ui.message(
        Level::Progress,
        &format!(
            "Saved the disk layout ({} components, {excluded} excluded) to {}",
            layout.entries.len(),
            path.display()
        ),
    );
    ctx.put(CapturedLayout { layout, path });
    Ok(())
}

/// `layout/compare/default/100_compare_disk_layout`: exit code 1 when the layout or a file of
/// `CHECK_CONFIG_FILES` changed in a way that matters for recovery.
pub fn compare_disk_layout(ctx: &mut Context<'_>) -> Result<()> {
    let current = ctx
        .get::<CapturedLayout>()
        .cloned()
        .ok_or_else(|| Error::invalid("checklayout", "no layout was captured in this run"))?;
    let saved_path = ctx.config.layout_dir().join(LAYOUT_FILE);
    if !saved_path.exists() {
        ctx.ui.message(
            Level::Info,
            &format!(
                "No saved disk layout ({} is missing): run 'rear mkrescue'",
                saved_path.display()
            ),
        );
        ctx.exit_code = 1;
        return Ok(());
    }
    let saved = layout::file::load(&saved_path)?;
    let changes = layout::diff::diff(&saved, &current.layout);
    let mut changed = false;
    if layout::diff::matters(&changes) {
        changed = true;
        ctx.ui.message(Level::Info, "Disk layout changed:");
    }
    for c in &changes {
        let level = if c.matters {
            Level::Info
        } else {
            Level::Progress
        };
        ctx.ui.message(level, &format!("  {c}"));
    }
    let sums_now = config_sums(&ctx.config.list("CHECK_CONFIG_FILES"))?;
    let sums_path = ctx.config.layout_dir().join(CONFIG_SUMS_FILE);
    let sums_saved = std::fs::read_to_string(&sums_path).unwrap_or_default();
    let differing = differing_files(&sums_saved, &sums_now);
    if !differing.is_empty() {
        changed = true;
        ctx.ui.message(
            Level::Info,
            "Configuration files changed (CHECK_CONFIG_FILES):",
        );
        for f in &differing {
            ctx.ui.message(Level::Info, &format!("  {f}"));
        }
    }
    if changed {
        ctx.exit_code = 1;
    } else {
        ctx.ui.message(Level::Progress, "Disk layout is identical");
    }
    Ok(())
}

/// `sha256  path` lines for every file of `paths` (directories recursively, sorted).
fn config_sums(paths: &[String]) -> Result<String> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(Path::new(p), &mut files);
    }
    files.sort();
    files.dedup();
    let mut out = String::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push_str(&format!("{digest}  {}\n", f.display()));
    }
    Ok(out)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_file() {
        out.push(path.to_path_buf());
    } else if meta.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            collect_files(&e.path(), out);
        }
    }
}

fn write_config_sums(paths: &[String], file: &Path) -> Result<()> {
    let sums = config_sums(paths)?;
    std::fs::write(file, sums).map_err(|e| Error::io("writing checksums", file, e))
}

/// Files whose checksum differs, or that appeared or disappeared.
fn differing_files(saved: &str, now: &str) -> Vec<String> {
    let parse = |t: &str| -> std::collections::BTreeMap<String, String> {
        t.lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(sum, path)| (path.to_string(), sum.to_string()))
            .collect()
    };
    let (a, b) = (parse(saved), parse(now));
    let mut out = Vec::new();
    for (path, sum) in &a {
        match b.get(path) {
            None => out.push(format!("{path} (removed)")),
            Some(s) if s != sum => out.push(format!("{path} (modified)")),
            _ => {}
        }
    }
    for path in b.keys() {
        if !a.contains_key(path) {
            out.push(format!("{path} (new)"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_changes_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("etc-rear");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("local.conf"), "OUTPUT=ISO\n").unwrap();
        let paths = vec![d.display().to_string(), "/nonexistent/file".to_string()];
        let before = config_sums(&paths).unwrap();
        assert_eq!(before.lines().count(), 1);
        assert!(differing_files(&before, &config_sums(&paths).unwrap()).is_empty());
        std::fs::write(d.join("local.conf"), "OUTPUT=USB\n").unwrap();
        std::fs::write(d.join("site.conf"), "\n").unwrap();
        let diff = differing_files(&before, &config_sums(&paths).unwrap());
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff.iter().any(|d| d.ends_with("local.conf (modified)")));
        assert!(diff.iter().any(|d| d.ends_with("site.conf (new)")));
    }
}
