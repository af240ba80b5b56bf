//! Error policy for rear-core.
//!
//! Every public function returns [`Result`]. An error says *what* failed (the device, file or
//! command), *why*, and, where the user can do something about it, a `hint`. Errors are never
//! downgraded to strings inside the library: the CLI renders the chain once, at the top.
//!
//! - [`Error::Command`] carries the shell-quoted command line, its exit status and the tail of its
//!   standard error, so the user can run it again by hand.
//! - [`Error::Config`] names the configuration file and line.
//! - [`Error::NotImplemented`] is returned by workflow steps that are not built yet: a workflow must
//!   never pretend to succeed.
//! - [`Error::Other`] wraps an `anyhow` chain built with lowercase "-ing" context phrases
//!   ("reading partition table of /dev/sda").

use std::path::PathBuf;

/// The result type of rear-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors returned by rear-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An external command failed or could not be started.
    #[error(transparent)]
    Command(#[from] crate::cmd::CommandError),

    /// A configuration file could not be read or evaluated.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        /// The file that failed.
        file: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// Input from the user, a file or a tool is not what it must be.
    #[error("{what}: {message}")]
    Invalid {
        /// What was being read (a file, device, option or value).
        what: String,
        /// What is wrong with it.
        message: String,
    },

    /// A part of rear that is not built yet was asked to run.
    #[error("{what} is not implemented yet in this version of rear")]
    NotImplemented {
        /// What is missing, for example `workflow 'recover' (step restore/NETFS/restore_backup)`.
        what: String,
    },

    /// Another rear run holds the lock.
    #[error("another rear is running (lock {path} is held{})", pid.map(|p| format!(" by PID {p}")).unwrap_or_default())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The PID written in the lock file, when readable.
        pid: Option<u32>,
    },

    /// The user chose to abort at a prompt.
    #[error("aborted by the user at prompt {id}")]
    Aborted {
        /// The ID of the prompt.
        id: String,
    },

    /// An I/O error on a named path.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, as a lowercase "-ing" phrase ("reading", "creating directory").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Any other error, with its context chain.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// Builds an [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { what: what.into(), message: message.into() }
    }

    /// A hint the user can act on, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Command(e) => e.hint(),
            Error::Locked { .. } => Some(
                "wait for the other run to finish; if none is running, remove the stale lock file"
                    .into(),
            ),
            Error::Config { .. } => {
                Some("fix the file (check it with 'bash -n FILE'), then run rear again".into())
            }
            _ => None,
        }
    }
}
