//! Making a backup: walk, read in parallel, write one ordered tar stream, verify, commit.
//!
//! Threads: one walker (the [`select::walk`] order is the archive order), `threads` readers that
//! turn each entry into finished tar bytes (header, data, padding) plus its manifest line, and
//! the calling thread, which takes the entries in order and feeds the compressor (zstd runs its
//! own `threads` workers). Between them are bounded queues ([`super::queue`]): at most [`QUEUE`] entries in flight,
//! each holding at most [`CHUNKS`] pieces of [`CHUNK`] bytes, so memory stays below
//! `QUEUE * CHUNKS * CHUNK` (64 MiB) whatever the tree holds.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::queue::{Queue, SendCloser};

use super::manifest::{self, ManifestEntry, ManifestHead, ManifestTail, ManifestWriter};
use super::meta::{self, Names};
use super::select::{self, Found};
use super::store::{self, BackupKind, Stored};
use super::stream::{self, ArchiveWriter};
use super::tar::{self, Kind};
use super::{BackupOptions, BackupSummary, BackupType, Phase, Progress, cancelled};
use crate::{Error, Result};

/// Entries in flight between the walker and the writer.
const QUEUE: usize = 64;
/// Pieces buffered per entry.
const CHUNKS: usize = 4;
/// Size of one piece of file data.
const CHUNK: usize = 256 * 1024;

enum Piece {
    Bytes(Vec<u8>),
    Done(Box<ManifestEntry>),
    Skipped(String),
    Warning(String),
}

struct Job {
    found: Found,
    slot: Arc<Queue<Piece>>,
}

/// Makes a backup as `opts` say, reporting progress through `progress`.
///
/// # Errors
/// A bad selection, an unreadable include path, a full or unwritable target (the partial file is
/// removed and earlier backups are kept), a failed verification, or cancellation.
pub fn create_backup(
    opts: &BackupOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<BackupSummary> {
    let started = Instant::now();
    let dir = store::host_dir(&opts.location, &opts.hostname);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating backup directory", &dir, e))?;
    for n in store::clean_leftovers(&dir)? {
        tracing::info!("removed {n} left by an interrupted backup");
    }
    let existing = store::list(&dir)?;
    let (kind, base) = choose_kind(opts, &existing)?;
    let base_manifest = match &base {
        Some(b) => Some(load_manifest(b, opts.encryption.as_ref())?),
        None => None,
    };
    let base_entries: HashMap<Vec<u8>, ManifestEntry> = base_manifest
        .as_ref()
        .map(|m| {
            m.entries
                .iter()
                .map(|e| (e.path_bytes(), e.clone()))
                .collect()
        })
        .unwrap_or_default();

    let now = time::OffsetDateTime::now_utc();
    let id = unique_id(&dir, now, kind);
    let enc_suffix = if opts.encryption.is_some() {
        ".age"
    } else {
        ""
    };
    let archive_name = format!("{id}{}{enc_suffix}", opts.compression.suffix());
    let manifest_name = format!("{id}.manifest{enc_suffix}");
    let archive_path = dir.join(&archive_name);
    let manifest_path = dir.join(&manifest_name);
    let archive_tmp = dir.join(format!(".{archive_name}.partial"));
    let manifest_tmp = dir.join(format!(".{manifest_name}.partial"));
    tracing::info!("creating {} backup {}", kind.word(), archive_path.display());

    let mut selection = opts.selection.clone();
    selection.exclude_dirs.push(dir.clone());
    selection.exclude_dirs.push(opts.location.clone());
    let head = ManifestHead {
        format: manifest::FORMAT.into(),
        version: 1,
        id: id.clone(),
        kind: kind.word().into(),
        base: base.as_ref().map(|b| b.id.clone()),
        archive: archive_name.clone(),
        compression: opts.compression.name().into(),
        encryption: opts.encryption.as_ref().map(|_| "age".into()),
        hostname: opts.hostname.clone(),
        created: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        checksum: "blake3".into(),
    };

    let result = write_archive(
        opts,
        &selection,
        &base_entries,
        &archive_tmp,
        &manifest_tmp,
        &head,
        progress,
    );
    let (tail, warnings) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&archive_tmp);
            let _ = std::fs::remove_file(&manifest_tmp);
            tracing::warn!("backup failed, removed the partial files; earlier backups are kept");
            return Err(e);
        }
    };
    store::commit(&archive_tmp, &archive_path)?;
    store::commit(&manifest_tmp, &manifest_path)?;
    tracing::info!(
        "backup {id} committed: {} entries, {} bytes read, archive {} bytes",
        tail.entries,
        tail.bytes,
        tail.archive_size
    );
    if let Some(keep) = opts.keep_chains {
        prune(&dir, keep)?;
    }
    Ok(BackupSummary {
        id,
        kind,
        archive: archive_path,
        manifest: manifest_path,
        entries: tail.entries,
        archived: tail.archived,
        bytes: tail.bytes,
        archive_size: tail.archive_size,
        archive_sha256: tail.archive_sha256,
        warnings,
        elapsed: started.elapsed(),
    })
}

