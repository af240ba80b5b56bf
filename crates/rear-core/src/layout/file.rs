//! The rear-rs layout file: one component per line, `keyword key=value ...`, documented in
//! `docs/layout.md`.
//!
//! Contract:
//! - [`write`](fn@write) produces the canonical text of a [`Layout`]; [`read`] parses it back, so that
//!   `write(read(text)) == text` for any canonical text, and `read(write(l)) == l` for any
//!   layout. Comment lines are kept with the component that follows them.
//! - [`read`] accepts what a person may do in vi: extra blanks, fields in any order, blank
//!   lines, comments. It rejects anything it does not understand (an unknown keyword or field,
//!   a bad number, a missing required field, a reference to a component that does not exist, a
//!   dependency cycle, a newer format version) with an error that names the file and the line.

use std::path::Path;

use super::fields::{Fields, Record};
use super::model::{
    Bootloader, BtrfsMount, BtrfsSubvol, Component, Crypt, Disk, EfiEntry, Entry, FORMAT_VERSION,
    Filesystem, Foreign, Header, Layout, Lv, Multipath, Partition, Pv, Raid, Swap, Vg,
};
use crate::{Error, Result};

/// Where `rear savelayout` writes the layout.
pub const DEFAULT_PATH: &str = "/var/lib/rear/layout/layout.conf";

/// The key that marks an excluded component.
const EXCLUDED_KEY: &str = "excluded";

fn line_of<R: Record>(record: &R, excluded: Option<&str>) -> String {
    let mut line = R::KEYWORD.to_string();
    for (k, v) in record.to_fields() {
        line.push(' ');
        line.push_str(k);
        line.push('=');
        line.push_str(&v);
    }
    if let Some(reason) = excluded {
        line.push_str(&format!(
            " {EXCLUDED_KEY}={}",
            super::fields::escape(reason, &[])
        ));
    }
    line
}

/// The line for one component (without comments).
pub fn component_line(component: &Component, excluded: Option<&str>) -> String {
    match component {
        Component::Disk(c) => line_of(c, excluded),
        Component::Partition(c) => line_of(c, excluded),
        Component::Raid(c) => line_of(c, excluded),
        Component::Multipath(c) => line_of(c, excluded),
        Component::Crypt(c) => line_of(c, excluded),
        Component::Pv(c) => line_of(c, excluded),
        Component::Vg(c) => line_of(c, excluded),
        Component::Lv(c) => line_of(c, excluded),
        Component::Filesystem(c) => line_of(c, excluded),
        Component::BtrfsSubvol(c) => line_of(c, excluded),
        Component::BtrfsMount(c) => line_of(c, excluded),
        Component::Swap(c) => line_of(c, excluded),
        Component::Bootloader(c) => line_of(c, excluded),
        Component::EfiEntry(c) => line_of(c, excluded),
        Component::Foreign(c) => line_of(c, excluded),
    }
}

/// Writes the canonical text of a layout. A blank line separates groups of different keywords.
pub fn write(layout: &Layout) -> String {
    let mut out = line_of(&layout.header, None);
    out.push('\n');
    let mut last_kw = "";
    for entry in &layout.entries {
        let kw = entry.component.keyword();
        if kw != last_kw {
            out.push('\n');
            last_kw = kw;
        }
        for c in &entry.comments {
            out.push('#');
            out.push_str(c);
            out.push('\n');
        }
        out.push_str(&component_line(&entry.component, entry.excluded.as_deref()));
        out.push('\n');
    }
    if !layout.trailing_comments.is_empty() {
        out.push('\n');
        for c in &layout.trailing_comments {
            out.push('#');
            out.push_str(c);
            out.push('\n');
        }
    }
    out
}

/// Every keyword [`read`] understands, for error messages.
pub const KEYWORDS: &[&str] = &[
    Header::KEYWORD,
    Disk::KEYWORD,
    Partition::KEYWORD,
    Raid::KEYWORD,
    Multipath::KEYWORD,
    Crypt::KEYWORD,
    Pv::KEYWORD,
    Vg::KEYWORD,
    Lv::KEYWORD,
    Filesystem::KEYWORD,
    BtrfsSubvol::KEYWORD,
    BtrfsMount::KEYWORD,
    Swap::KEYWORD,
    Bootloader::KEYWORD,
    EfiEntry::KEYWORD,
    Foreign::KEYWORD,
];

fn build<R: Record>(fields: &mut Fields, wrap: fn(R) -> Component) -> Result<Component, String> {
    R::from_fields(fields).map(wrap)
}

