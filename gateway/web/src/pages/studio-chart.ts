/** The studio's charts (uPlot, a well-kept charting library), one series each, and its number format. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * A uPlot chart of one series over x (Unix seconds for time axes, plain numbers otherwise).
 * `step()` is the x distance between two points (a bucket, s): the x range is set from the data
 * and half a step either side (a step for a single point), because uPlot's own auto-range gives a
 * single time point 1,000 days.
 */
export function chart(el: HTMLElement, title: string, label: string, time: boolean, step: () => number, kind: 'line' | 'bars' = 'line'): { set(x: number[], y: number[]): void; destroy(): void } {
  const width = () => Math.max(300, el.clientWidth || 600);
  const plot = new uPlot({
    title, width: width(), height: 220,
    scales: {
      x: { time, auto: false },
      y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] },
    },
    axes: [{ stroke: '#aaa', grid: { stroke: '#2a2e36' } }, { stroke: '#aaa', grid: { stroke: '#2a2e36' } }],
    series: [{}, { label, stroke: '#3ea6ff', width: 2, fill: '#3ea6ff33', ...(kind === 'bars' && { paths: uPlot.paths.bars!({ size: [0.8, 40] }) }) }],
  }, [[], []], el);
  return {
    set: (x, y) => {
      plot.setData([x, y], false);
      if (!x.length) return;
      const pad = x.length === 1 ? step() : step() / 2;
      plot.setScale('x', { min: x[0]! - pad, max: x[x.length - 1]! + pad });
    },
    destroy: () => plot.destroy(),
  };
}


/** `n` for people: thousands grouped, at most `digits` decimals. */
export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
