//! The dense codec of closed raw chunks, in the style of VictoriaMetrics: every value is
//! written as a decimal mantissa `m` with one exponent `e` per chunk (`m * 10^e`), and the
//! timestamps and mantissas as integer series, each delta coded (none, deltas or
//! delta-of-deltas, whichever is smallest) and then bit-packed at one width per chunk after
//! subtracting the minimum, or run-length coded.
//!
//! A chunk uses it only when every value converts exactly and the result is smaller than the
//! Gorilla XOR chunk ([`encode_closed_chunk`]); otherwise (NaN, the stale marker, ±inf,
//! -0.0, values needing 17 digits such as `0.1 + 0.2`, exponents too far apart for one
//! mantissa of at most 2^53 such as 1e15 and 0.001) the chunk stays XOR. The open chunk is
//! always XOR: it is appended to sample by sample.
//!
//! A dense chunk starts with [`DENSE_PREFIX`], a non-canonical varint zero that
//! [`put_varint`] never writes (an XOR chunk starts with its canonical sample count), so
//! [`decode_chunk`](super::gorilla::decode_chunk) tells the two apart and chunks stored
//! before this codec decode unchanged. (The other way round does not hold: a binary from
//! before this codec reads a dense chunk as an empty XOR chunk, count 0, without an error.)
//! After the prefix:
//!
//! ```text
//! codec byte (1) | varint count | ints(timestamps) | exponent (i8) | ints(mantissas)
//! ints  = mode byte (kind << 2 | order) | order × zigzag varint initial values | body
//! order = 0: the values, 1: their deltas, 2: their delta-of-deltas (the residuals)
//! kind  = 0 packed: zigzag varint min, width byte, residual - min at that width, MSB first
//!         1 runs:   (zigzag varint residual, varint run length >= 1) until all are given
//! ```
//!
//! Decoding a value is `(m as f64) * 10^e` (or `/ 10^-e`) with `|m| <= 2^53` and
//! `|e| <= 22`: both operands are exact, so it is one correctly rounded operation; the
//! encoder checks every value comes back bit for bit anyway. The encoding is a pure function
//! of the samples (WAL replay re-cuts identical chunks).

use super::gorilla::{decode_chunk, get_varint, put_varint, ChunkEncoder};
use super::{Sample, TsdbError};

