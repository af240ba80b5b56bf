//! rear-core: everything `rear` does, as a library that never prints.
//!
//! The binary crate (`rear`) parses the command line, sets up logging and renders what this
//! library returns. The library itself talks to the user only through the [`ui::Ui`] trait, and to
//! the system only through the command runner in [`cmd`] and plain file I/O.
//!
//! Module map, in the order a workflow uses them:
//! - [`config`]: ReaR-compatible configuration (bash files, evaluated by bash) with typed access.
//! - [`system`]: facts about the running system (ARCH, OS vendor and version, hostname).
//! - [`cmd`]: the one wrapper every external command goes through, and the tool registry.
//! - [`workflow`]: workflows made of stages made of numbered steps; simulation; locking.
//! - [`layout`]: the disk layout model, its file format and ReaR interop; [`probe`] captures it.
//! - [`recreate`]: the recovery plan from a layout, applied safely; disk mapping and resizing.
//! - [`backup`]: the built-in backup (tar + zstd) and its targets.
//! - [`rescue`]: the rescue system: programs and libraries, modules, initramfs, boot media.
//! - [`finalize`]: making the recovered system boot: initramfs, GRUB, EFI entries, wrapup.
//! - [`inventory`]: what cfg2html did: hardware, OS, packages, services, network, users, ...
//! - [`report`]: run reports for rear-server, sent by HTTPS or mail, queued when it is down.
//! - [`ui`]: the narrow interface through which the library reports progress and asks questions.

pub mod backup;
pub mod cmd;
pub mod config;
pub mod error;
pub mod finalize;
pub mod inventory;
pub mod layout;
pub mod probe;
pub mod recreate;
pub mod report;
pub mod rescue;
pub mod system;
pub mod ui;
pub mod workflow;

pub use error::{Error, Result};

/// The version of rear-rs, as printed by `rear -V`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
