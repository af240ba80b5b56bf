//! The terminal implementation of rear-core's [`Ui`]: messages to stdout/stderr by verbosity,
//! prompts on the terminal.

use std::io::{BufRead, IsTerminal, Write};

use rear_core::ui::{Level, Question, Ui};

/// Prints messages according to -v/-q/-d and asks on the terminal.
#[derive(Debug)]
pub struct TermUi {
    pub verbose: bool,
    pub quiet: bool,
    pub debug: bool,
    pub interactive: bool,
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
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        drop(echo_off);
        if question.secret {
            println!();
        }
        match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
        }
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
