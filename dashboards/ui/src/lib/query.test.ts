import { describe, expect, it } from "vitest";
import { addFilter, byteOffsetToIndex, complete, isAggregation, quoteValue, splitPipes, tokenize } from "./query";

const fields = [
  { name: "service", count: 10, top: [{ value: "payments", count: 6 }, { value: "checkout", count: 4 }] },
  { name: "http.status_code", count: 9, top: [] },
  { name: "user.name", count: 3, top: [{ value: "Ada Lovelace", count: 3 }] },
];

describe("tokenize", () => {
  it("covers every character, so highlighting keeps the text", () => {
    for (const q of ['service:api level:>=warn "a b" -host:x | stats count() by service', 'a\\ b (c OR d) /x/', 'path:/\\/api\\/.*/ x:[1 TO 5}', '"unclosed']) {
      expect(tokenize(q).map((t) => t.text).join("")).toBe(q);
    }
  });
  it("tells fields, operators, strings, pipes, commands and functions apart", () => {
    const kinds = tokenize('service:api AND -x "p" | stats count() by service').filter((t) => t.kind !== "space").map((t) => `${t.kind}:${t.text}`);
    expect(kinds).toEqual(["field:service:", "word:api", "operator:AND", "operator:-", "word:x", 'string:"p"', "pipe:|", "command:stats", "function:count", "paren:(", "paren:)", "keyword:by", "word:service"]);
  });
  it("reads comparisons and regexes after a field", () => {
    expect(tokenize("code:>=500").map((t) => t.kind)).toEqual(["field", "comparison", "number"]);
    expect(tokenize("service:/api-.*/").map((t) => t.kind)).toEqual(["field", "regex"]);
  });
  it("keeps a dash inside a word", () => {
    expect(tokenize("u-123").map((t) => t.kind)).toEqual(["word"]);
  });
});

describe("complete", () => {
  it("offers field names for a bare word, as `name:`", () => {
    const r = complete("serv", 4, fields);
    expect(r.from).toBe(0);
    expect(r.items[0]).toMatchObject({ label: "service:", insert: "service:" });
  });
  it("keeps a negation in front of the field", () => {
    expect(complete("a -serv", 7, fields).items[0].insert).toBe("-service:");
  });
  it("offers a field's top values after the colon, quoted when needed", () => {
    const r = complete("level:error service:pa", 22, fields);
    expect(r.from).toBe(20);
    expect(r.items.map((i) => i.label)).toEqual(["payments"]);
    expect(complete("user.name:", 10, fields).items[0].insert).toBe('"Ada Lovelace"');
  });
  it("offers pipes after |, aggregations in stats, fields after by", () => {
    expect(complete("x | ti", 6, fields).items.map((i) => i.label)).toEqual(["timechart"]);
    expect(complete("x | stats co", 12, fields).items.map((i) => i.label)).toEqual(["count()", "count_distinct()"]);
    expect(complete("x | stats count() by serv", 25, fields).items.map((i) => i.label)).toContain("service");
    expect(complete("x | stats count() b", 19, fields).items[0].label).toBe("by");
    expect(complete("x | stats avg(http", 18, fields).items.map((i) => i.label)).toEqual(["http.status_code"]);
  });
  it("offers nothing inside a phrase", () => {
    expect(complete('"serv', 5, fields).items).toEqual([]);
  });
});

describe("filters from facets", () => {
  it("adds to the filter, before the pipes, and does not repeat itself", () => {
    expect(addFilter("", "service", "api")).toBe("service:api");
    expect(addFilter("*", "service", "api")).toBe("service:api");
    expect(addFilter("error", "service", "api", true)).toBe("error -service:api");
    expect(addFilter("error | stats count() by host", "service", "api")).toBe("error service:api | stats count() by host");
    expect(addFilter("service:api", "service", "api")).toBe("service:api");
  });
  it("keeps an OR together", () => {
    expect(addFilter("a OR b", "host", "x")).toBe("(a OR b) host:x");
  });
  it("quotes what the lexer would misread", () => {
    expect(quoteValue("plain")).toBe("plain");
    expect(quoteValue("two words")).toBe('"two words"');
    expect(quoteValue('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteValue("/var/log")).toBe('"/var/log"');
    expect(quoteValue("OR")).toBe('"OR"');
    expect(quoteValue("")).toBe('""');
  });
});

describe("pipes", () => {
  it("splits at the first pipe outside quotes", () => {
    expect(splitPipes('"a|b" x | stats count()')).toEqual({ filter: '"a|b" x ', pipes: "| stats count()" });
    expect(isAggregation("x | sort by _time asc")).toBe(false);
    expect(isAggregation("x | top 5 service")).toBe(true);
  });
});

it("maps the server's byte offsets to string indexes", () => {
  expect(byteOffsetToIndex("abc", 2)).toBe(2);
  expect(byteOffsetToIndex("überweisung x", 3)).toBe(2);
  expect(byteOffsetToIndex("ab", 10)).toBe(2);
});
