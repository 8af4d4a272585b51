import { describe, expect, it } from "vitest";
import { ALL, formatInterval, formatLegend, interpolateLogs, interpolatePromql, panelInterval, referencedVars, type VarValues } from "./dashVars";

const b = { intervalS: 60, rangeMs: 6 * 3_600_000 };
const one: VarValues = { service: { values: ["checkout"], all: ["checkout", "web"] } };
const two: VarValues = { service: { values: ["checkout", "web.v2"], all: [] } };
const all: VarValues = { service: { values: [ALL], all: ["checkout", "web"] } };

describe("interpolation", () => {
  it("PromQL: one value as is, several as a regex matcher", () => {
    expect(interpolatePromql('rate(x{job="$service"}[$__interval])', one, b)).toBe('rate(x{job="checkout"}[1m])');
    expect(interpolatePromql('x{job="${service}"}', two, b)).toBe('x{job=~"checkout|web\\\\.v2"}');
    expect(interpolatePromql('x{job!="$service"}', two, b)).toBe('x{job!~"checkout|web\\\\.v2"}');
    expect(interpolatePromql('x{job="$service"}', all, b)).toBe('x{job=~".*"}');
    expect(interpolatePromql('x{job=~"$service"}', two, b)).toBe('x{job=~"(checkout|web\\.v2)"}');
    expect(interpolatePromql("x[$__range] $unknown", one, b)).toBe("x[6h] $unknown");
    expect(interpolatePromql('up{job="$none"}', { none: { values: [], all: [] } }, b)).toBe('up{job=""}');
  });
  it("logs: field:$v becomes an OR group; All matches any value", () => {
    expect(interpolateLogs("service:$service | timechart span=$__interval count()", one, b)).toBe("service:checkout | timechart span=1m count()");
    expect(interpolateLogs("service:${service} level:error", two, b)).toBe("(service:checkout OR service:web.v2) level:error");
    expect(interpolateLogs("service:$service", all, b)).toBe("service:*");
    expect(interpolateLogs('msg:$m', { m: { values: ["a b"], all: [] } }, b)).toBe('msg:"a b"');
    expect(interpolateLogs("$service", two, b)).toBe("(checkout OR web.v2)");
  });
  it("names the variables a query uses", () => {
    expect(referencedVars('x{a="$one", b="${two}"} $__interval')).toEqual(["one", "two", "__interval"]);
  });
  it("legends take series labels", () => {
    expect(formatLegend("{{job}} {{ code }}", { job: "api", code: "500" }, "x")).toBe("api 500");
    expect(formatLegend(undefined, {}, "x")).toBe("x");
  });
});

describe("$__interval", () => {
  it("is about one point per 3 px, rounded to a nice step", () => {
    expect(panelInterval(3_600_000, 600)).toBe(30);
    expect(panelInterval(6 * 3_600_000, 1200)).toBe(60);
    expect(panelInterval(5 * 60_000, 1200)).toBe(15);
    expect(panelInterval(5 * 60_000, 1200, 1)).toBe(1);
    expect(panelInterval(30 * 86_400_000, 300)).toBe(43200);
  });
  it("formats seconds with the largest unit", () => {
    expect([formatInterval(30), formatInterval(120), formatInterval(7200), formatInterval(86400)]).toEqual(["30s", "2m", "2h", "1d"]);
  });
});

import { resolveVars } from "./dashVars";

describe("variable values", () => {
  const defs = [
    { name: "service", kind: "field_values", default: "checkout" },
    { name: "instance", kind: "label_values", multi: true, include_all: true },
    { name: "env", kind: "custom" },
    { name: "cluster", kind: "constant", value: "eu-1" },
  ];
  const opts = { service: ["checkout", "web"], instance: ["a", "b"], env: ["prod", "staging"] };
  it("takes the URL's, else the default, else All or the first option", () => {
    expect(resolveVars(defs, opts, {})).toEqual({
      service: { values: ["checkout"], all: ["checkout", "web"] },
      instance: { values: [ALL], all: ["a", "b"] },
      env: { values: ["prod"], all: ["prod", "staging"] },
      cluster: { values: ["eu-1"], all: ["eu-1"] },
    });
    const r = resolveVars(defs, opts, { service: ["web", "x"], instance: ["a", "b"], cluster: ["no"] });
    expect(r.service.values).toEqual(["web"]);
    expect(r.instance.values).toEqual(["a", "b"]);
    expect(r.cluster.values).toEqual(["eu-1"]);
  });
});
