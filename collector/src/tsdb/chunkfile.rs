//! Closed raw chunks in append-only files ([`ChunkFiles`]), Prometheus/Loki style: a closed
//! Gorilla chunk never changes, so it is written once to a file instead of to sled, whose
//! log-structured files take several times the bytes they hold. sled keeps the index, the
//! open chunk (rewritten at every flush) and the committed length of every chunk file.
//!
//! **Layout.** `<store dir>/chunks/<slice start ms>.chk`: one file per UTC-aligned time slice
//! of [`SLICE_MS`] holding the chunks whose *first* timestamp is in the slice (a chunk spans
//! less than [`CHUNK_MAX_SPAN_MS`], so a file holds samples in `[S, S + SLICE_MS +
//! CHUNK_MAX_SPAN_MS)`). A file starts with [`CHUNK_FILE_MAGIC`] and a little-endian u32
//! format version ([`CHUNK_FILE_VERSION`]); then records: body length u32, crc32 u32 (of the
//! length, series and first timestamp fields and the body), series id u64, first timestamp
//! i64 (all little-endian, [`RECORD_HEADER_LEN`] bytes), then the chunk's bytes.
//!
//! **Commit protocol** (see `TsdbStore::flush`): records are written at the file's committed
//! length and fsynced (the directory too when a file is created), *then* the sled batch that
//! records each touched file's new committed length under [`meta_key`] (with the applied LSN)
//! is written and flushed. At open, every file is truncated to its committed length (bytes of
//! an append sled never committed are discarded: WAL replay from the applied LSN cuts the same
//! chunks again, deterministically) and a file without a committed length is deleted.
//!
//! **Memory.** Every chunk's place is kept in memory: per series a sorted vector of 16-byte
//! entries (first timestamp; file offset and body length packed in a u64). At 15 s scrapes a
//! chunk is 120 samples (30 min): 48 chunks a day, 96 over the default 2-day raw retention and
//! up to 16 more in files that wait until their whole slice has expired: about 1.8 KiB per
//! series (vector slack and the map entry on top), about 180 MB for 100,000 series. Opening
//! the store reads every chunk file once to verify the records and rebuild this directory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::gorilla::decode_chunk;
use super::head::CHUNK_MAX_SPAN_MS;
use super::kv::{get_i64, get_u64, put_i64, put_u64};
use super::TsdbError;

/// Time slice of one chunk file (by the chunks' first timestamps), UTC-aligned.
pub const SLICE_MS: i64 = 6 * 3_600_000;
/// The first bytes of every chunk file.
pub const CHUNK_FILE_MAGIC: &[u8; 8] = b"PHXCHUNK";
/// The chunk file format this build reads and writes.
pub const CHUNK_FILE_VERSION: u32 = 1;
/// Magic and version.
pub const FILE_HEADER_LEN: u64 = 12;
/// Length, crc, series id, first timestamp.
pub const RECORD_HEADER_LEN: usize = 24;
/// The chunk files' directory under the store directory.
pub const CHUNKS_DIR: &str = "chunks";
/// Prefix of the `Tree::Meta` keys holding each file's committed length.
pub const META_PREFIX: &[u8] = b"chunkfile/";

const EXT: &str = ".chk";
/// Bits of a file offset in a directory entry (files up to 1 TiB) ...
const OFFSET_BITS: u32 = 40;
/// ... and the largest body length the rest holds (a chunk of 120 samples is < 4 KiB).
pub const MAX_CHUNK_BYTES: u32 = (1 << (64 - OFFSET_BITS)) - 1;

/// The start of the slice holding chunks that start at `ts`.
pub fn slice_of(ts: i64) -> i64 {
    ts.saturating_sub(ts.rem_euclid(SLICE_MS))
}

/// Whether everything a slice file can hold is older than `cut`.
pub fn slice_expired(slice: i64, cut: i64) -> bool {
    slice
        .saturating_add(SLICE_MS)
        .saturating_add(CHUNK_MAX_SPAN_MS)
        <= cut
}

/// The `Tree::Meta` key of a slice file's committed length.
pub fn meta_key(slice: i64) -> Vec<u8> {
    let mut k = META_PREFIX.to_vec();
    put_i64(&mut k, slice);
    k
}

/// The slice of a [`meta_key`] and the committed length of its value.
pub fn parse_meta(key: &[u8], value: &[u8]) -> Result<(i64, u64), TsdbError> {
    let rest = key
        .strip_prefix(META_PREFIX)
        .filter(|r| r.len() == 8)
        .ok_or_else(|| TsdbError::Corrupt(format!("bad chunk file meta key {key:?}")))?;
    Ok((get_i64(rest, 0)?, get_u64(value, 0)?))
}

