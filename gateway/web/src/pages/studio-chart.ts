/** The studio's charts (uPlot, a well-kept charting library), one series each, and its number format. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * A uPlot chart of one or more series over x (Unix seconds for time axes, plain numbers otherwise),
 * labelled `labels` (the first blue, the second orange; as bars, two series stand side by side
 * either side of x, one is centred on it). `step()` is the x distance between two
 * points (a bucket, s): the x range is set from the data and half a step either side (a step for
 * a single point), because uPlot's own auto-range gives a single time point 1,000 days.
 */
export function chart(el: HTMLElement, title: string, labels: string | string[], time: boolean, step: () => number, kind: 'line' | 'bars' = 'line'): { set(x: number[], ...ys: number[][]): void; destroy(): void } {
  const width = () => Math.max(300, el.clientWidth || 600);
  const names = typeof labels === 'string' ? [labels] : labels;
  const colors = ['#3ea6ff', '#ff9f43'];
  const plot = new uPlot({
    title, width: width(), height: 220,
    scales: {
      x: { time, auto: false },
      y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] },
    },
    axes: [{ stroke: '#aaa', grid: { stroke: '#2a2e36' } }, { stroke: '#aaa', grid: { stroke: '#2a2e36' } }],
    series: [{}, ...names.map((label, i) => {
      const color = colors[i % colors.length]!;
      return { label, stroke: color, width: 2, fill: `${color}33`, ...(kind === 'bars' && { paths: uPlot.paths.bars!({ size: [0.8 / names.length, 40], align: (names.length === 1 ? 0 : i === 0 ? -1 : 1) as -1 | 0 | 1 }) }) };
    })],
  }, [[], ...names.map(() => [])], el);
  return {
    set: (x, ...ys) => {
      plot.setData([x, ...ys], false);
      if (!x.length) return;
      const pad = x.length === 1 ? step() : step() / 2;
      plot.setScale('x', { min: x[0]! - pad, max: x[x.length - 1]! + pad });
    },
    destroy: () => plot.destroy(),
  };
}

/** `n` for people: thousands grouped, at most `digits` decimals. */
export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
