//! Login against an LDAP directory or Active Directory by simple bind (ldap3).
//!
//! The login name is put (DN-escaped) into `bind_dn` (`uid={user},ou=people,dc=example,dc=com`, or
//! `{user}@corp.example.com` for an AD UPN bind) and bound with the given password; an empty
//! password is refused before any bind, because LDAP treats it as an anonymous bind that
//! "succeeds". Admins are the names in `admin_users` or the members of `admin_group` (checked with
//! the user's own bind: `member`, `uniqueMember` or `memberUid`). The directory is asked at every
//! login; a successful login creates or updates a local user row without a usable password, so
//! sessions work as for local users.

use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, dn_escape, ldap_escape};

use crate::config::LdapConfig;
use crate::store::Role;

/// What the directory said about a login.
#[derive(Debug, PartialEq, Eq)]
pub enum LdapLogin {
    /// The bind succeeded; the user has this role.
    Ok(Role),
    /// Wrong name or password.
    Denied,
}

/// Checks `user`/`password` against the directory.
///
/// # Errors
/// The directory cannot be reached or answers with something other than success or
/// invalid credentials (logged by the caller; the login then fails).
pub async fn authenticate(
    cfg: &LdapConfig,
    user: &str,
    password: &str,
) -> anyhow::Result<LdapLogin> {
    if password.is_empty() || user.is_empty() {
        return Ok(LdapLogin::Denied);
    }
    let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to LDAP server {}: {e}", cfg.url))?;
    ldap3::drive!(conn);
    let dn = cfg.bind_dn.replace("{user}", &dn_escape(user));
    let bind = ldap
        .simple_bind(&dn, password)
        .await
        .map_err(|e| anyhow::anyhow!("LDAP bind at {}: {e}", cfg.url))?;
    // 49 = invalidCredentials (RFC 4511); 32 = noSuchObject (some servers, for unknown users).
    if bind.rc == 49 || bind.rc == 32 {
        let _ = ldap.unbind().await;
        return Ok(LdapLogin::Denied);
    }
    bind.success()
        .map_err(|e| anyhow::anyhow!("LDAP bind at {}: {e}", cfg.url))?;
    let mut role = if cfg.admin_users.iter().any(|a| a == user) {
        Role::Admin
    } else {
        Role::Viewer
    };
    if role == Role::Viewer && !cfg.admin_group.is_empty() {
        let filter = format!(
            "(|(member={0})(uniqueMember={0})(memberUid={1}))",
            ldap_escape(&dn),
            ldap_escape(user)
        );
        let (entries, _) = ldap
            .search(&cfg.admin_group, Scope::Base, &filter, vec!["1.1"])
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(|e| anyhow::anyhow!("LDAP search of {}: {e}", cfg.admin_group))?;
        if !entries.is_empty() {
            role = Role::Admin;
        }
    }
    let _ = ldap.unbind().await;
    Ok(LdapLogin::Ok(role))
}
