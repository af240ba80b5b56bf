//! Finalize plans computed from facts: target trees made here (the files that identify a
//! Debian or a RHEL system), layouts in rear-rs format (hand-written here, and one probed from
//! the captured lab scenario md-raid1-lvm) and a captured `efibootmgr -v`.

use std::path::{Path, PathBuf};

use rear_core::cmd::{FakeRunner, Output, SystemRunner};
use rear_core::finalize::{
    self, ChrootMounts, Facts, Firmware, TargetOs, WrapupOptions, boot_devices, plan, wrapup,
};
use rear_core::layout::file;
use rear_core::probe::efibootmgr::parse_efibootmgr;
use rear_core::probe::{ProbeOptions, probe_layout, scenario};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/layouts")
}

fn touch(root: &Path, rel: &str, contents: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, contents).unwrap();
}

/// A Debian 12 target: initramfs-tools, grub-pc/grub-efi, optionally shim-signed.
fn debian_target(shim: bool) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    touch(
        r,
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    touch(
        r,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n",
    );
    for p in [
        "usr/sbin/update-initramfs",
        "usr/sbin/grub-install",
        "usr/sbin/grub-mkconfig",
        "usr/sbin/update-grub",
    ] {
        touch(r, p, "#!/bin/sh\n");
    }
    if shim {
        touch(r, "usr/lib/shim/shimx64.efi.signed", "MZ");
    }
    t
}

/// A RHEL 9 target: dracut, grub2, shim and signed GRUB on the restored ESP, SELinux enforcing.
fn rhel_target() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    touch(
        r,
        "etc/os-release",
        "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n",
    );
    touch(
        r,
        "etc/default/grub",
        "GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n",
    );
    touch(
        r,
        "etc/selinux/config",
        "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n",
    );
    for p in [
        "usr/bin/dracut",
        "usr/sbin/grub2-install",
        "usr/sbin/grub2-mkconfig",
    ] {
        touch(r, p, "#!/bin/sh\n");
    }
    touch(r, "boot/efi/EFI/redhat/shimx64.efi", "MZ");
    touch(r, "boot/efi/EFI/redhat/grubx64.efi", "MZ");
    t
}

fn render(p: &finalize::FinalizePlan) -> String {
    // Without the first line: the target is a temporary directory.
    p.to_string().lines().skip(1).collect::<Vec<_>>().join("\n")
}

const UEFI_NVME: &str = "layout version=1
disk dev=/dev/nvme0n1 size=4294967296 table=gpt
part dev=/dev/nvme0n1p1 disk=/dev/nvme0n1 number=1 start=1048576 size=268435456 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B flags=esp partuuid=7e7e7e7e-0000-4000-8000-000000000701
part dev=/dev/nvme0n1p2 disk=/dev/nvme0n1 number=2 start=269484032 size=4024434688 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 partuuid=7e7e7e7e-0000-4000-8000-000000000702
fs dev=/dev/nvme0n1p1 type=vfat mountpoint=/boot/efi
fs dev=/dev/nvme0n1p2 type=ext4 mountpoint=/
bootloader kind=grub2-efi esp=/boot/efi
";

const UEFI_ESP_ON_RAID1: &str = "layout version=1
disk dev=/dev/sda size=4294967296 table=gpt
part dev=/dev/sda1 disk=/dev/sda number=1 start=1048576 size=268435456 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B partuuid=11111111-0000-4000-8000-000000000001
part dev=/dev/sda2 disk=/dev/sda number=2 start=269484032 size=4024434688 type=A19D880F-05FC-4D3B-A006-743F0F84911E
disk dev=/dev/sdb size=4294967296 table=gpt
part dev=/dev/sdb1 disk=/dev/sdb number=1 start=1048576 size=268435456 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B partuuid=22222222-0000-4000-8000-000000000001
part dev=/dev/sdb2 disk=/dev/sdb number=2 start=269484032 size=4024434688 type=A19D880F-05FC-4D3B-A006-743F0F84911E
raid dev=/dev/md126 level=raid1 raid_devices=2 devices=/dev/sda1,/dev/sdb1 metadata=1.0
raid dev=/dev/md127 level=raid1 raid_devices=2 devices=/dev/sda2,/dev/sdb2 metadata=1.2
fs dev=/dev/md126 type=vfat mountpoint=/boot/efi
fs dev=/dev/md127 type=xfs mountpoint=/
";

