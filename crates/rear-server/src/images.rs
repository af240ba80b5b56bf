//! The content-addressed store of rescue images on the filesystem.
//!
//! An object is a file named by the SHA-256 of its content: `<dir>/sha256/ab/cdef...` (the first
//! two hex digits are a directory, the other 62 the file name). An upload is streamed to
//! `<dir>/tmp/<uuid>.part` while it is hashed and counted; only when both the size and the SHA-256
//! match what the client announced is it fsynced and renamed into place, so a reader never sees a
//! partial or wrong object. A failed upload leaves nothing behind (the temporary file is removed
//! when its guard drops). Storing content that is already there is a no-op.
//!
//! Which host has which image is in the database ([`crate::store::Store::add_image`]); the
//! handlers commit an object, record it and apply retention under [`ImageStore::lock`], so an
//! object that retention finds unreferenced cannot be claimed by a concurrent upload in between.
//! The store assumes one server process owns the directory.

use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The body's SHA-256 is not the one in the URL.
    #[error("the content's SHA-256 is {actual}, not {expected}: nothing was stored")]
    Checksum {
        /// Announced.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The body's length is not the announced size.
    #[error("received {actual} bytes, expected {expected}: nothing was stored")]
    Size {
        /// Announced.
        expected: u64,
        /// Received.
        actual: u64,
    },
    /// More than the configured maximum.
    #[error("the image exceeds the limit of {0} bytes (images.max_image_bytes)")]
    TooLarge(u64),
    /// The body could not be read (client went away).
    #[error("reading the upload: {0}")]
    Body(String),
    /// Writing the object failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PutError + use<> {
    let path = path.to_path_buf();
    move |source| PutError::Io {
        action,
        path,
        source,
    }
}

/// A verified upload in a temporary file, not yet visible; dropped without [`ImageStore::commit`]
/// it is removed.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    sha256: String,
    size: u64,
}

impl Staged {
    /// SHA-256 of the content.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The filesystem object store.
#[derive(Debug)]
pub struct ImageStore {
    dir: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

/// True for 64 lower-case hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for a file name a client may give an image: 1-128 of letters, digits, `.`, `_`, `-`,
/// not starting with a dot.
pub fn is_image_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl ImageStore {
    /// A store rooted at `dir` (created on the first upload).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object with this SHA-256 lives (`sha256` must satisfy [`is_sha256`]).
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join("sha256")
            .join(&sha256[..2])
            .join(&sha256[2..])
    }

