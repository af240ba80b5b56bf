//! Pure parsers of the files and command outputs the inventory reads, tested on captures in
//! `fixtures/inventory/` (made by `fixtures/inventory/capture.sh`).

use std::collections::BTreeMap;

use serde::Serialize;

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture (`amd64`, `x86_64`, `noarch`, ...).
    pub arch: String,
}

/// Parses `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n'`,
/// keeping installed packages (status `ii`, `hi`).
pub fn dpkg_query(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, version, arch) = (f.next()?, f.next()?, f.next()?);
            let status = f.next().unwrap_or("ii").trim();
            (status.len() >= 2 && &status[1..2] == "i").then(|| Package {
                name: name.to_string(),
                version: version.to_string(),
                arch: arch.to_string(),
            })
        })
        .collect()
}

/// Parses `rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n'`.
pub fn rpm_qa(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some(Package {
                name: f.next()?.to_string(),
                version: f.next()?.to_string(),
                arch: f.next().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// A systemd unit file and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitFile {
    /// `ssh.service`.
    pub name: String,
    /// `enabled`, `static`, ...
    pub state: String,
}

/// Parses `systemctl list-unit-files --no-legend` (UNIT STATE [PRESET]).
pub fn systemctl_unit_files(text: &str) -> Vec<UnitFile> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(UnitFile {
                name: w.next()?.to_string(),
                state: w.next()?.to_string(),
            })
        })
        .collect()
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// `eth0`.
    pub name: String,
    /// MAC address.
    pub mac: String,
    /// MTU.
    pub mtu: u64,
    /// `UP`, `DOWN`, `UNKNOWN`.
    pub state: String,
    /// `addr/prefix` of each address.
    pub addresses: Vec<String>,
    /// Kernel driver (from sysfs), when known.
    pub driver: Option<String>,
    /// Link speed in Mb/s (from sysfs), when known.
    pub speed_mbps: Option<u64>,
}

/// Parses `ip -j addr show`.
///
/// # Errors
/// When the text is not that JSON.
pub fn ip_addr(text: &str) -> Result<Vec<Interface>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("ip -j addr: {e}"))?;
    let list = v.as_array().ok_or("ip -j addr: not a JSON array")?;
    Ok(list
        .iter()
        .map(|i| {
            let s = |k: &str| {
                i.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            Interface {
                name: s("ifname"),
                mac: s("address"),
                mtu: i.get("mtu").and_then(|x| x.as_u64()).unwrap_or(0),
                state: s("operstate"),
                addresses: i
                    .get("addr_info")
                    .and_then(|a| a.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| {
                                Some(format!(
                                    "{}/{}",
                                    x.get("local")?.as_str()?,
                                    x.get("prefixlen")?.as_u64()?
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                driver: None,
                speed_mbps: None,
            }
        })
        .collect())
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `default` or `10.0.0.0/8`.
    pub dst: String,
    /// Gateway, when any.
    pub gateway: Option<String>,
    /// Interface.
    pub dev: String,
    /// Routing table, when not main.
    pub table: Option<String>,
}

/// Parses `ip -j route show table all`, leaving out the kernel's local and broadcast routes.
///
/// # Errors
/// When the text is not that JSON.
pub fn ip_route(text: &str) -> Result<Vec<Route>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("ip -j route: {e}"))?;
    let list = v.as_array().ok_or("ip -j route: not a JSON array")?;
    Ok(list
        .iter()
        .filter(|r| {
            !matches!(
                r.get("type").and_then(|t| t.as_str()),
                Some("local" | "broadcast")
            )
        })
        .filter(|r| r.get("table").and_then(|t| t.as_str()) != Some("local"))
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(|x| x.as_str()).map(str::to_string);
            Route {
                dst: s("dst").unwrap_or_default(),
                gateway: s("gateway"),
                dev: s("dev").unwrap_or_default(),
                table: s("table"),
            }
        })
        .collect())
}

/// Hardware facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hardware {
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// DMI fields (`sys_vendor`, `product_name`, `product_serial`, `bios_version`, ...).
    pub dmi: BTreeMap<String, String>,
    /// Disks (lsblk).
    pub disks: Vec<DiskInfo>,
    /// Network interfaces with MAC, driver and speed.
    pub nics: Vec<Interface>,
}

/// A disk as lsblk reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskInfo {
    /// `sda`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// WWN.
    pub wwn: Option<String>,
    /// Transport (`sata`, `nvme`, `usb`, ...).
    pub tran: Option<String>,
}

/// Parses `/proc/cpuinfo`: (model name, logical CPUs).
pub fn cpuinfo(text: &str) -> (String, u32) {
    let mut model = String::new();
    let mut count = 0;
    for l in text.lines() {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim() {
                "processor" => count += 1,
                "model name" if model.is_empty() => model = v.trim().to_string(),
                _ => {}
            }
        }
    }
    (model, count)
}

