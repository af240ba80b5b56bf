//! Admin pages: users and API tokens. Only the `admin` role may open them; every form carries the
//! session's CSRF token.

use axum::Form;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;

use crate::AppState;
use crate::auth::extract::{Caller, WebUser};
use crate::auth::{constant_time_eq, random_token, sha256_hex};
use crate::error::{ApiError, PageError};
use crate::store::{Role, StoreError, TokenRow, TokenScope};
use crate::web::{esc, page};

fn require_admin(user: &Caller) -> Result<(), PageError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} is a viewer; this page is for admins",
            user.name
        ))
        .into())
    }
}

async fn render(state: &AppState, user: &Caller, notice: &str) -> Result<Html<String>, PageError> {
    let users: String = state
        .store()
        .users()
        .await?
        .iter()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&u.name),
                u.role.as_str()
            )
        })
        .collect();
    let tokens: String = state
        .store()
        .tokens()
        .await?
        .iter()
        .map(|t| {
            let scope = match &t.scope {
                TokenScope::Host(h) => format!("ingest for host {}", esc(h)),
                TokenScope::Site => "ingest for any host".into(),
                TokenScope::Read => "read the API".into(),
            };
            format!("<tr><td>{}</td><td>{scope}</td></tr>", esc(&t.name))
        })
        .collect();
    let body = format!(
        "<h1>Administration</h1>{notice}\
         <h2>API tokens</h2><div class=\"wrap\"><table><thead><tr><th scope=\"col\">Name</th>\
         <th scope=\"col\">Allows</th></tr></thead><tbody>{tokens}</tbody></table></div>\
         <h2>New token</h2><form method=\"post\" action=\"/admin/tokens\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" required>\
         <label for=\"scope\">Allows</label><select id=\"scope\" name=\"scope\">\
         <option value=\"host\">ingest for one host</option><option value=\"site\">ingest for any host</option>\
         <option value=\"read\">read the API</option></select>\
         <label for=\"host\">Host (for ingest for one host)</label><input id=\"host\" name=\"host\">\
         <p><button type=\"submit\">Create token</button></p></form>\
         <h2>Users</h2><p>Add users with <code>rear-server user add NAME --role admin|viewer</code>.</p>\
         <div class=\"wrap\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Role</th></tr></thead>\
         <tbody>{users}</tbody></table></div>",
        esc(&user.csrf)
    );
    Ok(Html(page("Administration", Some(user), &body)))
}

/// `GET /admin`.
pub async fn admin(
    State(state): State<AppState>,
    WebUser(user): WebUser,
) -> Result<Html<String>, PageError> {
    require_admin(&user)?;
    render(&state, &user, "").await
}

/// Fields of the new-token form.
#[derive(Deserialize)]
pub struct TokenForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// Token name.
    pub name: String,
    /// `host`, `site` or `read`.
    pub scope: String,
    /// Host for scope `host`.
    #[serde(default)]
    pub host: String,
}

/// `POST /admin/tokens`: creates a token and shows it once.
pub async fn create_token(
    State(state): State<AppState>,
    WebUser(user): WebUser,
    Form(form): Form<TokenForm>,
) -> Result<Html<String>, PageError> {
    require_admin(&user)?;
    if !constant_time_eq(&user.csrf, &form.csrf) {
        return Err(ApiError::Forbidden("CSRF token missing or wrong".into()).into());
    }
    let bad = |m: &str| {
        PageError(ApiError::BadRequest {
            code: "bad_form",
            message: m.into(),
        })
    };
    let name = form.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(bad("the token needs a name of 1-100 characters"));
    }
    let scope = match form.scope.as_str() {
        "host" if !form.host.trim().is_empty() => TokenScope::Host(form.host.trim().to_string()),
        "host" => return Err(bad("a host token needs the host name")),
        "site" => TokenScope::Site,
        "read" => TokenScope::Read,
        _ => return Err(bad("scope must be host, site or read")),
    };
    let token = random_token();
    match state
        .store()
        .add_token(&TokenRow {
            token_hash: sha256_hex(&token),
            name: name.into(),
            scope,
        })
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(what)) => {
            return Err(bad(&format!("{what}; choose another name")));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(admin = user.name, token = name, "API token created");
    let notice = format!(
        "<p role=\"status\">Token <strong>{}</strong> created. Copy it now, it is not shown again:</p>\
         <pre id=\"new-token\">{}</pre>",
        esc(name),
        esc(&token)
    );
    render(&state, &user, &notice).await
}
