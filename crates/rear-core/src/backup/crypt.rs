//! Encryption of archives and manifests with age (<https://age-encryption.org>).
//!
//! age is a modern authenticated format (ChaCha20-Poly1305 in 64 KiB chunks) with a standard
//! command-line tool (`age`, Debian package `age`). Two kinds of keys work:
//! - a passphrase (`BACKUP_PROG_CRYPT_KEY`, or the first line of a key file): scrypt recipient;
//!   decrypt by hand with `age -d -o backup.tar.zst backup.tar.zst.age` (asks for the passphrase);
//! - an age identity (`AGE-SECRET-KEY-1...`) in the key or key file: X25519 recipient; decrypt by
//!   hand with `age -d -i keyfile -o backup.tar.zst backup.tar.zst.age`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use age::secrecy::SecretString;

use crate::{Error, Result};

/// How a backup is encrypted.
#[derive(Clone)]
pub enum Encryption {
    /// A passphrase or an `AGE-SECRET-KEY-1...` identity given directly.
    Key(String),
    /// A file holding a passphrase (first line) or age identities.
    KeyFile(PathBuf),
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encryption::Key(_) => f.write_str("Key(<secret>)"),
            Encryption::KeyFile(p) => f.debug_tuple("KeyFile").field(p).finish(),
        }
    }
}

enum Secret {
    Passphrase(String),
    Identities(Vec<age::x25519::Identity>),
}

impl Encryption {
    fn secret(&self) -> Result<Secret> {
        let text = match self {
            Encryption::Key(k) => k.clone(),
            Encryption::KeyFile(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::io("reading encryption key file", p, e))?,
        };
        let ids: Vec<age::x25519::Identity> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
            .filter_map(|l| age::x25519::Identity::from_str(l).ok())
            .collect();
        if !ids.is_empty() {
            return Ok(Secret::Identities(ids));
        }
        let pass = match self {
            Encryption::Key(k) => k.clone(),
            Encryption::KeyFile(_) => text.lines().next().unwrap_or("").to_string(),
        };
        if pass.is_empty() {
            return Err(Error::invalid(
                "BACKUP_PROG_CRYPT_KEY",
                "the encryption key is empty: set BACKUP_PROG_CRYPT_KEY or a key file",
            ));
        }
        Ok(Secret::Passphrase(pass))
    }

    /// Wraps `out` so that what is written is encrypted. Call `finish()` on the result.
    ///
    /// # Errors
    /// A bad key, or a write error on the header.
    pub fn encrypt<W: Write>(&self, out: W) -> Result<age::stream::StreamWriter<W>> {
        let enc = match self.secret()? {
            Secret::Passphrase(p) => age::Encryptor::with_user_passphrase(SecretString::from(p)),
            Secret::Identities(ids) => {
                let recips: Vec<age::x25519::Recipient> =
                    ids.iter().map(age::x25519::Identity::to_public).collect();
                age::Encryptor::with_recipients(recips.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| Error::invalid("encryption key", e.to_string()))?
            }
        };
        enc.wrap_output(out)
            .map_err(|e| Error::Other(anyhow::anyhow!("starting encryption: {e}")))
    }

    /// Wraps `input` so that reading from it decrypts (and authenticates) it.
    ///
    /// # Errors
    /// A wrong key, or input that is not age-encrypted.
    pub fn decrypt<R: Read>(&self, input: R, what: &str) -> Result<age::stream::StreamReader<R>> {
        let dec = age::Decryptor::new(input)
            .map_err(|e| Error::invalid(what.to_string(), format!("not an age file: {e}")))?;
        let secret = self.secret()?;
        let res = match &secret {
            Secret::Passphrase(p) => {
                let id = age::scrypt::Identity::new(SecretString::from(p.clone()));
                dec.decrypt(std::iter::once(&id as &dyn age::Identity))
            }
            Secret::Identities(ids) => dec.decrypt(ids.iter().map(|i| i as &dyn age::Identity)),
        };
        res.map_err(|e| {
            Error::invalid(
                what.to_string(),
                format!("cannot decrypt ({e}): check BACKUP_PROG_CRYPT_KEY or the key file"),
            )
        })
    }
}
