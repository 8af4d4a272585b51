use super::*;
use crate::tsdb::STALE_NAN_BITS;
use proptest::prelude::*;

fn s(ts_ms: i64, value: f64) -> Sample {
    Sample { ts_ms, value }
}

fn bits(s: &[Sample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.ts_ms, s.value.to_bits())).collect()
}

fn is_dense(bytes: &[u8]) -> bool {
    bytes.starts_with(&DENSE_PREFIX)
}

/// Regular 15 s samples from 2024 on.
fn regular(values: &[f64]) -> Vec<Sample> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| s(1_700_000_000_000 + i as i64 * 15_000, *v))
        .collect()
}

/// Encodes closed as the head does (from the XOR encoder) and checks both entry points
/// agree and decode back bit for bit; returns the bytes.
fn closed(samples: &[Sample]) -> Vec<u8> {
    let bytes = encode_closed_chunk(&ChunkEncoder::from_samples(samples));
    assert_eq!(bytes, encode_closed_samples(samples));
    let back = decode_chunk(&bytes).unwrap_or_else(|e| panic!("decode: {e}"));
    assert_eq!(bits(&back), bits(samples));
    bytes
}

fn xor_len(samples: &[Sample]) -> usize {
    ChunkEncoder::from_samples(samples).bytes().len()
}

/// A deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

#[test]
fn decimal_conversion_is_shortest_and_exact() {
    assert_eq!(to_decimal(0.1), Some((1, -1)));
    assert_eq!(to_decimal(-2.5), Some((-25, -1)));
    assert_eq!(to_decimal(0.123), Some((123, -3)));
    assert_eq!(to_decimal(1000.0), Some((1, 3)));
    assert_eq!(to_decimal(1e20), Some((1, 20)));
    assert_eq!(to_decimal(1.5e-7), Some((15, -8)));
    assert_eq!(
        to_decimal(9_007_199_254_740_993.0),
        Some((9_007_199_254_740_992, 0))
    );
    assert_eq!(to_decimal(0.0), Some((0, MAX_EXP)));
    assert_eq!(to_decimal(0.1 + 0.2), None);
    assert_eq!(to_decimal(-0.0), None);
    assert_eq!(to_decimal(f64::NAN), None);
    assert_eq!(to_decimal(f64::from_bits(STALE_NAN_BITS)), None);
    assert_eq!(to_decimal(f64::INFINITY), None);
    assert_eq!(to_decimal(5e-324), None);
    assert_eq!(to_decimal(1e-30), None);
    assert_eq!(to_decimal(f64::MAX), None);
    // Whatever it finds gives the value back and has as many digits as Rust's
    // shortest round-trip repr; it finds one whenever that repr fits (|m| <= 2^53, |e| <= 22).
    let mut rng = Rng(7);
    for i in 0..30_000 {
        let v: f64 = match i % 3 {
            0 => f64::from_bits(rng.below(u64::MAX)),
            1 => {
                let digits = 1 + rng.below(18) as u32;
                let m = rng.below(10u64.pow(digits));
                let e = rng.below(50) as i64 - 25;
                format!("{m}e{e}").parse().unwrap_or_default()
            }
            _ => (rng.below(2_000_000) as f64 - 1e6) / 1e3,
        };
        let repr = format!("{:e}", v.abs());
        let (digits, exp) = repr.split_once('e').unwrap_or_default();
        let digits = digits.replace('.', "");
        let last = exp.parse::<i64>().unwrap_or_default() - digits.len() as i64 + 1;
        let d: u128 = digits.parse().unwrap_or_default();
        let fits = if last > 22 {
            (last - 22 <= 20).then(|| d * 10u128.pow((last - 22) as u32))
        } else {
            Some(d)
        }
        .is_some_and(|m| m <= 1 << 53)
            && last >= -22
            && v.is_finite()
            && v.to_bits() != (-0.0f64).to_bits();
        match to_decimal(v) {
            Some((m, e)) => {
                assert_eq!(from_decimal(m, e).to_bits(), v.to_bits(), "{v:e}");
                if v != 0.0 {
                    // As many digits (of two shortest decimals equally near, Rust may
                    // print the other).
                    let m = m.unsigned_abs().to_string();
                    let (ours, rusts) = (m.trim_end_matches('0'), digits.trim_end_matches('0'));
                    assert_eq!(ours.len(), rusts.len(), "{v:e}: {ours} vs {rusts}");
                }
            }
            None => assert!(!fits, "{v:e} has a short decimal but none was found"),
        }
    }
}

