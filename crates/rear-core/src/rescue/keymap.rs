//! The console keyboard map of the rescue system (ReaR's `KEYMAP`).
//!
//! Contract: at build time [`install_keymap`] puts one keymap into the stage and writes its path
//! in the rescue system to [`KEYMAP_POINTER`]; at boot [`load_keymap`] (called by the init) runs
//! `loadkeys` on it. The keymap comes from:
//! - `KEYMAP` naming a file (an absolute path): copied as [`KEYMAP_FILE`];
//! - `KEYMAP` naming a kbd or console-data keymap (`de-latin1`, found as `NAME.map[.gz]` or
//!   `NAME.kmap[.gz]` below `/usr/share/keymaps` or `/usr/share/kbd/keymaps`): that keymap tree is
//!   copied (keymaps `include` their neighbours) and the file loaded from it;
//! - `KEYMAP` naming an XKB layout (`de`, `de:nodeadkeys`, `fr(azerty)`): compiled to a
//!   self-contained console keymap with `ckbcomp` (Debian's console-setup);
//! - unset: the host's console keyboard from `/etc/default/keyboard` (`XKBMODEL`, `XKBLAYOUT`,
//!   `XKBVARIANT`, `XKBOPTIONS`, as console-setup does at boot), compiled with `ckbcomp`.
//!
//! ReaR dumps the host's loaded keymap with `dumpkeys`, which needs a console; `ckbcomp` reads
//! the same settings console-setup loads at boot and works without one (in a container, over
//! ssh). When neither `KEYMAP` nor `/etc/default/keyboard` give a layout, the kernel's built-in
//! (US) map stays.

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::copy::Stage;
use crate::{Error, Result};

/// A keymap file given by `KEYMAP` or compiled by `ckbcomp`, in the rescue system.
pub const KEYMAP_FILE: &str = "/etc/rear/keymap.map";
/// One line: the rescue-system path of the keymap the init loads.
pub const KEYMAP_POINTER: &str = "/etc/rear/keymap";
/// Where kbd and console-data keep named keymaps.
pub const KEYMAP_DIRS: &[&str] = &["/usr/share/keymaps", "/usr/share/kbd/keymaps"];

/// Which keymap the rescue system loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeymapChoice {
    /// The host's console keyboard (`/etc/default/keyboard`).
    Host,
    /// `KEYMAP`: a file path, a kbd keymap name or an XKB layout.
    Named(String),
    /// None: the kernel's built-in map.
    None,
}

impl KeymapChoice {
    /// Maps `KEYMAP` (unset or empty: the host's).
    pub fn from_config(config: &crate::config::Config) -> Self {
        match config.get_string("KEYMAP") {
            Some(k) if !k.trim().is_empty() => KeymapChoice::Named(k.trim().to_string()),
            _ => KeymapChoice::Host,
        }
    }
}

/// The XKB settings of `/etc/default/keyboard`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XkbSettings {
    /// `XKBMODEL` (`pc105`).
    pub model: String,
    /// `XKBLAYOUT` (`de`, or `us,de`: the first is used on the console).
    pub layout: String,
    /// `XKBVARIANT`.
    pub variant: String,
    /// `XKBOPTIONS`.
    pub options: String,
}

/// Parses `/etc/default/keyboard` (shell assignments, values optionally quoted).
pub fn parse_default_keyboard(text: &str) -> XkbSettings {
    let mut s = XkbSettings::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "XKBMODEL" => s.model = v,
            "XKBLAYOUT" => s.layout = v,
            "XKBVARIANT" => s.variant = v,
            "XKBOPTIONS" => s.options = v,
            _ => {}
        }
    }
    s
}

/// `ckbcomp` arguments for the settings (the first layout and variant of comma lists).
pub fn ckbcomp_args(s: &XkbSettings) -> Vec<String> {
    let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_string();
    let mut a = Vec::new();
    for (flag, v) in [
        ("-model", s.model.clone()),
        ("-layout", first(&s.layout)),
        ("-variant", first(&s.variant)),
        ("-option", s.options.clone()),
    ] {
        if !v.is_empty() {
            a.push(flag.to_string());
            a.push(v);
        }
    }
    a
}

/// An XKB name as `KEYMAP` may give it: `de`, `de:nodeadkeys`, `de(nodeadkeys)`.
pub fn xkb_from_name(name: &str) -> XkbSettings {
    let (layout, variant) = if let Some((l, v)) = name.split_once(':') {
        (l, v)
    } else if let Some((l, v)) = name.strip_suffix(')').and_then(|n| n.split_once('(')) {
        (l, v)
    } else {
        (name, "")
    };
    XkbSettings {
        layout: layout.to_string(),
        variant: variant.to_string(),
        ..XkbSettings::default()
    }
}

/// A kbd/console-data keymap named `name` below one of `dirs`: (the keymap tree, the file).
pub fn find_named_keymap(dirs: &[&Path], name: &str) -> Option<(PathBuf, PathBuf)> {
    let wanted: Vec<String> = ["map", "map.gz", "kmap", "kmap.gz"]
        .iter()
        .map(|e| format!("{name}.{e}"))
        .collect();
    for d in dirs {
        let found = walkdir::WalkDir::new(d)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_type().is_file() && wanted.iter().any(|w| e.file_name() == w.as_str())
            });
        if let Some(e) = found {
            return Some((d.to_path_buf(), e.path().to_path_buf()));
        }
    }
    None
}

