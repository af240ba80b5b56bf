//! Building the rescue tree (ReaR's `rescue` and `build` stages) in a stage directory.
//!
//! Contract: [`build_rescue_tree`] empties and fills `WORK_DIR/rootfs` from [`RescueOptions`] and
//! returns a [`RescueTree`] describing what went in. The order is: skeleton (with the host's
//! merged-/usr symlinks), programs ([`BASE_PROGS`], the tool registry, `PROGS`, `REQUIRED_PROGS`),
//! the `rear` binary, `COPY_AS_IS`, configuration and `VAR_DIR`, `LIBS`, then the shared libraries
//! of every ELF file shipped (with [`elf::RUNTIME_LIBS`] and the gconv modules), kernel modules
//! (with `depmod` run on the stage so `modprobe` works in the rescue system) and firmware, and
//! last the generated files (`/etc/{passwd,group,nsswitch.conf,hosts,resolv.conf}`,
//! `/etc/rear-release`, `/etc/rear/rescue.conf`, the network facts, the module lists and `/init`),
//! the sshd setup ([`ssh::install_sshd`]) and the keymap ([`keymap::install_keymap`]).
//! Missing required programs and unresolved libraries fail the build with every name listed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::copy::Stage;
use crate::rescue::elf::{self, LibResolver};
use crate::rescue::modules::{self, ModuleTree};
use crate::rescue::{
    FirmwareSelection, InitKind, ModuleSelection, RescueOptions, init, keymap, network, ssh,
};
use crate::ui::{Level, Ui};
use crate::{Error, Result};

/// Programs every rescue system gets when the host has them: what a shell session needs
/// (ReaR's default `REQUIRED_PROGS` and a few more). Missing ones are skipped.
pub const BASE_PROGS: &[&str] = &[
    "bash",
    "sh",
    "awk",
    "bc",
    "cat",
    "chmod",
    "chown",
    "chroot",
    "cmp",
    "cp",
    "cpio",
    "cut",
    "date",
    "dd",
    "df",
    "diff",
    "dirname",
    "basename",
    "dmesg",
    "du",
    "echo",
    "env",
    "expr",
    "false",
    "find",
    "free",
    "fuser",
    "getopt",
    "grep",
    "gzip",
    "head",
    "hostname",
    "id",
    "insmod",
    "kill",
    "kmod",
    "less",
    "ln",
    "ls",
    "lsmod",
    "md5sum",
    "mkdir",
    "mknod",
    "mktemp",
    "modinfo",
    "modprobe",
    "more",
    "mount",
    "mv",
    "pidof",
    "ping",
    "ps",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "rmmod",
    "sed",
    "seq",
    "setsid",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "strings",
    "stty",
    "sync",
    "tac",
    "tail",
    "tar",
    "tee",
    "test",
    "timeout",
    "touch",
    "tr",
    "true",
    "tty",
    "umount",
    "uname",
    "uniq",
    "vi",
    "wc",
    "which",
    "xargs",
    "zstd",
    "xz",
    "ip",
    "ss",
    "agetty",
    "login",
    "loadkeys",
    "dumpkeys",
    "dhclient",
    "dhclient-script",
    "ssh",
    "scp",
    "sftp",
    "sshd",
    "ssh-keygen",
    "curl",
    "nano",
    "lsblk",
    "blkid",
    "findmnt",
    "busybox",
    "mkfs",
    "mkfs.ext2",
    "mkfs.ext3",
    "mkfs.ext4",
    "e2fsck",
    "fsck",
    "fsck.ext4",
    "resize2fs",
    "e2label",
    "xfs_repair",
    "xfs_growfs",
    "fsck.vfat",
    "fdisk",
    "sgdisk",
    "gdisk",
    "wipefs",
    "partprobe",
    "vgchange",
    "lvchange",
    "pvcreate",
    "vgcreate",
    "lvcreate",
    "vgcfgrestore",
    "openvt",
    "chvt",
    "setfont",
    "lspci",
    "ethtool",
    "rsync",
    "nc",
];

/// Directories the rescue system needs, besides the host's `/bin`, `/sbin`, `/lib`, `/lib64`
/// (which are copied as they are on the host: directories or merged-/usr symlinks).
const SKELETON: &[&str] = &[
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/etc/rear",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/tmp",
    "/root",
    "/mnt/local",
    "/var/log",
    "/var/lib/rear",
    "/var/tmp",
    "/var/run",
];

