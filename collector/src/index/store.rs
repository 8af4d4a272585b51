//! The set of partitions on disk, shared by the indexer (which creates and drops them) and the
//! query layer (which searches them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, ReloadPolicy};

use super::partition::PartitionId;
use super::schema::{LogSchema, INDEX_FORMAT_VERSION};
use super::IndexError;

const FORMAT_FILE: &str = "FORMAT";
const ERRORS_ONLY_MARKER: &str = "errors_only";
const TMP_SUFFIX: &str = ".creating";

/// One open partition: its index and a reader that the indexer reloads after each commit.
pub struct PartitionHandle {
    pub id: PartitionId,
    pub path: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    errors_only: AtomicBool,
}

impl PartitionHandle {
    /// True once retention removed this partition's below-ERROR records.
    pub fn errors_only(&self) -> bool {
        self.errors_only.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_errors_only(&self) -> Result<(), IndexError> {
        let marker = self.path.join(ERRORS_ONLY_MARKER);
        std::fs::write(&marker, b"below-ERROR records removed by retention\n")
            .map_err(|e| IndexError::io(&marker, e))?;
        self.errors_only.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Start and end (exclusive) of the partition's time range, Unix ns.
    pub fn range_ns(&self) -> (i64, i64) {
        (self.id.start_ns, self.id.end_ns())
    }

    /// The highest WAL LSN committed into this partition (from the last commit's payload).
    pub fn committed_lsn(&self) -> Result<u64, IndexError> {
        let metas = self
            .index
            .load_metas()
            .map_err(|e| IndexError::tantivy(&self.path, e))?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(parse_commit_payload)
            .unwrap_or(0))
    }

    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.path)
    }
}

/// Commit payload format: `{"lsn":N}`.
pub(crate) fn commit_payload(lsn: u64) -> String {
    format!("{{\"lsn\":{lsn}}}")
}

fn parse_commit_payload(payload: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    v.get("lsn")?.as_u64()
}

/// Bytes of all files below `path` (0 for what cannot be read).
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// All partitions under `<data_dir>/index`.
pub struct LogStore {
    dir: PathBuf,
    schema: LogSchema,
    settings: IndexSettings,
    /// Length of new partitions (`index.partition_hours`).
    partition_len_ns: i64,
    partitions: RwLock<BTreeMap<PartitionId, Arc<PartitionHandle>>>,
}

