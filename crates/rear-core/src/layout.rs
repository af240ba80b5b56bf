//! The disk layout: typed model, layout file, ReaR disklayout.conf interop, comparison and the
//! dependency tree view.
//!
//! - [`model`]: the components of a machine's storage and their dependencies.
//! - [`file`](mod@file): the rear-rs layout file (`/var/lib/rear/layout/layout.conf`), read and written
//!   losslessly; its format is documented in `docs/layout.md`.
//! - [`rear`]: import and export of ReaR's `disklayout.conf`.
//! - [`diff`]: what changed between two layouts, and whether it matters for recovery
//!   (`checklayout`).
//! - [`show`]: the dependency tree as text (`rear layout show`, `rear dump`).
//!
//! Capturing a layout from the running system is [`crate::probe`]. [`save_layout`] and
//! [`check_layout`] are the `savelayout` and `checklayout` steps built from both.

pub mod diff;
pub mod fields;
pub mod file;
pub mod model;
pub mod rear;
pub mod show;

pub use model::{Component, Entry, Layout};

use std::path::{Path, PathBuf};

use crate::Result;
use crate::cmd::Runner;
use crate::probe::ProbeOptions;

/// ReaR's layout directory; rear-rs keeps its layout file and the LVM metadata there too.
pub const LAYOUT_DIR: &str = "/var/lib/rear/layout";

/// What [`save_layout`] wrote.
#[derive(Debug, Clone)]
pub struct SavedLayout {
    /// The captured layout.
    pub layout: Layout,
    /// The layout file (`<dir>/layout.conf`).
    pub path: PathBuf,
    /// One `vgcfgbackup` file per included VG (`<dir>/lvm/<vg>.cfg`).
    pub vg_metadata: Vec<PathBuf>,
}

/// `rear savelayout`: probes the running system, writes `<dir>/layout.conf` (atomically) and
/// the LVM metadata of every included VG under `<dir>/lvm/`.
///
/// # Errors
/// A probe failure, or a file that cannot be written.
pub fn save_layout(runner: &dyn Runner, opts: &ProbeOptions, dir: &Path) -> Result<SavedLayout> {
    let layout = crate::probe::probe_layout(runner, opts)?;
    let path = dir.join("layout.conf");
    file::save(&layout, &path)?;
    let vg_metadata = crate::probe::save_vg_metadata(runner, &layout, &dir.join("lvm"))?;
    Ok(SavedLayout {
        layout,
        path,
        vg_metadata,
    })
}

/// `rear checklayout`: probes the running system and compares it with the saved layout file.
/// The caller exits 1 when [`diff::matters`] is true for the result.
///
/// # Errors
/// The saved file cannot be read (naming file and line) or the probe fails.
pub fn check_layout(
    runner: &dyn Runner,
    opts: &ProbeOptions,
    saved: &Path,
) -> Result<Vec<diff::Change>> {
    let old = file::load(saved)?;
    let new = crate::probe::probe_layout(runner, opts)?;
    Ok(diff::diff(&old, &new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_check_on_a_replayed_capture() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/probe/testdata/host-loop");
        let fake = crate::probe::scenario::fake_runner(&dir).unwrap();
        let opts = ProbeOptions {
            include_loop_devices: true,
            uefi: Some(false),
            sys_root: Some(dir.join("no-sys")),
            ..ProbeOptions::default()
        };
        let out = tempfile::tempdir().unwrap();
        let saved = save_layout(&fake, &opts, out.path()).unwrap();
        assert_eq!(saved.path, out.path().join("layout.conf"));
        assert!(saved.vg_metadata.is_empty());
        assert_eq!(file::load(&saved.path).unwrap(), saved.layout);
        assert!(check_layout(&fake, &opts, &saved.path).unwrap().is_empty());
        // the saved file was edited (a size): checklayout reports it
        let text = std::fs::read_to_string(&saved.path).unwrap();
        std::fs::write(
            &saved.path,
            text.replace("size=335544320", "size=300000000"),
        )
        .unwrap();
        let changes = check_layout(&fake, &opts, &saved.path).unwrap();
        assert!(diff::matters(&changes), "{changes:?}");
    }
}
