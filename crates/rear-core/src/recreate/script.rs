//! Rendering a [`Plan`] as a bash script (ReaR's `diskrestore.sh`): one function per step,
//! each guarded by the step's done check and a marker file, so that the script can be edited
//! and run again after a failure.

use std::fmt::Write as _;

use super::{DoneCheck, Plan};

/// A name safe for a file and a bash function: `disk:/dev/sda` → `disk__dev_sda`.
pub fn state_key(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn q(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

/// The done check as a bash condition.
pub fn check_condition(check: &DoneCheck) -> String {
    match check {
        DoneCheck::Recorded => "false".into(),
        DoneCheck::PartitionTable {
            disk, label, id, ..
        } => match id {
            Some(id) => format!(
                "sfdisk --dump {} 2>/dev/null | grep -qix {}",
                q(disk),
                q(&format!("label-id: {id}"))
            ),
            None => format!(
                "sfdisk --dump {} 2>/dev/null | grep -qx {}",
                q(disk),
                q(&format!("label: {label}"))
            ),
        },
        DoneCheck::Signature { dev, fstype, uuid } => {
            let t = format!(
                "[ \"$(blkid -p -s TYPE -o value {} 2>/dev/null)\" = {} ]",
                q(dev),
                q(fstype)
            );
            match uuid {
                Some(u) => format!(
                    "{t} && [ \"$(blkid -p -s UUID -o value {} 2>/dev/null)\" = {} ]",
                    q(dev),
                    q(u)
                ),
                None => t,
            }
        }
        DoneCheck::MdArray { dev, uuid } => match uuid {
            Some(u) => format!(
                "mdadm --detail --export {} 2>/dev/null | grep -qix {}",
                q(dev),
                q(&format!("MD_UUID={u}"))
            ),
            None => format!("mdadm --detail {} >/dev/null 2>&1", q(dev)),
        },
        DoneCheck::CryptOpen { name } => format!("cryptsetup status {} >/dev/null 2>&1", q(name)),
        DoneCheck::Vg { name } => format!("lvm vgs {} >/dev/null 2>&1", q(name)),
        DoneCheck::Lv { vg, name } => {
            format!("lvm lvs {} >/dev/null 2>&1", q(&format!("{vg}/{name}")))
        }
        DoneCheck::Mounted { target } => {
            format!("findmnt --mountpoint {} >/dev/null 2>&1", q(target))
        }
    }
}

/// The done check in words.
pub fn describe_check(check: &DoneCheck) -> String {
    match check {
        DoneCheck::Recorded => "recorded as done in the state file".into(),
        DoneCheck::PartitionTable {
            disk,
            label,
            id,
            partitions,
        } => format!(
            "{disk} has a {label} partition table{} with {} partition(s) at the planned places",
            id.as_deref()
                .map(|i| format!(" with id {i}"))
                .unwrap_or_default(),
            partitions.len()
        ),
        DoneCheck::Signature { dev, fstype, uuid } => format!(
            "{dev} holds {fstype}{}",
            uuid.as_deref()
                .map(|u| format!(" with UUID {u}"))
                .unwrap_or_default()
        ),
        DoneCheck::MdArray { dev, uuid } => format!(
            "md array {dev} runs{}",
            uuid.as_deref()
                .map(|u| format!(" with UUID {u}"))
                .unwrap_or_default()
        ),
        DoneCheck::CryptOpen { name } => format!("/dev/mapper/{name} is open"),
        DoneCheck::Vg { name } => format!("volume group {name} exists"),
        DoneCheck::Lv { vg, name } => format!("logical volume {vg}/{name} exists"),
        DoneCheck::Mounted { target } => format!("something is mounted on {target}"),
    }
}

const HEADER: &str = r#"#!/bin/bash
# Disk layout recreation script written by rear-rs from the recovery plan.
#
# Review and edit it, then run it with bash. It is idempotent: each step first checks whether
# its result already exists (and whether it was recorded as done in $STATE_DIR), so after a
# failure it can be fixed and run again. Only the devices listed below are written to.
set -e -o pipefail

STATE_DIR=${STATE_DIR:-/var/lib/rear/recreate-state}
mkdir -p "$STATE_DIR"
# The done checks are trusted when this script ran before (a re-run after a failure or an
# edit), or with TRUST_EXISTING=1. On a first run, an old filesystem that happens to have the
# planned UUID is recreated, not reused with its old files.
TRUST_EXISTING=${TRUST_EXISTING:-}
[ -e "$STATE_DIR/started" ] && TRUST_EXISTING=1
touch "$STATE_DIR/started"

step_recorded() { [ -e "$STATE_DIR/$1.done" ]; }
# "cmd || allow_status $? 1": an exit status the plan counts as success (partx: partitions known)
allow_status() {
    local rc=$1 ok
    shift
    for ok in "$@"; do [ "$rc" = "$ok" ] && return 0; done
    return "$rc"
}
record_step() { touch "$STATE_DIR/$1.done"; }
# without udev, device nodes can take a moment to appear
wait_for_devices() {
    local dev i
    for dev in "$@"; do
        for i in $(seq 100); do [ -b "$dev" ] && break; sleep 0.1; done
        [ -b "$dev" ] || { echo "device $dev did not appear" >&2; return 1; }
    done
}
"#;

/// ` || allow_status $? CODES` for a command with extra success codes, else nothing.
fn allowed(cmd: &crate::cmd::Cmd) -> String {
    let codes: Vec<String> = (1..=255)
        .filter(|c| cmd.is_ok_code(*c))
        .map(|c| c.to_string())
        .collect();
    if codes.is_empty() {
        String::new()
    } else {
        format!(" || allow_status $? {}", codes.join(" "))
    }
}

/// Renders the script.
pub fn render(plan: &Plan) -> String {
    let mut out = String::from(HEADER);
    if plan.mount_only {
        // `rear mountonly`: what is there is used, never recreated
        out = out.replace(
            "# Disk layout recreation script written by rear-rs from the recovery plan.",
            "# Mount script written by rear-rs (`rear mountonly`): assembles, opens, activates and\n\
             # mounts what is on the disks; it creates and formats nothing.",
        );
        let _ = writeln!(out, "TRUST_EXISTING=1");
    }
    let _ = writeln!(
        out,
        "\n# Disks {}:",
        if plan.mount_only {
            "used"
        } else {
            "written to"
        }
    );
    for d in &plan.disks {
        let _ = writeln!(out, "#   {} ({} bytes)", d.dev, d.size);
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "# Not recreated:");
        for (id, why) in &plan.skipped {
            let _ = writeln!(out, "#   {id}: {why}");
        }
    }
    for (n, s) in plan.steps.iter().enumerate() {
        let key = state_key(&s.id);
        let _ = writeln!(out, "\n# Step {}: {}", n + 1, s.description);
        for note in &s.notes {
            let _ = writeln!(out, "# note: {note}");
        }
        let _ = writeln!(out, "# done when: {}", describe_check(&s.done_check));
        let _ = writeln!(out, "step_{key}() {{");
        let _ = writeln!(
            out,
            "    if step_recorded {key} || {{ [ -n \"$TRUST_EXISTING\" ] && {}; }}; then",
            check_condition(&s.done_check)
        );
        let _ = writeln!(
            out,
            "        echo {}",
            q(&format!("step {}: {} is already done", n + 1, s.id))
        );
        let _ = writeln!(out, "        return 0");
        let _ = writeln!(out, "    fi");
        let _ = writeln!(
            out,
            "    echo {}",
            q(&format!("step {}: {}", n + 1, s.description))
        );
        for c in &s.commands {
            if c.secret.is_some() {
                let _ = writeln!(
                    out,
                    "    # cryptsetup asks for the passphrase on the terminal"
                );
            }
            match c.cmd.input() {
                Some(input) => {
                    let _ = writeln!(
                        out,
                        "    {} <<'REAR_EOF'{}",
                        c.cmd.command_line(),
                        allowed(&c.cmd)
                    );
                    out.push_str(&String::from_utf8_lossy(input));
                    if !input.ends_with(b"\n") {
                        out.push('\n');
                    }
                    let _ = writeln!(out, "REAR_EOF");
                }
                None => {
                    let _ = writeln!(out, "    {}{}", c.cmd.command_line(), allowed(&c.cmd));
                }
            }
        }
        if !s.wait_for.is_empty() {
            let devs: Vec<String> = s.wait_for.iter().map(|d| q(d)).collect();
            let _ = writeln!(out, "    wait_for_devices {}", devs.join(" "));
        }
        let _ = writeln!(out, "    record_step {key}");
        let _ = writeln!(out, "}}");
    }
    let _ = writeln!(out, "\n# Run every step in order.");
    for s in &plan.steps {
        let _ = writeln!(out, "step_{}", state_key(&s.id));
    }
    let _ = writeln!(
        out,
        "echo '{}'",
        if plan.mount_only {
            "Filesystems mounted."
        } else {
            "Disk layout recreated."
        }
    );
    out
}
