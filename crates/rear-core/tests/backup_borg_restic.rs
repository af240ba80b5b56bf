//! BACKUP=BORG and BACKUP=RESTIC against real local repositories made by the real borg and
//! restic (Debian's borgbackup and restic packages, listed in ci/packages/backup.txt).

#[path = "backup_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use rear_core::Error;
use rear_core::backup::Selection;
use rear_core::backup::borg::{self, BorgSettings};
use rear_core::backup::restic::{self, ResticSettings};
use rear_core::cmd::SystemRunner;
use support::*;

fn have(program: &str) {
    assert!(
        std::process::Command::new(program)
            .arg("--help")
            .output()
            .is_ok(),
        "{program} is missing: apt-get install borgbackup restic (listed in ci/packages/backup.txt)"
    );
}

/// The source tree of `build_tree` plus a junk file under /tmp and a file matched by an
/// unanchored BACKUP_PROG_EXCLUDE pattern.
fn source(dir: &Path) -> (std::path::PathBuf, Selection) {
    let src = dir.join("src");
    build_tree(&src);
    write_file(&src.join("tmp/junk"), b"junk");
    write_file(&src.join("data/image.iso"), b"iso");
    // the tree has device nodes under dev/, so ReaR's default excludes (/dev/* ...) stay off
    // here; their translation is unit-tested in borg.rs and restic.rs
    let mut sel = Selection::tree(&src);
    sel.exclude = vec!["/tmp/*".into(), "*.iso".into()];
    (src, sel)
}

/// What the restore must reproduce: the source without the excluded files.
fn expected(src: &Path) -> BTreeMap<Vec<u8>, Facts> {
    let mut a = snapshot(src);
    a.remove(b"tmp/junk".as_slice());
    a.remove(b"data/image.iso".as_slice());
    a
}

/// Sparse files come back with holes at the tools' own granularity (borg: whole zero chunks;
/// restic 0.14: none, `restore --sparse` came in 0.15): compare their content, not extents.
fn without_extents(m: BTreeMap<Vec<u8>, Facts>) -> BTreeMap<Vec<u8>, Facts> {
    m.into_iter()
        .map(|(k, mut f)| {
            f.extents = None;
            (k, f)
        })
        .collect()
}

fn without_dir_times(m: &BTreeMap<Vec<u8>, Facts>, dirs: &[&[u8]]) -> BTreeMap<Vec<u8>, Facts> {
    let mut m = m.clone();
    for d in dirs {
        if let Some(f) = m.get_mut(*d) {
            f.mtime = (0, 0);
        }
    }
    m
}

/// Asserts no command line the runner ran contains `secret`.
fn assert_secret_not_logged(runner: &SystemRunner, secret: &str) {
    let t = runner.transcript();
    assert!(!t.is_empty());
    for r in t {
        assert!(
            !r.command.contains(secret),
            "secret on a command line: {}",
            r.command
        );
    }
}