#[test]
fn integer_counters_use_the_dense_codec() {
    let mut rng = Rng(1);
    let mut v = 1_000_000.0;
    let vals: Vec<f64> = (0..120)
        .map(|_| {
            v += rng.below(11) as f64;
            v
        })
        .collect();
    let samples = regular(&vals);
    let bytes = closed(&samples);
    assert!(is_dense(&bytes));
    // 4-bit deltas: 60 bytes, plus about 25 of header and timestamps.
    assert!(bytes.len() <= 90, "{} bytes", bytes.len());
    assert!(bytes.len() < xor_len(&samples));
}

#[test]
fn three_decimal_gauge_uses_the_dense_codec() {
    let mut rng = Rng(2);
    let mut k = 500i64;
    let vals: Vec<f64> = (0..120)
        .map(|_| {
            k = (k + rng.below(3) as i64 - 1).clamp(0, 1000);
            k as f64 / 1000.0
        })
        .collect();
    let samples = regular(&vals);
    let bytes = closed(&samples);
    assert!(is_dense(&bytes));
    assert!(mantissas(&samples).is_some_and(|(e, _)| e == -3));
    // 2-bit deltas: 30 bytes.
    assert!(bytes.len() <= 55, "{} bytes", bytes.len());
}

#[test]
fn constant_series_take_a_few_bytes() {
    for v in [0.0, 1.0, 42.5, -7.0, 1e15] {
        let samples = regular(&[v; 120]);
        let bytes = closed(&samples);
        assert!(is_dense(&bytes), "{v}");
        // Prefix 3, count 1, timestamps ~12, exponent 1, values ~3 + the mantissa.
        assert!(bytes.len() <= 28, "{v}: {} bytes", bytes.len());
    }
    // One sample.
    assert!(is_dense(&closed(&[s(5, 3.0)])));
}

#[test]
fn unconvertible_values_keep_the_chunk_xor() {
    let mut vals: Vec<f64> = (0..120).map(f64::from).collect();
    for bad in [
        f64::from_bits(STALE_NAN_BITS),
        f64::NAN,
        f64::INFINITY,
        -0.0,
        0.1 + 0.2,
        5e-324,
    ] {
        vals[60] = bad;
        let bytes = closed(&regular(&vals));
        assert!(!is_dense(&bytes), "{bad:e}");
        assert_eq!(bytes, ChunkEncoder::from_samples(&regular(&vals)).bytes());
    }
    // Values whose exponents are too far apart for one 2^53 mantissa.
    let bytes = closed(&regular(&[1e15, 0.001]));
    assert!(!is_dense(&bytes));
}

#[test]
fn irregular_timestamps_and_mixed_exponents_round_trip() {
    let samples = vec![
        s(-5, 1e21),
        s(i64::MAX, 0.0),
        s(i64::MIN, 3.0),
        s(0, -1e21),
        s(17, 0.0),
    ];
    closed(&samples);
    let samples = vec![s(1, 0.5), s(2, 1234.25), s(3, 0.0), s(4, -0.125)];
    assert!(is_dense(&closed(&samples)) || xor_len(&samples) <= 40);
}

