//! Workflows, stages and steps: the engine that runs `rear mkrescue`, `rear recover`, ...
//!
//! A [`Workflow`] is a list of stage names (for mkrescue: prep, layout/save, rescue, build, pack,
//! output). A [`Step`] belongs to a stage, has a number and a stable name, and a condition
//! ([`When`]) on OUTPUT, BACKUP, ARCH or OS_VENDOR. The steps of a run are chosen by condition and
//! ordered by stage, then number, then name, as ReaR orders its scripts; their paths read like
//! ReaR's (`prep/ISO/300_check_iso_dir`), so `rear -s` output looks familiar.
//!
//! Every workflow but `dump` starts with the `init` stage (configuration checks), as in ReaR.
//!
//! A step that is not built yet has no function. A workflow that contains such a step refuses to
//! run before running anything past `init`, with one line naming the missing steps: it never
//! pretends to succeed and never leaves a half-done run behind.

mod context;
mod lock;
mod registry;
pub mod steps;

pub use context::{Context, RunOptions};
pub use lock::RunLock;
pub use registry::{STEPS, WORKFLOWS, find_workflow};

use std::time::Instant;

use crate::config::Config;
use crate::ui::{Level, Question};
use crate::{Error, Result};

/// A step function.
pub type StepFn = fn(&mut Context<'_>) -> Result<()>;

/// A workflow: `rear <name>`.
#[derive(Debug)]
pub struct Workflow {
    /// The name on the command line.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its stages, in order.
    pub stages: &'static [&'static str],
    /// Runs without the lock (ReaR's LOCKLESS_WORKFLOWS: dump, help, checklayout).
    pub lockless: bool,
    /// Only offered in the rescue system (recover and friends may still run elsewhere with care).
    pub rescue: bool,
}

/// When a step is part of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always (ReaR's `default/` directory).
    Always,
    /// When OUTPUT is this value.
    Output(&'static str),
    /// When BACKUP is this value.
    Backup(&'static str),
    /// When ARCH is this value (`Linux-i386`).
    Arch(&'static str),
    /// When OS_MASTER_VENDOR or OS_VENDOR is this value.
    Vendor(&'static str),
}

impl When {
    fn qualifier(&self) -> &'static str {
        match self {
            When::Always => "default",
            When::Output(v) | When::Backup(v) | When::Arch(v) | When::Vendor(v) => v,
        }
    }

    /// Whether the condition holds for `config`.
    pub fn holds(&self, config: &Config) -> bool {
        match self {
            When::Always => true,
            When::Output(v) => config.output().split_whitespace().any(|o| o == *v),
            When::Backup(v) => config.backup() == *v,
            When::Arch(v) => config.string("ARCH") == *v,
            When::Vendor(v) => {
                config.string("OS_VENDOR") == *v || config.string("OS_MASTER_VENDOR") == *v
            }
        }
    }
}

/// One numbered step of a stage.
#[derive(Debug)]
pub struct Step {
    /// The stage it belongs to (`prep`, `layout/save`, ...).
    pub stage: &'static str,
    /// Its number: steps run in number order within a stage.
    pub number: u16,
    /// Its stable name (`check_iso_dir`).
    pub name: &'static str,
    /// When it runs.
    pub when: When,
    /// The function, or `None` when the step is not built yet.
    pub run: Option<StepFn>,
    /// For a step that is not built yet: which issue or area will build it.
    pub pending: &'static str,
}

impl Step {
    /// The step's path, ReaR style: `prep/ISO/300_check_iso_dir`.
    pub fn path(&self) -> String {
        format!(
            "{}/{}/{:03}_{}",
            self.stage,
            self.when.qualifier(),
            self.number,
            self.name
        )
    }
}

/// The steps `workflow` runs with `config`, in order.
pub fn select_steps(workflow: &Workflow, config: &Config) -> Vec<&'static Step> {
    let mut out = Vec::new();
    for stage in workflow.stages {
        let mut steps: Vec<&'static Step> = STEPS
            .iter()
            .filter(|s| s.stage == *stage && s.when.holds(config))
            .collect();
        steps.sort_by(|a, b| a.number.cmp(&b.number).then(a.name.cmp(b.name)));
        out.extend(steps);
    }
    out
}

/// How long each stage took.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunSummary {
    /// (stage, seconds), in order.
    pub stages: Vec<(String, f64)>,
    /// The steps that ran, in order.
    pub steps: Vec<String>,
}

/// Refuses a workflow that contains steps not built yet, naming them.
///
/// # Errors
/// [`Error::NotImplemented`] naming the workflow and its missing steps.
pub fn check_buildable(workflow: &Workflow, steps: &[&Step]) -> Result<()> {
    let pending: Vec<String> = steps
        .iter()
        .filter(|s| s.run.is_none())
        .map(|s| format!("{} ({})", s.path(), s.pending))
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            what: format!(
                "workflow '{}' ({} of {} steps not built yet: {})",
                workflow.name,
                pending.len(),
                steps.len(),
                pending.join(", ")
            ),
        })
    }
}

