//! Replaying a captured scenario directory (`fixtures/layouts/<scenario>/`, written by
//! `fixtures/capture.sh`) through a [`FakeRunner`], so that [`super::probe_layout`] can be tested
//! end to end on real outputs.
//!
//! The directory's `INDEX.md` has one table row per command: `` | `FILE` | `COMMAND` | EXIT | ``.
//! Each row becomes an answer: the command line maps to FILE's content (and `FILE.stderr`), with
//! that exit status. `pvs`, `vgs` and `lvs` are the same program as `lvm pvs`, `lvm vgs` and
//! `lvm lvs`, and rear runs them through `lvm`, so those rows answer both spellings. Command
//! lines are re-quoted the way `Cmd::command_line` quotes them (`'--show=NAME,...'`). Rows marked
//! `(writes {})` record commands that wrote a file themselves and are skipped.

use std::path::Path;

use crate::cmd::FakeRunner;
use crate::cmd::Output;
use crate::{Error, Result};

/// One row of `INDEX.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The output file, relative to the scenario directory.
    pub file: String,
    /// The command line as run.
    pub command: String,
    /// Its exit status.
    pub status: i32,
}

/// Reads the command rows of an `INDEX.md`.
pub fn parse_index(text: &str) -> Vec<IndexRow> {
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            if cells.len() < 5 || !cells[1].starts_with('`') {
                return None;
            }
            let file = cells[1].trim_matches('`').to_string();
            let command_cell = cells[2];
            if command_cell.contains("(writes {})") {
                return None;
            }
            let command = command_cell.trim_matches('`').to_string();
            let status = cells[3].parse().ok()?;
            Some(IndexRow {
                file,
                command,
                status,
            })
        })
        .collect()
}

/// Builds a [`FakeRunner`] answering every command recorded in `dir/INDEX.md`.
pub fn fake_runner(dir: &Path) -> Result<FakeRunner> {
    let index_path = dir.join("INDEX.md");
    let index =
        std::fs::read_to_string(&index_path).map_err(|e| Error::io("reading", &index_path, e))?;
    let mut fake = FakeRunner::new();
    for row in parse_index(&index) {
        let path = dir.join(&row.file);
        let stdout = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        let stderr = std::fs::read(dir.join(format!("{}.stderr", row.file))).unwrap_or_default();
        let out = Output {
            status: row.status,
            stdout,
            stderr,
            simulated: false,
        };
        // capture.sh records "$*" (words joined by spaces; no argument there contains a space);
        // Cmd::command_line shell-quotes, so quote the same way
        let words: Vec<&str> = row.command.split_whitespace().collect();
        let line = shell_words::join(&words);
        if matches!(words.first(), Some(&("pvs" | "vgs" | "lvs"))) {
            fake = fake.on_output(&format!("lvm {line}"), out.clone());
        }
        fake = fake.on_output(&line, out);
    }
    Ok(fake)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_rows() {
        let rows = parse_index(include_str!("testdata/host-loop/INDEX.md"));
        assert_eq!(
            rows[0],
            IndexRow {
                file: "lsblk.json".into(),
                command: "lsblk -J -b -O".into(),
                status: 0
            }
        );
        assert!(rows.iter().any(|r| r.command == "sfdisk --json /dev/loop0"));
    }
}
