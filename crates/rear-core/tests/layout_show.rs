//! The dependency tree (`rear layout show`) and the comparison (`rear checklayout`) on real
//! captures and on imported ReaR files.

use std::path::Path;

use rear_core::layout::diff::{ChangeKind, diff, matters};
use rear_core::layout::model::Component;
use rear_core::layout::show::tree;
use rear_core::layout::{Layout, file, rear};
use rear_core::probe::{ProbeOptions, probe_layout, scenario};

fn snapshots() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/layout/snapshots"));
    s
}

fn host_loop(opts: ProbeOptions) -> Layout {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/probe/testdata/host-loop");
    let fake = scenario::fake_runner(&dir).unwrap();
    let opts = ProbeOptions {
        include_loop_devices: true,
        uefi: Some(false),
        sys_root: Some(dir.join("no-sys")),
        ..opts
    };
    probe_layout(&fake, &opts).unwrap()
}

fn import(name: &str) -> Layout {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/layout/testdata")
        .join(name);
    rear::import(&std::fs::read_to_string(p).unwrap()).0
}

#[test]
fn show_tree_host_loop_and_rear_files() {
    let l = host_loop(ProbeOptions {
        exclude_mountpoints: vec!["/mnt/laytest/old".into()],
        ..ProbeOptions::default()
    });
    let t = tree(&l);
    // every component appears in the tree
    for e in &l.entries {
        let line = rear_core::layout::show::describe(&e.component);
        assert!(t.contains(&line), "missing {line}");
    }
    // the subvolume mount sits below its subvolume, below the filesystem, below the partition
    let pos = |s: &str| t.find(s).unwrap_or_else(|| panic!("{s} not in\n{t}"));
    assert!(
        pos("/dev/loop0p5 part") < pos("/mnt/laytest/btr btrfs")
            && pos("/mnt/laytest/btr btrfs") < pos("subvolume @home (id 256)")
            && pos("subvolume @home (id 256)") < pos("/mnt/laytest/home btrfs subvolume")
    );
    assert!(t.contains("[excluded: EXCLUDE_MOUNTPOINTS=/mnt/laytest/old]"));
    snapshots().bind(|| {
        insta::assert_snapshot!("show_host_loop", t);
        insta::assert_snapshot!(
            "show_rear_lvm_on_md_raid1",
            tree(&import("synthetic-lvm-on-md-raid1.conf"))
        );
        insta::assert_snapshot!(
            "show_rear_luks2_btrfs_uefi",
            tree(&import("synthetic-luks2-btrfs-uefi.conf"))
        );
    });
}

#[test]
fn md_on_two_partitions_is_shown_once_and_referenced() {
    let t = tree(&import("synthetic-lvm-on-md-raid1.conf"));
    assert_eq!(t.matches("/dev/md0 md raid1").count(), 1, "{t}");
    assert!(t.contains("(-> see /dev/md0)"), "{t}");
}

#[test]
fn checklayout_same_system_no_changes() {
    let a = host_loop(ProbeOptions::default());
    let b = host_loop(ProbeOptions::default());
    assert!(diff(&a, &b).is_empty());
}

#[test]
fn checklayout_sees_changes_that_matter() {
    let current = host_loop(ProbeOptions::default());
    // the saved layout, as an admin or an older run left it: a partition had another size, the
    // disk had another serial, one filesystem did not exist yet
    let mut text = file::write(&current);
    text = text.replace(
        "part dev=/dev/loop0p4 disk=/dev/loop0 number=4 start=278921216 size=335544320",
        "part dev=/dev/loop0p4 disk=/dev/loop0 number=4 start=278921216 size=300000000",
    );
    text = text.replace(
        "disk dev=/dev/loop0 size=838860800 table=gpt",
        "disk dev=/dev/loop0 size=838860800 table=gpt serial=OLD",
    );
    let data_line = text
        .lines()
        .find(|l| l.starts_with("fs dev=/dev/loop0p4"))
        .unwrap()
        .to_string();
    text = text.replace(&format!("{data_line}\n"), "");
    let saved = file::read(&text, Path::new("saved")).unwrap();
    let changes = diff(&saved, &current);
    let summary: Vec<(String, ChangeKind, bool)> = changes
        .iter()
        .map(|c| (c.id.clone(), c.kind.clone(), c.matters))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("/dev/loop0".to_string(), ChangeKind::Modified, false),
            ("/dev/loop0p4".to_string(), ChangeKind::Modified, true),
            ("fs:/mnt/laytest/data".to_string(), ChangeKind::Added, true),
        ]
    );
    assert!(matters(&changes));
    // only the serial changed: nothing that matters
    let serial_only = diff(&saved, &saved.clone());
    assert!(!matters(&serial_only));
}

#[test]
fn checklayout_exclusion_changes_matter() {
    let saved = host_loop(ProbeOptions::default());
    let current = host_loop(ProbeOptions {
        exclude_vg: vec![],
        exclude_mountpoints: vec!["/mnt/laytest/data".into()],
        ..ProbeOptions::default()
    });
    let ch = diff(&saved, &current);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].kind, ChangeKind::Exclusion);
    assert!(ch[0].matters);
    assert!(ch.iter().all(|c| !matches!(
        current.find(&c.id).map(|e| &e.component),
        Some(Component::Disk(_))
    )));
}
