//! Facts about the running system, as ReaR names them: `ARCH`, `OS`, `OS_VENDOR`, `OS_VERSION`,
//! `OS_MASTER_VENDOR`, `HOSTNAME`, `KERNEL_VERSION`.
//!
//! They are computed from files (`/etc/os-release`, `/proc/sys/kernel/...`) by pure functions, so
//! they can be tested on captured files and computed for a chroot (`root`) as well.

use std::path::Path;

/// The system definition shown by `rear dump` and used to choose workflow steps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SystemInfo {
    /// ReaR's architecture name: `Linux-i386` for x86_64 and i?86, `Linux-arm`, `Linux-ppc64le`, ...
    pub arch: String,
    /// The machine as `uname -m` prints it (`x86_64`).
    pub machine: String,
    /// Always `GNU/Linux`.
    pub os: String,
    /// `Debian`, `Ubuntu`, `Fedora`, `RedHatEnterpriseServer`, `SUSE_LINUX`, `Arch`, or `generic`.
    pub os_vendor: String,
    /// `VERSION_ID` from os-release (`12`), or `none`.
    pub os_version: String,
    /// `Debian` for Debian and Ubuntu, `Fedora` for the Red Hat family, `SUSE` for SUSE.
    pub os_master_vendor: String,
    /// The short host name.
    pub hostname: String,
    /// The running kernel release (`uname -r`).
    pub kernel_version: String,
}

impl SystemInfo {
    /// Detects the facts of the running system.
    pub fn detect() -> Self {
        let os_release = std::fs::read_to_string("/etc/os-release")
            .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
            .unwrap_or_default();
        let uname = rustix::system::uname();
        let machine = uname.machine().to_string_lossy().into_owned();
        let kernel_version = uname.release().to_string_lossy().into_owned();
        let nodename = uname.nodename().to_string_lossy().into_owned();
        Self::from_parts(&os_release, &machine, &nodename, &kernel_version)
    }

    /// Computes the facts from an os-release text, `uname -m`, the node name and `uname -r`.
    pub fn from_parts(os_release: &str, machine: &str, nodename: &str, kernel: &str) -> Self {
        let (os_vendor, os_version) = vendor_and_version(os_release);
        SystemInfo {
            arch: rear_arch(machine),
            machine: machine.to_string(),
            os: "GNU/Linux".to_string(),
            os_master_vendor: master_vendor(&os_vendor).to_string(),
            os_vendor,
            os_version,
            hostname: short_hostname(nodename),
            kernel_version: kernel.to_string(),
        }
    }

    /// Detects the facts of a system installed under `root` (for example `/mnt/local`).
    pub fn detect_in(root: &Path) -> Self {
        let mut info = Self::detect();
        let os_release = std::fs::read_to_string(root.join("etc/os-release")).unwrap_or_default();
        let (vendor, version) = vendor_and_version(&os_release);
        info.os_master_vendor = master_vendor(&vendor).to_string();
        info.os_vendor = vendor;
        info.os_version = version;
        info
    }
}

/// ReaR's ARCH for a `uname -m` machine name.
pub fn rear_arch(machine: &str) -> String {
    let arch = match machine {
        "x86_64" | "i686" | "i586" | "i386" => "i386",
        m if m.starts_with("arm") || m == "aarch64" => "arm",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "s390x" | "s390" => "s390",
        "ia64" => "ia64",
        other => other,
    };
    format!("Linux-{arch}")
}

fn short_hostname(nodename: &str) -> String {
    nodename.split('.').next().unwrap_or(nodename).to_string()
}

