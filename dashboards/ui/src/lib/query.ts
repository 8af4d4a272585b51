// The query language as the editor sees it: a forgiving lexer for highlighting (it never
// fails; the server is the judge of validity and says where), completion of field names, a
// field's values, pipes and functions, and the edits a facet click makes.
// The grammar is docs/query-language.md.

export type TokenKind =
  | "space" | "word" | "field" | "operator" | "string" | "regex" | "number"
  | "paren" | "range" | "pipe" | "command" | "function" | "keyword" | "comparison";

export interface Token {
  kind: TokenKind;
  text: string;
  from: number;
}

export const PIPE_COMMANDS = ["stats", "timechart", "sort", "limit", "fields", "top"] as const;
export const AGGREGATIONS = ["count", "count_distinct", "sum", "avg", "min", "max", "p50", "p90", "p95", "p99"] as const;
const PIPE_KEYWORDS = new Set(["by", "as", "asc", "desc"]);
const OPERATORS = new Set(["and", "or", "not", "to"]);
export const BUILTIN_FIELDS = ["message", "level", "severity", "service", "host", "trace_id", "correlation_id", "_time"];
const FIELD_NAME = /^[A-Za-z_@][A-Za-z0-9_.@-]*/;
// A word runs until a space or one of ( ) " [ ] { } |, as the server's lexer has it.
const WORD_END = /[\s()"[\]{}|]/;

function readQuoted(text: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < text.length && text[j] !== quote) j += text[j] === "\\" ? 2 : 1;
  return Math.min(j + 1, text.length);
}

function readWord(text: string, i: number): number {
  let j = i;
  while (j < text.length && !WORD_END.test(text[j])) j += text[j] === "\\" ? 2 : 1;
  return Math.min(j, text.length);
}

/** Splits a query into tokens covering every character (so highlighting keeps the text). */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let inPipe = false;
  let expectCommand = false;
  const push = (kind: TokenKind, end: number) => {
    out.push({ kind, text: text.slice(i, end), from: i });
    i = end;
  };
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      let j = i;
      while (j < text.length && /\s/.test(text[j])) j++;
      push("space", j);
    } else if (c === "|") {
      inPipe = true;
      expectCommand = true;
      push("pipe", i + 1);
    } else if (c === '"') {
      push("string", readQuoted(text, i, '"'));
    } else if ("()".includes(c)) {
      push("paren", i + 1);
    } else if ("[]{}".includes(c)) {
      push("range", i + 1);
    } else if (inPipe) {
      const end = readWord(text, i);
      const word = text.slice(i, end);
      const lower = word.toLowerCase();
      if (expectCommand) {
        push((PIPE_COMMANDS as readonly string[]).includes(lower) ? "command" : "word", end);
        expectCommand = false;
      } else if (text[end] === "(") {
        push("function", end);
      } else if (PIPE_KEYWORDS.has(lower)) {
        push("keyword", end);
      } else if (/^\d+(\.\d+)?$/.test(word) || /^span=/.test(lower)) {
        push("number", end);
      } else {
        push("word", end);
      }
    } else {
      const field = FIELD_NAME.exec(text.slice(i));
      if (field && text[i + field[0].length] === ":") {
        push("field", i + field[0].length + 1);
        const cmp = /^(>=|<=|>|<)/.exec(text.slice(i));
        if (cmp) push("comparison", i + cmp[0].length);
        if (text[i] === "/") push("regex", readQuoted(text, i, "/"));
        continue;
      }
      if (c === "-" && i + 1 < text.length && !/\s/.test(text[i + 1]) && (i === 0 || /[\s(]/.test(text[i - 1]))) {
        push("operator", i + 1);
        continue;
      }
      const end = readWord(text, i);
      const word = text.slice(i, end);
      if (OPERATORS.has(word.toLowerCase()) && word.toLowerCase() !== "to") push("operator", end);
      else if (/^-?\d+(\.\d+)?$/.test(word)) push("number", end);
      else if (word.toLowerCase() === "to") push("keyword", end);
      else push("word", Math.max(end, i + 1));
    }
  }
  return out;
}

export interface FieldInfo {
  name: string;
  count: number;
  top: { value: string; count: number }[];
}

export interface Completion {
  label: string;
  /** Text that replaces [from, to). */
  insert: string;
  detail?: string;
  kind: "field" | "value" | "command" | "function" | "keyword";
}

export interface CompletionResult {
  from: number;
  to: number;
  items: Completion[];
}

