// Every area of the UI, in navigation order. Areas not built yet have a page that says so
// (no dead links); the second UI issue fills them in. Metrics is at /graph (Prometheus's own
// name for it) because /metrics is the server's Prometheus text endpoint.

export interface Area {
  path: string;
  label: string;
  built: boolean;
  /** What the area will do, and what works today instead. */
  blurb: string;
  today?: { label: string; href: string }[];
}

export const AREAS: Area[] = [
  { path: "/explore", label: "Explore", built: true, blurb: "Search logs." },
  {
    path: "/graph", label: "Metrics", built: true,
    blurb: "PromQL queries with graphs and tables.",
  },
  {
    path: "/dashboards", label: "Dashboards", built: true,
    blurb: "Panels of log and metric queries, saved and versioned; a service overview for every service.",
  },
  { path: "/alerts", label: "Alerts", built: true, blurb: "Firing alerts, silences, incidents, on call, rules and the notification log." },
  { path: "/checks", label: "Checks", built: true, blurb: "HTTP, TCP, TLS and heartbeat checks with their uptime." },
  { path: "/slos", label: "SLOs", built: true, blurb: "Service level objectives, error budgets and burn rates." },
  { path: "/reports", label: "Reports", built: false, blurb: "Monthly uptime and SLO reports." },
  // The status page is server-rendered (small, no script, public when configured): a plain
  // link to the server, not a client-side view.
  { path: "/status", label: "Status", built: true, blurb: "The status page: each component's state and 90 days of uptime." },
];
