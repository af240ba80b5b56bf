//! Round trip of the built-in backup over a tree with every kind of file and attribute: back up,
//! restore into an empty directory with our reader, compare a full metadata walk (modes, owners,
//! nanosecond mtimes, xattrs, ACLs, capabilities, SELinux labels, hard link groups, sparse
//! extents, contents); then extract the same archive with GNU tar and compare again.

#[path = "backup_support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use rear_core::backup::{
    self, BackupOptions, Compression, RestoreOptions, Selection, create_backup, restore_backup,
    verify_backup,
};
use support::*;

fn round_trip(base: &Path, compression: Compression) {
    let src = base.join("src");
    std::fs::create_dir(&src).unwrap();
    let notes = build_tree(&src);
    eprintln!("tree notes: {notes:?}");
    let before = snapshot(&src);
    let target = base.join("target");
    let mut opts = BackupOptions::new(&target, "testhost", Selection::tree(&src));
    opts.compression = compression;
    opts.threads = 2;
    let progress_calls = std::sync::atomic::AtomicU64::new(0);
    let summary = create_backup(&opts, &|_p: &backup::Progress| {
        progress_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert_eq!(summary.entries, before.len() as u64);
    assert!(progress_calls.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    // the tree holds 3 MiB random + 650 KB text + sparse data: the archive must be smaller than
    // the 64 MiB and 16 MiB sparse files would be if stored densely
    assert!(
        summary.archive_size < 8 << 20,
        "archive is {} bytes",
        summary.archive_size
    );
    // the source is not changed by the backup
    assert_same(&before, &snapshot(&src), "source after backup");

    let dest = base.join("restored");
    let ropts = RestoreOptions::new(&target, "testhost", &dest);
    let rs = restore_backup(&ropts, &quiet).unwrap();
    assert_eq!(rs.chain, vec![summary.id.clone()]);
    assert!(rs.warnings.is_empty(), "{:?}", rs.warnings);
    assert_same(&before, &snapshot(&dest), "restored by rear");
    let vs = verify_backup(&ropts, &quiet).unwrap();
    assert_eq!(vs.entries, before.len() as u64);

    // GNU tar reads the same archive
    let dest2 = base.join("restored-by-tar");
    std::fs::create_dir(&dest2).unwrap();
    let mut tar = Command::new("tar");
    tar.args([
        "--xattrs",
        "--acls",
        "--xattrs-include=*",
        "--numeric-owner",
        "-xpf",
    ])
    .arg(&summary.archive)
    .arg("-C")
    .arg(&dest2);
    match compression {
        Compression::Zstd { .. } => tar.arg("--zstd"),
        Compression::Gzip { .. } => tar.arg("--gzip"),
        Compression::None => &mut tar,
    };
    run(&mut tar);
    assert_same(&before, &snapshot(&dest2), "restored by GNU tar");
}

#[test]
fn roundtrip_every_kind_of_file_zstd() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), Compression::Zstd { level: 3 });
}

#[test]
fn roundtrip_every_kind_of_file_gzip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), Compression::Gzip { level: 6 });
}

/// The same on a fresh ext4, where xattrs, ACLs and capabilities are always supported (the test
/// directory of the host may be on tmpfs or overlayfs).
#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_roundtrip_every_kind_of_file_on_ext4() {
    let fs = LoopFs::new(256);
    assert!(supports_xattrs(&fs.mountpoint));
    round_trip(&fs.mountpoint, Compression::Zstd { level: 3 });
}

#[test]
fn gnu_tar_lists_long_names_and_sparse_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build_tree(&src);
    let target = dir.path().join("t");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.compression = Compression::None;
    let s = create_backup(&opts, &quiet).unwrap();
    let list = run(Command::new("tar").arg("-tvf").arg(&s.archive));
    assert!(
        list.contains(&"n".repeat(255)),
        "long name missing:\n{list}"
    );
    assert!(list.contains("sparse/disk.img"), "{list}");
    assert!(list.contains("links/one link to data/three"), "{list}");
    assert!(list.contains("links/two link to data/three"), "{list}");
}