fn facts(target: &Path, firmware: Firmware, layout_text: &str, efibootmgr: Option<&str>) -> Facts {
    let layout = file::read(layout_text, Path::new("test-layout")).unwrap();
    let (boot_disks, esp) = boot_devices(&layout);
    Facts {
        target: target.to_path_buf(),
        firmware,
        os: TargetOs::detect(target),
        boot_disks,
        esp,
        efi_boot: efibootmgr.map(parse_efibootmgr),
        rebuild_initramfs: true,
        efi_label: None,
    }
}

#[test]
fn bios_on_md_raid1_probed_from_the_lab_installs_on_both_disks() {
    let dir = fixtures().join("md-raid1-lvm");
    let fake = scenario::fake_runner(&dir).unwrap();
    let opts = ProbeOptions {
        uefi: Some(false),
        sys_root: Some(dir.join("no-sys")),
        ..ProbeOptions::default()
    };
    let layout = probe_layout(&fake, &opts).unwrap();
    let (disks, esp) = boot_devices(&layout);
    assert_eq!(disks, ["/dev/vda", "/dev/vdb"]);
    assert_eq!(esp, None);

    let t = debian_target(false);
    let f = Facts {
        target: t.path().to_path_buf(),
        firmware: Firmware::Bios,
        os: TargetOs::detect(t.path()),
        boot_disks: disks,
        esp,
        efi_boot: None,
        rebuild_initramfs: true,
        efi_label: None,
    };
    insta::assert_snapshot!(render(&plan(&f)));
}

#[test]
fn uefi_debian_with_shim_skips_an_existing_entry() {
    let t = debian_target(true);
    let captured = std::fs::read_to_string(fixtures().join("uefi-esp/efibootmgr-v.txt")).unwrap();
    let f = facts(t.path(), Firmware::Uefi, UEFI_NVME, Some(&captured));
    let p = plan(&f);
    insta::assert_snapshot!(render(&p));
    assert!(p.notes.iter().any(|n| n.contains("Boot0001")), "{p}");
}

#[test]
fn uefi_debian_without_shim_creates_the_entry() {
    let t = debian_target(false);
    let f = facts(
        t.path(),
        Firmware::Uefi,
        UEFI_NVME,
        Some("BootOrder: 0000\nBoot0000* UiApp\tFvVol(x)/FvFile(y)\n"),
    );
    insta::assert_snapshot!(render(&plan(&f)));
}

#[test]
fn uefi_rhel_on_raid1_esp_keeps_signed_grub_and_relabels() {
    let t = rhel_target();
    let f = facts(t.path(), Firmware::Uefi, UEFI_ESP_ON_RAID1, Some(""));
    assert!(f.os.selinux && f.os.shim && f.os.is_redhat_like());
    assert_eq!(f.os.efi_vendor, "redhat");
    insta::assert_snapshot!(render(&plan(&f)));
}

#[test]
fn target_without_boot_tools_is_explained_not_faked() {
    let t = tempfile::tempdir().unwrap();
    let f = facts(t.path(), Firmware::Bios, UEFI_NVME, None);
    let p = plan(&f);
    assert!(p.actions.is_empty(), "{p}");
    assert!(p.notes.iter().any(|n| n.contains("no grub-install")), "{p}");
    assert!(
        p.notes.iter().any(|n| n.contains("initramfs not rebuilt")),
        "{p}"
    );
}

