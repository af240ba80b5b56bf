//! Applying a [`Plan`]: step by step, logged, idempotent, guarded.
//!
//! Contract:
//! - Before the first command runs, [`Guard::check_plan`] checks every mutating command of the
//!   plan; each command is checked again right before it runs.
//! - A step is skipped when the state file records it as done, or when its [`DoneCheck`] finds
//!   its result already there (and the state file does not say it was started and not finished:
//!   a step that failed half way is run again from its start). The checks are trusted only when
//!   resuming (the state file of this plan exists) or with [`ApplyOptions::trust_existing`]: on
//!   a first run an old filesystem that happens to have the planned UUID is recreated, not
//!   reused with its old files.
//! - The state file (`<build dir>/recreate.state`) holds the plan's fingerprint and one
//!   `started <id>` / `done <id>` line per step; a state file of another plan is ignored.
//! - The commands run are exactly the plan's; only a LUKS passphrase is added on standard input
//!   (from the layout's `password=`, `USER_INPUT_LUKS_PASSPHRASE_<name>`, or asked). It is
//!   never logged.
//! - On a failure the user chooses (`LAYOUT_APPLY_FAILED`): rerun the step, edit the script,
//!   open a shell, or abort. Unattended, the error is returned. "edit" and "shell" end the run
//!   with [`ApplyReport::stopped`] set: the caller does that and calls [`apply`] again, which
//!   resumes where it stopped.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::safety::Guard;
use super::{DoneCheck, Plan, PlanStep, SecretInput};
use crate::cmd::{Cmd, Runner, tools};
use crate::config::Config;
use crate::probe::sfdisk::{parse_sfdisk_json, partition_number};
use crate::ui::{Level, Question, Ui, ask};
use crate::{Error, Result};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The state file recording finished steps (`<build dir>/recreate.state`); none: no record.
    pub state_file: Option<PathBuf>,
    /// Never ask: a failure is returned as an error.
    pub unattended: bool,
    /// How long to wait for device nodes after a step.
    pub device_wait: Duration,
    /// Trust the done checks on a fresh run too. By default they are trusted only when resuming
    /// (the state file of this plan exists): on a first run a disk that still holds the old
    /// filesystem with the same UUID must be recreated, not reused with its old content.
    pub trust_existing: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            state_file: None,
            unattended: false,
            device_wait: Duration::from_secs(10),
            trust_existing: false,
        }
    }
}

/// What the user chose after a failure, when the caller has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Edit the script ([`Plan::to_shell_script`]), run it by hand, then apply again.
    EditScript,
    /// Open a shell, then apply again.
    Shell,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    /// Steps whose commands ran, in order.
    pub ran: Vec<String>,
    /// Steps skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Set when the run stopped after a failure for the caller to act: (step, error, choice).
    pub stopped: Option<(String, String, Stop)>,
}

/// A fingerprint of the plan (FNV-1a over its summary), written to the state file.
pub fn fingerprint(plan: &Plan) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in plan.summary().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

struct State {
    path: Option<PathBuf>,
    started: BTreeSet<String>,
    done: BTreeSet<String>,
    /// The state file of this plan existed: this run resumes an earlier one.
    resumed: bool,
}

impl State {
    fn load(path: Option<&Path>, fp: &str) -> Result<State> {
        let mut st = State {
            path: path.map(Path::to_path_buf),
            started: BTreeSet::new(),
            done: BTreeSet::new(),
            resumed: false,
        };
        let Some(path) = path else { return Ok(st) };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut lines = text.lines();
        if lines.next() == Some(&format!("plan {fp}")) {
            st.resumed = true;
            for l in lines {
                match l.split_once(' ') {
                    Some(("started", id)) => {
                        st.started.insert(id.to_string());
                    }
                    Some(("done", id)) => {
                        st.done.insert(id.to_string());
                    }
                    _ => {}
                }
            }
        } else {
            if !text.is_empty() {
                info!(
                    "state file {} belongs to another plan; starting afresh",
                    path.display()
                );
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("creating directory", dir, e))?;
            }
            std::fs::write(path, format!("plan {fp}\n"))
                .map_err(|e| Error::io("writing", path, e))?;
        }
        Ok(st)
    }

    fn record(&mut self, what: &str, id: &str) -> Result<()> {
        match what {
            "started" => self.started.insert(id.to_string()),
            _ => self.done.insert(id.to_string()),
        };
        if let Some(path) = &self.path {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| Error::io("opening", path, e))?;
            writeln!(f, "{what} {id}").map_err(|e| Error::io("writing", path, e))?;
        }
        Ok(())
    }
}

