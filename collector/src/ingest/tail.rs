//! The live feed of acknowledged records, for live tail.
//!
//! Every batch that reaches the WAL is published once, as an `Arc`, on a broadcast channel:
//! publishing never blocks and never waits for a subscriber, so a slow tail client cannot slow
//! ingest. A subscriber that falls behind loses the oldest batches; because each batch carries
//! its first LSN and LSNs are consecutive, the subscriber knows exactly how many records it
//! missed and can say so.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::record::LogRecord;
use crate::wal::Lsn;

/// Batches kept for subscribers that fall behind (each batch is one ingest request).
const FEED_CAPACITY: usize = 1024;

/// One acknowledged ingest batch: records with the consecutive LSNs `first_lsn..`.
#[derive(Debug)]
pub struct TailBatch {
    pub first_lsn: Lsn,
    pub records: Vec<LogRecord>,
}

/// The publishing side, owned by the ingestor.
#[derive(Clone)]
pub struct TailFeed {
    tx: broadcast::Sender<Arc<TailBatch>>,
}

impl Default for TailFeed {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        TailFeed { tx }
    }
}

impl TailFeed {
    /// Publishes a batch if anyone is listening (the records are cloned only then).
    pub fn publish(&self, first_lsn: Lsn, records: &[LogRecord]) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let _ = self.tx.send(Arc::new(TailBatch {
            first_lsn,
            records: records.to_vec(),
        }));
    }

    /// A new subscriber sees batches acknowledged from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TailBatch>> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
