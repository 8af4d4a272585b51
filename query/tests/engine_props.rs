//! Property test: for random queries (filters with every kind of predicate, random time
//! ranges over several partitions, aggregations), the tantivy engine returns exactly what a
//! naive in-memory evaluation of the same query over the same records returns.

mod common;

use std::collections::{BTreeMap, HashSet};

use pharos_collector::clock::NANOS_PER_DAY;
use pharos_collector::record::{level_name, AttrValue, LogRecord};
use pharos_query::eval::Matcher;
use pharos_query::exec::{execute, prepare, QueryRequest, QueryResult};
use pharos_query::lang::{
    AggFunc, Aggregation, CompareOp, Expr, Ident, Literal, Match, Pipe, Predicate, Query,
    RangeBound, Span,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use common::{DAY0, HOUR};

const SERVICES: [&str; 4] = ["api", "api-gw", "web", "billing"];
const HOSTS: [&str; 3] = ["h1", "h2", "h3"];
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];
const WORDS: [&str; 8] = [
    "checkout", "payment", "timeout", "refused", "user", "login", "cache", "miss",
];
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "u-42"];
const STATUSES: [i64; 5] = [200, 201, 404, 500, 503];

fn corpus(n: usize, seed: u64) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            // Unique timestamps over three days (ties would make "newest 10" ambiguous).
            let ts = DAY0 * NANOS_PER_DAY + (i as i64) * (3 * NANOS_PER_DAY / n as i64) + 7;
            let words: Vec<&str> = (0..rng.gen_range(1..6))
                .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
                .collect();
            let mut obj = serde_json::json!({
                "ts": ts,
                "level": LEVELS[rng.gen_range(0..LEVELS.len())],
                "service": SERVICES[rng.gen_range(0..SERVICES.len())],
                "host": HOSTS[rng.gen_range(0..HOSTS.len())],
                "msg": words.join(" "),
            });
            if rng.gen_bool(0.8) {
                obj["status"] = STATUSES[rng.gen_range(0..STATUSES.len())].into();
            }
            if rng.gen_bool(0.7) {
                // Some integral, some fractional: the column type varies per segment.
                obj["duration_ms"] = if rng.gen_bool(0.3) {
                    Value::from(rng.gen_range(0..100i64))
                } else {
                    Value::from(rng.gen_range(0..10_000) as f64 / 7.0)
                };
            }
            if rng.gen_bool(0.6) {
                obj["user"] = USERS[rng.gen_range(0..USERS.len())].into();
            }
            if rng.gen_bool(0.3) {
                obj["http"] =
                    serde_json::json!({"method": if rng.gen_bool(0.5) {"GET"} else {"POST"}});
            }
            obj.to_string()
        })
        .collect()
}

fn lit(s: &str) -> Literal {
    Literal {
        text: s.to_string(),
        span: Span::default(),
    }
}

fn ident(s: &str) -> Ident {
    Ident {
        name: s.to_string(),
        span: Span::default(),
    }
}

fn m(field: Option<&str>, predicate: Predicate) -> Expr {
    Expr::Match(Match {
        field: field.map(ident),
        predicate,
        span: Span::default(),
    })
}

fn arb_cmp() -> impl Strategy<Value = CompareOp> {
    prop_oneof![
        Just(CompareOp::Gt),
        Just(CompareOp::Ge),
        Just(CompareOp::Lt),
        Just(CompareOp::Le)
    ]
}

