//! On-call overrides made through the API: they page the person covering, are refused
//! when they overlap or are malformed (naming what), survive a restart, and deleting one
//! gives the turn back to the rotation.

mod escalation_support;

use escalation_support::*;
use pharos_alertmanager::escalation::NewOverride;
use pharos_alertmanager::oncall::OverrideError;

const HOUR: i64 = 60 * MIN;

fn carol(start_ns: i64, end_ns: i64) -> NewOverride<'static> {
    NewOverride {
        who: "Carol <carol@example.com>",
        start_ns,
        end_ns,
        created_by: "alice",
        comment: "swap for Thursday",
    }
}

#[tokio::test]
async fn an_override_pages_the_person_covering_and_survives_a_restart() {
    let h = harness();
    let t0 = t0();
    assert_eq!(h.escalator.on_call_now()[0].current.name, "Alice");
    let view = h
        .escalator
        .add_override("primary", carol(t0 - HOUR, t0 + 4 * HOUR), t0)
        .unwrap();
    assert_eq!(view.who.name, "Carol");
    assert_eq!((view.start, view.end), (t0 - HOUR, t0 + 4 * HOUR));
    assert_eq!(view.created_by, "alice");
    let id = view.id.clone().expect("an API override has an id");

    let now = h.escalator.on_call_now();
    assert_eq!(now[0].current.name, "Carol");
    assert!(now[0].by_override);
    assert_eq!(now[0].until, t0 + 4 * HOUR);
    assert_eq!(now[0].next.name, "Alice");

    // The schedule target of the policy's first step resolves to Carol now.
    h.escalator
        .notify(notification(vec![alert("Down", t0)], t0))
        .await
        .unwrap();
    assert_eq!(
        targets(&h.recorder.take()),
        vec![email("Carol <carol@example.com>")]
    );

    // A restart loads it again.
    let again = open(h.db.clone(), h.clock.clone(), CONFIG);
    let listed = again
        .escalator
        .schedules()
        .get("primary")
        .unwrap()
        .overrides();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.as_deref(), Some(id.as_str()));
    assert_eq!(again.escalator.on_call_now()[0].current.name, "Carol");

    // Deleting gives the turn back, and stays deleted over a restart.
    again.escalator.delete_override("primary", &id).unwrap();
    assert_eq!(again.escalator.on_call_now()[0].current.name, "Alice");
    let third = open(h.db.clone(), h.clock.clone(), CONFIG);
    assert!(third
        .escalator
        .schedules()
        .get("primary")
        .unwrap()
        .overrides()
        .is_empty());
    assert_eq!(
        third.escalator.delete_override("primary", &id),
        Err(OverrideError::UnknownOverride(id))
    );
}

#[test]
fn bad_overrides_are_refused_naming_what() {
    let h = harness();
    let t0 = t0();
    let esc = &h.escalator;
    esc.add_override("primary", carol(t0, t0 + HOUR), t0)
        .unwrap();
    let overlap = esc
        .add_override("primary", carol(t0 + 30 * MIN, t0 + 2 * HOUR), t0)
        .unwrap_err();
    assert!(
        matches!(overlap, OverrideError::Overlaps { .. }),
        "{overlap}"
    );
    assert!(overlap.to_string().contains("Carol"), "{overlap}");
    // Back to back is fine.
    esc.add_override("primary", carol(t0 + HOUR, t0 + 2 * HOUR), t0)
        .unwrap();

    let cases: Vec<(NewOverride<'static>, &str)> = vec![
        (
            carol(t0 + 3 * HOUR, t0 + 3 * HOUR),
            "end: must be after start",
        ),
        (
            carol(t0 - 3 * HOUR, t0 - 2 * HOUR),
            "end: must be in the future",
        ),
        (
            carol(t0 + 3 * HOUR, t0 + 100 * 24 * HOUR),
            "at most 92 days",
        ),
        (
            NewOverride {
                who: "Carol",
                ..carol(t0 + 3 * HOUR, t0 + 4 * HOUR)
            },
            "who:",
        ),
        (
            NewOverride {
                created_by: " ",
                ..carol(t0 + 3 * HOUR, t0 + 4 * HOUR)
            },
            "created_by",
        ),
    ];
    for (bad, want) in cases {
        let e = esc.add_override("primary", bad, t0).unwrap_err();
        assert!(e.to_string().contains(want), "{e} should say {want}");
    }
    assert_eq!(
        esc.add_override("nope", carol(t0, t0 + HOUR), t0)
            .unwrap_err(),
        OverrideError::UnknownSchedule("nope".into())
    );
    assert_eq!(
        esc.schedules().get("primary").unwrap().overrides().len(),
        2,
        "nothing refused was kept"
    );
}