fn file_name(slice: i64) -> String {
    format!("{slice}{EXT}")
}

/// The slice of a chunk file name (only the canonical spelling).
fn parse_file_name(name: &str) -> Option<i64> {
    let slice: i64 = name.strip_suffix(EXT)?.parse().ok()?;
    (file_name(slice) == name).then_some(slice)
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> TsdbError {
    TsdbError::Storage(format!("{}: {what}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), TsdbError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, "fsync of the directory", e))
}

/// Where one chunk is: its first timestamp (which names its file) and, packed, the offset
/// of its record and the length of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    first_ts: i64,
    packed: u64,
}

impl Loc {
    fn new(first_ts: i64, offset: u64, len: u32) -> Self {
        Loc {
            first_ts,
            packed: offset | (u64::from(len) << OFFSET_BITS),
        }
    }
    fn offset(&self) -> u64 {
        self.packed & ((1 << OFFSET_BITS) - 1)
    }
    fn len(&self) -> usize {
        (self.packed >> OFFSET_BITS) as usize
    }
}

fn crc_of(header: &[u8; RECORD_HEADER_LEN], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[0..4]);
    h.update(&header[8..RECORD_HEADER_LEN]);
    h.update(body);
    h.finalize()
}

fn encode_record(out: &mut Vec<u8>, id: u64, first_ts: i64, body: &[u8]) -> Result<(), TsdbError> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= MAX_CHUNK_BYTES)
        .ok_or_else(|| {
            TsdbError::Storage(format!("a chunk of {} bytes is too large", body.len()))
        })?;
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[8..16].copy_from_slice(&id.to_le_bytes());
    header[16..24].copy_from_slice(&first_ts.to_le_bytes());
    let crc = crc_of(&header, body);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    Ok(())
}

/// A record header's fields: body length, crc, series id, first timestamp.
fn parse_header(h: &[u8; RECORD_HEADER_LEN]) -> (u32, u32, u64, i64) {
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[i..i + 8]);
        u64::from_le_bytes(b)
    };
    (u32_at(0), u32_at(4), u64_at(8), u64_at(16) as i64)
}

/// One record read back from a chunk file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedChunk {
    pub series: u64,
    pub first_ts: i64,
    /// The chunk's encoded bytes.
    pub bytes: Vec<u8>,
    /// Bytes the record takes in its file (header included).
    pub disk_len: u64,
}

/// Reads the records of one file in order, up to `end`.
struct RecordReader {
    path: PathBuf,
    slice: i64,
    reader: BufReader<File>,
    pos: u64,
    end: u64,
}

impl RecordReader {
    /// Checks the file header; `end` is where the records stop (at most the file's length).
    fn open(path: PathBuf, slice: i64, file: File, end: u64) -> Result<Self, TsdbError> {
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let corrupt = |what: &str| {
            TsdbError::Corrupt(format!("chunk file {}: {what}", path.display()))
        };
        if end < FILE_HEADER_LEN {
            return Err(corrupt(&format!(
                "{end} bytes is shorter than the {FILE_HEADER_LEN}-byte file header"
            )));
        }
        let mut header = [0u8; FILE_HEADER_LEN as usize];
        reader
            .read_exact(&mut header)
            .map_err(|e| io_err(&path, "reading the file header", e))?;
        if &header[0..8] != CHUNK_FILE_MAGIC {
            return Err(corrupt("not a Pharos chunk file (bad magic)"));
        }
        let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        if version != CHUNK_FILE_VERSION {
            return Err(corrupt(&format!(
                "chunk file format {version} is not the supported {CHUNK_FILE_VERSION}; use the Pharos version that wrote it"
            )));
        }
        Ok(RecordReader {
            path,
            slice,
            reader,
            pos: FILE_HEADER_LEN,
            end,
        })
    }

    /// The next record and its offset; `None` at `end`.
    fn next_record(&mut self) -> Result<Option<(u64, ScannedChunk)>, TsdbError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let at = self.pos;
        let corrupt = |what: String| {
            TsdbError::Corrupt(format!(
                "chunk file {}: record at offset {at}: {what}",
                self.path.display()
            ))
        };
        if self.end - at < RECORD_HEADER_LEN as u64 {
            return Err(corrupt(format!(
                "torn: {} bytes left before the end at {}",
                self.end - at,
                self.end
            )));
        }
        let mut header = [0u8; RECORD_HEADER_LEN];
        self.reader
            .read_exact(&mut header)
            .map_err(|e| io_err(&self.path, &format!("reading offset {at}"), e))?;
        let (len, crc, series, first_ts) = parse_header(&header);
        let body_at = at + RECORD_HEADER_LEN as u64;
        if len > MAX_CHUNK_BYTES || u64::from(len) > self.end - body_at {
            return Err(corrupt(format!(
                "a body of {len} bytes runs past the end at {}",
                self.end
            )));
        }
        let mut body = vec![0u8; len as usize];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| io_err(&self.path, &format!("reading offset {body_at}"), e))?;
        if crc_of(&header, &body) != crc {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        if slice_of(first_ts) != self.slice {
            return Err(corrupt(format!(
                "a chunk starting at {first_ts} does not belong in slice {}",
                self.slice
            )));
        }
        self.pos = body_at + u64::from(len);
        Ok(Some((
            at,
            ScannedChunk {
                series,
                first_ts,
                bytes: body,
                disk_len: RECORD_HEADER_LEN as u64 + u64::from(len),
            },
        )))
    }
}

