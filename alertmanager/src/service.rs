//! The whole alerting pipeline as one service, configured by `[alerting]`:
//!
//! ```text
//! rules (files, SLO burn rates, check states) ─┐
//! POST /api/v2/alerts (Prometheus) ────────────┼─► AlertStore ─► Dispatcher ─► Escalator ─► Notifier
//! notifier meta-alerts ────────────────────────┘   (durable)    (routes, groups, (policies,   (e-mail,
//!                                                                silences, inhibition) ack links) webhooks, Slack)
//! ```
//!
//! Every stage keeps its state in one state database (`data/alerting/`), so a restart neither
//! re-pages nor forgets a firing alert, a silence, or an escalation in progress.

use std::path::Path;
use std::sync::Arc;

use pharos_collector::clock::SharedClock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::dispatch::{Dispatcher, RouteConfig, RoutingConfig};
use crate::duration::PromDuration;
use crate::escalation::{AckKey, EscalationConfig, Escalator, EscalatorDeps};
use crate::inhibit::InhibitRuleConfig;
use crate::notify::{Notifier, NotifierSettings, NotifyConfig, ReceiverConfig, SmtpConfig};
use crate::rules::{driver, RuleManager, RulesConfig};
use crate::silence::{Silences, DEFAULT_SILENCE_RETENTION_NS};
use crate::slo::{SloConfig, SloEngine};
use crate::sources::Sources;
use crate::storage::{SharedStateDb, SledStateDb};
use crate::store::AlertStore;
use crate::timeinterval::TimeIntervalConfig;

/// The receiver alerts go to when no receivers are configured: it has no integrations, so
/// alerts are visible in the API and UI and nothing is sent (Alertmanager's "blackhole").
pub const DEFAULT_RECEIVER: &str = "default";

/// How long resolved alerts stay in the store (Alertmanager's `data.retention`, 120 h).
const RESOLVED_RETENTION_NS: i64 = 120 * 3600 * 1_000_000_000;

/// `[alerting]`: rules, SLOs, routing, receivers, escalation. Everything has a default, so a
/// server with no `[alerting]` section runs rules-free and keeps alerts it is sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingConfig {
    /// The end given to an alert received without one (Alertmanager's `resolve_timeout`).
    pub resolve_timeout: PromDuration,
    pub rules: RulesConfig,
    pub slos: Vec<SloConfig>,
    pub route: RouteConfig,
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    pub time_intervals: Vec<TimeIntervalConfig>,
    pub smtp: Option<SmtpConfig>,
    pub receivers: Vec<ReceiverConfig>,
    pub notify: NotifierSettings,
    pub escalation: EscalationConfig,
    /// The key that signs acknowledgement links; only from `PHAROS_ALERTING__ACK_SECRET`
    /// (or `escalation.ack.secret_file`). Never printed.
    #[serde(skip_serializing)]
    pub ack_secret: Option<AckSecret>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            resolve_timeout: PromDuration::from_secs(300),
            rules: RulesConfig::default(),
            slos: Vec::new(),
            route: RouteConfig::default(),
            inhibit_rules: Vec::new(),
            time_intervals: Vec::new(),
            smtp: None,
            receivers: Vec::new(),
            notify: NotifierSettings::default(),
            escalation: EscalationConfig::default(),
            ack_secret: None,
        }
    }
}

/// A secret that never prints.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct AckSecret(pub String);

impl std::fmt::Debug for AckSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// A config problem; the message starts with the key path (`alerting.…`).
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Open(String),
}

impl AlertingConfig {
    /// The config with the implicit default receiver filled in: with no receivers at all,
    /// the root route goes to [`DEFAULT_RECEIVER`], which sends nothing.
    pub fn effective(&self) -> AlertingConfig {
        let mut c = self.clone();
        if c.receivers.is_empty() && c.route.receiver.is_none() {
            c.route.receiver = Some(DEFAULT_RECEIVER.to_string());
            if let Ok(r) = serde_json::from_value(serde_json::json!({ "name": DEFAULT_RECEIVER })) {
                c.receivers.push(r);
            }
        }
        c
    }

    fn routing(&self) -> RoutingConfig {
        RoutingConfig {
            route: self.route.clone(),
            inhibit_rules: self.inhibit_rules.clone(),
            time_intervals: self.time_intervals.clone(),
        }
    }

    fn notify_config(&self) -> NotifyConfig {
        NotifyConfig {
            smtp: self.smtp.clone(),
            receivers: self.receivers.clone(),
            notify: self.notify.clone(),
        }
    }

