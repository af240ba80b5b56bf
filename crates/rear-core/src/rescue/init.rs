//! PID 1 of the rescue system.
//!
//! Contract: [`run_init`] is what the `rear` binary runs when it is PID 1 or called as `/init`.
//! It never returns on success (it powers off or reboots the machine) and does, in order:
//! 1. mounts `/proc`, `/sys`, `/dev` (devtmpfs), `/dev/pts`, `/run` and `/tmp`, sets the host name
//!    (and after the modules, on UEFI machines, efivarfs, a module in Debian's kernel);
//! 2. prints [`MARKER_STARTED`] on the console;
//! 3. loads the modules of [`MODULES_LOAD_FILE`] (`MODULES_LOAD`), then "cold-plugs": loads the
//!    drivers for every `modalias` under `/sys/devices` with `modprobe -a -b -q`, repeating while new
//!    devices appear (virtio-pci first reveals the virtio devices). Everything else (file systems,
//!    dm, md, crypto) the kernel loads on demand through `/sbin/modprobe`;
//! 4. runs `NETWORKING_PREPARATION_COMMANDS` (stopping at a `return`), then brings up the
//!    network from [`NETWORK_FILE`]: the recorded addresses and routes on the NIC
//!    with the recorded MAC ([`network::plan_network`]), else DHCP (`dhclient`, or busybox
//!    `udhcpc`) or when the kernel command line says `rear.dhcp`; nothing with `noip`;
//!    The keyboard map of [`keymap::KEYMAP_POINTER`] is loaded with `loadkeys` before the network
//!    ([`keymap::load_keymap`]), and after it sshd is started when the image has
//!    [`ssh::SSHD_CONFIG`] ([`ssh::start_sshd`]: host keys generated when missing, fingerprints
//!    shown on the console);
//! 5. runs what the kernel command line asks ([`BootOptions`]): `rear.test=CMD` runs `bash -c CMD`,
//!    prints its output and `REAR-TEST-RC=<rc>`, then powers off (for tests); `unattended` runs
//!    `rear --non-interactive recover` and reboots (powers off with `rear.poweroff`);
//!    `auto_recover`/`automatic` runs `rear recover`, then offers the shell; otherwise
//! 6. prints [`BANNER`] and keeps a login shell (`bash -l`) on the console, started again when it
//!    exits.
//!
//! Output: the init is PID 1 and the console is its only user interface, so it writes there, and
//! only through [`console_line`] (the one place in rear-core that writes to a terminal; everything
//! else reports through [`crate::ui::Ui`] or `tracing`). Commands it runs go through the command
//! runner; their captured output is passed on line by line with [`console_line`].
//!
//! The bash [`INIT_SCRIPT`] does the same steps for images whose `rear` binary does not
//! dispatch to this function ([`crate::rescue::InitKind::Script`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::network::{self, NetworkFacts, PresentNic};
use crate::rescue::{keymap, ssh};
use crate::{Error, Result};

/// The list of modules loaded first at boot (`MODULES_LOAD`), one per line.
pub const MODULES_LOAD_FILE: &str = "/etc/rear/modules-load";
/// The recorded network facts (JSON of [`NetworkFacts`]).
pub const NETWORK_FILE: &str = "/etc/rear/rescue-network.json";
/// Printed on the console as soon as the init runs.
pub const MARKER_STARTED: &str = "REAR-RESCUE-INIT: started";
/// Printed when the system is set up and ready.
pub const MARKER_READY: &str = "REAR-RESCUE-INIT: ready";
/// Printed when sshd was started.
pub const MARKER_SSHD: &str = "rear init: sshd started";
/// The login banner.
pub const BANNER: &str = "\n\
Welcome to the Relax-and-Recover (rear-rs) rescue system.\n\
\n\
To recover this system, run:   rear recover\n\
(the layout and configuration of the source system are in /var/lib/rear and /etc/rear)\n\
\n";

