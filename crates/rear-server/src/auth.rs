//! Authentication: local users (argon2) or an LDAP/AD directory ([`ldap`]), login sessions
//! (cookie + CSRF token), API tokens
//! (SHA-256 of a random secret), and a user header from configured reverse proxies.
//!
//! Every secret is stored only as a hash: passwords as argon2 PHC strings, session cookies and
//! API tokens (which are 256-bit random values, so a fast hash is enough) as hex SHA-256. The
//! extractors in [`extract`] are the only way handlers learn who is calling.

pub mod extract;
pub mod ldap;
pub mod password;

use sha2::{Digest, Sha256};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "rear_session";
/// Name of the cookie that carries the login form's CSRF token before a session exists.
pub const LOGIN_CSRF_COOKIE: &str = "rear_login_csrf";

/// A new random secret: 32 bytes from the OS, hex encoded.
///
/// # Panics
/// When the OS has no randomness to give, which leaves nothing safe to do.
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    hex(&buf)
}

/// Lower-case hex SHA-256 of a string.
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn cookie_lookup() {
        let h = "a=1; rear_session=abc; b=2";
        assert_eq!(cookie(h, "rear_session"), Some("abc"));
        assert_eq!(cookie(h, "rear"), None);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
