//! Gathering the sections. Each section function returns a [`Section`]; nothing here fails the
//! whole inventory.

use std::collections::BTreeMap;
use std::path::Path;

use super::parse::{self, Hardware, Network, Os, Scheduled, Sysctl, TimeSync, Users};
use super::{Inventory, InventoryOptions, SCHEMA_VERSION, Section};
use crate::cmd::{Cmd, CommandError, Runner, Tool, tools};

/// Collects every section. See the module documentation of [`super`].
pub fn collect(runner: &dyn Runner, opts: &InventoryOptions, hostname: &str) -> Inventory {
    let c = Collector { runner, opts };
    Inventory {
        schema_version: SCHEMA_VERSION,
        collected_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        hostname: hostname.to_string(),
        hardware: c.hardware(),
        os: c.os(),
        packages: c.packages(),
        services: c.units("service"),
        network: c.network(),
        users: c.users(),
        scheduled: c.scheduled(),
        mounts: c.mounts(),
        sysctl: c.sysctl(),
        time_sync: c.time_sync(),
    }
}

struct Collector<'a> {
    runner: &'a dyn Runner,
    opts: &'a InventoryOptions,
}

impl Collector<'_> {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok()
    }

    fn path(&self, path: &str) -> std::path::PathBuf {
        self.opts.root.join(path.trim_start_matches('/'))
    }

    fn run(&self, tool: Tool, args: &[&str]) -> Result<String, CommandError> {
        Cmd::probe(tool)
            .args(args)
            .timeout(self.opts.section_timeout)
            .describe("collecting the inventory")
            .output_string(self.runner)
    }

    fn hardware(&self) -> Section<Hardware> {
        let (cpu_model, cpus) = parse::cpuinfo(&self.read("/proc/cpuinfo").unwrap_or_default());
        let memory_bytes =
            parse::meminfo_total(&self.read("/proc/meminfo").unwrap_or_default()).unwrap_or(0);
        let mut dmi = BTreeMap::new();
        for key in [
            "sys_vendor",
            "product_name",
            "product_serial",
            "product_uuid",
            "board_vendor",
            "board_name",
            "bios_vendor",
            "bios_version",
            "chassis_type",
        ] {
            if let Some(v) = self.read(&format!("/sys/class/dmi/id/{key}")) {
                dmi.insert(key.to_string(), v.trim().to_string());
            }
        }
        let disks = match self.run(
            tools::LSBLK,
            &[
                "-J",
                "-d",
                "-b",
                "-o",
                "NAME,MODEL,SERIAL,WWN,SIZE,TRAN,TYPE",
            ],
        ) {
            Ok(t) => match parse::lsblk_disks(&t) {
                Ok(d) => d,
                Err(e) => return Section::Failed { error: e },
            },
            Err(e) => return e.into(),
        };
        let nics = match self.run(tools::IP, &["-j", "addr", "show"]) {
            Ok(t) => self.with_sysfs(parse::ip_addr(&t).unwrap_or_default()),
            Err(e) => return e.into(),
        };
        Section::Ok {
            data: Hardware {
                cpu_model,
                cpus,
                memory_bytes,
                dmi,
                disks,
                nics,
            },
        }
    }

    /// Adds driver and speed from /sys/class/net.
    fn with_sysfs(&self, mut ifs: Vec<parse::Interface>) -> Vec<parse::Interface> {
        for i in &mut ifs {
            let base = self.path(&format!("/sys/class/net/{}", i.name));
            i.driver = std::fs::read_link(base.join("device/driver"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            i.speed_mbps = std::fs::read_to_string(base.join("speed"))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .and_then(|s| u64::try_from(s).ok());
        }
        ifs
    }

    fn os(&self) -> Section<Os> {
        let os_release = self
            .read("/etc/os-release")
            .or_else(|| self.read("/usr/lib/os-release"));
        let Some(os_release) = os_release else {
            return Section::Unavailable {
                reason: "no /etc/os-release".into(),
            };
        };
        let libc = match self.run(tools::GETCONF, &["GNU_LIBC_VERSION"]) {
            Ok(t) => t.trim().to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        Section::Ok {
            data: Os {
                distribution: crate::system::os_release_field(&os_release, "PRETTY_NAME")
                    .unwrap_or_default(),
                kernel: rustix::system::uname()
                    .release()
                    .to_string_lossy()
                    .into_owned(),
                cmdline: self
                    .read("/proc/cmdline")
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                modules: parse::proc_modules(&self.read("/proc/modules").unwrap_or_default()),
                bootloader_config: parse::meaningful_lines(
                    &self.read("/etc/default/grub").unwrap_or_default(),
                ),
                libc,
            },
        }
    }

    fn packages(&self) -> Section<Vec<parse::Package>> {
        let fmt = "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n";
        match self.run(tools::DPKG_QUERY, &["-W", "-f", fmt]) {
            Ok(t) => {
                return Section::Ok {
                    data: parse::dpkg_query(&t),
                };
            }
            Err(CommandError::NotFound { .. }) => {}
            Err(e) => return e.into(),
        }
        match self.run(
            tools::RPM,
            &["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n"],
        ) {
            Ok(t) => Section::Ok {
                data: parse::rpm_qa(&t),
            },
            Err(CommandError::NotFound { .. }) => Section::Unavailable {
                reason: "neither dpkg-query nor rpm is installed".into(),
            },
            Err(e) => e.into(),
        }
    }

    fn units(&self, kind: &str) -> Section<Vec<parse::UnitFile>> {
        let t = format!("--type={kind}");
        match self.run(
            tools::SYSTEMCTL,
            &[
                "list-unit-files",
                &t,
                "--state=enabled",
                "--no-legend",
                "--no-pager",
            ],
        ) {
            Ok(text) => Section::Ok {
                data: parse::systemctl_unit_files(&text),
            },
            Err(e) => e.into(),
        }
    }

    fn network(&self) -> Section<Network> {
        let interfaces = match self.run(tools::IP, &["-j", "addr", "show"]) {
            Ok(t) => match parse::ip_addr(&t) {
                Ok(i) => self.with_sysfs(i),
                Err(e) => return Section::Failed { error: e },
            },
            Err(e) => return e.into(),
        };
        let routes = match self.run(tools::IP, &["-j", "route", "show", "table", "all"]) {
            Ok(t) => parse::ip_route(&t).unwrap_or_default(),
            Err(e) => return e.into(),
        };
        let (nameservers, search) =
            parse::resolv_conf(&self.read("/etc/resolv.conf").unwrap_or_default());
        let firewall = self
            .run(tools::NFT, &["list", "ruleset"])
            .or_else(|_| self.run(tools::IPTABLES_SAVE, &[]))
            .ok();
        Section::Ok {
            data: Network {
                interfaces,
                routes,
                nameservers,
                search,
                hosts: parse::meaningful_lines(&self.read("/etc/hosts").unwrap_or_default()),
                firewall,
                sshd_config: parse::meaningful_lines(
                    &self.read("/etc/ssh/sshd_config").unwrap_or_default(),
                ),
                ssh_config: parse::meaningful_lines(
                    &self.read("/etc/ssh/ssh_config").unwrap_or_default(),
                ),
            },
        }
    }

    fn users(&self) -> Section<Users> {
        let Some(passwd) = self.read("/etc/passwd") else {
            return Section::Unavailable {
                reason: "no /etc/passwd".into(),
            };
        };
        Section::Ok {
            data: Users {
                users: parse::passwd(&passwd),
                groups: parse::group(&self.read("/etc/group").unwrap_or_default()),
            },
        }
    }

    fn scheduled(&self) -> Section<Scheduled> {
        let mut cron = BTreeMap::new();
        let mut add = |path: &Path, label: String| {
            if let Ok(t) = std::fs::read_to_string(path) {
                cron.insert(label, parse::meaningful_lines(&t));
            }
        };
        add(&self.path("/etc/crontab"), "/etc/crontab".into());
        for dir in ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"] {
            if let Ok(entries) = std::fs::read_dir(self.path(dir)) {
                let mut files: Vec<_> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                for f in files {
                    let name = f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    add(&f, format!("{dir}/{name}"));
                }
            }
        }
        let timers = match self.units("timer") {
            Section::Ok { data } => data,
            // Without systemd there are no timers to list; cron tables still count.
            _ => Vec::new(),
        };
        Section::Ok {
            data: Scheduled { cron, timers },
        }
    }

    fn mounts(&self) -> Section<serde_json::Value> {
        match self.run(
            tools::FINDMNT,
            &["-J", "-o", "SOURCE,TARGET,FSTYPE,OPTIONS"],
        ) {
            Ok(t) => match serde_json::from_str(&t) {
                Ok(v) => Section::Ok { data: v },
                Err(e) => Section::Failed {
                    error: format!("findmnt: {e}"),
                },
            },
            Err(e) => e.into(),
        }
    }

    fn sysctl(&self) -> Section<Vec<Sysctl>> {
        let mut files = vec![self.path("/etc/sysctl.conf")];
        if let Ok(entries) = std::fs::read_dir(self.path("/etc/sysctl.d")) {
            let mut more: Vec<_> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            more.sort();
            files.extend(more);
        }
        let mut out = Vec::new();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            for (key, configured) in parse::sysctl_conf(&text) {
                let proc = self.path(&format!("/proc/sys/{}", key.replace('.', "/")));
                out.push(Sysctl {
                    current: std::fs::read_to_string(proc)
                        .ok()
                        .map(|v| v.trim().to_string()),
                    key,
                    configured,
                    file: f
                        .strip_prefix(&self.opts.root)
                        .map_or_else(|_| f.display().to_string(), |p| format!("/{}", p.display())),
                });
            }
        }
        Section::Ok { data: out }
    }

    fn time_sync(&self) -> Section<TimeSync> {
        let mut ts = TimeSync::default();
        if let Ok(t) = self.run(tools::TIMEDATECTL, &["show"]) {
            ts.timedatectl = parse::key_values(&t);
        }
        for f in [
            "/etc/chrony/chrony.conf",
            "/etc/chrony.conf",
            "/etc/ntp.conf",
            "/etc/ntpsec/ntp.conf",
            "/etc/systemd/timesyncd.conf",
        ] {
            if let Some(text) = self.read(f) {
                let servers = parse::ntp_servers(&text);
                if !servers.is_empty() {
                    ts.servers.extend(servers);
                    ts.config_files.push(f.to_string());
                }
            }
        }
        if ts.timedatectl.is_empty() && ts.config_files.is_empty() {
            return Section::Unavailable {
                reason: "no timedatectl (systemd not running) and no chrony, ntp or timesyncd configuration".into(),
            };
        }
        Section::Ok { data: ts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{Output, Runner};
    use std::time::Duration;

    /// A runner standing in for tools that hang or are missing: every `dpkg-query` times out,
    /// `systemctl` and `rpm` are "not installed", `getconf` answers, everything else fails.
    struct Troubled;

    impl Runner for Troubled {
        fn run(&self, cmd: &Cmd) -> Result<Output, CommandError> {
            match cmd.tool().program() {
                "dpkg-query" => Err(CommandError::TimedOut { cmd: cmd.command_line(), after: Duration::from_secs(30) }),
                "systemctl" | "rpm" | "nft" | "iptables-save" | "timedatectl" => Err(CommandError::NotFound {
                    program: cmd.tool().program(),
                    searched: "/usr/sbin:/usr/bin".into(),
                }),
                "getconf" => Ok(Output { stdout: b"glibc 2.36\n".to_vec(), ..Output::default() }),
                "ip" if cmd.arguments().iter().any(|a| a == "addr") => Ok(Output {
                    stdout: br#"[{"ifname":"eth0","address":"52:54:00:12:34:56","mtu":1500,"operstate":"UP","addr_info":[{"local":"10.0.2.15","prefixlen":24}]}]"#.to_vec(),
                    ..Output::default()
                }),
                "ip" => Ok(Output { stdout: b"[]".to_vec(), ..Output::default() }),
                _ => Err(CommandError::Failed { cmd: cmd.command_line(), status: 1, description: None, stderr_tail: "boom".into() }),
            }
        }
    }

    #[test]
    fn a_hanging_tool_costs_its_section_only_and_missing_tools_are_unavailable() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir_all(etc.join("cron.d")).unwrap();
        std::fs::write(etc.join("os-release"), "PRETTY_NAME=\"Test OS\"\n").unwrap();
        std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        std::fs::write(
            etc.join("cron.d/backup"),
            "# c\n0 3 * * * root rear checklayout || rear mkrescue\n",
        )
        .unwrap();
        std::fs::write(etc.join("sysctl.conf"), "vm.swappiness = 10\n").unwrap();
        let opts = InventoryOptions {
            root: root.path().to_path_buf(),
            section_timeout: Duration::from_secs(1),
        };
        let inv = collect(&Troubled, &opts, "h");
        assert!(
            matches!(&inv.packages, Section::TimedOut { command, after_secs: 30 } if command.starts_with("dpkg-query")),
            "{:?}",
            inv.packages
        );
        assert!(
            matches!(&inv.services, Section::Unavailable { reason } if reason.contains("systemctl")),
            "{:?}",
            inv.services
        );
        assert!(
            matches!(&inv.hardware, Section::Failed { error } if error.contains("boom")),
            "lsblk failed: {:?}",
            inv.hardware
        );
        assert!(matches!(&inv.time_sync, Section::Unavailable { .. }));
        // the other sections were collected all the same
        assert_eq!(inv.os.data().unwrap().distribution, "Test OS");
        assert_eq!(inv.os.data().unwrap().libc, "glibc 2.36");
        assert_eq!(inv.users.data().unwrap().users[0].name, "root");
        let net = inv.network.data().unwrap();
        assert_eq!(net.interfaces[0].addresses, ["10.0.2.15/24"]);
        assert!(net.firewall.is_none());
        let sched = inv.scheduled.data().unwrap();
        assert_eq!(
            sched.cron["/etc/cron.d/backup"],
            ["0 3 * * * root rear checklayout || rear mkrescue"]
        );
        let sysctl = inv.sysctl.data().unwrap();
        assert_eq!(sysctl[0].key, "vm.swappiness");
        assert_eq!(sysctl[0].file, "/etc/sysctl.conf");
        // JSON says so explicitly, never as an empty list
        let json = serde_json::to_value(&inv).unwrap();
        assert_eq!(json["packages"]["status"], "timed-out");
        assert_eq!(json["services"]["status"], "unavailable");
    }
}
