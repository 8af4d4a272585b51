//! Storage encodings besides raw chunks: blocks of rollup buckets (column-wise Gorilla-style,
//! lossless) and HdrHistograms (V2 deflate).
//!
//! A rollup bucket has ten fields; stored naively it would take more bytes than the raw
//! samples it summarises. Here consecutive buckets are delta coded: bucket starts, counts and
//! sample offsets are usually equal to the previous ones (1 bit each), min/max/sum are often
//! equal to the bucket's first or last value (a 1–2 bit tag), and the float fields that
//! remain go through one XOR stream each.

use std::io::Cursor;

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::gorilla::{
    get_varint, put_varint, read_dod, read_small, write_dod, write_small, BitReader, BitWriter,
    XorState,
};
use super::{RollupBucket, Sample, TsdbError};

/// One lazily started XOR stream: the first value written through it is raw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stream(Option<XorState>);

impl Stream {
    fn write(&mut self, w: &mut BitWriter, v: f64) {
        match &mut self.0 {
            Some(x) => x.write(w, v),
            None => self.0 = Some(XorState::start(w, v)),
        }
    }
    fn read(&mut self, r: &mut BitReader<'_>) -> Result<f64, TsdbError> {
        match &mut self.0 {
            Some(x) => x.read(r),
            None => {
                let (x, v) = XorState::read_start(r)?;
                self.0 = Some(x);
                Ok(v)
            }
        }
    }
}

/// The coder state shared by the encoder and the decoder.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    prev_start: Option<i64>,
    prev_count: u64,
    prev_first_off: i64,
    prev_last_off: i64,
    first: Stream,
    last: Stream,
    min: Stream,
    max: Stream,
    sum: Stream,
    increase: Stream,
}

/// Tag of a derived float: `0` = the bucket's first value, `10` = its last, `11` = coded.
fn write_tagged(w: &mut BitWriter, stream: &mut Stream, v: f64, first: f64, last: f64) {
    if v.to_bits() == first.to_bits() {
        w.write_bit(false);
    } else if v.to_bits() == last.to_bits() {
        w.write_bits(0b10, 2);
    } else {
        w.write_bits(0b11, 2);
        stream.write(w, v);
    }
}

fn read_tagged(
    r: &mut BitReader<'_>,
    stream: &mut Stream,
    first: f64,
    last: f64,
) -> Result<f64, TsdbError> {
    if !r.read_bit()? {
        Ok(first)
    } else if !r.read_bit()? {
        Ok(last)
    } else {
        stream.read(r)
    }
}

/// An appendable block of buckets of one width.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockEncoder {
    w: BitWriter,
    count: u32,
    first_start: i64,
    state: State,
}

impl BlockEncoder {
    pub fn new() -> Self {
        BlockEncoder::default()
    }

    pub fn from_buckets(buckets: &[RollupBucket]) -> Self {
        let mut e = BlockEncoder::new();
        for b in buckets {
            e.append(b);
        }
        e
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Start of the first bucket (meaningless when empty).
    pub fn first_start(&self) -> i64 {
        self.first_start
    }

    pub fn append(&mut self, b: &RollupBucket) {
        let w = &mut self.w;
        let st = &mut self.state;
        match st.prev_start {
            None => self.first_start = b.start_ms,
            // Wrapping everywhere: whatever is appended decodes back identically.
            Some(p) => write_dod(w, b.start_ms.wrapping_sub(p)),
        }
        write_dod(w, (b.count as i64).wrapping_sub(st.prev_count as i64));
        let first_off = b.first.ts_ms.wrapping_sub(b.start_ms);
        let last_off = b.last.ts_ms.wrapping_sub(b.start_ms);
        write_dod(w, first_off.wrapping_sub(st.prev_first_off));
        write_dod(w, last_off.wrapping_sub(st.prev_last_off));
        st.first.write(w, b.first.value);
        if b.last.value.to_bits() == b.first.value.to_bits() {
            w.write_bit(false);
        } else {
            w.write_bit(true);
            st.last.write(w, b.last.value);
        }
        let (f, l) = (b.first.value, b.last.value);
        write_tagged(w, &mut st.min, b.min, f, l);
        write_tagged(w, &mut st.max, b.max, f, l);
        write_tagged(w, &mut st.sum, b.sum, f, l);
        st.increase.write(w, b.increase);
        write_small(w, u64::from(b.resets));
        st.prev_start = Some(b.start_ms);
        st.prev_count = b.count;
        st.prev_first_off = first_off;
        st.prev_last_off = last_off;
        self.count += 1;
    }

    /// The block: bucket count and first start (zigzag) as varints, then the bit stream.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.bytes().len() + 12);
        put_varint(&mut out, u64::from(self.count));
        put_varint(&mut out, zigzag(self.first_start));
        out.extend_from_slice(self.w.bytes());
        out
    }

