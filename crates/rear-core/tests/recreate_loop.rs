//! Loop-device tests on the host (root, loop devices; run by `scripts/test-all.sh`):
//! GPT and MBR disks with ext4, xfs, vfat, btrfs (with subvolumes), ext3, ext2 and swap are built
//! with the real tools, captured with the probe, thrown away, and recreated with the plan and the
//! apply engine on blank loop devices; UUIDs, labels, sizes and partition tables must match. A
//! loop device outside the plan and a write-protected one must stay untouched byte for byte.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use rear_core::cmd::SystemRunner;
use rear_core::config::Config;
use rear_core::layout::Layout;
use rear_core::layout::model::{Component, Filesystem, FsType};
use rear_core::probe::{ProbeOptions, probe_layout};
use rear_core::recreate::apply::{ApplyOptions, apply, unmount};
use rear_core::recreate::migrate::{ResizeOptions, map_disks, migrate, target_disks};
use rear_core::recreate::rehearse::rehearse;
use rear_core::recreate::safety::{Guard, SafetyOptions, confirm_disks, system_devices};
use rear_core::recreate::{PlanOptions, PlannedCommand, plan};
use rear_core::ui::RecordingUi;

fn sh(script: &str) -> String {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "script failed: {script}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Loop devices and mounts that are cleaned up however the test ends.
struct Lab {
    dir: tempfile::TempDir,
    loops: Vec<String>,
}

impl Lab {
    fn new() -> Self {
        Lab {
            dir: tempfile::Builder::new()
                .prefix("rear-recreate-loop")
                .tempdir()
                .unwrap(),
            loops: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn attach(&mut self, name: &str, size_mib: u64) -> String {
        let file = self.path(name);
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(size_mib * 1024 * 1024).unwrap();
        let dev = sh(&format!("losetup -f --show -P {}", file.display()));
        self.loops.push(dev.clone());
        dev
    }

    fn file_hash(&self, name: &str) -> u64 {
        let data = std::fs::read(self.path(name)).unwrap();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        data.hash(&mut h);
        h.finish()
    }

    fn release_mounts(&self) {
        let root = self.dir.path().display().to_string();
        // children first
        let _ = Command::new("bash")
            .args([
                "-c",
                &format!("findmnt -rn -o TARGET | grep '^{root}' | sort -r | xargs -r -n1 umount"),
            ])
            .status();
        for l in &self.loops {
            let _ = Command::new("bash")
                .args([
                    "-c",
                    &format!("for p in {l}p*; do swapoff $p 2>/dev/null || true; done"),
                ])
                .status();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.release_mounts();
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
    }
}

fn build_source(lab: &Lab, a: &str, b: &str) {
    let m = lab.path("m").display().to_string();
    sh(&format!(
        r#"
sfdisk -q {a} <<S
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios boot", attrs="LegacyBIOSBootable"
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
size=100MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, name="root fs"
size=320MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00
size=130MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
S
sfdisk -q {b} <<S
label: dos
{b}p1 : size=60MiB, type=83, bootable
{b}p2 : type=5
{b}p5 : size=40MiB, type=83
{b}p6 : type=82
S
partx -u {a} || true; partx -a {a} || true; partx -u {b} || true; partx -a {b} || true
for i in $(seq 50); do [ -b {a}p6 ] && [ -b {b}p6 ] && break; sleep 0.1; done
mkfs.vfat -F 32 -n EFI -i 1234ABCD {a}p2 >/dev/null
mkfs.ext4 -q -L rootfs -b 4096 -I 256 {a}p3
mkfs.xfs -q -f -L data {a}p4
mkfs.btrfs -q -f -L pool {a}p5 >/dev/null
mkswap -L swp {a}p6 >/dev/null
mkfs.ext3 -q -L boot {b}p1
mkfs.ext2 -q {b}p5
mkswap -L swap2 {b}p6 >/dev/null
mkdir -p {m}/root {m}/data {m}/btr {m}/home {m}/boot {m}/old
mount {a}p3 {m}/root
mount {a}p4 {m}/data
mount {a}p5 {m}/btr
btrfs -q subvolume create {m}/btr/@home
btrfs -q subvolume create {m}/btr/@home/nested
mkdir -p {m}/btr/@home/plain/dir
btrfs -q subvolume create {m}/btr/@home/plain/dir/deep
btrfs -q subvolume create {m}/btr/@root
btrfs subvolume set-default {m}/btr/@root
mount -o subvol=@home {a}p5 {m}/home
mount {b}p1 {m}/boot
mount {b}p5 {m}/old
swapon {a}p6
swapon {b}p6
"#
    ));
}

/// Probes the system and keeps only `disks` (everything else is excluded, as AUTOEXCLUDE would).
fn capture(disks: &[&str]) -> Layout {
    let runner = SystemRunner::new();
    let opts = ProbeOptions {
        include_loop_devices: true,
        uefi: Some(false),
        ..ProbeOptions::default()
    };
    let mut layout = probe_layout(&runner, &opts).unwrap();
    // exclude other disks and what is built on them; a mount point nested under an excluded
    // one (our test mounts sit below the host's /) is not a device dependency
    let deps = layout.dependencies();
    let mut out = vec![false; layout.entries.len()];
    for (i, e) in layout.entries.iter().enumerate() {
        out[i] = matches!(&e.component, Component::Disk(d) if !disks.contains(&d.dev.as_str()));
    }
    let is_mount = |c: &Component| matches!(c, Component::Filesystem(_) | Component::BtrfsMount(_));
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..layout.entries.len() {
            if out[i] {
                continue;
            }
            let ci = &layout.entries[i].component;
            let hit = deps[i].iter().flatten().any(|&j| {
                let cj = &layout.entries[j].component;
                let nesting = is_mount(ci)
                    && is_mount(cj)
                    && !matches!((ci, cj), (Component::BtrfsMount(m), Component::Filesystem(f)) if m.dev == f.dev);
                out[j] && !nesting
            });
            if hit {
                out[i] = true;
                changed = true;
            }
        }
    }
    for (i, e) in layout.entries.iter_mut().enumerate() {
        if out[i] {
            e.excluded
                .get_or_insert_with(|| "not a disk of this test".into());
        }
    }
    layout
}

fn blkid(dev: &str) -> BTreeMap<String, String> {
    sh(&format!("blkid -p -o export {dev}"))
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn sfdisk_dump(dev: &str) -> String {
    // device names differ; everything else must be identical
    sh(&format!("sfdisk --dump {dev}"))
        .replace(&format!("{dev}p"), "P")
        .replace(dev, "DISK")
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_recreate_gpt_and_mbr_disks_faithfully() {
    let mut lab = Lab::new();
    let a = lab.attach("a.img", 700);
    let b = lab.attach("b.img", 200);
    // bystanders: one not in the plan, one write-protected by its PTUUID
    let other = lab.attach("other.img", 16);
    let protected = lab.attach("protected.img", 16);
    sh(&format!(
        "head -c 16777216 /dev/urandom > {}",
        lab.path("other.img").display()
    ));
    sh(&format!(
        "printf 'label: gpt\\nlabel-id: 0D15EA5E-0000-4000-8000-00000000CAFE\\n\\nsize=4MiB\\n' | sfdisk -q {protected}"
    ));
    build_source(&lab, &a, &b);

    let mut layout = capture(&[&a, &b]);
    // the host cannot mount vfat, so the probe (which records mounted filesystems) does not see
    // the ESP's filesystem: add it with what build_source gave it
    if layout.find(&format!("fs:{a}p2")).is_none() {
        layout.push(Component::Filesystem(Filesystem {
            dev: format!("{a}p2"),
            fstype: FsType::Vfat,
            uuid: Some("1234-ABCD".into()),
            label: Some("EFI".into()),
            fat_size: Some(32),
            ..Filesystem::default()
        }));
    }
    let before_a = sfdisk_dump(&a);
    let before_b = sfdisk_dump(&b);
    let mut before_ids = BTreeMap::new();
    for p in ["p2", "p3", "p4", "p5", "p6"] {
        before_ids.insert(format!("A{p}"), blkid(&format!("{a}{p}")));
    }
    for p in ["p1", "p5", "p6"] {
        before_ids.insert(format!("B{p}"), blkid(&format!("{b}{p}")));
    }
    let size_a3 = sh(&format!("blockdev --getsize64 {a}p3"));

    // rehearsal on sparse files first
    let ui = RecordingUi::new();
    let cfg = Config::new();
    let runner = SystemRunner::new();
    let rehearsal = rehearse(
        &layout,
        &PlanOptions::default(),
        &runner,
        &ui,
        &cfg,
        &lab.path("rehearsal"),
    )
    .unwrap();
    assert!(rehearsal.ok(), "rehearsal failed: {:?}", rehearsal.error);
    assert_eq!(rehearsal.disks.len(), 2);

    // the old disks go away; blank ones of the same size take their place
    lab.release_mounts();
    sh(&format!("losetup -d {a} {b}"));
    lab.loops.retain(|l| l != &a && l != &b);
    let c = lab.attach("c.img", 700);
    let d = lab.attach("d.img", 200);
    let hash_other = lab.file_hash("other.img");
    let hash_protected = lab.file_hash("protected.img");

    let devices = system_devices(&runner).unwrap();
    let targets: Vec<_> = target_disks(&devices, &Default::default(), true)
        .into_iter()
        .filter(|t| t.dev == c || t.dev == d)
        .collect();
    let resize = ResizeOptions::default();
    let mapping = map_disks(&layout, &targets, None, &resize, &ui, &cfg).unwrap();
    assert_eq!(mapping.pairs()[&a], c);
    assert_eq!(mapping.pairs()[&b], d);
    let migrated = migrate(&layout, &mapping, &targets, &resize).unwrap();
    let target_root = lab.path("target");
    let mut opts = PlanOptions {
        target_root: target_root.clone(),
        scratch_dir: lab.path("scratch"),
        ..PlanOptions::default()
    };
    migrated.apply_to(&mut opts);
    let p = plan(&migrated.layout, &opts).unwrap();
    assert_eq!(
        p.disks.iter().map(|x| x.dev.clone()).collect::<Vec<_>>(),
        vec![c.clone(), d.clone()]
    );

    let safety = SafetyOptions {
        write_protected_ids: vec!["0d15ea5e-0000-4000-8000-00000000cafe".into()],
        ..SafetyOptions::default()
    };
    let guard = Guard::new(&p, &devices, &safety).unwrap();
    confirm_disks(&p, &devices, &ui, &cfg, true).unwrap();
    let state = lab.path("build/recreate.state");
    let aopts = ApplyOptions {
        state_file: Some(state.clone()),
        unattended: true,
        ..ApplyOptions::default()
    };
    let report = apply(&p, &runner, &ui, &cfg, &guard, &aopts).unwrap();
    assert_eq!(report.ran.len(), p.steps.len(), "{report:?}");
    assert!(report.stopped.is_none());

    // partition tables: same label-id, starts, sizes, types, names, PARTUUIDs, attributes
    assert_eq!(sfdisk_dump(&c), before_a);
    assert_eq!(sfdisk_dump(&d), before_b);
    // filesystems and swap: same type, UUID, label
    for (key, ids) in &before_ids {
        let dev = match key.strip_prefix('A') {
            Some(part) => format!("{c}{part}"),
            None => format!("{d}{}", &key[1..]),
        };
        let now = blkid(&dev);
        for k in [
            "TYPE",
            "UUID",
            "LABEL",
            "PART_ENTRY_UUID",
            "PART_ENTRY_NAME",
            "PART_ENTRY_SIZE",
            "VERSION",
        ] {
            assert_eq!(
                now.get(k),
                ids.get(k),
                "{k} of {dev} (was {key})\n{now:?}\n{}\n{}",
                sh(&format!("lsblk -o NAME,FSTYPE,UUID,SIZE {c} {d}")),
                sh(&format!(
                    "blkid {dev} || true; dumpe2fs -h {dev} 2>&1 | head -5 || true"
                ))
            );
        }
    }
    assert_eq!(sh(&format!("blockdev --getsize64 {c}p3")), size_a3);
    // mounted under the target root, btrfs subvolumes included
    let mounted = sh("findmnt -rn -o TARGET");
    let m = lab.path("m").display().to_string();
    for mp in ["root", "data", "btr", "home", "boot", "old"] {
        let t = format!("{}{m}/{mp}", target_root.display());
        assert!(
            mounted.lines().any(|l| l == t),
            "{t} not mounted:\n{mounted}"
        );
    }
    let subvols = sh(&format!(
        "btrfs subvolume list {}{m}/btr",
        target_root.display()
    ));
    for sv in [
        "path @home\n",
        "path @home/nested\n",
        "path @home/plain/dir/deep\n",
        "path @root",
    ] {
        assert!(subvols.contains(sv), "{sv} missing from:\n{subvols}");
    }
    let default = sh(&format!(
        "btrfs subvolume get-default {}{m}/btr",
        target_root.display()
    ));
    assert!(default.ends_with("path @root"), "{default}");
    // ext parameters: block size and inode size as captured
    let tune = sh(&format!("tune2fs -l {c}p3"));
    assert!(
        tune.contains("Block size:               4096")
            && tune.contains("Inode size:\t          256"),
        "{tune}"
    );

    // a second run finds everything done and runs nothing
    let again = apply(&p, &runner, &ui, &cfg, &guard, &aopts).unwrap();
    assert!(again.ran.is_empty(), "{again:?}");
    // also without the state file: the done checks alone recognise every step (when trusted)
    let fresh = ApplyOptions {
        state_file: None,
        unattended: true,
        trust_existing: true,
        ..ApplyOptions::default()
    };
    let again = apply(&p, &runner, &ui, &cfg, &guard, &fresh).unwrap();
    assert!(again.ran.is_empty(), "{again:?}");

    // a plan tampered with to touch a bystander is refused before anything runs
    let mut bad = p.clone();
    bad.steps[0].commands.insert(
        0,
        PlannedCommand {
            cmd: rear_core::cmd::Cmd::mutate(rear_core::cmd::tools::WIPEFS)
                .args(["--all", other.as_str()]),
            secret: None,
        },
    );
    let err = apply(&bad, &runner, &ui, &cfg, &guard, &fresh)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a device of the recovery plan"), "{err}");
    // a plan onto the write-protected disk is refused as a whole
    let mut onto_protected = migrated.layout.clone();
    let mut ren = BTreeMap::new();
    ren.insert(d.clone(), protected.clone());
    rear_core::recreate::migrate::rename_devices(&mut onto_protected, &ren);
    for e in &mut onto_protected.entries {
        if let Component::Disk(x) = &mut e.component
            && x.dev == protected
        {
            x.size = 16 * 1024 * 1024;
        }
    }
    let p2 = plan(
        &onto_protected,
        &PlanOptions {
            target_root: target_root.clone(),
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let err = Guard::new(&p2, &devices, &safety).unwrap_err().to_string();
    assert!(err.contains("write-protected"), "{err}");

    unmount(&p, &runner).unwrap();
    assert_eq!(
        lab.file_hash("other.img"),
        hash_other,
        "the disk outside the plan changed"
    );
    assert_eq!(
        lab.file_hash("protected.img"),
        hash_protected,
        "the write-protected disk changed"
    );
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_migrate_onto_bigger_and_smaller_disks() {
    use rear_core::recreate::migrate::{ResizeMode, ResizeOptions};
    let mut lab = Lab::new();
    let a = lab.attach("src.img", 400);
    let m = lab.path("m").display().to_string();
    sh(&format!(
        r#"
sfdisk -q {a} <<S
label: gpt
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
size=200MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, name=root
size=100MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, name=data
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
S
partx -u {a} || true; partx -a {a} || true
for i in $(seq 50); do [ -b {a}p4 ] && break; sleep 0.1; done
mkfs.vfat -F 32 -n EFI {a}p1 >/dev/null
mkfs.ext4 -q -L root {a}p2
mkfs.ext4 -q -L data {a}p3
mkswap -L swp {a}p4 >/dev/null
mkdir -p {m}/root {m}/data
mount {a}p2 {m}/root
mount {a}p3 {m}/data
swapon {a}p4
"#
    ));
    let layout = capture(&[&a]);
    let esp_size: u64 = sh(&format!("blockdev --getsize64 {a}p1")).parse().unwrap();
    let swap_size: u64 = sh(&format!("blockdev --getsize64 {a}p4")).parse().unwrap();
    let root_size: u64 = sh(&format!("blockdev --getsize64 {a}p2")).parse().unwrap();
    let root_uuid = blkid(&format!("{a}p2"))["UUID"].clone();
    lab.release_mounts();
    let runner = SystemRunner::new();
    let ui = RecordingUi::new();
    let cfg = Config::new();
    let resize = ResizeOptions {
        mode: ResizeMode::Proportional,
        ..ResizeOptions::default()
    };
    for (name, size_mib) in [("bigger.img", 600u64), ("smaller.img", 300)] {
        let t = lab.attach(name, size_mib);
        let devices = system_devices(&runner).unwrap();
        let targets: Vec<_> = target_disks(&devices, &Default::default(), true)
            .into_iter()
            .filter(|d| d.dev == t)
            .collect();
        let mapping = map_disks(&layout, &targets, None, &resize, &ui, &cfg).unwrap();
        assert_eq!(mapping.pairs()[&a], t, "{name}");
        let migrated = migrate(&layout, &mapping, &targets, &resize).unwrap();
        let target_root = lab.path(&format!("target-{name}"));
        let mut opts = PlanOptions {
            target_root,
            ..PlanOptions::default()
        };
        migrated.apply_to(&mut opts);
        let p = plan(&migrated.layout, &opts).unwrap();
        assert!(p.summary().contains("resized:"), "{name}: {}", p.summary());
        let guard = Guard::new(&p, &devices, &SafetyOptions::default()).unwrap();
        let aopts = ApplyOptions {
            unattended: true,
            ..ApplyOptions::default()
        };
        apply(&p, &runner, &ui, &cfg, &guard, &aopts).unwrap();
        // ESP and swap keep their size, root follows the disk, every start stays 1 MiB aligned
        let size = |n: u32| {
            sh(&format!("blockdev --getsize64 {t}p{n}"))
                .parse::<u64>()
                .unwrap()
        };
        assert_eq!(size(1), esp_size, "{name}: ESP");
        assert_eq!(size(4), swap_size, "{name}: swap");
        if size_mib > 400 {
            assert!(size(2) > root_size, "{name}: root must grow");
        } else {
            assert!(size(2) < root_size, "{name}: root must shrink");
        }
        for n in 1..=4 {
            let start: u64 = sh(&format!(
                "cat /sys/class/block/{}p{n}/start",
                t.trim_start_matches("/dev/")
            ))
            .parse()
            .unwrap();
            assert_eq!(
                start % 2048,
                0,
                "{name}: partition {n} starts at sector {start}"
            );
        }
        // the filesystem fills its new partition and keeps its UUID
        assert_eq!(blkid(&format!("{t}p2"))["UUID"], root_uuid, "{name}");
        let blocks = sh(&format!("tune2fs -l {t}p2 | sed -n 's/^Block count: *//p'"));
        let bsize = sh(&format!("tune2fs -l {t}p2 | sed -n 's/^Block size: *//p'"));
        assert_eq!(
            blocks.parse::<u64>().unwrap() * bsize.parse::<u64>().unwrap(),
            size(2),
            "{name}: fs size"
        );
        unmount(&p, &runner).unwrap();
        sh(&format!("losetup -d {t}"));
        lab.loops.retain(|l| l != &t);
    }
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_recreate_in_place_on_a_busy_disk() {
    use rear_core::recreate::safety::release_disks;
    let mut lab = Lab::new();
    let a = lab.attach("busy.img", 200);
    let m = lab.path("m").display().to_string();
    sh(&format!(
        r#"
sfdisk -q {a} <<S
label: gpt
size=120MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, name=root
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
S
partx -u {a} || true; partx -a {a} || true
for i in $(seq 50); do [ -b {a}p2 ] && break; sleep 0.1; done
mkfs.ext4 -q -L root {a}p1
mkswap -L swp {a}p2 >/dev/null
mkdir -p {m}/root
mount {a}p1 {m}/root
echo old > {m}/root/old-file
swapon {a}p2
"#
    ));
    let layout = capture(&[&a]);
    let before = (blkid(&format!("{a}p1")), blkid(&format!("{a}p2")));
    let runner = SystemRunner::new();
    let ui = RecordingUi::new();
    let cfg = Config::new();
    let mut opts = PlanOptions {
        target_root: lab.path("target"),
        ..PlanOptions::default()
    };
    opts.skip_mounts = false;
    let p = plan(&layout, &opts).unwrap();
    let devices = system_devices(&runner).unwrap();
    let guard = Guard::new(&p, &devices, &SafetyOptions::default()).unwrap();
    // the disk is in use: release what sits on it (and only that)
    let released = release_disks(&p, &devices, &runner).unwrap();
    assert_eq!(released.len(), 2, "{released:?}");
    assert!(
        released.iter().any(|c| c.starts_with("umount"))
            && released.iter().any(|c| c.starts_with("swapoff"))
    );
    let mounted = sh("findmnt -rn -o SOURCE");
    assert!(!mounted.lines().any(|l| l.starts_with(&a)), "{mounted}");
    // a first run does not trust what is there: the old filesystem has the planned UUID, but
    // it is recreated (the restore must not mix into old files)
    let state = lab.path("build/recreate.state");
    let aopts = ApplyOptions {
        state_file: Some(state),
        unattended: true,
        ..ApplyOptions::default()
    };
    let report = apply(&p, &runner, &ui, &cfg, &guard, &aopts).unwrap();
    assert_eq!(report.ran.len(), p.steps.len(), "{report:?}");
    assert_eq!((blkid(&format!("{a}p1")), blkid(&format!("{a}p2"))), before);
    let target = format!("{}{m}/root", lab.path("target").display());
    assert!(
        !Path::new(&format!("{target}/old-file")).exists(),
        "old content survived"
    );
    // a re-run resumes: everything is recorded, nothing runs again
    let again = apply(&p, &runner, &ui, &cfg, &guard, &aopts).unwrap();
    assert!(again.ran.is_empty(), "{again:?}");
    // the rendered script, run by hand after that, trusts its checks only with TRUST_EXISTING
    let script = lab.path("diskrestore.sh");
    std::fs::write(&script, p.to_shell_script()).unwrap();
    let log = sh(&format!(
        "TRUST_EXISTING=1 STATE_DIR={} bash {}",
        lab.path("script-state").display(),
        script.display()
    ));
    assert_eq!(
        log.matches("is already done").count(),
        p.steps.len(),
        "{log}"
    );
    unmount(&p, &runner).unwrap();
}
