//! Kernel modules for the rescue system: which ones, with their dependencies and firmware.
//!
//! Contract: a [`ModuleTree`] is read from `/lib/modules/<version>` (of the running system, or of
//! an unpacked kernel package) and answers [`ModuleTree::resolve`]: given module names, aliases or
//! wildcards (`nls_*`), it returns every module file needed, dependencies first (`modules.dep`),
//! with soft dependencies (`modules.softdep` `pre:`/`post:`, e.g. ext4's crc32c) and the modules
//! built into the kernel (`modules.builtin`) counted as present. Names compare with `-` and `_`
//! equal, as modprobe does. [`module_firmware`] reads the `firmware=` entries of a module's
//! `.modinfo` section (plain, `.ko.zst`, `.ko.gz` or `.ko.xz` modules), which is what
//! `modinfo -F firmware` prints.
//!
//! The tree must have been through `depmod` (a `modules.dep`); an unpacked kernel package has none
//! until `depmod -b ROOT VERSION` runs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::elf::wildcard_match;
use crate::{Error, Result};

/// The modules every rescue system gets (unless `MODULES=all_modules` ships all of them):
/// storage controllers and disks, filesystems, device-mapper, md RAID, the crypto LUKS needs,
/// common network drivers, USB and virtio (and 9p, for tests under qemu).
pub const DEFAULT_MODULES: &[&str] = &[
    // storage
    "ahci",
    "ata_piix",
    "ata_generic",
    "sd_mod",
    "sr_mod",
    "nvme",
    "virtio_blk",
    "virtio_scsi",
    "virtio_pci",
    "virtio_mmio",
    "virtio_console",
    "virtio_rng",
    "scsi_mod",
    "sg",
    "mptsas",
    "mptspi",
    "megaraid_sas",
    "mpt3sas",
    "aacraid",
    "hpsa",
    "smartpqi",
    "vmw_pvscsi",
    "hv_storvsc",
    "xen-blkfront",
    "uas",
    "usb-storage",
    "mmc_block",
    "sdhci_pci",
    "loop",
    // USB and input
    "xhci_pci",
    "xhci_hcd",
    "ehci_pci",
    "ehci_hcd",
    "ohci_pci",
    "uhci_hcd",
    "usbhid",
    "hid_generic",
    "atkbd",
    "i8042",
    // filesystems
    "ext4",
    "xfs",
    "btrfs",
    "vfat",
    "msdos",
    "isofs",
    "udf",
    "squashfs",
    "overlay",
    "nls_*",
    "efivarfs",
    "nfs",
    "nfsv3",
    "nfsv4",
    "cifs",
    // device-mapper, md
    "dm-mod",
    "dm-crypt",
    "dm-thin-pool",
    "dm-mirror",
    "dm-raid",
    "dm-snapshot",
    "dm-multipath",
    "dm-round-robin",
    "dm-cache",
    "dm-integrity",
    "md-mod",
    "raid0",
    "raid1",
    "raid10",
    "raid456",
    "linear",
    // crypto LUKS uses
    "aes",
    "aesni_intel",
    "xts",
    "cbc",
    "ecb",
    "sha256",
    "sha512",
    "crc32c",
    "crc32c_intel",
    "af_alg",
    "algif_skcipher",
    "algif_hash",
    "essiv",
    "cryptd",
    // network
    "virtio_net",
    "e1000",
    "e1000e",
    "igb",
    "igc",
    "ixgbe",
    "i40e",
    "ice",
    "bnx2",
    "bnx2x",
    "bnxt_en",
    "tg3",
    "r8169",
    "8139cp",
    "8139too",
    "ne2k-pci",
    "pcnet32",
    "vmxnet3",
    "hv_netvsc",
    "xen-netfront",
    "mlx4_en",
    "mlx5_core",
    "be2net",
    "qede",
    "sfc",
    "bonding",
    "8021q",
    "bridge",
    "af_packet",
    // qemu shares and misc (tests)
    "9p",
    "9pnet_virtio",
    "efi_pstore",
];

/// One module known to `modules.dep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    /// The module's path relative to the modules directory (`kernel/fs/ext4/ext4.ko`).
    pub path: String,
    /// Its hard dependencies, as paths relative to the modules directory.
    pub deps: Vec<String>,
}

/// A `/lib/modules/<version>` directory, parsed.
#[derive(Debug, Clone)]
pub struct ModuleTree {
    dir: PathBuf,
    /// Normalised module name → entry.
    modules: BTreeMap<String, ModuleEntry>,
    /// (alias pattern, normalised module name).
    aliases: Vec<(String, String)>,
    /// Normalised names of modules built into the kernel.
    builtin: BTreeSet<String>,
    /// Normalised module name → soft dependencies (names or aliases).
    softdeps: BTreeMap<String, Vec<String>>,
}

