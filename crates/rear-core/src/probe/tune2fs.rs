//! Parser for `tune2fs -l DEVICE`: the ext2/3/4 superblock values mke2fs needs to recreate the
//! filesystem faithfully.

use serde::Serialize;

/// The values rear keeps from an ext superblock.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ExtInfo {
    /// Filesystem UUID.
    pub uuid: Option<String>,
    /// Volume name (`<none>` becomes `None`).
    pub label: Option<String>,
    /// Feature names.
    pub features: Vec<String>,
    /// Default mount options (`(none)` becomes `None`), comma-separated.
    pub default_mount_options: Option<String>,
    /// Block size in bytes.
    pub block_size: Option<u64>,
    /// Inode size in bytes.
    pub inode_size: Option<u64>,
    /// Inode count.
    pub inode_count: Option<u64>,
    /// Block count.
    pub block_count: Option<u64>,
    /// Reserved block count.
    pub reserved_blocks: Option<u64>,
    /// Maximum mount count (-1 = disabled).
    pub max_mounts: Option<i64>,
    /// Check interval in seconds.
    pub check_interval: Option<u64>,
}

impl ExtInfo {
    /// Bytes per inode (`mke2fs -i`), from block count, block size and inode count.
    pub fn bytes_per_inode(&self) -> Option<u64> {
        let inodes = self.inode_count.filter(|&n| n > 0)?;
        Some(self.block_count? * self.block_size? / inodes)
    }
}

/// Parses `tune2fs -l` (or `dumpe2fs -h`) output.
pub fn parse_tune2fs(text: &str) -> ExtInfo {
    let mut e = ExtInfo::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        let first_num = || {
            v.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        };
        match k.trim() {
            "Filesystem UUID" => e.uuid = Some(v.to_string()),
            "Filesystem volume name" => {
                e.label = (v != "<none>").then(|| v.to_string());
            }
            "Filesystem features" => {
                e.features = v.split_whitespace().map(str::to_string).collect();
            }
            "Default mount options" => {
                e.default_mount_options =
                    (v != "(none)").then(|| v.split_whitespace().collect::<Vec<_>>().join(","));
            }
            "Block size" => e.block_size = first_num(),
            "Inode size" => e.inode_size = first_num(),
            "Inode count" => e.inode_count = first_num(),
            "Block count" => e.block_count = first_num(),
            "Reserved block count" => e.reserved_blocks = first_num(),
            "Maximum mount count" => e.max_mounts = v.parse().ok(),
            "Check interval" => e.check_interval = first_num(),
            _ => {}
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tune2fs_host_loop_ext4_ext3_ext2() {
        let t = |f: &str| parse_tune2fs(f);
        let all = [
            t(include_str!("testdata/host-loop/tune2fs-loop0p3.txt")),
            t(include_str!("testdata/host-loop/tune2fs-loop1p1.txt")),
            t(include_str!("testdata/host-loop/tune2fs-loop1p5.txt")),
        ];
        assert_eq!(all[0].bytes_per_inode(), Some(4096));
        assert_eq!(all[2].label, None);
        insta::assert_json_snapshot!(all);
    }
}