/// Runs `workflow`: every selected step in order. In simulation mode nothing runs and the
/// summary lists the steps that would run.
///
/// # Errors
/// The first failing step's error, with the step's path in the context; or
/// [`Error::NotImplemented`] before anything runs when a step is not built yet.
pub fn run_workflow(ctx: &mut Context<'_>, workflow: &Workflow) -> Result<RunSummary> {
    let steps = select_steps(workflow, &ctx.config);
    let mut summary = RunSummary::default();
    if ctx.options.simulate {
        for step in &steps {
            tracing::info!("simulation: would run {}", step.path());
            summary.steps.push(step.path());
        }
        return Ok(summary);
    }
    // The init stage (configuration checks) runs before the build check, so that a wrong
    // configuration is reported as such even in a workflow that is not complete yet.
    let (init, rest): (Vec<&Step>, Vec<&Step>) = steps.into_iter().partition(|s| s.stage == "init");
    check_buildable(workflow, &init)?;
    let mut current_stage: Option<(&str, Instant)> = None;
    for (i, step) in init.iter().chain(rest.iter()).copied().enumerate() {
        if i == init.len() {
            check_buildable(workflow, &rest)?;
        }
        if current_stage.map(|(s, _)| s) != Some(step.stage) {
            if let Some((s, t)) = current_stage.take() {
                summary
                    .stages
                    .push((s.to_string(), t.elapsed().as_secs_f64()));
                tracing::info!("finished stage {s} in {:.3} s", t.elapsed().as_secs_f64());
            }
            tracing::info!("running stage {}", step.stage);
            current_stage = Some((step.stage, Instant::now()));
        }
        let path = step.path();
        if ctx.options.step_by_step {
            let q = Question::new(
                "STEP_BY_STEP",
                format!("Press ENTER to run step {path} (or type 'skip' or 'abort')"),
            )
            .default_answer("");
            match crate::ui::ask(ctx.ui, &ctx.config, &q)?.as_str() {
                "skip" => {
                    ctx.ui.message(Level::Info, &format!("skipped {path}"));
                    continue;
                }
                "abort" => {
                    return Err(Error::Aborted {
                        id: "STEP_BY_STEP".into(),
                    });
                }
                _ => {}
            }
        }
        tracing::info!("step {path}");
        let started = Instant::now();
        let run = step
            .run
            .ok_or_else(|| Error::NotImplemented { what: path.clone() })?;
        run(ctx).map_err(|e| {
            tracing::error!("step {path} failed: {e}");
            match e {
                Error::Other(a) => Error::Other(a.context(format!("step {path}"))),
                other => other,
            }
        })?;
        if ctx.options.debugscript {
            tracing::debug!(
                "step {path} done in {:.3} s",
                started.elapsed().as_secs_f64()
            );
        }
        summary.steps.push(path);
    }
    if let Some((s, t)) = current_stage {
        summary
            .stages
            .push((s.to_string(), t.elapsed().as_secs_f64()));
        tracing::info!("finished stage {s} in {:.3} s", t.elapsed().as_secs_f64());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value;

    fn config(output: &str, backup: &str) -> Config {
        let mut c = Config::new();
        c.set("OUTPUT", Value::Scalar(output.into()));
        c.set("BACKUP", Value::Scalar(backup.into()));
        c.set("ARCH", Value::Scalar("Linux-i386".into()));
        c
    }

    #[test]
    fn every_workflow_stage_has_steps_and_paths_are_unique() {
        let mut paths: Vec<String> = STEPS.iter().map(Step::path).collect();
        paths.sort();
        let n = paths.len();
        paths.dedup();
        assert_eq!(n, paths.len(), "two steps share a path");
        for w in WORKFLOWS {
            for stage in w.stages {
                assert!(
                    STEPS.iter().any(|s| s.stage == *stage),
                    "workflow {} has stage {stage} without steps",
                    w.name
                );
            }
        }
    }

    #[test]
    fn steps_follow_output_and_backup() {
        let mkbackup = find_workflow("mkbackup").unwrap();
        let iso_netfs: Vec<String> = select_steps(mkbackup, &config("ISO", "NETFS"))
            .iter()
            .map(|s| s.path())
            .collect();
        assert!(
            iso_netfs.iter().any(|p| p.starts_with("output/ISO/")),
            "{iso_netfs:?}"
        );
        assert!(
            iso_netfs.iter().any(|p| p.starts_with("backup/NETFS/")),
            "{iso_netfs:?}"
        );
        assert!(!iso_netfs.iter().any(|p| p.starts_with("output/PXE/")));
        let pxe: Vec<String> = select_steps(mkbackup, &config("PXE", "RSYNC"))
            .iter()
            .map(|s| s.path())
            .collect();
        assert!(pxe.iter().any(|p| p.starts_with("output/PXE/")), "{pxe:?}");
        assert!(!pxe.iter().any(|p| p.starts_with("backup/NETFS/")));
        // stages in workflow order, numbers ascending within a stage
        let stage_pos = |p: &str| {
            mkbackup
                .stages
                .iter()
                .position(|s| p.starts_with(&format!("{s}/")))
                .unwrap()
        };
        let positions: Vec<usize> = iso_netfs.iter().map(|p| stage_pos(p)).collect();
        assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{iso_netfs:?}");
    }

    #[test]
    fn a_workflow_with_pending_steps_refuses_to_run() {
        let mkdist = find_workflow("mkdist").unwrap();
        let steps = select_steps(mkdist, &config("ISO", "NETFS"));
        let err = check_buildable(mkdist, &steps).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("workflow 'mkdist' ("), "{text}");
        assert!(
            text.contains("mkdist/default/100_make_distribution_archive"),
            "{text}"
        );
        assert!(text.contains("not implemented yet"), "{text}");
        // recover is complete for every backup method rear has
        let recover = find_workflow("recover").unwrap();
        for backup in [
            "NETFS",
            "RSYNC",
            "BORG",
            "RESTIC",
            "EXTERNAL",
            "REQUESTRESTORE",
        ] {
            check_buildable(recover, &select_steps(recover, &config("ISO", backup))).unwrap();
        }
    }
}
