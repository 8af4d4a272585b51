//! Decode speed of raw chunks, Gorilla XOR against the dense decimal codec of closed
//! chunks, on data shaped like the metrics benchmark's (120-sample chunks at 15 s):
//!
//! `cargo run --release -p pharos-collector --example chunk_decode_speed`

use std::hint::black_box;
use std::time::Instant;

use pharos_collector::tsdb::decimal::{encode_closed_chunk, encode_closed_samples, DENSE_PREFIX};
use pharos_collector::tsdb::gorilla::{decode_chunk, ChunkEncoder};
use pharos_collector::tsdb::Sample;

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

fn chunks(mut next: impl FnMut(&mut Rng) -> f64) -> Vec<Vec<Sample>> {
    let mut rng = Rng(42);
    (0..200)
        .map(|c| {
            (0..120)
                .map(|i| Sample {
                    ts_ms: 1_700_000_000_000 + (c * 120 + i) * 15_000,
                    value: next(&mut rng),
                })
                .collect()
        })
        .collect()
}

/// ns per sample decoding every chunk, best of a few rounds.
fn time(encoded: &[Vec<u8>], samples: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..20 {
            for b in encoded {
                black_box(decode_chunk(black_box(b)).map(|s| s.len()).unwrap_or(0));
            }
        }
        best = best.min(start.elapsed().as_nanos() as f64 / (20 * samples) as f64);
    }
    best
}

fn main() {
    let (mut c, mut g, mut k) = (1e6, 64.0, 500i64);
    let classes: Vec<(&str, Vec<Vec<Sample>>)> = vec![
        (
            "counter, steps 0..=10",
            chunks(|r| {
                c += r.below(11) as f64;
                c
            }),
        ),
        (
            "integer gauge, ±1 walk",
            chunks(|r| {
                g = (g + r.below(3) as f64 - 1.0).max(0.0);
                g
            }),
        ),
        (
            "gauge in [0,1], k / 1000",
            chunks(|r| {
                k = (k + r.below(3) as i64 - 1).clamp(0, 1000);
                k as f64 / 1000.0
            }),
        ),
    ];
    for (name, cs) in &classes {
        let n: usize = cs.iter().map(Vec::len).sum();
        let xor: Vec<Vec<u8>> = cs
            .iter()
            .map(|s| ChunkEncoder::from_samples(s).bytes())
            .collect();
        let encoders: Vec<ChunkEncoder> =
            cs.iter().map(|s| ChunkEncoder::from_samples(s)).collect();
        let dense: Vec<Vec<u8>> = cs.iter().map(|s| encode_closed_samples(s)).collect();
        assert!(dense.iter().all(|b| b.starts_with(&DENSE_PREFIX)));
        let bytes = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
        // What the head pays per sample when it cuts a chunk (on top of the XOR appends).
        let mut enc = f64::MAX;
        for _ in 0..7 {
            let start = Instant::now();
            for e in &encoders {
                black_box(encode_closed_chunk(black_box(e)));
            }
            enc = enc.min(start.elapsed().as_nanos() as f64 / n as f64);
        }
        println!(
            "{name}: decode XOR {:.2} ns/sample ({:.2} B/sample), dense {:.2} ns/sample ({:.2} B/sample); encode_closed_chunk {enc:.1} ns/sample",
            time(&xor, n),
            bytes(&xor),
            time(&dense, n),
            bytes(&dense),
        );
    }
}
