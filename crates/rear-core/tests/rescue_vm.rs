//! Boots the rescue ISO under qemu (TCG) on BIOS (SeaBIOS) and UEFI (OVMF) and checks, on the
//! serial console, that the init ran, the tools are there, the network is up and `rear` runs.
//!
//! The init of these images is this test binary itself ([`InitKind::Program`]): run as PID 1
//! with no arguments, libtest runs its only non-ignored test, [`init_entry_point`], which calls
//! `rescue::init::run_init`. The kernel command line carries `rear.test=/etc/rear/check.sh`, so
//! the init runs the check script, prints `REAR-TEST-RC=<rc>` and powers off.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rear_core::cmd::SystemRunner;
use rear_core::rescue::init::{BootOptions, MARKER_READY, MARKER_SSHD, MARKER_STARTED};
use rear_core::rescue::keymap::KeymapChoice;
use rear_core::rescue::output::{DefaultEntry, OutputKind, OutputOptions};
use rear_core::rescue::ssh::SshOptions;
use rear_core::rescue::{self, Compression, InitKind, RescueOptions, network::NetworkFacts};
use rear_core::ui::RecordingUi;

#[path = "rescue_support.rs"]
mod rescue_support;
use rescue_support::{debian_kernel, sh};

/// PID 1 of the test images; off PID 1 it checks the command line the images are booted with.
#[test]
fn init_entry_point() {
    if std::process::id() == 1 {
        rear_core::rescue::init::run_init(&SystemRunner::new());
    }
    let o = BootOptions::parse("console=tty0 console=ttyS0,115200 rear.test=/etc/rear/check.sh");
    assert_eq!(o.test_command.as_deref(), Some("/etc/rear/check.sh"));
    assert!(!o.unattended);
}

const CHECK: &str = r#"#!/bin/bash
echo CHECK-BEGIN
out=$(rear --version 2>&1); rc=$?
echo "CHECK-REAR-RC=$rc"
echo "CHECK-REAR-OUT=$(echo "$out" | head -1)"
for t in bash lsblk sfdisk mkfs.xfs mkfs.ext4 lvm mdadm cryptsetup tar zstd parted ip modprobe; do
  command -v $t >/dev/null && echo "CHECK-TOOL-OK $t" || echo "CHECK-TOOL-MISSING $t"
done
ip -4 -o addr show | sed 's/^/CHECK-IP /'
ip route | sed 's/^/CHECK-ROUTE /'
lsblk -d -n -o NAME | sed 's/^/CHECK-DISK /'
cat /etc/rear-release | sed 's/^/CHECK-RELEASE /'
# the German keymap loaded by the init: key 21 (y on US keyboards) is z
ls /sys/firmware/efi/efivars 2>/dev/null | grep -q '^SecureBoot-' && echo CHECK-EFIVARS-MOUNTED
dmesg | grep -q 'secureboot: Secure boot enabled' && echo CHECK-SECUREBOOT-ENABLED
dumpkeys 2>&1 | grep -m1 '^keycode  *21 ' | cut -c1-40 | sed 's/^/CHECK-KEYMAP /'
# rear.waitssh: stay up until the host logged in over ssh (it touches /tmp/ssh-ok)
if grep -qw rear.waitssh /proc/cmdline; then
  for i in $(seq 150); do [ -e /tmp/ssh-ok ] && break; sleep 1; done
  [ -e /tmp/ssh-ok ] && echo CHECK-SSH-SEEN || echo CHECK-SSH-NOT-SEEN
fi
echo CHECK-END
"#;

/// The root password of the test images' sshd.
const SSH_PASSWORD: &str = "Rescue-Test-42";

/// The kernel and initrd every VM test boots, built once per test process.
struct Built {
    work: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    stage: PathBuf,
}

static BUILT: OnceLock<Built> = OnceLock::new();

