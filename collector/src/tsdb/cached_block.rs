//! A decoded 5-minute block as the decoded-block cache (`cache.rs`) holds it: float columns
//! decoded, integer columns (start, count, sample offsets, resets) kept as an arithmetic
//! progression when they are one, which regular data always is (a bucket every 5 minutes,
//! the same sample count and offsets in each).
//!
//! Decoded to plain vectors, those five integer columns were two thirds of a cached block's
//! memory and of the bytes copied out of the cache by every read; as progressions they take
//! a few bytes and are written out by a loop that vectorises.

use super::{ColumnSet, RollupColumns};

/// One integer column of a cached block.
#[derive(Clone, Debug, PartialEq)]
enum Ints {
    /// `first + step * i` for row `i`.
    Progression {
        first: i64,
        step: i64,
    },
    Values(Vec<i64>),
}

impl Ints {
    fn new(values: impl ExactSizeIterator<Item = i64> + Clone) -> Ints {
        let mut it = values.clone();
        let (Some(first), Some(second)) = (it.next(), it.next()) else {
            return Ints::Progression {
                first: values.clone().next().unwrap_or(0),
                step: 0,
            };
        };
        let step = second.wrapping_sub(first);
        let mut prev = second;
        let regular = it.all(|v| {
            let ok = v.wrapping_sub(prev) == step;
            prev = v;
            ok
        });
        if regular {
            Ints::Progression { first, step }
        } else {
            Ints::Values(values.collect())
        }
    }

    fn get(&self, i: usize) -> Option<i64> {
        match self {
            Ints::Progression { first, step } => {
                Some(first.wrapping_add(step.wrapping_mul(i64::try_from(i).ok()?)))
            }
            Ints::Values(v) => v.get(i).copied(),
        }
    }

