//! Shared-library dependencies of ELF files, resolved the way the dynamic loader does, without
//! running `ldd`.
//!
//! Contract: [`LibResolver::resolve`] takes a set of files (programs, libraries, anything that may
//! be ELF), reads each one's `PT_INTERP`, `DT_NEEDED`, `DT_RPATH` and `DT_RUNPATH` with goblin, and
//! follows every needed library transitively. A library is looked up like `ld.so` does: the
//! object's `DT_RPATH` (only when it has no `DT_RUNPATH`; `$ORIGIN` is the object's directory), then
//! its `DT_RUNPATH`, then the directories of `/etc/ld.so.conf` (with its `include` globs), then the
//! default and multiarch directories. Only a library of the same ELF class and machine as the object
//! matches, as in `ld.so`. Files that are not ELF (scripts, data) are skipped. `LD_LIBRARY_PATH` is
//! ignored on purpose: the rescue system does not have it.
//!
//! A library that cannot be found is not an error here: it is listed in [`Resolution::missing`],
//! and [`Resolution::check`] turns the list into one error that names every binary and library.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use goblin::elf::Elf;

use crate::{Error, Result};

/// The default library directories searched after `ld.so.conf` (x86_64 Debian, Fedora/SUSE style
/// `lib64`, and the plain ones).
pub const DEFAULT_LIB_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Libraries that programs load at run time with `dlopen` (so no `DT_NEEDED` names them) and that
/// recovery needs: name service modules for user/group names (tar restores ACLs by name) and DNS,
/// `libgcc_s` (glibc loads it for `pthread_cancel` and unwinding), and `libresolv`.
pub const RUNTIME_LIBS: &[&str] = &[
    "libnss_files.so.2",
    "libnss_dns.so.2",
    "libgcc_s.so.1",
    "libresolv.so.2",
];

/// What an ELF file asks of the dynamic loader.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfDeps {
    /// The program interpreter (`PT_INTERP`), e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub interpreter: Option<String>,
    /// The `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` directories (split on `:`).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` directories (split on `:`).
    pub runpath: Vec<String>,
    /// True for ELFCLASS64.
    pub is_64: bool,
    /// `e_machine`.
    pub machine: u16,
}

/// Reads the dynamic-loading facts of `path`; `Ok(None)` when the file is not ELF.
pub fn read_elf_deps(path: &Path) -> Result<Option<ElfDeps>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    Ok(parse_elf_deps(&bytes))
}

/// Parses the dynamic-loading facts out of ELF bytes; `None` when they are not ELF.
pub fn parse_elf_deps(bytes: &[u8]) -> Option<ElfDeps> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let elf = Elf::parse(bytes).ok()?;
    let split = |v: &[&str]| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Some(ElfDeps {
        interpreter: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        is_64: elf.is_64,
        machine: elf.header.e_machine,
    })
}

/// One library that could not be found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingLib {
    /// The file that needs it.
    pub binary: PathBuf,
    /// The `DT_NEEDED` name (or the interpreter path).
    pub library: String,
}

/// The closure of a set of files under the dynamic loader.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// Every library and interpreter needed, as the paths the loader would open (symlinks not
    /// resolved, so the image gets the same names).
    pub libraries: BTreeSet<PathBuf>,
    /// Libraries that were needed and not found.
    pub missing: Vec<MissingLib>,
}

impl Resolution {
    /// Fails with one error naming every binary with an unresolved library, unless the binary is
    /// listed in `non_fatal` (ReaR's `NON_FATAL_BINARIES_WITH_MISSING_LIBRARY`, matched on the
    /// path or the file name).
    pub fn check(&self, non_fatal: &[String]) -> Result<()> {
        let fatal: Vec<_> = self
            .missing
            .iter()
            .filter(|m| {
                let name = m
                    .binary
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                !non_fatal
                    .iter()
                    .any(|nf| Path::new(nf) == m.binary || name.as_deref() == Some(nf.as_str()))
            })
            .collect();
        if fatal.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = fatal
            .iter()
            .map(|m| {
                format!(
                    "{} needs {}, which was not found",
                    m.binary.display(),
                    m.library
                )
            })
            .collect();
        Err(Error::invalid(
            "rescue image",
            format!(
                "{} unresolved shared librar{}:\n  {}\n(install the library, add its directory to \
                 /etc/ld.so.conf, or list the binary in NON_FATAL_BINARIES_WITH_MISSING_LIBRARY)",
                fatal.len(),
                if fatal.len() == 1 { "y" } else { "ies" },
                lines.join("\n  ")
            ),
        ))
    }
}