    /// Serialises commit + record + retention (see the module documentation).
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Streams `body` to a temporary file, hashing and counting it, and checks it against the
    /// announced SHA-256 and size (`max` bytes at most).
    ///
    /// # Errors
    /// [`PutError`]; on every error the temporary file is gone.
    pub async fn stage<S, B, E>(
        &self,
        expected_sha: &str,
        expected_size: u64,
        max: u64,
        mut body: S,
    ) -> Result<Staged, PutError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        if expected_size > max {
            return Err(PutError::TooLarge(max));
        }
        let tmp_dir = self.dir.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(io("creating", &tmp_dir))?;
        let path = tmp_dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(io("creating", &path))?;
        let staged_path = path.clone();
        let mut staged = Staged {
            path: staged_path,
            sha256: String::new(),
            size: 0,
        };
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
            let chunk = chunk.as_ref();
            staged.size += chunk.len() as u64;
            if staged.size > expected_size {
                return Err(if staged.size > max {
                    PutError::TooLarge(max)
                } else {
                    PutError::Size {
                        expected: expected_size,
                        actual: staged.size,
                    }
                });
            }
            hasher.update(chunk);
            file.write_all(chunk).await.map_err(io("writing", &path))?;
        }
        if staged.size != expected_size {
            return Err(PutError::Size {
                expected: expected_size,
                actual: staged.size,
            });
        }
        let actual = hex(&hasher.finalize());
        if actual != expected_sha {
            return Err(PutError::Checksum {
                expected: expected_sha.to_string(),
                actual,
            });
        }
        file.sync_all().await.map_err(io("syncing", &path))?;
        staged.sha256 = actual;
        Ok(staged)
    }

    /// Makes a staged upload visible under its SHA-256; true when the object is new, false when
    /// the store already had it (the staged copy is dropped). A stored file of another length
    /// (damaged) is replaced by the verified upload. Call under [`ImageStore::lock`].
    ///
    /// # Errors
    /// The object directory cannot be created or the rename fails.
    pub async fn commit(&self, mut staged: Staged) -> Result<bool, PutError> {
        let target = self.object_path(&staged.sha256);
        let existing = tokio::fs::metadata(&target).await.ok();
        if existing.as_ref().is_some_and(|m| m.len() == staged.size) {
            return Ok(false);
        }
        if existing.is_some() {
            // Same name, other length: the stored copy was damaged; the verified upload replaces it.
            tracing::warn!(path = %target.display(), "replacing a damaged image object");
        }
        let parent = target.parent().unwrap_or(&self.dir).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(io("creating", &parent))?;
        tokio::fs::rename(&staged.path, &target)
            .await
            .map_err(io("renaming into", &target))?;
        staged.path = PathBuf::new();
        // The rename is durable once the directory entry is.
        if let Ok(d) = tokio::fs::File::open(&parent).await {
            let _ = d.sync_all().await;
        }
        Ok(true)
    }

    /// Deletes an object (retention, when no host names it any more). A missing file is fine.
    ///
    /// # Errors
    /// The file exists but cannot be removed.
    pub async fn delete(&self, sha256: &str) -> Result<(), PutError> {
        let path = self.object_path(sha256);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PutError::Io {
                action: "removing",
                path,
                source: e,
            }),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin {
        futures_util::stream::iter(parts.iter().map(|p| Ok(*p)).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn stage_verifies_and_commit_lays_out_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::new(dir.path().to_path_buf());
        let sha = hex(&Sha256::digest(b"hello world"));
        let staged = store
            .stage(&sha, 11, 100, chunks(&[b"hello ", b"world"]))
            .await
            .unwrap();
        assert!(store.commit(staged).await.unwrap());
        let path = dir.path().join("sha256").join(&sha[..2]).join(&sha[2..]);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        let again = store
            .stage(&sha, 11, 100, chunks(&[b"hello world"]))
            .await
            .unwrap();
        assert!(!store.commit(again).await.unwrap(), "existing object");
        std::fs::write(&path, b"hello").unwrap();
        let repair = store
            .stage(&sha, 11, 100, chunks(&[b"hello world"]))
            .await
            .unwrap();
        assert!(
            store.commit(repair).await.unwrap(),
            "damaged object replaced"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");

        let wrong = store.stage(&sha, 11, 100, chunks(&[b"hello WORLD"])).await;
        assert!(matches!(wrong, Err(PutError::Checksum { .. })), "{wrong:?}");
        let short = store.stage(&sha, 12, 100, chunks(&[b"hello world"])).await;
        assert!(matches!(short, Err(PutError::Size { .. })), "{short:?}");
        let long = store.stage(&sha, 5, 100, chunks(&[b"hello world"])).await;
        assert!(matches!(long, Err(PutError::Size { .. })), "{long:?}");
        let big = store.stage(&sha, 11, 10, chunks(&[b"hello world"])).await;
        assert!(matches!(big, Err(PutError::TooLarge(10))), "{big:?}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0,
            "failed uploads leave no temporary file"
        );
        store.delete(&sha).await.unwrap();
        assert!(!path.exists());
        store.delete(&sha).await.unwrap();
    }

    #[test]
    fn names_are_checked() {
        assert!(is_sha256(&"a".repeat(64)));
        assert!(!is_sha256(&"A".repeat(64)));
        assert!(!is_sha256("abc"));
        assert!(is_image_name("rear-web1.iso"));
        assert!(!is_image_name("../etc/passwd"));
        assert!(!is_image_name(".hidden"));
        assert!(!is_image_name("a b"));
    }
}
