use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::segment::{encode_frame, segment_file_name};
use super::*;

fn metrics() -> Arc<CollectorMetrics> {
    Arc::new(CollectorMetrics::default())
}

fn config(dir: &Path, segment_bytes: u64) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        fsync: true,
    }
}

fn open(dir: &Path, segment_bytes: u64) -> (Wal, RecoveryReport) {
    Wal::open(config(dir, segment_bytes), metrics()).expect("open WAL")
}

fn payload(i: u64) -> Vec<u8> {
    format!("record-{i}-{}", "x".repeat((i % 7) as usize)).into_bytes()
}

/// Reads everything from `from` until caught up.
fn read_all(wal: &Wal, from: Lsn) -> Vec<(Lsn, Vec<u8>)> {
    let mut r = wal.reader(from).unwrap();
    let mut out = Vec::new();
    loop {
        let b = r.next_batch(7).unwrap();
        if b.is_empty() {
            return out;
        }
        out.extend(b);
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

/// Appends frames of 1..=3 records; returns every (lsn, payload) written.
fn append_frames(wal: &Wal, frames: u64) -> Vec<(Lsn, Vec<u8>)> {
    let mut all = Vec::new();
    for f in 0..frames {
        let n = f % 3 + 1;
        let recs: Vec<Vec<u8>> = (0..n).map(|i| payload(f * 10 + i)).collect();
        let (first, last) = wal.append_blocking(recs.clone()).unwrap();
        assert_eq!(last - first + 1, n);
        for (i, r) in recs.into_iter().enumerate() {
            all.push((first + i as u64, r));
        }
    }
    all
}

#[test]
fn append_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, report) = open(dir.path(), 64 << 20);
    assert_eq!(report.last_lsn, 0);
    assert_eq!(report.records, 0);
    assert_eq!(wal.durable_lsn(), 0);
    assert_eq!(
        segment_files(dir.path()),
        vec![dir.path().join("00000000000000000001.wal")]
    );

    assert_eq!(wal.append_blocking(vec![b"a".to_vec()]).unwrap(), (1, 1));
    assert_eq!(
        wal.append_blocking(vec![b"b".to_vec(), vec![], b"d".to_vec()])
            .unwrap(),
        (2, 4)
    );
    assert_eq!(wal.append_blocking(vec![]).unwrap(), (0, 0));
    assert_eq!(wal.durable_lsn(), 4);
    assert_eq!(*wal.subscribe().borrow(), 4);

    let got = read_all(&wal, 1);
    assert_eq!(
        got,
        vec![
            (1, b"a".to_vec()),
            (2, b"b".to_vec()),
            (3, vec![]),
            (4, b"d".to_vec())
        ]
    );
    // From the middle of a frame, and batch sizes.
    let mut r = wal.reader(3).unwrap();
    assert_eq!(r.next_batch(1).unwrap(), vec![(3, vec![])]);
    assert_eq!(r.next_batch(10).unwrap(), vec![(4, b"d".to_vec())]);
    assert!(r.next_batch(10).unwrap().is_empty());
    // The reader picks up later appends.
    wal.append_blocking(vec![b"e".to_vec()]).unwrap();
    assert_eq!(r.next_batch(10).unwrap(), vec![(5, b"e".to_vec())]);
    assert_eq!(
        wal.disk_bytes(),
        fs::metadata(&segment_files(dir.path())[0]).unwrap().len()
    );
    assert!(wal.fsync_count() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let mut rx = wal.subscribe();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let wal = wal.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..200u64 {
                let recs = vec![
                    format!("{t}:{i}").into_bytes(),
                    format!("{t}:{i}b").into_bytes(),
                ];
                let (first, last) = wal.append(recs.clone()).await.unwrap();
                assert_eq!(last, first + 1);
                assert!(wal.durable_lsn() >= last, "acknowledged before durable");
                got.push((first, recs));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by_key(|(lsn, _)| *lsn);
    // Distinct and contiguous: 1, 3, 5, ... 3199.
    for (i, (first, _)) in all.iter().enumerate() {
        assert_eq!(*first, 1 + 2 * i as u64);
    }
    assert_eq!(wal.durable_lsn(), 3200);
    assert_eq!(*rx.borrow_and_update(), 3200);
    let fsyncs = wal.fsync_count();
    eprintln!("group commit: {fsyncs} fsyncs for 1600 appends");
    assert!(
        fsyncs < 1600,
        "no group commit: {fsyncs} fsyncs for 1600 appends"
    );

    let read = read_all(&wal, 1);
    assert_eq!(read.len(), 3200);
    for (first, recs) in &all {
        assert_eq!(read[(*first - 1) as usize], (*first, recs[0].clone()));
        assert_eq!(read[*first as usize], (*first + 1, recs[1].clone()));
    }
    let metrics_text = {
        let mut reg = prometheus_client::registry::Registry::default();
        wal.inner.metrics.register(&mut reg);
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &reg).unwrap();
        s
    };
    assert!(metrics_text.contains(&format!("pharos_wal_fsync_seconds_count {fsyncs}")));
    wal.close();
}

#[tokio::test]
async fn subscribe_sees_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let mut rx = wal.subscribe();
    let w = wal.clone();
    let h = tokio::spawn(async move { w.append(vec![b"x".to_vec()]).await.unwrap() });
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(h.await.unwrap(), (1, 1));
}