#[test]
fn borg_round_trip_keeps_modes_links_and_xattrs() {
    have("borg");
    let dir = tempfile::tempdir().unwrap();
    let (src, sel) = source(dir.path());
    let secret = "correct horse battery staple";
    let mut s = BorgSettings::new(dir.path().join("repo").display().to_string()).passphrase(secret);
    s.encryption = "repokey".into();
    s.compression = "lz4".into();
    // BORG_BASE_DIR keeps borg's cache and security files inside the test directory
    s.env.push((
        "BORG_BASE_DIR".into(),
        dir.path().join("base").display().to_string(),
    ));
    let runner = SystemRunner::new();
    assert!(borg::ensure_repository(&runner, &s).unwrap());
    assert!(
        !borg::ensure_repository(&runner, &s).unwrap(),
        "created twice"
    );
    let first = borg::create(&runner, &s, &sel).unwrap();
    let second = borg::create(&runner, &s, &sel).unwrap();
    assert!(
        first < second,
        "archive names sort by time: {first} {second}"
    );
    assert_eq!(
        borg::list_archives(&runner, &s).unwrap(),
        [first, second.clone()]
    );

    let dest = dir.path().join("restored");
    let restored = borg::restore(&runner, &s, None, &dest).unwrap();
    assert_eq!(restored, second, "the newest archive is restored");
    assert!(
        !dest.join("tmp/junk").exists(),
        "default exclude /tmp/* ignored"
    );
    assert!(dest.join("tmp").is_dir(), "/tmp itself is kept");
    assert!(
        !dest.join("data/image.iso").exists(),
        "exclude *.iso ignored"
    );
    // the source directories that held excluded files; borg 1.2 also stores times before 1970
    // as 0 (build_tree gives data/text.txt one)
    let skip: &[&[u8]] = &[b"tmp", b"data", b"", b"data/text.txt"];
    let want = without_extents(without_dir_times(&expected(&src), skip));
    assert_same(
        &want,
        &without_extents(without_dir_times(&snapshot(&dest), skip)),
        "borg round trip",
    );
    let sparse = std::fs::metadata(dest.join("sparse/disk.img")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(
        sparse.blocks() * 512 < sparse.size() / 2,
        "borg extract --sparse left no holes"
    );
    assert_secret_not_logged(&runner, secret);
}

#[test]
fn borg_wrong_passphrase_and_missing_tool_are_clear() {
    have("borg");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("f"), b"x");
    let base = dir.path().join("base").display().to_string();
    let mut s =
        BorgSettings::new(dir.path().join("repo").display().to_string()).passphrase("right");
    s.encryption = "repokey".into();
    s.env.push(("BORG_BASE_DIR".into(), base));
    let runner = SystemRunner::new();
    borg::ensure_repository(&runner, &s).unwrap();
    borg::create(&runner, &s, &Selection::tree(&src)).unwrap();

    let wrong = s.clone().passphrase("wrong");
    let e = borg::restore(&runner, &wrong, None, &dir.path().join("r")).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Invalid { .. }) && msg.contains("passphrase is wrong"),
        "{msg}"
    );

    let mut none = s.clone();
    none.env.retain(|(k, _)| k != "BORG_PASSPHRASE");
    let e = borg::list_archives(&runner, &none).unwrap_err().to_string();
    assert!(
        e.contains("no passphrase is set") || e.contains("passphrase is wrong"),
        "{e}"
    );

    let mut missing = s.clone();
    missing.tool_root = dir.path().join("empty-root");
    let e = borg::create(&runner, &missing, &Selection::tree(&src))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'borg'") && e.contains("apt-get install borgbackup"),
        "{e}"
    );
}

fn restic_settings(dir: &Path, password: &str) -> ResticSettings {
    let pw = dir.join(format!("pw-{password}"));
    std::fs::write(&pw, format!("{password}\n")).unwrap();
    let mut s = ResticSettings::new(dir.join("repo").display().to_string(), "testhost", &pw);
    s.env.push((
        "RESTIC_CACHE_DIR".into(),
        dir.join("cache").display().to_string(),
    ));
    s
}

