//! The rescue system: a small, complete, bootable image built from the running system.
//!
//! Contract, in the order the mkrescue workflow calls it:
//! 1. [`build_rescue_tree`] (stages `rescue` + `build`): copies into a stage directory every
//!    program of the tool registry that exists on the host plus `PROGS`/`REQUIRED_PROGS`, their
//!    shared libraries (resolved by parsing ELF, see [`elf`]), the run-time loaded libraries, the
//!    kernel modules with dependencies and firmware ([`modules`]), `COPY_AS_IS`, `LIBS`, the `rear`
//!    binary, the configuration and `/var/lib/rear`, a minimal `/etc`, `/etc/rear/rescue.conf`,
//!    the network facts ([`network`]) and `/init`. It fails, naming the binary and the library,
//!    when a shipped binary has an unresolved library, and when a required program is missing.
//! 2. [`pack_initramfs`] (stage `pack`): writes the stage as a reproducible cpio newc archive
//!    ([`cpio`]) compressed with zstd (multithreaded, the default), gzip or xz.
//! 3. [`write_output`] (stage `output`): `RAMDISK` (kernel + initrd) or `ISO` (hybrid BIOS via
//!    isolinux + UEFI via a GRUB standalone EFI image), `RAWDISK`, `PXE` and `USB` ([`usb`]), see
//!    [`output`].
//!
//! At boot the image runs [`init::run_init`] as PID 1 (the `rear` binary dispatches to it when it
//! runs as PID 1 or as `/init`); a commented bash `/init` is the alternative ([`InitKind`]).
//! Nothing here prints: progress goes through [`crate::ui::Ui`], details to the log.

pub mod copy;
pub mod cpio;
pub mod elf;
pub mod init;
pub mod keymap;
pub mod modules;
pub mod network;
pub mod output;
pub mod pack;
pub mod ssh;
pub mod tree;
pub mod usb;

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::{Error, Result};

pub use output::{OutputKind, OutputOptions, OutputReport, write_output};
pub use pack::{Compression, PackReport, pack_initramfs};
pub use tree::{RescueTree, build_rescue_tree};

/// The kernel the rescue system boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSource {
    /// The kernel image (`/boot/vmlinuz-VERSION`, `-r`, or `KERNEL_FILE`).
    pub image: PathBuf,
    /// The kernel release (`uname -r` style).
    pub version: String,
    /// The root below which `lib/modules/VERSION` is found: `/` for the running system, or the
    /// directory an unpacked `linux-image-*.deb` was extracted to.
    pub modules_root: PathBuf,
}

impl KernelSource {
    /// The kernel `version` installed on the running system.
    pub fn installed(version: &str) -> Result<Self> {
        Self::in_root(Path::new("/"), version)
    }

    /// A kernel below `root` (`ROOT/boot/vmlinuz-VERSION` and `ROOT/lib/modules/VERSION`), for
    /// example an unpacked kernel package.
    pub fn in_root(root: &Path, version: &str) -> Result<Self> {
        let image = root.join("boot").join(format!("vmlinuz-{version}"));
        if !image.is_file() {
            return Err(Error::invalid(
                format!("kernel {version}"),
                format!(
                    "no kernel image {} (install the kernel package, or give one with -r or \
                     KERNEL_FILE)",
                    image.display()
                ),
            ));
        }
        Ok(KernelSource {
            image,
            version: version.to_string(),
            modules_root: root.to_path_buf(),
        })
    }

    /// A kernel image file (`KERNEL_FILE`); its version is read from the bzImage header and its
    /// modules are looked for on the running system.
    pub fn from_image(image: &Path) -> Result<Self> {
        let data = std::fs::read(image).map_err(|e| Error::io("reading", image, e))?;
        let version = bzimage_version(&data).ok_or_else(|| {
            Error::invalid(
                image.display().to_string(),
                "not an x86 bzImage with a version string",
            )
        })?;
        Ok(KernelSource {
            image: image.to_path_buf(),
            version,
            modules_root: PathBuf::from("/"),
        })
    }

    /// The running kernel (`uname -r`).
    pub fn running(runner: &dyn Runner) -> Result<Self> {
        let v = Cmd::probe(tools::UNAME)
            .arg("-r")
            .describe("reading the running kernel release")
            .output_string(runner)?;
        Self::installed(v.trim())
    }

    /// `MODULES_ROOT/lib/modules/VERSION`.
    pub fn modules_dir(&self) -> PathBuf {
        self.modules_root.join("lib/modules").join(&self.version)
    }
}

