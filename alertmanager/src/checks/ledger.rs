//! The uptime ledger: every state change of every check, with its reason and time, stored
//! durably (fsync per change; changes are rare), and the uptime math monthly reports read.
//!
//! Storage is the collector's small [`Kv`] interface on sled ([`SledKv`]), in a database of
//! its own (`data/checks/`), so the TSDB's tree names are only key spaces here: `Tree::Chunks`
//! holds the events, keyed by check id, a 0 byte, and the time (ordered).
//!
//! **Uptime over `[from, to)`** (with `to` clipped to now): every instant is in the state the
//! last change at or before it set, `unknown` before a check's first decision. Uptime % is
//! `up / (up + down) × 100`: time in `unknown` is excluded from the denominator, and the
//! percentage is absent when there is no `up` or `down` time in the range. Downtime is the
//! seconds in `down` within the range. An incident is a stretch in `down`; every incident that
//! overlaps the range is listed, with its real start (which may be before `from`), its end (or
//! none while it is still open), and `duration_secs` = end (or `to` for one still open at
//! `to`) − start. An incident open at `to` counts as downtime until `to`.

use std::path::Path;
use std::sync::Arc;

use pharos_collector::tsdb::kv::{get_i64, put_i64, Kv, Tree, WriteBatch};
use pharos_collector::tsdb::sled_kv::SledKv;
use serde::{Deserialize, Serialize};

use super::state::{Outcome, State};

const EVENTS: Tree = Tree::Chunks;

#[derive(Debug, thiserror::Error)]
#[error("uptime ledger: {0}")]
pub struct LedgerError(pub String);

fn kv_err(e: impl std::fmt::Display) -> LedgerError {
    LedgerError(e.to_string())
}

/// One stored state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at_ns: i64,
    pub from: State,
    pub to: State,
    /// The result that decided the change.
    pub reason: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
}

impl Event {
    pub fn new(at_ns: i64, from: State, to: State, outcome: &Outcome) -> Event {
        Event {
            at_ns,
            from,
            to,
            reason: outcome.reason.clone(),
            status: outcome.status,
            latency_ms: outcome.latency_ms,
        }
    }
}

/// A stretch in `down`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub start_ns: i64,
    /// `None` while still open.
    pub end_ns: Option<i64>,
    /// end (or `to` when open at `to`) − start, seconds.
    pub duration_secs: f64,
    pub reason: String,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
}

/// Uptime of one check over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    pub from_ns: i64,
    pub to_ns: i64,
    /// `up / (up + down) × 100`; `None` without up or down time.
    pub uptime_percent: Option<f64>,
    pub up_secs: f64,
    pub downtime_secs: f64,
    pub unknown_secs: f64,
    pub incidents: Vec<Incident>,
}

#[derive(Clone)]
pub struct Ledger {
    kv: Arc<dyn Kv>,
}

fn prefix(id: &str) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.push(0);
    k
}

