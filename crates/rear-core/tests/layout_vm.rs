//! `vm_probe_md_luks_lvm_btrfs`: in a qemu guest (the lab harness, `lab/run-job.sh`) with md
//! RAID1, LUKS2 on the array, LVM on LUKS, btrfs with subvolumes on an LV, ext4 /boot on a second
//! RAID1 and swap on an LV, the real probe captures every layer; the host then checks the layout
//! file the guest wrote against the facts the guest reported (`lsblk -P`, `/proc/mounts`,
//! `/proc/swaps`) and against what the job built.
//!
//! How: this test binary is copied into the guest and runs itself there with
//! `--exact guest_probe_running_system`, which probes with the system runner and writes the
//! layout file into the 9p share. Without `REAR_GUEST_OUT` that entry point does nothing (it is
//! only meant to run inside the guest).

use std::path::{Path, PathBuf};

use rear_core::layout::file;
use rear_core::layout::model::{Component, FsType, LuksVersion};
use rear_core::probe::{ProbeOptions, probe_layout};

/// Guest side: probe the running system and write `layout.conf` (or `error.txt`) into
/// `$REAR_GUEST_OUT`.
#[test]
#[ignore = "runs inside the lab guest only (started by vm_probe_md_luks_lvm_btrfs)"]
fn guest_probe_running_system() {
    let Some(out) = std::env::var_os("REAR_GUEST_OUT").map(PathBuf::from) else {
        return;
    };
    std::fs::create_dir_all(&out).unwrap();
    let runner = rear_core::cmd::SystemRunner::new();
    match probe_layout(
        &runner,
        &ProbeOptions {
            hostname: Some("lab".into()),
            ..Default::default()
        },
    ) {
        Ok(layout) => std::fs::write(out.join("layout.conf"), file::write(&layout)).unwrap(),
        Err(e) => {
            std::fs::write(out.join("error.txt"), format!("{e:#}")).unwrap();
            panic!("{e}");
        }
    }
}

const JOB: &str = r#"set -euo pipefail
. /lab/scenario-lib.sh
for d in /dev/vda /dev/vdb; do
    sfdisk --quiet $d <<'SF'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios-boot"
size=200MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="raid-boot"
type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="raid-sys"
SF
    parts $d
done
mdadm --create /dev/md0 --run --assume-clean --level=1 --raid-devices=2 --metadata=1.0 --name=boot /dev/vda2 /dev/vdb2
mdadm --create /dev/md1 --run --assume-clean --level=1 --raid-devices=2 --name=sys /dev/vda3 /dev/vdb3
wait_dev /dev/md1
printf secret | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --label rearvm /dev/md1 -
printf secret | cryptsetup open --key-file - /dev/md1 cr_sys
pvcreate -q /dev/mapper/cr_sys
vgcreate -q vgsys /dev/mapper/cr_sys
lvcreate -q -y -L 600M -n root vgsys
lvcreate -q -y -L 64M -n swap vgsys
settle
mkfs.btrfs -q -L root /dev/vgsys/root
mkfs.ext4 -q -L boot /dev/md0
mkswap -q -L swap /dev/vgsys/swap >/dev/null
top=/tmp/top
mkdir -p $top
mount /dev/vgsys/root $top
btrfs -q subvolume create $top/@
btrfs -q subvolume create $top/@home
btrfs subvolume set-default $top/@
umount $top
mount /dev/vgsys/root "$ROOT"
mkdir -p "$ROOT/home" "$ROOT/boot"
mount -o subvol=@home /dev/vgsys/root "$ROOT/home"
mount /dev/md0 "$ROOT/boot"
swapon /dev/vgsys/swap
"#;