fn built() -> &'static Built {
    BUILT.get_or_init(|| {
        // One fixed directory, emptied at the start of each run, so runs do not pile up images
        // (the static is never dropped, so a temporary directory would never be removed).
        let work = PathBuf::from("/var/tmp/rear-rescue-vm-test");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        let conf = work.join("etc-rear");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("check.sh"), CHECK).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            conf.join("check.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        // The init is this test binary, stripped to keep the initrd small.
        let init = work.join("init");
        std::fs::copy(std::env::current_exe().unwrap(), &init).unwrap();
        sh(&format!("strip {}", init.display()));
        // The source system's NIC had qemu's MAC: the init puts the recorded address on it
        // (unless the kernel command line says rear.dhcp).
        let facts: NetworkFacts = serde_json::from_str(
            r#"{"interfaces":[{"name":"enp0s2","mac":"52:54:00:12:34:56","mtu":1500,
                "addresses":["10.0.2.15/24"]}],
                "routes":[{"dst":"default","gateway":"10.0.2.2","dev":"enp0s2"}],
                "nameservers":["10.0.2.3"],"use_dhcp":false,
                "preparation_commands":["echo REAR-PREP-RAN"]}"#,
        )
        .unwrap();
        let mut o = RescueOptions::new(&work, debian_kernel(), &rescue_support::rear_binary());
        o.init = InitKind::Program(init);
        o.config_dir = conf;
        o.var_dir = work.join("var-lib-rear");
        o.network = Some(facts);
        o.hostname = "vmtest".into();
        // sshd with a root password and a key; a keymap other than the kernel's US default
        let key = work.join("id_ed25519");
        sh(&format!(
            "ssh-keygen -q -t ed25519 -N '' -C rear-vm-test -f {}",
            key.display()
        ));
        o.ssh = SshOptions {
            root_password: Some(SSH_PASSWORD.into()),
            authorized_keys: Some(work.join("id_ed25519.pub")),
            copy_host_keys: false,
        };
        o.keymap = KeymapChoice::Named("de".into());
        let runner = SystemRunner::new();
        let t0 = Instant::now();
        let tree = rescue::build_rescue_tree(&o, &runner, &RecordingUi::new()).unwrap();
        assert!(tree.sshd, "sshd not set up (is openssh-server installed?)");
        assert_eq!(tree.keymap.as_deref(), Some("XKB de"));
        let initrd = work.join("initrd.zst");
        let rep =
            rescue::pack_initramfs(&tree.root, &initrd, Compression::Zstd(3), 0, &runner).unwrap();
        eprintln!(
            "built the rescue system in {:.1?}: initrd {} MB (cpio {} MB)",
            t0.elapsed(),
            rep.compressed_bytes / 1_000_000,
            rep.cpio_bytes / 1_000_000,
        );
        Built {
            work,
            kernel: tree.kernel_image,
            initrd,
            stage: tree.root,
        }
    })
}

/// Writes the boot medium `kind` with the test command on the kernel command line.
fn medium(kind: OutputKind, extra_args: &[&str]) -> PathBuf {
    let b = built();
    let mut out = OutputOptions::new(&b.work.join(format!("{kind:?}")), "vmtest");
    out.kind = kind;
    out.output_dir = b.work.join("output");
    out.serial_console = Some("ttyS0,115200".into());
    out.kernel_args = vec!["rear.test=/etc/rear/check.sh".into(), "panic=-1".into()];
    out.kernel_args
        .extend(extra_args.iter().map(|s| s.to_string()));
    out.default_entry = DefaultEntry::Recover;
    out.timeout_secs = 1;
    let files = rescue::write_output(
        &out,
        &b.kernel,
        &b.initrd,
        &SystemRunner::new(),
        &RecordingUi::new(),
    )
    .unwrap();
    eprintln!(
        "{:?}: {} MB",
        kind,
        std::fs::metadata(&files.files[0]).unwrap().len() / 1_000_000
    );
    files.files[0].clone()
}

