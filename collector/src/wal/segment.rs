//! On-disk framing of WAL segments: encoding, decoding and scanning.
//!
//! A segment file is a sequence of frames. Every integer is little endian:
//!
//! ```text
//! magic u32 | payload_len u32 | crc32 u32 | first_lsn u64 | count u32 | count × (len u32, bytes)
//! \________ header (12 bytes) ___________/ \___________ payload (payload_len bytes) ___________/
//! ```
//!
//! The CRC (crc32fast, i.e. CRC-32/ISO-HDLC) covers the whole payload, i.e. everything after the
//! CRC field. Decoding never trusts a length before checking it against the bytes actually
//! present and against [`MAX_PAYLOAD`], never allocates from an unchecked length and never
//! panics, whatever the input.

use std::path::{Path, PathBuf};

use super::Lsn;

/// Marks the start of every frame ("PWAL" read as little-endian bytes).
pub const MAGIC: u32 = u32::from_le_bytes(*b"PWAL");
/// magic + payload_len + crc.
pub const HEADER_LEN: usize = 12;
/// first_lsn + count.
pub const PAYLOAD_FIXED_LEN: usize = 12;
/// Largest payload accepted, both when writing and when decoding (1 GiB).
pub const MAX_PAYLOAD: usize = 1 << 30;
/// Segment file extension.
pub const SEGMENT_EXT: &str = "wal";

/// File name of the segment whose first record has LSN `first_lsn`: 20 digits + `.wal`.
pub fn segment_file_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:020}.{SEGMENT_EXT}")
}

/// Path of the segment starting at `first_lsn` inside `dir`.
pub fn segment_path(dir: &Path, first_lsn: Lsn) -> PathBuf {
    dir.join(segment_file_name(first_lsn))
}

