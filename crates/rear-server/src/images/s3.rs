//! The S3 backend of the image store (`images.s3_url`): objects are keys in a bucket of any
//! S3-compatible server (AWS S3, MinIO, Ceph RGW, ...), `<prefix>/sha256/ab/cdef...`.
//!
//! An upload goes straight to its final key as a *multipart upload*: the body is cut into parts
//! (8 MiB or more, at most two in flight) that are sent while the whole body is hashed and
//! counted. S3 makes a multipart upload visible only when it is completed, atomically and as a
//! whole; until then the key shows nothing (or the previous object). The upload is completed
//! only after the size and SHA-256 of the whole body are verified, and aborted (its parts
//! deleted) on every failure, so a reader never sees a partial or wrong object. This avoids the
//! alternative of a `tmp/` key plus a server-side copy, which would write every image twice and
//! needs a multipart copy for objects over 5 GiB. Parts of an upload cut short by a server crash
//! stay until the bucket's lifecycle rule `AbortIncompleteMultipartUpload` removes them
//! (docs/server.md).
//!
//! Downloads stream the object's body as S3 sends it; nothing is buffered whole. Credentials come
//! from `images.s3_access_key_id` + `images.s3_secret_access_key_file`, or from the standard AWS
//! environment variables; the secret is never logged (this type's `Debug` omits it).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};

use super::{ObjectStream, PutError, Verifier, object_key};
use crate::config::{S3Credentials, S3Settings};

/// The smallest part: S3 wants at least 5 MiB for every part but the last.
const MIN_PART: usize = 8 << 20;
/// S3 allows 10 000 parts; stay below so that any announced size fits.
const MAX_PARTS: u64 = 9_000;
/// Parts being sent at once per upload (memory per upload is about (this + 1) parts).
const PARTS_IN_FLIGHT: usize = 2;

/// The part size for an upload of `size` bytes.
fn part_size(size: u64) -> usize {
    let needed = size.div_ceil(MAX_PARTS);
    usize::try_from(needed).unwrap_or(usize::MAX).max(MIN_PART)
}

/// A verified multipart upload, not completed yet; aborted when dropped before it is committed.
pub struct StagedUpload {
    upload: Option<Box<dyn MultipartUpload>>,
    location: String,
}

impl std::fmt::Debug for StagedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedUpload")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl StagedUpload {
    /// Aborts the upload now (its parts are deleted); a failure is logged (the bucket's
    /// lifecycle rule is the fallback).
    async fn abort(&mut self) {
        if let Some(mut upload) = self.upload.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(location = self.location, error = %e, "aborting a multipart upload");
        }
    }
}

impl Drop for StagedUpload {
    fn drop(&mut self) {
        if let Some(mut upload) = self.upload.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let location = std::mem::take(&mut self.location);
            rt.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(location, error = %e, "aborting a multipart upload");
                }
            });
        }
    }
}

