// A dashboard's view state from the URL (range, zone, refresh, variable values) over its
// document's defaults, the range resolved once per run (all panels use the same instants),
// and the refresh tick.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { Dashboard } from "../../api/dashboards";
import { decodeDash, encodeDash, type DashState, type Refresh } from "../../lib/dashUrl";
import { navigate, useLocation } from "../../lib/router";
import { parseDuration, resolveRange, type TimeRange } from "../../lib/time";

export function useDashState(doc: Dashboard | null) {
  const loc = useLocation();
  const state = decodeDash(loc.search);
  const range: TimeRange = { start: state.from ?? doc?.time?.from ?? "now-6h", end: state.to ?? doc?.time?.to ?? "now" };
  const refresh: Refresh = state.refresh ?? ((doc?.refresh as Refresh | null | undefined) || "off");
  const [tick, setTick] = useState(0);
  const resolved = useMemo(() => resolveRange(range, Date.now()), [range.start, range.end, tick]);

  useEffect(() => {
    const ms = refresh === "off" ? null : parseDuration(refresh);
    if (!ms) return;
    const t = window.setInterval(() => setTick((n) => n + 1), ms);
    return () => window.clearInterval(t);
  }, [refresh]);

  const update = (patch: Partial<DashState>) => navigate(`${loc.pathname}${encodeDash({ ...state, ...patch })}`, { replace: true });
  return {
    state,
    range,
    resolved,
    refresh,
    tick,
    reload: () => setTick((n) => n + 1),
    setRange: (r: TimeRange) => navigate(`${loc.pathname}${encodeDash({ ...state, from: r.start, to: r.end })}`),
    setTz: (tz: DashState["tz"]) => update({ tz }),
    setRefresh: (r: Refresh) => update({ refresh: r }),
    setVar: (name: string, values: string[]) => update({ vars: { ...state.vars, [name]: values } }),
  };
}
