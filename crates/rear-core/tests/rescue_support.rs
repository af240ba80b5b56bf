//! Helpers shared by the rescue and VM tests (included with `#[path]`): running a shell command,
//! the workspace's `rear` binary and the Debian kernel package they build images with.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rear_core::rescue::KernelSource;

pub const CACHE: &str = "/var/cache/rear-lab/rescue-kernel";

pub fn sh(cmd: &str) -> String {
    let out = Command::new("bash").args(["-ec", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cached Debian kernel, fetched and unpacked on first use.
pub fn debian_kernel() -> KernelSource {
    let root = Path::new(CACHE).join("root");
    let find = || -> Option<String> {
        std::fs::read_dir(root.join("boot"))
            .ok()?
            .filter_map(|e| e.ok())
            .find_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_prefix("vmlinuz-")
                    .map(str::to_string)
            })
    };
    if find().is_none() {
        sh(&format!(
            "mkdir -p {CACHE} && cd {CACHE} && \
             pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{{print $2; exit}}') && \
             apt-get download -q $pkg && dpkg -x ${{pkg}}_*.deb root"
        ));
    }
    let v = find().expect("kernel unpacked");
    if !root
        .join("lib/modules")
        .join(&v)
        .join("modules.dep")
        .exists()
    {
        sh(&format!("depmod -b {} {v}", root.display()));
    }
    KernelSource::in_root(&root, &v).unwrap()
}

/// The workspace's `rear` binary, built (or brought up to date: a no-op when it is) first, so a
/// test never runs a stale binary left by an earlier build.
pub fn rear_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let st = Command::new(cargo)
        .args(["build", "--quiet", "-p", "rear", "--bin", "rear"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(st.success(), "cargo build -p rear failed");
    target.join("rear")
}
