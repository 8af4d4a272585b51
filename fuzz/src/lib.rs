//! What the fuzz targets share: the checks every normalised record must pass, and a tantivy
//! index in memory with the collector's log schema (records are indexed as the collector
//! indexes them; queries run on it as `pharos_query::exec::execute` runs them).

use std::sync::OnceLock;

use pharos_collector::index::schema::LogSchema;
use pharos_collector::normalize::{raw_display, rebuild, Parsed};
use pharos_collector::record::LogRecord;
use tantivy::directory::RamDirectory;
use tantivy::tokenizer::TokenizerManager;
use tantivy::Index;

/// The receive time the targets normalise with (2025-03-01T12:00:00Z).
pub const OBSERVED_NS: i64 = 1_740_830_400_000_000_000;

pub use pharos_collector::index::doc::to_document;

/// A new in-memory index with the log schema and its tokenizers.
pub fn new_index(schema: &LogSchema) -> Index {
    let index = Index::create_in_ram(schema.schema.clone());
    LogSchema::register_tokenizers(index.tokenizers());
    index
}

/// What the documented normaliser contract promises for a parsed body: one line number per
/// record, every record rebuilds from `(source, raw, observed_ns)` to itself (the index
/// stores only `raw`), and its stored original renders for people.
pub fn check_parsed(parsed: &Parsed) {
    assert_eq!(parsed.records.len(), parsed.lines.len());
    for r in &parsed.records {
        match rebuild(r.source, &r.raw, r.observed_ns) {
            Ok(again) => assert!(again == *r, "rebuilt differently:\n{r:?}\n{again:?}"),
            Err(e) => panic!("a record that normalised does not rebuild: {e}\n{r:?}"),
        }
        let _ = raw_display(r.source, &r.raw);
    }
}

/// Indexes the records as one segment of a new in-memory index (synchronously, in this
/// thread, so that a panic in indexing is the input's own), then opens it and counts them —
/// for one input in four: writing a segment costs about 5 ms whatever it holds (tantivy's
/// per-field term dictionary builders), ten times the rest of a normaliser target's work. The
/// choice goes by the input's length, so that a mutation keeping the length (most byte
/// changes) of an input that found something new in indexing is indexed too.
pub fn index_records(input: &[u8], records: &[LogRecord]) {
    if records.is_empty() || !input.len().is_multiple_of(4) {
        return;
    }
    static SCHEMA: OnceLock<LogSchema> = OnceLock::new();
    let schema = SCHEMA.get_or_init(LogSchema::new);
    let tokenizers = TokenizerManager::default();
    LogSchema::register_tokenizers(&tokenizers);
    let mut writer = Index::builder()
        .schema(schema.schema.clone())
        .tokenizers(tokenizers)
        .single_segment_index_writer(RamDirectory::create(), 1 << 20)
        .expect("index writer");
    for (i, r) in records.iter().enumerate() {
        writer
            .add_document(to_document(schema, i as u64, r))
            .expect("add_document");
    }
    let index = writer.finalize().expect("finalize the segment");
    let searcher = index.reader().expect("reader").searcher();
    assert_eq!(searcher.num_docs(), records.len() as u64);
}
