//! Whole workflows through the binary: a backup and its restore, and a rescue image.

use std::path::{Path, PathBuf};
use std::process::Command as Std;

mod common;
#[path = "../../rear-core/tests/rescue_support.rs"]
mod rescue_support;

use common::rear;
use predicates::prelude::*;

#[test]
fn mkbackuponly_then_restoreonly_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "hello\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 100_000]).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "BACKUP=NETFS\nOUTPUT=RAMDISK\nBACKUP_URL=file://{0}/target\nBACKUP_ONLY_INCLUDE=yes\n\
             BACKUP_PROG_INCLUDE=( {0}/data )\nBACKUP_PROG_EXCLUDE+=( '*.skip' )\nVAR_DIR={0}/var\nLOGFILE={0}/rear.log\n\
             PRE_BACKUP_SCRIPT=( 'touch {0}/data/created-by-pre-backup' )\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::write(src.join("ignored.skip"), "x").unwrap();
    rear(dir.path())
        .args(["-v", "mkbackuponly"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Wrote the full backup"));
    let host_dir = std::fs::read_dir(dir.path().join("target"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let archives: Vec<PathBuf> = std::fs::read_dir(&host_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    // an admin needs no rear to read it: GNU tar lists it
    let list = Std::new("tar")
        .arg("--zstd")
        .arg("-tf")
        .arg(&archives[0])
        .output()
        .unwrap();
    assert!(list.status.success());
    let names = String::from_utf8_lossy(&list.stdout);
    assert!(
        names.contains("data/a.txt") && names.contains("data/created-by-pre-backup"),
        "{names}"
    );
    assert!(
        !names.contains("ignored.skip"),
        "BACKUP_PROG_EXCLUDE was not applied:\n{names}"
    );

    let restored = dir.path().join("restored");
    rear(dir.path())
        .args(["-v", "restoreonly", "--target"])
        .arg(&restored)
        .assert()
        .success()
        .stdout(predicate::str::contains("Restored"));
    let r = restored.join(src.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read_to_string(r.join("a.txt")).unwrap(), "hello\n");
    assert_eq!(
        std::fs::read(r.join("sub/b.bin")).unwrap(),
        vec![7u8; 100_000]
    );
    assert_eq!(
        std::fs::read_link(r.join("link")).unwrap(),
        Path::new("a.txt")
    );
    assert!(
        restored.join("var/log/rear/recover/rear.log").exists(),
        "the log was not copied into the target"
    );
}

#[test]
fn restoreonly_without_a_backup_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "BACKUP=NETFS\nBACKUP_URL=file://{0}/empty\nVAR_DIR={0}/var\nLOGFILE={0}/rear.log\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    rear(dir.path())
        .args(["restoreonly", "--target"])
        .arg(dir.path().join("r"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds no backup of this host"));
}

#[test]
fn mkrescue_ramdisk_with_a_debian_kernel_package() {
    let kernel = rescue_support::debian_kernel().image;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "OUTPUT=RAMDISK\nKERNEL_FILE={1}\nISO_DIR={0}/out\nVAR_DIR={0}/var\nLOGFILE={0}/rear.log\nTMPDIR={0}\n",
            dir.path().display(),
            kernel.display()
        ),
    )
    .unwrap();
    rear(dir.path())
        .args(["-v", "mkrescue"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Saved the disk layout")
                .and(predicate::str::contains("Created the initramfs")),
        );
    let out: Vec<PathBuf> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let initrd = out
        .iter()
        .find(|p| p.to_string_lossy().contains("initramfs-"))
        .expect("no initramfs written");
    assert!(
        out.iter().any(|p| p.to_string_lossy().contains("kernel-")),
        "{out:?}"
    );
    // the initramfs holds rear itself, the layout, the inventory and the recovery tools
    let listing = Std::new("bash")
        .args([
            "-ec",
            &format!("zstd -dc {} | cpio -t 2>/dev/null", initrd.display()),
        ])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    for needed in [
        "usr/sbin/rear",
        "etc/rear-release",
        "usr/sbin/sfdisk",
        "recovery/inventory.json",
        "layout/layout.conf",
    ] {
        assert!(
            names.lines().any(|l| l.ends_with(needed)),
            "{needed} missing from the initramfs"
        );
    }
}
