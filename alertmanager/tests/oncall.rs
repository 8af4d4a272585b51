//! On-call schedules: exact handoff instants, DST in Europe/Berlin, overrides, config errors.

use pharos_alertmanager::oncall::{ScheduleConfig, Schedules};

fn ns(rfc3339: &str) -> i64 {
    let t: jiff::Timestamp = rfc3339.parse().unwrap();
    i64::try_from(t.as_nanosecond()).unwrap()
}

fn schedules(toml_text: &str) -> Result<Schedules, String> {
    #[derive(serde::Deserialize)]
    struct File {
        schedules: Vec<ScheduleConfig>,
    }
    let f: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    Schedules::compile(&f.schedules, "alerting.escalation.schedules").map_err(|e| e.to_string())
}

const BERLIN_WEEKLY: &str = r#"
[[schedules]]
name = "primary"
time_zone = "Europe/Berlin"
rotation = { participants = ["Alice <alice@example.com>", "Bob <bob@example.com>", "carol@example.com"], handoff = "monday 09:00", start = "2025-03-14" }
"#;

#[test]
fn weekly_handoff_at_the_exact_instant_across_the_spring_dst_change() {
    let s = schedules(BERLIN_WEEKLY).unwrap();
    // start is a Friday: the first shift starts on the next Monday, 2025-03-17 09:00 CET (08:00Z).
    let first = s.on_call("primary", ns("2025-03-17T08:00:00Z")).unwrap();
    assert_eq!(first.current.name, "Alice");
    assert_eq!(first.since, ns("2025-03-17T08:00:00Z"));
    assert_eq!(first.until, ns("2025-03-24T08:00:00Z"));
    assert_eq!(first.next.name, "Bob");

    // Bob's week contains the change to CEST (2025-03-30): his shift ends at Monday 09:00
    // CEST = 07:00Z, one hour shorter in absolute time.
    let bob = s
        .on_call("primary", ns("2025-03-31T06:59:59.999999999Z"))
        .unwrap();
    assert_eq!(bob.current.email, "bob@example.com");
    assert_eq!(bob.since, ns("2025-03-24T08:00:00Z"));
    assert_eq!(bob.until, ns("2025-03-31T07:00:00Z"));
    assert_eq!(bob.next.email, "carol@example.com");
    assert!(!bob.by_override);

    let carol = s.on_call("primary", ns("2025-03-31T07:00:00Z")).unwrap();
    assert_eq!(carol.current.name, "carol@example.com");
    assert_eq!(carol.since, ns("2025-03-31T07:00:00Z"));
    assert_eq!(carol.until, ns("2025-04-07T07:00:00Z"));
    assert_eq!(carol.next.name, "Alice", "the rotation wraps around");

    // Before the first shift the rotation is extended backwards (Carol precedes Alice).
    let before = s.on_call("primary", ns("2025-03-17T07:59:59Z")).unwrap();
    assert_eq!(before.current.name, "carol@example.com");
    assert_eq!(before.until, ns("2025-03-17T08:00:00Z"));

    // Autumn: back to CET on 2025-10-26; the Monday 09:00 handoff is 08:00Z again.
    let autumn = s.on_call("primary", ns("2025-10-27T07:59:59Z")).unwrap();
    assert_eq!(autumn.until, ns("2025-10-27T08:00:00Z"));
    assert_eq!(autumn.since, ns("2025-10-20T07:00:00Z"));
}

#[test]
fn daily_handoff_in_the_skipped_and_the_repeated_hour() {
    let s = schedules(
        r#"
[[schedules]]
name = "night"
time_zone = "Europe/Berlin"
rotation = { participants = ["a@example.com", "b@example.com"], handoff = "02:30", length = "1d", start = "2025-03-01" }
"#,
    )
    .unwrap();
    // 02:30 does not exist on 2025-03-30 (02:00 CET jumps to 03:00 CEST): the handoff is at
    // 03:30 CEST = 01:30Z.
    let t = s.on_call("night", ns("2025-03-30T01:00:00Z")).unwrap();
    assert_eq!(t.since, ns("2025-03-29T01:30:00Z"));
    assert_eq!(t.until, ns("2025-03-30T01:30:00Z"));
    // 02:30 happens twice on 2025-10-26: the handoff is at the first, 02:30 CEST = 00:30Z.
    let t = s.on_call("night", ns("2025-10-26T00:30:00Z")).unwrap();
    assert_eq!(t.since, ns("2025-10-26T00:30:00Z"));
    assert_eq!(t.until, ns("2025-10-27T01:30:00Z"), "25-hour day");
}

