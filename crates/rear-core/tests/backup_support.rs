//! Helpers shared by the backup tests (included with `#[path]`): building a tree with every kind
//! of file and attribute, walking a tree into a comparable metadata list, and loop-mounted ext4.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_times(p: &Path, sec: i64, nsec: i64) {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};
    let t = Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    rustix::fs::utimensat(
        CWD,
        p,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Whether `dir`'s filesystem takes user xattrs.
pub fn supports_xattrs(dir: &Path) -> bool {
    let p = dir.join(".xattr-probe");
    fs::write(&p, "").unwrap();
    let ok = rustix::fs::lsetxattr(&p, "user.probe", b"1", rustix::fs::XattrFlags::empty()).is_ok();
    fs::remove_file(&p).unwrap();
    ok
}

/// Builds a tree with every kind of file and attribute under `root` (which must exist).
/// Returns notes on what could not be created here (not root, no xattr support).
pub fn build_tree(root: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let w = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        p
    };
    w("empty", b"");
    w("etc/hostname", b"host\n");
    // 3 MiB of incompressible-ish data, then a compressible file
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let big: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect();
    w("data/random.bin", &big);
    w("data/text.txt", "line of text\n".repeat(50_000).as_bytes());
    let suid = w("usr/bin/suid", b"#!/bin/sh\n");
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();
    let sgid_dir = root.join("srv/shared");
    fs::create_dir_all(&sgid_dir).unwrap();
    fs::set_permissions(&sgid_dir, fs::Permissions::from_mode(0o2775)).unwrap();
    let sticky = root.join("scratch");
    fs::create_dir_all(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let private = root.join("root");
    fs::create_dir_all(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    // long path (> 100 and > 255 bytes in total) and a 255-byte file name
    let long_dir = "a-rather-long-directory-name-".repeat(4);
    let long = format!("deep/{long_dir}/{long_dir}/{}", "n".repeat(255));
    w(&long, b"long");
    // a name that is not UTF-8, and one with a backslash and newline
    let odd = root.join(std::ffi::OsStr::from_bytes(b"odd-\xff\xfe-name"));
    fs::write(&odd, b"odd").unwrap();
    w("with\\back\nslash", b"x");
    // symlinks: relative, dangling, long target
    std::os::unix::fs::symlink("hostname", root.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    std::os::unix::fs::symlink("t/".repeat(80), root.join("longlink")).unwrap();
    // hard links: a group of three and a pair
    let h = w("links/one", b"linked");
    fs::hard_link(&h, root.join("links/two")).unwrap();
    fs::hard_link(&h, root.join("data/three")).unwrap();
    let p = w("links/pair-a", b"pair");
    fs::hard_link(&p, root.join("links/pair-b")).unwrap();
    // FIFO
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_bits_truncate(0o640),
        0,
    )
    .unwrap();
    // sparse: data in the middle and at the end; all hole
    let sp = root.join("sparse/disk.img");
    fs::create_dir_all(sp.parent().unwrap()).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = fs::File::create(&sp).unwrap();
        f.write_all_at(&big[..100_000], 1 << 20).unwrap();
        f.write_all_at(b"tail", (64 << 20) - 4).unwrap();
        let f2 = fs::File::create(root.join("sparse/hole.img")).unwrap();
        f2.set_len(16 << 20).unwrap();
    }
    if is_root() {
        for (name, ft, dev) in [
            (
                "dev/null",
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::makedev(1, 3),
            ),
            (
                "dev/loop7",
                rustix::fs::FileType::BlockDevice,
                rustix::fs::makedev(7, 7),
            ),
        ] {
            let p = root.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &p,
                ft,
                rustix::fs::Mode::from_bits_truncate(0o660),
                dev,
            )
            .unwrap();
        }
        let owned = w("home/user/file", b"mine");
        std::os::unix::fs::lchown(&owned, Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(root.join("home/user"), Some(1234), Some(5678)).unwrap();
        // an id beyond the 7-digit octal ustar field: PAX uid/gid
        let big_id = w("home/bigid", b"big");
        std::os::unix::fs::lchown(&big_id, Some(3_000_000), Some(3_000_001)).unwrap();
        std::os::unix::fs::lchown(root.join("etc/link"), Some(1234), Some(1234)).unwrap();
        // set-uid survives the chown only if mode is set after it
        let suid2 = w("usr/bin/suid-owned", b"x");
        std::os::unix::fs::lchown(&suid2, Some(1234), Some(0)).unwrap();
        fs::set_permissions(&suid2, fs::Permissions::from_mode(0o6750)).unwrap();
    } else {
        notes.push("not root: no devices, no ownership changes".into());
    }
    if supports_xattrs(root) {
        let xa = |p: &Path, n: &str, v: &[u8]| {
            rustix::fs::lsetxattr(p, n, v, rustix::fs::XattrFlags::empty())
                .unwrap_or_else(|e| panic!("setting {n} on {}: {e}", p.display()))
        };
        xa(&root.join("etc/hostname"), "user.comment", b"the host name");
        xa(&root.join("data"), "user.dir", b"\x00binary\xffvalue");
        xa(&root.join("data/text.txt"), "user.empty", b"");
        if Command::new("setfacl").arg("--version").output().is_ok() {
            run(Command::new("setfacl")
                .args(["-m", "u:1234:rw,g:5678:r,m::rw"])
                .arg(root.join("etc/hostname")));
            run(Command::new("setfacl")
                .args(["-d", "-m", "u:1234:rwx"])
                .arg(root.join("srv/shared")));
            run(Command::new("setfacl")
                .args(["-m", "u:1234:rwx"])
                .arg(root.join("srv/shared")));
        } else {
            notes.push("setfacl missing: no ACLs".into());
        }
        if is_root() {
            if Command::new("setcap").arg("-v").output().is_ok() {
                run(Command::new("setcap")
                    .arg("cap_net_raw,cap_net_admin+ep")
                    .arg(root.join("usr/bin/suid")));
            } else {
                notes.push("setcap missing: no capabilities".into());
            }
            // an SELinux label; without the SELinux LSM the kernel stores it as a plain xattr
            if rustix::fs::lsetxattr(
                root.join("etc/hostname"),
                "security.selinux",
                b"system_u:object_r:etc_t:s0\0",
                rustix::fs::XattrFlags::empty(),
            )
            .is_err()
            {
                notes.push("security.selinux cannot be set here".into());
            }
        }
    } else {
        notes.push("no xattr support: no xattrs, ACLs, capabilities".into());
    }
    // times with nanoseconds, one before the epoch; directories last (creating files changes them)
    set_times(&root.join("etc/hostname"), 1_000_000_000, 123_456_789);
    set_times(&root.join("data/text.txt"), -1_000_000, 500_000_000);
    set_times(&root.join("etc/link"), 1_100_000_000, 7);
    for d in [
        "etc",
        "data",
        "deep",
        "links",
        "sparse",
        "srv/shared",
        "scratch",
        "root",
    ] {
        set_times(&root.join(d), 1_200_000_000, 42);
    }
    notes
}

/// Everything we compare about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, i64),
    pub link: Option<Vec<u8>>,
    pub rdev: Option<(u32, u32)>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Other paths of the same inode inside the tree.
    pub links: Vec<Vec<u8>>,
    /// (offset, length) of data extents for sparse files.
    pub extents: Option<Vec<(u64, u64)>>,
    pub content: Option<String>,
}