/// Applies `plan`. See the module documentation.
///
/// # Errors
/// A command the guard refuses (before anything ran), a failed step in an unattended run, an
/// abort chosen by the user, or an unwritable state file.
pub fn apply(
    plan: &Plan,
    runner: &dyn Runner,
    ui: &dyn Ui,
    config: &Config,
    guard: &Guard,
    opts: &ApplyOptions,
) -> Result<ApplyReport> {
    guard.check_plan(plan)?;
    let mut state = State::load(opts.state_file.as_deref(), &fingerprint(plan))?;
    let mut report = ApplyReport::default();
    let mut secrets: HashMap<String, String> = HashMap::new();
    let total = plan.steps.len();
    for (n, step) in plan.steps.iter().enumerate() {
        if state.done.contains(&step.id) {
            report
                .skipped
                .push((step.id.clone(), "recorded as done".into()));
            continue;
        }
        let trusted = opts.trust_existing || state.resumed;
        if trusted && !state.started.contains(&step.id) && is_done(&step.done_check, runner) {
            ui.message(
                Level::Progress,
                &format!("step {}/{total}: {} is already done", n + 1, step.id),
            );
            state.record("done", &step.id)?;
            report
                .skipped
                .push((step.id.clone(), "already there".into()));
            continue;
        }
        loop {
            ui.message(
                Level::Progress,
                &format!("step {}/{total}: {}", n + 1, step.description),
            );
            info!("recreate step {}: {}", step.id, step.description);
            state.record("started", &step.id)?;
            match run_step(step, runner, ui, config, guard, &mut secrets, opts) {
                Ok(()) => {
                    state.record("done", &step.id)?;
                    report.ran.push(step.id.clone());
                    break;
                }
                Err(e) => {
                    warn!("recreate step {} failed: {e}", step.id);
                    if opts.unattended {
                        return Err(Error::Other(anyhow::anyhow!(e).context(format!(
                            "{} the disk layout, step {} ({})",
                            if plan.mount_only {
                                "mounting"
                            } else {
                                "recreating"
                            },
                            step.id,
                            step.description
                        ))));
                    }
                    ui.message(Level::Warning, &format!("step {} failed: {e}", step.id));
                    let q = Question::new(
                        "LAYOUT_APPLY_FAILED",
                        format!("Step {} failed. What now?", step.id),
                    )
                    .choices(["rerun", "edit", "shell", "abort"]);
                    match ask(ui, config, &q)?.as_str() {
                        "rerun" => continue,
                        "edit" => {
                            report.stopped =
                                Some((step.id.clone(), e.to_string(), Stop::EditScript));
                            return Ok(report);
                        }
                        "shell" => {
                            report.stopped = Some((step.id.clone(), e.to_string(), Stop::Shell));
                            return Ok(report);
                        }
                        _ => {
                            return Err(Error::Aborted {
                                id: "LAYOUT_APPLY_FAILED".into(),
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

fn run_step(
    step: &PlanStep,
    runner: &dyn Runner,
    ui: &dyn Ui,
    config: &Config,
    guard: &Guard,
    secrets: &mut HashMap<String, String>,
    opts: &ApplyOptions,
) -> Result<()> {
    let mut simulated = false;
    for pc in &step.commands {
        guard.check(&pc.cmd)?;
        let out = match &pc.secret {
            None => pc.cmd.run(runner)?,
            Some(SecretInput::LuksPassphrase { name, password }) => {
                let pass = match (password, secrets.get(name)) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => p.clone(),
                    (None, None) => {
                        let q = Question::new(
                            format!("LUKS_PASSPHRASE_{name}"),
                            format!("Passphrase for LUKS device {name}"),
                        )
                        .secret();
                        let p = ask(ui, config, &q)?;
                        secrets.insert(name.clone(), p.clone());
                        p
                    }
                };
                pc.cmd
                    .clone()
                    .stdin_bytes(format!("{pass}\n"))
                    .run(runner)?
            }
        };
        simulated |= out.simulated;
    }
    if !simulated {
        wait_for(&step.wait_for, opts.device_wait)?;
    }
    Ok(())
}

/// Waits until every device node exists.
fn wait_for(devices: &[String], limit: Duration) -> Result<()> {
    let started = Instant::now();
    for d in devices {
        while !Path::new(d).exists() {
            if started.elapsed() > limit {
                return Err(Error::invalid(
                    d.clone(),
                    format!("device did not appear within {limit:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Runs a step's done check (read-only commands). A failing check means "not done".
pub fn is_done(check: &DoneCheck, runner: &dyn Runner) -> bool {
    match check {
        DoneCheck::Recorded => false,
        DoneCheck::PartitionTable {
            disk,
            label,
            id,
            partitions,
        } => {
            let Ok(text) = Cmd::probe(tools::SFDISK)
                .args(["--json", disk.as_str()])
                .describe("checking the partition table")
                .output_string(runner)
            else {
                return false;
            };
            let Ok(pt) = parse_sfdisk_json(&text) else {
                return false;
            };
            let same_id = id
                .as_ref()
                .is_none_or(|i| pt.id.as_ref().is_some_and(|p| p.eq_ignore_ascii_case(i)));
            pt.label == *label
                && same_id
                && pt.partitions.len() == partitions.len()
                && partitions.iter().all(|(num, start, size, uuid)| {
                    pt.partitions.iter().any(|p| {
                        partition_number(&p.node) == Some(*num)
                            && p.start == *start
                            && p.size == *size
                            && uuid.as_ref().is_none_or(|u| {
                                p.uuid.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(u))
                            })
                    })
                })
        }
        DoneCheck::Signature { dev, fstype, uuid } => {
            let Ok(text) = Cmd::probe(tools::BLKID)
                .args(["-p", "-o", "export", dev.as_str()])
                .describe("checking signatures")
                .output_string(runner)
            else {
                return false;
            };
            let get = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
            };
            get("TYPE").as_deref() == Some(fstype.as_str())
                && uuid
                    .as_ref()
                    .is_none_or(|u| get("UUID").is_some_and(|x| x.eq_ignore_ascii_case(u)))
        }
        DoneCheck::MdArray { dev, uuid } => {
            let Ok(text) = Cmd::probe(tools::MDADM)
                .args(["--detail", "--export", dev.as_str()])
                .describe("checking the md array")
                .output_string(runner)
            else {
                return false;
            };
            uuid.as_ref().is_none_or(|u| {
                text.lines().any(|l| {
                    l.strip_prefix("MD_UUID=")
                        .is_some_and(|x| x.eq_ignore_ascii_case(u))
                })
            })
        }
        DoneCheck::CryptOpen { name } => Cmd::probe(tools::CRYPTSETUP)
            .args(["status", name.as_str()])
            .describe("checking the LUKS mapping")
            .run(runner)
            .is_ok(),
        DoneCheck::Vg { name } => Cmd::probe(tools::LVM)
            .args(["vgs", "--noheadings", "-o", "vg_name", name.as_str()])
            .describe("checking the volume group")
            .run(runner)
            .is_ok(),
        DoneCheck::Lv { vg, name } => Cmd::probe(tools::LVM)
            .args([
                "lvs",
                "--noheadings",
                "-o",
                "lv_name",
                &format!("{vg}/{name}"),
            ])
            .describe("checking the logical volume")
            .run(runner)
            .is_ok(),
        DoneCheck::Mounted { target } => Cmd::probe(tools::FINDMNT)
            .args(["-n", "-o", "TARGET", "--mountpoint", target.as_str()])
            .describe("checking the mount")
            .output_string(runner)
            .is_ok_and(|t| !t.trim().is_empty()),
    }
}

/// Unmounts the plan's mounts, children first (after the restore, or to clean up a test).
///
/// # Errors
/// A failing umount.
pub fn unmount(plan: &Plan, runner: &dyn Runner) -> Result<()> {
    for s in plan.steps.iter().rev() {
        if let DoneCheck::Mounted { target } = &s.done_check
            && is_done(&s.done_check, runner)
        {
            Cmd::mutate(tools::UMOUNT)
                .arg(target)
                .describe(format!("unmounting {target}"))
                .run(runner)?;
        }
    }
    Ok(())
}
