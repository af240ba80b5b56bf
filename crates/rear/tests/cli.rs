//! The `rear` binary as a new user meets it: version, help, dump, simulation of every workflow,
//! and the errors a broken setup gives.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

/// A config dir with a log file and a lock file of its own, so tests run in parallel.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(local_conf: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = format!(
            "LOGFILE={}/rear.log\nTMPDIR={}\n",
            dir.path().display(),
            dir.path().display()
        );
        std::fs::write(dir.path().join("site.conf"), base).unwrap();
        std::fs::write(dir.path().join("local.conf"), local_conf).unwrap();
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn rear(&self) -> Command {
        let mut cmd = Command::cargo_bin("rear").unwrap();
        cmd.env("REAR_LOCK_FILE", self.path().join("rear.lock"))
            .arg("-c")
            .arg(self.path());
        cmd
    }

    fn log(&self, lockless: bool) -> String {
        let name = if lockless {
            "rear.log.lockless"
        } else {
            "rear.log"
        };
        std::fs::read_to_string(self.path().join(name)).unwrap_or_default()
    }
}

const WORKFLOWS: &[&str] = &[
    "dump",
    "mkrescue",
    "mkbackup",
    "mkbackuponly",
    "recover",
    "restoreonly",
    "layoutonly",
    "savelayout",
    "checklayout",
    "mountonly",
    "validate",
    "mkdist",
];

#[test]
fn version() {
    Command::cargo_bin("rear")
        .unwrap()
        .arg("-V")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "Relax-and-Recover (rear-rs) 0.",
        ));
}

#[test]
fn help_lists_workflows_options_and_exit_codes() {
    let out = Command::cargo_bin("rear")
        .unwrap()
        .arg("help")
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for w in WORKFLOWS.iter().chain(&["format"]) {
        assert!(
            text.contains(&format!("  {w}")),
            "help does not list {w}:\n{text}"
        );
    }
    for opt in [
        "-V",
        "-v",
        "-d",
        "-D",
        "-s",
        "-S",
        "-q",
        "-r <KERNEL>",
        "-c <DIR>",
        "-C <CONF>",
        "-n",
        "-e",
    ] {
        assert!(text.contains(opt), "help does not list {opt}");
    }
    assert!(text.contains("checklayout: the disk layout changed"));
}

#[test]
fn no_workflow_is_a_usage_error() {
    Command::cargo_bin("rear")
        .unwrap()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no workflow given"));
    Command::cargo_bin("rear")
        .unwrap()
        .arg("frobnicate")
        .assert()
        .code(2);
}

#[test]
fn dump_shows_system_files_values_and_unused_variables() {
    let s = Setup::new(
        "OUTPUT=ISO\nBACKUP=NETFS\nBACKUP_URL=nfs://nas/export\nBACKUP_PROG_CRYPT_KEY=topsecret\nMODULES_LOAD=( vmxnet )\nBACKUP_ULR=foo\n",
    );
    let out = s.rear().arg("dump").assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let arch = if std::env::consts::ARCH == "x86_64" {
        "Linux-i386"
    } else {
        "Linux-"
    };
    assert!(
        text.contains(&format!("ARCH                 = {arch}")),
        "{text}"
    );
    assert!(text.contains("OS                   = GNU/Linux"));
    assert!(text.contains("OS_VENDOR"));
    // files in order: os.conf, dump.conf, site.conf, local.conf
    let pos = |f: &str| {
        text.find(&s.path().join(f).display().to_string())
            .unwrap_or_else(|| panic!("{f} missing"))
    };
    assert!(
        pos("os.conf") < pos("dump.conf")
            && pos("dump.conf") < pos("site.conf")
            && pos("site.conf") < pos("local.conf")
    );
    assert!(text.contains("BACKUP=NETFS  # ") && text.contains("local.conf"));
    assert!(text.contains("MODULES_LOAD=( vmxnet )"));
    assert!(text.contains("ISO_DIR=/var/lib/rear/output  # default"));
    assert!(!text.contains("topsecret"), "a secret leaked into dump");
    assert!(text.contains("BACKUP_PROG_CRYPT_KEY=******** (secret: use -e to show)"));
    let unused = &text[text
        .find("not used by this rear")
        .expect("no unused section")..];
    assert!(unused.contains("BACKUP_ULR"), "{unused}");
    // -e shows secrets
    s.rear()
        .args(["-e", "dump"])
        .assert()
        .success()
        .stdout(predicate::str::contains("BACKUP_PROG_CRYPT_KEY=topsecret"));
    // dump is lockless and logs to the .lockless log
    assert!(s.log(true).contains("starting workflow dump"));
}

