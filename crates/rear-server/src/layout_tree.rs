//! The layout of a report as a tree, from disks up to filesystems and swap, for the host page.
//!
//! A report's `layout` is either rear-rs's layout file (`disk dev=/dev/sda size=... table=gpt`,
//! format in `docs/layout.md`) or a classic ReaR `disklayout.conf` (`disk /dev/sda 21474836480
//! gpt`, positional fields). rear-server does not link rear-core, so this module reads the
//! reference fields of both itself: `part` → its disk, `raid`/`raidarray` → its member devices,
//! `multipath` → its slaves, `crypt` → the LUKS device, `pv`/`lvmdev` → VG, `lv`/`lvmvol` → VG,
//! `fs` and `swap` → their device. Every component is shown once, below its first parent; under
//! further parents (an md array on two partitions, a VG on several PVs) a short reference points
//! to it. Components whose parent is not in the layout are roots. Other lines (boot loader, btrfs
//! subvolumes, ...) are not part of the tree; the host page shows the file next to it.

use std::collections::HashMap;

use crate::web::esc;

#[derive(Debug)]
struct Node {
    id: String,
    label: String,
    parents: Vec<String>,
}

/// Decodes `%XX` escapes (spaces in names, ...); invalid escapes stay as written.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("3f");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn human_size(text: &str) -> String {
    let Ok(bytes) = text.trim_end_matches('b').parse::<u64>() else {
        return String::new();
    };
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `/dev/mapper/<vg>-<lv>` with dashes doubled, as device-mapper names LVs.
fn lv_id(vg: &str, lv: &str) -> String {
    format!(
        "/dev/mapper/{}-{}",
        vg.replace('-', "--"),
        lv.replace('-', "--")
    )
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(unescape)
        .collect()
}

