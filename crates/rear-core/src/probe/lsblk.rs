//! Parser for `lsblk -J -b -O`: the block device tree.
//!
//! lsblk lists a device once under each parent (an md RAID1 under both members, an LV under
//! every PV it spans); [`flatten`] merges those into one [`BlockDevice`] with all its parents.
//! Older util-linux differs: lsblk before 2.33 prints numbers as strings, before 2.37 has no
//! MOUNTPOINTS, and RHEL 8's lsblk has no PATH column; the parser accepts all of these, and
//! [`backfill_from_sys`] fills partition starts from `/sys` when lsblk does not report them.
//! Without a udev database (rescue shells, minimal guests) FSTYPE, PTTYPE, UUID and PARTUUID are
//! empty, so the probe takes those from blkid and sfdisk instead.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Error, Result};

/// One device as lsblk reports it (only the columns rear uses).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LsblkDevice {
    /// NAME (`sda1`, `vg0-root`).
    pub name: String,
    /// KNAME (`dm-0`).
    #[serde(default)]
    pub kname: Option<String>,
    /// PATH (`/dev/mapper/vg0-root`); missing before util-linux 2.33.
    #[serde(default)]
    pub path: Option<String>,
    /// TYPE: disk, part, loop, rom, lvm, crypt, raid1, mpath, ...
    #[serde(rename = "type")]
    pub dtype: String,
    /// SIZE in bytes.
    #[serde(default, deserialize_with = "number")]
    pub size: Option<u64>,
    /// LOG-SEC.
    #[serde(default, rename = "log-sec", deserialize_with = "number")]
    pub log_sec: Option<u64>,
    /// PHY-SEC.
    #[serde(default, rename = "phy-sec", deserialize_with = "number")]
    pub phy_sec: Option<u64>,
    /// START in 512-byte sectors (partitions; util-linux 2.38 and later).
    #[serde(default, deserialize_with = "number")]
    pub start: Option<u64>,
    /// MODEL.
    #[serde(default, deserialize_with = "trimmed")]
    pub model: Option<String>,
    /// SERIAL.
    #[serde(default, deserialize_with = "trimmed")]
    pub serial: Option<String>,
    /// WWN.
    #[serde(default)]
    pub wwn: Option<String>,
    /// TRAN.
    #[serde(default)]
    pub tran: Option<String>,
    /// RM (removable).
    #[serde(default, deserialize_with = "flag")]
    pub rm: bool,
    /// PKNAME.
    #[serde(default)]
    pub pkname: Option<String>,
    /// FSTYPE (empty without udev).
    #[serde(default)]
    pub fstype: Option<String>,
    /// PTTYPE (empty without udev).
    #[serde(default)]
    pub pttype: Option<String>,
    /// PTUUID.
    #[serde(default)]
    pub ptuuid: Option<String>,
    /// PARTUUID.
    #[serde(default)]
    pub partuuid: Option<String>,
    /// MAJ:MIN.
    #[serde(default, rename = "maj:min")]
    pub maj_min: Option<String>,
    /// MOUNTPOINTS (util-linux 2.37 and later); MOUNTPOINT before.
    #[serde(default)]
    pub mountpoints: Vec<Option<String>>,
    /// MOUNTPOINT.
    #[serde(default)]
    pub mountpoint: Option<String>,
    /// Devices stacked on this one.
    #[serde(default, skip_serializing)]
    pub children: Vec<LsblkDevice>,
}

fn number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Text(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::Num(n)) => Some(n),
        // lsblk before 2.33 prints every column as a string
        Some(N::Text(s)) => s.trim().parse().ok(),
        None => None,
    })
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum F {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<F>::deserialize(d)? {
        Some(F::Bool(b)) => b,
        Some(F::Text(s)) => s.trim() == "1",
        None => false,
    })
}

fn trimmed<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

#[derive(Deserialize)]
struct Output {
    blockdevices: Vec<LsblkDevice>,
}

