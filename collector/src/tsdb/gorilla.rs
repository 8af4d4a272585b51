//! The chunk codec of raw samples (Gorilla, as in Prometheus's XOR chunks): timestamps as
//! delta-of-delta, values as the XOR with the previous value, storing only the window of
//! meaningful bits (and reusing the previous window when the new bits fit in it).
//!
//! The bit writer/reader and the XOR value coder are shared with the rollup block codec.
//! Every f64 bit pattern round-trips exactly (NaN payloads, the stale marker, -0.0), and any
//! i64 timestamp sequence too (differences wrap), so the codec never loses what it is given.
//!
//! Closed chunks may instead be in the denser decimal codec of `decimal.rs`;
//! [`decode_chunk`] reads both.

use super::decimal::{decode_dense, DENSE_PREFIX};
use super::{Sample, TsdbError};

/// Appends bits, most significant first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 means the last byte is full, or there is none).
    used: u32,
}

impl BitWriter {
    pub fn new() -> Self {
        BitWriter::default()
    }

    /// Writes the low `n` bits of `v` (n <= 64).
    pub fn write_bits(&mut self, v: u64, n: u32) {
        let mut left = n;
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(left);
            let shift = left - take;
            let bits = ((v >> shift) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bits << (free - take);
            }
            self.used = (self.used + take) % 8;
            left -= take;
        }
    }

    pub fn write_bit(&mut self, b: bool) {
        self.write_bits(u64::from(b), 1);
    }

    pub fn bit_len(&self) -> usize {
        if self.used == 0 {
            self.bytes.len() * 8
        } else {
            (self.bytes.len() - 1) * 8 + self.used as usize
        }
    }

    /// The bytes so far (the last one zero-padded).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads bits written by [`BitWriter`]; reading past the end is `Corrupt`.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    pub fn read_bits(&mut self, n: u32) -> Result<u64, TsdbError> {
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self
                .bytes
                .get(self.pos / 8)
                .ok_or_else(|| TsdbError::Corrupt("bit stream ends early".to_string()))?;
            let off = (self.pos % 8) as u32;
            let avail = 8 - off;
            let take = avail.min(left);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = if take == 64 { bits } else { (v << take) | bits };
            self.pos += take as usize;
            left -= take;
        }
        Ok(v)
    }

    pub fn read_bit(&mut self) -> Result<bool, TsdbError> {
        Ok(self.read_bits(1)? == 1)
    }
}

/// Sign-extends the low `n` bits of `v`.
fn sign_extend(v: u64, n: u32) -> i64 {
    let shift = 64 - n;
    ((v << shift) as i64) >> shift
}

/// Writes a signed value with a prefix code sized for delta-of-deltas: `0` for zero, then
/// 7, 14, 20 and 32 bits, and 64 bits for anything else.
pub fn write_dod(w: &mut BitWriter, v: i64) {
    const CLASSES: [(u64, u32, u32); 4] = [
        (0b10, 2, 7),
        (0b110, 3, 14),
        (0b1110, 4, 20),
        (0b11110, 5, 32),
    ];
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (prefix, plen, bits) in CLASSES {
        let lim = 1i64 << (bits - 1);
        if (-lim..lim).contains(&v) {
            w.write_bits(prefix, plen);
            w.write_bits(v as u64, bits);
            return;
        }
    }
    w.write_bits(0b11111, 5);
    w.write_bits(v as u64, 64);
}

pub fn read_dod(r: &mut BitReader<'_>) -> Result<i64, TsdbError> {
    let mut ones = 0;
    while ones < 5 && r.read_bit()? {
        ones += 1;
    }
    Ok(match ones {
        0 => 0,
        1 => sign_extend(r.read_bits(7)?, 7),
        2 => sign_extend(r.read_bits(14)?, 14),
        3 => sign_extend(r.read_bits(20)?, 20),
        4 => sign_extend(r.read_bits(32)?, 32),
        _ => r.read_bits(64)? as i64,
    })
}

/// Writes an unsigned value: `0` for zero, else `1` and a [`write_dod`]-coded value.
pub fn write_small(w: &mut BitWriter, v: u64) {
    write_dod(w, v as i64);
}

pub fn read_small(r: &mut BitReader<'_>) -> Result<u64, TsdbError> {
    Ok(read_dod(r)? as u64)
}

/// The XOR coder of one stream of f64 values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XorState {
    prev: u64,
    leading: u32,
    trailing: u32,
    /// False until a window was written (no window to reuse yet).
    has_window: bool,
}

impl XorState {
    /// The first value, raw.
    pub fn start(w: &mut BitWriter, v: f64) -> XorState {
        w.write_bits(v.to_bits(), 64);
        XorState {
            prev: v.to_bits(),
            ..XorState::default()
        }
    }

