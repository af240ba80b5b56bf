//! Finalize on real devices: GRUB for BIOS installed by `install_grub_bios` through
//! `chroot TARGET grub-install --target=i386-pc` into a loop-device disk image (GPT with a BIOS
//! boot partition and an ext4 /boot), then the boot code checked byte for byte.
//!
//! The target tree is minimal: the host's /usr and /etc bound read-only (merged /usr links for
//! /bin, /sbin, /lib, /lib64), the loop disk's ext4 mounted on its /boot. Needs root, loop
//! devices and the host packages grub-pc-bin and grub2-common.

use std::path::{Path, PathBuf};
use std::process::Command;

use rear_core::cmd::SystemRunner;
use rear_core::finalize::{self, ChrootMounts, TargetOs};

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Undoes mounts (reverse order) and the loop device, also when the test panics.
struct Cleanup {
    mounts: Vec<PathBuf>,
    loopdev: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg(m).status();
        }
        if let Some(l) = &self.loopdev {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
    }
}

fn wait_for(path: &str) {
    for _ in 0..50 {
        if Path::new(path).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{path} did not appear");
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_install_grub_bios_writes_boot_code() {
    let work = tempfile::tempdir().unwrap();
    let img = work.path().join("disk.img");
    sh(&["truncate", "-s", "64M", img.to_str().unwrap()]);
    Command::new("sfdisk")
        .args(["--quiet", img.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(
                b"label: gpt\nsize=1MiB, type=21686148-6449-6E6F-744E-656564454649\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
            )?;
            c.wait()
        })
        .unwrap();
    let mut clean = Cleanup {
        mounts: Vec::new(),
        loopdev: None,
    };
    let dev = sh(&["losetup", "-P", "-f", "--show", img.to_str().unwrap()]);
    clean.loopdev = Some(dev.clone());
    let _ = Command::new("partx").args(["-a", &dev]).status();
    let p2 = format!("{dev}p2");
    wait_for(&p2);
    sh(&["mkfs.ext4", "-q", "-L", "boot", &p2]);

    // The minimal target.
    let target = work.path().join("target");
    for d in [
        "usr", "etc", "boot", "proc", "sys", "dev", "run", "tmp", "var/tmp",
    ] {
        std::fs::create_dir_all(target.join(d)).unwrap();
    }
    for l in ["bin", "sbin", "lib", "lib64"] {
        std::os::unix::fs::symlink(format!("usr/{l}"), target.join(l)).unwrap();
    }
    for d in ["usr", "etc"] {
        let m = target.join(d);
        sh(&["mount", "--bind", &format!("/{d}"), m.to_str().unwrap()]);
        clean.mounts.push(m.clone());
        sh(&["mount", "-o", "remount,bind,ro", m.to_str().unwrap()]);
    }
    let boot = target.join("boot");
    sh(&["mount", &p2, boot.to_str().unwrap()]);
    clean.mounts.push(boot.clone());

    let os = TargetOs::detect(&target);
    assert_eq!(os.grub.as_deref(), Some("grub"), "{os:?}");

    let runner = SystemRunner::new();
    let mounts = ChrootMounts::bind(&target, &runner).unwrap();
    let result = finalize::install_grub_bios(&mounts, std::slice::from_ref(&dev), &runner);
    mounts.unmount().unwrap();
    result.unwrap();

    // GRUB's boot.img in the MBR: the "GRUB " string of its error messages, the 0x55AA
    // signature, and the protective GPT partition entry kept intact.
    let disk = std::fs::read(&img).unwrap();
    let mbr = &disk[..512];
    assert!(
        mbr.windows(5).any(|w| w == b"GRUB "),
        "no GRUB boot code in the MBR"
    );
    assert_eq!(&mbr[510..], &[0x55, 0xAA]);
    assert_eq!(mbr[0x1BE + 4], 0xEE, "protective MBR entry lost");
    // core.img embedded in the BIOS boot partition (sector 2048): it starts with diskboot.img
    // and is not empty.
    let core = &disk[2048 * 512..2048 * 512 + 64 * 1024];
    assert!(core.iter().any(|&b| b != 0), "BIOS boot partition is empty");
    assert!(
        boot.join("grub/i386-pc/normal.mod").exists(),
        "no GRUB modules in /boot/grub"
    );
    assert!(boot.join("grub/grub.cfg").exists(), "no grub.cfg written");
    drop(clean);
}