/// Parses `lsblk -J -b -O` output into its tree.
///
/// # Errors
/// [`Error::Invalid`] naming the line and column where the JSON stops making sense (a truncated
/// capture, a tool that printed a warning first).
pub fn parse_lsblk_json(text: &str) -> Result<Vec<LsblkDevice>> {
    serde_json::from_str::<Output>(text)
        .map(|o| o.blockdevices)
        .map_err(|e| {
            Error::invalid(
                "output of 'lsblk -J -b -O'",
                format!("not the JSON lsblk writes: {e}"),
            )
        })
}

/// A block device with all its parents (devices it is stacked on).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockDevice {
    /// The device's own columns (without children).
    #[serde(flatten)]
    pub dev: LsblkDevice,
    /// Paths of the devices it sits on, in lsblk order.
    pub parents: Vec<String>,
}

impl LsblkDevice {
    /// The device path; `/dev/<name>` when lsblk has no PATH column (RHEL 8), and
    /// `/dev/mapper/<name>` for device-mapper devices.
    pub fn dev_path(&self) -> String {
        if let Some(p) = &self.path {
            return p.clone();
        }
        let dm = matches!(self.dtype.as_str(), "lvm" | "crypt" | "mpath" | "dm")
            || self.kname.as_deref().is_some_and(|k| k.starts_with("dm-"));
        if dm {
            format!("/dev/mapper/{}", self.name)
        } else {
            format!("/dev/{}", self.name)
        }
    }

    /// Every mount point (both columns merged, without duplicates).
    pub fn all_mountpoints(&self) -> Vec<String> {
        let mut out: Vec<String> = self.mountpoints.iter().flatten().cloned().collect();
        if let Some(m) = &self.mountpoint
            && !out.contains(m)
        {
            out.push(m.clone());
        }
        out
    }
}

/// Flattens the tree: each device once, in first-seen order, with all its parents.
pub fn flatten(tree: &[LsblkDevice]) -> Vec<BlockDevice> {
    fn walk(d: &LsblkDevice, parent: Option<&str>, out: &mut Vec<BlockDevice>) {
        let path = d.dev_path();
        match out.iter_mut().find(|b| b.dev.dev_path() == path) {
            Some(b) => {
                if let Some(p) = parent
                    && !b.parents.iter().any(|x| x == p)
                {
                    b.parents.push(p.to_string());
                }
            }
            None => {
                let mut dev = d.clone();
                dev.children = Vec::new();
                out.push(BlockDevice {
                    dev,
                    parents: parent.map(str::to_string).into_iter().collect(),
                });
            }
        }
        for c in &d.children {
            walk(c, Some(&path), out);
        }
    }
    let mut out = Vec::new();
    for d in tree {
        walk(d, None, &mut out);
    }
    out
}