/// Finds shared libraries like the dynamic loader does.
#[derive(Debug, Clone)]
pub struct LibResolver {
    system_dirs: Vec<PathBuf>,
    cache: HashMap<PathBuf, Option<ElfDeps>>,
}

impl LibResolver {
    /// A resolver for the running system: the directories of `/etc/ld.so.conf`, then
    /// [`DEFAULT_LIB_DIRS`].
    pub fn for_host() -> Self {
        let mut dirs = ld_so_conf_dirs(Path::new("/etc/ld.so.conf"));
        dirs.extend(DEFAULT_LIB_DIRS.iter().map(PathBuf::from));
        Self::with_dirs(dirs)
    }

    /// A resolver that searches exactly `dirs` after the objects' own RPATH/RUNPATH.
    pub fn with_dirs(dirs: Vec<PathBuf>) -> Self {
        let mut seen = BTreeSet::new();
        let system_dirs = dirs
            .into_iter()
            .filter(|d| seen.insert(d.clone()))
            .collect();
        LibResolver {
            system_dirs,
            cache: HashMap::new(),
        }
    }

    /// The system directories searched, in order.
    pub fn system_dirs(&self) -> &[PathBuf] {
        &self.system_dirs
    }

    fn deps(&mut self, path: &Path) -> Result<Option<ElfDeps>> {
        if let Some(d) = self.cache.get(path) {
            return Ok(d.clone());
        }
        let d = read_elf_deps(path)?;
        self.cache.insert(path.to_path_buf(), d.clone());
        Ok(d)
    }

    /// Finds a library by file name in the system directories (for [`RUNTIME_LIBS`] and `LIBS`).
    pub fn find_system_lib(&mut self, name: &str) -> Option<PathBuf> {
        self.system_dirs
            .clone()
            .into_iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    /// Resolves the libraries of every file in `files`, transitively.
    pub fn resolve(&mut self, files: &[PathBuf]) -> Result<Resolution> {
        let mut res = Resolution::default();
        let mut queue: Vec<PathBuf> = files.to_vec();
        let mut done: BTreeSet<PathBuf> = BTreeSet::new();
        let mut missing: BTreeMap<(PathBuf, String), ()> = BTreeMap::new();
        while let Some(file) = queue.pop() {
            if !done.insert(file.clone()) {
                continue;
            }
            let Some(deps) = self.deps(&file)? else {
                continue;
            };
            if let Some(interp) = &deps.interpreter {
                let p = PathBuf::from(interp);
                if p.exists() {
                    if res.libraries.insert(p.clone()) {
                        queue.push(p);
                    }
                } else {
                    missing.insert((file.clone(), interp.clone()), ());
                }
            }
            let origin = file
                .canonicalize()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| file.parent().map(Path::to_path_buf).unwrap_or_default());
            for name in &deps.needed {
                match self.find_needed(name, &deps, &origin)? {
                    Some(p) => {
                        if res.libraries.insert(p.clone()) {
                            queue.push(p);
                        }
                    }
                    None => {
                        missing.insert((file.clone(), name.clone()), ());
                    }
                }
            }
        }
        res.missing = missing
            .into_keys()
            .map(|(binary, library)| MissingLib { binary, library })
            .collect();
        Ok(res)
    }