fn arb_bound(values: Vec<String>) -> impl Strategy<Value = RangeBound> {
    let v2 = values.clone();
    prop_oneof![
        prop::sample::select(values).prop_map(|v| RangeBound::Included(lit(&v))),
        prop::sample::select(v2).prop_map(|v| RangeBound::Excluded(lit(&v))),
        Just(RangeBound::Unbounded),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Expr> {
    let nums: Vec<String> = ["0", "200", "404", "450", "500", "12.5", "50", "1000"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let times: Vec<String> = (0..7)
        .map(|h| pharos_collector::clock::rfc3339(DAY0 * NANOS_PER_DAY + h * 12 * HOUR))
        .collect();
    prop_oneof![
        prop::sample::select(WORDS.to_vec()).prop_map(|w| m(None, Predicate::Term(lit(w)))),
        (
            prop::sample::select(WORDS.to_vec()),
            prop::sample::select(WORDS.to_vec())
        )
            .prop_map(|(a, b)| m(None, Predicate::Phrase(lit(&format!("{a} {b}"))))),
        prop::sample::select(vec!["ch", "pay", "t", "mi"])
            .prop_map(|p| m(Some("message"), Predicate::Prefix(lit(p)))),
        prop::sample::select(vec!["c.*", "t[a-z]+t", "(user|login)"])
            .prop_map(|r| m(Some("message"), Predicate::Regex(lit(r)))),
        prop::sample::select(SERVICES.to_vec())
            .prop_map(|s| m(Some("service"), Predicate::Term(lit(s)))),
        prop::sample::select(vec!["api", "b", "w"])
            .prop_map(|s| m(Some("service"), Predicate::Prefix(lit(s)))),
        prop::sample::select(vec!["api-.*", "(web|billing)", "a.*"])
            .prop_map(|s| m(Some("service"), Predicate::Regex(lit(s)))),
        prop::sample::select(HOSTS.to_vec()).prop_map(|h| m(Some("host"), Predicate::Term(lit(h)))),
        prop::sample::select(LEVELS.to_vec())
            .prop_map(|l| m(Some("level"), Predicate::Term(lit(l)))),
        (arb_cmp(), prop::sample::select(LEVELS.to_vec()))
            .prop_map(|(op, l)| m(Some("level"), Predicate::Compare(op, lit(l)))),
        prop::sample::select(nums.clone())
            .prop_map(|n| m(Some("status"), Predicate::Term(lit(&n)))),
        (arb_cmp(), prop::sample::select(nums.clone()))
            .prop_map(|(op, n)| m(Some("duration_ms"), Predicate::Compare(op, lit(&n)))),
        (arb_bound(nums.clone()), arb_bound(nums))
            .prop_map(|(lower, upper)| m(Some("status"), Predicate::Range { lower, upper })),
        prop::sample::select(USERS.to_vec()).prop_map(|u| m(Some("user"), Predicate::Term(lit(u)))),
        prop::sample::select(vec![
            "user",
            "duration_ms",
            "status",
            "http",
            "http.method",
            "nope"
        ])
        .prop_map(|f| m(Some(f), Predicate::Exists)),
        prop::sample::select(vec!["GET", "POST"])
            .prop_map(|v| m(Some("http.method"), Predicate::Term(lit(v)))),
        prop::sample::select(vec!["a", "c", "u-"])
            .prop_map(|p| m(Some("attributes.user"), Predicate::Prefix(lit(p)))),
        (arb_cmp(), prop::sample::select(times.clone()))
            .prop_map(|(op, t)| m(Some("_time"), Predicate::Compare(op, lit(&t)))),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    arb_leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn arb_range() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    let t = (0i64..=72).prop_map(|h| DAY0 * NANOS_PER_DAY + h * HOUR);
    // The API refuses end <= start, so ranges are well-formed (or open).
    (prop::option::of(t.clone()), prop::option::of(t)).prop_map(|r| match r {
        (Some(a), Some(b)) if a >= b => (Some(b), Some(a + HOUR)),
        r => r,
    })
}

/// Naive evaluation of the filter + range.
fn naive_matches(
    records: &[(u64, LogRecord)],
    query: &Query,
    req: &QueryRequest,
) -> Vec<(u64, LogRecord)> {
    let prepared = prepare(query, req).expect("prepare");
    let mut matcher = Matcher::new(prepared.filter.clone());
    records
        .iter()
        .filter(|(lsn, r)| {
            r.timestamp_ns >= req.start_ns.unwrap_or(i64::MIN)
                && r.timestamp_ns < req.end_ns.unwrap_or(i64::MAX)
                && matcher.matches(r, *lsn)
        })
        .cloned()
        .collect()
}

fn number_attr(r: &LogRecord, key: &str) -> Option<f64> {
    r.attributes
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Float(f) => Some(*f),
            _ => None,
        })
}

fn str_attr(r: &LogRecord, key: &str) -> Option<String> {
    r.attributes
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| match v {
            AttrValue::Str(s) => Some(s.clone()),
            _ => None,
        })
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64()
        .is_some_and(|a| (a - b).abs() <= 1e-9 * b.abs().max(1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_matches_naive_evaluation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = common::open(dir.path()).await;
    let records = common::ingest(&c, &corpus(600, 7), 5).await;
    assert!(c.store.all().len() >= 3, "several partitions");
    let store = c.store.clone();

    // Sanity: record ids are what the WAL assigned.
    let all = execute(
        &store,
        &prepare(
            &Query {
                filter: Expr::All,
                pipes: vec![],
            },
            &QueryRequest {
                start_ns: None,
                end_ns: None,
                limit: 1,
                now_ns: common::NOW,
                budget: Default::default(),
            },
        )
        .expect("prepare"),
    )
    .expect("run");
    let QueryResult::Hits { total, hits } = all else {
        panic!("hits")
    };
    assert_eq!(total, 600);
    let newest = records.last().expect("records");
    assert_eq!(hits[0]["record_id"], Value::from(newest.0.to_string()));

    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    runner
        .run(
            &(arb_expr(), arb_range(), 1usize..30),
            |(filter, (start, end), limit)| {
                let query = Query {
                    filter,
                    pipes: vec![],
                };
                let req = QueryRequest {
                    start_ns: start,
                    end_ns: end,
                    limit,
                    now_ns: common::NOW,
                    budget: Default::default(),
                };
                let want = naive_matches(&records, &query, &req);
                let got =
                    execute(&store, &prepare(&query, &req).expect("prepare")).expect("execute");
                let QueryResult::Hits { total, hits } = got else {
                    panic!("hits")
                };
                prop_assert_eq!(total, want.len() as u64, "total of {:?}", query.filter);
                let mut want_ids: Vec<(i64, u64)> =
                    want.iter().map(|(l, r)| (r.timestamp_ns, *l)).collect();
                want_ids.sort_by(|a, b| b.cmp(a));
                want_ids.truncate(limit);
                let got_ids: Vec<(i64, u64)> = hits
                    .iter()
                    .map(|h| {
                        (
                            h["timestamp_ns"].as_i64().unwrap_or(0),
                            h["record_id"]
                                .as_str()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(0),
                        )
                    })
                    .collect();
                prop_assert_eq!(got_ids, want_ids, "hits of {:?}", query.filter);
                Ok(())
            },
        )
        .expect("engine and naive evaluation agree on filters");

    // Aggregations: stats by service/level/user/status with every function.
    let aggs = [
        (AggFunc::Count, None),
        (AggFunc::Sum, Some("duration_ms")),
        (AggFunc::Avg, Some("duration_ms")),
        (AggFunc::Min, Some("duration_ms")),
        (AggFunc::Max, Some("duration_ms")),
        (AggFunc::Percentile(90.0), Some("duration_ms")),
        (AggFunc::CountDistinct, Some("user")),
        (AggFunc::Count, Some("status")),
    ];
    let by_choices: Vec<Vec<&str>> = vec![
        vec![],
        vec!["service"],
        vec!["level", "service"],
        vec!["user"],
        vec!["status"],
    ];
    let mut runner = TestRunner::new(Config {
        cases: 120,
        ..Config::default()
    });
    runner
        .run(
            &(
                arb_expr(),
                arb_range(),
                prop::sample::select(by_choices),
                any::<bool>(),
            ),
            |(filter, (start, end), by, count_only)| {
                // Only count(): the vectorised path; otherwise every function.
                let aggs = if count_only { &aggs[..1] } else { &aggs[..] };
                let query = Query {
                    filter,
                    pipes: vec![Pipe::Stats {
                        aggs: aggs
                            .iter()
                            .map(|(func, f)| Aggregation {
                                func: *func,
                                field: f.map(ident),
                                alias: None,
                                span: Span::default(),
                            })
                            .collect(),
                        by: by.iter().map(|b| ident(b)).collect(),
                        span: Span::default(),
                    }],
                };
                let req = QueryRequest {
                    start_ns: start,
                    end_ns: end,
                    limit: 10,
                    now_ns: common::NOW,
                    budget: Default::default(),
                };
                let matched = naive_matches(&records, &query, &req);
                let got =
                    execute(&store, &prepare(&query, &req).expect("prepare")).expect("execute");
                let QueryResult::Table { total, rows, .. } = got else {
                    panic!("table")
                };
                prop_assert_eq!(total, matched.len() as u64);
                // Expected groups.
                let key_of = |r: &LogRecord| -> Vec<Value> {
                    by.iter()
                        .map(|b| match *b {
                            "service" => Value::from(r.service.clone()),
                            "level" => Value::from(level_name(r.severity_number)),
                            "user" => str_attr(r, "user").map_or(Value::Null, Value::from),
                            "status" => number_attr(r, "status")
                                .map_or(Value::Null, |v| Value::from(v as i64)),
                            _ => Value::Null,
                        })
                        .collect()
                };
                let mut groups: BTreeMap<String, (Vec<Value>, Vec<&LogRecord>)> = BTreeMap::new();
                for (_, r) in &matched {
                    let k = key_of(r);
                    groups
                        .entry(serde_json::to_string(&k).unwrap_or_default())
                        .or_insert_with(|| (k, Vec::new()))
                        .1
                        .push(r);
                }
                if groups.is_empty() && by.is_empty() {
                    groups.insert("[]".to_string(), (vec![], vec![]));
                }
                prop_assert_eq!(rows.len(), groups.len(), "groups of {:?}", query.filter);
                for row in &rows {
                    let key: Vec<Value> = row[..by.len()].to_vec();
                    let entry = groups.get(&serde_json::to_string(&key).unwrap_or_default());
                    prop_assert!(entry.is_some(), "unexpected group {:?}", key);
                    let rs = &entry.map(|e| e.1.clone()).unwrap_or_default();
                    let d: Vec<f64> = rs
                        .iter()
                        .filter_map(|r| number_attr(r, "duration_ms"))
                        .collect();
                    let a = &row[by.len()..];
                    prop_assert_eq!(a[0].as_u64(), Some(rs.len() as u64));
                    if count_only {
                        prop_assert_eq!(a.len(), 1);
                        continue;
                    }
                    if d.is_empty() {
                        prop_assert!(
                            a[1].is_null()
                                && a[2].is_null()
                                && a[3].is_null()
                                && a[4].is_null()
                                && a[5].is_null()
                        );
                    } else {
                        let sum: f64 = d.iter().sum();
                        prop_assert!(close(&a[1], sum), "sum {} vs {}", a[1], sum);
                        prop_assert!(close(&a[2], sum / d.len() as f64));
                        prop_assert!(close(
                            &a[3],
                            d.iter().cloned().fold(f64::INFINITY, f64::min)
                        ));
                        prop_assert!(close(
                            &a[4],
                            d.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                        ));
                        let mut sorted = d.clone();
                        sorted.sort_by(f64::total_cmp);
                        let rank = 0.9 * (sorted.len() - 1) as f64;
                        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                        let p90 = sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64);
                        prop_assert!(close(&a[5], p90), "p90 {} vs {}", a[5], p90);
                    }
                    let users: HashSet<String> =
                        rs.iter().filter_map(|r| str_attr(r, "user")).collect();
                    prop_assert_eq!(a[6].as_u64(), Some(users.len() as u64));
                    let with_status = rs
                        .iter()
                        .filter(|r| number_attr(r, "status").is_some())
                        .count();
                    prop_assert_eq!(a[7].as_u64(), Some(with_status as u64));
                }
                Ok(())
            },
        )
        .expect("engine and naive evaluation agree on aggregations");
    c.shutdown().expect("shutdown");
}
