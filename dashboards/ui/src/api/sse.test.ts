import { expect, it } from "vitest";
import { parseBlock } from "./sse";

it("parses server-sent event blocks", () => {
  expect(parseBlock('event: record\ndata: {"a":1}')).toEqual({ event: "record", data: '{"a":1}' });
  expect(parseBlock("data: a\ndata: b")).toEqual({ event: "message", data: "a\nb" });
  expect(parseBlock(": keep-alive")).toEqual({ event: "message", data: "" });
});