enum Boot<'a> {
    Cdrom(&'a Path),
    Disk(&'a Path),
    /// Network boot from qemu's TFTP server: (TFTP root, boot file).
    Net(&'a Path, &'a str),
    /// qemu's own loader: (kernel, initrd, command line).
    Direct(&'a Path, &'a Path, &'a str),
}

/// Boots the medium and returns the serial console output once the test command finished.
fn boot(medium: Boot, uefi: bool) -> String {
    boot_with_ssh(medium, uefi, false, None).0
}

/// A free TCP port on the host for qemu's hostfwd.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Logs in to the guest's sshd (forwarded to `port`) with `ssh` from the host, by password
/// (sshpass) or with the test key, and runs `remote`. Retries while sshd comes up.
fn ssh_login(port: u16, with_key: bool, remote: &str) -> String {
    let b = &built().work;
    let mut last = String::new();
    for _ in 0..10 {
        let mut c = if with_key {
            let mut c = Command::new("ssh");
            c.arg("-i").arg(b.join("id_ed25519")).args([
                "-o",
                "PasswordAuthentication=no",
                "-o",
                "BatchMode=yes",
            ]);
            c
        } else {
            let mut c = Command::new("sshpass");
            c.args(["-p", SSH_PASSWORD, "ssh", "-o", "PubkeyAuthentication=no"]);
            c
        };
        c.args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "LogLevel=ERROR",
            "-p",
            &port.to_string(),
            "root@127.0.0.1",
            remote,
        ]);
        let out = c.output().expect("ssh runs");
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return last;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    panic!("ssh login failed: {last}")
}

/// [`boot`], and with `ssh` (kernel command line `rear.waitssh`) logs in over ssh while the
/// guest waits: returns the serial log and the output of the password and the key logins.
/// `secure_boot` (with `uefi`): OVMF with Secure Boot enforced and Microsoft's keys enrolled
/// (Debian's `OVMF_CODE_4M.ms.fd` + a copy of `OVMF_VARS_4M.ms.fd`, SMM on).
fn boot_with_ssh(medium: Boot, uefi: bool, secure_boot: bool, ssh: Option<()>) -> (String, String) {
    let work = &built().work;
    let serial = work.join("serial.log");
    let _ = std::fs::remove_file(&serial);
    let disk = work.join("disk.raw");
    std::fs::write(&disk, []).unwrap();
    sh(&format!("truncate -s 64M {}", disk.display()));
    let mut cmd = Command::new("timeout");
    cmd.args([
        "240",
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-machine",
        if secure_boot { "q35,smm=on" } else { "q35" },
        "-cpu",
        "max",
    ])
    .args(["-smp", "2", "-m", "1024", "-display", "none", "-no-reboot"])
    .args(["-serial", &format!("file:{}", serial.display())])
    .args([
        "-drive",
        &format!("file={},if=virtio,format=raw", disk.display()),
    ]);
    let mut nic = "user,model=virtio-net-pci,mac=52:54:00:12:34:56".to_string();
    let port = free_port();
    if ssh.is_some() {
        nic.push_str(&format!(",hostfwd=tcp:127.0.0.1:{port}-:22"));
    }
    match medium {
        Boot::Cdrom(iso) => {
            cmd.args([
                "-drive",
                &format!("file={},media=cdrom,readonly=on", iso.display()),
            ]);
            cmd.args(["-boot", "d"]);
        }
        Boot::Disk(raw) => {
            let drive = format!(
                "file={},format=raw,if=none,id=rescue,snapshot=on",
                raw.display()
            );
            cmd.args(["-drive", &drive]);
            cmd.args(["-device", "virtio-blk-pci,drive=rescue,bootindex=1"]);
        }
        Boot::Direct(kernel, initrd, append) => {
            cmd.arg("-kernel")
                .arg(kernel)
                .arg("-initrd")
                .arg(initrd)
                .args(["-append", append]);
        }
        Boot::Net(tftp, bootfile) => {
            nic.push_str(&format!(",tftp={},bootfile={bootfile}", tftp.display()));
            cmd.args(["-boot", "n"]);
        }
    }
    cmd.args(["-nic", &nic]);
    if uefi && secure_boot {
        let vars = work.join("OVMF_VARS_4M.ms.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", &vars).unwrap();
        cmd.args(["-global", "driver=cfi.pflash01,property=secure,value=on"])
            .args([
                "-drive",
                "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
            ])
            .args([
                "-drive",
                &format!("if=pflash,format=raw,unit=1,file={}", vars.display()),
            ]);
    } else if uefi {
        cmd.args(["-bios", "/usr/share/ovmf/OVMF.fd"]);
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("qemu runs");
    let read_log =
        || String::from_utf8_lossy(&std::fs::read(&serial).unwrap_or_default()).into_owned();
    let mut ssh_out = String::new();
    if ssh.is_some() {
        while !read_log().contains(MARKER_READY) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        if read_log().contains(MARKER_SSHD) {
            let t1 = Instant::now();
            ssh_out = ssh_login(port, false, "echo SSH-PASSWORD-LOGIN $(id -un)@$(hostname)");
            ssh_out += &ssh_login(
                port,
                true,
                "echo SSH-KEY-LOGIN $(id -un)@$(hostname); touch /tmp/ssh-ok",
            );
            eprintln!("ssh logins took {:.1?}", t1.elapsed());
        }
    }
    let st = child.wait().expect("qemu runs");
    let log = read_log();
    eprintln!(
        "qemu ({}) exited {st} after {:.1?}",
        if uefi { "OVMF" } else { "SeaBIOS" },
        t0.elapsed()
    );
    assert!(
        t0.elapsed() < Duration::from_secs(239),
        "qemu timed out; serial log:\n{log}"
    );
    (log, ssh_out)
}

fn assert_rescue_works(log: &str, expected_rear: &str, expect_ip: &str) {
    let ctx = || format!("serial log:\n{log}");
    assert!(
        log.contains(MARKER_STARTED),
        "init did not start; {}",
        ctx()
    );
    assert!(log.contains(MARKER_READY), "init not ready; {}", ctx());
    assert!(log.contains("REAR-TEST-RC=0"), "{}", ctx());
    assert!(
        log.contains("CHECK-REAR-RC=0"),
        "rear did not run; {}",
        ctx()
    );
    assert!(
        log.contains(&format!("CHECK-REAR-OUT={expected_rear}")),
        "{}",
        ctx()
    );
    for t in [
        "bash",
        "lsblk",
        "sfdisk",
        "mkfs.ext4",
        "tar",
        "ip",
        "modprobe",
    ] {
        assert!(
            log.contains(&format!("CHECK-TOOL-OK {t}")),
            "{t} missing; {}",
            ctx()
        );
    }
    assert!(
        log.lines()
            .any(|l| l.starts_with("CHECK-IP") && l.contains(expect_ip)),
        "no {expect_ip}; {}",
        ctx()
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("CHECK-ROUTE default via 10.0.2.2")),
        "{}",
        ctx()
    );
    assert!(
        log.contains("CHECK-DISK vda"),
        "virtio disk not seen; {}",
        ctx()
    );
}

fn host_rear_version() -> String {
    let out = Command::new(rescue_support::rear_binary())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_iso_boots_on_bios_with_the_recorded_network_sshd_and_keymap() {
    let iso = medium(OutputKind::Iso, &["rear.waitssh"]);
    let (log, ssh) = boot_with_ssh(Boot::Cdrom(&iso), false, false, Some(()));
    assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    // sshd: started after the network, with host keys generated at boot; root logs in from the
    // host with the password (SSH_ROOT_PASSWORD) and with the authorized key
    assert!(log.contains(MARKER_SSHD), "{log}");
    assert!(
        log.contains("rear init: sshd host key 256 SHA256:"),
        "{log}"
    );
    assert!(ssh.contains("SSH-PASSWORD-LOGIN root@vmtest"), "{ssh}");
    assert!(ssh.contains("SSH-KEY-LOGIN root@vmtest"), "{ssh}");
    assert!(log.contains("CHECK-SSH-SEEN"), "{log}");
    // the keymap (KEYMAP=de via ckbcomp) was loaded by the init: key 21 is z
    assert!(
        log.contains("rear init: keyboard map /etc/rear/keymap.map loaded"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("CHECK-KEYMAP keycode  21 = +") && l.contains('z')),
        "{log}"
    );
    assert!(
        log.contains("network configured from the source system"),
        "{log}"
    );
    // NETWORKING_PREPARATION_COMMANDS ran before the network setup
    let prep = log
        .find("REAR-PREP-RAN")
        .expect("preparation command output");
    assert!(
        prep < log
            .find("network configured from the source system")
            .unwrap()
    );
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_iso_boots_on_uefi_with_secure_boot_and_dhcp() {
    // the ISO carries the host's signed shim and GRUB (shim-signed, grub-efi-amd64-signed) and
    // the Debian kernel is signed: it boots with Secure Boot enforced
    let iso = medium(OutputKind::Iso, &["rear.dhcp"]);
    let (log, _) = boot_with_ssh(Boot::Cdrom(&iso), true, true, None);
    assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    assert!(log.contains("rear init: DHCP"), "{log}");
    assert!(
        log.contains("CHECK-SECUREBOOT-ENABLED"),
        "Secure Boot was not on; {log}"
    );
    assert!(log.contains("CHECK-EFIVARS-MOUNTED"), "{log}");
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_rawdisk_boots_on_bios_and_uefi() {
    let raw = medium(OutputKind::Rawdisk, &[]);
    for uefi in [false, true] {
        let log = boot(Boot::Disk(&raw), uefi);
        assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    }
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_pxe_boots_with_pxelinux_and_grub() {
    let b = built();
    let mut out = OutputOptions::new(&b.work.join("pxe-work"), "vmtest");
    out.kind = OutputKind::Pxe;
    out.output_dir = b.work.join("output");
    out.pxe.tftp_dir = b.work.join("tftp");
    out.pxe.macs = vec!["52:54:00:12:34:56".into()];
    out.serial_console = Some("ttyS0,115200".into());
    out.kernel_args = vec!["rear.test=/etc/rear/check.sh".into(), "panic=-1".into()];
    out.default_entry = DefaultEntry::Recover;
    out.timeout_secs = 1;
    let files = rescue::write_output(
        &out,
        &b.kernel,
        &b.initrd,
        &SystemRunner::new(),
        &RecordingUi::new(),
    )
    .unwrap();
    let tftp = &out.pxe.tftp_dir;
    assert!(
        files
            .files
            .contains(&tftp.join("pxelinux.cfg/01-52-54-00-12-34-56")),
        "{files:?}"
    );
    assert!(tftp.join("boot/grub/x86_64-efi/core.efi").is_file());
    assert!(tftp.join("boot/grub/i386-pc/core.0").is_file());
    // BIOS: pxelinux picks the per-MAC menu
    let log = boot(Boot::Net(tftp, "pxelinux.0"), false);
    assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    // UEFI: GRUB's network image
    let log = boot(Boot::Net(tftp, "boot/grub/x86_64-efi/core.efi"), true);
    assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
}

/// The bash /init (InitKind::Script), booted from RAMDISK output with qemu's -kernel/-initrd.
#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_ramdisk_boots_with_the_script_init() {
    let b = built();
    let init = b.stage.join("init");
    std::fs::remove_file(&init).unwrap();
    std::fs::write(&init, rear_core::rescue::init::INIT_SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
    let initrd = b.work.join("initrd-script.zst");
    let runner = SystemRunner::new();
    rescue::pack_initramfs(&b.stage, &initrd, Compression::Zstd(3), 0, &runner).unwrap();
    let mut out = OutputOptions::new(&b.work.join("ramdisk-work"), "vmtest");
    out.kind = OutputKind::Ramdisk;
    out.output_dir = b.work.join("output");
    let files =
        rescue::write_output(&out, &b.kernel, &initrd, &runner, &RecordingUi::new()).unwrap();
    assert_eq!(files.files.len(), 2);
    let log = boot(
        Boot::Direct(
            &files.files[0],
            &files.files[1],
            "console=ttyS0,115200 rear.test=/etc/rear/check.sh",
        ),
        false,
    );
    assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    assert!(log.contains("rear init: DHCP (busybox udhcpc)"), "{log}");
}

/// `rear format` + `OUTPUT=USB` on a disk image: two rescue systems written, one kept, and the
/// disk boots on BIOS and UEFI.
#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_rescue_usb_disk_boots_on_bios_and_uefi() {
    use rear_core::rescue::usb;
    let b = built();
    let disk = b.work.join("usb.img");
    std::fs::write(&disk, []).unwrap();
    sh(&format!("truncate -s 1G {}", disk.display()));
    let runner = SystemRunner::new();
    usb::format_usb(&disk, &usb::UsbFormatOptions { efi_mib: 256 }, &runner).unwrap();
    // the data partition is a real ext4 labelled REAR-000
    let parts = sh(&format!("sfdisk --json {}", disk.display()));
    let (data_start, _) = usb::find_partition(&parts, usb::DATA_LABEL).unwrap();
    let probe = sh(&format!(
        "blkid -p -O {data_start} -o export {}",
        disk.display()
    ));
    assert!(
        probe.contains("LABEL=REAR-000") && probe.contains("TYPE=ext4"),
        "{probe}"
    );

    let mut out = OutputOptions::new(&b.work.join("usb-work"), "vmtest");
    out.kind = OutputKind::Usb;
    out.usb_disk = Some(disk.clone());
    out.usb_retain = 1;
    out.serial_console = Some("ttyS0,115200".into());
    out.kernel_args = vec!["rear.test=/etc/rear/check.sh".into(), "panic=-1".into()];
    out.default_entry = DefaultEntry::Recover;
    out.timeout_secs = 1;
    let ui = RecordingUi::new();
    rescue::write_output(&out, &b.kernel, &b.initrd, &runner, &ui).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    rescue::write_output(&out, &b.kernel, &b.initrd, &runner, &ui).unwrap();
    let (efi_start, _) = usb::find_partition(&parts, usb::EFI_LABEL).unwrap();
    let listing = sh(&format!(
        "MTOOLS_SKIP_CHECK=1 mdir -b -i {}@@{efi_start} ::/rear/rear-vmtest",
        disk.display()
    ));
    assert_eq!(
        listing.lines().count(),
        1,
        "only the newest copy is kept: {listing}"
    );
    for uefi in [false, true] {
        let log = boot(Boot::Disk(&disk), uefi);
        assert_rescue_works(&log, &host_rear_version(), "10.0.2.15/24");
    }
}
