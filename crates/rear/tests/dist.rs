//! The systemd units shipped in dist/systemd pass `systemd-analyze verify`.

use std::path::Path;
use std::process::Command;

fn verify(dir: &Path) -> std::process::Output {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(&files)
        .output()
        .expect("systemd-analyze (package systemd)")
}

#[test]
fn systemd_timer_units_verify() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/systemd");
    let dir = tempfile::tempdir().unwrap();
    let rear = env!("CARGO_BIN_EXE_rear");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        // The units call /usr/sbin/rear, which verify requires to exist: point them at this build.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/sbin/rear", rear);
        std::fs::write(dir.path().join(&name), text).unwrap();
        names.push(name.to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "rear-checklayout.service",
            "rear-checklayout.timer",
            "rear-mkbackup.service",
            "rear-mkbackup.timer"
        ]
    );
    let out = verify(dir.path());
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The check would catch a broken unit: the same timer with a calendar spec systemd rejects.
    let timer = dir.path().join("rear-mkbackup.timer");
    let broken = std::fs::read_to_string(&timer)
        .unwrap()
        .replace("OnCalendar=weekly", "OnCalendar=every-blue-moon");
    std::fs::write(&timer, broken).unwrap();
    assert!(
        !verify(dir.path()).status.success(),
        "a broken timer passed verification"
    );
}
