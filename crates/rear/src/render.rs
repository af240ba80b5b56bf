//! Renders core results as text.

use std::fmt::Write;

use rear_core::config::LoadedConfig;
use rear_core::workflow::steps::Dump;

/// The text of `rear dump`.
pub fn dump(dump: &Dump, loaded: &LoadedConfig) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Relax-and-Recover (rear-rs) {}", rear_core::VERSION);
    let _ = writeln!(s, "\n# System definition:");
    for (k, v) in &dump.system {
        let _ = writeln!(s, "{k:<20} = {v}");
    }
    let _ = writeln!(s, "\n# Configuration files, in the order read:");
    for f in &loaded.files {
        let state = if f.read {
            if f.set.is_empty() {
                "read".to_string()
            } else {
                format!("read, sets {}", f.set.join(" "))
            }
        } else {
            "not present".to_string()
        };
        let _ = writeln!(s, "{:<40} {state}", f.path.display());
    }
    let _ = writeln!(s, "\n# Effective configuration (origin after '#'):");
    for (name, value) in &dump.values {
        let origin = loaded
            .origin
            .get(name)
            .map(String::as_str)
            .unwrap_or("default");
        let _ = writeln!(s, "{name}={value}  # {origin}");
    }
    if !loaded.unused.is_empty() {
        let _ = writeln!(s, "\n# Set in the configuration but not used by this rear:");
        for name in &loaded.unused {
            let origin = loaded.origin.get(name).map(String::as_str).unwrap_or("?");
            let _ = writeln!(s, "{name}  # {origin}");
        }
    }
    if !loaded.warnings.is_empty() {
        let _ = writeln!(s, "\n# Messages from bash while reading the configuration:");
        for w in &loaded.warnings {
            let _ = writeln!(s, "{w}");
        }
    }
    match &dump.layout_tree {
        Some((path, tree)) => {
            let _ = writeln!(s, "\n# Disk layout ({}):", path.display());
            s.push_str(tree);
            if !tree.ends_with('\n') {
                s.push('\n');
            }
        }
        None => {
            let _ = writeln!(
                s,
                "\n# Disk layout: none saved yet (run 'rear savelayout' or 'rear mkrescue')"
            );
        }
    }
    let total = dump.tools.tools.len();
    let missing: Vec<&str> = dump
        .tools
        .tools
        .iter()
        .filter(|(_, p, _)| p.is_none())
        .map(|(n, _, _)| n.as_str())
        .collect();
    let _ = writeln!(
        s,
        "\n# Tools: {} of {total} installed",
        total - missing.len()
    );
    if !missing.is_empty() {
        let _ = writeln!(s, "not installed: {}", missing.join(" "));
    }
    s
}