/// What went into the rescue tree.
#[derive(Debug, Clone, Default)]
pub struct RescueTree {
    /// The stage directory (`WORK_DIR/rootfs`).
    pub root: PathBuf,
    /// The kernel release of the shipped modules.
    pub kernel_version: String,
    /// The kernel image to boot.
    pub kernel_image: PathBuf,
    /// Programs shipped (host paths).
    pub programs: Vec<PathBuf>,
    /// Optional programs asked for (`PROGS`) that the host does not have.
    pub programs_missing: Vec<String>,
    /// Shared libraries shipped (host paths).
    pub libraries: Vec<PathBuf>,
    /// Kernel module files shipped (relative to the modules directory).
    pub modules: Vec<String>,
    /// Requested modules the kernel does not have (warnings).
    pub modules_unknown: Vec<String>,
    /// Firmware files shipped, and declared firmware not found on the host.
    pub firmware: Vec<PathBuf>,
    /// Declared firmware not present on the host (warnings).
    pub firmware_missing: Vec<String>,
    /// Whether the rescue system starts sshd (`SSH_ROOT_PASSWORD` or root's authorized keys, and
    /// the host has sshd).
    pub sshd: bool,
    /// The keymap the rescue system loads (`KEYMAP` or the host's), if any.
    pub keymap: Option<String>,
    /// Bytes of regular files in the tree.
    pub bytes: u64,
}

fn find_program(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return p.exists().then_some(p);
    }
    tools::SEARCH_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Builds the rescue tree. See the module documentation for what goes in.