/// Parses the reference structure of a layout (either format).
fn parse(layout: &str) -> (Vec<Node>, HashMap<String, String>) {
    let mut nodes: Vec<Node> = Vec::new();
    let mut aliases: HashMap<String, String> = HashMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut add = |nodes: &mut Vec<Node>, id: String, label: String, parents: Vec<String>| {
        if let Some(&i) = index.get(&id) {
            // A VG named by its PVs first and its own line later: keep one node.
            let n: &mut Node = &mut nodes[i];
            if !label.is_empty() {
                n.label = label;
            }
            n.parents.extend(parents);
        } else {
            index.insert(id.clone(), nodes.len());
            nodes.push(Node { id, label, parents });
        }
    };
    for line in layout.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let mut kv: HashMap<&str, String> = HashMap::new();
        let mut pos: Vec<String> = Vec::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.starts_with('/') => {
                    kv.entry(k).or_insert_with(|| unescape(v));
                }
                _ => pos.push(unescape(w)),
            }
        }
        let get = |k: &str, p: usize| -> String {
            kv.get(k)
                .cloned()
                .or_else(|| pos.get(p).cloned())
                .unwrap_or_default()
        };
        match keyword {
            "disk" | "multipath" => {
                let dev = get("dev", 0);
                let table = get("table", 2);
                let mut parents = kv.get("slaves").map(|s| list(s)).unwrap_or_default();
                if keyword == "multipath" && parents.is_empty() {
                    parents = pos.get(3).map(|s| list(s)).unwrap_or_default();
                }
                let label = format!("{keyword} {dev} {} {}", human_size(&get("size", 1)), table);
                add(&mut nodes, dev, label.trim_end().to_string(), parents);
            }
            "part" => {
                let (dev, disk, size, name, flags) = if kv.contains_key("dev") {
                    (
                        get("dev", 99),
                        get("disk", 99),
                        get("size", 99),
                        get("name", 99),
                        get("flags", 99),
                    )
                } else {
                    (get("", 5), get("", 0), get("", 1), get("", 3), get("", 4))
                };
                let mut label = format!("part {dev} {}", human_size(&size));
                if !name.is_empty() && name != "rear-noname" {
                    label.push_str(&format!(" name={name}"));
                }
                if !flags.is_empty() && flags != "none" {
                    label.push_str(&format!(" flags={flags}"));
                }
                add(&mut nodes, dev, label, vec![disk]);
            }
            "raid" | "raidarray" => {
                let dev = get("dev", 0);
                let label = format!("raid {dev} {}", get("level", 99));
                let mut parents = kv.get("devices").map(|d| list(d)).unwrap_or_default();
                parents.extend(kv.get("spares").map(|d| list(d)).unwrap_or_default());
                add(&mut nodes, dev, label, parents);
            }
            "crypt" => {
                let (id, src) = match kv.get("name") {
                    Some(name) => (format!("/dev/mapper/{name}"), get("dev", 99)),
                    None => (get("", 0), get("", 1)),
                };
                let label = format!("crypt {id} {}", get("type", 99));
                add(&mut nodes, id, label.trim_end().to_string(), vec![src]);
            }
            "pv" => {
                if let Some(vg) = kv.get("vg") {
                    add(
                        &mut nodes,
                        format!("/dev/{vg}"),
                        String::new(),
                        vec![get("dev", 99)],
                    );
                }
            }
            "lvmdev" => {
                let vg = get("", 0);
                add(&mut nodes, vg, String::new(), vec![get("", 1)]);
            }
            "vg" | "lvmgrp" => {
                let id = match kv.get("name") {
                    Some(n) => format!("/dev/{n}"),
                    None => get("", 0),
                };
                let size = kv.get("size").map(|s| human_size(s)).unwrap_or_default();
                let label = format!("vg {} {size}", id.trim_start_matches("/dev/"));
                add(&mut nodes, id, label.trim_end().to_string(), Vec::new());
            }
            "lv" | "lvmvol" => {
                let (vg, name, size) = if kv.contains_key("vg") {
                    (get("vg", 99), get("name", 99), get("size", 99))
                } else {
                    (
                        get("", 0).trim_start_matches("/dev/").to_string(),
                        get("", 1),
                        get("", 2),
                    )
                };
                let id = lv_id(&vg, &name);
                aliases.insert(format!("/dev/{vg}/{name}"), id.clone());
                let mut label = format!("lv {vg}/{name} {}", human_size(&size));
                if let Some(pool) = kv.get("pool") {
                    label.push_str(&format!(" thin in {pool}"));
                }
                add(&mut nodes, id, label, vec![format!("/dev/{vg}")]);
            }
            "fs" => {
                let (dev, mnt, ty) = if kv.contains_key("dev") {
                    (get("dev", 99), get("mountpoint", 99), get("type", 99))
                } else {
                    (get("", 0), get("", 1), get("", 2))
                };
                let label = format!(
                    "fs {ty} {}",
                    if mnt.is_empty() {
                        "(not mounted)"
                    } else {
                        &mnt
                    }
                );
                add(&mut nodes, format!("fs:{dev}:{mnt}"), label, vec![dev]);
            }
            "swap" => {
                let dev = get("dev", 0);
                add(&mut nodes, format!("swap:{dev}"), "swap".into(), vec![dev]);
            }
            _ => {}
        }
    }
    (nodes, aliases)
}

