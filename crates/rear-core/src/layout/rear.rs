//! ReaR interop: reading and writing ReaR's `disklayout.conf`.
//!
//! Contract:
//! - [`import`] reads every keyword of ReaR 2.x (`disk`, `part` with 6 or 7 fields,
//!   `raidarray` and the older `raid`, `raiddisk`, `multipath`, `lvmdev`, `lvmgrp`, `lvmvol` in
//!   the byte form and the older extent form, `crypt`, `fs`, `btrfsdefaultsubvol`,
//!   `btrfsnormalsubvol`, `btrfssnapshotsubvol`, `btrfsmountedsubvol`, `btrfsnocopyonwrite`,
//!   `swap`) into the model. `opaldisk`, `drbd`, `smartarray`, `logicaldrive` and
//!   `dasd_channel`, which rear-rs cannot recreate, are kept verbatim as [`Foreign`]
//!   components so that an export writes them back.
//! - A commented-out component line (`#fs /dev/sdb1 ...`) is an excluded component, as in
//!   ReaR. Other comments are dropped.
//! - Real files are messy (hand edits with extra blanks, lines cut short, redactions, keywords
//!   of other versions). [`import`] never fails and never panics: it imports every line it
//!   can and returns a [`Diagnostic`] with the line number and the reason for every line it
//!   could not import or only partly understood.
//! - [`export`] writes a `disklayout.conf` that ReaR 2.7 reads; importing the export gives the
//!   same layout back.

use super::fields::unescape;
use super::model::{
    BtrfsMount, BtrfsSubvol, Component, Crypt, Disk, Entry, FORMAT_VERSION, Filesystem, Foreign,
    FsType, Header, Layout, LuksVersion, Lv, LvLayout, Multipath, PartRole, PartTable, Partition,
    Pv, Raid, Swap, Vg,
};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The line was not imported.
    Error,
    /// The line was imported, but something in it was ignored or guessed.
    Warning,
}

/// A line of a ReaR file that could not be imported, or only partly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Line number (1-based).
    pub line: usize,
    /// Error (not imported) or warning (imported with a loss or a guess).
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "line {}: {sev}: {}", self.line, self.message)
    }
}

/// Every component keyword of ReaR 2.x (and the older `raid`).
pub const REAR_KEYWORDS: &[&str] = &[
    "disk",
    "part",
    "raidarray",
    "raid",
    "raiddisk",
    "multipath",
    "lvmdev",
    "lvmgrp",
    "lvmvol",
    "crypt",
    "fs",
    "btrfsdefaultsubvol",
    "btrfsnormalsubvol",
    "btrfssnapshotsubvol",
    "btrfsmountedsubvol",
    "btrfsnocopyonwrite",
    "swap",
    "opaldisk",
    "drbd",
    "smartarray",
    "logicaldrive",
    "dasd_channel",
];

/// Keywords kept verbatim because rear-rs cannot recreate them.
const FOREIGN_KEYWORDS: &[&str] = &[
    "opaldisk",
    "drbd",
    "smartarray",
    "logicaldrive",
    "dasd_channel",
];

/// ReaR's percent_decode (`%20` → space); invalid sequences are kept.
fn percent_decode(s: &str) -> String {
    unescape(s)
}

/// ReaR's percent_encode: everything but `[A-Za-z0-9.~_-]` becomes `%XX` (per UTF-8 byte).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"._~-".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A size in bytes, accepting ReaR's `b`/`B` suffix.
fn bytes(s: &str) -> Result<u64, String> {
    s.trim_end_matches(['b', 'B'])
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes"))
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what} '{s}' is not a number"))
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim_matches('\'').trim_matches('"');
    (!s.is_empty()).then(|| s.to_string())
}

/// The `key=value` options after the positional fields. A word without `=` right after a value
/// continues that value (ReaR writes labels with spaces unquoted).
fn key_values(words: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains('/') => {
                out.push((k.to_string(), v.to_string()))
            }
            _ => match out.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(w);
                }
                None => out.push((String::new(), (*w).to_string())),
            },
        }
    }
    out
}

fn need(words: &[&str], n: usize, format: &str) -> Result<(), String> {
    if words.len() < n {
        Err(format!(
            "too few fields ({} of {n}); the format is '{format}'",
            words.len()
        ))
    } else {
        Ok(())
    }
}

struct Importer {
    layout: Layout,
    lines: Vec<usize>,
    diags: Vec<Diagnostic>,
}

