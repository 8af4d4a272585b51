// The dashboards API (/api/v1/dashboards, docs/dashboards.md): the stored documents, their
// versions, export, and the Grafana import. Types mirror the server's JSON.

import { apiUrl, download, request } from "./client";

export type PanelType = "timeseries" | "stat" | "table" | "bargauge" | "gauge" | "logs" | "text";
export const PANEL_TYPES: PanelType[] = ["timeseries", "stat", "table", "bargauge", "gauge", "logs", "text"];
export type Unit = "short" | "percent" | "percentunit" | "s" | "ms" | "bytes" | "reqps" | "none";
export const UNITS: Unit[] = ["short", "percent", "percentunit", "s", "ms", "bytes", "reqps", "none"];

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A log target has no legend: its series are named by its `by` values and aggregations. */
export type Target =
  | { kind: "promql"; expr: string; legend?: string }
  | { kind: "logs"; query: string };

export interface Threshold {
  value: number | null;
  color: string;
}

export interface Panel {
  id: number;
  title: string;
  type: PanelType;
  grid: GridPos;
  targets: Target[];
  description?: string;
  unit?: Unit;
  decimals?: number | null;
  min?: number | null;
  max?: number | null;
  stacked?: boolean;
  thresholds?: Threshold[];
  text?: string;
}

export type VariableKind = "field_values" | "label_values" | "custom" | "constant" | "interval";

export interface Variable {
  name: string;
  label?: string;
  kind: VariableKind;
  /** field_values: the field, and the filter its values are taken under. */
  field?: string;
  query?: string;
  /** label_values: the metric (match[]); `label` is then the Prometheus label (otherwise the name shown). */
  metric?: string;
  options?: string[];
  value?: string;
  multi?: boolean;
  include_all?: boolean;
  default?: string | string[];
}

export interface Dashboard {
  uid?: string;
  title: string;
  description?: string;
  tags?: string[];
  time?: { from: string; to: string };
  refresh?: string | null;
  variables?: Variable[];
  panels: Panel[];
}

export type Source = "builtin" | "provisioned" | "user";

export interface DashboardSummary {
  uid: string;
  title: string;
  tags: string[];
  version: number;
  updated_at: string;
  source: Source;
  panels: number;
  path?: string;
}

export interface DashboardList {
  dashboards: DashboardSummary[];
  errors: { path: string; error: string }[];
}

export interface StoredDashboard {
  dashboard: Dashboard;
  version: number;
  updated_at: string;
  message?: string | null;
  source: Source;
  path?: string;
}

export interface Saved {
  uid: string;
  version: number;
  updated_at: string;
}

export interface VersionInfo {
  version: number;
  updated_at: string;
  message?: string | null;
  panels: number;
}

export interface ImportResult {
  dashboard: Dashboard;
  skipped: { id: number | null; title: string; type: string; reason: string }[];
  warnings: string[];
  version?: number;
}

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

const path = (uid: string) => `/api/v1/dashboards/${encodeURIComponent(uid)}`;

export const dashboards = {
  list(signal?: AbortSignal): Promise<DashboardList> {
    return request("/api/v1/dashboards", { signal });
  },
  get(uid: string, signal?: AbortSignal): Promise<StoredDashboard> {
    return request(path(uid), { signal });
  },
  create(dashboard: Dashboard, message?: string): Promise<Saved> {
    return request("/api/v1/dashboards", json("POST", { dashboard, message: message || undefined }));
  },
  update(uid: string, dashboard: Dashboard, version: number, message?: string): Promise<Saved> {
    return request(path(uid), json("PUT", { dashboard, version, message: message || undefined }));
  },
  remove(uid: string): Promise<null> {
    return request(path(uid), { method: "DELETE" });
  },
  versions(uid: string, signal?: AbortSignal): Promise<{ versions: VersionInfo[] }> {
    return request(`${path(uid)}/versions`, { signal });
  },
  version(uid: string, n: number, signal?: AbortSignal): Promise<StoredDashboard> {
    return request(`${path(uid)}/versions/${n}`, { signal });
  },
  restore(uid: string, n: number): Promise<Saved> {
    return request(`${path(uid)}/versions/${n}/restore`, { method: "POST" });
  },
  exportUrl(uid: string): string {
    return `${path(uid)}/export`;
  },
  exportFile(uid: string): Promise<number> {
    return download(`${path(uid)}/export`, `${uid}.json`);
  },
  importGrafana(grafanaJson: string, opts: { save?: boolean; overwrite?: boolean } = {}): Promise<ImportResult> {
    return request(apiUrl("/api/v1/dashboards/import/grafana", { save: opts.save ? "true" : undefined, overwrite: opts.overwrite ? "true" : undefined }), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: grafanaJson,
    });
  },
};
