//! Building and packing a rescue tree from this host with a real Debian kernel package.
//!
//! The kernel comes from `/var/cache/rear-lab/rescue-kernel` (Debian's `linux-image-*-amd64`,
//! downloaded with `apt-get download` and unpacked with `dpkg -x` the first time, then `depmod`).

use std::path::{Path, PathBuf};

use rear_core::cmd::SystemRunner;
use rear_core::rescue::{
    self, Compression, FirmwareSelection, InitKind, ModuleSelection, RescueOptions,
    modules::ModuleTree, network::NetworkFacts,
};
use rear_core::ui::RecordingUi;

#[path = "rescue_support.rs"]
mod rescue_support;
use rescue_support::{debian_kernel, sh};

fn facts() -> NetworkFacts {
    serde_json::from_str(
        r#"{"interfaces":[{"name":"eth0","mac":"52:54:00:12:34:56","mtu":1500,
            "addresses":["10.0.2.15/24"]}],
            "routes":[{"dst":"default","gateway":"10.0.2.2","dev":"eth0"}],
            "nameservers":["10.0.2.3"],"use_dhcp":false}"#,
    )
    .unwrap()
}

#[test]
fn debian_kernel_modules_resolve_with_dependencies_and_firmware() {
    let k = debian_kernel();
    let tree = ModuleTree::open(&k.modules_dir()).unwrap();
    let set = tree.resolve(&["ext4", "dm-crypt", "virtio_net", "bnx2", "raid456"]);
    let pos = |n: &str| {
        set.files
            .iter()
            .position(|f| f.ends_with(n))
            .unwrap_or_else(|| panic!("{n} in {:?}", set.files))
    };
    assert!(pos("/jbd2.ko") < pos("/ext4.ko"));
    assert!(pos("/dm-mod.ko") < pos("/dm-crypt.ko"));
    assert!(pos("/raid6_pq.ko") < pos("/raid456.ko"));
    // the firmware bnx2 declares, as `modinfo -F firmware` shows it
    let runner = SystemRunner::new();
    let fw = rear_core::rescue::modules::module_firmware(
        &tree.dir().join(&set.files[pos("/bnx2.ko")]),
        &runner,
    )
    .unwrap();
    let modinfo = sh(&format!(
        "modinfo -F firmware {}",
        tree.dir().join(&set.files[pos("/bnx2.ko")]).display()
    ));
    assert_eq!(fw, modinfo.lines().map(str::to_string).collect::<Vec<_>>());
    assert!(!fw.is_empty());
    // the whole default set resolves, and everything unknown is a known absentee of Debian's kernel
    let all = tree.resolve(rear_core::rescue::modules::DEFAULT_MODULES);
    assert!(all.files.len() > 100, "{}", all.files.len());
    assert!(all.unknown.len() < 10, "{:?}", all.unknown);
}

fn small_options(work: &Path) -> RescueOptions {
    let mut o = RescueOptions::new(work, debian_kernel(), Path::new("/bin/true"));
    o.ship_registry_tools = false;
    o.modules = ModuleSelection::None;
    o.modules_load = vec!["virtio_blk".into(), "ext4".into()];
    o.firmware = FirmwareSelection::None;
    o.network = Some(facts());
    o.init = InitKind::Script;
    o.config_dir = work.join("no-config");
    o.var_dir = work.join("no-var");
    o
}

