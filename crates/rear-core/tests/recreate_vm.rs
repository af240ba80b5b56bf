//! Recreation of md RAID1 + LVM, LUKS2 + LVM and LVM thin pools in the qemu lab guest (the
//! build host has no md or device-mapper).
//!
//! Each case takes a layout captured in the lab (`fixtures/layouts/<scenario>`), maps it onto the
//! guest's blank disks (two cases through a `disk_mappings` file: vda→vdb, vdb→vdc), computes the
//! plan with the captured vgcfgbackup file, renders it as a script, and `lab/jobs/recreate-stack.sh`
//! runs the script twice in the guest (the second run must skip every step) and records what was
//! built. The records are compared with the layout: partition tables, md UUIDs and names, LUKS
//! UUID, PV/VG UUIDs, LV names and sizes, filesystem and swap UUIDs and labels, and the mounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rear_core::config::Config;
use rear_core::layout::Layout;
use rear_core::layout::model::{Component, LvLayout, PartTable};
use rear_core::probe::{ProbeOptions, probe_layout, scenario};
use rear_core::recreate::migrate::{ResizeMode, ResizeOptions, TargetDisk, map_disks, migrate};
use rear_core::recreate::{PlanOptions, plan};
use rear_core::ui::RecordingUi;

const GIB: u64 = 1024 * 1024 * 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn lab_layout(name: &str) -> Layout {
    let dir = repo().join("fixtures/layouts").join(name);
    let fake = scenario::fake_runner(&dir).unwrap();
    let opts = ProbeOptions {
        uefi: Some(false),
        sys_root: Some(dir.join("no-sys")),
        autoexclude_disks: true,
        ..ProbeOptions::default()
    };
    probe_layout(&fake, &opts).unwrap()
}

struct Case {
    name: &'static str,
    layout: Layout,
    steps: usize,
    /// VGs created with vgcreate (new VG and LV UUIDs).
    no_restore: std::collections::BTreeSet<String>,
}

fn prepare(
    cases_dir: &Path,
    name: &'static str,
    scenario: &str,
    mapping_file: Option<&str>,
    resize: ResizeOptions,
) -> Case {
    let mut layout = lab_layout(scenario);
    let dir = cases_dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let guest_dir = format!("/lab/cases/{name}");
    // a LUKS key file, so that the script runs without a terminal
    for e in &mut layout.entries {
        if let Component::Crypt(c) = &mut e.component {
            std::fs::write(dir.join("luks.key"), "lab passphrase\n").unwrap();
            c.keyfile = Some(format!("{guest_dir}/luks.key"));
        }
    }
    let targets = [
        TargetDisk {
            dev: "/dev/vda".into(),
            size: 2 * GIB,
            model: None,
            serial: None,
        },
        TargetDisk {
            dev: "/dev/vdb".into(),
            size: GIB,
            model: None,
            serial: None,
        },
        TargetDisk {
            dev: "/dev/vdc".into(),
            size: GIB,
            model: None,
            serial: None,
        },
        TargetDisk {
            dev: "/dev/vdd".into(),
            size: 3 * GIB,
            model: None,
            serial: None,
        },
        TargetDisk {
            dev: "/dev/vde".into(),
            size: 1536 * 1024 * 1024,
            model: None,
            serial: None,
        },
    ];
    let ui = RecordingUi::new();
    let mapping = map_disks(
        &layout,
        &targets,
        mapping_file,
        &resize,
        &ui,
        &Config::new(),
    )
    .unwrap();
    assert!(mapping.unmapped.is_empty(), "{name}: {mapping:?}");
    let migrated = migrate(&layout, &mapping, &targets, &resize).unwrap();
    let mut opts = PlanOptions {
        md_assume_clean: true,
        // LUKS_CRYPTSETUP_OPTIONS: keep key derivation cheap under TCG
        luks_cryptsetup_options: vec!["--pbkdf-force-iterations".into(), "1000".into()],
        ..PlanOptions::default()
    };
    migrated.apply_to(&mut opts);
    for c in migrated.layout.components() {
        if let Component::Vg(vg) = c {
            let backup = repo()
                .join("fixtures/layouts")
                .join(scenario)
                .join(format!("vgcfgbackup-{}.txt", vg.name));
            if backup.exists() {
                std::fs::copy(&backup, dir.join(format!("{}.cfg", vg.name))).unwrap();
                opts.lvm_restore_files.insert(
                    vg.name.clone(),
                    PathBuf::from(format!("{guest_dir}/{}.cfg", vg.name)),
                );
            }
        }
    }
    let p = plan(&migrated.layout, &opts).unwrap();
    std::fs::write(dir.join("diskrestore.sh"), p.to_shell_script()).unwrap();
    std::fs::write(dir.join("plan.txt"), p.summary()).unwrap();
    // `rear mountonly`'s plan for the same layout: run on the stack after it was taken down
    let mount_only = PlanOptions {
        mount_only: true,
        ..opts.clone()
    };
    let m = plan(&migrated.layout, &mount_only).unwrap();
    assert!(
        m.mutating_commands()
            .all(|c| !c.command_line().contains("mkfs") && !c.command_line().contains("--create")),
        "{name}: the mount plan creates something:\n{}",
        m.summary()
    );
    std::fs::write(dir.join("mountonly.sh"), m.to_shell_script()).unwrap();
    Case {
        name,
        layout: migrated.layout,
        steps: p.steps.len(),
        no_restore: opts.lvm_no_restore.clone(),
    }
}

