//! The allocator policy of Pharos's processes (the `pharos` binary and the benchmarks that
//! measure it in process), which all run on mimalloc.
//!
//! mimalloc returns freed memory to the kernel 10 ms after it was freed by default. A
//! month-long `query_range` builds and drops result vectors of a hundred MB or more, so the
//! next query faulted all of it back in, zeroed page by page: measured on the 30-day
//! benchmark, single evaluations every 10–20 runs took 2–3× the median (BENCHMARKS.md).
//! Keeping freed memory for [`PURGE_DELAY_MS`] removes those tails while an idle server still
//! gives the memory back.

/// How long freed memory stays with the process before it is returned to the kernel.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// mimalloc v3's `mi_option_purge_delay` (`include/mimalloc.h`); the `libmimalloc-sys`
/// bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the policy. The environment still wins (`MIMALLOC_PURGE_DELAY`): this only sets
/// the default. Harmless when mimalloc is not the global allocator.
pub fn tune() {
    // SAFETY: sets an integer option of the linked mimalloc; no pointers involved, and
    // mimalloc reads its options atomically.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_set_unless_the_environment_set_it() {
        tune();
        // SAFETY: reads an integer option.
        let got = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        match std::env::var("MIMALLOC_PURGE_DELAY") {
            Ok(v) => assert_eq!(got.to_string(), v.trim()),
            Err(_) => assert_eq!(got as i64, PURGE_DELAY_MS),
        }
    }
}
