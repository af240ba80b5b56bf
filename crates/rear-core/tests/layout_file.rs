//! Layout file tests: losslessness (a property test over random components with awkward
//! values), and a clear error naming the file and line for every kind of bad input.

// the random generator truncates random bits on purpose
#![allow(clippy::cast_possible_truncation)]

use std::path::Path;

use rear_core::layout::file::{component_line, parse_component_line, read, write};
use rear_core::layout::model::*;
use rear_core::layout::{Component, Entry, Layout};

/// xorshift64*: deterministic, so a failure is reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", " ", "%", "%20", "#", "=", ",", "/", "\t", "é", "日本", "-", "_", ".",
            "'", "\"", "\\", "x=y", "",
        ];
        (0..self.below(6))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn opt_text(&mut self) -> Option<String> {
        (self.below(3) > 0).then(|| self.text())
    }
    fn opt_num(&mut self) -> Option<u64> {
        (self.below(2) > 0).then(|| self.next() >> self.below(64))
    }
    fn list(&mut self) -> Vec<String> {
        (0..self.below(4)).map(|_| self.text()).collect()
    }
    fn flag(&mut self) -> bool {
        self.below(2) == 1
    }
}

fn random_component(r: &mut Rng) -> Component {
    match r.below(15) {
        0 => Component::Disk(Disk {
            dev: r.text(),
            size: r.next(),
            table: PartTable::from(r.text().as_str()),
            ptuuid: r.opt_text(),
            log_sec: r.opt_num(),
            phy_sec: r.opt_num(),
            first_lba: r.opt_num(),
            last_lba: r.opt_num(),
            model: r.opt_text(),
            serial: r.opt_text(),
            wwn: r.opt_text(),
            tran: r.opt_text(),
            removable: r.flag(),
        }),
        1 => Component::Partition(Partition {
            dev: r.text(),
            disk: r.text(),
            number: r.next() as u32,
            start: r.next(),
            size: r.next(),
            ptype: r.opt_text(),
            name: r.opt_text(),
            role: r.opt_text().map(|t| PartRole::from(t.as_str())),
            flags: r.list(),
            partuuid: r.opt_text(),
            attrs: r.opt_text(),
        }),
        2 => Component::Raid(Raid {
            dev: r.text(),
            level: r.text(),
            raid_devices: r.opt_num().map(|n| n as u32),
            devices: r.list(),
            spares: r.list(),
            metadata: r.opt_text(),
            chunk: r.opt_num(),
            layout: r.opt_text(),
            name: r.opt_text(),
            uuid: r.opt_text(),
            size: r.opt_num(),
            dev_size: r.opt_num(),
            bitmap: r.opt_text(),
            table: r.opt_text().map(|t| PartTable::from(t.as_str())),
            ptuuid: r.opt_text(),
        }),
        3 => Component::Multipath(Multipath {
            dev: r.text(),
            wwid: r.opt_text(),
            size: r.next(),
            slaves: r.list(),
            table: None,
            ptuuid: r.opt_text(),
        }),
        4 => Component::Crypt(Crypt {
            name: r.text(),
            dev: r.text(),
            version: LuksVersion::from(r.text().as_str()),
            cipher: r.opt_text(),
            key_size: r.opt_num(),
            hash: r.opt_text(),
            uuid: r.opt_text(),
            pbkdf: r.opt_text(),
            label: r.opt_text(),
            subsystem: r.opt_text(),
            sector_size: r.opt_num(),
            data_offset: r.opt_num(),
            keyfile: r.opt_text(),
            password: r.opt_text(),
        }),
        5 => Component::Pv(Pv {
            dev: r.text(),
            vg: r.opt_text(),
            uuid: r.opt_text(),
            size: r.opt_num(),
        }),
        6 => Component::Vg(Vg {
            name: r.text(),
            extent_size: r.next(),
            extents: r.opt_num(),
            size: r.opt_num(),
            uuid: r.opt_text(),
        }),
        7 => Component::Lv(Lv {
            vg: r.text(),
            name: r.text(),
            size: r.next(),
            layout: LvLayout::from(r.text().as_str()),
            stripes: r.opt_num().map(|n| n as u32),
            stripe_size: r.opt_num(),
            mirrors: r.opt_num().map(|n| n as u32),
            pool: r.opt_text(),
            pool_metadata_size: r.opt_num(),
            chunk_size: r.opt_num(),
            uuid: r.opt_text(),
        }),
        8 => Component::Filesystem(Filesystem {
            dev: r.text(),
            fstype: FsType::from(r.text().as_str()),
            mountpoint: r.opt_text(),
            options: r.opt_text(),
            uuid: r.opt_text(),
            label: r.opt_text(),
            block_size: r.opt_num(),
            inode_size: r.opt_num(),
            bytes_per_inode: r.opt_num(),
            reserved_blocks: r.opt_text(),
            max_mounts: r.opt_num().map(|n| n as i64),
            check_interval: r.opt_num(),
            default_mount_options: r.opt_text(),
            features: r.list(),
            sector_size: r.opt_num(),
            agcount: r.opt_num(),
            sunit: r.opt_num(),
            swidth: r.opt_num(),
            log_size: r.opt_num(),
            fat_size: r.opt_num().map(|n| n as u32),
            node_size: r.opt_num(),
            data_profile: r.opt_text(),
            metadata_profile: r.opt_text(),
        }),
        9 => Component::BtrfsSubvol(BtrfsSubvol {
            dev: r.text(),
            id: r.next(),
            path: r.text(),
            default: r.flag(),
            snapshot: r.flag(),
            nocow: r.flag(),
        }),
        10 => Component::BtrfsMount(BtrfsMount {
            dev: r.text(),
            mountpoint: r.text(),
            subvol: r.opt_text(),
            options: r.opt_text(),
        }),
        11 => Component::Swap(Swap {
            dev: r.text(),
            uuid: r.opt_text(),
            label: r.opt_text(),
            size: r.opt_num(),
        }),
        12 => Component::Bootloader(Bootloader {
            kind: BootloaderKind::from(r.text().as_str()),
            disks: r.list(),
            esp: r.opt_text(),
            loader: r.opt_text(),
        }),
        13 => Component::EfiEntry(EfiEntry {
            num: r.text(),
            label: r.text(),
            active: r.flag(),
            order: r.opt_num().map(|n| n as u32),
            current: r.flag(),
            partuuid: r.opt_text(),
            loader: r.opt_text(),
            path: r.opt_text(),
        }),
        _ => Component::Foreign(Foreign { rear: r.text() }),
    }
}