    /// Checks everything that can be checked without opening data: each part's keys, the
    /// receivers routes and policies name, the checks SLOs name. Rule files are validated
    /// separately ([`crate::rules::validate_files`]) because they are read from disk.
    pub fn validate(&self, check_exists: &dyn Fn(&str) -> bool) -> Result<(), AlertingError> {
        let c = self.effective();
        let cfg = |e: String| AlertingError::Config(e);
        if c.resolve_timeout.is_zero() {
            return Err(cfg("alerting.resolve_timeout: must be more than 0s".into()));
        }
        c.rules.validate().map_err(|e| cfg(e.join("; ")))?;
        c.notify_config()
            .validate("alerting")
            .map_err(|e| cfg(e.to_string()))?;
        let routing = c.routing();
        routing.validate().map_err(|e| cfg(e.to_string()))?;
        let receivers: Vec<&str> = c.receivers.iter().map(|r| r.name.as_str()).collect();
        let is_receiver = |n: &str| receivers.contains(&n);
        routing
            .check_receivers(&is_receiver)
            .map_err(|e| cfg(e.to_string()))?;
        c.escalation.validate().map_err(|e| cfg(e.to_string()))?;
        c.escalation
            .check_receivers(&is_receiver)
            .map_err(|e| cfg(e.to_string()))?;
        crate::slo::validate_all(&c.slos, check_exists).map_err(|e| cfg(e.to_string()))?;
        Ok(())
    }
}

/// The running pipeline. Cheap to share behind an `Arc`; the HTTP API reads its parts.
pub struct Alerting {
    pub clock: SharedClock,
    pub db: SharedStateDb,
    pub store: Arc<AlertStore>,
    pub silences: Arc<Silences>,
    pub dispatcher: Arc<Dispatcher>,
    pub notifier: Notifier,
    pub escalator: Arc<Escalator>,
    pub rules: Arc<RuleManager>,
    pub slos: Arc<SloEngine>,
    sources: Sources,
    started_ns: i64,
    /// The effective config as TOML, for `GET /api/v2/status` (secrets are not serialised).
    config_text: String,
}

impl Alerting {
    /// Opens the state database in `dir` (`data/alerting/`) and builds every stage. Blocking.
    pub fn open(
        config: &AlertingConfig,
        dir: &Path,
        sources: Sources,
        clock: SharedClock,
    ) -> Result<Alerting, AlertingError> {
        let db: SharedStateDb =
            Arc::new(SledStateDb::open(dir).map_err(|e| AlertingError::Open(e.to_string()))?);
        Self::open_with(config, db, sources, clock)
    }

    /// [`Alerting::open`] on a given state database (tests use a `MemStateDb`).
    pub fn open_with(
        config: &AlertingConfig,
        db: SharedStateDb,
        sources: Sources,
        clock: SharedClock,
    ) -> Result<Alerting, AlertingError> {
        let checker = sources.checker.clone();
        config.validate(&|id| checker.as_ref().is_some_and(|c| c.get(id).is_some()))?;
        let c = config.effective();
        let open = |what: &str, e: String| AlertingError::Open(format!("{what}: {e}"));
        let store = Arc::new(
            AlertStore::open(db.clone(), clock.clone(), c.resolve_timeout.as_ns())
                .map_err(|e| open("alert store", e.to_string()))?,
        );
        let silences = Arc::new(
            Silences::open(db.clone(), clock.clone(), DEFAULT_SILENCE_RETENTION_NS)
                .map_err(|e| open("silences", e.to_string()))?,
        );
        let dispatcher = Arc::new(
            Dispatcher::new(&c.routing(), silences.clone(), db.clone(), clock.clone())
                .map_err(|e| AlertingError::Config(e.to_string()))?,
        );
        let notifier = Notifier::builder(&c.notify_config(), db.clone(), clock.clone())
            .alert_store(store.clone())
            .build()
            .map_err(|e| AlertingError::Config(e.to_string()))?;
        let ack_key = AckKey::load_with(
            c.ack_secret.as_ref().map(|s| s.0.clone()),
            &c.escalation.ack,
            db.as_ref(),
        )
        .map_err(|e| AlertingError::Config(e.to_string()))?;
        let escalator = Arc::new(
            Escalator::open(
                &c.escalation,
                EscalatorDeps {
                    db: db.clone(),
                    clock: clock.clone(),
                    deliver: Arc::new(notifier.clone()),
                    ack_key,
                    external_url: c.notify.external_url.trim_end_matches('/').to_string(),
                },
            )
            .map_err(|e| AlertingError::Config(e.to_string()))?,
        );
        let rules = Arc::new(
            RuleManager::new(
                c.rules.clone(),
                sources.clone(),
                store.clone(),
                db.clone(),
                clock.clone(),
            )
            .map_err(|e| AlertingError::Config(e.to_string()))?,
        );
        let slos = Arc::new(
            SloEngine::new(&c.slos, Arc::new(sources.clone()), |id| {
                checker.as_ref().is_some_and(|ch| ch.get(id).is_some())
            })
            .map_err(|e| AlertingError::Config(e.to_string()))?,
        );
        rules
            .set_generated("slo", slos.rule_groups())
            .map_err(|e| AlertingError::Config(format!("alerting.slos: {e}")))?;
        let config_text = toml::to_string(&c).unwrap_or_default();
        Ok(Alerting {
            started_ns: clock.now_ns(),
            clock,
            db,
            store,
            silences,
            dispatcher,
            notifier,
            escalator,
            rules,
            slos,
            sources,
            config_text,
        })
    }