/// The layout as nested HTML lists (`<ul class="tree">`); empty when the layout has no disks,
/// partitions, arrays, volumes or filesystems.
pub fn tree_html(layout: &str) -> String {
    let (nodes, aliases) = parse(layout);
    if nodes.is_empty() {
        return String::new();
    }
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let resolve = |p: &str| {
        index
            .get(p)
            .or_else(|| aliases.get(p).and_then(|a| index.get(a.as_str())))
            .copied()
    };
    // children[i]: (child, is the child's first resolvable parent)
    let mut children: Vec<Vec<(usize, bool)>> = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    let mut dangling: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let mut first = true;
        for p in &n.parents {
            match resolve(p) {
                Some(pi) if pi != i => {
                    children[pi].push((i, first));
                    first = false;
                }
                _ => dangling[i].push(p.clone()),
            }
        }
        if first {
            roots.push(i);
        }
    }
    fn render(
        i: usize,
        nodes: &[Node],
        children: &[Vec<(usize, bool)>],
        dangling: &[Vec<String>],
        depth: usize,
        out: &mut String,
    ) {
        let n = &nodes[i];
        let label = if n.label.is_empty() { &n.id } else { &n.label };
        out.push_str(&format!("<li><code>{}</code>", esc(label)));
        if !dangling[i].is_empty() && depth == 0 {
            out.push_str(&format!(
                " <small>on {}</small>",
                esc(&dangling[i].join(", "))
            ));
        }
        // Depth is bounded by the number of nodes (a cycle in a hand-edited file ends here).
        if !children[i].is_empty() && depth < nodes.len() {
            out.push_str("<ul>");
            for &(c, first) in &children[i] {
                if first {
                    render(c, nodes, children, dangling, depth + 1, out);
                } else {
                    let cn = &nodes[c];
                    let l = if cn.label.is_empty() {
                        &cn.id
                    } else {
                        &cn.label
                    };
                    out.push_str(&format!(
                        "<li class=\"ref\"><code>{}</code> <small>(also on another device, shown above)</small></li>",
                        esc(l)
                    ));
                }
            }
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
    let mut out = String::from("<ul class=\"tree\">");
    for r in roots {
        render(r, &nodes, &children, &dangling, 0, &mut out);
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Probe output of the luks2-lvm lab machine (rear-rs layout file, from rear-core's snapshot).
    const RS_LUKS_LVM: &str =
        include_str!("../../rear-core/src/layout/snapshots/layout_probe__lab_luks2-lvm.snap");
    /// ReaR 2.7 format: md RAID1 on two disks, LVM with thin volumes.
    const REAR_MD_LVM: &str =
        include_str!("../../rear-core/src/layout/testdata/synthetic-lvm-on-md-raid1.conf");

    #[test]
    fn rear_rs_layout_nests_luks_lvm_and_filesystems() {
        let html = tree_html(RS_LUKS_LVM);
        let expected = "<ul class=\"tree\"><li><code>disk /dev/vda 2.0 GiB gpt</code><ul>\
            <li><code>part /dev/vda1 256.0 MiB name=boot</code><ul><li><code>fs ext4 /boot</code></li></ul></li>\
            <li><code>part /dev/vda2 1.7 GiB name=crypt</code><ul><li><code>crypt /dev/mapper/vda2_crypt luks2</code><ul>\
            <li><code>vg vgcrypt 1.7 GiB</code><ul>\
            <li><code>lv vgcrypt/home 320.0 MiB</code><ul><li><code>fs xfs /home</code></li></ul></li>\
            <li><code>lv vgcrypt/root 600.0 MiB</code><ul><li><code>fs ext4 /</code></li></ul></li>\
            <li><code>lv vgcrypt/swap 128.0 MiB</code><ul><li><code>swap</code></li></ul></li>\
            </ul></li></ul></li></ul></li></ul></li></ul>";
        assert_eq!(html, expected);
    }

    #[test]
    fn rear_27_layout_shows_the_array_under_both_disks() {
        let html = tree_html(REAR_MD_LVM);
        assert!(html.starts_with("<ul class=\"tree\"><li><code>disk /dev/sda 20.0 GiB gpt</code>"));
        // md0 below its first member, a reference below the second.
        assert_eq!(html.matches("<code>raid /dev/md0 raid1</code>").count(), 2);
        assert_eq!(
            html.matches("<li class=\"ref\"><code>raid /dev/md0 raid1</code>")
                .count(),
            1
        );
        for part in [
            "<code>part /dev/sda2 1.0 GiB name=boot flags=legacy_boot</code><ul><li><code>fs ext4 /boot</code>",
            "<code>vg vg00</code><ul><li><code>lv vg00/swap 1.0 GiB</code><ul><li><code>swap</code>",
            "<code>lv vg00/root 8.0 GiB</code><ul><li><code>fs xfs /</code>",
            "<code>lv vg00/data 6.0 GiB</code><ul><li><code>fs ext4 /srv/data</code>",
        ] {
            assert!(html.contains(part), "{part} in {html}");
        }
    }

    #[test]
    fn names_are_escaped_and_unknown_parents_are_roots() {
        let html = tree_html("fs dev=/dev/sdz1 type=ext4 mountpoint=/a%20<b>\n");
        assert_eq!(
            html,
            "<ul class=\"tree\"><li><code>fs ext4 /a &lt;b&gt;</code> <small>on /dev/sdz1</small></li></ul>"
        );
        assert_eq!(tree_html("# nothing\n"), "");
    }
}
