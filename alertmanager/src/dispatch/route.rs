//! The compiled routing tree and Alertmanager's matching: depth-first, a route matches when
//! its matchers do; among its children the first match wins unless that child has
//! `continue`; a route none of whose children match handles the alert itself.

use crate::alert::{valid_label_name, LabelSet};
use crate::inhibit::parse_matcher_list;
use crate::matcher::Matchers;
use crate::timeinterval::TimeIntervals;

use super::config::{
    RouteConfig, DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL,
};

/// How a route forms groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `["..."]`: one group per distinct label set.
    All,
    /// These labels (possibly none: one group for the route).
    Labels(Vec<String>),
}

/// One route with its inherited settings resolved.
#[derive(Clone, Debug)]
pub struct RouteNode {
    /// Alertmanager's route key: the parent's key, `/`, then this route's sorted matchers
    /// (`{}/{team="api"}`); the prefix of its groups' keys.
    pub key: String,
    /// Where it was configured (`alerting.route.routes[1]`).
    pub path: String,
    pub receiver: String,
    pub matchers: Matchers,
    pub group_by: GroupBy,
    pub group_wait_ns: i64,
    pub group_interval_ns: i64,
    pub repeat_interval_ns: i64,
    pub continue_matching: bool,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    children: Vec<usize>,
}

impl RouteNode {
    /// The values of the route's group labels in `labels` (labels the alert lacks are left
    /// out, as in Alertmanager).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// Muted at `now_ns` by its time intervals: inside a mute interval, or outside all of
    /// its active intervals. Returns the interval names that mute it.
    pub fn muted_by(&self, intervals: &TimeIntervals, now_ns: i64) -> Vec<String> {
        let mut out: Vec<String> = self
            .mute_time_intervals
            .iter()
            .filter(|n| intervals.contains(n, now_ns))
            .cloned()
            .collect();
        if !self.active_time_intervals.is_empty()
            && !self
                .active_time_intervals
                .iter()
                .any(|n| intervals.contains(n, now_ns))
        {
            out.extend(self.active_time_intervals.iter().cloned());
        }
        out
    }
}

/// The routing tree; node 0 is the root.
#[derive(Clone, Debug)]
pub struct RouteTree {
    nodes: Vec<RouteNode>,
}

/// Alertmanager's rendering of a label set: `{a="b", c="d"}`.
pub fn labels_string(labels: &LabelSet) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

impl RouteTree {
    /// Compiles and validates the tree; errors name the key path under `prefix`.
    pub fn compile(
        root: &RouteConfig,
        intervals: &TimeIntervals,
        prefix: &str,
    ) -> Result<RouteTree, String> {
        if root.receiver.as_deref().unwrap_or("").is_empty() {
            return Err(format!(
                "{prefix}.receiver: the root route must name a receiver"
            ));
        }
        if !root.matchers.is_empty() {
            return Err(format!(
                "{prefix}.matchers: the root route must not have matchers"
            ));
        }
        if root.continue_matching {
            return Err(format!("{prefix}.continue: the root route cannot continue"));
        }
        if !root.mute_time_intervals.is_empty() {
            return Err(format!(
                "{prefix}.mute_time_intervals: not allowed on the root route"
            ));
        }
        if !root.active_time_intervals.is_empty() {
            return Err(format!(
                "{prefix}.active_time_intervals: not allowed on the root route"
            ));
        }
        let defaults = Inherited {
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait_ns: DEFAULT_GROUP_WAIT.as_ns(),
            group_interval_ns: DEFAULT_GROUP_INTERVAL.as_ns(),
            repeat_interval_ns: DEFAULT_REPEAT_INTERVAL.as_ns(),
            key: None,
        };
        let mut tree = RouteTree { nodes: Vec::new() };
        tree.add(root, &defaults, intervals, prefix)?;
        Ok(tree)
    }