fn choose_kind<'a>(
    opts: &BackupOptions,
    existing: &'a [Stored],
) -> Result<(BackupKind, Option<&'a Stored>)> {
    let last_full = existing.iter().rposition(|s| s.kind == BackupKind::Full);
    let want = match opts.backup_type {
        BackupType::Full => return Ok((BackupKind::Full, None)),
        BackupType::Incremental => BackupKind::Incremental,
        BackupType::Differential => BackupKind::Differential,
    };
    let Some(full) = last_full else {
        tracing::info!("no full backup yet: making a full backup");
        return Ok((BackupKind::Full, None));
    };
    let today = time::OffsetDateTime::now_utc().weekday();
    let full_day = opts
        .full_backup_days
        .iter()
        .any(|d| weekday_matches(d, today));
    let full_is_today = existing[full]
        .id
        .get(..8)
        .is_some_and(|d| d == today_stamp());
    if full_day && !full_is_today {
        tracing::info!("FULLBACKUPDAY: making a full backup");
        return Ok((BackupKind::Full, None));
    }
    let base = match want {
        BackupKind::Differential => &existing[full],
        _ => existing.last().unwrap_or(&existing[full]),
    };
    Ok((want, Some(base)))
}

fn today_stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// Whether `name` (`Mon`, `monday`, `1` for Monday ... `0`/`7` for Sunday) is `day`.
pub fn weekday_matches(name: &str, day: time::Weekday) -> bool {
    let n = name.trim().to_ascii_lowercase();
    let full = day.to_string().to_ascii_lowercase();
    if !n.is_empty() && n.len() >= 3 && full.starts_with(&n) {
        return true;
    }
    match n.parse::<u8>() {
        Ok(7 | 0) => day == time::Weekday::Sunday,
        Ok(d) => d == day.number_from_monday(),
        Err(_) => false,
    }
}

fn unique_id(dir: &Path, now: time::OffsetDateTime, kind: BackupKind) -> String {
    let base = format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let existing = store::list(dir).unwrap_or_default();
    let mut id = format!("{base}-{}", kind.letter());
    let mut n = 1;
    // two backups in the same second: make the later one sort after the earlier
    while existing.iter().any(|s| s.id >= id) {
        id = format!("{base}{n:02}-{}", kind.letter());
        n += 1;
        if n > 99 {
            break;
        }
    }
    id
}

pub(crate) fn load_manifest(
    s: &Stored,
    enc: Option<&super::Encryption>,
) -> Result<manifest::Manifest> {
    let what = s.manifest.display().to_string();
    let f = File::open(&s.manifest).map_err(|e| Error::io("opening manifest", &s.manifest, e))?;
    if s.encrypted {
        let enc = enc.ok_or_else(|| {
            Error::invalid(&what, "the backup is encrypted: set BACKUP_PROG_CRYPT_KEY")
        })?;
        manifest::read_manifest(std::io::BufReader::new(enc.decrypt(f, &what)?), &what)
    } else {
        manifest::read_manifest(std::io::BufReader::new(f), &what)
    }
}

