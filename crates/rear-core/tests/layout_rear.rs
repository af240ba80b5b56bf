//! ReaR interop tests: import of several disklayout.conf files, export, and the round trip.
//!
//! Files (under `src/layout/testdata/`):
//! - `rear27-host-loop.conf`: REAL output of `rear -c DIR savelayout` (ReaR 2.7, Debian 12) on the
//!   build host with the loop devices of `src/probe/testdata/host-loop-setup.sh` mounted. ReaR
//!   does not treat loop devices as disks, so it commented out their filesystems, and tune2fs on
//!   the host's root failed, which cut the root `fs` line short: a genuinely messy real file.
//! - `synthetic-*.conf`: hand-written, in the formats ReaR's save scripts print, each labelled
//!   SYNTHETIC in its first line.
//!
//! Lab scenarios (`fixtures/layouts/*`, real captures from the qemu guest) are probed, exported
//! to ReaR's format and imported back.

use std::path::Path;

use rear_core::layout::model::{Component, LvLayout, PartRole};
use rear_core::layout::rear::{Severity, export, import};
use rear_core::layout::{Layout, file};

fn testdata(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/layout/testdata")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn snapshots() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/layout/snapshots"));
    s
}

/// The components and their exclusion state, without the header and comments.
fn components(l: &Layout) -> Vec<(Component, bool)> {
    l.entries
        .iter()
        .map(|e| (e.component.clone(), e.excluded.is_some()))
        .collect()
}

/// Imports, snapshots the result, and checks that export → import keeps every component.
fn check_file(name: &str) -> (Layout, Vec<rear_core::layout::rear::Diagnostic>) {
    let text = testdata(name);
    let (layout, diags) = import(&text);
    let report: Vec<String> = diags.iter().map(ToString::to_string).collect();
    snapshots().bind(|| {
        insta::assert_snapshot!(
            format!("rear_import_{}", name.trim_end_matches(".conf")),
            format!(
                "{}\n--- diagnostics ---\n{}\n",
                file::write(&layout),
                report.join("\n")
            )
        );
    });
    let exported = export(&layout);
    let (again, diags2) = import(&exported);
    assert_eq!(
        components(&again),
        components(&layout),
        "{name}: export then import changed components\n{exported}"
    );
    assert!(
        diags2.iter().all(|d| d.severity != Severity::Error),
        "{name}: the export has lines the importer rejects: {diags2:?}\n{exported}"
    );
    // the native layout file of an import is lossless too
    let native = file::write(&layout);
    if layout.validate().is_empty() {
        assert_eq!(file::read(&native, Path::new(name)).unwrap(), layout);
    }
    (layout, diags)
}

#[test]
fn rear_import_real_rear27_host_file() {
    let (layout, diags) = check_file("rear27-host-loop.conf");
    // the loop filesystems are commented out: excluded, not lost
    let excluded: Vec<_> = layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_some())
        .collect();
    assert_eq!(excluded.len(), 5);
    // the cut line 'fs /dev/vda / ext4 uuid= label= blocksize=# Swap...' is imported with what
    // it has, and the damage is reported
    assert!(layout.find("fs:/").is_some());
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("'#'") || d.message.contains("Swap")),
        "{diags:?}"
    );
    assert!(layout.find("swap:/dev/loop0p6").is_some());
}

#[test]
fn rear_import_lvm_on_md_raid1() {
    let (layout, diags) = check_file("synthetic-lvm-on-md-raid1.conf");
    assert!(diags.is_empty(), "{diags:?}");
    let Some(Component::Raid(r)) = layout.find("/dev/md0").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(r.devices, vec!["/dev/sda3", "/dev/sdb3"]);
    assert_eq!(r.dev_size, Some(19_920_896 * 1024));
    let Some(Component::Lv(data)) = layout.find("/dev/mapper/vg00-data").map(|e| &e.component)
    else {
        panic!()
    };
    assert_eq!(data.layout, LvLayout::Thin);
    assert_eq!(data.pool.as_deref(), Some("pool"));
    let Some(Component::Vg(vg)) = layout.find("/dev/vg00").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(vg.extent_size, 4 * 1024 * 1024);
    assert_eq!(
        layout.dependency_order().map(|o| o.len()).unwrap(),
        layout.entries.len()
    );
}

