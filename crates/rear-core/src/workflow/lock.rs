//! One rear at a time: an advisory `flock` on a lock file holding the PID.
//!
//! The lock is released by the kernel when the process exits, however it exits, so a crash never
//! leaves a stale lock behind. `dump`, `help` and `checklayout` run without it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use crate::{Error, Result};

/// The default lock file.
pub const DEFAULT_LOCK_FILE: &str = "/run/lock/rear.lock";

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file to use: `$REAR_LOCK_FILE`, else [`DEFAULT_LOCK_FILE`], else (when /run/lock
    /// does not exist) `/var/lock/rear.lock`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("REAR_LOCK_FILE") {
            return PathBuf::from(p);
        }
        if Path::new("/run/lock").is_dir() {
            PathBuf::from(DEFAULT_LOCK_FILE)
        } else {
            PathBuf::from("/var/lock/rear.lock")
        }
    }

    /// Takes the lock at `path` without waiting.
    ///
    /// # Errors
    /// [`Error::Locked`] with the holder's PID when another rear holds it; [`Error::Io`] when the
    /// file cannot be created.
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("creating lock directory", parent, e))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io("opening lock file", path, e))?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(Error::Locked {
                path: path.to_path_buf(),
                pid: text.trim().parse().ok(),
            });
        }
        file.set_len(0)
            .map_err(|e| Error::io("writing lock file", path, e))?;
        file.rewind()
            .map_err(|e| Error::io("writing lock file", path, e))?;
        write!(file, "{}", std::process::id())
            .map_err(|e| Error::io("writing lock file", path, e))?;
        Ok(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/rear.lock");
        let first = RunLock::acquire(&path).unwrap();
        // flock locks belong to the open file description, so a second open in the same process
        // conflicts just as another process would.
        match RunLock::acquire(&path) {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        RunLock::acquire(&path).unwrap();
    }
}