/// What the kernel command line asks of the init.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootOptions {
    /// `unattended`: recover without questions, then reboot.
    pub unattended: bool,
    /// `auto_recover` or `automatic`: run `rear recover` at boot.
    pub auto_recover: bool,
    /// `rear.test=CMD`: run CMD with bash, print `REAR-TEST-RC=<rc>`, power off (for tests).
    pub test_command: Option<String>,
    /// `noip`: do not configure the network.
    pub no_network: bool,
    /// `debug`: log more.
    pub debug: bool,
    /// `rear.poweroff`: power off instead of rebooting after an unattended recovery.
    pub poweroff: bool,
    /// `rear.dhcp`: use DHCP even when addresses were recorded.
    pub dhcp: bool,
}

/// Splits a kernel command line into words, honouring double quotes (`a="b c"` is one word,
/// `a=b c`), as the kernel does.
pub fn split_cmdline(cmdline: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

impl BootOptions {
    /// Parses `/proc/cmdline`.
    pub fn parse(cmdline: &str) -> Self {
        let mut o = BootOptions::default();
        for w in split_cmdline(cmdline) {
            match w.as_str() {
                "unattended" => {
                    o.unattended = true;
                    o.auto_recover = true;
                }
                "auto_recover" | "automatic" => o.auto_recover = true,
                "noip" => o.no_network = true,
                "debug" => o.debug = true,
                "rear.poweroff" => o.poweroff = true,
                "rear.dhcp" => o.dhcp = true,
                _ => {
                    if let Some(cmd) = w.strip_prefix("rear.test=") {
                        o.test_command = Some(cmd.to_string());
                    }
                }
            }
        }
        o
    }
}

/// The console writer of PID 1: writes `line` to `/dev/console`, opening it anew each time (a
/// getty's vhangup() would break a long-held descriptor). This is the only function of rear-core
/// that writes to a terminal, and it is only for the rescue system's init (which has no other
/// user interface): the markers the VM tests wait for, the init's progress, the output of the
/// commands of the kernel command line. Errors are ignored: there is nowhere else to report them.
pub fn console_line(line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = writeln!(f, "{line}");
    }
}