#[test]
fn corrupt_dense_chunks_are_errors() {
    let samples = regular(&(0..120).map(|i| f64::from(i * i)).collect::<Vec<_>>());
    let bytes = closed(&samples);
    assert!(is_dense(&bytes));
    for cut in DENSE_PREFIX.len()..bytes.len() {
        assert!(decode_chunk(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_chunk(&longer).is_err());
    let mut bad = bytes.clone();
    bad[2] = 9;
    assert!(decode_chunk(&bad).is_err(), "unknown codec");
    // A huge sample count is refused before anything is allocated.
    let mut huge = DENSE_PREFIX.to_vec();
    huge.push(CODEC_DECIMAL_V1);
    put_varint(&mut huge, u64::MAX);
    assert!(decode_chunk(&huge).is_err());
}

/// The benchmark's data shapes in 120-sample chunks at 15 s: (XOR, closed) bytes per sample.
fn per_sample(series: &[Vec<f64>]) -> (f64, f64, usize) {
    let (mut xor, mut dense, mut n, mut dense_chunks) = (0, 0, 0, 0);
    for vals in series {
        for chunk in regular(vals).chunks(120) {
            xor += xor_len(chunk);
            let b = closed(chunk);
            dense_chunks += usize::from(is_dense(&b));
            dense += b.len();
            n += chunk.len();
        }
    }
    (xor as f64 / n as f64, dense as f64 / n as f64, dense_chunks)
}

fn walk(seed: u64, len: usize, mut step: impl FnMut(&mut Rng) -> f64) -> Vec<f64> {
    let mut rng = Rng(seed);
    (0..len).map(|_| step(&mut rng)).collect()
}

#[test]
fn benchmark_shaped_data_is_well_under_two_bytes_per_sample() {
    const LEN: usize = 1200;
    let classes: Vec<(&str, Vec<Vec<f64>>, f64)> = vec![
        (
            "counter, steps 0..=10",
            (0u32..8)
                .map(|i| {
                    let mut v = 1e6 + f64::from(i) * 7.0;
                    walk(i.into(), LEN, |r| {
                        v += r.below(11) as f64;
                        v
                    })
                })
                .collect(),
            0.75,
        ),
        (
            "integer gauge, ±1 walk",
            (0u32..8)
                .map(|i| {
                    let mut v = 64.0;
                    walk(u64::from(i) + 100, LEN, |r| {
                        v = (v + r.below(3) as f64 - 1.0).max(0.0);
                        v
                    })
                })
                .collect(),
            0.45,
        ),
        (
            "gauge in [0,1], k / 1000",
            (0u32..8)
                .map(|i| {
                    let mut k = 200 + i64::from(i) * 37;
                    walk(u64::from(i) + 200, LEN, |r| {
                        k = (k + r.below(3) as i64 - 1).clamp(0, 1000);
                        k as f64 / 1000.0
                    })
                })
                .collect(),
            0.45,
        ),
        (
            "gauge in [0,1], x += ±0.001",
            (0u32..8)
                .map(|i| {
                    let mut x = 0.2 + f64::from(i) * 0.037;
                    walk(u64::from(i) + 300, LEN, |r| {
                        x = (x + (r.below(3) as f64 - 1.0) * 0.001).clamp(0.0, 1.0);
                        x
                    })
                })
                .collect(),
            // Mostly not decimal-exact: stays XOR, as before.
            5.5,
        ),
    ];
    // The metrics benchmark's own classes (tests/src/loadgen/metrics_bench/data.rs).
    let bench_counters: Vec<Vec<f64>> =
        [(20u64, 1e6), (1, 100.0), (50_000, 1e9), (9, 5e3), (2, 10.0)]
            .iter()
            .enumerate()
            .map(|(i, (max, base))| {
                let mut v = *base;
                walk(i as u64 + 400, LEN, |r| {
                    v += r.below(max + 1) as f64;
                    v
                })
            })
            .collect();
    let bench_gauges: Vec<Vec<f64>> = [(2u64, 50.0), (3, 200.0), (4096, 536_870_912.0), (1, 64.0)]
        .iter()
        .enumerate()
        .map(|(i, (max, base))| {
            let mut v: f64 = *base;
            walk(i as u64 + 500, LEN, |r| {
                v = (v + r.below(2 * max + 1) as f64 - *max as f64).max(0.0);
                v
            })
        })
        .collect();
    let mut all = Vec::new();
    for (name, series, bound) in &classes {
        let (xor, dense, dense_chunks) = per_sample(series);
        let chunks = series.len() * LEN.div_ceil(120);
        println!("{name}: XOR {xor:.3} B/sample, closed {dense:.3} B/sample ({dense_chunks}/{chunks} chunks dense)");
        assert!(dense <= *bound, "{name}: {dense:.3} B/sample");
        assert!(dense <= xor);
        if !name.contains("+=") {
            assert_eq!(dense_chunks, chunks, "{name}");
        }
        all.extend(series.iter().cloned());
    }
    for (name, series, bound) in [
        (
            "benchmark counters (max steps 20, 1, 50000, 9, 2)",
            &bench_counters,
            1.0,
        ),
        (
            "benchmark integer gauges (max steps 2, 3, 4096, 1)",
            &bench_gauges,
            1.0,
        ),
    ] {
        let (xor, dense, _) = per_sample(series);
        println!("{name}: XOR {xor:.3} B/sample, closed {dense:.3} B/sample");
        assert!(dense <= bound, "{name}: {dense:.3} B/sample");
    }
    let (xor, dense, _) = per_sample(&all);
    println!("all of the above but the benchmark's: XOR {xor:.3}, closed {dense:.3} B/sample");
}

/// Values: mostly decimal-friendly (so the dense path is exercised), some arbitrary bits.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
        4 => (-100_000i64..100_000, 0u32..8).prop_map(|(m, d)| m as f64 / 10f64.powi(d as i32)),
        1 => any::<u64>().prop_map(f64::from_bits),
        1 => prop::sample::select(vec![
            f64::from_bits(STALE_NAN_BITS),
            f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            0.1 + 0.2,
            1e22,
            9_007_199_254_740_993.0,
        ]),
    ]
}