    /// Appends rows `from..to`, each mapped by `f`.
    fn extend_into<T>(&self, from: usize, to: usize, out: &mut Vec<T>, f: impl Fn(i64) -> T) {
        match self {
            Ints::Progression { first, step } => {
                let (first, step) = (*first, *step);
                out.extend((from..to).map(|i| f(first.wrapping_add(step.wrapping_mul(i as i64)))));
            }
            Ints::Values(v) => {
                if let Some(rows) = v.get(from..to) {
                    out.extend(rows.iter().map(|x| f(*x)));
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Ints::Progression { .. } => 0,
            Ints::Values(v) => 8 * v.len(),
        }
    }
}

/// A closed block's columns (at least `start` and `count`, and those of [`CachedBlock::cols`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CachedBlock {
    len: usize,
    cols: ColumnSet,
    start: Ints,
    count: Ints,
    first_ts: Option<Ints>,
    last_ts: Option<Ints>,
    resets: Option<Ints>,
    /// The float columns of `cols` (its integer vectors are left empty).
    floats: RollupColumns,
}

impl CachedBlock {
    /// The block decoded into `c` with the columns of `cols`.
    pub fn new(mut c: RollupColumns, cols: ColumnSet) -> CachedBlock {
        let ints = |v: &[i64]| Ints::new(v.iter().copied());
        let opt = |flag: ColumnSet, v: &[i64]| cols.has(flag).then(|| ints(v));
        let block = CachedBlock {
            len: c.len(),
            cols,
            start: ints(&c.start),
            count: Ints::new(c.count.iter().map(|x| *x as i64)),
            first_ts: opt(ColumnSet::FIRST_TS, &c.first_ts),
            last_ts: opt(ColumnSet::LAST_TS, &c.last_ts),
            resets: cols
                .has(ColumnSet::RESETS)
                .then(|| Ints::new(c.resets.iter().map(|x| i64::from(*x)))),
            floats: RollupColumns::default(),
        };
        c.start = Vec::new();
        c.count = Vec::new();
        c.first_ts = Vec::new();
        c.last_ts = Vec::new();
        c.resets = Vec::new();
        CachedBlock { floats: c, ..block }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The columns held besides start and count.
    pub fn cols(&self) -> ColumnSet {
        self.cols
    }

    /// Memory held, for the cache's limit.
    pub fn heap_bytes(&self) -> usize {
        let f = &self.floats;
        let floats = f.first.len() + f.last.len() + f.min.len() + f.max.len();
        let ints = [&self.first_ts, &self.last_ts, &self.resets]
            .into_iter()
            .flatten()
            .chain([&self.start, &self.count])
            .map(Ints::heap_bytes)
            .sum::<usize>();
        8 * (floats + f.sum.len() + f.increase.len()) + ints + std::mem::size_of::<CachedBlock>()
    }

    /// The first row whose start fails `pred` (`pred` holds for a prefix of the rows).
    pub fn partition_start(&self, pred: impl Fn(i64) -> bool) -> usize {
        let (mut lo, mut hi) = (0usize, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.start.get(mid).is_some_and(&pred) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Appends rows `from..to` to `out`: start, count and the columns of `cols` (which this
    /// block must hold).
    pub fn append_rows(&self, from: usize, to: usize, cols: ColumnSet, out: &mut RollupColumns) {
        let to = to.min(self.len);
        if from >= to {
            return;
        }
        self.start.extend_into(from, to, &mut out.start, |x| x);
        self.count
            .extend_into(from, to, &mut out.count, |x| x as u64);
        let ints = [
            (ColumnSet::FIRST_TS, &self.first_ts, &mut out.first_ts),
            (ColumnSet::LAST_TS, &self.last_ts, &mut out.last_ts),
        ];
        for (flag, col, vec) in ints {
            if let (true, Some(col)) = (cols.has(flag), col) {
                col.extend_into(from, to, vec, |x| x);
            }
        }
        if let (true, Some(col)) = (cols.has(ColumnSet::RESETS), &self.resets) {
            col.extend_into(from, to, &mut out.resets, |x| x as u32);
        }
        // The float columns: `extend_cols` copies start and count too, which `floats` leaves
        // empty, so only the floats of `cols` move.
        let floats = ColumnSet(
            cols.0 & !(ColumnSet::FIRST_TS.0 | ColumnSet::LAST_TS.0 | ColumnSet::RESETS.0),
        );
        out.extend_cols(&self.floats, from, to, floats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::bucket_props::any_bucket;
    use crate::tsdb::colblock::{decode_columns, ColumnEncoder};
    use proptest::prelude::*;

    /// Every column, floats by their bits (NaN payloads included).
    fn bits(c: &RollupColumns) -> Vec<Vec<u64>> {
        let f = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        let i = |v: &[i64]| v.iter().map(|x| *x as u64).collect::<Vec<u64>>();
        vec![
            i(&c.start),
            c.count.clone(),
            i(&c.first_ts),
            i(&c.last_ts),
            c.resets.iter().map(|x| u64::from(*x)).collect(),
            f(&c.first),
            f(&c.last),
            f(&c.min),
            f(&c.max),
            f(&c.sum),
            f(&c.increase),
        ]
    }

    proptest! {
        /// Any rows of any block, regular or not, come out of the cached form as they were
        /// decoded.
        #[test]
        fn cached_rows_equal_decoded_rows(
            buckets in prop::collection::vec(any_bucket(), 0..40),
            regular in any::<bool>(),
            cut in (0usize..50, 0usize..50),
            mask in 0u16..0x200,
        ) {
            let mut buckets = buckets;
            if regular {
                for (i, b) in buckets.iter_mut().enumerate() {
                    b.start_ms = 1_700_000_100_000 + i as i64 * 300_000;
                    b.count = 5;
                    b.first.ts_ms = b.start_ms + 60_000;
                    b.last.ts_ms = b.start_ms + 300_000;
                    b.resets = 0;
                }
            }
            let bytes = ColumnEncoder::from_buckets(&buckets).bytes();
            let cols = ColumnSet(mask);
            let mut decoded = RollupColumns::default();
            decode_columns(&bytes, cols, &mut decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let block = CachedBlock::new(decoded.clone(), cols);
            prop_assert_eq!(block.len(), buckets.len());
            let (from, to) = (cut.0.min(cut.1), cut.0.max(cut.1));
            let mut want = RollupColumns::default();
            want.extend_cols(&decoded, from, to.min(decoded.len()), cols);
            let mut got = RollupColumns::default();
            block.append_rows(from, to, cols, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
            // Starts are sorted in a real block (arbitrary ones here only when regular).
            if regular {
                let s = 1_700_000_100_000 + 7 * 300_000;
                prop_assert_eq!(
                    block.partition_start(|x| x < s),
                    decoded.start.partition_point(|x| *x < s)
                );
            }
        }
    }

    #[test]
    fn a_regular_block_holds_only_its_floats() {
        let mut c = RollupColumns::default();
        for i in 0..288 {
            c.start.push(i * 300_000);
            c.count.push(5);
            c.first_ts.push(i * 300_000 + 60_000);
            c.last_ts.push(i * 300_000 + 300_000);
            c.resets.push(0);
            c.first.push(i as f64);
            c.last.push(i as f64 + 4.0);
        }
        let cols = ColumnSet::FIRST_TS
            .with(ColumnSet::FIRST)
            .with(ColumnSet::LAST_TS)
            .with(ColumnSet::LAST)
            .with(ColumnSet::RESETS);
        let block = CachedBlock::new(c, cols);
        assert_eq!(
            block.heap_bytes(),
            2 * 288 * 8 + std::mem::size_of::<CachedBlock>()
        );
    }
}
