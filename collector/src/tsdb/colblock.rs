//! Column-wise rollup blocks (the 5-minute tier): each of a bucket's eleven fields is stored
//! as its own contiguous, byte-aligned column, so a read decodes only the columns its
//! function needs, each in a tight loop without bit twiddling.
//!
//! Layout: a format byte ([`COLBLOCK_FORMAT`]), the bucket count (varint), then per column
//! in [`Col`] order its byte length (varint) and its bytes.
//!
//! - Integer columns (start, count, first/last timestamp offsets from the start, resets) are
//!   runs of equal delta-of-deltas: `(zigzag dod, run length)` varint pairs. Regular data (a
//!   bucket every width, the same sample count and offsets) is one run per column.
//! - Float columns XOR each value with the column's previous one and keep the nonzero middle
//!   bytes: a header byte `leading zero bytes << 4 | trailing zero bytes`, then the rest.
//!
//! Appends are incremental (float columns are written as they come, integer runs extended),
//! so the head keeps its open block as compact as it is on disk.

use super::gorilla::{get_varint, put_varint};
use super::{ColumnSet, RollupBucket, RollupColumns, TsdbError};

/// The first byte of every column block; bump when the layout changes.
pub const COLBLOCK_FORMAT: u8 = 1;

/// The columns, in storage order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Start = 0,
    Count,
    FirstOff,
    LastOff,
    Resets,
    First,
    Last,
    Min,
    Max,
    Sum,
    Increase,
}
const INT_COLS: usize = 5;
const COLS: usize = 11;

/// Delta-of-delta runs of one integer column.
#[derive(Clone, Debug, Default, PartialEq)]
struct IntCol {
    prev: i64,
    prev_delta: i64,
    runs: Vec<(i64, u64)>,
}

impl IntCol {
    fn push(&mut self, v: i64) {
        let delta = v.wrapping_sub(self.prev);
        let dod = delta.wrapping_sub(self.prev_delta);
        match self.runs.last_mut() {
            Some((d, n)) if *d == dod => *n += 1,
            _ => self.runs.push((dod, 1)),
        }
        self.prev = v;
        self.prev_delta = delta;
    }
    fn write(&self, out: &mut Vec<u8>) {
        for (dod, n) in &self.runs {
            put_varint(out, zigzag(*dod));
            put_varint(out, *n);
        }
    }
}

/// One XOR-coded float column.
#[derive(Clone, Debug, Default, PartialEq)]
struct FloatCol {
    prev: u64,
    bytes: Vec<u8>,
}

impl FloatCol {
    fn push(&mut self, v: f64) {
        let x = v.to_bits() ^ self.prev;
        self.prev = v.to_bits();
        if x == 0 {
            self.bytes.push(0x80);
            return;
        }
        let lz = x.leading_zeros() / 8;
        let tz = x.trailing_zeros() / 8;
        self.bytes.push(((lz << 4) | tz) as u8);
        let n = 8 - lz - tz;
        let be = (x >> (tz * 8)).to_be_bytes();
        self.bytes.extend_from_slice(&be[(8 - n) as usize..]);
    }
}

/// An appendable column block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnEncoder {
    count: u64,
    first_start: i64,
    ints: [IntCol; INT_COLS],
    floats: [FloatCol; COLS - INT_COLS],
}

impl ColumnEncoder {
    pub fn new() -> Self {
        ColumnEncoder::default()
    }

    pub fn from_buckets(buckets: &[RollupBucket]) -> Self {
        let mut e = ColumnEncoder::new();
        for b in buckets {
            e.append(b);
        }
        e
    }

