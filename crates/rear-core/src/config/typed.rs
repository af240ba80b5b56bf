//! Typed access to the variables rear uses, so that the rest of rear reads
//! `config.backup_url()` and never parses configuration strings itself.

use super::value::Config;
use crate::{Error, Result};

/// A URL as ReaR uses them (`nfs://host/path`, `file:///path`, `usb:///dev/disk/by-label/X`,
/// `cifs://host/share`, `sshfs://user@host/path`, `https://...`, `mailto:...`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RearUrl {
    /// The scheme, lowercase (`nfs`).
    pub scheme: String,
    /// The user, if given as `user@`.
    pub user: Option<String>,
    /// The host (with port), empty for `file:///...`.
    pub host: String,
    /// The path, starting with `/` (empty for `mailto:`).
    pub path: String,
    /// The text after `mailto:`.
    pub opaque: String,
}

impl RearUrl {
    /// Parses a URL the way ReaR's `url_scheme`, `url_host` and `url_path` split it.
    ///
    /// # Errors
    /// When there is no scheme.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("mailto:") {
            return Ok(RearUrl {
                scheme: "mailto".into(),
                user: None,
                host: String::new(),
                path: String::new(),
                opaque: rest.to_string(),
            });
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| Error::invalid(format!("URL '{s}'"), "expected SCHEME://HOST/PATH"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(Error::invalid(format!("URL '{s}'"), "bad scheme"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h.to_string()),
            None => (None, authority.to_string()),
        };
        Ok(RearUrl {
            scheme: scheme.to_ascii_lowercase(),
            user,
            host,
            path: path.to_string(),
            opaque: String::new(),
        })
    }

    /// The URL with any password (`user:password@`) replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        if self.scheme == "mailto" {
            return format!("mailto:{}", self.opaque);
        }
        let user = match &self.user {
            Some(u) => match u.split_once(':') {
                Some((name, _)) => format!("{name}:***@"),
                None => format!("{u}@"),
            },
            None => String::new(),
        };
        format!("{}://{user}{}{}", self.scheme, self.host, self.path)
    }
}

impl std::fmt::Display for RearUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Typed accessors. Each reads one variable (or its legacy alias) and validates it.
impl Config {
    fn url(&self, name: &str) -> Result<Option<RearUrl>> {
        let v = self.string(name);
        if v.trim().is_empty() {
            return Ok(None);
        }
        RearUrl::parse(&v)
            .map(Some)
            .map_err(|e| Error::invalid(name, format!("{e}")))
    }

    /// `BACKUP_URL` (or its old name `NETFS_URL`).
    ///
    /// # Errors
    /// When it is set but not a URL.
    pub fn backup_url(&self) -> Result<Option<RearUrl>> {
        match self.url("BACKUP_URL")? {
            Some(u) => Ok(Some(u)),
            None => self.url("NETFS_URL"),
        }
    }

    /// `OUTPUT_URL`, defaulting to `BACKUP_URL` as in ReaR; `null` means none.
    ///
    /// # Errors
    /// When it is set but not a URL.
    pub fn output_url(&self) -> Result<Option<RearUrl>> {
        // ReaR's OUTPUT_URL=null: keep the media in the local output directory only.
        if self.string("OUTPUT_URL").trim() == "null" {
            return Ok(None);
        }
        match self.url("OUTPUT_URL")? {
            Some(u) => Ok(Some(u)),
            None => self.backup_url(),
        }
    }

    /// `OUTPUT`, upper-cased (`ISO`).
    pub fn output(&self) -> String {
        self.string("OUTPUT").trim().to_ascii_uppercase()
    }

    /// `BACKUP`, upper-cased (`NETFS`).
    pub fn backup(&self) -> String {
        self.string("BACKUP").trim().to_ascii_uppercase()
    }

