//! The filesystem backend of the image store (the default): objects are files under the store
//! directory, `<dir>/sha256/ab/cdef...`.
//!
//! An upload is streamed to `<dir>/tmp/<uuid>.part` while it is hashed and counted; only when it
//! is verified is it fsynced and renamed into place (a rename within one filesystem is atomic),
//! so a reader never sees a partial or wrong object. A failed upload leaves nothing behind (the
//! temporary file is removed when its guard drops).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::{ObjectStream, PutError, Verifier, io};

/// A verified upload in a temporary file; removed when dropped before it is committed.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Objects in a directory.
#[derive(Debug)]
pub struct FsStore {
    dir: PathBuf,
}

impl FsStore {
    /// A store rooted at `dir` (created on the first upload).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object with this SHA-256 lives.
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(super::object_key(sha256))
    }

    /// Streams `body` to a temporary file through `verifier`; returns the verified SHA-256 and
    /// size with the file.
    pub(super) async fn stage<S, B, E>(
        &self,
        mut verifier: Verifier,
        mut body: S,
    ) -> Result<((String, u64), StagedFile), PutError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let tmp_dir = self.dir.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(io("creating", &tmp_dir))?;
        let path = tmp_dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(io("creating", &path))?;
        let staged = StagedFile { path: path.clone() };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
            let chunk = chunk.as_ref();
            verifier.update(chunk)?;
            file.write_all(chunk).await.map_err(io("writing", &path))?;
        }
        let verified = verifier.finish()?;
        file.sync_all().await.map_err(io("syncing", &path))?;
        Ok((verified, staged))
    }

    /// Renames a staged file into place (see [`super::ImageStore::commit`]).
    pub(super) async fn commit(
        &self,
        sha256: &str,
        size: u64,
        mut staged: StagedFile,
    ) -> Result<bool, PutError> {
        let target = self.object_path(sha256);
        let existing = tokio::fs::metadata(&target).await.ok();
        if existing.as_ref().is_some_and(|m| m.len() == size) {
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

    /// The object's bytes in 256 KiB chunks.
    pub(super) async fn open(&self, sha256: &str) -> Result<ObjectStream, PutError> {
        let path = self.object_path(sha256);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(io("opening image", &path))?;
        let stream = futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        Ok(stream.boxed())
    }

    /// Removes an object file; a missing one is fine.
    pub(super) async fn delete(&self, sha256: &str) -> Result<(), PutError> {
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

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::super::{ImageStore, hex};
    use super::*;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin + Send {
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
        let mut read = Vec::new();
        let mut stream = store.open(&sha).await.unwrap();
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(read, b"hello world");
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
        assert!(store.open(&sha).await.is_err(), "deleted object");
    }
}
