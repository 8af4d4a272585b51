//! Every construct of the query language against a small corpus with known content, over
//! three day partitions, with the exact expected result.

mod common;

use pharos_collector::clock::{rfc3339, NANOS_PER_DAY};
use pharos_query::exec::{run, QueryRequest, QueryResult};
use pharos_query::QueryError;
use serde_json::{json, Value};

use common::{DAY0, HOUR, NOW};

fn t(day: i64, hour: i64) -> i64 {
    (DAY0 + day) * NANOS_PER_DAY + hour * HOUR
}

/// r1..r8: name, time, and the JSON line.
fn corpus() -> Vec<(&'static str, String)> {
    let rows = [
        (
            "r1",
            t(0, 1),
            json!({"level":"info","service":"api","host":"h1","msg":"user alice logged in","trace_id":"0af7651916cd43dd8448eb211c80319c","http.status_code":200,"duration_ms":12.5,"user":"alice","path":"/api/users"}),
        ),
        (
            "r2",
            t(0, 2),
            json!({"level":"error","service":"api","host":"h1","msg":"connection refused by upstream db","trace_id":"0af7651916cd43dd8448eb211c80319c","http":{"status_code":500},"duration_ms":950,"path":"/api/orders"}),
        ),
        (
            "r3",
            t(0, 3),
            json!({"level":"warn","service":"web","host":"h2","msg":"slow response from upstream","http":{"status_code":200},"duration_ms":720.25,"path":"/home"}),
        ),
        (
            "r4",
            t(1, 1),
            json!({"level":"debug","service":"web","host":"h2","msg":"cache miss for key user:42","cache":{"hit":false}}),
        ),
        (
            "r5",
            t(1, 5),
            json!({"level":"error","service":"billing","host":"h3","msg":"payment declined: card expired","http.status_code":402,"duration_ms":88,"user":"bob","correlation_id":"C9"}),
        ),
        (
            "r6",
            t(1, 6),
            json!({"level":"fatal","service":"billing","host":"h3","msg":"payment service crashed","http.status_code":503}),
        ),
        (
            "r7",
            t(2, 1),
            json!({"level":"info","service":"api-gw","host":"h1","msg":"request forwarded to api","http.status_code":201,"duration_ms":5,"user":"u-42"}),
        ),
        (
            "r8",
            t(2, 2),
            json!({"level":"trace","service":"api-gw","host":"h1","msg":"Connection Refused while forwarding","http.status_code":"500","path":"/api/orders/7"}),
        ),
    ];
    rows.into_iter()
        .map(|(name, ts, mut v)| {
            v["ts"] = json!(ts);
            (name, v.to_string())
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    c: pharos_collector::Collector,
    names: Vec<(String, &'static str)>,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = common::open(dir.path()).await;
        let corpus = corpus();
        let lines: Vec<String> = corpus.iter().map(|(_, l)| l.clone()).collect();
        // Sent in two requests, out of time order.
        let mut reversed = lines.clone();
        reversed.reverse();
        common::ingest(&c, &reversed, 2).await;
        let names = corpus
            .iter()
            .map(|(n, l)| {
                let v: Value = serde_json::from_str(l).expect("json");
                (v["msg"].as_str().unwrap_or("").to_string(), *n)
            })
            .collect();
        Fixture {
            _dir: dir,
            c,
            names,
        }
    }

    fn run(&self, q: &str) -> Result<QueryResult, QueryError> {
        let req = QueryRequest {
            start_ns: None,
            end_ns: None,
            limit: 100,
            now_ns: NOW,
            budget: Default::default(),
        };
        run(&self.c.store, q, &req).map(|r| r.result)
    }

    /// The names of the hits, newest first.
    fn hits(&self, q: &str) -> Vec<&'static str> {
        match self.run(q) {
            Ok(QueryResult::Hits { total, hits }) => {
                assert!(total as usize >= hits.len(), "{q}: total");
                hits.iter()
                    .map(|h| {
                        let msg = h["message"].as_str().unwrap_or("");
                        self.names
                            .iter()
                            .find(|(m, _)| m == msg)
                            .map(|(_, n)| *n)
                            .unwrap_or("?")
                    })
                    .collect()
            }
            other => panic!("{q}: {other:?}"),
        }
    }

    fn table(&self, q: &str) -> (Vec<String>, Vec<Vec<Value>>) {
        match self.run(q) {
            Ok(QueryResult::Table { columns, rows, .. }) => (columns, rows),
            other => panic!("{q}: {other:?}"),
        }
    }

    fn error(&self, q: &str) -> (String, usize) {
        match self.run(q) {
            Err(QueryError::Syntax(e)) => (e.message.clone(), e.position),
            Err(QueryError::Invalid { message, position }) => (message, position),
            other => panic!("{q}: expected an error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_construct_returns_exactly_the_right_records() {
    let f = Fixture::new().await;
    let cases: &[(&str, &[&str])] = &[
        ("", &["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]),
        ("*", &["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]),
        // Free words and phrases: the message, case-insensitive, words in order.
        ("refused", &["r8", "r2"]),
        ("REFUSED", &["r8", "r2"]),
        ("\"connection refused\"", &["r8", "r2"]),
        ("\"refused connection\"", &[]),
        ("payment crashed", &["r6"]),
        ("message:pay*", &["r6", "r5"]),
        ("message:/up.*/", &["r3", "r2"]),
        // Keywords: exact, prefix, anchored regex.
        ("service:api", &["r2", "r1"]),
        ("service:API", &[]),
        ("service:api*", &["r8", "r7", "r2", "r1"]),
        ("service:/api-.*/", &["r8", "r7"]),
        ("service:/gw/", &[]),
        ("service:\"api-gw\"", &["r8", "r7"]),
        ("host:h3", &["r6", "r5"]),
        ("trace_id:0af7651916cd43dd8448eb211c80319c", &["r2", "r1"]),
        ("correlation_id:C9", &["r5"]),
        // Attributes: numbers match as numbers (and the string "500" as text).
        ("http.status_code:500", &["r8", "r2"]),
        ("attributes.http.status_code:500", &["r8", "r2"]),
        ("http.status_code:>=500", &["r6", "r2"]),
        ("http.status_code:[200 TO 299]", &["r7", "r3", "r1"]),
        ("http.status_code:{200 TO 500}", &["r7", "r5"]),
        ("http.status_code:[500 TO *]", &["r6", "r2"]),
        ("duration_ms:>100", &["r3", "r2"]),
        ("duration_ms:>=12.5", &["r5", "r3", "r2", "r1"]),
        ("duration_ms:<=12.5", &["r7", "r1"]),
        ("user:*", &["r7", "r5", "r1"]),
        ("http:*", &["r8", "r7", "r6", "r5", "r3", "r2", "r1"]),
        ("cache.hit:false", &["r4"]),
        ("user:u-*", &["r7"]),
        ("user:/[ab].*/", &["r5", "r1"]),
        ("path:/\\/api\\/.*/", &["r8", "r2", "r1"]),
        // Levels.
        ("level:error", &["r5", "r2"]),
        ("level:ERROR", &["r5", "r2"]),
        ("level:>=error", &["r6", "r5", "r2"]),
        ("level:>warn", &["r6", "r5", "r2"]),
        ("level:<info", &["r8", "r4"]),
        ("level:[debug TO info]", &["r7", "r4", "r1"]),
        // Boolean logic.
        ("service:api AND level:error", &["r2"]),
        ("service:api level:error", &["r2"]),
        ("payment OR cache", &["r6", "r5", "r4"]),
        ("api -service:api", &["r7"]),
        ("NOT user:*", &["r8", "r6", "r4", "r3", "r2"]),
        ("-user:*", &["r8", "r6", "r4", "r3", "r2"]),
        (
            "service:(web OR billing) AND level:>=warn",
            &["r6", "r5", "r3"],
        ),
        ("(refused OR crashed) AND NOT level:fatal", &["r8", "r2"]),
        ("host:h1 payment", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(f.hits(q), *want, "query {q:?}");
    }
    // Time in the query.
    let q = format!(
        "_time:>={} AND _time:<{}",
        rfc3339(t(1, 0)),
        rfc3339(t(2, 0))
    );
    assert_eq!(f.hits(&q), ["r6", "r5", "r4"]);
    let q = format!("_time:[{} TO now]", rfc3339(t(2, 0)));
    assert_eq!(f.hits(&q), ["r8", "r7"]);
    assert_eq!(f.hits("_time:>=now-22h"), ["r8", "r7"]); // now = day 2, 23:00
    assert_eq!(f.hits("_time:>now-22h"), ["r8"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipes_compute_exact_rows() {
    let f = Fixture::new().await;
    let (cols, rows) = f.table("* | stats count() by service");
    assert_eq!(cols, ["service", "count"]);
    assert_eq!(
        rows,
        vec![
            vec![json!("api"), json!(2)],
            vec![json!("api-gw"), json!(2)],
            vec![json!("billing"), json!(2)],
            vec![json!("web"), json!(2)],
        ]
    );
    let (cols, rows) = f.table(
        "* | stats avg(duration_ms), p50(duration_ms), min(duration_ms), max(duration_ms), sum(duration_ms) as total, count_distinct(user), count(user)",
    );
    assert_eq!(
        cols,
        [
            "avg(duration_ms)",
            "p50(duration_ms)",
            "min(duration_ms)",
            "max(duration_ms)",
            "total",
            "count_distinct(user)",
            "count(user)"
        ]
    );
    assert_eq!(
        rows,
        vec![vec![
            json!(355.15),
            json!(88.0),
            json!(5.0),
            json!(950.0),
            json!(1775.75),
            json!(3),
            json!(3)
        ]]
    );
    // p95 of [5, 12.5, 88, 720.25, 950]: rank 3.8 → 720.25 + 0.8 × 229.75
    let (_, rows) = f.table("* | stats p95(duration_ms), p99(duration_ms)");
    assert_eq!(rows[0][0], json!(720.25 + 0.8 * 229.75));
    assert_eq!(rows[0][1], json!(720.25 + 0.96 * 229.75));

    let (cols, rows) = f.table("level:>=error | stats count() by service, level");
    assert_eq!(cols, ["service", "level", "count"]);
    assert_eq!(
        rows,
        vec![
            vec![json!("api"), json!("error"), json!(1)],
            vec![json!("billing"), json!("error"), json!(1)],
            vec![json!("billing"), json!("fatal"), json!(1)],
        ]
    );
    // Records without the field form a null group, last.
    let (_, rows) = f.table("* | stats count() by user");
    assert_eq!(rows.last(), Some(&vec![json!(null), json!(5)]));

    let (cols, rows) = f.table("* | top 1 host");
    assert_eq!(cols, ["host", "count"]);
    assert_eq!(rows, vec![vec![json!("h1"), json!(4)]]);
    let (_, rows) = f.table("* | top 2 service");
    assert_eq!(
        rows,
        vec![
            vec![json!("api"), json!(2)],
            vec![json!("api-gw"), json!(2)]
        ]
    );

    let (_, rows) =
        f.table("* | stats count() by service | sort by count desc, service desc | limit 1");
    assert_eq!(rows, vec![vec![json!("web"), json!(2)]]);
    let (cols, rows) = f.table(
        "* | stats count() as n, max(duration_ms) by host | sort by n desc | fields host, n",
    );
    assert_eq!(cols, ["host", "n"]);
    assert_eq!(rows[0], vec![json!("h1"), json!(4)]);

    // No match: one row of zeros for a global stats.
    let (_, rows) = f.table("nosuchword | stats count(), avg(duration_ms)");
    assert_eq!(rows, vec![vec![json!(0), json!(null)]]);

    // Timechart over the three days, by level; empty buckets filled.
    let req = QueryRequest {
        start_ns: Some(t(0, 0)),
        end_ns: Some(t(3, 0)),
        limit: 100,
        now_ns: NOW,
        budget: Default::default(),
    };
    let r = run(
        &f.c.store,
        "level:>=error | timechart span=1d count() by level",
        &req,
    )
    .expect("timechart")
    .result;
    let QueryResult::Table {
        columns,
        rows,
        span_ms,
        ..
    } = r
    else {
        panic!("table")
    };
    assert_eq!(columns, ["_time", "level", "count"]);
    assert_eq!(span_ms, Some(86_400_000));
    assert_eq!(
        rows,
        vec![
            vec![json!(rfc3339(t(0, 0))), json!("error"), json!(1)],
            vec![json!(rfc3339(t(0, 0))), json!("fatal"), json!(0)],
            vec![json!(rfc3339(t(1, 0))), json!("error"), json!(1)],
            vec![json!(rfc3339(t(1, 0))), json!("fatal"), json!(1)],
            vec![json!(rfc3339(t(2, 0))), json!("error"), json!(0)],
            vec![json!(rfc3339(t(2, 0))), json!("fatal"), json!(0)],
        ]
    );
    // Without span= the span follows the range (3 days / 100 → 1 h).
    let r = run(&f.c.store, "* | timechart count()", &req)
        .expect("timechart")
        .result;
    let QueryResult::Table { rows, span_ms, .. } = r else {
        panic!("table")
    };
    assert_eq!(span_ms, Some(3_600_000));
    assert_eq!(rows.len(), 72);
    assert_eq!(rows.iter().filter_map(|r| r[1].as_u64()).sum::<u64>(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pipes_sort_limit_and_project_hits() {
    let f = Fixture::new().await;
    assert_eq!(f.hits("* | limit 3"), ["r8", "r7", "r6"]);
    assert_eq!(f.hits("* | sort by _time asc | limit 2"), ["r1", "r2"]);
    assert_eq!(
        f.hits("duration_ms:* | sort by duration_ms desc | limit 2"),
        ["r2", "r3"]
    );
    assert_eq!(
        f.hits("duration_ms:* | sort by duration_ms asc | limit 2"),
        ["r7", "r1"]
    );
    // Records without a value sort last.
    assert_eq!(f.hits("service:api* | sort by duration_ms desc")[3], "r8");
    match f.run("* | fields service, http.status_code | limit 1") {
        Ok(QueryResult::Hits { hits, total }) => {
            assert_eq!(total, 8);
            let h = &hits[0];
            assert_eq!(h["service"], "api-gw");
            assert_eq!(h["http.status_code"], "500");
            assert!(h.get("message").is_none());
            assert!(h["record_id"].is_string());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meaningless_queries_fail_with_a_position() {
    let f = Fixture::new().await;
    let (msg, pos) = f.error("level:loud");
    assert!(msg.contains("not a level"), "{msg}");
    assert_eq!(pos, 6);
    let (msg, pos) = f.error("service:api span_id:abc");
    assert!(msg.contains("span_id"), "{msg}");
    assert_eq!(pos, 12);
    let (msg, pos) = f.error("severity:>abc");
    assert!(msg.contains("not a number"), "{msg}");
    assert_eq!(pos, 10);
    let (msg, _) = f.error("message:>5");
    assert!(msg.contains("full text"), "{msg}");
    let (msg, _) = f.error("* | stats avg(service)");
    assert!(msg.contains("only count"), "{msg}");
    let (msg, _) = f.error("* | stats count() | sort by nope");
    assert!(msg.contains("no column `nope`"), "{msg}");
    let (msg, _) = f.error("service:/(unclosed/");
    assert!(msg.contains("regex"), "{msg}");
    let (msg, _) = f.error("_time:yesterday");
    assert!(msg.contains("_time"), "{msg}");
    let (_, pos) = f.error("service:api AND (level:error");
    assert!(pos > 0);
}