impl Importer {
    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            line,
            severity: Severity::Warning,
            message: message.into(),
        });
    }

    /// An optional number: empty is absent; garbage (a line cut short and continued by the
    /// next one, a redaction) is reported and ignored, so the rest of the line still counts.
    fn lenient<T: std::str::FromStr>(&mut self, line: usize, key: &str, value: &str) -> Option<T> {
        let v = value.trim();
        if v.is_empty() {
            return None;
        }
        let parsed = v.parse().ok();
        if parsed.is_none() {
            self.warn(line, format!("{key}='{v}' is not a number; ignored"));
        }
        parsed
    }

    fn push(&mut self, line: usize, component: Component, excluded: Option<String>) {
        self.layout.entries.push(Entry {
            component,
            excluded,
            comments: Vec::new(),
        });
        self.lines.push(line);
    }

    fn find_mut(&mut self, pred: impl Fn(&Component) -> bool) -> Option<&mut Component> {
        self.layout
            .entries
            .iter_mut()
            .map(|e| &mut e.component)
            .find(|c| pred(c))
    }

    /// Imports one component line (without a leading `#`).
    fn line(&mut self, n: usize, text: &str, excluded: Option<String>) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let kw = words[0];
        match kw {
            "disk" => {
                need(
                    &words,
                    3,
                    "disk <devname> <size(bytes)> <partition label type>",
                )?;
                let table = match words.get(3).copied() {
                    None | Some("") | Some("unknown") => PartTable::None,
                    Some(t) => PartTable::from(t),
                };
                let mut disk = Disk {
                    dev: words[1].into(),
                    size: bytes(words[2])?,
                    table,
                    ..Disk::default()
                };
                if disk.table == PartTable::Dasd {
                    disk.log_sec = words.get(4).and_then(|b| b.parse().ok());
                    if words.len() > 5 {
                        self.warn(n, "DASD layout, type and cylinders are not kept");
                    }
                }
                self.push(n, Component::Disk(disk), excluded);
            }
            "part" => {
                need(
                    &words,
                    7,
                    "part <disk> <size(bytes)> <start(bytes)> <name|type> <flags> /dev/<partition> [partuuid]",
                )?;
                let dev = words[6].to_string();
                let number = crate::probe::sfdisk::partition_number(&dev)
                    .ok_or_else(|| format!("partition device '{dev}' has no number"))?;
                let (role, name) = match words[4] {
                    "primary" => (Some(PartRole::Primary), None),
                    "extended" => (Some(PartRole::Extended), None),
                    "logical" => (Some(PartRole::Logical), None),
                    "rear-noname" => (None, None),
                    other => (None, Some(percent_decode(other))),
                };
                let flags = match words[5] {
                    "none" | "" => Vec::new(),
                    f => f
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                };
                let partuuid = words
                    .get(7)
                    .filter(|u| **u != "no-partuuid")
                    .map(|u| u.to_string());
                if words.len() > 8 {
                    self.warn(n, format!("extra fields ignored: {}", words[8..].join(" ")));
                }
                self.push(
                    n,
                    Component::Partition(Partition {
                        dev,
                        disk: words[1].into(),
                        number,
                        start: bytes(words[3])?,
                        size: bytes(words[2])?,
                        ptype: None,
                        name,
                        role,
                        flags,
                        partuuid,
                        attrs: None,
                    }),
                    excluded,
                );
            }
            "raidarray" | "raid" => {
                need(
                    &words,
                    2,
                    "raidarray /dev/<md> level=<level> raid-devices=<n> devices=<dev1,dev2,...> [...]",
                )?;
                let mut r = Raid {
                    dev: words[1].into(),
                    ..Raid::default()
                };
                let mut spare_count = 0usize;
                for (k, v) in key_values(&words[2..]) {
                    match k.as_str() {
                        "level" => r.level = v,
                        "raid-devices" => r.raid_devices = Some(number(&v, "raid-devices")?),
                        "devices" => {
                            r.devices = v
                                .split(',')
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                                .collect()
                        }
                        "spare-devices" => spare_count = number(&v, "spare-devices")?,
                        "name" => r.name = opt(&v),
                        "metadata" => r.metadata = opt(&v),
                        "uuid" => r.uuid = opt(&v),
                        "layout" => r.layout = opt(&v),
                        // ReaR writes the chunk size in KiB ("Chunk Size : 512K" → chunk=512)
                        "chunk" => {
                            r.chunk =
                                Some(number::<u64>(v.trim_end_matches(['K', 'k']), "chunk")? * 1024)
                        }
                        // the space used on each member, in KiB (mdadm's "Used Dev Size")
                        "size" => r.dev_size = Some(number::<u64>(&v, "size")? * 1024),
                        _ => self.warn(n, format!("unknown RAID option '{k}={v}' ignored")),
                    }
                }
                if r.level.is_empty() {
                    return Err("no level= given".into());
                }
                // the spares are the last devices of the list
                let keep = r.devices.len().saturating_sub(spare_count);
                r.spares = r.devices.split_off(keep);
                self.push(n, Component::Raid(r), excluded);
            }
            "raiddisk" => {
                need(
                    &words,
                    3,
                    "raiddisk <devname> <size(bytes)> <partition label type>",
                )?;
                let dev = words[1].to_string();
                let table = words.get(3).map(|t| PartTable::from(*t));
                match self.find_mut(|c| matches!(c, Component::Raid(r) if r.dev == dev)) {
                    Some(Component::Raid(r)) => r.table = table,
                    _ => {
                        return Err(format!(
                            "no raidarray line for {dev} before this raiddisk line"
                        ));
                    }
                }
            }
            "multipath" => {
                need(
                    &words,
                    3,
                    "multipath <devname> <size(bytes)> <partition label type> <slaves>",
                )?;
                let slaves = words
                    .get(4)
                    .map(|s| {
                        s.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                self.push(
                    n,
                    Component::Multipath(Multipath {
                        dev: words[1].into(),
                        wwid: None,
                        size: bytes(words[2])?,
                        slaves,
                        table: words.get(3).map(|t| PartTable::from(*t)),
                        ptuuid: None,
                    }),
                    excluded,
                );
            }
            "lvmdev" => {
                need(
                    &words,
                    3,
                    "lvmdev /dev/<vg> <device> [<uuid>] [<size(bytes)>]",
                )?;
                let vg = words[1].trim_start_matches("/dev/").to_string();
                self.push(
                    n,
                    Component::Pv(Pv {
                        dev: words[2].into(),
                        vg: Some(vg),
                        uuid: words.get(3).map(|s| s.to_string()),
                        size: words.get(4).map(|s| bytes(s)).transpose()?,
                    }),
                    excluded,
                );
            }
            "lvmgrp" => {
                need(
                    &words,
                    3,
                    "lvmgrp /dev/<vg> <extentsize> [<size(extents)>] [<size>]",
                )?;
                // extent size and size are in KiB (vgdisplay -c)
                self.push(
                    n,
                    Component::Vg(Vg {
                        name: words[1].trim_start_matches("/dev/").into(),
                        extent_size: number::<u64>(words[2], "extent size")? * 1024,
                        extents: words
                            .get(3)
                            .map(|s| number(s, "extent count"))
                            .transpose()?,
                        size: words
                            .get(4)
                            .map(|s| number::<u64>(s, "size").map(|k| k * 1024))
                            .transpose()?,
                        uuid: None,
                    }),
                    excluded,
                );
            }
            "lvmvol" => {
                need(
                    &words,
                    4,
                    "lvmvol /dev/<vg> <lv> <size(bytes)>b <layout> [key:value ...]",
                )?;
                let vg = words[1].trim_start_matches("/dev/").to_string();
                let mut lv = Lv {
                    vg: vg.clone(),
                    name: words[2].into(),
                    ..Lv::default()
                };
                if words[3].ends_with(['b', 'B']) {
                    lv.size = bytes(words[3])?;
                    let layout = words.get(4).copied().unwrap_or("linear");
                    lv.layout = match layout {
                        "thin,pool" => LvLayout::ThinPool,
                        "thin,sparse" => LvLayout::Thin,
                        l => match l.strip_prefix("raid,") {
                            Some(level) if !level.contains(',') => LvLayout::from(level),
                            _ => LvLayout::from(l),
                        },
                    };
                    for kv in words.iter().skip(5) {
                        let Some((k, v)) = kv.split_once(':') else {
                            self.warn(n, format!("'{kv}' is not key:value; ignored"));
                            continue;
                        };
                        match k {
                            "thinpool" => lv.pool = Some(v.to_string()),
                            "chunksize" => lv.chunk_size = Some(bytes(v)?),
                            "poolmetadatasize" => lv.pool_metadata_size = Some(bytes(v)?),
                            "stripesize" => lv.stripe_size = Some(bytes(v)?),
                            "stripes" => lv.stripes = Some(number(v, "stripes")?),
                            "mirrors" => lv.mirrors = Some(number(v, "mirrors")?),
                            _ => self.warn(n, format!("unknown lvmvol option '{kv}' ignored")),
                        }
                    }
                } else {
                    // older form: lvmvol /dev/<vg> <lv> <extents> <size in 512-byte sectors>
                    let sectors: u64 = words
                        .get(4)
                        .ok_or("old lvmvol form without a size")?
                        .parse()
                        .map_err(|_| format!("size '{}' is not a number", words[4]))?;
                    lv.size = sectors * 512;
                    lv.layout = LvLayout::Linear;
                }
                self.push(n, Component::Lv(lv), excluded);
            }
            "crypt" => {
                need(
                    &words,
                    3,
                    "crypt /dev/mapper/<name> <device> [type=] [cipher=] [key_size=] [hash=] [uuid=] [keyfile=] [password=]",
                )?;
                let name = words[1].trim_start_matches("/dev/mapper/").to_string();
                // ReaR before 2.6 only knew LUKS1 and wrote no type=
                let mut c = Crypt {
                    name,
                    dev: words[2].into(),
                    version: LuksVersion::Luks1,
                    ..Crypt::default()
                };
                for (k, v) in key_values(&words[3..]) {
                    match k.as_str() {
                        "type" => c.version = LuksVersion::from(v.as_str()),
                        "cipher" => c.cipher = opt(&v),
                        "key_size" => {
                            c.key_size = opt(&v).map(|s| number(&s, "key_size")).transpose()?
                        }
                        "hash" => c.hash = opt(&v),
                        "uuid" => c.uuid = opt(&v),
                        "pbkdf" => c.pbkdf = opt(&v),
                        "keyfile" => c.keyfile = opt(&v),
                        "password" => c.password = Some(v),
                        _ => self.warn(n, format!("unknown crypt option '{k}' ignored")),
                    }
                }
                self.push(n, Component::Crypt(c), excluded);
            }
            "fs" => {
                need(
                    &words,
                    4,
                    "fs <device> <mountpoint> <fstype> [uuid=] [label=] [options...]",
                )?;
                let mut fs = Filesystem {
                    dev: words[1].into(),
                    mountpoint: Some(words[2].into()),
                    fstype: FsType::from(words[3]),
                    ..Filesystem::default()
                };
                for (k, v) in key_values(&words[4..]) {
                    match k.as_str() {
                        "uuid" => fs.uuid = opt(&v),
                        "label" => fs.label = opt(&v),
                        "blocksize" => fs.block_size = self.lenient(n, &k, &v),
                        "reserved_blocks" => fs.reserved_blocks = opt(&v),
                        "max_mounts" => fs.max_mounts = self.lenient(n, &k, &v),
                        "check_interval" => {
                            fs.check_interval = self
                                .lenient::<u64>(n, &k, v.trim_end_matches('d'))
                                .map(|d| d * 86_400);
                        }
                        "bytes_per_inode" => fs.bytes_per_inode = self.lenient(n, &k, &v),
                        "default_mount_options" => fs.default_mount_options = opt(&v),
                        "options" => fs.options = opt(&v),
                        // btrfs attributes of some ReaR versions
                        "nodesize" => fs.node_size = self.lenient(n, &k, &v),
                        "sectorsize" => fs.sector_size = self.lenient(n, &k, &v),
                        "" => self.warn(n, format!("'{v}' is not key=value; ignored")),
                        _ => self.warn(n, format!("unknown fs option '{k}' ignored")),
                    }
                }
                self.push(n, Component::Filesystem(fs), excluded);
            }
            "btrfsdefaultsubvol" | "btrfsnormalsubvol" | "btrfssnapshotsubvol" => {
                need(
                    &words,
                    5,
                    "btrfs...subvol <device> <mountpoint> <subvolume ID> <subvolume path>",
                )?;
                let id: u64 = number(words[3], "subvolume ID")?;
                let path = words[4..].join(" ");
                let dev = words[1].to_string();
                let default = kw == "btrfsdefaultsubvol";
                // a default subvolume line may repeat a normal one
                if let Some(Component::BtrfsSubvol(s)) = self.find_mut(
                    |c| matches!(c, Component::BtrfsSubvol(s) if s.dev == dev && s.id == id),
                ) {
                    s.default |= default;
                    return Ok(());
                }
                self.push(
                    n,
                    Component::BtrfsSubvol(BtrfsSubvol {
                        dev,
                        id,
                        path,
                        default,
                        snapshot: kw == "btrfssnapshotsubvol",
                        nocow: false,
                    }),
                    excluded,
                );
            }
            "btrfsmountedsubvol" => {
                need(
                    &words,
                    4,
                    "btrfsmountedsubvol <device> <subvolume mountpoint> <mount options> [<subvolume path>]",
                )?;
                let dev = words[1].to_string();
                let mountpoint = words[2].to_string();
                // ReaR lists the filesystem's own mount point too; the fs component covers it
                let own = self.layout.components().any(|c| {
                    matches!(c, Component::Filesystem(f) if f.dev == dev && f.mountpoint.as_deref() == Some(mountpoint.as_str()))
                });
                if own {
                    return Ok(());
                }
                let subvol = words.get(4).map(|_| words[4..].join(" "));
                if subvol.is_none() {
                    self.warn(
                        n,
                        "no subvolume path; the subvolume cannot be mounted at recovery",
                    );
                }
                self.push(
                    n,
                    Component::BtrfsMount(BtrfsMount {
                        dev,
                        mountpoint,
                        subvol,
                        options: opt(words[3]),
                    }),
                    excluded,
                );
            }
            "btrfsnocopyonwrite" => {
                need(&words, 2, "btrfsnocopyonwrite <subvolume path>")?;
                let path = words[1..].join(" ");
                let bare = path.trim_start_matches('/').to_string();
                match self.find_mut(|c| matches!(c, Component::BtrfsSubvol(s) if s.path.trim_start_matches('/') == bare)) {
                    Some(Component::BtrfsSubvol(s)) => s.nocow = true,
                    _ => {
                        self.warn(n, format!("no subvolume line for '{path}'; kept verbatim"));
                        self.push(n, Component::Foreign(Foreign { rear: words.join(" ") }), excluded);
                    }
                }
            }
            "swap" => {
                need(&words, 2, "swap <device> uuid=<uuid> label=<label>")?;
                let mut s = Swap {
                    dev: words[1].into(),
                    ..Swap::default()
                };
                for (k, v) in key_values(&words[2..]) {
                    match k.as_str() {
                        "uuid" => s.uuid = opt(&v),
                        "label" => s.label = opt(&v),
                        _ => self.warn(n, format!("unknown swap option '{k}' ignored")),
                    }
                }
                self.push(n, Component::Swap(s), excluded);
            }
            k if FOREIGN_KEYWORDS.contains(&k) => {
                self.warn(
                    n,
                    format!("'{k}' cannot be recreated by rear-rs; kept verbatim for export"),
                );
                self.push(
                    n,
                    Component::Foreign(Foreign {
                        rear: words.join(" "),
                    }),
                    excluded,
                );
            }
            other => {
                return Err(format!(
                    "unknown keyword '{other}' (ReaR 2.x keywords: {})",
                    REAR_KEYWORDS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Imports a ReaR `disklayout.conf`. See the module documentation.
pub fn import(text: &str) -> (Layout, Vec<Diagnostic>) {
    let mut imp = Importer {
        layout: Layout {
            header: Header {
                version: FORMAT_VERSION,
                source: Some("rear layout import of a ReaR disklayout.conf".into()),
                ..Header::default()
            },
            ..Layout::default()
        },
        lines: Vec::new(),
        diags: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let (body, commented) = match line.strip_prefix('#') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let first = body.split_whitespace().next().unwrap_or("");
        let is_component = REAR_KEYWORDS.contains(&first);
        if commented {
            // ReaR comments a component out as "#keyword ..."; "# Format: ...", "# lvmdev
            // <volume_group> ..." and the lsblk tree have a blank after the '#' and are comments
            if !is_component || body.starts_with(char::is_whitespace) {
                continue;
            }
            let reason = "commented out in a ReaR disklayout.conf".to_string();
            if let Err(e) = imp.line(n, body.trim(), Some(reason)) {
                imp.diags.push(Diagnostic {
                    line: n,
                    severity: Severity::Warning,
                    message: format!("commented-out component not imported: {e}"),
                });
            }
            continue;
        }
        if let Err(e) = imp.line(n, body, None) {
            imp.diags.push(Diagnostic {
                line: n,
                severity: Severity::Error,
                message: format!("not imported: {e}"),
            });
        }
    }
    // on a GPT disk the name field is a partition name, even when it reads "primary" (parted's
    // default name); primary/extended/logical are roles only on MBR
    let gpt: Vec<String> = imp
        .layout
        .components()
        .filter_map(|c| match c {
            Component::Disk(d) if d.table != PartTable::Msdos => Some(d.dev.clone()),
            Component::Raid(r) if r.table.as_ref().is_some_and(|t| *t != PartTable::Msdos) => {
                Some(r.dev.clone())
            }
            _ => None,
        })
        .collect();
    for e in &mut imp.layout.entries {
        if let Component::Partition(p) = &mut e.component
            && gpt.contains(&p.disk)
            && let Some(role) = p.role.take()
        {
            p.name = Some(role.as_str().to_string());
        }
    }
    // references to components that are not in the file
    let layout = imp.layout;
    for p in layout.validate() {
        imp.diags.push(Diagnostic {
            line: imp.lines[p.entry],
            severity: Severity::Warning,
            message: p.message,
        });
    }
    imp.diags.sort_by_key(|d| d.line);
    (layout, imp.diags)
}

fn lv_layout_rear(l: &LvLayout) -> String {
    match l {
        LvLayout::ThinPool => "thin,pool".into(),
        LvLayout::Thin => "thin,sparse".into(),
        LvLayout::Raid0
        | LvLayout::Raid1
        | LvLayout::Raid4
        | LvLayout::Raid5
        | LvLayout::Raid6
        | LvLayout::Raid10 => format!("raid,{}", l.as_str()),
        other => other.as_str().to_string(),
    }
}

fn table_rear(t: &PartTable) -> &str {
    match t {
        PartTable::None => "",
        other => other.as_str(),
    }
}

/// One component as a ReaR line (or lines), without the exclusion `#`.
fn rear_lines(layout: &Layout, c: &Component) -> Vec<String> {
    let kv =
        |k: &str, v: &Option<String>| v.as_ref().map(|v| format!(" {k}={v}")).unwrap_or_default();
    match c {
        Component::Disk(d) => {
            if d.table == PartTable::Dasd {
                vec![format!(
                    "disk {} {} dasd {}",
                    d.dev,
                    d.size,
                    d.log_sec.unwrap_or(4096)
                )]
            } else {
                vec![
                    format!("disk {} {} {}", d.dev, d.size, table_rear(&d.table))
                        .trim_end()
                        .to_string(),
                ]
            }
        }
        Component::Partition(p) => {
            let name = match (&p.role, &p.name) {
                (Some(r), _) => r.as_str().to_string(),
                (None, Some(n)) if !n.is_empty() => percent_encode(n),
                (None, _) => {
                    // ReaR wants primary/extended/logical on MBR and a name on GPT
                    let msdos = layout.components().any(|c| matches!(c, Component::Disk(d) if d.dev == p.disk && d.table == PartTable::Msdos));
                    if msdos {
                        "primary".into()
                    } else {
                        "rear-noname".into()
                    }
                }
            };
            let flags = if p.flags.is_empty() {
                "none".to_string()
            } else {
                p.flags.join(",")
            };
            let uuid = p.partuuid.clone().unwrap_or_else(|| "no-partuuid".into());
            vec![format!(
                "part {} {} {} {name} {flags} {} {uuid}",
                p.disk, p.size, p.start, p.dev
            )]
        }
        Component::Raid(r) => {
            let mut all = r.devices.clone();
            all.extend(r.spares.iter().cloned());
            let mut line = format!(
                "raidarray {} level={} raid-devices={} devices={}",
                r.dev,
                r.level,
                r.raid_devices
                    .unwrap_or(u32::try_from(r.devices.len()).unwrap_or(0)),
                all.join(",")
            );
            line.push_str(&kv("name", &r.name));
            line.push_str(&kv("metadata", &r.metadata));
            line.push_str(&kv("uuid", &r.uuid));
            line.push_str(&kv("layout", &r.layout));
            line.push_str(&kv("chunk", &r.chunk.map(|c| (c / 1024).to_string())));
            if !r.spares.is_empty() {
                line.push_str(&format!(" spare-devices={}", r.spares.len()));
            }
            line.push_str(&kv("size", &r.dev_size.map(|s| (s / 1024).to_string())));
            let mut out = vec![line];
            if let Some(t) = &r.table {
                let size = r.size.or(r.dev_size).unwrap_or(0);
                out.push(
                    format!("raiddisk {} {size} {}", r.dev, table_rear(t))
                        .trim_end()
                        .to_string(),
                );
            }
            out
        }
        Component::Multipath(m) => vec![format!(
            "multipath {} {} {} {}",
            m.dev,
            m.size,
            m.table.as_ref().map_or("unknown", |t| table_rear(t)),
            m.slaves.join(",")
        )],
        Component::Pv(p) => match &p.vg {
            Some(vg) => vec![
                format!(
                    "lvmdev /dev/{vg} {} {} {}",
                    p.dev,
                    p.uuid.as_deref().unwrap_or(""),
                    p.size.map(|s| s.to_string()).unwrap_or_default()
                )
                .trim_end()
                .to_string(),
            ],
            None => vec![format!(
                "# rear-rs: PV {} belongs to no VG and is not recreated by ReaR",
                p.dev
            )],
        },
        Component::Vg(v) => {
            let extents = v
                .extents
                .or_else(|| v.size.map(|s| s / v.extent_size.max(1)));
            vec![
                format!(
                    "lvmgrp /dev/{} {} {} {}",
                    v.name,
                    v.extent_size / 1024,
                    extents.map(|e| e.to_string()).unwrap_or_default(),
                    v.size.map(|s| (s / 1024).to_string()).unwrap_or_default()
                )
                .trim_end()
                .to_string(),
            ]
        }
        Component::Lv(l) => {
            let mut line = format!(
                "lvmvol /dev/{} {} {}b {}",
                l.vg,
                l.name,
                l.size,
                lv_layout_rear(&l.layout)
            );
            if let Some(p) = &l.pool {
                line.push_str(&format!(" thinpool:{p}"));
            }
            if let Some(c) = l.chunk_size {
                line.push_str(&format!(" chunksize:{c}b"));
            }
            if let Some(m) = l.pool_metadata_size {
                line.push_str(&format!(" poolmetadatasize:{m}b"));
            }
            if let Some(s) = l.stripe_size {
                line.push_str(&format!(" stripesize:{s}b"));
            }
            if let Some(m) = l.mirrors {
                line.push_str(&format!(" mirrors:{m}"));
            } else if let Some(s) = l.stripes {
                line.push_str(&format!(" stripes:{s}"));
            }
            vec![line]
        }
        Component::Crypt(c) => {
            let mut line = format!("crypt /dev/mapper/{} {} type={}", c.name, c.dev, c.version);
            line.push_str(&kv("cipher", &c.cipher));
            line.push_str(&kv("key_size", &c.key_size.map(|k| k.to_string())));
            line.push_str(&kv("hash", &c.hash));
            line.push_str(&kv("uuid", &c.uuid));
            line.push_str(&kv("pbkdf", &c.pbkdf));
            line.push_str(&kv("keyfile", &c.keyfile));
            line.push_str(&kv("password", &c.password));
            vec![line]
        }
        Component::Filesystem(f) => {
            let mp = f.mountpoint.as_deref().unwrap_or("none");
            let mut line = format!(
                "fs {} {mp} {} uuid={} label={}",
                f.dev,
                f.fstype,
                f.uuid.as_deref().unwrap_or(""),
                f.label.as_deref().unwrap_or("")
            );
            line.push_str(&kv(
                "blocksize",
                &f.block_size
                    .filter(|_| is_ext(&f.fstype))
                    .map(|b| b.to_string()),
            ));
            line.push_str(&kv("reserved_blocks", &f.reserved_blocks));
            line.push_str(&kv("max_mounts", &f.max_mounts.map(|m| m.to_string())));
            line.push_str(&kv(
                "check_interval",
                &f.check_interval.map(|s| format!("{}d", s / 86_400)),
            ));
            line.push_str(&kv(
                "bytes_per_inode",
                &f.bytes_per_inode.map(|b| b.to_string()),
            ));
            line.push_str(&kv("default_mount_options", &f.default_mount_options));
            line.push_str(&kv("options", &f.options));
            let mut out = vec![line];
            if f.fstype == FsType::Btrfs {
                out.extend(btrfs_lines(layout, f));
            }
            out
        }
        // written after their filesystem by btrfs_lines
        Component::BtrfsSubvol(_) | Component::BtrfsMount(_) => Vec::new(),
        Component::Swap(s) => vec![format!(
            "swap {} uuid={} label={}",
            s.dev,
            s.uuid.as_deref().unwrap_or(""),
            s.label.as_deref().unwrap_or("")
        )],
        Component::Bootloader(b) => vec![format!(
            "# rear-rs bootloader (ReaR keeps this in recovery/bootloader): {}",
            super::file::component_line(&Component::Bootloader(b.clone()), None)
        )],
        Component::EfiEntry(e) => vec![format!(
            "# rear-rs {}",
            super::file::component_line(&Component::EfiEntry(e.clone()), None)
        )],
        Component::Foreign(f) => vec![f.rear.clone()],
    }
}

fn is_ext(t: &FsType) -> bool {
    matches!(t, FsType::Ext2 | FsType::Ext3 | FsType::Ext4)
}

/// The btrfs lines ReaR writes after a btrfs `fs` line: subvolumes, mounted subvolumes (the
/// filesystem's own mount point included) and no-copy-on-write attributes. An excluded
/// subvolume or mount is written commented out.
fn btrfs_lines(layout: &Layout, f: &Filesystem) -> Vec<String> {
    let mp = f.mountpoint.as_deref().unwrap_or("none");
    let mut out = Vec::new();
    let hash = |e: &Entry| if e.excluded.is_some() { "#" } else { "" };
    for e in &layout.entries {
        if let Component::BtrfsSubvol(s) = &e.component
            && s.dev == f.dev
        {
            let kw = if s.default {
                "btrfsdefaultsubvol"
            } else if s.snapshot {
                "btrfssnapshotsubvol"
            } else {
                "btrfsnormalsubvol"
            };
            out.push(format!(
                "{}{kw} {} {mp} {} {}",
                hash(e),
                s.dev,
                s.id,
                s.path
            ));
        }
    }
    let own_subvol = f
        .options
        .as_deref()
        .and_then(|o| o.split(',').find_map(|x| x.strip_prefix("subvol=")))
        .unwrap_or("/");
    out.push(format!(
        "btrfsmountedsubvol {} {mp} {} {own_subvol}",
        f.dev,
        f.options.as_deref().unwrap_or("defaults")
    ));
    for e in &layout.entries {
        if let Component::BtrfsMount(m) = &e.component
            && m.dev == f.dev
        {
            out.push(
                format!(
                    "{}btrfsmountedsubvol {} {} {} {}",
                    hash(e),
                    m.dev,
                    m.mountpoint,
                    m.options.as_deref().unwrap_or("defaults"),
                    m.subvol.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            );
        }
    }
    for e in &layout.entries {
        if let Component::BtrfsSubvol(s) = &e.component
            && s.dev == f.dev
            && s.nocow
        {
            out.push(format!("{}btrfsnocopyonwrite {}", hash(e), s.path));
        }
    }
    out
}

/// Writes a ReaR `disklayout.conf`. Excluded components are written commented out, as ReaR
/// does. The boot loader and EFI entries, which ReaR keeps elsewhere, become comments.
pub fn export(layout: &Layout) -> String {
    let mut out = String::from("# Disk layout exported by rear-rs from its layout file");
    if let Some(h) = &layout.header.hostname {
        out.push_str(&format!(" (host {h})"));
    }
    out.push('\n');
    out.push_str("# Format: see ReaR's doc/user-guide/06-layout-configuration.md\n");
    for e in &layout.entries {
        if let Some(reason) = &e.excluded {
            out.push_str(&format!("# excluded: {reason}\n"));
        }
        for line in rear_lines(layout, &e.component) {
            if e.excluded.is_some() && !line.starts_with('#') {
                out.push('#');
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_like_rear() {
        assert_eq!(
            percent_encode("EFI System Partition"),
            "EFI%20System%20Partition"
        );
        assert_eq!(percent_encode("a.b~c_d-e"), "a.b~c_d-e");
        assert_eq!(percent_decode("EFI%20System"), "EFI System");
        assert_eq!(
            percent_decode(&percent_encode("bin\u{e4}r/x")),
            "bin\u{e4}r/x"
        );
    }

    #[test]
    fn primary_is_a_name_on_gpt_and_a_role_on_msdos() {
        // synthetic: parted names GPT partitions "primary" by default
        let (l, d) = import(
            "disk /dev/sda 1000000 gpt\npart /dev/sda 500000 4096 primary none /dev/sda1\n\
             disk /dev/sdb 1000000 msdos\npart /dev/sdb 500000 4096 primary boot /dev/sdb1\n",
        );
        assert!(d.is_empty(), "{d:?}");
        let part = |id: &str| match l.find(id).map(|e| &e.component) {
            Some(Component::Partition(p)) => (p.role.clone(), p.name.clone()),
            _ => panic!("{id}"),
        };
        assert_eq!(part("/dev/sda1"), (None, Some("primary".to_string())));
        assert_eq!(part("/dev/sdb1"), (Some(PartRole::Primary), None));
        // and both export back as "primary"
        let e = export(&l);
        assert!(
            e.contains("part /dev/sda 500000 4096 primary none /dev/sda1"),
            "{e}"
        );
        assert!(
            e.contains("part /dev/sdb 500000 4096 primary boot /dev/sdb1"),
            "{e}"
        );
    }

    #[test]
    fn label_with_spaces_is_continued() {
        let kv = key_values(&["uuid=1", "label=my", "disk", "options=rw"]);
        assert_eq!(kv[1], ("label".to_string(), "my disk".to_string()));
        assert_eq!(kv[2].0, "options");
    }
}