impl LogStore {
    /// Opens the index directory, creating it (and its format file) when new, refusing a
    /// format this build does not understand, and opening every partition found.
    pub fn open(
        dir: &Path,
        docstore_zstd_level: i32,
        partition_hours: u32,
    ) -> Result<LogStore, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
        let format_path = dir.join(FORMAT_FILE);
        let write_format = || {
            crate::durable_file::replace_file(
                &format_path,
                format!("{INDEX_FORMAT_VERSION}\n").as_bytes(),
            )
            .map_err(|e| IndexError::io(&format_path, e))
        };
        match std::fs::read_to_string(&format_path) {
            // Empty: an older build was killed between creating the marker and writing it,
            // before any partition existed.
            Ok(s) if s.trim().is_empty() => write_format()?,
            Ok(s) => {
                let found = s.trim().to_string();
                if found != INDEX_FORMAT_VERSION.to_string() {
                    return Err(IndexError::Format {
                        path: format_path,
                        found,
                        supported: INDEX_FORMAT_VERSION,
                        hint: "use the Pharos version that wrote it, or move the data dir away",
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_format()?,
            Err(e) => return Err(IndexError::io(&format_path, e)),
        }
        let settings = IndexSettings {
            docstore_compression: Compressor::Zstd(ZstdCompressor {
                compression_level: Some(docstore_zstd_level),
            }),
            // Log lines are small; bigger blocks compress much better and hits are few.
            docstore_blocksize: 64 * 1024,
            ..IndexSettings::default()
        };
        let store = LogStore {
            dir: dir.to_path_buf(),
            schema: LogSchema::new(),
            settings,
            partition_len_ns: PartitionId::from_hours(0, partition_hours).len_ns,
            partitions: RwLock::new(BTreeMap::new()),
        };
        let entries = std::fs::read_dir(dir).map_err(|e| IndexError::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| IndexError::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() {
                continue;
            }
            if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
                // A partition whose creation a crash interrupted: it never held data.
                let _ = std::fs::remove_dir_all(entry.path());
                continue;
            }
            let Some(id) = PartitionId::parse(&name) else {
                tracing::warn!(dir = %entry.path().display(), "ignoring a directory that is not a partition");
                continue;
            };
            // A directory without meta.json never had a commit: recreate it empty.
            let create = !entry.path().join("meta.json").exists();
            let handle = store.open_partition(id, create)?;
            store.partitions.write().insert(id, Arc::new(handle));
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn schema(&self) -> &LogSchema {
        &self.schema
    }

    fn open_partition(&self, id: PartitionId, create: bool) -> Result<PartitionHandle, IndexError> {
        let path = self.dir.join(id.dir_name());
        if create {
            self.create_partition_dir(&path)?;
        }
        let index = Index::open_in_dir(&path).map_err(|e| IndexError::tantivy(&path, e))?;
        LogSchema::register_tokenizers(index.tokenizers());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| IndexError::tantivy(&path, e))?;
        let errors_only = path.join(ERRORS_ONLY_MARKER).exists();
        Ok(PartitionHandle {
            id,
            path,
            index,
            reader,
            errors_only: AtomicBool::new(errors_only),
        })
    }

    /// Creates an empty index under a temporary name and renames it into place, so a crash
    /// can never leave a partition directory without its `meta.json`.
    fn create_partition_dir(&self, path: &Path) -> Result<(), IndexError> {
        if path.join("meta.json").exists() {
            return Ok(());
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self.dir.join(format!(".{name}{TMP_SUFFIX}"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| IndexError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| IndexError::io(&tmp, e))?;
        Index::builder()
            .schema(self.schema.schema.clone())
            .settings(self.settings.clone())
            .create_in_dir(&tmp)
            .map_err(|e| IndexError::tantivy(&tmp, e))?;
        if path.exists() {
            // Left by an older build or by hand, without meta.json: nothing committed is in it.
            std::fs::remove_dir_all(path).map_err(|e| IndexError::io(path, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| IndexError::io(path, e))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| IndexError::io(&self.dir, e))?;
        Ok(())
    }

    /// The partition a new record with this timestamp goes to (configured length).
    pub fn partition_for(&self, ts_ns: i64) -> PartitionId {
        PartitionId::containing(ts_ns, self.partition_len_ns)
    }

    /// Length of new partitions, ns.
    pub fn partition_len_ns(&self) -> i64 {
        self.partition_len_ns
    }

    /// The partition `id`, created on first use.
    pub fn get_or_create(&self, id: PartitionId) -> Result<Arc<PartitionHandle>, IndexError> {
        if let Some(p) = self.partitions.read().get(&id) {
            return Ok(p.clone());
        }
        let mut map = self.partitions.write();
        if let Some(p) = map.get(&id) {
            return Ok(p.clone());
        }
        let handle = Arc::new(self.open_partition(id, true)?);
        map.insert(id, handle.clone());
        Ok(handle)
    }

    pub fn get(&self, id: PartitionId) -> Option<Arc<PartitionHandle>> {
        self.partitions.read().get(&id).cloned()
    }

    /// Partitions whose range overlaps `[start_ns, end_ns)`, newest first.
    pub fn overlapping(&self, start_ns: i64, end_ns: i64) -> Vec<Arc<PartitionHandle>> {
        if end_ns <= start_ns {
            return Vec::new();
        }
        // Partitions start before `end_ns`; of those, keep the ones ending after `start_ns`
        // (lengths may differ after a change of `index.partition_hours`).
        let first_excluded = PartitionId {
            start_ns: end_ns,
            len_ns: i64::MIN,
        };
        self.partitions
            .read()
            .range(..first_excluded)
            .rev()
            .filter(|(id, _)| id.end_ns() > start_ns)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Every partition, oldest first.
    pub fn all(&self) -> Vec<Arc<PartitionHandle>> {
        self.partitions.read().values().cloned().collect()
    }

    /// Forgets a partition and deletes its files. Searches holding its reader finish on the
    /// memory-mapped files, which Linux keeps alive until they are unmapped.
    pub fn remove(&self, id: PartitionId) -> Result<(), IndexError> {
        let removed = self.partitions.write().remove(&id);
        if let Some(p) = removed {
            std::fs::remove_dir_all(&p.path).map_err(|e| IndexError::io(&p.path, e))?;
        }
        Ok(())
    }

    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_format() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FORMAT_FILE), "999\n").unwrap();
        let err = LogStore::open(dir.path(), 3, 24)
            .err()
            .expect("must refuse");
        let msg = err.to_string();
        assert!(msg.contains("format 999"), "{msg}");
    }

    /// A kill between creating the marker and writing it (an older build) left it empty:
    /// the store opens and the marker is written.
    #[test]
    fn an_empty_format_marker_is_written_not_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FORMAT_FILE), "").unwrap();
        LogStore::open(dir.path(), 3, 24).expect("opens");
        let marker = std::fs::read_to_string(dir.path().join(FORMAT_FILE)).unwrap();
        assert_eq!(marker.trim(), INDEX_FORMAT_VERSION.to_string());
    }
}
