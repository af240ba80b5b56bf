//! Plan tests: real captured layouts (replayed through the probe) and hand-written stacks become
//! plans, which are snapshot-tested as a summary and as the rendered script, and checked for
//! ordering, exclusion and error facts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rear_core::layout::file;
use rear_core::layout::{Component, Layout};
use rear_core::probe::{ProbeOptions, probe_layout, scenario};
use rear_core::recreate::{DoneCheck, Plan, PlanOptions, plan};

fn snapshots() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/recreate/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The host-loop capture (GPT + MBR loop disks with ext2/3/4, xfs, btrfs, swap).
pub fn host_loop_layout() -> Layout {
    let dir = manifest().join("src/probe/testdata/host-loop");
    let fake = scenario::fake_runner(&dir).unwrap();
    let opts = ProbeOptions {
        include_loop_devices: true,
        uefi: Some(false),
        sys_root: Some(dir.join("no-sys")),
        hostname: Some("host-loop".into()),
        ..ProbeOptions::default()
    };
    probe_layout(&fake, &opts).unwrap()
}

fn lab_layouts() -> Vec<(String, Layout)> {
    let root = manifest().join("../../fixtures/layouts");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut dirs: Vec<_> = dirs
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.join("INDEX.md").exists())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let fake = scenario::fake_runner(&dir).unwrap();
            let uefi = std::fs::read_to_string(dir.join("efi-firmware.txt"))
                .is_ok_and(|t| t.starts_with("UEFI"));
            let opts = ProbeOptions {
                uefi: Some(uefi),
                sys_root: Some(dir.join("no-sys")),
                autoexclude_disks: true,
                ..ProbeOptions::default()
            };
            let layout = probe_layout(&fake, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, layout)
        })
        .collect()
}

/// A full stack: two disks, md RAID1, LUKS2, LVM with linear, striped, thin pool and thin LVs,
/// xfs, ext4, vfat, swap, nested mount points. Written by hand: the stack needs a VM to capture.
pub const STACK: &str = "\
layout version=1 hostname=stack
disk dev=/dev/sda size=10737418240 table=gpt ptuuid=11111111-2222-3333-4444-555555555555 log_sec=512 first_lba=2048 last_lba=20971486 model=QEMU%20HARDDISK serial=S1
disk dev=/dev/sdb size=10737418240 table=gpt ptuuid=66666666-7777-8888-9999-000000000000 log_sec=512 first_lba=2048 last_lba=20971486 serial=S2
part dev=/dev/sda1 disk=/dev/sda number=1 start=1048576 size=536870912 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B name=EFI%20System flags=esp partuuid=aaaaaaaa-0000-0000-0000-000000000001
part dev=/dev/sda2 disk=/dev/sda number=2 start=537919488 size=10198450176 type=A19D880F-05FC-4D3B-A006-743F0F84911E flags=raid partuuid=aaaaaaaa-0000-0000-0000-000000000002
part dev=/dev/sdb1 disk=/dev/sdb number=1 start=1048576 size=536870912 type=0FC63DAF-8483-4772-8E79-3D69E4773D00 name=boot partuuid=bbbbbbbb-0000-0000-0000-000000000001
part dev=/dev/sdb2 disk=/dev/sdb number=2 start=537919488 size=10198450176 type=A19D880F-05FC-4D3B-A006-743F0F84911E flags=raid partuuid=bbbbbbbb-0000-0000-0000-000000000002
raid dev=/dev/md0 level=raid1 raid_devices=2 devices=/dev/sda2,/dev/sdb2 metadata=1.2 name=stack:0 uuid=01234567:89abcdef:01234567:89abcdef
crypt name=cr_lvm dev=/dev/md0 type=luks2 cipher=aes-xts-plain64 key_size=512 hash=sha256 uuid=c0ffee00-1111-2222-3333-444444444444 pbkdf=argon2id label=lvmcrypt data_offset=16777216
pv dev=/dev/mapper/cr_lvm vg=vg0 uuid=pvpvpv-1111-2222-3333-4444-5555-666666
vg name=vg0 extent_size=4194304 uuid=vgvgvg-1111-2222-3333-4444-5555-666666
lv vg=vg0 name=root size=4294967296 layout=linear uuid=lvroot-1111-2222-3333-4444-5555-666666
lv vg=vg0 name=data size=1073741824 layout=striped stripes=2 stripe_size=65536
lv vg=vg0 name=pool size=2147483648 layout=thin-pool pool_metadata_size=8388608 chunk_size=65536
lv vg=vg0 name=thin1 size=5368709120 layout=thin pool=pool
lv vg=vg0 name=swap size=536870912 layout=linear
fs dev=/dev/mapper/vg0-thin1 type=ext4 mountpoint=/srv/www uuid=eeeeeeee-0000-0000-0000-000000000003 label=www
fs dev=/dev/mapper/vg0-root type=xfs mountpoint=/ options=rw,relatime,inode64 uuid=eeeeeeee-0000-0000-0000-000000000001 label=root block_size=4096 inode_size=512 features=crc=1,finobt=1,sparse=1,reflink=1,ftype=1 agcount=4 log_size=16777216
fs dev=/dev/mapper/vg0-data type=ext4 mountpoint=/srv uuid=eeeeeeee-0000-0000-0000-000000000002 block_size=4096 inode_size=256 reserved_blocks=0 features=has_journal,extent,64bit,needs_recovery
fs dev=/dev/sdb1 type=ext4 mountpoint=/boot uuid=eeeeeeee-0000-0000-0000-000000000004 label=boot
fs dev=/dev/sda1 type=vfat mountpoint=/boot/efi options=rw,fmask=0077,dmask=0077 uuid=ABCD-1234 label=ESP fat_size=32
swap dev=/dev/mapper/vg0-swap uuid=55555555-0000-0000-0000-000000000000 label=swap
";

