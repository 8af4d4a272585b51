//! `pharos_check_up{check}` (1 up, 0 down; absent while unknown) and
//! `pharos_check_duration_seconds{check}` (probe latency histogram).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::state::State;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabel {
    pub check: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms .. ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct CheckMetrics {
    pub up: Family<CheckLabel, Gauge>,
    pub duration: Family<CheckLabel, Histogram, fn() -> Histogram>,
}

impl Default for CheckMetrics {
    fn default() -> Self {
        CheckMetrics {
            up: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl CheckMetrics {
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("pharos");
        r.register(
            "check_up",
            "Whether a health check or heartbeat is up (1) or down (0); absent while unknown",
            self.up.clone(),
        );
        r.register(
            "check_duration_seconds",
            "Latency of one health check probe",
            self.duration.clone(),
        );
    }

    pub fn set_state(&self, check: &str, state: State) {
        let label = CheckLabel {
            check: check.to_string(),
        };
        match state {
            State::Up => {
                self.up.get_or_create(&label).set(1);
            }
            State::Down => {
                self.up.get_or_create(&label).set(0);
            }
            State::Unknown => {
                self.up.remove(&label);
            }
        }
    }

    pub fn observe_latency(&self, check: &str, latency_ms: f64) {
        self.duration
            .get_or_create(&CheckLabel {
                check: check.to_string(),
            })
            .observe(latency_ms / 1000.0);
    }
}
