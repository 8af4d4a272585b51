//! Alertmanager API v2 bodies, as the handlers take them: `POST /api/v2/alerts`
//! (`postable_alerts`, then the alert store, a second delivery merged into the first, and a
//! restart reading the stored alerts back), `POST /api/v2/silences` (`PostableSilence` →
//! `Silences::set`, then get, list, match, update, expire, gc and a restart), and the text as a
//! `filter=` matcher list (`Matchers::parse`). Errors are answers; a panic, an abort or a slow
//! input is a bug, and so is a store that cannot read back what it stored.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pharos_alertmanager::matcher::Matchers;
use pharos_alertmanager::silence::{PostableSilence, Silences};
use pharos_alertmanager::storage::{MemStateDb, SharedStateDb};
use pharos_alertmanager::store::AlertStore;
use pharos_collector::clock::{rfc3339, ManualClock, SharedClock};
use pharos_dashboards::api::alertmanager_v2::postable_alerts;
use pharos_fuzz::OBSERVED_NS;

const MINUTE_NS: i64 = 60_000_000_000;

fn alerts(data: &[u8]) {
    let Ok((valid, _invalid)) = postable_alerts(data, OBSERVED_NS) else {
        return;
    };
    let db: SharedStateDb = Arc::new(MemStateDb::default());
    let manual = ManualClock::new(OBSERVED_NS);
    let clock: SharedClock = Arc::new(manual.clone());
    let store = AlertStore::open(db.clone(), clock.clone(), 5 * MINUTE_NS).expect("open");
    if store.put(valid.clone()).is_err() {
        return;
    }
    manual.advance(MINUTE_NS);
    let _ = store.put(valid);
    let listed = store.list();
    for a in &listed {
        let now = clock.now_ns();
        let _ = (a.resolved_at(now), a.fingerprint());
        let _ = (
            rfc3339(a.starts_at_ns),
            rfc3339(a.ends_at_ns),
            rfc3339(a.updated_at_ns),
        );
    }
    let again = match AlertStore::open(db, clock, 5 * MINUTE_NS) {
        Ok(s) => s,
        Err(e) => panic!("the stored alerts do not load after a restart: {e}"),
    };
    assert_eq!(
        again.list(),
        listed,
        "the alerts read back differ from those stored"
    );
}

fn silence(data: &[u8]) {
    let Ok(post) = serde_json::from_slice::<PostableSilence>(data) else {
        return;
    };
    let db: SharedStateDb = Arc::new(MemStateDb::default());
    let manual = ManualClock::new(OBSERVED_NS);
    let clock: SharedClock = Arc::new(manual.clone());
    let silences = Silences::open(db.clone(), clock.clone(), 120 * 60 * MINUTE_NS).expect("open");
    let Ok(id) = silences.set(post.clone()) else {
        return;
    };
    assert!(
        silences.get(&id).is_some(),
        "silence {id} set but not found"
    );
    let listed = silences.list(&Matchers(Vec::new()));
    let labels = post
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    let _ = silences.silenced_by(&labels, OBSERVED_NS);
    // Reopened, the same silences.
    let reopened = Silences::open(db.clone(), clock.clone(), 120 * 60 * MINUTE_NS).expect("reopen");
    assert_eq!(
        reopened.list(&Matchers(Vec::new())),
        listed,
        "silences read back differ"
    );
    // An update of it (in place, or expiring it and creating another), then its end.
    manual.advance(MINUTE_NS);
    let update = PostableSilence {
        id: Some(id.clone()),
        ..post
    };
    if let Ok(new_id) = silences.set(update) {
        let _ = silences.expire(&new_id);
    }
    let _ = silences.expire(&id);
    manual.advance(1_000 * 60 * MINUTE_NS);
    let _ = silences.gc();
    let _ = silences.list(&Matchers(Vec::new()));
}

fuzz_target!(|data: &[u8]| {
    alerts(data);
    silence(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = Matchers::parse(text) {
            let _ = m.matches(&Default::default());
        }
    }
});