pub fn stack() -> Layout {
    file::read(STACK, Path::new("stack.conf")).unwrap()
}

/// The command's words joined with spaces, unquoted (easier to read in assertions).
fn words(c: &rear_core::cmd::Cmd) -> String {
    let mut w = vec![c.tool().program().to_string()];
    w.extend(
        c.arguments()
            .iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    w.join(" ")
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.steps
        .iter()
        .position(|s| s.id == id)
        .unwrap_or_else(|| panic!("no step {id}:\n{}", plan.summary()))
}

#[test]
fn plan_host_loop_capture() {
    let layout = host_loop_layout();
    // the build host's own root disk is in the capture: leave it out as a real run would
    let opts = PlanOptions {
        exclude_recreate: vec!["/dev/vda".into()],
        ..PlanOptions::default()
    };
    let p = plan(&layout, &opts).unwrap();
    snapshots().bind(|| {
        insta::assert_snapshot!("plan_host_loop", p.summary());
        insta::assert_snapshot!("script_host_loop", p.to_shell_script());
    });
    // disks first, then filesystems, then mounts parents first
    assert!(position(&p, "disk:/dev/loop0") < position(&p, "fs:/mnt/laytest/root"));
    assert!(position(&p, "fs:/mnt/laytest/btr") < position(&p, "mount:/mnt/laytest/btr"));
    // a mounted subvolume comes after the filesystem (and its subvolumes) exist
    assert!(position(&p, "fs:/mnt/laytest/btr") < position(&p, "mount:/mnt/laytest/home"));
    // the host's own disk is never in the plan
    assert!(!p.devices.contains("/dev/vda"));
    assert!(p.skipped.iter().any(|(id, _)| id == "/dev/vda"));
    // faithful partition table input
    let disk = p.step("disk:/dev/loop0").unwrap();
    let input = String::from_utf8(disk.commands[1].cmd.input().unwrap().to_vec()).unwrap();
    assert!(
        input.contains("label-id: 4698a8a4-bd6a-cd46-96d6-d095c4901772"),
        "{input}"
    );
    assert!(input.contains("/dev/loop0p3 : start=135168, size=409600, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, uuid=e5b0bf10-a073-484c-a3f2-d89036e37d84, name=\"root fs\""), "{input}");
    let mbr = p.step("disk:/dev/loop1").unwrap();
    let input = String::from_utf8(mbr.commands[1].cmd.input().unwrap().to_vec()).unwrap();
    assert!(
        input.contains("label: dos\nlabel-id: 0x27e8919e"),
        "{input}"
    );
    assert!(
        input.contains("/dev/loop1p5 : start=208896, size=122880, type=83"),
        "{input}"
    );
    assert!(
        input.contains("/dev/loop1p1 : start=2048, size=204800, type=83, bootable"),
        "{input}"
    );
}

#[test]
fn plan_every_lab_scenario() {
    for (name, layout) in lab_layouts() {
        let p = plan(&layout, &PlanOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        snapshots().bind(|| {
            insta::assert_snapshot!(format!("plan_lab_{name}"), p.summary());
            insta::assert_snapshot!(format!("script_lab_{name}"), p.to_shell_script());
        });
        assert!(!p.steps.is_empty(), "{name}: empty plan");
    }
}

#[test]
fn plan_full_stack_order_and_commands() {
    let mut opts = PlanOptions::default();
    opts.lvm_restore_files.insert(
        "vg0".into(),
        PathBuf::from("/var/lib/rear/layout/lvm/vg0.cfg"),
    );
    opts.luks_cryptsetup_options = vec!["--iter-time".into(), "2000".into()];
    let p = plan(&stack(), &opts).unwrap();
    snapshots().bind(|| {
        insta::assert_snapshot!("plan_stack_vgcfgrestore", p.summary());
        insta::assert_snapshot!("script_stack_vgcfgrestore", p.to_shell_script());
    });
    let order = [
        "disk:/dev/sda",
        "raid:/dev/md0",
        "luks-format:/dev/md0",
        "luks-open:cr_lvm",
        "pv:/dev/mapper/cr_lvm",
        "vg:vg0",
        "lv:vg0/pool",
        "lv:vg0/thin1",
        "fs:/srv/www",
        "mount:/",
        "mount:/srv",
        "mount:/srv/www",
    ];
    for w in order.windows(2) {
        assert!(
            position(&p, w[0]) < position(&p, w[1]),
            "{} must come before {}",
            w[0],
            w[1]
        );
    }
    assert!(position(&p, "mount:/boot") < position(&p, "mount:/boot/efi"));
    // every creation step comes before every mount
    let first_mount = p
        .steps
        .iter()
        .position(|s| s.id.starts_with("mount:"))
        .unwrap();
    assert!(
        p.steps[first_mount..]
            .iter()
            .all(|s| s.id.starts_with("mount:"))
    );
    // restored LVs have no step of their own; thin ones are created again
    assert!(p.step("lv:vg0/root").is_none());
    let vg = p.step("vg:vg0").unwrap();
    let lines: Vec<String> = vg.commands.iter().map(|c| words(&c.cmd)).collect();
    assert_eq!(
        lines[0],
        "lvm vgcfgrestore --force -f /var/lib/rear/layout/lvm/vg0.cfg vg0"
    );
    assert_eq!(lines[1], "lvm lvremove -f -y vg0/thin1 vg0/pool");
    let pv = p.step("pv:/dev/mapper/cr_lvm").unwrap();
    assert_eq!(
        words(&pv.commands[1].cmd),
        "lvm pvcreate -ff --yes --uuid pvpvpv-1111-2222-3333-4444-5555-666666 --restorefile /var/lib/rear/layout/lvm/vg0.cfg /dev/mapper/cr_lvm"
    );
    let md = p.step("raid:/dev/md0").unwrap();
    assert_eq!(
        words(&md.commands.last().unwrap().cmd),
        "mdadm --create /dev/md0 --run --metadata 1.2 --level raid1 --raid-devices 2 --uuid 01234567:89abcdef:01234567:89abcdef --name stack:0 /dev/sda2 /dev/sdb2"
    );
    let luks = p.step("luks-format:/dev/md0").unwrap();
    let fmt = luks.commands.last().unwrap();
    assert_eq!(
        words(&fmt.cmd),
        "cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 --hash sha256 --uuid c0ffee00-1111-2222-3333-444444444444 --label lvmcrypt --pbkdf argon2id --offset 32768 --iter-time 2000 /dev/md0"
    );
    assert!(
        fmt.secret.is_some() && fmt.cmd.input().is_none(),
        "the passphrase is never part of the plan"
    );
    let thin = p.step("lv:vg0/thin1").unwrap();
    assert_eq!(
        words(&thin.commands[0].cmd),
        "lvm lvcreate --yes --type thin -V 5368709120b --thinpool pool -n thin1 vg0"
    );
    let pool = p.step("lv:vg0/pool").unwrap();
    assert_eq!(
        words(&pool.commands[0].cmd),
        "lvm lvcreate --yes --type thin-pool -L 2147483648b --poolmetadatasize 8388608b --chunksize 64k -n pool vg0"
    );
    let root = p.step("fs:/").unwrap();
    assert_eq!(
        words(&root.commands[1].cmd),
        "mkfs.xfs -f -L root -b size=4096 -m uuid=eeeeeeee-0000-0000-0000-000000000001,crc=1,finobt=1,reflink=1 -i size=512,sparse=1 -n ftype=1 -l size=16777216 -d agcount=4 /dev/mapper/vg0-root"
    );
    let srv = p.step("fs:/srv").unwrap();
    assert_eq!(
        words(&srv.commands[1].cmd),
        "mke2fs -F -t ext4 -U eeeeeeee-0000-0000-0000-000000000002 -b 4096 -I 256 -O has_journal,extent,64bit /dev/mapper/vg0-data"
    );
    let esp = p.step("fs:/boot/efi").unwrap();
    assert_eq!(
        words(&esp.commands[1].cmd),
        "mkfs.vfat -F 32 -i ABCD1234 -n ESP /dev/sda1"
    );
    let mnt = p.step("mount:/boot/efi").unwrap();
    assert_eq!(
        words(&mnt.commands[1].cmd),
        "mount -t vfat -o fmask=0077,dmask=0077 /dev/sda1 /mnt/local/boot/efi"
    );
    assert_eq!(
        p.step("mount:/").unwrap().done_check,
        DoneCheck::Mounted {
            target: "/mnt/local".into()
        }
    );
    // devices: what the plan writes, and nothing else
    for d in [
        "/dev/sda",
        "/dev/sdb",
        "/dev/sda2",
        "/dev/md0",
        "/dev/mapper/cr_lvm",
        "/dev/vg0",
        "/dev/mapper/vg0-root",
        "/dev/vg0/root",
    ] {
        assert!(p.devices.contains(d), "{d}");
    }
}

#[test]
fn plan_full_stack_without_vgcfgbackup_falls_back_to_vgcreate() {
    let p = plan(&stack(), &PlanOptions::default()).unwrap();
    snapshots().bind(|| insta::assert_snapshot!("plan_stack_vgcreate", p.summary()));
    let vg = p.step("vg:vg0").unwrap();
    assert_eq!(
        words(&vg.commands[0].cmd),
        "lvm vgcreate --yes -s 4096k vg0 /dev/mapper/cr_lvm"
    );
    let data = p.step("lv:vg0/data").unwrap();
    assert_eq!(
        words(&data.commands[0].cmd),
        "lvm lvcreate --yes --type striped -L 1073741824b -i 2 -I 64k -n data vg0"
    );
    assert!(position(&p, "lv:vg0/pool") < position(&p, "lv:vg0/thin1"));
    let pv = p.step("pv:/dev/mapper/cr_lvm").unwrap();
    assert!(words(&pv.commands[1].cmd).contains("--norestorefile"));
}

#[test]
fn excluded_components_are_skipped_with_their_dependents() {
    let opts = PlanOptions {
        exclude_recreate: vec!["/dev/md0".into()],
        ..PlanOptions::default()
    };
    let p = plan(&stack(), &opts).unwrap();
    let skipped: BTreeMap<_, _> = p.skipped.iter().cloned().collect();
    assert!(skipped["/dev/md0"].contains("EXCLUDE_RECREATE"));
    for id in [
        "/dev/mapper/cr_lvm",
        "pv:/dev/mapper/cr_lvm",
        "/dev/vg0",
        "/dev/mapper/vg0-root",
        "fs:/",
        "fs:/srv/www",
        "swap:/dev/mapper/vg0-swap",
    ] {
        assert!(
            skipped.contains_key(id),
            "{id} must be skipped: {skipped:?}"
        );
    }
    // /boot and /boot/efi live on plain partitions: still recreated and mounted
    assert!(p.step("fs:/boot").is_some());
    assert!(p.step("mount:/boot/efi").is_some());
    assert!(!p.devices.contains("/dev/md0"));
}

#[test]
fn missing_dependency_names_both_components() {
    let mut layout = stack();
    for e in &mut layout.entries {
        if let Component::Raid(r) = &mut e.component {
            r.devices[1] = "/dev/sdc2".into();
        }
    }
    let err = plan(&layout, &PlanOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/dev/md0 depends on /dev/sdc2, which is not in the layout"),
        "{err}"
    );
}

#[test]
fn dependency_cycle_is_an_error_naming_the_components() {
    // a PV on an LV of its own VG
    let mut layout = stack();
    for e in &mut layout.entries {
        if let Component::Pv(p) = &mut e.component {
            p.dev = "/dev/mapper/vg0-root".into();
        }
    }
    let err = plan(&layout, &PlanOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("dependency cycle among"), "{err}");
    for id in [
        "pv:/dev/mapper/vg0-root",
        "/dev/vg0",
        "/dev/mapper/vg0-root",
    ] {
        assert!(err.contains(id), "{id} missing from: {err}");
    }
}

#[test]
fn foreign_components_must_be_excluded() {
    let text = format!("{STACK}foreign rear=opaldisk%20/dev/sda\n");
    let layout = file::read(&text, Path::new("x")).unwrap();
    let err = plan(&layout, &PlanOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("EXCLUDE_RECREATE"), "{err}");
}

#[test]
fn script_is_valid_bash_and_guards_every_step() {
    let p = plan(&stack(), &PlanOptions::default()).unwrap();
    let script = p.to_shell_script();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diskrestore.sh");
    std::fs::write(&path, &script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.starts_with("#!/bin/bash"));
    assert!(script.contains("set -e -o pipefail"));
    for s in &p.steps {
        let f = format!(
            "step_{}() {{",
            s.id.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                })
                .collect::<String>()
        );
        assert!(script.contains(&f), "no function for {}", s.id);
    }
    assert!(!script.contains("<passphrase>"));
}

