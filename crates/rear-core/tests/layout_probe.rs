//! End-to-end probe tests: a captured scenario directory is replayed through `FakeRunner` and
//! `probe_layout` builds the whole layout, which is snapshot-tested and checked against facts.
//!
//! `host-loop` is a real capture from loop devices on the Debian 12 build host
//! (`src/probe/testdata/host-loop-setup.sh` built it; `fixtures/capture.sh` plus the extra rows
//! at the end of its INDEX.md recorded it). Scenarios under `fixtures/layouts/` (captured in the
//! qemu lab guest) are probed by `probe_every_lab_scenario`.

use std::path::Path;

use rear_core::layout::file;
use rear_core::layout::model::{Component, FsType, PartTable};
use rear_core::probe::{ProbeOptions, probe_layout, scenario};

/// Snapshots live with the layout module's (`src/layout/snapshots/`).
fn snapshots() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/layout/snapshots"));
    s
}

fn host_loop_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/probe/testdata/host-loop")
}

fn host_loop_opts() -> ProbeOptions {
    ProbeOptions {
        include_loop_devices: true,
        uefi: Some(false),
        sys_root: Some(host_loop_dir().join("no-sys")),
        hostname: Some("host-loop".into()),
        ..ProbeOptions::default()
    }
}

#[test]
fn probe_host_loop_scenario() {
    let fake = scenario::fake_runner(&host_loop_dir()).unwrap();
    let layout = probe_layout(&fake, &host_loop_opts()).unwrap();
    let text = file::write(&layout);
    snapshots().bind(|| insta::assert_snapshot!(text));

    // facts from host-loop-setup.sh
    let Some(Component::Disk(d)) = layout.find("/dev/loop0").map(|e| &e.component) else {
        panic!("no GPT disk")
    };
    assert_eq!(d.table, PartTable::Gpt);
    assert_eq!(d.size, 800 * 1024 * 1024);
    let Some(Component::Partition(p3)) = layout.find("/dev/loop0p3").map(|e| &e.component) else {
        panic!("no /dev/loop0p3")
    };
    assert_eq!(p3.name.as_deref(), Some("root fs"));
    assert_eq!(p3.size, 200 * 1024 * 1024);
    let Some(Component::Partition(esp)) = layout.find("/dev/loop0p2").map(|e| &e.component) else {
        panic!("no ESP")
    };
    assert!(esp.flags.contains(&"esp".to_string()));
    let Some(Component::Partition(logical)) = layout.find("/dev/loop1p5").map(|e| &e.component)
    else {
        panic!("no logical partition")
    };
    assert_eq!(logical.role.as_ref().map(|r| r.as_str()), Some("logical"));
    let Some(Component::Filesystem(root)) =
        layout.find("fs:/mnt/laytest/root").map(|e| &e.component)
    else {
        panic!("no root fs")
    };
    assert_eq!(root.fstype, FsType::Ext4);
    assert_eq!(root.label.as_deref(), Some("rootfs"));
    assert_eq!(root.inode_size, Some(256));
    assert!(
        layout
            .find("btrfsmountedsubvol:/mnt/laytest/home")
            .is_some()
    );
    assert!(layout.find("swap:/dev/loop0p6").is_some());
    assert!(layout.validate().is_empty(), "{:?}", layout.validate());

    // the file written from a probed layout reads back to the same layout
    let back = file::read(&text, Path::new("layout.conf")).unwrap();
    assert_eq!(back, layout);
}

#[test]
fn probe_host_loop_exclusions() {
    let fake = scenario::fake_runner(&host_loop_dir()).unwrap();
    let opts = ProbeOptions {
        exclude_mountpoints: vec!["/mnt/laytest/data".into()],
        exclude_recreate: vec!["/dev/loop1".into()],
        autoexclude_disks: true,
        ..host_loop_opts()
    };
    let layout = probe_layout(&fake, &opts).unwrap();
    let reason = |id: &str| layout.find(id).unwrap().excluded.clone();
    assert_eq!(
        reason("fs:/mnt/laytest/data").as_deref(),
        Some("EXCLUDE_MOUNTPOINTS=/mnt/laytest/data")
    );
    // a whole disk excluded takes its partitions, filesystems and mounts with it
    assert_eq!(
        reason("/dev/loop1").as_deref(),
        Some("EXCLUDE_RECREATE=/dev/loop1")
    );
    assert_eq!(
        reason("/dev/loop1p5").as_deref(),
        Some("EXCLUDE_RECREATE=/dev/loop1")
    );
    assert_eq!(
        reason("fs:/mnt/laytest/old").as_deref(),
        Some("EXCLUDE_RECREATE=/dev/loop1")
    );
    // loop0 still holds included filesystems
    assert_eq!(reason("/dev/loop0"), None);
    assert_eq!(reason("fs:/mnt/laytest/root"), None);
    // excluded components stay in the layout and in the file
    let text = file::write(&layout);
    assert!(text.contains("excluded=EXCLUDE_RECREATE=/dev/loop1"));
    assert_eq!(file::read(&text, Path::new("x")).unwrap(), layout);
}

