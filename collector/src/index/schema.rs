//! The tantivy schema of a log partition, and the tokenizers it needs.
//!
//! Only the original record (`raw`) is stored; every other field is indexed and/or a fast
//! (columnar) field. A hit is rebuilt from `raw` by the deterministic normaliser, so the
//! doc store holds each record once.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, STORED,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer, TokenizerManager};

/// Bumped whenever the on-disk layout of partitions changes incompatibly.
pub const INDEX_FORMAT_VERSION: u32 = 2;

/// Tokenizer for keyword fields that match case-insensitively (`level:ERROR` = `level:error`).
pub const KEYWORD_LOWER: &str = "keyword_lower";

/// Field handles of the log schema.
#[derive(Clone, Debug)]
pub struct LogSchema {
    pub schema: Schema,
    /// WAL sequence number: the stable record id.
    pub lsn: Field,
    /// Event time, Unix ns.
    pub ts: Field,
    pub observed: Field,
    /// OTLP severity number.
    pub severity: Field,
    /// Canonical level name (trace/debug/info/warn/error/fatal/unspecified).
    pub level: Field,
    pub service: Field,
    pub host: Field,
    pub trace_id: Field,
    // No span_id field: span ids are unique per record and their term dictionary would cost as
    // much as the message's whole index; a span is found through its trace, and its id is in
    // `raw` (and so in every hit).
    pub correlation_id: Field,
    /// Full-text message.
    pub message: Field,
    pub attributes: Field,
    pub resource: Field,
    /// Which normaliser rebuilds `raw` (see `record::Source`).
    pub source: Field,
    /// The original record (bytes: JSON text or OTLP protobuf, see `record::Source`), stored
    /// with zstd and not indexed.
    pub raw: Field,
}

impl LogSchema {
    pub fn new() -> LogSchema {
        let mut b = Schema::builder();
        let fast_indexed = NumericOptions::default().set_fast().set_indexed();
        let fast_only = NumericOptions::default().set_fast();
        let keyword = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false), // keywords are matched, never scored
            )
            .set_fast("raw");
        let keyword_lower = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(KEYWORD_LOWER)
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            )
            .set_fast("raw"); // values are already the canonical lowercase names
        let full_text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("default")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        // Attributes and resource: every value is a keyword matched exactly (`user.id:u-42`,
        // `http.route:/api/*` by prefix), numbers are numeric terms, and every path is a fast
        // (columnar) field so the query layer aggregates them (`avg(duration_ms)`, `by
        // (http.route)`) without reading stored documents. This is Quickwit's default for
        // dynamic fields; full text is for the message.
        let json = JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            )
            .set_fast("raw")
            .set_expand_dots_enabled();

        // Range queries on fast fields use the columnar data, so the time and the record id
        // need no term dictionary (each value is unique: it would be the largest one).
        let lsn = b.add_u64_field("lsn", fast_only.clone());
        let ts = b.add_i64_field("ts", fast_only.clone());
        let observed = b.add_i64_field("observed", fast_only.clone());
        let severity = b.add_u64_field("severity", fast_indexed);
        let level = b.add_text_field("level", keyword_lower);
        let service = b.add_text_field("service", keyword.clone());
        let host = b.add_text_field("host", keyword.clone());
        let trace_id = b.add_text_field("trace_id", keyword.clone());
        let correlation_id = b.add_text_field("correlation_id", keyword);
        let message = b.add_text_field("message", full_text);
        let attributes = b.add_json_field("attributes", json.clone());
        let resource = b.add_json_field("resource", json);
        let source = b.add_u64_field("source", fast_only);
        let raw = b.add_bytes_field("raw", STORED);
        LogSchema {
            schema: b.build(),
            lsn,
            ts,
            observed,
            severity,
            level,
            service,
            host,
            trace_id,
            correlation_id,
            message,
            attributes,
            resource,
            source,
            raw,
        }
    }

    /// Registers the tokenizers this schema refers to on an index's manager.
    pub fn register_tokenizers(manager: &TokenizerManager) {
        manager.register(
            KEYWORD_LOWER,
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
    }
}

impl Default for LogSchema {
    fn default() -> Self {
        LogSchema::new()
    }
}
