//! The one wrapper every external command goes through.
//!
//! Contract:
//! - Every program rear may run is a [`Tool`] in the registry ([`tools`]). A tool is resolved to
//!   an absolute path from a fixed list of directories, never from `$PATH`: a rescue shell or a
//!   cron job may have no sane `$PATH`. The same registry tells the rescue image builder what to
//!   ship, so "what we call" and "what we ship" cannot drift apart.
//! - A [`Cmd`] is marked [`Effect::ReadOnly`] (probing) or [`Effect::Mutating`]. In simulation and
//!   dry runs the [`SystemRunner`] still runs read-only commands but only records mutating ones.
//! - Each command is logged (`exec: <shell-quoted argv>`) before it runs, and its exit status and
//!   duration after. A failure carries the quoted command line and the tail of its stderr.
//! - Commands run with stdin from `/dev/null` unless input is given, and with `LC_ALL=C`, because
//!   every parser expects C-locale output.
//! - Tests use [`FakeRunner`], which answers from captured outputs and records what was run.

mod fake;
mod runner;
pub mod tools;

pub use fake::FakeRunner;
pub use runner::{Record, SystemRunner};
pub use tools::Tool;

use std::ffi::{OsStr, OsString};
use std::time::Duration;

/// Whether a command changes the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Only reads: always runs, in simulation and dry runs too.
    ReadOnly,
    /// Writes to disks, files or kernel state: recorded but not run in dry runs.
    Mutating,
}

/// An external command, built before it is run by a [`Runner`].
#[derive(Debug, Clone)]
pub struct Cmd {
    tool: Tool,
    args: Vec<OsString>,
    effect: Effect,
    stdin: Option<Vec<u8>>,
    description: Option<String>,
    env: Vec<(OsString, OsString)>,
    ok_codes: Vec<i32>,
    timeout: Option<Duration>,
}

impl Cmd {
    /// A read-only command (probing the system).
    pub fn probe(tool: Tool) -> Self {
        Self::new(tool, Effect::ReadOnly)
    }

    /// A command that changes the system.
    pub fn mutate(tool: Tool) -> Self {
        Self::new(tool, Effect::Mutating)
    }

    fn new(tool: Tool, effect: Effect) -> Self {
        Cmd {
            tool,
            args: Vec::new(),
            effect,
            stdin: None,
            description: None,
            env: Vec::new(),
            ok_codes: vec![0],
            timeout: None,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Says what the command is for, as a lowercase "-ing" phrase ("reading partition table of
    /// /dev/sda"); it appears in the log and in errors.
    pub fn describe(mut self, what: impl Into<String>) -> Self {
        self.description = Some(what.into());
        self
    }

    /// Feeds these bytes to the command's standard input.
    pub fn stdin_bytes(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Exit codes besides 0 that count as success (for example `1` for tools that use it for
    /// "nothing found").
    pub fn allow_exit_codes(mut self, codes: &[i32]) -> Self {
        self.ok_codes.extend_from_slice(codes);
        self
    }

    /// Kills the command when it runs longer than this.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// The tool this command runs.
    pub fn tool(&self) -> Tool {
        self.tool
    }

    /// The arguments, without the program.
    pub fn arguments(&self) -> &[OsString] {
        &self.args
    }

    /// Whether the command changes the system.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The input for standard input, if any.
    pub fn input(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The description given with [`Cmd::describe`].
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Extra environment variables.
    pub fn environment(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    /// The timeout, if any.
    pub fn time_limit(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether `code` counts as success.
    pub fn is_ok_code(&self, code: i32) -> bool {
        self.ok_codes.contains(&code)
    }

    /// The command line, shell-quoted, with the tool's program name (not its resolved path), so
    /// that a user can copy it into a shell.
    pub fn command_line(&self) -> String {
        let mut words = vec![self.tool.program().to_string()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        shell_words::join(words)
    }

    /// Runs the command and returns its output, or an error when it failed.
    pub fn run(&self, runner: &dyn Runner) -> Result<Output, CommandError> {
        runner.run(self)
    }

    /// Runs the command and returns its standard output as text.
    pub fn output_string(&self, runner: &dyn Runner) -> Result<String, CommandError> {
        let out = runner.run(self)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs the command and parses its standard output as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        runner: &dyn Runner,
    ) -> Result<T, CommandError> {
        let out = runner.run(self)?;
        serde_json::from_slice(&out.stdout).map_err(|e| CommandError::Parse {
            cmd: self.command_line(),
            message: e.to_string(),
        })
    }
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code (`-1` when it was killed by a signal).
    pub status: i32,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error.
    pub stderr: Vec<u8>,
    /// True when the command was not run because it mutates and this is a dry run.
    pub simulated: bool,
}

impl Output {
    /// Standard output as text (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs commands. [`SystemRunner`] runs them for real; [`FakeRunner`] replays captured outputs.
pub trait Runner: Send + Sync {
    /// Runs `cmd`. A non-success exit code is an error ([`CommandError::Failed`]).
    fn run(&self, cmd: &Cmd) -> Result<Output, CommandError>;
}

/// How many bytes of standard error an error keeps.
pub const STDERR_TAIL_BYTES: usize = 1024;

/// The tail of `bytes`, lossily decoded, trimmed.
pub fn tail_of(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

/// An external command that could not be run, failed, or printed something unreadable.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program is not installed in any of the searched directories.
    #[error("program '{program}' not found (searched {searched})")]
    NotFound {
        /// The program name.
        program: &'static str,
        /// The directories searched, joined with ':'.
        searched: String,
    },
    /// The program exists but could not be started.
    #[error("starting '{cmd}': {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The command exited with a failure code or was killed.
    #[error("command failed with exit status {status}{}: {cmd}{}", description.as_ref().map(|d| format!(" while {d}")).unwrap_or_default(), if stderr_tail.is_empty() { String::new() } else { format!("\n{stderr_tail}") })]
    Failed {
        /// The command line.
        cmd: String,
        /// The exit code (`-1` when killed by a signal).
        status: i32,
        /// What the command was for.
        description: Option<String>,
        /// The last bytes of its standard error.
        stderr_tail: String,
    },
    /// The command ran longer than its timeout and was killed.
    #[error("command timed out after {after:?} and was killed: {cmd}")]
    TimedOut {
        /// The command line.
        cmd: String,
        /// The timeout.
        after: Duration,
    },
    /// The output of the command could not be parsed.
    #[error("unexpected output from '{cmd}': {message}")]
    Parse {
        /// The command line.
        cmd: String,
        /// What is wrong with it.
        message: String,
    },
}

impl CommandError {
    /// A hint for the user, when there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            CommandError::NotFound { program, .. } => Some(format!(
                "install the package that provides '{program}' (Debian: apt-get install {})",
                tools::debian_package_of(program)
            )),
            CommandError::Failed { cmd, .. } => {
                Some(format!("run '{cmd}' by hand to see the whole output"))
            }
            _ => None,
        }
    }
}