/// The kernel release string of an x86 bzImage (boot protocol ≥ 2.00: a pointer at 0x20E, plus
/// 0x200, to a NUL-terminated string starting with the release).
pub fn bzimage_version(data: &[u8]) -> Option<String> {
    if data.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let off = u16::from_le_bytes([*data.get(0x20E)?, *data.get(0x20F)?]) as usize + 0x200;
    let s = data.get(off..off.checked_add(256)?.min(data.len()))?;
    let end = s.iter().position(|b| *b == 0 || *b == b' ')?;
    let v = std::str::from_utf8(&s[..end]).ok()?;
    (!v.is_empty()).then(|| v.to_string())
}

/// Which kernel modules go into the image (`MODULES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSelection {
    /// [`modules::DEFAULT_MODULES`] plus the listed extra names (`MODULES=()` or a list).
    Default(Vec<String>),
    /// Every module of the kernel (`MODULES=('all_modules')`).
    All,
    /// No modules at all (`MODULES=('no_modules')`).
    None,
}

impl ModuleSelection {
    /// Maps ReaR's `MODULES` array.
    pub fn from_config(modules: &[String]) -> Self {
        if modules.iter().any(|m| m == "all_modules") {
            ModuleSelection::All
        } else if modules.iter().any(|m| m == "no_modules") {
            ModuleSelection::None
        } else {
            ModuleSelection::Default(
                modules
                    .iter()
                    .filter(|m| *m != "loaded_modules")
                    .cloned()
                    .collect(),
            )
        }
    }
}

/// Which firmware files go into the image (`FIRMWARE_FILES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareSelection {
    /// The firmware the shipped modules declare (`modinfo -F firmware`), the default.
    ForModules,
    /// No firmware (`FIRMWARE_FILES=('no')`).
    None,
    /// The declared firmware plus every file under `/lib/firmware` whose path matches one of these
    /// shell patterns (`FIRMWARE_FILES=('*iwlwifi*')`); `*` means all firmware.
    Patterns(Vec<String>),
}

impl FirmwareSelection {
    /// Maps ReaR's `FIRMWARE_FILES` array. Unlike ReaR, an empty array means "what the modules
    /// need", not "all of /lib/firmware" (that is `('*')`): all firmware is the main reason
    /// ReaR images grow to hundreds of MB.
    pub fn from_config(files: &[String]) -> Self {
        match files {
            [] => FirmwareSelection::ForModules,
            [x] if matches!(x.as_str(), "no" | "false" | "n" | "0") => FirmwareSelection::None,
            _ => FirmwareSelection::Patterns(files.to_vec()),
        }
    }
}

/// What runs as PID 1 in the rescue system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitKind {
    /// `/init` is a symlink to the `rear` binary, which runs [`init::run_init`].
    Rust,
    /// `/init` is the commented bash script [`init::INIT_SCRIPT`], for a `rear` binary that does
    /// not dispatch to the Rust init.
    Script,
    /// This program is shipped as `/init`; it must call [`init::run_init`] when it is PID 1 (used
    /// by the VM tests, whose test binary is the init).
    Program(PathBuf),
}

