//! The tokio driver: an alert put in the store with `group_wait = "0s"` reaches the sink at
//! once (no polling interval), a slow receiver does not hold up other groups, and the API
//! views are served from the running dispatcher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pharos_alertmanager::alert::labels;
use pharos_alertmanager::dispatch::{AlertState, Dispatcher, RoutingConfig};
use pharos_alertmanager::notification::BoxFuture;
use pharos_alertmanager::silence::{Silences, DEFAULT_SILENCE_RETENTION_NS};
use pharos_alertmanager::{Alert, AlertStore, MemStateDb, Notification, NotifySink};
use pharos_collector::clock::{SharedClock, SystemClock};
use tokio::sync::mpsc;

use super::harness::S;

/// Sends each notification on a channel; the receiver `slow` takes 5 s to answer.
struct ChannelSink {
    tx: mpsc::UnboundedSender<Notification>,
    delivered: Mutex<Vec<String>>,
}

impl NotifySink for ChannelSink {
    fn deliver(&self, n: Notification) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if n.receiver == "slow" {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            self.delivered.lock().push(n.group_key.clone());
            let _ = self.tx.send(n);
            Ok(())
        })
    }
}

#[tokio::test]
async fn group_wait_zero_reaches_the_sink_at_once_and_slow_receivers_do_not_block() {
    let config: RoutingConfig = toml::from_str(
        r#"
[route]
receiver = "mail"
group_by = ["alertname"]
group_wait = "0s"

[[route.routes]]
matchers = ['alertname="Slow"']
receiver = "slow"
"#,
    )
    .unwrap();
    let db = MemStateDb::default();
    let clock: SharedClock = Arc::new(SystemClock);
    let silences = Arc::new(
        Silences::open(
            Arc::new(db.clone()),
            clock.clone(),
            DEFAULT_SILENCE_RETENTION_NS,
        )
        .unwrap(),
    );
    let dispatcher =
        Arc::new(Dispatcher::new(&config, silences, Arc::new(db.clone()), clock.clone()).unwrap());
    let store = Arc::new(AlertStore::open(Arc::new(db), clock.clone(), 300 * S).unwrap());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink = Arc::new(ChannelSink {
        tx,
        delivered: Mutex::new(Vec::new()),
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dispatcher.clone().run(store.clone(), sink.clone(), async {
        let _ = stop_rx.await;
    }));
    // Let the driver subscribe and go to sleep with nothing due.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let slow = Alert::firing(labels([("alertname", "Slow")]), clock.now_ns());
    store.put(vec![slow]).unwrap();
    let started = Instant::now();
    let check = Alert::firing(labels([("alertname", "CheckFailed")]), clock.now_ns());
    let stored = store.put(vec![check]).unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("notified within the timeout")
        .expect("sink open");
    let latency = started.elapsed();
    assert_eq!(n.group_key, r#"{}:{alertname="CheckFailed"}"#);
    assert!(latency < Duration::from_millis(500), "took {latency:?}");

    // The API views see the routed alert.
    let view = dispatcher.gettable_alert(&stored[0]);
    assert_eq!(view.status.state, AlertState::Active);
    assert_eq!(view.receivers[0].name, "mail");
    assert_eq!(dispatcher.receivers(&stored[0]), vec!["mail"]);
    let groups = dispatcher.groups();
    assert_eq!(groups.len(), 2);
    let json = serde_json::to_value(&groups).unwrap();
    assert!(json[0]["receiver"]["name"].is_string());
    assert!(json[0]["alerts"][0]["status"]["silencedBy"].is_array());
    assert!(
        sink.delivered.lock().iter().all(|k| !k.contains("Slow")),
        "slow one still running"
    );

    let _ = stop_tx.send(());
    task.await.unwrap();
}
