//! Silences: v2 API shapes, Alertmanager's update rules, validation, persistence and GC.

use std::sync::Arc;

use pharos_alertmanager::alert::labels;
use pharos_alertmanager::matcher::Matchers;
use pharos_alertmanager::silence::{
    PostableSilence, SilenceError, SilenceState, Silences, DEFAULT_SILENCE_RETENTION_NS,
};
use pharos_alertmanager::MemStateDb;
use pharos_collector::clock::{rfc3339, ManualClock};

use super::harness::{S, T0};

fn open(db: &MemStateDb, clock: &ManualClock) -> Silences {
    Silences::open(
        Arc::new(db.clone()),
        Arc::new(clock.clone()),
        DEFAULT_SILENCE_RETENTION_NS,
    )
    .unwrap()
}

/// A body as amtool / the Alertmanager UI posts it.
fn post(id: Option<&str>, matchers: &str, start: i64, end: i64) -> PostableSilence {
    let json = serde_json::json!({
        "id": id,
        "matchers": serde_json::from_str::<serde_json::Value>(matchers).unwrap(),
        "startsAt": rfc3339(start),
        "endsAt": rfc3339(end),
        "createdBy": "alice",
        "comment": "db upgrade",
    });
    serde_json::from_value(json).unwrap()
}

const DB: &str = r#"[{"name":"service","value":"db","isRegex":false}]"#;

#[test]
fn gettable_silence_has_the_v2_shape() {
    let clock = ManualClock::new(T0);
    let s = open(&MemStateDb::default(), &clock);
    let id = s.set(post(None, DB, T0, T0 + 3600 * S)).unwrap();
    let got = serde_json::to_value(s.get(&id).unwrap()).unwrap();
    let mut keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "comment",
            "createdBy",
            "endsAt",
            "id",
            "matchers",
            "startsAt",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(
        got["matchers"][0],
        serde_json::json!({"name":"service","value":"db","isRegex":false,"isEqual":true}),
        "isEqual defaults to true"
    );
    assert_eq!(got["startsAt"], "2024-06-01T00:00:00Z");
    assert_eq!(id.len(), 36, "a UUID");
}

#[test]
fn updates_follow_alertmanager() {
    let clock = ManualClock::new(T0);
    let s = open(&MemStateDb::default(), &clock);
    let id = s.set(post(None, DB, T0, T0 + 3600 * S)).unwrap();
    clock.advance(60 * S);
    // Extending an active silence with the same matchers and start: updated in place.
    let same = s.set(post(Some(&id), DB, T0, T0 + 7200 * S)).unwrap();
    assert_eq!(same, id);
    assert_eq!(s.get(&id).unwrap().ends_at, rfc3339(T0 + 7200 * S));
    // Changing an active silence's matchers: the old one expires now, a new one replaces it.
    let other = r#"[{"name":"service","value":"db|cache","isRegex":true,"isEqual":true}]"#;
    let new = s.set(post(Some(&id), other, T0, T0 + 7200 * S)).unwrap();
    assert_ne!(new, id);
    let old = s.get(&id).unwrap();
    assert_eq!(old.status.state, SilenceState::Expired);
    assert_eq!(old.ends_at, rfc3339(T0 + 60 * S));
    assert_eq!(
        s.get(&new).unwrap().starts_at,
        rfc3339(T0 + 60 * S),
        "a start in the past becomes now"
    );
    // A pending silence moved to a later start is updated in place.
    let pending = s.set(post(None, DB, T0 + 3600 * S, T0 + 7200 * S)).unwrap();
    assert_eq!(s.get(&pending).unwrap().status.state, SilenceState::Pending);
    let moved = s
        .set(post(Some(&pending), DB, T0 + 4000 * S, T0 + 7200 * S))
        .unwrap();
    assert_eq!(moved, pending);
    // Expiring: once, and a pending silence never becomes active.
    s.expire(&pending).unwrap();
    assert_eq!(s.get(&pending).unwrap().status.state, SilenceState::Expired);
    clock.advance(5000 * S);
    assert_eq!(
        s.silenced_by(&labels([("service", "db")]), T0 + 4500 * S),
        vec![new.clone()],
        "the expired pending silence never mutes"
    );
    assert!(matches!(
        s.expire(&pending),
        Err(SilenceError::AlreadyExpired(_))
    ));
    assert!(matches!(s.expire("nope"), Err(SilenceError::NotFound(_))));
    assert!(matches!(
        s.set(post(Some("nope"), DB, T0, T0 + 99_999 * S)),
        Err(SilenceError::NotFound(_))
    ));
}

#[test]
fn invalid_silences_are_rejected_with_reasons() {
    let clock = ManualClock::new(T0);
    let s = open(&MemStateDb::default(), &clock);
    let err = |p: PostableSilence| s.set(p).unwrap_err().to_string();
    assert!(err(post(None, "[]", T0, T0 + S)).contains("at least one matcher"));
    let everything = r#"[{"name":"a","value":".*","isRegex":true}]"#;
    assert!(err(post(None, everything, T0, T0 + S)).contains("must not match the empty string"));
    assert!(err(post(None, DB, T0 + S, T0)).contains("start time must be before end time"));
    assert!(err(post(None, DB, T0 - 9 * S, T0 - S)).contains("in the past"));
    let bad_re = r#"[{"name":"a","value":"(","isRegex":true}]"#;
    assert!(err(post(None, bad_re, T0, T0 + S)).contains("matchers[0]"));
    let bad_name = r#"[{"name":"a-b","value":"x","isRegex":false}]"#;
    assert!(err(post(None, bad_name, T0, T0 + S)).contains("invalid label name"));
    let mut p = post(None, DB, T0, T0 + S);
    p.starts_at = "yesterday".into();
    assert!(err(p).contains("startsAt"));
}

#[test]
fn silences_persist_list_in_order_and_are_collected_after_retention() {
    let db = MemStateDb::default();
    let clock = ManualClock::new(T0);
    let s = open(&db, &clock);
    let expired = s.set(post(None, DB, T0, T0 + 60 * S)).unwrap();
    let active = s.set(post(None, DB, T0, T0 + 3600 * S)).unwrap();
    let web = r#"[{"name":"service","value":"web","isRegex":false}]"#;
    let pending = s.set(post(None, web, T0 + 600 * S, T0 + 3600 * S)).unwrap();
    clock.advance(120 * S);
    let s = open(&db, &clock);
    let ids: Vec<String> = s
        .list(&Matchers::default())
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(ids, vec![active.clone(), pending.clone(), expired.clone()]);
    let only_db = Matchers::parse(r#"service="db""#).unwrap();
    let ids: Vec<String> = s.list(&only_db).into_iter().map(|g| g.id).collect();
    assert_eq!(ids, vec![active, expired.clone()]);
    clock.set(T0 + 60 * S + DEFAULT_SILENCE_RETENTION_NS + S);
    assert_eq!(s.gc().unwrap(), 1);
    assert!(s.get(&expired).is_none());
    assert!(
        open(&db, &clock).get(&expired).is_none(),
        "deleted from storage"
    );
}
