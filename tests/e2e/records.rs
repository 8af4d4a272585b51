//! The record read APIs against the real binary: the request view (`/api/v1/correlate/{id}`),
//! record context (`/api/v1/context/{record_id}`) and field statistics (`/api/v1/fields`).

use std::time::Duration;

use serde_json::{json, Value};

use super::common::{client, one_hit, post_ndjson, start_wide, wait_total, Server};

const WAIT: Duration = Duration::from_secs(20);
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
/// 2024-05-01T23:59:58Z: the trace crosses midnight, so two day partitions.
const T0: i64 = 1_714_607_998_000_000_000;
const SEC: i64 = 1_000_000_000;

async fn get(server: &Server, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let resp = client()
        .get(format!("{}{path}", server.http))
        .query(query)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

fn messages(hits: &Value) -> Vec<&str> {
    hits.as_array()
        .expect("array")
        .iter()
        .map(|h| h["message"].as_str().expect("message"))
        .collect()
}

async fn ingest(server: &Server) {
    let line = |ts: i64, service: &str, host: &str, level: &str, msg: &str, extra: Value| {
        let mut v = json!({"ts": ts, "service": service, "host": host, "level": level, "msg": msg});
        if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
            obj.extend(more);
        }
        v.to_string()
    };
    let trace = |route: &str| json!({"trace_id": TRACE.to_uppercase(), "http.route": route});
    let lines = [
        // One request through three services, sent out of order.
        line(
            T0 + 3 * SEC,
            "checkout",
            "c-1",
            "info",
            "checkout done",
            trace("/cart"),
        ),
        line(
            T0,
            "frontend",
            "f-1",
            "info",
            "frontend received",
            trace("/cart"),
        ),
        line(
            T0 + SEC,
            "checkout",
            "c-1",
            "error",
            "checkout failed once",
            trace("/cart"),
        ),
        line(
            T0 + 2 * SEC,
            "payments",
            "p-1",
            "warn",
            "payments slow",
            trace("/pay"),
        ),
        // Another request.
        line(
            T0,
            "frontend",
            "f-1",
            "info",
            "other request",
            json!({"trace_id": "ff", "http.route": "/home"}),
        ),
        // A worker's stream on two hosts.
        line(T0 - 40 * SEC, "worker", "w-1", "info", "wstep0", json!({})),
        line(T0 - 30 * SEC, "worker", "w-1", "info", "wstep1", json!({})),
        line(T0 - 30 * SEC, "worker", "w-2", "info", "wother", json!({})),
        line(T0 - 20 * SEC, "worker", "w-1", "info", "wstep2", json!({})),
        line(T0 + 10 * SEC, "worker", "w-1", "info", "wstep3", json!({})),
        line(T0 + 20 * SEC, "worker", "w-1", "info", "wstep4", json!({})),
    ];
    let (status, reply) = post_ndjson(server, lines.join("\n")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], lines.len());
    wait_total(server, "*", lines.len() as u64, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlate_context_and_fields_through_the_api() {
    let server = start_wide();
    ingest(&server).await;

    // The request view: time order across services and partitions, with per-service stats.
    let (status, body) = get(&server, &format!("/api/v1/correlate/{TRACE}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], TRACE);
    assert_eq!(body["total"], 4);
    assert_eq!(body["truncated"], false);
    assert_eq!(
        messages(&body["records"]),
        [
            "frontend received",
            "checkout failed once",
            "payments slow",
            "checkout done"
        ]
    );
    assert!(body["took_ms"].is_number(), "{body}");
    let services: Vec<Value> = body["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            json!([
                s["service"],
                s["first_ns"],
                s["last_ns"],
                s["count"],
                s["errors"]
            ])
        })
        .collect();
    assert_eq!(
        services,
        [
            json!(["frontend", T0, T0, 1, 0]),
            json!(["checkout", T0 + SEC, T0 + 3 * SEC, 2, 1]),
            json!(["payments", T0 + 2 * SEC, T0 + 2 * SEC, 1, 0]),
        ]
    );
    assert_eq!(body["services"][1]["first"], "2024-05-01T23:59:59Z");
    assert_eq!(body["services"][1]["last"], "2024-05-02T00:00:01Z");
    // Limit and range parameters.
    let (status, body) = get(
        &server,
        &format!("/api/v1/correlate/{TRACE}"),
        &[("limit", "2"), ("start", "2024-05-01T23:59:59Z")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["total"].clone(), body["truncated"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(
        messages(&body["records"]),
        ["checkout failed once", "payments slow"]
    );

    // Context of a record found by search: same service and host only, oldest first.
    let hit = one_hit(&server, "wstep2").await;
    let id = hit["record_id"].as_str().expect("record_id");
    let (status, body) = get(
        &server,
        &format!("/api/v1/context/{id}"),
        &[("before", "5"), ("after", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["record_id"], id);
    assert_eq!(body["record"]["message"], "wstep2");
    assert_eq!(messages(&body["before"]), ["wstep0", "wstep1"]);
    assert_eq!(messages(&body["after"]), ["wstep3"]);
    let (status, body) = get(&server, &format!("/api/v1/context/{id}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(messages(&body["after"]), ["wstep3", "wstep4"], "default 20");

    // Field statistics: built-in keywords and attribute paths with their top values.
    let (status, body) = get(&server, "/api/v1/fields", &[("top", "3")]).await;
    assert_eq!(status, 200, "{body}");
    let fields = body["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .clone()
    };
    let service = field("service");
    assert_eq!(service["count"], 11);
    assert_eq!(service["types"], json!(["keyword"]));
    assert_eq!(
        service["top"],
        json!([{"value": "worker", "count": 6}, {"value": "checkout", "count": 2},
               {"value": "frontend", "count": 2}])
    );
    let route = field("http.route");
    assert_eq!(route["count"], 5);
    assert_eq!(
        route["top"],
        json!([{"value": "/cart", "count": 3}, {"value": "/home", "count": 1},
               {"value": "/pay", "count": 1}])
    );
    assert_eq!(field("trace_id")["count"], 5);
    assert_eq!(field("trace_id")["top"], json!([]));
    // A range that holds only the worker's first records.
    let (status, body) = get(
        &server,
        "/api/v1/fields",
        &[
            ("start", "2024-05-01T23:59:00Z"),
            ("end", "2024-05-01T23:59:30Z"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["host", "level", "service"]);
    assert_eq!(body["fields"][0]["count"], 3);

    // Errors: JSON bodies with the right status.
    for (path, query, want) in [
        ("/api/v1/context/999999999", vec![], 404),
        ("/api/v1/context/not-a-number", vec![], 400),
        (
            &format!("/api/v1/context/{id}") as &str,
            vec![("before", "5000")],
            400,
        ),
        (
            &format!("/api/v1/context/{id}") as &str,
            vec![("after", "-1")],
            400,
        ),
        ("/api/v1/correlate/abc", vec![("limit", "many")], 400),
        (
            "/api/v1/correlate/abc",
            vec![("start", "yesterday-ish")],
            400,
        ),
        ("/api/v1/fields", vec![("top", "5000")], 400),
        (
            "/api/v1/fields",
            vec![
                ("start", "2024-05-02T00:00:00Z"),
                ("end", "2024-05-01T00:00:00Z"),
            ],
            400,
        ),
    ] {
        let (status, body) = get(&server, path, &query).await;
        assert_eq!(status, want, "{path} {query:?}: {body}");
        assert!(body["error"].is_string(), "{path} {query:?}: {body}");
    }
}
