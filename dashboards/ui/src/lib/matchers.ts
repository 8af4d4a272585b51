// Alertmanager's matcher syntax (`{alertname="Down", severity=~"page|crit"}`, braces
// optional), as `pharos alerts` and amtool take it: parsed into the v2 API's matchers for a
// silence, and printed back. Matching alerts here is for showing which labels a matcher
// picks; the server decides what a silence mutes (the preview asks it).

import type { ApiMatcher, Labels } from "../api/alerting";

const OPS: Record<string, { isRegex: boolean; isEqual: boolean }> = {
  "=": { isRegex: false, isEqual: true },
  "!=": { isRegex: false, isEqual: false },
  "=~": { isRegex: true, isEqual: true },
  "!~": { isRegex: true, isEqual: false },
};

export class MatcherError extends Error {
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

/** Parses `a="x", b=~"y"`; throws a MatcherError naming the position of what is wrong. */
export function parseMatchers(text: string): ApiMatcher[] {
  const out: ApiMatcher[] = [];
  let i = 0;
  const s = text.trim();
  const skip = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  let end = s.length;
  if (s.startsWith("{")) {
    if (!s.endsWith("}")) throw new MatcherError("missing closing }", s.length);
    i = 1;
    end = s.length - 1;
  }
  for (;;) {
    skip();
    if (i >= end) break;
    const nameStart = i;
    while (i < end && /[A-Za-z0-9_]/.test(s[i])) i++;
    const name = s.slice(nameStart, i);
    if (!name || /^[0-9]/.test(name)) throw new MatcherError(`expected a label name at position ${nameStart + 1}`, nameStart);
    skip();
    const op = ["=~", "!~", "!=", "="].find((o) => s.startsWith(o, i));
    if (!op) throw new MatcherError(`expected =, !=, =~ or !~ after ${name} at position ${i + 1}`, i);
    i += op.length;
    skip();
    let value = "";
    if (s[i] === '"') {
      i++;
      while (i < end && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < end) {
          const n = s[i + 1];
          value += n === "n" ? "\n" : n;
          i += 2;
        } else value += s[i++];
      }
      if (s[i] !== '"') throw new MatcherError(`unterminated quoted value for ${name}`, i);
      i++;
    } else {
      const vStart = i;
      while (i < end && s[i] !== ",") i++;
      value = s.slice(vStart, i).trim();
    }
    if (OPS[op].isRegex) {
      try {
        new RegExp(`^(?:${value})$`);
      } catch {
        throw new MatcherError(`invalid regular expression for ${name}: ${value}`, i);
      }
    }
    out.push({ name, value, ...OPS[op] });
    skip();
    if (i < end) {
      if (s[i] !== ",") throw new MatcherError(`expected , at position ${i + 1}`, i);
      i++;
    }
  }
  return out;
}

function opOf(m: ApiMatcher): string {
  return m.isRegex ? (m.isEqual ? "=~" : "!~") : m.isEqual ? "=" : "!=";
}

export function formatMatcher(m: ApiMatcher): string {
  return `${m.name}${opOf(m)}${JSON.stringify(m.value)}`;
}

export function formatMatchers(ms: ApiMatcher[]): string {
  return ms.map(formatMatcher).join(", ");
}

/** The equality matchers that pick exactly these labels (a silence from an alert). */
export function matchersFor(labels: Labels): ApiMatcher[] {
  return Object.keys(labels)
    .sort((a, b) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a.localeCompare(b)))
    .map((name) => ({ name, value: labels[name], isRegex: false, isEqual: true }));
}

export function matches(ms: ApiMatcher[], labels: Labels): boolean {
  return ms.every((m) => {
    const v = labels[m.name] ?? "";
    const hit = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(v) : v === m.value;
    return hit === m.isEqual;
  });
}
