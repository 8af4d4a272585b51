//! Small files that must never be seen half-written (format markers, checkpoints).

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` so that a crash at any point leaves either the old file or
/// the new one: write a sibling temp file, fsync it, rename it over `path`, fsync the
/// directory. (A plain `fs::write` killed between its create and its write leaves an empty
/// file, which a format check would then refuse on every later start.)
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("FORMAT");
        replace_file(&path, b"1\n").expect("first write");
        replace_file(&path, b"22\n").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"22\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("FORMAT")]);
    }
}
