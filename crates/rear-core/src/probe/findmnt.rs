//! Parser for `findmnt -J -o SOURCE,TARGET,FSTYPE,OPTIONS,...`: the mount table as a tree.
//!
//! A btrfs subvolume mount has SOURCE `/dev/sda2[/@home]`; [`Mount::device`] strips the
//! bracket and [`Mount::subvol`] returns the subvolume (from FSROOT, the bracket or the
//! `subvol=` option, whichever is there).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One mounted filesystem.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Mount {
    /// SOURCE.
    #[serde(default)]
    pub source: Option<String>,
    /// TARGET.
    pub target: String,
    /// FSTYPE.
    #[serde(default)]
    pub fstype: Option<String>,
    /// OPTIONS.
    #[serde(default)]
    pub options: Option<String>,
    /// FSROOT, when that column was asked for.
    #[serde(default)]
    pub fsroot: Option<String>,
    /// Mounts below this one.
    #[serde(default, skip_serializing)]
    pub children: Vec<Mount>,
}

impl Mount {
    /// The source device without a `[subvolume]` suffix.
    pub fn device(&self) -> Option<&str> {
        let s = self.source.as_deref()?;
        Some(s.split_once('[').map_or(s, |(d, _)| d))
    }

    /// The btrfs subvolume mounted (`/@home`), when known.
    pub fn subvol(&self) -> Option<String> {
        if let Some(r) = &self.fsroot {
            return Some(r.clone());
        }
        if let Some((_, rest)) = self.source.as_deref().and_then(|s| s.split_once('[')) {
            return Some(rest.trim_end_matches(']').to_string());
        }
        self.options
            .as_deref()?
            .split(',')
            .find_map(|o| o.strip_prefix("subvol="))
            .map(str::to_string)
    }
}

#[derive(Deserialize)]
struct Output {
    filesystems: Vec<Mount>,
}

/// Parses findmnt's JSON and flattens the tree in mount order (parents before children).
pub fn parse_findmnt_json(text: &str) -> Result<Vec<Mount>> {
    fn walk(m: Mount, out: &mut Vec<Mount>) {
        let mut m = m;
        let children = std::mem::take(&mut m.children);
        out.push(m);
        for c in children {
            walk(c, out);
        }
    }
    let tree = serde_json::from_str::<Output>(text).map_err(|e| {
        Error::invalid(
            "output of 'findmnt -J'",
            format!("not the JSON findmnt writes: {e}"),
        )
    })?;
    let mut out = Vec::new();
    for m in tree.filesystems {
        walk(m, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_findmnt_host_loop() {
        let all = parse_findmnt_json(include_str!("testdata/host-loop/findmnt.json")).unwrap();
        let ours: Vec<_> = all
            .into_iter()
            .filter(|m| m.target.starts_with("/mnt/laytest"))
            .collect();
        insta::assert_json_snapshot!(ours);
        let home = parse_findmnt_json(include_str!("testdata/host-loop/findmnt-all.json"))
            .unwrap()
            .into_iter()
            .find(|m| m.target == "/mnt/laytest/home")
            .unwrap();
        assert_eq!(home.device(), Some("/dev/loop0p5"));
        assert_eq!(home.subvol().as_deref(), Some("/@home"));
    }
}