/// One chunk's values: all from one simple family (dense) or a mix of [`value`].
fn chunk_values(len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(value(), len),
        (
            any::<i32>(),
            prop::collection::vec(-20i64..20, len),
            0u32..6
        )
            .prop_map(|(start, steps, d)| {
                let mut m = i64::from(start);
                steps
                    .iter()
                    .map(|s| {
                        m += s;
                        m as f64 / 10f64.powi(d as i32)
                    })
                    .collect()
            }),
        prop::collection::vec(any::<u64>().prop_map(f64::from_bits), len),
    ]
}

fn timestamps(len: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::vec(any::<i64>(), len),
        (any::<i64>(), 1i64..100_000)
            .prop_map(move |(t, d)| { (0..len as i64).map(|i| t.wrapping_add(i * d)).collect() }),
        (
            0i64..2_000_000_000_000,
            prop::collection::vec(14_990i64..15_010, len)
        )
            .prop_map(|(t, ds)| {
                let mut t = t;
                ds.iter()
                    .map(|d| {
                        t += d;
                        t
                    })
                    .collect()
            }),
    ]
}

fn chunk() -> impl Strategy<Value = Vec<Sample>> {
    (1usize..=120)
        .prop_flat_map(|len| (timestamps(len), chunk_values(len)))
        .prop_map(|(ts, vs)| ts.into_iter().zip(vs).map(|(t, v)| s(t, v)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn closed_chunks_round_trip_bit_exactly(samples in chunk()) {
        let bytes = encode_closed_chunk(&ChunkEncoder::from_samples(&samples));
        prop_assert_eq!(&bytes, &encode_closed_samples(&samples));
        prop_assert!(bytes.len() <= xor_len(&samples));
        let back = decode_chunk(&bytes);
        prop_assert!(back.is_ok(), "{:?}", back.err());
        prop_assert_eq!(bits(&back.unwrap_or_default()), bits(&samples));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        raw in prop::collection::vec(any::<u8>(), 0..200),
        dense in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if dense {
            bytes.extend_from_slice(&DENSE_PREFIX);
            bytes.push(CODEC_DECIMAL_V1);
        }
        bytes.extend_from_slice(&raw);
        let _ = decode_chunk(&bytes);
    }

    #[test]
    fn decode_never_panics_on_damaged_dense_chunks(
        samples in chunk(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_closed_samples(&samples);
        for (i, b) in damage {
            let i = i.index(bytes.len());
            // Keep the prefix: the damage is to the dense decoder's input.
            if i >= 3 {
                bytes[i] = b;
            }
        }
        if let Ok(back) = decode_chunk(&bytes) {
            prop_assert!(back.len() as u64 <= MAX_DENSE_SAMPLES);
        }
    }
}
