//! The rule engine: every group from rule files and from other providers (SLOs), evaluated
//! by `evaluate_group(now)` (pure in time: the caller passes `now`; the tokio driver in
//! `driver.rs` calls it on each group's interval, off the async runtime), and reloaded
//! without losing the state of unchanged rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use pharos_collector::clock::SharedClock;

use crate::alert::Alert;
use crate::rules::compiled::{rule_key, CompiledRule, Health, Shared};
use crate::rules::config::RulesConfig;
use crate::rules::def::GroupDef;
use crate::rules::exprs::CheckExpr;
use crate::rules::file::{load_files, LoadContext, LoadedGroup, RuleFileError};
use crate::sources::Sources;
use crate::storage::{SharedStateDb, StateOp, StorageError};
use crate::store::AlertStore;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Files(Vec<RuleFileError>),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("config: {}", .0.join("; "))]
    Config(Vec<String>),
}

/// Who provided a group: the rule files (replaced by `reload`) or a named provider
/// (replaced by `set_generated`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Files,
    Generated(String),
}

/// A group is identified by its source (file path or `slo:<name>`) and name.
pub type GroupKey = (String, String);

pub struct Group {
    pub name: String,
    pub source: String,
    pub origin: Origin,
    pub interval_ns: i64,
    pub rules: Vec<Arc<CompiledRule>>,
    /// A group's evaluation never overlaps itself: a late one is skipped, as in Prometheus.
    eval_lock: Mutex<()>,
    pub(crate) last_eval_ns: AtomicI64,
    pub(crate) last_duration: Mutex<Duration>,
    /// When the driver evaluates it next (0 = not scheduled yet).
    pub(crate) next_due_ns: AtomicI64,
}

/// The outcome of one group evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalOutcome {
    /// The previous evaluation of the group was still running.
    Skipped,
    /// Alerts handed to the alert store.
    Done { sent: usize },
}

/// What a successful reload changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadSummary {
    pub files: usize,
    pub groups: usize,
    pub rules: usize,
    /// Rules whose state was carried over from before the reload.
    pub kept_rules: usize,
    /// Rules that are gone (their alerts were resolved).
    pub removed_rules: usize,
}

pub struct RuleManager {
    pub(crate) config: RulesConfig,
    ctx: LoadContext,
    store: Arc<AlertStore>,
    db: SharedStateDb,
    clock: SharedClock,
    pub(crate) groups: RwLock<BTreeMap<GroupKey, Arc<Group>>>,
    /// One reload or `set_generated` at a time (each reads then replaces the group map).
    replace_lock: Mutex<()>,
}