// ---------------------------------------------------------------------------------------------
// migration

use rear_core::config::{Config, Value};
use rear_core::recreate::migrate::{
    DiskMapping, ResizeMode, ResizeOptions, TargetDisk, map_disks, migrate, partition_device,
};
use rear_core::ui::RecordingUi;

const MIB: u64 = 1024 * 1024;

fn target(dev: &str, size: u64) -> TargetDisk {
    TargetDisk {
        dev: dev.into(),
        size,
        model: None,
        serial: None,
    }
}

fn proportional() -> ResizeOptions {
    ResizeOptions {
        mode: ResizeMode::Proportional,
        ..ResizeOptions::default()
    }
}

fn part<'a>(l: &'a Layout, dev: &str) -> &'a rear_core::layout::model::Partition {
    match l.find(dev).map(|e| &e.component) {
        Some(Component::Partition(p)) => p,
        _ => panic!("no partition {dev}"),
    }
}

fn migrated_plan(
    layout: &Layout,
    targets: &[TargetDisk],
    resize: &ResizeOptions,
) -> (Plan, Layout) {
    // the build host's own disk is in the capture: it is not part of the migration
    let mut layout = layout.clone();
    let vda = layout
        .entries
        .iter()
        .position(|e| e.component.id() == "/dev/vda")
        .unwrap();
    layout.entries[vda].excluded = Some("test: build host disk".into());
    let layout = &layout;
    let ui = RecordingUi::new();
    let mapping = map_disks(layout, targets, None, resize, &ui, &Config::new()).unwrap();
    assert!(mapping.unmapped.is_empty(), "{mapping:?}");
    let m = migrate(layout, &mapping, targets, resize).unwrap();
    let mut opts = PlanOptions {
        exclude_recreate: vec!["/dev/vda".into()],
        ..PlanOptions::default()
    };
    m.apply_to(&mut opts);
    (plan(&m.layout, &opts).unwrap(), m.layout)
}

