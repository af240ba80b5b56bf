//! What the restored system (the target, mounted at `/mnt/local` by default) uses to boot, read
//! from its files only: its initramfs generator, its GRUB flavour, shim, SELinux, its OS family.
//!
//! Nothing here runs a command: the target's programs are found by looking for their files
//! under the target root, so the result does not depend on what the rescue system has.

use std::path::{Path, PathBuf};

/// The initramfs generator of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitramfsTool {
    /// Debian, Ubuntu: `update-initramfs -u -k all`.
    UpdateInitramfs,
    /// Fedora, RHEL and clones, SUSE: `dracut --regenerate-all -f`.
    Dracut,
    /// Old SUSE and RHEL 5: `mkinitrd`.
    Mkinitrd,
}

impl InitramfsTool {
    /// The command, run inside the target.
    pub fn argv(self) -> Vec<String> {
        let words: &[&str] = match self {
            InitramfsTool::UpdateInitramfs => &["update-initramfs", "-u", "-k", "all"],
            InitramfsTool::Dracut => &["dracut", "--regenerate-all", "-f"],
            InitramfsTool::Mkinitrd => &["mkinitrd"],
        };
        words.iter().map(|w| w.to_string()).collect()
    }
}

/// Facts about the target's boot software.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetOs {
    /// `ID` from `/etc/os-release` (`debian`, `rhel`, `sles`), or `linux` when unknown.
    pub id: String,
    /// `ID_LIKE` words plus `ID`, for family tests.
    pub family: Vec<String>,
    /// The initramfs generator, if any was found.
    pub initramfs: Option<InitramfsTool>,
    /// The GRUB program prefix: `grub` (Debian, Ubuntu, Arch) or `grub2` (RHEL-likes, SUSE).
    /// `None` when the target has no grub-install.
    pub grub: Option<String>,
    /// The GRUB configuration file path inside the target (`/boot/grub/grub.cfg`).
    pub grub_cfg: String,
    /// Debian has `update-grub`; used for the config when present.
    pub has_update_grub: bool,
    /// The EFI directory name GRUB and the vendor use (`debian`, `fedora`, `redhat`,
    /// `opensuse`), from `GRUB_DISTRIBUTOR` or the OS ID.
    pub efi_vendor: String,
    /// The target ships a signed shim (Secure Boot chain).
    pub shim: bool,
    /// SELinux is configured (enforcing or permissive) in `/etc/selinux/config`.
    pub selinux: bool,
}

fn exists(target: &Path, rel: &str) -> bool {
    target.join(rel.trim_start_matches('/')).exists()
}

fn first_existing(target: &Path, candidates: &[&str]) -> bool {
    candidates.iter().any(|c| exists(target, c))
}

fn os_release(target: &Path) -> Vec<(String, String)> {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(target.join(p)).ok())
        .unwrap_or_default();
    parse_shell_assignments(&text)
}

/// Parses `KEY=value` / `KEY="value"` lines (os-release, /etc/default/grub, selinux config).
pub fn parse_shell_assignments(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

const BIN_DIRS: [&str; 4] = ["usr/sbin", "usr/bin", "sbin", "bin"];

fn has_program(target: &Path, name: &str) -> bool {
    BIN_DIRS.iter().any(|d| target.join(d).join(name).exists())
}

/// Whether the target's `/etc/selinux/config` selects enforcing or permissive mode.
pub fn selinux_enabled(target: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(target.join("etc/selinux/config")) else {
        return false;
    };
    matches!(
        lookup(&parse_shell_assignments(&text), "SELINUX"),
        Some("enforcing" | "permissive")
    )
}

impl TargetOs {
    /// Reads the facts from the tree under `target`.
    pub fn detect(target: &Path) -> TargetOs {
        let release = os_release(target);
        let id = lookup(&release, "ID").unwrap_or("linux").to_string();
        let mut family: Vec<String> = lookup(&release, "ID_LIKE")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        family.insert(0, id.clone());
        let debian_like = family.iter().any(|f| f == "debian" || f == "ubuntu");

        let initramfs = if has_program(target, "update-initramfs") {
            Some(InitramfsTool::UpdateInitramfs)
        } else if has_program(target, "dracut") {
            Some(InitramfsTool::Dracut)
        } else if has_program(target, "mkinitrd") {
            Some(InitramfsTool::Mkinitrd)
        } else {
            None
        };

        let grub = if has_program(target, "grub2-install") {
            Some("grub2".to_string())
        } else if has_program(target, "grub-install") {
            Some("grub".to_string())
        } else {
            None
        };
        let grub_cfg = match grub.as_deref() {
            Some("grub2") => "/boot/grub2/grub.cfg",
            _ => "/boot/grub/grub.cfg",
        }
        .to_string();

        let default_grub = std::fs::read_to_string(target.join("etc/default/grub"))
            .map(|t| parse_shell_assignments(&t))
            .unwrap_or_default();
        let efi_vendor = match lookup(&default_grub, "GRUB_DISTRIBUTOR") {
            // Debian's default is a command substitution (`lsb_release -i -s ...`).
            Some(d) if !d.is_empty() && !d.contains('`') && !d.contains("$(") => {
                d.split_whitespace().next().unwrap_or(d).to_lowercase()
            }
            _ => match id.as_str() {
                "rhel" | "centos" | "rocky" | "almalinux" | "ol" => "redhat".to_string(),
                "sles" | "sled" | "opensuse-leap" | "opensuse-tumbleweed" => "opensuse".to_string(),
                other => other.to_string(),
            },
        };
        let shim = first_existing(
            target,
            &[
                "usr/lib/shim/shimx64.efi.signed",
                "usr/share/efi/x86_64/shim.efi",
                "boot/efi/EFI/BOOT/fbx64.efi",
            ],
        ) || exists(target, &format!("boot/efi/EFI/{efi_vendor}/shimx64.efi"));

        TargetOs {
            has_update_grub: debian_like && has_program(target, "update-grub"),
            id,
            family,
            initramfs,
            grub,
            grub_cfg,
            efi_vendor,
            shim,
            selinux: selinux_enabled(target),
        }
    }

    /// Whether the target is a Red Hat family system (its EFI GRUB comes signed from the vendor
    /// and must not be replaced by `grub2-install`).
    pub fn is_redhat_like(&self) -> bool {
        self.family
            .iter()
            .any(|f| matches!(f.as_str(), "rhel" | "fedora" | "centos"))
    }
}

/// The path of `rel` (absolute inside the target) on the rescue system.
pub fn in_target(target: &Path, rel: &str) -> PathBuf {
    target.join(rel.trim_start_matches('/'))
}
