// The SLO API: every SLO's status (objective, window, SLI, error budget, burn rates, its
// burn-rate alerts) and the budget left over the current window.

import { apiUrl, request } from "./client";

export interface SloStatus {
  name: string;
  description: string;
  objective_percent: number;
  window: string;
  time_zone: string | null;
  window_start: string;
  window_end: string;
  sli_percent: number | null;
  error_ratio: number | null;
  error_budget: {
    total_secs: number;
    consumed_secs: number | null;
    remaining_secs: number | null;
    consumed_fraction: number | null;
    remaining_fraction: number | null;
  };
  burn_rates: { window: string; window_secs: number; burn_rate: number | null }[];
  time_to_exhaustion_secs: number | null;
  alerts: {
    severity: string;
    long_window: string;
    short_window: string;
    factor: number;
    long_burn_rate: number | null;
    short_burn_rate: number | null;
    met: boolean;
  }[];
  errors: string[];
}

export interface BudgetPoint {
  at: string;
  at_ns: number;
  remaining_fraction: number | null;
  sli_percent: number | null;
}

export const slos = {
  list(signal?: AbortSignal): Promise<{ slos: SloStatus[] }> {
    return request("/api/v1/slos", { signal });
  },
  budget(name: string, points: number, signal?: AbortSignal): Promise<{ points: BudgetPoint[] }> {
    return request(apiUrl(`/api/v1/slos/${encodeURIComponent(name)}/budget`, { points }), { signal });
  },
};
