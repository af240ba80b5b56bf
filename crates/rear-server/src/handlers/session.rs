//! Login and logout.
//!
//! The login form is protected against CSRF with a double-submit token: `GET /login` sets a
//! random `rear_login_csrf` cookie and puts the same value in the form; `POST /login` requires
//! both to match. A successful login creates a session (random cookie, stored as its SHA-256)
//! with its own CSRF token for the forms behind the login. Cookies are `HttpOnly`,
//! `SameSite=Strict`, and `Secure` when `http.secure_cookies` is set.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::extract::WebUser;
use crate::auth::ldap::{self, LdapLogin};
use crate::auth::password::{dummy_hash, verify_password};
use crate::auth::{
    LOGIN_CSRF_COOKIE, SESSION_COOKIE, constant_time_eq, cookie, random_token, sha256_hex,
};
use crate::error::ApiError;
use crate::store::{EXTERNAL_PASSWORD, SessionRow, UserRow};
use crate::web::{page, pages};

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.config().http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Only local paths are followed after login (no `//host` or `https://` open redirects).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after logging in.
    pub next: Option<String>,
}

fn login_page(state: &AppState, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = random_token();
    let html = page("Log in", None, &pages::login(&csrf, next, error));
    (
        status,
        [(
            SET_COOKIE,
            set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, 3600),
        )],
        Html(html),
    )
        .into_response()
}

/// `GET /login`.
pub async fn login_form(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    login_page(&state, &safe_next(q.next.as_deref()), None, StatusCode::OK)
}

/// Fields of the login form.
#[derive(Deserialize)]
pub struct LoginForm {
    /// Must equal the `rear_login_csrf` cookie.
    pub csrf: String,
    /// User name.
    pub username: String,
    /// Password (never logged).
    pub password: String,
    /// Where to go afterwards.
    pub next: Option<String>,
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(form.next.as_deref());
    let cookie_csrf = headers
        .get(COOKIE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| cookie(h, LOGIN_CSRF_COOKIE))
        .unwrap_or("");
    if cookie_csrf.is_empty() || !constant_time_eq(cookie_csrf, &form.csrf) {
        tracing::warn!("login rejected: CSRF token missing or wrong");
        return Ok(login_page(
            &state,
            &next,
            Some("The form expired; please try again."),
            StatusCode::FORBIDDEN,
        ));
    }
    let local = state.store().user(&form.username).await?;
    let external = local
        .as_ref()
        .is_none_or(|u| u.password_hash == EXTERNAL_PASSWORD);
    let user = match (&state.config().auth.ldap, external) {
        (Some(ldap_cfg), true) => {
            match ldap::authenticate(ldap_cfg, &form.username, &form.password).await {
                Ok(LdapLogin::Ok(role)) => {
                    let row = UserRow {
                        name: form.username.clone(),
                        password_hash: EXTERNAL_PASSWORD.into(),
                        role,
                    };
                    state.store().set_user(&row).await?;
                    Some(row)
                }
                Ok(LdapLogin::Denied) => None,
                Err(e) => {
                    tracing::error!(
                        user = form.username,
                        error = format!("{e:#}"),
                        "LDAP login failed"
                    );
                    return Ok(login_page(
                        &state,
                        &next,
                        Some("The user directory cannot be reached; try again later."),
                        StatusCode::SERVICE_UNAVAILABLE,
                    ));
                }
            }
        }
        _ => {
            // Verify against a dummy hash when there is no local password, so that the answer
            // takes as long for unknown users as for wrong passwords.
            let hash = local
                .as_ref()
                .filter(|u| u.password_hash != EXTERNAL_PASSWORD)
                .map_or_else(|| dummy_hash().to_string(), |u| u.password_hash.clone());
            let password = form.password;
            let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?;
            local.filter(|_| ok)
        }
    };
    let Some(user) = user else {
        tracing::warn!(user = form.username, "login failed");
        return Ok(login_page(
            &state,
            &next,
            Some("Unknown user name or wrong password."),
            StatusCode::UNAUTHORIZED,
        ));
    };
    let token = random_token();
    let hours = i64::try_from(state.config().auth.session_hours).unwrap_or(12);
    state
        .store()
        .add_session(&SessionRow {
            token_hash: sha256_hex(&token),
            username: user.name.clone(),
            csrf: random_token(),
            expires_at: OffsetDateTime::now_utc() + time::Duration::hours(hours),
        })
        .await?;
    tracing::info!(user = user.name, "login");
    let mut resp = Redirect::to(&next).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = set_cookie(&state, SESSION_COOKIE, &token, hours * 3600).parse() {
        h.append(SET_COOKIE, v);
    }
    if let Ok(v) = set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0).parse() {
        h.append(SET_COOKIE, v);
    }
    Ok(resp)
}

/// Fields of the logout form.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    if !constant_time_eq(&user.csrf, &form.csrf) {
        return Err(ApiError::Forbidden("CSRF token missing or wrong".into()));
    }
    if let Some(hash) = &user.session_hash {
        state.store().delete_session(hash).await?;
    }
    Ok((
        [(SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0))],
        Redirect::to("/login"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/hosts/web1?x=1")), "/hosts/web1?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