/// Parses one component line (`keyword key=value ...`). Returns the component and the exclusion
/// reason.
pub fn parse_component_line(line: &str) -> Result<(Component, Option<String>), String> {
    let mut words = line.split_whitespace();
    let keyword = words.next().ok_or("empty line")?;
    let mut fields = Fields::parse(words)?;
    let excluded: Option<String> = fields.take(EXCLUDED_KEY)?;
    let component = match keyword {
        "disk" => build(&mut fields, Component::Disk),
        "part" => build(&mut fields, Component::Partition),
        "raid" => build(&mut fields, Component::Raid),
        "multipath" => build(&mut fields, Component::Multipath),
        "crypt" => build(&mut fields, Component::Crypt),
        "pv" => build(&mut fields, Component::Pv),
        "vg" => build(&mut fields, Component::Vg),
        "lv" => build(&mut fields, Component::Lv),
        "fs" => build(&mut fields, Component::Filesystem),
        "subvol" => build(&mut fields, Component::BtrfsSubvol),
        "btrfsmount" => build(&mut fields, Component::BtrfsMount),
        "swap" => build(&mut fields, Component::Swap),
        "bootloader" => build(&mut fields, Component::Bootloader),
        "efientry" => build(&mut fields, Component::EfiEntry),
        "foreign" => build(&mut fields, Component::Foreign),
        "layout" => return Err("the 'layout' header line may appear only once, first".into()),
        other => {
            return Err(format!(
                "unknown keyword '{other}' (known: {})",
                KEYWORDS.join(", ")
            ));
        }
    }?;
    let left = fields.leftover();
    if !left.is_empty() {
        return Err(format!(
            "unknown field(s) for '{keyword}': {}",
            left.join(", ")
        ));
    }
    Ok((component, excluded))
}

/// Parses a layout file. `file` is used in error messages only.
///
/// # Errors
/// [`Error::Invalid`] whose `what` is `<file>:<line>` for the first line that cannot be read,
/// and for a reference to a missing component, a duplicate ID or a dependency cycle (the line of
/// the component involved).
pub fn read(text: &str, file: &Path) -> Result<Layout> {
    let at = |line: usize, message: String| Error::Invalid {
        what: format!("{}:{line}", file.display()),
        message,
    };
    let mut header: Option<Header> = None;
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    let mut comments = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(c) = raw.strip_prefix('#') {
            comments.push(c.to_string());
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            comments.push(c.to_string());
            continue;
        }
        if header.is_none() {
            let mut words = trimmed.split_whitespace();
            if words.next() != Some(Header::KEYWORD) {
                return Err(at(
                    n,
                    "the first line must be the header 'layout version=N' (is this a rear-rs layout file? ReaR's disklayout.conf is read with 'rear layout import --format rear')".into(),
                ));
            }
            let h = Fields::parse(words)
                .and_then(|mut f| {
                    let h = Header::from_fields(&mut f)?;
                    match f.leftover().as_slice() {
                        [] => Ok(h),
                        left => Err(format!(
                            "unknown field(s) for 'layout': {}",
                            left.join(", ")
                        )),
                    }
                })
                .map_err(|e| at(n, e))?;
            if h.version > FORMAT_VERSION {
                return Err(at(
                    n,
                    format!(
                        "layout format version {} is newer than this rear understands ({FORMAT_VERSION})",
                        h.version
                    ),
                ));
            }
            header = Some(h);
            // comments above the header are kept with the first component
            continue;
        }
        let (component, excluded) = parse_component_line(trimmed).map_err(|e| at(n, e))?;
        entries.push(Entry {
            component,
            excluded,
            comments: std::mem::take(&mut comments),
        });
        lines.push(n);
    }
    let Some(header) = header else {
        return Err(at(
            text.lines().count().max(1),
            "no 'layout version=N' header line".into(),
        ));
    };
    let layout = Layout {
        header,
        entries,
        trailing_comments: comments,
    };
    if let Some(p) = layout.validate().into_iter().next() {
        return Err(at(lines[p.entry], p.message));
    }
    Ok(layout)
}

/// Reads and parses a layout file.
pub fn load(path: &Path) -> Result<Layout> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    read(&text, path)
}

/// Writes a layout file, creating its directory, through a temporary file renamed into place so
/// that a crash never leaves half a layout.
pub fn save(layout: &Layout, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating directory", dir, e))?;
    }
    let tmp = path.with_extension("conf.tmp");
    std::fs::write(&tmp, write(layout)).map_err(|e| Error::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into place", path, e))
}