#[test]
fn selinux_relabel_only_when_configured() {
    let t = rhel_target();
    assert!(finalize::selinux_relabel_needed(t.path()).unwrap());
    assert!(t.path().join(".autorelabel").exists());
    let d = debian_target(false);
    touch(d.path(), "etc/selinux/config", "SELINUX=disabled\n");
    assert!(!finalize::selinux_relabel_needed(d.path()).unwrap());
    assert!(!d.path().join(".autorelabel").exists());
}

#[test]
fn chroot_mounts_unmount_in_reverse_and_report_failures() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().display().to_string();
    let sources = ["/proc", "/sys", "/sys/firmware/efi/efivars", "/dev", "/run"];
    let mut fake = FakeRunner::new();
    for s in sources {
        fake = fake.on(&format!("mount --bind {s} {r}{s}"), "");
    }
    for s in ["/proc", "/sys", "/sys/firmware/efi/efivars", "/dev"] {
        fake = fake.on(&format!("umount {r}{s}"), "");
    }
    // /run is busy and even a lazy unmount fails (the fake has no answer for it).
    fake = fake.on_output(
        &format!("umount {r}/run"),
        Output {
            status: 32,
            stderr: b"target is busy".to_vec(),
            ..Output::default()
        },
    );
    let m = ChrootMounts::bind_these(t.path(), &sources, &fake).unwrap();
    assert_eq!(m.mounted().len(), 5);
    let err = m.unmount().unwrap_err().to_string();
    assert!(err.contains("/run"), "{err}");
    let calls = fake.calls();
    let umounts: Vec<_> = calls
        .iter()
        .filter(|c| c.starts_with("umount"))
        .cloned()
        .collect();
    assert_eq!(
        umounts,
        [
            format!("umount {r}/run"),
            format!("umount --lazy {r}/run"),
            format!("umount {r}/dev"),
            format!("umount {r}/sys/firmware/efi/efivars"),
            format!("umount {r}/sys"),
            format!("umount {r}/proc"),
        ]
    );
}

#[test]
fn chroot_mounts_undo_a_partial_bind() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().display().to_string();
    let fake = FakeRunner::new()
        .on(&format!("mount --bind /proc {r}/proc"), "")
        .on(&format!("umount {r}/proc"), "");
    let err = ChrootMounts::bind_these(t.path(), &["/proc", "/sys"], &fake).unwrap_err();
    assert!(err.to_string().contains("mount --bind /sys"), "{err}");
    assert_eq!(fake.calls().last().unwrap(), &format!("umount {r}/proc"));
}

#[test]
fn wrapup_copies_evidence_and_runs_the_post_recovery_script() {
    let target = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("rear-lab.log");
    std::fs::write(&log, "recovery log\n").unwrap();
    let layout_dir = work.path().join("layout");
    touch(&layout_dir, "disklayout.conf", "disk /dev/vda\n");
    touch(&layout_dir, "lvm/vg0.cfg", "vg0 {}\n");
    let opts = WrapupOptions {
        target: target.path().to_path_buf(),
        log: Some(log),
        layout_dir: Some(layout_dir),
        post_recovery_script: vec!["echo done >\"$TARGET_FS_ROOT/post-recovery-ran\"".into()],
    };
    let runner = SystemRunner::new();
    let report = wrapup(&opts, &runner, false).unwrap();
    let dest = target.path().join("var/log/rear/recover");
    assert_eq!(
        std::fs::read_to_string(dest.join("rear-lab.log")).unwrap(),
        "recovery log\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("layout/lvm/vg0.cfg")).unwrap(),
        "vg0 {}\n"
    );
    assert_eq!(report.copied.len(), 3);
    assert_eq!(report.scripts_run, 1);
    assert_eq!(
        std::fs::read_to_string(target.path().join("post-recovery-ran")).unwrap(),
        "done\n"
    );
    // a failing script is an error naming it
    let bad = WrapupOptions {
        post_recovery_script: vec!["exit 3".into()],
        log: None,
        layout_dir: None,
        ..opts
    };
    let err = wrapup(&bad, &runner, false).unwrap_err().to_string();
    assert!(err.contains("exit 3"), "{err}");
}
