//! Parser for `blkid -o export [DEVICE]`: filesystem, swap, RAID-member, PV and LUKS signatures
//! with their UUIDs and labels, one `KEY=value` block per device.
//!
//! blkid escapes spaces and other shell-special characters in values with a backslash
//! (`PARTLABEL=EFI\ System`); [`parse_blkid_export`] removes the escapes.

use serde::Serialize;

/// What blkid reports about one device.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BlkidDevice {
    /// DEVNAME.
    pub devname: String,
    /// TYPE (ext4, xfs, vfat, btrfs, swap, crypto_LUKS, LVM2_member, linux_raid_member, ...).
    pub fstype: Option<String>,
    /// UUID.
    pub uuid: Option<String>,
    /// UUID_SUB (btrfs device UUID, md member UUID).
    pub uuid_sub: Option<String>,
    /// LABEL.
    pub label: Option<String>,
    /// VERSION (FAT16/FAT32, LUKS version, md metadata).
    pub version: Option<String>,
    /// PARTUUID.
    pub partuuid: Option<String>,
    /// PARTLABEL.
    pub partlabel: Option<String>,
    /// PTTYPE (the device holds a partition table).
    pub pttype: Option<String>,
    /// PTUUID.
    pub ptuuid: Option<String>,
    /// BLOCK_SIZE.
    pub block_size: Option<u64>,
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `blkid -o export` output (one block per device, blocks separated by blank lines).
/// Unknown keys are ignored; a block without DEVNAME is skipped.
pub fn parse_blkid_export(text: &str) -> Vec<BlkidDevice> {
    let mut out = Vec::new();
    let mut cur = BlkidDevice::default();
    let flush = |cur: &mut BlkidDevice, out: &mut Vec<BlkidDevice>| {
        let d = std::mem::take(cur);
        if !d.devname.is_empty() {
            out.push(d);
        }
    };
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            flush(&mut cur, &mut out);
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unescape(v);
        match k {
            "DEVNAME" => {
                if !cur.devname.is_empty() {
                    flush(&mut cur, &mut out);
                }
                cur.devname = v;
            }
            "TYPE" => cur.fstype = Some(v),
            "UUID" => cur.uuid = Some(v),
            "UUID_SUB" => cur.uuid_sub = Some(v),
            "LABEL" => cur.label = Some(v),
            "VERSION" => cur.version = Some(v),
            "PARTUUID" => cur.partuuid = Some(v),
            "PARTLABEL" => cur.partlabel = Some(v),
            "PTTYPE" => cur.pttype = Some(v),
            "PTUUID" => cur.ptuuid = Some(v),
            "BLOCK_SIZE" => cur.block_size = v.parse().ok(),
            _ => {}
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_blkid_host_loop() {
        let all = parse_blkid_export(include_str!("testdata/host-loop/blkid.txt"));
        let loops: Vec<_> = all
            .into_iter()
            .filter(|d| d.devname.starts_with("/dev/loop"))
            .collect();
        insta::assert_json_snapshot!(loops);
    }

    #[test]
    fn escaped_partlabel() {
        let d = parse_blkid_export(include_str!("testdata/host-loop/blkid-loop0p3.txt"));
        assert_eq!(d[0].partlabel.as_deref(), Some("root fs"));
        assert_eq!(d[0].fstype.as_deref(), Some("ext4"));
    }
}
