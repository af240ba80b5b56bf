//! sshd in the rescue system (ReaR's `SSH_ROOT_PASSWORD`, `SSH_FILES`).
//!
//! Contract: at build time [`install_sshd`] decides whether the rescue system gets an sshd (when
//! `SSH_ROOT_PASSWORD` is set, or root has `authorized_keys` on the host) and writes what it needs
//! into the stage: `/etc/ssh/sshd_config` ([`sshd_config`]), root's password hash in
//! `/etc/shadow` ([`shadow_line`]), root's `authorized_keys`, the privilege-separation user
//! `sshd`, and, only with `SSH_FILES=yes`, the host's own host keys. The `sshd` and `ssh-keygen`
//! programs themselves come with [`crate::rescue::tree::BASE_PROGS`] and the tool registry, with
//! their libraries resolved like every other program. At boot [`start_sshd`] (called by the init
//! after the network is up) creates the privilege-separation directory `/run/sshd`, generates the
//! missing host keys (ed25519 and ECDSA: fast even on an emulated CPU), starts `sshd` and returns
//! the key fingerprints for the console. The presence of [`SSHD_CONFIG`] is the switch: without
//! it the init starts no sshd.
//!
//! By default the host keys are not copied (ReaR's `SSH_FILES='avoid_sensitive_files'`): a rescue
//! image lying on a file share must not hold the host's private keys. The price is a new host key
//! on every boot of the rescue system.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::copy::Stage;
use crate::{Error, Result};

/// The sshd configuration written into the rescue system; the init starts sshd when it exists.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// Where sshd logs in the rescue system (there is no syslog).
pub const SSHD_LOG: &str = "/var/log/sshd.log";
/// The host key types generated at boot when the image has none.
pub const BOOT_KEY_TYPES: &[&str] = &["ed25519", "ecdsa"];

/// What the rescue system's sshd is set up with. `Debug` shows the password as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    /// `SSH_ROOT_PASSWORD`: a plain password (hashed with SHA-512 crypt at build time) or a crypt
    /// hash (`$6$...`, `$y$...`, `$1$...`), used as it is.
    pub root_password: Option<String>,
    /// root's `authorized_keys` on the host (`/root/.ssh/authorized_keys` when it exists).
    pub authorized_keys: Option<PathBuf>,
    /// Copy the host's `/etc/ssh/ssh_host_*_key` files (`SSH_FILES=yes`); otherwise the rescue
    /// system generates its own at boot.
    pub copy_host_keys: bool,
}

impl std::fmt::Debug for SshOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshOptions")
            .field("root_password", &self.root_password.as_ref().map(|_| "***"))
            .field("authorized_keys", &self.authorized_keys)
            .field("copy_host_keys", &self.copy_host_keys)
            .finish()
    }
}

impl SshOptions {
    /// The defaults on this host: no password, root's `authorized_keys` when present, host keys
    /// generated at boot.
    pub fn from_host() -> Self {
        let keys = Path::new("/root/.ssh/authorized_keys");
        SshOptions {
            root_password: None,
            authorized_keys: keys.is_file().then(|| keys.to_path_buf()),
            copy_host_keys: false,
        }
    }

    /// Whether the rescue system gets an sshd: a root password or authorized keys.
    pub fn enabled(&self) -> bool {
        self.root_password.as_deref().is_some_and(|p| !p.is_empty())
            || self.authorized_keys.is_some()
    }

    /// Reads `SSH_ROOT_PASSWORD` and `SSH_FILES` (`yes`/`true`/`y`/`1` copies the host keys;
    /// `avoid_sensitive_files`, `no` and unset do not).
    pub fn apply_config(&mut self, config: &crate::config::Config) {
        if let Some(p) = config
            .get_string("SSH_ROOT_PASSWORD")
            .filter(|p| !p.is_empty())
        {
            self.root_password = Some(p);
        }
        if config.get("SSH_FILES").is_some() {
            self.copy_host_keys = config.is_true("SSH_FILES");
        }
    }
}

/// Whether `value` already is a crypt(3) hash (`$id$...`, as ReaR accepts an md5 hash from
/// `openssl passwd -1`) rather than a plain password.
pub fn is_crypt_hash(value: &str) -> bool {
    let mut parts = value.split('$');
    parts.next() == Some("")
        && parts
            .next()
            .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        && value.matches('$').count() >= 3
}