/// Removes all but the newest `keep` chains.
fn prune(dir: &Path, keep: usize) -> Result<()> {
    let all = store::list(dir)?;
    let fulls: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == BackupKind::Full)
        .map(|(i, _)| i)
        .collect();
    if fulls.len() <= keep.max(1) {
        return Ok(());
    }
    let first_kept = fulls[fulls.len() - keep.max(1)];
    for s in &all[..first_kept] {
        tracing::info!("removing old backup {}", s.id);
        // manifest first: a backup without manifest is not committed
        std::fs::remove_file(&s.manifest).map_err(|e| Error::io("removing", &s.manifest, e))?;
        std::fs::remove_file(&s.archive).map_err(|e| Error::io("removing", &s.archive, e))?;
    }
    Ok(())
}

fn storage_error(action: &'static str, path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
        Error::io(
            "the backup target is full (the partial backup was removed, earlier backups are kept) while writing",
            path,
            e,
        )
    } else {
        Error::io(action, path, e)
    }
}

fn threads(opts: &BackupOptions) -> usize {
    if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    }
}

/// Estimated content bytes: used space of the filesystems of the include paths.
fn estimate_total(sel: &select::Selection) -> Option<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    for inc in &sel.include {
        let real = sel.root.join(inc.strip_prefix("/").unwrap_or(inc));
        let md = std::fs::metadata(&real).ok()?;
        if !seen.insert(md.dev()) {
            continue;
        }
        let st = rustix::fs::statvfs(&real).ok()?;
        total += (st.f_blocks - st.f_bfree) * st.f_frsize;
    }
    Some(total)
}

