//! Apply engine tests with a scripted runner: failure handling (unattended error, rerun, shell,
//! abort), LUKS passphrases (asked once, fed on stdin, never in the plan), the guard refusing a
//! plan before anything runs, and the state file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rear_core::cmd::{Cmd, CommandError, Effect, Output, Runner};
use rear_core::config::{Config, Value};
use rear_core::layout::file;
use rear_core::recreate::apply::{ApplyOptions, Stop, apply};
use rear_core::recreate::safety::{Guard, SafetyOptions, SystemDevice, parse_system_devices};
use rear_core::recreate::{PlanOptions, plan};
use rear_core::ui::RecordingUi;

const LAYOUT: &str = "\
layout version=1
disk dev=/dev/sda size=2147483648 table=gpt ptuuid=11111111-2222-3333-4444-555555555555 log_sec=512 first_lba=2048
part dev=/dev/sda1 disk=/dev/sda number=1 start=1048576 size=536870912 type=0FC63DAF-8483-4772-8E79-3D69E4773D00 partuuid=aaaaaaaa-0000-0000-0000-000000000001
part dev=/dev/sda2 disk=/dev/sda number=2 start=537919488 size=1073741824 type=0FC63DAF-8483-4772-8E79-3D69E4773D00 partuuid=aaaaaaaa-0000-0000-0000-000000000002
crypt name=cr_data dev=/dev/sda2 type=luks2 cipher=aes-xts-plain64 key_size=512 uuid=c0ffee00-1111-2222-3333-444444444444
fs dev=/dev/sda1 type=ext4 mountpoint=/ uuid=eeeeeeee-0000-0000-0000-000000000001
fs dev=/dev/mapper/cr_data type=xfs mountpoint=/data uuid=eeeeeeee-0000-0000-0000-000000000002
";

/// Mutating commands succeed unless listed in `fail` (with how many times they fail); every
/// read-only command (done checks) fails, so nothing looks done.
#[derive(Default)]
struct Scripted {
    fail: Mutex<BTreeMap<String, usize>>,
    calls: Mutex<Vec<(String, Option<Vec<u8>>)>>,
}

impl Scripted {
    fn failing(line: &str, times: usize) -> Self {
        let s = Scripted::default();
        s.fail.lock().unwrap().insert(line.to_string(), times);
        s
    }
    fn mutating(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| !l.starts_with("probe:"))
            .map(|(l, _)| l.clone())
            .collect()
    }
    fn stdin_of(&self, prefix: &str) -> Vec<Option<Vec<u8>>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| l.starts_with(prefix))
            .map(|(_, i)| i.clone())
            .collect()
    }
}

impl Runner for Scripted {
    fn run(&self, cmd: &Cmd) -> Result<Output, CommandError> {
        let line = cmd.command_line();
        if cmd.effect() == Effect::ReadOnly {
            self.calls
                .lock()
                .unwrap()
                .push((format!("probe:{line}"), None));
            return Err(CommandError::Failed {
                cmd: line,
                status: 1,
                description: None,
                stderr_tail: String::new(),
            });
        }
        self.calls
            .lock()
            .unwrap()
            .push((line.clone(), cmd.input().map(<[u8]>::to_vec)));
        let mut fail = self.fail.lock().unwrap();
        if let Some(n) = fail.get_mut(&line).filter(|n| **n > 0) {
            *n -= 1;
            return Err(CommandError::Failed {
                cmd: line,
                status: 1,
                description: None,
                stderr_tail: "boom".into(),
            });
        }
        // as in a dry run: nothing real happened, so nobody waits for device nodes
        Ok(Output {
            simulated: true,
            ..Output::default()
        })
    }
}

fn devices() -> Vec<SystemDevice> {
    parse_system_devices(
        r#"{"blockdevices":[
          {"name":"sda","path":"/dev/sda","type":"disk","size":2147483648,"model":"QEMU","serial":"S1"},
          {"name":"sdb","path":"/dev/sdb","type":"disk","size":2147483648,"ptuuid":"0d15ea5e-0000-4000-8000-00000000cafe",
           "children":[{"name":"sdb1","path":"/dev/sdb1","type":"part","size":1000}]}
        ]}"#,
    )
    .unwrap()
}

