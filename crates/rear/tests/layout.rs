//! `rear layout`, `rear savelayout` and `rear checklayout` through the binary.

use std::path::{Path, PathBuf};
use std::process::Command as Std;

mod common;

use common::rear;
use predicates::prelude::*;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rear-core/src/layout/testdata")
        .join(name)
}

#[test]
fn import_show_export_a_rear_disklayout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("layout.conf");
    rear(dir.path())
        .args(["layout", "import", "--format", "rear", "-o"])
        .arg(&out)
        .arg(testdata("synthetic-lvm-on-md-raid1.conf"))
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("layout version=1"), "{text}");
    rear(dir.path())
        .args(["layout", "show"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("/dev/md").and(predicate::str::contains("fs:/")));
    rear(dir.path())
        .args(["layout", "export", "--format", "rear"])
        .arg(&out)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("raidarray /dev/md").and(predicate::str::contains("lvmvol ")),
        );
}

#[test]
fn import_reports_every_bad_line_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("layout.conf");
    let input = testdata("synthetic-messy.conf");
    let assert = rear(dir.path())
        .args(["layout", "import", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(2);
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains(&format!(
            "{}:16: error: not imported: unknown keyword 'lvmthing'",
            input.display()
        )),
        "{err}"
    );
    assert!(err.contains("could not be imported"), "{err}");
    assert!(out.exists(), "what could be imported was not written");
}

#[test]
fn show_without_saved_layout_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        format!("VAR_DIR={}\n", dir.path().display()),
    )
    .unwrap();
    rear(dir.path())
        .args(["layout", "show"])
        .assert()
        .code(10)
        .stderr(predicate::str::contains(
            dir.path().join("layout/layout.conf").display().to_string(),
        ));
}

