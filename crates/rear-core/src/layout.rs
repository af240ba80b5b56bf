//! The disk layout: typed model, layout file, ReaR disklayout.conf interop, comparison and the
//! dependency tree view.
//!
//! - [`model`]: the components of a machine's storage and their dependencies.
//! - [`file`]: the rear-rs layout file (`/var/lib/rear/layout/layout.conf`), read and written
//!   losslessly; its format is documented in `docs/layout.md`.
//! - [`rear`]: import and export of ReaR's `disklayout.conf`.
//! - [`diff`]: what changed between two layouts, and whether it matters for recovery
//!   (`checklayout`).
//! - [`show`]: the dependency tree as text (`rear layout show`, `rear dump`).
//!
//! Capturing a layout from the running system is [`crate::probe`].

pub mod diff;
pub mod fields;
pub mod file;
pub mod model;
pub mod rear;
pub mod show;

pub use model::{Component, Entry, Layout};
