//! Raw-tantivy baseline: index the generated NDJSON lines in-process, with no
//! server, WAL or HTTP in the way, to give an upper bound for ingest speed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tantivy::schema::{
    Field, JsonObjectOptions, OwnedValue, Schema, FAST, INDEXED, STORED, STRING, TEXT,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings, IndexWriter, TantivyDocument};

use crate::gen::{parse_rfc3339_ns, Generator, DEFAULT_START_NS};
use crate::loadgen::proc;
use crate::loadgen::stats::{per_sec, MB, MIB};

#[derive(Clone, Debug)]
pub struct BaselineOpts {
    pub count: usize,
    pub seed: u64,
    /// Timestamp of the first record (unix ns); `None` = [`DEFAULT_START_NS`].
    pub start_ns: Option<i64>,
    pub threads: usize,
    pub budget_mb: usize,
    /// Doc store compression: "zstd", "lz4" or "none".
    pub compression: String,
}

/// Figures of one baseline run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BaselineResult {
    pub kind: String,
    pub count: usize,
    pub threads: usize,
    pub budget_mb: usize,
    pub compression: String,
    /// Timestamp of the first record (unix ns).
    #[serde(default)]
    pub start_ns: i64,
    pub raw_bytes: u64,
    pub secs: f64,
    pub docs_per_sec: f64,
    pub mb_per_sec: f64,
    pub index_bytes: u64,
    pub index_to_raw: f64,
    /// RSS right before the timed phase (includes the in-memory corpus).
    pub rss_before_mib: f64,
    pub peak_rss_mib: f64,
    pub peak_rss_reset: bool,
}

impl BaselineResult {
    pub fn human(&self) -> String {
        format!(
            "baseline: {} docs in {:.2}s = {:.0} docs/s, {:.1} MB/s raw JSON, index {:.1} MiB = {:.3}× raw ({:.1} MiB), peak RSS {:.0} MiB (corpus-resident before timing {:.0} MiB); {} threads, {} MB budget, {} docstore",
            self.count,
            self.secs,
            self.docs_per_sec,
            self.mb_per_sec,
            self.index_bytes as f64 / MIB,
            self.index_to_raw,
            self.raw_bytes as f64 / MIB,
            self.peak_rss_mib,
            self.rss_before_mib,
            self.threads,
            self.budget_mb,
            self.compression,
        )
    }
}

struct Fields {
    ts: Field,
    level: Field,
    service: Field,
    trace_id: Field,
    message: Field,
    attributes: Field,
    raw: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        ts: b.add_i64_field("ts", FAST | INDEXED),
        level: b.add_text_field("level", STRING | FAST),
        service: b.add_text_field("service", STRING | FAST),
        trace_id: b.add_text_field("trace_id", STRING | FAST),
        message: b.add_text_field("message", TEXT),
        attributes: b.add_json_field("attributes", JsonObjectOptions::from(TEXT)),
        raw: b.add_text_field("raw", STORED),
    };
    (b.build(), fields)
}

fn compressor(name: &str) -> Result<Compressor> {
    Ok(match name {
        "zstd" => Compressor::Zstd(ZstdCompressor::default()),
        "lz4" => Compressor::Lz4,
        "none" => Compressor::None,
        other => anyhow::bail!("unknown compression {other:?} (zstd|lz4|none)"),
    })
}

/// Turns one NDJSON line into a tantivy document (None for a malformed line).
fn line_to_doc(line: &str, f: &Fields) -> Option<TantivyDocument> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let serde_json::Value::Object(map) = value else {
        return None;
    };
    let mut doc = TantivyDocument::new();
    let mut attrs: BTreeMap<String, OwnedValue> = BTreeMap::new();
    for (k, v) in map {
        match (k.as_str(), v) {
            ("ts", serde_json::Value::String(s)) => {
                doc.add_i64(f.ts, parse_rfc3339_ns(&s)?);
            }
            ("level", serde_json::Value::String(s)) => doc.add_text(f.level, s),
            ("service", serde_json::Value::String(s)) => doc.add_text(f.service, s),
            ("trace_id", serde_json::Value::String(s)) => doc.add_text(f.trace_id, s),
            ("msg" | "message", serde_json::Value::String(s)) => doc.add_text(f.message, s),
            (_, v) => {
                attrs.insert(k, OwnedValue::from(v));
            }
        }
    }
    if !attrs.is_empty() {
        doc.add_object(f.attributes, attrs);
    }
    doc.add_text(f.raw, line);
    Some(doc)
}

