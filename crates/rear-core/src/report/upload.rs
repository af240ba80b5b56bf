//! Uploading the rescue image to rear-server's image store.
//!
//! Contract: [`upload_image`] hashes the file (SHA-256, streamed) unless the caller already knows
//! the digest (the report has it), then sends it with
//! `PUT <REAR_SERVER>/api/v1/hosts/<host>/images/<sha256>?name=<file name>&size=<bytes>` and
//! `Authorization: Bearer $REAR_SERVER_TOKEN`. The server makes the image visible only when size
//! and SHA-256 match, and content it already has is harmless to send again, so a failed upload is
//! simply retried at the next run. Like reports, an upload never fails a run: the caller logs the
//! error and goes on. Only `http://` and `https://` servers take uploads; with `mailto:` the image
//! travels attached to the report mail when it is small enough (see [`super::deliver`]).

use std::path::Path;
use std::time::Duration;

use rear_proto::api::{UploadResponse, UploadStatus};

use super::ServerSettings;
use crate::{Error, Result};

/// How long the server may take to answer after the whole image was sent (it fsyncs the file).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// What the server did with an uploaded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// SHA-256 of the file (hex, lower case): put it in the report's `image.sha256`.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// `true` when the server stored new content, `false` when it had it already.
    pub new_object: bool,
}

/// SHA-256 (hex) and size of a file, read in 1 MiB blocks.
///
/// # Errors
/// The file cannot be read.
pub fn file_sha256(path: &Path) -> Result<(String, u64)> {
    crate::backup::stream::sha256_file(path)
}

/// The upload URL for `hostname` and `sha256` under the server URL of `settings`.
pub fn image_endpoint(settings: &ServerSettings, hostname: &str, sha256: &str) -> String {
    super::send::api_url(&settings.url, &format!("hosts/{hostname}/images/{sha256}"))
}

/// True for a name the server accepts as an image file name.
fn is_image_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Uploads `image` (the ISO) for `hostname` to the server of `settings`. `digest` is the
/// file's SHA-256 and size when the caller has them (the report's `image`), so the file is not
/// read twice; a file that changed since is refused by the server's check, not stored.
///
/// # Errors
/// `REAR_SERVER` is a `mailto:` URL; the file cannot be read; the server cannot be reached or
/// refuses the upload (the message carries its status and answer).
pub fn upload_image(
    image: &Path,
    hostname: &str,
    settings: &ServerSettings,
    digest: Option<(&str, u64)>,
) -> Result<Uploaded> {
    if settings.url.scheme != "http" && settings.url.scheme != "https" {
        return Err(Error::invalid(
            "REAR_SERVER",
            format!(
                "{}: URL images can only be uploaded to an http:// or https:// server",
                settings.url.scheme
            ),
        ));
    }
    let (sha256, size) = match digest {
        Some((sha256, size)) => (sha256.to_owned(), size),
        None => file_sha256(image)?,
    };
    let mut endpoint = image_endpoint(settings, hostname, &sha256);
    endpoint.push_str(&format!("?size={size}"));
    if let Some(name) = image
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| is_image_name(n))
    {
        endpoint.push_str(&format!("&name={name}"));
    }
    let agent = super::send::agent(None, Some(settings.timeout), Some(ANSWER_TIMEOUT));
    let mut req = agent
        .put(&endpoint)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", &size.to_string())
        // The server answers a refused upload (wrong token, wrong host) before reading the body;
        // waiting for its "100 Continue" turns that into a clean HTTP error instead of a broken
        // pipe halfway through an ISO, and saves sending it.
        .header("Expect", "100-continue");
    if let Some(t) = &settings.token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut file = std::fs::File::open(image).map_err(|e| Error::io("opening", image, e))?;
    tracing::info!(
        "uploading rescue image {} ({size} bytes) to {endpoint}",
        image.display()
    );
    let mut resp = req
        .send(ureq::SendBody::from_reader(&mut file))
        .map_err(|e| anyhow::anyhow!("uploading {} to {endpoint}: {e}", image.display()))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(anyhow::anyhow!(
            "uploading {} to {endpoint}: HTTP {status}: {body}",
            image.display()
        )
        .into());
    }
    let answer: UploadResponse = serde_json::from_str(&body).map_err(|e| {
        anyhow::anyhow!("the answer of {endpoint} is not an upload result ({e}): {body}")
    })?;
    Ok(Uploaded {
        sha256,
        size,
        new_object: answer.status == UploadStatus::Stored,
    })
}