    pub fn read_start(r: &mut BitReader<'_>) -> Result<(XorState, f64), TsdbError> {
        let bits = r.read_bits(64)?;
        Ok((
            XorState {
                prev: bits,
                ..XorState::default()
            },
            f64::from_bits(bits),
        ))
    }

    /// `0` when equal; `10` + the bits in the previous window; `11` + leading zeros (5 bits),
    /// width (6 bits, 64 as 0) and the bits.
    pub fn write(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.write_bit(false);
            return;
        }
        let leading = x.leading_zeros().min(31);
        let trailing = x.trailing_zeros();
        let width = 64 - leading - trailing;
        let old_width = 64 - self.leading - self.trailing;
        // Reuse the previous window when the bits fit and that is not dearer than
        // describing a new, narrower window (11 bits of header).
        if self.has_window
            && leading >= self.leading
            && trailing >= self.trailing
            && old_width <= width + 11
        {
            w.write_bits(0b10, 2);
            w.write_bits(x >> self.trailing, old_width);
            return;
        }
        w.write_bits(0b11, 2);
        w.write_bits(u64::from(leading), 5);
        w.write_bits(u64::from(width % 64), 6);
        w.write_bits(x >> trailing, width);
        self.leading = leading;
        self.trailing = trailing;
        self.has_window = true;
    }

    pub fn read(&mut self, r: &mut BitReader<'_>) -> Result<f64, TsdbError> {
        if r.read_bit()? {
            if r.read_bit()? {
                let leading = r.read_bits(5)? as u32;
                let width = match r.read_bits(6)? as u32 {
                    0 => 64,
                    n => n,
                };
                if leading + width > 64 {
                    return Err(TsdbError::Corrupt(
                        "XOR window wider than 64 bits".to_string(),
                    ));
                }
                self.leading = leading;
                self.trailing = 64 - leading - width;
                self.has_window = true;
            } else if !self.has_window {
                return Err(TsdbError::Corrupt(
                    "XOR window reused before one was set".to_string(),
                ));
            }
            let width = 64 - self.leading - self.trailing;
            let x = r.read_bits(width)? << self.trailing;
            self.prev ^= x;
        }
        Ok(f64::from_bits(self.prev))
    }
}

/// An open chunk: samples are appended; [`ChunkEncoder::bytes`] is the chunk so far.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkEncoder {
    w: BitWriter,
    count: u32,
    first_ts: i64,
    last_ts: i64,
    prev_delta: i64,
    xor: XorState,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        ChunkEncoder::new()
    }
}

impl ChunkEncoder {
    pub fn new() -> Self {
        ChunkEncoder {
            w: BitWriter::new(),
            count: 0,
            first_ts: 0,
            last_ts: 0,
            prev_delta: 0,
            xor: XorState::default(),
        }
    }

    pub fn append(&mut self, s: Sample) {
        if self.count == 0 {
            self.xor = XorState::start(&mut self.w, s.value);
            self.first_ts = s.ts_ms;
        } else {
            // Wrapping: any i64 sequence round-trips; real chunks only grow in time.
            let delta = s.ts_ms.wrapping_sub(self.last_ts);
            write_dod(&mut self.w, delta.wrapping_sub(self.prev_delta));
            self.prev_delta = delta;
            self.xor.write(&mut self.w, s.value);
        }
        self.last_ts = s.ts_ms;
        self.count += 1;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Timestamps of the first and last samples (meaningless when empty).
    pub fn first_ts(&self) -> i64 {
        self.first_ts
    }

    pub fn last_ts(&self) -> i64 {
        self.last_ts
    }

    /// The chunk: the sample count and the first timestamp (zigzag) as varints, then the
    /// bit stream.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.bytes().len() + 12);
        put_varint(&mut out, u64::from(self.count));
        if self.count > 0 {
            put_varint(
                &mut out,
                ((self.first_ts << 1) ^ (self.first_ts >> 63)) as u64,
            );
        }
        out.extend_from_slice(self.w.bytes());
        out
    }

    /// An encoder holding exactly these samples (to continue a chunk read back from disk).
    pub fn from_samples(samples: &[Sample]) -> Self {
        let mut e = ChunkEncoder::new();
        for s in samples {
            e.append(*s);
        }
        e
    }
}