#[test]
fn an_override_wins_and_cuts_the_rotation_turn() {
    let s = schedules(&format!(
        "{BERLIN_WEEKLY}overrides = [{{ start = \"2025-03-26T12:00:00+01:00\", end = \"2025-03-27T12:00:00+01:00\", who = \"Dave <dave@example.com>\" }}]\n"
    ))
    .unwrap();
    let before = s.on_call("primary", ns("2025-03-26T10:59:59Z")).unwrap();
    assert_eq!(before.current.name, "Bob");
    assert_eq!(before.until, ns("2025-03-26T11:00:00Z"));
    assert_eq!(before.next.name, "Dave");

    let during = s.on_call("primary", ns("2025-03-26T11:00:00Z")).unwrap();
    assert_eq!(during.current.name, "Dave");
    assert!(during.by_override);
    assert_eq!(
        (during.since, during.until),
        (ns("2025-03-26T11:00:00Z"), ns("2025-03-27T11:00:00Z"))
    );
    assert_eq!(during.next.name, "Bob");

    let after = s.on_call("primary", ns("2025-03-27T11:00:00Z")).unwrap();
    assert_eq!(after.current.name, "Bob");
    assert_eq!(after.since, ns("2025-03-27T11:00:00Z"));
    assert_eq!(after.until, ns("2025-03-31T07:00:00Z"));
}

#[test]
fn shifts_list_the_calendar_with_overrides_cutting_the_rotation() {
    let s = schedules(&format!(
        "{BERLIN_WEEKLY}overrides = [{{ start = \"2025-03-26T12:00:00+01:00\", end = \"2025-03-27T12:00:00+01:00\", who = \"Dave <dave@example.com>\" }}]\n"
    ))
    .unwrap();
    let primary = s.get("primary").unwrap();
    let shifts = primary
        .shifts(ns("2025-03-25T00:00:00Z"), ns("2025-04-01T00:00:00Z"), 100)
        .unwrap();
    let got: Vec<(&str, i64, i64, bool)> = shifts
        .iter()
        .map(|x| (x.who.name.as_str(), x.start, x.end, x.by_override))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Bob",
                ns("2025-03-24T08:00:00Z"),
                ns("2025-03-26T11:00:00Z"),
                false
            ),
            (
                "Dave",
                ns("2025-03-26T11:00:00Z"),
                ns("2025-03-27T11:00:00Z"),
                true
            ),
            (
                "Bob",
                ns("2025-03-27T11:00:00Z"),
                ns("2025-03-31T07:00:00Z"),
                false
            ),
            // The handoff after the spring change is at 09:00 CEST, 07:00Z.
            (
                "carol@example.com",
                ns("2025-03-31T07:00:00Z"),
                ns("2025-04-07T07:00:00Z"),
                false
            ),
        ]
    );
    // The cap bounds the work whatever the range asked for.
    let capped = primary
        .shifts(ns("2025-03-25T00:00:00Z"), ns("2035-01-01T00:00:00Z"), 3)
        .unwrap();
    assert_eq!(capped.len(), 3);
}

#[test]
fn the_api_view_lists_every_schedule_with_rfc3339_times() {
    let s = schedules(BERLIN_WEEKLY).unwrap();
    let view = serde_json::to_value(s.on_call_now(ns("2025-03-18T00:00:00Z"))).unwrap();
    assert_eq!(view[0]["schedule"], "primary");
    assert_eq!(view[0]["time_zone"], "Europe/Berlin");
    assert_eq!(view[0]["current"]["email"], "alice@example.com");
    assert_eq!(view[0]["next"]["name"], "Bob");
    assert_eq!(view[0]["until"], "2025-03-24T08:00:00Z");
    assert!(s.on_call("nope", 0).is_err());
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (
            BERLIN_WEEKLY.replace("Europe/Berlin", "Europe/Atlantis"),
            "alerting.escalation.schedules[0].time_zone",
        ),
        (
            BERLIN_WEEKLY.replace("monday 09:00", "someday"),
            "alerting.escalation.schedules[0].rotation.handoff",
        ),
        (
            BERLIN_WEEKLY.replace("\"carol@example.com\"", "\"carol\""),
            "alerting.escalation.schedules[0].rotation.participants[2]",
        ),
        (
            BERLIN_WEEKLY.replace("2025-03-14", "14/03/2025"),
            "alerting.escalation.schedules[0].rotation.start",
        ),
        (
            format!("{BERLIN_WEEKLY}{}", BERLIN_WEEKLY.replace("time_zone", "# ")),
            "alerting.escalation.schedules[1].name",
        ),
        (
            format!(
                "{BERLIN_WEEKLY}overrides = [\
                 {{ start = \"2025-03-26T00:00:00Z\", end = \"2025-03-27T00:00:00Z\", who = \"d@x.io\" }},\
                 {{ start = \"2025-03-26T12:00:00Z\", end = \"2025-03-28T00:00:00Z\", who = \"e@x.io\" }}]\n"
            ),
            "alerting.escalation.schedules[0].overrides[1]: overlaps overrides[0]",
        ),
        (
            format!("{BERLIN_WEEKLY}overrides = [{{ start = \"2025-03-26T00:00:00Z\", end = \"2025-03-25T00:00:00Z\", who = \"d@x.io\" }}]\n"),
            "alerting.escalation.schedules[0].overrides[0].end",
        ),
        (
            BERLIN_WEEKLY.replace("participants = [", "participants = [], x = ["),
            "unknown field",
        ),
    ];
    for (text, expected) in cases {
        let err = schedules(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }
}