fn setup() -> (rear_core::recreate::Plan, Guard) {
    let layout = file::read(LAYOUT, Path::new("t")).unwrap();
    let opts = PlanOptions {
        target_root: "/mnt/t".into(),
        ..PlanOptions::default()
    };
    let p = plan(&layout, &opts).unwrap();
    let safety = SafetyOptions {
        write_protected_ids: vec!["0D15EA5E-0000-4000-8000-00000000CAFE".into()],
        ..SafetyOptions::default()
    };
    let guard = Guard::new(&p, &devices(), &safety).unwrap();
    (p, guard)
}

fn answered(pass: &str) -> Config {
    let mut c = Config::new();
    c.set(
        "USER_INPUT_LUKS_PASSPHRASE_cr_data",
        Value::Scalar(pass.into()),
    );
    c
}

const MKFS_ROOT: &str = "mke2fs -F -t ext4 -U eeeeeeee-0000-0000-0000-000000000001 /dev/sda1";

#[test]
fn unattended_failure_is_an_error_naming_the_step() {
    let (p, guard) = setup();
    let runner = Scripted::failing(MKFS_ROOT, 1);
    let opts = ApplyOptions {
        unattended: true,
        ..ApplyOptions::default()
    };
    let err = apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("pw"),
        &guard,
        &opts,
    )
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("fs:/") && text.contains("boom"), "{text}");
    // nothing after the failed step ran
    assert!(
        !runner.mutating().iter().any(|l| l.starts_with("mount")),
        "{:?}",
        runner.mutating()
    );
}

#[test]
fn rerun_after_a_failure_then_shell_and_abort() {
    let (p, guard) = setup();
    let opts = ApplyOptions {
        device_wait: std::time::Duration::ZERO,
        ..ApplyOptions::default()
    };
    // rerun: the step runs again and the plan completes
    let runner = Scripted::failing(MKFS_ROOT, 1);
    let ui = RecordingUi::answering(["rerun"]);
    let report = apply(&p, &runner, &ui, &answered("pw"), &guard, &opts).unwrap();
    assert_eq!(
        runner.mutating().iter().filter(|l| *l == MKFS_ROOT).count(),
        2
    );
    assert!(report.ran.contains(&"mount:/data".to_string()));
    // shell: the run stops for the caller to open one
    let runner = Scripted::failing(MKFS_ROOT, 1);
    let ui = RecordingUi::answering(["shell"]);
    let report = apply(&p, &runner, &ui, &answered("pw"), &guard, &opts).unwrap();
    let (step, _, stop) = report.stopped.unwrap();
    assert_eq!((step.as_str(), stop), ("fs:/", Stop::Shell));
    // abort
    let runner = Scripted::failing(MKFS_ROOT, 1);
    let ui = RecordingUi::answering(["abort"]);
    let err = apply(&p, &runner, &ui, &answered("pw"), &guard, &opts).unwrap_err();
    assert!(err.to_string().contains("LAYOUT_APPLY_FAILED"), "{err}");
}

#[test]
fn luks_passphrase_is_fed_on_stdin_and_never_in_the_plan() {
    let (p, guard) = setup();
    assert!(!p.summary().contains("s3cret") && !p.to_shell_script().contains("s3cret"));
    let runner = Scripted::default();
    let opts = ApplyOptions {
        device_wait: std::time::Duration::ZERO,
        ..ApplyOptions::default()
    };
    apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("s3cret"),
        &guard,
        &opts,
    )
    .unwrap();
    let inputs = runner.stdin_of("cryptsetup");
    assert_eq!(inputs.len(), 2, "luksFormat and open");
    for i in inputs {
        assert_eq!(i.as_deref(), Some(&b"s3cret\n"[..]));
    }
    // without an answer and without a terminal, it cannot go on
    let runner = Scripted::default();
    let opts = ApplyOptions {
        unattended: true,
        ..opts
    };
    let err = apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &Config::new(),
        &guard,
        &opts,
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("USER_INPUT_LUKS_PASSPHRASE_cr_data"),
        "{err:#}"
    );
}

