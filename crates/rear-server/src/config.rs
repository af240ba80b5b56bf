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

/// `[images]`: the content-addressed store of uploaded rescue images, in a directory (the
/// default) or in an S3-compatible bucket (`s3_url`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Directory of the store; empty (the default) means `<data_dir>/images`.
    pub dir: PathBuf,
    /// Images kept per host (newest uploads); 0 keeps all.
    pub keep_per_host: u32,
    /// Largest accepted image in bytes.
    pub max_image_bytes: u64,
    /// `s3://bucket` or `s3://bucket/prefix`: keep the images in this bucket instead of `dir`;
    /// empty (the default) keeps them on the filesystem.
    pub s3_url: String,
    /// Endpoint of an S3-compatible server (MinIO, Ceph RGW, ...), e.g.
    /// `https://minio.example:9000`; empty means AWS S3 (or `AWS_ENDPOINT_URL`).
    pub s3_endpoint: String,
    /// Region; empty means `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    pub s3_region: String,
    /// Allow a plain `http://` endpoint (tests, trusted internal networks).
    pub s3_allow_http: bool,
    /// Address the bucket as `https://bucket.endpoint/` instead of `https://endpoint/bucket/`.
    pub s3_virtual_hosted_style: bool,
    /// Access key id; with it, `s3_secret_access_key_file` is required. Empty means the
    /// standard AWS environment variables (or the instance's role).
    pub s3_access_key_id: String,
    /// File holding the secret access key (its first line; keep it mode 0600).
    pub s3_secret_access_key_file: PathBuf,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            keep_per_host: 3,
            max_image_bytes: 16 << 30,
            s3_url: String::new(),
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_allow_http: false,
            s3_virtual_hosted_style: false,
            s3_access_key_id: String::new(),
            s3_secret_access_key_file: PathBuf::new(),
        }
    }
}

/// The S3 settings of `[images]`, checked ([`ImagesConfig::s3`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint URL; `None` for AWS (or the environment).
    pub endpoint: Option<String>,
    /// Region; `None` for the environment's or the default.
    pub region: Option<String>,
    /// Plain HTTP allowed.
    pub allow_http: bool,
    /// Virtual-hosted-style addressing.
    pub virtual_hosted_style: bool,
    /// Where the credentials come from.
    pub credentials: S3Credentials,
}

/// Where the S3 credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Credentials {
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), else the instance
    /// metadata service.
    Environment,
    /// The configured key id and the secret read from a file.
    KeyFile {
        /// `s3_access_key_id`.
        access_key_id: String,
        /// `s3_secret_access_key_file`.
        secret_access_key_file: PathBuf,
    },
}