/// The first bytes of a dense chunk (a varint zero, non-canonically in two bytes).
pub const DENSE_PREFIX: [u8; 2] = [0x80, 0x00];
/// The codec byte after [`DENSE_PREFIX`]: decimal mantissas, version 1.
const CODEC_DECIMAL_V1: u8 = 1;
/// Most samples in a dense chunk (the head cuts at 120). A constant regular series takes
/// a few bytes whatever its length, so this is what bounds a decode's allocation.
pub const MAX_DENSE_SAMPLES: u64 = 4096;
/// The largest |exponent|: 10^22 is the largest power of ten exact in an f64.
const MAX_EXP: i32 = 22;
/// The largest |mantissa|: integers up to 2^53 are exact in an f64.
const MAX_MANTISSA: i64 = 1 << 53;
const MAX_MANTISSA_F: f64 = 9_007_199_254_740_992.0;

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `m * 10^e`, correctly rounded (for |m| <= 2^53 and |e| <= 22).
#[inline]
fn from_decimal(m: i64, e: i32) -> f64 {
    let p = POW10[e.unsigned_abs().min(MAX_EXP as u32) as usize];
    if e >= 0 {
        m as f64 * p
    } else {
        m as f64 / p
    }
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// Strips the mantissa's trailing zeros into the exponent.
fn normalize(mut m: i64, mut e: i32) -> (i64, i32) {
    while m != 0 && m % 10 == 0 && e < MAX_EXP {
        m /= 10;
        e += 1;
    }
    (m, e)
}

/// `m` or, for mantissas so large that the rounding of `v * 10^k` may miss, a neighbour:
/// the one of them that gives `v` back.
fn check(v: f64, m: f64, e: i32) -> Option<(i64, i32)> {
    if m.abs() > MAX_MANTISSA_F {
        return None;
    }
    let m = m as i64;
    let near: &[i64] = if m.abs() >= 1 << 50 {
        &[0, -1, 1]
    } else {
        &[0]
    };
    near.iter()
        .map(|d| m + d)
        .find(|c| c.abs() <= MAX_MANTISSA && same_bits(from_decimal(*c, e), v))
        .map(|c| normalize(c, e))
}

/// The decimal `(m, e)` with the fewest digits that gives back `v` exactly (zero gets the
/// largest exponent, fitting any chunk); `None` when there is none within the limits.
pub fn to_decimal(v: f64) -> Option<(i64, i32)> {
    if !v.is_finite() || v.is_sign_negative() && v == 0.0 {
        return None;
    }
    if v == 0.0 {
        return Some((0, MAX_EXP));
    }
    if v.abs() <= MAX_MANTISSA_F {
        if v.fract() == 0.0 {
            return check(v, v, 0);
        }
        for k in 1..=MAX_EXP {
            let s = (v * POW10[k as usize]).round();
            if s.abs() > MAX_MANTISSA_F {
                return None;
            }
            if let Some(d) = check(v, s, -k) {
                return Some(d);
            }
        }
        return None;
    }
    // An integer too large for the mantissa: the largest power of ten that leaves an exact
    // mantissa gives the fewest digits.
    (1..=MAX_EXP)
        .rev()
        .find_map(|k| check(v, (v / POW10[k as usize]).round(), k))
}

/// The chunk's exponent and every value's mantissa at it; `None` if some value does not
/// fit (then the chunk stays XOR).
fn mantissas(samples: &[Sample]) -> Option<(i32, Vec<i64>)> {
    let dec: Vec<(i64, i32)> = samples
        .iter()
        .map(|s| to_decimal(s.value))
        .collect::<Option<_>>()?;
    let e = dec.iter().map(|d| d.1).min()?;
    let mut out = Vec::with_capacity(dec.len());
    for (s, (mut m, ei)) in samples.iter().zip(dec) {
        for _ in e..ei {
            m = m.checked_mul(10).filter(|m| m.abs() <= MAX_MANTISSA)?;
        }
        // What the decoder computes must be the value's exact bits.
        if !same_bits(from_decimal(m, e), s.value) {
            return None;
        }
        out.push(m);
    }
    Some((e, out))
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

const KIND_PACKED: u8 = 0;
const KIND_RUNS: u8 = 1;

fn varint_len(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).max(1).div_ceil(7)
}

/// The bits a packed residual takes: enough for `max - min`.
fn width(min: i64, max: i64) -> u32 {
    64 - (max.wrapping_sub(min) as u64).leading_zeros()
}

/// Sizes of residuals `res` packed and as runs (the bodies: no mode byte, no initials).
fn body_sizes(res: &[i64]) -> (usize, usize) {
    let Some(&first) = res.first() else {
        return (varint_len(0) + 1, 0);
    };
    let (mut min, mut max) = (first, first);
    let mut runs = 0;
    let mut i = 0;
    while i < res.len() {
        let r = res[i];
        let run = res[i..].iter().take_while(|x| **x == r).count();
        runs += varint_len(zigzag(r)) + varint_len(run as u64);
        min = min.min(r);
        max = max.max(r);
        i += run;
    }
    let packed = varint_len(zigzag(min)) + 1 + (res.len() * width(min, max) as usize).div_ceil(8);
    (packed, runs)
}

/// Writes residuals `res` packed at one width after subtracting their minimum.
fn put_packed(out: &mut Vec<u8>, res: &[i64]) {
    let min = res.iter().copied().min().unwrap_or(0);
    let w = width(min, res.iter().copied().max().unwrap_or(0));
    put_varint(out, zigzag(min));
    out.push(w as u8);
    if w == 0 {
        return;
    }
    // MSB first, the last byte zero-padded (as `BitWriter` writes).
    let (mut acc, mut bits) = (0u128, 0u32);
    for r in res {
        acc = (acc << w) | u128::from(r.wrapping_sub(min) as u64);
        bits += w;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        out.push((acc << (8 - bits)) as u8);
    }
}

fn put_runs(out: &mut Vec<u8>, res: &[i64]) {
    let mut i = 0;
    while i < res.len() {
        let run = res[i..].iter().take_while(|r| **r == res[i]).count();
        put_varint(out, zigzag(res[i]));
        put_varint(out, run as u64);
        i += run;
    }
}

/// Writes an integer series (any i64s: differences wrap) the shortest of the ways: its
/// values, deltas or delta-of-deltas (`order`), packed or as runs (`kind`).
fn put_ints(out: &mut Vec<u8>, vals: &[i64]) {
    let diff = |v: &[i64]| -> Vec<i64> { v.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect() };
    let d1 = diff(vals);
    let d2 = diff(&d1);
    let first = vals.first().copied().unwrap_or(0);
    let delta = d1.first().copied().unwrap_or(0);
    let mut cands: Vec<(&[i64], Vec<i64>)> = vec![(vals, vec![]), (&d1, vec![first])];
    if vals.len() >= 2 {
        cands.push((&d2, vec![first, delta]));
    }
    // (size, order, kind): the smallest, the first of equals.
    let mut best = (usize::MAX, 0, KIND_PACKED);
    for (order, (res, init)) in cands.iter().enumerate() {
        let head: usize = 1 + init.iter().map(|v| varint_len(zigzag(*v))).sum::<usize>();
        let (packed, runs) = body_sizes(res);
        for (size, kind) in [(packed, KIND_PACKED), (runs, KIND_RUNS)] {
            if head + size < best.0 {
                best = (head + size, order, kind);
            }
        }
    }
    let (size, order, kind) = best;
    let (res, init) = &cands[order];
    let before = out.len();
    out.push(kind << 2 | order as u8);
    for v in init {
        put_varint(out, zigzag(*v));
    }
    if kind == KIND_RUNS {
        put_runs(out, res);
    } else {
        put_packed(out, res);
    }
    debug_assert_eq!(
        out.len() - before,
        size,
        "size estimate of order {order} kind {kind}"
    );
}

fn corrupt(why: &str) -> TsdbError {
    TsdbError::Corrupt(format!("dense chunk: {why}"))
}

/// Rebuilds values from their residuals (wrapping, so no input can overflow).
struct Integrator {
    order: usize,
    /// The initial values still to give before the residuals' values.
    init: [i64; 2],
    given: usize,
    x: i64,
    d: i64,
}

impl Integrator {
    #[inline]
    fn next(&mut self, r: i64) -> i64 {
        match self.order {
            0 => r,
            1 => {
                self.x = self.x.wrapping_add(r);
                self.x
            }
            _ => {
                self.d = self.d.wrapping_add(r);
                self.x = self.x.wrapping_add(self.d);
                self.x
            }
        }
    }

    /// The values the initial values alone give (`order` of them).
    fn initial(&mut self, put: &mut impl FnMut(i64)) {
        while self.given < self.order {
            if self.given == 0 {
                self.x = self.init[0];
            } else {
                self.d = self.init[1];
                self.x = self.x.wrapping_add(self.d);
            }
            put(self.x);
            self.given += 1;
        }
    }
}

/// Reads `bytes[at..at + n]`, advancing `at`.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], TsdbError> {
    let end = at.checked_add(n).filter(|e| *e <= bytes.len());
    let s = end
        .and_then(|e| bytes.get(*at..e))
        .ok_or_else(|| corrupt("ends early"))?;
    *at += n;
    Ok(s)
}