/// Parses `MemTotal` from `/proc/meminfo`, in bytes.
pub fn meminfo_total(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// Parses `lsblk -J -d -b -o NAME,MODEL,SERIAL,WWN,SIZE,TRAN,TYPE`, keeping disks.
///
/// # Errors
/// When the text is not that JSON.
pub fn lsblk_disks(text: &str) -> Result<Vec<DiskInfo>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("lsblk: {e}"))?;
    let list = v
        .get("blockdevices")
        .and_then(|b| b.as_array())
        .ok_or("lsblk: no blockdevices")?;
    Ok(list
        .iter()
        .filter(|d| d.get("type").and_then(|t| t.as_str()) == Some("disk"))
        .map(|d| {
            let s = |k: &str| {
                d.get(k)
                    .and_then(|x| x.as_str())
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
            };
            DiskInfo {
                name: s("name").unwrap_or_default(),
                size: d.get("size").and_then(|x| x.as_u64()).unwrap_or(0),
                model: s("model"),
                serial: s("serial"),
                wwn: s("wwn"),
                tran: s("tran"),
            }
        })
        .collect())
}

/// OS facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Os {
    /// `PRETTY_NAME` of os-release.
    pub distribution: String,
    /// `uname -r`.
    pub kernel: String,
    /// `/proc/cmdline`.
    pub cmdline: String,
    /// Loaded modules (`/proc/modules`).
    pub modules: Vec<String>,
    /// Non-comment lines of `/etc/default/grub`.
    pub bootloader_config: Vec<String>,
    /// `getconf GNU_LIBC_VERSION` (`glibc 2.36`).
    pub libc: String,
}

/// Module names from `/proc/modules`.
pub fn proc_modules(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Lines that are not blank and not comments.
pub fn meaningful_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Users {
    /// From /etc/passwd (never the password field).
    pub users: Vec<User>,
    /// From /etc/group.
    pub groups: Vec<Group>,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Login.
    pub name: String,
    /// UID.
    pub uid: u32,
    /// Primary GID.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Name.
    pub name: String,
    /// GID.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// Parses `/etc/passwd`; the password field is dropped.
pub fn passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7).then_some(())?;
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// Parses `/etc/group`; the password field is dropped.
pub fn group(text: &str) -> Vec<Group> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then_some(())?;
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// Network facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    /// Interfaces.
    pub interfaces: Vec<Interface>,
    /// Routes.
    pub routes: Vec<Route>,
    /// `nameserver` entries of /etc/resolv.conf.
    pub nameservers: Vec<String>,
    /// `search` domains of /etc/resolv.conf.
    pub search: Vec<String>,
    /// Non-comment lines of /etc/hosts.
    pub hosts: Vec<String>,
    /// The firewall ruleset (`nft list ruleset` or `iptables-save`), when readable.
    pub firewall: Option<String>,
    /// Non-comment lines of /etc/ssh/sshd_config.
    pub sshd_config: Vec<String>,
    /// Non-comment lines of /etc/ssh/ssh_config.
    pub ssh_config: Vec<String>,
}

/// (nameservers, search domains) of a resolv.conf.
pub fn resolv_conf(text: &str) -> (Vec<String>, Vec<String>) {
    let mut ns = Vec::new();
    let mut search = Vec::new();
    for l in meaningful_lines(text) {
        let mut w = l.split_whitespace();
        match w.next() {
            Some("nameserver") => ns.extend(w.next().map(str::to_string)),
            Some("search" | "domain") => search.extend(w.map(str::to_string)),
            _ => {}
        }
    }
    (ns, search)
}

/// Cron tables and timers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scheduled {
    /// File → non-comment lines, for /etc/crontab, /etc/cron.d/* and user crontabs.
    pub cron: BTreeMap<String, Vec<String>>,
    /// Enabled systemd timers.
    pub timers: Vec<UnitFile>,
}

/// A kernel parameter set in a sysctl configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sysctl {
    /// `net.ipv4.ip_forward`.
    pub key: String,
    /// The value the file sets.
    pub configured: String,
    /// The value in /proc/sys now, when readable.
    pub current: Option<String>,
    /// The file that sets it.
    pub file: String,
}

/// `key = value` lines of a sysctl.conf.
pub fn sysctl_conf(text: &str) -> Vec<(String, String)> {
    meaningful_lines(text)
        .into_iter()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((
                k.trim().trim_start_matches('-').to_string(),
                v.trim().to_string(),
            ))
        })
        .collect()
}

/// Time synchronisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimeSync {
    /// `timedatectl show` keys (`NTP`, `NTPSynchronized`, `Timezone`), when systemd runs.
    pub timedatectl: BTreeMap<String, String>,
    /// Servers configured for chrony, ntpd or systemd-timesyncd.
    pub servers: Vec<String>,
    /// The file(s) they come from.
    pub config_files: Vec<String>,
}