#[test]
fn migrate_host_loop_to_bigger_disks() {
    let layout = host_loop_layout();
    let targets = [
        target("/dev/sdx", 1600 * MIB),
        target("/dev/sdy", 600 * MIB),
    ];
    let (p, new) = migrated_plan(&layout, &targets, &proportional());
    snapshots().bind(|| insta::assert_snapshot!("plan_host_loop_bigger", p.summary()));
    // boot, ESP and swap keep their size; the others grow; everything stays 1 MiB aligned
    for (old, dev) in [
        ("/dev/loop0p1", "/dev/sdx1"),
        ("/dev/loop0p2", "/dev/sdx2"),
        ("/dev/loop0p6", "/dev/sdx6"),
    ] {
        assert_eq!(part(&new, dev).size, part(&layout, old).size, "{dev}");
    }
    for (old, dev) in [
        ("/dev/loop0p3", "/dev/sdx3"),
        ("/dev/loop0p4", "/dev/sdx4"),
        ("/dev/loop0p5", "/dev/sdx5"),
    ] {
        assert!(
            part(&new, dev).size > part(&layout, old).size,
            "{dev} must grow"
        );
        assert!(
            p.step("disk:/dev/sdx")
                .unwrap()
                .notes
                .iter()
                .any(|n| n.starts_with(dev))
        );
    }
    let mut end = 0;
    for n in 1..=6 {
        let q = part(&new, &format!("/dev/sdx{n}"));
        assert_eq!(q.start % MIB, 0, "partition {n} start not aligned");
        assert!(q.start >= end, "partition {n} overlaps");
        end = q.start + q.size;
    }
    assert!(end <= 1600 * MIB - 33 * 512);
    // the MBR disk: logical partitions grow inside a grown extended partition
    let ext = part(&new, "/dev/sdy2");
    for l in ["/dev/sdy5", "/dev/sdy6"] {
        let q = part(&new, l);
        assert!(
            q.start >= ext.start && q.start + q.size <= ext.start + ext.size,
            "{l} outside the extended partition"
        );
    }
    assert_eq!(
        part(&new, "/dev/sdy6").size,
        part(&layout, "/dev/loop1p6").size,
        "swap keeps its size"
    );
    // notes say what was resized and why
    let summary = p.summary();
    assert!(summary.contains("resized:"), "{summary}");
    assert!(summary.contains("proportional"), "{summary}");
}

