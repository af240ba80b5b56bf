//! Differences between the inventories of two reports of a host (the `inventory` field, written
//! by rear's inventory: `{"packages": {"status": "ok", "data": [...]}, "services": ..., ...}`).
//!
//! Packages (by name and architecture) are compared as added, removed or changed version;
//! services (systemd unit files) as added, removed or changed state; every other section is
//! compared as a whole and named when it differs (its status or its data). The collection time and
//! the schema version are not differences. A report without an inventory gives no diff at all,
//! never "everything removed".

use std::collections::BTreeMap;

use serde_json::Value;

/// What changed between an older and a newer inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryDiff {
    /// `name:arch` and version of packages only in the newer inventory.
    pub packages_added: Vec<(String, String)>,
    /// `name:arch` and version of packages only in the older inventory.
    pub packages_removed: Vec<(String, String)>,
    /// `name:arch`, old and new version of packages in both with another version.
    pub packages_changed: Vec<(String, String, String)>,
    /// Unit files only in the newer inventory, with their state.
    pub services_added: Vec<(String, String)>,
    /// Unit files only in the older inventory, with their state.
    pub services_removed: Vec<(String, String)>,
    /// Unit files in both with another state (name, old, new).
    pub services_changed: Vec<(String, String, String)>,
    /// Other sections that differ, with a short note (`data changed`, `ok -> timed-out`).
    pub sections_changed: Vec<(String, String)>,
}

impl InventoryDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Top-level keys that are not inventory content.
const NOT_CONTENT: &[&str] = &["collected_at", "schema_version"];

fn status(section: &Value) -> &str {
    section.get("status").and_then(Value::as_str).unwrap_or("")
}

/// `key -> value` of a section's list data, when the section is ok.
fn keyed(
    section: Option<&Value>,
    key: fn(&Value) -> Option<String>,
    value: &str,
) -> Option<BTreeMap<String, String>> {
    let s = section?;
    if status(s) != "ok" {
        return None;
    }
    let list = s.get("data")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|item| {
                let v = item.get(value).and_then(Value::as_str).unwrap_or("");
                Some((key(item)?, v.to_string()))
            })
            .collect(),
    )
}

fn package_key(p: &Value) -> Option<String> {
    let name = p.get("name")?.as_str()?;
    match p.get("arch").and_then(Value::as_str) {
        Some(a) if !a.is_empty() => Some(format!("{name}:{a}")),
        _ => Some(name.to_string()),
    }
}

fn unit_key(u: &Value) -> Option<String> {
    u.get("name")?.as_str().map(str::to_string)
}

type Changes = (
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<(String, String, String)>,
);

fn compare(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Changes {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (k, v) in new {
        match old.get(k) {
            None => added.push((k.clone(), v.clone())),
            Some(o) if o != v => changed.push((k.clone(), o.clone(), v.clone())),
            Some(_) => {}
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            removed.push((k.clone(), v.clone()));
        }
    }
    (added, removed, changed)
}

/// The differences from `old` to `new`; `None` when either is not an inventory object.
pub fn diff(old: &Value, new: &Value) -> Option<InventoryDiff> {
    let (old, new) = (old.as_object()?, new.as_object()?);
    let mut d = InventoryDiff::default();
    let mut handled = Vec::new();
    for (name, key, value) in [
        (
            "packages",
            package_key as fn(&Value) -> Option<String>,
            "version",
        ),
        ("services", unit_key, "state"),
    ] {
        if let (Some(o), Some(n)) = (
            keyed(old.get(name), key, value),
            keyed(new.get(name), key, value),
        ) {
            let (a, r, c) = compare(&o, &n);
            if name == "packages" {
                (d.packages_added, d.packages_removed, d.packages_changed) = (a, r, c);
            } else {
                (d.services_added, d.services_removed, d.services_changed) = (a, r, c);
            }
            handled.push(name);
        }
    }
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if NOT_CONTENT.contains(&k.as_str()) || handled.contains(&k.as_str()) {
            continue;
        }
        let note = match (old.get(k), new.get(k)) {
            (Some(o), Some(n)) if o == n => continue,
            (Some(o), Some(n)) if status(o) != status(n) => {
                format!("{} -> {}", or_none(status(o)), or_none(status(n)))
            }
            (Some(_), Some(_)) => "data changed".to_string(),
            (None, Some(_)) => "new section".to_string(),
            (Some(_), None) => "section missing".to_string(),
            (None, None) => continue,
        };
        d.sections_changed.push((k.clone(), note));
    }
    Some(d)
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv(pkgs: Value, units: Value, kernel: &str) -> Value {
        json!({
            "schema_version": 1,
            "collected_at": kernel,
            "hostname": "web1",
            "packages": {"status": "ok", "data": pkgs},
            "services": {"status": "ok", "data": units},
            "os": {"status": "ok", "data": {"kernel": kernel}},
            "network": {"status": "timed-out", "command": "ip", "after_secs": 30},
        })
    }

    #[test]
    fn packages_services_and_sections() {
        let old = inv(
            json!([{"name": "bash", "version": "5.2-1", "arch": "amd64"},
                   {"name": "nginx", "version": "1.22", "arch": "amd64"}]),
            json!([{"name": "ssh.service", "state": "enabled"},
                   {"name": "cron.service", "state": "enabled"}]),
            "6.1.0-25",
        );
        let mut new = inv(
            json!([{"name": "bash", "version": "5.2-2", "arch": "amd64"},
                   {"name": "postgresql", "version": "15", "arch": "amd64"}]),
            json!([{"name": "ssh.service", "state": "disabled"},
                   {"name": "postgresql.service", "state": "enabled"}]),
            "6.1.0-26",
        );
        new["network"] = json!({"status": "ok", "data": {}});
        let d = diff(&old, &new).unwrap();
        assert_eq!(d.packages_added, [("postgresql:amd64".into(), "15".into())]);
        assert_eq!(d.packages_removed, [("nginx:amd64".into(), "1.22".into())]);
        assert_eq!(
            d.packages_changed,
            [("bash:amd64".into(), "5.2-1".into(), "5.2-2".into())]
        );
        assert_eq!(
            d.services_added,
            [("postgresql.service".into(), "enabled".into())]
        );
        assert_eq!(
            d.services_removed,
            [("cron.service".into(), "enabled".into())]
        );
        assert_eq!(
            d.services_changed,
            [("ssh.service".into(), "enabled".into(), "disabled".into())]
        );
        assert_eq!(
            d.sections_changed,
            [
                ("network".into(), "timed-out -> ok".into()),
                ("os".into(), "data changed".into())
            ]
        );
        assert!(diff(&old, &old).unwrap().is_empty());
    }

    #[test]
    fn a_section_that_was_not_collected_is_not_everything_removed() {
        let old = inv(json!([{"name": "bash", "version": "1"}]), json!([]), "k");
        let mut new = old.clone();
        new["packages"] = json!({"status": "unavailable", "reason": "no dpkg-query"});
        let d = diff(&old, &new).unwrap();
        assert!(d.packages_removed.is_empty());
        assert_eq!(
            d.sections_changed,
            [("packages".into(), "ok -> unavailable".into())]
        );
        assert_eq!(diff(&Value::Null, &old), None);
    }
}
