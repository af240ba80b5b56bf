//! The terminal implementation of rear-core's [`Ui`]: messages to stdout/stderr by verbosity,
//! prompts on the terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use rear_core::ui::{Level, Progress, Question, Ui};

/// Prints messages according to -v/-q/-d and asks on the terminal.
#[derive(Debug)]
pub struct TermUi {
    pub verbose: bool,
    pub quiet: bool,
    pub debug: bool,
    pub interactive: bool,
    pub bar: Mutex<Option<ProgressBar>>,
}

impl TermUi {
    /// A terminal UI.
    pub fn new(verbose: bool, quiet: bool, debug: bool, interactive: bool) -> Self {
        TermUi {
            verbose,
            quiet,
            debug,
            interactive,
            bar: Mutex::new(None),
        }
    }
}

impl Ui for TermUi {
    fn message(&self, level: Level, text: &str) {
        match level {
            Level::Debug => tracing::debug!("{text}"),
            Level::Progress | Level::Info => tracing::info!("{text}"),
            Level::Warning => tracing::warn!("{text}"),
        }
        let show = match level {
            Level::Debug => self.debug,
            Level::Progress => self.verbose && !self.quiet,
            Level::Info => !self.quiet,
            Level::Warning => true,
        };
        if show {
            if let Ok(guard) = self.bar.lock()
                && let Some(bar) = guard.as_ref()
            {
                bar.suspend(|| println!("{text}"));
                return;
            }
            if level == Level::Warning {
                eprintln!("{text}");
            } else {
                println!("{text}");
            }
        }
    }

    fn prompt(&self, question: &Question) -> Option<String> {
        if !self.interactive || !std::io::stdin().is_terminal() {
            return None;
        }
        let mut stdout = std::io::stdout();
        let choices = if question.choices.is_empty() {
            String::new()
        } else {
            format!(" [{}]", question.choices.join("/"))
        };
        let default = question
            .default
            .as_deref()
            .map(|d| format!(" (default: {d})"))
            .unwrap_or_default();
        let _ = write!(stdout, "{}{choices}{default}: ", question.prompt);
        let _ = stdout.flush();
        let echo_off = question.secret.then(EchoOff::new).flatten();
        // Read on a thread so that a timeout (USER_INPUT_TIMEOUT) can give up waiting; the
        // reader thread then ends with the process.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::stdin().lock().read_line(&mut line);
            let _ = tx.send(read.map(|n| (n, line)));
        });
        let answer = match question.timeout {
            Some(t) => rx.recv_timeout(t).ok(),
            None => rx.recv().ok(),
        };
        drop(echo_off);
        if question.secret || answer.is_none() {
            println!();
        }
        match answer {
            Some(Ok((n, line))) if n > 0 => Some(line.trim_end_matches(['\n', '\r']).to_string()),
            _ => None,
        }
    }

    fn progress(&self, p: &Progress) {
        if self.quiet || !std::io::stdout().is_terminal() {
            return;
        }
        let Ok(mut guard) = self.bar.lock() else {
            return;
        };
        if p.finished {
            if let Some(bar) = guard.take() {
                bar.finish_and_clear();
            }
            return;
        }
        let bar = guard.get_or_insert_with(|| {
            let bar = match p.total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            let template = match (p.total.is_some(), p.bytes) {
                (true, true) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                (true, false) => "{msg} [{bar:30}] {pos}/{len} ETA {eta}",
                (false, true) => "{spinner} {msg} {bytes} {bytes_per_sec}",
                (false, false) => "{spinner} {msg} {pos}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_message(p.label.clone());
        if let Some(t) = p.total {
            bar.set_length(t);
        }
        bar.set_position(p.done);
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}

/// Turns terminal echo off while it lives (for passphrases).
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}