impl RuleManager {
    /// Loads the rule files of `config` (any error fails: at startup a bad file is fatal,
    /// as in Prometheus) and restores the rules' state from `db`.
    pub fn new(
        config: RulesConfig,
        sources: Sources,
        store: Arc<AlertStore>,
        db: SharedStateDb,
        clock: SharedClock,
    ) -> Result<RuleManager, RulesError> {
        config.validate().map_err(RulesError::Config)?;
        let ctx = LoadContext {
            sources,
            check_ids: None,
            default_interval: config.evaluation_interval,
        };
        let manager = RuleManager {
            config,
            ctx,
            store,
            db,
            clock,
            groups: RwLock::new(BTreeMap::new()),
            replace_lock: Mutex::new(()),
        };
        let (loaded, _) =
            load_files(&manager.config.files, &manager.ctx).map_err(RulesError::Files)?;
        manager.replace(Origin::Files, loaded)?;
        Ok(manager)
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Re-reads the rule files. An invalid file keeps every old rule running and returns
    /// the errors; otherwise unchanged rules keep their state, removed rules' alerts are
    /// resolved.
    pub fn reload(&self) -> Result<ReloadSummary, Vec<RuleFileError>> {
        let (loaded, summary) = load_files(&self.config.files, &self.ctx)?;
        let mut result = self.replace(Origin::Files, loaded).map_err(|e| {
            vec![RuleFileError {
                file: Default::default(),
                line: None,
                group: None,
                rule: None,
                message: e.to_string(),
            }]
        })?;
        result.files = summary.files;
        tracing::info!(?result, "rule files reloaded");
        Ok(result)
    }

    /// Replaces the groups of a provider (`source` such as `slo`), e.g. the SLO engine's
    /// generated burn-rate rules. Their templates are checked here.
    pub fn set_generated(
        &self,
        source: &str,
        groups: Vec<GroupDef>,
    ) -> Result<ReloadSummary, RulesError> {
        let loaded = groups
            .into_iter()
            .map(|def| LoadedGroup {
                checks: vec![None; def.rules.len()],
                def,
            })
            .collect();
        self.replace(Origin::Generated(source.to_string()), loaded)
    }

    fn replace(
        &self,
        origin: Origin,
        loaded: Vec<LoadedGroup>,
    ) -> Result<ReloadSummary, RulesError> {
        let _one_at_a_time = self.replace_lock.lock();
        let old: Vec<Arc<Group>> = self
            .groups
            .read()
            .values()
            .filter(|g| g.origin == origin)
            .cloned()
            .collect();
        let mut old_rules: HashMap<String, Arc<CompiledRule>> = old
            .iter()
            .flat_map(|g| g.rules.iter())
            .map(|r| (r.key.clone(), r.clone()))
            .collect();
        let mut summary = ReloadSummary::default();
        let mut new_groups = Vec::new();
        for LoadedGroup { def, checks } in loaded {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            let mut rules = Vec::new();
            for (rule, check) in def.rules.iter().zip(checks) {
                let n = counts.entry(rule.alert.as_str()).or_default();
                let key = rule_key(&def.source, &def.name, &rule.alert, *n);
                *n += 1;
                let shared: Option<Arc<Shared>> = old_rules.remove(&key).map(|r| r.shared.clone());
                summary.kept_rules += usize::from(shared.is_some());
                let compiled =
                    CompiledRule::new(rule.clone(), key, check, shared, self.db.as_ref()).map_err(
                        |e| {
                            RulesError::Invalid(format!(
                                "{}: group {:?}, rule {:?}: {e}",
                                def.source, def.name, rule.alert
                            ))
                        },
                    )?;
                rules.push(Arc::new(compiled));
            }
            summary.groups += 1;
            summary.rules += rules.len();
            new_groups.push(Arc::new(Group {
                name: def.name,
                source: def.source,
                origin: origin.clone(),
                interval_ns: def.interval.as_ns().max(1),
                rules,
                eval_lock: Mutex::new(()),
                last_eval_ns: AtomicI64::new(0),
                last_duration: Mutex::new(Duration::ZERO),
                next_due_ns: AtomicI64::new(0),
            }));
        }
        // Rules that are gone: their firing alerts resolve now, their state is forgotten.
        summary.removed_rules = old_rules.len();
        let now = self.clock.now_ns();
        let mut resolved = Vec::new();
        let mut ops = Vec::new();
        for rule in old_rules.values() {
            let _eval = rule.shared.eval_lock.lock();
            let rt = rule.shared.runtime.lock();
            ops.extend(rule.forget_ops(&rt.alerts));
            for a in rt.alerts.active.values() {
                if a.fired_at_ns != 0 {
                    let end = if a.resolved_at_ns != 0 {
                        a.resolved_at_ns
                    } else {
                        now
                    };
                    let mut alert = Alert::firing(a.labels.clone(), a.fired_at_ns);
                    alert.annotations = a.annotations.clone();
                    alert.ends_at_ns = end.max(a.fired_at_ns);
                    resolved.push(alert);
                }
            }
        }
        {
            let mut groups = self.groups.write();
            groups.retain(|_, g| g.origin != origin);
            for g in new_groups {
                groups.insert((g.source.clone(), g.name.clone()), g);
            }
        }
        if !ops.is_empty() {
            self.db.write(ops)?;
        }
        if !resolved.is_empty() {
            self.store.put(resolved)?;
        }
        Ok(summary)
    }

    /// Every group's key, in order.
    pub fn group_keys(&self) -> Vec<GroupKey> {
        self.groups.read().keys().cloned().collect()
    }

    pub(crate) fn group(&self, key: &GroupKey) -> Option<Arc<Group>> {
        self.groups.read().get(key).cloned()
    }

    /// Evaluates a group's rules, in order, at `now_ns` (all rules see the same time), then
    /// stores what changed and hands due alerts to the alert store. Blocking: call it off
    /// the async runtime. An unknown key is an error.
    pub fn evaluate_group(&self, key: &GroupKey, now_ns: i64) -> Result<EvalOutcome, RulesError> {
        let group = self
            .group(key)
            .ok_or_else(|| RulesError::Invalid(format!("no rule group {key:?}")))?;
        let Some(_running) = group.eval_lock.try_lock() else {
            tracing::warn!(group = %group.name, source = %group.source, "rule group evaluation still running: iteration skipped");
            return Ok(EvalOutcome::Skipped);
        };
        let started = Instant::now();
        let rules: Vec<&CompiledRule> = group.rules.iter().map(|r| r.as_ref()).collect();
        let sent = self.evaluate_rules(&group, &rules, now_ns)?;
        group.last_eval_ns.store(now_ns, Ordering::Relaxed);
        *group.last_duration.lock() = started.elapsed();
        Ok(EvalOutcome::Done { sent })
    }

    /// Evaluates every group once at `now_ns` (tests, and a first evaluation at startup).
    pub fn evaluate_all(&self, now_ns: i64) -> Result<usize, RulesError> {
        let mut sent = 0;
        for key in self.group_keys() {
            if let EvalOutcome::Done { sent: n } = self.evaluate_group(&key, now_ns)? {
                sent += n;
            }
        }
        Ok(sent)
    }

    /// Evaluates, at once, every `check:` rule watching `check_id` (called on the check's
    /// state change, so a failure reaches the alert store without waiting for an interval).
    pub fn evaluate_check(&self, check_id: &str, now_ns: i64) -> Result<usize, RulesError> {
        let groups: Vec<Arc<Group>> = self.groups.read().values().cloned().collect();
        let mut sent = 0;
        for g in &groups {
            let rules: Vec<&CompiledRule> = g
                .rules
                .iter()
                .filter(|r| r.check.as_deref().map(CheckExpr::check_id) == Some(check_id))
                .map(|r| r.as_ref())
                .collect();
            if !rules.is_empty() {
                sent += self.evaluate_rules(g, &rules, now_ns)?;
            }
        }
        Ok(sent)
    }

    fn evaluate_rules(
        &self,
        group: &Group,
        rules: &[&CompiledRule],
        now_ns: i64,
    ) -> Result<usize, RulesError> {
        let resend_ns = self.config.resend_delay.as_ns();
        let mut ops: Vec<StateOp> = Vec::new();
        let mut due: Vec<Alert> = Vec::new();
        for rule in rules {
            let _eval = rule.shared.eval_lock.lock();
            let started = Instant::now();
            // Reading data happens without the runtime lock held.
            let result = rule.def.expr.eval(now_ns).and_then(|s| rule.instances(s));
            let elapsed = started.elapsed();
            let timing = rule.timing(group.interval_ns, resend_ns);
            let mut rt = rule.shared.runtime.lock();
            // A check-triggered evaluation may have run at a later time: never go back.
            let now = now_ns.max(rt.last_eval_ns);
            match result {
                Ok(instances) => {
                    let changes = rt.alerts.apply(now, instances, &timing);
                    ops.extend(rule.persist_ops(&rt.alerts, &changes));
                    rt.health = Health::Ok;
                    rt.last_error = None;
                }
                // State is kept on error (Prometheus does too); firing alerts are still
                // re-sent below so they do not expire in the store while data is missing.
                Err(e) => {
                    tracing::warn!(group = %group.name, rule = %rule.def.alert, error = %e, "rule evaluation failed");
                    rt.health = Health::Err;
                    rt.last_error = Some(e);
                }
            }
            rt.last_eval_ns = now;
            rt.eval_duration = elapsed;
            due.extend(rt.alerts.due(now, &timing));
        }
        // One durable batch and one store call per evaluation, not one per alert.
        if !ops.is_empty() {
            self.db.write(ops)?;
        }
        let sent = due.len();
        if !due.is_empty() {
            self.store.put(due)?;
        }
        Ok(sent)
    }
}
