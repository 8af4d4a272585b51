//! Runs per-partition work on all cores: partitions are independent indexes, so counting or
//! aggregating them in parallel divides a multi-day query's time by the core count.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads for one query (at most one per core, at most one per item).
fn workers(items: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(items).max(1)
}

/// `f` over every item, in parallel; results in item order, or the first error.
pub fn par_map<I: Sync, T: Send, E: Send>(
    items: &[I],
    f: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    if items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<T, E>>> = Vec::new();
    results.resize_with(items.len(), || None);
    let parts: Vec<Vec<(usize, Result<T, E>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers(items.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            // A worker that panicked has lost its items; they surface as missing below.
            .filter_map(|h| h.join().ok())
            .collect()
    });
    for (i, r) in parts.into_iter().flatten() {
        results[i] = Some(r);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| panic!("a partition worker panicked")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order_and_errors_surface() {
        let items: Vec<u32> = (0..50).collect();
        let out: Result<Vec<u32>, String> = par_map(&items, |i| Ok(i * 2));
        assert_eq!(out, Ok((0..50).map(|i| i * 2).collect()));
        let err: Result<Vec<u32>, String> =
            par_map(
                &items,
                |i| if *i == 7 { Err("seven".into()) } else { Ok(*i) },
            );
        assert_eq!(err, Err("seven".into()));
    }
}
