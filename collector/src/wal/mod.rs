//! Write-ahead log.
//!
//! A record is acknowledged only after it is written to a segment file and fsynced; a
//! `kill -9` at any moment loses nothing acknowledged. Concurrent appends share fsyncs: a
//! dedicated writer thread drains every queued append, writes them with one `write_all`, calls
//! `sync_data` once, publishes the durable LSN and then answers every caller (group commit).
//!
//! Segments are files named by the LSN of their first record (20 digits, `.wal`), so lexical
//! order is LSN order. The newest segment is never deleted; it records the next LSN even when
//! empty, so LSNs never restart after [`Wal::remove_segments_before`]. Frame format: see
//! [`segment`]. On open every frame's CRC is verified; the last segment is truncated at its
//! first bad or incomplete frame (a torn write from a crash).

mod reader;
pub mod segment;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use crate::metrics::CollectorMetrics;
pub use reader::WalReader;
use segment::{parse_segment_file_name, payload_len, scan_segment, segment_path};
use writer::{Msg, Writer};

/// Log sequence number of one record. The first record ever is 1; 0 means "none".
pub type Lsn = u64;

type AppendResult = Result<(Lsn, Lsn), WalError>;

/// Where and how the WAL is stored.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Directory holding the segment files (created if missing).
    pub dir: PathBuf,
    /// Roll to a new segment once the current one reaches this size (checked between frames;
    /// a single frame may exceed it).
    pub segment_bytes: u64,
    /// fsync data and directory changes. `false` only for tests and benchmarks.
    pub fsync: bool,
}

impl WalConfig {
    /// Defaults (64 MiB segments, fsync on) for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> WalConfig {
        WalConfig {
            dir: dir.into(),
            ..WalConfig::default()
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            dir: PathBuf::from("wal"),
            segment_bytes: 64 << 20,
            fsync: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("WAL I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("corrupt WAL frame in {} at byte {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("WAL is closed")]
    Closed,
    /// An earlier write or fsync failed; nothing more can be made durable until reopened.
    #[error("WAL is unusable after an earlier write/fsync failure ({0}); restart to recover")]
    Broken(String),
    #[error("append too large: {records} records must fit in one frame of at most 1 GiB")]
    TooLarge { records: usize },
}

/// What [`Wal::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files after recovery.
    pub segments: usize,
    /// Good records found.
    pub records: u64,
    /// Bytes cut off the last segment (torn or corrupt tail).
    pub truncated_bytes: u64,
    /// Highest LSN in the log (0 if none was ever written).
    pub last_lsn: Lsn,
}

/// State shared by the handle, the writer thread and readers.
pub(crate) struct Shared {
    dir: PathBuf,
    durable: AtomicU64,
    watch_tx: watch::Sender<Lsn>,
    /// First LSN → size in bytes of every segment file. The last entry is the active segment.
    segments: Mutex<BTreeMap<Lsn, u64>>,
    fsyncs: AtomicU64,
    broken: AtomicBool,
    fsync: bool,
}

impl Shared {
    fn durable_lsn(&self) -> Lsn {
        self.durable.load(Ordering::Acquire)
    }

    fn segment_starts(&self) -> Vec<Lsn> {
        self.segments.lock().keys().copied().collect()
    }

    fn set_segment_len(&self, start: Lsn, len: u64) {
        self.segments.lock().insert(start, len);
    }

    fn disk_bytes(&self) -> u64 {
        self.segments.lock().values().sum()
    }
}

struct Inner {
    shared: Arc<Shared>,
    metrics: Arc<CollectorMetrics>,
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Serialises `remove_segments_before` callers.
    remove_lock: Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    fn close(&self) {
        // Take the sender and the thread under their locks, then wait without holding them.
        let tx = self.tx.lock().take();
        if let Some(tx) = tx {
            let _ = tx.send(Msg::Close);
        }
        let thread = self.thread.lock().take();
        if let Some(t) = thread {
            if t.join().is_err() {
                tracing::error!("WAL writer thread panicked");
            }
        }
    }
}

/// Handle to the write-ahead log. Cheap to clone; the writer thread stops on [`Wal::close`] or
/// when the last clone is dropped (after finishing queued appends).
#[derive(Clone)]
pub struct Wal {
    inner: Arc<Inner>,
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Wal {
    /// Opens (creating the directory if needed) and recovers: scans segments in LSN order,
    /// verifies every frame's CRC, truncates the last segment at its first bad or incomplete
    /// frame, and continues after the last good LSN. A bad frame in an older segment is logged
    /// and the rest of that segment skipped. Spawns the writer thread.
    pub fn open(
        config: WalConfig,
        metrics: Arc<CollectorMetrics>,
    ) -> Result<(Wal, RecoveryReport), WalError> {
        let dir = config.dir.clone();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            if config.fsync {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent).map_err(io_err(parent))?;
                }
            }
        }

