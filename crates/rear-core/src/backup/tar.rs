//! The tar format as GNU tar writes it with `--format=posix` (PAX), and a reader for it.
//!
//! Every entry is a ustar header, preceded by a PAX extended header (`x`) that carries what the
//! ustar fields cannot: nanosecond `mtime`, `atime` and `ctime` (GNU tar's posix format always
//! stores these), long `path` and `linkpath`, large `uid`/`gid`/`size`, `uname`/`gname`, extended
//! attributes as `SCHILY.xattr.<name>` (this is also how POSIX ACLs, SELinux labels and file
//! capabilities travel: `system.posix_acl_*`, `security.selinux`, `security.capability`), and
//! sparse files in the GNU PAX sparse format 1.0 (`GNU.sparse.major=1`, map at the start of the
//! data). `tar --xattrs --acls --xattrs-include='*' -xpf` restores all of it.
//!
//! The reader understands what the writer produces plus GNU long names (`L`/`K`), so archives
//! from GNU tar in either format can be listed too. It never follows paths outside the archive:
//! the caller checks paths before using them.

use std::io::{self, Read, Write};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// What kind of entry a tar member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file with data.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to the target (raw bytes).
    Symlink(Vec<u8>),
    /// A hard link to an earlier member (its archive path).
    HardLink(Vec<u8>),
    /// A character device (major, minor).
    Char(u32, u32),
    /// A block device (major, minor).
    Block(u32, u32),
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// One-letter type code used in manifests.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::File => "f",
            Kind::Dir => "d",
            Kind::Symlink(_) => "l",
            Kind::HardLink(_) => "h",
            Kind::Char(..) => "c",
            Kind::Block(..) => "b",
            Kind::Fifo => "p",
        }
    }
}

/// A point in time with nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// Seconds since the epoch (may be negative).
    pub sec: i64,
    /// Nanoseconds, 0..1e9.
    pub nsec: u32,
}

impl Time {
    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i128 {
        i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec)
    }

    fn pax(self) -> String {
        if self.sec < 0 && self.nsec > 0 {
            // -1.25 s is sec=-2, nsec=750000000
            let whole = -(self.sec + 1);
            format!("-{whole}.{:09}", 1_000_000_000 - self.nsec)
        } else {
            format!("{}.{:09}", self.sec, self.nsec)
        }
    }

    fn parse_pax(s: &str) -> Option<Time> {
        let (neg, body) = s.strip_prefix('-').map_or((false, s), |b| (true, b));
        let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
        let whole: i64 = whole.parse().ok()?;
        let mut digits: String = frac.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        let nsec: u32 = digits.parse().ok()?;
        Some(if !neg {
            Time { sec: whole, nsec }
        } else if nsec == 0 {
            Time {
                sec: -whole,
                nsec: 0,
            }
        } else {
            Time {
                sec: -whole - 1,
                nsec: 1_000_000_000 - nsec,
            }
        })
    }
}

/// Everything the archive records about one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Path relative to the archive root, without a leading `/` and without a trailing `/`.
    pub path: Vec<u8>,
    /// The member type.
    pub kind: Kind,
    /// Permission bits including set-uid, set-gid and sticky (0o7777).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Owner name, when known.
    pub uname: Option<String>,
    /// Group name, when known.
    pub gname: Option<String>,
    /// Modification time.
    pub mtime: Time,
    /// Access time.
    pub atime: Option<Time>,
    /// Status change time.
    pub ctime: Option<Time>,
    /// Size of the file contents (the real size for sparse files); 0 for other kinds.
    pub size: u64,
    /// Extended attributes (name, value), in the order read.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Data segments (offset, length) of a sparse file; `None` for a dense file.
    pub sparse: Option<Vec<(u64, u64)>>,
}

impl Header {
    /// A header with defaults for `path` and `kind`.
    pub fn new(path: impl Into<Vec<u8>>, kind: Kind) -> Self {
        Header {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            uname: None,
            gname: None,
            mtime: Time::default(),
            atime: None,
            ctime: None,
            size: 0,
            xattrs: Vec::new(),
            sparse: None,
        }
    }

    /// The number of data bytes that follow the header in the archive (before padding).
    pub fn stored_size(&self) -> u64 {
        match (&self.kind, &self.sparse) {
            (Kind::File, Some(map)) => {
                let map_len = sparse_map_text(map).len() as u64;
                padded(map_len) + map.iter().map(|(_, l)| l).sum::<u64>()
            }
            (Kind::File, None) => self.size,
            _ => 0,
        }
    }

