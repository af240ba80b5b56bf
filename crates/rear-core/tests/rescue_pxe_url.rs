//! `OUTPUT=PXE` with a network `PXE_TFTP_URL`/`PXE_CONFIG_URL`, and copying to a network
//! `OUTPUT_URL`: the targets are mounted with the backup target code, written, and unmounted.
//!
//! The development host's kernel has no NFS client, so the runner here turns exactly one kind of
//! command, `mount -t nfs SERVER:/EXPORT DIR`, into `mount --bind EXPORTS/EXPORT DIR` (a local
//! directory standing in for the server's export). Everything else runs for real: the mount
//! points, GRUB's `grub-mknetdir`, the files landing on the "server", the `umount`.

use std::path::{Path, PathBuf};

use rear_core::backup::target::Target;
use rear_core::cmd::{Cmd, CommandError, Output, Runner, SystemRunner, tools};
use rear_core::config::{Config, Value};
use rear_core::rescue::output::{self, OutputKind, OutputOptions};
use rear_core::ui::RecordingUi;

/// Runs commands for real, except NFS mounts, which become bind mounts of `exports/EXPORT`.
struct NfsAsBindMount {
    exports: PathBuf,
    calls: std::sync::Mutex<Vec<String>>,
}

impl Runner for NfsAsBindMount {
    fn run(&self, cmd: &Cmd) -> Result<Output, CommandError> {
        let line = cmd.command_line();
        self.calls.lock().unwrap().push(line.clone());
        let words = shell_words::split(&line).unwrap();
        if words.len() >= 5 && words[..3] == ["mount", "-t", "nfs"] {
            let (src, dir) = (&words[words.len() - 2], &words[words.len() - 1]);
            let (_server, export) = src.split_once(':').unwrap();
            let local = self.exports.join(export.trim_start_matches('/'));
            let bind = Cmd::mutate(tools::MOUNT)
                .arg("--bind")
                .arg(&local)
                .arg(dir)
                .describe("bind-mounting the stand-in NFS export");
            return SystemRunner::new().run(&bind);
        }
        SystemRunner::new().run(cmd)
    }
}

fn mounted(dir: &Path) -> bool {
    let d = dir.canonicalize().unwrap();
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(d.to_str().unwrap()))
}

#[test]
#[ignore = "needs root and loop devices (scripts/test-all.sh runs it)"]
fn loop_rescue_pxe_and_output_url_on_nfs_are_mounted_written_and_unmounted() {
    let t = tempfile::tempdir().unwrap();
    let exports = t.path().join("exports");
    for d in ["srv/tftp", "srv/tftp-cfg", "srv/rear"] {
        std::fs::create_dir_all(exports.join(d)).unwrap();
    }
    let runner = NfsAsBindMount {
        exports: exports.clone(),
        calls: Default::default(),
    };
    let kernel = t.path().join("vmlinuz");
    let initrd = t.path().join("initrd.zst");
    std::fs::write(&kernel, b"kernel").unwrap();
    std::fs::write(&initrd, b"initrd").unwrap();

    let mut c = Config::new();
    c.set("OUTPUT", Value::Scalar("PXE".into()));
    c.set(
        "PXE_TFTP_URL",
        Value::Scalar("nfs://pxe.example/srv/tftp".into()),
    );
    c.set(
        "PXE_CONFIG_URL",
        Value::Scalar("nfs://pxe.example/srv/tftp-cfg".into()),
    );
    c.set("BACKUP_OPTIONS", Value::Scalar("nolock".into()));
    let work = t.path().join("work");
    let mut o = OutputOptions::new(&work, "host1");
    o.output_dir = t.path().join("out");
    o.apply_config(&c).unwrap();
    assert_eq!(o.kind, OutputKind::Pxe);
    o.pxe.macs = vec!["52:54:00:AA:BB:CC".into()];
    let report = output::write_output(&o, &kernel, &initrd, &runner, &RecordingUi::new()).unwrap();

    // the files are on the "server", nothing is left mounted
    let tftp = exports.join("srv/tftp");
    let cfg = exports.join("srv/tftp-cfg");
    assert_eq!(
        std::fs::read(tftp.join("rear-host1.kernel")).unwrap(),
        b"kernel"
    );
    assert_eq!(
        std::fs::read(tftp.join("rear-host1.initrd.zst")).unwrap(),
        b"initrd"
    );
    assert!(tftp.join("boot/grub/x86_64-efi/core.efi").is_file());
    assert!(tftp.join("pxelinux.0").is_file());
    assert!(cfg.join("rear-rear-host1").is_file());
    assert_eq!(
        std::fs::read_link(cfg.join("01-52-54-00-aa-bb-cc")).unwrap(),
        PathBuf::from("rear-rear-host1")
    );
    assert!(!mounted(&work.join("pxe-tftp")) && !mounted(&work.join("pxe-config")));
    assert!(report.files.is_empty(), "{:?}", report.files);
    assert!(
        report
            .remote
            .contains(&"nfs://pxe.example/srv/tftp/rear-host1.kernel".to_string()),
        "{:?}",
        report.remote
    );
    assert!(
        report
            .remote
            .contains(&"nfs://pxe.example/srv/tftp-cfg/01-52-54-00-aa-bb-cc".to_string()),
        "{:?}",
        report.remote
    );
    let calls = runner.calls.lock().unwrap().clone();
    let mount_tftp = format!(
        "mount -t nfs -o nolock pxe.example:/srv/tftp {}",
        work.join("pxe-tftp").display()
    );
    assert_eq!(calls.first(), Some(&mount_tftp), "{calls:#?}");
    assert_eq!(
        calls.last(),
        Some(&format!("umount {}", work.join("pxe-tftp").display())),
        "{calls:#?}"
    );

    // OUTPUT_URL=nfs://...: copied below the prefix directory, unmounted afterwards
    let target = Target::parse("nfs://nas.example/srv/rear").unwrap();
    let mp = work.join("output-url");
    let copied = output::copy_to_url(
        &target,
        "host1",
        &[kernel.clone(), initrd.clone()],
        "",
        &mp,
        &runner,
    )
    .unwrap();
    assert_eq!(
        copied,
        vec![
            "nfs://nas.example/srv/rear/host1/vmlinuz".to_string(),
            "nfs://nas.example/srv/rear/host1/initrd.zst".to_string()
        ]
    );
    assert_eq!(
        std::fs::read(exports.join("srv/rear/host1/initrd.zst")).unwrap(),
        b"initrd"
    );
    assert!(!mounted(&mp));

    // a failure while writing still unmounts: the TFTP share is unmounted although the config
    // share cannot be mounted (its export does not exist)
    let mut bad = o.clone();
    bad.pxe.config_target = Some(Target::parse("nfs://pxe.example/srv/missing").unwrap());
    let err = output::write_output(&bad, &kernel, &initrd, &runner, &RecordingUi::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("mount"), "{err}");
    assert!(!mounted(&work.join("pxe-tftp")));
}
