// Status page notices: announcements and scheduled maintenance windows
// (`/api/v1/status/notices`).

import { request } from "./client";

export interface Notice {
  id: string;
  kind: "announcement" | "maintenance";
  title: string;
  body: string;
  components: string[];
  starts_at: string;
  ends_at: string | null;
  author: string;
  created_at: string;
  updated_at: string;
  state: "active" | "scheduled" | "ended";
}

export interface NoticeInput {
  kind: Notice["kind"];
  title: string;
  body: string;
  components: string[];
  starts_at?: string;
  ends_at?: string;
  author?: string;
}

export const notices = {
  list(signal?: AbortSignal): Promise<{ notices: Notice[]; components: string[] }> {
    return request("/api/v1/status/notices", { signal });
  },
  create(n: NoticeInput): Promise<Notice> {
    return request("/api/v1/status/notices", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(n) });
  },
  remove(id: string): Promise<null> {
    return request(`/api/v1/status/notices/${encodeURIComponent(id)}`, { method: "DELETE" });
  },
};