/// The chunk files in `dir` by slice (other names are ignored).
fn list(dir: &Path) -> Result<BTreeMap<i64, PathBuf>, TsdbError> {
    let mut out = BTreeMap::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir, "listing", e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| io_err(dir, "listing", e))?;
        if let Some(slice) = entry.file_name().to_str().and_then(parse_file_name) {
            out.insert(slice, entry.path());
        }
    }
    Ok(out)
}

/// Every record of every chunk file in `dir` (a store's `chunks/`), in slice then file
/// order: a read-only view for accounting tools (the store must not be running). Bytes past
/// a file's committed length (an append interrupted by a crash, dropped when the store next
/// opens) are not told apart here.
pub fn scan(dir: &Path) -> Result<Scan, TsdbError> {
    Ok(Scan {
        files: list(dir)?.into_iter().collect::<Vec<_>>().into_iter(),
        current: None,
    })
}

/// The iterator of [`scan`].
pub struct Scan {
    files: std::vec::IntoIter<(i64, PathBuf)>,
    current: Option<RecordReader>,
}

impl Iterator for Scan {
    type Item = Result<ScannedChunk, TsdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = &mut self.current {
                match r.next_record() {
                    Ok(Some((_, c))) => return Some(Ok(c)),
                    Ok(None) => self.current = None,
                    Err(e) => {
                        self.current = None;
                        return Some(Err(e));
                    }
                }
            }
            let (slice, path) = self.files.next()?;
            let opened = File::open(&path)
                .and_then(|f| Ok((f.metadata()?.len(), f)))
                .map_err(|e| io_err(&path, "opening", e))
                .and_then(|(len, f)| RecordReader::open(path, slice, f, len));
            match opened {
                Ok(r) => self.current = Some(r),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

struct SliceFile {
    file: File,
    path: PathBuf,
    /// Bytes committed by sled (the file may hold more only while an append is pending).
    committed: u64,
    /// Records in the committed bytes.
    records: u64,
}

/// Records written and fsynced but not yet committed: what [`ChunkFiles::append`] returns
/// and [`ChunkFiles::commit`] or [`ChunkFiles::abort`] takes.
#[must_use]
pub struct PendingAppend {
    /// Per touched slice: the new committed length, the records added, and the file if it
    /// was created by this append.
    slices: BTreeMap<i64, (u64, u64, Option<(File, PathBuf)>)>,
    locs: Vec<(u64, Loc)>,
}

impl PendingAppend {
    /// The `Tree::Meta` entries that commit this append.
    pub fn meta_entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.slices
            .iter()
            .map(|(slice, (len, _, _))| {
                let mut v = Vec::with_capacity(8);
                put_u64(&mut v, *len);
                (meta_key(*slice), v)
            })
            .collect()
    }

    /// Chunks appended.
    pub fn chunks(&self) -> usize {
        self.locs.len()
    }
}

/// The chunk files of a store and the in-memory directory of every chunk in them.
pub struct ChunkFiles {
    dir: PathBuf,
    files: BTreeMap<i64, SliceFile>,
    series: HashMap<u64, Vec<Loc>>,
}

impl ChunkFiles {
    /// Opens `dir` (created if missing) given each file's committed length (from
    /// `Tree::Meta`): files are truncated to it, files without one are deleted, and the
    /// records are verified to rebuild the directory.
    pub fn open(dir: &Path, committed: &BTreeMap<i64, u64>) -> Result<ChunkFiles, TsdbError> {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "creating", e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let on_disk = list(dir)?;
        let mut removed = false;
        for (slice, path) in &on_disk {
            if !committed.contains_key(slice) {
                // Created by an append that never committed, or dropped by retention.
                std::fs::remove_file(path).map_err(|e| io_err(path, "removing", e))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(dir)?;
        }
        let mut cf = ChunkFiles {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            series: HashMap::new(),
        };
        for (&slice, &len) in committed {
            let path = dir.join(file_name(slice));
            if !on_disk.contains_key(&slice) {
                return Err(TsdbError::Corrupt(format!(
                    "chunk file {} is missing ({len} bytes of it were committed)",
                    path.display()
                )));
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io_err(&path, "opening", e))?;
            let actual = file
                .metadata()
                .map_err(|e| io_err(&path, "reading the length", e))?
                .len();
            if actual < len {
                return Err(TsdbError::Corrupt(format!(
                    "chunk file {} has {actual} bytes, fewer than the {len} committed",
                    path.display()
                )));
            }
            if actual > len {
                // An append that sled never committed: replay cuts the same chunks again.
                file.set_len(len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io_err(&path, "truncating to the committed length", e))?;
            }
            let reader_file = file
                .try_clone()
                .map_err(|e| io_err(&path, "opening", e))?;
            let mut reader = RecordReader::open(path.clone(), slice, reader_file, len)?;
            let mut records = 0;
            while let Some((at, c)) = reader.next_record()? {
                let body = u32::try_from(c.bytes.len()).unwrap_or(MAX_CHUNK_BYTES);
                cf.series
                    .entry(c.series)
                    .or_default()
                    .push(Loc::new(c.first_ts, at, body));
                records += 1;
            }
            cf.files.insert(
                slice,
                SliceFile {
                    file,
                    path,
                    committed: len,
                    records,
                },
            );
        }
        for locs in cf.series.values_mut() {
            // By first timestamp; of equal ones the last written wins (like a kv put).
            locs.sort_by_key(|l| l.first_ts);
            let mut out: Vec<Loc> = Vec::with_capacity(locs.len());
            for l in locs.drain(..) {
                match out.last_mut() {
                    Some(last) if last.first_ts == l.first_ts => *last = l,
                    _ => out.push(l),
                }
            }
            *locs = out;
        }
        Ok(cf)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Committed bytes of every file.
    pub fn disk_bytes(&self) -> u64 {
        self.files.values().map(|f| f.committed).sum()
    }

    /// Records in every file (chunks of removed series included until their file goes).
    pub fn records(&self) -> u64 {
        self.files.values().map(|f| f.records).sum()
    }

    /// Slices with a file.
    pub fn slices(&self) -> Vec<i64> {
        self.files.keys().copied().collect()
    }

    fn locs(&self, id: u64) -> &[Loc] {
        self.series.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The first timestamp of the series' oldest chunk here.
    pub fn first_ts(&self, id: u64) -> Option<i64> {
        self.locs(id).first().map(|l| l.first_ts)
    }

    /// The first timestamp of the series' newest chunk here.
    pub fn newest_first_ts(&self, id: u64) -> Option<i64> {
        self.locs(id).last().map(|l| l.first_ts)
    }

    fn contains(&self, id: u64, first_ts: i64) -> bool {
        self.locs(id)
            .binary_search_by_key(&first_ts, |l| l.first_ts)
            .is_ok()
    }

    fn read_loc(&self, id: u64, loc: Loc) -> Result<Vec<u8>, TsdbError> {
        let slice = slice_of(loc.first_ts);
        let f = self.files.get(&slice).ok_or_else(|| {
            TsdbError::Corrupt(format!("chunk of series {id} in slice {slice} has no file"))
        })?;
        let mut buf = vec![0u8; RECORD_HEADER_LEN + loc.len()];
        f.file
            .read_exact_at(&mut buf, loc.offset())
            .map_err(|e| io_err(&f.path, &format!("reading offset {}", loc.offset()), e))?;
        let mut header = [0u8; RECORD_HEADER_LEN];
        header.copy_from_slice(&buf[..RECORD_HEADER_LEN]);
        let body = buf.split_off(RECORD_HEADER_LEN);
        let (len, crc, series, first_ts) = parse_header(&header);
        if len as usize != body.len()
            || series != id
            || first_ts != loc.first_ts
            || crc_of(&header, &body) != crc
        {
            return Err(TsdbError::Corrupt(format!(
                "chunk file {}: record at offset {} is not the chunk of series {id} at {} it should be",
                f.path.display(),
                loc.offset(),
                loc.first_ts
            )));
        }
        Ok(body)
    }

    /// The bytes of the series' chunk starting at `first_ts`, if there is one.
    pub fn read(&self, id: u64, first_ts: i64) -> Result<Option<Vec<u8>>, TsdbError> {
        let locs = self.locs(id);
        match locs.binary_search_by_key(&first_ts, |l| l.first_ts) {
            Ok(i) => self.read_loc(id, locs[i]).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The series' chunks with first timestamp in `[from, to]`: (first timestamp, bytes).
    pub fn chunks(&self, id: u64, from: i64, to: i64) -> Result<Vec<(i64, Vec<u8>)>, TsdbError> {
        let locs = self.locs(id);
        let lo = locs.partition_point(|l| l.first_ts < from);
        let hi = locs.partition_point(|l| l.first_ts <= to).max(lo);
        locs[lo..hi]
            .iter()
            .map(|l| Ok((l.first_ts, self.read_loc(id, *l)?)))
            .collect()
    }

    /// Whether the series has a sample at or after `cut` here.
    pub fn has_samples_from(&self, id: u64, cut: i64) -> Result<bool, TsdbError> {
        let locs = self.locs(id);
        if locs.last().is_some_and(|l| l.first_ts >= cut) {
            return Ok(true);
        }
        // Chunks starting less than a chunk span before the cut may reach past it.
        let from = cut.saturating_sub(CHUNK_MAX_SPAN_MS - 1);
        let lo = locs.partition_point(|l| l.first_ts < from);
        for l in &locs[lo..] {
            let samples = decode_chunk(&self.read_loc(id, *l)?)?;
            if samples.last().is_some_and(|s| s.ts_ms >= cut) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Writes `chunks` (series id, first timestamp, bytes) at the committed ends of their
    /// slices' files and makes them durable (files, and the directory if a file was
    /// created). Nothing is visible until [`ChunkFiles::commit`]; chunks already here (the
    /// same series and first timestamp: a closed chunk never changes) are skipped.
    pub fn append(&self, chunks: &[(u64, i64, Vec<u8>)]) -> Result<PendingAppend, TsdbError> {
        let mut bufs: BTreeMap<i64, (Vec<u8>, Vec<(u64, i64, u64, u32)>)> = BTreeMap::new();
        for (id, first, bytes) in chunks {
            if self.contains(*id, *first) {
                continue;
            }
            let (buf, recs) = bufs.entry(slice_of(*first)).or_default();
            let at = buf.len() as u64;
            encode_record(buf, *id, *first, bytes)?;
            recs.push((*id, *first, at, bytes.len() as u32));
        }
        let mut pending = PendingAppend {
            slices: BTreeMap::new(),
            locs: Vec::new(),
        };
        let mut created = false;
        for (slice, (buf, recs)) in bufs {
            let result = self.write_slice(slice, &buf);
            let (base, file) = match result {
                Ok(x) => x,
                Err(e) => {
                    self.abort(pending);
                    return Err(e);
                }
            };
            created |= file.is_some();
            let len = base + buf.len() as u64;
            if len >= 1 << OFFSET_BITS {
                let path = self.dir.join(file_name(slice));
                pending.slices.insert(slice, (len, 0, file));
                self.abort(pending);
                return Err(TsdbError::Storage(format!(
                    "chunk file {} would exceed 1 TiB",
                    path.display()
                )));
            }
            pending.slices.insert(slice, (len, recs.len() as u64, file));
            for (id, first, at, blen) in recs {
                pending.locs.push((id, Loc::new(first, base + at, blen)));
            }
        }
        if created {
            if let Err(e) = sync_dir(&self.dir) {
                self.abort(pending);
                return Err(e);
            }
        }
        Ok(pending)
    }

    /// Writes `buf` at the committed end of the slice's file (created with its header if
    /// there is none) and fsyncs it; returns where `buf` starts and the file if created.
    fn write_slice(
        &self,
        slice: i64,
        buf: &[u8],
    ) -> Result<(u64, Option<(File, PathBuf)>), TsdbError> {
        if let Some(f) = self.files.get(&slice) {
            f.file
                .write_all_at(buf, f.committed)
                .and_then(|()| f.file.sync_data())
                .map_err(|e| io_err(&f.path, "appending", e))?;
            return Ok((f.committed, None));
        }
        let path = self.dir.join(file_name(slice));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io_err(&path, "creating", e))?;
        let mut all = Vec::with_capacity(FILE_HEADER_LEN as usize + buf.len());
        all.extend_from_slice(CHUNK_FILE_MAGIC);
        all.extend_from_slice(&CHUNK_FILE_VERSION.to_le_bytes());
        all.extend_from_slice(buf);
        if let Err(e) = file.write_all_at(&all, 0).and_then(|()| file.sync_all()) {
            let _ = std::fs::remove_file(&path);
            return Err(io_err(&path, "writing", e));
        }
        Ok((FILE_HEADER_LEN, Some((file, path))))
    }

    /// Makes a pending append visible, once sled has committed its [`PendingAppend::meta_entries`].
    pub fn commit(&mut self, pending: PendingAppend) {
        for (slice, (len, records, created)) in pending.slices {
            match (self.files.get_mut(&slice), created) {
                (Some(f), _) => {
                    f.committed = len;
                    f.records += records;
                }
                (None, Some((file, path))) => {
                    self.files.insert(
                        slice,
                        SliceFile {
                            file,
                            path,
                            committed: len,
                            records,
                        },
                    );
                }
                (None, None) => {}
            }
        }
        for (id, loc) in pending.locs {
            let locs = self.series.entry(id).or_default();
            match locs.binary_search_by_key(&loc.first_ts, |l| l.first_ts) {
                Ok(i) => locs[i] = loc,
                Err(i) => locs.insert(i, loc),
            }
        }
    }

    /// Undoes a pending append that sled did not commit (best effort: whatever is left past
    /// a committed length is overwritten by the next append and truncated at open).
    pub fn abort(&self, pending: PendingAppend) {
        for (slice, (_, _, created)) in pending.slices {
            match (self.files.get(&slice), created) {
                (Some(f), _) => {
                    if let Err(e) = f.file.set_len(f.committed) {
                        tracing::warn!(file = %f.path.display(), error = %e, "could not truncate an uncommitted chunk append");
                    }
                }
                (None, Some((file, path))) => {
                    drop(file);
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(file = %path.display(), error = %e, "could not remove an uncommitted chunk file");
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// Slices whose files hold only data older than `cut`, with their record counts.
    pub fn expired(&self, cut: i64) -> Vec<(i64, u64)> {
        self.files
            .iter()
            .take_while(|(s, _)| slice_expired(**s, cut))
            .map(|(s, f)| (*s, f.records))
            .collect()
    }

    /// Deletes the files of `slices`, whose [`meta_key`]s sled has durably removed (a file
    /// left behind by a crash here has no key, so the next open deletes it).
    pub fn remove(&mut self, slices: &[i64]) {
        let gone: BTreeSet<i64> = slices.iter().copied().collect();
        for s in &gone {
            if let Some(f) = self.files.remove(s) {
                drop(f.file);
                if let Err(e) = std::fs::remove_file(&f.path) {
                    tracing::warn!(file = %f.path.display(), error = %e, "could not remove an expired chunk file (the next open removes it)");
                }
            }
        }
        if !gone.is_empty() {
            if let Err(e) = sync_dir(&self.dir) {
                tracing::warn!(error = %e, "chunk file removal not synced");
            }
        }
        self.series.retain(|_, locs| {
            locs.retain(|l| !gone.contains(&slice_of(l.first_ts)));
            !locs.is_empty()
        });
    }

    /// Forgets a series' chunks (their records stay in the files until retention drops them).
    pub fn forget_series(&mut self, id: u64) {
        self.series.remove(&id);
    }

    /// Forgets the chunks of series that `keep` rejects (their records stay in the files
    /// until retention drops them).
    pub fn retain_series(&mut self, mut keep: impl FnMut(u64) -> bool) {
        self.series.retain(|id, _| keep(*id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::gorilla::ChunkEncoder;
    use crate::tsdb::Sample;

    type R = Result<(), Box<dyn std::error::Error>>;

    const H: i64 = 3_600_000;

    fn chunk(first: i64, n: i64) -> Vec<u8> {
        let samples: Vec<Sample> = (0..n)
            .map(|i| Sample {
                ts_ms: first + i * 15_000,
                value: i as f64,
            })
            .collect();
        ChunkEncoder::from_samples(&samples).bytes()
    }

    /// Appends and commits, returning the committed lengths to reopen with (what sled keeps).
    fn append_commit(
        cf: &mut ChunkFiles,
        meta: &mut BTreeMap<i64, u64>,
        chunks: &[(u64, i64, Vec<u8>)],
    ) -> R {
        let p = cf.append(chunks)?;
        for (k, v) in p.meta_entries() {
            let (slice, len) = parse_meta(&k, &v)?;
            meta.insert(slice, len);
        }
        cf.commit(p);
        Ok(())
    }

    fn sample_chunks() -> Vec<(u64, i64, Vec<u8>)> {
        let mut out = Vec::new();
        for id in 1..=3u64 {
            for k in 0..10i64 {
                let first = 100 * SLICE_MS + k * H / 2 + id as i64;
                out.push((id, first, chunk(first, 100 + k)));
            }
        }
        out
    }

    fn all(cf: &ChunkFiles, id: u64) -> Result<Vec<(i64, Vec<u8>)>, TsdbError> {
        cf.chunks(id, i64::MIN, i64::MAX)
    }

    #[test]
    fn appended_chunks_read_back_and_survive_a_reopen() -> R {
        let dir = tempfile::tempdir()?;
        let cdir = dir.path().join(CHUNKS_DIR);
        let mut meta = BTreeMap::new();
        let mut cf = ChunkFiles::open(&cdir, &meta)?;
        let chunks = sample_chunks();
        append_commit(&mut cf, &mut meta, &chunks[..12])?;
        append_commit(&mut cf, &mut meta, &chunks[12..])?;
        // 10 half-hour chunks from the slice start: 5 hours, one slice.
        assert_eq!(cf.slices(), vec![100 * SLICE_MS]);
        let want = |id: u64| -> Vec<(i64, Vec<u8>)> {
            chunks
                .iter()
                .filter(|c| c.0 == id)
                .map(|c| (c.1, c.2.clone()))
                .collect()
        };
        for id in 1..=3 {
            assert_eq!(all(&cf, id)?, want(id));
        }
        assert_eq!(all(&cf, 4)?, vec![]);
        let (first, bytes) = &want(2)[3];
        assert_eq!(cf.chunks(2, *first, *first)?, vec![(*first, bytes.clone())]);
        assert_eq!(cf.read(2, *first)?, Some(bytes.clone()));
        assert_eq!(cf.read(2, *first + 1)?, None);
        assert_eq!(cf.records(), 30);
        // Appending a chunk that is already there is a no-op.
        let p = cf.append(&chunks[..1])?;
        assert_eq!(p.chunks(), 0);
        cf.commit(p);
        let bytes_before = cf.disk_bytes();
        drop(cf);
        let cf = ChunkFiles::open(&cdir, &meta)?;
        for id in 1..=3 {
            assert_eq!(all(&cf, id)?, want(id));
        }
        assert_eq!((cf.records(), cf.disk_bytes()), (30, bytes_before));
        let scanned: Vec<ScannedChunk> = scan(&cdir)?.collect::<Result<_, _>>()?;
        assert_eq!(scanned.len(), 30);
        assert_eq!(
            scanned.iter().map(|c| c.disk_len).sum::<u64>() + FILE_HEADER_LEN,
            bytes_before
        );
        Ok(())
    }

    #[test]
    fn uncommitted_bytes_are_truncated_and_uncommitted_files_removed() -> R {
        let dir = tempfile::tempdir()?;
        let cdir = dir.path().join(CHUNKS_DIR);
        let mut meta = BTreeMap::new();
        let mut cf = ChunkFiles::open(&cdir, &meta)?;
        let chunks = sample_chunks();
        append_commit(&mut cf, &mut meta, &chunks[..5])?;
        let committed = cf.disk_bytes();
        // A crash after the fsync of an append, before sled committed it: one record more in
        // the existing file, and a new file of another slice.
        let later = 200 * SLICE_MS;
        let p = cf.append(&[chunks[5].clone(), (1, later, chunk(later, 50))])?;
        drop(p);
        drop(cf);
        let path = cdir.join(file_name(100 * SLICE_MS));
        assert!(std::fs::metadata(&path)?.len() > committed);
        assert!(cdir.join(file_name(later)).exists());
        // And a torn tail on top.
        let f = OpenOptions::new().append(true).open(&path)?;
        f.write_all_at(&[1, 2, 3], std::fs::metadata(&path)?.len())?;
        drop(f);
        let cf = ChunkFiles::open(&cdir, &meta)?;
        assert_eq!(std::fs::metadata(&path)?.len(), committed);
        assert!(!cdir.join(file_name(later)).exists());
        assert_eq!(cf.records(), 5);
        assert_eq!(all(&cf, 1)?.len(), 5);
        Ok(())
    }

    #[test]
    fn an_aborted_append_leaves_nothing_and_the_next_one_lands_cleanly() -> R {
        let dir = tempfile::tempdir()?;
        let cdir = dir.path().join(CHUNKS_DIR);
        let mut meta = BTreeMap::new();
        let mut cf = ChunkFiles::open(&cdir, &meta)?;
        let chunks = sample_chunks();
        append_commit(&mut cf, &mut meta, &chunks[..3])?;
        let p = cf.append(&chunks[3..6])?;
        cf.abort(p);
        assert_eq!(all(&cf, 1)?.len(), 3);
        append_commit(&mut cf, &mut meta, &chunks[3..])?;
        drop(cf);
        let cf = ChunkFiles::open(&cdir, &meta)?;
        assert_eq!(cf.records(), 30);
        assert_eq!(all(&cf, 1)?.len(), 10);
        Ok(())
    }

    #[test]
    fn a_corrupt_record_inside_the_committed_length_is_an_error() -> R {
        let dir = tempfile::tempdir()?;
        let cdir = dir.path().join(CHUNKS_DIR);
        let mut meta = BTreeMap::new();
        let mut cf = ChunkFiles::open(&cdir, &meta)?;
        append_commit(&mut cf, &mut meta, &sample_chunks())?;
        drop(cf);
        let path = cdir.join(file_name(100 * SLICE_MS));
        let mut bytes = std::fs::read(&path)?;
        // A bit of the second record's body.
        let (len0, _, _, _) = parse_header(
            bytes[FILE_HEADER_LEN as usize..][..RECORD_HEADER_LEN]
                .try_into()
                .map_err(|_| "short")?,
        );
        let second = FILE_HEADER_LEN as usize + RECORD_HEADER_LEN + len0 as usize;
        bytes[second + RECORD_HEADER_LEN + 3] ^= 0x10;
        std::fs::write(&path, &bytes)?;
        let err = match ChunkFiles::open(&cdir, &meta) {
            Ok(_) => return Err("a corrupt chunk file opened".into()),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(matches!(err, TsdbError::Corrupt(_)), "{msg}");
        assert!(
            msg.contains(&file_name(100 * SLICE_MS))
                && msg.contains(&format!("offset {second}"))
                && msg.contains("checksum"),
            "{msg}"
        );
        // A record cut short inside the committed length, and a bad magic.
        bytes.truncate(second + 10);
        std::fs::write(&path, &bytes)?;
        let short: BTreeMap<i64, u64> = [(100 * SLICE_MS, bytes.len() as u64)].into();
        let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
        assert!(msg.as_deref().is_some_and(|m| m.contains("torn")), "{msg:?}");
        bytes[0] = b'X';
        std::fs::write(&path, &bytes)?;
        let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
        assert!(msg.as_deref().is_some_and(|m| m.contains("magic")), "{msg:?}");
        // A committed file that is missing.
        std::fs::remove_file(&path)?;
        let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
        assert!(msg.as_deref().is_some_and(|m| m.contains("missing")), "{msg:?}");
        Ok(())
    }

    #[test]
    fn expired_slices_are_dropped_whole() -> R {
        let dir = tempfile::tempdir()?;
        let cdir = dir.path().join(CHUNKS_DIR);
        let mut meta = BTreeMap::new();
        let mut cf = ChunkFiles::open(&cdir, &meta)?;
        // Series 1 and 2: a chunk every 2 hours over 4 slices.
        let chunks: Vec<(u64, i64, Vec<u8>)> = (0..12i64)
            .flat_map(|k| {
                let first = 10 * SLICE_MS + k * 2 * H;
                [(1u64, first, chunk(first, 20)), (2, first + 1, chunk(first + 1, 20))]
            })
            .collect();
        append_commit(&mut cf, &mut meta, &chunks)?;
        assert_eq!(cf.slices().len(), 4);
        // Slice 10 holds samples until 11 slices + 2 h: not yet expired at that minus 1 ms.
        let end10 = 11 * SLICE_MS + CHUNK_MAX_SPAN_MS;
        assert!(cf.expired(end10 - 1).is_empty());
        assert_eq!(cf.expired(end10), vec![(10 * SLICE_MS, 6)]);
        assert_eq!(cf.expired(end10 + SLICE_MS).len(), 2);
        cf.remove(&[10 * SLICE_MS]);
        meta.remove(&(10 * SLICE_MS));
        assert_eq!(cf.first_ts(1), Some(11 * SLICE_MS));
        assert_eq!(cf.records(), 18);
        assert!(!cdir.join(file_name(10 * SLICE_MS)).exists());
        // Samples from: the series' last chunk starts 4 slices - 2 h in and lasts 20 × 15 s.
        let last = 14 * SLICE_MS - 2 * H;
        assert!(cf.has_samples_from(1, last + 19 * 15_000)?);
        assert!(!cf.has_samples_from(1, last + 19 * 15_000 + 1)?);
        assert!(!cf.has_samples_from(3, 0)?);
        drop(cf);
        let cf = ChunkFiles::open(&cdir, &meta)?;
        assert_eq!((cf.records(), cf.slices().len()), (18, 3));
        Ok(())
    }

    #[test]
    fn slices_and_names_are_canonical() {
        assert_eq!(slice_of(0), 0);
        assert_eq!(slice_of(SLICE_MS - 1), 0);
        assert_eq!(slice_of(-1), -SLICE_MS);
        assert_eq!(slice_of(i64::MIN), i64::MIN);
        assert_eq!(parse_file_name("21600000.chk"), Some(SLICE_MS));
        assert_eq!(parse_file_name("-21600000.chk"), Some(-SLICE_MS));
        assert_eq!(parse_file_name("021600000.chk"), None);
        assert_eq!(parse_file_name("x.chk"), None);
        let l = Loc::new(-5, (1 << OFFSET_BITS) - 1, MAX_CHUNK_BYTES);
        assert_eq!(
            (l.first_ts, l.offset(), l.len()),
            (-5, (1 << OFFSET_BITS) - 1, MAX_CHUNK_BYTES as usize)
        );
    }
}
