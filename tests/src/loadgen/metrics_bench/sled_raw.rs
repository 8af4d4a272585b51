//! The baseline: the same samples inserted straight into sled 0.34 (configured as the metrics
//! store configures it: 64 MiB cache, no background flush), one `apply_batch` per request of
//! the plan, one thread per connection, then one `flush`. Key: series index (8 bytes BE) +
//! timestamp (8 bytes BE); value: the f64 (8 bytes).

use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::data::{Dataset, Slice};
use crate::loadgen::proc;
use crate::loadgen::stats::{per_sec, MIB};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SledResult {
    pub samples: u64,
    pub secs: f64,
    pub samples_per_sec: f64,
    /// Of `secs`: the final `flush`.
    pub flush_secs: f64,
    /// sled's `size_on_disk()` after the flush.
    pub size_on_disk: u64,
    /// The files of the database directory.
    pub files_bytes: u64,
    /// This process's resident memory before the inserts and its peak during them (the
    /// peak is reset first where Linux allows; otherwise it is the process's peak so far).
    pub rss_before_bytes: u64,
    pub peak_rss_bytes: u64,
}

impl SledResult {
    pub fn human(&self) -> String {
        format!(
            "raw sled: {} samples in {:.2} s ({:.2} s of it the final flush) = {:.0} samples/s; size_on_disk {:.1} B/sample, files {:.1} B/sample; process RSS {:.0} MiB before, peak {:.0} MiB",
            self.samples,
            self.secs,
            self.flush_secs,
            self.samples_per_sec,
            self.size_on_disk as f64 / self.samples.max(1) as f64,
            self.files_bytes as f64 / self.samples.max(1) as f64,
            self.rss_before_bytes as f64 / MIB,
            self.peak_rss_bytes as f64 / MIB,
        )
    }
}

fn batch_of(ds: &Dataset, slice: &Slice) -> sled::Batch {
    let mut b = sled::Batch::default();
    for &i in &slice.series {
        for j in slice.from..slice.to {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            k[8..].copy_from_slice(&(ds.ts(j) as u64).to_be_bytes());
            b.insert(&k[..], &ds.values[i][j].to_be_bytes()[..]);
        }
    }
    b
}

/// Inserts the plan's samples into a fresh sled database in a temp dir.
pub fn run(ds: &Dataset, plan: &[Vec<Slice>]) -> Result<SledResult> {
    let dir = tempfile::Builder::new()
        .prefix("pharos-mbench-sled-")
        .tempdir()
        .context("creating a temp dir")?;
    // sled's defaults (1 GiB cache, a background flush every 500 ms). Without the background
    // flush (as the metrics store opens it: it flushes at each checkpoint), sled 0.34 holds
    // every write in memory until the final flush: ~2.6 KB per sample here, 19 GB for 7.2 M.
    let db = sled::Config::new()
        .path(dir.path())
        .open()
        .context("opening sled")?;
    let samples: u64 = plan.iter().flatten().map(|s| s.samples() as u64).sum();
    proc::reset_self_peak_rss();
    let rss_before_bytes = proc::self_rss().unwrap_or(0);
    let start = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let handles: Vec<_> = plan
            .iter()
            .map(|slices| {
                let db = &db;
                scope.spawn(move || -> Result<()> {
                    for s in slices {
                        db.apply_batch(batch_of(ds, s))
                            .context("sled apply_batch")?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a sled insert thread panicked"))??;
        }
        Ok(())
    })?;
    let inserted = start.elapsed();
    db.flush().context("sled flush")?;
    let elapsed = start.elapsed();
    let size_on_disk = db.size_on_disk().context("sled size_on_disk")?;
    let peak_rss_bytes = proc::self_peak_rss().unwrap_or(0);
    drop(db);
    let files_bytes = proc::dir_size(dir.path())?;
    Ok(SledResult {
        samples,
        secs: elapsed.as_secs_f64(),
        samples_per_sec: per_sec(samples as f64, elapsed),
        flush_secs: (elapsed - inserted).as_secs_f64(),
        size_on_disk,
        files_bytes,
        rss_before_bytes,
        peak_rss_bytes,
    })
}