/// Objects in an S3 bucket.
pub struct S3Store {
    store: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    endpoint: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its configuration holds the credentials.
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// A client for the bucket in `settings`; no request is made yet.
    ///
    /// # Errors
    /// The secret key file cannot be read, or the settings are refused by the S3 client.
    pub fn new(settings: &S3Settings) -> Result<Self, PutError> {
        // reqwest is built without a crypto provider of its own: HTTPS endpoints use ring, like
        // the rest of the server (an error only means a provider is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let endpoint = settings.endpoint.clone().unwrap_or_else(|| {
            format!(
                "AWS S3 ({})",
                settings
                    .region
                    .as_deref()
                    .unwrap_or("region from the environment")
            )
        });
        let describe = describe(&settings.bucket, &settings.prefix, &endpoint);
        // Uploads and downloads of GBs take long: no limit on a whole request, but a stalled
        // read fails after two minutes; an unreachable endpoint fails fast (few retries).
        let options = ClientOptions::new()
            .with_timeout_disabled()
            .with_connect_timeout(Duration::from_secs(10))
            .with_read_timeout(Duration::from_secs(120));
        let mut builder = AmazonS3Builder::from_env()
            .with_client_options(options)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: Duration::from_secs(120),
            })
            .with_bucket_name(&settings.bucket)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(settings.virtual_hosted_style);
        if let Some(e) = &settings.endpoint {
            builder = builder.with_endpoint(e);
        }
        if let Some(r) = &settings.region {
            builder = builder.with_region(r);
        }
        if let S3Credentials::KeyFile {
            access_key_id,
            secret_access_key_file,
        } = &settings.credentials
        {
            let secret = std::fs::read_to_string(secret_access_key_file).map_err(|e| {
                PutError::Config(format!(
                    "reading the S3 secret access key from {} (images.s3_secret_access_key_file): {e}",
                    secret_access_key_file.display()
                ))
            })?;
            let secret = secret.trim();
            if secret.is_empty() {
                return Err(PutError::Config(format!(
                    "{} (images.s3_secret_access_key_file) is empty: put the secret access key of {access_key_id} in it",
                    secret_access_key_file.display()
                )));
            }
            builder = builder
                .with_access_key_id(access_key_id)
                .with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| {
            PutError::Config(format!("setting up the S3 image store {describe}: {e}"))
        })?;
        Ok(Self {
            store: Arc::new(store),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            endpoint,
        })
    }

    /// `s3://bucket/prefix at endpoint`.
    pub fn describe(&self) -> String {
        describe(&self.bucket, &self.prefix, &self.endpoint)
    }

    fn key(&self, sha256: &str) -> String {
        if self.prefix.is_empty() {
            object_key(sha256)
        } else {
            format!("{}/{}", self.prefix, object_key(sha256))
        }
    }

    fn error(
        &self,
        action: &'static str,
        key: &str,
    ) -> impl FnOnce(object_store::Error) -> PutError {
        let location = format!("s3://{}/{key} at {}", self.bucket, self.endpoint);
        let bucket = self.bucket.clone();
        move |source| {
            let hint = hint(&source, &bucket);
            PutError::S3 {
                action,
                location,
                source: Box::new(source),
                hint,
            }
        }
    }

    /// One listing request under the prefix: the bucket exists and the credentials may list it.
    pub(super) async fn check(&self) -> Result<(), PutError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| match e {
                // Listing never says NotFound for an existing bucket.
                object_store::Error::NotFound { .. } => PutError::S3 {
                    action: "checking the image bucket",
                    location: self.describe(),
                    hint: format!(
                        "; the bucket {} does not exist: create it (aws s3 mb s3://{0}, \
                         mc mb ALIAS/{0}, s3cmd mb s3://{0}) or fix images.s3_url",
                        self.bucket
                    ),
                    source: Box::new(e),
                },
                e => self.error("checking the image bucket", &self.prefix)(e),
            })
    }

    /// Streams `body` into a multipart upload at the object's final key, verifying it; the
    /// upload is aborted on every error.
    pub(super) async fn stage<S, B, E>(
        &self,
        verifier: Verifier,
        sha256: &str,
        body: S,
    ) -> Result<((String, u64), StagedUpload), PutError>
    where
        S: Stream<Item = Result<B, E>> + Unpin + Send,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let key = self.key(sha256);
        let path = ObjectPath::from(key.as_str());
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(self.error("starting a multipart upload to", &key))?;
        let mut staged = StagedUpload {
            upload: Some(upload),
            location: key.clone(),
        };
        match self.send_parts(verifier, body, &mut staged, &key).await {
            Ok(verified) => Ok((verified, staged)),
            Err(e) => {
                staged.abort().await;
                Err(e)
            }
        }
    }

    async fn send_parts<S, B, E>(
        &self,
        mut verifier: Verifier,
        mut body: S,
        staged: &mut StagedUpload,
        key: &str,
    ) -> Result<(String, u64), PutError>
    where
        S: Stream<Item = Result<B, E>> + Unpin + Send,
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let Some(upload) = staged.upload.as_mut() else {
            return Err(PutError::Config("multipart upload already finished".into()));
        };
        let part_size = part_size(verifier.expected_size);
        let mut buf: Vec<u8> = Vec::with_capacity(part_size);
        // Parts run as tasks so they are sent while the body is read; dropping the set (on an
        // error) cancels them, and the upload is aborted by the caller.
        let mut parts = tokio::task::JoinSet::new();
        let mut sent = 0usize;
        let wait = |r: Option<Result<object_store::Result<()>, tokio::task::JoinError>>| match r {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(self.error("uploading a part to", key)(e)),
            Some(Err(e)) => Err(PutError::Body(format!("uploading a part: {e}"))),
        };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
            let mut data = chunk.as_ref();
            verifier.update(data)?;
            while !data.is_empty() {
                let take = (part_size - buf.len()).min(data.len());
                buf.extend_from_slice(&data[..take]);
                data = &data[take..];
                if buf.len() == part_size {
                    let part = std::mem::replace(&mut buf, Vec::with_capacity(part_size));
                    parts.spawn(upload.put_part(PutPayload::from(part)));
                    sent += 1;
                    while parts.len() >= PARTS_IN_FLIGHT {
                        wait(parts.join_next().await)?;
                    }
                }
            }
        }
        // Verified before the last part goes out; completing is left to commit.
        let verified = verifier.finish()?;
        if !buf.is_empty() || sent == 0 {
            parts.spawn(upload.put_part(PutPayload::from(buf)));
        }
        while !parts.is_empty() {
            wait(parts.join_next().await)?;
        }
        Ok(verified)
    }

    /// Completes a verified upload unless an object of that size is there already (then the
    /// upload is aborted).
    pub(super) async fn commit(
        &self,
        sha256: &str,
        size: u64,
        mut staged: StagedUpload,
    ) -> Result<bool, PutError> {
        let key = self.key(sha256);
        let path = ObjectPath::from(key.as_str());
        match self.store.head(&path).await {
            Ok(meta) if meta.size == size => {
                staged.abort().await;
                return Ok(false);
            }
            Ok(meta) => {
                tracing::warn!(
                    location = key,
                    size = meta.size,
                    expected = size,
                    "replacing a damaged image object"
                );
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                staged.abort().await;
                return Err(self.error("looking up", &key)(e));
            }
        }
        let Some(mut upload) = staged.upload.take() else {
            return Err(PutError::Config("multipart upload already finished".into()));
        };
        if let Err(e) = upload.complete().await {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(location = key, error = %abort, "aborting a multipart upload");
            }
            return Err(self.error("completing the multipart upload of", &key)(e));
        }
        Ok(true)
    }

    /// The object's body as S3 streams it.
    pub(super) async fn open(&self, sha256: &str) -> Result<ObjectStream, PutError> {
        let key = self.key(sha256);
        let got = self
            .store
            .get(&ObjectPath::from(key.as_str()))
            .await
            .map_err(self.error("reading", &key))?;
        Ok(got.into_stream().map_err(std::io::Error::other).boxed())
    }

    /// Deletes an object; a missing one is fine.
    pub(super) async fn delete(&self, sha256: &str) -> Result<(), PutError> {
        let key = self.key(sha256);
        match self.store.delete(&ObjectPath::from(key.as_str())).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("deleting", &key)(e)),
        }
    }
}

