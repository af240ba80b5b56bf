//! The byte pipelines around the tar stream: compression, encryption, hashing and counting.
//!
//! Writing: tar bytes → compressor (zstd on all cores, gzip or none) → age (optional) → SHA-256
//! and byte count of what lands on the target → buffered file. Reading is the mirror image.
//! Errors keep their `io::ErrorKind` so a full target (`StorageFull`) can be told apart.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::crypt::Encryption;
use crate::Result;

/// How the tar stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd at `level` (1..=19; 3 is zstd's default), multi-threaded.
    Zstd {
        /// Compression level.
        level: i32,
    },
    /// gzip at `level` (1..=9), single-threaded, like ReaR's default.
    Gzip {
        /// Compression level.
        level: u32,
    },
    /// No compression.
    None,
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd { level: 3 }
    }
}

impl Compression {
    /// The archive file name suffix (`.tar.zst`, `.tar.gz`, `.tar`).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Zstd { .. } => ".tar.zst",
            Compression::Gzip { .. } => ".tar.gz",
            Compression::None => ".tar",
        }
    }

    /// The name in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd { .. } => "zstd",
            Compression::Gzip { .. } => "gzip",
            Compression::None => "none",
        }
    }

    /// Maps ReaR's `BACKUP_PROG_COMPRESS_OPTIONS` (GNU tar options) to a compression:
    /// `--zstd`, `--gzip`/`-z`, and `-I`/`--use-compress-program` with `zstd`, `gzip` or `pigz`
    /// and a `-N` level (`-I 'zstd -19 -T0'`). An empty list means no compression.
    ///
    /// # Errors
    /// Compressors we do not write (xz, bzip2, lzma, lzip, lzop) and unknown programs.
    pub fn from_tar_options(options: &[String]) -> crate::Result<Self> {
        let bad = |m: String| crate::Error::invalid("BACKUP_PROG_COMPRESS_OPTIONS", m);
        let mut out = Compression::None;
        let mut it = options.iter();
        while let Some(o) = it.next() {
            let program = match o.as_str() {
                "--zstd" => {
                    out = Compression::Zstd { level: 3 };
                    continue;
                }
                "--gzip" | "-z" | "--gunzip" | "--ungzip" => {
                    out = Compression::Gzip { level: 6 };
                    continue;
                }
                "-I" | "--use-compress-program" => it
                    .next()
                    .cloned()
                    .ok_or_else(|| bad(format!("{o} needs a program")))?,
                other => match other.strip_prefix("--use-compress-program=") {
                    Some(p) => p.to_string(),
                    None if other.starts_with('-')
                        && !other.starts_with("--")
                        && other.len() > 2 =>
                    {
                        return Err(bad(format!("unsupported option {other}")));
                    }
                    None => {
                        return Err(bad(format!(
                            "unsupported option {other}: use --zstd or --gzip"
                        )));
                    }
                },
            };
            let words: Vec<&str> = program.split_whitespace().collect();
            let name = words
                .first()
                .map(|w| w.rsplit('/').next().unwrap_or(w))
                .unwrap_or("");
            let level: Option<i32> = words
                .iter()
                .skip(1)
                .filter_map(|w| w.strip_prefix('-'))
                .find_map(|w| w.parse().ok());
            out = match name {
                "zstd" | "pzstd" => Compression::Zstd {
                    level: level.unwrap_or(3).clamp(1, 19),
                },
                "gzip" | "pigz" => Compression::Gzip {
                    level: u32::try_from(level.unwrap_or(6).clamp(1, 9)).unwrap_or(6),
                },
                _ => {
                    return Err(bad(format!(
                        "the built-in backup writes zstd or gzip, not '{name}'"
                    )));
                }
            };
        }
        Ok(out)
    }

    /// Parses a manifest name back (levels do not matter for reading).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "zstd" => Some(Compression::Zstd { level: 3 }),
            "gzip" => Some(Compression::Gzip { level: 6 }),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

