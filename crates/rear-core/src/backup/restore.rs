//! Restoring and verifying backups with our own tar reader.
//!
//! A restore applies the chain that ends in the chosen backup: the full backup, then each
//! incremental (or the one differential) in order; before each later backup, paths its manifest
//! no longer lists are deleted. Decompression and decryption run on their own thread, handing the
//! stream to the parsing thread in 1 MiB chunks (recycled, not allocated anew); the parsing thread
//! creates directories and writes large files straight from those chunks, and hands members up to
//! 4 MiB to writer threads in batches (one wake-up per batch, not per file). Every file's BLAKE3
//! and every archive's SHA-256 are checked against the manifest; a mismatch fails the restore
//! after it has restored what it could, naming the files.
//!
//! Member paths are checked before use: absolute paths, `..` and paths below a symlink the
//! archive created are refused, so nothing is written outside the destination.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::create::load_manifest;
use super::manifest::{Manifest, ManifestEntry};
use super::queue::{Queue, SendCloser};
use super::store::{self, BackupKind, Stored};
use super::stream::{self, Compression, SharedHash};
use super::tar::{Header, Kind, TarReader};
use super::{Phase, Progress, RestoreOptions, RestoreSummary, cancelled, meta};
use crate::{Error, Result};

/// The chain of backups that restores `opts.backup_id` (or the newest), full backup first.
///
/// # Errors
/// No backups, an unknown ID, or a broken chain (a base backup is missing).
pub fn find_chain(opts: &RestoreOptions) -> Result<Vec<(Stored, Manifest)>> {
    let dir = store::host_dir(&opts.location, &opts.hostname);
    let all = store::list(&dir)?;
    let target = match &opts.backup_id {
        Some(id) => all.iter().find(|s| &s.id == id).ok_or_else(|| {
            Error::invalid(
                dir.display().to_string(),
                format!("there is no backup {id}"),
            )
        })?,
        None => all.last().ok_or_else(|| {
            Error::invalid(dir.display().to_string(), "there is no backup to restore")
        })?,
    };
    let mut chain = Vec::new();
    let mut cur = target.clone();
    loop {
        let m = load_manifest(&cur, opts.encryption.as_ref())?;
        let base = m.head.base.clone();
        let kind = cur.kind;
        chain.push((cur, m));
        if kind == BackupKind::Full {
            break;
        }
        let base = base.ok_or_else(|| {
            Error::invalid(
                dir.display().to_string(),
                "a non-full backup without a base",
            )
        })?;
        cur = all.iter().find(|s| s.id == base).cloned().ok_or_else(|| {
            Error::invalid(
                dir.display().to_string(),
                format!("backup {base}, which later backups build on, is missing"),
            )
        })?;
        if chain.len() > 10_000 {
            return Err(Error::invalid(
                dir.display().to_string(),
                "backup chain loops",
            ));
        }
    }
    chain.reverse();
    Ok(chain)
}

