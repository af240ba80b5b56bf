//! The one error type of the HTTP layer.
//!
//! Policy: every handler returns `Result<_, ApiError>`. Client mistakes (bad report, missing or
//! wrong credentials, unknown host) carry a message that tells the client what to fix; it is sent
//! as the [`ErrorBody`] JSON. Internal failures (database, I/O) are logged with their full chain
//! and answered with a generic 500 so that nothing internal (paths, SQL, secrets) leaks.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rear_proto::api::ErrorBody;

use crate::ingest::IngestError;
use crate::store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or invalid credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials valid but not allowed to do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong (400), with a stable code.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The body is too large (413).
    #[error("{0}")]
    TooLarge(String),
    /// Something failed inside the server (500); logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(m) => Self::BadRequest {
                code: "invalid_report",
                message: m,
            },
            IngestError::TooLarge(m) => Self::TooLarge(m),
            IngestError::Forbidden(m) => Self::Forbidden(m),
            IngestError::Store(e) => Self::Internal(e.into()),
        }
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                "internal server error; the server log has the details".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = (
            status,
            Json(ErrorBody {
                error: code.to_string(),
                message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"rear-server\""),
            );
        }
        resp
    }
}

/// An [`ApiError`] answered as an HTML page (for the web GUI's pages): same status, same
/// policy (internal details only in the log), but readable in a browser.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, _) = self.0.parts();
        let message = match &self.0 {
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                "Internal server error; the server log has the details.".to_string()
            }
            other => other.to_string(),
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the overview</a></p>",
            crate::web::esc(title),
            crate::web::esc(&message)
        );
        (
            status,
            axum::response::Html(crate::web::page(title, None, &body)),
        )
            .into_response()
    }
}
