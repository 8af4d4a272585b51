//! Range functions over a left-open rollup tier (5 minutes: buckets `(s, s + w]`), where an
//! aligned window `(a, b]` is exactly the buckets starting at `a`, `a + w`, …, `b - w`: no
//! edge sample to add or take out. Per series the buckets are laid out densely by slot and
//! each step's window is a slice of slots, read column by column (only the columns the
//! function needs are decoded: [`columns_for`]).
//!
//! The answers are those of `plan.rs`'s rule: bit-identical for `count`, `last`, `min`,
//! `max`, `delta`, `increase`, `rate`; `sum`/`avg` add bucket sums. `Err(())` means the
//! buckets cannot tell (a reset inside a counter's window, a gauge's `rate`, a staleness
//! marker or an all-NaN bucket where values are needed): the series is read raw.

use pharos_collector::tsdb::{ColumnSet, MetricKind, RollupColumns, Sample};

use super::functions::{extrapolate, Extrapolator, RangeFn, Window};

/// The columns `f` reads (start and count come always).
pub fn columns_for(f: RangeFn) -> ColumnSet {
    match f {
        RangeFn::CountOverTime => ColumnSet::default(),
        RangeFn::LastOverTime => ColumnSet::LAST,
        RangeFn::MinOverTime => ColumnSet::MIN,
        RangeFn::MaxOverTime => ColumnSet::MAX,
        // min and max bound the magnitude of the samples (see `plan::sum_close_enough`).
        RangeFn::SumOverTime | RangeFn::AvgOverTime => {
            ColumnSet::SUM.with(ColumnSet::MIN).with(ColumnSet::MAX)
        }
        RangeFn::Delta => ColumnSet::FIRST_TS
            .with(ColumnSet::FIRST)
            .with(ColumnSet::LAST_TS)
            .with(ColumnSet::LAST),
        _ => ColumnSet::FIRST_TS
            .with(ColumnSet::FIRST)
            .with(ColumnSet::LAST_TS)
            .with(ColumnSet::LAST)
            .with(ColumnSet::RESETS),
    }
}

/// The steps of a range evaluation, in bucket slots.
pub struct Steps {
    /// Start of slot 0 (the first window's start).
    pub first_a: i64,
    pub width: i64,
    pub slots: usize,
    pub steps: usize,
    /// Slots per step and per window.
    pub per_step: usize,
    pub per_range: usize,
    pub first_end: i64,
    pub step_ms: i64,
    pub range_ms: i64,
}

/// `f` per step for one series.
pub fn series_values(
    f: RangeFn,
    kind: MetricKind,
    c: &RollupColumns,
    s: &Steps,
) -> Result<Vec<Option<f64>>, ()> {
    let counter = matches!(f, RangeFn::Rate | RangeFn::Increase);
    if counter && kind == MetricKind::Gauge {
        return Err(());
    }
    SCRATCH.with(|cell| {
        // Not re-entered (nothing here calls back into a query); a fresh one if it were.
        let mut fresh = Scratch::default();
        let mut held = cell.try_borrow_mut().ok();
        let sc = held.as_deref_mut().unwrap_or(&mut fresh);
        if s.per_range == 1 && matches!(f, RangeFn::Rate | RangeFn::Increase | RangeFn::Delta) {
            if let Some(answer) = regular_one_bucket_windows(f, c, s) {
                return answer;
            }
        }
        let mut row_of = std::mem::take(&mut sc.rows);
        let answer = rows_by_slot_into(c, s, &mut row_of).and_then(|()| {
            if matches!(f, RangeFn::MinOverTime | RangeFn::MaxOverTime)
                && s.per_step >= 1
                && s.per_step <= s.per_range
            {
                sliding_extreme(f == RangeFn::MinOverTime, c, s, &row_of, sc)
            } else if s.per_range == 1
                && matches!(f, RangeFn::Rate | RangeFn::Increase | RangeFn::Delta)
            {
                one_bucket_windows(f, c, s, &row_of)
            } else {
                scanned_windows(f, c, s, &row_of)
            }
        });
        sc.rows = row_of;
        answer
    })
}

