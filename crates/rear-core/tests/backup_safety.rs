//! A failed, interrupted or corrupted backup never costs the last good one, and a full target
//! gives a clear error and leaves no partial file.

#[path = "backup_support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rear_core::backup::{
    BackupOptions, RestoreOptions, Selection, create_backup, restore_backup, store, verify_backup,
};
use support::*;

fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[test]
fn interrupted_backup_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("small"), b"small");
    let target = dir.path().join("target");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    let good = create_backup(&opts, &quiet).unwrap();

    for i in 0..300 {
        write_file(&src.join(format!("bulk/{i:03}")), &random(64 * 1024, i));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    opts.cancel = Some(cancel.clone());
    let host = target.join("h");
    let watcher = {
        let cancel = cancel.clone();
        let host = host.clone();
        std::thread::spawn(move || {
            // interrupt as soon as the new archive is being written
            for _ in 0..20_000 {
                if !leftovers(&host).is_empty() {
                    cancel.store(true, Ordering::Relaxed);
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            false
        })
    };
    let err = create_backup(&opts, &quiet).unwrap_err().to_string();
    assert!(watcher.join().unwrap(), "the backup never started writing");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        leftovers(&host).is_empty(),
        "partial files left: {:?}",
        leftovers(&host)
    );
    let list = store::list(&host).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, good.id);
    let dest = dir.path().join("r");
    restore_backup(&RestoreOptions::new(&target, "h", &dest), &quiet).unwrap();
    assert_eq!(std::fs::read(dest.join("small")).unwrap(), b"small");
    assert!(!dest.join("bulk").exists());
}

#[test]
fn leftovers_of_a_crash_are_ignored_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("f"), b"f");
    let target = dir.path().join("target");
    let opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    let good = create_backup(&opts, &quiet).unwrap();
    let host = target.join("h");
    // what a power cut leaves: a partial archive, and an archive renamed before its manifest
    std::fs::write(host.join(".29991231-235959-F.tar.zst.partial"), b"junk").unwrap();
    std::fs::write(host.join("29991231-235959-F.tar.zst"), b"junk").unwrap();
    let list = store::list(&host).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].id, good.id);
    restore_backup(
        &RestoreOptions::new(&target, "h", dir.path().join("r")),
        &quiet,
    )
    .unwrap();
    let removed = store::clean_leftovers(&host).unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
}

#[test]
fn corruption_is_detected_by_verify_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("data"), &random(1 << 20, 5));
    let target = dir.path().join("target");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.compression = rear_core::backup::Compression::None;
    let s = create_backup(&opts, &quiet).unwrap();
    let ro = RestoreOptions::new(&target, "h", dir.path().join("r"));
    verify_backup(&ro, &quiet).unwrap();
    // flip one byte of file data inside the (uncompressed) archive
    let mut raw = std::fs::read(&s.archive).unwrap();
    let i = raw.len() / 2;
    raw[i] ^= 0xff;
    std::fs::write(&s.archive, raw).unwrap();
    let err = verify_backup(&ro, &quiet).unwrap_err().to_string();
    assert!(err.contains("data: contents differ"), "{err}");
    assert!(err.contains("sha256"), "{err}");
    let err = restore_backup(&ro, &quiet).unwrap_err().to_string();
    assert!(err.contains("all else was restored"), "{err}");
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_full_target_fails_clearly_and_keeps_the_last_good_backup() {
    let fs = LoopFs::new(16);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(&src.join("small"), &random(100_000, 1));
    let mut opts = BackupOptions::new(&fs.mountpoint, "h", Selection::tree(&src));
    let good = create_backup(&opts, &quiet).unwrap();
    // 47 MiB that does not compress cannot fit on a 16 MiB filesystem; many files, so the
    // reader queues are full when the writer fails and must be shut down cleanly
    for i in 0..1000 {
        write_file(&src.join(format!("big/{i:04}")), &random(48 * 1024, i + 7));
    }
    opts.keep_chains = Some(1);
    let err = create_backup(&opts, &quiet).unwrap_err().to_string();
    eprintln!("full target error: {err}");
    assert!(err.contains("target is full"), "{err}");
    let host = fs.mountpoint.join("h");
    assert!(
        leftovers(&host).is_empty(),
        "partial files left: {:?}",
        leftovers(&host)
    );
    let list = store::list(&host).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, good.id);
    let dest = dir.path().join("r");
    restore_backup(&RestoreOptions::new(&fs.mountpoint, "h", &dest), &quiet).unwrap();
    assert_eq!(
        std::fs::read(dest.join("small")).unwrap(),
        random(100_000, 1)
    );
}
