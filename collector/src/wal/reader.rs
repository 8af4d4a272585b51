//! Tailing reader over the segment files. It reads with plain file reads (the data is usually
//! in the page cache) and never returns a record beyond the durable LSN.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use super::segment::{decode_frame, segment_path, DecodeError};
use super::{Lsn, Shared, WalError};

/// Bytes read from a segment file at a time (more when a frame is larger).
const READ_CHUNK: usize = 256 * 1024;

/// Reads records in LSN order; see [`super::Wal::reader`].
pub struct WalReader {
    shared: Arc<Shared>,
    /// LSN of the next record to hand out.
    next_lsn: Lsn,
    /// Records decoded but not handed out yet (rest of a frame, or beyond the durable LSN).
    pending: VecDeque<(Lsn, Vec<u8>)>,
    cursor: Option<Cursor>,
}

/// An open segment file and the unconsumed bytes read from it.
struct Cursor {
    start: Lsn,
    path: PathBuf,
    file: File,
    /// Bytes read from the file but not yet consumed; `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// File offset of `buf[pos]`, for error messages.
    offset: u64,
}

enum Step {
    /// Records of one frame.
    Frame(Lsn, Vec<Vec<u8>>),
    /// Nothing more in the file for now.
    End,
    /// A partial frame at the end of the file.
    Incomplete,
    Corrupt(&'static str),
}

impl Cursor {
    fn next_frame(&mut self) -> Result<Step, WalError> {
        loop {
            match decode_frame(&self.buf[self.pos..]) {
                Ok((frame, len)) => {
                    let recs = frame.records().map(<[u8]>::to_vec).collect();
                    let first = frame.first_lsn;
                    self.pos += len;
                    self.offset += len as u64;
                    return Ok(Step::Frame(first, recs));
                }
                Err(DecodeError::Corrupt(why)) => return Ok(Step::Corrupt(why)),
                Err(DecodeError::Incomplete { need }) => {
                    let have = self.buf.len() - self.pos;
                    if self.fill(need.max(READ_CHUNK) - have)? == 0 {
                        return Ok(if self.buf.len() == self.pos {
                            Step::End
                        } else {
                            Step::Incomplete
                        });
                    }
                }
            }
        }
    }

    /// Reads up to `want` more bytes; allocates only for bytes actually read.
    fn fill(&mut self, want: usize) -> Result<usize, WalError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let before = self.buf.len();
        let mut reader = (&self.file).take(want as u64);
        loop {
            match reader.read_to_end(&mut self.buf) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(WalError::Io {
                        path: self.path.clone(),
                        source: e,
                    })
                }
            }
        }
        Ok(self.buf.len() - before)
    }
}

impl WalReader {
    pub(super) fn new(shared: Arc<Shared>, from: Lsn) -> WalReader {
        WalReader {
            shared,
            next_lsn: from.max(1),
            pending: VecDeque::new(),
            cursor: None,
        }
    }

    /// LSN of the next record this reader will return.
    pub fn position(&self) -> Lsn {
        self.next_lsn
    }

    /// Up to `max_records` records in LSN order, starting where the last call stopped, but only
    /// records with `lsn <= durable_lsn()`. Empty when caught up. Moves across segment files
    /// transparently, including segments created after the reader was made.
    pub fn next_batch(&mut self, max_records: usize) -> Result<Vec<(Lsn, Vec<u8>)>, WalError> {
        let mut out = Vec::new();
        if max_records == 0 {
            return Ok(out);
        }
        // Read the durable LSN before listing segments: every record <= durable is fully
        // written in a segment that is already listed.
        let durable = self.shared.durable_lsn();
        let mut segments: Option<Vec<Lsn>> = None;
        loop {
            while out.len() < max_records {
                match self.pending.front() {
                    Some(&(lsn, _)) if lsn <= durable => {
                        let (lsn, rec) = self.pending.pop_front().expect("front exists");
                        self.next_lsn = lsn + 1;
                        out.push((lsn, rec));
                    }
                    _ => break,
                }
            }
            if out.len() == max_records || !self.pending.is_empty() || self.next_lsn > durable {
                return Ok(out);
            }
            let segs = segments.get_or_insert_with(|| self.shared.segment_starts());
            if self.cursor.is_none() {
                if !self.open_cursor(segs)? {
                    return Ok(out);
                }
                continue; // next_lsn may have moved forward past durable
            }
            let cursor = self.cursor.as_mut().expect("cursor is open");
            let step = cursor.next_frame()?;
            match step {
                Step::Frame(first, records) => {
                    for (i, rec) in records.into_iter().enumerate() {
                        let lsn = first + i as u64;
                        if lsn >= self.next_lsn {
                            self.pending.push_back((lsn, rec));
                        }
                    }
                }
                stop => {
                    let later = segs.iter().copied().find(|&s| s > cursor.start);
                    let Some(next_start) = later else {
                        // The last segment: every record up to `durable` is in it and was read;
                        // an incomplete frame is one still being written.
                        return match stop {
                            Step::Corrupt(why) => Err(WalError::Corrupt {
                                path: cursor.path.clone(),
                                offset: cursor.offset,
                                reason: why.to_string(),
                            }),
                            _ => Ok(out),
                        };
                    };
                    match stop {
                        Step::Corrupt(why) => tracing::error!(
                            path = %cursor.path.display(), offset = cursor.offset, reason = why,
                            "corrupt WAL frame; skipping to the next segment"),
                        Step::Incomplete => tracing::error!(
                            path = %cursor.path.display(), offset = cursor.offset,
                            "incomplete WAL frame in a finished segment; skipping to the next segment"),
                        _ => {}
                    }
                    self.cursor = None;
                    self.next_lsn = self.next_lsn.max(next_start);
                }
            }
        }
    }

    /// Opens the segment holding `next_lsn` (or the oldest one, if that was removed). Returns
    /// false when there is no segment at all.
    fn open_cursor(&mut self, segs: &mut Vec<Lsn>) -> Result<bool, WalError> {
        for _attempt in 0..3 {
            let Some(idx) = segs
                .iter()
                .rposition(|&s| s <= self.next_lsn)
                .or(if segs.is_empty() { None } else { Some(0) })
            else {
                return Ok(false);
            };
            let start = segs[idx];
            let path = segment_path(&self.shared.dir, start);
            match File::open(&path) {
                Ok(file) => {
                    self.next_lsn = self.next_lsn.max(start);
                    self.cursor = Some(Cursor {
                        start,
                        path,
                        file,
                        buf: Vec::new(),
                        pos: 0,
                        offset: 0,
                    });
                    return Ok(true);
                }
                // Removed by retention since the listing: list again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    *segs = self.shared.segment_starts();
                }
                Err(e) => return Err(WalError::Io { path, source: e }),
            }
        }
        Err(WalError::Io {
            path: self.shared.dir.clone(),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "WAL segments vanished while reading",
            ),
        })
    }
}
