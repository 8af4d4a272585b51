//! Tests of the chunk files (`chunkfile.rs`): append and read back, reopen, torn and
//! uncommitted tails, corruption, slice drops.

use super::format::parse_file_name;
use super::*;
use crate::tsdb::gorilla::ChunkEncoder;
use crate::tsdb::Sample;

type R = Result<(), Box<dyn std::error::Error>>;

const H: i64 = 3_600_000;

fn chunk(first: i64, n: i64) -> Vec<u8> {
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            ts_ms: first + i * 15_000,
            value: i as f64,
        })
        .collect();
    ChunkEncoder::from_samples(&samples).bytes()
}

/// Appends and commits, returning the committed lengths to reopen with (what sled keeps).
fn append_commit(
    cf: &mut ChunkFiles,
    meta: &mut BTreeMap<i64, u64>,
    chunks: &[(u64, i64, Vec<u8>)],
) -> R {
    let p = cf.append(chunks)?;
    for (k, v) in p.meta_entries() {
        let (slice, len) = parse_meta(&k, &v)?;
        meta.insert(slice, len);
    }
    cf.commit(p);
    Ok(())
}

fn sample_chunks() -> Vec<(u64, i64, Vec<u8>)> {
    let mut out = Vec::new();
    for id in 1..=3u64 {
        for k in 0..10i64 {
            let first = 100 * SLICE_MS + k * H / 2 + id as i64;
            out.push((id, first, chunk(first, 100 + k)));
        }
    }
    out
}

fn all(cf: &ChunkFiles, id: u64) -> Result<Vec<(i64, Vec<u8>)>, TsdbError> {
    cf.chunks(id, i64::MIN, i64::MAX)
}

#[test]
fn appended_chunks_read_back_and_survive_a_reopen() -> R {
    let dir = tempfile::tempdir()?;
    let cdir = dir.path().join(CHUNKS_DIR);
    let mut meta = BTreeMap::new();
    let mut cf = ChunkFiles::open(&cdir, &meta)?;
    let chunks = sample_chunks();
    append_commit(&mut cf, &mut meta, &chunks[..12])?;
    append_commit(&mut cf, &mut meta, &chunks[12..])?;
    // 10 half-hour chunks from the slice start: 5 hours, one slice.
    assert_eq!(cf.slices(), vec![100 * SLICE_MS]);
    let want = |id: u64| -> Vec<(i64, Vec<u8>)> {
        chunks
            .iter()
            .filter(|c| c.0 == id)
            .map(|c| (c.1, c.2.clone()))
            .collect()
    };
    for id in 1..=3 {
        assert_eq!(all(&cf, id)?, want(id));
    }
    assert_eq!(all(&cf, 4)?, vec![]);
    let (first, bytes) = &want(2)[3];
    assert_eq!(cf.chunks(2, *first, *first)?, vec![(*first, bytes.clone())]);
    assert_eq!(cf.read(2, *first)?, Some(bytes.clone()));
    assert_eq!(cf.read(2, *first + 1)?, None);
    assert_eq!(cf.records(), 30);
    // Appending a chunk that is already there is a no-op.
    let p = cf.append(&chunks[..1])?;
    assert_eq!(p.chunks(), 0);
    cf.commit(p);
    let bytes_before = cf.disk_bytes();
    drop(cf);
    let cf = ChunkFiles::open(&cdir, &meta)?;
    for id in 1..=3 {
        assert_eq!(all(&cf, id)?, want(id));
    }
    assert_eq!((cf.records(), cf.disk_bytes()), (30, bytes_before));
    let scanned: Vec<ScannedChunk> = scan(&cdir)?.collect::<Result<_, _>>()?;
    assert_eq!(scanned.len(), 30);
    assert_eq!(
        scanned.iter().map(|c| c.disk_len).sum::<u64>() + FILE_HEADER_LEN,
        bytes_before
    );
    Ok(())
}