/// Parses a segment file name produced by [`segment_file_name`]; anything else is `None`.
pub fn parse_segment_file_name(name: &str) -> Option<Lsn> {
    let stem = name.strip_suffix(".wal")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Payload size of a frame holding `records`, or `None` if it would exceed [`MAX_PAYLOAD`]
/// (or a single record is longer than `u32::MAX`).
pub fn payload_len<B: AsRef<[u8]>>(records: &[B]) -> Option<usize> {
    let mut total = PAYLOAD_FIXED_LEN;
    for r in records {
        let len = r.as_ref().len();
        u32::try_from(len).ok()?;
        total = total.checked_add(4)?.checked_add(len)?;
        if total > MAX_PAYLOAD {
            return None;
        }
    }
    Some(total)
}

/// Appends one encoded frame to `out`. The caller has checked the size with [`payload_len`]
/// (and that `records` is non-empty); returns the number of bytes appended.
pub fn encode_frame<B: AsRef<[u8]>>(out: &mut Vec<u8>, first_lsn: Lsn, records: &[B]) -> usize {
    let plen = payload_len(records).expect("frame size checked by the caller");
    let start = out.len();
    out.reserve(HEADER_LEN + plen);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(plen as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]); // crc, patched below
    out.extend_from_slice(&first_lsn.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        let r = r.as_ref();
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    let crc = crc32fast::hash(&out[start + HEADER_LEN..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the frame needs: `need` bytes in total (from the frame start). At the
    /// end of a file this is a torn write.
    Incomplete { need: usize },
    /// The bytes are not a valid frame.
    Corrupt(&'static str),
}

/// A decoded, CRC-verified frame borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub first_lsn: Lsn,
    pub count: u32,
    /// The record area: `count` × (len u32, bytes), already validated.
    records: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// LSN of the last record in the frame.
    pub fn last_lsn(&self) -> Lsn {
        self.first_lsn + u64::from(self.count) - 1
    }

    /// The records' payloads, in LSN order.
    pub fn records(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.records;
        std::iter::from_fn(move || {
            // Validated by decode_frame; the checks only keep this panic-free.
            let len_bytes = rest.get(..4)?;
            let len = u32::from_le_bytes(len_bytes.try_into().ok()?) as usize;
            let rec = rest.get(4..4 + len)?;
            rest = &rest[4 + len..];
            Some(rec)
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Decodes the frame at the start of `buf`. On success returns the frame and its total
/// length in bytes (header + payload).
pub fn decode_frame(buf: &[u8]) -> Result<(FrameView<'_>, usize), DecodeError> {
    if buf.len() < HEADER_LEN {
        // A partial header is torn only if what is there could be the start of a frame.
        let m = MAGIC.to_le_bytes();
        let n = buf.len().min(4);
        if buf[..n] != m[..n] {
            return Err(DecodeError::Corrupt("bad magic"));
        }
        return Err(DecodeError::Incomplete { need: HEADER_LEN });
    }
    if u32_at(buf, 0) != MAGIC {
        return Err(DecodeError::Corrupt("bad magic"));
    }
    let plen = u32_at(buf, 4) as usize;
    if !(PAYLOAD_FIXED_LEN..=MAX_PAYLOAD).contains(&plen) {
        return Err(DecodeError::Corrupt("payload length out of range"));
    }
    let total = HEADER_LEN + plen;
    if buf.len() < total {
        return Err(DecodeError::Incomplete { need: total });
    }
    let payload = &buf[HEADER_LEN..total];
    if crc32fast::hash(payload) != u32_at(buf, 8) {
        return Err(DecodeError::Corrupt("checksum mismatch"));
    }
    let first_lsn = u64_at(payload, 0);
    let count = u32_at(payload, 8);
    if first_lsn == 0 {
        return Err(DecodeError::Corrupt("frame starts at LSN 0"));
    }
    if count == 0 {
        return Err(DecodeError::Corrupt("empty frame"));
    }
    if first_lsn.checked_add(u64::from(count)).is_none() {
        return Err(DecodeError::Corrupt("LSN overflow"));
    }
    let records = &payload[PAYLOAD_FIXED_LEN..];
    // Each record needs at least its 4-byte length.
    if count as usize > records.len() / 4 {
        return Err(DecodeError::Corrupt("record count exceeds payload"));
    }
    let mut at = 0usize;
    for _ in 0..count {
        if records.len() - at < 4 {
            return Err(DecodeError::Corrupt("record length beyond payload"));
        }
        let len = u32_at(records, at) as usize;
        at += 4;
        if records.len() - at < len {
            return Err(DecodeError::Corrupt("record beyond payload"));
        }
        at += len;
    }
    if at != records.len() {
        return Err(DecodeError::Corrupt("trailing bytes in payload"));
    }
    Ok((
        FrameView {
            first_lsn,
            count,
            records,
        },
        total,
    ))
}

/// Result of scanning a whole segment's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// `(offset, first_lsn, count)` of every good frame, in order.
    pub frames: Vec<(usize, Lsn, u32)>,
    /// Length of the good prefix: offset just past the last good frame.
    pub valid_len: usize,
    /// Why scanning stopped before the end of the bytes, if it did.
    pub error: Option<DecodeError>,
}

impl SegmentScan {
    /// Number of records in the good frames.
    pub fn records(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.2)).sum()
    }

    /// LSN after the last good record, if there is one.
    pub fn end_lsn(&self) -> Option<Lsn> {
        self.frames
            .last()
            .map(|&(_, first, count)| first + u64::from(count))
    }
}

/// Scans `bytes` as a segment whose first record must have LSN `first_lsn`. Stops at the first
/// frame that is incomplete, fails its checks, or does not continue the LSN sequence.
pub fn scan_segment(bytes: &[u8], first_lsn: Lsn) -> SegmentScan {
    let mut frames = Vec::new();
    let mut at = 0usize;
    let mut expected = first_lsn;
    let mut error = None;
    while at < bytes.len() {
        match decode_frame(&bytes[at..]) {
            Ok((frame, len)) => {
                if frame.first_lsn != expected {
                    error = Some(DecodeError::Corrupt("LSN out of sequence"));
                    break;
                }
                frames.push((at, frame.first_lsn, frame.count));
                expected = frame.first_lsn + u64::from(frame.count);
                at += len;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    SegmentScan {
        frames,
        valid_len: at,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_names_round_trip_and_sort() {
        assert_eq!(segment_file_name(1), "00000000000000000001.wal");
        assert_eq!(parse_segment_file_name("00000000000000000001.wal"), Some(1));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_file_name("1.wal"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000a.wal"), None);
        assert_eq!(parse_segment_file_name("00000000000000000001.tmp"), None);
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn encode_decode_round_trip() {
        let recs: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![], b"hello".to_vec()];
        let mut buf = Vec::new();
        let n = encode_frame(&mut buf, 7, &recs);
        assert_eq!(n, buf.len());
        let (f, used) = decode_frame(&buf).unwrap();
        assert_eq!(used, n);
        assert_eq!(f.first_lsn, 7);
        assert_eq!(f.count, 3);
        assert_eq!(f.last_lsn(), 9);
        let got: Vec<&[u8]> = f.records().collect();
        assert_eq!(got, vec![&b"a"[..], &b""[..], &b"hello"[..]]);
    }

    #[test]
    fn every_truncation_is_incomplete_and_every_flip_is_detected() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 1, &[b"abc".to_vec(), b"defgh".to_vec()]);
        for cut in 0..buf.len() {
            let r = decode_frame(&buf[..cut]);
            assert!(
                matches!(r, Err(DecodeError::Incomplete { .. })),
                "cut {cut}: {r:?}"
            );
        }
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x40;
            assert!(decode_frame(&b).is_err(), "flip at {i} not detected");
        }
    }

    #[test]
    fn absurd_length_is_corrupt_not_allocated() {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        assert_eq!(
            decode_frame(&b).unwrap_err(),
            DecodeError::Corrupt("payload length out of range")
        );
    }

    #[test]
    fn scan_stops_at_lsn_gap() {
        let mut b = Vec::new();
        encode_frame(&mut b, 1, &[b"x"]);
        let good = b.len();
        encode_frame(&mut b, 5, &[b"y"]);
        let s = scan_segment(&b, 1);
        assert_eq!(s.frames, vec![(0, 1, 1)]);
        assert_eq!(s.valid_len, good);
        assert!(s.error.is_some());
    }

    fn frames_strategy() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
        prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..5),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_only_verified_frames(
            bytes in prop::collection::vec(any::<u8>(), 0..2048),
            first in 0u64..4,
        ) {
            let scan = scan_segment(&bytes, first);
            prop_assert!(scan.valid_len <= bytes.len());
            let mut end = 0;
            for &(off, lsn, count) in &scan.frames {
                prop_assert_eq!(off, end);
                let plen = u32_at(&bytes, off + 4) as usize;
                let payload = &bytes[off + HEADER_LEN..off + HEADER_LEN + plen];
                prop_assert_eq!(crc32fast::hash(payload), u32_at(&bytes, off + 8));
                prop_assert_eq!(u64_at(payload, 0), lsn);
                prop_assert_eq!(u32_at(payload, 8), count);
                end = off + HEADER_LEN + plen;
            }
            prop_assert_eq!(end, scan.valid_len);
        }

        #[test]
        fn valid_frames_with_garbage_suffix_or_truncation(
            frames in frames_strategy(),
            garbage in prop::collection::vec(any::<u8>(), 0..64),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            let mut lsn = 1;
            for f in &frames {
                encode_frame(&mut bytes, lsn, f);
                lsn += f.len() as u64;
                ends.push(bytes.len());
            }
            // Garbage after valid frames never hides them and is never returned as a frame
            // unless it happens to be a valid frame itself (vanishingly unlikely).
            let mut with_garbage = bytes.clone();
            with_garbage.extend_from_slice(&garbage);
            let s = scan_segment(&with_garbage, 1);
            prop_assert!(s.frames.len() >= frames.len());
            prop_assert!(s.valid_len >= bytes.len());

            // Truncation anywhere keeps exactly the frames fully before the cut.
            let cut = cut.index(bytes.len() + 1);
            let s = scan_segment(&bytes[..cut], 1);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            prop_assert_eq!(s.frames.len(), whole);
            prop_assert_eq!(s.valid_len, if whole == 0 { 0 } else { ends[whole - 1] });
            if cut == s.valid_len {
                prop_assert!(s.error.is_none());
            } else {
                let incomplete = matches!(s.error, Some(DecodeError::Incomplete { .. }));
                prop_assert!(incomplete);
            }
            // Records decode back to the input.
            let mut at = 0;
            for (i, f) in frames.iter().take(whole).enumerate() {
                let (view, len) = decode_frame(&bytes[at..]).unwrap();
                let got: Vec<Vec<u8>> = view.records().map(<[u8]>::to_vec).collect();
                prop_assert_eq!(&got, f);
                at += len;
                prop_assert_eq!(at, ends[i]);
            }
        }
    }
}