fn event_key(id: &str, at_ns: i64) -> Vec<u8> {
    let mut k = prefix(id);
    put_i64(&mut k, at_ns);
    k
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Ledger {
            kv: Arc::new(SledKv::open(dir).map_err(kv_err)?),
        })
    }

    /// Stores one change durably. A change at the same nanosecond as the last one of the
    /// check moves one nanosecond later, so none is overwritten.
    pub fn append(&self, id: &str, mut event: Event) -> Result<Event, LedgerError> {
        if let Some(last) = self.last(id)? {
            event.at_ns = event.at_ns.max(last.at_ns.saturating_add(1));
        }
        let value = serde_json::to_vec(&event).map_err(kv_err)?;
        let mut batch = WriteBatch::default();
        batch.put(EVENTS, event_key(id, event.at_ns), value);
        self.kv.write(batch).map_err(kv_err)?;
        self.kv.flush().map_err(kv_err)?;
        Ok(event)
    }

    /// The last change of a check.
    pub fn last(&self, id: &str) -> Result<Option<Event>, LedgerError> {
        let start = prefix(id);
        let mut end = id.as_bytes().to_vec();
        end.push(1);
        match self.kv.last(EVENTS, &start, &end).map_err(kv_err)? {
            Some((_, v)) => Ok(Some(serde_json::from_slice(&v).map_err(kv_err)?)),
            None => Ok(None),
        }
    }

    /// Every change of a check, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>, LedgerError> {
        let p = prefix(id);
        let mut out = Vec::new();
        for entry in self.kv.scan_prefix(EVENTS, &p) {
            let (k, v) = entry.map_err(kv_err)?;
            if k.len() != p.len() + 8 || get_i64(&k, p.len()).is_err() {
                continue;
            }
            out.push(serde_json::from_slice(&v).map_err(kv_err)?);
        }
        Ok(out)
    }

    /// Uptime over `[from_ns, to_ns)`, `to_ns` clipped to `now_ns` (see the module doc).
    pub fn uptime(
        &self,
        id: &str,
        from_ns: i64,
        to_ns: i64,
        now_ns: i64,
    ) -> Result<Uptime, LedgerError> {
        Ok(uptime(&self.events(id)?, from_ns, to_ns.min(now_ns)))
    }
}