#[test]
fn probe_host_loop_autoexclude_path() {
    let fake = scenario::fake_runner(&host_loop_dir()).unwrap();
    let opts = ProbeOptions {
        autoexclude_path: vec!["/mnt".into()],
        autoexclude_disks: true,
        ..host_loop_opts()
    };
    let layout = probe_layout(&fake, &opts).unwrap();
    // every loop filesystem is below /mnt, so both loop disks hold nothing included
    for id in [
        "fs:/mnt/laytest/root",
        "btrfsmountedsubvol:/mnt/laytest/home",
    ] {
        assert_eq!(
            layout.find(id).unwrap().excluded.as_deref(),
            Some("AUTOEXCLUDE_PATH=/mnt")
        );
    }
    // swap on loop0p6 is still included, so loop0 stays; loop1's swap is not active
    assert_eq!(layout.find("/dev/loop0").unwrap().excluded, None);
    assert!(
        layout
            .find("/dev/loop1")
            .unwrap()
            .excluded
            .as_deref()
            .unwrap()
            .starts_with("AUTOEXCLUDE_DISKS")
    );
}

/// Checks a probed layout against facts the guest reported through other tools than the ones
/// the probe used: every block device of `lsblk -P` (`lsblk-pairs.txt`), every mounted
/// filesystem of `/proc/mounts` and every swap area of `/proc/swaps`.
fn check_facts(dir: &Path, layout: &rear_core::layout::Layout) {
    let name = dir.display();
    let pairs = std::fs::read_to_string(dir.join("lsblk-pairs.txt")).unwrap();
    for line in pairs.lines() {
        let get = |key: &str| {
            let pat = format!(" {key}=\"");
            let start = format!(" {line}").find(&pat)? + pat.len() - 1;
            let rest = &line[start..];
            Some(rest[..rest.find('"')?].to_string())
        };
        let (Some(path), Some(kind), Some(size)) = (get("PATH"), get("TYPE"), get("SIZE")) else {
            continue;
        };
        if kind == "rom" || kind == "loop" || path.contains("zram") || size == "0" {
            continue;
        }
        // LVM's internal sub-LVs (thin pool data/metadata, RAID images) are part of their LV
        const HIDDEN: &[&str] = &[
            "_tmeta", "_tdata", "-tpool", "_rimage_", "_rmeta_", "_mimage_", "_mlog", "_pmspare",
            "_cdata", "_cmeta",
        ];
        if kind == "lvm" && HIDDEN.iter().any(|h| path.contains(h)) {
            continue;
        }
        assert!(
            layout.find(&path).is_some(),
            "{name}: lsblk lists {kind} {path}, the layout does not"
        );
    }
    let mounts = std::fs::read_to_string(dir.join("proc-mounts.txt")).unwrap();
    for line in mounts.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 3
            || !w[0].starts_with("/dev/")
            || !["ext2", "ext3", "ext4", "xfs", "vfat", "btrfs"].contains(&w[2])
        {
            continue;
        }
        let target = w[1].replace("\\040", " ");
        assert!(
            layout.find(&format!("fs:{target}")).is_some()
                || layout
                    .find(&format!("btrfsmountedsubvol:{target}"))
                    .is_some(),
            "{name}: /proc/mounts has {} on {target}, the layout does not",
            w[0]
        );
    }
    let swaps = std::fs::read_to_string(dir.join("proc-swaps.txt")).unwrap();
    let active = swaps
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    let recorded = layout
        .components()
        .filter(|c| matches!(c, Component::Swap(_)))
        .count();
    assert_eq!(
        recorded, active,
        "{name}: /proc/swaps has {active} swap areas"
    );
}

