//! Parsers for `btrfs subvolume list -a -p -u -q MOUNTPOINT` and
//! `btrfs subvolume get-default MOUNTPOINT`.
//!
//! With `-a`, paths of subvolumes that are not directly below the mounted one start with
//! `<FS_TREE>/`; that prefix is removed so every path is relative to the top level. A subvolume
//! with a parent UUID (`-q`) is a snapshot.

use serde::Serialize;

/// One subvolume.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SubvolEntry {
    /// Subvolume ID.
    pub id: u64,
    /// ID of the subvolume it sits in (top level).
    pub top_level: Option<u64>,
    /// Parent UUID (snapshots only).
    pub parent_uuid: Option<String>,
    /// Its UUID.
    pub uuid: Option<String>,
    /// Path relative to the top level.
    pub path: String,
}

/// Parses `btrfs subvolume list` output (any combination of `-a -p -u -q`).
pub fn parse_subvolume_list(text: &str) -> Vec<SubvolEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((head, path)) = line.split_once(" path ") else {
            continue;
        };
        let words: Vec<&str> = head.split_whitespace().collect();
        let after = |key: &[&str]| {
            words
                .windows(key.len() + 1)
                .find(|w| &w[..key.len()] == key)
                .map(|w| w[key.len()].to_string())
        };
        let Some(id) = after(&["ID"]).and_then(|v| v.parse().ok()) else {
            continue;
        };
        let path = path.trim();
        out.push(SubvolEntry {
            id,
            top_level: after(&["top", "level"]).and_then(|v| v.parse().ok()),
            parent_uuid: after(&["parent_uuid"]).filter(|v| v != "-"),
            uuid: after(&["uuid"]).filter(|v| v != "-"),
            path: path.strip_prefix("<FS_TREE>/").unwrap_or(path).to_string(),
        });
    }
    out
}

/// Parses `btrfs subvolume get-default`: `ID 5 (FS_TREE)` or `ID 256 gen 9 top level 5 path @`.
pub fn parse_get_default(text: &str) -> Option<u64> {
    text.split_whitespace()
        .skip_while(|w| *w != "ID")
        .nth(1)?
        .parse()
        .ok()
}

/// The data and metadata profiles from `btrfs filesystem usage -b MOUNTPOINT`
/// (`Data,single: Size:...`, `Metadata,DUP: Size:...`), lower case as mkfs.btrfs takes them.
pub fn parse_usage_profiles(text: &str) -> (Option<String>, Option<String>) {
    let profile = |kind: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(kind)?.strip_prefix(',')?;
            Some(rest.split(':').next()?.trim().to_lowercase())
        })
    };
    (profile("Data"), profile("Metadata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_btrfs_subvolume_list_host_loop() {
        let l = parse_subvolume_list(include_str!(
            "testdata/host-loop/btrfs-subvolume-list-loop0p5.txt"
        ));
        assert_eq!(l[2].path, "@home/nested");
        insta::assert_json_snapshot!(l);
        assert_eq!(
            parse_get_default(include_str!(
                "testdata/host-loop/btrfs-get-default-loop0p5.txt"
            )),
            Some(5)
        );
        assert_eq!(
            parse_get_default("ID 256 gen 9 top level 5 path @\n"),
            Some(256)
        );
    }

    #[test]
    fn parse_btrfs_usage_profiles_lab() {
        // real capture from the lab guest (fixtures/layouts/btrfs-subvols)
        let text = include_str!(
            "../../../../fixtures/layouts/btrfs-subvols/btrfs-filesystem-usage-vda2.txt"
        );
        assert_eq!(
            parse_usage_profiles(text),
            (Some("single".into()), Some("dup".into()))
        );
    }
}