#[test]
fn reopen_continues_lsns() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let mut expected = append_frames(&wal, 10);
    wal.close();
    wal.close(); // idempotent
    assert!(matches!(
        wal.append_blocking(vec![b"late".to_vec()]),
        Err(WalError::Closed)
    ));
    // Readers still work on a closed WAL.
    assert_eq!(read_all(&wal, 1), expected);
    drop(wal);

    let (wal, report) = open(dir.path(), 64 << 20);
    let last = expected.last().unwrap().0;
    assert_eq!(report.last_lsn, last);
    assert_eq!(report.records, last);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.segments, 1);
    assert_eq!(wal.durable_lsn(), last);
    let (first, _) = wal.append_blocking(vec![b"after".to_vec()]).unwrap();
    assert_eq!(first, last + 1);
    expected.push((first, b"after".to_vec()));
    assert_eq!(read_all(&wal, 1), expected);
    drop(wal); // drop without close also flushes and stops the writer

    let (wal, report) = open(dir.path(), 64 << 20);
    assert_eq!(report.last_lsn, last + 1);
    assert_eq!(read_all(&wal, 1), expected);
}

#[test]
fn torn_tail_is_truncated_at_open() {
    // Frame lengths, to cut inside the header, inside the payload, and at the last byte.
    let mut probe = Vec::new();
    let last_frame_len = encode_frame(&mut probe, 1, &[payload(42)]) as u64;
    let cuts = [1, 4, 11, 12, 13, 20, last_frame_len / 2, last_frame_len - 1];
    for cut in cuts {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = open(dir.path(), 64 << 20);
        let mut expected = append_frames(&wal, 5);
        let (lsn, _) = wal.append_blocking(vec![payload(42)]).unwrap();
        wal.close();
        drop(wal);

        let seg = segment_files(dir.path()).pop().unwrap();
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - cut)
            .unwrap();

        let (wal, report) = open(dir.path(), 64 << 20);
        assert_eq!(report.truncated_bytes, last_frame_len - cut, "cut {cut}");
        assert_eq!(report.last_lsn, lsn - 1, "cut {cut}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), len - last_frame_len);
        assert_eq!(read_all(&wal, 1), expected, "cut {cut}");

        // New appends reuse the lost LSN and read back with no garbage.
        let (first, last) = wal
            .append_blocking(vec![b"new1".to_vec(), b"new2".to_vec()])
            .unwrap();
        assert_eq!((first, last), (lsn, lsn + 1));
        expected.push((lsn, b"new1".to_vec()));
        expected.push((lsn + 1, b"new2".to_vec()));
        assert_eq!(read_all(&wal, 1), expected, "cut {cut}");
        drop(wal);

        let (wal, report) = open(dir.path(), 64 << 20);
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!(read_all(&wal, 1), expected, "cut {cut}");
    }
}

