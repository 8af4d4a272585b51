//! The group-commit writer: one OS thread owns the active segment file. It drains every queued
//! append, writes them as one buffer, fsyncs once, publishes the durable LSN, then answers.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::segment::{encode_frame, segment_path};
use super::{sync_dir, Lsn, Shared, WalError};
use crate::metrics::CollectorMetrics;

pub(super) type Reply = oneshot::Sender<Result<(Lsn, Lsn), WalError>>;

/// How a group commit failed, and on which file.
enum Failure {
    /// Writing (or creating a segment) failed: nothing unsynced is trusted, and the
    /// segment can be cut back to its synced length.
    Write(PathBuf, io::Error),
    /// fsync failed: the WAL is unusable until a restart.
    Sync(PathBuf, io::Error),
}

pub(super) enum Msg {
    /// Non-empty records whose frame size has been checked by the caller.
    Append { records: Vec<Vec<u8>>, reply: Reply },
    /// Finish what is queued up to here, then stop.
    Close,
}

pub(super) struct Writer {
    pub shared: Arc<Shared>,
    pub metrics: Arc<CollectorMetrics>,
    pub segment_bytes: u64,
    pub fsync: bool,
    pub active: File,
    pub active_start: Lsn,
    pub active_len: u64,
    pub next_lsn: Lsn,
    /// Set after a failed fsync (or a failed repair): nothing later may be reported durable.
    pub broken: Option<String>,
    /// The LSN after the last record known durable (written and synced).
    pub synced_next: Lsn,
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Msg>) {
        let mut batch = Vec::new();
        'outer: while let Ok(first) = rx.recv() {
            let mut closing = false;
            for msg in std::iter::once(first).chain(rx.try_iter()) {
                match msg {
                    Msg::Append { records, reply } => batch.push((records, reply)),
                    Msg::Close => {
                        closing = true;
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                self.commit(&mut batch);
            }
            if closing {
                break 'outer;
            }
        }
        // Anything still queued is dropped with `rx`; its callers see `WalError::Closed`.
        tracing::debug!(durable_lsn = self.next_lsn - 1, "WAL writer stopped");
    }

    fn active_path(&self) -> PathBuf {
        segment_path(&self.shared.dir, self.active_start)
    }

    fn commit(&mut self, batch: &mut Vec<(Vec<Vec<u8>>, Reply)>) {
        if let Some(why) = &self.broken {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(WalError::Broken(why.clone())));
            }
            return;
        }
        let started = Instant::now();
        let mut ranges = Vec::with_capacity(batch.len());
        let result = (|| -> Result<(), Failure> {
            self.buf.clear();
            for (records, _) in batch.iter() {
                let pending = self.buf.len() as u64;
                if self.active_len + pending >= self.segment_bytes && self.active_len + pending > 0
                {
                    self.flush_and_sync()?;
                    self.roll()?;
                }
                let first = self.next_lsn;
                encode_frame(&mut self.buf, first, records);
                self.next_lsn += records.len() as u64;
                ranges.push((first, self.next_lsn - 1));
            }
            self.flush_and_sync()
        })();
        match result {
            Ok(()) => {
                let durable = self.next_lsn - 1;
                self.shared.durable.store(durable, Ordering::Release);
                self.shared
                    .set_segment_len(self.active_start, self.active_len);
                self.metrics
                    .wal_fsync_seconds
                    .observe(started.elapsed().as_secs_f64());
                self.metrics
                    .wal_bytes
                    .set(i64::try_from(self.shared.disk_bytes()).unwrap_or(i64::MAX));
                // Durable first, so an acknowledged writer can immediately read its records.
                self.shared.watch_tx.send_replace(durable);
                for ((_, reply), range) in batch.drain(..).zip(ranges) {
                    let _ = reply.send(Ok(range));
                }
            }
            Err(failure) => self.fail(batch, ranges, failure),
        }
    }

    /// A failed group commit. The entries made durable before the failure (a group can span
    /// a segment roll) are acknowledged; the others get the error.
    ///
    /// A failed *write* (a full disk, above all) is repaired: the active segment is cut back
    /// to its last synced length and the unwritten LSNs are reused, so the WAL on disk is
    /// exactly what was acknowledged and the next append (once space is back) carries on by
    /// itself. A failed *fsync* is not: after one, the kernel may have dropped dirty pages it
    /// could not write, so nothing written since the last good fsync can be trusted and the
    /// WAL refuses appends until a restart verifies the segment (docs/operations.md).
    fn fail(
        &mut self,
        batch: &mut Vec<(Vec<Vec<u8>>, Reply)>,
        ranges: Vec<(Lsn, Lsn)>,
        failure: Failure,
    ) {
        let (path, e) = match &failure {
            Failure::Write(p, e) | Failure::Sync(p, e) => (p.clone(), e),
        };
        let repaired = match &failure {
            Failure::Write(..) => self.repair(),
            Failure::Sync(..) => Err(io::Error::other("fsync failed")),
        };
        match &repaired {
            Ok(()) => tracing::error!(path = %path.display(), error = %e,
                "WAL write failed; the segment is cut back to its last synced record and appends resume when the write succeeds"),
            Err(_) => {
                tracing::error!(path = %path.display(), error = %e,
                    "WAL fsync failed; the WAL refuses further appends until a restart");
                let why = format!("{}: {e}", path.display());
                self.broken = Some(why);
                self.shared.broken.store(true, Ordering::Release);
            }
        }
        let durable_next = self.synced_next;
        if durable_next > 0 {
            self.shared
                .durable
                .store(durable_next - 1, Ordering::Release);
            self.shared.watch_tx.send_replace(durable_next - 1);
        }
        self.shared
            .set_segment_len(self.active_start, self.active_len);
        let kind = e.kind();
        let msg = e.to_string();
        let mut ranges = ranges.into_iter();
        for (_, reply) in batch.drain(..) {
            match ranges.next() {
                Some(range) if range.1 < durable_next => {
                    let _ = reply.send(Ok(range));
                }
                _ => {
                    let _ = reply.send(Err(WalError::Io {
                        path: path.clone(),
                        source: io::Error::new(kind, msg.clone()),
                    }));
                }
            }
        }
    }

    /// Cuts the active segment back to its synced length and forgets the LSNs not written.
    fn repair(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.active.set_len(self.active_len)?;
        if self.fsync {
            self.active.sync_data()?;
        }
        self.next_lsn = self.synced_next;
        Ok(())
    }

    /// Writes the pending buffer to the active segment and fsyncs it.
    fn flush_and_sync(&mut self) -> Result<(), Failure> {
        if !self.buf.is_empty() {
            self.active
                .write_all(&self.buf)
                .map_err(|e| Failure::Write(self.active_path(), e))?;
            let written = self.active_len + self.buf.len() as u64;
            if self.fsync {
                self.active
                    .sync_data()
                    .map_err(|e| Failure::Sync(self.active_path(), e))?;
                self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            }
            self.active_len = written;
            self.buf.clear();
        }
        self.synced_next = self.next_lsn;
        Ok(())
    }

    /// Starts a new segment named by the next LSN. The previous one is already synced.
    fn roll(&mut self) -> Result<(), Failure> {
        let path = segment_path(&self.shared.dir, self.next_lsn);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Failure::Write(path.clone(), e))?;
        if self.fsync {
            if let Err(e) = sync_dir(&self.shared.dir) {
                // The new, empty segment may or may not survive a crash; remove it so a
                // later roll can create it again (replay ignores an empty segment anyway).
                let _ = std::fs::remove_file(&path);
                return Err(Failure::Write(self.shared.dir.clone(), e));
            }
        }
        self.shared
            .set_segment_len(self.active_start, self.active_len);
        self.shared.set_segment_len(self.next_lsn, 0);
        tracing::debug!(path = %path.display(), "WAL rolled to a new segment");
        self.active = file;
        self.active_start = self.next_lsn;
        self.active_len = 0;
        Ok(())
    }
}
