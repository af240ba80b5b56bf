//! ReaR-compatible configuration.
//!
//! ReaR's configuration files are bash. To load real files exactly as ReaR does, rear lets bash
//! source them (see [`load`]) and reads the typed result back from `declare -p`. The result is a
//! [`Config`]: a map of variable names to strings or arrays, with typed accessors
//! (`config.backup_url()`) so that the rest of rear never parses strings itself.

mod defaults;
mod load;
mod typed;
mod value;

pub use defaults::{
    DEFAULTS, Default as ConfigDefault, SECRET_VARIABLES, defaults_as_bash, is_known_variable,
    is_secret,
};
pub use load::{LoadOptions, LoadedConfig, SourcedFile, load};
pub use typed::*;
pub use value::{Config, Value, parse_declare_p};
