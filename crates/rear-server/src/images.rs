//! The content-addressed store of rescue images: on the filesystem ([`fs`], the default) or in
//! an S3-compatible bucket ([`s3`], `images.s3_url`).
//!
//! An object is named by the SHA-256 of its content: `sha256/ab/cdef...` (the first two hex
//! digits, then the other 62), under the store directory or under the bucket's prefix. An upload
//! is streamed while it is hashed and counted ([`Verifier`]); it becomes visible under its name
//! only when both the size and the SHA-256 match what the client announced, so a reader never
//! sees a partial or wrong object, and a failed upload leaves nothing behind. Each backend's
//! module says how it achieves that. Storing content that is already there is a no-op.
//!
//! Which host has which image is in the database ([`crate::store::Store::add_image`]); the
//! handlers stage an upload, then commit it, record it and apply retention under
//! [`ImageStore::lock`], so an object that retention finds unreferenced cannot be claimed by a
//! concurrent upload in between. The store assumes one server process owns it.

pub mod fs;
pub mod s3;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};

use crate::config::Config;

/// Why an upload, a download or a deletion failed.
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
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An S3 request failed.
    #[error("{action} {location}: {source}{hint}")]
    S3 {
        /// What was being done.
        action: &'static str,
        /// `s3://bucket/key at endpoint`.
        location: String,
        /// The cause.
        source: Box<object_store::Error>,
        /// What the admin can do (empty, or starting with "; ").
        hint: String,
    },
    /// The store's configuration cannot be used.
    #[error("{0}")]
    Config(String),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PutError + use<> {
    let path = path.to_path_buf();
    move |source| PutError::Io {
        action,
        path,
        source,
    }
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

/// The name of an object relative to the store's root: `sha256/ab/cdef...` (`sha256` must
/// satisfy [`is_sha256`]).
pub fn object_key(sha256: &str) -> String {
    format!("sha256/{}/{}", &sha256[..2], &sha256[2..])
}

/// Hashes and counts an upload as it streams by and checks it against what the client
/// announced; both backends feed every chunk through one.
#[derive(Debug)]
pub struct Verifier {
    expected_sha: String,
    expected_size: u64,
    max: u64,
    size: u64,
    hasher: Sha256,
}

impl Verifier {
    /// A verifier for `expected_size` bytes hashing to `expected_sha`, `max` bytes at most.
    ///
    /// # Errors
    /// [`PutError::TooLarge`] when the announced size is over `max`.
    pub fn new(expected_sha: &str, expected_size: u64, max: u64) -> Result<Self, PutError> {
        if expected_size > max {
            return Err(PutError::TooLarge(max));
        }
        Ok(Self {
            expected_sha: expected_sha.to_string(),
            expected_size,
            max,
            size: 0,
            hasher: Sha256::new(),
        })
    }

    /// Counts and hashes the next chunk.
    ///
    /// # Errors
    /// More bytes than announced (or than the maximum).
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), PutError> {
        self.size += chunk.len() as u64;
        if self.size > self.expected_size {
            return Err(if self.size > self.max {
                PutError::TooLarge(self.max)
            } else {
                PutError::Size {
                    expected: self.expected_size,
                    actual: self.size,
                }
            });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The verified SHA-256 and size once the body has ended.
    ///
    /// # Errors
    /// Fewer bytes than announced, or another SHA-256.
    pub fn finish(self) -> Result<(String, u64), PutError> {
        if self.size != self.expected_size {
            return Err(PutError::Size {
                expected: self.expected_size,
                actual: self.size,
            });
        }
        let actual = hex(&self.hasher.finalize());
        if actual != self.expected_sha {
            return Err(PutError::Checksum {
                expected: self.expected_sha,
                actual,
            });
        }
        Ok((actual, self.size))
    }
}

/// A verified upload, not yet visible; dropped without [`ImageStore::commit`] it is removed.
#[derive(Debug)]
pub struct Staged {
    sha256: String,
    size: u64,
    inner: StagedIn,
}

#[derive(Debug)]
enum StagedIn {
    Fs(fs::StagedFile),
    S3(s3::StagedUpload),
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

#[derive(Debug)]
enum Backend {
    Fs(fs::FsStore),
    S3(s3::S3Store),
}

/// The image object store the handlers use, whichever backend is configured.
#[derive(Debug)]
pub struct ImageStore {
    backend: Backend,
    lock: tokio::sync::Mutex<()>,
}

/// A download: the object's bytes as a stream, read from the backend as the client takes them.
pub type ObjectStream = BoxStream<'static, std::io::Result<Bytes>>;

impl ImageStore {
    /// A filesystem store rooted at `dir` (created on the first upload).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            backend: Backend::Fs(fs::FsStore::new(dir)),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The store `config` asks for: S3 when `images.s3_url` is set, else the directory
    /// [`Config::images_dir`]. Makes no request yet (see [`ImageStore::check`]).
    ///
    /// # Errors
    /// The S3 settings are invalid or the secret key file cannot be read.
    pub fn from_config(config: &Config) -> Result<Self, PutError> {
        let backend = match config.images.s3().map_err(PutError::Config)? {
            Some(settings) => Backend::S3(s3::S3Store::new(&settings)?),
            None => Backend::Fs(fs::FsStore::new(config.images_dir())),
        };
        Ok(Self {
            backend,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Where the objects are, for messages: a directory or `s3://bucket/prefix at endpoint`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Fs(f) => f.dir().display().to_string(),
            Backend::S3(s) => s.describe(),
        }
    }

    /// The directory of a filesystem store; `None` for S3.
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Fs(f) => Some(f.dir()),
            Backend::S3(_) => None,
        }
    }

    /// The startup check: an S3 bucket must be reachable with the configured credentials (one
    /// listing request); a filesystem store needs nothing (its directory is created on the
    /// first upload).
    ///
    /// # Errors
    /// The bucket is missing, the credentials are refused or the endpoint is unreachable; the
    /// message names bucket and endpoint and what to do.
    pub async fn check(&self) -> Result<(), PutError> {
        match &self.backend {
            Backend::Fs(_) => Ok(()),
            Backend::S3(s) => s.check().await,
        }
    }

    /// Serialises commit + record + retention (see the module documentation).
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Streams `body` into the store without making it visible, hashing and counting it, and
    /// checks it against the announced SHA-256 and size (`max` bytes at most).
    ///
    /// # Errors
    /// [`PutError`]; on every error nothing of the upload is left.
    pub async fn stage<S, B, E>(
        &self,
        expected_sha: &str,
        expected_size: u64,
        max: u64,
        body: S,
    ) -> Result<Staged, PutError>
    where
        S: Stream<Item = Result<B, E>> + Unpin + Send,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let verifier = Verifier::new(expected_sha, expected_size, max)?;
        let ((sha256, size), inner) = match &self.backend {
            Backend::Fs(f) => {
                let (v, s) = f.stage(verifier, body).await?;
                (v, StagedIn::Fs(s))
            }
            Backend::S3(s) => {
                let (v, s) = s.stage(verifier, expected_sha, body).await?;
                (v, StagedIn::S3(s))
            }
        };
        Ok(Staged {
            sha256,
            size,
            inner,
        })
    }

    /// Makes a staged upload visible under its SHA-256; true when the object is new, false when
    /// the store already had it (the staged copy is dropped). A stored object of another length
    /// (damaged) is replaced by the verified upload. Call under [`ImageStore::lock`].
    ///
    /// # Errors
    /// The object cannot be put in place.
    pub async fn commit(&self, staged: Staged) -> Result<bool, PutError> {
        match (&self.backend, staged.inner) {
            (Backend::Fs(f), StagedIn::Fs(file)) => {
                f.commit(&staged.sha256, staged.size, file).await
            }
            (Backend::S3(s), StagedIn::S3(upload)) => {
                s.commit(&staged.sha256, staged.size, upload).await
            }
            _ => Err(PutError::Config(
                "an upload staged in one image store was committed to another".into(),
            )),
        }
    }

    /// The object's bytes, streamed (never read into memory as a whole).
    ///
    /// # Errors
    /// The object is missing or cannot be read.
    pub async fn open(&self, sha256: &str) -> Result<ObjectStream, PutError> {
        match &self.backend {
            Backend::Fs(f) => f.open(sha256).await,
            Backend::S3(s) => s.open(sha256).await,
        }
    }

    /// Deletes an object (retention, when no host names it any more). A missing object is fine.
    ///
    /// # Errors
    /// The object exists but cannot be removed.
    pub async fn delete(&self, sha256: &str) -> Result<(), PutError> {
        match &self.backend {
            Backend::Fs(f) => f.delete(sha256).await,
            Backend::S3(s) => s.delete(sha256).await,
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

    #[test]
    fn verifier_checks_size_and_hash() {
        let sha = hex(&Sha256::digest(b"hello world"));
        let mut v = Verifier::new(&sha, 11, 100).unwrap();
        v.update(b"hello ").unwrap();
        v.update(b"world").unwrap();
        assert_eq!(v.finish().unwrap(), (sha.clone(), 11));
        let mut v = Verifier::new(&sha, 11, 100).unwrap();
        v.update(b"hello WORLD").unwrap();
        assert!(matches!(v.finish(), Err(PutError::Checksum { .. })));
        let mut v = Verifier::new(&sha, 5, 100).unwrap();
        assert!(matches!(
            v.update(b"hello world"),
            Err(PutError::Size { .. })
        ));
        assert!(matches!(
            Verifier::new(&sha, 11, 10),
            Err(PutError::TooLarge(10))
        ));
        assert_eq!(
            object_key(&sha),
            format!("sha256/{}/{}", &sha[..2], &sha[2..])
        );
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