/// A loop device with a GPT and one ext4 filesystem, mounted; cleaned up on drop.
struct LoopDisk {
    dev: String,
    mnt: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopDisk {
    fn new(label: &str) -> Self {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let img = dir.path().join("disk.img");
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(64 << 20).unwrap();
        let out = Std::new("losetup")
            .args(["-P", "--show", "-f"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let run = |cmd: &mut Std| {
            let o = cmd.output().unwrap();
            assert!(
                o.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        let mut sfdisk = Std::new("sfdisk");
        sfdisk
            .arg("--quiet")
            .arg(&dev)
            .stdin(std::process::Stdio::piped());
        let mut child = sfdisk.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"label: gpt\n,,L\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
        let _ = Std::new("partx").args(["-a", &dev]).output();
        let part = format!("{dev}p1");
        for _ in 0..50 {
            if Path::new(&part).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        run(Std::new("mkfs.ext4").args(["-q", "-L", label, &part]));
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        run(Std::new("mount").arg(&part).arg(&mnt));
        LoopDisk {
            dev,
            mnt,
            _dir: dir,
        }
    }
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let _ = Std::new("umount").arg(&self.mnt).output();
        let _ = Std::new("losetup").args(["-d", &self.dev]).output();
    }
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_savelayout_then_checklayout_detects_a_relabel() {
    let disk = LoopDisk::new("rearA");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "VAR_DIR={0}/var\nLOGFILE={0}/rear.log\nLAYOUT_INCLUDE_LOOP_DEVICES=yes\nAUTOEXCLUDE_PATH=( /media )\nCHECK_CONFIG_FILES=( {0}/watched.conf )\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("watched.conf"), "a=1\n").unwrap();
    rear(dir.path()).arg("savelayout").assert().success();
    let saved = std::fs::read_to_string(dir.path().join("var/layout/layout.conf")).unwrap();
    let part = format!("{}p1", disk.dev);
    let fs_line = saved
        .lines()
        .find(|l| l.starts_with(&format!("fs dev={part} ")))
        .unwrap_or_else(|| panic!("no fs line for {part}:\n{saved}"));
    assert!(
        fs_line.contains("type=ext4") && fs_line.contains("label=rearA"),
        "{fs_line}"
    );
    assert!(
        fs_line.contains(&format!("mountpoint={}", disk.mnt.display())),
        "{fs_line}"
    );
    assert!(
        saved.contains(&format!("disk dev={} ", disk.dev)),
        "{saved}"
    );

    // nothing changed: exit 0
    rear(dir.path()).arg("checklayout").assert().code(0);
    // a watched configuration file changes: exit 1, named
    std::fs::write(dir.path().join("watched.conf"), "a=2\n").unwrap();
    rear(dir.path())
        .arg("checklayout")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("watched.conf (modified)"));
    rear(dir.path()).arg("savelayout").assert().success();
    // the filesystem label changes: exit 1, and the change is shown
    let o = Std::new("tune2fs")
        .args(["-L", "rearB", &part])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = rear(dir.path()).arg("checklayout").assert().code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("Disk layout changed"), "{text}");
    assert!(text.contains("rearB"), "{text}");
    // the saved layout was not replaced by checklayout
    assert!(
        std::fs::read_to_string(dir.path().join("var/layout/layout.conf"))
            .unwrap()
            .contains("label=rearA")
    );
}

fn blkid(dev: &str, tag: &str) -> String {
    let o = Std::new("blkid")
        .args(["-c", "/dev/null", "-p", "-s", tag, "-o", "value", dev])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn assert_target_root_free() {
    assert!(
        !std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("/mnt/local")),
        "/mnt/local is already in use"
    );
}

/// `rear savelayout` with a configuration in `dir`, then the layout edited as an admin would in
/// the rescue system: only the loop disk is kept, and its filesystem is the root.
fn save_loop_disk_layout(dir: &Path, disk: &LoopDisk, part: &str) {
    std::fs::write(
        dir.join("local.conf"),
        format!(
            "VAR_DIR={0}/var\nLOGFILE={0}/rear.log\nLAYOUT_INCLUDE_LOOP_DEVICES=yes\nAUTOEXCLUDE_PATH=( /media )\nPRE_RECOVERY_SCRIPT=( 'touch {0}/pre-ran' )\n",
            dir.display()
        ),
    )
    .unwrap();
    rear(dir).arg("savelayout").assert().success();
    // The host's own disk and root filesystem are in the layout too.
    let layout_path = dir.join("var/layout/layout.conf");
    let saved = std::fs::read_to_string(&layout_path).unwrap();
    let ours = |l: &str| {
        l.split_whitespace().any(|w| {
            w == format!("dev={}", disk.dev)
                || w == format!("disk={}", disk.dev)
                || w == format!("dev={part}")
        })
    };
    let edited: String = saved
        .lines()
        .filter(|l| {
            l.starts_with("layout ") || l.starts_with('#') || l.trim().is_empty() || ours(l)
        })
        .map(|l| {
            l.replace(
                &format!("mountpoint={}", disk.mnt.display()),
                "mountpoint=/",
            ) + "\n"
        })
        .collect();
    assert!(
        edited.contains(&format!("fs dev={part} type=ext4 mountpoint=/ ")),
        "{edited}"
    );
    std::fs::write(&layout_path, edited).unwrap();
}

/// `rear mountonly` through the binary: the saved layout's filesystem on a loop disk is mounted
/// under /mnt/local as it is (its files are there: nothing was recreated), a second run finds it
/// mounted and does nothing.
#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_mountonly_mounts_the_existing_filesystems() {
    assert_target_root_free();
    let disk = LoopDisk::new("rearMount");
    let part = format!("{}p1", disk.dev);
    let uuid = blkid(&part, "UUID");
    let dir = tempfile::tempdir().unwrap();
    save_loop_disk_layout(dir.path(), &disk, &part);
    std::fs::write(disk.mnt.join("kept.txt"), "written before the disaster\n").unwrap();
    assert!(
        Std::new("umount")
            .arg(&disk.mnt)
            .status()
            .unwrap()
            .success()
    );

    let cleanup = || {
        let _ = Std::new("umount").args(["-R", "/mnt/local"]).output();
    };
    let first = rear(dir.path())
        .args(["-n", "-v", "mountonly"])
        .output()
        .unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let kept = std::fs::read_to_string("/mnt/local/kept.txt");
    let second = rear(dir.path())
        .args(["-n", "-v", "mountonly"])
        .output()
        .unwrap();
    let mounts_after_second = std::fs::read_to_string("/proc/self/mounts").unwrap();
    cleanup();
    let text = |o: &std::process::Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(
        first.status.success(),
        "mountonly failed:\n{}",
        text(&first)
    );
    assert!(
        mounts
            .lines()
            .any(|l| l.starts_with(&format!("{part} /mnt/local ext4 "))),
        "{part} is not mounted on /mnt/local:\n{mounts}"
    );
    assert_eq!(kept.unwrap(), "written before the disaster\n");
    assert_eq!(blkid(&part, "UUID"), uuid);
    let plan = std::fs::read_to_string(dir.path().join("var/layout/mountonly.sh")).unwrap();
    assert!(
        !plan.contains("mkfs") && !plan.contains("sfdisk") && !plan.contains("wipefs"),
        "the mount plan writes to the disk:\n{plan}"
    );
    assert!(
        text(&first).contains("When you are done: umount -R /mnt/local"),
        "{}",
        text(&first)
    );
    // the second run: already mounted, nothing ran, still one mount
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("(0 steps ran"), "{}", text(&second));
    assert_eq!(
        mounts_after_second
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("/mnt/local"))
            .count(),
        1,
        "{mounts_after_second}"
    );
}

/// The whole `layout/prepare` + `layout/recreate` path of `rear recover`, through the binary:
/// save the layout of a loop disk, destroy the disk's contents, recreate it with
/// `rear -n layoutonly`, and find the same partition table and filesystem IDs mounted under
/// /mnt/local.
#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_layoutonly_recreates_a_wiped_disk() {
    assert_target_root_free();
    let disk = LoopDisk::new("rearRoot");
    let part = format!("{}p1", disk.dev);
    let uuid = blkid(&part, "UUID");
    let partuuid = blkid(&part, "PART_ENTRY_UUID");
    let dump_before = String::from_utf8(
        Std::new("sfdisk")
            .args(["--dump", &disk.dev])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    save_loop_disk_layout(dir.path(), &disk, &part);

    // the disaster: unmount and wipe the disk
    assert!(
        Std::new("umount")
            .arg(&disk.mnt)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Std::new("wipefs")
            .args(["-a", "-q", &part])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Std::new("sfdisk")
            .args(["--delete", &disk.dev])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert_eq!(blkid(&part, "UUID"), "");

    // a rehearsal on sparse files first: it passes and leaves the wiped disk as it is
    rear(dir.path())
        .args(["-n", "-v", "layoutonly", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Rehearsal passed"));
    assert_eq!(
        blkid(&part, "UUID"),
        "",
        "the rehearsal touched the real disk"
    );

    let out = rear(dir.path()).args(["-n", "-v", "layoutonly"]).assert();
    let cleanup = || {
        let _ = Std::new("umount").args(["-R", "/mnt/local"]).output();
    };
    let output = out.get_output().clone();
    if !output.status.success() {
        cleanup();
        panic!(
            "layoutonly failed:\n{}\n{}\nlog:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(dir.path().join("rear.log")).unwrap_or_default()
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let mounted = mounts
        .lines()
        .any(|l| l.starts_with(&format!("{part} /mnt/local ")));
    let after_uuid = blkid(&part, "UUID");
    let after_label = blkid(&part, "LABEL");
    let after_partuuid = blkid(&part, "PART_ENTRY_UUID");
    let dump_after = String::from_utf8(
        Std::new("sfdisk")
            .args(["--dump", &disk.dev])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    cleanup();
    assert!(mounted, "{part} is not mounted on /mnt/local:\n{mounts}");
    assert_eq!(after_uuid, uuid);
    assert_eq!(after_label, "rearRoot");
    assert_eq!(after_partuuid, partuuid);
    assert_eq!(dump_after, dump_before, "partition table differs");
    assert!(
        dir.path().join("pre-ran").exists(),
        "PRE_RECOVERY_SCRIPT did not run"
    );
    let script = std::fs::read_to_string(dir.path().join("var/layout/diskrestore.sh")).unwrap();
    assert!(
        script.contains(&uuid),
        "the reviewable script lacks the filesystem UUID"
    );
}