    /// Encodes the PAX header (if any) and the ustar header. The member's data (for sparse files:
    /// starting with the map from [`sparse_map_block`]) and then [`padding`] must follow.
    pub fn encode(&self) -> Vec<u8> {
        let mut records = Vec::new();
        let mut name = self.path.clone();
        if matches!(self.kind, Kind::Dir) && !name.is_empty() {
            name.push(b'/');
        }
        if name.is_empty() {
            name = b"./".to_vec();
        }
        let stored = self.stored_size();
        let is_sparse = matches!(self.kind, Kind::File) && self.sparse.is_some();
        // ustar name: the last 99 bytes (GNU tar truncates too; the PAX record is the truth).
        let header_name: Vec<u8> = if is_sparse {
            pax_record(&mut records, "GNU.sparse.major", b"1");
            pax_record(&mut records, "GNU.sparse.minor", b"0");
            pax_record(&mut records, "GNU.sparse.name", &self.path);
            pax_record(
                &mut records,
                "GNU.sparse.realsize",
                self.size.to_string().as_bytes(),
            );
            let (dir, base) = split_dir_base(&self.path);
            let mut n = dir.to_vec();
            if !n.is_empty() {
                n.push(b'/');
            }
            n.extend_from_slice(b"GNUSparseFile.0/");
            n.extend_from_slice(base);
            truncate_tail(&n, 99)
        } else if name.len() > 100 || name.contains(&0) {
            pax_record(&mut records, "path", &name);
            truncate_tail(&name, 99)
        } else {
            name.clone()
        };
        let link: &[u8] = match &self.kind {
            Kind::Symlink(t) | Kind::HardLink(t) => t,
            _ => b"",
        };
        if link.len() > 100 {
            pax_record(&mut records, "linkpath", link);
        }
        pax_record(&mut records, "mtime", self.mtime.pax().as_bytes());
        if let Some(t) = self.atime {
            pax_record(&mut records, "atime", t.pax().as_bytes());
        }
        if let Some(t) = self.ctime {
            pax_record(&mut records, "ctime", t.pax().as_bytes());
        }
        if self.uid > 0o7777777 {
            pax_record(&mut records, "uid", self.uid.to_string().as_bytes());
        }
        if self.gid > 0o7777777 {
            pax_record(&mut records, "gid", self.gid.to_string().as_bytes());
        }
        if let Some(u) = &self.uname
            && u.len() > 31
        {
            pax_record(&mut records, "uname", u.as_bytes());
        }
        if let Some(g) = &self.gname
            && g.len() > 31
        {
            pax_record(&mut records, "gname", g.as_bytes());
        }
        if stored > 0o77777777777 {
            pax_record(&mut records, "size", stored.to_string().as_bytes());
        }
        for (k, v) in &self.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k);
            pax_record_bytes(&mut records, &key, v);
            // GNU tar's --acls restores ACLs only from its own text records, not from the
            // system.posix_acl_* xattrs, so write those too.
            let acl_key = match k.as_slice() {
                b"system.posix_acl_access" => Some("SCHILY.acl.access"),
                b"system.posix_acl_default" => Some("SCHILY.acl.default"),
                _ => None,
            };
            if let Some(acl_key) = acl_key
                && let Some(text) = acl_to_text(v)
            {
                pax_record(&mut records, acl_key, text.as_bytes());
            }
        }

        let mut out = Vec::with_capacity(3 * BLOCK + records.len());
        if !records.is_empty() {
            let (dir, base) = split_dir_base(&self.path);
            let mut pax_name = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            pax_name.extend_from_slice(b"/PaxHeaders/");
            pax_name.extend_from_slice(base);
            let mut h = ustar_block(&truncate_tail(&pax_name, 99), b'x', records.len() as u64);
            set_octal(&mut h[100..108], 0o644);
            set_octal(
                &mut h[136..148],
                u64::try_from(self.mtime.sec.max(0)).unwrap_or(0),
            );
            finish_checksum(&mut h);
            out.extend_from_slice(&h);
            out.extend_from_slice(&records);
            out.resize(out.len() + pad_len(records.len() as u64), 0);
        }

        let typeflag = match self.kind {
            Kind::File => b'0',
            Kind::HardLink(_) => b'1',
            Kind::Symlink(_) => b'2',
            Kind::Char(..) => b'3',
            Kind::Block(..) => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        };
        let mut h = ustar_block(&header_name, typeflag, stored.min(0o77777777777));
        set_octal(&mut h[100..108], u64::from(self.mode & 0o7777));
        set_octal(&mut h[108..116], u64::from(self.uid.min(0o7777777)));
        set_octal(&mut h[116..124], u64::from(self.gid.min(0o7777777)));
        set_octal(
            &mut h[136..148],
            u64::try_from(self.mtime.sec)
                .unwrap_or(0)
                .min(0o77777777777),
        );
        let l = link.len().min(100);
        h[157..157 + l].copy_from_slice(&link[..l]);
        if let Some(u) = &self.uname {
            let b = u.as_bytes();
            let l = b.len().min(31);
            h[265..265 + l].copy_from_slice(&b[..l]);
        }
        if let Some(g) = &self.gname {
            let b = g.as_bytes();
            let l = b.len().min(31);
            h[297..297 + l].copy_from_slice(&b[..l]);
        }
        if let Kind::Char(ma, mi) | Kind::Block(ma, mi) = self.kind {
            set_octal(&mut h[329..337], u64::from(ma));
            set_octal(&mut h[337..345], u64::from(mi));
        }
        finish_checksum(&mut h);
        out.extend_from_slice(&h);
        out
    }
}

