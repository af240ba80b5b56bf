//! Request extractors that authenticate the caller.
//!
//! - [`WebUser`]: a person in the web GUI (trusted proxy header or session cookie); without one
//!   the request is redirected to `/login`.
//! - [`ApiUser`]: a reader of the JSON API (trusted proxy header, session cookie, or a bearer
//!   token of scope `read`); without one the answer is 401.
//! - [`IngestToken`]: a sender of reports (bearer token of scope `host` or `site`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;

use super::{SESSION_COOKIE, cookie, sha256_hex};
use crate::AppState;
use crate::error::ApiError;
use crate::store::{Role, TokenRow, TokenScope};

/// How the caller was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Session cookie from the login form.
    Session,
    /// Header from a trusted reverse proxy.
    Proxy,
    /// Bearer API token.
    Token,
}

/// An authenticated person or API reader.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User or token name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The CSRF token their forms must carry.
    pub csrf: String,
    /// How they were authenticated.
    pub via: Via,
    /// The session cookie's hash, for logout.
    pub session_hash: Option<String>,
}

/// A logged-in GUI user; rejection is a redirect to the login page.
#[derive(Debug, Clone)]
pub struct WebUser(pub Caller);

/// An authenticated API caller; rejection is 401.
#[derive(Debug, Clone)]
pub struct ApiUser(pub Caller);

/// A valid ingest token; rejection is 401 (missing/unknown) or 403 (wrong scope).
#[derive(Debug, Clone)]
pub struct IngestToken(pub TokenRow);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Resolves proxy header or session cookie.
async fn person(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let auth = &state.config().auth;
    if !auth.proxy_user_header.is_empty() {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = peer.is_some_and(|ip| auth.trusted_proxies.contains(&ip));
        if let Some(value) = parts.headers.get(auth.proxy_user_header.as_str()) {
            if trusted {
                let name = value.to_str().unwrap_or("").trim().to_string();
                if !name.is_empty() {
                    // Known local users keep their role; anyone else the proxy vouches for reads.
                    let role = state
                        .store()
                        .user(&name)
                        .await?
                        .map_or(Role::Viewer, |u| u.role);
                    let csrf = sha256_hex(&format!("{}:{name}", state.secret()));
                    return Ok(Some(Caller {
                        name,
                        role,
                        csrf,
                        via: Via::Proxy,
                        session_hash: None,
                    }));
                }
            } else {
                tracing::warn!(
                    peer = ?peer,
                    header = auth.proxy_user_header,
                    "ignoring proxy user header from an address not in trusted_proxies"
                );
            }
        }
    }
    let Some(value) = parts
        .headers
        .get(header::COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| cookie(h, SESSION_COOKIE))
    else {
        return Ok(None);
    };
    let hash = sha256_hex(value);
    let Some(session) = state
        .store()
        .session(&hash, OffsetDateTime::now_utc())
        .await?
    else {
        return Ok(None);
    };
    let Some(user) = state.store().user(&session.username).await? else {
        return Ok(None);
    };
    Ok(Some(Caller {
        name: user.name,
        role: user.role,
        csrf: session.csrf,
        via: Via::Session,
        session_hash: Some(hash),
    }))
}

/// Rejection of [`WebUser`]: a redirect to the login page (or an internal error).
pub enum WebRejection {
    /// Not logged in.
    Login(String),
    /// Store failure.
    Error(ApiError),
}

impl IntoResponse for WebRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Login(next) => {
                Redirect::to(&format!("/login?next={}", crate::web::url_encode(&next)))
                    .into_response()
            }
            Self::Error(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match person(parts, state).await {
            Ok(Some(c)) => Ok(Self(c)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                Err(WebRejection::Login(next))
            }
            Err(e) => Err(WebRejection::Error(e)),
        }
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(&parts.headers) {
            let row = state.store().token(&sha256_hex(token)).await?;
            return match row {
                Some(t) if t.scope == TokenScope::Read => Ok(Self(Caller {
                    name: t.name,
                    role: Role::Viewer,
                    csrf: String::new(),
                    via: Via::Token,
                    session_hash: None,
                })),
                Some(t) => Err(ApiError::Forbidden(format!(
                    "token {} may only send reports; reading the API needs a token of scope read",
                    t.name
                ))),
                None => Err(ApiError::Unauthorized("unknown API token".into())),
            };
        }
        match person(parts, state).await? {
            Some(c) => Ok(Self(c)),
            None => Err(ApiError::Unauthorized(
                "authentication required: log in, or send Authorization: Bearer <token>".into(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for IngestToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::Unauthorized(
                "sending a report needs Authorization: Bearer <ingest token> \
                 (create one with rear-server token add)"
                    .into(),
            ));
        };
        match state.store().token(&sha256_hex(token)).await? {
            Some(t) if t.scope != TokenScope::Read => Ok(Self(t)),
            Some(t) => Err(ApiError::Forbidden(format!(
                "token {} is a read token and may not send reports",
                t.name
            ))),
            None => {
                tracing::warn!("report rejected: unknown ingest token");
                Err(ApiError::Unauthorized("unknown ingest token".into()))
            }
        }
    }
}