/// Hashes and counts the bytes that pass.
pub struct HashWriter<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> HashWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }

    /// The hex SHA-256 and byte count so far, and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (hex::encode(self.sha.finalize()), self.bytes, self.inner)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Sink = HashWriter<BufWriter<File>>;

enum Crypt {
    Plain(Sink),
    Age(Box<age::stream::StreamWriter<Sink>>),
}

impl Write for Crypt {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Crypt::Plain(w) => w.write(buf),
            Crypt::Age(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Crypt::Plain(w) => w.flush(),
            Crypt::Age(w) => w.flush(),
        }
    }
}

impl Crypt {
    fn finish(self) -> io::Result<Sink> {
        match self {
            Crypt::Plain(w) => Ok(w),
            Crypt::Age(w) => w.finish(),
        }
    }
}

/// The writing end: compress, encrypt, hash, write to a file.
pub struct ArchiveWriter {
    inner: Compressor,
}

enum Compressor {
    Zstd(zstd::stream::write::Encoder<'static, Crypt>),
    Gzip(flate2::write::GzEncoder<Crypt>),
    None(Crypt),
}

/// What [`ArchiveWriter::finish`] reports.
pub struct Written {
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// Size of the file.
    pub size: u64,
    /// The file, flushed but not yet synced.
    pub file: File,
}

impl ArchiveWriter {
    /// Starts writing to `file`.
    ///
    /// # Errors
    /// Compressor or encryption setup failures.
    pub fn new(
        file: File,
        compression: Compression,
        encryption: Option<&Encryption>,
        threads: u32,
    ) -> Result<Self> {
        let sink = HashWriter::new(BufWriter::with_capacity(1 << 20, file));
        let crypt = match encryption {
            Some(e) => Crypt::Age(Box::new(e.encrypt(sink)?)),
            None => Crypt::Plain(sink),
        };
        let inner = match compression {
            Compression::Zstd { level } => {
                let mut enc = zstd::stream::write::Encoder::new(crypt, level)
                    .map_err(|e| anyhow::anyhow!("starting zstd: {e}"))?;
                if threads > 1 {
                    enc.multithread(threads)
                        .map_err(|e| anyhow::anyhow!("starting zstd workers: {e}"))?;
                }
                enc.include_checksum(true)
                    .map_err(|e| anyhow::anyhow!("zstd: {e}"))?;
                Compressor::Zstd(enc)
            }
            Compression::Gzip { level } => Compressor::Gzip(flate2::write::GzEncoder::new(
                crypt,
                flate2::Compression::new(level.min(9)),
            )),
            Compression::None => Compressor::None(crypt),
        };
        Ok(ArchiveWriter { inner })
    }

    /// Ends compression and encryption and flushes the file.
    ///
    /// # Errors
    /// Write errors (a full target shows as `StorageFull`).
    pub fn finish(self) -> io::Result<Written> {
        let crypt = match self.inner {
            Compressor::Zstd(e) => e.finish()?,
            Compressor::Gzip(e) => e.finish()?,
            Compressor::None(c) => c,
        };
        let sink = crypt.finish()?;
        let (sha256, size, buf) = sink.finish();
        let file = buf.into_inner().map_err(io::IntoInnerError::into_error)?;
        Ok(Written { sha256, size, file })
    }
}

impl Write for ArchiveWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Compressor::Zstd(e) => e.write(buf),
            Compressor::Gzip(e) => e.write(buf),
            Compressor::None(c) => c.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Compressor::Zstd(e) => e.flush(),
            Compressor::Gzip(e) => e.flush(),
            Compressor::None(c) => c.flush(),
        }
    }
}

/// Hash state shared between a [`HashReader`] deep in a reader stack and its owner.
#[derive(Clone, Default)]
pub struct SharedHash(Arc<Mutex<(Sha256, u64)>>);

impl SharedHash {
    /// Hex SHA-256 and byte count of what was read.
    pub fn result(&self) -> (String, u64) {
        let g = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (hex::encode(g.0.clone().finalize()), g.1)
    }
}

