//! The baseline: the same samples inserted straight into sled 0.34 (configured as the metrics
//! store configures it: 64 MiB cache, no background flush), one `apply_batch` per request of
//! the plan, one thread per connection, then one `flush`. Key: series index (8 bytes BE) +
//! timestamp (8 bytes BE); value: the f64 (8 bytes).

use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::data::{Dataset, Slice};
use crate::loadgen::proc;
use crate::loadgen::stats::per_sec;

#[derive(Clone, Debug, Serialize)]
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
}

impl SledResult {
    pub fn human(&self) -> String {
        format!(
            "raw sled: {} samples in {:.2} s ({:.2} s of it the final flush) = {:.0} samples/s; size_on_disk {:.1} B/sample, files {:.1} B/sample",
            self.samples,
            self.secs,
            self.flush_secs,
            self.samples_per_sec,
            self.size_on_disk as f64 / self.samples.max(1) as f64,
            self.files_bytes as f64 / self.samples.max(1) as f64
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
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(None)
        .open()
        .context("opening sled")?;
    let samples: u64 = plan.iter().flatten().map(|s| s.samples() as u64).sum();
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
    drop(db);
    let files_bytes = proc::dir_size(dir.path())?;
    Ok(SledResult {
        samples,
        secs: elapsed.as_secs_f64(),
        samples_per_sec: per_sec(samples as f64, elapsed),
        flush_secs: (elapsed - inserted).as_secs_f64(),
        size_on_disk,
        files_bytes,
    })
}
