//! Entries and encoded bytes (keys + values) per tree of a metrics store, sled's size, and
//! the chunk files (closed raw chunks):
//! `cargo run --release -p pharos-tests --example tree_sizes -- <store dir>`.
use pharos_collector::tsdb::chunkfile;
use pharos_collector::tsdb::kv::{Kv, Tree};
use pharos_collector::tsdb::sled_kv::SledKv;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: tree_sizes <store dir>"))?;
    let kv = SledKv::open(&std::path::Path::new(&dir).join("kv"))?;
    let mut total = 0u64;
    for tree in [
        Tree::Meta,
        Tree::Series,
        Tree::SeriesByLabels,
        Tree::Postings,
        Tree::Chunks,
        Tree::Minute,
        Tree::Hour,
        Tree::FiveMinute,
        Tree::FiveMinuteOpen,
    ] {
        let (mut n, mut bytes) = (0u64, 0u64);
        for e in kv.scan_prefix(tree, &[]) {
            let (k, v) = e?;
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        total += bytes;
        println!("{tree:?}: {n} entries, {:.1} MiB", bytes as f64 / 1048576.0);
    }
    let (mut n, mut bytes) = (0u64, 0u64);
    let chunk_dir = std::path::Path::new(&dir).join(chunkfile::CHUNKS_DIR);
    for c in chunkfile::scan(&chunk_dir)? {
        n += 1;
        bytes += c?.disk_len;
    }
    total += bytes;
    println!(
        "chunk files: {n} chunks, {:.1} MiB",
        bytes as f64 / 1048576.0
    );
    println!(
        "encoded total {:.1} MiB; sled size_on_disk {:.1} MiB",
        total as f64 / 1048576.0,
        kv.size_on_disk()? as f64 / 1048576.0
    );
    Ok(())
}
