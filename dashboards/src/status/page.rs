//! `GET /status`: the status page as one small HTML document (inline CSS, no script): the
//! overall state, what is down now, and each component's 90 daily bars from the uptime ledger
//! (hover: that day's uptime and incidents). It does not reload itself (a timed reload is an
//! accessibility failure, WCAG 2.2.1); it says when it was made and links to itself.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pharos_alertmanager::checks::ledger::Uptime;
use pharos_alertmanager::checks::state::State as CheckState;
use pharos_alertmanager::checks::CheckView;
use pharos_collector::clock::rfc3339;

use super::notices::{Notice, NoticeKind};
use super::{badge, escape, percent, StatusPageConfig};
use crate::AppState;

const DAYS: usize = 90;

struct Component {
    name: String,
    checks: Vec<CheckView>,
    /// Per day, oldest first: the worst uptime of its checks that day, and the incidents.
    days: Vec<(i64, Option<f64>, usize)>,
    uptime_90d: Option<f64>,
}

impl Component {
    fn state(&self) -> CheckState {
        if self.checks.iter().any(|c| c.state == CheckState::Down) {
            CheckState::Down
        } else if self.checks.iter().all(|c| c.state == CheckState::Up) {
            CheckState::Up
        } else {
            CheckState::Unknown
        }
    }
}

fn gather(state: &AppState) -> Result<(Vec<Component>, Vec<Notice>), String> {
    let notices = super::notices::list(&state.alerting.db)?;
    Ok((components(state)?, notices))
}

fn components(state: &AppState) -> Result<Vec<Component>, String> {
    let cfg = &state.settings.status_page;
    let views = state.checker.list();
    let groups: Vec<(String, Vec<String>)> = if cfg.components.is_empty() {
        views
            .iter()
            .map(|v| (v.id.clone(), vec![v.id.clone()]))
            .collect()
    } else {
        cfg.components
            .iter()
            .map(|c| (c.name.clone(), c.checks.clone()))
            .collect()
    };
    let mut out = Vec::new();
    for (name, ids) in groups {
        let checks: Vec<CheckView> = views
            .iter()
            .filter(|v| ids.contains(&v.id))
            .cloned()
            .collect();
        let mut days: Vec<(i64, Option<f64>, usize)> = Vec::new();
        let (mut up, mut down) = (0.0, 0.0);
        for id in &ids {
            let daily: Vec<Uptime> = match state.checker.daily_uptime(id, DAYS) {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(e.to_string()),
                None => continue,
            };
            if days.is_empty() {
                days = daily.iter().map(|d| (d.from_ns, None, 0)).collect();
            }
            for (slot, d) in days.iter_mut().zip(&daily) {
                slot.1 = match (slot.1, d.uptime_percent) {
                    (Some(a), Some(b)) => Some(f64::min(a, b)),
                    (a, b) => a.or(b),
                };
                slot.2 += d.incidents.len();
                up += d.up_secs;
                down += d.downtime_secs;
            }
        }
        let uptime_90d = (up + down > 0.0).then(|| up * 100.0 / (up + down));
        out.push(Component {
            name,
            checks,
            days,
            uptime_90d,
        });
    }
    Ok(out)
}

/// `2026-12-07T23:32:05.36Z` → `2026-12-07 23:32 UTC`, as a reader wants it.
fn minutes(rfc: &str) -> String {
    match rfc.get(..16) {
        Some(m) => format!("{} UTC", m.replacen('T', " ", 1)),
        None => rfc.to_string(),
    }
}

fn day_color(p: Option<f64>, objective: f64) -> &'static str {
    match p {
        // A variable, so a day without data is quiet in both themes.
        None => "var(--no-data)",
        Some(p) => badge::uptime_color(p, objective),
    }
}

