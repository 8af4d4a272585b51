// Export of the current query and range, streamed by the server (the export API) and saved
// as a file. The token, when there is one, goes in a header, so the download is a fetch.

import { useState } from "preact/hooks";
import { api, ApiError, download, isAbort, RangeParams } from "../../api/client";
import css from "./Explore.module.css";

export function ExportMenu({ query, range }: { query: string; range: RangeParams | null }) {
  const [status, setStatus] = useState<string | null>(null);
  const run = async (format: "ndjson" | "csv") => {
    if (!range) return;
    setStatus(`Exporting ${format.toUpperCase()}…`);
    try {
      const bytes = await download(api.exportUrl(query.trim() || "*", range, format), `pharos-export.${format}`);
      setStatus(`Exported ${(bytes / 1024).toFixed(1)} KiB as ${format.toUpperCase()}`);
    } catch (e) {
      if (!isAbort(e)) setStatus(`Export failed: ${e instanceof ApiError ? e.message : String(e)}`);
    }
  };
  return (
    // data-ndjson names what the NDJSON button fetches (the browser tests compare the file to it).
    <div class={css.export} role="group" aria-label="Export" data-ndjson={range ? api.exportUrl(query.trim() || "*", range, "ndjson") : undefined}>
      <button type="button" class="btn small" disabled={!range} onClick={() => run("ndjson")}>Export NDJSON</button>
      <button type="button" class="btn small" disabled={!range} onClick={() => run("csv")}>Export CSV</button>
      {status && <span class="muted" role="status">{status}</span>}
    </div>
  );
}