#[test]
fn guard_refuses_before_anything_runs() {
    let (mut p, guard) = setup();
    p.steps[2]
        .commands
        .push(rear_core::recreate::PlannedCommand {
            cmd: Cmd::mutate(rear_core::cmd::tools::WIPEFS).args(["--all", "/dev/sdb1"]),
            secret: None,
        });
    let runner = Scripted::default();
    let err = apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("pw"),
        &guard,
        &ApplyOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/dev/sdb1") && err.to_string().contains("write-protected"),
        "{err}"
    );
    assert!(runner.mutating().is_empty(), "{:?}", runner.mutating());
    // also a plain device outside the plan, in key=value form
    let (mut p, guard) = setup();
    p.steps[0]
        .commands
        .push(rear_core::recreate::PlannedCommand {
            cmd: Cmd::mutate(rear_core::cmd::tools::DD).args(["if=/dev/zero", "of=/dev/sdc"]),
            secret: None,
        });
    let err = apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("pw"),
        &guard,
        &ApplyOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("/dev/sdc")
            && err
                .to_string()
                .contains("not a device of the recovery plan"),
        "{err}"
    );
    // and a plan onto a protected disk does not get a guard at all
    let layout = file::read(&LAYOUT.replace("/dev/sda", "/dev/sdb"), Path::new("t")).unwrap();
    let p = plan(&layout, &PlanOptions::default()).unwrap();
    let safety = SafetyOptions {
        write_protected_ids: vec!["0d15ea5e-0000-4000-8000-00000000cafe".into()],
        ..SafetyOptions::default()
    };
    assert!(
        Guard::new(&p, &devices(), &safety)
            .unwrap_err()
            .to_string()
            .contains("write-protected")
    );
    // a disk that is not there
    let layout = file::read(&LAYOUT.replace("/dev/sda", "/dev/sdz"), Path::new("t")).unwrap();
    let p = plan(&layout, &PlanOptions::default()).unwrap();
    assert!(
        Guard::new(&p, &devices(), &SafetyOptions::default())
            .unwrap_err()
            .to_string()
            .contains("not present")
    );
}

#[test]
fn state_file_resumes_and_ignores_another_plan() {
    let (p, guard) = setup();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("build/recreate.state");
    let opts = ApplyOptions {
        state_file: Some(state.clone()),
        unattended: true,
        device_wait: std::time::Duration::ZERO,
        ..ApplyOptions::default()
    };
    // first run fails at the root filesystem
    let runner = Scripted::failing(MKFS_ROOT, 1);
    assert!(
        apply(
            &p,
            &runner,
            &RecordingUi::new(),
            &answered("pw"),
            &guard,
            &opts
        )
        .is_err()
    );
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        text.contains("done disk:/dev/sda")
            && text.contains("started fs:/")
            && !text.contains("done fs:/"),
        "{text}"
    );
    // the second run skips what is recorded and resumes at the failed step
    let runner = Scripted::default();
    let report = apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("pw"),
        &guard,
        &opts,
    )
    .unwrap();
    assert!(
        report
            .skipped
            .iter()
            .any(|(id, why)| id == "disk:/dev/sda" && why == "recorded as done")
    );
    assert!(
        !runner.mutating().iter().any(|l| l.starts_with("sfdisk")),
        "{:?}",
        runner.mutating()
    );
    assert_eq!(report.ran.first().map(String::as_str), Some("fs:/"));
    // a state file of another plan is not trusted
    std::fs::write(&state, "plan 0000000000000000\ndone disk:/dev/sda\n").unwrap();
    let runner = Scripted::default();
    apply(
        &p,
        &runner,
        &RecordingUi::new(),
        &answered("pw"),
        &guard,
        &opts,
    )
    .unwrap();
    assert!(runner.mutating().iter().any(|l| l.starts_with("sfdisk")));
}

#[test]
fn confirm_disks_shows_them_and_defaults_only_when_unattended() {
    let (p, _) = setup();
    let ui = RecordingUi::new();
    rear_core::recreate::safety::confirm_disks(&p, &devices(), &ui, &Config::new(), true).unwrap();
    let shown = ui
        .messages()
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        shown.contains("/dev/sda") && shown.contains("QEMU") && shown.contains("S1"),
        "{shown}"
    );
    // not unattended and nobody to ask: no silent yes
    let err = rear_core::recreate::safety::confirm_disks(
        &p,
        &devices(),
        &RecordingUi::new(),
        &Config::new(),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("LAYOUT_CONFIRM_DISKS"), "{err}");
    let no = RecordingUi::answering(["no"]);
    assert!(
        rear_core::recreate::safety::confirm_disks(&p, &devices(), &no, &Config::new(), false)
            .is_err()
    );
}