#[test]
fn simulation_lists_steps_for_every_workflow_and_runs_nothing() {
    let s = Setup::new("OUTPUT=ISO\nBACKUP=NETFS\nBACKUP_URL=file:///srv/backup\n");
    for w in WORKFLOWS {
        let out = s.rear().args(["-s", w]).assert().success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        let start = text
            .find(&format!(
                "Simulation mode: these steps of workflow '{w}' would run"
            ))
            .unwrap_or_else(|| panic!("{w}: {text}"));
        let steps: Vec<&str> = text[start..].lines().skip(1).collect();
        assert!(!steps.is_empty(), "{w} lists no steps");
        assert!(steps.iter().all(|l| l.starts_with("Step ")), "{w}: {text}");
    }
    let out = s.rear().args(["-s", "mkbackup"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("Step init/default/100_check_config\n"));
    assert!(text.contains("Step output/ISO/100_make_iso\n"));
    assert!(text.contains("Step backup/NETFS/500_make_backup\n"));
    let prep = text.find("Step prep/").unwrap();
    let output = text.find("Step output/").unwrap();
    let backup = text.find("Step backup/").unwrap();
    assert!(
        prep < output && output < backup,
        "stages out of order:\n{text}"
    );
    // with other OUTPUT/BACKUP the steps change
    let s2 = Setup::new("OUTPUT=PXE\nBACKUP=RSYNC\n");
    let out = s2.rear().args(["-s", "mkbackup"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("Step output/PXE/100_make_pxe_files"));
    assert!(text.contains("Step backup/RSYNC/500_make_rsync_backup"));
    assert!(!text.contains("NETFS"));
    // help in simulation prints one line
    s.rear()
        .args(["-s", "help"])
        .assert()
        .success()
        .stdout("Simulation: 'help' shows the usage and runs no steps\n");
    // simulation created no build directory
    assert!(!std::fs::read_dir(s.path()).unwrap().any(|e| {
        let e = e.unwrap();
        e.file_name().to_string_lossy().starts_with("rear.") && e.path().is_dir()
    }));
}

#[test]
fn unbuilt_workflow_says_so_in_one_line_and_fails() {
    let s = Setup::new("OUTPUT=ISO\n");
    let out = s.rear().arg("mkdist").assert().code(3);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("rear: ERROR: workflow 'mkdist' ("),
        "{err}"
    );
    assert!(lines[0].contains("not implemented yet"), "{err}");
}

#[test]
fn broken_config_names_file_and_line() {
    let s = Setup::new("OUTPUT=ISO\nBACKUP=NETFS\nif [ x ]; then\n");
    let out = s.rear().arg("dump").assert().code(2);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let local = s.path().join("local.conf").display().to_string();
    assert!(err.contains(&format!("rear: ERROR: {local}:")), "{err}");
    assert!(err.contains("syntax error"), "{err}");
}

#[test]
fn invalid_values_are_refused_before_anything_runs() {
    let s = Setup::new("OUTPUT=FLOPPY\n");
    s.rear()
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "OUTPUT: 'FLOPPY' is not supported",
        ));
    let s = Setup::new("BACKUP=NETFS\n");
    s.rear()
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("BACKUP=NETFS needs BACKUP_URL"));
}