#[allow(clippy::too_many_lines)]
fn write_archive(
    opts: &BackupOptions,
    selection: &select::Selection,
    base: &HashMap<Vec<u8>, ManifestEntry>,
    archive_tmp: &Path,
    manifest_tmp: &Path,
    head: &ManifestHead,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<(ManifestTail, Vec<String>)> {
    let n = threads(opts);
    let file = File::create(archive_tmp).map_err(|e| storage_error("creating", archive_tmp, e))?;
    let mut out = ArchiveWriter::new(
        file,
        opts.compression,
        opts.encryption.as_ref(),
        u32::try_from(n).unwrap_or(2),
    )?;
    let mfile =
        File::create(manifest_tmp).map_err(|e| storage_error("creating", manifest_tmp, e))?;
    let mut mout =
        ArchiveWriter::new(mfile, super::Compression::None, opts.encryption.as_ref(), 1)?;
    let mut mw = ManifestWriter::new(&mut mout, head)
        .map_err(|e| storage_error("writing manifest", manifest_tmp, e))?;

    let names = Names::load(&selection.root);
    let total = estimate_total(selection);
    let started = Instant::now();
    let order: Queue<Arc<Queue<Piece>>> = Queue::new(QUEUE);
    let jobs: Queue<Job> = Queue::new(QUEUE);
    let mut warnings: Vec<String> = Vec::new();
    let mut entries = 0u64;
    let mut archived = 0u64;
    let mut bytes = 0u64;
    let cancel = opts.cancel.as_ref();
    // set by the writer when it stops early, so the walker and the readers stop too
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let stopping = || stop.load(std::sync::atomic::Ordering::Relaxed);

    let walk_result: Result<()> = std::thread::scope(|scope| {
        let (order, jobs) = (&order, &jobs);
        let walker = scope.spawn(move || -> Result<Vec<String>> {
            let _closers = (SendCloser(order), SendCloser(jobs));
            let mut warns = Vec::new();
            let r = select::walk(selection, &mut |w| warns.push(w), &mut |found: Found| {
                if cancelled(cancel) {
                    return Err(interrupted());
                }
                if stopping() {
                    return Err(stopped());
                }
                let slot = Arc::new(Queue::new(CHUNKS));
                if let Some(prev) = base.get(&found.name)
                    && !found.md.is_dir()
                    && unchanged(prev, &found)
                {
                    let mut e = prev.clone();
                    e.a = false;
                    let _ = slot.push(Piece::Done(Box::new(e)));
                    slot.close_send();
                    order.push(slot).map_err(|_| stopped())?;
                    return Ok(());
                }
                order.push(Arc::clone(&slot)).map_err(|_| stopped())?;
                jobs.push(Job { found, slot }).map_err(|_| stopped())?;
                Ok(())
            });
            r.map(|()| warns)
        });
        for _ in 0..n.max(2) {
            let names = &names;
            scope.spawn(move || {
                while let Some(job) = jobs.pop() {
                    if stopping() {
                        job.slot.close_send();
                        continue;
                    }
                    process(job, names);
                }
            });
        }

        let mut last_report = Instant::now();
        let mut write_err: Option<Error> = None;
        'entries: while let Some(slot) = order.pop() {
            let mut finished = false;
            while let Some(piece) = slot.pop() {
                match piece {
                    Piece::Bytes(b) => {
                        if let Err(e) = out.write_all(&b) {
                            write_err = Some(storage_error("writing", archive_tmp, e));
                            slot.close_recv();
                            break 'entries;
                        }
                    }
                    Piece::Done(e) => {
                        entries += 1;
                        if e.a {
                            archived += 1;
                            bytes += e.s;
                        }
                        if let Err(err) = mw.entry(&e) {
                            write_err = Some(storage_error("writing manifest", manifest_tmp, err));
                            slot.close_recv();
                            break 'entries;
                        }
                        finished = true;
                        break;
                    }
                    Piece::Skipped(w) => {
                        warnings.push(w);
                        finished = true;
                        break;
                    }
                    Piece::Warning(w) => warnings.push(w),
                }
            }
            slot.close_recv();
            if !finished && !stopping() {
                // the reader of this entry ended without finishing it (it panicked)
                write_err = Some(Error::Other(anyhow::anyhow!(
                    "a reader thread failed; the archive would be incomplete"
                )));
                break;
            }
            if cancelled(cancel) {
                write_err = Some(interrupted());
                break;
            }
            if last_report.elapsed() >= Duration::from_millis(500) {
                last_report = Instant::now();
                progress(&Progress {
                    phase: Phase::Backup,
                    files: entries,
                    bytes,
                    total_bytes: total,
                    elapsed: started.elapsed(),
                });
            }
        }
        if write_err.is_some() {
            // Stop the walker and the readers: they see the flag, and closing the queued
            // entries fails the readers' pending pushes. Drain until the walker is done.
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            while let Some(slot) = order.pop() {
                slot.close_recv();
            }
        }
        order.close_recv();
        let walked = walker
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("walker panicked").into()));
        if let Some(e) = write_err {
            return Err(e);
        }
        warnings.extend(walked?);
        Ok(())
    });
    walk_result?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    out.write_all(&tar::END)
        .map_err(|e| storage_error("writing", archive_tmp, e))?;
    let written = out
        .finish()
        .map_err(|e| storage_error("writing", archive_tmp, e))?;
    written
        .file
        .sync_all()
        .map_err(|e| storage_error("syncing", archive_tmp, e))?;
    drop(written.file);
    progress(&Progress {
        phase: Phase::Backup,
        files: entries,
        bytes,
        total_bytes: Some(bytes),
        elapsed: started.elapsed(),
    });
    if opts.verify {
        let vstart = Instant::now();
        let (sha, size) = stream::sha256_file(archive_tmp)?;
        if sha != written.sha256 || size != written.size {
            return Err(Error::invalid(
                archive_tmp.display().to_string(),
                format!(
                    "the archive read back differs from what was written (sha256 {sha} vs {}): \
                     the target storage is unreliable",
                    written.sha256
                ),
            ));
        }
        progress(&Progress {
            phase: Phase::Verify,
            files: entries,
            bytes: size,
            total_bytes: Some(size),
            elapsed: vstart.elapsed(),
        });
    }
    let tail = ManifestTail {
        end: true,
        entries,
        archived,
        bytes,
        archive_size: written.size,
        archive_sha256: written.sha256,
    };
    mw.finish(&tail)
        .map_err(|e| storage_error("writing manifest", manifest_tmp, e))?;
    let mwritten = mout
        .finish()
        .map_err(|e| storage_error("writing manifest", manifest_tmp, e))?;
    mwritten
        .file
        .sync_all()
        .map_err(|e| storage_error("syncing", manifest_tmp, e))?;
    Ok((tail, warnings))
}

