// The alerting APIs the Alerts area reads and writes: Alertmanager's v2 API (alerts, groups,
// silences) and Pharos's own (rules, incidents, on-call, notification log).

import { apiUrl, request } from "./client";

export type Labels = Record<string, string>;

export interface AlertStatus {
  state: "active" | "suppressed" | "unprocessed";
  silencedBy: string[];
  inhibitedBy: string[];
  mutedBy?: string[];
}

export interface Alert {
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: AlertStatus;
}

export interface AlertGroup {
  labels: Labels;
  receiver: { name: string };
  alerts: Alert[];
  groupKey: string;
}

export interface ApiMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface Silence {
  id: string;
  matchers: ApiMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: "pending" | "active" | "expired" };
  updatedAt: string;
}

export interface PostableSilence {
  id?: string;
  matchers: ApiMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface RuleAlert {
  labels: Labels;
  annotations: Labels;
  state: "inactive" | "pending" | "firing";
  activeAt: string;
  firedAt: string | null;
  value: string;
}

export interface Rule {
  name: string;
  query: string;
  duration: number;
  labels: Labels;
  annotations: Labels;
  state: "inactive" | "pending" | "firing";
  alerts: RuleAlert[];
  health: string;
  lastError: string | null;
  lastEvaluation: string | null;
  evaluationTime: number;
  type: string;
}

export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  lastEvaluation: string | null;
  evaluationTime: number;
}

export type Target = Record<string, string>;

export interface Incident {
  id: string;
  state: "open" | "acknowledged" | "resolved" | "exhausted" | string;
  receiver: string;
  group_key: string;
  group_labels: Labels;
  alerts: string[];
  policy: string;
  step: number;
  round: number;
  opened_at: string;
  next_escalation_at: string | null;
  notified: { target: Target; schedule: string | null; step: number; round: number; at: string }[];
  acked_by: string | null;
  acked_at: string | null;
  ack_comment: string | null;
  resolved_at: string | null;
  /** Set when a person resolved it from the page, the API or the CLI. */
  resolved_by?: string | null;
  resolve_comment?: string | null;
}

export interface Person {
  name: string;
  email: string;
}

export interface OnCall {
  schedule: string;
  time_zone: string;
  current: Person;
  since: string;
  until: string;
  next: Person;
  by_override: boolean;
}

export interface Shift {
  who: Person;
  start: string;
  end: string;
  by_override: boolean;
}

export interface OverrideView {
  /** null for the config file's overrides (changed there, not here). */
  id: string | null;
  who: Person;
  start: string;
  end: string;
  created_by: string;
  comment: string;
}

export interface NewOverride {
  who: string;
  start: string;
  end: string;
  created_by: string;
  comment: string;
}

export interface NotificationEntry {
  at: string;
  receiver: string;
  target: string;
  integration: string;
  group_key: string;
  status: "firing" | "resolved";
  alerts: number;
  attempt: number;
  ok: boolean;
  error?: string;
  duration_ms: number;
}

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export const alerting = {
  groups(filter: string, signal?: AbortSignal): Promise<AlertGroup[]> {
    return request(apiUrl("/api/v2/alerts/groups", { filter }), { signal });
  },
  alerts(filter: string, signal?: AbortSignal): Promise<Alert[]> {
    return request(apiUrl("/api/v2/alerts", { filter }), { signal });
  },
  silences(signal?: AbortSignal): Promise<Silence[]> {
    return request("/api/v2/silences", { signal });
  },
  postSilence(s: PostableSilence): Promise<{ silenceID: string }> {
    return request("/api/v2/silences", json(s));
  },
  expireSilence(id: string): Promise<unknown> {
    return request(`/api/v2/silence/${encodeURIComponent(id)}`, { method: "DELETE" });
  },
  rules(signal?: AbortSignal): Promise<{ data: { groups: RuleGroup[] } }> {
    return request("/api/v1/rules", { signal });
  },
  incidents(open: boolean, signal?: AbortSignal): Promise<{ incidents: Incident[] }> {
    return request(apiUrl("/api/v1/incidents", { open: String(open) }), { signal });
  },
  resolve(id: string, by: string, comment: string): Promise<{ resolved: Incident }> {
    return request(`/api/v1/incidents/${encodeURIComponent(id)}/resolve`, json({ by, comment }));
  },
  ack(id: string, by: string, comment: string): Promise<{ acknowledged: Incident[] }> {
    return request(`/api/v1/incidents/${encodeURIComponent(id)}/ack`, json({ by, comment }));
  },
  onCall(signal?: AbortSignal): Promise<{ schedules: OnCall[] }> {
    return request("/api/v1/oncall", { signal });
  },
  shifts(schedule: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<{ shifts: Shift[]; truncated: boolean }> {
    return request(apiUrl(`/api/v1/oncall/${encodeURIComponent(schedule)}/shifts`, { from: fromMs, to: toMs }), { signal });
  },
  overrides(schedule: string, signal?: AbortSignal): Promise<{ overrides: OverrideView[] }> {
    return request(`/api/v1/oncall/${encodeURIComponent(schedule)}/overrides`, { signal });
  },
  createOverride(schedule: string, o: NewOverride): Promise<{ override: OverrideView }> {
    return request(`/api/v1/oncall/${encodeURIComponent(schedule)}/overrides`, json(o));
  },
  deleteOverride(schedule: string, id: string): Promise<unknown> {
    return request(`/api/v1/oncall/${encodeURIComponent(schedule)}/overrides/${encodeURIComponent(id)}`, { method: "DELETE" });
  },
  notifications(signal?: AbortSignal): Promise<{ notifications: NotificationEntry[] }> {
    return request(apiUrl("/api/v1/notifications", { limit: 200 }), { signal });
  },
};