#[test]
fn rear_import_luks2_btrfs_uefi() {
    let (layout, diags) = check_file("synthetic-luks2-btrfs-uefi.conf");
    assert!(diags.is_empty(), "{diags:?}");
    let Some(Component::Partition(esp)) = layout.find("/dev/nvme0n1p1").map(|e| &e.component)
    else {
        panic!()
    };
    assert_eq!(esp.name.as_deref(), Some("EFI System Partition"));
    let Some(Component::Partition(boot)) = layout.find("/dev/nvme0n1p2").map(|e| &e.component)
    else {
        panic!()
    };
    assert_eq!(boot.name.as_deref(), Some("Linux /boot"));
    // the USB disk and its filesystem are excluded components
    assert!(layout.find("/dev/sdc").unwrap().excluded.is_some());
    assert!(layout.find("fs:/media/usb").unwrap().excluded.is_some());
    let subvols: Vec<_> = layout
        .components()
        .filter_map(|c| match c {
            Component::BtrfsSubvol(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(subvols.iter().filter(|s| s.default).count(), 1);
    assert!(subvols.iter().any(|s| s.snapshot && s.id == 269));
    assert!(
        subvols
            .iter()
            .any(|s| s.nocow && s.path == "@/var/lib/libvirt/images")
    );
    // '/' is the fs itself; three more mounted subvolumes
    let mounts = layout
        .components()
        .filter(|c| matches!(c, Component::BtrfsMount(_)))
        .count();
    assert_eq!(mounts, 3);
}

#[test]
fn rear_import_old_keywords() {
    let (layout, diags) = check_file("synthetic-old-rear.conf");
    let Some(Component::Lv(root)) = layout
        .find("/dev/mapper/vgsys-lvroot")
        .map(|e| &e.component)
    else {
        panic!()
    };
    // 2048 extents of 4 MiB, written as 16777216 sectors
    assert_eq!(root.size, 8 * 1024 * 1024 * 1024);
    assert!(matches!(
        layout.find("/dev/md127").map(|e| &e.component),
        Some(Component::Raid(_))
    ));
    let Some(Component::Crypt(c)) = layout.find("/dev/mapper/data").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(c.version.as_str(), "luks1");
    // drbd is kept verbatim and said to be unsupported
    assert!(
        layout
            .components()
            .any(|c| matches!(c, Component::Foreign(f) if f.rear.starts_with("drbd ")))
    );
    assert!(
        diags
            .iter()
            .any(|d| d.line == 19 && d.message.contains("drbd")),
        "{diags:?}"
    );
    // no raiddisk line: the table type of md127 is unknown, "primary" stays a role
    let Some(Component::Partition(md1)) = layout.find("/dev/md127p1").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(md1.role, Some(PartRole::Primary));
    let Some(Component::Partition(p)) = layout.find("/dev/sdc1").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(p.role, Some(PartRole::Primary));
}

#[test]
fn rear_import_messy_file_reports_every_bad_line() {
    let (layout, diags) = check_file("synthetic-messy.conf");
    let errors: Vec<usize> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.line)
        .collect();
    // line 12: size '12x34'; line 16: unknown keyword; line 18: cut short
    assert_eq!(errors, vec![12, 16, 18], "{diags:?}");
    let msg = |line: usize| {
        diags
            .iter()
            .find(|d| d.line == line)
            .map(|d| d.message.clone())
            .unwrap_or_default()
    };
    assert!(msg(12).contains("12x34"));
    assert!(msg(16).contains("unknown keyword 'lvmthing'"));
    assert!(msg(18).contains("too few fields"));
    // warnings: opaldisk kept verbatim, fs and swap on devices not in the file
    assert!(msg(11).contains("opaldisk"));
    assert!(msg(15).contains("/dev/vdz1"));
    assert!(msg(17).contains("/dev/vda3"));
    // extra blanks and tabs do not matter; names are decoded
    let Some(Component::Partition(p)) = layout.find("/dev/vda2").map(|e| &e.component) else {
        panic!()
    };
    assert_eq!(p.name.as_deref(), Some("Linux root (x86-64)"));
    assert_eq!(p.start, 537_919_488);
    // the commented disk, its partition and its filesystem are excluded components
    for id in ["/dev/vdb", "/dev/vdb1", "fs:/backup"] {
        assert!(layout.find(id).unwrap().excluded.is_some(), "{id}");
    }
}

#[test]
fn rear_import_never_panics_on_cut_lines() {
    // every prefix of every line of every file: import must not panic
    for name in [
        "rear27-host-loop.conf",
        "synthetic-lvm-on-md-raid1.conf",
        "synthetic-luks2-btrfs-uefi.conf",
        "synthetic-old-rear.conf",
        "synthetic-messy.conf",
    ] {
        for line in testdata(name).lines() {
            for cut in (0..=line.len()).filter(|&i| line.is_char_boundary(i)) {
                let _ = import(&line[..cut]);
            }
        }
    }
}

#[test]
fn rear_export_of_lab_scenarios_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/layouts");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return;
    };
    for dir in dirs
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.join("INDEX.md").exists())
    {
        let fake = rear_core::probe::scenario::fake_runner(&dir).unwrap();
        let uefi = std::fs::read_to_string(dir.join("efi-firmware.txt"))
            .is_ok_and(|t| t.starts_with("UEFI"));
        let opts = rear_core::probe::ProbeOptions {
            uefi: Some(uefi),
            sys_root: Some(dir.join("no-sys")),
            ..Default::default()
        };
        let probed = rear_core::probe::probe_layout(&fake, &opts).unwrap();
        let exported = export(&probed);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        snapshots().bind(|| insta::assert_snapshot!(format!("rear_export_lab_{name}"), exported));
        let (imported, diags) = import(&exported);
        assert!(
            diags.iter().all(|d| d.severity != Severity::Error),
            "{}: {diags:?}",
            dir.display()
        );
        // every component ReaR knows survives (boot loader and EFI entries are ReaR-external)
        let rear_ids: Vec<String> = probed
            .components()
            .filter(|c| !matches!(c, Component::Bootloader(_) | Component::EfiEntry(_)))
            .map(Component::id)
            .collect();
        let back: Vec<String> = imported.components().map(Component::id).collect();
        assert_eq!(back, rear_ids, "{}", dir.display());
    }
}