#[test]
fn garbage_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let expected = append_frames(&wal, 4);
    drop(wal);
    let seg = segment_files(dir.path()).pop().unwrap();
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0u8; 100]).unwrap(); // e.g. preallocated zeros after a crash
    drop(f);
    let (wal, report) = open(dir.path(), 64 << 20);
    assert_eq!(report.truncated_bytes, 100);
    assert_eq!(read_all(&wal, 1), expected);
    assert_eq!(fs::metadata(&seg).unwrap().len(), wal.disk_bytes());
    let (lsn, _) = wal.append_blocking(vec![b"more".to_vec()]).unwrap();
    let mut expected = expected;
    expected.push((lsn, b"more".to_vec()));
    assert_eq!(read_all(&wal, 1), expected);
}

#[test]
fn flipped_byte_in_last_frame_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let expected = append_frames(&wal, 5);
    let (lsn, _) = wal
        .append_blocking(vec![b"the last frame payload".to_vec()])
        .unwrap();
    drop(wal);
    let seg = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x01; // inside the record payload
    fs::write(&seg, &bytes).unwrap();

    let (wal, report) = open(dir.path(), 64 << 20);
    let mut probe = Vec::new();
    let frame_len = encode_frame(&mut probe, 1, &[b"the last frame payload"]) as u64;
    assert_eq!(report.truncated_bytes, frame_len);
    assert_eq!(report.last_lsn, lsn - 1);
    assert_eq!(read_all(&wal, 1), expected);
    assert_eq!(
        wal.append_blocking(vec![b"next".to_vec()]).unwrap(),
        (lsn, lsn)
    );
    let mut expected = expected;
    expected.push((lsn, b"next".to_vec()));
    assert_eq!(read_all(&wal, 1), expected);
}

#[test]
fn segments_roll_and_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 200);
    let mut reader = wal.reader(1).unwrap(); // made before the later segments exist
    let mut expected = append_frames(&wal, 30);
    let files = segment_files(dir.path());
    assert!(files.len() >= 4, "{files:?}");
    assert_eq!(
        wal.disk_bytes(),
        files
            .iter()
            .map(|f| fs::metadata(f).unwrap().len())
            .sum::<u64>()
    );
    // Every segment starts with the LSN in its name and ends right before the next one.
    let starts: Vec<Lsn> = files
        .iter()
        .map(|f| {
            segment::parse_segment_file_name(f.file_name().unwrap().to_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(starts[0], 1);
    let mut got = Vec::new();
    loop {
        let b = reader.next_batch(5).unwrap();
        if b.is_empty() {
            break;
        }
        got.extend(b);
    }
    assert_eq!(got, expected);

    // Nothing is fully below LSN 1 or below the second segment's start.
    assert_eq!(wal.remove_segments_before(1).unwrap(), 0);
    assert_eq!(wal.remove_segments_before(starts[1] - 1).unwrap(), 0);
    // Exactly the first segment is fully below starts[1].
    let first_len = fs::metadata(&files[0]).unwrap().len();
    assert_eq!(wal.remove_segments_before(starts[1]).unwrap(), first_len);
    assert!(!files[0].exists());
    assert!(files[1].exists());
    // A reader from LSN 1 now starts at the oldest kept record.
    assert_eq!(
        read_all(&wal, 1),
        expected[(starts[1] - 1) as usize..].to_vec()
    );

    // Remove everything: the active (last) segment survives.
    let last = wal.durable_lsn();
    let freed = wal.remove_segments_before(last + 1).unwrap();
    assert!(freed > 0);
    let left = segment_files(dir.path());
    assert_eq!(left, vec![files.last().unwrap().clone()]);
    assert_eq!(wal.disk_bytes(), fs::metadata(&left[0]).unwrap().len());
    let kept_from = *starts.last().unwrap();
    assert_eq!(
        read_all(&wal, 1),
        expected[(kept_from - 1) as usize..].to_vec()
    );
    drop(wal);

    // Reopen: LSNs continue after the last one, not from 1.
    let (wal, report) = open(dir.path(), 200);
    assert_eq!(report.last_lsn, last);
    assert_eq!(report.segments, 1);
    let (first, _) = wal.append_blocking(vec![b"z".to_vec()]).unwrap();
    assert_eq!(first, last + 1);
    expected.push((first, b"z".to_vec()));
    assert_eq!(
        read_all(&wal, kept_from),
        expected[(kept_from - 1) as usize..].to_vec()
    );
}

#[test]
fn lsns_survive_removal_of_all_records() {
    // The active segment is full, so the next append rolls; then every record-holding segment
    // is removed and only an empty segment named by the next LSN remains.
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 1);
    append_frames(&wal, 3); // LSNs 1..=6 in three segments
    wal.append_blocking(vec![b"7".to_vec()]).unwrap();
    assert!(wal.remove_segments_before(8).unwrap() > 0);
    let files = segment_files(dir.path());
    assert_eq!(files, vec![dir.path().join(segment_file_name(7))]);
    drop(wal);
    let (wal, report) = open(dir.path(), 1);
    assert_eq!(report.last_lsn, 7);
    assert_eq!(wal.append_blocking(vec![b"8".to_vec()]).unwrap(), (8, 8));
    assert_eq!(
        read_all(&wal, 0),
        vec![(7, b"7".to_vec()), (8, b"8".to_vec())]
    );
}

#[test]
fn corrupt_older_segment_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 150);
    let expected = append_frames(&wal, 20);
    drop(wal);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    // Corrupt the first frame of the second segment.
    let mut bytes = fs::read(&files[1]).unwrap();
    bytes[20] ^= 0xff;
    fs::write(&files[1], &bytes).unwrap();
    let second_start =
        segment::parse_segment_file_name(files[1].file_name().unwrap().to_str().unwrap()).unwrap();
    let third_start =
        segment::parse_segment_file_name(files[2].file_name().unwrap().to_str().unwrap()).unwrap();

    let (wal, report) = open(dir.path(), 150);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.last_lsn, expected.last().unwrap().0);
    let got = read_all(&wal, 1);
    let want: Vec<_> = expected
        .iter()
        .filter(|(l, _)| *l < second_start || *l >= third_start)
        .cloned()
        .collect();
    assert_eq!(got, want);
}