#[test]
fn validate_runs_steps_and_logs_them_with_commands() {
    let s = Setup::new("OUTPUT=RAMDISK\nBACKUP=REQUESTRESTORE\n");
    s.rear()
        .args(["-v", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Finished rear validate in"));
    let log = s.log(true);
    assert!(log.contains("step init/default/100_check_config"), "{log}");
    assert!(
        log.contains("step validate/default/100_check_tools"),
        "{log}"
    );
    assert!(log.contains("finished stage prep in"), "{log}");
    assert!(
        log.contains("exec (before the log was opened): bash --noprofile"),
        "{log}"
    );
}

#[test]
fn a_held_lock_stops_a_second_run() {
    let s = Setup::new("OUTPUT=ISO\n");
    let lock = rear_core::workflow::RunLock::acquire(&s.path().join("rear.lock")).unwrap();
    s.rear().arg("mkdist").assert().code(4).stderr(
        predicate::str::contains("another rear is running").and(predicate::str::contains(format!(
            "PID {}",
            std::process::id()
        ))),
    );
    // lockless workflows still run
    s.rear().arg("dump").assert().success();
    drop(lock);
}

#[test]
fn step_by_step_takes_pre_answers() {
    let s = Setup::new("OUTPUT=RAMDISK\nUSER_INPUT_STEP_BY_STEP=abort\n");
    s.rear()
        .args(["-S", "validate"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains(
            "aborted by the user at prompt STEP_BY_STEP",
        ));
    let s = Setup::new("OUTPUT=RAMDISK\nUSER_INPUT_STEP_BY_STEP=skip\n");
    s.rear()
        .args(["-S", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "skipped validate/default/100_check_tools",
        ));
}

#[test]
fn build_dir_is_removed_unless_debug() {
    let s = Setup::new("OUTPUT=RAMDISK\n");
    let build_dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("rear.")
            })
            .filter(|p| p.is_dir())
            .collect()
    };
    s.rear().arg("validate").assert().success();
    assert!(build_dirs(s.path()).is_empty());
    s.rear()
        .args(["-d", "validate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Keeping build directory"));
    assert_eq!(build_dirs(s.path()).len(), 1);
}

#[test]
fn a_failed_run_queues_its_report_when_the_server_is_down_and_keeps_its_exit_code() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::new(&format!(
        "OUTPUT=RAMDISK\nKERNEL_FILE=/nonexistent/vmlinuz\nVAR_DIR={}\nREAR_SERVER=http://127.0.0.1:{port}\nREAR_SERVER_SEND_RESULT=yes\nREAR_SERVER_TAGS=( prod )\n",
        dir.path().display()
    ));
    // the rescue step fails: the kernel file does not exist
    let out = s.rear().arg("mkrescue").assert().code(10);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("Could not send the report"), "{err}");
    let queued: Vec<_> = std::fs::read_dir(dir.path().join("report-queue"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&queued[0]).unwrap()).unwrap();
    assert_eq!(report["workflow"], "mkrescue");
    assert_eq!(report["result"]["status"], "failure");
    assert!(
        report["result"]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/vmlinuz")
    );
    assert_eq!(report["tags"], serde_json::json!(["prod"]));
}

#[test]
fn inventory_writes_json_and_html_of_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::new(&format!("VAR_DIR={}\n", dir.path().display()));
    s.rear()
        .arg("inventory")
        .assert()
        .success()
        .stdout(predicate::str::contains("Wrote the inventory to"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("recovery/inventory.json")).unwrap())
            .unwrap();
    assert_eq!(json["schema_version"], 1);
    // every section says what happened to it
    for section in [
        "hardware",
        "os",
        "packages",
        "services",
        "network",
        "users",
        "scheduled",
        "mounts",
        "sysctl",
        "time_sync",
    ] {
        let status = json[section]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("{section} has no status"));
        assert!(
            ["ok", "unavailable", "failed", "timed-out"].contains(&status),
            "{section}: {status}"
        );
    }
    // on the Debian test machine these are real
    assert_eq!(json["packages"]["status"], "ok");
    assert!(
        json["packages"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "bash")
    );
    assert!(
        json["users"]["data"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == "root")
    );
    assert!(json["hardware"]["data"]["memory_bytes"].as_u64().unwrap() > 0);
    let html = std::fs::read_to_string(dir.path().join("recovery/inventory.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<h2>Packages</h2>"));
}
