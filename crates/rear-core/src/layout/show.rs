//! The layout as a dependency tree, from disks up to mount points (`rear layout show`, the
//! layout part of `rear dump`).
//!
//! Contract: [`tree`] renders every entry once, below the first component it depends on; a
//! component with several parents (an md array on two partitions, a VG on several PVs) is
//! listed again below the other parents as a one-line reference `(-> see ID)`. Excluded
//! components are marked with their reason. The text is plain ASCII-art, for terminals and logs.

use super::model::{Component, Layout, PartTable};

/// A size in binary units with one decimal (`20.0 GiB`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    let mut whole = bytes;
    while whole >= 1024 && unit < UNITS.len() - 1 {
        whole /= 1024;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes} B");
    }
    let div = 1u64 << (10 * unit);
    let tenths = (u128::from(bytes) * 10 / u128::from(div)) % 10;
    format!("{whole}.{tenths} {}", UNITS[unit])
}

/// A one-line description of a component.
pub fn describe(c: &Component) -> String {
    let opt = |label: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!(" {label}={v}"))
            .unwrap_or_default()
    };
    match c {
        Component::Disk(d) => {
            let table = if d.table == PartTable::None {
                String::new()
            } else {
                format!(" {}", d.table)
            };
            let model = d
                .model
                .as_ref()
                .map(|m| format!(" \"{m}\""))
                .unwrap_or_default();
            format!(
                "{} disk {}{table}{model}{}",
                d.dev,
                human_size(d.size),
                opt("serial", &d.serial)
            )
        }
        Component::Partition(p) => {
            let flags = if p.flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", p.flags.join(","))
            };
            let name = p
                .name
                .as_ref()
                .map(|n| format!(" \"{n}\""))
                .unwrap_or_default();
            format!(
                "{} part {} {}{name}{flags}",
                p.dev,
                p.number,
                human_size(p.size)
            )
        }
        Component::Raid(r) => format!(
            "{} md {} of {}{}",
            r.dev,
            r.level,
            r.devices.join(","),
            opt("name", &r.name)
        ),
        Component::Multipath(m) => format!(
            "{} multipath {} paths {}",
            m.dev,
            human_size(m.size),
            m.slaves.join(",")
        ),
        Component::Crypt(c) => format!(
            "/dev/mapper/{} {} on {}{}",
            c.name,
            c.version,
            c.dev,
            opt("cipher", &c.cipher)
        ),
        Component::Pv(p) => format!("pv:{} LVM PV{}", p.dev, opt("vg", &p.vg)),
        Component::Vg(v) => format!("/dev/{} VG extents {}", v.name, human_size(v.extent_size)),
        Component::Lv(l) => {
            let pool = l
                .pool
                .as_ref()
                .map(|p| format!(" in pool {p}"))
                .unwrap_or_default();
            format!("{} LV {} {}{pool}", c.id(), l.layout, human_size(l.size))
        }
        Component::Filesystem(f) => format!(
            "{} {} on {}{}",
            f.mountpoint.as_deref().unwrap_or("(not mounted)"),
            f.fstype,
            f.dev,
            opt("label", &f.label)
        ),
        Component::BtrfsSubvol(s) => {
            let mut tags = Vec::new();
            if s.default {
                tags.push("default");
            }
            if s.snapshot {
                tags.push("snapshot");
            }
            if s.nocow {
                tags.push("nocow");
            }
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", tags.join(","))
            };
            format!("subvolume {} (id {}){tags}", s.path, s.id)
        }
        Component::BtrfsMount(m) => format!(
            "{} btrfs subvolume {}",
            m.mountpoint,
            m.subvol.as_deref().unwrap_or("?")
        ),
        Component::Swap(s) => format!("swap on {}{}", s.dev, opt("label", &s.label)),
        Component::Bootloader(b) => {
            let disks = if b.disks.is_empty() {
                String::new()
            } else {
                format!(" on {}", b.disks.join(","))
            };
            format!("bootloader {}{disks}{}", b.kind, opt("esp", &b.esp))
        }
        Component::EfiEntry(e) => format!(
            "EFI Boot{} \"{}\"{}",
            e.num,
            e.label,
            opt("loader", &e.loader)
        ),
        Component::Foreign(f) => format!("(kept from ReaR, not recreated) {}", f.rear),
    }
}

/// Renders the dependency tree.
pub fn tree(layout: &Layout) -> String {
    let deps = layout.dependencies();
    let n = layout.entries.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, list) in deps.iter().enumerate() {
        let parents: Vec<usize> = list
            .iter()
            .filter_map(|d| d.as_ref().ok().copied())
            .collect();
        if parents.is_empty() {
            roots.push(i);
        }
        for p in parents {
            if !children[p].contains(&i) {
                children[p].push(i);
            }
        }
    }
    let mut t = Tree {
        layout,
        children,
        shown: vec![false; n],
        out: String::new(),
    };
    for &r in &roots {
        t.walk(r, "", Branch::Top);
    }
    // entries in a cycle have no root; list them so nothing is hidden
    for i in 0..n {
        if !t.shown[i] {
            t.walk(i, "", Branch::Top);
        }
    }
    t.out
}

#[derive(Clone, Copy, PartialEq)]
enum Branch {
    Top,
    Middle,
    Last,
}

struct Tree<'a> {
    layout: &'a Layout,
    children: Vec<Vec<usize>>,
    shown: Vec<bool>,
    out: String,
}

impl Tree<'_> {
    fn walk(&mut self, i: usize, prefix: &str, branch: Branch) {
        let (mark, next) = match branch {
            Branch::Top => ("", String::new()),
            Branch::Last => ("`-- ", format!("{prefix}    ")),
            Branch::Middle => ("|-- ", format!("{prefix}|   ")),
        };
        let e = &self.layout.entries[i];
        if self.shown[i] {
            self.out
                .push_str(&format!("{prefix}{mark}(-> see {})\n", e.component.id()));
            return;
        }
        self.shown[i] = true;
        let excl = e
            .excluded
            .as_ref()
            .map(|r| format!("  [excluded: {r}]"))
            .unwrap_or_default();
        self.out
            .push_str(&format!("{prefix}{mark}{}{excl}\n", describe(&e.component)));
        let kids = self.children[i].clone();
        for (k, &c) in kids.iter().enumerate() {
            let b = if k + 1 == kids.len() {
                Branch::Last
            } else {
                Branch::Middle
            };
            self.walk(c, &next, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1 << 20), "1.0 MiB");
        assert_eq!(human_size(21_474_836_480), "20.0 GiB");
        assert_eq!(human_size(1_610_612_736), "1.5 GiB");
    }
}