fn kv(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn base(dev: &str) -> String {
    dev.rsplit('/').next().unwrap().to_string()
}

fn check(case: &Case, out: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            bad.push(format!("{}: {what}", case.name));
        }
    };
    let status = std::fs::read_to_string(out.join("status")).unwrap_or_default();
    expect(
        status == "run1 ok\nrun2 ok\nmountonly ok\n",
        format!("status {status:?}"),
    );
    let run2 = std::fs::read_to_string(out.join("run2.log")).unwrap_or_default();
    expect(
        run2.matches("is already done").count() == case.steps,
        format!("second run did not skip all {} steps:\n{run2}", case.steps),
    );
    let lvs = std::fs::read_to_string(out.join("lvs.json")).unwrap_or_default();
    let vgs = std::fs::read_to_string(out.join("vgs.json")).unwrap_or_default();
    let mounts = std::fs::read_to_string(out.join("mounts.txt")).unwrap_or_default();
    // mountonly on the taken-down stack mounts the same filesystems in the same places
    let remounted = std::fs::read_to_string(out.join("mounts-mountonly.txt")).unwrap_or_default();
    let under_target = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(1)
                    .is_some_and(|m| m.starts_with("/mnt/local"))
            })
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    expect(
        !under_target(&mounts).is_empty() && under_target(&remounted) == under_target(&mounts),
        format!("mountonly mounted\n{remounted}\ninstead of\n{mounts}"),
    );
    for c in case
        .layout
        .entries
        .iter()
        .filter(|e| e.excluded.is_none())
        .map(|e| &e.component)
    {
        match c {
            Component::Disk(d) if d.table != PartTable::None => {
                let dump =
                    std::fs::read_to_string(out.join(format!("sfdisk-{}.dump", base(&d.dev))))
                        .unwrap_or_default()
                        .to_lowercase();
                let id = d.ptuuid.clone().unwrap_or_default().to_lowercase();
                expect(
                    dump.contains(&format!("label-id: {id}")),
                    format!("{} label-id {id}:\n{dump}", d.dev),
                );
            }
            Component::Partition(p) => {
                let dump =
                    std::fs::read_to_string(out.join(format!("sfdisk-{}.dump", base(&p.disk))))
                        .unwrap_or_default()
                        .to_lowercase();
                let line = dump
                    .lines()
                    .find(|l| l.starts_with(&format!("{} ", p.dev)))
                    .unwrap_or("")
                    .replace(' ', "");
                expect(
                    line.contains(&format!("start={},size={}", p.start / 512, p.size / 512)),
                    format!("{} position: {line}", p.dev),
                );
                if let Some(u) = &p.partuuid {
                    expect(
                        line.contains(&format!("uuid={}", u.to_lowercase())),
                        format!("{} PARTUUID: {line}", p.dev),
                    );
                }
            }
            Component::Raid(r) => {
                let m = kv(&out.join(format!("mdadm-{}.txt", base(&r.dev))));
                expect(
                    m.get("MD_UUID") == r.uuid.as_ref(),
                    format!("{} MD_UUID {:?}", r.dev, m.get("MD_UUID")),
                );
                expect(
                    m.get("MD_NAME") == r.name.as_ref(),
                    format!("{} MD_NAME {:?}", r.dev, m.get("MD_NAME")),
                );
                expect(
                    m.get("MD_METADATA") == r.metadata.as_ref(),
                    format!("{} metadata {:?}", r.dev, m.get("MD_METADATA")),
                );
            }
            Component::Crypt(cr) => {
                let b = kv(&out.join(format!("blkid-{}.txt", base(&cr.dev))));
                expect(
                    b.get("TYPE").map(String::as_str) == Some("crypto_LUKS"),
                    format!("{} TYPE {b:?}", cr.dev),
                );
                expect(
                    b.get("UUID") == cr.uuid.as_ref(),
                    format!("{} LUKS UUID {b:?}", cr.dev),
                );
                expect(
                    b.get("LABEL") == cr.label.as_ref(),
                    format!("{} LUKS label {b:?}", cr.dev),
                );
            }
            Component::Pv(pv) => {
                let b = kv(&out.join(format!("blkid-{}.txt", base(&pv.dev))));
                expect(
                    b.get("UUID") == pv.uuid.as_ref(),
                    format!("{} PV UUID {b:?}", pv.dev),
                );
            }
            Component::Vg(vg) => {
                // on a bigger disk, pvresize gave the VG the extra space
                if case.name.ends_with("-bigger") {
                    let size: u64 = vgs
                        .split(&format!("\"vg_name\":\"{}\"", vg.name))
                        .nth(1)
                        .and_then(|r| r.split("\"vg_size\":\"").nth(1))
                        .and_then(|r| r.split('B').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    expect(
                        size > vg.size.unwrap_or(u64::MAX),
                        format!("VG {} did not grow: {size} in {vgs}", vg.name),
                    );
                }
                // vgcfgrestore keeps the VG UUID
                if let Some(u) = vg
                    .uuid
                    .as_ref()
                    .filter(|_| !case.no_restore.contains(&vg.name))
                {
                    expect(vgs.contains(u), format!("VG {} UUID {u} in {vgs}", vg.name));
                }
            }
            Component::Lv(lv) => {
                let needle = format!("\"lv_name\":\"{}\", \"vg_name\":\"{}\"", lv.name, lv.vg);
                let compact = lvs.replace(": ", ":");
                let found = compact
                    .lines()
                    .find(|l| l.contains(&needle.replace(": ", ":")));
                expect(
                    found.is_some(),
                    format!("LV {}/{} in {lvs}", lv.vg, lv.name),
                );
                if let Some(l) = found {
                    expect(
                        l.contains(&format!("\"lv_size\":\"{}B\"", lv.size)),
                        format!("LV {}/{} size {} in {l}", lv.vg, lv.name, lv.size),
                    );
                    if let (Some(u), false) = (
                        &lv.uuid,
                        matches!(lv.layout, LvLayout::Thin | LvLayout::ThinPool)
                            || case.no_restore.contains(&lv.vg),
                    ) {
                        expect(
                            l.contains(u.as_str()),
                            format!("LV {}/{} UUID {u} in {l}", lv.vg, lv.name),
                        );
                    }
                }
            }
            Component::Filesystem(f) => {
                let b = kv(&out.join(format!("blkid-{}.txt", base(&f.dev))));
                expect(
                    b.get("UUID") == f.uuid.as_ref(),
                    format!("{} fs UUID {b:?}", f.dev),
                );
                expect(
                    b.get("LABEL") == f.label.as_ref(),
                    format!("{} fs label {b:?}", f.dev),
                );
                expect(
                    b.get("TYPE").map(String::as_str) == Some(f.fstype.as_str()),
                    format!("{} fs type {b:?}", f.dev),
                );
                if let Some(mp) = &f.mountpoint {
                    let t = if mp == "/" {
                        "/mnt/local".to_string()
                    } else {
                        format!("/mnt/local{mp}")
                    };
                    expect(
                        mounts
                            .lines()
                            .any(|l| l.split(' ').nth(1) == Some(t.as_str())),
                        format!("{t} not mounted:\n{mounts}"),
                    );
                }
            }
            Component::Swap(s) => {
                let b = kv(&out.join(format!("blkid-{}.txt", base(&s.dev))));
                expect(
                    b.get("UUID") == s.uuid.as_ref(),
                    format!("{} swap UUID {b:?}", s.dev),
                );
                expect(
                    b.get("LABEL") == s.label.as_ref(),
                    format!("{} swap label {b:?}", s.dev),
                );
            }
            _ => {}
        }
    }
    bad
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_recreate_md_raid1_luks2_lvm_thin() {
    let work = tempfile::tempdir().unwrap();
    let cases_dir = work.path().join("cases");
    let two_disks = "# old new\n/dev/vda /dev/vdb\n/dev/vdb /dev/vdc\n";
    let same = ResizeOptions::default;
    let proportional = || ResizeOptions {
        mode: ResizeMode::Proportional,
        ..ResizeOptions::default()
    };
    let cases = [
        prepare(&cases_dir, "1-luks2-lvm", "luks2-lvm", None, same()),
        prepare(
            &cases_dir,
            "2-lvm-thin",
            "lvm-linear-striped-thin",
            Some(two_disks),
            same(),
        ),
        prepare(
            &cases_dir,
            "3-md-raid1-lvm",
            "md-raid1-lvm",
            Some(two_disks),
            same(),
        ),
        // migration onto a bigger disk: the PV inside LUKS grows (vgcfgrestore, then pvresize)
        prepare(
            &cases_dir,
            "4-luks2-lvm-bigger",
            "luks2-lvm",
            Some("/dev/vda /dev/vdd\n"),
            proportional(),
        ),
        // ... and onto a smaller one: vgcreate/lvcreate (pvcreate --restorefile refuses it)
        prepare(
            &cases_dir,
            "5-luks2-lvm-smaller",
            "luks2-lvm",
            Some("/dev/vda /dev/vde\n"),
            proportional(),
        ),
    ];
    assert!(cases[3].no_restore.is_empty() && cases[4].no_restore.contains("vgcrypt"));
    let status = Command::new(repo().join("lab/run-job.sh"))
        .arg("recreate-vm")
        .arg(repo().join("lab/jobs/recreate-stack.sh"))
        .arg(&cases_dir)
        .args([
            "--", "--blank", "2G", "--blank", "1G", "--blank", "1G", "--blank", "3G",
        ])
        .args(["--blank", "1536M", "--timeout", "1800"])
        .status()
        .unwrap();
    let lab_out = std::env::var("REAR_LAB_OUT").unwrap_or_else(|_| "/var/tmp/rear-lab".into());
    let out = Path::new(&lab_out).join("share/recreate-vm/out");
    let mut bad = Vec::new();
    for c in &cases {
        bad.extend(check(c, &out.join(c.name)));
    }
    assert!(
        bad.is_empty(),
        "job exit {status:?}; mismatches:\n{}",
        bad.join("\n")
    );
    assert!(
        status.success(),
        "job failed: {status:?} (see {lab_out}/logs/recreate-vm.serial)"
    );
}
