//! rear's exit codes. They are part of the interface: cron jobs rely on
//! `rear checklayout || rear mkrescue`.

/// The run succeeded.
pub const SUCCESS: u8 = 0;
/// `checklayout` found a change that matters for recovery (ReaR's contract).
pub const LAYOUT_CHANGED: u8 = 1;
/// The command line or the configuration is wrong.
pub const USAGE: u8 = 2;
/// The workflow (or one of its steps) is not built yet in this version.
pub const NOT_IMPLEMENTED: u8 = 3;
/// Another rear is running.
pub const LOCKED: u8 = 4;
/// The user aborted at a prompt.
pub const ABORTED: u8 = 5;
/// A step failed.
pub const FAILURE: u8 = 10;

/// The table as it appears in `rear --help` and the man page.
pub const TABLE: &str = "\
Exit status:
  0   success
  1   checklayout: the disk layout changed (run 'rear mkrescue')
  2   usage or configuration error
  3   the workflow is not built yet in this version of rear
  4   another rear is running (lock held)
  5   aborted by the user at a prompt
  10  a step failed (the message names the step, device or command)";

/// Maps a core error to an exit code.
pub fn code_for(err: &rear_core::Error) -> u8 {
    use rear_core::Error;
    match err {
        Error::Config { .. } | Error::Invalid { .. } => USAGE,
        Error::NotImplemented { .. } => NOT_IMPLEMENTED,
        Error::Locked { .. } => LOCKED,
        Error::Aborted { .. } => ABORTED,
        _ => FAILURE,
    }
}
