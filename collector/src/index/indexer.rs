//! The indexer: one thread that tails the WAL into per-day partitions, commits them on an
//! interval, checkpoints what is committed, lets the WAL drop covered segments, and runs
//! retention between batches (it owns every index writer, so nothing else may write).
//!
//! Exactly-once replay: each partition's commit payload records the highest LSN committed into
//! it, and a record is skipped when its LSN is not above that of its own partition. A record
//! always routes to the same partition (its timestamp's UTC day), so this is exact even when a
//! crash interrupted a commit round half way. The checkpoint (`index/checkpoint`) only says
//! from where replay must start reading the WAL.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tantivy::query::RangeQuery;
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::doc::to_document;
use super::partition::PartitionId;
use super::retention::{plan_retention, PartitionStat, RetentionAction};
use super::store::{commit_payload, LogStore, PartitionHandle};
use super::IndexError;
use crate::clock::SharedClock;
use crate::config::{IndexSettings, RetentionSettings};
use crate::metrics::CollectorMetrics;
use crate::record::{LogRecord, SEVERITY_ERROR};
use crate::wal::{Lsn, Wal, WalReader};

const CHECKPOINT_FILE: &str = "checkpoint";
const READ_BATCH: usize = 4096;
/// Writers of partitions other than the newest get the smallest budget tantivy allows and
/// one thread: late records are rare and must not cost the memory of a full writer.
const SIDE_WRITER_BUDGET: usize = 20 * 1024 * 1024;
/// At most this many writers for older partitions at once (a backfill of many days would
/// otherwise open one writer, with its memory arena and thread, per day): the least recently
/// used is committed and closed first.
const MAX_SIDE_WRITERS: usize = 4;

/// Progress the indexer shares with the ingest path (for backpressure) and `/ready`.
#[derive(Debug, Default)]
pub struct IndexerProgress {
    /// Highest LSN handed to an index writer (or skipped as already indexed / expired).
    pub consumed_lsn: AtomicU64,
    /// Highest LSN below which everything is committed and searchable.
    pub committed_lsn: AtomicU64,
    /// Set when the indexer stopped on an error; `/ready` reports it.
    pub failed: AtomicBool,
}

pub struct Indexer {
    pub store: Arc<LogStore>,
    pub wal: Wal,
    pub index: IndexSettings,
    pub retention: RetentionSettings,
    pub metrics: Arc<CollectorMetrics>,
    pub clock: SharedClock,
}

pub struct IndexerHandle {
    stop: Arc<AtomicBool>,
    run_retention: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), IndexError>>>,
    pub progress: Arc<IndexerProgress>,
}

impl IndexerHandle {
    /// Asks the indexer to index everything durable, commit, checkpoint and stop; waits for it.
    pub fn shutdown(&mut self) -> Result<(), IndexError> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| IndexError::Other("indexer thread panicked".into()))?,
            None => Ok(()),
        }
    }

    /// Runs retention at the next opportunity instead of waiting for its interval.
    pub fn trigger_retention(&self) {
        self.run_retention.store(true, Ordering::SeqCst);
    }
}

impl Drop for IndexerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shutdown();
        }
    }
}

impl OpenWriter {
    /// Commits what is pending (recording the highest LSN in the commit) and makes it
    /// searchable. Returns whether there was anything to commit.
    fn commit(&mut self) -> Result<bool, IndexError> {
        let Some(lsn) = self.pending_lsn.take() else {
            return Ok(false);
        };
        let path = &self.partition.path;
        let mut prepared = self
            .writer
            .prepare_commit()
            .map_err(|e| IndexError::tantivy(path, e))?;
        prepared.set_payload(&commit_payload(lsn));
        prepared
            .commit()
            .map_err(|e| IndexError::tantivy(path, e))?;
        self.committed_lsn = lsn;
        self.partition
            .reader
            .reload()
            .map_err(|e| IndexError::tantivy(path, e))?;
        Ok(true)
    }
}