/// Decodes lsblk's `\xNN` escapes (raw and pairs output).
fn unescape_hex(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && i + 3 < bytes.len()
            && bytes[i + 2].is_ascii_hexdigit()
            && bytes[i + 3].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `lsblk -P -b -O` (`KEY="value"` pairs, one device per line, repeated under each
/// parent), the fallback for lsblk versions without JSON output (util-linux before 2.27).
/// Returns the same flat list as [`flatten`] of the JSON tree: parents come from PKNAME.
pub fn parse_lsblk_pairs(text: &str) -> Vec<BlockDevice> {
    let rows: Vec<Vec<(String, String)>> = text
        .lines()
        .map(|line| {
            let mut pairs = Vec::new();
            let mut rest = line.trim();
            while let Some(eq) = rest.find("=\"") {
                let key = rest[..eq].trim().to_string();
                let after = &rest[eq + 2..];
                let Some(end) = after.find('"') else { break };
                pairs.push((key, unescape_hex(&after[..end])));
                rest = &after[end + 1..];
            }
            pairs
        })
        .filter(|p| !p.is_empty())
        .collect();
    let get = |row: &[(String, String)], key: &str| {
        row.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let num = |row: &[(String, String)], key: &str| get(row, key).and_then(|v| v.parse().ok());
    // KNAME → path, for PKNAME
    let kname_path: Vec<(String, String)> = rows
        .iter()
        .filter_map(|r| {
            let name = get(r, "NAME")?;
            let kname = get(r, "KNAME").unwrap_or_else(|| name.clone());
            let dev = LsblkDevice {
                name,
                kname: Some(kname.clone()),
                path: get(r, "PATH"),
                dtype: get(r, "TYPE").unwrap_or_default(),
                ..empty_device()
            };
            Some((kname, dev.dev_path()))
        })
        .collect();
    let mut out: Vec<BlockDevice> = Vec::new();
    for r in &rows {
        let Some(name) = get(r, "NAME") else { continue };
        let dev = LsblkDevice {
            name,
            kname: get(r, "KNAME"),
            path: get(r, "PATH"),
            dtype: get(r, "TYPE").unwrap_or_default(),
            size: num(r, "SIZE"),
            log_sec: num(r, "LOG-SEC"),
            phy_sec: num(r, "PHY-SEC"),
            start: num(r, "START"),
            model: get(r, "MODEL")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            serial: get(r, "SERIAL")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            wwn: get(r, "WWN"),
            tran: get(r, "TRAN"),
            rm: get(r, "RM").as_deref() == Some("1"),
            pkname: get(r, "PKNAME"),
            fstype: get(r, "FSTYPE"),
            pttype: get(r, "PTTYPE"),
            ptuuid: get(r, "PTUUID"),
            partuuid: get(r, "PARTUUID"),
            maj_min: get(r, "MAJ:MIN"),
            mountpoints: get(r, "MOUNTPOINTS")
                .map(|m| {
                    m.split('\n')
                        .filter(|s| !s.is_empty())
                        .map(|s| Some(s.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            mountpoint: get(r, "MOUNTPOINT"),
            children: Vec::new(),
        };
        let parent = dev.pkname.as_ref().and_then(|pk| {
            kname_path
                .iter()
                .find(|(k, _)| k == pk)
                .map(|(_, p)| p.clone())
        });
        let path = dev.dev_path();
        match out.iter_mut().find(|b| b.dev.dev_path() == path) {
            Some(b) => {
                if let Some(p) = parent
                    && !b.parents.contains(&p)
                {
                    b.parents.push(p);
                }
            }
            None => out.push(BlockDevice {
                dev,
                parents: parent.into_iter().collect(),
            }),
        }
    }
    out
}

fn empty_device() -> LsblkDevice {
    LsblkDevice {
        name: String::new(),
        kname: None,
        path: None,
        dtype: String::new(),
        size: None,
        log_sec: None,
        phy_sec: None,
        start: None,
        model: None,
        serial: None,
        wwn: None,
        tran: None,
        rm: false,
        pkname: None,
        fstype: None,
        pttype: None,
        ptuuid: None,
        partuuid: None,
        maj_min: None,
        mountpoints: Vec::new(),
        mountpoint: None,
        children: Vec::new(),
    }
}

/// Fills columns that older lsblk versions do not report from `<sys_root>/dev/block/MAJ:MIN/`:
/// the partition start (`start`, util-linux before 2.38) and the sector sizes.
pub fn backfill_from_sys(devices: &mut [BlockDevice], sys_root: &Path) {
    for b in devices {
        let Some(mm) = b.dev.maj_min.clone() else {
            continue;
        };
        let dir = sys_root.join("dev/block").join(&mm);
        let read = |name: &str| -> Option<u64> {
            std::fs::read_to_string(dir.join(name))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        if b.dev.start.is_none() && b.dev.dtype == "part" {
            b.dev.start = read("start");
        }
        if b.dev.log_sec.is_none() {
            b.dev.log_sec = read("queue/logical_block_size");
        }
        if b.dev.phy_sec.is_none() {
            b.dev.phy_sec = read("queue/physical_block_size");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lsblk_host_loop_capture() {
        let text = include_str!("testdata/host-loop/lsblk.json");
        let flat = flatten(&parse_lsblk_json(text).unwrap());
        let loops: Vec<_> = flat
            .iter()
            .filter(|b| b.dev.name.starts_with("loop1"))
            .collect();
        insta::assert_json_snapshot!(loops);
    }

    #[test]
    fn old_lsblk_strings_and_no_path() {
        // util-linux 2.32 (RHEL 8) style: every value a string, no PATH, no MOUNTPOINTS
        let text = r#"{"blockdevices": [{"name": "sda", "kname": "sda", "type": "disk", "size": "10737418240", "rm": "0", "log-sec": "512", "phy-sec": "4096", "mountpoint": null, "model": "VBOX HARDDISK   ",
          "children": [{"name": "sda1", "type": "part", "size": "1073741824", "rm": "0", "mountpoint": "/boot", "maj:min": "8:1"}]}]}"#;
        let flat = flatten(&parse_lsblk_json(text).unwrap());
        assert_eq!(flat[0].dev.size, Some(10_737_418_240));
        assert_eq!(flat[0].dev.model.as_deref(), Some("VBOX HARDDISK"));
        assert_eq!(flat[1].dev.dev_path(), "/dev/sda1");
        assert_eq!(flat[1].parents, vec!["/dev/sda"]);
        assert_eq!(flat[1].dev.all_mountpoints(), vec!["/boot"]);
        // backfill the start from a fake sysfs
        let sys = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sys.path().join("dev/block/8:1")).unwrap();
        std::fs::write(sys.path().join("dev/block/8:1/start"), "2048\n").unwrap();
        let mut flat = flat;
        backfill_from_sys(&mut flat, sys.path());
        assert_eq!(flat[1].dev.start, Some(2048));
    }

    #[test]
    fn truncated_json_names_line_and_column() {
        let text = include_str!("testdata/host-loop/lsblk.json");
        let cut = &text[..text.len() / 2];
        let err = parse_lsblk_json(cut).unwrap_err().to_string();
        assert!(
            err.contains("lsblk -J -b -O") && err.contains("line "),
            "{err}"
        );
    }

    #[test]
    fn pairs_fallback_equals_json_on_every_capture() {
        // real captures: the lab scenarios and the host loop devices
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![root.join("src/probe/testdata/host-loop")];
        if let Ok(rd) = std::fs::read_dir(root.join("../../fixtures/layouts")) {
            dirs.extend(rd.flatten().map(|d| d.path()));
        }
        let key = |b: &BlockDevice| {
            (
                b.dev.dev_path(),
                b.dev.dtype.clone(),
                b.dev.size,
                b.dev.start,
                b.dev.serial.clone(),
                b.dev.all_mountpoints(),
                b.parents.clone(),
            )
        };
        let mut checked = 0;
        for dir in dirs {
            let (Ok(json), Ok(pairs)) = (
                std::fs::read_to_string(dir.join("lsblk.json")),
                std::fs::read_to_string(dir.join("lsblk-pairs.txt")),
            ) else {
                continue;
            };
            let from_json: Vec<_> = flatten(&parse_lsblk_json(&json).unwrap())
                .iter()
                .map(key)
                .collect();
            let from_pairs: Vec<_> = parse_lsblk_pairs(&pairs).iter().map(key).collect();
            assert_eq!(from_pairs, from_json, "{}", dir.display());
            checked += 1;
        }
        assert!(checked >= 1);
    }

    #[test]
    fn md_under_two_members_has_two_parents() {
        let text = r#"{"blockdevices":[
          {"name":"vdb","path":"/dev/vdb","type":"disk","children":[{"name":"md0","path":"/dev/md0","type":"raid1"}]},
          {"name":"vdc","path":"/dev/vdc","type":"disk","children":[{"name":"md0","path":"/dev/md0","type":"raid1"}]}]}"#;
        let flat = flatten(&parse_lsblk_json(text).unwrap());
        assert_eq!(flat.len(), 3);
        assert_eq!(flat[1].parents, vec!["/dev/vdb", "/dev/vdc"]);
    }
}