/// The uptime math over a check's events (oldest first); see the module doc.
pub fn uptime(events: &[Event], from_ns: i64, to_ns: i64) -> Uptime {
    let to_ns = to_ns.max(from_ns);
    let (mut up, mut down, mut unknown) = (0i64, 0i64, 0i64);
    let mut incidents = Vec::new();
    // The state at each instant, as (start of a stretch, state, the event that began it).
    let mut state = State::Unknown;
    let mut began: Option<&Event> = None;
    let mut stretch_start = i64::MIN;
    let mut close = |start: i64, end: i64, state: State, event: Option<&Event>, open: bool| {
        let (s, e) = (start.max(from_ns), end.min(to_ns));
        let overlap = e.saturating_sub(s).max(0);
        match state {
            State::Up => up += overlap,
            State::Down => down += overlap,
            State::Unknown => unknown += overlap,
        }
        if state == State::Down && overlap > 0 {
            let (reason, status, latency_ms) = event
                .map(|ev| (ev.reason.clone(), ev.status, ev.latency_ms))
                .unwrap_or_default();
            let end_ns = (!open).then_some(end);
            incidents.push(Incident {
                start_ns: start,
                end_ns,
                duration_secs: secs(end_ns.unwrap_or(to_ns).min(end) - start),
                reason,
                status,
                latency_ms,
            });
        }
    };
    for ev in events {
        if ev.to == state {
            continue;
        }
        if ev.at_ns >= to_ns {
            // The stretch goes past `to`: an incident counts until `to` but is not over.
            close(stretch_start, ev.at_ns, state, began, false);
            state = State::Unknown;
            stretch_start = i64::MAX;
            break;
        }
        close(stretch_start, ev.at_ns, state, began, false);
        state = ev.to;
        began = Some(ev);
        stretch_start = ev.at_ns;
    }
    if stretch_start != i64::MAX {
        close(stretch_start, to_ns, state, began, true);
    }
    Uptime {
        from_ns,
        to_ns,
        uptime_percent: (up + down > 0).then(|| up as f64 * 100.0 / (up + down) as f64),
        up_secs: secs(up),
        downtime_secs: secs(down),
        unknown_secs: secs(unknown),
        incidents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn ev(at_s: i64, from: State, to: State, reason: &str) -> Event {
        Event::new(at_s * S, from, to, &Outcome::fail(reason))
    }

    fn history() -> Vec<Event> {
        use State::*;
        vec![
            ev(100, Unknown, Up, "status 200"),
            ev(400, Up, Down, "status 500 (expected 2xx)"),
            ev(460, Down, Up, "status 200"),
            ev(900, Up, Down, "connection refused"),
        ]
    }

    #[test]
    fn uptime_excludes_unknown_and_counts_an_open_incident_until_to() {
        // [0, 1000): unknown 0-100, up 100-400, down 400-460, up 460-900, down 900-1000 (open).
        let u = uptime(&history(), 0, 1000 * S);
        assert_eq!(u.unknown_secs, 100.0);
        assert_eq!(u.up_secs, 740.0);
        assert_eq!(u.downtime_secs, 160.0);
        assert_eq!(u.uptime_percent, Some(740.0 * 100.0 / 900.0));
        assert_eq!(u.incidents.len(), 2);
        let first = &u.incidents[0];
        assert_eq!(
            (first.start_ns, first.end_ns, first.duration_secs),
            (400 * S, Some(460 * S), 60.0)
        );
        assert_eq!(first.reason, "status 500 (expected 2xx)");
        let open = &u.incidents[1];
        assert_eq!(
            (open.start_ns, open.end_ns, open.duration_secs),
            (900 * S, None, 100.0)
        );
        assert_eq!(open.reason, "connection refused");
    }

    #[test]
    fn a_range_inside_the_history_clips_the_stretches() {
        // [430, 920): down 430-460 (the incident started at 400), up 460-900, down 900-920.
        let u = uptime(&history(), 430 * S, 920 * S);
        assert_eq!(
            (u.up_secs, u.downtime_secs, u.unknown_secs),
            (440.0, 50.0, 0.0)
        );
        assert_eq!(u.uptime_percent, Some(440.0 * 100.0 / 490.0));
        assert_eq!(u.incidents[0].start_ns, 400 * S);
        assert_eq!(u.incidents[0].end_ns, Some(460 * S));
        assert_eq!(u.incidents[0].duration_secs, 60.0);
        // Open at 920 (it is still open): counted until `to`.
        assert_eq!(u.incidents[1].end_ns, None);
        assert_eq!(u.incidents[1].duration_secs, 20.0);
        // An incident that ended after `to` still shows its real end.
        let u = uptime(&history(), 0, 430 * S);
        assert_eq!(u.downtime_secs, 30.0);
        assert_eq!(u.incidents[0].end_ns, Some(460 * S));
        assert_eq!(u.incidents[0].duration_secs, 60.0);
    }

    #[test]
    fn only_unknown_time_has_no_percentage() {
        let u = uptime(&history(), 0, 100 * S);
        assert_eq!(u.uptime_percent, None);
        assert_eq!(u.unknown_secs, 100.0);
        let u = uptime(&[], 0, 50 * S);
        assert_eq!((u.uptime_percent, u.unknown_secs), (None, 50.0));
        let u = uptime(&history(), 100 * S, 400 * S);
        assert_eq!(u.uptime_percent, Some(100.0));
        assert!(u.incidents.is_empty());
    }

    #[test]
    fn the_ledger_survives_a_reopen() -> Result<(), LedgerError> {
        let dir = tempfile::tempdir().map_err(kv_err)?;
        {
            let ledger = Ledger::open(dir.path())?;
            for e in history() {
                ledger.append("api", e)?;
            }
            ledger.append("other", ev(5, State::Unknown, State::Up, "ok"))?;
            // Same nanosecond: kept, one nanosecond later.
            let moved = ledger.append("other", ev(5, State::Up, State::Down, "x"))?;
            assert_eq!(moved.at_ns, 5 * S + 1);
        }
        let ledger = Ledger::open(dir.path())?;
        assert_eq!(ledger.events("api")?, history());
        assert_eq!(ledger.last("api")?.map(|e| e.to), Some(State::Down));
        assert_eq!(ledger.events("other")?.len(), 2);
        assert_eq!(ledger.events("ap")?, vec![]);
        let u = ledger.uptime("api", 0, 5000 * S, 1000 * S)?;
        assert_eq!(u.to_ns, 1000 * S);
        assert_eq!(u.downtime_secs, 160.0);
        Ok(())
    }
}
