//! `pharos check-config` and start-up failures: one clear line naming the problem.

use std::process::Command;

use super::common::bin;

pub fn check_config(file: Option<&str>, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.arg("check-config");
    if let Some(content) = file {
        let path = dir.path().join("pharos.toml");
        std::fs::write(&path, content).expect("write config");
        cmd.arg("--config").arg(path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run check-config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn defaults_are_valid() {
    let (ok, out) = check_config(None, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("config OK"), "{out}");
}

#[test]
fn a_valid_file_and_env_override_are_accepted() {
    let (ok, out) = check_config(
        Some("[retention]\ndays = 7\n[server]\nhttp_addr = \"127.0.0.1:9999\"\n"),
        &[("PHAROS_RETENTION__DAYS", "3")],
    );
    assert!(ok, "{out}");
}

#[test]
fn wrong_type_names_the_key() {
    let (ok, out) = check_config(Some("[retention]\ndays = \"lots\"\n"), &[]);
    assert!(!ok);
    assert!(out.contains("retention.days"), "{out}");
}

#[test]
fn unknown_key_names_the_key() {
    let (ok, out) = check_config(Some("[index]\ncommit_intervall_ms = 5\n"), &[]);
    assert!(!ok);
    assert!(out.contains("commit_intervall_ms"), "{out}");
}

#[test]
fn out_of_range_value_names_the_key_and_why() {
    let (ok, out) = check_config(None, &[("PHAROS_INDEX__COMMIT_INTERVAL_MS", "1")]);
    assert!(!ok);
    assert!(
        out.contains("index.commit_interval_ms") && out.contains("between"),
        "{out}"
    );
    let (ok, out) = check_config(None, &[("PHAROS_SERVER__HTTP_ADDR", "nowhere")]);
    assert!(!ok);
    assert!(out.contains("server.http_addr"), "{out}");
}

#[test]
fn secrets_are_refused_in_the_file() {
    let (ok, out) = check_config(Some("[auth]\ningest_token = \"abc\"\n"), &[]);
    assert!(!ok);
    assert!(
        out.contains("auth.ingest_token") && out.contains("PHAROS_AUTH__INGEST_TOKEN"),
        "{out}"
    );
    assert!(
        !out.contains("abc\""),
        "the secret must not be echoed: {out}"
    );
}

#[test]
fn missing_token_file_is_named() {
    let (ok, out) = check_config(
        None,
        &[("PHAROS_AUTH__API_TOKEN_FILE", "/nonexistent/token")],
    );
    assert!(!ok);
    assert!(out.contains("auth.api_token_file"), "{out}");
}

fn serve_failure(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .env("PHAROS_STORAGE__DATA_DIR", dir.path().join("data"));
    for port_key in [
        "PHAROS_SERVER__OTLP_GRPC_ADDR",
        "PHAROS_SERVER__OTLP_HTTP_ADDR",
    ] {
        cmd.env(port_key, "");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run serve");
    assert!(!out.status.success(), "serve should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn port_in_use_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let err = serve_failure(&[("PHAROS_SERVER__HTTP_ADDR", &addr)]);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("pharos: cannot listen on") && last.contains("server.http_addr"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn unwritable_data_dir_is_one_clear_line() {
    // Root can write anywhere, so make the data dir a path below a regular file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let data = file.join("data");
    let err = serve_failure(&[
        ("PHAROS_SERVER__HTTP_ADDR", "127.0.0.1:0"),
        ("PHAROS_STORAGE__DATA_DIR", data.to_str().expect("utf8")),
    ]);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("data dir") && last.contains(data.to_str().unwrap_or_default()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_example_config_is_valid_and_every_key_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example =
        std::fs::read_to_string(root.join("deploy/pharos.example.toml")).expect("example config");
    let (ok, out) = check_config(Some(&example), &[]);
    assert!(ok, "{out}");
    // The example rule file is valid too.
    let rules = format!("[\"{}\"]", root.join("deploy/rules/*.yml").display());
    let (ok, out) = check_config(Some(&example), &[("PHAROS_ALERTING__RULES__FILES", &rules)]);
    assert!(ok && out.contains("3 rule(s)"), "{out}");
    let docs = std::fs::read_to_string(root.join("docs/configuration.md")).expect("docs");
    let out = Command::new(bin())
        .args(["check-config", "--print"])
        .output()
        .expect("run");
    let printed: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .trim_end_matches("config OK"),
    )
    .expect("json");
    let sections = printed.as_object().expect("object");
    assert!(sections.len() >= 8, "{printed}");
    assert_documented(&docs, &printed);
}

/// Every section and key of a `check-config --print` output is in docs/configuration.md
/// (`[[section]]` for arrays of tables, such as `[[checks]]`).
pub fn assert_documented(docs: &str, printed: &serde_json::Value) {
    for (section, keys) in printed.as_object().expect("object") {
        let tables = match keys.as_array() {
            Some(tables) => {
                assert!(
                    docs.contains(&format!("## `[[{section}]]`")),
                    "docs/configuration.md lacks section [[{section}]]"
                );
                tables.iter().collect()
            }
            None => {
                assert!(
                    docs.contains(&format!("## `[{section}]`")),
                    "docs/configuration.md lacks section [{section}]"
                );
                vec![keys]
            }
        };
        for table in tables {
            for key in table.as_object().expect("section object").keys() {
                assert!(
                    docs.contains(&format!("| `{key}` |")),
                    "docs/configuration.md lacks {section}.{key}"
                );
            }
        }
    }
}

#[test]
fn metrics_from_logs_rules_are_checked_and_named() {
    let good = "[[metrics.from_logs]]\nname = \"log_errors\"\nquery = \"level:error\"\nby = [\"service\"]\n";
    let (ok, out) = check_config(Some(good), &[]);
    assert!(ok, "{out}");
    let bad = format!("{good}\n[[metrics.from_logs]]\nname = \"lat\"\nquery = \"service:(api\"\nhistogram = \"duration_ms\"\n");
    let (ok, out) = check_config(Some(&bad), &[]);
    assert!(!ok);
    assert!(
        out.contains("metrics.from_logs[1]") && out.contains("query"),
        "{out}"
    );
    let (ok, out) = check_config(
        Some("[[metrics.from_logs]]\nname = \"x\"\nquery = \"*\"\nby = [\"message\"]\n"),
        &[],
    );
    assert!(!ok);
    assert!(out.contains("full text"), "{out}");
}

/// Alerting: a rule file's problem is named with its file and line; a route naming an
/// unknown receiver names the key; a secret in the file is refused.
#[test]
fn alerting_problems_name_the_file_line_or_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("api.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: api\n    rules:\n      - alert: Fine\n        expr: up == 0\n      - alert: Broken\n        expr: sum(rate(x[5m])\n",
    )
    .expect("rules");
    let file = format!("[alerting.rules]\nfiles = [\"{}\"]\n", rules.display());
    let (ok, out) = check_config(Some(&file), &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("api.yml:7") && out.contains("Broken"), "{out}");

    std::fs::write(
        &rules,
        "groups:\n  - name: api\n    rules:\n      - alert: Fine\n        expr: up == 0\n",
    )
    .expect("rules");
    let (ok, out) = check_config(Some(&file), &[]);
    assert!(ok, "{out}");
    assert!(out.contains("1 rule(s)"), "{out}");

    let (ok, out) = check_config(
        Some("[alerting.route]\nreceiver = \"nobody\"\n[[alerting.receivers]]\nname = \"team\"\n"),
        &[],
    );
    assert!(!ok);
    assert!(out.contains("alerting.route.receiver"), "{out}");

    let (ok, out) = check_config(
        Some("[alerting.smtp]\nhost = \"mail\"\nfrom = \"a@b.c\"\npassword = \"hunter2\"\n"),
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("alerting.smtp.password") && !out.contains("hunter2"),
        "{out}"
    );
}
