//! [`SystemRunner`]: runs commands on the real system, logging each one.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Cmd, CommandError, Effect, Output, Runner, STDERR_TAIL_BYTES, tail_of, tools};

/// One command as it was run (or, in a dry run, recorded), for the log and the run report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Record {
    /// The shell-quoted command line.
    pub command: String,
    /// Whether it mutates.
    pub effect: Effect,
    /// Its exit code; `None` when it was not run (dry run) or could not start.
    pub status: Option<i32>,
    /// How long it took, in milliseconds.
    pub millis: u64,
    /// The tail of its standard error.
    pub stderr_tail: String,
}

/// Runs commands for real. In a dry run, mutating commands are recorded and not run.
#[derive(Debug, Default)]
pub struct SystemRunner {
    dry_run: bool,
    log_output: bool,
    transcript: Mutex<Vec<Record>>,
}

impl SystemRunner {
    /// A runner that runs everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// In a dry run, mutating commands are only recorded.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Also log the standard output and error of every command (`rear -d`).
    pub fn log_output(mut self, yes: bool) -> Self {
        self.log_output = yes;
        self
    }

    /// Every command run so far, in order.
    pub fn transcript(&self) -> Vec<Record> {
        self.transcript.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn record(&self, record: Record) {
        if let Ok(mut t) = self.transcript.lock() {
            t.push(record);
        }
    }
}

impl Runner for SystemRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, CommandError> {
        let line = cmd.command_line();
        if self.dry_run && cmd.effect() == Effect::Mutating {
            tracing::info!("dry run, not running: {line}");
            self.record(Record {
                command: line,
                effect: cmd.effect(),
                status: None,
                millis: 0,
                stderr_tail: String::new(),
            });
            return Ok(Output { simulated: true, ..Output::default() });
        }
        let path = cmd.tool().resolve().ok_or_else(|| CommandError::NotFound {
            program: cmd.tool().program(),
            searched: tools::SEARCH_DIRS.join(":"),
        })?;
        match cmd.description() {
            Some(d) => tracing::info!("exec: {line}  ({d})"),
            None => tracing::info!("exec: {line}"),
        }
        let started = Instant::now();
        let result = spawn_and_wait(&path, cmd, &line);
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!("{e}");
                self.record(Record {
                    command: line,
                    effect: cmd.effect(),
                    status: None,
                    millis,
                    stderr_tail: e.to_string(),
                });
                return Err(e);
            }
        };
        let stderr_tail = tail_of(&out.stderr, STDERR_TAIL_BYTES);
        tracing::info!("exit status {} after {millis} ms: {line}", out.status);
        if self.log_output {
            if !out.stdout.is_empty() {
                tracing::debug!("stdout of {line}:\n{}", String::from_utf8_lossy(&out.stdout));
            }
            if !out.stderr.is_empty() {
                tracing::debug!("stderr of {line}:\n{}", String::from_utf8_lossy(&out.stderr));
            }
        }
        self.record(Record {
            command: line.clone(),
            effect: cmd.effect(),
            status: Some(out.status),
            millis,
            stderr_tail: stderr_tail.clone(),
        });
        if cmd.is_ok_code(out.status) {
            Ok(out)
        } else {
            Err(CommandError::Failed {
                cmd: line,
                status: out.status,
                description: cmd.description().map(str::to_string),
                stderr_tail,
            })
        }
    }
}

fn spawn_and_wait(path: &std::path::Path, cmd: &Cmd, line: &str) -> Result<Output, CommandError> {
    let mut command = Command::new(path);
    command
        .args(cmd.arguments())
        .env("LC_ALL", "C")
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(if cmd.input().is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in cmd.environment() {
        command.env(k, v);
    }
    let spawn_err = |source| CommandError::Spawn { cmd: line.to_string(), source };
    let mut child = command.spawn().map_err(spawn_err)?;

    // Feed stdin and drain stdout/stderr on threads so that no pipe can fill up and deadlock.
    let stdin_thread = match (cmd.input(), child.stdin.take()) {
        (Some(input), Some(mut pipe)) => {
            let input = input.to_vec();
            Some(std::thread::spawn(move || {
                // A command that exits without reading all input is not an error here; its exit
                // status tells.
                let _ = pipe.write_all(&input);
            }))
        }
        _ => None,
    };
    let stdout_thread = drain(child.stdout.take());
    let stderr_thread = drain(child.stderr.take());

    let status = match cmd.time_limit() {
        None => child.wait().map_err(spawn_err)?,
        Some(limit) => {
            let started = Instant::now();
            loop {
                if let Some(status) = child.try_wait().map_err(spawn_err)? {
                    break status;
                }
                if started.elapsed() >= limit {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CommandError::TimedOut { cmd: line.to_string(), after: limit });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    if let Some(t) = stdin_thread {
        let _ = t.join();
    }
    let stdout = stdout_thread.join().unwrap_or_default();
    let stderr = stderr_thread.join().unwrap_or_default();
    Ok(Output { status: status.code().unwrap_or(-1), stdout, stderr, simulated: false })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::tools;

    #[test]
    fn failure_carries_command_line_and_stderr_tail() {
        let runner = SystemRunner::new();
        let err = Cmd::probe(tools::BASH)
            .args(["-c", "echo 'disk on fire' >&2; exit 3"])
            .describe("testing failures")
            .run(&runner)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exit status 3"), "{text}");
        assert!(text.contains("while testing failures"), "{text}");
        assert!(text.contains("disk on fire"), "{text}");
        assert!(text.contains("bash -c"), "{text}");
        let t = runner.transcript();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status, Some(3));
    }

    #[test]
    fn stdin_and_stdout_and_c_locale() {
        let runner = SystemRunner::new();
        let out = Cmd::probe(tools::BASH)
            .args(["-c", "tr a-z A-Z; echo \"$LC_ALL\""])
            .stdin_bytes("hello\n")
            .output_string(&runner)
            .unwrap();
        assert_eq!(out, "HELLO\nC\n");
    }

    #[test]
    fn dry_run_records_mutating_but_runs_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("written");
        let runner = SystemRunner::new().dry_run(true);
        let script = format!("touch {}", marker.display());
        let out = Cmd::mutate(tools::BASH).args(["-c", &script]).run(&runner).unwrap();
        assert!(out.simulated);
        assert!(!marker.exists(), "a mutating command ran in a dry run");
        let probe = Cmd::probe(tools::BASH).args(["-c", "echo probed"]).output_string(&runner);
        assert_eq!(probe.unwrap(), "probed\n");
        let t = runner.transcript();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].status, None);
        assert_eq!(t[1].status, Some(0));
    }

    #[test]
    fn timeout_kills() {
        let runner = SystemRunner::new();
        let err = Cmd::probe(tools::BASH)
            .args(["-c", "sleep 5"])
            .timeout(Duration::from_millis(200))
            .run(&runner)
            .unwrap_err();
        assert!(matches!(err, CommandError::TimedOut { .. }), "{err}");
    }

    #[test]
    fn allowed_exit_codes_are_success() {
        let runner = SystemRunner::new();
        let out =
            Cmd::probe(tools::BASH).args(["-c", "exit 1"]).allow_exit_codes(&[1]).run(&runner);
        assert_eq!(out.unwrap().status, 1);
    }

    #[test]
    fn json_parse_error_names_command() {
        let runner = SystemRunner::new();
        let err = Cmd::probe(tools::BASH)
            .args(["-c", "echo '{\"blockdevices\": ['"])
            .json::<serde_json::Value>(&runner)
            .unwrap_err();
        assert!(err.to_string().contains("unexpected output from 'bash -c"), "{err}");
    }
}
