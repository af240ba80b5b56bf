//! Comparing two layouts, for `rear checklayout`.
//!
//! Contract: [`diff`] matches components by ID and reports every component that was added,
//! removed, changed or whose exclusion changed, with the fields that differ. Each [`Change`]
//! says whether it matters for recovery ([`Change::matters`]): descriptive values (disk model,
//! serial, WWN, transport) and the EFI boot manager's volatile state (BootOrder position,
//! BootCurrent, active flag) do not; anything that changes what recovery would recreate does.
//! `checklayout` exits 1 when any change matters (ReaR's cron contract).

use std::collections::HashMap;

use super::file::component_line;
use super::model::{Component, Layout};

/// What happened to a component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// It is new.
    Added,
    /// It is gone.
    Removed,
    /// Some of its fields changed.
    Modified,
    /// It became excluded, or included again.
    Exclusion,
}

/// One differing field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    /// The field key as in the layout file.
    pub key: String,
    /// The old value (`None` when absent).
    pub old: Option<String>,
    /// The new value (`None` when absent).
    pub new: Option<String>,
    /// Whether this field matters for recovery.
    pub matters: bool,
}

/// A change between the saved and the current layout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The component ID.
    pub id: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The fields that changed (for [`ChangeKind::Modified`]), or the exclusion reasons.
    pub fields: Vec<FieldChange>,
    /// Whether the change matters for recovery.
    pub matters: bool,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = if self.matters {
            ""
        } else {
            " (does not matter for recovery)"
        };
        match self.kind {
            ChangeKind::Added => write!(f, "added: {}{tag}", self.id),
            ChangeKind::Removed => write!(f, "removed: {}{tag}", self.id),
            ChangeKind::Exclusion | ChangeKind::Modified => {
                let what = if self.kind == ChangeKind::Exclusion {
                    "exclusion changed"
                } else {
                    "changed"
                };
                write!(f, "{what}: {}{tag}", self.id)?;
                for c in &self.fields {
                    write!(
                        f,
                        "\n    {}: {} -> {}",
                        c.key,
                        c.old.as_deref().unwrap_or("(none)"),
                        c.new.as_deref().unwrap_or("(none)")
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Fields that describe a component but do not change how it is recreated.
fn field_matters(c: &Component, key: &str) -> bool {
    match c {
        Component::Disk(_) => !matches!(key, "model" | "serial" | "wwn" | "tran" | "removable"),
        Component::EfiEntry(_) => !matches!(key, "order" | "current" | "active"),
        _ => true,
    }
}

fn fields_of(c: &Component) -> Vec<(String, String)> {
    // the canonical line is "keyword k=v ..."; reuse it so that every field is compared
    component_line(c, None)
        .split_whitespace()
        .skip(1)
        .filter_map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Compares the saved layout `old` with the current layout `new`.
pub fn diff(old: &Layout, new: &Layout) -> Vec<Change> {
    let index = |l: &Layout| -> HashMap<String, usize> {
        l.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.component.id(), i))
            .collect()
    };
    let (old_ix, new_ix) = (index(old), index(new));
    let mut changes = Vec::new();
    for e in &old.entries {
        let id = e.component.id();
        let Some(&j) = new_ix.get(&id) else {
            let matters = e.excluded.is_none() && !matches!(e.component, Component::EfiEntry(_));
            changes.push(Change {
                id,
                kind: ChangeKind::Removed,
                fields: Vec::new(),
                matters,
            });
            continue;
        };
        let n = &new.entries[j];
        if e.excluded != n.excluded {
            changes.push(Change {
                id: id.clone(),
                kind: ChangeKind::Exclusion,
                fields: vec![FieldChange {
                    key: "excluded".into(),
                    old: e.excluded.clone(),
                    new: n.excluded.clone(),
                    matters: true,
                }],
                matters: true,
            });
        }
        if e.component != n.component {
            let a = fields_of(&e.component);
            let b = fields_of(&n.component);
            let mut keys: Vec<&String> = a.iter().chain(b.iter()).map(|(k, _)| k).collect();
            keys.dedup();
            let mut seen = Vec::new();
            let mut fields = Vec::new();
            for k in keys {
                if seen.contains(&k) {
                    continue;
                }
                seen.push(k);
                let ov = a.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
                let nv = b.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
                if ov != nv {
                    fields.push(FieldChange {
                        key: k.clone(),
                        old: ov,
                        new: nv,
                        matters: field_matters(&e.component, k),
                    });
                }
            }
            // a change to an excluded component does not matter for recovery
            let matters = n.excluded.is_none() && fields.iter().any(|f| f.matters);
            changes.push(Change {
                id,
                kind: ChangeKind::Modified,
                fields,
                matters,
            });
        }
    }
    for e in &new.entries {
        let id = e.component.id();
        if !old_ix.contains_key(&id) {
            let matters = e.excluded.is_none() && !matches!(e.component, Component::EfiEntry(_));
            changes.push(Change {
                id,
                kind: ChangeKind::Added,
                fields: Vec::new(),
                matters,
            });
        }
    }
    changes
}

/// True when any change matters for recovery (`checklayout` then exits 1).
pub fn matters(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.matters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::model::{Disk, Filesystem, FsType, PartTable, Partition};

    fn base() -> Layout {
        let mut l = Layout::new();
        l.push(Component::Disk(Disk {
            dev: "/dev/sda".into(),
            size: 10 << 30,
            table: PartTable::Gpt,
            serial: Some("A1".into()),
            ..Disk::default()
        }));
        l.push(Component::Partition(Partition {
            dev: "/dev/sda1".into(),
            disk: "/dev/sda".into(),
            number: 1,
            start: 1 << 20,
            size: 5 << 30,
            ..Partition::default()
        }));
        l.push(Component::Filesystem(Filesystem {
            dev: "/dev/sda1".into(),
            fstype: FsType::Ext4,
            mountpoint: Some("/".into()),
            uuid: Some("u1".into()),
            ..Filesystem::default()
        }));
        l
    }

    #[test]
    fn identical_layouts_have_no_changes() {
        assert!(diff(&base(), &base()).is_empty());
    }

    #[test]
    fn resized_partition_matters_serial_does_not() {
        let mut new = base();
        if let Component::Partition(p) = &mut new.entries[1].component {
            p.size = 6 << 30;
        }
        if let Component::Disk(d) = &mut new.entries[0].component {
            d.serial = Some("B2".into());
        }
        let ch = diff(&base(), &new);
        assert_eq!(ch.len(), 2);
        assert!(!ch[0].matters, "{}", ch[0]);
        assert!(ch[1].matters);
        assert_eq!(ch[1].fields[0].key, "size");
        assert!(matters(&ch));
        assert!(ch[1].to_string().contains("size: 5368709120 -> 6442450944"));
    }

    #[test]
    fn added_removed_and_exclusion() {
        let mut new = base();
        new.entries[2].excluded = Some("EXCLUDE_MOUNTPOINTS=/".into());
        new.push(Component::Filesystem(Filesystem {
            dev: "/dev/sda2".into(),
            fstype: FsType::Xfs,
            mountpoint: Some("/srv".into()),
            ..Filesystem::default()
        }));
        let mut old = base();
        old.push(Component::Filesystem(Filesystem {
            dev: "/dev/sda3".into(),
            fstype: FsType::Xfs,
            mountpoint: Some("/old".into()),
            ..Filesystem::default()
        }));
        let ch = diff(&old, &new);
        let kinds: Vec<_> = ch.iter().map(|c| (c.id.as_str(), c.kind.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("fs:/", ChangeKind::Exclusion),
                ("fs:/old", ChangeKind::Removed),
                ("fs:/srv", ChangeKind::Added)
            ]
        );
    }
}