/// The crypt(3) alphabet used for salts.
const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// SHA-512 crypt (`$6$SALT$HASH`, 5000 rounds, glibc's default) of `password` with `salt`.
pub fn sha512_crypt(password: &str, salt: &str) -> Result<String> {
    let params = sha_crypt::Sha512Params::default();
    let hash = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        .map_err(|e| Error::invalid("SSH_ROOT_PASSWORD", format!("hashing failed: {e:?}")))?;
    Ok(format!("$6${salt}${hash}"))
}

/// A 16-character random salt from `/dev/urandom`.
fn random_salt() -> Result<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io("reading", "/dev/urandom", e))?;
    Ok(b.iter()
        .map(|x| CRYPT_ALPHABET[(*x as usize) % CRYPT_ALPHABET.len()] as char)
        .collect())
}

/// root's `/etc/shadow` line: the hash of `SSH_ROOT_PASSWORD`, or an empty password (the console
/// needs none, and sshd refuses empty passwords) when it is unset.
pub fn shadow_line(root_password: Option<&str>) -> Result<String> {
    let hash = match root_password.filter(|p| !p.is_empty()) {
        None => String::new(),
        Some(p) if is_crypt_hash(p) => p.to_string(),
        Some(p) => sha512_crypt(p, &random_salt()?)?,
    };
    // An empty date of the last change disables password aging (0 would mean "must be changed",
    // and sshd refuses a login with an expired password without a terminal).
    Ok(format!("root:{hash}:::::::\n"))
}

/// The sshd configuration of the rescue system: root may log in with the password when one is
/// set (else only with a key), no PAM (the rescue system has no PAM stack), logs to
/// [`SSHD_LOG`], host keys in `/etc/ssh`.
pub fn sshd_config(opts: &SshOptions) -> String {
    let password = opts.root_password.as_deref().is_some_and(|p| !p.is_empty());
    let mut s = String::from(
        "# sshd of the rear rescue system (written by rear mkrescue).\n\
         # Host keys missing here are generated at boot (ed25519, ecdsa).\n",
    );
    for t in ["ed25519", "ecdsa", "rsa"] {
        s.push_str(&format!("HostKey /etc/ssh/ssh_host_{t}_key\n"));
    }
    s.push_str(&format!(
        "PermitRootLogin {}\n\
         PasswordAuthentication {}\n\
         PermitEmptyPasswords no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         UsePAM no\n\
         UseDNS no\n\
         PrintMotd yes\n\
         PidFile /run/sshd.pid\n\
         Subsystem sftp internal-sftp\n",
        if password { "yes" } else { "prohibit-password" },
        if password { "yes" } else { "no" },
    ));
    s
}

/// The `sshd` user line for `/etc/passwd` when the host has none (sshd refuses to start without
/// its privilege-separation user).
pub const SSHD_PASSWD_LINE: &str = "sshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n";

/// Writes the sshd setup into the stage (see the module documentation). Returns `false` (and
/// writes nothing) when sshd is not wanted or the host has no `sshd`.
pub fn install_sshd(opts: &SshOptions, stage: &mut Stage) -> Result<bool> {
    if !opts.enabled() {
        return Ok(false);
    }
    if tools::SSHD.resolve().is_none() {
        tracing::warn!(
            "SSH_ROOT_PASSWORD or authorized keys are set, but this system has no sshd \
             (package openssh-server): the rescue system gets none"
        );
        return Ok(false);
    }
    stage.mkdir(Path::new("/etc/ssh"))?;
    stage.write(Path::new(SSHD_CONFIG), sshd_config(opts).as_bytes(), 0o644)?;
    stage.write(
        Path::new("/etc/shadow"),
        shadow_line(opts.root_password.as_deref())?.as_bytes(),
        0o600,
    )?;
    let passwd_path = stage.dest(Path::new("/etc/passwd"));
    let mut passwd = std::fs::read_to_string(&passwd_path).unwrap_or_default();
    if !passwd.lines().any(|l| l.starts_with("sshd:")) {
        passwd.push_str(SSHD_PASSWD_LINE);
        stage.write(Path::new("/etc/passwd"), passwd.as_bytes(), 0o644)?;
    }
    if let Some(keys) = &opts.authorized_keys {
        let data = std::fs::read(keys).map_err(|e| Error::io("reading", keys, e))?;
        let dir = stage.mkdir(Path::new("/root/.ssh"))?;
        set_mode(&dir, 0o700)?;
        stage.write(Path::new("/root/.ssh/authorized_keys"), &data, 0o600)?;
    }
    if opts.copy_host_keys {
        let rd = std::fs::read_dir("/etc/ssh").map_err(|e| Error::io("reading", "/etc/ssh", e))?;
        let mut keys: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("ssh_host_") && n.contains("_key"))
            })
            .collect();
        keys.sort();
        for k in keys {
            stage.copy_path(&k)?;
        }
    }
    Ok(true)
}

