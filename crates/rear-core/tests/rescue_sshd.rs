//! sshd and the keymap in a built rescue tree, checked without a VM: the tree's own `sshd`
//! accepts the generated configuration in a chroot (so its libraries, the privilege-separation
//! user and the config are complete), root's hash and key are in place, and the keymap compiled by
//! `ckbcomp` is one the tree's `loadkeys` parses. The VM test logs in for real.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rear_core::cmd::SystemRunner;
use rear_core::rescue::keymap::{KEYMAP_FILE, KEYMAP_POINTER, KeymapChoice};
use rear_core::rescue::ssh::{SSHD_CONFIG, SshOptions, sha512_crypt};
use rear_core::rescue::{self, FirmwareSelection, InitKind, ModuleSelection, RescueOptions};
use rear_core::ui::RecordingUi;

#[path = "rescue_support.rs"]
mod rescue_support;
use rescue_support::{debian_kernel, sh};

#[test]
fn rescue_tree_sshd_accepts_its_config_in_a_chroot_and_the_keymap_parses() {
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("authorized_keys");
    std::fs::write(&keys, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE8 test@host\n").unwrap();
    let mut o = RescueOptions::new(work.path(), debian_kernel(), Path::new("/bin/true"));
    o.ship_registry_tools = false;
    o.modules = ModuleSelection::None;
    o.firmware = FirmwareSelection::None;
    o.network = Some(Default::default());
    o.init = InitKind::Script;
    o.config_dir = work.path().join("no-config");
    o.var_dir = work.path().join("no-var");
    o.ssh = SshOptions {
        root_password: Some("plain-secret".into()),
        authorized_keys: Some(keys),
        copy_host_keys: false,
    };
    o.keymap = KeymapChoice::Named("fr(azerty)".into());
    let t = rescue::build_rescue_tree(&o, &SystemRunner::new(), &RecordingUi::new()).unwrap();
    let root = &t.root;
    assert!(t.sshd);
    assert_eq!(t.keymap.as_deref(), Some("XKB fr(azerty)"));

    // root's password: a SHA-512 crypt hash of the plain value, no aging
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
    let hash = shadow
        .strip_prefix("root:")
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let salt = hash.split('$').nth(2).unwrap();
    assert_eq!(sha512_crypt("plain-secret", salt).unwrap(), hash);
    assert!(shadow.ends_with(":::::::\n"), "{shadow}");
    // the key, private to root; no host key copied
    let ak = root.join("root/.ssh/authorized_keys");
    assert_eq!(
        std::fs::metadata(&ak).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_dir(root.join("etc/ssh")).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("ssh_host_")
    }));
    assert!(
        std::fs::read_to_string(root.join("etc/passwd"))
            .unwrap()
            .lines()
            .any(|l| l.starts_with("sshd:"))
    );

    // the shipped sshd and ssh-keygen run chrooted: key generation as at boot, then sshd's
    // configuration test (it also checks the privilege-separation user and the host keys)
    // (the initramfs gets /dev/null when packed; the bare stage needs one for the chroot)
    sh(&format!("mknod -m 666 {}/dev/null c 1 3", root.display()));
    let out = sh(&format!(
        "chroot {r} /bin/bash -c 'ssh-keygen -q -t ed25519 -N \"\" -f /etc/ssh/ssh_host_ed25519_key \
         && mkdir -p /run/sshd && $(command -v sshd) -t -f {SSHD_CONFIG} && echo SSHD-CONFIG-OK'",
        r = root.display()
    ));
    assert!(out.contains("SSHD-CONFIG-OK"), "{out}");

    // the keymap: French AZERTY (key 16 is a, not q), parsed by the tree's own loadkeys
    assert_eq!(
        std::fs::read_to_string(root.join(KEYMAP_POINTER.trim_start_matches('/')))
            .unwrap()
            .trim(),
        KEYMAP_FILE
    );
    let map = std::fs::read_to_string(root.join(KEYMAP_FILE.trim_start_matches('/'))).unwrap();
    assert!(
        map.lines()
            .any(|l| l.starts_with("keycode 16 = +U+0061") || l.starts_with("keycode 16 = +a")),
        "{}",
        &map[..map.len().min(2000)]
    );
    // (`--mktable` compiles the map to the kernel's C table without needing a console)
    let out = sh(&format!(
        "chroot {} loadkeys -q -u --mktable {KEYMAP_FILE}",
        root.display()
    ));
    let plain: Vec<&str> = out
        .split("plain_map[NR_KEYS] = {")
        .nth(1)
        .expect("a plain map")
        .split(',')
        .map(str::trim)
        .collect();
    // 0xfb00 | 'a': key 16 types a (it is q on a US keyboard)
    assert_eq!(plain[16], "0xfb61", "{:?}", &plain[..24]);
}
