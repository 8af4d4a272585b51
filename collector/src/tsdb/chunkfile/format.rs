//! The chunk file format (see `chunkfile.rs`): the file header, records and their checksums,
//! file names, and reading records in order (at open, and [`scan`] for accounting tools).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::slice_of;
use crate::tsdb::TsdbError;

/// The largest chunk a record holds (a chunk of 120 samples is < 4 KiB).
pub const MAX_CHUNK_BYTES: u32 = (1 << 24) - 1;
/// The first bytes of every chunk file.
pub const CHUNK_FILE_MAGIC: &[u8; 8] = b"PHXCHUNK";
/// The chunk file format this build reads and writes.
pub const CHUNK_FILE_VERSION: u32 = 1;
/// Magic and version.
pub const FILE_HEADER_LEN: u64 = 12;
/// Length, crc, series id, first timestamp.
pub const RECORD_HEADER_LEN: usize = 24;

/// The chunk file name extension.
const EXT: &str = ".chk";

pub(super) fn file_name(slice: i64) -> String {
    format!("{slice}{EXT}")
}

/// The slice of a chunk file name (only the canonical spelling).
pub(super) fn parse_file_name(name: &str) -> Option<i64> {
    let slice: i64 = name.strip_suffix(EXT)?.parse().ok()?;
    (file_name(slice) == name).then_some(slice)
}

pub(super) fn io_err(path: &Path, what: &str, e: std::io::Error) -> TsdbError {
    TsdbError::Storage(format!("{}: {what}: {e}", path.display()))
}

pub(super) fn crc_of(header: &[u8; RECORD_HEADER_LEN], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[0..4]);
    h.update(&header[8..RECORD_HEADER_LEN]);
    h.update(body);
    h.finalize()
}

pub(super) fn encode_record(
    out: &mut Vec<u8>,
    id: u64,
    first_ts: i64,
    body: &[u8],
) -> Result<(), TsdbError> {
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
pub(super) fn parse_header(h: &[u8; RECORD_HEADER_LEN]) -> (u32, u32, u64, i64) {
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
pub(super) struct RecordReader {
    path: PathBuf,
    slice: i64,
    reader: BufReader<File>,
    pos: u64,
    end: u64,
}

impl RecordReader {
    /// Checks the file header; `end` is where the records stop (at most the file's length).
    pub(super) fn open(path: PathBuf, slice: i64, file: File, end: u64) -> Result<Self, TsdbError> {
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let corrupt =
            |what: &str| TsdbError::Corrupt(format!("chunk file {}: {what}", path.display()));
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
    pub(super) fn next_record(&mut self) -> Result<Option<(u64, ScannedChunk)>, TsdbError> {
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
pub(super) fn list(dir: &Path) -> Result<BTreeMap<i64, PathBuf>, TsdbError> {
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