fn mount_basics() {
    use rustix::mount::{MountFlags, mount};
    let mounts: &[(&str, &str, &str, MountFlags)] = &[
        (
            "proc",
            "/proc",
            "proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        ),
        (
            "sysfs",
            "/sys",
            "sysfs",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        ),
        ("devtmpfs", "/dev", "devtmpfs", MountFlags::NOSUID),
        (
            "devpts",
            "/dev/pts",
            "devpts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
        ),
        (
            "tmpfs",
            "/run",
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        ),
        (
            "tmpfs",
            "/tmp",
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
        ),
    ];
    for (src, target, fs, flags) in mounts {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = mount(*src, *target, *fs, *flags, None) {
            console_line(&format!("rear init: mounting {fs} on {target} failed: {e}"));
        }
    }
}

/// On UEFI machines, mounts efivarfs (efibootmgr needs it during recovery). Debian builds it as
/// a module, so this runs after the modules are loaded and loads it first.
fn mount_efivars(runner: &dyn Runner) {
    let dir = Path::new("/sys/firmware/efi/efivars");
    if !dir.is_dir() {
        return;
    }
    modprobe(runner, &["efivarfs".to_string()]);
    if let Err(e) = rustix::mount::mount(
        "efivarfs",
        dir,
        "efivarfs",
        rustix::mount::MountFlags::empty(),
        None,
    ) {
        console_line(&format!(
            "rear init: mounting efivarfs on {} failed: {e}",
            dir.display()
        ));
    }
}

/// The `modalias` strings of every device under `sys_devices`.
pub fn collect_modaliases(sys_devices: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(sys_devices)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() == "modalias" && e.file_type().is_file())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn modprobe(runner: &dyn Runner, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let r = Cmd::mutate(tools::MODPROBE)
        .args(["-a", "-b", "-q"])
        .args(names)
        .describe("loading kernel modules")
        .allow_exit_codes(&[1])
        .timeout(Duration::from_secs(120))
        .run(runner);
    if let Err(e) = r {
        tracing::warn!("{e}");
    }
}

/// Loads `MODULES_LOAD`, then drivers for the devices present, until no new device shows up.
pub fn load_modules(runner: &dyn Runner) {
    let first: Vec<String> = std::fs::read_to_string(MODULES_LOAD_FILE)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    modprobe(runner, &first);
    let mut seen = std::collections::BTreeSet::new();
    for _round in 0..5 {
        let new: Vec<String> = collect_modaliases(Path::new("/sys/devices"))
            .into_iter()
            .filter(|a| seen.insert(a.clone()))
            .collect();
        if new.is_empty() {
            break;
        }
        modprobe(runner, &new);
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The Ethernet interfaces present now (name and MAC), from `sys_class_net`.
pub fn present_nics(sys_class_net: &Path) -> Vec<PresentNic> {
    let Ok(rd) = std::fs::read_dir(sys_class_net) else {
        return vec![];
    };
    let mut out: Vec<PresentNic> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            // type 1 is ARPHRD_ETHER
            std::fs::read_to_string(e.path().join("type")).is_ok_and(|t| t.trim() == "1")
                && e.file_name() != "lo"
        })
        .map(|e| PresentNic {
            name: e.file_name().to_string_lossy().into_owned(),
            mac: std::fs::read_to_string(e.path().join("address"))
                .unwrap_or_default()
                .trim()
                .to_lowercase(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn ip(runner: &dyn Runner, args: &[String]) -> bool {
    match Cmd::mutate(tools::IP)
        .args(args)
        .describe("configuring the network")
        .run(runner)
    {
        Ok(_) => true,
        Err(e) => {
            console_line(&format!("rear init: {e}"));
            false
        }
    }
}

/// Configures the network from the recorded facts, falling back to DHCP. Returns a summary line.
pub fn setup_network(runner: &dyn Runner, force_dhcp: bool) -> String {
    let _ = ip(
        runner,
        &["link".into(), "set".into(), "lo".into(), "up".into()],
    );
    let facts: NetworkFacts = std::fs::read(NETWORK_FILE)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for c in &facts.preparation_commands {
        if c.trim() == "return" {
            return "network set up by NETWORKING_PREPARATION_COMMANDS".into();
        }
        let rc = run_shell_command(runner, c);
        if rc != 0 {
            console_line(&format!("rear init: '{c}' exited with {rc}"));
        }
    }
    let present = present_nics(Path::new("/sys/class/net"));
    if present.is_empty() {
        return "no network interface found".into();
    }
    if !force_dhcp && !facts.use_dhcp && !facts.interfaces.is_empty() {
        let (cmds, unmapped) = network::plan_network(&facts, &present);
        if !cmds.is_empty() {
            let ok = cmds.iter().all(|c| ip(runner, c));
            if ok && unmapped.is_empty() {
                return format!(
                    "network configured from the source system ({} commands)",
                    cmds.len()
                );
            }
        }
    }
    dhcp(runner, &present)
}

fn dhcp(runner: &dyn Runner, present: &[PresentNic]) -> String {
    let names: Vec<String> = present.iter().map(|p| p.name.clone()).collect();
    for n in &names {
        let _ = ip(
            runner,
            &["link".into(), "set".into(), n.clone(), "up".into()],
        );
    }
    if tools::DHCLIENT.resolve().is_some() {
        let r = Cmd::mutate(tools::DHCLIENT)
            .args(["-1", "-v"])
            .args(&names)
            .timeout(Duration::from_secs(60))
            .describe("getting an address by DHCP")
            .run(runner);
        return match r {
            Ok(_) => format!("DHCP (dhclient) on {}", names.join(" ")),
            Err(e) => format!("DHCP with dhclient failed: {e}"),
        };
    }
    if tools::BUSYBOX.resolve().is_some() {
        let mut got = Vec::new();
        for n in &names {
            let r = Cmd::mutate(tools::BUSYBOX)
                .args([
                    "udhcpc",
                    "-i",
                    n,
                    "-n",
                    "-q",
                    "-t",
                    "5",
                    "-s",
                    UDHCPC_SCRIPT_PATH,
                ])
                .timeout(Duration::from_secs(60))
                .describe("getting an address by DHCP")
                .run(runner);
            if r.is_ok() {
                got.push(n.clone());
            }
        }
        return format!("DHCP (busybox udhcpc) on {}", got.join(" "));
    }
    "no DHCP client in the rescue system (neither dhclient nor busybox)".into()
}

/// Where the udhcpc helper script lives in the rescue system.
pub const UDHCPC_SCRIPT_PATH: &str = "/etc/rear/udhcpc.script";
/// The udhcpc helper: applies the lease with `ip`.
pub const UDHCPC_SCRIPT: &str = r#"#!/bin/bash
# Called by busybox udhcpc with $1 = deconfig|bound|renew and the lease in the environment.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    [ -n "$dns" ] && { for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf; }
    ;;
esac
exit 0
"#;

fn run_shell_command(runner: &dyn Runner, command: &str) -> i32 {
    let r = Cmd::mutate(tools::BASH)
        .args(["-c", command])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .timeout(Duration::from_secs(3600))
        .describe("running the command of the kernel command line")
        .allow_exit_codes(&(1..=255).collect::<Vec<_>>())
        .run(runner);
    match r {
        Ok(out) => {
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                console_line(l);
            }
            for l in String::from_utf8_lossy(&out.stderr).lines() {
                console_line(l);
            }
            out.status
        }
        Err(e) => {
            console_line(&format!("rear init: {e}"));
            -1
        }
    }
}

/// Runs `rear recover` on the console: its progress appears as it happens, prompts (without
/// `unattended`) are answered there, and no time limit applies (a restore may take hours).
/// Returns its exit status (-1 when it could not start or was killed by a signal).
fn run_on_console(command: &str) -> i32 {
    match on_console(&["/bin/bash", "-c", command]) {
        Ok(code) => code,
        Err(e) => {
            console_line(&format!("rear init: {e}"));
            -1
        }
    }
}

/// The console device a shell should run on: the primary console from
/// `/sys/class/tty/console/active` (`tty0` means the current virtual terminal, `/dev/tty1`).
pub fn primary_console(active: &str) -> PathBuf {
    match active.split_whitespace().last() {
        Some("tty0") | None => PathBuf::from("/dev/tty1"),
        Some(t) => PathBuf::from("/dev").join(t),
    }
}

/// Runs `setsid -c bash -l` on the console (so the shell has a controlling terminal and job
/// control) and waits for it.
fn console_shell() -> Result<()> {
    on_console(&["/bin/bash", "-l"]).map(|_| ())
}

/// Runs `setsid -c ARGS...` with the primary console as its terminal (stdin, stdout, stderr,
/// controlling tty) and waits for it. Interactive programs cannot go through the command runner,
/// which captures output: they are started here, directly. Returns the exit code (-1 for a
/// signal).
fn on_console(args: &[&str]) -> Result<i32> {
    let active = std::fs::read_to_string("/sys/class/tty/console/active").unwrap_or_default();
    let tty = primary_console(&active);
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tty)
            .map_err(|e| Error::io("opening console", &tty, e))
    };
    let setsid = tools::SETSID
        .resolve()
        .unwrap_or_else(|| PathBuf::from("/usr/bin/setsid"));
    let mut child = std::process::Command::new(setsid)
        .arg("-c")
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("TERM", "linux")
        .current_dir("/root")
        .stdin(open()?)
        .stdout(open()?)
        .stderr(open()?)
        .spawn()
        .map_err(|e| Error::io("starting a program on the console", &tty, e))?;
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    reap_zombies();
    Ok(code)
}

fn reap_zombies() {
    use rustix::process::{WaitOptions, wait};
    while let Ok(Some(_)) = wait(WaitOptions::NOHANG) {}
}

fn shutdown(poweroff: bool) -> ! {
    rustix::fs::sync();
    console_line(if poweroff {
        "rear init: powering off"
    } else {
        "rear init: rebooting"
    });
    let cmd = if poweroff {
        rustix::system::RebootCommand::PowerOff
    } else {
        rustix::system::RebootCommand::Restart
    };
    let _ = rustix::system::reboot(cmd);
    // reboot(2) only returns on error; PID 1 must never exit.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Runs the rescue system's PID 1. See the module documentation.
pub fn run_init(runner: &dyn Runner) -> ! {
    mount_basics();
    console_line(MARKER_STARTED);
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let _ = rustix::system::sethostname(h.trim().as_bytes());
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let boot = BootOptions::parse(&cmdline);
    load_modules(runner);
    mount_efivars(runner);
    console_line("rear init: kernel modules loaded");
    match keymap::load_keymap(runner) {
        Ok(Some(map)) => console_line(&format!("rear init: keyboard map {map} loaded")),
        Ok(None) => {}
        Err(e) => console_line(&format!("rear init: {e}")),
    }
    if !boot.no_network {
        let summary = setup_network(runner, boot.dhcp);
        console_line(&format!("rear init: {summary}"));
    }
    match ssh::start_sshd(runner) {
        Ok(Some(prints)) => {
            console_line(MARKER_SSHD);
            for p in prints {
                console_line(&format!("rear init: sshd host key {p}"));
            }
        }
        Ok(None) => {}
        Err(e) => console_line(&format!("rear init: sshd not started: {e}")),
    }
    console_line(MARKER_READY);
    if let Some(cmd) = &boot.test_command {
        let rc = run_shell_command(runner, cmd);
        console_line(&format!("REAR-TEST-RC={rc}"));
        shutdown(true);
    }
    if boot.auto_recover {
        let cmd = if boot.unattended {
            "rear --non-interactive recover"
        } else {
            "rear recover"
        };
        console_line(&format!("rear init: running '{cmd}'"));
        let rc = run_on_console(cmd);
        console_line(&format!("rear init: '{cmd}' finished with exit code {rc}"));
        if boot.unattended {
            shutdown(boot.poweroff);
        }
    }
    loop {
        console_line(BANNER);
        if let Err(e) = console_shell() {
            console_line(&format!("rear init: {e}"));
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

/// The bash `/init` used with [`crate::rescue::InitKind::Script`]: the same steps as
/// [`run_init`], in shell.
pub const INIT_SCRIPT: &str = r#"#!/bin/bash
# PID 1 of the rear rescue system (the bash alternative to the init built into the rear binary).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
say() { echo "$*" > /dev/console; }
# poweroff/reboot without depending on systemctl or busybox: the kernel's sysrq trigger
halt_now() { sync; echo "$1" > /proc/sysrq-trigger; sleep 10; }
# 1. pseudo file systems
mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
say "REAR-RESCUE-INIT: started"
hostname "$(cat /etc/hostname)" 2>/dev/null
cmdline=$(cat /proc/cmdline)
# 2. modules: MODULES_LOAD first, then drivers for the devices present, until no new device appears
grep -v '^#' /etc/rear/modules-load 2>/dev/null | xargs -r modprobe -a -b -q
seen=""
for round in 1 2 3 4 5; do
  now=$(find /sys/devices -name modalias -type f -exec cat {} + 2>/dev/null | sort -u)
  [ "$now" = "$seen" ] && break
  seen=$now
  echo "$now" | xargs -r modprobe -a -b -q
  sleep 0.3
done
say "rear init: kernel modules loaded"
# 3. network: DHCP on every Ethernet interface (the Rust init also replays the recorded addresses)
ip link set lo up
case " $cmdline " in *" noip "*) ;; *)
  for n in /sys/class/net/*; do
    [ "$(cat $n/type)" = 1 ] && [ "${n##*/}" != lo ] || continue
    ip link set "${n##*/}" up
    if command -v dhclient >/dev/null; then dhclient -1 "${n##*/}"
    elif command -v busybox >/dev/null; then
      busybox udhcpc -i "${n##*/}" -n -q -t 5 -s /etc/rear/udhcpc.script >/dev/null 2>&1 &&
        say "rear init: DHCP (busybox udhcpc) on ${n##*/}"
    fi
  done ;;
esac
# keyboard map and sshd (when the image has them)
[ -s /etc/rear/keymap ] && loadkeys -q "$(cat /etc/rear/keymap)" && say "rear init: keyboard map loaded"
if [ -f /etc/ssh/sshd_config ]; then
  mkdir -p -m 0755 /run/sshd
  for t in ed25519 ecdsa; do
    [ -e /etc/ssh/ssh_host_${t}_key ] || ssh-keygen -q -t $t -N "" -f /etc/ssh/ssh_host_${t}_key
  done
  $(command -v sshd) -f /etc/ssh/sshd_config -E /var/log/sshd.log && say "rear init: sshd started"
fi
say "REAR-RESCUE-INIT: ready"
# 4. what the kernel command line asks for
test_cmd=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^rear\.test=//p')
if [ -n "$test_cmd" ]; then
  bash -c "$test_cmd" > /dev/console 2>&1; say "REAR-TEST-RC=$?"; halt_now o
fi
case " $cmdline " in
  *" unattended "*) rear --non-interactive recover > /dev/console 2>&1
    case " $cmdline " in *" rear.poweroff "*) halt_now o ;; *) halt_now b ;; esac ;;
  *" auto_recover "*|*" automatic "*) rear recover < /dev/console > /dev/console 2>&1 ;;
