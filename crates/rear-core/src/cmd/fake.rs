//! [`FakeRunner`]: answers commands from captured outputs, for tests.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Cmd, CommandError, Output, Runner};

/// A runner that never runs anything. Each expected command line (as [`Cmd::command_line`]
/// renders it) maps to a captured [`Output`]; an unexpected command is an error that names it, so
/// a test fails loudly when the code under test runs something new.
#[derive(Debug, Default)]
pub struct FakeRunner {
    answers: HashMap<String, Output>,
    calls: Mutex<Vec<String>>,
}

impl FakeRunner {
    /// An empty fake.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `command_line` with `stdout` and exit status 0.
    pub fn on(mut self, command_line: &str, stdout: impl Into<Vec<u8>>) -> Self {
        self.answers.insert(
            command_line.to_string(),
            Output { stdout: stdout.into(), ..Output::default() },
        );
        self
    }

    /// Answers `command_line` with a full [`Output`] (for failures).
    pub fn on_output(mut self, command_line: &str, output: Output) -> Self {
        self.answers.insert(command_line.to_string(), output);
        self
    }

    /// The command lines run so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Runner for FakeRunner {
    fn run(&self, cmd: &Cmd) -> Result<Output, CommandError> {
        let line = cmd.command_line();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(line.clone());
        }
        let out = self.answers.get(&line).cloned().ok_or_else(|| CommandError::Failed {
            cmd: line.clone(),
            status: 127,
            description: Some("FakeRunner has no captured output for this command".into()),
            stderr_tail: String::new(),
        })?;
        if cmd.is_ok_code(out.status) {
            Ok(out)
        } else {
            Err(CommandError::Failed {
                cmd: line,
                status: out.status,
                description: cmd.description().map(str::to_string),
                stderr_tail: super::tail_of(&out.stderr, super::STDERR_TAIL_BYTES),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::tools;

    #[test]
    fn replays_and_records() {
        let fake = FakeRunner::new().on("lsblk -J -b -O", "{\"blockdevices\":[]}");
        let v: serde_json::Value =
            Cmd::probe(tools::LSBLK).args(["-J", "-b", "-O"]).json(&fake).unwrap();
        assert_eq!(v["blockdevices"], serde_json::json!([]));
        let err = Cmd::probe(tools::BLKID).run(&fake).unwrap_err();
        assert!(err.to_string().contains("blkid"));
        assert_eq!(fake.calls(), vec!["lsblk -J -b -O", "blkid"]);
    }
}
