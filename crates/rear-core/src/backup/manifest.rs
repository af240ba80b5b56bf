//! The manifest written beside each archive: one JSON object per line.
//!
//! The first line is a [`ManifestHead`] (format, kind, base backup, compression, encryption). Then
//! one [`ManifestEntry`] per path present on the source when the backup ran: every path, also
//! those an incremental backup did not store (`a: false`), so that restore can compute deletions
//! and the next incremental can find changes. The last line is a [`ManifestTail`] with the counts
//! and the SHA-256 of the archive file as stored on the target.
//!
//! Paths are stored as JSON strings; bytes that are not UTF-8 and the backslash are escaped as
//! `\xNN` so any Linux file name round-trips.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The format name in every manifest head.
pub const FORMAT: &str = "rear-rs-backup-manifest";

/// The first line of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestHead {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version, currently 1.
    pub version: u32,
    /// The backup ID (its file name stem).
    pub id: String,
    /// `full`, `incremental` or `differential`.
    pub kind: String,
    /// The backup this one is relative to (none for a full backup).
    pub base: Option<String>,
    /// The archive's file name.
    pub archive: String,
    /// `zstd`, `gzip` or `none`.
    pub compression: String,
    /// `age` when the archive (and this manifest) are encrypted.
    pub encryption: Option<String>,
    /// The host that was backed up.
    pub hostname: String,
    /// When the backup started (RFC 3339, UTC).
    pub created: String,
    /// How file checksums are computed.
    pub checksum: String,
}

/// One path of the source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The path relative to the source root (escaped, see module docs).
    pub p: String,
    /// Type code: f d l h c b p.
    pub t: String,
    /// Size in bytes (files).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub s: u64,
    /// BLAKE3 of the contents (files; for sparse files over the map and data segments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h: Option<String>,
    /// mtime in nanoseconds.
    pub m: i64,
    /// ctime in nanoseconds.
    pub c: i64,
    /// Inode number.
    pub i: u64,
    /// Whether the archive stores this path (false: unchanged since the base backup).
    pub a: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl ManifestEntry {
    /// The raw path bytes.
    pub fn path_bytes(&self) -> Vec<u8> {
        unescape_path(&self.p)
    }

    /// Whether `other` (the same path in a newer scan) is unchanged.
    pub fn same_stat(&self, m: i64, c: i64, i: u64, s: u64, t: &str) -> bool {
        self.m == m && self.c == c && self.i == i && self.s == s && self.t == t
    }
}

/// The last line of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestTail {
    /// Always true; marks the tail.
    pub end: bool,
    /// Number of entries.
    pub entries: u64,
    /// Entries stored in the archive.
    pub archived: u64,
    /// File content bytes stored.
    pub bytes: u64,
    /// Size of the archive file on the target.
    pub archive_size: u64,
    /// SHA-256 of the archive file on the target (hex).
    pub archive_sha256: String,
}

/// A whole manifest in memory.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The head.
    pub head: ManifestHead,
    /// Entries, in archive order.
    pub entries: Vec<ManifestEntry>,
    /// The tail.
    pub tail: ManifestTail,
}

impl Manifest {
    /// Entries by raw path.
    pub fn by_path(&self) -> HashMap<Vec<u8>, &ManifestEntry> {
        self.entries.iter().map(|e| (e.path_bytes(), e)).collect()
    }
}

/// Escapes a path for the manifest.
pub fn escape_path(p: &[u8]) -> String {
    let mut out = String::with_capacity(p.len());
    for chunk in p.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\x5c");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Reverses [`escape_path`].
pub fn unescape_path(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1] == b'x'
            && let Ok(hex) = std::str::from_utf8(&b[i + 2..i + 4])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Writes a manifest line by line.
pub struct ManifestWriter<W: Write> {
    out: W,
}

impl<W: Write> ManifestWriter<W> {
    /// Starts a manifest with its head.
    ///
    /// # Errors
    /// On write errors.
    pub fn new(mut out: W, head: &ManifestHead) -> std::io::Result<Self> {
        serde_json::to_writer(&mut out, head)?;
        out.write_all(b"\n")?;
        Ok(ManifestWriter { out })
    }

    /// Adds an entry.
    ///
    /// # Errors
    /// On write errors.
    pub fn entry(&mut self, e: &ManifestEntry) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, e)?;
        self.out.write_all(b"\n")
    }

    /// Writes the tail and gives back the writer.
    ///
    /// # Errors
    /// On write errors.
    pub fn finish(mut self, tail: &ManifestTail) -> std::io::Result<W> {
        serde_json::to_writer(&mut self.out, tail)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a whole manifest. `what` names it in errors.
///
/// # Errors
/// When it is not a complete manifest of a known version.
pub fn read_manifest(input: impl BufRead, what: &str) -> Result<Manifest> {
    let invalid = |m: String| Error::invalid(what.to_string(), m);
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| invalid("empty manifest".into()))?
        .map_err(|e| invalid(format!("reading: {e}")))?;
    let head: ManifestHead =
        serde_json::from_str(&first).map_err(|e| invalid(format!("bad head line: {e}")))?;
    if head.format != FORMAT || head.version != 1 {
        return Err(invalid(format!(
            "unknown format {} version {}",
            head.format, head.version
        )));
    }
    let mut entries = Vec::new();
    let mut tail = None;
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| invalid(format!("reading: {e}")))?;
        if tail.is_some() {
            return Err(invalid(format!("line {} after the tail", n + 2)));
        }
        if line.starts_with("{\"end\"") {
            tail = Some(
                serde_json::from_str::<ManifestTail>(&line)
                    .map_err(|e| invalid(format!("bad tail: {e}")))?,
            );
        } else {
            entries.push(
                serde_json::from_str::<ManifestEntry>(&line)
                    .map_err(|e| invalid(format!("line {}: {e}", n + 2)))?,
            );
        }
    }
    let tail = tail.ok_or_else(|| invalid("manifest is truncated (no tail line)".into()))?;
    if tail.entries != entries.len() as u64 {
        return Err(invalid(format!(
            "tail counts {} entries but there are {}",
            tail.entries,
            entries.len()
        )));
    }
    Ok(Manifest {
        head,
        entries,
        tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_odd_bytes_round_trip() {
        for p in [
            &b"plain/path"[..],
            b"back\\slash",
            b"bad\xffutf8\x00",
            "ünï".as_bytes(),
            b"\\x41",
        ] {
            assert_eq!(unescape_path(&escape_path(p)), p, "{}", escape_path(p));
        }
    }
}