pub fn build_rescue_tree(
    opts: &RescueOptions,
    runner: &dyn Runner,
    ui: &dyn Ui,
) -> Result<RescueTree> {
    let started = std::time::Instant::now();
    let root = opts.stage_dir();
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|e| Error::io("removing old stage", &root, e))?;
    }
    let mut stage = Stage::new(&root)?;
    let mut tree = RescueTree {
        root: root.clone(),
        kernel_version: opts.kernel.version.clone(),
        kernel_image: opts.kernel.image.clone(),
        ..RescueTree::default()
    };
    ui.message(Level::Progress, "Creating the rescue system");

    // Skeleton: the host's top-level bin/lib directories or merged-/usr links, then the rest.
    for top in ["/bin", "/sbin", "/lib", "/lib64"] {
        if std::fs::symlink_metadata(top).is_ok() {
            stage.copy_path(Path::new(top))?;
        }
    }
    for d in SKELETON {
        stage.mkdir(Path::new(d))?;
    }

    // Programs.
    let mut programs: BTreeSet<PathBuf> = BTreeSet::new();
    for p in BASE_PROGS
        .iter()
        .copied()
        .chain(opts.progs.iter().map(String::as_str))
    {
        match find_program(p) {
            Some(path) => {
                programs.insert(path);
            }
            None if BASE_PROGS.contains(&p) => {}
            None => tree.programs_missing.push(p.to_string()),
        }
    }
    let mut required_missing = Vec::new();
    for p in &opts.required_progs {
        match find_program(p) {
            Some(path) => {
                programs.insert(path);
            }
            None => required_missing.push(p.clone()),
        }
    }
    if opts.ship_registry_tools {
        for t in tools::ALL
            .iter()
            .filter(|t| t.need() != tools::Need::MethodOnly)
        {
            match t.resolve() {
                Some(path) => {
                    programs.insert(path);
                }
                None if t.need() == tools::Need::Required => {
                    required_missing.push(format!("{} (package {})", t.program(), t.package()));
                }
                None => {}
            }
        }
    }
    if !required_missing.is_empty() {
        return Err(Error::invalid(
            "rescue image",
            format!(
                "required programs missing on this system: {} (install them, or remove them \
                 from REQUIRED_PROGS)",
                required_missing.join(", ")
            ),
        ));
    }
    for p in &programs {
        stage.copy_path(p)?;
    }
    tree.programs = programs.iter().cloned().collect();
    let mut elf_files: Vec<PathBuf> = programs.iter().cloned().collect();

    // The rear binary itself.
    let rear_data = std::fs::read(&opts.rear_binary)
        .map_err(|e| Error::io("reading the rear binary", &opts.rear_binary, e))?;
    stage.write(Path::new("/usr/sbin/rear"), &rear_data, 0o755)?;
    elf_files.push(opts.rear_binary.clone());
    if let InitKind::Program(init) = &opts.init {
        let data =
            std::fs::read(init).map_err(|e| Error::io("reading the init program", init, e))?;
        stage.write(Path::new("/init"), &data, 0o755)?;
        elf_files.push(init.clone());
    }

    // COPY_AS_IS, configuration, VAR_DIR.
    let mut exclude = opts.copy_as_is_exclude.clone();
    exclude.push(format!("{}/output", opts.var_dir.display()));
    // The build directory may lie below a copied tree (TMPDIR inside the configuration
    // directory): never copy the stage into itself.
    exclude.push(root.display().to_string());
    for p in &opts.copy_as_is {
        let files = stage.copy_tree(p, &exclude)?;
        elf_files.extend(files.into_iter().filter(|f| is_exec_or_lib(f)));
    }
    if opts.config_dir.is_dir() {
        copy_dir_to(&mut stage, &opts.config_dir, Path::new("/etc/rear"), &root)?;
    }
    if opts.var_dir.is_dir() {
        stage.copy_tree(&opts.var_dir, &exclude)?;
    }

    // LIBS and run-time loaded libraries.
    let mut resolver = LibResolver::for_host();
    let mut extra_libs: Vec<PathBuf> = Vec::new();
    for l in &opts.libs {
        if l.starts_with('/') {
            extra_libs.extend(elf::glob_last_component(Path::new(l)));
        } else if let Some(p) = resolver.find_system_lib(l) {
            extra_libs.push(p);
        } else {
            return Err(Error::invalid(
                format!("LIBS entry '{l}'"),
                "no such library in the library directories",
            ));
        }
    }
    for l in elf::RUNTIME_LIBS {
        if let Some(p) = resolver.find_system_lib(l) {
            extra_libs.push(p);
        }
    }
    extra_libs.extend(gconv_files(&resolver));
    for l in &extra_libs {
        stage.copy_path(l)?;
    }
    elf_files.extend(extra_libs.iter().cloned());

    // Shared libraries of everything, checked.
    let resolution = resolver.resolve(&elf_files)?;
    resolution.check(&opts.non_fatal_binaries)?;
    for m in &resolution.missing {
        ui.message(
            Level::Warning,
            &format!(
                "{} needs {} (not found; listed as non-fatal)",
                m.binary.display(),
                m.library
            ),
        );
    }
    for lib in &resolution.libraries {
        stage.copy_path(lib)?;
    }
    tree.libraries = resolution.libraries.iter().cloned().collect();
    // The loader's cache, so that libraries in ld.so.conf directories are found as on the host.
    let conf: String = resolver
        .system_dirs()
        .iter()
        .map(|d| format!("{}\n", d.display()))
        .collect();
    stage.write(Path::new("/etc/ld.so.conf"), conf.as_bytes(), 0o644)?;
    if tools::LDCONFIG.resolve().is_some() {
        Cmd::mutate(tools::LDCONFIG)
            .arg("-r")
            .arg(stage.root())
            .describe("writing the library cache of the rescue system")
            .run(runner)?;
    }

    // Kernel modules and firmware.
    add_modules(opts, &mut stage, &mut tree, runner, ui)?;

    // Generated files.
    write_etc(opts, &mut stage, runner)?;
    tree.sshd = ssh::install_sshd(&opts.ssh, &mut stage)?;
    tree.keymap = keymap::install_keymap(&opts.keymap, &mut stage, runner)?;
    match &opts.init {
        InitKind::Rust => {
            let init = stage.dest(Path::new("/init"));
            std::os::unix::fs::symlink("usr/sbin/rear", &init)
                .map_err(|e| Error::io("creating symlink", &init, e))?;
        }
        InitKind::Script => stage.write(Path::new("/init"), init::INIT_SCRIPT.as_bytes(), 0o755)?,
        InitKind::Program(_) => {}
    }
    tree.bytes = stage.bytes_copied();
    tracing::info!(
        "rescue tree {} built in {:.1?}: {} programs, {} libraries, {} modules, {} MB",
        root.display(),
        started.elapsed(),
        tree.programs.len(),
        tree.libraries.len(),
        tree.modules.len(),
        tree.bytes / 1_000_000
    );
    Ok(tree)
}

