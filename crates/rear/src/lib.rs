//! The `rear` command line: parsing, logging, the terminal UI and rendering.
//!
//! Everything rear *does* lives in `rear-core`; this crate turns command-line options into core
//! calls and core results into text and exit codes. It is a library too so that `xtask` can
//! generate the man pages and shell completions from the same clap definition.

pub mod cli;
pub mod docs;
pub mod exit;
mod layout_cmd;
mod logging;
mod render;
mod run;
mod term;

pub use run::main_with_args;
