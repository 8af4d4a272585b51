//! A reserve file in the data dir (`storage.reserve_bytes`), as CockroachDB's "ballast": space
//! set aside while the disk has room, given back when it fills, so that a server restarted on
//! a full disk can still open its stores, answer queries, run its alerting and say on
//! `/ready` why ingest is refused — the monitoring system must not be down exactly when a
//! disk fills. It is re-created once there is room again.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

/// The reserve's file name in the data dir.
pub const RESERVE_FILE: &str = ".disk-reserve";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(RESERVE_FILE)
}

/// Gives the reserve back (the file system is full). `true` if there was one.
pub fn release(data_dir: &Path) -> bool {
    std::fs::remove_file(path(data_dir)).is_ok()
}

/// Creates the reserve of `bytes` (really allocated, not sparse) when it is missing and the
/// file system has room for it beyond `keep_free` bytes. `Ok(true)` when it exists afterwards.
pub fn ensure(data_dir: &Path, bytes: u64, keep_free: u64) -> io::Result<bool> {
    if bytes == 0 {
        let _ = std::fs::remove_file(path(data_dir));
        return Ok(false);
    }
    let p = path(data_dir);
    if std::fs::metadata(&p).is_ok_and(|m| m.len() >= bytes) {
        return Ok(true);
    }
    let free = fs4::available_space(data_dir)?;
    if free < bytes.saturating_add(keep_free) {
        return Ok(false);
    }
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&p)?;
    if let Err(e) = file.allocate(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(&p);
        return Err(e);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_created_with_room_and_released_on_demand() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(ensure(dir.path(), 1 << 20, 0).expect("ensure"));
        assert_eq!(
            std::fs::metadata(path(dir.path())).expect("meta").len(),
            1 << 20
        );
        assert!(release(dir.path()));
        assert!(!release(dir.path()));
        // No room beyond what must stay free: not created.
        assert!(!ensure(dir.path(), 1 << 20, u64::MAX / 2).expect("ensure"));
        assert!(!path(dir.path()).exists());
    }
}
