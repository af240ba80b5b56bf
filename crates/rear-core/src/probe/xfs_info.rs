//! Parser for `xfs_info DEVICE|MOUNTPOINT`: the XFS geometry mkfs.xfs needs.
//!
//! The output is sections (`meta-data=`, `data`, `naming`, `log`, `realtime`) of `key=value`
//! words; stripe unit and width are printed in blocks and converted to bytes here.

use serde::Serialize;

/// The XFS geometry rear keeps.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct XfsInfo {
    /// Data block size in bytes.
    pub block_size: Option<u64>,
    /// Metadata sector size in bytes.
    pub sector_size: Option<u64>,
    /// Inode size in bytes.
    pub inode_size: Option<u64>,
    /// Allocation group count.
    pub agcount: Option<u64>,
    /// Stripe unit in bytes.
    pub sunit: Option<u64>,
    /// Stripe width in bytes.
    pub swidth: Option<u64>,
    /// Internal log size in bytes (`None` for an external log).
    pub log_size: Option<u64>,
    /// On-disk feature settings as `name=0|1` (crc, finobt, sparse, rmapbt, reflink, bigtime,
    /// inobtcount, nrext64, ftype, lazy-count).
    pub features: Vec<String>,
}

const FEATURES: &[(&str, &str)] = &[
    ("meta-data", "crc"),
    ("meta-data", "finobt"),
    ("meta-data", "sparse"),
    ("meta-data", "rmapbt"),
    ("meta-data", "reflink"),
    ("meta-data", "bigtime"),
    ("meta-data", "inobtcount"),
    ("meta-data", "nrext64"),
    ("naming", "ftype"),
    ("log", "lazy-count"),
];

/// Parses `xfs_info` output.
pub fn parse_xfs_info(text: &str) -> XfsInfo {
    let mut section = String::new();
    let mut kv: Vec<(String, String, String)> = Vec::new();
    let mut log_internal = false;
    for line in text.lines() {
        let Some((head, rest)) = line.split_once('=') else {
            continue;
        };
        if !line.starts_with(char::is_whitespace) {
            section = head.trim().to_string();
        }
        if section == "log" && rest.trim_start().starts_with("internal") {
            log_internal = true;
        }
        for word in rest.split(|c: char| c.is_whitespace() || c == ',') {
            if let Some((k, v)) = word.split_once('=') {
                kv.push((section.clone(), k.to_string(), v.to_string()));
            }
        }
    }
    let get = |s: &str, k: &str| {
        kv.iter()
            .find(|(a, b, _)| a == s && b == k)
            .and_then(|(_, _, v)| v.parse::<u64>().ok())
    };
    let bsize = get("data", "bsize");
    let mut x = XfsInfo {
        block_size: bsize,
        sector_size: get("meta-data", "sectsz"),
        inode_size: get("meta-data", "isize"),
        agcount: get("meta-data", "agcount"),
        sunit: get("data", "sunit").zip(bsize).map(|(n, b)| n * b),
        swidth: get("data", "swidth").zip(bsize).map(|(n, b)| n * b),
        log_size: None,
        features: Vec::new(),
    };
    if log_internal {
        x.log_size = get("log", "blocks")
            .zip(get("log", "bsize"))
            .map(|(n, b)| n * b);
    }
    for (s, k) in FEATURES {
        if let Some(v) = get(s, k) {
            x.features.push(format!("{k}={v}"));
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_xfs_info_host_loop() {
        let x = parse_xfs_info(include_str!("testdata/host-loop/xfs_info-loop0p4.txt"));
        assert_eq!(x.log_size, Some(16384 * 4096));
        insta::assert_json_snapshot!(x);
    }
}
