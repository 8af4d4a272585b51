//! Fixed-rate pacing: a rate of R records/s is sent as one slice of about
//! R/20 records every [`TICK`] (50 ms), each slice split into requests spread
//! over the connections. The plan is computed up front so that every request
//! body can be pre-encoded outside the timed phase.

use std::time::Duration;

/// Interval between two slices of a paced load.
pub const TICK: Duration = Duration::from_millis(50);

/// Records released at each tick for `count` records at `rate` records/s.
/// Tick `k` (0-based) releases `floor((k+1)·r) − floor(k·r)` records with
/// `r = rate · TICK`, so fractional rates do not drift. Empty when `rate` is 0.
pub fn tick_sizes(rate: u64, count: usize) -> Vec<usize> {
    if rate == 0 || count == 0 {
        return Vec::new();
    }
    let tick_ms = TICK.as_millis();
    // Records released up to and including tick k, in exact integer math.
    let upto = |k: u128| (k * u128::from(rate) * tick_ms / 1000) as usize;
    let mut sizes = Vec::new();
    let mut done = 0usize;
    let mut k: u128 = 0;
    while done < count {
        let n = upto(k + 1).min(count) - done;
        sizes.push(n);
        done += n;
        k += 1;
    }
    sizes
}

/// Splits `n` records into request sizes: at least one request per connection
/// (when there are that many records), none larger than `batch`, as even as
/// possible.
pub fn split(n: usize, connections: usize, batch: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let parts = connections.max(1).max(n.div_ceil(batch.max(1))).min(n);
    let (base, extra) = (n / parts, n % parts);
    (0..parts).map(|i| base + usize::from(i < extra)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_follow_the_rate() {
        assert!(tick_sizes(0, 100).is_empty());
        let t = tick_sizes(20_000, 200_000);
        assert_eq!(t.len(), 200);
        assert!(t.iter().all(|&n| n == 1000));
        // 30 records/s = 1.5 per tick: alternates 1 and 2, no drift.
        let t = tick_sizes(30, 30);
        assert_eq!(t.len(), 20);
        assert_eq!(t.iter().sum::<usize>(), 30);
        assert_eq!(&t[..4], &[1, 2, 1, 2]);
        // A last partial tick.
        let t = tick_sizes(20_000, 2_500);
        assert_eq!(t, vec![1000, 1000, 500]);
        // Below one record per tick some ticks are empty.
        let t = tick_sizes(10, 3);
        assert_eq!(t, vec![0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn splits_evenly_within_batch() {
        assert_eq!(split(1000, 4, 1000), vec![250; 4]);
        assert_eq!(split(10, 4, 1000), vec![3, 3, 2, 2]);
        assert_eq!(split(2, 4, 1000), vec![1, 1]);
        assert_eq!(split(5000, 2, 1000), vec![1000; 5]);
        assert!(split(0, 4, 10).is_empty());
    }
}