/// The text of the GNU sparse 1.0 map for `map`, before padding.
fn sparse_map_text(map: &[(u64, u64)]) -> Vec<u8> {
    let mut s = format!("{}\n", map.len());
    for (o, l) in map {
        s.push_str(&format!("{o}\n{l}\n"));
    }
    s.into_bytes()
}

/// The sparse map that starts the data of a sparse member, padded to a block.
pub fn sparse_map_block(map: &[(u64, u64)]) -> Vec<u8> {
    let mut t = sparse_map_text(map);
    let len = t.len() + pad_len(t.len() as u64);
    t.resize(len, 0);
    t
}

/// Zero bytes that pad `len` data bytes to a whole block.
pub fn padding(len: u64) -> &'static [u8] {
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    &ZEROS[..pad_len(len)]
}

/// The two zero blocks that end an archive.
pub const END: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

fn pad_len(len: u64) -> usize {
    let rem = usize::try_from(len % BLOCK as u64).unwrap_or(0);
    if rem == 0 { 0 } else { BLOCK - rem }
}

fn padded(len: u64) -> u64 {
    len + pad_len(len) as u64
}

fn split_dir_base(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn truncate_tail(name: &[u8], max: usize) -> Vec<u8> {
    if name.len() <= max {
        name.to_vec()
    } else {
        name[name.len() - max..]
            .iter()
            .map(|&b| if b == 0 { b'_' } else { b })
            .collect()
    }
}

fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    pax_record_bytes(out, key.as_bytes(), value);
}

fn pax_record_bytes(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    // "<len> <key>=<value>\n" where <len> counts itself.
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn ustar_block(name: &[u8], typeflag: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let l = name.len().min(100);
    h[..l].copy_from_slice(&name[..l]);
    set_octal(&mut h[100..108], 0);
    set_octal(&mut h[108..116], 0);
    set_octal(&mut h[116..124], 0);
    set_octal(&mut h[124..136], size);
    set_octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h
}

fn set_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    let s = s.as_bytes();
    let s = &s[s.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(s);
    field[digits] = 0;
}

fn finish_checksum(h: &mut [u8; BLOCK]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

fn parse_number(field: &[u8]) -> io::Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256: the rest of the bytes big-endian.
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .ok_or_else(|| bad("base-256 number overflows"))?
                | u64::from(b);
        }
        return Ok(v);
    }
    let s: Vec<u8> = field.iter().copied().take_while(|&b| b != 0).collect();
    let s = std::str::from_utf8(&s).map_err(|_| bad("number field is not ASCII"))?;
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| bad(&format!("bad octal number {s:?}")))
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt tar archive: {msg}"),
    )
}

