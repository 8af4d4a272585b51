// Loads data now, again every `everyMs` and whenever `reload()` is called; keeps the last
// good answer while a refresh is running, and the error of the last failed one.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { isAbort } from "../../api/client";

export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs = 10_000) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    loadRef.current(ctl.signal).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e) => {
        if (!isAbort(e)) setError((e as Error).message);
      },
    );
    const timer = window.setTimeout(() => setTick((t) => t + 1), everyMs);
    return () => {
      ctl.abort();
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, everyMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}