/// The modules needed for a request, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleSet {
    /// Module files relative to the modules directory, each after its dependencies.
    pub files: Vec<String>,
    /// Requested names that are built into the kernel.
    pub builtin: Vec<String>,
    /// Requested names that match no module, alias or built-in (the kernel just does not have
    /// them; a warning, not an error).
    pub unknown: Vec<String>,
}

/// Normalises a module name: `-` and `_` are the same to the kernel.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a module file path (`kernel/fs/ext4/ext4.ko.zst` → `ext4`).
pub fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let base = base.split(".ko").next().unwrap_or(base);
    normalize(base)
}

impl ModuleTree {
    /// Reads `modules.dep`, `modules.alias`, `modules.softdep` and `modules.builtin` of `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let dep_file = dir.join("modules.dep");
        let dep = std::fs::read_to_string(&dep_file).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::invalid(
                    dep_file.display().to_string(),
                    "no modules.dep: run 'depmod -b ROOT VERSION' for this kernel first",
                )
            } else {
                Error::io("reading", &dep_file, e)
            }
        })?;
        let read_opt = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        Ok(Self::parse(
            dir,
            &dep,
            &read_opt("modules.alias"),
            &read_opt("modules.softdep"),
            &read_opt("modules.builtin"),
        ))
    }

    /// Builds a tree from the texts of the four files (for tests).
    pub fn parse(dir: &Path, dep: &str, alias: &str, softdep: &str, builtin: &str) -> Self {
        let mut modules = BTreeMap::new();
        for line in dep.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let entry = ModuleEntry {
                path: path.trim().to_string(),
                deps: deps.split_whitespace().map(str::to_string).collect(),
            };
            modules.insert(name_of_path(&entry.path), entry);
        }
        let aliases = alias
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("alias"))
                    .then(|| Some((w.next()?.to_string(), normalize(w.next()?))))
                    .flatten()
            })
            .collect();
        let mut softdeps: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in softdep.lines() {
            let mut w = l.split_whitespace();
            if w.next() != Some("softdep") {
                continue;
            }
            let Some(m) = w.next() else { continue };
            let list = softdeps.entry(normalize(m)).or_default();
            list.extend(w.filter(|x| !x.ends_with(':')).map(str::to_string));
        }
        let builtin = builtin.lines().map(|l| name_of_path(l.trim())).collect();
        ModuleTree {
            dir: dir.to_path_buf(),
            modules,
            aliases,
            builtin,
            softdeps,
        }
    }

    /// The modules directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every module file of the tree (for `MODULES=all_modules`).
    pub fn all_files(&self) -> Vec<String> {
        self.modules.values().map(|m| m.path.clone()).collect()
    }

    /// True when `name` is built into the kernel.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// The module names a request stands for: a module name, a wildcard over module names, or an
    /// alias (`crypto-crc32c`, `pci:v...`, `fs-ext4`).
    pub fn lookup(&self, request: &str) -> Vec<String> {
        let n = normalize(request);
        if n.contains('*') || n.contains('?') || n.contains('[') {
            return self
                .modules
                .keys()
                .filter(|k| wildcard_match(&n, k))
                .cloned()
                .collect();
        }
        if self.modules.contains_key(&n) || self.builtin.contains(&n) {
            return vec![n];
        }
        let mut out: Vec<String> = self
            .aliases
            .iter()
            .filter(|(pat, _)| wildcard_match(pat, request) || normalize(pat) == n)
            .map(|(_, m)| m.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Resolves requests to module files, dependencies first.
    pub fn resolve<S: AsRef<str>>(&self, requests: &[S]) -> ModuleSet {
        let mut set = ModuleSet::default();
        let mut seen_files = BTreeSet::new();
        let mut seen_names = BTreeSet::new();
        for r in requests {
            let r = r.as_ref();
            let names = self.lookup(r);
            if names.is_empty() {
                set.unknown.push(r.to_string());
            }
            for name in names {
                self.add(&name, &mut set, &mut seen_files, &mut seen_names, 0);
            }
        }
        set
    }

    fn add(
        &self,
        name: &str,
        set: &mut ModuleSet,
        files: &mut BTreeSet<String>,
        names: &mut BTreeSet<String>,
        depth: usize,
    ) {
        if depth > 32 || !names.insert(name.to_string()) {
            return;
        }
        if let Some(soft) = self.softdeps.get(name) {
            for s in soft {
                for n in self.lookup(s) {
                    self.add(&n, set, files, names, depth + 1);
                }
            }
        }
        let Some(entry) = self.modules.get(name) else {
            if self.builtin.contains(name) {
                set.builtin.push(name.to_string());
            }
            return;
        };
        // modules.dep lists the full closure; the order of the list is load order reversed.
        for dep in entry.deps.iter().rev() {
            let dn = name_of_path(dep);
            if let Some(soft) = self.softdeps.get(&dn) {
                for s in soft.clone() {
                    for n in self.lookup(&s) {
                        self.add(&n, set, files, names, depth + 1);
                    }
                }
            }
            if files.insert(dep.clone()) {
                set.files.push(dep.clone());
            }
        }
        if files.insert(entry.path.clone()) {
            set.files.push(entry.path.clone());
        }
    }
}

/// Reads a module file, decompressing `.ko.zst`, `.ko.gz` and `.ko.xz` (the last with `xz -dc`).
pub fn read_module(path: &Path, runner: &dyn Runner) -> Result<Vec<u8>> {
    let name = path.to_string_lossy();
    let raw = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    if name.ends_with(".zst") {
        zstd::stream::decode_all(&raw[..]).map_err(|e| Error::io("decompressing", path, e))
    } else if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::io("decompressing", path, e))?;
        Ok(out)
    } else if name.ends_with(".xz") {
        Ok(Cmd::probe(tools::XZ)
            .args(["-dc"])
            .stdin_bytes(raw)
            .describe(format!("decompressing kernel module {name}"))
            .run(runner)?
            .stdout)
    } else {
        Ok(raw)
    }
}

