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
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

mod format;

use format::{crc_of, encode_record, file_name, io_err, list, parse_header, RecordReader};
pub use format::{
    scan, Scan, ScannedChunk, CHUNK_FILE_MAGIC, CHUNK_FILE_VERSION, FILE_HEADER_LEN,
    MAX_CHUNK_BYTES, RECORD_HEADER_LEN,
};

use super::gorilla::decode_chunk;
use super::head::CHUNK_MAX_SPAN_MS;
use super::kv::{get_i64, get_u64, put_i64, put_u64};
use super::TsdbError;

/// Time slice of one chunk file (by the chunks' first timestamps), UTC-aligned.
pub const SLICE_MS: i64 = 6 * 3_600_000;
/// The chunk files' directory under the store directory.
pub const CHUNKS_DIR: &str = "chunks";
/// Prefix of the `Tree::Meta` keys holding each file's committed length.
pub const META_PREFIX: &[u8] = b"chunkfile/";

/// Bits of a file offset in a directory entry (files up to 1 TiB); the rest hold the body
/// length.
const OFFSET_BITS: u32 = 40;
const _: () = assert!(MAX_CHUNK_BYTES as u64 <= u64::MAX >> OFFSET_BITS);

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

struct SliceFile {
    file: File,
    path: PathBuf,
    /// Bytes committed by sled (the file may hold more only while an append is pending).
    committed: u64,
    /// Records in the committed bytes.
    records: u64,
}

/// One slice file's part of a [`PendingAppend`].
struct PendingSlice {
    /// The committed length once committed.
    len: u64,
    records: u64,
    /// The file, if this append created it.
    created: Option<(File, PathBuf)>,
}

/// Encoded records for one slice, and their places relative to the start of the buffer.
type SliceBuf = (Vec<u8>, Vec<(u64, Loc)>);

/// Records written and fsynced but not yet committed: what [`ChunkFiles::append`] returns
/// and [`ChunkFiles::commit`] or [`ChunkFiles::abort`] takes.
#[must_use]
pub struct PendingAppend {
    /// Per touched slice.
    slices: BTreeMap<i64, PendingSlice>,
    locs: Vec<(u64, Loc)>,
}

impl PendingAppend {
    /// The `Tree::Meta` entries that commit this append.
    pub fn meta_entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.slices
            .iter()
            .map(|(slice, p)| {
                let mut v = Vec::with_capacity(8);
                put_u64(&mut v, p.len);
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
            let reader_file = file.try_clone().map_err(|e| io_err(&path, "opening", e))?;
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
        let mut bufs: BTreeMap<i64, SliceBuf> = BTreeMap::new();
        for (id, first, bytes) in chunks {
            if self.contains(*id, *first) {
                continue;
            }
            let (buf, recs) = bufs.entry(slice_of(*first)).or_default();
            let at = buf.len() as u64;
            encode_record(buf, *id, *first, bytes)?;
            recs.push((*id, Loc::new(*first, at, bytes.len() as u32)));
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
            let records = recs.len() as u64;
            pending.slices.insert(
                slice,
                PendingSlice {
                    len,
                    records,
                    created: file,
                },
            );
            if len >= 1 << OFFSET_BITS {
                let path = self.dir.join(file_name(slice));
                self.abort(pending);
                return Err(TsdbError::Storage(format!(
                    "chunk file {} would exceed 1 TiB",
                    path.display()
                )));
            }
            for (id, l) in recs {
                let at = base + l.offset();
                pending
                    .locs
                    .push((id, Loc::new(l.first_ts, at, l.len() as u32)));
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
            if let Err(e) = f
                .file
                .write_all_at(buf, f.committed)
                .and_then(|()| f.file.sync_data())
            {
                let _ = f.file.set_len(f.committed);
                return Err(io_err(&f.path, "appending", e));
            }
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
        for (slice, p) in pending.slices {
            match (self.files.get_mut(&slice), p.created) {
                (Some(f), _) => {
                    f.committed = p.len;
                    f.records += p.records;
                }
                (None, Some((file, path))) => {
                    self.files.insert(
                        slice,
                        SliceFile {
                            file,
                            path,
                            committed: p.len,
                            records: p.records,
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
        for (slice, p) in pending.slices {
            match (self.files.get(&slice), p.created) {
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
mod tests;