fn is_exec_or_lib(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.contains(".so")
        || std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Copies host directory `from` to rescue path `to` (for a config dir not at `/etc/rear`),
/// leaving out `skip` (the stage itself, when the build directory lies below `from`).
fn copy_dir_to(stage: &mut Stage, from: &Path, to: &Path, skip: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !e.path().starts_with(skip))
    {
        let entry = entry
            .map_err(|e| Error::io("walking", e.path().unwrap_or(from).to_path_buf(), e.into()))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            stage.mkdir(&dest)?;
        } else if entry.file_type().is_file() {
            stage.copy_file_to(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// The gconv configuration and the few converters tools use (UTF-16/32 for file names and
/// `iconv`), when the host has them.
fn gconv_files(resolver: &LibResolver) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in resolver.system_dirs() {
        let g = dir.join("gconv");
        if !g.is_dir() {
            continue;
        }
        for name in [
            "gconv-modules",
            "gconv-modules.cache",
            "UTF-16.so",
            "UTF-32.so",
            "UTF-7.so",
        ] {
            let p = g.join(name);
            if p.is_file() {
                out.push(p);
            }
        }
        if let Ok(rd) = std::fs::read_dir(g.join("gconv-modules.d")) {
            out.extend(
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_file()),
            );
        }
        break;
    }
    out.sort();
    out
}

fn add_modules(
    opts: &RescueOptions,
    stage: &mut Stage,
    tree: &mut RescueTree,
    runner: &dyn Runner,
    ui: &dyn Ui,
) -> Result<()> {
    if opts.kernel.modules_dir().is_dir() {
        ui.message(Level::Progress, "Adding kernel modules");
    } else if opts.modules == ModuleSelection::None {
        return Ok(());
    }
    let mtree = ModuleTree::open(&opts.kernel.modules_dir())?;
    let requests: Vec<String> = match &opts.modules {
        ModuleSelection::None => opts.modules_load.clone(),
        ModuleSelection::All => Vec::new(),
        ModuleSelection::Default(extra) => modules::DEFAULT_MODULES
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .chain(opts.modules_load.iter().cloned())
            .collect(),
    };
    let mut files = if opts.modules == ModuleSelection::All {
        mtree.all_files()
    } else {
        let set = mtree.resolve(&requests);
        tree.modules_unknown = set.unknown;
        set.files
    };
    let excluded: BTreeSet<String> = opts
        .exclude_modules
        .iter()
        .map(|m| modules::normalize(m))
        .collect();
    files.retain(|f| !excluded.contains(&modules::name_of_path(f)));
    let mod_dest = PathBuf::from("/lib/modules").join(&opts.kernel.version);
    for f in &files {
        stage.copy_file_to(&mtree.dir().join(f), &mod_dest.join(f))?;
    }
    for meta in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        let p = mtree.dir().join(meta);
        if p.is_file() {
            stage.copy_file_to(&p, &mod_dest.join(meta))?;
        }
    }
    // Let depmod write modules.dep and its binary indexes for the subset, so that modprobe
    // works in the rescue system.
    Cmd::mutate(tools::DEPMOD)
        .args([
            "-b".as_ref(),
            stage.root().as_os_str(),
            opts.kernel.version.as_ref(),
        ])
        .describe("indexing the kernel modules of the rescue system")
        .run(runner)?;

    // Firmware.
    let mut fw: BTreeSet<PathBuf> = BTreeSet::new();
    if opts.firmware != FirmwareSelection::None {
        for f in &files {
            for name in modules::module_firmware(&mtree.dir().join(f), runner)? {
                match modules::find_firmware(Path::new("/"), &name) {
                    Some(p) => {
                        fw.insert(p);
                    }
                    None => tree.firmware_missing.push(name),
                }
            }
        }
    }
    if let FirmwareSelection::Patterns(pats) = &opts.firmware {
        for dir in ["/lib/firmware", "/usr/lib/firmware"] {
            if !Path::new(dir).is_dir() {
                continue;
            }
            for e in walkdir::WalkDir::new(dir)
                .follow_links(false)
                .into_iter()
                .filter_map(|e| e.ok())
            {
                let s = e.path().to_string_lossy();
                if e.file_type().is_file()
                    && pats
                        .iter()
                        .any(|p| p == "*" || elf::wildcard_match(&format!("*{p}"), &s))
                {
                    fw.insert(e.path().to_path_buf());
                }
            }
            break;
        }
    }
    for p in &fw {
        stage.copy_path(p)?;
    }
    tree.firmware = fw.into_iter().collect();
    tree.firmware_missing.sort();
    tree.firmware_missing.dedup();
    tree.modules = files;

    // The list of modules the init loads first (MODULES_LOAD), one per line.
    let mut load = opts.modules_load.join("\n");
    load.push('\n');
    stage.write(Path::new(init::MODULES_LOAD_FILE), load.as_bytes(), 0o644)?;
    Ok(())
}