/// Reads members from a tar stream. After [`TarReader::next_header`] returns a header, the
/// member's contents can be read with [`TarReader::read_data`]; whatever is not read is skipped.
pub struct TarReader<R: Read> {
    inner: R,
    /// Bytes of member data (stored size) still to read, and padding after it.
    remaining: u64,
    pad: usize,
}

impl<R: Read> TarReader<R> {
    /// Wraps a decompressed tar stream.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            pad: 0,
        }
    }

    /// Gives back the inner reader (to read what follows the archive, e.g. for checksums).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn skip_rest(&mut self) -> io::Result<()> {
        let n = self.remaining + self.pad as u64;
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied != n {
            return Err(bad("archive ends inside a member"));
        }
        self.remaining = 0;
        self.pad = 0;
        Ok(())
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> io::Result<bool> {
        let mut got = 0;
        while got < BLOCK {
            let n = self.inner.read(&mut block[got..])?;
            if n == 0 {
                if got == 0 {
                    return Ok(false);
                }
                return Err(bad("archive ends inside a header"));
            }
            got += n;
        }
        Ok(true)
    }

    fn read_exact_data(&mut self, len: u64) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        (&mut self.inner).take(len).read_to_end(&mut buf)?;
        if buf.len() as u64 != len {
            return Err(bad("archive ends inside a member"));
        }
        let pad = pad_len(len);
        io::copy(&mut (&mut self.inner).take(pad as u64), &mut io::sink())?;
        Ok(buf)
    }

    /// The next member, or `None` at the end of the archive.
    ///
    /// # Errors
    /// On I/O errors and malformed headers.
    pub fn next_header(&mut self) -> io::Result<Option<Header>> {
        self.skip_rest()?;
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut block = [0u8; BLOCK];
        loop {
            if !self.read_block(&mut block)? {
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            let stored: u64 = block[148..156].iter().map(|&b| u64::from(b)).sum::<u64>();
            let want = parse_number(&block[148..156])?;
            let mut sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
            sum = sum - stored + 8 * u64::from(b' ');
            if sum != want {
                return Err(bad("header checksum mismatch"));
            }
            let size = parse_number(&block[124..136])?;
            match block[156] {
                b'x' => {
                    let data = self.read_exact_data(size)?;
                    pax.extend(parse_pax_records(&data)?);
                    continue;
                }
                b'g' => {
                    self.read_exact_data(size)?;
                    continue;
                }
                b'L' => {
                    long_name = Some(cstr(&self.read_exact_data(size)?).to_vec());
                    continue;
                }
                b'K' => {
                    long_link = Some(cstr(&self.read_exact_data(size)?).to_vec());
                    continue;
                }
                _ => {}
            }
            let mut size = size;
            let is_ustar = &block[257..262] == b"ustar";
            let mut path = cstr(&block[..100]).to_vec();
            if is_ustar && block[345] != 0 && &block[257..263] == b"ustar\0" {
                let mut p = cstr(&block[345..500]).to_vec();
                p.push(b'/');
                p.extend_from_slice(&path);
                path = p;
            }
            let mut link = cstr(&block[157..257]).to_vec();
            let uname = String::from_utf8(cstr(&block[265..297]).to_vec()).ok();
            let gname = String::from_utf8(cstr(&block[297..329]).to_vec()).ok();
            let mode = parse_number(&block[100..108])?;
            let mut uid = parse_number(&block[108..116])?;
            let mut gid = parse_number(&block[116..124])?;
            let mtime_s = parse_number(&block[136..148])?;
            let major = parse_number(&block[329..337])?;
            let minor = parse_number(&block[337..345])?;
            if let Some(n) = long_name {
                path = n;
            }
            if let Some(l) = long_link {
                link = l;
            }
            let mut h = Header::new(Vec::new(), Kind::File);
            h.mode = u32::try_from(mode & 0o7777).unwrap_or(0o644);
            h.mtime = Time {
                sec: i64::try_from(mtime_s).unwrap_or(0),
                nsec: 0,
            };
            h.uname = uname.filter(|s| !s.is_empty());
            h.gname = gname.filter(|s| !s.is_empty());
            let mut sparse_major = None;
            let mut sparse_name = None;
            let mut realsize = None;
            let mut acl_texts: Vec<(&str, String)> = Vec::new();
            for (k, v) in pax {
                let vs = || String::from_utf8_lossy(&v).into_owned();
                match k.as_slice() {
                    b"path" => path = v,
                    b"linkpath" => link = v,
                    b"mtime" => h.mtime = Time::parse_pax(&vs()).ok_or_else(|| bad("bad mtime"))?,
                    b"atime" => h.atime = Time::parse_pax(&vs()),
                    b"ctime" => h.ctime = Time::parse_pax(&vs()),
                    b"uid" => uid = vs().parse().map_err(|_| bad("bad uid"))?,
                    b"gid" => gid = vs().parse().map_err(|_| bad("bad gid"))?,
                    b"uname" => h.uname = Some(vs()),
                    b"gname" => h.gname = Some(vs()),
                    b"size" => size = vs().parse().map_err(|_| bad("bad size"))?,
                    b"GNU.sparse.major" => sparse_major = Some(vs()),
                    b"SCHILY.acl.access" => acl_texts.push(("system.posix_acl_access", vs())),
                    b"SCHILY.acl.default" => acl_texts.push(("system.posix_acl_default", vs())),
                    b"GNU.sparse.name" => sparse_name = Some(v),
                    b"GNU.sparse.realsize" => {
                        realsize = Some(vs().parse::<u64>().map_err(|_| bad("bad realsize"))?);
                    }
                    _ => {
                        if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                            h.xattrs.push((name.to_vec(), v));
                        }
                    }
                }
            }
            for (name, text) in acl_texts {
                if !h.xattrs.iter().any(|(k, _)| k == name.as_bytes())
                    && let Some(bin) = acl_from_text(&text)
                {
                    h.xattrs.push((name.as_bytes().to_vec(), bin));
                }
            }
            h.uid = u32::try_from(uid).map_err(|_| bad("uid out of range"))?;
            h.gid = u32::try_from(gid).map_err(|_| bad("gid out of range"))?;
            let major = u32::try_from(major).unwrap_or(0);
            let minor = u32::try_from(minor).unwrap_or(0);
            h.kind = match block[156] {
                b'0' | 0 | b'7' => Kind::File,
                b'1' => Kind::HardLink(link),
                b'2' => Kind::Symlink(link),
                b'3' => Kind::Char(major, minor),
                b'4' => Kind::Block(major, minor),
                b'5' => Kind::Dir,
                b'6' => Kind::Fifo,
                t => return Err(bad(&format!("unsupported member type {:?}", t as char))),
            };
            while path.last() == Some(&b'/') {
                path.pop();
            }
            while path.starts_with(b"./") {
                path.drain(..2);
            }
            if path == b"." {
                path.clear();
            }
            h.path = path;
            self.remaining = size;
            self.pad = pad_len(size);
            if h.kind == Kind::File {
                if sparse_major.as_deref() == Some("1") {
                    if let Some(n) = sparse_name {
                        h.path = n;
                    }
                    let map = self.read_sparse_map()?;
                    h.size = realsize.ok_or_else(|| bad("sparse member without realsize"))?;
                    h.sparse = Some(map);
                } else {
                    h.size = size;
                }
            } else {
                h.size = 0;
            }
            return Ok(Some(h));
        }
    }

    fn read_sparse_map(&mut self) -> io::Result<Vec<(u64, u64)>> {
        // Decimal numbers, one per line, in whole blocks at the start of the data.
        let mut text = Vec::new();
        let numbers: Vec<u64>;
        let mut want: Option<u64> = None;
        loop {
            if self.remaining < BLOCK as u64 {
                return Err(bad("sparse map runs past the member"));
            }
            let mut block = [0u8; BLOCK];
            self.inner.read_exact(&mut block)?;
            self.remaining -= BLOCK as u64;
            text.extend_from_slice(&block);
            let mut parsed = Vec::new();
            let mut complete = false;
            for line in text.split(|&b| b == b'\n') {
                if parsed.len() as u64 == want.map_or(1, |n| 1 + 2 * n) {
                    complete = true;
                    break;
                }
                // a line that does not end in this buffer is incomplete
                let Ok(s) = std::str::from_utf8(line) else {
                    break;
                };
                let Ok(n) = s.parse::<u64>() else { break };
                parsed.push(n);
                if parsed.len() == 1 {
                    want = Some(n);
                }
            }
            if complete || want.is_some_and(|n| parsed.len() as u64 == 1 + 2 * n) {
                numbers = parsed;
                break;
            }
            if text.len() > 64 * 1024 * 1024 {
                return Err(bad("sparse map too large"));
            }
        }
        let n = usize::try_from(numbers[0]).map_err(|_| bad("sparse map too large"))?;
        Ok((0..n)
            .map(|i| (numbers[1 + 2 * i], numbers[2 + 2 * i]))
            .collect())
    }

    /// Reads the current member's stored data into `buf` (for sparse members: the data segments
    /// of the map, concatenated). Returns 0 at the end of the member.
    ///
    /// # Errors
    /// On I/O errors or an archive that ends early.
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(bad("archive ends inside a member"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl<R: io::BufRead> TarReader<R> {
    /// The next piece of the current member's stored data, borrowed from the reader's buffer
    /// (no copy); empty at the end of the member. Pass the number of bytes used to
    /// [`TarReader::consume_data`] before asking again.
    ///
    /// # Errors
    /// On I/O errors or an archive that ends inside the member.
    pub fn data_piece(&mut self) -> io::Result<&[u8]> {
        if self.remaining == 0 {
            return Ok(&[]);
        }
        let left = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            return Err(bad("archive ends inside a member"));
        }
        Ok(&buf[..buf.len().min(left)])
    }

    /// Marks `n` bytes of the piece [`TarReader::data_piece`] gave as used.
    pub fn consume_data(&mut self, n: usize) {
        let n = n.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.inner.consume(n);
        self.remaining -= n as u64;
    }
}

fn parse_pax_records(mut data: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let sp = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("bad PAX record"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad PAX record length"))?;
        if len > data.len() || len <= sp + 1 {
            return Err(bad("PAX record runs past its header"));
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("PAX record without '='"))?;
        out.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;

/// The POSIX ACL in Linux xattr form (`system.posix_acl_*`: version 2, then tag/perm/id
/// entries) as text with numeric ids, the form `acl_from_text` (and so GNU tar) reads.
pub fn acl_to_text(bin: &[u8]) -> Option<String> {
    if bin.len() < 4 || !(bin.len() - 4).is_multiple_of(8) || bin[..4] != 2u32.to_le_bytes() {
        return None;
    }
    let mut parts = Vec::new();
    for e in bin[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([e[0], e[1]]);
        let perm = u16::from_le_bytes([e[2], e[3]]);
        let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
        let head = match tag {
            ACL_USER_OBJ => "user::".to_string(),
            ACL_USER => format!("user:{id}:"),
            ACL_GROUP_OBJ => "group::".to_string(),
            ACL_GROUP => format!("group:{id}:"),
            ACL_MASK => "mask::".to_string(),
            ACL_OTHER => "other::".to_string(),
            _ => return None,
        };
        let p = |bit: u16, c: char| if perm & bit != 0 { c } else { '-' };
        parts.push(format!("{head}{}{}{}", p(4, 'r'), p(2, 'w'), p(1, 'x')));
    }
    Some(parts.join(","))
}

/// Parses ACL text with numeric ids (as [`acl_to_text`] writes and GNU tar stores) back into
/// the Linux xattr form. Named users or groups are not resolved: `None`.
pub fn acl_from_text(text: &str) -> Option<Vec<u8>> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for entry in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let entry = entry.split('#').next()?.trim();
        let f: Vec<&str> = entry.split(':').collect();
        if f.len() != 3 {
            return None;
        }
        let (tag, id) = match (f[0], f[1]) {
            ("user" | "u", "") => (ACL_USER_OBJ, u32::MAX),
            ("user" | "u", id) => (ACL_USER, id.parse().ok()?),
            ("group" | "g", "") => (ACL_GROUP_OBJ, u32::MAX),
            ("group" | "g", id) => (ACL_GROUP, id.parse().ok()?),
            ("mask" | "m", _) => (ACL_MASK, u32::MAX),
            ("other" | "o", _) => (ACL_OTHER, u32::MAX),
            _ => return None,
        };
        let mut perm = 0u16;
        for c in f[2].chars() {
            perm |= match c {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                '-' => 0,
                _ => return None,
            };
        }
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

/// Writes a whole member (header, data, padding) for small in-memory contents; used by tests
/// and for members without data.
pub fn write_member(out: &mut impl Write, header: &Header, data: &[u8]) -> io::Result<()> {
    out.write_all(&header.encode())?;
    out.write_all(data)?;
    out.write_all(padding(data.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut v = Vec::new();
        pax_record(&mut v, "path", b"a");
        assert_eq!(v, b"9 path=a\n");
        let mut v = Vec::new();
        pax_record(&mut v, "k", &[b'x'; 94]);
        // 98 bytes of body: two length digits would make 100, which needs three: 101
        assert_eq!(v.len(), 101);
        assert!(v.starts_with(b"101 k="));
    }

    #[test]
    fn acl_text_round_trip() {
        // user::rw-,user:1234:rw-,group::r--,group:5678:r--,mask::rw-,other::r--
        let mut bin = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (1u16, 6u16, u32::MAX),
            (2, 6, 1234),
            (4, 4, u32::MAX),
            (8, 4, 5678),
            (16, 6, u32::MAX),
            (32, 4, u32::MAX),
        ] {
            bin.extend_from_slice(&tag.to_le_bytes());
            bin.extend_from_slice(&perm.to_le_bytes());
            bin.extend_from_slice(&id.to_le_bytes());
        }
        let text = acl_to_text(&bin).unwrap();
        assert_eq!(
            text,
            "user::rw-,user:1234:rw-,group::r--,group:5678:r--,mask::rw-,other::r--"
        );
        assert_eq!(acl_from_text(&text), Some(bin));
        assert_eq!(acl_from_text("user:bob:rw-"), None);
    }

    #[test]
    fn times_round_trip_including_negative() {
        for t in [
            Time { sec: 0, nsec: 0 },
            Time {
                sec: 1_700_000_000,
                nsec: 123_456_789,
            },
            Time {
                sec: -2,
                nsec: 750_000_000,
            },
            Time { sec: -5, nsec: 0 },
        ] {
            assert_eq!(Time::parse_pax(&t.pax()), Some(t), "{}", t.pax());
        }
        assert_eq!(
            Time {
                sec: -2,
                nsec: 750_000_000
            }
            .pax(),
            "-1.250000000"
        );
    }

    #[test]
    fn members_round_trip_through_reader() {
        let long = "d/".repeat(80) + "file";
        let mut file = Header::new(long.as_bytes(), Kind::File);
        file.size = 5;
        file.uid = 5_000_000;
        file.uname = Some("u".repeat(40));
        file.mtime = Time {
            sec: 1_700_000_000,
            nsec: 5,
        };
        file.atime = Some(Time { sec: 1, nsec: 2 });
        file.xattrs = vec![(b"user.k".to_vec(), vec![0, 1, 2, b'\n'])];
        let mut sparse = Header::new("s", Kind::File);
        sparse.size = 1 << 20;
        sparse.sparse = Some(vec![(4096, 3), (1 << 20, 0)]);
        let link = Header::new("l", Kind::Symlink(long.clone().into_bytes()));
        let dev = Header::new("dev/null", Kind::Char(1, 3));
        let mut buf = Vec::new();
        write_member(&mut buf, &file, b"hello").unwrap();
        let mut data = sparse_map_block(sparse.sparse.as_ref().unwrap());
        data.extend_from_slice(b"abc");
        write_member(&mut buf, &sparse, &data).unwrap();
        write_member(&mut buf, &link, b"").unwrap();
        write_member(&mut buf, &dev, b"").unwrap();
        buf.extend_from_slice(&END);
        let mut r = TarReader::new(&buf[..]);
        let got = r.next_header().unwrap().unwrap();
        assert_eq!(got.path, file.path);
        assert_eq!(got.uid, 5_000_000);
        assert_eq!(got.uname, file.uname);
        assert_eq!(got.mtime, file.mtime);
        assert_eq!(got.atime, file.atime);
        assert_eq!(got.xattrs, file.xattrs);
        let mut d = [0u8; 16];
        assert_eq!(r.read_data(&mut d).unwrap(), 5);
        let got = r.next_header().unwrap().unwrap();
        assert_eq!(got.path, b"s");
        assert_eq!(got.size, 1 << 20);
        assert_eq!(got.sparse, sparse.sparse);
        assert_eq!(r.read_data(&mut d).unwrap(), 3);
        assert_eq!(&d[..3], b"abc");
        assert_eq!(r.next_header().unwrap().unwrap().kind, link.kind);
        assert_eq!(r.next_header().unwrap().unwrap().kind, Kind::Char(1, 3));
        assert!(r.next_header().unwrap().is_none());
    }
}