/// One `KEY=value` of an os-release text, without its quotes (used for the system facts, the
/// inventory and run reports).
pub fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// ReaR's OS_VENDOR and OS_VERSION from an os-release text.
pub fn vendor_and_version(os_release: &str) -> (String, String) {
    let id = os_release_field(os_release, "ID")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let like = os_release_field(os_release, "ID_LIKE")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let all = format!("{id} {like}");
    // The order follows ReaR's config-functions.sh, where later matches win: ubuntu beats debian.
    let vendor = if id == "ubuntu" || id == "linuxmint" {
        "Ubuntu"
    } else if id == "debian" || all.contains("debian") {
        "Debian"
    } else if id == "fedora" {
        "Fedora"
    } else if ["rhel", "centos", "rocky", "almalinux", "ol", "scientific"].contains(&id.as_str())
        || all.contains("rhel")
    {
        "RedHatEnterpriseServer"
    } else if id.contains("suse") || all.contains("suse") {
        "SUSE_LINUX"
    } else if id == "arch" {
        "Arch"
    } else {
        "generic"
    };
    let version = os_release_field(os_release, "VERSION_ID")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "none".to_string());
    (vendor.to_string(), version)
}

/// ReaR's OS_MASTER_VENDOR for an OS_VENDOR.
pub fn master_vendor(vendor: &str) -> &'static str {
    match vendor {
        "Debian" | "Ubuntu" => "Debian",
        "Fedora" | "RedHatEnterpriseServer" => "Fedora",
        "SUSE_LINUX" => "SUSE",
        "Arch" => "Arch_Linux",
        _ => "",
    }
}

/// A mounted filesystem, as `/proc/self/mounts` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted (`/dev/vda1`, `tmpfs`, ...).
    pub source: String,
    /// Where.
    pub target: String,
}

/// The mounts of this process, in mount order (the last one on a path is in effect).
///
/// # Errors
/// When `/proc/self/mounts` cannot be read.
pub fn mounts() -> crate::Result<Vec<Mount>> {
    let path = "/proc/self/mounts";
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io("reading", path, e))?;
    Ok(parse_mounts(&text))
}

/// Parses `/proc/self/mounts`, undoing its octal escapes (`\040` for a space).
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(Mount {
                source: unescape(w.next()?),
                target: unescape(w.next()?),
            })
        })
        .collect()
}

/// Whether rear runs inside its own rescue system (ReaR's marker file `/etc/rear-release`).
pub fn in_rescue_system() -> bool {
    Path::new("/etc/rear-release").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"#;

    #[test]
    fn debian_12_on_x86_64() {
        let s = SystemInfo::from_parts(DEBIAN12, "x86_64", "vm.example.com", "6.1.0-40-amd64");
        assert_eq!(s.arch, "Linux-i386");
        assert_eq!(s.os, "GNU/Linux");
        assert_eq!(s.os_vendor, "Debian");
        assert_eq!(s.os_version, "12");
        assert_eq!(s.os_master_vendor, "Debian");
        assert_eq!(s.hostname, "vm");
    }

    #[test]
    fn other_vendors() {
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n";
        assert_eq!(
            vendor_and_version(ubuntu),
            ("Ubuntu".into(), "24.04".into())
        );
        let rhel = "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n";
        assert_eq!(vendor_and_version(rhel).0, "RedHatEnterpriseServer");
        let rocky = "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n";
        assert_eq!(vendor_and_version(rocky).0, "RedHatEnterpriseServer");
        let sles = "NAME=\"SLES\"\nID=\"sles\"\nID_LIKE=\"suse\"\nVERSION_ID=\"15.5\"\n";
        assert_eq!(
            vendor_and_version(sles),
            ("SUSE_LINUX".into(), "15.5".into())
        );
        assert_eq!(vendor_and_version(""), ("generic".into(), "none".into()));
    }

    #[test]
    fn mounts_are_parsed_with_escapes() {
        let m = parse_mounts("/dev/vda / ext4 rw 0 0\n/dev/vdb1 /mnt/with\\040space xfs rw 0 0\n");
        assert_eq!(
            m[0],
            Mount {
                source: "/dev/vda".into(),
                target: "/".into()
            }
        );
        assert_eq!(m[1].target, "/mnt/with space");
    }

    #[test]
    fn arches() {
        assert_eq!(rear_arch("x86_64"), "Linux-i386");
        assert_eq!(rear_arch("aarch64"), "Linux-arm");
        assert_eq!(rear_arch("ppc64le"), "Linux-ppc64le");
        assert_eq!(rear_arch("s390x"), "Linux-s390");
    }
}
