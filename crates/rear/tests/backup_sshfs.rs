//! `BACKUP_URL=sshfs://` against a real OpenSSH server: a private `sshd` on a free port of
//! 127.0.0.1 (key authentication, its own host key), the real `sshfs` (FUSE) mounting it with the
//! options of `BACKUP_OPTIONS`, `rear mkbackuponly` writing through it and `rear restoreonly`
//! reading back.

use std::path::Path;
use std::process::{Child, Command as Std};
use std::time::{Duration, Instant};

mod common;

use common::rear;
use predicates::prelude::*;

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn keygen(path: &Path) {
    let st = Std::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (package openssh-client)");
    assert!(st.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_sshd(dir: &Path) -> (Sshd, u16) {
    keygen(&dir.join("hostkey"));
    keygen(&dir.join("clientkey"));
    std::fs::copy(dir.join("clientkey.pub"), dir.join("authorized_keys")).unwrap();
    // sshd's privilege separation directory
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    let d = dir.display();
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             Subsystem sftp internal-sftp\n"
        ),
    )
    .unwrap();
    let child = Std::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .expect("sshd starts (package openssh-server)");
    let sshd = Sshd(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "sshd did not listen on port {port}: {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (sshd, port)
}

fn sshfs_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .filter(|l| l.contains("fuse.sshfs"))
        .count()
}

#[test]
#[ignore = "starts a private sshd and needs root for FUSE (scripts/test-all.sh runs it)"]
fn svc_backup_to_an_sshfs_target_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_sshd, port) = start_sshd(d);
    let src = d.join("data");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "over sshfs\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![42u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    std::fs::create_dir_all(d.join("server")).unwrap();
    std::fs::write(
        d.join("local.conf"),
        format!(
            "BACKUP=NETFS\nOUTPUT=RAMDISK\nBACKUP_URL=sshfs://root@127.0.0.1{0}/server\n\
             BACKUP_OPTIONS=\"port={port},IdentityFile={0}/clientkey,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null\"\n\
             BACKUP_ONLY_INCLUDE=yes\nBACKUP_PROG_INCLUDE=( {0}/data )\nVAR_DIR={0}/var\nLOGFILE={0}/rear.log\n",
            d.display()
        ),
    )
    .unwrap();
    let mounted_before = sshfs_mounts();
    rear(d)
        .args(["-v", "mkbackuponly"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Wrote the full backup"));
    assert_eq!(
        sshfs_mounts(),
        mounted_before,
        "the sshfs target was left mounted"
    );
    // The archive reached the server's directory through sftp.
    let host_dir = std::fs::read_dir(d.join("server"))
        .unwrap()
        .next()
        .expect("a host directory on the server")
        .unwrap()
        .path();
    let archives: Vec<_> = std::fs::read_dir(&host_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        archives.iter().any(|a| a.ends_with(".tar.zst"))
            && archives.iter().any(|a| a.ends_with(".manifest")),
        "{archives:?}"
    );
    assert!(
        !archives
            .iter()
            .any(|a| a.contains(".tmp") || a.contains(".partial")),
        "a temporary file was left: {archives:?}"
    );
    // The log shows the sshfs mount with the options of BACKUP_OPTIONS.
    let log = std::fs::read_to_string(d.join("rear.log")).unwrap();
    assert!(
        log.contains("sshfs") && log.contains(&format!("port={port}")),
        "no sshfs mount with BACKUP_OPTIONS in the log"
    );

    let restored = d.join("restored");
    rear(d)
        .args(["-v", "restoreonly", "--target"])
        .arg(&restored)
        .assert()
        .success()
        .stdout(predicate::str::contains("Restored"));
    assert_eq!(
        sshfs_mounts(),
        mounted_before,
        "the sshfs target was left mounted"
    );
    let r = restored.join(src.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(r.join("a.txt")).unwrap(),
        "over sshfs\n"
    );
    assert_eq!(
        std::fs::read(r.join("sub/b.bin")).unwrap(),
        vec![42u8; 300_000]
    );
    assert_eq!(
        std::fs::read_link(r.join("link")).unwrap(),
        Path::new("a.txt")
    );
}
