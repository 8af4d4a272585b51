//! Log query text → `lang::parse`; what parses must print back to text that parses and
//! prints the same, and is prepared (`exec::prepare`) for a request; what prepares is
//! compiled and run (as `exec::execute` runs it: counted, or aggregated into a table) on an
//! in-memory index with a few records, and evaluated on each record as live tail does.
//! Errors are answers; a panic, an abort or a slow input is a bug.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use pharos_collector::clock::NANOS_PER_DAY;
use pharos_collector::index::LogSchema;
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::record::LogRecord;
use pharos_fuzz::{new_index, to_document, OBSERVED_NS};
use pharos_query::agg::AggCollector;
use pharos_query::compile::{compile, time_range};
use pharos_query::eval::Matcher;
use pharos_query::exec::{prepare, Mode, QueryRequest};
use pharos_query::lang;
use pharos_query::table::finish_table;
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::Searcher;

const RECORDS: &[&str] = &[
    r#"{"ts":"2025-03-01T11:00:00Z","level":"info","service":"api","host":"h1","msg":"GET /checkout 200 in 12ms","status":200,"duration_ms":12.5,"user":{"id":"u-42","plan":"pro"},"trace_id":"5b8efff798038103d269b633813fc60c","request_id":"req-1"}"#,
    r#"{"ts":1740826800123456789,"level":"ERROR","service":"api-gw","host":"h2","msg":"payment refused: card declined","status":502,"duration_ms":1500,"tags":["a","b"],"retry":true}"#,
    r#"{"timestamp":"2025-03-01T11:59:59.5+00:00","severity":"warn","service":"web","message":"cache miss for key k1","http.route":"/api/*","attempt":3,"ratio":0.25,"empty":null}"#,
    r#"{"time":"2025-02-28T23:00:00Z","level":"debug","service":"billing","msg":"login ok","nested":{"a":{"b":{"c":1}}},"correlation_id":"c-9"}"#,
];

struct Fixture {
    schema: LogSchema,
    searcher: Searcher,
    records: Vec<LogRecord>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let schema = LogSchema::new();
        let index = new_index(&schema);
        let mut writer: tantivy::IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .expect("index writer");
        let records: Vec<LogRecord> = RECORDS
            .iter()
            .map(|text| normalize_json_object(text, OBSERVED_NS).expect("fixture record"))
            .collect();
        // Two segments, so aggregations merge per-segment results.
        for (i, r) in records.iter().enumerate() {
            writer
                .add_document(to_document(&schema, i as u64 + 1, r))
                .expect("add_document");
            if i == 1 {
                writer.commit().expect("commit");
            }
        }
        writer.commit().expect("commit");
        writer.wait_merging_threads().expect("merging threads");
        let searcher = index.reader().expect("reader").searcher();
        Fixture {
            schema,
            searcher,
            records,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ast = match lang::parse(text) {
        Ok(ast) => ast,
        Err(e) => {
            // The documented error contract: a byte offset on a character boundary, and the
            // same place as a 1-based character column.
            assert!(e.position <= text.len(), "{e:?}");
            assert!(text.is_char_boundary(e.position), "{e:?}");
            assert_eq!(e.column, text[..e.position].chars().count() + 1, "{e:?}");
            assert!(!e.message.is_empty());
            return;
        }
    };
    let printed = ast.to_string();
    match lang::parse(&printed) {
        Ok(again) => assert_eq!(
            again.to_string(),
            printed,
            "{text:?} printed as {printed:?}, which prints differently once parsed"
        ),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }

    let now = OBSERVED_NS;
    let req = QueryRequest {
        start_ns: Some(now - NANOS_PER_DAY),
        end_ns: Some(now),
        limit: 100,
        now_ns: now,
        budget: Default::default(),
    };
    let Ok(prepared) = prepare(&ast, &req) else {
        return;
    };
    let f = fixture();
    let mut live = Matcher::new(prepared.filter.clone());
    for (i, r) in f.records.iter().enumerate() {
        let _ = live.matches(r, i as u64 + 1);
    }
    let Ok(compiled) = compile(&f.schema, &prepared.filter) else {
        return;
    };
    let (start, end) = (prepared.start, prepared.end);
    if start >= end {
        return;
    }
    let q: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
        (Occur::Must, compiled),
        (Occur::Must, time_range(&f.schema, start, end)),
    ]));
    match &prepared.mode {
        Mode::Table(shape) => {
            let collector = (
                AggCollector {
                    plan: Arc::new(shape.plan.clone()),
                },
                Count,
            );
            if let Ok((fruit, total)) = f.searcher.search(&q, &collector) {
                let _ = finish_table(shape, fruit, total as u64);
            }
        }
        Mode::Hits { .. } => {
            let _ = f.searcher.search(&q, &Count);
        }
    }
});