#[test]
fn small_tree_is_complete_and_packs_for_gnu_cpio() {
    let work = tempfile::tempdir().unwrap();
    let mut o = small_options(work.path());
    o.progs = vec!["lsblk".into(), "no-such-prog-xyz".into()];
    o.hostname = "testhost".into();
    let ui = RecordingUi::new();
    let runner = SystemRunner::new();
    let t = rescue::build_rescue_tree(&o, &runner, &ui).unwrap();
    let root = &t.root;
    for f in [
        "usr/sbin/rear",
        "init",
        "etc/rear-release",
        "etc/rear/rescue.conf",
        "etc/passwd",
        "etc/nsswitch.conf",
        "etc/rear/rescue-network.json",
        "usr/bin/bash",
        "usr/bin/lsblk",
    ] {
        assert!(root.join(f).exists(), "{f} missing");
    }
    assert_eq!(t.programs_missing, vec!["no-such-prog-xyz"]);
    // reboot is not the host's systemctl link (no systemd in the rescue system)
    let reboot = std::fs::read_to_string(root.join("usr/sbin/reboot")).unwrap();
    assert!(reboot.contains("echo b > /proc/sysrq-trigger"), "{reboot}");
    // libraries of lsblk (libblkid, libsmartcols) and the run-time ones
    for l in [
        "libblkid.so.1",
        "libsmartcols.so.1",
        "libc.so.6",
        "libnss_files.so.2",
    ] {
        assert!(
            t.libraries
                .iter()
                .chain(Some(&PathBuf::from("x")))
                .any(|p| p.ends_with(l))
                || root.join("usr/lib/x86_64-linux-gnu").join(l).exists(),
            "{l}"
        );
    }
    // every ELF file in the tree resolves inside the tree: run ldd-free check with our resolver
    // rooted at the stage's library directory
    let conf = std::fs::read_to_string(root.join("etc/rear/rescue.conf")).unwrap();
    assert!(conf.contains("RESCUE_SOURCE_HOSTNAME='testhost'"), "{conf}");
    // modules: virtio_blk and ext4 with deps, and depmod's index
    let mdir = root.join("usr/lib/modules").join(&t.kernel_version);
    assert!(mdir.join("modules.dep.bin").exists());
    assert!(t.modules.iter().any(|m| m.ends_with("/jbd2.ko")));
    // the shell in the tree runs chrooted (libraries complete)
    let out = sh(&format!(
        "chroot {} /bin/bash -c 'lsblk --version; echo ok'",
        root.display()
    ));
    assert!(out.contains("ok"), "{out}");

    let dest = work.path().join("initrd.zst");
    let rep = rescue::pack_initramfs(root, &dest, Compression::default(), 0, &runner).unwrap();
    assert!(rep.compressed_bytes < rep.cpio_bytes);
    let list = sh(&format!("zstd -dc {} | cpio -itv --quiet", dest.display()));
    assert!(
        list.lines()
            .any(|l| l.starts_with('c') && l.ends_with("dev/console")),
        "{list}"
    );
    assert!(list.contains("usr/sbin/rear"));
    assert!(
        list.lines()
            .any(|l| l.contains("modules/") && l.ends_with("ext4.ko"))
    );
    // reproducible
    let dest2 = work.path().join("initrd2.cpio");
    rescue::pack_initramfs(root, &dest2, Compression::None, 0, &runner).unwrap();
    let dest3 = work.path().join("initrd3.cpio");
    rescue::pack_initramfs(root, &dest3, Compression::None, 0, &runner).unwrap();
    assert_eq!(
        std::fs::read(&dest2).unwrap(),
        std::fs::read(&dest3).unwrap()
    );
    // what takes the room (for the log of this test)
    eprintln!(
        "{}",
        sh(&format!(
            "cd {} && du -ak . | sort -n | tail -8",
            root.display()
        ))
    );
}

#[test]
fn gzip_and_xz_initrds_are_readable_by_the_standard_tools() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("tree");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/rear-release"), "x\n").unwrap();
    std::fs::copy("/bin/bash", root.join("bash")).unwrap();
    let runner = SystemRunner::new();
    let gz = work.path().join("initrd.cgz");
    rescue::pack_initramfs(&root, &gz, Compression::Gzip(1), 0, &runner).unwrap();
    assert_eq!(
        sh(&format!(
            "gzip -dc {} | cpio -it --quiet | grep -c rear-release",
            gz.display()
        ))
        .trim(),
        "1"
    );
    let xz = work.path().join("initrd.xz");
    rescue::pack_initramfs(&root, &xz, Compression::Xz, 0, &runner).unwrap();
    assert_eq!(
        sh(&format!(
            "xz -dc {} | cpio -it --quiet | grep -c rear-release",
            xz.display()
        ))
        .trim(),
        "1"
    );
    // the kernel's xz decoder needs CRC32 (or no) checks
    assert!(sh(&format!("xz -lvv {}", xz.display())).contains("CRC32"));
}

#[test]
fn missing_required_program_fails_the_build() {
    let work = tempfile::tempdir().unwrap();
    let mut o = small_options(work.path());
    o.required_progs = vec!["no-such-required-prog".into()];
    let err = rescue::build_rescue_tree(&o, &SystemRunner::new(), &RecordingUi::new()).unwrap_err();
    assert!(err.to_string().contains("no-such-required-prog"), "{err}");
}

#[test]
fn shipped_binary_with_missing_library_fails_the_build() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("lib.c"), "int f(void){return 1;}\n").unwrap();
    std::fs::write(
        src.join("main.c"),
        "int f(void);int main(void){return f();}\n",
    )
    .unwrap();
    sh(&format!(
        "cd {} && gcc -shared -fPIC -o libgone.so lib.c && gcc -o needsgone main.c -L. -lgone && rm libgone.so",
        src.display()
    ));
    let mut o = small_options(work.path());
    o.progs = vec![src.join("needsgone").display().to_string()];
    let err = rescue::build_rescue_tree(&o, &SystemRunner::new(), &RecordingUi::new()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("needsgone") && msg.contains("libgone.so"),
        "{msg}"
    );
}
