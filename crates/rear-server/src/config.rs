//! Server configuration: `/etc/rear-server/server.toml` (all keys optional) over built-in defaults.
//!
//! With no file at all the server listens on 127.0.0.1:8080 (HTTP) and 127.0.0.1:2525 (SMTP) and
//! keeps its SQLite database in `/var/lib/rear-server`. Every key is documented in
//! `docs/server.md`; unknown keys are an error so that a typo does not silently do nothing.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the server looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/rear-server/server.toml";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite database and stored files.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://...`; default `sqlite:<data_dir>/rear-server.db`.
    pub database_url: Option<String>,
    /// A host with no successful report for this many hours is stale (unless a tag says otherwise).
    pub stale_after_hours: u64,
    /// `[stale_after_hours_by_tag]`: expected report interval per tag, in hours; a host with
    /// several such tags gets the shortest.
    pub stale_after_hours_by_tag: BTreeMap<String, u64>,
    /// HTTP listener and web settings.
    pub http: HttpConfig,
    /// Mail listeners.
    pub smtp: SmtpConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// Rescue image store.
    pub images: ImagesConfig,
}

/// `[images]`: the content-addressed store of uploaded rescue images.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Directory of the store; empty (the default) means `<data_dir>/images`.
    pub dir: PathBuf,
    /// Images kept per host (newest uploads); 0 keeps all.
    pub keep_per_host: u32,
    /// Largest accepted image in bytes.
    pub max_image_bytes: u64,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            keep_per_host: 3,
            max_image_bytes: 16 << 30,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the web GUI and API.
    pub listen: SocketAddr,
    /// Largest accepted report body in bytes.
    pub max_report_bytes: usize,
    /// Set the `Secure` flag on cookies: true when users reach the server over HTTPS (a TLS
    /// terminating reverse proxy).
    pub secure_cookies: bool,
}

/// `[smtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// SMTP listener; empty string disables it.
    pub listen: String,
    /// LMTP listener (for an MTA handing mail over); empty string (the default) disables it.
    pub lmtp_listen: String,
    /// Name the server greets with.
    pub hostname: String,
    /// Largest accepted message in bytes (announced with SIZE).
    pub max_message_bytes: usize,
    /// PEM certificate chain for STARTTLS; with `tls_key` set, STARTTLS is offered.
    pub tls_cert: String,
    /// PEM private key for STARTTLS.
    pub tls_key: String,
    /// Refuse MAIL until the client has switched to TLS with STARTTLS.
    pub require_tls: bool,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Hours a login lasts.
    pub session_hours: u64,
    /// Header a trusted reverse proxy sets to the authenticated user name (e.g. `X-Remote-User`);
    /// empty disables proxy authentication.
    pub proxy_user_header: String,
    /// Peer addresses allowed to set `proxy_user_header`; from anyone else it is ignored.
    pub trusted_proxies: Vec<IpAddr>,
    /// Reports over SMTP/LMTP/pipe must carry a valid ingest token in `X-Rear-Token` (or as
    /// `"token"` next to the report); classic ReaR result mails cannot and are then refused.
    pub mail_requires_token: bool,
    /// `[auth.ldap]`: log in against an LDAP directory or Active Directory.
    pub ldap: Option<LdapConfig>,
}

/// `[auth.ldap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    pub url: String,
    /// DN (or AD user principal) to bind as; `{user}` is replaced by the DN-escaped login name.
    pub bind_dn: String,
    /// Login names that get the admin role.
    #[serde(default)]
    pub admin_users: Vec<String>,
    /// DN of a group whose members (`member`, `uniqueMember` or `memberUid`) are admins.
    #[serde(default)]
    pub admin_group: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("/var/lib/rear-server"),
            database_url: None,
            stale_after_hours: 8 * 24,
            stale_after_hours_by_tag: BTreeMap::new(),
            http: HttpConfig::default(),
            smtp: SmtpConfig::default(),
            auth: AuthConfig::default(),
            images: ImagesConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_report_bytes: 16 << 20,
            secure_cookies: false,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:2525".into(),
            lmtp_listen: String::new(),
            hostname: "rear-server".into(),
            max_message_bytes: 32 << 20,
            tls_cert: String::new(),
            tls_key: String::new(),
            require_tls: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_hours: 12,
            proxy_user_header: String::new(),
            trusted_proxies: Vec::new(),
            mail_requires_token: false,
            ldap: None,
        }
    }
}

impl Config {
    /// Reads `path`; a missing file at the default path means "all defaults", a missing file that
    /// was asked for explicitly is an error.
    ///
    /// # Errors
    /// The file cannot be read or is not valid (the message names the file and the key).
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Self::default());
            }
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// Syntax errors, unknown keys, wrong types.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Directory of the image store: `images.dir`, or `<data_dir>/images`.
    pub fn images_dir(&self) -> PathBuf {
        if self.images.dir.as_os_str().is_empty() {
            self.data_dir.join("images")
        } else {
            self.images.dir.clone()
        }
    }

    /// The database URL, defaulting to SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("rear-server.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.smtp.listen, "127.0.0.1:2525");
        assert_eq!(
            c.database_url(),
            "sqlite:/var/lib/rear-server/rear-server.db"
        );
    }

    #[test]
    fn keys_are_read_and_typos_rejected() {
        let c = Config::parse(
            "data_dir = \"/srv/rs\"\n[auth]\ntrusted_proxies = [\"10.0.0.1\"]\n\
             proxy_user_header = \"X-Remote-User\"\n[smtp]\nlmtp_listen = \"127.0.0.1:2424\"\n",
        )
        .unwrap();
        assert_eq!(c.database_url(), "sqlite:/srv/rs/rear-server.db");
        assert_eq!(
            c.auth.trusted_proxies,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        let c = Config::parse(
            "[auth.ldap]\nurl = \"ldaps://dc1.corp.example\"\nbind_dn = \"{user}@corp.example\"\n",
        )
        .unwrap();
        let ldap = c.auth.ldap.unwrap();
        assert_eq!(ldap.bind_dn, "{user}@corp.example");
        assert!(ldap.admin_users.is_empty());
        assert!(
            Config::parse("[auth.ldap]\nurl = \"ldap://x\"\n").is_err(),
            "bind_dn is required"
        );
        let c = Config::parse("stale_after_hours = 48\n[stale_after_hours_by_tag]\nprod = 26\n")
            .unwrap();
        assert_eq!(c.stale_after_hours, 48);
        assert_eq!(c.stale_after_hours_by_tag.get("prod"), Some(&26));
        let c = Config::parse("[images]\nkeep_per_host = 5\n").unwrap();
        assert_eq!(c.images.keep_per_host, 5);
        assert_eq!(c.images_dir(), PathBuf::from("/var/lib/rear-server/images"));
        assert_eq!(Config::default().images.keep_per_host, 3);
        let err = Config::parse("[http]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }
}