/// `s3://bucket/prefix at endpoint` (`s3://bucket at endpoint` without a prefix).
fn describe(bucket: &str, prefix: &str, endpoint: &str) -> String {
    if prefix.is_empty() {
        format!("s3://{bucket} at {endpoint}")
    } else {
        format!("s3://{bucket}/{prefix} at {endpoint}")
    }
}

/// What the admin can do about an S3 error (empty when there is nothing specific to say).
fn hint(e: &object_store::Error, bucket: &str) -> String {
    let text = format!("{e:?}");
    let credentials = "; check the credentials (images.s3_access_key_id and \
        images.s3_secret_access_key_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the \
        server's environment) and that they may list, read, write and delete in the bucket";
    if text.contains("NoSuchBucket") {
        format!("; the bucket {bucket} does not exist: create it or fix images.s3_url")
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "403 Forbidden",
    ]
    .iter()
    .any(|s| text.contains(s))
    {
        credentials.to_string()
    } else if [
        "onnect",
        "dns error",
        "error sending request",
        "builder error",
    ]
    .iter()
    .any(|s| text.contains(s))
    {
        "; is the S3 server running and images.s3_endpoint right? (an http:// endpoint needs \
         images.s3_allow_http = true)"
            .to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HTTPS client builds with ring as the only crypto provider (reqwest has none of its
    /// own here), and an unreachable endpoint is reported with bucket, endpoint and a hint.
    #[tokio::test]
    async fn https_client_builds_and_unreachable_endpoint_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cr3t-value\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = S3Settings {
            bucket: "dr-images".into(),
            prefix: "rear".into(),
            endpoint: Some(format!("https://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            allow_http: false,
            virtual_hosted_style: false,
            credentials: S3Credentials::KeyFile {
                access_key_id: "rear".into(),
                secret_access_key_file: secret.clone(),
            },
        };
        let store = S3Store::new(&settings).unwrap();
        assert!(!format!("{store:?}").contains("s3cr3t"));
        let err = store.check().await.unwrap_err().to_string();
        assert!(
            err.contains("s3://dr-images/rear")
                && err.contains(&format!("https://127.0.0.1:{port}"))
                && err.contains("is the S3 server running"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        std::fs::write(&secret, "\n").unwrap();
        let empty = S3Store::new(&settings).unwrap_err().to_string();
        assert!(empty.contains("is empty"), "{empty}");
        std::fs::remove_file(&secret).unwrap();
        let missing = S3Store::new(&settings).unwrap_err().to_string();
        assert!(missing.contains("s3_secret_access_key_file"), "{missing}");
    }

    #[test]
    fn parts_fit_the_s3_limits() {
        assert_eq!(part_size(0), MIN_PART);
        assert_eq!(part_size(100 << 20), MIN_PART);
        // 100 GiB: still under 10 000 parts, every part over 5 MiB.
        let big = 100u64 << 30;
        let p = part_size(big) as u64;
        assert!(big.div_ceil(p) <= 10_000, "{p}");
    }
}
