//! What a stopped server's metrics store holds, read from its files: sled's own size, the
//! encoded bytes (keys + values) of each tree, and the chunk files (closed raw chunks), with
//! the samples of the raw chunks and the buckets of the rollup blocks counted by decoding
//! them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use pharos_collector::tsdb::block::decode_block;
use pharos_collector::tsdb::chunkfile;
use pharos_collector::tsdb::gorilla::decode_chunk;
use pharos_collector::tsdb::index::decode_labels;
use pharos_collector::tsdb::kv::{get_u64, Kv, Tree};
use pharos_collector::tsdb::sled_kv::SledKv;
use serde::Serialize;

use super::data::{Dataset, ValueClass};
use crate::loadgen::proc;

/// Entries and bytes (keys + values) of one tree.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TreeBytes {
    pub entries: u64,
    pub bytes: u64,
}

/// The accounting of one store directory (`<data>/metrics/store`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreAccount {
    /// sled's `size_on_disk()`.
    pub sled_size_on_disk: u64,
    /// The files under the store directory.
    pub files_bytes: u64,
    pub series: u64,
    /// Samples in the raw chunks (decoded; chunk files and sled).
    pub raw_samples: u64,
    /// Raw chunks on disk: the chunk files' bytes (closed chunks, record and file headers
    /// included) plus the open chunks' keys and values in sled (and, in a store written
    /// before the chunk files, its closed ones).
    pub chunk_bytes: u64,
    pub chunks: u64,
    /// The chunk files' bytes (part of `chunk_bytes`).
    pub chunk_file_bytes: u64,
    /// Chunks in the chunk files (part of `chunks`).
    pub file_chunks: u64,
    pub minute_buckets: u64,
    pub minute_bytes: u64,
    pub hour_buckets: u64,
    pub hour_bytes: u64,
    /// Series, postings and label trees.
    pub index_bytes: u64,
    /// Every tree's encoded bytes.
    pub encoded_bytes: u64,
    /// Chunk bytes and samples per value class (series named as in the data set).
    pub chunks_by_class: BTreeMap<ValueClass, TreeBytes>,
}

impl StoreAccount {
    pub fn chunk_bytes_per_sample(&self) -> f64 {
        self.chunk_bytes as f64 / self.raw_samples.max(1) as f64
    }
    pub fn minute_bytes_per_bucket(&self) -> f64 {
        self.minute_bytes as f64 / self.minute_buckets.max(1) as f64
    }
    pub fn hour_bytes_per_bucket(&self) -> f64 {
        self.hour_bytes as f64 / self.hour_buckets.max(1) as f64
    }
}

fn sum_tree(
    kv: &dyn Kv,
    tree: Tree,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<TreeBytes> {
    let mut t = TreeBytes::default();
    for e in kv.scan_prefix(tree, &[]) {
        let (k, v) = e.with_context(|| format!("reading tree {tree:?}"))?;
        t.entries += 1;
        t.bytes += (k.len() + v.len()) as u64;
        each(&k, &v)?;
    }
    Ok(t)
}

/// Reads the store in `store_dir` (no process may have it open).
pub fn account(store_dir: &Path) -> Result<StoreAccount> {
    let kv = SledKv::open(&store_dir.join("kv"))
        .with_context(|| format!("opening {}", store_dir.display()))?;
    let mut a = StoreAccount {
        sled_size_on_disk: kv.size_on_disk()?,
        ..Default::default()
    };
    // id → class, from the series tree (value: kind byte, encoded labels).
    let mut class_of: HashMap<u64, ValueClass> = HashMap::new();
    let series = sum_tree(&kv, Tree::Series, |k, v| {
        let labels = decode_labels(v.get(1..).unwrap_or_default())?;
        if let Some(c) = Dataset::class_of(labels.metric_name()) {
            class_of.insert(get_u64(k, 0)?, c);
        }
        Ok(())
    })?;
    a.series = series.entries;
    let mut by_class: BTreeMap<ValueClass, TreeBytes> = BTreeMap::new();
    let mut samples = 0u64;
    let chunks = sum_tree(&kv, Tree::Chunks, |k, v| {
        let n = decode_chunk(v)?.len() as u64;
        samples += n;
        if let Some(c) = class_of.get(&get_u64(k, 0)?) {
            let t = by_class.entry(*c).or_default();
            t.entries += n;
            t.bytes += (k.len() + v.len()) as u64;
        }
        Ok(())
    })?;
    // The closed chunks: in the chunk files.
    let chunk_dir = store_dir.join(chunkfile::CHUNKS_DIR);
    for c in chunkfile::scan(&chunk_dir)? {
        let c = c.with_context(|| format!("reading the chunk files in {}", chunk_dir.display()))?;
        let n = decode_chunk(&c.bytes)?.len() as u64;
        samples += n;
        a.file_chunks += 1;
        if let Some(class) = class_of.get(&c.series) {
            let t = by_class.entry(*class).or_default();
            t.entries += n;
            t.bytes += c.disk_len;
        }
    }
    a.chunk_file_bytes = proc::dir_size(&chunk_dir)?;
    a.raw_samples = samples;
    a.chunks = chunks.entries + a.file_chunks;
    a.chunk_bytes = chunks.bytes + a.chunk_file_bytes;
    a.chunks_by_class = by_class;
    let mut buckets = 0u64;
    let minute = sum_tree(&kv, Tree::Minute, |_, v| {
        buckets += decode_block(v)?.len() as u64;
        Ok(())
    })?;
    a.minute_buckets = buckets;
    a.minute_bytes = minute.bytes;
    let mut buckets = 0u64;
    let hour = sum_tree(&kv, Tree::Hour, |_, v| {
        buckets += decode_block(v)?.len() as u64;
        Ok(())
    })?;
    a.hour_buckets = buckets;
    a.hour_bytes = hour.bytes;
    a.index_bytes = series.bytes;
    for tree in [Tree::SeriesByLabels, Tree::Postings] {
        a.index_bytes += sum_tree(&kv, tree, |_, _| Ok(()))?.bytes;
    }
    a.encoded_bytes = a.index_bytes + a.chunk_bytes + a.minute_bytes + a.hour_bytes;
    for tree in [
        Tree::Meta,
        Tree::Families,
        Tree::FamiliesByLabels,
        Tree::FamilyPostings,
        Tree::DistRaw,
        Tree::DistMinute,
        Tree::DistHour,
    ] {
        a.encoded_bytes += sum_tree(&kv, tree, |_, _| Ok(()))?.bytes;
    }
    drop(kv);
    a.files_bytes = proc::dir_size(store_dir)?;
    Ok(a)
}
