//! [`Context`]: what every step gets: configuration, system facts, the command runner, the UI,
//! the run options, and a typed store for results that later steps use.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;

use crate::cmd::Runner;
use crate::config::Config;
use crate::system::SystemInfo;
use crate::ui::Ui;

/// Options of one run, from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `-s`: list the steps, run none.
    pub simulate: bool,
    /// `-S`: ask before each step.
    pub step_by_step: bool,
    /// `-d`: log every command's output, keep the build directory.
    pub debug: bool,
    /// `-D`: as `-d`, plus a trace of every step.
    pub debugscript: bool,
    /// `-n` or the `unattended` kernel option: never wait for input.
    pub non_interactive: bool,
    /// `-e`: secrets may appear in the log.
    pub expose_secrets: bool,
}

/// The state of one run, handed to every step.
pub struct Context<'a> {
    /// The effective configuration.
    pub config: Config,
    /// Facts about the running system.
    pub system: SystemInfo,
    /// Runs every external command.
    pub runner: &'a dyn Runner,
    /// Reports progress and asks questions.
    pub ui: &'a dyn Ui,
    /// The command-line options.
    pub options: RunOptions,
    /// The workflow being run.
    pub workflow: &'static str,
    /// The build directory of this run (created by the prep stage).
    pub build_dir: Option<PathBuf>,
    /// The exit code the run ends with when no step fails (checklayout sets 1 on a change).
    pub exit_code: u8,
    state: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl<'a> Context<'a> {
    /// A new context.
    pub fn new(
        config: Config,
        system: SystemInfo,
        runner: &'a dyn Runner,
        ui: &'a dyn Ui,
        options: RunOptions,
        workflow: &'static str,
    ) -> Self {
        Context {
            config,
            system,
            runner,
            ui,
            options,
            workflow,
            build_dir: None,
            exit_code: 0,
            state: HashMap::new(),
        }
    }

    /// Stores a result for later steps (one value per type).
    pub fn put<T: Any + Send>(&mut self, value: T) {
        self.state.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A result stored by an earlier step.
    pub fn get<T: Any + Send>(&self) -> Option<&T> {
        self.state
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref())
    }

    /// A result stored by an earlier step, to change it.
    pub fn get_mut<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.state
            .get_mut(&TypeId::of::<T>())
            .and_then(|b| b.downcast_mut())
    }

    /// Takes a stored result out.
    pub fn take<T: Any + Send>(&mut self) -> Option<T> {
        self.state
            .remove(&TypeId::of::<T>())
            .and_then(|b| b.downcast().ok())
            .map(|b| *b)
    }
}