fn sh(cmd: &mut std::process::Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// The tail of every job: copy this test binary into the guest's system root, run the probe
/// there, and record the guest's own view for the host to compare with.
const PROBE_TAIL: &str = r#"
sys_prepare
mkdir -p "$ROOT/root/probe"
cp /lab/probe-test /lab/libgcc_s.so.1 "$ROOT/root/probe/"
sys_run env LD_LIBRARY_PATH=/root/probe REAR_GUEST_OUT=/root/probe/out \
    /root/probe/probe-test --ignored --exact guest_probe_running_system --nocapture
cp -r "$ROOT/root/probe/out/." /lab/out/
sys_run lsblk -P -b -O >/lab/out/lsblk-pairs.txt
sys_run cat /proc/mounts >/lab/out/proc-mounts.txt
sys_run cat /proc/swaps >/lab/out/proc-swaps.txt
"#;

/// Runs `job` (followed by [`PROBE_TAIL`]) in the lab guest with these vm.sh options and
/// returns the share's out directory, the layout the guest probed and its text.
fn run_guest_probe(
    name: &str,
    job: &str,
    extra_files: &[&Path],
    vm_args: &[&str],
) -> (PathBuf, rear_core::layout::Layout, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().unwrap();
    let job_file = tmp.path().join("job.sh");
    std::fs::write(&job_file, format!("{job}{PROBE_TAIL}")).unwrap();
    let bin = tmp.path().join("probe-test");
    std::fs::copy(std::env::current_exe().unwrap(), &bin).unwrap();
    let libgcc = tmp.path().join("libgcc_s.so.1");
    std::fs::copy("/lib/x86_64-linux-gnu/libgcc_s.so.1", &libgcc).unwrap();
    let mut cmd = std::process::Command::new(repo.join("lab/run-job.sh"));
    cmd.arg(name)
        .arg(&job_file)
        .arg(&bin)
        .arg(&libgcc)
        .arg(repo.join("lab/guest/scenario-lib.sh"))
        .args(extra_files);
    cmd.arg("--").args(vm_args).args(["--timeout", "900"]);
    let out = sh(&mut cmd);
    assert!(
        out.status.success(),
        "lab job failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lab_out = std::env::var_os("REAR_LAB_OUT")
        .map_or_else(|| PathBuf::from("/var/tmp/rear-lab"), PathBuf::from);
    let dir = lab_out.join("share").join(name).join("out");
    let text = std::fs::read_to_string(dir.join("layout.conf")).unwrap_or_else(|e| {
        panic!(
            "no layout from the guest ({e}); error.txt: {:?}",
            std::fs::read_to_string(dir.join("error.txt"))
        )
    });
    let layout = file::read(&text, &dir.join("layout.conf")).unwrap();
    check_guest_facts(&dir, &layout, &text);
    (dir, layout, text)
}

/// Every block device, mount and swap area the guest reports is in the layout.
fn check_guest_facts(dir: &Path, layout: &rear_core::layout::Layout, text: &str) {
    let pairs = std::fs::read_to_string(dir.join("lsblk-pairs.txt")).unwrap();
    for line in pairs.lines() {
        let get = |key: &str| {
            let pat = format!(" {key}=\"");
            let padded = format!(" {line}");
            let start = padded.find(&pat)? + pat.len();
            let rest = &padded[start..];
            Some(rest[..rest.find('"')?].to_string())
        };
        let (Some(path), Some(kind)) = (get("PATH"), get("TYPE")) else {
            continue;
        };
        if matches!(kind.as_str(), "rom" | "loop")
            || path.contains("zram")
            || get("SIZE").as_deref() == Some("0")
        {
            continue;
        }
        assert!(
            layout.find(&path).is_some(),
            "lsblk lists {kind} {path}; layout:\n{text}"
        );
    }
    let mounts = std::fs::read_to_string(dir.join("proc-mounts.txt")).unwrap();
    for line in mounts.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() > 2 && w[0].starts_with("/dev/") && ["ext4", "btrfs"].contains(&w[2]) {
            assert!(
                layout.find(&format!("fs:{}", w[1])).is_some()
                    || layout
                        .find(&format!("btrfsmountedsubvol:{}", w[1]))
                        .is_some(),
                "{line}; layout:\n{text}"
            );
        }
    }
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_probe_md_luks_lvm_btrfs() {
    let (_, layout, text) = run_guest_probe(
        "vm-layout-probe",
        JOB,
        &[],
        &["--blank", "1G", "--blank", "1G"],
    );
    // and what the job built, layer by layer
    let comp = |id: &str| {
        layout
            .find(id)
            .map(|e| e.component.clone())
            .unwrap_or_else(|| panic!("no {id} in\n{text}"))
    };
    let Component::Raid(md1) = comp("/dev/md1") else {
        panic!()
    };
    assert_eq!(md1.level, "raid1");
    assert_eq!(md1.devices, vec!["/dev/vda3", "/dev/vdb3"]);
    let Component::Raid(md0) = comp("/dev/md0") else {
        panic!()
    };
    assert_eq!(md0.metadata.as_deref(), Some("1.0"));
    let Component::Crypt(c) = comp("/dev/mapper/cr_sys") else {
        panic!()
    };
    assert_eq!(
        (c.dev.as_str(), c.version, c.label.as_deref()),
        ("/dev/md1", LuksVersion::Luks2, Some("rearvm"))
    );
    let Component::Pv(pv) = comp("pv:/dev/mapper/cr_sys") else {
        panic!()
    };
    assert_eq!(pv.vg.as_deref(), Some("vgsys"));
    let Component::Lv(root) = comp("/dev/mapper/vgsys-root") else {
        panic!()
    };
    assert_eq!(root.size, 600 * 1024 * 1024);
    let Component::Filesystem(rootfs) = comp("fs:/") else {
        panic!()
    };
    assert_eq!(
        (rootfs.fstype, rootfs.dev.as_str()),
        (FsType::Btrfs, "/dev/mapper/vgsys-root")
    );
    assert!(
        layout
            .components()
            .any(|c| matches!(c, Component::BtrfsSubvol(s) if s.path == "@" && s.default))
    );
    assert!(layout.find("btrfsmountedsubvol:/home").is_some());
    let Component::Filesystem(boot) = comp("fs:/boot") else {
        panic!()
    };
    assert_eq!(
        (boot.fstype, boot.dev.as_str(), boot.label.as_deref()),
        (FsType::Ext4, "/dev/md0", Some("boot"))
    );
    assert!(layout.find("swap:/dev/mapper/vgsys-swap").is_some());
    assert!(layout.validate().is_empty());
    // the whole chain, in dependency order: disk, partition, md, LUKS, PV, VG, LV, fs
    let order: Vec<String> = layout
        .dependency_order()
        .unwrap()
        .into_iter()
        .map(|i| layout.entries[i].component.id())
        .collect();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    let chain = [
        "/dev/vda",
        "/dev/vda3",
        "/dev/md1",
        "/dev/mapper/cr_sys",
        "pv:/dev/mapper/cr_sys",
        "/dev/vgsys",
        "/dev/mapper/vgsys-root",
        "fs:/",
        "btrfsmountedsubvol:/home",
    ];
    for w in chain.windows(2) {
        assert!(pos(w[0]) < pos(w[1]), "{} must come before {}", w[0], w[1]);
    }
}

const MULTIPATH_JOB: &str = r#"set -euo pipefail
. /lab/scenario-lib.sh
# one image seen twice through virtio-scsi (sda, sdb): dm-multipath makes mpatha of them
mkdir -p /lib/multipath
cp /lab/multipath/*.so /lib/multipath/
modprobe dm-multipath 2>/dev/null || true
multipath -v2 || true
settle
wait_dev /dev/mapper/mpatha
sfdisk --quiet /dev/mapper/mpatha <<'SF'
label: gpt
size=300MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="mpdata"
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="mpswap"
SF
kpartx -a /dev/mapper/mpatha
settle
ls -l /dev/mapper
p1=$(ls /dev/mapper/mpatha*1)
p2=$(ls /dev/mapper/mpatha*2)
mkfs.ext4 -q -L mproot "$p1"
mkswap -q -L mpswap "$p2" >/dev/null
mount "$p1" "$ROOT"
swapon "$p2"
"#;

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_probe_multipath() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("mpath.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let img = img.to_string_lossy().to_string();
    let (_, layout, text) =
        // the lab initramfs has multipath but not its path checker plugins: bring the host's
        run_guest_probe(
            "vm-layout-multipath",
            MULTIPATH_JOB,
            &[Path::new("/lib/multipath")],
            &["--multipath", &img],
        );
    let Some(Component::Multipath(m)) = layout.find("/dev/mapper/mpatha").map(|e| &e.component)
    else {
        panic!("no multipath device in\n{text}")
    };
    assert_eq!(m.size, 512 << 20);
    assert_eq!(m.slaves.len(), 2, "{text}");
    assert!(m.table.is_some(), "{text}");
    // the WWID comes from device-mapper's UUID (mpath-<WWID>)
    assert!(
        m.wwid
            .as_deref()
            .is_some_and(|w| w.contains("5000c5000001ab00")),
        "{text}"
    );
    // boot code would go on the multipath device, not on a path
    assert!(
        text.contains("bootloader kind=grub2-bios disks=/dev/mapper/mpatha"),
        "{text}"
    );
    // the partitions sit on the multipath device, the filesystem on a partition
    let parts: Vec<_> = layout
        .components()
        .filter_map(|c| match c {
            Component::Partition(p) if p.disk == "/dev/mapper/mpatha" => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(parts.len(), 2, "{text}");
    assert_eq!(parts[0].name.as_deref(), Some("mpdata"));
    let Component::Filesystem(f) = &layout.find("fs:/").unwrap().component else {
        panic!()
    };
    assert_eq!(f.dev, parts[0].dev);
    assert!(layout.validate().is_empty(), "{:?}", layout.validate());
}
