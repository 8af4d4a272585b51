//! Service level objectives: error budgets, burn rates, and the multi-window,
//! multi-burn-rate alerts of the Google SRE workbook.
//!
//! - `config.rs`: `[[alerting.slos]]` and its validation.
//! - `window.rs`: the exact objective and the SLO window's bounds (rolling or calendar month).
//! - `budget.rs`: the pure math (error ratio, burn rate, budget, time to exhaustion).
//! - `sli.rs`: reading good/total events over a window ([`SliSource`]).
//! - `alerts.rs`: the generated rule groups.
//! - `status.rs`: the API view.
//!
//! Everything takes `now_ns`, so the rule engine's clock (or a test's `ManualClock`) decides
//! what "now" is. Documented for users in `docs/alerting/slos.md`.

pub mod alerts;
pub mod budget;
pub mod config;
pub mod sli;
pub mod status;
pub mod window;

use std::sync::Arc;

pub use alerts::{BurnRateExpr, BurnRatePair, Severity, ALERT_NAME};
pub use budget::{ErrorBudget, EventCounts};
pub use config::{
    validate_all, BurnAlertingConfig, BurnWindowConfig, RatioQueries, SliConfig, SloConfig,
    SloConfigError, SloWindowConfig,
};
pub use sli::{Sli, SliSource};
pub use status::{BurnAlertStatus, SloStatus, WindowBurnRate};
pub use window::{Objective, WindowBounds};

use crate::duration::PromDuration;
use crate::rules::def::GroupDef;

/// What the burn-rate factors of a calendar month are relative to (the workbook's 30 days).
const NOMINAL_MONTH_NS: i64 = 30 * 86_400 * 1_000_000_000;

/// One validated SLO.
#[derive(Debug, Clone)]
pub struct Slo {
    pub config: SloConfig,
    pub objective: Objective,
    pub sli: Sli,
}

impl Slo {
    /// Validates `config` (errors name keys under `path`, e.g. `alerting.slos[0]`).
    pub fn new(config: SloConfig, path: &str) -> Result<Slo, SloConfigError> {
        config.validate(path)?;
        let invalid = |key: &str, message: &str| SloConfigError {
            path: format!("{path}.{key}"),
            message: message.to_string(),
        };
        let objective = Objective::from_percent(config.objective)
            .ok_or_else(|| invalid("objective", "must be above 0 and below 100"))?;
        let sli = Sli::from_config(&config.sli)
            .ok_or_else(|| invalid("sli", "set exactly one of promql, logs or check"))?;
        Ok(Slo {
            config,
            objective,
            sli,
        })
    }

    /// Every configured (long, short, factor) pair, pages first.
    pub fn burn_rate_pairs(&self) -> Vec<BurnRatePair> {
        let a = &self.config.alerting;
        let with = |severity| {
            move |p: &BurnWindowConfig| BurnRatePair {
                severity,
                long: p.long,
                short: p.short,
                factor: p.factor,
            }
        };
        a.page
            .iter()
            .map(with(Severity::Page))
            .chain(a.ticket.iter().map(with(Severity::Ticket)))
            .collect()
    }

    /// The burn rate over `[now − window, now)`; `None` without traffic.
    pub fn burn_rate(
        &self,
        source: &dyn SliSource,
        window: PromDuration,
        now_ns: i64,
    ) -> Result<Option<f64>, String> {
        let counts = source.counts(&self.sli, now_ns.saturating_sub(window.as_ns()), now_ns)?;
        Ok(budget::burn_rate(&counts, self.objective))
    }

    /// The window length the burn-rate factors refer to.
    pub fn nominal_window_ns(&self) -> i64 {
        match self.config.window {
            SloWindowConfig::Rolling(d) => d.as_ns(),
            SloWindowConfig::CalendarMonth => NOMINAL_MONTH_NS,
        }
    }
}

/// Every SLO with the source their SLIs read. Cheap to share behind an `Arc`.
pub struct SloEngine {
    slos: Vec<Arc<Slo>>,
    source: Arc<dyn SliSource>,
}

impl SloEngine {
    /// Validates every config (unique names; `check_exists` tells whether a check SLI's id
    /// is configured) and builds the engine.
    pub fn new(
        configs: &[SloConfig],
        source: Arc<dyn SliSource>,
        check_exists: impl Fn(&str) -> bool,
    ) -> Result<SloEngine, SloConfigError> {
        validate_all(configs, check_exists)?;
        let slos = configs
            .iter()
            .enumerate()
            .map(|(i, c)| Slo::new(c.clone(), &format!("alerting.slos[{i}]")).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(SloEngine { slos, source })
    }

    pub fn slos(&self) -> &[Arc<Slo>] {
        &self.slos
    }

    /// Every SLO's status at `now_ns`, in config order (`GET /api/v1/slos`). Blocking.
    pub fn status(&self, now_ns: i64) -> Vec<SloStatus> {
        self.slos
            .iter()
            .map(|slo| status::status(slo, self.source.as_ref(), now_ns))
            .collect()
    }

    /// One SLO's status (`GET /api/v1/slos/<name>`); `None` for an unknown name. Blocking.
    pub fn status_of(&self, name: &str, now_ns: i64) -> Option<SloStatus> {
        self.slos
            .iter()
            .find(|s| s.config.name == name)
            .map(|slo| status::status(slo, self.source.as_ref(), now_ns))
    }

    /// One SLO's remaining budget at `points` instants of its window, the last one now
    /// (`GET /api/v1/slos/<name>/budget`); `None` for an unknown name. Blocking.
    pub fn budget_history(
        &self,
        name: &str,
        now_ns: i64,
        points: usize,
    ) -> Option<Vec<status::BudgetPoint>> {
        self.slos
            .iter()
            .find(|s| s.config.name == name)
            .map(|slo| status::budget_history(slo, self.source.as_ref(), now_ns, points))
    }

    /// One rule group per SLO (`source: "slo:<name>"`) for the rule engine.
    pub fn rule_groups(&self) -> Vec<GroupDef> {
        self.slos
            .iter()
            .map(|slo| alerts::rule_group(slo, &self.source))
            .collect()
    }
}