fn ckbcomp(s: &XkbSettings, runner: &dyn Runner) -> Result<Vec<u8>> {
    let out = Cmd::probe(tools::CKBCOMP)
        .args(ckbcomp_args(s))
        .describe(format!(
            "compiling the console keymap for XKB layout '{}'",
            s.layout
        ))
        .run(runner)?;
    if out.stdout.is_empty() {
        return Err(Error::invalid(
            format!("keyboard layout '{}'", s.layout),
            "ckbcomp wrote no keymap",
        ));
    }
    Ok(out.stdout)
}

/// Puts the chosen keymap into the stage (see the module documentation). Returns a description
/// (`"XKB de"`, `"/usr/share/keymaps/i386/qwertz/de-latin1.kmap.gz"`) or `None` when there is
/// nothing to load.
///
/// # Errors
/// A `KEYMAP` that is neither a file, nor a known keymap, nor a layout `ckbcomp` knows.
pub fn install_keymap(
    choice: &KeymapChoice,
    stage: &mut Stage,
    runner: &dyn Runner,
) -> Result<Option<String>> {
    let (path, desc) = match choice {
        KeymapChoice::None => return Ok(None),
        KeymapChoice::Host => {
            let text = std::fs::read_to_string("/etc/default/keyboard").unwrap_or_default();
            let s = parse_default_keyboard(&text);
            if s.layout.is_empty() {
                return Ok(None);
            }
            if tools::CKBCOMP.resolve().is_none() {
                tracing::warn!(
                    "the host's keyboard layout '{}' is not put into the rescue system: ckbcomp \
                     (package console-setup) is missing; set KEYMAP to a keymap file",
                    s.layout
                );
                return Ok(None);
            }
            let map = ckbcomp(&s, runner)?;
            stage.write(Path::new(KEYMAP_FILE), &map, 0o644)?;
            (
                KEYMAP_FILE.to_string(),
                format!("XKB {}", ckbcomp_args(&s).join(" ")),
            )
        }
        KeymapChoice::Named(name) if name.starts_with('/') => {
            let data = std::fs::read(name).map_err(|e| Error::io("reading KEYMAP", name, e))?;
            let dest = if name.ends_with(".gz") {
                format!("{KEYMAP_FILE}.gz")
            } else {
                KEYMAP_FILE.to_string()
            };
            stage.write(Path::new(&dest), &data, 0o644)?;
            (dest, name.clone())
        }
        KeymapChoice::Named(name) => {
            let dirs: Vec<&Path> = KEYMAP_DIRS.iter().map(Path::new).collect();
            if let Some((tree, file)) = find_named_keymap(&dirs, name) {
                stage.copy_tree(&tree, &[])?;
                let f = file.display().to_string();
                (f.clone(), f)
            } else {
                let s = xkb_from_name(name);
                let map = ckbcomp(&s, runner).map_err(|e| {
                    Error::invalid(
                        format!("KEYMAP={name}"),
                        format!(
                            "no keymap file or kbd keymap of that name, and not an XKB layout \
                             ckbcomp knows ({e})"
                        ),
                    )
                })?;
                stage.write(Path::new(KEYMAP_FILE), &map, 0o644)?;
                (KEYMAP_FILE.to_string(), format!("XKB {name}"))
            }
        }
    };
    stage.write(
        Path::new(KEYMAP_POINTER),
        format!("{path}\n").as_bytes(),
        0o644,
    )?;
    Ok(Some(desc))
}

/// Loads the keymap named in [`KEYMAP_POINTER`] with `loadkeys` (at boot). `Ok(None)`: there is
/// none.
pub fn load_keymap(runner: &dyn Runner) -> Result<Option<String>> {
    let Ok(p) = std::fs::read_to_string(KEYMAP_POINTER) else {
        return Ok(None);
    };
    let p = p.trim().to_string();
    if p.is_empty() {
        return Ok(None);
    }
    Cmd::mutate(tools::LOADKEYS)
        .args(["-q", &p])
        .describe("loading the keyboard map")
        .run(runner)?;
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keyboard_file_and_ckbcomp_args() {
        // /etc/default/keyboard as Debian's keyboard-configuration writes it
        let text = "# KEYBOARD CONFIGURATION FILE\n\n# Consult the keyboard(5) manual page.\n\n\
                    XKBMODEL=\"pc105\"\nXKBLAYOUT=\"de,us\"\nXKBVARIANT=\"nodeadkeys,\"\n\
                    XKBOPTIONS=\"\"\n\nBACKSPACE=\"guess\"\n";
        let s = parse_default_keyboard(text);
        assert_eq!(s.layout, "de,us");
        assert_eq!(
            ckbcomp_args(&s),
            vec!["-model", "pc105", "-layout", "de", "-variant", "nodeadkeys"]
        );
    }

    #[test]
    fn keymap_names() {
        assert_eq!(xkb_from_name("de:nodeadkeys").variant, "nodeadkeys");
        assert_eq!(xkb_from_name("fr(azerty)").layout, "fr");
        assert_eq!(xkb_from_name("fr(azerty)").variant, "azerty");
        assert_eq!(xkb_from_name("us").variant, "");
    }

    #[test]
    fn named_keymaps_are_found_in_their_tree() {
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("i386/qwertz");
        std::fs::create_dir_all(&q).unwrap();
        std::fs::write(q.join("de-latin1.kmap.gz"), b"x").unwrap();
        std::fs::write(q.join("de.kmap.gz"), b"x").unwrap();
        let (tree, f) = find_named_keymap(&[d.path()], "de-latin1").unwrap();
        assert_eq!(tree, d.path());
        assert_eq!(f, q.join("de-latin1.kmap.gz"));
        assert!(find_named_keymap(&[d.path()], "fr").is_none());
    }
}
