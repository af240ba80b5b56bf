//! The cpio writer read back by GNU cpio.

use std::process::Command;

use rear_core::rescue::cpio::{CpioWriter, append_tree};

#[test]
fn gnu_cpio_extracts_what_we_wrote() {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("usr/bin")).unwrap();
    std::fs::write(src.path().join("usr/bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        src.path().join("usr/bin/tool"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::fs::write(src.path().join("odd-size"), vec![7u8; 4097]).unwrap();
    std::fs::write(src.path().join("empty"), b"").unwrap();
    std::os::unix::fs::symlink("usr/bin", src.path().join("bin")).unwrap();

    let mut w = CpioWriter::new(Vec::new(), 1_700_000_000);
    w.add_dir("dev", 0o755).unwrap();
    w.add_char_device("dev/console", 0o600, 5, 1).unwrap();
    append_tree(&mut w, src.path()).unwrap();
    let archive = w.finish().unwrap();

    // list with GNU cpio, verbose (shows the device numbers and link targets)
    let out = Command::new("cpio")
        .args(["-itv", "--quiet"])
        .stdin_bytes(&archive)
        .expect("cpio runs");
    assert!(out.contains("dev/console"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("crw-------") && l.contains("5,") && l.contains("dev/console")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("lrwxrwxrwx") && l.contains("bin -> usr/bin")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("-rwxr-x---") && l.contains("usr/bin/tool")),
        "{out}"
    );

    // extract (no device nodes needed) and compare
    let dst = tempfile::tempdir().unwrap();
    let mut child = Command::new("cpio")
        .args([
            "-idm",
            "--quiet",
            "--no-absolute-filenames",
            "--nonmatching",
            "dev/console",
        ])
        .current_dir(dst.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&archive).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(dst.path().join("usr/bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        std::fs::read(dst.path().join("odd-size")).unwrap(),
        vec![7u8; 4097]
    );
    assert_eq!(std::fs::read(dst.path().join("empty")).unwrap(), b"");
    assert_eq!(
        std::fs::read_link(dst.path().join("bin")).unwrap().to_str(),
        Some("usr/bin")
    );
    let meta = std::fs::metadata(dst.path().join("odd-size")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mtime(), 1_700_000_000);
}

trait StdinBytes {
    fn stdin_bytes(&mut self, data: &[u8]) -> std::io::Result<String>;
}

impl StdinBytes for Command {
    fn stdin_bytes(&mut self, data: &[u8]) -> std::io::Result<String> {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let data = data.to_vec();
        let t = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output()?;
        t.join().unwrap()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