fn write_etc(opts: &RescueOptions, stage: &mut Stage, runner: &dyn Runner) -> Result<()> {
    // Users and groups: the host's (tar restores ownership and ACLs by name), no shadow.
    for (f, fallback) in [
        ("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        ("/etc/group", "root:x:0:\n"),
    ] {
        let data = std::fs::read(f).unwrap_or_else(|_| fallback.as_bytes().to_vec());
        stage.write(Path::new(f), &data, 0o644)?;
    }
    // The console login is passwordless (ReaR's default; TTY_ROOT_PASSWORD is not built yet).
    stage.write(Path::new("/etc/shadow"), b"root::::::::\n", 0o600)?;
    stage.write(
        Path::new("/etc/nsswitch.conf"),
        b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n\
          protocols: files\nservices: files\n",
        0o644,
    )?;
    stage.write(
        Path::new("/etc/hosts"),
        format!(
            "127.0.0.1 localhost\n127.0.1.1 {}\n::1 localhost\n",
            opts.hostname
        )
        .as_bytes(),
        0o644,
    )?;
    stage.write(
        Path::new("/etc/hostname"),
        format!("{}\n", opts.hostname).as_bytes(),
        0o644,
    )?;
    for f in [
        "/etc/services",
        "/etc/protocols",
        "/etc/inputrc",
        "/etc/localtime",
    ] {
        if Path::new(f).is_file() {
            stage.copy_path(Path::new(f))?;
        }
    }
    let mut facts = match &opts.network {
        Some(f) => f.clone(),
        None => network::probe_network(runner)?,
    };
    facts.use_dhcp |= opts.use_dhcp;
    facts
        .preparation_commands
        .extend(opts.networking_preparation_commands.iter().cloned());
    let resolv: String = facts
        .nameservers
        .iter()
        .map(|n| format!("nameserver {n}\n"))
        .collect();
    stage.write(Path::new("/etc/resolv.conf"), resolv.as_bytes(), 0o644)?;
    let json = serde_json::to_vec_pretty(&facts)
        .map_err(|e| Error::invalid("network facts", e.to_string()))?;
    stage.write(Path::new(init::NETWORK_FILE), &json, 0o644)?;

    // ReaR's marker that this is a rescue system, and the build-time facts.
    let release = format!("Relax-and-Recover (rear-rs) {}\n", crate::VERSION);
    stage.write(Path::new("/etc/rear-release"), release.as_bytes(), 0o644)?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut conf =
        String::from("# Written by rear mkrescue: facts of the source system at build time.\n");
    let q = bash_quote;
    conf.push_str(&format!("RESCUE_BUILD_DATE={}\n", q(&now)));
    conf.push_str(&format!("RESCUE_SOURCE_HOSTNAME={}\n", q(&opts.hostname)));
    conf.push_str(&format!(
        "RESCUE_KERNEL_VERSION={}\n",
        q(&opts.kernel.version)
    ));
    conf.push_str(&format!(
        "USE_DHCLIENT={}\n",
        if facts.use_dhcp { "y" } else { "" }
    ));
    for i in &facts.interfaces {
        conf.push_str(&format!(
            "# interface {} mac {} mtu {} addresses {}\n",
            i.name,
            i.mac,
            i.mtu,
            i.addresses.join(" ")
        ));
    }
    for r in &facts.routes {
        conf.push_str(&format!(
            "# route {} via {} dev {}\n",
            r.dst,
            r.gateway.as_deref().unwrap_or("-"),
            r.dev
        ));
    }
    for (k, v) in &opts.rescue_conf {
        conf.push_str(&format!("{k}={}\n", q(v)));
    }
    stage.write(Path::new("/etc/rear/rescue.conf"), conf.as_bytes(), 0o644)?;
    let profile = format!(
        "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1='RESCUE {}:\\w # '\n\
         cat /etc/motd 2>/dev/null\n",
        opts.hostname
    );
    stage.write(Path::new("/root/.bash_profile"), profile.as_bytes(), 0o644)?;
    stage.write(Path::new("/etc/motd"), init::BANNER.as_bytes(), 0o644)?;
    stage.write(
        Path::new(init::UDHCPC_SCRIPT_PATH),
        init::UDHCPC_SCRIPT.as_bytes(),
        0o755,
    )?;
    // On the host these are links to systemctl, which needs a running systemd: the rescue system
    // gets small scripts that sync, unmount and use the kernel's sysrq trigger instead.
    for (name, key) in [
        ("reboot", "b"),
        ("poweroff", "o"),
        ("halt", "o"),
        ("shutdown", "o"),
    ] {
        let script = format!(
            "#!/bin/bash\n# {name} in the rear rescue system (no systemd here)\nsync\n\
             umount -a -r 2>/dev/null\nsync\necho {key} > /proc/sysrq-trigger\n"
        );
        stage.write(&Path::new("/usr/sbin").join(name), script.as_bytes(), 0o755)?;
    }
    Ok(())
}

/// Single-quotes a value for bash.
fn bash_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