#[test]
fn restic_round_trip_keeps_modes_links_and_xattrs() {
    have("restic");
    let dir = tempfile::tempdir().unwrap();
    let (src, sel) = source(dir.path());
    let s = restic_settings(dir.path(), "pw1");
    let runner = SystemRunner::new();
    assert!(restic::ensure_repository(&runner, &s).unwrap());
    assert!(
        !restic::ensure_repository(&runner, &s).unwrap(),
        "created twice"
    );
    let first = restic::backup(&runner, &s, &sel).unwrap();
    let second = restic::backup(&runner, &s, &sel).unwrap();
    let snaps = restic::list_snapshots(&runner, &s).unwrap();
    assert_eq!(snaps.len(), 2);
    // `backup --json` reports the short ID, `snapshots --json` the full one
    assert!(snaps[0].0.starts_with(&first) && snaps[1].0.starts_with(&second));

    let dest = dir.path().join("restored");
    let restored = restic::restore(&runner, &s, None, &dest).unwrap();
    assert!(
        restored.starts_with(&second),
        "the newest snapshot is restored"
    );
    assert!(
        !dest.join("tmp/junk").exists(),
        "default exclude /tmp/* ignored"
    );
    assert!(dest.join("tmp").is_dir(), "/tmp itself is kept");
    assert!(
        !dest.join("data/image.iso").exists(),
        "exclude *.iso ignored"
    );
    let skip: &[&[u8]] = &[b"tmp", b"data", b""];
    assert_same(
        &without_extents(without_dir_times(&expected(&src), skip)),
        &without_extents(without_dir_times(&snapshot(&dest), skip)),
        "restic round trip",
    );
}

#[test]
fn restic_wrong_password_and_missing_tool_are_clear() {
    have("restic");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("f"), b"x");
    let s = restic_settings(dir.path(), "right");
    let runner = SystemRunner::new();
    restic::ensure_repository(&runner, &s).unwrap();
    restic::backup(&runner, &s, &Selection::tree(&src)).unwrap();

    let mut wrong = restic_settings(dir.path(), "wrong");
    wrong.repo = s.repo.clone();
    let e = restic::restore(&runner, &wrong, None, &dir.path().join("r")).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Invalid { .. }) && msg.contains("password is wrong"),
        "{msg}"
    );

    let mut other_host = s.clone();
    other_host.hostname = "elsewhere".into();
    let e = restic::restore(&runner, &other_host, None, &dir.path().join("r"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no snapshot of host elsewhere"), "{e}");

    let mut missing = s.clone();
    missing.tool_root = dir.path().join("empty-root");
    let e = restic::backup(&runner, &missing, &Selection::tree(&src))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'restic'") && e.contains("apt-get install restic"),
        "{e}"
    );
    assert_secret_not_logged(&runner, "right");
}