/// The `.modinfo` entries of a module (`key=value` strings), read from its ELF section.
pub fn modinfo(bytes: &[u8]) -> Vec<(String, String)> {
    let Ok(elf) = goblin::elf::Elf::parse(bytes) else {
        return vec![];
    };
    let Some(sh) = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".modinfo"))
    else {
        return vec![];
    };
    let start = usize::try_from(sh.sh_offset).unwrap_or(usize::MAX);
    let len = usize::try_from(sh.sh_size).unwrap_or(0);
    let Some(data) = bytes.get(start..start.saturating_add(len)) else {
        return vec![];
    };
    data.split(|b| *b == 0)
        .filter_map(|kv| {
            let s = std::str::from_utf8(kv).ok()?;
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The firmware files a module may load (`modinfo -F firmware`).
pub fn module_firmware(path: &Path, runner: &dyn Runner) -> Result<Vec<String>> {
    let bytes = read_module(path, runner)?;
    Ok(modinfo(&bytes)
        .into_iter()
        .filter(|(k, _)| k == "firmware")
        .map(|(_, v)| v)
        .collect())
}

/// Finds a firmware file under the firmware directories of `root`, also as `.xz`/`.zst`.
pub fn find_firmware(root: &Path, name: &str) -> Option<PathBuf> {
    for dir in ["lib/firmware/updates", "lib/firmware", "usr/lib/firmware"] {
        for ext in ["", ".xz", ".zst"] {
            let p = root.join(dir).join(format!("{name}{ext}"));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n\
kernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\nkernel/fs/jbd2/jbd2.ko:\n\
kernel/arch/x86/crypto/crc32c-intel.ko:\nkernel/crypto/crc32c_generic.ko:\n\
kernel/fs/nls/nls_utf8.ko:\nkernel/fs/nls/nls_cp437.ko:\n\
kernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/usb/core/usbcore.ko\n\
kernel/drivers/usb/core/usbcore.ko:\n";
    const ALIAS: &str = "alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\n\
alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage\n";
    const SOFT: &str = "softdep ext4 pre: crypto-crc32c\n";

    fn tree() -> ModuleTree {
        ModuleTree::parse(
            Path::new("/m"),
            DEP,
            ALIAS,
            SOFT,
            "kernel/drivers/nvme/host/nvme.ko\n",
        )
    }

    #[test]
    fn dependencies_come_first_and_softdeps_are_followed() {
        let s = tree().resolve(&["ext4"]);
        let pos = |n: &str| s.files.iter().position(|f| f.ends_with(n)).unwrap();
        assert!(pos("jbd2.ko") < pos("ext4.ko"));
        assert!(pos("crc16.ko") < pos("ext4.ko"));
        assert!(pos("crc32c-intel.ko") < pos("ext4.ko"));
        assert!(s.files.iter().any(|f| f.ends_with("crc32c_generic.ko")));
        assert!(s.unknown.is_empty());
    }

    #[test]
    fn dashes_wildcards_builtins_and_unknowns() {
        let s = tree().resolve(&["usb_storage", "nls_*", "nvme", "no-such-module"]);
        assert!(
            s.files
                .contains(&"kernel/drivers/usb/core/usbcore.ko".to_string())
        );
        assert!(
            s.files
                .contains(&"kernel/drivers/usb/storage/usb-storage.ko".to_string())
        );
        assert!(s.files.contains(&"kernel/fs/nls/nls_utf8.ko".to_string()));
        assert!(s.files.contains(&"kernel/fs/nls/nls_cp437.ko".to_string()));
        assert_eq!(s.builtin, vec!["nvme"]);
        assert_eq!(s.unknown, vec!["no-such-module"]);
    }

    #[test]
    fn modalias_lookup() {
        assert_eq!(
            tree().lookup("usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00"),
            vec!["usb_storage"]
        );
    }
}