/// Everything [`build_rescue_tree`] needs. See `docs/rescue.md` for the configuration variable
/// behind each field.
#[derive(Debug, Clone)]
pub struct RescueOptions {
    /// The build directory; the tree is built in `WORK_DIR/rootfs` (ReaR's `$TMP_DIR`).
    pub work_dir: PathBuf,
    /// The kernel (`-r`, `KERNEL_FILE`, or the running one).
    pub kernel: KernelSource,
    /// `MODULES`.
    pub modules: ModuleSelection,
    /// `MODULES_LOAD`: modules the init loads first, in order.
    pub modules_load: Vec<String>,
    /// `EXCLUDE_MODULES`.
    pub exclude_modules: Vec<String>,
    /// `FIRMWARE_FILES`.
    pub firmware: FirmwareSelection,
    /// `PROGS`: optional extra programs (names or absolute paths).
    pub progs: Vec<String>,
    /// `REQUIRED_PROGS`: programs that must exist.
    pub required_progs: Vec<String>,
    /// `COPY_AS_IS`: files and directories copied as they are.
    pub copy_as_is: Vec<PathBuf>,
    /// `COPY_AS_IS_EXCLUDE`: shell patterns of paths left out.
    pub copy_as_is_exclude: Vec<String>,
    /// `LIBS`: extra libraries (absolute paths, globs, or file names looked up in the library
    /// directories).
    pub libs: Vec<String>,
    /// `NON_FATAL_BINARIES_WITH_MISSING_LIBRARY`.
    pub non_fatal_binaries: Vec<String>,
    /// The `rear` binary to ship (`std::env::current_exe()`), installed as `/usr/sbin/rear`.
    pub rear_binary: PathBuf,
    /// The configuration directory (`CONFIG_DIR`, `/etc/rear`), copied to `/etc/rear`.
    pub config_dir: PathBuf,
    /// The variable-data directory (`VAR_DIR`, `/var/lib/rear`: layout and recovery facts),
    /// copied without its `output/`.
    pub var_dir: PathBuf,
    /// The host name of the source system.
    pub hostname: String,
    /// Network facts to record; `None` probes the running system with `ip`.
    pub network: Option<network::NetworkFacts>,
    /// `USE_DHCLIENT`: the rescue system uses DHCP instead of the recorded addresses.
    pub use_dhcp: bool,
    /// `NETWORKING_PREPARATION_COMMANDS`, run by the init before the network setup.
    pub networking_preparation_commands: Vec<String>,
    /// Extra `KEY=value` lines for `/etc/rear/rescue.conf` (build-time facts the workflow wants
    /// the rescue system to know).
    pub rescue_conf: Vec<(String, String)>,
    /// What runs as PID 1.
    pub init: InitKind,
    /// sshd in the rescue system (`SSH_ROOT_PASSWORD`, root's authorized keys, `SSH_FILES`).
    pub ssh: ssh::SshOptions,
    /// The console keymap (`KEYMAP`, else the host's).
    pub keymap: keymap::KeymapChoice,
    /// Ship the tools of the registry ([`tools::ALL`]) found on the host (true by default;
    /// tests turn it off to build small images).
    pub ship_registry_tools: bool,
}