#[test]
fn migrate_host_loop_to_smaller_disks() {
    let layout = host_loop_layout();
    let targets = [target("/dev/sdx", 600 * MIB), target("/dev/sdy", 250 * MIB)];
    let (p, new) = migrated_plan(&layout, &targets, &proportional());
    snapshots().bind(|| insta::assert_snapshot!("plan_host_loop_smaller", p.summary()));
    assert_eq!(
        part(&new, "/dev/sdx2").size,
        part(&layout, "/dev/loop0p2").size,
        "ESP keeps its size"
    );
    let last = (1..=6)
        .map(|n| part(&new, &format!("/dev/sdx{n}")))
        .map(|q| q.start + q.size)
        .max()
        .unwrap();
    assert!(last <= 600 * MIB - 33 * 512, "ends at {last}");
    let last = [1, 2, 5, 6]
        .iter()
        .map(|n| part(&new, &format!("/dev/sdy{n}")))
        .map(|q| q.start + q.size)
        .max()
        .unwrap();
    assert!(last <= 250 * MIB);
    // an xfs on a resized partition gets its geometry from mkfs, not the old size
    let xfs = p.step("fs:/mnt/laytest/data").unwrap();
    let line = words(&xfs.commands[1].cmd);
    assert!(
        !line.contains("agcount") && line.contains("uuid=fd2c32c6"),
        "{line}"
    );
}

