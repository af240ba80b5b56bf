//! Built-in defaults (placeholder, filled in by the foundation work).
/// A built-in default.
pub struct Default;
/// Built-in defaults.
pub const DEFAULTS: &[Default] = &[];
/// Variables whose values are masked in logs and `rear dump`.
pub const SECRET_VARIABLES: &[&str] = &[];
/// Whether rear uses this variable.
pub fn is_known_variable(_name: &str) -> bool {
    false
}