fn interrupted() -> Error {
    Error::Other(anyhow::anyhow!(
        "the backup was interrupted; the last good backup is kept"
    ))
}

fn stopped() -> Error {
    Error::Other(anyhow::anyhow!("the archive writer stopped"))
}

fn nanos(sec: i64, nsec: i64) -> i64 {
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn type_code(found: &Found) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let ft = found.md.file_type();
    if found.hardlink_to.is_some() {
        "h"
    } else if ft.is_file() {
        "f"
    } else if ft.is_dir() {
        "d"
    } else if ft.is_symlink() {
        "l"
    } else if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        "p"
    }
}

fn unchanged(prev: &ManifestEntry, found: &Found) -> bool {
    let md = &found.md;
    let size = if md.is_file() && found.hardlink_to.is_none() {
        md.size()
    } else {
        0
    };
    prev.same_stat(
        nanos(md.mtime(), md.mtime_nsec()),
        nanos(md.ctime(), md.ctime_nsec()),
        md.ino(),
        size,
        type_code(found),
    )
}

fn entry_for(found: &Found, size: u64, hash: Option<String>) -> ManifestEntry {
    let md = &found.md;
    ManifestEntry {
        p: manifest::escape_path(&found.name),
        t: type_code(found).into(),
        s: size,
        h: hash,
        m: nanos(md.mtime(), md.mtime_nsec()),
        c: nanos(md.ctime(), md.ctime_nsec()),
        i: md.ino(),
        a: true,
    }
}