#[test]
fn last_partition_mode_follows_rear_thresholds() {
    let layout = host_loop_layout();
    let ui = RecordingUi::new();
    let def = ResizeOptions::default();
    // 5% bigger: below the 10% threshold, nothing changes
    let targets = [
        target("/dev/loop0", 840 * MIB),
        target("/dev/loop1", 300 * MIB),
    ];
    let mapping = map_disks(&layout, &targets, None, &def, &ui, &Config::new()).unwrap();
    let m = migrate(&layout, &mapping, &targets, &def).unwrap();
    assert_eq!(
        part(&m.layout, "/dev/loop0p6").size,
        part(&layout, "/dev/loop0p6").size
    );
    assert!(
        m.notes["/dev/loop0"][0].contains("AUTOINCREASE_DISK_SIZE_THRESHOLD_PERCENTAGE"),
        "{:?}",
        m.notes
    );
    // 25% smaller: more than AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE
    let targets = [
        target("/dev/loop0", 600 * MIB),
        target("/dev/loop1", 300 * MIB),
    ];
    let mapping = DiskMapping {
        maps: vec![rear_core::recreate::migrate::DiskMap {
            from: "/dev/loop0".into(),
            to: "/dev/loop0".into(),
            reason: "test".into(),
        }],
        unmapped: vec![],
    };
    let err = migrate(&layout, &mapping, &targets, &def)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AUTOSHRINK_DISK_SIZE_LIMIT_PERCENTAGE"),
        "{err}"
    );
    // 2 times bigger: only the last partition that is not swap... loop0's last is swap (fixed),
    // so nothing may grow and the space stays free
    let targets = [target("/dev/loop0", 1600 * MIB)];
    let mapping = DiskMapping {
        maps: vec![rear_core::recreate::migrate::DiskMap {
            from: "/dev/loop0".into(),
            to: "/dev/loop0".into(),
            reason: "test".into(),
        }],
        unmapped: vec![],
    };
    let m = migrate(&layout, &mapping, &targets, &def).unwrap();
    assert_eq!(
        part(&m.layout, "/dev/loop0p5").size,
        part(&layout, "/dev/loop0p5").size
    );
}

