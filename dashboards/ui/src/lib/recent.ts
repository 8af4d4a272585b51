// Recent queries, newest first, in localStorage (they are the person's own, across tabs).

const KEY = "pharos.recent-queries";
const MAX = 20;

export function recentQueries(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export function rememberQuery(q: string): void {
  const text = q.trim();
  if (!text) return;
  const next = [text, ...recentQueries().filter((x) => x !== text)].slice(0, MAX);
  try {
    localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    /* storage full or disabled: nothing to remember */
  }
}