#[test]
fn uncommitted_bytes_are_truncated_and_uncommitted_files_removed() -> R {
    let dir = tempfile::tempdir()?;
    let cdir = dir.path().join(CHUNKS_DIR);
    let mut meta = BTreeMap::new();
    let mut cf = ChunkFiles::open(&cdir, &meta)?;
    let chunks = sample_chunks();
    append_commit(&mut cf, &mut meta, &chunks[..5])?;
    let committed = cf.disk_bytes();
    // A crash after the fsync of an append, before sled committed it: one record more in
    // the existing file, and a new file of another slice.
    let later = 200 * SLICE_MS;
    let p = cf.append(&[chunks[5].clone(), (1, later, chunk(later, 50))])?;
    drop(p);
    drop(cf);
    let path = cdir.join(file_name(100 * SLICE_MS));
    assert!(std::fs::metadata(&path)?.len() > committed);
    assert!(cdir.join(file_name(later)).exists());
    // And a torn tail on top.
    let f = OpenOptions::new().append(true).open(&path)?;
    f.write_all_at(&[1, 2, 3], std::fs::metadata(&path)?.len())?;
    drop(f);
    let cf = ChunkFiles::open(&cdir, &meta)?;
    assert_eq!(std::fs::metadata(&path)?.len(), committed);
    assert!(!cdir.join(file_name(later)).exists());
    assert_eq!(cf.records(), 5);
    assert_eq!(all(&cf, 1)?.len(), 5);
    Ok(())
}

#[test]
fn an_aborted_append_leaves_nothing_and_the_next_one_lands_cleanly() -> R {
    let dir = tempfile::tempdir()?;
    let cdir = dir.path().join(CHUNKS_DIR);
    let mut meta = BTreeMap::new();
    let mut cf = ChunkFiles::open(&cdir, &meta)?;
    let chunks = sample_chunks();
    append_commit(&mut cf, &mut meta, &chunks[..3])?;
    let p = cf.append(&chunks[3..6])?;
    cf.abort(p);
    assert_eq!(all(&cf, 1)?.len(), 3);
    append_commit(&mut cf, &mut meta, &chunks[3..])?;
    drop(cf);
    let cf = ChunkFiles::open(&cdir, &meta)?;
    assert_eq!(cf.records(), 30);
    assert_eq!(all(&cf, 1)?.len(), 10);
    Ok(())
}