fn get_u8(bytes: &[u8], at: &mut usize) -> Result<u8, TsdbError> {
    let b = *bytes.get(*at).ok_or_else(|| corrupt("ends early"))?;
    *at += 1;
    Ok(b)
}

/// Calls `f` with each of `m` values of `width` bits packed MSB first in `body` (which
/// holds at least `m * width` bits).
#[inline]
fn unpack(body: &[u8], width: u32, m: usize, mut f: impl FnMut(u64)) {
    if width == 0 {
        (0..m).for_each(|_| f(0));
        return;
    }
    let mut pos = 0usize;
    for _ in 0..m {
        let (b, off) = (pos / 8, (pos % 8) as u32);
        let v = match body.get(b..b + 8) {
            Some(w) if width <= 56 => {
                let mut word = [0u8; 8];
                word.copy_from_slice(w);
                (u64::from_be_bytes(word) << off) >> (64 - width)
            }
            // Near the end or very wide: up to 9 bytes, zero-padded.
            _ => {
                let mut word = [0u8; 16];
                for (i, x) in word.iter_mut().take(9).enumerate() {
                    *x = body.get(b + i).copied().unwrap_or(0);
                }
                ((u128::from_be_bytes(word) << off) >> (128 - width)) as u64
            }
        };
        f(v);
        pos += width as usize;
    }
}

