// Server-Sent Events over fetch: EventSource cannot send the Authorization header, so the
// live tail reads the stream itself. Parses `event:`/`data:` lines per the SSE format.

import { authHeaders, needToken } from "./token";
import { ApiError } from "./client";

export interface SseEvent {
  event: string;
  data: string;
}

export async function streamEvents(url: string, onEvent: (e: SseEvent) => void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
  const resp = await fetch(url, { headers: { ...authHeaders(), accept: "text/event-stream" }, signal });
  if (resp.status === 401) {
    await needToken();
    return streamEvents(url, onEvent, signal, onOpen);
  }
  if (!resp.ok || !resp.body) {
    const text = await resp.text();
    let msg = text;
    try {
      msg = JSON.parse(text).error ?? text;
    } catch {
      /* plain text */
    }
    throw new ApiError(msg || resp.statusText, resp.status);
  }
  onOpen?.();
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      onEvent(parseBlock(block));
    }
  }
}

export function parseBlock(block: string): SseEvent {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
  }
  return { event, data: data.join("\n") };
}
