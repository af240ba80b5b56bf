//! Parsers for `mdadm --detail --export MD` (key=value) and `mdadm --detail MD` (text).
//!
//! The export form has level, device count, metadata, UUID, name and each member's role; the
//! text form adds what export lacks: chunk size, layout and array size. [`MdDetail::merge_text`]
//! combines them.

use serde::Serialize;

/// What rear keeps about an md array.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MdDetail {
    /// MD_LEVEL (raid0, raid1, raid5, ...).
    pub level: Option<String>,
    /// MD_DEVICES: number of RAID devices.
    pub raid_devices: Option<u32>,
    /// MD_METADATA.
    pub metadata: Option<String>,
    /// MD_UUID.
    pub uuid: Option<String>,
    /// MD_NAME.
    pub name: Option<String>,
    /// Active members, ordered by role.
    pub devices: Vec<String>,
    /// Spare members.
    pub spares: Vec<String>,
    /// Chunk size in bytes (text form).
    pub chunk: Option<u64>,
    /// Layout (text form).
    pub layout: Option<String>,
    /// Array size in bytes (text form).
    pub size: Option<u64>,
    /// Space used on each member in bytes (text form, "Used Dev Size").
    pub dev_size: Option<u64>,
    /// Write-intent bitmap: `internal` or an external file (text form).
    pub bitmap: Option<String>,
}

/// Parses `mdadm --detail --export`.
pub fn parse_mdadm_export(text: &str) -> MdDetail {
    let mut d = MdDetail::default();
    let mut members: Vec<(String, String)> = Vec::new(); // (dev, role)
    let mut pending: Vec<(String, String)> = Vec::new(); // (key stem, role or dev)
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        match k {
            "MD_LEVEL" => d.level = Some(v.to_string()),
            "MD_DEVICES" => d.raid_devices = v.parse().ok(),
            "MD_METADATA" => d.metadata = Some(v.to_string()),
            "MD_UUID" => d.uuid = Some(v.to_string()),
            "MD_NAME" => d.name = Some(v.to_string()),
            _ => {
                if let Some(stem) = k.strip_prefix("MD_DEVICE_") {
                    if let Some(s) = stem.strip_suffix("_ROLE") {
                        pending.push((s.to_string(), format!("role:{v}")));
                    } else if let Some(s) = stem.strip_suffix("_DEV") {
                        pending.push((s.to_string(), format!("dev:{v}")));
                    }
                }
            }
        }
    }
    let stems: Vec<String> = {
        let mut s: Vec<String> = pending.iter().map(|(k, _)| k.clone()).collect();
        s.dedup();
        s
    };
    for stem in stems {
        let get = |p: &str| {
            pending
                .iter()
                .find(|(k, v)| *k == stem && v.starts_with(p))
                .map(|(_, v)| v[p.len()..].to_string())
        };
        if let (Some(dev), Some(role)) = (get("dev:"), get("role:")) {
            members.push((dev, role));
        }
    }
    let mut active: Vec<(u32, String)> = Vec::new();
    for (dev, role) in members {
        match role.parse::<u32>() {
            Ok(n) => active.push((n, dev)),
            Err(_) if role == "spare" => d.spares.push(dev),
            Err(_) => {} // faulty or journal: not part of the array to recreate
        }
    }
    active.sort();
    d.devices = active.into_iter().map(|(_, dev)| dev).collect();
    d
}

fn size_with_unit(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'K' => (&v[..v.len() - 1], 1024),
        'M' => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

impl MdDetail {
    /// Adds chunk size, layout and size from `mdadm --detail` text output.
    pub fn merge_text(&mut self, text: &str) {
        for line in text.lines() {
            let Some((k, v)) = line.split_once(" : ") else {
                continue;
            };
            let v = v.trim();
            match k.trim() {
                "Chunk Size" => self.chunk = size_with_unit(v),
                "Layout" => self.layout = Some(v.to_string()),
                // "1046528 (1022.00 MiB 1071.64 MB)", in KiB
                "Array Size" => {
                    self.size = v
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .map(|k| k * 1024);
                }
                "Used Dev Size" => {
                    self.dev_size = v
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u64>().ok())
                        .map(|k| k * 1024);
                }
                // "Internal", or a file path for an external bitmap
                "Intent Bitmap" => self.bitmap = Some(v.to_lowercase()),
                "Raid Level" if self.level.is_none() => self.level = Some(v.to_string()),
                "UUID" if self.uuid.is_none() => self.uuid = Some(v.to_string()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic, in the format mdadm 4.2 prints (the host kernel has no md; real captures come
    // from the lab guest under fixtures/layouts/).
    const EXPORT: &str = "MD_LEVEL=raid5\nMD_DEVICES=3\nMD_METADATA=1.2\nMD_UUID=6b1c4a52:8f0e2d1a:9c3b7e44:12ab34cd\nMD_DEVNAME=0\nMD_NAME=lab:0\nMD_DEVICE_dev_vdd1_ROLE=spare\nMD_DEVICE_dev_vdd1_DEV=/dev/vdd1\nMD_DEVICE_dev_vdc1_ROLE=1\nMD_DEVICE_dev_vdc1_DEV=/dev/vdc1\nMD_DEVICE_dev_vdb1_ROLE=0\nMD_DEVICE_dev_vdb1_DEV=/dev/vdb1\nMD_DEVICE_dev_vde1_ROLE=2\nMD_DEVICE_dev_vde1_DEV=/dev/vde1\n";
    const TEXT: &str = "/dev/md0:\n           Version : 1.2\n        Raid Level : raid5\n        Array Size : 2093056 (2044.00 MiB 2143.29 MB)\n      Raid Devices : 3\n            Layout : left-symmetric\n        Chunk Size : 512K\n              Name : lab:0  (local to host lab)\n              UUID : 6b1c4a52:8f0e2d1a:9c3b7e44:12ab34cd\n";

    #[test]
    fn parse_mdadm_lab_md_raid1() {
        // real captures from the lab guest (fixtures/layouts/md-raid1-lvm)
        let mut d = parse_mdadm_export(include_str!(
            "../../../../fixtures/layouts/md-raid1-lvm/mdadm-detail-export-md1.txt"
        ));
        d.merge_text(include_str!(
            "../../../../fixtures/layouts/md-raid1-lvm/mdadm-detail-md1.txt"
        ));
        assert_eq!(d.bitmap.as_deref(), Some("internal"));
        insta::assert_json_snapshot!(d);
    }

    #[test]
    fn members_by_role_spares_and_text_details() {
        let mut d = parse_mdadm_export(EXPORT);
        d.merge_text(TEXT);
        assert_eq!(d.devices, vec!["/dev/vdb1", "/dev/vdc1", "/dev/vde1"]);
        assert_eq!(d.spares, vec!["/dev/vdd1"]);
        assert_eq!(d.chunk, Some(512 * 1024));
        assert_eq!(d.size, Some(2_093_056 * 1024));
        assert_eq!(d.layout.as_deref(), Some("left-symmetric"));
    }
}