    /// Starts the rule evaluation, dispatch and escalation loops; they end when `stop` turns
    /// true. Returns when all have stopped.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let checks = self.sources.checker.as_ref().map(|c| c.subscribe());
        let rules_task = driver::spawn(self.rules.clone(), checks);
        let dispatch = tokio::spawn(self.dispatcher.clone().run(
            self.store.clone(),
            self.escalator.clone(),
            stopped(stop.clone()),
        ));
        let escalate = tokio::spawn(self.escalator.clone().run(stopped(stop.clone())));
        let gc = {
            let store = self.store.clone();
            let mut stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(600)) => {}
                        _ = stop.wait_for(|v| *v) => break,
                    }
                    let store = store.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        if let Err(e) = store.gc(RESOLVED_RETENTION_NS) {
                            tracing::warn!(error = %e, "alert store clean-up failed");
                        }
                    })
                    .await;
                }
            })
        };
        stopped(stop).await;
        rules_task.abort();
        let _ = tokio::join!(dispatch, escalate, gc);
    }

    /// Re-reads the rule files (SIGHUP, `POST /-/reload`). An invalid file keeps the old rules.
    pub fn reload(&self) -> Result<String, String> {
        match self.rules.reload() {
            Ok(s) => Ok(format!(
                "reloaded {} rule file(s): {} group(s), {} rule(s)",
                s.files, s.groups, s.rules
            )),
            Err(errors) => Err(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    pub fn started_ns(&self) -> i64 {
        self.started_ns
    }

    /// The effective alerting config (TOML, without secrets).
    pub fn config_text(&self) -> &str {
        &self.config_text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStateDb;
    use pharos_collector::clock::ManualClock;

    fn open(config: &AlertingConfig) -> Result<Alerting, AlertingError> {
        Alerting::open_with(
            config,
            Arc::new(MemStateDb::default()),
            Sources::default(),
            Arc::new(ManualClock::new(1_000_000_000_000)),
        )
    }

    #[tokio::test]
    async fn defaults_route_everything_to_a_silent_default_receiver() {
        let a = open(&AlertingConfig::default()).expect("defaults open");
        assert_eq!(
            a.notifier.receiver_names(),
            vec![DEFAULT_RECEIVER.to_string()]
        );
        // The status endpoint shows the effective config as TOML.
        assert!(
            a.config_text().contains("receiver = \"default\""),
            "{}",
            a.config_text()
        );
    }

    #[tokio::test]
    async fn problems_name_their_key() {
        let mut c = AlertingConfig::default();
        c.route.receiver = Some("nobody".into());
        let e = open(&c).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("alerting.route.receiver"), "{e}");

        let c = AlertingConfig {
            resolve_timeout: PromDuration::ZERO,
            ..AlertingConfig::default()
        };
        let e = open(&c).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("alerting.resolve_timeout"), "{e}");

        // An SLO on a check that does not exist.
        let c: AlertingConfig = toml::from_str(
            "[[slos]]\nname = \"x\"\nobjective = 99.9\nsli = { check = \"nope\" }\n",
        )
        .expect("toml");
        let e = open(&c).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("alerting.slos[0]") && e.contains("nope"), "{e}");
    }

    #[test]
    fn the_ack_secret_never_prints() {
        let c = AlertingConfig {
            ack_secret: Some(AckSecret("a-very-secret-signing-key-of-32-bytes!".into())),
            ..AlertingConfig::default()
        };
        assert!(!format!("{c:?}").contains("very-secret"));
        assert!(!toml::to_string(&c)
            .unwrap_or_default()
            .contains("very-secret"));
    }
}