#[test]
fn probe_every_lab_scenario() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/layouts");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return;
    };
    let mut dirs: Vec<_> = dirs
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.join("INDEX.md").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let fake = scenario::fake_runner(&dir).unwrap();
        let uefi = std::fs::read_to_string(dir.join("efi-firmware.txt"))
            .is_ok_and(|t| t.starts_with("UEFI"));
        let opts = ProbeOptions {
            uefi: Some(uefi),
            sys_root: Some(dir.join("no-sys")),
            ..ProbeOptions::default()
        };
        let layout = probe_layout(&fake, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_facts(&dir, &layout);
        let text = file::write(&layout);
        assert_eq!(
            file::read(&text, Path::new(&name)).unwrap(),
            layout,
            "{name}"
        );
        snapshots().bind(|| insta::assert_snapshot!(format!("lab_{name}"), text));
    }
}

/// Runs a shell command for the loop test's setup and returns its stdout.
fn sh(script: &str) -> String {
    let out = std::process::Command::new("bash")
        .args(["-euc", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_probe_real_loop_devices() {
    use rear_core::cmd::SystemRunner;
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("disk.img");
    let mnt = tmp.path().join("mnt");
    let dev = sh(&format!(
        "truncate -s 300M {img}; d=$(losetup -f --show {img}); echo $d",
        img = img.display()
    ));
    // from here on, clean up whatever happens
    struct Cleanup(String, std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("bash")
                .args(["-c", &format!(
                    "swapoff {d}p3 2>/dev/null; umount {m}/home {m}/b {m}/a 2>/dev/null; partx -d {d} 2>/dev/null; losetup -d {d}",
                    d = self.0, m = self.1.display()
                )])
                .status();
        }
    }
    let _cleanup = Cleanup(dev.clone(), mnt.clone());
    sh(&format!(
        r#"sfdisk -q {dev} <<SFDISK_END
label: gpt
size=100MiB, type=linux, name="data one"
size=120MiB, type=linux
type=swap, name=swap
SFDISK_END
partx -a {dev} 2>/dev/null || partx -u {dev}; sleep 1
mkfs.ext4 -q -L loopdata -b 1024 {dev}p1
mkfs.btrfs -q -f -L loopbtr {dev}p2
mkswap -q -L loopswap {dev}p3 >/dev/null
mkdir -p {m}/a {m}/b {m}/home
mount {dev}p1 {m}/a
mount {dev}p2 {m}/b
btrfs -q subvolume create {m}/b/@home
mount -o subvol=@home {dev}p2 {m}/home
swapon {dev}p3"#,
        m = mnt.display()
    ));
    let opts = ProbeOptions {
        include_loop_devices: true,
        uefi: Some(false),
        ..ProbeOptions::default()
    };
    let layout = probe_layout(&SystemRunner::new(), &opts).unwrap();
    let text = file::write(&layout);
    assert_eq!(file::read(&text, Path::new("loop")).unwrap(), layout);

    // compare with what the tools say directly
    let Some(Component::Disk(d)) = layout.find(&dev).map(|e| &e.component) else {
        panic!("{text}")
    };
    assert_eq!(d.size, 300 * 1024 * 1024);
    assert_eq!(d.table, PartTable::Gpt);
    assert_eq!(
        d.ptuuid.as_deref(),
        Some(sh(&format!("blkid -o value -s PTUUID {dev}")).as_str())
    );
    let Some(Component::Partition(p1)) = layout.find(&format!("{dev}p1")).map(|e| &e.component)
    else {
        panic!("{text}")
    };
    assert_eq!(p1.name.as_deref(), Some("data one"));
    assert_eq!(p1.size, 100 * 1024 * 1024);
    assert_eq!(
        p1.partuuid.as_deref(),
        Some(sh(&format!("blkid -o value -s PARTUUID {dev}p1")).as_str())
    );
    let a = format!("fs:{}/a", mnt.display());
    let Some(Component::Filesystem(f)) = layout.find(&a).map(|e| &e.component) else {
        panic!("{text}")
    };
    assert_eq!(
        f.uuid.as_deref(),
        Some(sh(&format!("blkid -o value -s UUID {dev}p1")).as_str())
    );
    assert_eq!(f.label.as_deref(), Some("loopdata"));
    assert_eq!(f.block_size, Some(1024));
    let b = format!("fs:{}/b", mnt.display());
    assert!(
        matches!(layout.find(&b).map(|e| &e.component), Some(Component::Filesystem(f)) if f.fstype == FsType::Btrfs)
    );
    assert!(
        layout
            .components()
            .any(|c| matches!(c, Component::BtrfsSubvol(s) if s.path == "@home"))
    );
    assert!(
        layout
            .find(&format!("btrfsmountedsubvol:{}/home", mnt.display()))
            .is_some()
    );
    let Some(Component::Swap(s)) = layout.find(&format!("swap:{dev}p3")).map(|e| &e.component)
    else {
        panic!("{text}")
    };
    assert_eq!(s.label.as_deref(), Some("loopswap"));
}

#[test]
fn truncated_lsblk_output_is_a_clear_error() {
    let text = include_str!("../src/probe/testdata/host-loop/lsblk.json");
    let fake = rear_core::cmd::FakeRunner::new().on("lsblk -J -b -O", &text[..text.len() / 3]);
    let err = probe_layout(&fake, &host_loop_opts())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("output of 'lsblk -J -b -O': not the JSON lsblk writes: EOF while parsing"),
        "{err}"
    );
    assert!(err.contains(" line "), "{err}");
}

#[test]
fn filesystems_on_devices_outside_the_layout_are_excluded() {
    // without loop devices as disks, the loop filesystems sit on nothing rear captures: they
    // stay in the layout, excluded with the reason, and the file still reads back
    let fake = scenario::fake_runner(&host_loop_dir()).unwrap();
    let opts = ProbeOptions {
        include_loop_devices: false,
        ..host_loop_opts()
    };
    let layout = probe_layout(&fake, &opts).unwrap();
    let e = layout.find("fs:/mnt/laytest/root").unwrap();
    assert_eq!(
        e.excluded.as_deref(),
        Some("it is on /dev/loop0p3, which is not part of the captured layout")
    );
    assert!(
        layout
            .find("btrfsmountedsubvol:/mnt/laytest/home")
            .unwrap()
            .excluded
            .is_some()
    );
    assert!(layout.find("swap:/dev/loop0p6").unwrap().excluded.is_some());
    assert_eq!(layout.find("fs:/").unwrap().excluded, None);
    let text = file::write(&layout);
    assert_eq!(file::read(&text, Path::new("layout.conf")).unwrap(), layout);
}

#[test]
fn old_lsblk_without_json_falls_back_to_pairs() {
    // the same real capture, with lsblk -J failing as on util-linux 2.23 (RHEL 7)
    let reference = probe_layout(
        &scenario::fake_runner(&host_loop_dir()).unwrap(),
        &host_loop_opts(),
    )
    .unwrap();
    let old = scenario::fake_runner(&host_loop_dir()).unwrap().on_output(
        "lsblk -J -b -O",
        rear_core::cmd::Output {
            status: 1,
            stderr: b"lsblk: invalid option -- 'J'".to_vec(),
            ..Default::default()
        },
    );
    let layout = probe_layout(&old, &host_loop_opts()).unwrap();
    assert_eq!(layout, reference);
    assert!(old.calls().contains(&"lsblk -P -b -O".to_string()));
}

#[test]
fn multi_device_btrfs_is_excluded_with_the_reason() {
    // SYNTHETIC change of the real capture: blkid also reports the btrfs UUID of loop0p5 on
    // loop1p6, as it does for the members of a two-device btrfs
    let dir = host_loop_dir();
    let blkid = std::fs::read_to_string(dir.join("blkid.txt")).unwrap()
        + "\nDEVNAME=/dev/loop1p6\nUUID=69254691-1140-424d-85b0-17ea896228fc\nTYPE=btrfs\n";
    let fake = scenario::fake_runner(&dir)
        .unwrap()
        .on("blkid -o export", blkid);
    let layout = probe_layout(&fake, &host_loop_opts()).unwrap();
    let reason =
        "multi-device btrfs (/dev/loop0p5,/dev/loop1p6) is not supported; recreate it by hand";
    for id in [
        "fs:/mnt/laytest/btr",
        "btrfsmountedsubvol:/mnt/laytest/home",
        "btrfssubvol:/dev/loop0p5:@home",
    ] {
        assert_eq!(
            layout.find(id).unwrap().excluded.as_deref(),
            Some(reason),
            "{id}"
        );
    }
    assert_eq!(layout.find("fs:/mnt/laytest/root").unwrap().excluded, None);
}