/** Quotes a keyword value when the lexer would otherwise split or misread it. */
export function quoteValue(value: string): string {
  if (value !== "" && !/[\s()"[\]{}|\\*:]/.test(value) && !/^[-/<>]/.test(value) && !OPERATORS.has(value.toLowerCase())) {
    return value;
  }
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function matchPrefix(candidates: string[], prefix: string): string[] {
  const p = prefix.toLowerCase();
  const starts = candidates.filter((c) => c.toLowerCase().startsWith(p));
  const contains = candidates.filter((c) => !c.toLowerCase().startsWith(p) && p.length > 1 && c.toLowerCase().includes(p));
  return [...starts, ...contains];
}

const MAX_ITEMS = 12;

/**
 * What to offer at `cursor`: after `|` the pipe commands; inside a pipe the aggregations,
 * `by` and field names; in the filter field names (as `name:`) and, after `name:`, that
 * field's top values.
 */
export function complete(text: string, cursor: number, fields: FieldInfo[]): CompletionResult {
  const before = text.slice(0, cursor);
  const pipeAt = before.lastIndexOf("|");
  const names = [...new Set([...BUILTIN_FIELDS, ...fields.map((f) => f.name)])];
  if (pipeAt >= 0 && !insideQuotes(before)) {
    const segment = before.slice(pipeAt + 1);
    const word = /[A-Za-z0-9_.@-]*$/.exec(segment)![0];
    const from = cursor - word.length;
    const head = segment.slice(0, segment.length - word.length);
    if (head.trim() === "") {
      return {
        from, to: cursor,
        items: matchPrefix([...PIPE_COMMANDS], word).map((c) => ({ label: c, insert: `${c} `, kind: "command", detail: "pipe" })),
      };
    }
    const command = head.trim().split(/\s+/)[0].toLowerCase();
    const afterBy = /\bby\s+([^|]*)$/i.test(head);
    const inCall = /\(\s*$/.test(head);
    const items: Completion[] = [];
    if ((command === "stats" || command === "timechart") && !afterBy && !inCall) {
      for (const a of matchPrefix([...AGGREGATIONS], word)) {
        items.push({ label: `${a}()`, insert: a === "count" ? "count()" : `${a}(`, kind: "function", detail: "aggregation" });
      }
      if ("by".startsWith(word.toLowerCase()) && /\)\s*$/.test(head)) items.unshift({ label: "by", insert: "by ", kind: "keyword" });
    }
    if (command === "sort" && !/\bby\s/i.test(head)) items.push({ label: "by", insert: "by ", kind: "keyword" });
    if (items.length === 0 || afterBy || inCall || command === "fields" || command === "top" || command === "sort") {
      for (const n of matchPrefix(names, word)) items.push({ label: n, insert: n, kind: "field" });
    }
    return { from, to: cursor, items: items.slice(0, MAX_ITEMS) };
  }
  if (insideQuotes(before)) return { from: cursor, to: cursor, items: [] };
  // `field:partial` → values; a bare partial word → field names and operators.
  const valueMatch = /([A-Za-z_@][A-Za-z0-9_.@-]*):("?)([^\s()"|]*)$/.exec(before);
  if (valueMatch) {
    const [, name, , partial] = valueMatch;
    const info = fields.find((f) => f.name === name);
    const values = (info?.top ?? []).map((t) => t.value);
    const from = cursor - partial.length - valueMatch[2].length;
    return {
      from, to: cursor,
      items: matchPrefix(values, partial).slice(0, MAX_ITEMS).map((v) => ({
        label: v, insert: quoteValue(v), kind: "value",
        detail: String(info?.top.find((t) => t.value === v)?.count ?? ""),
      })),
    };
  }
  const word = /[A-Za-z0-9_.@-]*$/.exec(before)![0];
  const from = cursor - word.length;
  if (word === "") return { from, to: cursor, items: [] };
  const items: Completion[] = matchPrefix(names, word.replace(/^-/, "")).map((n) => ({
    label: `${n}:`, insert: `${word.startsWith("-") ? "-" : ""}${n}:`, kind: "field",
    detail: String(fields.find((f) => f.name === n)?.count ?? ""),
  }));
  for (const op of ["AND", "OR", "NOT"]) {
    if (op.toLowerCase().startsWith(word.toLowerCase()) && word.length >= 1) items.push({ label: op, insert: `${op} `, kind: "keyword" });
  }
  return { from, to: cursor, items: items.slice(0, MAX_ITEMS) };
}

function insideQuotes(text: string): boolean {
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') inside = !inside;
  }
  return inside;
}

/** The filter part (before the first top-level `|`) and the pipes (from it on). */
export function splitPipes(text: string): { filter: string; pipes: string } {
  for (const t of tokenize(text)) {
    if (t.kind === "pipe") return { filter: text.slice(0, t.from), pipes: text.slice(t.from) };
  }
  return { filter: text, pipes: "" };
}

/** True when the query's pipes make a table (stats, timechart, top). */
export function isAggregation(text: string): boolean {
  return tokenize(text).some((t) => t.kind === "command" && ["stats", "timechart", "top"].includes(t.text.toLowerCase()));
}

/** Adds `field:value` (or `-field:value`) to the filter, keeping the pipes after it. */
export function addFilter(text: string, field: string, value: string, negate = false): string {
  const term = `${negate ? "-" : ""}${field}:${quoteValue(value)}`;
  const { filter, pipes } = splitPipes(text);
  const f = filter.trim();
  if (f.split(/\s+/).includes(term)) return text;
  const base = f === "" || f === "*" ? term : /\bOR\b/i.test(f) ? `(${f}) ${term}` : `${f} ${term}`;
  return pipes ? `${base} ${pipes.trim()}` : base;
}

/** The server's error positions are UTF-8 byte offsets; the editor needs string indexes. */
export function byteOffsetToIndex(text: string, byteOffset: number): number {
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    if (bytes >= byteOffset) return i;
    bytes += new TextEncoder().encode(ch).length;
    i += ch.length;
  }
  return text.length;
}