fn extents(p: &Path, size: u64) -> Vec<(u64, u64)> {
    use rustix::fs::SeekFrom;
    let f = fs::File::open(p).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < size {
        let Ok(d) = rustix::fs::seek(&f, SeekFrom::Data(pos)) else {
            break;
        };
        let h = rustix::fs::seek(&f, SeekFrom::Hole(d)).unwrap();
        out.push((d, h - d));
        pos = h;
    }
    out
}

/// Walks `root` into a map from relative path to [`Facts`].
pub fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Facts> {
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::from(root)];
    while let Some(p) = stack.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let rel = p
            .strip_prefix(root)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "char"
        } else {
            "block"
        };
        if ft.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
        if !ft.is_dir() && md.nlink() > 1 {
            inodes.entry(md.ino()).or_default().push(rel.clone());
        }
        let mut xattrs: Vec<(String, Vec<u8>)> = rear_core::backup::meta::read_xattrs(&p)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
            .collect();
        xattrs.sort();
        let sparse = ft.is_file() && md.blocks() * 512 < md.size();
        out.insert(
            rel.clone(),
            Facts {
                kind: kind.into(),
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                size: if ft.is_file() { md.size() } else { 0 },
                mtime: (md.mtime(), md.mtime_nsec()),
                link: ft
                    .is_symlink()
                    .then(|| fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec()),
                rdev: (ft.is_char_device() || ft.is_block_device())
                    .then(|| (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()))),
                xattrs,
                links: Vec::new(),
                extents: sparse.then(|| extents(&p, md.size())),
                content: ft
                    .is_file()
                    .then(|| blake3::hash(&fs::read(&p).unwrap()).to_hex().to_string()),
            },
        );
    }
    for group in inodes.values() {
        for p in group {
            let mut others: Vec<Vec<u8>> = group.iter().filter(|o| *o != p).cloned().collect();
            others.sort();
            out.get_mut(p).unwrap().links = others;
        }
    }
    out
}

/// Asserts two snapshots are equal, listing every difference.
pub fn assert_same(a: &BTreeMap<Vec<u8>, Facts>, b: &BTreeMap<Vec<u8>, Facts>, what: &str) {
    let mut diffs = Vec::new();
    for (k, fa) in a {
        match b.get(k) {
            None => diffs.push(format!("missing: {}", String::from_utf8_lossy(k))),
            Some(fb) if fa != fb => diffs.push(format!(
                "differs: {}\n  source:   {fa:?}\n  restored: {fb:?}",
                String::from_utf8_lossy(k)
            )),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!("extra: {}", String::from_utf8_lossy(k)));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// A loop-mounted ext4 of `mib` MiB; unmounted and detached on drop.
pub struct LoopFs {
    pub dir: tempfile::TempDir,
    pub mountpoint: PathBuf,
    device: String,
}

impl LoopFs {
    pub fn new(mib: u64) -> LoopFs {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        let f = fs::File::create(&img).unwrap();
        f.set_len(mib << 20).unwrap();
        drop(f);
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(&img));
        let device = run(Command::new("losetup").args(["--find", "--show"]).arg(&img))
            .trim()
            .to_string();
        let mountpoint = dir.path().join("mnt");
        fs::create_dir(&mountpoint).unwrap();
        run(Command::new("mount").arg(&device).arg(&mountpoint));
        LoopFs {
            dir,
            mountpoint,
            device,
        }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mountpoint).status();
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// A progress callback that ignores everything.
pub fn quiet(_: &rear_core::backup::Progress) {}

pub fn write_file(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut f = fs::File::create(p).unwrap();
    f.write_all(data).unwrap();
}