#[test]
fn every_component_line_round_trips() {
    // a list with one empty item cannot be told from an empty list: the writer leaves the key
    // out for both, and the reader gives an empty list
    fn normalise(c: Component) -> Component {
        let fix = |v: Vec<String>| if v == [String::new()] { Vec::new() } else { v };
        match c {
            Component::Partition(mut p) => {
                p.flags = fix(p.flags);
                Component::Partition(p)
            }
            Component::Raid(mut x) => {
                x.devices = fix(x.devices);
                x.spares = fix(x.spares);
                Component::Raid(x)
            }
            Component::Multipath(mut m) => {
                m.slaves = fix(m.slaves);
                Component::Multipath(m)
            }
            Component::Filesystem(mut f) => {
                f.features = fix(f.features);
                Component::Filesystem(f)
            }
            Component::Bootloader(mut b) => {
                b.disks = fix(b.disks);
                Component::Bootloader(b)
            }
            other => other,
        }
    }
    for seed in 1..=4000u64 {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let c = normalise(random_component(&mut r));
        let excluded = r.opt_text();
        let line = component_line(&c, excluded.as_deref());
        assert!(
            !line.contains('\n') && !line.contains('#'),
            "seed {seed}: {line}"
        );
        let (back, ex) =
            parse_component_line(&line).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{line}"));
        assert_eq!(back, c, "seed {seed}: {line}");
        assert_eq!(ex, excluded, "seed {seed}: {line}");
        assert_eq!(component_line(&back, ex.as_deref()), line, "seed {seed}");
    }
}

