//! `vm_backup_nfs_and_cifs_targets`: BACKUP=NETFS against real servers. The host runs Samba's
//! smbd and NFS-Ganesha (a userspace NFSv4.1 server: this host's kernel has neither nfsd nor an
//! NFS/CIFS client); the lab guest (Debian's kernel, qemu user networking) runs the `rear` binary:
//! `mkbackuponly` then `restoreonly --target` for `nfs://10.0.2.2/backup` and
//! `cifs://10.0.2.2/backup`. See `lab/jobs/backup-netfs-host.sh` and `lab/jobs/backup-netfs.sh`.
//!
//! Checked here: the restored trees equal the source (type, mode, owner, size, link count, mtime,
//! link target, SHA-256 of every path), BACKUP_OPTIONS are in the guest's /proc/mounts while rear
//! has the target mounted, rear unmounts it again, and the archive and manifest are on the
//! servers' own storage.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "rescue_support.rs"]
mod rescue_support;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

/// The mount lines of one kind that rear's mount command left in /proc/mounts.
fn mount_lines<'a>(text: &'a str, fstype: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split_whitespace().nth(2) == Some(fstype))
        .collect()
}

/// The server port the host script chose for `kind` (from the share's `netfs/env`).
fn env_port(out_dir: &Path, kind: &str) -> String {
    let env = read(&out_dir.join("../netfs"), "env");
    let key = if kind == "nfs" {
        "NFS_PORT="
    } else {
        "SMB_PORT="
    };
    env.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {env}"))
        .to_string()
}

#[test]
#[ignore = "needs qemu (scripts/test-all.sh runs it)"]
fn vm_backup_nfs_and_cifs_targets() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rear = rescue_support::rear_binary();
    let started = Instant::now();
    let out = Command::new(repo.join("lab/jobs/backup-netfs-host.sh"))
        .arg(&rear)
        .output()
        .unwrap();
    let lab_out = std::env::var_os("REAR_LAB_OUT")
        .map_or_else(|| PathBuf::from("/var/tmp/rear-lab"), PathBuf::from);
    let dir = lab_out.join("share/backup-netfs/out");
    assert!(
        out.status.success(),
        "the lab job failed:\n{}\n{}\njob log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(lab_out.join("share/backup-netfs/job.log")).unwrap_or_default()
    );
    eprintln!(
        "guest run {:.0} s; {}",
        started.elapsed().as_secs_f64(),
        read(&dir, "times.txt").trim()
    );

    let src = read(&dir, "src.list");
    // the tree the job built is all there, with what makes a restore hard
    for want in [
        "./setuid-tool|regular file|4755|0|0|",
        "./empty-dir|directory|1777|0|0|",
        "./var/lib/db|directory|2775|0|0|",
        "./var/lib/db/data.bin|regular file|640|1234|5678|3000000|1|",
        "./home/alice/photo.jpg|regular file|644|1000|1000|100000|2|",
        "./home/alice/.ssh/authorized_keys|regular file|600|1000|1000|",
        "./var/app.conf-link|symbolic link|777|42|43|",
        "./var/lib/db/fifo|fifo|",
        "./name with spaces.txt|regular file|",
        "./etc/app/app.conf|regular file|644|0|0|11|1|981173106|",
    ] {
        assert!(
            src.lines().any(|l| l.starts_with(want)),
            "{want} not in the source listing:\n{src}"
        );
    }
    assert!(src.lines().count() >= 20, "{src}");

    for (kind, fstype, options) in [
        ("nfs", "nfs4", &["vers=4.1", "timeo=321", "retrans=4"][..]),
        (
            "cifs",
            "cifs",
            &["vers=3.0", "actimeo=7", "username=root"][..],
        ),
    ] {
        let restored = read(&dir, &format!("restored-{kind}.list"));
        assert_eq!(
            src, restored,
            "{kind}: the restored tree differs from the source"
        );
        for phase in ["backup", "restore"] {
            let mounts = read(&dir, &format!("mounts-{kind}-{phase}.txt"));
            let lines = mount_lines(&mounts, fstype);
            // restoreonly mounts twice (checking the backup, then restoring it)
            assert!(
                !lines.is_empty(),
                "{kind} {phase}: no {fstype} mount:\n{mounts}"
            );
            for line in lines {
                assert!(
                    line.contains("10.0.2.2") && line.contains("/outputfs "),
                    "{kind} {phase}: {line}"
                );
                let opts: Vec<&str> = line
                    .split_whitespace()
                    .nth(3)
                    .unwrap_or_default()
                    .split(',')
                    .collect();
                for o in options {
                    assert!(
                        opts.contains(o),
                        "{kind} {phase}: BACKUP_OPTIONS {o} not in the mount options: {line}"
                    );
                }
            }
            // the port= of BACKUP_OPTIONS: the servers listen on non-standard ports only (the
            // kernel shows port= for NFS; for CIFS the successful mount is the proof)
            assert!(
                mounts.contains(&format!(",port={}", env_port(&dir, kind))),
                "{kind} {phase}: the mount command lacks the port of BACKUP_OPTIONS:\n{mounts}"
            );
        }
        assert_eq!(
            read(&dir, &format!("after-{kind}.txt")).trim(),
            "",
            "{kind}: rear left the target mounted"
        );
        // the server's own storage holds the committed backup
        let server = read(&dir, &format!("server-{kind}.txt"));
        for suffix in [".tar.zst ", ".manifest "] {
            assert!(
                server
                    .lines()
                    .any(|l| l.starts_with("./labguest/") && l.contains(suffix)),
                "{kind}: no {suffix} on the server:\n{server}"
            );
        }
        assert!(
            !server.contains(".partial"),
            "{kind}: partial file left:\n{server}"
        );
    }
}
