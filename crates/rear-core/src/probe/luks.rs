//! Parser for `cryptsetup luksDump DEVICE` (text), for LUKS1 and LUKS2 headers.
//!
//! LUKS1 prints `Cipher name`/`Cipher mode`/`Hash spec`/`Payload offset` (in 512-byte sectors)
//! and `MK bits`; LUKS2 prints sections (`Data segments`, `Keyslots`, `Digests`) whose values
//! rear takes from the first segment, the first key slot and the first digest.

use serde::Serialize;

/// What rear keeps from a LUKS header.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LuksInfo {
    /// 1 or 2.
    pub version: u32,
    /// LUKS UUID.
    pub uuid: Option<String>,
    /// LUKS2 label.
    pub label: Option<String>,
    /// LUKS2 subsystem.
    pub subsystem: Option<String>,
    /// Cipher with mode (`aes-xts-plain64`).
    pub cipher: Option<String>,
    /// Key size in bits.
    pub key_size: Option<u64>,
    /// Hash.
    pub hash: Option<String>,
    /// PBKDF of the first key slot.
    pub pbkdf: Option<String>,
    /// Encryption sector size in bytes (LUKS2).
    pub sector_size: Option<u64>,
    /// Offset of the data in bytes.
    pub data_offset: Option<u64>,
}

fn none_if_placeholder(v: &str) -> Option<String> {
    (!v.is_empty() && !v.starts_with('(')).then(|| v.to_string())
}

/// Parses `cryptsetup luksDump` text output.
pub fn parse_luks_dump(text: &str) -> LuksInfo {
    let mut l = LuksInfo::default();
    let mut section = "";
    let mut cipher_name = None;
    let mut cipher_mode = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) && line.trim_end().ends_with(':') {
            section = match line.trim_end() {
                "Data segments:" => "segments",
                "Keyslots:" => "keyslots",
                "Digests:" => "digests",
                "Tokens:" => "tokens",
                _ => "",
            };
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let num = || {
            v.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        };
        match (section, k) {
            ("", "Version") => l.version = num().map_or(0, |n| u32::try_from(n).unwrap_or(0)),
            ("", "UUID") => l.uuid = Some(v.to_string()),
            ("", "Label") => l.label = none_if_placeholder(v),
            ("", "Subsystem") => l.subsystem = none_if_placeholder(v),
            ("", "Cipher name") => cipher_name = Some(v.to_string()),
            ("", "Cipher mode") => cipher_mode = Some(v.to_string()),
            ("", "Hash spec") => l.hash = Some(v.to_string()),
            ("", "MK bits") => l.key_size = num(),
            ("", "Payload offset") => l.data_offset = num().map(|s| s * 512),
            ("segments", "cipher") if l.cipher.is_none() => l.cipher = Some(v.to_string()),
            ("segments", "sector") if l.sector_size.is_none() => l.sector_size = num(),
            ("segments", "offset") if l.data_offset.is_none() => l.data_offset = num(),
            ("keyslots", "Key") if l.key_size.is_none() => l.key_size = num(),
            ("keyslots", "PBKDF") if l.pbkdf.is_none() => l.pbkdf = Some(v.to_string()),
            ("digests", "Hash") if l.hash.is_none() => l.hash = Some(v.to_string()),
            _ => {}
        }
    }
    if l.version == 1 {
        if let (Some(n), Some(m)) = (cipher_name, cipher_mode) {
            l.cipher = Some(format!("{n}-{m}"));
        }
        // LUKS1 key slots always use PBKDF2
        l.pbkdf = Some("pbkdf2".to_string());
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real `cryptsetup luksDump` output (cryptsetup 2.6.1, Debian 12) of 32 MiB image files made
    // with `cryptsetup luksFormat --type luks2 --label mylabel` and `--type luks1`.
    const LUKS2: &str = include_str!("testdata/luksdump-luks2-file.txt");
    const LUKS1: &str = include_str!("testdata/luksdump-luks1-file.txt");

    #[test]
    fn parse_luks_dump_luks2_and_luks1() {
        let two = parse_luks_dump(LUKS2);
        let one = parse_luks_dump(LUKS1);
        assert_eq!(two.cipher.as_deref(), Some("aes-xts-plain64"));
        assert_eq!(two.key_size, Some(512));
        assert_eq!(one.cipher.as_deref(), Some("aes-xts-plain64"));
        assert_eq!(one.data_offset, Some(4096 * 512));
        insta::assert_json_snapshot!((two, one));
    }
}