    fn find_needed(&mut self, name: &str, of: &ElfDeps, origin: &Path) -> Result<Option<PathBuf>> {
        // A name with a slash is a path, used as is.
        if name.contains('/') {
            let p = PathBuf::from(name);
            return Ok(p.is_file().then_some(p));
        }
        let expand = |d: &String| -> PathBuf {
            let o = origin.to_string_lossy();
            PathBuf::from(d.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
        };
        let mut dirs: Vec<PathBuf> = Vec::new();
        if of.runpath.is_empty() {
            dirs.extend(of.rpath.iter().map(expand));
        }
        dirs.extend(of.runpath.iter().map(expand));
        dirs.extend(self.system_dirs.iter().cloned());
        for dir in dirs {
            let candidate = dir.join(name);
            if !candidate.is_file() {
                continue;
            }
            // ld.so skips libraries of another class or machine (a 32-bit libc in /usr/lib32).
            match self.deps(&candidate)? {
                Some(d) if d.is_64 == of.is_64 && d.machine == of.machine => {
                    return Ok(Some(candidate));
                }
                _ => continue,
            }
        }
        Ok(None)
    }
}

/// The directories listed in an `ld.so.conf` file, following `include` globs (only `*` in the
/// last path component is supported, which is what distributions use).
pub fn ld_so_conf_dirs(conf: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    read_ld_so_conf(conf, &mut out, 0);
    out
}

fn read_ld_so_conf(conf: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(text) = std::fs::read_to_string(conf) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(pattern) = line.strip_prefix("include").map(str::trim) {
            let pattern = if pattern.starts_with('/') {
                PathBuf::from(pattern)
            } else {
                conf.parent().unwrap_or(Path::new("/")).join(pattern)
            };
            let mut files = glob_last_component(&pattern);
            files.sort();
            for f in files {
                read_ld_so_conf(&f, out, depth + 1);
            }
        } else if line.starts_with('/') {
            out.push(PathBuf::from(line));
        }
    }
}

/// Expands a path whose last component may hold `*` wildcards.
pub fn glob_last_component(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains('*') && !name.contains('?') {
        return if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            vec![]
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Shell-style wildcard match supporting `*`, `?` and `[...]` classes (no escapes).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    fn rec(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| rec(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && rec(&p[1..], &t[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(1).position(|&c| c == ']').map(|i| i + 1) else {
                    return !t.is_empty() && t[0] == '[' && rec(&p[1..], &t[1..]);
                };
                let Some(&c) = t.first() else { return false };
                let class = &p[1..end];
                let (negate, class) = match class.first() {
                    Some('!') | Some('^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && rec(&p[end + 1..], &t[1..])
            }
            Some(&c) => t.first() == Some(&c) && rec(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    rec(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_needs_libc_and_the_interpreter() {
        let bash = Path::new("/bin/bash");
        let d = read_elf_deps(bash).unwrap().expect("bash is ELF");
        assert!(d.needed.iter().any(|n| n == "libc.so.6"), "{d:?}");
        assert_eq!(
            d.interpreter.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        let res = LibResolver::for_host()
            .resolve(&[bash.to_path_buf()])
            .unwrap();
        assert!(res.missing.is_empty(), "{:?}", res.missing);
        assert!(res.libraries.iter().any(|p| p.ends_with("libc.so.6")));
        assert!(
            res.libraries
                .contains(Path::new("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(
            res.libraries.iter().any(|p| p.ends_with("libtinfo.so.6")),
            "{res:?}"
        );
    }

    #[test]
    fn scripts_are_not_elf() {
        assert_eq!(parse_elf_deps(b"#!/bin/sh\necho hi\n"), None);
    }

    #[test]
    fn ld_so_conf_includes_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/b.conf"), "/opt/b # comment\n").unwrap();
        std::fs::write(dir.path().join("conf.d/a.conf"), "/opt/a\n").unwrap();
        std::fs::write(dir.path().join("conf.d/skip.txt"), "/opt/skip\n").unwrap();
        std::fs::write(
            dir.path().join("ld.so.conf"),
            "include conf.d/*.conf\n/usr/local/lib\n",
        )
        .unwrap();
        assert_eq!(
            ld_so_conf_dirs(&dir.path().join("ld.so.conf")),
            vec![
                PathBuf::from("/opt/a"),
                "/opt/b".into(),
                "/usr/local/lib".into()
            ]
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("nls_*", "nls_utf8"));
        assert!(wildcard_match("raid[0-9]*", "raid456"));
        assert!(!wildcard_match("raid[!0-9]", "raid1"));
        assert!(wildcard_match(
            "pci:v00001AF4d*sv*",
            "pci:v00001AF4d00001000sv00001AF4"
        ));
        assert!(!wildcard_match("a?c", "ac"));
    }
}
