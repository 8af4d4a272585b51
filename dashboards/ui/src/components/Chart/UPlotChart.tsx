// A thin uPlot wrapper: creates the plot, keeps it sized to its box, and rebuilds it when
// the options change. Data shaping lives in lib/ (histogram.ts, table.ts).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

interface Props {
  options: Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
  height: number;
  label: string;
  onCreate?: (u: uPlot) => void;
}

export function UPlotChart({ options, data, height, label, onCreate }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot({ ...options, width: Math.max(100, el.clientWidth), height }, data, el);
    plot.current = u;
    onCreate?.(u);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(100, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [options, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} role="img" aria-label={label} />;
}