    pub fn count(&self) -> u32 {
        u32::try_from(self.count).unwrap_or(u32::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Start of the first bucket (meaningless when empty).
    pub fn first_start(&self) -> i64 {
        self.first_start
    }

    pub fn append(&mut self, b: &RollupBucket) {
        if self.count == 0 {
            self.first_start = b.start_ms;
        }
        // Wrapping: whatever is appended decodes back identically.
        let ints = [
            b.start_ms,
            b.count as i64,
            b.first.ts_ms.wrapping_sub(b.start_ms),
            b.last.ts_ms.wrapping_sub(b.start_ms),
            i64::from(b.resets),
        ];
        for (c, v) in self.ints.iter_mut().zip(ints) {
            c.push(v);
        }
        let floats = [b.first.value, b.last.value, b.min, b.max, b.sum, b.increase];
        for (c, v) in self.floats.iter_mut().zip(floats) {
            c.push(v);
        }
        self.count += 1;
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(16 + self.floats.iter().map(|f| f.bytes.len() + 4).sum::<usize>());
        out.push(COLBLOCK_FORMAT);
        put_varint(&mut out, self.count);
        let mut col = Vec::new();
        for c in &self.ints {
            col.clear();
            c.write(&mut col);
            put_varint(&mut out, col.len() as u64);
            out.extend_from_slice(&col);
        }
        for c in &self.floats {
            put_varint(&mut out, c.bytes.len() as u64);
            out.extend_from_slice(&c.bytes);
        }
        out
    }

    /// The block with `open` appended, leaving this encoder as it is.
    pub fn bytes_with(&self, open: Option<&RollupBucket>) -> Vec<u8> {
        match open {
            None => self.bytes(),
            Some(b) => {
                let mut e = self.clone();
                e.append(b);
                e.bytes()
            }
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn corrupt(what: &str) -> TsdbError {
    TsdbError::Corrupt(format!("5-minute rollup block: {what}"))
}

/// A parsed block: its bucket count and each column's bytes.
struct View<'a> {
    count: usize,
    cols: [&'a [u8]; COLS],
}

fn parse(bytes: &[u8]) -> Result<View<'_>, TsdbError> {
    match bytes.first() {
        Some(&COLBLOCK_FORMAT) => {}
        Some(v) => return Err(corrupt(&format!("unknown block format {v}"))),
        None => return Err(corrupt("empty")),
    }
    let mut at = 1;
    let count = get_varint(bytes, &mut at)?;
    // Every bucket takes at least one byte in each float column: bound allocations by it.
    if count > bytes.len() as u64 {
        return Err(corrupt(&format!(
            "{count} buckets claimed in {} bytes",
            bytes.len()
        )));
    }
    let mut cols: [&[u8]; COLS] = [&[]; COLS];
    for c in cols.iter_mut() {
        let len = usize::try_from(get_varint(bytes, &mut at)?).map_err(|_| corrupt("length"))?;
        let end = at.checked_add(len).ok_or_else(|| corrupt("length"))?;
        *c = bytes
            .get(at..end)
            .ok_or_else(|| corrupt("truncated column"))?;
        at = end;
    }
    if at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(View {
        count: count as usize,
        cols,
    })
}

/// Appends `count` values of an integer column to `out`, each mapped by `f`.
fn decode_ints<T>(
    bytes: &[u8],
    count: usize,
    out: &mut Vec<T>,
    f: impl Fn(i64) -> T,
) -> Result<(), TsdbError> {
    let (mut at, mut left) = (0usize, count);
    let (mut v, mut delta) = (0i64, 0i64);
    out.reserve(count);
    while left > 0 {
        let dod = unzigzag(get_varint(bytes, &mut at)?);
        let n = get_varint(bytes, &mut at)?;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n > 0 && *n <= left)
            .ok_or_else(|| corrupt("integer run overruns the block"))?;
        // The first value of a run applies the dod; the rest repeat it.
        if dod == 0 {
            // The common run (regular buckets: a column's whole block after its first two
            // values): an arithmetic progression, written without a dependency from value
            // to value so that it vectorises.
            out.extend((1..=n as i64).map(|k| f(v.wrapping_add(delta.wrapping_mul(k)))));
            v = v.wrapping_add(delta.wrapping_mul(n as i64));
        } else {
            out.extend((0..n).map(|_| {
                delta = delta.wrapping_add(dod);
                v = v.wrapping_add(delta);
                f(v)
            }));
        }
        left -= n;
    }
    if at != bytes.len() {
        return Err(corrupt("integer column has trailing bytes"));
    }
    Ok(())
}

fn decode_floats(bytes: &[u8], count: usize, out: &mut Vec<f64>) -> Result<(), TsdbError> {
    let mut at = 0usize;
    let mut prev = 0u64;
    out.reserve(count);
    for _ in 0..count {
        let h = *bytes
            .get(at)
            .ok_or_else(|| corrupt("float column truncated"))?;
        at += 1;
        let (lz, tz) = (u32::from(h >> 4), u32::from(h & 0x0f));
        if lz + tz > 8 {
            return Err(corrupt("bad float header"));
        }
        let n = (8 - lz - tz) as usize;
        let word = match bytes.get(at..at + 8) {
            // Eight bytes readable: one load, the value's n bytes on top (no memcpy of a
            // variable length, which was most of this loop's time).
            Some(w) => {
                let w: [u8; 8] = w.try_into().map_err(|_| corrupt("float column"))?;
                u64::from_be_bytes(w)
                    .checked_shr(((8 - n) * 8) as u32)
                    .unwrap_or(0)
            }
            None => {
                let part = bytes
                    .get(at..at + n)
                    .ok_or_else(|| corrupt("float column truncated"))?;
                let mut buf = [0u8; 8];
                buf[8 - n..].copy_from_slice(part);
                u64::from_be_bytes(buf)
            }
        };
        at += n;
        // n == 0 only with tz == 0 (lz == 8): the shift stays below 64.
        let x = word.checked_shl(tz * 8).unwrap_or(0);
        prev ^= x;
        out.push(f64::from_bits(prev));
    }
    if at != bytes.len() {
        return Err(corrupt("float column has trailing bytes"));
    }
    Ok(())
}

/// Appends the block's buckets to `out`: `start` and `count` always, the other columns
/// when `cols` asks for them (their vectors are left alone otherwise).
pub fn decode_columns(
    bytes: &[u8],
    cols: ColumnSet,
    out: &mut RollupColumns,
) -> Result<(), TsdbError> {
    let v = parse(bytes)?;
    let n = v.count;
    let base = out.start.len();
    decode_ints(v.cols[Col::Start as usize], n, &mut out.start, |x| x)?;
    decode_ints(v.cols[Col::Count as usize], n, &mut out.count, |x| x as u64)?;
    let starts = &out.start[base..];
    if cols.has(ColumnSet::FIRST_TS) {
        let from = out.first_ts.len();
        decode_ints(v.cols[Col::FirstOff as usize], n, &mut out.first_ts, |x| x)?;
        for (t, s) in out.first_ts[from..].iter_mut().zip(starts) {
            *t = s.wrapping_add(*t);
        }
    }
    if cols.has(ColumnSet::LAST_TS) {
        let from = out.last_ts.len();
        decode_ints(v.cols[Col::LastOff as usize], n, &mut out.last_ts, |x| x)?;
        for (t, s) in out.last_ts[from..].iter_mut().zip(starts) {
            *t = s.wrapping_add(*t);
        }
    }
    if cols.has(ColumnSet::RESETS) {
        decode_ints(v.cols[Col::Resets as usize], n, &mut out.resets, |x| {
            x as u32
        })?;
    }
    let floats = [
        (ColumnSet::FIRST, Col::First, &mut out.first),
        (ColumnSet::LAST, Col::Last, &mut out.last),
        (ColumnSet::MIN, Col::Min, &mut out.min),
        (ColumnSet::MAX, Col::Max, &mut out.max),
        (ColumnSet::SUM, Col::Sum, &mut out.sum),
        (ColumnSet::INCREASE, Col::Increase, &mut out.increase),
    ];
    for (flag, col, vec) in floats {
        if cols.has(flag) {
            decode_floats(v.cols[col as usize], n, vec)?;
        }
    }
    Ok(())
}

/// Every bucket of a block.
pub fn decode_column_block(bytes: &[u8]) -> Result<Vec<RollupBucket>, TsdbError> {
    let mut c = RollupColumns::default();
    decode_columns(bytes, ColumnSet::ALL, &mut c)?;
    Ok((0..c.len()).map(|i| c.bucket(i)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::bucket_props::{any_bucket, key};
    use crate::tsdb::rollup::rollup;
    use crate::tsdb::{MetricKind, Resolution, Sample};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_buckets_round_trip(buckets in prop::collection::vec(any_bucket(), 0..60)) {
            let bytes = ColumnEncoder::from_buckets(&buckets).bytes();
            let back = decode_column_block(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), buckets.iter().map(key).collect::<Vec<_>>());
        }

        #[test]
        fn real_rollups_round_trip_and_stay_small(
            steps in prop::collection::vec(0u32..10, 600),
            counter in any::<bool>(),
        ) {
            let mut v = 1000.0;
            let samples: Vec<Sample> = steps.iter().enumerate().map(|(i, d)| {
                v += if counter { f64::from(*d) } else { f64::from(*d % 5) - 2.0 };
                Sample { ts_ms: 1_700_000_000_000 + i as i64 * 60_000, value: v }
            }).collect();
            let kind = if counter { MetricKind::Counter } else { MetricKind::Gauge };
            let buckets = rollup(&samples, kind, Resolution::FiveMinute, None);
            let bytes = ColumnEncoder::from_buckets(&buckets).bytes();
            let back = decode_column_block(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), buckets.iter().map(key).collect::<Vec<_>>());
            // Regular integer columns are a run each; floats take a few bytes per value.
            prop_assert!(bytes.len() <= 60 + buckets.len() * 24, "{} bytes for {} buckets", bytes.len(), buckets.len());
            // Only the columns asked for are decoded.
            let mut c = RollupColumns::default();
            decode_columns(&bytes, ColumnSet::MAX, &mut c).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(c.max.len(), buckets.len());
            prop_assert!(c.min.is_empty() && c.first_ts.is_empty() && c.resets.is_empty());
            let last = buckets.last().cloned();
            let with = ColumnEncoder::from_buckets(&buckets[..buckets.len() - 1]).bytes_with(last.as_ref());
            prop_assert_eq!(with, bytes);
        }
    }

    #[test]
    fn corrupt_blocks_are_errors_not_panics() {
        let samples: Vec<Sample> = (0..400)
            .map(|i| Sample {
                ts_ms: i * 60_000,
                value: (i % 17) as f64 * 1.5,
            })
            .collect();
        let buckets = rollup(&samples, MetricKind::Counter, Resolution::FiveMinute, None);
        let bytes = ColumnEncoder::from_buckets(&buckets).bytes();
        for cut in 0..bytes.len() {
            assert!(decode_column_block(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xa5;
            // Any result but a panic; a changed format byte is refused.
            let r = decode_column_block(&b);
            if i == 0 {
                assert!(r.is_err());
            }
        }
    }
}