/// Opens a file for reading without updating its atime when allowed.
fn open_noatime(path: &Path) -> std::io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    match rustix::fs::open(path, flags | OFlags::NOATIME, Mode::empty()) {
        Ok(fd) => Ok(File::from(fd)),
        Err(rustix::io::Errno::PERM) => {
            Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Turns one entry into tar bytes on `job.tx`, ending with `Done` or `Skipped`.
fn process(job: Job, names: &Names) {
    let Job { found, slot } = job;
    let _closer = SendCloser(&*slot);
    let tx = &*slot;
    let real: PathBuf = found.real.clone();
    let skip = |msg: String| {
        let _ = tx.push(Piece::Skipped(msg));
    };
    let link_target = if found.md.file_type().is_symlink() {
        match std::fs::read_link(&real) {
            Ok(t) => Some(std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str()).to_vec()),
            Err(e) => return skip(format!("cannot read symlink {}: {e}", real.display())),
        }
    } else {
        None
    };
    let Some(mut h) = meta::header_from_metadata(found.name.clone(), &found.md, link_target, names)
    else {
        return skip(format!("skipping socket {}", real.display()));
    };
    if let Some(target) = &found.hardlink_to {
        h.kind = Kind::HardLink(target.clone());
        h.size = 0;
    }
    match meta::read_xattrs(&real) {
        Ok(x) => h.xattrs = x,
        Err(e) => {
            let _ = tx.push(Piece::Warning(format!(
                "cannot read extended attributes of {}: {e}",
                real.display()
            )));
        }
    }
    if h.kind != Kind::File {
        let _ = tx.push(Piece::Bytes(h.encode()));
        let _ = tx.push(Piece::Done(Box::new(entry_for(&found, 0, None))));
        return;
    }
    let mut file = match open_noatime(&real) {
        Ok(f) => f,
        Err(e) => {
            return skip(format!(
                "cannot open {}: {e}; not backed up",
                real.display()
            ));
        }
    };
    match meta::sparse_map(&file, &found.md) {
        Ok(map) => h.sparse = map,
        Err(e) => {
            let _ = tx.push(Piece::Warning(format!(
                "cannot map holes of {}: {e}",
                real.display()
            )));
        }
    }
    let mut hasher = blake3::Hasher::new();
    let mut buf = h.encode();
    let stored = h.stored_size();
    let segments: Vec<(u64, u64)> = match &h.sparse {
        Some(map) => {
            let m = tar::sparse_map_block(map);
            hasher.update(&m);
            buf.extend_from_slice(&m);
            map.clone()
        }
        None => vec![(0, h.size)],
    };
    let mut short = 0u64;
    for (offset, len) in segments {
        if len == 0 {
            continue;
        }
        if h.sparse.is_some() {
            use std::io::Seek;
            if let Err(e) = file.seek(std::io::SeekFrom::Start(offset)) {
                let _ = tx.push(Piece::Warning(format!(
                    "seeking in {}: {e}",
                    real.display()
                )));
            }
        }
        let mut left = len;
        while left > 0 {
            if buf.len() >= CHUNK {
                if tx.push(Piece::Bytes(std::mem::take(&mut buf))).is_err() {
                    return;
                }
                buf.reserve(CHUNK);
            }
            let room = (CHUNK - buf.len())
                .min(usize::try_from(left).unwrap_or(CHUNK))
                .max(1);
            let start = buf.len();
            buf.resize(start + room, 0);
            let got = if short > 0 {
                0
            } else {
                match file.read(&mut buf[start..]) {
                    Ok(g) => g,
                    Err(e) => {
                        let _ = tx.push(Piece::Warning(format!("reading {}: {e}", real.display())));
                        0
                    }
                }
            };
            if got == 0 {
                // the file shrank while we read it: pad with zeros, as GNU tar does
                short += left;
                buf.truncate(start);
                let pad = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
                buf.resize(start + pad, 0);
                hasher.update(&buf[start..]);
                left -= pad as u64;
                continue;
            }
            buf.truncate(start + got);
            hasher.update(&buf[start..]);
            left -= got as u64;
        }
    }
    if short > 0 {
        let _ = tx.push(Piece::Warning(format!(
            "{} shrank by {short} bytes while being read; padded with zeros",
            real.display()
        )));
    }
    buf.extend_from_slice(tar::padding(stored));
    let _ = tx.push(Piece::Bytes(buf));
    let hash = hasher.finalize().to_hex().to_string();
    let _ = tx.push(Piece::Done(Box::new(entry_for(&found, h.size, Some(hash)))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fullbackupday_names() {
        use time::Weekday::{Monday, Sunday, Tuesday};
        assert!(weekday_matches("Mon", Monday));
        assert!(weekday_matches("monday", Monday));
        assert!(weekday_matches("1", Monday));
        assert!(weekday_matches("0", Sunday) && weekday_matches("7", Sunday));
        assert!(!weekday_matches("Mon", Tuesday));
        assert!(!weekday_matches("M", Monday), "too short to be a day name");
    }

    #[test]
    fn fullbackupday_today_forces_a_full_backup_once() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f"), "x").unwrap();
        let mut opts = BackupOptions::new(dir.path().join("t"), "h", select::Selection::tree(&src));
        opts.backup_type = BackupType::Incremental;
        opts.keep_chains = None;
        let today = time::OffsetDateTime::now_utc().weekday().to_string();
        opts.full_backup_days = vec![today[..3].to_string()];
        let quiet = |_: &Progress| {};
        assert_eq!(create_backup(&opts, &quiet).unwrap().kind, BackupKind::Full);
        // the full backup of today is there: the next run is incremental again
        assert_eq!(
            create_backup(&opts, &quiet).unwrap().kind,
            BackupKind::Incremental
        );
        // an old full backup (renamed to an earlier day) does not count for today
        let host = dir.path().join("t/h");
        for s in store::list(&host).unwrap() {
            for p in [&s.archive, &s.manifest] {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                std::fs::rename(p, host.join(name.replacen("20", "19", 1))).unwrap();
            }
        }
        assert_eq!(create_backup(&opts, &quiet).unwrap().kind, BackupKind::Full);
    }
}