#[test]
fn a_corrupt_record_inside_the_committed_length_is_an_error() -> R {
    let dir = tempfile::tempdir()?;
    let cdir = dir.path().join(CHUNKS_DIR);
    let mut meta = BTreeMap::new();
    let mut cf = ChunkFiles::open(&cdir, &meta)?;
    append_commit(&mut cf, &mut meta, &sample_chunks())?;
    drop(cf);
    let path = cdir.join(file_name(100 * SLICE_MS));
    let mut bytes = std::fs::read(&path)?;
    // A bit of the second record's body.
    let (len0, _, _, _) = parse_header(
        bytes[FILE_HEADER_LEN as usize..][..RECORD_HEADER_LEN]
            .try_into()
            .map_err(|_| "short")?,
    );
    let second = FILE_HEADER_LEN as usize + RECORD_HEADER_LEN + len0 as usize;
    bytes[second + RECORD_HEADER_LEN + 3] ^= 0x10;
    std::fs::write(&path, &bytes)?;
    let err = match ChunkFiles::open(&cdir, &meta) {
        Ok(_) => return Err("a corrupt chunk file opened".into()),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(matches!(err, TsdbError::Corrupt(_)), "{msg}");
    assert!(
        msg.contains(&file_name(100 * SLICE_MS))
            && msg.contains(&format!("offset {second}"))
            && msg.contains("checksum"),
        "{msg}"
    );
    // A record cut short inside the committed length, and a bad magic.
    bytes.truncate(second + 10);
    std::fs::write(&path, &bytes)?;
    let short: BTreeMap<i64, u64> = [(100 * SLICE_MS, bytes.len() as u64)].into();
    let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
    assert!(
        msg.as_deref().is_some_and(|m| m.contains("torn")),
        "{msg:?}"
    );
    bytes[0] = b'X';
    std::fs::write(&path, &bytes)?;
    let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
    assert!(
        msg.as_deref().is_some_and(|m| m.contains("magic")),
        "{msg:?}"
    );
    // A committed file that is missing.
    std::fs::remove_file(&path)?;
    let msg = ChunkFiles::open(&cdir, &short).err().map(|e| e.to_string());
    assert!(
        msg.as_deref().is_some_and(|m| m.contains("missing")),
        "{msg:?}"
    );
    Ok(())
}

#[test]
fn expired_slices_are_dropped_whole() -> R {
    let dir = tempfile::tempdir()?;
    let cdir = dir.path().join(CHUNKS_DIR);
    let mut meta = BTreeMap::new();
    let mut cf = ChunkFiles::open(&cdir, &meta)?;
    // Series 1 and 2: a chunk every 2 hours over 4 slices.
    let chunks: Vec<(u64, i64, Vec<u8>)> = (0..12i64)
        .flat_map(|k| {
            let first = 10 * SLICE_MS + k * 2 * H;
            [
                (1u64, first, chunk(first, 20)),
                (2, first + 1, chunk(first + 1, 20)),
            ]
        })
        .collect();
    append_commit(&mut cf, &mut meta, &chunks)?;
    assert_eq!(cf.slices().len(), 4);
    // Slice 10 holds samples until 11 slices + 2 h: not yet expired at that minus 1 ms.
    let end10 = 11 * SLICE_MS + CHUNK_MAX_SPAN_MS;
    assert!(cf.expired(end10 - 1).is_empty());
    assert_eq!(cf.expired(end10), vec![(10 * SLICE_MS, 6)]);
    assert_eq!(cf.expired(end10 + SLICE_MS).len(), 2);
    cf.remove(&[10 * SLICE_MS]);
    meta.remove(&(10 * SLICE_MS));
    assert_eq!(cf.first_ts(1), Some(11 * SLICE_MS));
    assert_eq!(cf.records(), 18);
    assert!(!cdir.join(file_name(10 * SLICE_MS)).exists());
    // Samples from: the series' last chunk starts 4 slices - 2 h in and lasts 20 × 15 s.
    let last = 14 * SLICE_MS - 2 * H;
    assert!(cf.has_samples_from(1, last + 19 * 15_000)?);
    assert!(!cf.has_samples_from(1, last + 19 * 15_000 + 1)?);
    assert!(!cf.has_samples_from(3, 0)?);
    drop(cf);
    let cf = ChunkFiles::open(&cdir, &meta)?;
    assert_eq!((cf.records(), cf.slices().len()), (18, 3));
    Ok(())
}

#[test]
fn slices_and_names_are_canonical() {
    assert_eq!(slice_of(0), 0);
    assert_eq!(slice_of(SLICE_MS - 1), 0);
    assert_eq!(slice_of(-1), -SLICE_MS);
    assert_eq!(slice_of(i64::MIN), i64::MIN);
    assert_eq!(parse_file_name("21600000.chk"), Some(SLICE_MS));
    assert_eq!(parse_file_name("-21600000.chk"), Some(-SLICE_MS));
    assert_eq!(parse_file_name("021600000.chk"), None);
    assert_eq!(parse_file_name("x.chk"), None);
    let l = Loc::new(-5, (1 << OFFSET_BITS) - 1, MAX_CHUNK_BYTES);
    assert_eq!(
        (l.first_ts, l.offset(), l.len()),
        (-5, (1 << OFFSET_BITS) - 1, MAX_CHUNK_BYTES as usize)
    );
}