/// Restores a backup (and the chain it builds on) into `opts.destination`.
///
/// # Errors
/// A missing or unreadable backup, a wrong key, write errors in the destination, or checksum
/// mismatches (reported after restoring all that could be restored).
pub fn restore_backup(
    opts: &RestoreOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<RestoreSummary> {
    run(opts, progress, true)
}

/// Reads a backup and its chain completely, checking every file and archive checksum against the
/// manifests, without writing anything.
///
/// # Errors
/// As [`restore_backup`]; any mismatch is an error that names the files.
pub fn verify_backup(
    opts: &RestoreOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<RestoreSummary> {
    run(opts, progress, false)
}

fn run(
    opts: &RestoreOptions,
    progress: &(dyn Fn(&Progress) + Sync),
    write: bool,
) -> Result<RestoreSummary> {
    let started = Instant::now();
    let chain = find_chain(opts)?;
    let mut summary = RestoreSummary::default();
    let mut problems: Vec<String> = Vec::new();
    let total: u64 = chain.iter().map(|(_, m)| m.tail.bytes).sum();
    if write {
        std::fs::create_dir_all(&opts.destination)
            .map_err(|e| Error::io("creating restore destination", &opts.destination, e))?;
    }
    let mut prev: Option<&Manifest> = None;
    for (stored, manifest) in &chain {
        tracing::info!(
            "{} backup {}",
            if write { "restoring" } else { "verifying" },
            stored.id
        );
        summary.chain.push(stored.id.clone());
        // deletions first: removing a path changes its directory's mtime, which the
        // archive's directory entries then set right
        if let Some(prev) = prev
            && write
        {
            summary.deleted += delete_missing(&opts.destination, prev, manifest, &mut problems);
        }
        apply_one(
            opts,
            stored,
            manifest,
            write,
            &mut summary,
            &mut problems,
            total,
            started,
            progress,
        )?;
        prev = Some(manifest);
    }
    summary.elapsed = started.elapsed();
    progress(&Progress {
        phase: if write { Phase::Restore } else { Phase::Verify },
        files: summary.entries,
        bytes: summary.bytes,
        total_bytes: Some(total),
        elapsed: summary.elapsed,
    });
    if !problems.is_empty() {
        let n = problems.len();
        let shown: Vec<_> = problems.iter().take(10).cloned().collect();
        return Err(Error::invalid(
            format!(
                "backup {}",
                summary.chain.last().cloned().unwrap_or_default()
            ),
            format!(
                "{n} problem(s) found{}: {}",
                if write {
                    " (all else was restored)"
                } else {
                    ""
                },
                shown.join("; ")
            ),
        ));
    }
    Ok(summary)
}

fn check_path(path: &[u8], symlinks: &HashSet<Vec<u8>>) -> std::result::Result<(), String> {
    if path.first() == Some(&b'/') {
        return Err("absolute path".into());
    }
    let mut prefix = Vec::new();
    for comp in path.split(|&b| b == b'/') {
        if comp == b".." {
            return Err("'..' in path".into());
        }
        if !prefix.is_empty() && symlinks.contains(&prefix) {
            return Err("path below a symlink".into());
        }
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(comp);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn apply_one(
    opts: &RestoreOptions,
    stored: &Stored,
    manifest: &Manifest,
    write: bool,
    summary: &mut RestoreSummary,
    problems: &mut Vec<String>,
    total: u64,
    started: Instant,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<()> {
    let compression = Compression::from_name(&manifest.head.compression).ok_or_else(|| {
        Error::invalid(
            stored.manifest.display().to_string(),
            format!("unknown compression {}", manifest.head.compression),
        )
    })?;
    let hash = SharedHash::default();
    let decoded = stream::open_archive(
        &stored.archive,
        compression,
        opts.encryption.as_ref(),
        hash.clone(),
    )?;
    let expected: HashMap<Vec<u8>, &ManifestEntry> = manifest
        .entries
        .iter()
        .filter(|e| e.a)
        .map(|e| (e.path_bytes(), e))
        .collect();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    // The decompressing thread hands the stream over in 1 MiB chunks through a bounded
    // mutex/condition-variable queue (it blocks without spinning). A kernel pipe did this before:
    // 64 KiB at a time, two copies and two system calls per 8 KiB written.
    let chunks: Queue<Vec<u8>> = Queue::new(CHUNKS_IN_FLIGHT);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let archive_path = stored.archive.clone();
    let tasks: Queue<Vec<Task>> = Queue::new(BATCHES_IN_FLIGHT);
    let shared = Mutex::new((Vec::<String>::new(), Vec::<String>::new()));
    std::thread::scope(|scope| -> Result<()> {
        let (chunks, spare) = (&chunks, &spare);
        let decoder = scope.spawn(move || -> io::Result<u64> {
            let _closer = SendCloser(chunks);
            decode_into(decoded, chunks, spare)
        });
        // Small members go to writer threads (create, write, hash, set attributes); this thread
        // parses the stream, creates directories, and writes large files itself.
        let (tasks, shared) = (&tasks, &shared);
        let mut writers = Vec::new();
        if write {
            let n = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
            for _ in 0..n.max(2) {
                let root = opts.destination.as_path();
                let set_owner = opts.set_owner;
                writers.push(scope.spawn(move || {
                    while let Some(batch) = tasks.pop() {
                        for t in batch {
                            let (p, w) = write_task(t, root, set_owner);
                            if !p.is_empty() || !w.is_empty() {
                                let mut g = shared
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                g.0.extend(p);
                                g.1.extend(w);
                            }
                        }
                    }
                }));
            }
        }
        let _tasks_closer = SendCloser(tasks);
        let mut body = || -> Result<()> {
            let _closer = SendCloser(tasks);
            let mut hard_links: Vec<(PathBuf, Header)> = Vec::new();
            let mut tar = TarReader::new(ChunkReader::new(chunks, spare));
            let mut dirs: Vec<(PathBuf, Header)> = Vec::new();
            let mut symlinks: HashSet<Vec<u8>> = HashSet::new();
            let mut open_file: Option<File>;
            let mut batch = Batch::default();
            let mut last = Instant::now();
            let read_err = |e: io::Error| Error::io("reading archive", &archive_path, e);
            while let Some(h) = tar.next_header().map_err(read_err)? {
                if cancelled(opts.cancel.as_ref()) {
                    return Err(Error::Other(anyhow::anyhow!("the restore was interrupted")));
                }
                let shown = String::from_utf8_lossy(&h.path).into_owned();
                let link_check = match &h.kind {
                    Kind::HardLink(t) => check_path(t, &symlinks),
                    _ => Ok(()),
                };
                if let Err(why) = check_path(&h.path, &symlinks).and(link_check) {
                    problems.push(format!("refused member {shown}: {why}"));
                    continue;
                }
                let dest = if h.path.is_empty() {
                    opts.destination.clone()
                } else {
                    opts.destination.join(std::ffi::OsStr::from_bytes(&h.path))
                };
                summary.entries += 1;
                let want = expected.get(&h.path);
                let pooled = write
                    && match h.kind {
                        Kind::File => h.stored_size() <= POOLED_MAX,
                        Kind::Dir => false,
                        _ => true,
                    };
                if pooled || (write && matches!(h.kind, Kind::HardLink(_))) {
                    match want {
                        None => problems
                            .push(format!("{shown} is in the archive but not in the manifest")),
                        Some(e) if e.t != h.kind.code() => problems.push(format!(
                            "{shown}: type {} in the manifest, {} in the archive",
                            e.t,
                            h.kind.code()
                        )),
                        _ => {}
                    }
                    seen.insert(h.path.clone());
                    if let Kind::Symlink(_) = h.kind {
                        symlinks.insert(h.path.clone());
                    }
                    if let Kind::HardLink(_) = h.kind {
                        // after all files exist
                        hard_links.push((dest, h));
                        continue;
                    }
                    let mut data = Vec::new();
                    if h.kind == Kind::File {
                        // for sparse members the map was already read: only segments remain
                        data.reserve_exact(usize::try_from(h.stored_size()).unwrap_or(0));
                        loop {
                            let piece = tar.data_piece().map_err(read_err)?;
                            if piece.is_empty() {
                                break;
                            }
                            let n = piece.len();
                            data.extend_from_slice(piece);
                            tar.consume_data(n);
                        }
                        let got = data.len();
                        let segs: u64 = h
                            .sparse
                            .as_ref()
                            .map_or(h.size, |m| m.iter().map(|s| s.1).sum());
                        if got as u64 != segs {
                            return Err(read_err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("member {shown} is cut short"),
                            )));
                        }
                        summary.bytes += got as u64;
                    }
                    let expected_hash = want.and_then(|e| e.h.clone());
                    batch.bytes += data.len();
                    batch.tasks.push(Task {
                        dest,
                        header: h,
                        data,
                        expected_hash,
                    });
                    if batch.is_full() {
                        batch.send(tasks)?;
                    }
                    continue;
                }
                let mut hasher = blake3::Hasher::new();
                let mut out: Option<File> = None;
                if write {
                    match prepare(&dest, &h, &opts.destination) {
                        Ok(f) => out = f,
                        Err(e) => {
                            problems.push(format!("cannot create {}: {e}", dest.display()));
                        }
                    }
                }
                if h.kind == Kind::File {
                    if let Some(map) = &h.sparse {
                        hasher.update(&super::tar::sparse_map_block(map));
                    }
                    let segments = h.sparse.clone().unwrap_or_else(|| vec![(0, h.size)]);
                    let mut write_failed = None;
                    for (offset, len) in segments {
                        if let Some(f) = out.as_mut()
                            && h.sparse.is_some()
                        {
                            use std::io::Seek;
                            if let Err(e) = f.seek(io::SeekFrom::Start(offset)) {
                                write_failed = Some(e);
                            }
                        }
                        // written straight from the decompressed chunks, without a copy
                        let mut left = len;
                        while left > 0 {
                            let piece = tar.data_piece().map_err(read_err)?;
                            if piece.is_empty() {
                                return Err(read_err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    format!("member {shown} is cut short"),
                                )));
                            }
                            let piece = &piece
                                [..piece.len().min(usize::try_from(left).unwrap_or(usize::MAX))];
                            let n = piece.len();
                            hasher.update(piece);
                            if let Some(f) = out.as_mut()
                                && write_failed.is_none()
                                && let Err(e) = f.write_all(piece)
                            {
                                write_failed = Some(e);
                            }
                            tar.consume_data(n);
                            left -= n as u64;
                            summary.bytes += n as u64;
                        }
                    }
                    if let Some(f) = out.as_ref()
                        && h.sparse.is_some()
                        && let Err(e) = f.set_len(h.size)
                    {
                        write_failed = Some(e);
                    }
                    if let Some(e) = write_failed {
                        if e.kind() == io::ErrorKind::StorageFull {
                            return Err(Error::io("restoring (the destination is full)", &dest, e));
                        }
                        problems.push(format!("writing {}: {e}", dest.display()));
                    }
                }
                match expected.get(&h.path) {
                    None => {
                        problems.push(format!("{shown} is in the archive but not in the manifest"))
                    }
                    Some(e) => {
                        if e.t != h.kind.code() {
                            problems.push(format!(
                                "{shown}: type {} in the manifest, {} in the archive",
                                e.t,
                                h.kind.code()
                            ));
                        } else if let Some(want) = &e.h {
                            let got = hasher.finalize().to_hex().to_string();
                            if &got != want {
                                problems.push(format!(
                                    "{shown}: contents differ from the manifest checksum"
                                ));
                            }
                        }
                    }
                }
                open_file = out.take();
                seen.insert(h.path.clone());
                if let Kind::Symlink(_) = h.kind {
                    symlinks.insert(h.path.clone());
                }
                if write {
                    match h.kind {
                        Kind::Dir => dirs.push((dest, h)),
                        Kind::HardLink(_) => {}
                        _ => match meta::apply(&dest, open_file.as_ref(), &h, opts.set_owner) {
                            Ok(failed) => summary.warnings.extend(
                                failed
                                    .into_iter()
                                    .map(|x| format!("{}: cannot set xattr {x}", dest.display())),
                            ),
                            Err(e) => problems
                                .push(format!("setting attributes of {}: {e}", dest.display())),
                        },
                    }
                }
                if last.elapsed() >= Duration::from_millis(500) {
                    last = Instant::now();
                    progress(&Progress {
                        phase: if write { Phase::Restore } else { Phase::Verify },
                        files: summary.entries,
                        bytes: summary.bytes,
                        total_bytes: Some(total),
                        elapsed: started.elapsed(),
                    });
                }
            }
            // wait for the writers, then hard links (their targets exist now)
            batch.send(tasks)?;
            drop(_closer);
            for w in writers.drain(..) {
                if w.join().is_err() {
                    return Err(Error::Other(anyhow::anyhow!(
                        "a restore writer thread panicked"
                    )));
                }
            }
            for (dest, h) in &hard_links {
                if let Err(e) = prepare(dest, h, &opts.destination) {
                    problems.push(format!("cannot create {}: {e}", dest.display()));
                }
            }
            // directories last, deepest first, so their times stick
            for (dest, h) in dirs.iter().rev() {
                match meta::apply(dest, None, h, opts.set_owner) {
                    Ok(failed) => summary.warnings.extend(
                        failed
                            .into_iter()
                            .map(|x| format!("{}: cannot set xattr {x}", dest.display())),
                    ),
                    Err(e) => {
                        problems.push(format!("setting attributes of {}: {e}", dest.display()))
                    }
                }
            }
            // drain what follows the end blocks so the archive hash covers the whole stream
            let mut rest = tar.into_inner();
            io::copy(&mut rest, &mut io::sink()).map_err(read_err)?;
            Ok(())
        };
        let result = body();
        tasks.close_recv();
        // stops the decoder if the parser gave up early
        chunks.close_recv();
        {
            let mut g = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            problems.append(&mut g.0);
            summary.warnings.append(&mut g.1);
        }
        // a decoding error (wrong key, corrupt compression) explains a reading error: report it
        match decoder.join() {
            Ok(Err(e)) if e.kind() != io::ErrorKind::BrokenPipe || result.is_ok() => {
                Err(Error::io("decompressing archive", &archive_path, e))
            }
            Err(_) => Err(Error::Other(anyhow::anyhow!(
                "the decompressing thread panicked"
            ))),
            _ => result,
        }
    })?;
    for p in expected.keys() {
        if !seen.contains(p) {
            problems.push(format!(
                "{} is in the manifest but missing from the archive",
                String::from_utf8_lossy(p)
            ));
        }
    }
    let (sha, size) = stream::finish_hash(&stored.archive, &hash)?;
    if sha != manifest.tail.archive_sha256 || size != manifest.tail.archive_size {
        problems.push(format!(
            "archive {} has sha256 {sha} ({size} bytes), the manifest says {} ({} bytes)",
            stored.archive.display(),
            manifest.tail.archive_sha256,
            manifest.tail.archive_size
        ));
    }
    Ok(())
}

/// Size of the pieces of decompressed stream handed to the parsing thread.
const CHUNK: usize = 1 << 20;
/// Pieces queued between the decompressing and the parsing thread (8 MiB).
const CHUNKS_IN_FLIGHT: usize = 8;

/// Decompresses `decoded` into `CHUNK`-sized pieces on `chunks`; returns the bytes decoded.
/// Buffers come from `spare` (where [`ChunkReader`] puts them back) when there are any.
/// A closed receiving side (the parser stopped) is a `BrokenPipe` error, as with a pipe.
fn decode_into(
    mut decoded: impl io::Read,
    chunks: &Queue<Vec<u8>>,
    spare: &Mutex<Vec<Vec<u8>>>,
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let mut chunk = spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        // a recycled chunk keeps its length and contents: no zeroing needed
        chunk.resize(CHUNK, 0);
        let mut got = 0;
        while got < CHUNK {
            match decoded.read(&mut chunk[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if got == 0 {
            return Ok(total);
        }
        chunk.truncate(got);
        total += got as u64;
        let last = got < CHUNK;
        if chunks.push(chunk).is_err() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        if last {
            return Ok(total);
        }
    }
}

/// Reads the chunks `decode_into` queues, in order, and hands used ones back to it through
/// `spare`; end of stream when the queue is closed and empty.
struct ChunkReader<'q> {
    chunks: &'q Queue<Vec<u8>>,
    spare: &'q Mutex<Vec<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl<'q> ChunkReader<'q> {
    fn new(chunks: &'q Queue<Vec<u8>>, spare: &'q Mutex<Vec<Vec<u8>>>) -> Self {
        ChunkReader {
            chunks,
            spare,
            cur: Vec::new(),
            pos: 0,
        }
    }
}

impl io::BufRead for ChunkReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.cur.len() {
            let Some(next) = self.chunks.pop() else {
                return Ok(&[]);
            };
            let used = std::mem::replace(&mut self.cur, next);
            self.pos = 0;
            if used.capacity() == CHUNK {
                let mut spare = self
                    .spare
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if spare.len() < 2 {
                    spare.push(used);
                }
            }
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

impl io::Read for ChunkReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = io::BufRead::fill_buf(self)?;
        let n = buf.len().min(avail.len());
        buf[..n].copy_from_slice(&avail[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

/// Members for the writer threads, sent together: a batch goes when it holds `BATCH_FILES`
/// members or `BATCH_BYTES` of data, and at the end.
#[derive(Default)]
struct Batch {
    tasks: Vec<Task>,
    bytes: usize,
}

/// See [`Batch`].
const BATCH_FILES: usize = 64;
/// See [`Batch`].
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued for the writers: with members up to `POOLED_MAX`, at most about
/// `BATCHES_IN_FLIGHT * (BATCH_BYTES + POOLED_MAX)` of data waits in memory.
const BATCHES_IN_FLIGHT: usize = 8;

impl Batch {
    fn is_full(&self) -> bool {
        self.tasks.len() >= BATCH_FILES || self.bytes >= BATCH_BYTES
    }

    /// Queues the batch (if it holds anything) and starts a new one.
    fn send(&mut self, tasks: &Queue<Vec<Task>>) -> Result<()> {
        if self.tasks.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        tasks
            .push(std::mem::take(&mut self.tasks))
            .map_err(|_| Error::Other(anyhow::anyhow!("the restore writers stopped")))
    }
}

/// Members up to this stored size are written by the writer threads.
const POOLED_MAX: u64 = 4 << 20;

/// A member for a writer thread: everything needed to create it.
struct Task {
    dest: PathBuf,
    header: Header,
    /// The stored data (for sparse files: the segments, concatenated).
    data: Vec<u8>,
    /// The manifest's BLAKE3 of the contents.
    expected_hash: Option<String>,
}

/// Creates one member; returns (problems, warnings).
fn write_task(t: Task, root: &Path, set_owner: bool) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let Task {
        dest,
        header: h,
        data,
        expected_hash,
    } = t;
    let mut file = match prepare(&dest, &h, root) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("cannot create {}: {e}", dest.display()));
            return (problems, warnings);
        }
    };
    if h.kind == Kind::File {
        let mut hasher = blake3::Hasher::new();
        let r = (|| -> io::Result<()> {
            let Some(f) = file.as_mut() else {
                return Ok(());
            };
            match &h.sparse {
                None => {
                    hasher.update(&data);
                    f.write_all(&data)?;
                }
                Some(map) => {
                    use std::io::Seek;
                    hasher.update(&super::tar::sparse_map_block(map));
                    hasher.update(&data);
                    let mut at = 0usize;
                    for &(offset, len) in map {
                        let len = usize::try_from(len).unwrap_or(0);
                        f.seek(io::SeekFrom::Start(offset))?;
                        f.write_all(&data[at..at + len])?;
                        at += len;
                    }
                    f.set_len(h.size)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            problems.push(format!("writing {}: {e}", dest.display()));
        }
        if let Some(want) = expected_hash
            && hasher.finalize().to_hex().as_str() != want
        {
            problems.push(format!(
                "{}: contents differ from the manifest checksum",
                String::from_utf8_lossy(&h.path)
            ));
        }
    }
    match meta::apply(&dest, file.as_ref(), &h, set_owner) {
        Ok(failed) => warnings.extend(
            failed
                .into_iter()
                .map(|x| format!("{}: cannot set xattr {x}", dest.display())),
        ),
        Err(e) => problems.push(format!("setting attributes of {}: {e}", dest.display())),
    }
    (problems, warnings)
}

/// Creates `dest` as `h` says, replacing what is in the way; returns the open file for regular
/// files. Missing parents are created (members normally follow their directory in the archive,
/// so the first try works and no `stat` per member is needed).
fn prepare(dest: &Path, h: &Header, root: &Path) -> io::Result<Option<File>> {
    match create_replacing(dest, h, root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && dest != root => {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            create_replacing(dest, h, root)
        }
        r => r,
    }
}

/// Creates `dest`; when something is in the way, removes it and creates `dest` again (an
/// existing directory stays when `h` is a directory too).
fn create_replacing(dest: &Path, h: &Header, root: &Path) -> io::Result<Option<File>> {
    // Try to create first: into an empty destination nothing is in the way, and this saves a
    // `stat` per member.
    match create(dest, h, root) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let md = std::fs::symlink_metadata(dest)?;
            if md.is_dir() {
                if h.kind == Kind::Dir {
                    return Ok(None);
                }
                std::fs::remove_dir_all(dest)?;
            } else {
                std::fs::remove_file(dest)?;
            }
            create(dest, h, root)
        }
        r => r,
    }
}

fn create(dest: &Path, h: &Header, root: &Path) -> io::Result<Option<File>> {
    match &h.kind {
        Kind::Dir => {
            std::fs::create_dir(dest)?;
            Ok(None)
        }
        Kind::File => Ok(Some(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dest)?,
        )),
        Kind::Symlink(t) => {
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(t), dest)?;
            Ok(None)
        }
        Kind::HardLink(t) => {
            std::fs::hard_link(root.join(std::ffi::OsStr::from_bytes(t)), dest)?;
            Ok(None)
        }
        k @ (Kind::Char(..) | Kind::Block(..) | Kind::Fifo) => {
            meta::make_node(dest, k, h.mode)?;
            Ok(None)
        }
    }
}

