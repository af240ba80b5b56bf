//! Incremental and differential backups: chains, deletions, and restoring any point of a chain.

#[path = "backup_support.rs"]
mod support;

use std::fs;

use rear_core::backup::{
    BackupKind, BackupOptions, BackupType, RestoreOptions, Selection, create_backup,
    restore_backup, verify_backup,
};
use support::*;

#[test]
fn incremental_chain_restores_every_point_with_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let target = dir.path().join("target");
    write_file(&src.join("a"), b"first a");
    write_file(&src.join("b"), b"to be deleted");
    write_file(&src.join("d/c"), b"in a dir that goes away");
    write_file(&src.join("keep/big"), &vec![7u8; 1 << 20]);
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.backup_type = BackupType::Incremental;
    opts.keep_chains = None;

    // no full backup yet: the first incremental run makes one
    let full = create_backup(&opts, &quiet).unwrap();
    assert_eq!(full.kind, BackupKind::Full);
    let snap_full = snapshot(&src);

    write_file(&src.join("a"), b"second a, longer");
    fs::remove_file(src.join("b")).unwrap();
    fs::remove_dir_all(src.join("d")).unwrap();
    write_file(&src.join("new/n"), b"new file");
    fs::hard_link(src.join("new/n"), src.join("new/n2")).unwrap();
    let inc1 = create_backup(&opts, &quiet).unwrap();
    assert_eq!(inc1.kind, BackupKind::Incremental);
    // unchanged 1 MiB file is not stored again
    assert!(inc1.bytes < 1000, "incremental stored {} bytes", inc1.bytes);
    assert!(inc1.archived < inc1.entries);
    let snap_inc1 = snapshot(&src);

    write_file(&src.join("new/n"), b"changed again");
    std::os::unix::fs::symlink("a", src.join("link-to-a")).unwrap();
    let inc2 = create_backup(&opts, &quiet).unwrap();
    assert_eq!(inc2.kind, BackupKind::Incremental);
    let snap_inc2 = snapshot(&src);

    // newest: full + inc1 + inc2
    let dest = dir.path().join("r-latest");
    let rs = restore_backup(&RestoreOptions::new(&target, "h", &dest), &quiet).unwrap();
    assert_eq!(
        rs.chain,
        [full.id.clone(), inc1.id.clone(), inc2.id.clone()]
    );
    assert!(rs.deleted >= 3, "deleted {}", rs.deleted);
    assert_same(&snap_inc2, &snapshot(&dest), "latest");

    // a point in the middle of the chain
    let dest = dir.path().join("r-inc1");
    let mut ro = RestoreOptions::new(&target, "h", &dest);
    ro.backup_id = Some(inc1.id.clone());
    restore_backup(&ro, &quiet).unwrap();
    assert_same(&snap_inc1, &snapshot(&dest), "inc1");

    // the full backup alone
    let dest = dir.path().join("r-full");
    let mut ro = RestoreOptions::new(&target, "h", &dest);
    ro.backup_id = Some(full.id.clone());
    restore_backup(&ro, &quiet).unwrap();
    assert_same(&snap_full, &snapshot(&dest), "full");

    // restoring over an existing tree converges too
    let dest = dir.path().join("r-full");
    restore_backup(&RestoreOptions::new(&target, "h", &dest), &quiet).unwrap();
    assert_same(&snap_inc2, &snapshot(&dest), "latest over full");

    // differential: relative to the full backup, carries all changes since
    opts.backup_type = BackupType::Differential;
    write_file(&src.join("a"), b"third a");
    let diff = create_backup(&opts, &quiet).unwrap();
    assert_eq!(diff.kind, BackupKind::Differential);
    let dest = dir.path().join("r-diff");
    let rs = restore_backup(&RestoreOptions::new(&target, "h", &dest), &quiet).unwrap();
    assert_eq!(rs.chain, [full.id.clone(), diff.id.clone()]);
    assert_same(&snapshot(&src), &snapshot(&dest), "differential");
    verify_backup(&RestoreOptions::new(&target, "h", &dest), &quiet).unwrap();
}

#[test]
fn a_missing_base_breaks_the_chain_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let target = dir.path().join("target");
    write_file(&src.join("a"), b"a");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.backup_type = BackupType::Incremental;
    let full = create_backup(&opts, &quiet).unwrap();
    write_file(&src.join("a"), b"aa");
    create_backup(&opts, &quiet).unwrap();
    fs::remove_file(&full.manifest).unwrap();
    let err = restore_backup(
        &RestoreOptions::new(&target, "h", dir.path().join("r")),
        &quiet,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(&full.id) && err.contains("missing"), "{err}");
}

#[test]
fn full_backups_replace_the_previous_one_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let target = dir.path().join("target");
    write_file(&src.join("a"), b"a");
    let opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    let first = create_backup(&opts, &quiet).unwrap();
    let second = create_backup(&opts, &quiet).unwrap();
    assert!(!first.archive.exists() && !first.manifest.exists());
    assert!(second.archive.exists() && second.manifest.exists());
    assert!(second.id > first.id);
}
