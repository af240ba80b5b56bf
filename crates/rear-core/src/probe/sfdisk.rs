//! Parser for `sfdisk --json DEVICE`: the partition table of one device.
//!
//! Starts and sizes are in sectors of `sectorsize` bytes (sfdisk before util-linux 2.33 has no
//! `sectorsize`; 512 is assumed then, as those versions only used 512-byte units in the dump).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A partition table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PartitionTable {
    /// `gpt` or `dos` (sfdisk's names).
    pub label: String,
    /// Disk identifier: GPT GUID or `0x` MBR signature.
    #[serde(default)]
    pub id: Option<String>,
    /// The device.
    pub device: String,
    /// First usable LBA (GPT).
    #[serde(default)]
    pub firstlba: Option<u64>,
    /// Last usable LBA (GPT).
    #[serde(default)]
    pub lastlba: Option<u64>,
    /// Sector size in bytes.
    #[serde(default)]
    pub sectorsize: Option<u64>,
    /// The partitions.
    #[serde(default)]
    pub partitions: Vec<SfdiskPartition>,
}

/// One partition.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct SfdiskPartition {
    /// Partition device.
    pub node: String,
    /// Start in sectors.
    pub start: u64,
    /// Size in sectors.
    pub size: u64,
    /// Type: hex MBR id without `0x` (`83`) or GPT type GUID.
    #[serde(rename = "type")]
    pub ptype: String,
    /// GPT partition UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// GPT partition name.
    #[serde(default)]
    pub name: Option<String>,
    /// GPT attributes.
    #[serde(default)]
    pub attrs: Option<String>,
    /// MBR boot flag.
    #[serde(default)]
    pub bootable: bool,
}

#[derive(Deserialize)]
struct Output {
    partitiontable: PartitionTable,
}

impl PartitionTable {
    /// The sector size the starts and sizes are counted in.
    pub fn sector_size(&self) -> u64 {
        self.sectorsize.unwrap_or(512)
    }
}

/// Parses `sfdisk --json DEVICE`.
pub fn parse_sfdisk_json(text: &str) -> Result<PartitionTable> {
    serde_json::from_str::<Output>(text)
        .map(|o| o.partitiontable)
        .map_err(|e| {
            Error::invalid(
                "output of 'sfdisk --json'",
                format!("not the JSON sfdisk writes: {e}"),
            )
        })
}

/// The partition number of a partition device (`/dev/sda12` → 12, `/dev/nvme0n1p3` → 3,
/// `/dev/mapper/mpatha-part2` → 2).
pub fn partition_number(node: &str) -> Option<u32> {
    let digits: String = node
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sfdisk_host_loop_gpt_and_dos() {
        let gpt = parse_sfdisk_json(include_str!("testdata/host-loop/sfdisk-loop0.json")).unwrap();
        let dos = parse_sfdisk_json(include_str!("testdata/host-loop/sfdisk-loop1.json")).unwrap();
        insta::assert_json_snapshot!((gpt, dos));
    }

    #[test]
    fn numbers_of_partition_nodes() {
        assert_eq!(partition_number("/dev/sda12"), Some(12));
        assert_eq!(partition_number("/dev/nvme0n1p3"), Some(3));
        assert_eq!(partition_number("/dev/mapper/mpatha-part2"), Some(2));
        assert_eq!(partition_number("/dev/sda"), None);
    }
}