struct OpenWriter {
    partition: Arc<PartitionHandle>,
    writer: IndexWriter<TantivyDocument>,
    /// Highest LSN committed into this partition.
    committed_lsn: Lsn,
    /// Highest LSN added but not yet committed.
    pending_lsn: Option<Lsn>,
    last_used: Instant,
}

fn read_checkpoint(path: &Path) -> Result<Lsn, IndexError> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.trim().parse().map_err(|_| {
            IndexError::Other(format!("{}: not a number: {:?}", path.display(), s.trim()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(IndexError::io(path, e)),
    }
}

/// Atomically replaces the checkpoint.
fn write_checkpoint(path: &Path, lsn: Lsn) -> Result<(), IndexError> {
    crate::durable_file::replace_file(path, format!("{lsn}\n").as_bytes())
        .map_err(|e| IndexError::io(path, e))
}

impl Indexer {
    /// Starts the indexer thread. Replays the WAL from the checkpoint first (exactly once).
    pub fn start(self, runtime: tokio::runtime::Handle) -> Result<IndexerHandle, IndexError> {
        let checkpoint_path = self.store.dir().join(CHECKPOINT_FILE);
        let checkpoint = read_checkpoint(&checkpoint_path)?;
        let reader = self
            .wal
            .reader(checkpoint + 1)
            .map_err(|e| IndexError::Other(format!("opening the WAL for indexing: {e}")))?;
        let progress = Arc::new(IndexerProgress::default());
        progress.consumed_lsn.store(checkpoint, Ordering::SeqCst);
        progress.committed_lsn.store(checkpoint, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let run_retention = Arc::new(AtomicBool::new(true));
        // Records up to here may already be committed (a crash came between their commit and
        // the checkpoint); later ones are new.
        let replay_until = self.wal.durable_lsn();
        let mut state = IndexerState {
            cfg: self,
            reader,
            replay_until,
            replay_committed: HashMap::new(),
            writers: HashMap::new(),
            checkpoint_path,
            consumed: checkpoint,
            checkpoint,
            progress: progress.clone(),
            last_commit: Instant::now(),
            last_retention: Instant::now(),
        };
        let (stop2, retention2) = (stop.clone(), run_retention.clone());
        let thread = std::thread::Builder::new()
            .name("pharos-indexer".into())
            .spawn(move || {
                let result = state.run(&stop2, &retention2, &runtime);
                if let Err(e) = &result {
                    state.progress.failed.store(true, Ordering::SeqCst);
                    tracing::error!(error = %e, "indexer stopped");
                }
                result
            })
            .map_err(|e| IndexError::io(PathBuf::from("pharos-indexer thread"), e))?;
        Ok(IndexerHandle {
            stop,
            run_retention,
            thread: Some(thread),
            progress,
        })
    }
}

struct IndexerState {
    cfg: Indexer,
    reader: WalReader,
    replay_until: Lsn,
    /// Committed LSNs of partitions without an open writer, read once during replay.
    replay_committed: HashMap<PartitionId, Lsn>,
    writers: HashMap<PartitionId, OpenWriter>,
    checkpoint_path: PathBuf,
    consumed: Lsn,
    checkpoint: Lsn,
    progress: Arc<IndexerProgress>,
    last_commit: Instant,
    last_retention: Instant,
}

impl IndexerState {
    fn run(
        &mut self,
        stop: &AtomicBool,
        retention_now: &AtomicBool,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), IndexError> {
        let commit_interval = Duration::from_millis(self.cfg.index.commit_interval_ms);
        let retention_interval = Duration::from_secs(self.cfg.retention.check_interval_secs);
        let mut durable = self.cfg.wal.subscribe();
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            let batch = self
                .reader
                .next_batch(READ_BATCH)
                .map_err(|e| IndexError::Other(format!("reading the WAL: {e}")))?;
            let caught_up = batch.is_empty();
            self.index_batch(batch)?;
            self.publish_backlog();
            if caught_up && stopping {
                self.commit_all()?;
                self.close_writers(|_| true)?;
                return Ok(());
            }
            if self.last_commit.elapsed() >= commit_interval {
                self.commit_all()?;
                self.close_idle_writers()?;
            }
            if retention_now.swap(false, Ordering::SeqCst)
                || self.last_retention.elapsed() >= retention_interval
            {
                self.last_retention = Instant::now();
                self.commit_all()?;
                self.apply_retention()?;
            }
            if caught_up {
                let wait = commit_interval
                    .saturating_sub(self.last_commit.elapsed())
                    .max(Duration::from_millis(1));
                let wait = wait.min(Duration::from_millis(100));
                let _ =
                    runtime.block_on(async { tokio::time::timeout(wait, durable.changed()).await });
            }
        }
    }

    /// Indexes one WAL batch, grouped by partition. Each partition still receives its records
    /// in LSN order (the sort is stable), which is all exact replay needs; grouping means a
    /// batch that mixes many days (a backfill) opens each day's writer once, not per record.
    fn index_batch(&mut self, batch: Vec<(Lsn, Vec<u8>)>) -> Result<(), IndexError> {
        let Some(last) = batch.last().map(|(lsn, _)| *lsn) else {
            return Ok(());
        };
        let mut records: Vec<(Lsn, LogRecord)> = Vec::with_capacity(batch.len());
        for (lsn, bytes) in batch {
            match postcard::from_bytes(&bytes) {
                Ok(r) => records.push((lsn, r)),
                // Only Pharos writes the WAL, so this means a bug or disk corruption that the
                // frame checksum missed. Skipping keeps every other record available.
                Err(e) => tracing::error!(lsn, error = %e, "undecodable WAL record skipped"),
            }
        }
        let store = self.cfg.store.clone();
        records.sort_by_key(|(_, r)| store.partition_for(r.timestamp_ns));
        for (lsn, record) in records {
            self.index_one(lsn, record)?;
        }
        self.consumed = last;
        Ok(())
    }

    fn index_one(&mut self, lsn: Lsn, record: LogRecord) -> Result<(), IndexError> {
        let now = self.cfg.clock.now_ns();
        if super::retention::is_expired(
            record.timestamp_ns,
            record.severity_number,
            self.cfg.store.partition_len_ns(),
            now,
            &self.cfg.retention,
        ) {
            return Ok(());
        }
        if lsn <= self.replay_until && self.already_committed(lsn, record.timestamp_ns)? {
            return Ok(()); // committed before a crash: replay must not duplicate it
        }
        let id = self.cfg.store.partition_for(record.timestamp_ns);
        let schema = self.cfg.store.schema().clone();
        let w = self.writer_for(id)?;
        w.writer
            .add_document(to_document(&schema, lsn, &record))
            .map_err(|e| IndexError::tantivy(&w.partition.path, e))?;
        w.pending_lsn = Some(lsn);
        w.last_used = Instant::now();
        Ok(())
    }

    /// True when a partition that holds `ts_ns` has committed `lsn` or later. Records reach a
    /// partition in LSN order, so that partition holds this record. Every partition covering
    /// the time is asked, not only the one the current `index.partition_hours` picks: the
    /// record may have been indexed under another partition length before a restart.
    fn already_committed(&mut self, lsn: Lsn, ts_ns: i64) -> Result<bool, IndexError> {
        for p in self.cfg.store.overlapping(ts_ns, ts_ns.saturating_add(1)) {
            let committed = match self.writers.get(&p.id) {
                Some(w) => w.committed_lsn,
                None => match self.replay_committed.get(&p.id) {
                    Some(lsn) => *lsn,
                    None => {
                        let lsn = p.committed_lsn()?; // reads meta.json: once per partition
                        self.replay_committed.insert(p.id, lsn);
                        lsn
                    }
                },
            };
            if committed >= lsn {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn writer_for(&mut self, id: PartitionId) -> Result<&mut OpenWriter, IndexError> {
        if !self.writers.contains_key(&id) {
            let partition = self.cfg.store.get_or_create(id)?;
            let newest = id.end_ns() > self.cfg.clock.now_ns();
            let (threads, budget) = if newest {
                (
                    self.cfg.index.writer_threads,
                    self.cfg.index.writer_memory_mb * 1024 * 1024,
                )
            } else {
                self.make_room_for_a_side_writer()?;
                (1, SIDE_WRITER_BUDGET)
            };
            let writer = partition
                .index
                .writer_with_num_threads(threads, budget)
                .map_err(|e| IndexError::tantivy(&partition.path, e))?;
            let committed_lsn = partition.committed_lsn()?;
            self.writers.insert(
                id,
                OpenWriter {
                    partition,
                    writer,
                    committed_lsn,
                    pending_lsn: None,
                    last_used: Instant::now(),
                },
            );
            self.cfg
                .metrics
                .partitions
                .set(self.cfg.store.all().len() as i64);
            self.cfg
                .metrics
                .index_open_writers
                .set(self.writers.len() as i64);
        }
        self.writers
            .get_mut(&id)
            .ok_or_else(|| IndexError::Other("writer vanished".into()))
    }

    /// Closes the least recently used writer of an ended partition when MAX_SIDE_WRITERS are
    /// open, committing it first (a partition's commit records its own LSN, so committing one
    /// early keeps replay exact; the checkpoint waits for the next full round).
    fn make_room_for_a_side_writer(&mut self) -> Result<(), IndexError> {
        let now = self.cfg.clock.now_ns();
        let side: Vec<(PartitionId, Instant)> = self
            .writers
            .iter()
            .filter(|(id, _)| id.end_ns() <= now)
            .map(|(id, w)| (*id, w.last_used))
            .collect();
        if side.len() < MAX_SIDE_WRITERS {
            return Ok(());
        }
        match side.iter().min_by_key(|(_, used)| *used) {
            Some((oldest, _)) => self.close_writer(*oldest),
            None => Ok(()),
        }
    }

    /// Commits every partition with pending records, then checkpoints and trims the WAL.
    fn commit_all(&mut self) -> Result<(), IndexError> {
        self.last_commit = Instant::now();
        let started = Instant::now();
        let mut committed_any = false;
        for w in self.writers.values_mut() {
            committed_any |= w.commit()?;
        }
        if committed_any {
            self.cfg
                .metrics
                .index_commit_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        self.progress
            .committed_lsn
            .store(self.consumed, Ordering::SeqCst);
        if self.consumed > self.checkpoint {
            write_checkpoint(&self.checkpoint_path, self.consumed)?;
            self.checkpoint = self.consumed;
            self.cfg
                .wal
                .remove_segments_before(self.checkpoint + 1)
                .map_err(|e| IndexError::Other(format!("trimming the WAL: {e}")))?;
            self.cfg
                .metrics
                .wal_bytes
                .set(self.cfg.wal.disk_bytes() as i64);
        }
        Ok(())
    }

    fn publish_backlog(&self) {
        self.progress
            .consumed_lsn
            .store(self.consumed, Ordering::SeqCst);
        let backlog = self.cfg.wal.durable_lsn().saturating_sub(self.consumed);
        self.cfg.metrics.index_backlog_records.set(backlog as i64);
        let indexed = self.cfg.metrics.records_indexed.get();
        if self.consumed > indexed {
            self.cfg
                .metrics
                .records_indexed
                .inc_by(self.consumed - indexed);
        }
    }

    fn close_idle_writers(&mut self) -> Result<(), IndexError> {
        let idle = Duration::from_secs(self.cfg.index.idle_writer_close_secs);
        let now = self.cfg.clock.now_ns();
        self.close_writers(|w| w.partition.id.end_ns() <= now && w.last_used.elapsed() >= idle)
    }

    /// Commits and closes the writers selected. Committing first matters: a writer dropped
    /// with pending records would lose them while the next checkpoint counts them as indexed.
    fn close_writers(&mut self, select: impl Fn(&OpenWriter) -> bool) -> Result<(), IndexError> {
        let ids: Vec<PartitionId> = self
            .writers
            .iter()
            .filter(|(_, w)| select(w))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.close_writer(id)?;
        }
        Ok(())
    }

    fn close_writer(&mut self, id: PartitionId) -> Result<(), IndexError> {
        if let Some(mut w) = self.writers.remove(&id) {
            w.commit()?;
            w.writer
                .wait_merging_threads()
                .map_err(|e| IndexError::tantivy(&w.partition.path, e))?;
        }
        self.cfg
            .metrics
            .index_open_writers
            .set(self.writers.len() as i64);
        Ok(())
    }

    fn apply_retention(&mut self) -> Result<(), IndexError> {
        // Each action changes sizes, so plan again after each; bounded so a partition that
        // cannot shrink never loops forever.
        for _ in 0..1000 {
            let stats: Vec<PartitionStat> = self
                .cfg
                .store
                .all()
                .iter()
                .map(|p| PartitionStat {
                    id: p.id,
                    bytes: p.disk_bytes(),
                    errors_only: p.errors_only(),
                })
                .collect();
            let now = self.cfg.clock.now_ns();
            let Some(action) = plan_retention(&stats, now, &self.cfg.retention)
                .into_iter()
                .next()
            else {
                break;
            };
            match action {
                RetentionAction::Drop(id) => {
                    self.close_writers(|w| w.partition.id == id)?;
                    self.cfg.store.remove(id)?;
                    tracing::info!(partition = %id, "retention dropped partition");
                }
                RetentionAction::StripBelowError(id) => {
                    self.strip_below_error(id)?;
                    tracing::info!(partition = %id, "retention removed records below ERROR");
                }
            }
            self.cfg.metrics.retention_partitions_deleted.inc();
        }
        self.cfg
            .metrics
            .partitions
            .set(self.cfg.store.all().len() as i64);
        self.cfg
            .metrics
            .disk_used_bytes
            .set((self.cfg.store.disk_bytes() + self.cfg.wal.disk_bytes()) as i64);
        Ok(())
    }

    fn strip_below_error(&mut self, id: PartitionId) -> Result<(), IndexError> {
        let Some(partition) = self.cfg.store.get(id) else {
            return Ok(());
        };
        // Close the open writer if there is one: tantivy allows one writer per index.
        self.close_writers(|w| w.partition.id == id)?;
        let path = partition.path.clone();
        let t = |e| IndexError::tantivy(&path, e);
        let mut writer: IndexWriter<TantivyDocument> = partition
            .index
            .writer_with_num_threads(1, SIDE_WRITER_BUDGET)
            .map_err(t)?;
        let field = self.cfg.store.schema().severity;
        let below_error = RangeQuery::new(
            std::ops::Bound::Included(Term::from_field_u64(field, 0)),
            std::ops::Bound::Excluded(Term::from_field_u64(field, u64::from(SEVERITY_ERROR))),
        );
        writer.delete_query(Box::new(below_error)).map_err(t)?;
        // Keep the payload: the partition's committed LSN must survive for exact replay.
        let payload = commit_payload(partition.committed_lsn()?);
        let mut prepared = writer.prepare_commit().map_err(t)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(t)?;
        // Merging rewrites the segments without the deleted records: that is what frees disk.
        let segments = partition.index.searchable_segment_ids().map_err(t)?;
        if !segments.is_empty() {
            writer.merge(&segments).wait().map_err(t)?;
        }
        writer.wait_merging_threads().map_err(t)?;
        partition.mark_errors_only()?;
        partition.reader.reload().map_err(t)?;
        Ok(())
    }
}
