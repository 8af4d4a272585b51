//! Probe results as metric series, named as Prometheus's blackbox exporter names them:
//! `probe_success{check, kind}` (1 or 0) and `probe_duration_seconds{check, kind}`, so the
//! response-time history of a check is a PromQL query (the checks view draws it), kept with
//! the store's rollups and retention.

use pharos_collector::tsdb::{Labels, MetricBatch, MetricKind, Sample, SeriesSamples};

use super::ProbeResult;

fn series(name: &str, r: &ProbeResult) -> Option<Labels> {
    Labels::new([
        ("__name__".to_string(), name.to_string()),
        ("check".to_string(), r.check.clone()),
        ("kind".to_string(), r.kind.as_str().to_string()),
    ])
    .ok()
}

/// One batch for a run of results; heartbeats (a ping has no latency) give only
/// `probe_success`.
pub fn probe_batch(results: &[ProbeResult]) -> MetricBatch {
    let mut by_series: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
    for r in results {
        let ts_ms = r.at_ns / 1_000_000;
        if let Some(l) = series("probe_success", r) {
            by_series.entry(l).or_default().push(Sample {
                ts_ms,
                value: if r.ok { 1.0 } else { 0.0 },
            });
        }
        if let (Some(ms), Some(l)) = (r.latency_ms, series("probe_duration_seconds", r)) {
            by_series.entry(l).or_default().push(Sample {
                ts_ms,
                value: ms / 1000.0,
            });
        }
    }
    MetricBatch {
        series: by_series
            .into_iter()
            .map(|(labels, mut samples)| {
                // Two results in one millisecond: the store keeps one sample per instant.
                samples.sort_by_key(|s| s.ts_ms);
                samples.dedup_by_key(|s| s.ts_ms);
                SeriesSamples {
                    labels,
                    kind: MetricKind::Gauge,
                    samples,
                }
            })
            .collect(),
        distributions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckKind;

    #[test]
    fn results_become_blackbox_style_series() {
        let r = |at_ms: i64, ok: bool, latency_ms: Option<f64>, kind: CheckKind| ProbeResult {
            check: "web".into(),
            kind,
            at_ns: at_ms * 1_000_000,
            ok,
            latency_ms,
        };
        let b = probe_batch(&[
            r(1000, true, Some(12.5), CheckKind::Http),
            r(2000, false, Some(1000.0), CheckKind::Http),
            r(2000, false, Some(999.0), CheckKind::Http),
        ]);
        let got: Vec<(String, Vec<(i64, f64)>)> = b
            .series
            .iter()
            .map(|s| {
                (
                    format!("{:?}", s.labels.iter().collect::<Vec<_>>()),
                    s.samples.iter().map(|x| (x.ts_ms, x.value)).collect(),
                )
            })
            .collect();
        assert_eq!(got.len(), 2);
        assert!(
            got[0].0.contains("probe_duration_seconds") && got[0].0.contains("http"),
            "{got:?}"
        );
        assert_eq!(got[0].1, vec![(1000, 0.0125), (2000, 1.0)]);
        assert!(got[1].0.contains("probe_success"));
        assert_eq!(got[1].1, vec![(1000, 1.0), (2000, 0.0)]);
        let hb = probe_batch(&[r(5, true, None, CheckKind::Heartbeat)]);
        assert_eq!(hb.series.len(), 1, "a heartbeat has no latency series");
    }
}