esac
# 5. a login shell on the primary console, forever
tty=$(sed 's/.* //' /sys/class/tty/console/active); [ "$tty" = tty0 ] && tty=tty1
while true; do
  cat /etc/motd > /dev/$tty
  setsid -c bash -l < /dev/$tty > /dev/$tty 2>&1
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_words_and_options() {
        let c = r#"BOOT_IMAGE=/vmlinuz console=ttyS0 rear.test="rear --version; ls /" unattended quiet"#;
        let w = split_cmdline(c);
        assert_eq!(w[2], "rear.test=rear --version; ls /");
        let o = BootOptions::parse(c);
        assert!(o.unattended && o.auto_recover);
        assert_eq!(o.test_command.as_deref(), Some("rear --version; ls /"));
        let o = BootOptions::parse("auto_recover noip");
        assert!(o.auto_recover && !o.unattended && o.no_network);
    }

    #[test]
    fn primary_console_is_the_last_active_one() {
        assert_eq!(primary_console("tty0 ttyS0\n"), PathBuf::from("/dev/ttyS0"));
        assert_eq!(primary_console("ttyS0 tty0\n"), PathBuf::from("/dev/tty1"));
    }

    #[test]
    fn present_nics_reads_sysfs_layout() {
        let d = tempfile::tempdir().unwrap();
        for (n, t, mac) in [
            ("lo", "772", "00:00:00:00:00:00"),
            ("eth0", "1", "52:54:00:AB:CD:EF"),
        ] {
            std::fs::create_dir(d.path().join(n)).unwrap();
            std::fs::write(d.path().join(n).join("type"), format!("{t}\n")).unwrap();
            std::fs::write(d.path().join(n).join("address"), format!("{mac}\n")).unwrap();
        }
        assert_eq!(
            present_nics(d.path()),
            vec![PresentNic {
                name: "eth0".into(),
                mac: "52:54:00:ab:cd:ef".into()
            }]
        );
    }
}