        let mut starts = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            match name.to_str().and_then(parse_segment_file_name) {
                Some(lsn) if lsn > 0 => starts.push(lsn),
                _ => tracing::debug!(file = ?name, "ignoring non-segment file in WAL dir"),
            }
        }
        starts.sort_unstable();

        let mut segments = BTreeMap::new();
        let mut report = RecoveryReport {
            segments: 0,
            records: 0,
            truncated_bytes: 0,
            last_lsn: 0,
        };
        // Next LSN to assign: after the highest good record, and never below a segment's name.
        let mut next_lsn: Lsn = 1;
        let mut last_end: Lsn = 1; // end of the last segment's good records
        for (i, &start) in starts.iter().enumerate() {
            let path = segment_path(&dir, start);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let scan = scan_segment(&bytes, start);
            let is_last = i + 1 == starts.len();
            let mut len = bytes.len() as u64;
            if let Some(err) = &scan.error {
                if is_last {
                    let cut = len - scan.valid_len as u64;
                    tracing::warn!(path = %path.display(), offset = scan.valid_len,
                        truncated_bytes = cut, reason = ?err, "truncating torn WAL tail");
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    f.set_len(scan.valid_len as u64).map_err(io_err(&path))?;
                    f.sync_all().map_err(io_err(&path))?;
                    report.truncated_bytes += cut;
                    len = scan.valid_len as u64;
                } else {
                    tracing::error!(path = %path.display(), offset = scan.valid_len,
                        lost_bytes = len - scan.valid_len as u64, reason = ?err,
                        "bad frame in an older WAL segment; ignoring the rest of it");
                }
            }
            report.records += scan.records();
            let end = scan.end_lsn().unwrap_or(start);
            next_lsn = next_lsn.max(end).max(start);
            if is_last {
                last_end = end;
            }
            segments.insert(start, len);
        }

        // Active segment: the last one, unless there is none or it cannot continue at next_lsn.
        let active_start = match starts.last() {
            Some(&s) if last_end == next_lsn => s,
            _ => {
                if !starts.is_empty() {
                    tracing::error!(next_lsn, "WAL segments overlap; starting a new segment");
                }
                let path = segment_path(&dir, next_lsn);
                OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                if config.fsync {
                    sync_dir(&dir).map_err(io_err(&dir))?;
                }
                segments.insert(next_lsn, 0);
                next_lsn
            }
        };
        let active_path = segment_path(&dir, active_start);
        let active = OpenOptions::new()
            .append(true)
            .open(&active_path)
            .map_err(io_err(&active_path))?;
        let active_len = segments[&active_start];

        report.segments = segments.len();
        report.last_lsn = next_lsn - 1;
        let total: u64 = segments.values().sum();
        metrics
            .wal_bytes
            .set(i64::try_from(total).unwrap_or(i64::MAX));

        let (watch_tx, _) = watch::channel(report.last_lsn);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            durable: AtomicU64::new(report.last_lsn),
            watch_tx,
            segments: Mutex::new(segments),
            fsyncs: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            fsync: config.fsync,
        });
        let writer = Writer {
            shared: shared.clone(),
            metrics: metrics.clone(),
            segment_bytes: config.segment_bytes,
            fsync: config.fsync,
            active,
            active_start,
            active_len,
            next_lsn,
            broken: None,
            synced_next: next_lsn,
            buf: Vec::new(),
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pharos-wal".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err(&dir))?;
        tracing::info!(dir = %dir.display(), segments = report.segments, records = report.records,
            truncated_bytes = report.truncated_bytes, last_lsn = report.last_lsn, "WAL opened");
        let wal = Wal {
            inner: Arc::new(Inner {
                shared,
                metrics,
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                remove_lock: Mutex::new(()),
            }),
        };
        Ok((wal, report))
    }

    /// Queues an append; `None` for empty input.
    fn submit(
        &self,
        records: Vec<Vec<u8>>,
    ) -> Result<Option<oneshot::Receiver<AppendResult>>, WalError> {
        let tx = self.inner.tx.lock().clone().ok_or(WalError::Closed)?;
        if records.is_empty() {
            return Ok(None);
        }
        if payload_len(&records).is_none() {
            return Err(WalError::TooLarge {
                records: records.len(),
            });
        }
        let (reply, rx) = oneshot::channel();
        tx.send(Msg::Append { records, reply })
            .map_err(|_| WalError::Closed)?;
        Ok(Some(rx))
    }

    /// Appends `records` as one frame with consecutive LSNs and returns once they are written
    /// and fsynced, with the inclusive LSN range `(first, last)`. Empty input writes nothing
    /// and returns `(0, 0)`.
    pub async fn append(&self, records: Vec<Vec<u8>>) -> Result<(Lsn, Lsn), WalError> {
        match self.submit(records)? {
            None => Ok((0, 0)),
            Some(rx) => rx.await.unwrap_or(Err(WalError::Closed)),
        }
    }

    /// Blocking [`Wal::append`] for non-async callers. Must not be called from inside an async
    /// task (it blocks the thread; tokio panics).
    pub fn append_blocking(&self, records: Vec<Vec<u8>>) -> Result<(Lsn, Lsn), WalError> {
        match self.submit(records)? {
            None => Ok((0, 0)),
            Some(rx) => rx.blocking_recv().unwrap_or(Err(WalError::Closed)),
        }
    }

    /// Highest LSN that is on disk and fsynced.
    pub fn durable_lsn(&self) -> Lsn {
        self.inner.shared.durable_lsn()
    }

    /// Watch channel carrying the durable LSN, updated after every group commit.
    pub fn subscribe(&self) -> watch::Receiver<Lsn> {
        self.inner.shared.watch_tx.subscribe()
    }

    /// A reader yielding records with `lsn >= from` (from the oldest kept record if those were
    /// removed), never beyond the durable LSN at the time of each call.
    pub fn reader(&self, from: Lsn) -> Result<WalReader, WalError> {
        Ok(WalReader::new(self.inner.shared.clone(), from))
    }

    /// Deletes whole segment files all of whose records have `lsn < lsn`. Never deletes the
    /// active (newest) segment. Returns the bytes freed.
    pub fn remove_segments_before(&self, lsn: Lsn) -> Result<u64, WalError> {
        let shared = &self.inner.shared;
        let _serial = self.inner.remove_lock.lock();
        // Segment i holds only LSNs below the start of segment i + 1.
        let doomed: Vec<(Lsn, u64)> = {
            let mut segs = shared.segments.lock();
            let starts: Vec<Lsn> = segs.keys().copied().collect();
            let doomed: Vec<(Lsn, u64)> = starts
                .windows(2)
                .filter(|w| w[1] <= lsn)
                .map(|w| (w[0], segs[&w[0]]))
                .collect();
            // Unlisted first, so readers never try to open a file about to vanish.
            for (start, _) in &doomed {
                segs.remove(start);
            }
            doomed
        };
        let mut freed = 0;
        let mut result = Ok(());
        for (i, &(start, len)) in doomed.iter().enumerate() {
            let path = segment_path(&shared.dir, start);
            match fs::remove_file(&path) {
                Ok(()) => freed += len,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Put back what was not deleted.
                    let mut segs = shared.segments.lock();
                    for &(s, l) in &doomed[i..] {
                        segs.insert(s, l);
                    }
                    result = Err(WalError::Io { path, source: e });
                    break;
                }
            }
        }
        if freed > 0 {
            tracing::debug!(before = lsn, freed, "removed WAL segments");
            if shared.fsync {
                sync_dir(&shared.dir).map_err(io_err(&shared.dir))?;
            }
            self.inner
                .metrics
                .wal_bytes
                .set(i64::try_from(shared.disk_bytes()).unwrap_or(i64::MAX));
        }
        result.map(|()| freed)
    }

    /// Total bytes of segment files.
    pub fn disk_bytes(&self) -> u64 {
        self.inner.shared.disk_bytes()
    }

    /// Number of data fsyncs done by this handle's writer (group commits); for tests and
    /// diagnostics.
    pub fn fsync_count(&self) -> u64 {
        self.inner.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// True after a write or fsync failed; every later append fails.
    pub fn is_broken(&self) -> bool {
        self.inner.shared.broken.load(Ordering::Acquire)
    }

    /// Stops the writer thread once everything queued is written and fsynced. Later appends
    /// fail with [`WalError::Closed`]. Idempotent; blocks until the writer has stopped.
    pub fn close(&self) {
        self.inner.close();
    }
}
