//! BACKUP=RSYNC against a real rsync daemon started for the test on a free local port.

#[path = "backup_support.rs"]
mod support;

use std::process::{Child, Command};

use rear_core::backup::Selection;
use rear_core::backup::methods::{RsyncTarget, rsync_backup, rsync_restore};
use rear_core::cmd::SystemRunner;
use support::*;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn rsync_backup_and_restore_through_a_real_daemon() {
    assert!(
        Command::new("rsync").arg("--version").output().is_ok(),
        "rsync is missing: apt-get install rsync (listed in ci/packages/backup.txt)"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let port = free_port();
    let conf = dir.path().join("rsyncd.conf");
    std::fs::write(
        &conf,
        format!(
            "use chroot = no\nuid = {uid}\ngid = {gid}\n[bk]\npath = {}\nread only = no\n",
            store.display(),
            uid = rustix::process::geteuid().as_raw(),
            gid = rustix::process::getegid().as_raw(),
        ),
    )
    .unwrap();
    let _daemon = Daemon(
        Command::new("rsync")
            .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--config={}", conf.display()))
            .spawn()
            .unwrap(),
    );
    // wait for the daemon to listen
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let src = dir.path().join("src");
    write_file(&src.join("etc/fstab"), b"fstab");
    write_file(&src.join("tmp/junk"), b"junk");
    write_file(&src.join("var/log/big"), &vec![1u8; 200_000]);
    std::os::unix::fs::symlink("fstab", src.join("etc/link")).unwrap();
    std::fs::hard_link(src.join("etc/fstab"), src.join("etc/fstab.hard")).unwrap();
    // rsync skips setting a time that is in the same second as the file's current one, so give
    // the tree whole-second times in the past
    run(Command::new("find").arg(&src).args([
        "-exec",
        "touch",
        "-h",
        "-d",
        "@1000000000",
        "{}",
        "+",
    ]));
    let mut sel = Selection::tree(&src);
    sel.default_excludes = true;
    let target = RsyncTarget::parse(&format!("rsync://127.0.0.1:{port}::/bk/rear"), "h").unwrap();
    let runner = SystemRunner::new();
    rsync_backup(&runner, &target, &sel).unwrap();
    assert!(store.join("rear/h/backup/etc/fstab").exists());
    assert!(
        !store.join("rear/h/backup/tmp/junk").exists(),
        "default exclude /tmp/* ignored"
    );
    let dest = dir.path().join("r");
    rsync_restore(&runner, &target, &dest).unwrap();
    let mut a = snapshot(&src);
    a.remove(b"tmp/junk".as_slice());
    let b = snapshot(&dest);
    // rsync does not keep the times of the top directory when it creates it
    let strip = |m: &std::collections::BTreeMap<Vec<u8>, Facts>| {
        let mut m = m.clone();
        m.remove(&Vec::new());
        m
    };
    assert_same(&strip(&a), &strip(&b), "rsync round trip");
}