/// Hashes what is read through it.
pub struct HashReader<R: Read> {
    inner: R,
    hash: SharedHash,
}

impl<R: Read> HashReader<R> {
    /// Wraps `inner`, hashing into `hash`.
    pub fn new(inner: R, hash: SharedHash) -> Self {
        HashReader { inner, hash }
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut g = self
            .hash
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0.update(&buf[..n]);
        g.1 += n as u64;
        Ok(n)
    }
}

/// Opens the decompressed tar stream of an archive file, hashing the raw file into `hash`.
/// Read the stream to its end, then finish the file hash with [`finish_hash`].
///
/// # Errors
/// Opening the file, a wrong key, or a bad compression header.
pub fn open_archive(
    path: &std::path::Path,
    compression: Compression,
    encryption: Option<&Encryption>,
    hash: SharedHash,
) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| crate::Error::io("opening archive", path, e))?;
    let raw = HashReader::new(BufReader::with_capacity(1 << 20, file), hash);
    let what = path.display().to_string();
    let plain: Box<dyn Read + Send> = match encryption {
        Some(e) => Box::new(e.decrypt(raw, &what)?),
        None => Box::new(raw),
    };
    Ok(match compression {
        Compression::Zstd { .. } => Box::new(
            zstd::stream::read::Decoder::new(plain)
                .map_err(|e| crate::Error::io("starting zstd decoder for", path, e))?,
        ),
        Compression::Gzip { .. } => {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(plain)))
        }
        Compression::None => plain,
    })
}

/// Hashes the rest of `path` after the first `consumed` bytes into `hash` (bytes a decoder did
/// not need to read), and returns the whole file's hex SHA-256 and size.
///
/// # Errors
/// On read errors.
pub fn finish_hash(path: &std::path::Path, hash: &SharedHash) -> Result<(String, u64)> {
    use std::io::Seek;
    let (_, consumed) = hash.result();
    let mut f = File::open(path).map_err(|e| crate::Error::io("opening archive", path, e))?;
    f.seek(io::SeekFrom::Start(consumed))
        .map_err(|e| crate::Error::io("reading archive", path, e))?;
    let mut r = HashReader::new(f, hash.clone());
    io::copy(&mut r, &mut io::sink()).map_err(|e| crate::Error::io("reading archive", path, e))?;
    Ok(hash.result())
}

/// Hex SHA-256 and size of a whole file.
///
/// # Errors
/// On read errors.
pub fn sha256_file(path: &std::path::Path) -> Result<(String, u64)> {
    let hash = SharedHash::default();
    let f = File::open(path).map_err(|e| crate::Error::io("opening", path, e))?;
    let mut r = HashReader::new(BufReader::with_capacity(1 << 20, f), hash.clone());
    io::copy(&mut r, &mut io::sink()).map_err(|e| crate::Error::io("reading", path, e))?;
    Ok(hash.result())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn maps_rear_compress_options() {
        assert_eq!(
            Compression::from_tar_options(&opts(&["--gzip"])).unwrap(),
            Compression::Gzip { level: 6 }
        );
        assert_eq!(
            Compression::from_tar_options(&opts(&["--zstd"])).unwrap(),
            Compression::Zstd { level: 3 }
        );
        assert_eq!(
            Compression::from_tar_options(&opts(&["-I", "zstd -19 -T0"])).unwrap(),
            Compression::Zstd { level: 19 }
        );
        assert_eq!(
            Compression::from_tar_options(&opts(&["-I", "/usr/bin/gzip -9 -n -c"])).unwrap(),
            Compression::Gzip { level: 9 }
        );
        assert_eq!(
            Compression::from_tar_options(&[]).unwrap(),
            Compression::None
        );
        assert!(Compression::from_tar_options(&opts(&["--xz"])).is_err());
        assert!(Compression::from_tar_options(&opts(&["-I", "xz -9"])).is_err());
    }
}