    fn add(
        &mut self,
        cfg: &RouteConfig,
        parent: &Inherited,
        intervals: &TimeIntervals,
        path: &str,
    ) -> Result<usize, String> {
        let mut matchers = parse_matcher_list(&cfg.matchers, &format!("{path}.matchers"))?;
        matchers.sort();
        let group_by = match &cfg.group_by {
            None => parent.group_by.clone(),
            Some(list) if list.iter().any(|l| l == "...") => {
                if list.len() != 1 {
                    return Err(format!(
                        "{path}.group_by: \"...\" (all labels) must be the only entry"
                    ));
                }
                GroupBy::All
            }
            Some(list) => {
                for (i, l) in list.iter().enumerate() {
                    if !valid_label_name(l) {
                        return Err(format!("{path}.group_by[{i}]: {l:?} is not a label name"));
                    }
                    if list[..i].contains(l) {
                        return Err(format!("{path}.group_by[{i}]: duplicate label {l:?}"));
                    }
                }
                GroupBy::Labels(list.clone())
            }
        };
        let ns = |d: Option<crate::duration::PromDuration>, inherited: i64| {
            d.map_or(inherited, |d| d.as_ns())
        };
        let group_interval_ns = ns(cfg.group_interval, parent.group_interval_ns);
        if group_interval_ns == 0 {
            return Err(format!("{path}.group_interval: must not be zero"));
        }
        let repeat_interval_ns = ns(cfg.repeat_interval, parent.repeat_interval_ns);
        if repeat_interval_ns == 0 {
            return Err(format!("{path}.repeat_interval: must not be zero"));
        }
        for (field, names) in [
            ("mute_time_intervals", &cfg.mute_time_intervals),
            ("active_time_intervals", &cfg.active_time_intervals),
        ] {
            if let Some((i, n)) = names.iter().enumerate().find(|(_, n)| !intervals.has(n)) {
                return Err(format!(
                    "{path}.{field}[{i}]: undefined time interval {n:?}"
                ));
            }
        }
        let receiver = match cfg.receiver.as_deref() {
            Some("") => return Err(format!("{path}.receiver: must not be empty")),
            Some(r) => r.to_string(),
            None => parent.receiver.clone(),
        };
        let key = match &parent.key {
            Some(k) => format!("{k}/{matchers}"),
            None => matchers.to_string(),
        };
        let here = Inherited {
            receiver: receiver.clone(),
            group_by: group_by.clone(),
            group_wait_ns: ns(cfg.group_wait, parent.group_wait_ns),
            group_interval_ns,
            repeat_interval_ns,
            key: Some(key.clone()),
        };
        let index = self.nodes.len();
        self.nodes.push(RouteNode {
            key,
            path: path.to_string(),
            receiver,
            matchers,
            group_by,
            group_wait_ns: here.group_wait_ns,
            group_interval_ns,
            repeat_interval_ns,
            continue_matching: cfg.continue_matching,
            mute_time_intervals: cfg.mute_time_intervals.clone(),
            active_time_intervals: cfg.active_time_intervals.clone(),
            children: Vec::new(),
        });
        for (i, child) in cfg.routes.iter().enumerate() {
            let c = self.add(child, &here, intervals, &format!("{path}.routes[{i}]"))?;
            self.nodes[index].children.push(c);
        }
        Ok(index)
    }

    pub fn node(&self, index: usize) -> Option<&RouteNode> {
        self.nodes.get(index)
    }

    /// The routes (indices) that handle an alert with these labels, in tree order; never
    /// empty, since the root handles what no child does.
    pub fn match_labels(&self, labels: &LabelSet) -> Vec<usize> {
        self.match_from(0, labels)
    }

    fn match_from(&self, index: usize, labels: &LabelSet) -> Vec<usize> {
        let Some(node) = self.nodes.get(index) else {
            return Vec::new();
        };
        if !node.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for &child in &node.children {
            let matched = self.match_from(child, labels);
            let found = !matched.is_empty();
            all.extend(matched);
            if found && !self.nodes[child].continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(index);
        }
        all
    }
}

struct Inherited {
    receiver: String,
    group_by: GroupBy,
    group_wait_ns: i64,
    group_interval_ns: i64,
    repeat_interval_ns: i64,
    key: Option<String>,
}