#[test]
fn mapping_rules() {
    let layout = host_loop_layout();
    let ui = RecordingUi::new();
    let r = proportional();
    // same name and size
    let t = [
        target("/dev/loop0", 800 * MIB),
        target("/dev/loop1", 300 * MIB),
        target("/dev/vda", 274877906944),
    ];
    let m = map_disks(&layout, &t, None, &r, &ui, &Config::new()).unwrap();
    assert!(m.is_identity(), "{m:?}");
    // two candidates of the same size: never guessed
    let t = [
        target("/dev/sdb", 800 * MIB),
        target("/dev/sdc", 800 * MIB),
        target("/dev/sdd", 300 * MIB),
        target("/dev/vda", 274877906944),
    ];
    let err = map_disks(&layout, &t, None, &r, &ui, &Config::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("LAYOUT_MIGRATION_MAP_loop0"), "{err}");
    // ... resolved by a pre-answer
    let mut cfg = Config::new();
    cfg.set(
        "USER_INPUT_LAYOUT_MIGRATION_MAP_loop0",
        Value::Scalar("/dev/sdc".into()),
    );
    let m = map_disks(&layout, &t, None, &r, &ui, &cfg).unwrap();
    assert_eq!(m.pairs()["/dev/loop0"], "/dev/sdc");
    assert_eq!(m.pairs()["/dev/loop1"], "/dev/sdd");
    // ... or by the mapping file, which wins over everything
    let file = "# old new\n/dev/loop0 /dev/sdb\n";
    let m = map_disks(&layout, &t, Some(file), &r, &ui, &Config::new()).unwrap();
    assert_eq!(m.pairs()["/dev/loop0"], "/dev/sdb");
    assert_eq!(m.maps[0].reason, "mapping file");
    // a mapping file naming a disk that is not a target is an error
    assert!(
        map_disks(
            &layout,
            &t,
            Some("/dev/loop0 /dev/sdz\n"),
            &r,
            &ui,
            &Config::new()
        )
        .is_err()
    );
    // best fit: the smallest disk that is big enough, never a too small one
    let t = [
        target("/dev/sdb", 2000 * MIB),
        target("/dev/sdc", 900 * MIB),
        target("/dev/sdd", 10 * MIB),
        target("/dev/vda", 274877906944),
    ];
    let m = map_disks(&layout, &t, None, &r, &ui, &Config::new()).unwrap();
    assert_eq!(m.pairs()["/dev/loop0"], "/dev/sdc");
    assert_eq!(m.pairs()["/dev/loop1"], "/dev/sdb");
    // too small even for shrinking: unmapped
    let t = [
        target("/dev/sdd", 10 * MIB),
        target("/dev/vda", 274877906944),
    ];
    let m = map_disks(&layout, &t, None, &r, &ui, &Config::new()).unwrap();
    assert_eq!(
        m.unmapped,
        vec!["/dev/loop0".to_string(), "/dev/loop1".to_string()]
    );
}

