//! The bare-metal recovery suite (issue 7) as cargo tests: each test is one scenario of
//! `lab/source/scenarios/`, run end to end by `lab/recover.sh` under qemu (TCG): a real Debian
//! source machine runs `rear mkbackup`, a machine with blank disks boots the rescue ISO and runs
//! `rear recover` unattended, the recovered disks boot by themselves and their facts (marker
//! files, UUIDs, labels, LVM, md, fstab, the boot path) must match the source's.
//!
//! `lab/recover.sh` builds the release binary (`cargo build --release -p rear`), because that is
//! what users put on their machines and what goes into the rescue image. The same scenarios run
//! by hand with `cargo xtask vm-test [SCENARIO...]`.

use std::path::PathBuf;
use std::process::Command;

fn recover(scenario: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("lab/recover.sh"))
        .arg(scenario)
        .status()
        .expect("running lab/recover.sh");
    assert!(
        status.success(),
        "recovery scenario {scenario} failed (lab/recover.sh printed where its logs are)"
    );
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_recover_bios_gpt_ext4() {
    recover("bios-gpt-ext4");
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_recover_uefi_lvm_xfs() {
    recover("uefi-lvm-xfs");
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_recover_bios_raid1_lvm() {
    recover("bios-raid1-lvm");
}