/// A context for the backup and restore steps: BACKUP_ONLY_INCLUDE of `src`, restore into
/// `dest`, a file:// target, plus `extra`.
fn run_steps(
    dir: &Path,
    extra: &[(&str, &str)],
    steps: &[fn(&mut rear_core::workflow::Context<'_>) -> rear_core::Result<()>],
) -> (rear_core::config::Config, Vec<String>) {
    use rear_core::config::{Config, Value};
    let mut c = Config::new();
    let s = |v: &str| Value::Scalar(v.to_string());
    c.set(
        "BACKUP_URL",
        s(&format!("file://{}", dir.join("target").display())),
    );
    c.set("BACKUP_ONLY_INCLUDE", s("yes"));
    c.set(
        "BACKUP_PROG_INCLUDE",
        Value::Array(vec![dir.join("src").display().to_string()]),
    );
    c.set("BACKUP_PROG_EXCLUDE", Value::Array(vec!["*.skip".into()]));
    c.set("TARGET_FS_ROOT", s(&dir.join("dest").display().to_string()));
    c.set("NETFS_PREFIX", s("testhost"));
    for (k, v) in extra {
        c.set(*k, s(v));
    }
    std::fs::create_dir_all(dir.join("target")).unwrap();
    let runner = SystemRunner::new();
    let ui = rear_core::ui::RecordingUi::new();
    let system =
        rear_core::system::SystemInfo::from_parts("ID=debian\n", "x86_64", "testhost", "6.1");
    let mut ctx = rear_core::workflow::Context::new(
        c,
        system,
        &runner,
        &ui,
        rear_core::workflow::RunOptions::default(),
        "mkbackup",
    );
    for step in steps {
        step(&mut ctx).unwrap();
    }
    let messages = ui.messages().into_iter().map(|(_, m)| m).collect();
    (ctx.config.clone(), messages)
}

/// The tree the step tests back up, and where it must reappear below `dest`.
fn step_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    write_file(&src.join("etc/fstab"), b"fstab");
    write_file(&src.join("var/cache.skip"), b"no");
    std::os::unix::fs::symlink("fstab", src.join("etc/link")).unwrap();
    dir.join("dest").join(src.strip_prefix("/").unwrap())
}

#[test]
fn borg_workflow_steps_back_up_and_restore() {
    have("borg");
    use rear_core::workflow::steps::backup as b;
    // not below /tmp: the steps apply ReaR's default excludes, /tmp/* among them
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let restored = step_tree(dir.path());
    let base = dir.path().join("base").display().to_string();
    let extra = [
        ("BACKUP", "BORG"),
        ("BORGBACKUP_REPO", "/borg/testhost"),
        ("BORGBACKUP_ENC_TYPE", "repokey"),
        ("BORGBACKUP_COMPRESSION", "zstd,3"),
        ("BORG_PASSPHRASE", "step secret"),
        ("BORG_BASE_DIR", base.as_str()),
    ];
    let (config, messages) = run_steps(
        dir.path(),
        &extra,
        &[
            b::prep_borg,
            b::make_borg_backup,
            b::check_borg_archive,
            b::restore_borg,
        ],
    );
    assert!(
        dir.path().join("target/borg/testhost/config").is_file(),
        "repo not below the target"
    );
    assert_eq!(std::fs::read(restored.join("etc/fstab")).unwrap(), b"fstab");
    assert_eq!(
        std::fs::read_link(restored.join("etc/link")).unwrap(),
        Path::new("fstab")
    );
    assert!(
        !restored.join("var/cache.skip").exists(),
        "BACKUP_PROG_EXCLUDE ignored"
    );
    assert!(config.list("REQUIRED_PROGS").contains(&"borg".to_string()));
    assert!(
        config
            .list("COPY_AS_IS")
            .iter()
            .any(|p| p.ends_with("dist-packages/borg")),
        "{:?}",
        config.list("COPY_AS_IS")
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Restored the Borg archive rear_")),
        "{messages:?}"
    );
}

#[test]
fn restic_workflow_steps_back_up_and_restore() {
    have("restic");
    use rear_core::workflow::steps::backup as b;
    // not below /tmp: the steps apply ReaR's default excludes, /tmp/* among them
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let restored = step_tree(dir.path());
    let pw = dir.path().join("restic.pw");
    std::fs::write(&pw, "step secret\n").unwrap();
    let pw = pw.display().to_string();
    let cache = dir.path().join("cache").display().to_string();
    let extra = [
        ("BACKUP", "RESTIC"),
        ("RESTIC_PASSWORD_FILE", pw.as_str()),
        ("RESTIC_CACHE_DIR", cache.as_str()),
    ];
    let (config, messages) = run_steps(
        dir.path(),
        &extra,
        &[
            b::prep_restic,
            b::make_restic_backup,
            b::check_restic_snapshot,
            b::restore_restic,
        ],
    );
    assert!(
        dir.path().join("target/testhost/restic/config").is_file(),
        "repo not below the target"
    );
    assert_eq!(std::fs::read(restored.join("etc/fstab")).unwrap(), b"fstab");
    assert_eq!(
        std::fs::read_link(restored.join("etc/link")).unwrap(),
        Path::new("fstab")
    );
    assert!(
        !restored.join("var/cache.skip").exists(),
        "BACKUP_PROG_EXCLUDE ignored"
    );
    assert!(
        config
            .list("REQUIRED_PROGS")
            .contains(&"restic".to_string())
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Restored the restic snapshot")),
        "{messages:?}"
    );
}

/// Copies `path` (file, symlink or tree) to the same place below `root`.
fn copy_into(root: &Path, path: &str) {
    // (not `cp --parents`: coreutils 9.1 copies but then fails on the parents' attributes)
    let dst = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    run(std::process::Command::new("cp")
        .arg("-a")
        .arg(path)
        .arg(&dst));
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_borg_runs_from_the_rescue_file_set() {
    // What prep_borg adds to the rescue image (REQUIRED_PROGS, COPY_AS_IS minus
    // COPY_AS_IS_EXCLUDE) plus the shared libraries of its ELF files and the /etc/passwd the
    // rescue build generates must be enough for borg: checked in a chroot (needs root).
    have("borg");
    assert!(is_root(), "needs root for chroot");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let (progs, trees, exclude) = rear_core::workflow::steps::backup::borg_rescue_files();
    let mut elf = Vec::new();
    for p in progs
        .iter()
        .map(|p| format!("/usr/bin/{p}"))
        .chain(["/bin/bash".into()])
    {
        copy_into(&root, &p);
        elf.push(p);
    }
    for t in &trees {
        copy_into(&root, t);
    }
    for e in &exclude {
        let _ = std::fs::remove_dir_all(root.join(e.trim_start_matches('/')));
    }
    let sos = run(std::process::Command::new("find")
        .arg(&root)
        .args(["-name", "*.so", "-type", "f"]));
    elf.extend(
        sos.lines()
            .map(|l| l.strip_prefix(root.to_str().unwrap()).unwrap().to_string()),
    );
    let mut libs = std::collections::BTreeSet::new();
    for f in &elf {
        let out = std::process::Command::new("ldd").arg(f).output().unwrap();
        for w in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if w.starts_with('/') {
                libs.insert(w.to_string());
            }
        }
    }
    for l in &libs {
        let dst = root.join(l.trim_start_matches('/'));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(l, &dst).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    write_file(&root.join("data/f"), b"rescue");
    std::fs::create_dir_all(root.join("out")).unwrap();
    let script = "export HOME=/ BORG_PASSPHRASE=p BORG_BASE_DIR=/bb; \
                  /usr/bin/borg init -e repokey /repo && cd / && /usr/bin/borg create /repo::a data \
                  && cd /out && /usr/bin/borg extract /repo::a && /usr/bin/borg --version";
    let out =
        run(std::process::Command::new("chroot")
            .arg(&root)
            .args(["/bin/bash", "-c", script]));
    assert!(out.contains("borg 1."), "{out}");
    assert_eq!(std::fs::read(root.join("out/data/f")).unwrap(), b"rescue");
}

#[test]
fn dry_runs_only_record_the_mutating_commands() {
    have("borg");
    have("restic");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("f"), b"x");
    let runner = SystemRunner::new().dry_run(true);
    let mut b = BorgSettings::new(dir.path().join("borg").display().to_string()).passphrase("p");
    b.env.push((
        "BORG_BASE_DIR".into(),
        dir.path().join("base").display().to_string(),
    ));
    assert!(borg::ensure_repository(&runner, &b).unwrap());
    borg::create(&runner, &b, &Selection::tree(&src)).unwrap();
    assert!(
        !dir.path().join("borg").exists(),
        "dry run created the borg repository"
    );
    let r = restic_settings(dir.path(), "p");
    assert!(restic::ensure_repository(&runner, &r).unwrap());
    assert_eq!(
        restic::backup(&runner, &r, &Selection::tree(&src)).unwrap(),
        "(dry run)"
    );
    assert!(
        !dir.path().join("repo").exists(),
        "dry run created the restic repository"
    );
    let recorded: Vec<String> = runner
        .transcript()
        .into_iter()
        .filter(|r| r.status.is_none())
        .map(|r| r.command)
        .collect();
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    assert!(
        recorded[0].starts_with("borg init --encryption none"),
        "{recorded:?}"
    );
    assert!(recorded[1].contains(" create "), "{recorded:?}");
    assert!(recorded[2].starts_with("restic init"), "{recorded:?}");
    assert!(
        recorded[3].contains(" backup --json --tag rear"),
        "{recorded:?}"
    );
}