/// Buffers of one thread reused from series to series: a month at 5 minutes is 8,641 slots,
/// a few hundred KB per series that would otherwise be allocated (and faulted in) each time.
#[derive(Default)]
struct Scratch {
    rows: Vec<u32>,
    vals: Vec<f64>,
    prefix: Vec<f64>,
    next_present: Vec<usize>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `f` per step, each window's rows scanned by [`window`]: the general case.
fn scanned_windows(
    f: RangeFn,
    c: &RollupColumns,
    s: &Steps,
    row_of: &[u32],
) -> Result<Vec<Option<f64>>, ()> {
    let mut out = Vec::with_capacity(s.steps);
    for i in 0..s.steps {
        let ia = i * s.per_step;
        let rows = row_of
            .get(ia..ia + s.per_range)
            .ok_or(())?
            .iter()
            .filter(|r| **r != u32::MAX)
            .map(|r| *r as usize);
        let end = s.first_end + i as i64 * s.step_ms;
        let w = Window {
            start: end - s.range_ms,
            end,
            range_ms: s.range_ms,
        };
        out.push(window(f, c, rows, &w)?);
    }
    Ok(out)
}

/// The row of each slot (`u32::MAX`: no bucket); `Err` when a bucket is not on the slot grid.
/// Buckets come in start order, nearly always one slot after the previous: that case is
/// found without a division (two per bucket were a tenth of a month-long evaluation).
#[cfg(test)]
fn rows_by_slot(c: &RollupColumns, s: &Steps) -> Result<Vec<u32>, ()> {
    let mut row_of = Vec::new();
    rows_by_slot_into(c, s, &mut row_of).map(|()| row_of)
}

/// [`rows_by_slot`] into `row_of` (cleared first).
fn rows_by_slot_into(c: &RollupColumns, s: &Steps, row_of: &mut Vec<u32>) -> Result<(), ()> {
    row_of.clear();
    row_of.resize(s.slots, u32::MAX);
    if consecutive_rows_by_slot(c, s, row_of)? {
        return Ok(());
    }
    // (start, slot) of the previous bucket on the grid.
    let mut prev: Option<(i64, usize)> = None;
    for (j, &start) in c.start.iter().enumerate() {
        let slot = match prev {
            Some((p, slot)) if start.wrapping_sub(p) == s.width => slot + 1,
            _ => {
                let off = start.checked_sub(s.first_a).ok_or(())?;
                if off.rem_euclid(s.width) != 0 {
                    return Err(());
                }
                if off < 0 {
                    // The bucket before the first window: only a predecessor (see
                    // `internal_reset`).
                    continue;
                }
                usize::try_from(off / s.width).map_err(|_| ())?
            }
        };
        prev = Some((start, slot));
        if let Some(r) = row_of.get_mut(slot) {
            *r = u32::try_from(j).map_err(|_| ())?;
        }
    }
    Ok(())
}

/// The rows from the first window on when they are one bucket per slot with no gap (regular
/// data): (first such row, its slot); `Ok(None)` otherwise, or when there is no such row.
/// `Err` when a bucket before the first window is off the grid (as [`rows_by_slot_into`]).
fn consecutive_rows(c: &RollupColumns, s: &Steps) -> Result<Option<(usize, usize)>, ()> {
    let k0 = c.start.partition_point(|x| *x < s.first_a);
    let Some(&start0) = c.start.get(k0) else {
        return Ok(None);
    };
    let off = start0.wrapping_sub(s.first_a);
    if s.width <= 0 || off % s.width != 0 || u32::try_from(c.start.len()).is_err() {
        return Ok(None);
    }
    // Predecessors (before the first window) must be on the grid too.
    if c.start[..k0]
        .iter()
        .any(|x| x.wrapping_sub(s.first_a).rem_euclid(s.width) != 0)
    {
        return Err(());
    }
    // One pass without an early exit, so that it vectorises.
    let consecutive = c.start[k0..].iter().enumerate().fold(true, |ok, (i, x)| {
        ok & (*x == start0.wrapping_add(s.width.wrapping_mul(i as i64)))
    });
    Ok(usize::try_from(off / s.width)
        .ok()
        .filter(|_| consecutive)
        .map(|s0| (k0, s0)))
}

/// [`rows_by_slot_into`] for [`consecutive_rows`]: filled without a test per bucket.
/// `Ok(false)`: the rows are not consecutive (`row_of` untouched).
fn consecutive_rows_by_slot(c: &RollupColumns, s: &Steps, row_of: &mut [u32]) -> Result<bool, ()> {
    let Some((k0, s0)) = consecutive_rows(c, s)? else {
        return Ok(false);
    };
    for (slot, row) in row_of.iter_mut().skip(s0).zip(k0..c.start.len()) {
        *slot = row as u32;
    }
    Ok(true)
}

/// `rate`, `increase` or `delta` where every window is one bucket (`[5m]` on the 5-minute
/// tier, any step): [`window`]'s answer for a single row, straight off the column slices.
fn one_bucket_windows(
    f: RangeFn,
    c: &RollupColumns,
    s: &Steps,
    row_of: &[u32],
) -> Result<Vec<Option<f64>>, ()> {
    let is_counter = f != RangeFn::Delta;
    let n = c.start.len();
    let count = c.count.get(..n).ok_or(())?;
    let (first_ts, first) = (c.first_ts.get(..n).ok_or(())?, c.first.get(..n).ok_or(())?);
    let (last_ts, last) = (c.last_ts.get(..n).ok_or(())?, c.last.get(..n).ok_or(())?);
    if is_counter && c.resets.len() < n {
        return Err(());
    }
    let mut extrapolator = Extrapolator::default();
    let mut out = Vec::with_capacity(s.steps);
    for i in 0..s.steps {
        let r = *row_of.get(i * s.per_step).ok_or(())?;
        if r == u32::MAX {
            out.push(None);
            continue;
        }
        let j = r as usize;
        let (cnt, fv, lv) = (count[j], first[j], last[j]);
        if cnt == 0 || stale(fv) || stale(lv) || (is_counter && internal_reset(c, j)) {
            return Err(());
        }
        if cnt < 2 {
            out.push(None);
            continue;
        }
        let end = s.first_end + i as i64 * s.step_ms;
        let w = Window {
            start: end - s.range_ms,
            end,
            range_ms: s.range_ms,
        };
        let n = usize::try_from(cnt).map_err(|_| ())?;
        out.push(Some(extrapolator.apply(
            lv - fv,
            first_ts[j],
            fv,
            last_ts[j],
            n,
            &w,
            is_counter,
            f == RangeFn::Rate,
        )));
    }
    Ok(out)
}

/// [`one_bucket_windows`] for a regular series: its buckets fill consecutive slots, each
/// with the same sample count (at least 2) and the same first and last sample offsets, and
/// (for `rate`/`increase`) no bucket counts a reset. Every window then has the same timing,
/// so the extrapolation factor is computed once and each step is one subtraction and one
/// multiplication (plus `extrapolate`'s clamp test), with no slot table: a month at a
/// 5-minute step is 8,640 such steps per series. `None` when the series is not regular
/// (the general path answers it); the answers are those of [`one_bucket_windows`], bit for
/// bit.
fn regular_one_bucket_windows(
    f: RangeFn,
    c: &RollupColumns,
    s: &Steps,
) -> Option<Result<Vec<Option<f64>>, ()>> {
    let is_counter = f != RangeFn::Delta;
    if s.per_step == 0 {
        return None;
    }
    // Rows before the first window are only predecessors (for resets).
    let (k0, s0) = match consecutive_rows(c, s) {
        Ok(rows) => rows?,
        Err(()) => return Some(Err(())),
    };
    let n = c.start.len();
    let m = n - k0;
    let start = c.start.get(k0..n)?;
    let count = c.count.get(k0..n)?;
    let first_ts = c.first_ts.get(k0..n)?;
    let last_ts = c.last_ts.get(k0..n)?;
    let first = c.first.get(k0..n)?;
    let last = c.last.get(k0..n)?;
    let (start0, cnt) = (start[0], count[0]);
    if cnt < 2 {
        return None;
    }
    let (fo, lo) = (
        first_ts[0].wrapping_sub(start0),
        last_ts[0].wrapping_sub(start0),
    );
    // The same count and sample offsets in every bucket, in one pass that vectorises.
    let regular = start
        .iter()
        .zip(count)
        .zip(first_ts.iter().zip(last_ts))
        .fold(true, |ok, ((st, n), (ft, lt))| {
            ok & (*n == cnt) & (ft.wrapping_sub(*st) == fo) & (lt.wrapping_sub(*st) == lo)
        });
    if !regular || (is_counter && c.resets.get(k0..n)?.iter().fold(0, |a, r| a | *r) != 0) {
        return None;
    }
    let is_rate = f == RangeFn::Rate;
    // Steps whose window is one of the rows: slot i * per_step in [s0, s0 + m).
    let i_lo = s0.div_ceil(s.per_step).min(s.steps);
    let i_hi = (s0 + m).div_ceil(s.per_step).clamp(i_lo, s.steps);
    if i_lo >= i_hi {
        return Some(Ok(vec![None; s.steps]));
    }
    // The rows the steps read: j = i * per_step - s0 for i in i_lo..i_hi.
    let j0 = i_lo * s.per_step - s0;
    let rows = j0..(i_hi - 1) * s.per_step - s0 + 1;
    let (fv, lv) = (*first.get(j0)?, *last.get(j0)?);
    let (ft, lt) = (*first_ts.get(j0)?, *last_ts.get(j0)?);
    let (first, last) = (first.get(rows.clone())?, last.get(rows)?);
    let (first, last) = (
        first.iter().step_by(s.per_step),
        last.iter().step_by(s.per_step),
    );
    if first.clone().chain(last.clone()).any(|v| stale(*v)) {
        return Some(Err(()));
    }
    // The first window memoises the timing every later one shares; `finish` needs only
    // its range.
    let end = s.first_end + i_lo as i64 * s.step_ms;
    let w = Window {
        start: end - s.range_ms,
        end,
        range_ms: s.range_ms,
    };
    let n_samples = usize::try_from(cnt).ok()?;
    let mut extrapolator = Extrapolator::default();
    extrapolator.apply(lv - fv, ft, fv, lt, n_samples, &w, is_counter, is_rate);
    let mut out: Vec<Option<f64>> = Vec::with_capacity(s.steps);
    out.resize(i_lo, None);
    out.extend(
        first
            .zip(last)
            .map(|(fv, lv)| Some(extrapolator.finish(lv - fv, *fv, &w, is_counter, is_rate))),
    );
    out.resize(s.steps, None);
    Some(Ok(out))
}

/// `min_over_time`/`max_over_time` for every step at once, by van Herk/Gil-Werman instead of
/// scanning each window (a 1 h window at a 5 m step is 12 buckets per step): the slots are
/// cut in blocks of the window's length, each slot gets the extreme from its block's start
/// (prefix) and to its block's end (suffix), and a window, which spans at most two blocks,
/// is the better of its first slot's suffix and its last slot's prefix. A few compares per
/// slot and no branches on the data. The same answers as [`window`]: ties keep the earlier
/// value, as the scan keeps the first (this matters for ±0); windows overlap or touch
/// (`per_step <= per_range`), so every slot the scan would look at is looked at here (a NaN
/// anywhere in them sends the series to raw, as there).
fn sliding_extreme(
    min: bool,
    c: &RollupColumns,
    s: &Steps,
    row_of: &[u32],
    sc: &mut Scratch,
) -> Result<Vec<Option<f64>>, ()> {
    if min {
        sliding_extreme_by(c, &c.min, s, row_of, sc, f64::INFINITY, |a, b| a < b)
    } else {
        sliding_extreme_by(c, &c.max, s, row_of, sc, f64::NEG_INFINITY, |a, b| a > b)
    }
}

/// [`sliding_extreme`] for one order: `better(a, b)` when `a` wins over `b`; `absent` loses
/// to or ties with every value (an empty slot).
fn sliding_extreme_by(
    c: &RollupColumns,
    col: &[f64],
    s: &Steps,
    row_of: &[u32],
    sc: &mut Scratch,
    absent: f64,
    better: impl Fn(f64, f64) -> bool,
) -> Result<Vec<Option<f64>>, ()> {
    let k = s.per_range;
    if s.steps == 0 || k == 0 {
        return Ok(vec![None; s.steps]);
    }
    let slots = (s.steps - 1) * s.per_step + k;
    let rows = row_of.get(..slots).ok_or(())?;
    let vals = &mut sc.vals;
    vals.clear();
    for &r in rows {
        vals.push(if r == u32::MAX {
            absent
        } else {
            let v = col.get(r as usize).copied().ok_or(())?;
            if v.is_nan() {
                return Err(());
            }
            v
        });
    }
    let prefix = &mut sc.prefix;
    prefix.clear();
    prefix.extend_from_slice(vals);
    // Block by block (a remainder per slot was half of a month-long `max_over_time`), the
    // running extreme carried as a select rather than a branch on the data, which a
    // noisy gauge mispredicts half of the time. Ties keep the earlier slot's value.
    for block in prefix.chunks_mut(k) {
        let Some(&first) = block.first() else {
            continue;
        };
        let mut acc = first;
        for v in block.iter_mut() {
            acc = if better(*v, acc) { *v } else { acc };
            *v = acc;
        }
    }
    let suffix = vals;
    for block in suffix.chunks_mut(k) {
        let Some(&last) = block.last() else {
            continue;
        };
        let mut acc = last;
        for v in block.iter_mut().rev() {
            acc = if better(acc, *v) { acc } else { *v };
            *v = acc;
        }
    }
    // The first slot with a bucket at or after each slot (`slots`: none).
    let next_present = &mut sc.next_present;
    next_present.clear();
    next_present.resize(slots + 1, slots);
    for j in (0..slots).rev() {
        next_present[j] = if rows[j] != u32::MAX {
            j
        } else {
            next_present[j + 1]
        };
    }
    let mut out = Vec::with_capacity(s.steps);
    // `a % k`, kept without a division per step.
    let mut a_in_block = 0usize;
    for i in 0..s.steps {
        let a = i * s.per_step;
        let b = a + k - 1;
        let whole_block = a_in_block == 0;
        a_in_block += s.per_step;
        while a_in_block >= k {
            a_in_block -= k;
        }
        let first = next_present[a];
        if first > b {
            out.push(None);
            continue;
        }
        // The window's first bucket must have samples (as `window` checks).
        if c.count.get(rows[first] as usize).copied().ok_or(())? == 0 {
            return Err(());
        }
        let (early, late) = (suffix[a], prefix[b]);
        // A window starting a block is that block (its last slot's prefix); otherwise the
        // earlier part wins ties.
        out.push(Some(if whole_block || better(late, early) {
            late
        } else {
            early
        }));
    }
    Ok(out)
}

fn stale(v: f64) -> bool {
    v.to_bits() == pharos_collector::tsdb::STALE_NAN_BITS
}

/// Whether bucket `j` has a counter reset between two of its own samples. Its `resets` also
/// count the step into its first sample from the previous bucket's last: taken out when
/// that bucket (the previous row) was read, else counted (reads raw when in doubt).
fn internal_reset(c: &RollupColumns, j: usize) -> bool {
    let resets = c.resets.get(j).copied().unwrap_or(u32::MAX);
    if resets == 0 {
        return false;
    }
    let entry = match j.checked_sub(1) {
        Some(p) => match (c.first.get(j), c.last.get(p)) {
            (Some(f), Some(l)) => u32::from(f < l),
            _ => 0,
        },
        None => 0,
    };
    resets > entry
}

fn window(
    f: RangeFn,
    c: &RollupColumns,
    mut rows: impl Iterator<Item = usize>,
    w: &Window,
) -> Result<Option<f64>, ()> {
    let Some(j0) = rows.next() else {
        return Ok(None);
    };
    let get = |v: &Vec<f64>, j: usize| v.get(j).copied().ok_or(());
    let mut count = c.count.get(j0).copied().ok_or(())?;
    if count == 0 {
        return Err(());
    }
    Ok(match f {
        RangeFn::CountOverTime => {
            for j in rows {
                count += c.count.get(j).copied().ok_or(())?;
            }
            Some(count as f64)
        }
        RangeFn::LastOverTime => {
            let j = rows.last().unwrap_or(j0);
            let v = get(&c.last, j)?;
            if stale(v) {
                return Err(());
            }
            Some(v)
        }
        RangeFn::MinOverTime | RangeFn::MaxOverTime => {
            let col = if f == RangeFn::MinOverTime {
                &c.min
            } else {
                &c.max
            };
            let mut m = get(col, j0)?;
            if m.is_nan() {
                return Err(());
            }
            for j in rows {
                let v = get(col, j)?;
                if v.is_nan() {
                    return Err(());
                }
                // Prometheus keeps the first of equal values (this matters for ±0).
                let better = if f == RangeFn::MinOverTime {
                    v < m
                } else {
                    v > m
                };
                if better {
                    m = v;
                }
            }
            Some(m)
        }
        RangeFn::SumOverTime | RangeFn::AvgOverTime => {
            let magnitude = |j: usize| -> Result<f64, ()> {
                let n = c.count.get(j).copied().ok_or(())? as f64;
                Ok(n * get(&c.min, j)?.abs().max(get(&c.max, j)?.abs()))
            };
            let mut sum = 0.0 + get(&c.sum, j0)?;
            let mut abs = magnitude(j0)?;
            for j in rows {
                count += c.count.get(j).copied().ok_or(())?;
                sum += get(&c.sum, j)?;
                abs += magnitude(j)?;
            }
            if !super::plan::sum_close_enough(sum, abs, count) {
                return Err(());
            }
            Some(if f == RangeFn::SumOverTime {
                sum
            } else {
                sum / count as f64
            })
        }
        RangeFn::Delta | RangeFn::Increase | RangeFn::Rate => {
            let is_counter = f != RangeFn::Delta;
            let ts = |v: &Vec<i64>, j: usize| v.get(j).copied().ok_or(());
            let first = Sample {
                ts_ms: ts(&c.first_ts, j0)?,
                value: get(&c.first, j0)?,
            };
            let mut last = Sample {
                ts_ms: ts(&c.last_ts, j0)?,
                value: get(&c.last, j0)?,
            };
            if stale(first.value) || stale(last.value) {
                return Err(());
            }
            if is_counter && internal_reset(c, j0) {
                return Err(());
            }
            for j in rows {
                count += c.count.get(j).copied().ok_or(())?;
                let next_first = get(&c.first, j)?;
                let next_last = get(&c.last, j)?;
                if stale(next_first) || stale(next_last) {
                    return Err(());
                }
                if is_counter && (next_first < last.value || internal_reset(c, j)) {
                    return Err(());
                }
                last = Sample {
                    ts_ms: ts(&c.last_ts, j)?,
                    value: next_last,
                };
            }
            if count < 2 {
                return Ok(None);
            }
            let n = usize::try_from(count).map_err(|_| ())?;
            Some(extrapolate(
                last.value - first.value,
                first.ts_ms,
                first.value,
                last.ts_ms,
                n,
                w,
                is_counter,
                f == RangeFn::Rate,
            ))
        }
        _ => return Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The windows scanned one by one, as `series_values` did before the sliding queue.
    fn scanned(
        f: RangeFn,
        c: &RollupColumns,
        s: &Steps,
        row_of: &[u32],
    ) -> Result<Vec<Option<f64>>, ()> {
        let mut out = Vec::new();
        for i in 0..s.steps {
            let ia = i * s.per_step;
            let rows = row_of
                .get(ia..ia + s.per_range)
                .ok_or(())?
                .iter()
                .filter(|r| **r != u32::MAX)
                .map(|r| *r as usize);
            let w = Window {
                start: 0,
                end: 1,
                range_ms: 1,
            };
            out.push(window(f, c, rows, &w)?);
        }
        Ok(out)
    }

    #[test]
    fn one_bucket_windows_answer_like_the_scan() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let bits = |r: Result<Vec<Option<f64>>, ()>| {
            r.map(|v| {
                v.into_iter()
                    .map(|x| x.map(f64::to_bits))
                    .collect::<Vec<_>>()
            })
        };
        let (mut answered, mut fast, mut fast_answered, mut off_grid) = (0, 0, 0, 0);
        for case in 0..600 {
            let slots = 20 + (next() % 60) as usize;
            let per_step = 1 + case % 3;
            let steps = (slots - 1) / per_step + 1;
            let width = 300_000i64;
            let mut c = RollupColumns::default();
            let mut last = 0.0f64;
            // A predecessor bucket before slot 0 now and then, then buckets with gaps; a
            // regular run of buckets (same count and offsets, no gap, possibly not from the
            // first slot or to the last) in some cases, for `regular_one_bucket_windows`.
            let regular = case % 3 == 1;
            let first_slot = if case % 2 == 0 { -1i64 } else { 0 };
            let (run_from, run_to) = if regular {
                ((next() % 4) as i64, slots as i64 - (next() % 4) as i64)
            } else {
                (first_slot, slots as i64)
            };
            let regular_n = 2 + next() % 3;
            let (regular_fo, regular_lo) = (1 + (next() % 1000) as i64, (next() % 1000) as i64);
            for slot in first_slot..slots as i64 {
                if slot >= 0 && (slot < run_from || slot >= run_to) {
                    continue;
                }
                if !regular && slot >= 0 && next() % 6 == 0 {
                    continue;
                }
                // Now and then a predecessor off the grid (the series reads raw).
                let off_grid = slot < 0 && regular && case % 4 == 0;
                let start = slot * width + if off_grid { 7 } else { 0 };
                // An empty bucket (which sends the series to raw) only in some cases.
                let n = if regular {
                    regular_n
                } else if case % 4 == 0 {
                    next() % 4
                } else {
                    1 + next() % 3
                };
                let step = (next() % 5) as f64;
                // A counter reset now and then, inside or at the edge of a bucket.
                let reset = case % 5 == 0 && next() % 9 == 0;
                let first_v = if reset { 0.0 } else { last + step };
                let mut last_v = first_v + (next() % 7) as f64;
                // A staleness marker now and then (the series reads raw).
                if regular && next() % 150 == 0 {
                    last_v = f64::from_bits(pharos_collector::tsdb::STALE_NAN_BITS);
                }
                c.start.push(start);
                c.count.push(n);
                if regular {
                    c.first_ts.push(start + regular_fo);
                    c.last_ts.push(start + width - regular_lo);
                } else {
                    c.first_ts.push(start + 1 + (next() % 1000) as i64);
                    c.last_ts.push(start + width - (next() % 1000) as i64);
                }
                c.first.push(first_v);
                c.last.push(last_v);
                c.resets
                    .push(u32::from(reset) + u32::from(case % 7 == 0 && next() % 5 == 0));
                last = last_v;
            }
            let s = Steps {
                first_a: 0,
                width,
                slots,
                steps,
                per_step,
                per_range: 1,
                first_end: width,
                step_ms: width * per_step as i64,
                range_ms: width,
            };
            let Ok(rows) = rows_by_slot(&c, &s) else {
                // Off the grid: the regular path refuses it too.
                assert!(regular && case % 4 == 0, "case {case}");
                for f in [RangeFn::Rate, RangeFn::Increase, RangeFn::Delta] {
                    let r = regular_one_bucket_windows(f, &c, &s);
                    assert!(matches!(r, Some(Err(()))), "case {case}, {f:?}");
                }
                off_grid += 1;
                continue;
            };
            for f in [RangeFn::Rate, RangeFn::Increase, RangeFn::Delta] {
                let a = bits(one_bucket_windows(f, &c, &s, &rows));
                let b = bits(scanned_windows(f, &c, &s, &rows));
                answered += usize::from(a.is_ok());
                assert_eq!(a, b, "case {case}, {f:?}");
                if let Some(r) = regular_one_bucket_windows(f, &c, &s) {
                    fast += 1;
                    fast_answered += usize::from(r.is_ok());
                    assert_eq!(bits(r), b, "case {case}, {f:?}, regular path");
                }
            }
        }
        // Both outcomes are exercised: answers and fallbacks to raw, and the regular path.
        assert!(answered > 300 && answered < 1800, "{answered}");
        assert!(
            fast > 100 && fast_answered > 50 && fast_answered < fast,
            "{fast} {fast_answered}"
        );
        assert!(off_grid > 10, "{off_grid}");
    }

    #[test]
    fn rows_by_slot_finds_slots_with_and_without_the_shortcut() {
        let s = Steps {
            first_a: 1000,
            width: 10,
            slots: 6,
            steps: 6,
            per_step: 1,
            per_range: 1,
            first_end: 1010,
            step_ms: 10,
            range_ms: 10,
        };
        let mut c = RollupColumns {
            start: vec![990, 1000, 1010, 1030, 1040, 1070],
            ..RollupColumns::default()
        };
        assert_eq!(
            rows_by_slot(&c, &s),
            Ok(vec![1, 2, u32::MAX, 3, 4, u32::MAX])
        );
        c.start = vec![1000, 1015];
        assert_eq!(rows_by_slot(&c, &s), Err(()));
        // Consecutive buckets (the fill without a test per bucket): from a later slot,
        // past the last slot, after a predecessor; an off-grid predecessor is refused.
        c.start = vec![990, 1020, 1030, 1040, 1050, 1060, 1070];
        assert_eq!(
            rows_by_slot(&c, &s),
            Ok(vec![u32::MAX, u32::MAX, 1, 2, 3, 4])
        );
        c.start = vec![1000, 1010];
        assert_eq!(
            rows_by_slot(&c, &s),
            Ok(vec![0, 1, u32::MAX, u32::MAX, u32::MAX, u32::MAX])
        );
        c.start = vec![995, 1000, 1010];
        assert_eq!(rows_by_slot(&c, &s), Err(()));
    }

    #[test]
    fn sliding_min_and_max_answer_like_the_scan() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut scratch = Scratch::default();
        for case in 0..400 {
            let slots = 40 + (next() % 60) as usize;
            let (per_step, per_range) = match case % 4 {
                0 => (1, 12),
                1 => (1, 1),
                2 => (3, 5),
                _ => (2, 2),
            };
            let steps = (slots - per_range) / per_step + 1;
            let mut c = RollupColumns::default();
            let mut row_of = vec![u32::MAX; slots];
            for (slot, r) in row_of.iter_mut().enumerate() {
                if next() % 5 == 0 {
                    continue; // a gap
                }
                *r = c.start.len() as u32;
                c.start.push(slot as i64);
                c.count.push(u64::from(next() % 50 != 0));
                // Few distinct values, ±0 among them, a NaN now and then.
                let v = match next() % 9 {
                    0 => 0.0,
                    1 => -0.0,
                    2 if case % 7 == 0 => f64::NAN,
                    k => (k % 4) as f64 - 1.0,
                };
                c.min.push(v);
                c.max.push(v);
            }
            let s = Steps {
                first_a: 0,
                width: 1,
                slots,
                steps,
                per_step,
                per_range,
                first_end: 1,
                step_ms: 1,
                range_ms: 1,
            };
            for (min, f) in [(true, RangeFn::MinOverTime), (false, RangeFn::MaxOverTime)] {
                // One scratch for every case: buffers left by a longer series must not leak.
                let a = sliding_extreme(min, &c, &s, &row_of, &mut scratch);
                let b = scanned(f, &c, &s, &row_of);
                let bits = |r: Result<Vec<Option<f64>>, ()>| {
                    r.map(|v| {
                        v.into_iter()
                            .map(|x| x.map(f64::to_bits))
                            .collect::<Vec<_>>()
                    })
                };
                assert_eq!(bits(a), bits(b), "case {case}, min {min}");
            }
        }
    }
}
