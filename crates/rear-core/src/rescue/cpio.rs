//! A reproducible cpio "newc" writer, the archive format the Linux kernel unpacks as initramfs.
//!
//! Contract: entries are written in the order they are added; inode numbers count up from 1 in
//! that order; owner is root; the mtime of every entry is the one given to [`CpioWriter::new`]
//! (use `SOURCE_DATE_EPOCH` or 0 for byte-identical archives). Hard links are not
//! produced (each file is stored in full). [`CpioWriter::finish`] writes the `TRAILER!!!` entry and
//! returns the inner writer. [`append_tree`] adds a directory tree in sorted order, so the same tree
//! always gives the same bytes.
//!
//! Format (per entry): the ASCII magic `070701`, thirteen 8-digit hex fields (ino, mode, uid, gid,
//! nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check), the
//! NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes.

use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::{Error, Result};

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;

/// Writes a cpio newc archive.
#[derive(Debug)]
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    mtime: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    /// A writer that stamps every entry with `mtime` (seconds since the epoch).
    pub fn new(out: W, mtime: u32) -> Self {
        CpioWriter {
            out,
            next_ino: 1,
            mtime,
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4)) % 4;
        self.put(&[0u8; 3][..usize::try_from(n).unwrap_or(0)])
    }

    #[allow(clippy::too_many_arguments)]
    fn header(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        size: u32,
        rdev: (u32, u32),
    ) -> io::Result<()> {
        let name = name.trim_start_matches('/');
        let name = if name.is_empty() { "." } else { name };
        let ino = self.next_ino;
        self.next_ino += 1;
        let namesize = u32::try_from(name.len() + 1)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name too long"))?;
        let hdr = format!(
            "070701{ino:08X}{mode:08X}{:08X}{:08X}{nlink:08X}{:08X}{size:08X}{:08X}{:08X}{:08X}{:08X}{namesize:08X}{:08X}",
            0, 0, self.mtime, 0, 0, rdev.0, rdev.1, 0
        );
        self.put(hdr.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()
    }

    /// Adds a directory.
    pub fn add_dir(&mut self, name: &str, perm: u32) -> io::Result<()> {
        self.header(name, S_IFDIR | (perm & 0o7777), 2, 0, (0, 0))
    }

    /// Adds a regular file with the given contents.
    pub fn add_file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: file over 4 GiB"),
            )
        })?;
        self.header(name, S_IFREG | (perm & 0o7777), 1, size, (0, 0))?;
        self.put(data)?;
        self.pad()
    }

    /// Adds a symbolic link pointing to `target`.
    pub fn add_symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        let size = u32::try_from(target.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "link target too long"))?;
        self.header(name, S_IFLNK | 0o777, 1, size, (0, 0))?;
        self.put(target.as_bytes())?;
        self.pad()
    }

    /// Adds a character device node (for example `dev/console`, 5:1, which the kernel opens before
    /// it starts init).
    pub fn add_char_device(
        &mut self,
        name: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        self.header(name, S_IFCHR | (perm & 0o7777), 1, 0, (major, minor))
    }

    /// Adds a block device node.
    pub fn add_block_device(
        &mut self,
        name: &str,
        perm: u32,
        major: u32,
        minor: u32,
    ) -> io::Result<()> {
        self.header(name, S_IFBLK | (perm & 0o7777), 1, 0, (major, minor))
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        // The trailer has inode 0 and nlink 1, like GNU cpio writes it.
        self.next_ino = 0;
        self.header("TRAILER!!!", 0, 1, 0, (0, 0))?;
        // Pad the archive to a 512-byte block, as GNU cpio does.
        let rest = (512 - (self.written % 512)) % 512;
        self.put(&vec![0u8; usize::try_from(rest).unwrap_or(0)])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Adds every entry below `root` (not `root` itself) in sorted order, with names relative to
/// `root`. Symlinks are stored as links; devices, sockets and FIFOs are skipped except character
/// and block devices.
pub fn append_tree<W: Write>(cpio: &mut CpioWriter<W>, root: &Path) -> Result<()> {
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .follow_links(false);
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf());
            Error::io("walking", path, e.into())
        })?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let meta = entry
            .metadata()
            .map_err(|e| Error::io("reading", path, e.into()))?;
        let ft = meta.file_type();
        let perm = meta.mode() & 0o7777;
        let io = |e| Error::io("writing cpio entry for", path, e);
        if ft.is_dir() {
            cpio.add_dir(&rel, perm).map_err(io)?;
        } else if ft.is_symlink() {
            let target =
                std::fs::read_link(path).map_err(|e| Error::io("reading link", path, e))?;
            cpio.add_symlink(&rel, &target.to_string_lossy())
                .map_err(io)?;
        } else if ft.is_file() {
            let data = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            cpio.add_file(&rel, perm, &data).map_err(io)?;
        } else if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev();
            let (major, minor) = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
            if ft.is_char_device() {
                cpio.add_char_device(&rel, perm, major, minor).map_err(io)?;
            } else {
                cpio.add_block_device(&rel, perm, major, minor)
                    .map_err(io)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_matches_newc() {
        let mut w = CpioWriter::new(Vec::new(), 0x5f5e_1000);
        w.add_file("etc/hostname", 0o644, b"rescue\n").unwrap();
        let bytes = w.finish().unwrap();
        let hdr = std::str::from_utf8(&bytes[..110]).unwrap();
        assert_eq!(&hdr[..6], "070701");
        assert_eq!(&hdr[6..14], "00000001"); // ino
        assert_eq!(&hdr[14..22], "000081A4"); // S_IFREG | 0644
        assert_eq!(&hdr[46..54], "5F5E1000"); // mtime
        assert_eq!(&hdr[54..62], "00000007"); // size
        assert_eq!(&hdr[94..102], "0000000D"); // namesize incl. NUL
        // name then pad to 4: 110 + 13 = 123 -> 124
        assert_eq!(&bytes[110..122], b"etc/hostname");
        assert_eq!(&bytes[124..131], b"rescue\n");
        assert_eq!(bytes.len() % 512, 0);
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn same_tree_gives_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/f"), "x").unwrap();
        std::fs::write(dir.path().join("a"), "y").unwrap();
        std::os::unix::fs::symlink("b/c/f", dir.path().join("l")).unwrap();
        let pack = || {
            let mut w = CpioWriter::new(Vec::new(), 0);
            append_tree(&mut w, dir.path()).unwrap();
            w.finish().unwrap()
        };
        assert_eq!(pack(), pack());
    }
}
