//! Secure Boot: the rescue ISO's El Torito EFI image carries the host's signed shim as
//! `\EFI\BOOT\BOOTX64.EFI` and Debian's signed GRUB as `grubx64.efi` (the name shim loads), and
//! the ISO has `/.disk/info`, by which the signed GRUB's built-in configuration finds the medium
//! and its `/boot/grub/grub.cfg`. Checked on the real ISO built with xorriso and mtools (needs
//! Debian's shim-signed and grub-efi-amd64-signed; the VM test boots it with Secure Boot on).

use std::path::Path;
use std::process::Command;

use rear_core::cmd::SystemRunner;
use rear_core::rescue::output::{
    self, OutputKind, OutputOptions, SIGNED_GRUB, SIGNED_MOK_MANAGER, SIGNED_SHIM, SecureBoot,
};
use rear_core::ui::RecordingUi;

fn run(cmd: &str) -> Vec<u8> {
    let out = Command::new("bash").args(["-ec", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn iso_with(work: &Path, sb: SecureBoot) -> std::path::PathBuf {
    let kernel = work.join("vmlinuz");
    let initrd = work.join("initrd.zst");
    std::fs::write(&kernel, b"kernel").unwrap();
    std::fs::write(&initrd, b"initrd").unwrap();
    let mut o = OutputOptions::new(&work.join("w"), "sbhost");
    o.kind = OutputKind::Iso;
    o.output_dir = work.join("out");
    o.secure_boot = sb;
    let r = output::write_output(
        &o,
        &kernel,
        &initrd,
        &SystemRunner::new(),
        &RecordingUi::new(),
    )
    .unwrap();
    r.files[0].clone()
}

#[test]
fn rescue_iso_uses_the_hosts_signed_shim_and_grub() {
    for f in [SIGNED_SHIM, SIGNED_GRUB, SIGNED_MOK_MANAGER] {
        assert!(
            Path::new(f).is_file(),
            "{f} missing: install shim-signed and grub-efi-amd64-signed"
        );
    }
    assert!(SecureBoot::Auto.signed_files().unwrap().is_some());
    let t = tempfile::tempdir().unwrap();
    let iso = iso_with(t.path(), SecureBoot::Shim(SIGNED_SHIM.into()));
    let d = t.path().join("x");
    std::fs::create_dir(&d).unwrap();
    run(&format!(
        "xorriso -osirrox on -indev {} -extract /boot/efiboot.img {}/efiboot.img \
         -extract /.disk/info {}/info -extract /boot/grub/grub.cfg {}/grub.cfg 2>/dev/null",
        iso.display(),
        d.display(),
        d.display(),
        d.display()
    ));
    let img = d.join("efiboot.img");
    let listing = String::from_utf8(run(&format!(
        "MTOOLS_SKIP_CHECK=1 mdir -b -i {} ::/EFI/BOOT",
        img.display()
    )))
    .unwrap();
    let mut names: Vec<&str> = listing
        .lines()
        .map(|l| l.rsplit('/').next().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["BOOTX64.EFI", "grubx64.efi", "mmx64.efi"],
        "{listing}"
    );
    for (inside, host) in [
        ("BOOTX64.EFI", SIGNED_SHIM),
        ("grubx64.efi", SIGNED_GRUB),
        ("mmx64.efi", SIGNED_MOK_MANAGER),
    ] {
        let got = run(&format!(
            "MTOOLS_SKIP_CHECK=1 mtype -i {} ::/EFI/BOOT/{inside}",
            img.display()
        ));
        assert!(
            got == std::fs::read(host).unwrap(),
            "{inside} is not {host}"
        );
    }
    assert!(
        std::fs::read_to_string(d.join("info"))
            .unwrap()
            .contains("rear-sbhost")
    );
    assert!(
        std::fs::read_to_string(d.join("grub.cfg"))
            .unwrap()
            .contains("linux /boot/kernel")
    );

    // without Secure Boot: one unsigned GRUB image, no shim
    let t2 = tempfile::tempdir().unwrap();
    let iso = iso_with(t2.path(), SecureBoot::Off);
    let img = t2.path().join("efiboot.img");
    run(&format!(
        "xorriso -osirrox on -indev {} -extract /boot/efiboot.img {} 2>/dev/null",
        iso.display(),
        img.display()
    ));
    let listing = String::from_utf8(run(&format!(
        "MTOOLS_SKIP_CHECK=1 mdir -b -i {} ::/EFI/BOOT",
        img.display()
    )))
    .unwrap();
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(listing.contains("BOOTX64.EFI"));
}

#[test]
fn secure_boot_bootloader_that_is_missing_is_an_error() {
    let e = SecureBoot::Shim("/nonexistent/shimx64.efi".into())
        .signed_files()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SECURE_BOOT_BOOTLOADER=/nonexistent/shimx64.efi"),
        "{e}"
    );
}
