//! Rescue images: upload (`PUT /api/v1/hosts/{name}/images/{sha256}`, ingest token), list
//! (`GET /api/v1/hosts/{name}/images`) and download (`GET .../images/{sha256}`, API readers and
//! GUI sessions).
//!
//! An upload is verified (size and SHA-256) before it becomes visible, recorded for the host and
//! followed by retention: the host keeps its newest `images.keep_per_host` images, and an object
//! is deleted only when no host's list names it any more.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rear_proto::api::{ImageList, StoredImage, UploadResponse, UploadStatus};
use serde::Deserialize;

use crate::AppState;
use crate::auth::extract::{ApiUser, IngestToken};
use crate::error::ApiError;
use crate::images::{PutError, is_image_name, is_sha256};
use crate::store::{ImageRow, TokenScope};

/// Query of the upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// File name for downloads (default `rear-<host>.iso`).
    pub name: Option<String>,
    /// Size in bytes; defaults to the `Content-Length` header. One of the two is required.
    pub size: Option<u64>,
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_host_and_sha(host: &str, sha: &str) -> Result<(), ApiError> {
    if !is_hostname(host) {
        return Err(ApiError::BadRequest {
            code: "bad_host",
            message: format!("{host:?} is not a hostname"),
        });
    }
    if !is_sha256(sha) {
        return Err(ApiError::BadRequest {
            code: "bad_sha256",
            message: format!("{sha:?} is not a SHA-256 (64 lower-case hex digits)"),
        });
    }
    Ok(())
}

fn stored_image(row: ImageRow) -> StoredImage {
    StoredImage {
        download: format!("/api/v1/hosts/{}/images/{}", row.hostname, row.sha256),
        hostname: row.hostname,
        name: row.name,
        size: row.size,
        sha256: row.sha256,
        uploaded_at: row.uploaded_at,
    }
}

impl From<PutError> for ApiError {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Checksum { .. } => Self::BadRequest {
                code: "bad_checksum",
                message: e.to_string(),
            },
            PutError::Size { .. } => Self::BadRequest {
                code: "bad_size",
                message: e.to_string(),
            },
            PutError::TooLarge(_) => Self::TooLarge(e.to_string()),
            PutError::Body(_) => Self::BadRequest {
                code: "bad_body",
                message: e.to_string(),
            },
            PutError::Io { .. } | PutError::S3 { .. } | PutError::Config(_) => {
                Self::Internal(e.into())
            }
        }
    }
}

/// `PUT /api/v1/hosts/{name}/images/{sha256}?name=&size=`: stores a rescue image. 201 when the
/// host's list got it now, 200 when the host already had it (the body is still verified).
pub async fn upload(
    State(state): State<AppState>,
    IngestToken(token): IngestToken,
    Path((host, sha)): Path<(String, String)>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    check_host_and_sha(&host, &sha)?;
    if let TokenScope::Host(allowed) = &token.scope
        && *allowed != host
    {
        tracing::warn!(
            token = token.name,
            host,
            "image upload for another host refused"
        );
        return Err(ApiError::Forbidden(format!(
            "token {} may only upload images for host {allowed}",
            token.name
        )));
    }
    let name = q.name.unwrap_or_else(|| format!("rear-{host}.iso"));
    if !is_image_name(&name) {
        return Err(ApiError::BadRequest {
            code: "bad_name",
            message: format!(
                "{name:?} is not an image file name (1-128 of letters, digits, '.', '_', '-')"
            ),
        });
    }
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(size) = q.size.or(content_length) else {
        return Err(ApiError::BadRequest {
            code: "bad_size",
            message: "the image size is unknown: send Content-Length or ?size=BYTES".into(),
        });
    };
    let max = state.config().images.max_image_bytes;
    let staged = state
        .images()
        .stage(&sha, size, max, body.into_data_stream())
        .await
        .inspect_err(|e| tracing::warn!(token = token.name, host, reason = %e, "image rejected"))?;

    let images = state.images();
    let _guard = images.lock().await;
    let new_object = images.commit(staged).await?;
    let added = state
        .store()
        .add_image(&ImageRow {
            hostname: host.clone(),
            sha256: sha.clone(),
            name,
            size,
            uploaded_at: state.now(),
        })
        .await?;
    let keep = state.config().images.keep_per_host;
    let mut pruned = Vec::new();
    if keep > 0 {
        for (old, still_used) in state.store().prune_images(&host, keep).await? {
            if !still_used {
                images.delete(&old).await?;
                tracing::info!(host, sha256 = old, "image object deleted by retention");
            }
            pruned.push(old);
        }
    }
    let row = state
        .store()
        .host_images(&host)
        .await?
        .into_iter()
        .find(|r| r.sha256 == sha)
        .ok_or_else(|| anyhow::anyhow!("image {sha} of {host} vanished after the upload"))?;
    drop(_guard);
    tracing::info!(
        token = token.name,
        host,
        sha256 = sha,
        size,
        new_object,
        "image stored"
    );
    let code = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(UploadResponse {
            image: stored_image(row),
            status: if new_object {
                UploadStatus::Stored
            } else {
                UploadStatus::Existing
            },
            pruned,
        }),
    ))
}

/// The images of a host, newest first (also used by the host page).
pub async fn host_images(state: &AppState, host: &str) -> Result<Vec<StoredImage>, ApiError> {
    Ok(state
        .store()
        .host_images(host)
        .await?
        .into_iter()
        .map(stored_image)
        .collect())
}

/// `GET /api/v1/hosts/{name}/images`.
pub async fn list(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(host): Path<String>,
) -> Result<Json<ImageList>, ApiError> {
    Ok(Json(ImageList {
        images: host_images(&state, &host).await?,
    }))
}

/// `GET /api/v1/hosts/{name}/images/{sha256}`: the image's bytes, streamed.
pub async fn download(
    State(state): State<AppState>,
    _user: ApiUser,
    Path((host, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    check_host_and_sha(&host, &sha)?;
    let row = state
        .store()
        .host_images(&host)
        .await?
        .into_iter()
        .find(|r| r.sha256 == sha)
        .ok_or_else(|| ApiError::NotFound(format!("host {host} has no image {sha}")))?;
    let stream = state.images().open(&sha).await?;
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size));
    // The name passed is_image_name at upload: no quotes or control characters.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", row.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{sha}\"")) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}
