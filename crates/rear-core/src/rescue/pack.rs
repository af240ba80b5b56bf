//! Packing the rescue tree into an initramfs (ReaR's `pack` stage).
//!
//! Contract: [`pack_initramfs`] writes the stage directory as a cpio newc archive ([`cpio`]) with
//! a `/dev/console` node added (the kernel opens it before starting init, and a tree built without
//! root cannot hold device nodes), compressed with [`Compression`], to `dest`. The archive is
//! reproducible: sorted entries, inode numbers in order, every mtime set to `mtime`. zstd runs
//! multithreaded on all cores; xz is run as `xz --check=crc32` (the kernel's xz decoder accepts
//! only CRC32 or no check).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::cpio::{self, CpioWriter};
use crate::{Error, Result};

/// How the initramfs is compressed (`REAR_INITRD_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd at the given level (default 9), multithreaded.
    Zstd(i32),
    /// gzip at the given level (1 = `fast`, 9 = `best`, default 6).
    Gzip(u32),
    /// xz (`lzma` in ReaR's terms): smallest, slowest.
    Xz,
    /// No compression (for debugging).
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(9)
    }
}

impl Compression {
    /// Maps `REAR_INITRD_COMPRESSION`: empty or `zstd` → zstd, `fast`/`best`/`gzip` → gzip,
    /// `lzma`/`xz` → xz, `none`.
    pub fn from_config(value: &str) -> Result<Self> {
        Ok(match value.trim() {
            "" | "zstd" => Compression::Zstd(9),
            "gzip" | "gz" => Compression::Gzip(6),
            "fast" => Compression::Gzip(1),
            "best" => Compression::Gzip(9),
            "lzma" | "xz" => Compression::Xz,
            "none" | "no" => Compression::None,
            other => {
                return Err(Error::invalid(
                    "REAR_INITRD_COMPRESSION",
                    format!("'{other}' is not one of zstd, gzip, fast, best, lzma, xz, none"),
                ));
            }
        })
    }

    /// The conventional file name of an initrd with this compression.
    pub fn file_name(&self) -> &'static str {
        match self {
            Compression::Zstd(_) => "initrd.zst",
            Compression::Gzip(_) => "initrd.cgz",
            Compression::Xz => "initrd.xz",
            Compression::None => "initrd.cpio",
        }
    }
}

/// What [`pack_initramfs`] wrote.
#[derive(Debug, Clone)]
pub struct PackReport {
    /// The initramfs file.
    pub path: PathBuf,
    /// Size of the uncompressed cpio archive.
    pub cpio_bytes: u64,
    /// Size of the file written.
    pub compressed_bytes: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Packs `stage` into `dest`. `mtime` stamps every entry (use `SOURCE_DATE_EPOCH`, or 0).
pub fn pack_initramfs(
    stage: &Path,
    dest: &Path,
    compression: Compression,
    mtime: u32,
    runner: &dyn Runner,
) -> Result<PackReport> {
    let started = Instant::now();
    let mut w = CpioWriter::new(Vec::with_capacity(64 << 20), mtime);
    let io = |e| Error::io("writing initramfs", dest, e);
    if !stage.join("dev").exists() {
        w.add_dir("dev", 0o755).map_err(io)?;
    }
    w.add_char_device("dev/console", 0o600, 5, 1).map_err(io)?;
    w.add_char_device("dev/null", 0o666, 1, 3).map_err(io)?;
    cpio::append_tree(&mut w, stage)?;
    let archive = w.finish().map_err(io)?;
    let cpio_bytes = archive.len() as u64;
    let data = compress(&archive, compression, runner).map_err(|e| match e {
        Error::Io { source, .. } => Error::io("compressing initramfs", dest, source),
        other => other,
    })?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating directory", parent, e))?;
    }
    std::fs::write(dest, &data).map_err(|e| Error::io("writing", dest, e))?;
    let report = PackReport {
        path: dest.to_path_buf(),
        cpio_bytes,
        compressed_bytes: data.len() as u64,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        "created {} with {:?} ({} bytes from {} bytes) in {:.1?}",
        dest.display(),
        compression,
        report.compressed_bytes,
        report.cpio_bytes,
        report.elapsed
    );
    Ok(report)
}

fn compress(data: &[u8], compression: Compression, runner: &dyn Runner) -> Result<Vec<u8>> {
    let here = Path::new("initramfs");
    match compression {
        Compression::Zstd(level) => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut enc = zstd::stream::Encoder::new(Vec::new(), level)
                .map_err(|e| Error::io("compressing", here, e))?;
            enc.multithread(u32::try_from(threads).unwrap_or(1))
                .map_err(|e| Error::io("compressing", here, e))?;
            enc.write_all(data)
                .map_err(|e| Error::io("compressing", here, e))?;
            enc.finish().map_err(|e| Error::io("compressing", here, e))
        }
        Compression::Gzip(level) => {
            let mut enc =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            enc.write_all(data)
                .map_err(|e| Error::io("compressing", here, e))?;
            enc.finish().map_err(|e| Error::io("compressing", here, e))
        }
        Compression::Xz => Ok(Cmd::probe(tools::XZ)
            .args(["--check=crc32", "-T0", "-6", "-c"])
            .stdin_bytes(data.to_vec())
            .describe("compressing the initramfs with xz")
            .timeout(Duration::from_secs(1800))
            .run(runner)?
            .stdout),
        Compression::None => Ok(data.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_names() {
        assert_eq!(Compression::from_config("").unwrap(), Compression::Zstd(9));
        assert_eq!(
            Compression::from_config("fast").unwrap(),
            Compression::Gzip(1)
        );
        assert_eq!(Compression::from_config("lzma").unwrap(), Compression::Xz);
        assert!(Compression::from_config("lz4").is_err());
    }
}
