//! Fixing references (device names, UUIDs) in the restored system's files.
