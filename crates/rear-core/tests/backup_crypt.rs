//! Encrypted backups: round trip with a passphrase and with an age identity, wrong keys fail, and
//! the standard `age` tool decrypts the archive (so GNU tar can read it without rear).

#[path = "backup_support.rs"]
mod support;

use std::process::Command;

use rear_core::backup::{
    BackupOptions, Encryption, RestoreOptions, Selection, create_backup, restore_backup,
    verify_backup,
};
use support::*;

#[test]
fn passphrase_encrypted_round_trip_and_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_file(
        &src.join("secret.txt"),
        b"the secret plans ".repeat(1000).as_slice(),
    );
    write_file(&src.join("sub/file"), b"more");
    let target = dir.path().join("target");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.encryption = Some(Encryption::Key("correct horse battery staple".into()));
    let s = create_backup(&opts, &quiet).unwrap();
    assert!(s.archive.to_string_lossy().ends_with(".tar.zst.age"));
    assert!(s.manifest.to_string_lossy().ends_with(".manifest.age"));
    let raw = std::fs::read(&s.archive).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1"));
    let manifest = std::fs::read(&s.manifest).unwrap();
    assert!(
        !String::from_utf8_lossy(&manifest).contains("secret.txt"),
        "manifest leaks names"
    );

    let dest = dir.path().join("r");
    let mut ro = RestoreOptions::new(&target, "h", &dest);
    let err = restore_backup(&ro, &quiet).unwrap_err().to_string();
    assert!(err.contains("encrypted"), "{err}");
    ro.encryption = Some(Encryption::Key("wrong".into()));
    let err = verify_backup(&ro, &quiet).unwrap_err().to_string();
    assert!(err.contains("cannot decrypt"), "{err}");
    ro.encryption = opts.encryption.clone();
    restore_backup(&ro, &quiet).unwrap();
    assert_same(&snapshot(&src), &snapshot(&dest), "decrypted restore");
}

#[test]
fn age_identity_key_file_and_the_age_cli_decrypts() {
    if Command::new("age-keygen")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("age-keygen is missing: apt-get install age (listed in ci/packages/backup.txt)");
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    run(Command::new("age-keygen").arg("-o").arg(&key));
    let src = dir.path().join("src");
    write_file(&src.join("etc/fstab"), b"/dev/sda1 / ext4 defaults 0 1\n");
    let target = dir.path().join("target");
    let mut opts = BackupOptions::new(&target, "h", Selection::tree(&src));
    opts.encryption = Some(Encryption::KeyFile(key.clone()));
    let s = create_backup(&opts, &quiet).unwrap();
    // the documented way back without rear: age, then GNU tar
    let plain = dir.path().join("backup.tar.zst");
    run(Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg("-o")
        .arg(&plain)
        .arg(&s.archive));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    run(Command::new("tar")
        .arg("--zstd")
        .arg("-xpf")
        .arg(&plain)
        .arg("-C")
        .arg(&out));
    assert_eq!(
        std::fs::read(out.join("etc/fstab")).unwrap(),
        b"/dev/sda1 / ext4 defaults 0 1\n"
    );
    let mut ro = RestoreOptions::new(&target, "h", dir.path().join("r"));
    ro.encryption = Some(Encryption::KeyFile(key));
    restore_backup(&ro, &quiet).unwrap();
}
