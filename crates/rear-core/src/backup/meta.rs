//! Reading file metadata from the disk into tar [`Header`]s, and applying it back on restore.
//!
//! Reading: `lstat` (through std), extended attributes (`llistxattr`/`lgetxattr` through
//! rustix, so POSIX ACLs, SELinux labels and capabilities come along as `system.*` and
//! `security.*` attributes), the data map of sparse files (`SEEK_DATA`/`SEEK_HOLE`), and owner
//! and group names from the source's `/etc/passwd` and `/etc/group`.
//!
//! Applying, in the order that keeps every attribute: owner (chown clears set-uid bits and file
//! capabilities), mode, extended attributes (an ACL changes the group bits consistently), and
//! the times last.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{AtFlags, CWD, SeekFrom, Timespec, Timestamps, XattrFlags};

use super::tar::{Header, Kind, Time};

/// Numeric ids to names, read once from a root's `/etc/passwd` and `/etc/group`.
#[derive(Debug, Default, Clone)]
pub struct Names {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl Names {
    /// Reads `<root>/etc/passwd` and `<root>/etc/group`; missing files give numeric-only entries.
    pub fn load(root: &Path) -> Self {
        let parse = |file: &str| -> HashMap<u32, String> {
            let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            parse_id_file(&text)
        };
        Names {
            users: parse("etc/passwd"),
            groups: parse("etc/group"),
        }
    }