    /// `REAR_SERVER` as a URL (`https://...` or `mailto:...`).
    ///
    /// # Errors
    /// When it is set but neither https://, http:// nor mailto:.
    pub fn rear_server(&self) -> Result<Option<RearUrl>> {
        let url = self.url("REAR_SERVER")?;
        if let Some(u) = &url
            && !["https", "http", "mailto"].contains(&u.scheme.as_str())
        {
            return Err(Error::invalid(
                "REAR_SERVER",
                format!("'{u}' must be an https:// URL or a mailto: address"),
            ));
        }
        Ok(url)
    }

    /// `REAR_SERVER_SEND_RESULT`.
    pub fn rear_server_send_result(&self) -> bool {
        self.is_true("REAR_SERVER_SEND_RESULT")
    }

    /// `REAR_SERVER_TAGS`.
    pub fn rear_server_tags(&self) -> Vec<String> {
        self.list("REAR_SERVER_TAGS")
    }

    /// `MODULES_LOAD`.
    pub fn modules_load(&self) -> Vec<String> {
        self.list("MODULES_LOAD")
    }

    /// `VAR_DIR` (`/var/lib/rear`).
    pub fn var_dir(&self) -> std::path::PathBuf {
        non_empty_path(&self.string("VAR_DIR"), "/var/lib/rear")
    }

    /// `LOGFILE`.
    pub fn log_file(&self) -> std::path::PathBuf {
        non_empty_path(&self.string("LOGFILE"), "/var/log/rear/rear.log")
    }

    /// `TMPDIR`, where build directories are made.
    pub fn tmp_dir(&self) -> std::path::PathBuf {
        non_empty_path(&self.string("TMPDIR"), "/var/tmp")
    }

    /// The layout directory, `$VAR_DIR/layout`.
    pub fn layout_dir(&self) -> std::path::PathBuf {
        self.var_dir().join("layout")
    }

    /// The recovery facts directory, `$VAR_DIR/recovery`.
    pub fn recovery_dir(&self) -> std::path::PathBuf {
        self.var_dir().join("recovery")
    }
}

fn non_empty_path(s: &str, fallback: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(if s.trim().is_empty() {
        fallback
    } else {
        s.trim()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    #[test]
    fn urls_split_like_rear() {
        let u = RearUrl::parse("nfs://server/export/nfs/tftpboot").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.path.as_str()),
            ("nfs", "server", "/export/nfs/tftpboot")
        );
        let u = RearUrl::parse("file:///srv/backup").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("", "/srv/backup"));
        let u = RearUrl::parse("usb:///dev/disk/by-label/REAR-000").unwrap();
        assert_eq!(u.path, "/dev/disk/by-label/REAR-000");
        let u = RearUrl::parse("sshfs://bob:hunter2@host/path").unwrap();
        assert_eq!(u.user.as_deref(), Some("bob:hunter2"));
        assert_eq!(u.redacted(), "sshfs://bob:***@host/path");
        let m = RearUrl::parse("mailto:rear@example.com").unwrap();
        assert_eq!(m.scheme, "mailto");
        assert!(RearUrl::parse("/just/a/path").is_err());
    }

    #[test]
    fn netfs_url_is_an_alias() {
        let mut c = Config::new();
        c.set("NETFS_URL", Value::Scalar("nfs://h/p".into()));
        assert_eq!(c.backup_url().unwrap().unwrap().host, "h");
        assert_eq!(c.output_url().unwrap().unwrap().path, "/p");
        c.set("OUTPUT_URL", Value::Scalar("file:///iso".into()));
        assert_eq!(c.output_url().unwrap().unwrap().path, "/iso");
        c.set("OUTPUT_URL", Value::Scalar("null".into()));
        assert_eq!(c.output_url().unwrap(), None);
    }

    #[test]
    fn rear_server_must_be_https_or_mailto() {
        let mut c = Config::new();
        assert!(c.rear_server().unwrap().is_none());
        c.set("REAR_SERVER", Value::Scalar("nfs://x/y".into()));
        assert!(c.rear_server().is_err());
        c.set(
            "REAR_SERVER",
            Value::Scalar("https://dr.example.com".into()),
        );
        assert_eq!(c.rear_server().unwrap().unwrap().host, "dr.example.com");
    }
}