/// Appends a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Reads a LEB128 varint at `*at`, advancing it.
pub fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, TsdbError> {
    let mut n: u64 = 0;
    for i in 0..10 {
        let b = *bytes
            .get(*at)
            .ok_or_else(|| TsdbError::Corrupt("varint ends early".to_string()))?;
        *at += 1;
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(TsdbError::Corrupt("varint too long".to_string()))
}

/// Decodes a chunk written by [`ChunkEncoder::bytes`] or, when it starts with
/// [`DENSE_PREFIX`], by the dense codec of closed chunks (`decimal.rs`).
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Sample>, TsdbError> {
    if bytes.starts_with(&DENSE_PREFIX) {
        return decode_dense(bytes);
    }
    let mut at = 0;
    let count = get_varint(bytes, &mut at)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let zz = get_varint(bytes, &mut at)?;
    let first_ts = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
    let body = bytes.get(at..).unwrap_or_default();
    // Each sample after the first takes at least 2 bits: bound the allocation by the input.
    if count > 1 + body.len() as u64 * 4 {
        return Err(TsdbError::Corrupt(format!(
            "chunk claims {count} samples in {} bytes",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut r = BitReader::new(body);
    let mut ts = first_ts;
    let (mut xor, v) = XorState::read_start(&mut r)?;
    out.push(Sample {
        ts_ms: ts,
        value: v,
    });
    let mut delta = 0i64;
    for _ in 1..count {
        delta = delta.wrapping_add(read_dod(&mut r)?);
        ts = ts.wrapping_add(delta);
        let value = xor.read(&mut r)?;
        out.push(Sample { ts_ms: ts, value });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::STALE_NAN_BITS;
    use proptest::prelude::*;

    fn round_trip(samples: &[Sample]) -> Vec<Sample> {
        let bytes = ChunkEncoder::from_samples(samples).bytes();
        decode_chunk(&bytes).unwrap_or_else(|e| panic!("decode: {e}"))
    }

    fn bits(s: &[Sample]) -> Vec<(i64, u64)> {
        s.iter().map(|s| (s.ts_ms, s.value.to_bits())).collect()
    }

    #[test]
    fn special_values_round_trip_bit_exactly() {
        let vals = [
            f64::from_bits(STALE_NAN_BITS),
            f64::NAN,
            f64::from_bits(0x7ff8_dead_beef_0001),
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::MAX,
            1.5,
            1.5,
        ];
        let samples: Vec<Sample> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| Sample {
                ts_ms: i as i64 * 15_000,
                value: *v,
            })
            .collect();
        assert_eq!(bits(&round_trip(&samples)), bits(&samples));
        assert_eq!(round_trip(&[]), vec![]);
    }

    #[test]
    fn corrupt_chunks_are_errors_not_panics() {
        let samples: Vec<Sample> = (0..50)
            .map(|i| Sample {
                ts_ms: i * 1000,
                value: (i * i) as f64,
            })
            .collect();
        let bytes = ChunkEncoder::from_samples(&samples).bytes();
        for cut in 0..bytes.len() - 1 {
            assert!(decode_chunk(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_chunk(&[0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(decode_chunk(&[0xff; 12]).is_err());
        // Random garbage decodes to something or fails, never panics.
        for seed in 0u64..200 {
            let junk: Vec<u8> = (0..40)
                .map(|i| (seed.wrapping_mul(31).wrapping_add(i * 17) % 251) as u8)
                .collect();
            let _ = decode_chunk(&junk);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_sequences_round_trip(
            raw in prop::collection::vec((any::<i64>(), any::<u64>()), 0..300)
        ) {
            let samples: Vec<Sample> = raw
                .iter()
                .map(|(t, v)| Sample { ts_ms: *t, value: f64::from_bits(*v) })
                .collect();
            prop_assert_eq!(bits(&round_trip(&samples)), bits(&samples));
        }

        #[test]
        fn jittery_real_world_sequences_round_trip(
            start in 1_500_000_000_000i64..1_800_000_000_000,
            steps in prop::collection::vec((0i64..60_000, -1e6f64..1e6), 1..200)
        ) {
            let mut ts = start;
            let samples: Vec<Sample> = steps
                .iter()
                .map(|(d, v)| { ts += d; Sample { ts_ms: ts, value: *v } })
                .collect();
            prop_assert_eq!(bits(&round_trip(&samples)), bits(&samples));
        }

        /// The target: a regular series takes at most 2 bytes per sample.
        #[test]
        fn regular_series_take_at_most_two_bytes_per_sample(
            start in 1_500_000_000_000i64..1_800_000_000_000,
            interval in prop::sample::select(vec![1_000i64, 10_000, 15_000, 30_000, 60_000]),
            base in 0u32..10_000_000,
            counter in any::<bool>(),
            steps in prop::collection::vec(0u32..10, 120),
        ) {
            let mut v = f64::from(base);
            let samples: Vec<Sample> = steps
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    // A counter grows by small amounts; a gauge walks up and down slowly.
                    v += if counter { f64::from(*d) } else { f64::from(*d % 5) - 2.0 };
                    Sample { ts_ms: start + i as i64 * interval, value: v }
                })
                .collect();
            let bytes = ChunkEncoder::from_samples(&samples).bytes();
            let per_sample = bytes.len() as f64 / samples.len() as f64;
            prop_assert!(per_sample <= 2.0, "{per_sample} bytes/sample");
            prop_assert_eq!(bits(&decode_chunk(&bytes).unwrap_or_default()), bits(&samples));
        }
    }
}
