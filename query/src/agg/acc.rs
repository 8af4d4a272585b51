//! Accumulators of the aggregation functions, mergeable across segments and partitions.

use std::collections::HashSet;

use serde_json::Value;
use sketches_ddsketch::{Config, DDSketch};

use super::value::{GVal, KeyPart};
use crate::lang::AggFunc;

/// Values kept exactly per group for a percentile; beyond this a DDSketch (1% relative
/// accuracy) takes over so memory stays bounded.
pub const EXACT_PERCENTILE_VALUES: usize = 100_000;

#[derive(Clone)]
pub enum Percentile {
    Exact(Vec<f64>),
    Sketch(Box<DDSketch>),
}

impl std::fmt::Debug for Percentile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Percentile::Exact(v) => write!(f, "Exact({} values)", v.len()),
            Percentile::Sketch(s) => write!(f, "Sketch({} values)", s.count()),
        }
    }
}

impl Percentile {
    fn add(&mut self, v: f64) {
        match self {
            Percentile::Exact(values) => {
                values.push(v);
                if values.len() > EXACT_PERCENTILE_VALUES {
                    let mut sketch = DDSketch::new(Config::defaults());
                    values.iter().for_each(|v| sketch.add(*v));
                    *self = Percentile::Sketch(Box::new(sketch));
                }
            }
            Percentile::Sketch(s) => s.add(v),
        }
    }

    fn merge(&mut self, other: Percentile) {
        match other {
            Percentile::Exact(values) => values.into_iter().for_each(|v| self.add(v)),
            Percentile::Sketch(o) => {
                if let Percentile::Exact(values) = self {
                    let mut sketch = DDSketch::new(Config::defaults());
                    values.iter().for_each(|v| sketch.add(*v));
                    *self = Percentile::Sketch(Box::new(sketch));
                }
                if let Percentile::Sketch(s) = self {
                    // Sketches with the same config always merge.
                    let _ = s.merge(&o);
                }
            }
        }
    }

    fn value(&mut self, p: f64) -> Option<f64> {
        match self {
            Percentile::Exact(values) => exact_percentile(values, p),
            Percentile::Sketch(s) => s.quantile(p / 100.0).ok().flatten(),
        }
    }
}

/// Linear interpolation between the closest ranks (numpy's default, Prometheus's
/// `quantile_over_time`): rank = p/100 · (n − 1).
pub fn exact_percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(values[lo] + (values[hi] - values[lo]) * frac)
}

/// One aggregation's state for one group.
#[derive(Debug, Clone)]
pub enum Acc {
    Count(u64),
    Sum {
        sum: f64,
        n: u64,
    },
    Avg {
        sum: f64,
        n: u64,
    },
    Min(Option<f64>),
    Max(Option<f64>),
    Percentile(f64, Percentile),
    /// Within a segment: values not yet resolved.
    SegDistinct(HashSet<KeyPart>),
    Distinct(HashSet<GVal>),
}

impl Acc {
    pub fn new(func: AggFunc) -> Acc {
        match func {
            AggFunc::Count => Acc::Count(0),
            AggFunc::Sum => Acc::Sum { sum: 0.0, n: 0 },
            AggFunc::Avg => Acc::Avg { sum: 0.0, n: 0 },
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
            AggFunc::Percentile(p) => Acc::Percentile(p, Percentile::Exact(Vec::new())),
            AggFunc::CountDistinct => Acc::SegDistinct(HashSet::new()),
        }
    }

    /// Adds one numeric value (every function but count and count_distinct).
    pub fn add_number(&mut self, v: f64) {
        match self {
            Acc::Sum { sum, n } | Acc::Avg { sum, n } => {
                *sum += v;
                *n += 1;
            }
            Acc::Min(m) => *m = Some(m.map_or(v, |m| m.min(v))),
            Acc::Max(m) => *m = Some(m.map_or(v, |m| m.max(v))),
            Acc::Percentile(_, p) => p.add(v),
            Acc::Count(_) | Acc::SegDistinct(_) | Acc::Distinct(_) => {}
        }
    }

    /// Merges `other` (same function; distinct values already resolved) into `self`.
    pub fn merge(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::Sum { sum, n }, Acc::Sum { sum: s, n: m })
            | (Acc::Avg { sum, n }, Acc::Avg { sum: s, n: m }) => {
                *sum += s;
                *n += m;
            }
            (Acc::Min(a), Acc::Min(b)) => *a = opt(*a, b, f64::min),
            (Acc::Max(a), Acc::Max(b)) => *a = opt(*a, b, f64::max),
            (Acc::Percentile(_, a), Acc::Percentile(_, b)) => a.merge(b),
            (Acc::Distinct(a), Acc::Distinct(b)) => a.extend(b),
            (a @ Acc::SegDistinct(_), Acc::Distinct(b)) => *a = Acc::Distinct(b),
            _ => {}
        }
    }

    /// The output value.
    pub fn finish(&mut self) -> Value {
        let num = |v: f64| {
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        };
        match self {
            Acc::Count(c) => Value::from(*c),
            Acc::Sum { sum, n } if *n > 0 => num(*sum),
            Acc::Avg { sum, n } if *n > 0 => num(*sum / *n as f64),
            Acc::Min(Some(v)) | Acc::Max(Some(v)) => num(*v),
            Acc::Percentile(p, values) => values.value(*p).map_or(Value::Null, num),
            Acc::Distinct(set) => Value::from(set.len() as u64),
            Acc::SegDistinct(set) => Value::from(set.len() as u64),
            _ => Value::Null,
        }
    }
}

fn opt(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_closest_ranks() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(exact_percentile(&mut v, 50.0), Some(2.5));
        assert_eq!(exact_percentile(&mut v, 0.0), Some(1.0));
        assert_eq!(exact_percentile(&mut v, 100.0), Some(4.0));
        assert_eq!(exact_percentile(&mut v, 99.0), Some(3.0 + 0.97));
        assert_eq!(exact_percentile(&mut [], 50.0), None);
    }

    #[test]
    fn large_groups_switch_to_a_sketch_within_one_percent() {
        let mut acc = Acc::new(AggFunc::Percentile(99.0));
        for i in 1..=200_000 {
            acc.add_number(i as f64);
        }
        let got = acc.finish().as_f64().expect("number");
        let want = 198_001.01;
        assert!((got - want).abs() / want < 0.01, "{got}");
    }
}