/// Reads an integer series of `n` values written by [`put_ints`], calling `put` with each.
fn get_ints(
    bytes: &[u8],
    at: &mut usize,
    n: usize,
    mut put: impl FnMut(i64),
) -> Result<(), TsdbError> {
    let mode = get_u8(bytes, at)?;
    let (kind, order) = (mode >> 2, usize::from(mode & 3));
    if kind > KIND_RUNS || order > 2 || order > n {
        return Err(corrupt(&format!("bad integer series mode {mode:#x}")));
    }
    let mut ig = Integrator {
        order,
        init: [0; 2],
        given: 0,
        x: 0,
        d: 0,
    };
    for i in 0..order {
        ig.init[i] = unzigzag(get_varint(bytes, at)?);
    }
    ig.initial(&mut put);
    let m = n - order;
    if kind == KIND_RUNS {
        let mut done = 0usize;
        while done < m {
            let r = unzigzag(get_varint(bytes, at)?);
            let run = get_varint(bytes, at)?;
            if run == 0 || run > (m - done) as u64 {
                return Err(corrupt(&format!("run of {run} with {} left", m - done)));
            }
            for _ in 0..run {
                put(ig.next(r));
            }
            done += run as usize;
        }
        return Ok(());
    }
    let min = unzigzag(get_varint(bytes, at)?);
    let width = u32::from(get_u8(bytes, at)?);
    if width > 64 {
        return Err(corrupt(&format!("width {width}")));
    }
    // m <= MAX_DENSE_SAMPLES and width <= 64: no overflow.
    let body = take(bytes, at, (m * width as usize).div_ceil(8))?;
    unpack(body, width, m, |u| put(ig.next(min.wrapping_add(u as i64))));
    Ok(())
}

/// The dense encoding of `samples`, or `None` when a value does not convert exactly or
/// there are none or too many.
pub fn encode_dense(samples: &[Sample]) -> Option<Vec<u8>> {
    if samples.is_empty() || samples.len() as u64 > MAX_DENSE_SAMPLES {
        return None;
    }
    let (e, ms) = mantissas(samples)?;
    let ts: Vec<i64> = samples.iter().map(|s| s.ts_ms).collect();
    let mut out = Vec::with_capacity(32 + samples.len());
    out.extend_from_slice(&DENSE_PREFIX);
    out.push(CODEC_DECIMAL_V1);
    put_varint(&mut out, samples.len() as u64);
    put_ints(&mut out, &ts);
    out.push(e as i8 as u8);
    put_ints(&mut out, &ms);
    Some(out)
}

/// Decodes a chunk starting with [`DENSE_PREFIX`] (what `decode_chunk` calls for them).
pub fn decode_dense(bytes: &[u8]) -> Result<Vec<Sample>, TsdbError> {
    let mut at = DENSE_PREFIX.len();
    let codec = get_u8(bytes, &mut at)?;
    if codec != CODEC_DECIMAL_V1 {
        return Err(corrupt(&format!("unknown codec {codec}")));
    }
    let n = get_varint(bytes, &mut at)?;
    if n == 0 || n > MAX_DENSE_SAMPLES {
        return Err(corrupt(&format!("{n} samples")));
    }
    let n = n as usize;
    let mut out = Vec::with_capacity(n);
    get_ints(bytes, &mut at, n, |t| {
        out.push(Sample {
            ts_ms: t,
            value: 0.0,
        })
    })?;
    let e = i32::from(get_u8(bytes, &mut at)? as i8);
    if e.abs() > MAX_EXP {
        return Err(corrupt(&format!("exponent {e}")));
    }
    let mut slots = out.iter_mut();
    get_ints(bytes, &mut at, n, |m| {
        if let Some(s) = slots.next() {
            s.value = from_decimal(m, e);
        }
    })?;
    if at != bytes.len() {
        return Err(corrupt(&format!(
            "{} bytes after the end",
            bytes.len() - at
        )));
    }
    Ok(out)
}

/// The dense encoding when it is smaller than `xor` (these samples' XOR chunk) and gives
/// the samples back bit for bit, else `xor`.
fn smaller(samples: &[Sample], xor: Vec<u8>) -> Vec<u8> {
    match encode_dense(samples) {
        Some(d) if d.len() < xor.len() => {
            // Belt and braces: a chunk that would not decode exactly stays XOR.
            let exact = decode_dense(&d).is_ok_and(|back| {
                back.len() == samples.len()
                    && back
                        .iter()
                        .zip(samples)
                        .all(|(a, b)| a.ts_ms == b.ts_ms && same_bits(a.value, b.value))
            });
            debug_assert!(exact, "dense chunk does not round-trip: {samples:?}");
            if exact {
                d
            } else {
                xor
            }
        }
        _ => xor,
    }
}

/// The bytes of a closed chunk: dense when that is smaller and exact, else the XOR chunk.
pub fn encode_closed_chunk(enc: &ChunkEncoder) -> Vec<u8> {
    let xor = enc.bytes();
    match decode_chunk(&xor) {
        Ok(samples) => smaller(&samples, xor),
        Err(_) => xor,
    }
}

/// [`encode_closed_chunk`] of the chunk holding exactly `samples`.
pub fn encode_closed_samples(samples: &[Sample]) -> Vec<u8> {
    smaller(samples, ChunkEncoder::from_samples(samples).bytes())
}

#[cfg(test)]
mod tests;