#[test]
fn lvm_on_a_shrunk_partition_follows_the_lv_rule() {
    let text = "\
layout version=1
disk dev=/dev/sda size=10737418240 table=gpt ptuuid=11111111-2222-3333-4444-555555555555 log_sec=512 first_lba=2048
part dev=/dev/sda1 disk=/dev/sda number=1 start=1048576 size=536870912 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B flags=esp
part dev=/dev/sda2 disk=/dev/sda number=2 start=537919488 size=10198450176 type=E6D6D379-F507-44C2-A23C-238F2A3DF928 flags=lvm
pv dev=/dev/sda2 vg=vg0 uuid=pvpvpv-1111-2222-3333-4444-5555-666666
vg name=vg0 extent_size=4194304 size=10196353024 uuid=vgvgvg-1111-2222-3333-4444-5555-666666
lv vg=vg0 name=root size=6442450944 layout=linear
lv vg=vg0 name=home size=3221225472 layout=linear
fs dev=/dev/mapper/vg0-root type=ext4 mountpoint=/ uuid=eeeeeeee-0000-0000-0000-000000000001
fs dev=/dev/mapper/vg0-home type=ext4 mountpoint=/home uuid=eeeeeeee-0000-0000-0000-000000000002
fs dev=/dev/sda1 type=vfat mountpoint=/boot/efi uuid=ABCD-1234
";
    let layout = file::read(text, Path::new("lvm")).unwrap();
    let r = proportional();
    let ui = RecordingUi::new();
    // smaller: vgcreate/lvcreate, LVs shrink by the same factor, to whole extents
    let t = [target("/dev/nvme0n1", 6 * 1024 * MIB)];
    let mapping = map_disks(&layout, &t, None, &r, &ui, &Config::new()).unwrap();
    let m = migrate(&layout, &mapping, &t, &r).unwrap();
    assert!(m.lvm_no_restore.contains("vg0"));
    let mut opts = PlanOptions::default();
    opts.lvm_restore_files.insert(
        "vg0".into(),
        PathBuf::from("/var/lib/rear/layout/lvm/vg0.cfg"),
    );
    m.apply_to(&mut opts);
    let p = plan(&m.layout, &opts).unwrap();
    snapshots().bind(|| insta::assert_snapshot!("plan_lvm_smaller", p.summary()));
    assert!(words(&p.step("vg:vg0").unwrap().commands[0].cmd).starts_with("lvm vgcreate"));
    let root = words(&p.step("lv:vg0/root").unwrap().commands[0].cmd);
    let home = words(&p.step("lv:vg0/home").unwrap().commands[0].cmd);
    let size = |l: &str| {
        l.split(" -L ")
            .nth(1)
            .unwrap()
            .split('b')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(size(&root) % (4 * MIB), 0);
    assert!(
        size(&root) + size(&home) < 6 * 1024 * MIB - 512 * MIB,
        "LVs must fit the smaller PV"
    );
    assert!(
        p.step("lv:vg0/root")
            .unwrap()
            .notes
            .iter()
            .any(|n| n.contains("same factor"))
    );
    assert!(p.devices.contains("/dev/nvme0n1p2"));
    // bigger: vgcfgrestore keeps the UUIDs, pvresize hands over the space, LVs keep their size
    let t = [target("/dev/sda", 20 * 1024 * MIB)];
    let mapping = map_disks(&layout, &t, None, &r, &ui, &Config::new()).unwrap();
    let m = migrate(&layout, &mapping, &t, &r).unwrap();
    let mut opts = PlanOptions::default();
    opts.lvm_restore_files.insert(
        "vg0".into(),
        PathBuf::from("/var/lib/rear/layout/lvm/vg0.cfg"),
    );
    m.apply_to(&mut opts);
    let p = plan(&m.layout, &opts).unwrap();
    let vg: Vec<String> = p
        .step("vg:vg0")
        .unwrap()
        .commands
        .iter()
        .map(|c| words(&c.cmd))
        .collect();
    assert_eq!(
        vg[0],
        "lvm vgcfgrestore -f /var/lib/rear/layout/lvm/vg0.cfg vg0"
    );
    assert_eq!(vg[1], "lvm pvresize /dev/sda2");
    assert_eq!(partition_device("/dev/nvme0n1", 2), "/dev/nvme0n1p2");
}

/// `rear mountonly`'s plan for the full stack: the array is assembled, the LUKS device opened, the
/// VG activated and every filesystem mounted, in dependency order, and nothing is created,
/// formatted or wiped.
#[test]
fn mount_only_plan_assembles_opens_activates_and_mounts() {
    let layout = stack();
    let opts = PlanOptions {
        mount_only: true,
        ..PlanOptions::default()
    };
    let p = plan(&layout, &opts).unwrap();
    let ids: Vec<&str> = p
        .steps
        .iter()
        .map(|s| s.id.split(':').next().unwrap())
        .collect();
    let kinds: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        kinds,
        ["luks-open", "md-assemble", "mount", "vg-activate"]
            .into_iter()
            .collect(),
        "{}",
        p.summary()
    );
    assert!(position(&p, "md-assemble:/dev/md0") < position(&p, "luks-open:cr_lvm"));
    assert!(position(&p, "luks-open:cr_lvm") < position(&p, "vg-activate:vg0"));
    assert!(position(&p, "vg-activate:vg0") < position(&p, "mount:/"));
    assert!(position(&p, "mount:/") < position(&p, "mount:/boot"));
    for c in p.mutating_commands() {
        let w = words(c);
        for forbidden in [
            "mkfs",
            "sfdisk",
            "wipefs",
            "--create",
            "luksFormat",
            "pvcreate",
            "vgcreate",
            "lvcreate",
            "vgcfgrestore",
            "mkswap",
        ] {
            assert!(!w.contains(forbidden), "{w}\n{}", p.summary());
        }
    }
    let assemble = &p.steps[position(&p, "md-assemble:/dev/md0")];
    assert_eq!(
        words(&assemble.commands[0].cmd),
        "mdadm --assemble /dev/md0 --run --uuid 01234567:89abcdef:01234567:89abcdef /dev/sda2 /dev/sdb2"
    );
    // the same devices as the recovery plan: the guard allows exactly those
    let recovery = plan(&layout, &PlanOptions::default()).unwrap();
    assert_eq!(p.devices, recovery.devices);
    let script = p.to_shell_script();
    assert!(script.contains("creates and formats nothing"), "{script}");
    assert!(script.contains("echo 'Filesystems mounted.'"));
    let st = std::process::Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(script.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(st.success(), "the mount script is not valid bash");
}
