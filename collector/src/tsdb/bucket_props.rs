//! Test support shared by the rollup block codecs' property tests (`block.rs`, `colblock.rs`):
//! arbitrary buckets, and a bit-exact comparison key (NaN and -0.0 compare as their bits).

use proptest::prelude::*;

use crate::tsdb::{RollupBucket, Sample};

/// Every field of a bucket as bits, so round trips are compared exactly.
pub fn key(b: &RollupBucket) -> Vec<u64> {
    vec![
        b.start_ms as u64,
        b.count,
        b.sum.to_bits(),
        b.min.to_bits(),
        b.max.to_bits(),
        b.first.ts_ms as u64,
        b.first.value.to_bits(),
        b.last.ts_ms as u64,
        b.last.value.to_bits(),
        b.increase.to_bits(),
        u64::from(b.resets),
    ]
}

pub fn any_bucket() -> impl Strategy<Value = RollupBucket> {
    (
        any::<i64>(),
        any::<u64>(),
        prop::array::uniform4(any::<u64>()),
        (any::<i64>(), any::<i64>(), any::<u64>(), any::<u64>()),
        any::<u32>(),
    )
        .prop_map(
            |(start, count, [sum, min, max, inc], (ft, lt, fv, lv), resets)| RollupBucket {
                start_ms: start,
                count,
                sum: f64::from_bits(sum),
                min: f64::from_bits(min),
                max: f64::from_bits(max),
                first: Sample {
                    ts_ms: ft,
                    value: f64::from_bits(fv),
                },
                last: Sample {
                    ts_ms: lt,
                    value: f64::from_bits(lv),
                },
                increase: f64::from_bits(inc),
                resets,
            },
        )
}