/// Runs the baseline: generate (untimed), then parse + index + commit (timed).
pub fn run(opts: &BaselineOpts) -> Result<BaselineResult> {
    let start_ns = opts.start_ns.unwrap_or(DEFAULT_START_NS);
    let lines: Vec<String> = Generator::with_start(opts.seed, start_ns)
        .take(opts.count)
        .map(|r| r.to_ndjson())
        .collect();
    let raw_bytes: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();

    let dir = tempfile::Builder::new()
        .prefix("pharos-baseline-")
        .tempdir()
        .context("creating baseline temp dir")?;
    let (schema, fields) = schema();
    let settings = IndexSettings {
        docstore_compression: compressor(&opts.compression)?,
        ..Default::default()
    };
    let index = Index::builder()
        .schema(schema)
        .settings(settings)
        .create_in_dir(dir.path())
        .context("creating tantivy index")?;
    let threads = opts.threads.max(1);
    let budget = opts.budget_mb.max(1) * 1024 * 1024;

    let peak_rss_reset = proc::reset_self_peak_rss();
    let rss_before = proc::self_rss().unwrap_or(0);

    let start = Instant::now();
    let mut writer: IndexWriter<TantivyDocument> = index
        .writer_with_num_threads(threads, budget)
        .context("creating index writer")?;
    let mut bad = 0usize;
    for line in &lines {
        match line_to_doc(line, &fields) {
            Some(doc) => {
                writer.add_document(doc).context("add_document")?;
            }
            None => bad += 1,
        }
    }
    writer.commit().context("commit")?;
    let elapsed: Duration = start.elapsed();
    writer
        .wait_merging_threads()
        .context("waiting for merges")?;
    anyhow::ensure!(bad == 0, "{bad} generated lines failed to parse");

    let peak = proc::self_peak_rss().unwrap_or(0);
    let index_bytes = proc::dir_size(dir.path())?;
    Ok(BaselineResult {
        kind: "baseline".to_string(),
        count: opts.count,
        threads,
        budget_mb: opts.budget_mb,
        compression: opts.compression.clone(),
        start_ns,
        raw_bytes,
        secs: elapsed.as_secs_f64(),
        docs_per_sec: per_sec(opts.count as f64, elapsed),
        mb_per_sec: per_sec(raw_bytes as f64 / MB, elapsed),
        index_bytes,
        index_to_raw: index_bytes as f64 / raw_bytes.max(1) as f64,
        rss_before_mib: rss_before as f64 / MIB,
        peak_rss_mib: peak as f64 / MIB,
        peak_rss_reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_baseline_indexes_everything() {
        let opts = BaselineOpts {
            count: 2_000,
            seed: 1,
            start_ns: None,
            threads: 1,
            budget_mb: 50,
            compression: "zstd".to_string(),
        };
        let r = run(&opts).expect("baseline");
        assert_eq!(r.count, 2_000);
        assert!(r.index_bytes > 0);
        assert!(r.raw_bytes > 2_000 * 250);
    }

    #[test]
    fn doc_has_expected_fields() {
        let (_, f) = schema();
        let line = Generator::new(5).next_record().to_ndjson();
        let doc = line_to_doc(&line, &f).expect("doc");
        assert!(doc.get_first(f.ts).is_some());
        assert!(doc.get_first(f.attributes).is_some());
        assert!(line_to_doc("not json", &f).is_none());
    }
}