/// True for an S3 bucket name: 3-63 of lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit.
fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl ImagesConfig {
    /// The S3 settings when `s3_url` is set, `None` for the filesystem store.
    ///
    /// # Errors
    /// A message naming the `[images]` key that is wrong and how to fix it: a malformed
    /// `s3_url`, S3 keys without `s3_url`, `dir` together with `s3_url`, a key id without its
    /// secret file (or the reverse), an endpoint that is not a URL, or `http://` without
    /// `s3_allow_http`.
    pub fn s3(&self) -> Result<Option<S3Settings>, String> {
        if self.s3_url.is_empty() {
            let stray = [
                ("s3_endpoint", !self.s3_endpoint.is_empty()),
                ("s3_region", !self.s3_region.is_empty()),
                ("s3_access_key_id", !self.s3_access_key_id.is_empty()),
                (
                    "s3_secret_access_key_file",
                    !self.s3_secret_access_key_file.as_os_str().is_empty(),
                ),
            ];
            if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "[images] {key} is set but s3_url is empty: set s3_url = \"s3://BUCKET/PREFIX\" \
                     to store images in S3, or remove {key}"
                ));
            }
            return Ok(None);
        }
        let Some(rest) = self.s3_url.strip_prefix("s3://") else {
            return Err(format!(
                "[images] s3_url = {:?} must look like s3://BUCKET or s3://BUCKET/PREFIX",
                self.s3_url
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_bucket_name(bucket) {
            return Err(format!(
                "[images] s3_url: {bucket:?} is not a bucket name (3-63 of a-z, 0-9, '.', '-')"
            ));
        }
        let prefix = prefix.trim_matches('/');
        let bad_segment = |p: &str| p.is_empty() || p == "." || p == "..";
        if (!prefix.is_empty() && prefix.split('/').any(bad_segment))
            || prefix.bytes().any(|b| b.is_ascii_control() || b == b'\\')
        {
            return Err(format!(
                "[images] s3_url: the prefix {prefix:?} must be path segments without empty, \
                 '.' or '..' parts"
            ));
        }
        if !self.dir.as_os_str().is_empty() {
            return Err(
                "[images] dir and s3_url are both set: images go either to a directory or to S3"
                    .into(),
            );
        }
        let endpoint = if self.s3_endpoint.is_empty() {
            None
        } else {
            let e = self.s3_endpoint.trim_end_matches('/');
            if e.starts_with("http://") {
                if !self.s3_allow_http {
                    return Err(format!(
                        "[images] s3_endpoint = {e:?} is plain HTTP: use https://, or set \
                         s3_allow_http = true for a trusted network"
                    ));
                }
            } else if !e.starts_with("https://") {
                return Err(format!(
                    "[images] s3_endpoint = {e:?} must be an https:// (or http://) URL"
                ));
            }
            Some(e.to_string())
        };
        let credentials = match (
            self.s3_access_key_id.is_empty(),
            self.s3_secret_access_key_file.as_os_str().is_empty(),
        ) {
            (true, true) => S3Credentials::Environment,
            (false, false) => S3Credentials::KeyFile {
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key_file: self.s3_secret_access_key_file.clone(),
            },
            (false, true) => {
                return Err(
                    "[images] s3_access_key_id needs s3_secret_access_key_file (a file holding \
                     the secret key; the secret itself never goes in server.toml)"
                        .into(),
                );
            }
            (true, false) => {
                return Err("[images] s3_secret_access_key_file needs s3_access_key_id".into());
            }
        };
        Ok(Some(S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint,
            region: (!self.s3_region.is_empty()).then(|| self.s3_region.clone()),
            allow_http: self.s3_allow_http,
            virtual_hosted_style: self.s3_virtual_hosted_style,
            credentials,
        }))
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
        let config =
            Self::parse(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?;
        config
            .images
            .s3()
            .map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?;
        Ok(config)
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

    fn s3(toml: &str) -> Result<Option<S3Settings>, String> {
        Config::parse(&format!("[images]\n{toml}"))
            .map_err(|e| e.to_string())?
            .images
            .s3()
    }

    #[test]
    fn s3_settings_are_parsed() {
        assert_eq!(s3("").unwrap(), None, "no s3_url: the filesystem store");
        let aws = s3("s3_url = \"s3://rear-images\"\n").unwrap().unwrap();
        assert_eq!(aws.bucket, "rear-images");
        assert_eq!(aws.prefix, "");
        assert_eq!(aws.endpoint, None);
        assert_eq!(aws.credentials, S3Credentials::Environment);
        let minio = s3("s3_url = \"s3://dr-images/rear/images/\"\n\
             s3_endpoint = \"http://127.0.0.1:9000/\"\ns3_allow_http = true\n\
             s3_region = \"eu-central-1\"\ns3_access_key_id = \"rear\"\n\
             s3_secret_access_key_file = \"/etc/rear-server/s3.secret\"\n")
        .unwrap()
        .unwrap();
        assert_eq!(
            minio,
            S3Settings {
                bucket: "dr-images".into(),
                prefix: "rear/images".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-central-1".into()),
                allow_http: true,
                virtual_hosted_style: false,
                credentials: S3Credentials::KeyFile {
                    access_key_id: "rear".into(),
                    secret_access_key_file: PathBuf::from("/etc/rear-server/s3.secret"),
                },
            }
        );
    }

    #[test]
    fn s3_settings_are_validated() {
        for (toml, expect) in [
            ("s3_url = \"https://bucket\"\n", "s3://BUCKET"),
            ("s3_url = \"s3://B\"\n", "not a bucket name"),
            ("s3_url = \"s3://ok-bucket/a//b\"\n", "prefix"),
            ("s3_url = \"s3://ok-bucket/../x\"\n", "prefix"),
            ("s3_endpoint = \"https://minio:9000\"\n", "s3_url is empty"),
            (
                "s3_url = \"s3://ok-bucket\"\ndir = \"/srv/images\"\n",
                "both set",
            ),
            (
                "s3_url = \"s3://ok-bucket\"\ns3_endpoint = \"http://minio:9000\"\n",
                "s3_allow_http",
            ),
            (
                "s3_url = \"s3://ok-bucket\"\ns3_endpoint = \"minio:9000\"\n",
                "https://",
            ),
            (
                "s3_url = \"s3://ok-bucket\"\ns3_access_key_id = \"rear\"\n",
                "s3_secret_access_key_file",
            ),
            (
                "s3_url = \"s3://ok-bucket\"\ns3_secret_access_key_file = \"/k\"\n",
                "needs s3_access_key_id",
            ),
            ("s3_secret_access_key = \"x\"\n", "unknown field"),
        ] {
            let err = s3(toml).unwrap_err();
            assert!(err.contains(expect), "{toml}: {err}");
        }
    }

    #[test]
    fn invalid_s3_settings_fail_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "[images]\ns3_url = \"s3://x\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("server.toml") && err.contains("bucket name"),
            "{err}"
        );
    }
}