fn render(
    cfg: &StatusPageConfig,
    components: &[Component],
    notices: &[Notice],
    now_ns: i64,
) -> String {
    let title = escape(&cfg.title);
    let in_maintenance = |name: &str| {
        notices
            .iter()
            .any(|n| n.kind == NoticeKind::Maintenance && n.active(now_ns) && n.covers(name))
    };
    // A component under maintenance is not an outage: its checks' failures are expected.
    let down: Vec<&CheckView> = components
        .iter()
        .filter(|c| !in_maintenance(&c.name))
        .flat_map(|c| c.checks.iter())
        .filter(|c| c.state == CheckState::Down)
        .collect();
    let states: Vec<CheckState> = components
        .iter()
        .filter(|c| !in_maintenance(&c.name))
        .map(Component::state)
        .collect();
    let maintenance_now = components.iter().any(|c| in_maintenance(&c.name));
    let (overall, overall_class) = if components.is_empty() {
        ("No checks are configured", "unknown")
    } else if states.is_empty() {
        ("Under maintenance", "maint")
    } else if states.iter().all(|s| *s == CheckState::Down) {
        ("Major outage", "down")
    } else if states.contains(&CheckState::Down) {
        ("Partial outage", "down")
    } else if states.iter().all(|s| *s == CheckState::Up) && maintenance_now {
        ("All systems operational; maintenance in progress", "up")
    } else if states.iter().all(|s| *s == CheckState::Up) {
        ("All systems operational", "up")
    } else {
        ("Some systems have no data yet", "unknown")
    };
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>
:root{{--no-data:#d1d5db}}
body{{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1b1f27}}
main{{max-width:860px;margin:0 auto;padding:24px 16px 48px}}h1{{font-size:24px;margin:0 0 16px}}h2{{font-size:17px;margin:28px 0 8px}}
.banner{{padding:14px 18px;border-radius:6px;color:#fff;font-weight:600;font-size:17px}}.banner.up{{background:#2e7d32}}.banner.down{{background:#c62828}}.banner.unknown{{background:#4b5563}}.banner.maint{{background:#1e5aa8}}.st.maint{{color:#1e5aa8}}.notice{{border-left:4px solid #1e5aa8}}.notice p{{margin:4px 0 0;white-space:pre-wrap}}.meta{{color:#525a68;font-size:13px}}
.card{{background:#fff;border:1px solid #d3d7de;border-radius:6px;padding:12px 16px;margin:8px 0}}
.row{{display:flex;justify-content:space-between;gap:12px;align-items:baseline;flex-wrap:wrap}}.name{{font-weight:600}}
.st{{font-weight:600}}.st.up{{color:#1b5e20}}.st.down{{color:#b71c1c}}.st.unknown{{color:#4b5563}}
.bars{{display:flex;gap:2px;height:32px;margin:8px 0 4px}}.bars span{{flex:1;border-radius:2px}}.bars span:hover{{opacity:.7}}
.legend{{display:flex;justify-content:space-between;color:#525a68;font-size:12px}}.incident{{border-left:4px solid #c62828}}
footer{{color:#525a68;font-size:12px;margin-top:32px}}
@media (prefers-color-scheme:dark){{:root{{--no-data:#374151}}body{{background:#14171c;color:#e4e7ec}}.card{{background:#1b1f26;border-color:#363d49}}.card.incident{{border-left-color:#ff8a80}}.legend,footer{{color:#a3abb8}}.st.up{{color:#81c784}}.st.down{{color:#ff8a80}}.st.unknown{{color:#a3abb8}}.st.maint{{color:#90caf9}}.card.notice{{border-left-color:#90caf9}}.meta{{color:#a3abb8}}}}
</style></head><body><main><h1>{title}</h1><p class="banner {overall_class}" role="status">{overall}</p>"#
    );
    render_notices(&mut h, notices, now_ns);
    if !down.is_empty() {
        h.push_str(r#"<h2>Current incidents</h2>"#);
        for c in &down {
            let reason = c
                .last_result
                .as_ref()
                .map(|r| r.reason.as_str())
                .unwrap_or("");
            let since = c.since.as_deref().unwrap_or("");
            let _ = write!(
                h,
                r#"<div class="card incident"><div class="row"><span class="name">{}</span><span>down since <time datetime="{since}">{}</time></span></div><div>{}</div></div>"#,
                escape(&c.id),
                escape(&minutes(since)),
                escape(reason)
            );
        }
    }
    h.push_str(r#"<h2>Components</h2>"#);
    for c in components {
        let (text, class) = match c.state() {
            _ if in_maintenance(&c.name) => ("Under maintenance", "maint"),
            CheckState::Up => ("Operational", "up"),
            CheckState::Down => ("Down", "down"),
            CheckState::Unknown => ("No data", "unknown"),
        };
        let _ = write!(
            h,
            r#"<section class="card" aria-label="{name}"><div class="row"><span class="name">{name}</span><span class="st {class}">{text}</span></div><div class="bars" role="img" aria-label="{name}: daily uptime over the last {DAYS} days">"#,
            name = escape(&c.name)
        );
        for (start, p, incidents) in &c.days {
            let date = &rfc3339(*start)[..10];
            let tip = match p {
                Some(p) => format!(
                    "{date}: {} up, {incidents} incident{}",
                    percent(*p),
                    if *incidents == 1 { "" } else { "s" }
                ),
                None => format!("{date}: no data"),
            };
            let _ = write!(
                h,
                r#"<span style="background:{}" title="{}"></span>"#,
                day_color(*p, cfg.objective_percent),
                escape(&tip)
            );
        }
        let u = c
            .uptime_90d
            .map(percent)
            .unwrap_or_else(|| "no data".into());
        let _ = write!(
            h,
            r#"</div><div class="legend"><span>{DAYS} days ago</span><span>{u} uptime</span><span>Today</span></div></section>"#
        );
    }
    let _ = write!(
        h,
        r#"<footer>Updated <time datetime="{t}">{m}</time> (<a href="/status">refresh</a>; UTC days). Uptime counts the time a check was up or down; time without data is left out.</footer></main></body></html>"#,
        t = rfc3339(now_ns),
        m = minutes(&rfc3339(now_ns)),
    );
    h
}

/// Announcements in effect, maintenance in progress, then maintenance ahead.
fn render_notices(h: &mut String, notices: &[Notice], now_ns: i64) {
    let section = |h: &mut String, heading: &str, list: Vec<&Notice>| {
        if list.is_empty() {
            return;
        }
        let _ = write!(h, "<h2>{heading}</h2>");
        for n in list {
            let when = match (n.kind, n.ends_ns) {
                (NoticeKind::Maintenance, Some(end)) => format!(
                    "<time datetime=\"{s}\">{}</time> to <time datetime=\"{e}\">{}</time>",
                    escape(&minutes(&rfc3339(n.starts_ns))),
                    escape(&minutes(&rfc3339(end))),
                    s = rfc3339(n.starts_ns),
                    e = rfc3339(end),
                ),
                _ => format!(
                    "posted <time datetime=\"{s}\">{}</time>",
                    escape(&minutes(&rfc3339(n.starts_ns))),
                    s = rfc3339(n.starts_ns),
                ),
            };
            let scope = if n.components.is_empty() {
                String::new()
            } else {
                format!(" · {}", escape(&n.components.join(", ")))
            };
            let _ = write!(
                h,
                r#"<article class="card notice" aria-label="{t}"><div class="row"><span class="name">{t}</span><span class="meta">{when}{scope}</span></div>"#,
                t = escape(&n.title),
            );
            if !n.body.is_empty() {
                let _ = write!(h, "<p>{}</p>", escape(&n.body));
            }
            h.push_str("</article>");
        }
    };
    let active = |kind| {
        notices
            .iter()
            .filter(|n| n.kind == kind && n.active(now_ns))
            .collect::<Vec<_>>()
    };
    section(h, "Announcements", active(NoticeKind::Announcement));
    section(
        h,
        "Maintenance in progress",
        active(NoticeKind::Maintenance),
    );
    section(
        h,
        "Scheduled maintenance",
        notices
            .iter()
            .filter(|n| n.kind == NoticeKind::Maintenance && n.starts_ns > now_ns)
            .collect(),
    );
}

pub(super) async fn status_page(State(state): State<AppState>) -> Response {
    let now = state.checker.clock().now_ns();
    let s = state.clone();
    let gathered = tokio::task::spawn_blocking(move || gather(&s))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    match gathered {
        Ok((components, notices)) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            render(&state.settings.status_page, &components, &notices, now),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "status page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the status page could not be read from the uptime ledger\n",
            )
                .into_response()
        }
    }
}