fn sample() -> Layout {
    let mut l = Layout::new();
    l.header.hostname = Some("web 1".into());
    l.push(Component::Disk(Disk {
        dev: "/dev/sda".into(),
        size: 1 << 34,
        table: PartTable::Gpt,
        model: Some("QEMU HARDDISK".into()),
        ..Disk::default()
    }));
    l.push(Component::Partition(Partition {
        dev: "/dev/sda1".into(),
        disk: "/dev/sda".into(),
        number: 1,
        start: 1 << 20,
        size: 1 << 33,
        name: Some("EFI System".into()),
        flags: vec!["esp".into(), "boot".into()],
        ..Partition::default()
    }));
    l.push(Component::Partition(Partition {
        dev: "/dev/sda2".into(),
        disk: "/dev/sda".into(),
        number: 2,
        start: 1 << 33,
        size: 1 << 33,
        ..Partition::default()
    }));
    l.push(Component::Pv(Pv {
        dev: "/dev/sda2".into(),
        vg: Some("vg-0".into()),
        ..Pv::default()
    }));
    l.push(Component::Vg(Vg {
        name: "vg-0".into(),
        extent_size: 4 << 20,
        ..Vg::default()
    }));
    l.push(Component::Lv(Lv {
        vg: "vg-0".into(),
        name: "pool".into(),
        size: 1 << 32,
        layout: LvLayout::ThinPool,
        chunk_size: Some(65536),
        ..Lv::default()
    }));
    l.push(Component::Lv(Lv {
        vg: "vg-0".into(),
        name: "root".into(),
        size: 1 << 33,
        layout: LvLayout::Thin,
        pool: Some("pool".into()),
        ..Lv::default()
    }));
    l.push(Component::Filesystem(Filesystem {
        dev: "/dev/mapper/vg--0-root".into(),
        fstype: FsType::Ext4,
        mountpoint: Some("/".into()),
        label: Some("my root #1".into()),
        ..Filesystem::default()
    }));
    l.push(Component::Filesystem(Filesystem {
        dev: "/dev/sda1".into(),
        fstype: FsType::Vfat,
        mountpoint: Some("/boot/efi".into()),
        fat_size: Some(32),
        ..Filesystem::default()
    }));
    l.entries[8].comments = vec![" the ESP".into()];
    l.entries.push(Entry {
        component: Component::Swap(Swap {
            dev: "/dev/sdb1".into(),
            ..Swap::default()
        }),
        excluded: Some("EXCLUDE_RECREATE=swap:/dev/sdb1".into()),
        comments: Vec::new(),
    });
    l.trailing_comments = vec![" end".into()];
    l
}

#[test]
fn whole_file_round_trips_and_is_canonical() {
    let l = sample();
    let text = write(&l);
    let back = read(&text, Path::new("layout.conf")).unwrap();
    assert_eq!(back, l);
    assert_eq!(write(&back), text);
    // an admin's edit in vi: extra blanks, fields reordered, a comment; still the same layout
    let edited = text.replace(
        "part dev=/dev/sda2 disk=/dev/sda number=2",
        "part   number=2  disk=/dev/sda\tdev=/dev/sda2",
    );
    assert_eq!(read(&edited, Path::new("layout.conf")).unwrap(), l);
    assert!(text.starts_with("layout version=1 hostname=web%201\n"));
    assert!(text.contains("label=my%20root%20%231"));
}

/// Reads `text` and returns the error message.
fn error_of(text: &str) -> String {
    read(text, Path::new("/var/lib/rear/layout/layout.conf"))
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_keyword_names_file_and_line() {
    let e = error_of("layout version=1\ndisk dev=/dev/sda size=1 table=gpt\n\nlvmthing name=x\n");
    assert!(
        e.starts_with("/var/lib/rear/layout/layout.conf:4: unknown keyword 'lvmthing'"),
        "{e}"
    );
}

#[test]
fn dependency_cycle_names_file_line_and_components() {
    // the PV sits on an LV of its own VG
    let text = "layout version=1\npv dev=/dev/mapper/vg-lv vg=vg\nvg name=vg extent_size=4194304\nlv vg=vg name=lv size=1073741824 layout=linear\n";
    let e = error_of(text);
    assert!(e.starts_with("/var/lib/rear/layout/layout.conf:"), "{e}");
    assert!(e.contains("dependency cycle:"), "{e}");
    for id in ["pv:/dev/mapper/vg-lv", "/dev/vg", "/dev/mapper/vg-lv"] {
        assert!(e.contains(id), "{e}");
    }
}

#[test]
fn other_bad_input_names_file_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "layout version=1\ndisk dev=/dev/sda size=12x table=gpt\n",
            ":2: field 'size' '12x' is not a number",
        ),
        (
            "layout version=1\ndisk dev=/dev/sda table=gpt\n",
            ":2: field 'size' is required",
        ),
        (
            "layout version=1\ndisk dev=/dev/sda size=1 table=gpt colour=red\n",
            ":2: unknown field(s) for 'disk': colour",
        ),
        (
            "layout version=1\ndisk dev=/dev/sda size=1 size=2 table=gpt\n",
            ":2: key 'size' appears twice",
        ),
        (
            "layout version=1\ndisk dev=/dev/sda size=1 table\n",
            ":2: 'table' is not key=value",
        ),
        (
            "layout version=1\npart dev=/dev/sdb1 disk=/dev/sdb number=1 start=0 size=1\n",
            ":2: /dev/sdb1 depends on /dev/sdb, which is not in the layout",
        ),
        (
            "layout version=1\ndisk dev=/dev/sda size=1 table=gpt\ndisk dev=/dev/sda size=2 table=gpt\n",
            ":3: component /dev/sda is defined twice",
        ),
        ("layout version=9\n", ":1: layout format version 9 is newer"),
        (
            "disk dev=/dev/sda size=1 table=gpt\n",
            ":1: the first line must be the header",
        ),
        (
            "# only a comment\n",
            ":1: no 'layout version=N' header line",
        ),
        (
            "layout version=1\nlayout version=1\n",
            ":2: the 'layout' header line may appear only once",
        ),
        (
            "layout version=1\nfs dev=/dev/sda1 type=ext4 mountpoint=/ options=rw excluded\n",
            ":2: 'excluded' is not key=value",
        ),
        (
            "layout version=1\nsubvol dev=/dev/sda1 id=1 path=@ default=maybe\n",
            ":2: field 'default' 'maybe' is not yes or no",
        ),
    ];
    for (text, want) in cases {
        let e = error_of(text);
        assert!(
            e.starts_with("/var/lib/rear/layout/layout.conf:") && e.contains(want),
            "want {want:?}, got {e:?}"
        );
    }
}