fn set_mode(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("setting permissions of", p, e))
}

/// Starts sshd in the rescue system when [`SSHD_CONFIG`] exists: creates `/run/sshd`, generates
/// the missing host keys of [`BOOT_KEY_TYPES`], starts `sshd` (it detaches itself) and returns
/// one line per host key fingerprint. `Ok(None)`: sshd is not configured.
pub fn start_sshd(runner: &dyn Runner) -> Result<Option<Vec<String>>> {
    if !Path::new(SSHD_CONFIG).is_file() {
        return Ok(None);
    }
    std::fs::create_dir_all("/run/sshd").map_err(|e| Error::io("creating", "/run/sshd", e))?;
    set_mode(Path::new("/run/sshd"), 0o755)?;
    for t in BOOT_KEY_TYPES {
        let key = format!("/etc/ssh/ssh_host_{t}_key");
        if Path::new(&key).exists() {
            continue;
        }
        Cmd::mutate(tools::SSH_KEYGEN)
            .args(["-q", "-t", t, "-N", "", "-C", "rear-rescue", "-f", &key])
            .describe(format!("generating the {t} host key of the rescue system"))
            .timeout(Duration::from_secs(120))
            .run(runner)?;
    }
    Cmd::mutate(tools::SSHD)
        .args(["-f", SSHD_CONFIG, "-E", SSHD_LOG])
        .describe("starting sshd in the rescue system")
        .timeout(Duration::from_secs(60))
        .run(runner)?;
    let mut prints = Vec::new();
    for t in ["ed25519", "ecdsa", "rsa"] {
        let pubkey = format!("/etc/ssh/ssh_host_{t}_key.pub");
        if !Path::new(&pubkey).exists() {
            continue;
        }
        let out = Cmd::probe(tools::SSH_KEYGEN)
            .args(["-l", "-f", &pubkey])
            .describe("reading a host key fingerprint")
            .output_string(runner)?;
        prints.push(out.trim().to_string());
    }
    Ok(Some(prints))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_hashes_are_recognised() {
        assert!(is_crypt_hash("$6$abcdefgh$K1dDq1"));
        assert!(is_crypt_hash("$1$salt$hash"));
        assert!(is_crypt_hash("$y$j9T$salt$hash"));
        assert!(!is_crypt_hash("secret"));
        assert!(!is_crypt_hash("$ecret$"));
        assert!(!is_crypt_hash("pa$$word$"));
    }

    #[test]
    fn sha512_crypt_matches_the_reference_vector() {
        // The first test vector of Drepper's "Unix crypt using SHA-256 and SHA-512" specification.
        assert_eq!(
            sha512_crypt("Hello world!", "saltstring").unwrap(),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
    }

    #[test]
    fn shadow_line_hashes_plain_passwords_and_keeps_hashes() {
        assert_eq!(shadow_line(None).unwrap(), "root::::::::\n");
        let h = "$1$abc$0123456789abcdef012345";
        assert_eq!(shadow_line(Some(h)).unwrap(), format!("root:{h}:::::::\n"));
        let l = shadow_line(Some("rescue")).unwrap();
        let hash = l.split(':').nth(1).unwrap();
        assert!(hash.starts_with("$6$") && hash.len() > 90, "{l}");
        let salt = hash.split('$').nth(2).unwrap();
        assert_eq!(salt.len(), 16);
        assert_eq!(sha512_crypt("rescue", salt).unwrap(), hash);
        assert!(!l.contains("rescue:"));
    }

    #[test]
    fn sshd_config_follows_the_password_setting() {
        let mut o = SshOptions {
            root_password: Some("x".into()),
            ..SshOptions::default()
        };
        let c = sshd_config(&o);
        assert!(c.contains("PermitRootLogin yes\nPasswordAuthentication yes\n"));
        assert!(c.contains("UsePAM no\n"));
        o.root_password = None;
        o.authorized_keys = Some("/root/.ssh/authorized_keys".into());
        let c = sshd_config(&o);
        assert!(c.contains("PermitRootLogin prohibit-password\nPasswordAuthentication no\n"));
        assert!(o.enabled());
        assert!(!SshOptions::default().enabled());
        let shown = format!(
            "{:?}",
            SshOptions {
                root_password: Some("hunter2".into()),
                ..SshOptions::default()
            }
        );
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
    }
}