/// `KEY=value` lines of `timedatectl show`.
pub fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `server`/`pool` entries of chrony.conf or ntp.conf, and `NTP=` of timesyncd.conf.
pub fn ntp_servers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in meaningful_lines(text) {
        let mut w = l.split_whitespace();
        match w.next() {
            Some("server" | "pool" | "peer") => out.extend(w.next().map(str::to_string)),
            Some(first) if first.starts_with("NTP=") => {
                out.extend(l["NTP=".len()..].split_whitespace().map(str::to_string));
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> String {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/inventory/debian12-host")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn parse_dpkg_query_debian12() {
        let pkgs = dpkg_query(&fixture("dpkg-query.txt"));
        assert!(pkgs.len() > 500, "{}", pkgs.len());
        let bash = pkgs.iter().find(|p| p.name == "bash").expect("bash");
        assert!(bash.version.starts_with("5.2"), "{bash:?}");
        assert_eq!(bash.arch, "amd64");
        assert!(
            pkgs.iter()
                .any(|p| p.name == "rear" && p.version.starts_with("2.7"))
        );
        // removed-but-configured packages (rc) are not installed
        assert!(dpkg_query("foo\t1.0\tamd64\trc \n").is_empty());
        assert_eq!(dpkg_query("foo\t1.0\tamd64\thi \n").len(), 1);
    }

    #[test]
    fn parse_systemctl_unit_files_debian12() {
        let units = systemctl_unit_files(&fixture("systemctl-services.txt"));
        assert!(!units.is_empty());
        assert!(
            units
                .iter()
                .all(|u| u.name.ends_with(".service") && u.state == "enabled"),
            "{units:?}"
        );
    }

    #[test]
    fn parse_ip_addr_and_route_debian12() {
        let ifs = ip_addr(&fixture("ip-addr.json")).unwrap();
        let lo = ifs.iter().find(|i| i.name == "lo").expect("lo");
        assert!(lo.addresses.contains(&"127.0.0.1/8".to_string()), "{lo:?}");
        assert_eq!(lo.mtu, 65536);
        let routes = ip_route(&fixture("ip-route.json")).unwrap();
        assert!(routes.iter().all(|r| r.table.as_deref() != Some("local")));
        assert!(ip_addr("[{").is_err());
    }

    #[test]
    fn parse_proc_files_debian12() {
        let (model, cpus) = cpuinfo(&fixture("proc_cpuinfo"));
        assert!(!model.is_empty());
        assert!(cpus >= 1);
        assert!(meminfo_total(&fixture("proc_meminfo")).unwrap() > 1 << 30);
        let disks = lsblk_disks(&fixture("lsblk-disks.json")).unwrap();
        assert!(
            disks.iter().any(|d| d.name == "vda" && d.size > 0),
            "{disks:?}"
        );
        assert_eq!(
            crate::system::os_release_field(&fixture("etc_os-release"), "PRETTY_NAME").unwrap(),
            "Debian GNU/Linux 12 (bookworm)"
        );
    }

    #[test]
    fn parse_passwd_and_group_drop_password_fields() {
        let users = passwd(&fixture("etc_passwd"));
        let root = users.iter().find(|u| u.name == "root").unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let groups = group("sudo:x:27:alice,bob\nempty:x:100:\nbad line\n");
        assert_eq!(groups[0].members, ["alice", "bob"]);
        assert!(groups[1].members.is_empty());
        assert_eq!(groups.len(), 2);
        let json =
            serde_json::to_string(&passwd("u:$6$hash:1000:1000::/home/u:/bin/sh\n")).unwrap();
        assert!(!json.contains("$6$"), "a password hash leaked: {json}");
    }

    #[test]
    fn parse_small_config_files() {
        let (ns, search) = resolv_conf(
            "# x\nnameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch a.example b.example\n",
        );
        assert_eq!(ns, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(search, ["a.example", "b.example"]);
        assert_eq!(
            sysctl_conf("# c\n; c\nnet.ipv4.ip_forward = 1\n-vm.swappiness=10\n"),
            [
                ("net.ipv4.ip_forward".to_string(), "1".to_string()),
                ("vm.swappiness".to_string(), "10".to_string())
            ]
        );
        assert_eq!(
            ntp_servers("pool 2.debian.pool.ntp.org iburst\nserver ntp1 iburst\n"),
            ["2.debian.pool.ntp.org", "ntp1"]
        );
        assert_eq!(
            ntp_servers("[Time]\nNTP=a.example b.example\n"),
            ["a.example", "b.example"]
        );
        let kv = key_values("Timezone=Etc/UTC\nNTP=yes\nNTPSynchronized=no\n");
        assert_eq!(kv["NTP"], "yes");
    }
}
