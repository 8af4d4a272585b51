//! Provisioning: dashboards loaded from `*.json` files in `dashboards.provisioning_dir`
//! (Pharos format, or Grafana's, converted on load), so teams keep dashboards in git. The
//! directory is read at start and re-scanned every `provisioning_interval_secs`: changed files
//! are picked up and removed ones disappear. A file that fails is logged with its path and
//! listed under `errors`; it does not stop the others.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::grafana;
use super::model::{self, Dashboard};

/// A file larger than this is refused (Grafana exports carry a lot the import drops, so more
/// than the 1 MiB document limit is allowed here).
const MAX_FILE_BYTES: u64 = 8 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Provisioned {
    pub dashboard: Dashboard,
    pub path: PathBuf,
    pub updated_at_ns: i64,
    /// 1 when first seen; counts the content changes seen since the server started.
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub boards: Vec<Provisioned>,
    pub errors: Vec<FileError>,
}

impl Snapshot {
    pub fn get(&self, uid: &str) -> Option<&Provisioned> {
        self.boards.iter().find(|b| b.dashboard.uid == uid)
    }
}

/// Reads one file into a validated dashboard.
pub fn load_file(path: &Path) -> Result<Dashboard, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes, over the {MAX_FILE_BYTES}-byte limit",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut dashboard = if grafana::looks_like_grafana(&value) {
        let imported = grafana::import(&value).map_err(|e| format!("Grafana dashboard: {e}"))?;
        for s in &imported.skipped {
            tracing::warn!(path = %path.display(), panel = %s.title, reason = %s.reason, "provisioned Grafana dashboard: panel not imported");
        }
        imported.dashboard
    } else {
        model::parse_value(value).map_err(|e| e.to_string())?
    };
    if dashboard.uid.is_empty() {
        dashboard.uid = model::slug(&dashboard.title);
    }
    dashboard.validate().map_err(|e| e.to_string())?;
    Ok(dashboard)
}

fn mtime_ns(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// Scans `dir`; `previous` carries the versions forward and keeps errors from being logged
/// again every scan. `reserved` says whether a uid is taken by a built-in dashboard.
pub fn scan(dir: &Path, previous: &Snapshot, reserved: &dyn Fn(&str) -> bool) -> Snapshot {
    let mut next = Snapshot::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            next.errors.push(FileError {
                path: dir.display().to_string(),
                error: format!("cannot read the provisioning directory: {e}"),
            });
            log_new_errors(previous, &next);
            return next;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    // Sorted, so which of two files with the same uid is "the second" does not change.
    files.sort();
    for path in files {
        let shown = path.display().to_string();
        let dashboard = match load_file(&path) {
            Ok(d) => d,
            Err(error) => {
                next.errors.push(FileError { path: shown, error });
                continue;
            }
        };
        let uid = dashboard.uid.clone();
        if reserved(&uid) {
            next.errors.push(FileError {
                path: shown,
                error: format!("uid {uid:?} is a built-in dashboard's; choose another uid"),
            });
            continue;
        }
        if let Some(first) = next.get(&uid) {
            let error = format!(
                "uid {uid:?} is also used by {}; it is loaded from there",
                first.path.display()
            );
            next.errors.push(FileError { path: shown, error });
            continue;
        }
        let updated_at_ns = mtime_ns(&path);
        let (version, updated_at_ns) = match previous.get(&uid).filter(|p| p.path == path) {
            Some(p) if p.dashboard == dashboard => (p.version, p.updated_at_ns),
            Some(p) => (p.version.saturating_add(1), updated_at_ns),
            None => (1, updated_at_ns),
        };
        next.boards.push(Provisioned {
            dashboard,
            path,
            updated_at_ns,
            version,
        });
    }
    log_new_errors(previous, &next);
    next
}

fn log_new_errors(previous: &Snapshot, next: &Snapshot) {
    for e in &next.errors {
        if !previous.errors.contains(e) {
            tracing::error!(path = %e.path, error = %e.error, "provisioned dashboard not loaded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHAROS_DOC: &str = r#"{"uid": "team-a", "title": "Team A", "panels": [
        {"id": 1, "title": "up", "type": "stat", "grid": {"x": 0, "y": 0, "w": 6, "h": 4},
         "targets": [{"kind": "promql", "expr": "up"}]}]}"#;

    #[test]
    fn files_load_change_disappear_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.json"), PHAROS_DOC).unwrap();
        std::fs::write(p.join("b.json"), PHAROS_DOC).unwrap();
        std::fs::write(
            p.join("c.json"),
            r#"{"uid": "c", "title": "C", "panels": [], "gird": 1}"#,
        )
        .unwrap();
        std::fs::write(p.join("builtin.json"), r#"{"uid": "pharos", "title": "P"}"#).unwrap();
        std::fs::write(p.join("notes.txt"), "ignored").unwrap();
        let none = |_: &str| false;
        let reserved = |u: &str| u == "pharos";
        let s1 = scan(p, &Snapshot::default(), &reserved);
        assert_eq!(s1.boards.len(), 1);
        assert_eq!(s1.boards[0].version, 1);
        assert!(s1.boards[0].path.ends_with("a.json"));
        let errors: Vec<String> = s1
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.error))
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("b.json") && errors[0].contains("a.json"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("builtin.json") && errors[1].contains("built-in"),
            "{errors:?}"
        );
        assert!(
            errors[2].contains("c.json") && errors[2].contains("gird"),
            "{errors:?}"
        );

        // Unchanged: same version; changed: the next; removed: gone.
        let s2 = scan(p, &s1, &none);
        assert_eq!(s2.get("team-a").unwrap().version, 1);
        std::fs::write(p.join("a.json"), PHAROS_DOC.replace("Team A", "Team A2")).unwrap();
        let s3 = scan(p, &s2, &none);
        assert_eq!(s3.get("team-a").unwrap().version, 2);
        std::fs::remove_file(p.join("a.json")).unwrap();
        let s4 = scan(p, &s3, &none);
        // b.json has the same uid and now loads in a.json's place.
        assert!(s4.get("team-a").unwrap().path.ends_with("b.json"));
        let gone = scan(&p.join("missing"), &s4, &none);
        assert!(gone.boards.is_empty());
        assert!(gone.errors[0]
            .error
            .contains("cannot read the provisioning directory"));
    }
}