#[test]
fn reader_never_passes_durable_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let expected = append_frames(&wal, 3);
    let durable = wal.durable_lsn();
    // Simulate a frame written but not yet fsynced: valid bytes on disk past the durable LSN.
    let seg = segment_files(dir.path()).pop().unwrap();
    let mut frame = Vec::new();
    encode_frame(&mut frame, durable + 1, &[b"not durable"]);
    OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&frame)
        .unwrap();
    let mut r = wal.reader(1).unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(r.next_batch(100).unwrap());
    }
    assert_eq!(got, expected);
    assert!(got.iter().all(|(l, _)| *l <= durable));
    let mut r = wal.reader(durable + 1).unwrap();
    assert!(r.next_batch(100).unwrap().is_empty());
}

#[test]
fn concurrent_reader_stays_within_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 4096);
    let w = wal.clone();
    let writer = std::thread::spawn(move || append_frames(&w, 300));
    let mut r = wal.reader(1).unwrap();
    let mut got = Vec::new();
    loop {
        let done = writer.is_finished();
        let b = r.next_batch(13).unwrap();
        let durable = wal.durable_lsn();
        for (lsn, rec) in b {
            assert!(lsn <= durable);
            assert_eq!(lsn, got.len() as u64 + 1, "gap or duplicate");
            got.push((lsn, rec));
        }
        if done && got.len() as u64 == wal.durable_lsn() {
            break;
        }
    }
    assert_eq!(got, writer.join().unwrap());
}

#[test]
fn oversized_append_is_rejected_without_consuming_lsns() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _) = open(dir.path(), 64 << 20);
    let big = vec![vec![0u8; 1 << 29], vec![0u8; 1 << 29]];
    assert!(matches!(
        wal.append_blocking(big),
        Err(WalError::TooLarge { records: 2 })
    ));
    assert_eq!(wal.append_blocking(vec![b"ok".to_vec()]).unwrap(), (1, 1));
}

#[test]
fn io_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = match Wal::open(config(&file.join("wal"), 1024), metrics()) {
        Err(e) => e,
        Ok(_) => panic!("opening under a file must fail"),
    };
    assert!(matches!(err, WalError::Io { .. }));
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn other_files_in_dir_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("next_lsn"), b"junk").unwrap();
    fs::write(dir.path().join("1.wal"), b"junk").unwrap();
    let (wal, report) = open(dir.path(), 1024);
    assert_eq!(report.last_lsn, 0);
    assert_eq!(wal.append_blocking(vec![b"a".to_vec()]).unwrap(), (1, 1));
}