    /// The user name of `uid`.
    pub fn user(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    /// The group name of `gid`.
    pub fn group(&self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
}

/// Parses `name:x:id:...` lines (passwd and group share the first three fields).
pub fn parse_id_file(text: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(id)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(id) = id.parse() {
            out.entry(id).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// The header for `path` (archive name `name`) from its `lstat` metadata, without xattrs and
/// sparse map (see [`read_xattrs`] and [`sparse_map`]). Returns `None` for sockets.
pub fn header_from_metadata(
    name: Vec<u8>,
    md: &Metadata,
    link_target: Option<Vec<u8>>,
    names: &Names,
) -> Option<Header> {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    let kind = if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink(link_target.unwrap_or_default())
    } else if ft.is_char_device() {
        Kind::Char(rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()))
    } else if ft.is_block_device() {
        Kind::Block(rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()))
    } else if ft.is_fifo() {
        Kind::Fifo
    } else {
        return None;
    };
    let mut h = Header::new(name, kind);
    h.mode = md.mode() & 0o7777;
    h.uid = md.uid();
    h.gid = md.gid();
    h.uname = names.user(md.uid()).map(str::to_string);
    h.gname = names.group(md.gid()).map(str::to_string);
    h.mtime = time(md.mtime(), md.mtime_nsec());
    h.atime = Some(time(md.atime(), md.atime_nsec()));
    h.ctime = Some(time(md.ctime(), md.ctime_nsec()));
    if h.kind == Kind::File {
        h.size = md.size();
    }
    Some(h)
}

fn time(sec: i64, nsec: i64) -> Time {
    Time {
        sec,
        nsec: u32::try_from(nsec.clamp(0, 999_999_999)).unwrap_or(0),
    }
}

/// All extended attributes of `path` (not following symlinks), sorted by name. A filesystem
/// without xattr support gives an empty list.
///
/// # Errors
/// When listing or reading fails for another reason than missing support.
pub fn read_xattrs(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut list = vec![0u8; 1024];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut list[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::llistxattr_query(path).map_err(io::Error::from)?;
                list.resize(need.max(list.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 256];
        let len = loop {
            match rustix::fs::lgetxattr(path, name, &mut value[..]) {
                Ok(len) => break Some(len),
                Err(rustix::io::Errno::RANGE) => {
                    let need = rustix::fs::lgetxattr_query(path, name)?;
                    value.resize(need.max(value.len() * 2), 0);
                }
                // removed between list and get
                Err(rustix::io::Errno::NODATA) => break None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(len) = len {
            value.truncate(len);
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// The data segments of `file` when it has holes (allocated blocks fewer than its size), as
/// GNU tar's `--sparse` finds them; `None` for dense files. A file that is one big hole gets the
/// single segment `(size, 0)`, as GNU tar writes it.
///
/// # Errors
/// When seeking fails for another reason than missing `SEEK_DATA` support.
pub fn sparse_map(file: &File, md: &Metadata) -> io::Result<Option<Vec<(u64, u64)>>> {
    let size = md.size();
    if size == 0 || md.blocks() * 512 >= size {
        return Ok(None);
    }
    let mut map = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let data = match rustix::fs::seek(file, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => break,
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if data >= size {
            break;
        }
        let hole = match rustix::fs::seek(file, SeekFrom::Hole(data)) {
            Ok(h) => h.min(size),
            Err(rustix::io::Errno::NXIO) => size,
            Err(e) => return Err(e.into()),
        };
        map.push((data, hole - data));
        pos = hole;
    }
    rustix::fs::seek(file, SeekFrom::Start(0))?;
    if map.len() == 1 && map[0] == (0, size) {
        return Ok(None);
    }
    if map.last().is_none_or(|(o, l)| o + l < size) {
        // GNU tar marks the real end with an empty segment
        map.push((size, 0));
    }
    Ok(Some(map))
}

/// Applies owner, mode, xattrs and times of `h` to the restored `path`, through `file` when it
/// is open (regular files: saves the path lookups). Returns the names of xattrs that could not be
/// set (for example `user.*` on a symlink or an unsupported filesystem).
///
/// # Errors
/// When owner, mode or times cannot be set.
pub fn apply(
    path: &Path,
    file: Option<&File>,
    h: &Header,
    set_owner: bool,
) -> io::Result<Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let is_link = matches!(h.kind, Kind::Symlink(_));
    let ts = |t: Time| Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec),
    };
    let times = Timestamps {
        last_access: ts(h.atime.unwrap_or(h.mtime)),
        last_modification: ts(h.mtime),
    };
    let mut failed = Vec::new();
    let mode = std::fs::Permissions::from_mode(h.mode & 0o7777);
    if let Some(f) = file {
        if set_owner {
            std::os::unix::fs::fchown(f, Some(h.uid), Some(h.gid))?;
        }
        f.set_permissions(mode)?;
        for (name, value) in &h.xattrs {
            if let Err(e) = rustix::fs::fsetxattr(f, &name[..], value, XattrFlags::empty()) {
                failed.push(format!("{} ({e})", String::from_utf8_lossy(name)));
            }
        }
        rustix::fs::futimens(f, &times)?;
        return Ok(failed);
    }
    if set_owner {
        std::os::unix::fs::lchown(path, Some(h.uid), Some(h.gid))?;
    }
    if !is_link {
        std::fs::set_permissions(path, mode)?;
    }
    for (name, value) in &h.xattrs {
        if let Err(e) = rustix::fs::lsetxattr(path, &name[..], value, XattrFlags::empty()) {
            failed.push(format!("{} ({e})", String::from_utf8_lossy(name)));
        }
    }
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(failed)
}

/// Creates a device node or FIFO at `path`.
///
/// # Errors
/// When `mknod` fails.
pub fn make_node(path: &Path, kind: &Kind, mode: u32) -> io::Result<()> {
    use rustix::fs::{FileType, Mode};
    let (ft, dev) = match *kind {
        Kind::Char(ma, mi) => (FileType::CharacterDevice, rustix::fs::makedev(ma, mi)),
        Kind::Block(ma, mi) => (FileType::BlockDevice, rustix::fs::makedev(ma, mi)),
        Kind::Fifo => (FileType::Fifo, 0),
        _ => return Err(io::Error::other("not a device or FIFO")),
    };
    rustix::fs::mknodat(CWD, path, ft, Mode::from_bits_truncate(mode & 0o7777), dev)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_passwd_lines() {
        let m =
            parse_id_file("root:x:0:0:root:/root:/bin/bash\nbad\nuser:x:1000:1000::/h:/bin/sh\n");
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&1000).map(String::as_str), Some("user"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn sparse_map_finds_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        let f = File::create(&p).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"x", 1 << 20).unwrap();
        f.set_len(4 << 20).unwrap();
        let md = f.metadata().unwrap();
        let map = sparse_map(&File::open(&p).unwrap(), &md)
            .unwrap()
            .expect("sparse");
        assert_eq!(map.last(), Some(&(4 << 20, 0)));
        assert!(
            map[0].0 <= 1 << 20 && map[0].0 + map[0].1 > 1 << 20,
            "{map:?}"
        );
    }
}