    /// The block with `open` appended, leaving this encoder as it is.
    pub fn bytes_with(&self, open: Option<&RollupBucket>) -> Vec<u8> {
        match open {
            None => self.bytes(),
            Some(b) => {
                let mut e = self.clone();
                e.append(b);
                e.bytes()
            }
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Decodes a block written by [`BlockEncoder::bytes`].
pub fn decode_block(bytes: &[u8]) -> Result<Vec<RollupBucket>, TsdbError> {
    let mut at = 0;
    let count = get_varint(bytes, &mut at)?;
    let first_start = unzigzag(get_varint(bytes, &mut at)?);
    let body = bytes.get(at..).unwrap_or_default();
    // A bucket takes at least 15 bits after the first: bound the allocation by the input.
    if count > 1 + body.len() as u64 {
        return Err(TsdbError::Corrupt(format!(
            "rollup block claims {count} buckets in {} bytes",
            body.len()
        )));
    }
    let mut r = BitReader::new(body);
    let mut st = State::default();
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = match st.prev_start {
            None => first_start,
            Some(p) => p.wrapping_add(read_dod(&mut r)?),
        };
        let n = (st.prev_count as i64).wrapping_add(read_dod(&mut r)?) as u64;
        let first_off = st.prev_first_off.wrapping_add(read_dod(&mut r)?);
        let last_off = st.prev_last_off.wrapping_add(read_dod(&mut r)?);
        let f = st.first.read(&mut r)?;
        let l = if r.read_bit()? {
            st.last.read(&mut r)?
        } else {
            f
        };
        let min = read_tagged(&mut r, &mut st.min, f, l)?;
        let max = read_tagged(&mut r, &mut st.max, f, l)?;
        let sum = read_tagged(&mut r, &mut st.sum, f, l)?;
        let increase = st.increase.read(&mut r)?;
        let resets = u32::try_from(read_small(&mut r)?)
            .map_err(|_| TsdbError::Corrupt("rollup resets out of range".to_string()))?;
        out.push(RollupBucket {
            start_ms: start,
            count: n,
            sum,
            min,
            max,
            first: Sample {
                ts_ms: start.wrapping_add(first_off),
                value: f,
            },
            last: Sample {
                ts_ms: start.wrapping_add(last_off),
                value: l,
            },
            increase,
            resets,
        });
        st.prev_start = Some(start);
        st.prev_count = n;
        st.prev_first_off = first_off;
        st.prev_last_off = last_off;
    }
    Ok(out)
}

/// A histogram in HdrHistogram's V2 deflate format.
pub fn encode_histogram(h: &Histogram<u64>) -> Result<Vec<u8>, TsdbError> {
    let mut out = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut out)
        .map_err(|e| TsdbError::Storage(format!("serialising a histogram: {e:?}")))?;
    Ok(out)
}

pub fn decode_histogram(bytes: &[u8]) -> Result<Histogram<u64>, TsdbError> {
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(|e| TsdbError::Corrupt(format!("histogram: {e:?}")))?;
    // Deserialised histograms have fixed bounds; merging later values needs growth.
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::bucket_props::{any_bucket, key};
    use crate::tsdb::rollup::{new_histogram, record, rollup};
    use crate::tsdb::{MetricKind, Resolution};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_buckets_round_trip(buckets in prop::collection::vec(any_bucket(), 0..60)) {
            let bytes = BlockEncoder::from_buckets(&buckets).bytes();
            let back = decode_block(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), buckets.iter().map(key).collect::<Vec<_>>());
        }

        #[test]
        fn real_rollups_round_trip_and_stay_small(
            steps in prop::collection::vec(0u32..10, 480),
            counter in any::<bool>(),
        ) {
            let mut v = 1000.0;
            let samples: Vec<Sample> = steps.iter().enumerate().map(|(i, d)| {
                v += if counter { f64::from(*d) } else { f64::from(*d % 5) - 2.0 };
                Sample { ts_ms: 1_700_000_000_000 + i as i64 * 15_000, value: v }
            }).collect();
            let kind = if counter { MetricKind::Counter } else { MetricKind::Gauge };
            let buckets = rollup(&samples, kind, Resolution::Minute, None);
            let enc = BlockEncoder::from_buckets(&buckets);
            let bytes = enc.bytes();
            let back = decode_block(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), buckets.iter().map(key).collect::<Vec<_>>());
            // Far below the 80+ bytes of a naive bucket.
            prop_assert!(bytes.len() <= buckets.len() * 12, "{} bytes for {} buckets", bytes.len(), buckets.len());
            // bytes_with leaves the encoder unchanged.
            let last = buckets.last().cloned();
            let with = BlockEncoder::from_buckets(&buckets[..buckets.len() - 1]).bytes_with(last.as_ref());
            prop_assert_eq!(with, bytes);
        }
    }

    #[test]
    fn corrupt_blocks_and_histograms_are_errors() -> Result<(), TsdbError> {
        let buckets = rollup(
            &(0..100)
                .map(|i| Sample {
                    ts_ms: i * 7_000,
                    value: (i % 13) as f64,
                })
                .collect::<Vec<_>>(),
            MetricKind::Counter,
            Resolution::Minute,
            None,
        );
        let bytes = BlockEncoder::from_buckets(&buckets).bytes();
        for cut in 0..bytes.len() - 1 {
            assert!(decode_block(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut h = new_histogram()?;
        record(&mut h, &[(0.25, 10), (3.0, 2)])?;
        let hb = encode_histogram(&h)?;
        assert_eq!(decode_histogram(&hb)?, h);
        assert!(decode_histogram(&hb[..hb.len() / 2]).is_err());
        assert!(decode_histogram(b"garbage").is_err());
        Ok(())
    }
}
