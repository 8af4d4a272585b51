//! The record read APIs over several day partitions, through a real collector (WAL +
//! indexer): correlate (trace / correlation id), context (neighbours of one record) and field
//! statistics, with exact expected results.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pharos_collector::clock::{rfc3339, NANOS_PER_DAY};
use pharos_collector::normalize::normalize_json_object;
use pharos_collector::Collector;
use pharos_query::context::context;
use pharos_query::correlate::correlate;
use pharos_query::field_stats::{field_stats, FieldStats, TopValue};
use pharos_query::QueryError;

mod common;
use common::{search, SearchRequest};

use serde_json::{json, Value};

const DAY0: i64 = 20_400; // 2025-11-08
const HOUR: i64 = NANOS_PER_DAY / 24;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn at(day: i64, hour: i64) -> i64 {
    (DAY0 + day) * NANOS_PER_DAY + hour * HOUR
}

async fn open_collector(dir: &std::path::Path) -> Collector {
    common::open(dir).await // its clock says day 2, 23:00
}

/// Appends the JSON lines in this order (so record ids follow it) and waits until they are
/// searchable: one commit per call, so each call makes new segments.
async fn ingest(c: &Collector, lines: &[String]) {
    let records: Vec<_> = lines
        .iter()
        .map(|l| normalize_json_object(l, at(2, 23)).expect("record"))
        .collect();
    c.ingestor
        .append(&records, "test", 0)
        .await
        .expect("append");
    let want = c.wal.durable_lsn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.progress().committed_lsn.load(Ordering::SeqCst) < want {
        assert!(Instant::now() < deadline, "indexing timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn shutdown(c: Collector) {
    tokio::task::spawn_blocking(move || c.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
}

fn line(ts: i64, service: &str, host: &str, level: &str, msg: &str, extra: Value) -> String {
    let mut v = json!({"ts": ts, "service": service, "level": level, "msg": msg});
    if !host.is_empty() {
        v["host"] = json!(host);
    }
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v.to_string()
}

fn messages(hits: &[Value]) -> Vec<&str> {
    hits.iter()
        .map(|h| h["message"].as_str().expect("message"))
        .collect()
}

/// The record id of the only record whose message contains `word`.
fn id_of(c: &Collector, word: &str) -> u64 {
    let r = search(
        &c.store,
        &SearchRequest {
            query: word.into(),
            start_ns: None,
            end_ns: None,
            limit: 10,
        },
    )
    .expect("search");
    assert_eq!(r.total, 1, "{word}");
    r.hits[0]["record_id"]
        .as_str()
        .expect("record_id")
        .parse()
        .expect("numeric id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlate_by_trace_and_correlation_id_across_services_and_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = open_collector(dir.path()).await;
    let upper = TRACE.to_ascii_uppercase();
    let t = |id: &str| json!({ "trace_id": id });
    ingest(
        &c,
        &[
            // Sent out of time order: the result is in time order whatever the arrival.
            line(at(1, 2), "db", "db-1", "fatal", "t-db-1", t(TRACE)),
            line(at(0, 22), "gateway", "gw-1", "info", "t-gw-1", t(&upper)),
            line(at(0, 23), "api", "api-1", "error", "t-api-1", t(TRACE)),
            line(at(1, 1), "api", "api-1", "info", "t-api-2", t(TRACE)),
            line(
                at(1, 3),
                "web",
                "web-1",
                "warn",
                "c-web-1",
                json!({"request_id": "req-42"}),
            ),
            line(
                at(1, 4),
                "db",
                "db-1",
                "error",
                "tc-db-2",
                json!({"trace_id": TRACE, "correlation_id": "req-42"}),
            ),
            // Other traces and ids, and a record with neither.
            line(
                at(1, 4),
                "api",
                "api-1",
                "error",
                "o-1",
                t("00000000000000000000000000000001"),
            ),
            line(
                at(0, 22),
                "gateway",
                "gw-1",
                "info",
                "o-2",
                json!({"request_id": "req-43"}),
            ),
            line(at(2, 0), "web", "web-1", "info", "o-3", json!({})),
        ],
    )
    .await;
    ingest(
        &c,
        &[
            // Equal timestamps: ordered by record id (arrival).
            line(at(2, 0), "gateway", "gw-2", "info", "t-gw-2", t(TRACE)),
            line(at(2, 0), "api", "api-2", "debug", "t-api-3", t(TRACE)),
            line(
                at(2, 1),
                "api",
                "api-1",
                "info",
                "c-api-1",
                json!({"request_id": "req-42"}),
            ),
        ],
    )
    .await;
    assert_eq!(c.store.all().len(), 3, "one partition per day");

    let r = correlate(&c.store, TRACE, None, None, None).expect("correlate");
    assert_eq!(r.id, TRACE);
    assert_eq!(r.total, 7);
    assert!(!r.truncated);
    assert_eq!(
        messages(&r.records),
        ["t-gw-1", "t-api-1", "t-api-2", "t-db-1", "tc-db-2", "t-gw-2", "t-api-3"]
    );
    let stats = |service: &str, first: i64, last: i64, count: u64, errors: u64| {
        json!({"service": service, "first": rfc3339(first), "last": rfc3339(last),
               "first_ns": first, "last_ns": last, "count": count, "errors": errors})
    };
    assert_eq!(
        serde_json::to_value(&r.services).expect("json"),
        json!([
            stats("gateway", at(0, 22), at(2, 0), 2, 0),
            stats("api", at(0, 23), at(2, 0), 3, 1),
            stats("db", at(1, 2), at(1, 4), 2, 2),
        ])
    );
    // The id is matched as the normaliser stores trace ids (trimmed, lowercase).
    let r2 = correlate(&c.store, &format!(" {upper} "), None, None, None).expect("correlate");
    assert_eq!(messages(&r2.records), messages(&r.records));

    // Truncated: the first records in time, statistics still over all of them.
    let r3 = correlate(&c.store, TRACE, None, None, Some(3)).expect("correlate");
    assert_eq!(r3.total, 7);
    assert!(r3.truncated);
    assert_eq!(messages(&r3.records), ["t-gw-1", "t-api-1", "t-api-2"]);
    assert_eq!(r3.services, r.services);
    let r0 = correlate(&c.store, TRACE, None, None, Some(0)).expect("correlate");
    assert!(r0.records.is_empty() && r0.truncated && r0.total == 7);

    // By correlation id, including the record that has both ids.
    let r = correlate(&c.store, "req-42", None, None, None).expect("correlate");
    assert_eq!(messages(&r.records), ["c-web-1", "tc-db-2", "c-api-1"]);
    assert_eq!(
        serde_json::to_value(&r.services).expect("json"),
        json!([
            stats("web", at(1, 3), at(1, 3), 1, 0),
            stats("db", at(1, 4), at(1, 4), 1, 1),
            stats("api", at(2, 1), at(2, 1), 1, 0),
        ])
    );
    assert_eq!(r.records[1]["trace_id"], TRACE);

    // A time range: day 1 only.
    let r = correlate(&c.store, TRACE, Some(at(1, 0)), Some(at(2, 0)), None).expect("range");
    assert_eq!(messages(&r.records), ["t-api-2", "t-db-1", "tc-db-2"]);
    assert_eq!(r.total, 3);

    // Nothing found is an empty answer, bad input a BadRequest.
    let r = correlate(&c.store, "no-such-id", None, None, None).expect("correlate");
    assert_eq!((r.total, r.records.len(), r.services.len()), (0, 0, 0));
    for err in [
        correlate(&c.store, "  ", None, None, None).expect_err("empty id"),
        correlate(&c.store, TRACE, None, None, Some(10_001)).expect_err("limit"),
        correlate(&c.store, TRACE, Some(5), Some(5), None).expect_err("range"),
    ] {
        assert!(matches!(err, QueryError::BadRequest(_)), "{err}");
    }
    shutdown(c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_follows_one_service_and_host_across_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = open_collector(dir.path()).await;
    // The checkout/c-1 stream: cx00..cx11 in (time, arrival) order; cx04, cx05, cx06 share a
    // timestamp at the start of day 1.
    let stream = [
        (at(0, 20), "cx00"),
        (at(0, 21), "cx01"),
        (at(0, 22), "cx02"),
        (at(0, 23), "cx03"),
        (at(1, 0), "cx04"),
        (at(1, 0), "cx05"),
        (at(1, 0), "cx06"),
        (at(1, 5), "cx07"),
        (at(1, 10), "cx08"),
        (at(2, 1), "cx09"),
        (at(2, 2), "cx10"),
        (at(2, 3), "cx11"),
    ];
    let mut first = Vec::new();
    let mut second = Vec::new();
    for (i, (ts, msg)) in stream.iter().enumerate() {
        // Same service on another host, another service on the same host, same times.
        let own = line(*ts, "checkout", "c-1", "info", msg, json!({}));
        let other_host = line(*ts, "checkout", "c-2", "info", &format!("oh{i}"), json!({}));
        let other_service = line(*ts, "cart", "c-1", "info", &format!("os{i}"), json!({}));
        // Later records first in the first batch, so record ids do not follow time, except
        // among equal timestamps (cx04 < cx05 < cx06 by arrival).
        if *ts >= at(1, 5) {
            first.extend([other_host, own, other_service]);
        } else {
            second.extend([other_service, own, other_host]);
        }
    }
    // A service without a host: the empty host is matched too.
    for (h, msg) in [(1, "nh1"), (2, "nh2"), (3, "nh3")] {
        first.push(line(at(1, h), "nohost", "", "info", msg, json!({})));
    }
    ingest(&c, &first).await;
    ingest(&c, &second).await;
    assert_eq!(c.store.all().len(), 3);

    let ctx = |word: &str, before: usize, after: usize| {
        let r = context(&c.store, id_of(&c, word), Some(before), Some(after)).expect("context");
        assert_eq!(r.record["message"], word);
        (
            messages(&r.before)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
            messages(&r.after)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    };
    // In the middle of equal timestamps: neither the anchor nor a neighbour is repeated or
    // skipped.
    assert_eq!(
        ctx("cx05", 2, 2),
        (
            vec!["cx03".into(), "cx04".into()],
            vec!["cx06".into(), "cx07".into()]
        )
    );
    assert_eq!(
        ctx("cx04", 1, 1),
        (vec!["cx03".into()], vec!["cx05".into()])
    );
    assert_eq!(
        ctx("cx06", 2, 1),
        (vec!["cx04".into(), "cx05".into()], vec!["cx07".into()])
    );
    // Across the day 0 / day 1 boundary, both ways.
    let (before, after) = ctx("cx04", 3, 4);
    assert_eq!(before, ["cx01", "cx02", "cx03"]);
    assert_eq!(after, ["cx05", "cx06", "cx07", "cx08"]);
    let (before, after) = ctx("cx03", 0, 3);
    assert!(before.is_empty());
    assert_eq!(after, ["cx04", "cx05", "cx06"]);
    // Across day 1 / day 2.
    let (before, after) = ctx("cx09", 2, 1);
    assert_eq!(before, ["cx07", "cx08"]);
    assert_eq!(after, ["cx10"]);
    // The start and the end of the stream.
    let (before, after) = ctx("cx00", 5, 2);
    assert!(before.is_empty());
    assert_eq!(after, ["cx01", "cx02"]);
    let (before, after) = ctx("cx11", 2, 5);
    assert_eq!(before, ["cx09", "cx10"]);
    assert!(after.is_empty());
    // More asked for than exist: the whole stream, in order, nothing else.
    let (before, after) = ctx("cx08", 1000, 1000);
    assert_eq!(
        before,
        ["cx00", "cx01", "cx02", "cx03", "cx04", "cx05", "cx06", "cx07"]
    );
    assert_eq!(after, ["cx09", "cx10", "cx11"]);
    // The other host's stream is its own.
    let (before, after) = ctx("oh5", 1, 1);
    assert_eq!((before, after), (vec!["oh4".into()], vec!["oh6".into()]));
    let (before, after) = ctx("nh2", 5, 5);
    assert_eq!((before, after), (vec!["nh1".into()], vec!["nh3".into()]));

    // Defaults (20 each), and the hit shape.
    let r = context(&c.store, id_of(&c, "cx11"), None, None).expect("context");
    assert_eq!(r.before.len(), 11);
    assert_eq!(r.record["record_id"], id_of(&c, "cx11").to_string());
    assert_eq!(r.record["service"], "checkout");
    assert_eq!(r.record["host"], "c-1");

    let err = context(&c.store, 999_999, None, None).expect_err("unknown");
    assert!(matches!(err, QueryError::NotFound(_)), "{err}");
    let err = context(&c.store, id_of(&c, "cx11"), Some(1001), None).expect_err("too many");
    assert!(matches!(err, QueryError::BadRequest(_)), "{err}");
    shutdown(c).await;
}

fn field<'a>(fields: &'a [FieldStats], name: &str) -> &'a FieldStats {
    fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name} in {fields:#?}"))
}

fn top(values: &[(&str, u64)]) -> Vec<TopValue> {
    values
        .iter()
        .map(|(v, c)| TopValue {
            value: v.to_string(),
            count: *c,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_stats_count_types_top_values_and_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = open_collector(dir.path()).await;
    let records = [
        line(
            at(0, 1),
            "api",
            "h1",
            "info",
            "r1",
            json!({"http": {"status_code": 200, "route": "/a"}, "ok": true, "user": "u1"}),
        ),
        line(
            at(0, 2),
            "api",
            "h1",
            "error",
            "r2",
            json!({"http.status_code": 500, "http.route": "/a", "ok": false}),
        ),
        line(
            at(0, 3),
            "web",
            "h2",
            "info",
            "r3",
            json!({"http": {"status_code": 404, "route": "/b"}}),
        ),
        line(
            at(1, 1),
            "api",
            "h1",
            "warn",
            "r4",
            json!({"http": {"status_code": 201, "route": "/a"}, "retry": 1.5}),
        ),
        line(
            at(1, 2),
            "web",
            "h2",
            "info",
            "r5",
            json!({"http": {"status_code": "n/a"}, "trace_id": "abc"}),
        ),
        line(
            at(1, 3),
            "db",
            "",
            "info",
            "r6",
            json!({"tags": ["x", "y", "x"]}),
        ),
        line(
            at(2, 1),
            "api",
            "h1",
            "info",
            "r7",
            json!({"http": {"status_code": -1}, "user": {"id": "u1"}, "correlation_id": "req-1"}),
        ),
        line(
            at(2, 2),
            "api",
            "h3",
            "info",
            "r8",
            json!({"flags": [true, false, true]}),
        ),
    ];
    // Two commits: several segments per partition, merged by value.
    ingest(&c, &records[..4]).await;
    ingest(&c, &records[4..]).await;

    let all = field_stats(&c.store, None, None, 10)
        .expect("fields")
        .fields;
    let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "level",
            "service",
            "host",
            "http.status_code",
            "http.route",
            "ok",
            "correlation_id",
            "flags",
            "retry",
            "tags",
            "trace_id",
            "user",
            "user.id"
        ]
    );
    assert_eq!(
        field(&all, "level").top,
        top(&[("info", 6), ("error", 1), ("warn", 1)])
    );
    assert_eq!(
        field(&all, "service").top,
        top(&[("api", 5), ("web", 2), ("db", 1)])
    );
    let host = field(&all, "host");
    assert_eq!((host.count, host.types.clone()), (7, vec!["keyword"]));
    assert_eq!(host.top, top(&[("h1", 4), ("h2", 2), ("h3", 1)]));
    let status = field(&all, "http.status_code");
    assert_eq!(status.count, 6);
    assert_eq!(status.types, ["keyword", "number"]);
    assert_eq!(
        (status.min.clone(), status.max.clone()),
        (json!(-1), json!(500))
    );
    assert_eq!(status.top, top(&[("n/a", 1)]));
    assert_eq!(field(&all, "http.route").top, top(&[("/a", 3), ("/b", 1)]));
    let ok = field(&all, "ok");
    assert_eq!((ok.count, ok.types.clone()), (2, vec!["bool"]));
    assert_eq!(ok.top, top(&[("false", 1), ("true", 1)]));
    let retry = field(&all, "retry");
    assert_eq!(
        (retry.min.clone(), retry.max.clone(), retry.types.clone()),
        (json!(1.5), json!(1.5), vec!["number"])
    );
    assert!(retry.top.is_empty());
    // An array value counts once per record and once per distinct value in it.
    let flags = field(&all, "flags");
    assert_eq!((flags.count, flags.types.clone()), (1, vec!["bool"]));
    assert_eq!(flags.top, top(&[("false", 1), ("true", 1)]));
    let tags = field(&all, "tags");
    assert_eq!(
        (tags.count, tags.top.clone()),
        (1, top(&[("x", 1), ("y", 1)]))
    );
    // Ids are listed and counted (records that have one), without values.
    for name in ["trace_id", "correlation_id"] {
        let f = field(&all, name);
        assert_eq!((f.count, f.top.len()), (1, 0), "{name}");
    }
    assert_eq!(field(&all, "user").top, top(&[("u1", 1)]));
    assert_eq!(field(&all, "user.id").top, top(&[("u1", 1)]));
    assert_eq!(field(&all, "level").min, Value::Null);

    // Day 1 only (whole partition).
    let day1 = field_stats(&c.store, Some(at(1, 0)), Some(at(2, 0)), 10)
        .expect("fields")
        .fields;
    assert_eq!(field(&day1, "level").count, 3);
    assert_eq!(
        field(&day1, "service").top,
        top(&[("api", 1), ("db", 1), ("web", 1)])
    );
    assert_eq!(field(&day1, "host").count, 2);
    let status = field(&day1, "http.status_code");
    assert_eq!(
        (status.count, status.min.clone(), status.max.clone()),
        (2, json!(201), json!(201))
    );
    assert!(day1.iter().all(|f| f.name != "ok" && f.name != "user"));

    // Cutting inside partitions: r2, r3, r4. The keyword value of http.status_code is out of
    // range, so only its number type is listed.
    let cut = field_stats(&c.store, Some(at(0, 2)), Some(at(1, 2)), 1)
        .expect("fields")
        .fields;
    let status = field(&cut, "http.status_code");
    assert_eq!(status.types, ["number"]);
    assert_eq!(
        (status.count, status.min.clone(), status.max.clone()),
        (3, json!(201), json!(500))
    );
    assert!(status.top.is_empty());
    assert_eq!(field(&cut, "service").top, top(&[("api", 2)]), "top 1");
    assert_eq!(field(&cut, "ok").top, top(&[("false", 1)]));

    // Nothing in range: no fields.
    let none = field_stats(&c.store, Some(at(5, 0)), Some(at(6, 0)), 10).expect("fields");
    assert!(none.fields.is_empty());
    for err in [
        field_stats(&c.store, None, None, 1001).expect_err("top"),
        field_stats(&c.store, Some(9), Some(9), 10).expect_err("range"),
    ] {
        assert!(matches!(err, QueryError::BadRequest(_)), "{err}");
    }
    shutdown(c).await;
}
