import { describe, expect, it } from "vitest";
import { formatMatchers, matches, matchersFor, MatcherError, parseMatchers } from "./matchers";

describe("matchers", () => {
  it("parses every operator, braces optional, and prints back", () => {
    const ms = parseMatchers('{alertname="Down", severity=~"page|crit", env!="dev", team!~"a.*"}');
    expect(ms).toEqual([
      { name: "alertname", value: "Down", isRegex: false, isEqual: true },
      { name: "severity", value: "page|crit", isRegex: true, isEqual: true },
      { name: "env", value: "dev", isRegex: false, isEqual: false },
      { name: "team", value: "a.*", isRegex: true, isEqual: false },
    ]);
    expect(formatMatchers(ms)).toBe('alertname="Down", severity=~"page|crit", env!="dev", team!~"a.*"');
    expect(parseMatchers("alertname=Down,job=api")).toEqual(parseMatchers('alertname="Down", job="api"'));
    expect(parseMatchers('msg="a \\"quoted\\" word"')[0].value).toBe('a "quoted" word');
    expect(parseMatchers("  ")).toEqual([]);
  });

  it("names what is wrong and where", () => {
    for (const [bad, want] of [
      ['alertname"Down"', "expected =, !=, =~ or !~"],
      ['="x"', "expected a label name at position 1"],
      ['a="x" b="y"', "expected , at position 7"],
      ['a="x', "unterminated"],
      ['{a="x"', "missing closing }"],
      ['a=~"("', "invalid regular expression"],
    ] as const) {
      expect(() => parseMatchers(bad), bad).toThrow(MatcherError);
      expect(() => parseMatchers(bad), bad).toThrow(want);
    }
  });

  it("matches labels as Alertmanager does (anchored regexes, missing labels are empty)", () => {
    const labels = { alertname: "Down", severity: "page" };
    expect(matches(parseMatchers('severity=~"pa.*"'), labels)).toBe(true);
    expect(matches(parseMatchers('severity=~"pa"'), labels)).toBe(false);
    expect(matches(parseMatchers('team=""'), labels)).toBe(true);
    expect(matches(parseMatchers('team!=""'), labels)).toBe(false);
    expect(matches(matchersFor(labels), labels)).toBe(true);
    expect(matchersFor({ b: "1", alertname: "X", a: "2" }).map((m) => m.name)).toEqual(["alertname", "a", "b"]);
  });
});