#[test]
fn a_cut_file_is_an_error_not_a_smaller_layout() {
    let text = write(&sample());
    // cut in the middle of the LV line that the filesystem depends on
    let cut = &text[..text.find("name=root").unwrap() + 3];
    assert_eq!(
        error_of(cut),
        "/var/lib/rear/layout/layout.conf:13: 'nam' is not key=value"
    );
    // a lost line (here the thin LV): the filesystem on it is reported
    let lv_line = text.lines().find(|l| l.contains("name=root")).unwrap();
    let without = text.replace(&format!("{lv_line}\n"), "");
    let e = error_of(&without);
    assert!(
        e.contains("fs:/ depends on /dev/mapper/vg--0-root, which is not in the layout"),
        "{e}"
    );
}

#[test]
fn an_admin_renames_a_disk_in_vi() {
    // a probed layout from a real lab capture, edited the way an admin would in the rescue shell
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/layout/snapshots/layout_probe__lab_md-raid1-lvm.snap"),
    )
    .unwrap();
    let text: String = text.split("---\n").last().unwrap().to_string();
    let original = read(&text, Path::new("layout.conf")).unwrap();
    // every occurrence: the disk, its partitions and the md members follow
    let renamed = text.replace("/dev/vdb", "/dev/sdc");
    let l = read(&renamed, Path::new("layout.conf")).unwrap();
    assert_eq!(l.entries.len(), original.entries.len());
    let Some(Component::Raid(md)) = l.find("/dev/md0").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(md.devices, vec!["/dev/vda1", "/dev/sdc1"]);
    // a smaller size is just a number
    let resized = text.replace("size=524288000", "size=400000000");
    assert!(read(&resized, Path::new("layout.conf")).is_ok());
    // renaming only the disk line leaves its partitions pointing at nothing: the error names
    // the line of the first such partition
    let half = text.replacen("disk dev=/dev/vdb ", "disk dev=/dev/sdc ", 1);
    let e = read(&half, Path::new("layout.conf"))
        .unwrap_err()
        .to_string();
    let line = half
        .lines()
        .position(|l| l.starts_with("part dev=/dev/vdb1"))
        .unwrap()
        + 1;
    assert!(
        e.starts_with(&format!(
            "layout.conf:{line}: /dev/vdb1 depends on /dev/vdb"
        )),
        "{e}"
    );
}

#[test]
fn docs_describe_every_keyword_and_field() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/layout.md"))
            .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 1..=3000u64 {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let c = random_component(&mut r);
        let line = component_line(&c, None);
        let mut words = line.split_whitespace();
        let kw = words.next().unwrap().to_string();
        for w in words {
            seen.insert((kw.clone(), w.split_once('=').unwrap().0.to_string()));
        }
    }
    for (kw, key) in &seen {
        let section = docs
            .split(&format!("### `{kw}` ("))
            .nth(1)
            .unwrap_or_else(|| panic!("docs/layout.md has no section for '{kw}'"));
        let section = section.split("\n### ").next().unwrap();
        assert!(
            section.contains(&format!("| `{key}` |")),
            "docs/layout.md: '{kw}' lacks field '{key}'"
        );
    }
    assert!(seen.len() > 100);
}