impl RescueOptions {
    /// Options with the defaults of a plain `rear mkrescue` on this host: every list empty,
    /// default modules, firmware of the modules, `/etc/rear` and `/var/lib/rear`.
    pub fn new(work_dir: &Path, kernel: KernelSource, rear_binary: &Path) -> Self {
        RescueOptions {
            work_dir: work_dir.to_path_buf(),
            kernel,
            modules: ModuleSelection::Default(Vec::new()),
            modules_load: Vec::new(),
            exclude_modules: Vec::new(),
            firmware: FirmwareSelection::ForModules,
            progs: Vec::new(),
            required_progs: Vec::new(),
            copy_as_is: Vec::new(),
            copy_as_is_exclude: Vec::new(),
            libs: Vec::new(),
            non_fatal_binaries: Vec::new(),
            rear_binary: rear_binary.to_path_buf(),
            config_dir: PathBuf::from("/etc/rear"),
            var_dir: PathBuf::from("/var/lib/rear"),
            hostname: std::fs::read_to_string("/etc/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "localhost".into()),
            network: None,
            use_dhcp: false,
            networking_preparation_commands: Vec::new(),
            rescue_conf: Vec::new(),
            init: InitKind::Rust,
            ssh: ssh::SshOptions::from_host(),
            keymap: keymap::KeymapChoice::Host,
            ship_registry_tools: true,
        }
    }

    /// Takes the rescue settings from ReaR's configuration variables: `MODULES`,
    /// `MODULES_LOAD`, `EXCLUDE_MODULES`, `FIRMWARE_FILES`, `PROGS`, `REQUIRED_PROGS`,
    /// `COPY_AS_IS`, `COPY_AS_IS_EXCLUDE`, `LIBS`, `NON_FATAL_BINARIES_WITH_MISSING_LIBRARY`,
    /// `CONFIG_DIR`, `VAR_DIR`, `HOSTNAME`, `USE_DHCLIENT`, `NETWORKING_PREPARATION_COMMANDS`,
    /// `SSH_ROOT_PASSWORD`, `SSH_FILES` and `KEYMAP`. Unset variables keep the
    /// current values. The kernel (`KERNEL_FILE`, `-r`) is chosen by the caller
    /// ([`KernelSource`]).
    pub fn apply_config(&mut self, config: &crate::config::Config) {
        let set = |name: &str| config.get(name).is_some();
        if set("MODULES") {
            self.modules = ModuleSelection::from_config(&config.list("MODULES"));
        }
        if set("FIRMWARE_FILES") {
            self.firmware = FirmwareSelection::from_config(&config.list("FIRMWARE_FILES"));
        }
        let lists: [(&str, &mut Vec<String>); 8] = [
            (
                "NETWORKING_PREPARATION_COMMANDS",
                &mut self.networking_preparation_commands,
            ),
            ("MODULES_LOAD", &mut self.modules_load),
            ("EXCLUDE_MODULES", &mut self.exclude_modules),
            ("PROGS", &mut self.progs),
            ("REQUIRED_PROGS", &mut self.required_progs),
            ("COPY_AS_IS_EXCLUDE", &mut self.copy_as_is_exclude),
            ("LIBS", &mut self.libs),
            (
                "NON_FATAL_BINARIES_WITH_MISSING_LIBRARY",
                &mut self.non_fatal_binaries,
            ),
        ];
        for (name, field) in lists {
            if set(name) {
                *field = config.list(name);
            }
        }
        if set("COPY_AS_IS") {
            self.copy_as_is = config
                .list("COPY_AS_IS")
                .into_iter()
                .map(PathBuf::from)
                .collect();
        }
        for (name, field) in [
            ("CONFIG_DIR", &mut self.config_dir),
            ("VAR_DIR", &mut self.var_dir),
        ] {
            if let Some(v) = config.get_string(name).filter(|v| !v.is_empty()) {
                *field = PathBuf::from(v);
            }
        }
        if let Some(h) = config.get_string("HOSTNAME").filter(|v| !v.is_empty()) {
            self.hostname = h;
        }
        self.use_dhcp |= config.is_true("USE_DHCLIENT");
        self.ssh.apply_config(config);
        if config
            .get_string("KEYMAP")
            .is_some_and(|k| !k.trim().is_empty())
        {
            self.keymap = keymap::KeymapChoice::from_config(config);
        }
    }

    /// The stage directory.
    pub fn stage_dir(&self) -> PathBuf {
        self.work_dir.join("rootfs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_and_firmware_selection_from_config() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ModuleSelection::from_config(&s(&["all_modules"])),
            ModuleSelection::All
        );
        assert_eq!(
            ModuleSelection::from_config(&s(&["loaded_modules", "zram"])),
            ModuleSelection::Default(s(&["zram"]))
        );
        assert_eq!(
            FirmwareSelection::from_config(&[]),
            FirmwareSelection::ForModules
        );
        assert_eq!(
            FirmwareSelection::from_config(&s(&["no"])),
            FirmwareSelection::None
        );
    }

    #[test]
    fn options_from_config_variables() {
        use crate::config::{Config, Value};
        let mut c = Config::new();
        let arr = |v: &[&str]| Value::Array(v.iter().map(|s| s.to_string()).collect());
        c.set("MODULES", arr(&["all_modules"]));
        c.set("MODULES_LOAD", Value::Scalar("vmxnet3 zram".into()));
        c.set("FIRMWARE_FILES", arr(&["no"]));
        c.set("PROGS", arr(&["strace"]));
        c.set("COPY_AS_IS", arr(&["/opt/agent", "/etc/agent.conf"]));
        c.set("USE_DHCLIENT", Value::Scalar("yes".into()));
        c.set("VAR_DIR", Value::Scalar("/srv/rear".into()));
        let k = KernelSource {
            image: "/boot/vmlinuz-x".into(),
            version: "x".into(),
            modules_root: "/".into(),
        };
        let mut o = RescueOptions::new(Path::new("/tmp/w"), k, Path::new("/usr/sbin/rear"));
        o.apply_config(&c);
        assert_eq!(o.modules, ModuleSelection::All);
        assert_eq!(o.modules_load, vec!["vmxnet3", "zram"]);
        assert_eq!(o.firmware, FirmwareSelection::None);
        assert_eq!(o.progs, vec!["strace"]);
        assert_eq!(
            o.copy_as_is,
            vec![PathBuf::from("/opt/agent"), "/etc/agent.conf".into()]
        );
        assert!(o.use_dhcp);
        assert_eq!(o.var_dir, PathBuf::from("/srv/rear"));
        assert_eq!(o.config_dir, PathBuf::from("/etc/rear"));
    }

    #[test]
    fn bzimage_header_version() {
        let mut img = vec![0u8; 0x1000];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20E..0x210].copy_from_slice(&0x300u16.to_le_bytes());
        let s = b"6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        img[0x500..0x500 + s.len()].copy_from_slice(s);
        assert_eq!(bzimage_version(&img).as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(bzimage_version(&[0u8; 10]), None);
    }
}
