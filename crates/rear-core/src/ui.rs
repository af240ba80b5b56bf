//! The narrow interface through which the library talks to the user.
//!
//! The library never prints. It sends progress messages and questions through a [`Ui`], which
//! the `rear` binary implements for a terminal (and tests implement to capture). Every question
//! has a stable ID; [`ask`] answers it from `USER_INPUT_<ID>` in the configuration first, then
//! from the default when the run is non-interactive, and only then asks the user.

use crate::{Error, Result};

/// How important a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Details for the log only (shown on the terminal with `-d`).
    Debug,
    /// Progress, shown with `-v` (ReaR's `LogPrint` with verbose).
    Progress,
    /// Shown unless `-q` (ReaR's `LogPrint`).
    Info,
    /// Something the user should know even with `-q`.
    Warning,
}

/// A question to the user.
#[derive(Debug, Clone)]
pub struct Question {
    /// Stable ID, answered ahead of time by `USER_INPUT_<ID>`.
    pub id: String,
    /// The prompt text.
    pub prompt: String,
    /// Allowed answers, if the answer is a choice; empty for free text.
    pub choices: Vec<String>,
    /// The answer used when nobody answers (non-interactive, or a timeout).
    pub default: Option<String>,
    /// Whether the typed answer must not be echoed or logged (passphrases).
    pub secret: bool,
}

impl Question {
    /// A question with free-text answer.
    pub fn new(id: impl Into<String>, prompt: impl Into<String>) -> Self {
        Question {
            id: id.into(),
            prompt: prompt.into(),
            choices: Vec::new(),
            default: None,
            secret: false,
        }
    }

    /// Restricts the answer to `choices`.
    pub fn choices<I: IntoIterator<Item = S>, S: Into<String>>(mut self, choices: I) -> Self {
        self.choices = choices.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the default answer.
    pub fn default_answer(mut self, answer: impl Into<String>) -> Self {
        self.default = Some(answer.into());
        self
    }

    /// Marks the answer as secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// What the library needs from a front end.
pub trait Ui: Send + Sync {
    /// Shows (and logs) a message.
    fn message(&self, level: Level, text: &str);

    /// Asks the user. Returns `None` when nobody can answer (no terminal).
    fn prompt(&self, question: &Question) -> Option<String>;

    /// Whether the front end may ask at all (false with `-n` or `unattended`).
    fn interactive(&self) -> bool;
}

/// Answers `question`: from `USER_INPUT_<ID>` in `config`, else the default when the run is not
/// interactive, else by asking through `ui`. An answer outside the allowed choices is asked again
/// (interactive) or is an error (pre-answered).
///
/// # Errors
/// When no answer can be had, or a pre-answer is not one of the choices.
pub fn ask(ui: &dyn Ui, config: &crate::config::Config, question: &Question) -> Result<String> {
    let var = format!("USER_INPUT_{}", question.id);
    if let Some(pre) = config.get_string(&var) {
        if !question.choices.is_empty() && !question.choices.contains(&pre) {
            return Err(Error::invalid(
                var,
                format!("'{pre}' is not one of: {}", question.choices.join(", ")),
            ));
        }
        let shown = if question.secret { "<secret>" } else { pre.as_str() };
        tracing::info!("prompt {} answered by {var}: {shown}", question.id);
        return Ok(pre);
    }
    if !ui.interactive() {
        return question.default.clone().ok_or_else(|| {
            Error::invalid(
                format!("prompt {}", question.id),
                format!("needs an answer in a non-interactive run: set {var} in the configuration"),
            )
        });
    }
    for _ in 0..3 {
        match ui.prompt(question) {
            None => break,
            Some(answer) if answer.is_empty() && question.default.is_some() => {
                return Ok(question.default.clone().unwrap_or_default());
            }
            Some(answer) if question.choices.is_empty() || question.choices.contains(&answer) => {
                return Ok(answer);
            }
            Some(answer) => ui.message(
                Level::Warning,
                &format!("'{answer}' is not one of: {}", question.choices.join(", ")),
            ),
        }
    }
    question.default.clone().ok_or_else(|| Error::Aborted { id: question.id.clone() })
}

/// A [`Ui`] that records messages and answers prompts from a list, for tests and for callers
/// that want no terminal at all.
#[derive(Debug, Default)]
pub struct RecordingUi {
    messages: std::sync::Mutex<Vec<(Level, String)>>,
    answers: std::sync::Mutex<Vec<String>>,
    interactive: bool,
}

impl RecordingUi {
    /// A non-interactive recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An interactive recorder that answers prompts with `answers`, in order.
    pub fn answering<I: IntoIterator<Item = S>, S: Into<String>>(answers: I) -> Self {
        let mut answers: Vec<String> = answers.into_iter().map(Into::into).collect();
        answers.reverse();
        RecordingUi { answers: std::sync::Mutex::new(answers), interactive: true, ..Self::default() }
    }

    /// The messages so far.
    pub fn messages(&self) -> Vec<(Level, String)> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Ui for RecordingUi {
    fn message(&self, level: Level, text: &str) {
        if let Ok(mut m) = self.messages.lock() {
            m.push((level, text.to_string()));
        }
    }

    fn prompt(&self, _question: &Question) -> Option<String> {
        self.answers.lock().ok().and_then(|mut a| a.pop())
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}