/// Deletes paths `prev` had and `cur` has not; returns how many.
fn delete_missing(root: &Path, prev: &Manifest, cur: &Manifest, problems: &mut Vec<String>) -> u64 {
    let now: HashSet<Vec<u8>> = cur.entries.iter().map(ManifestEntry::path_bytes).collect();
    let mut gone: Vec<Vec<u8>> = prev
        .entries
        .iter()
        .map(ManifestEntry::path_bytes)
        .filter(|p| !now.contains(p))
        .collect();
    // children before parents
    gone.sort();
    gone.reverse();
    let mut n = 0;
    for p in gone {
        if p.is_empty() || check_path(&p, &HashSet::new()).is_err() {
            continue;
        }
        let path = root.join(std::ffi::OsStr::from_bytes(&p));
        let r = match std::fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => continue,
        };
        match r {
            Ok(()) => n += 1,
            Err(e) => problems.push(format!("deleting {}: {e}", path.display())),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_escape() {
        let links: HashSet<Vec<u8>> = [b"a/link".to_vec()].into();
        assert!(check_path(b"/etc/passwd", &links).is_err());
        assert!(check_path(b"a/../../x", &links).is_err());
        assert!(check_path(b"a/link/x", &links).is_err());
        assert!(check_path(b"a/linkx/y", &links).is_ok());
        assert!(check_path(b"", &links).is_ok());
    }
}
