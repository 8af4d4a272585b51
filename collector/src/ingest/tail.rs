//! The live feed of acknowledged records, for live tail.
//!
//! Every batch that reaches the WAL is published once, as an `Arc`, on a broadcast channel:
//! publishing never blocks and never waits for a subscriber, so a slow tail client cannot slow
//! ingest. A subscriber that falls behind loses the oldest batches; because each batch carries
//! the running count of records published before it, the subscriber knows exactly how many
//! records it missed and can say so.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::record::LogRecord;
use crate::wal::Lsn;

/// Batches kept for subscribers that fall behind (each batch is one ingest request).
const FEED_CAPACITY: usize = 1024;

/// One acknowledged ingest batch: records with the consecutive LSNs `first_lsn..`.
#[derive(Debug)]
pub struct TailBatch {
    pub first_lsn: Lsn,
    /// Records published on the feed before this batch (consecutive across batches, in
    /// channel order, unlike LSNs of concurrent requests).
    pub seq: u64,
    pub records: Vec<LogRecord>,
}

/// The publishing side, owned by the ingestor.
#[derive(Clone)]
pub struct TailFeed {
    tx: broadcast::Sender<Arc<TailBatch>>,
    published: Arc<parking_lot::Mutex<u64>>,
    /// Set at shutdown: live-tail streams end, so their connections do not hold the server's
    /// graceful shutdown open.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for TailFeed {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        TailFeed {
            tx,
            published: Arc::default(),
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

impl TailFeed {
    /// Publishes a batch if anyone is listening (the records are cloned only then).
    pub fn publish(&self, first_lsn: Lsn, records: &[LogRecord]) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        // Sequence numbers are taken and sent under one lock so channel order = seq order.
        let mut published = self.published.lock();
        let seq = *published;
        *published += records.len() as u64;
        let _ = self.tx.send(Arc::new(TailBatch {
            first_lsn,
            seq,
            records: records.to_vec(),
        }));
    }

    /// A new subscriber sees batches acknowledged from now on; the second value is the `seq`
    /// its first batch will have unless it falls behind at once.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<TailBatch>>, u64) {
        let published = self.published.lock();
        (self.tx.subscribe(), *published)
    }

    /// Tells every subscriber to finish (the server is shutting down).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once [`TailFeed::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.subscribe();
        async move {
            let _ = rx.wait_for(|closed| *closed).await;
        }
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize_json_object;

    #[test]
    fn a_subscriber_that_falls_behind_can_count_what_it_missed() {
        let feed = TailFeed::default();
        let r = normalize_json_object(r#"{"msg":"x"}"#, 1).expect("record");
        feed.publish(1, std::slice::from_ref(&r)); // nobody listens: not kept
        let (mut rx, start) = feed.subscribe();
        assert_eq!(start, 0);
        let batches = FEED_CAPACITY + 10;
        for i in 0..batches {
            feed.publish(10 + 2 * i as u64, &[r.clone(), r.clone()]);
        }
        // The 10 oldest batches are gone; the first one left says how many records came before.
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(10))
        ));
        let first = rx.try_recv().expect("a batch");
        assert_eq!(first.seq - start, 20, "10 batches of 2 records missed");
        assert_eq!(first.first_lsn, 30);
    }
}
