//! Dashboards through the real binary: create, update with optimistic concurrency, versions
//! and restore, export; Grafana import; provisioning from a directory (Pharos and Grafana
//! files, a broken one listed under `errors`, read-only through the API, a new file picked up
//! while running); the built-in `pharos` dashboard; everything survives a restart.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{client, start, Server};

const GRAFANA: &str =
    include_str!("../../dashboards/tests/fixtures/grafana-node-exporter-like.json");

async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.http);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn doc(title: &str) -> Value {
    json!({
        "uid": "checkout",
        "title": title,
        "variables": [{"name": "service", "kind": "custom", "options": ["checkout", "cart"], "default": "checkout"}],
        "panels": [{"id": 1, "title": "rate", "type": "timeseries", "grid": {"x": 0, "y": 0, "w": 12, "h": 8},
                    "targets": [{"kind": "promql", "expr": "sum(rate(http_requests_total{job=\"$service\"}[5m]))"}]}]
    })
}

fn listed<'a>(list: &'a Value, uid: &str) -> Option<&'a Value> {
    list["dashboards"]
        .as_array()?
        .iter()
        .find(|d| d["uid"] == uid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_are_versioned_restored_exported_imported_and_survive_a_restart() {
    let mut server = start(&[]);

    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": doc("Checkout"), "message": "first"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (b["uid"].as_str(), b["version"].as_u64()),
        (Some("checkout"), Some(1))
    );
    let (s, _) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": doc("Again")})),
    )
    .await;
    assert_eq!(s, 409);
    let mut bad = doc("Bad");
    bad["panels"][0]["gird"] = json!(1);
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": bad})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("panels[0].gird: unknown field"),
        "{b}"
    );

    let (s, b) = call(&server, "GET", "/api/v1/dashboards/checkout", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["version"].as_u64(),
            b["source"].as_str(),
            b["message"].as_str()
        ),
        (Some(1), Some("user"), Some("first"))
    );
    let v1 = b["dashboard"].clone();
    assert_eq!(v1["title"], "Checkout");

    let (s, b) = call(
        &server,
        "PUT",
        "/api/v1/dashboards/checkout",
        Some(json!({"dashboard": doc("Checkout v2"), "version": 1})),
    )
    .await;
    assert_eq!((s, b["version"].as_u64()), (200, Some(2)), "{b}");
    let (s, b) = call(
        &server,
        "PUT",
        "/api/v1/dashboards/checkout",
        Some(json!({"dashboard": doc("Stale"), "version": 1})),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["current_version"], 2, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or("")
            .contains("changed since version 1 (it is now at 2)"),
        "{b}"
    );
    let mut other = doc("Other");
    other["uid"] = json!("other");
    let (s, _) = call(
        &server,
        "PUT",
        "/api/v1/dashboards/checkout",
        Some(json!({"dashboard": other, "version": 2})),
    )
    .await;
    assert_eq!(s, 400);

    let (s, b) = call(&server, "GET", "/api/v1/dashboards/checkout/versions", None).await;
    assert_eq!(s, 200);
    let versions: Vec<u64> = b["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(versions, vec![2, 1]);
    assert_eq!(b["versions"][1]["message"], "first");
    assert_eq!(b["versions"][0]["panels"], 1);

    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards/checkout/versions/1/restore",
        None,
    )
    .await;
    assert_eq!((s, b["version"].as_u64()), (200, Some(3)), "{b}");
    let (_, b) = call(&server, "GET", "/api/v1/dashboards/checkout", None).await;
    assert_eq!(b["dashboard"], v1);
    assert_eq!(b["message"], "restored version 1");
    let (s, b) = call(
        &server,
        "GET",
        "/api/v1/dashboards/checkout/versions/2",
        None,
    )
    .await;
    assert_eq!(
        (s, b["dashboard"]["title"].as_str()),
        (200, Some("Checkout v2"))
    );
    let (s, _) = call(
        &server,
        "GET",
        "/api/v1/dashboards/checkout/versions/9",
        None,
    )
    .await;
    assert_eq!(s, 404);

    let resp = client()
        .get(format!("{}/api/v1/dashboards/checkout/export", server.http))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"checkout.json\"")
    );
    let exported: Value =
        serde_json::from_str(&resp.text().await.expect("body")).expect("export is JSON");
    assert_eq!(exported, v1);
    // The export is a document the API takes back.
    let mut copy = exported.clone();
    copy["uid"] = json!("checkout-copy");
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": copy})),
    )
    .await;
    assert_eq!(s, 201, "{b}");

    // Grafana import: a preview, then saved; saving the same uid again needs overwrite.
    let grafana: Value = serde_json::from_str(GRAFANA).expect("fixture");
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards/import/grafana",
        Some(grafana.clone()),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["dashboard"]["panels"].as_array().map(Vec::len), Some(5));
    assert_eq!(b["skipped"].as_array().map(Vec::len), Some(2), "{b}");
    assert!(b.get("version").is_none());
    let (s, _) = call(
        &server,
        "GET",
        "/api/v1/dashboards/node-exporter-like",
        None,
    )
    .await;
    assert_eq!(s, 404);
    let wrapped = json!({"dashboard": grafana, "meta": {"slug": "node"}});
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards/import/grafana?save=true",
        Some(wrapped.clone()),
    )
    .await;
    assert_eq!((s, b["version"].as_u64()), (200, Some(1)), "{b}");
    let (s, _) = call(
        &server,
        "POST",
        "/api/v1/dashboards/import/grafana?save=true",
        Some(wrapped.clone()),
    )
    .await;
    assert_eq!(s, 409);
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards/import/grafana?save=true&overwrite=true",
        Some(wrapped),
    )
    .await;
    assert_eq!((s, b["version"].as_u64()), (200, Some(2)), "{b}");
    let (s, b) = call(
        &server,
        "GET",
        "/api/v1/dashboards/node-exporter-like",
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["dashboard"]["title"], "Node Exporter (like)");

    // Bodies over 1 MiB are refused with a JSON 413; deeply nested JSON with a 400.
    let mut huge = doc("Huge");
    huge["description"] = json!("x".repeat(1_100_000));
    let (s, b) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": huge})),
    )
    .await;
    assert_eq!(s, 413, "{b}");
    assert!(b["error"].as_str().is_some(), "{b}");
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let resp = client()
        .post(format!("{}/api/v1/dashboards/import/grafana", server.http))
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .expect("nested");
    assert_eq!(resp.status(), 400);

    // The built-in dashboard is listed and read-only.
    let (_, list) = call(&server, "GET", "/api/v1/dashboards", None).await;
    let pharos = listed(&list, "pharos").expect("the builtin is listed");
    assert_eq!(pharos["source"], "builtin");
    let (s, b) = call(&server, "DELETE", "/api/v1/dashboards/pharos", None).await;
    assert_eq!(s, 409);
    assert!(
        b["error"].as_str().unwrap_or("").contains("built in"),
        "{b}"
    );
    let (s, _) = call(&server, "DELETE", "/api/v1/dashboards/checkout-copy", None).await;
    assert_eq!(s, 204);
    let (s, _) = call(
        &server,
        "GET",
        "/api/v1/dashboards/checkout-copy/versions",
        None,
    )
    .await;
    assert_eq!(s, 404);

    // A crash (SIGKILL, no shutdown) and a start on the same data dir keep the user
    // dashboards and their versions: each save was durable when it was answered.
    server.kill9().expect("kill");
    server.restart().expect("restart");
    let (s, b) = call(&server, "GET", "/api/v1/dashboards/checkout", None).await;
    assert_eq!((s, b["version"].as_u64()), (200, Some(3)), "{b}");
    assert_eq!(b["dashboard"], v1);
    let (_, b) = call(&server, "GET", "/api/v1/dashboards/checkout/versions", None).await;
    assert_eq!(b["versions"].as_array().map(Vec::len), Some(3));
    let (_, list) = call(&server, "GET", "/api/v1/dashboards", None).await;
    assert!(listed(&list, "node-exporter-like").is_some());
    assert!(listed(&list, "checkout-copy").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_dashboards_load_from_files_are_read_only_and_are_rescanned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prov = dir.path().join("dashboards");
    std::fs::create_dir_all(&prov).expect("mkdir");
    let mut team = doc("Team A");
    team["uid"] = json!("team-a");
    std::fs::write(prov.join("team-a.json"), team.to_string()).expect("write");
    std::fs::write(prov.join("node.json"), GRAFANA).expect("write");
    std::fs::write(prov.join("broken.json"), "{\"title\": ").expect("write");
    let prov_s = prov.display().to_string();
    let server = start(&[
        ("PHAROS_DASHBOARDS__PROVISIONING_DIR", prov_s.as_str()),
        ("PHAROS_DASHBOARDS__PROVISIONING_INTERVAL_SECS", "1"),
    ]);

    let (s, list) = call(&server, "GET", "/api/v1/dashboards", None).await;
    assert_eq!(s, 200, "{list}");
    for uid in ["team-a", "node-exporter-like"] {
        let d = listed(&list, uid).unwrap_or_else(|| panic!("{uid} in {list}"));
        assert_eq!(d["source"], "provisioned", "{d}");
        assert!(
            d["path"].as_str().is_some_and(|p| p.starts_with(&prov_s)),
            "{d}"
        );
    }
    let errors = list["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{list}");
    assert!(
        errors[0]["path"]
            .as_str()
            .unwrap_or("")
            .ends_with("broken.json"),
        "{list}"
    );
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("not valid JSON"),
        "{list}"
    );
    // Sorted by title.
    let titles: Vec<&str> = list["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["title"].as_str())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort_by_key(|t| t.to_lowercase());
    assert_eq!(titles, sorted);

    let (s, b) = call(&server, "GET", "/api/v1/dashboards/team-a", None).await;
    assert_eq!((s, b["source"].as_str()), (200, Some("provisioned")), "{b}");
    let (s, b) = call(
        &server,
        "PUT",
        "/api/v1/dashboards/team-a",
        Some(json!({"dashboard": team, "version": 1})),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("team-a.json"),
        "{b}"
    );
    let (s, b) = call(
        &server,
        "DELETE",
        "/api/v1/dashboards/node-exporter-like",
        None,
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert!(
        b["error"].as_str().unwrap_or("").contains("node.json"),
        "{b}"
    );
    let (s, _) = call(
        &server,
        "POST",
        "/api/v1/dashboards",
        Some(json!({"dashboard": team})),
    )
    .await;
    assert_eq!(s, 409);

    // A file added while running appears within the re-scan interval; a removed one goes.
    let mut later = doc("Later");
    later["uid"] = json!("later");
    std::fs::write(prov.join("later.json"), later.to_string()).expect("write");
    std::fs::remove_file(prov.join("team-a.json")).expect("rm");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = call(&server, "GET", "/api/v1/dashboards", None).await;
        if listed(&list, "later").is_some() && listed(&list, "team-a").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not re-scanned: {list}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn check_config_names_a_bad_dashboards_key_and_a_missing_directory() {
    use crate::config::check_config;
    let (ok, out) = check_config(Some("[dashboards]\nprovisioning_dri = \"x\"\n"), &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("provisioning_dri"), "{out}");
    let (ok, out) = check_config(
        Some("[dashboards]\nprovisioning_dir = \"/nonexistent/pharos-dashboards\"\n"),
        &[],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("dashboards.provisioning_dir: /nonexistent/pharos-dashboards does not exist"),
        "{out}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().display().to_string();
    let (ok, out) = check_config(
        None,
        &[
            ("PHAROS_DASHBOARDS__PROVISIONING_DIR", dir_s.as_str()),
            ("PHAROS_DASHBOARDS__PROVISIONING_INTERVAL_SECS", "5"),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = check_config(
        None,
        &[("PHAROS_DASHBOARDS__PROVISIONING_INTERVAL_SECS", "0")],
    );
    assert!(
        !ok && out.contains("dashboards.provisioning_interval_secs"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_api_needs_the_api_token() {
    let server = start(&[("PHAROS_AUTH__API_TOKEN", "boards-token")]);
    let (s, _) = call(&server, "GET", "/api/v1/dashboards", None).await;
    assert_eq!(s, 401);
    let (s, _) = call(
        &server,
        "POST",
        "/api/v1/dashboards/import/grafana",
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 401);
    let resp = client()
        .get(format!("{}/api/v1/dashboards/pharos/export", server.http))
        .bearer_auth("boards-token")
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let exported: Value = resp.json().await.expect("JSON");
    assert_eq!(exported["uid"], "pharos");
}
