// bench.html's charts, drawn with Chart.js: ms/step of ours and TensorFlow.js'
// per model, and the time of each of a model's kernels.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LogarithmicScale, Title, Tooltip, type ChartConfiguration } from 'chart.js';
import type { ModelResult } from './suite';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Legend, Title, Tooltip);

/** Each side's bar colour; the page's test looks for them on the canvas. */
export const COLOURS = { ours: '#1f6feb', tfjs: '#f29111' } as const;

// Drawn at once, without animation, so that what a screenshot or a test sees is the final chart.
const common = { animation: false, responsive: true, maintainAspectRatio: false } as const;

const ms = (value: number) => `${value.toPrecision(3)} ms`;

/** ms/step at the comparison batch, ours beside TensorFlow.js', one group per model. */
export function comparisonChart(canvas: HTMLCanvasElement, models: ModelResult[]): Chart<'bar', (number | null)[], string> {
  const values = models.flatMap((m) => [m.oursMsPerStep, m.tfjsMsPerStep ?? Infinity]).filter(Number.isFinite);
  // The CNN's step is ~100 times the dense network's: on a linear axis the latter's bars would vanish.
  const logarithmic = Math.max(...values) / Math.min(...values) > 20;
  const config: ChartConfiguration<'bar', (number | null)[], string> = {
    type: 'bar',
    data: {
      labels: models.map((m) => m.model),
      datasets: [
        { label: 'ours', data: models.map((m) => m.oursMsPerStep), backgroundColor: COLOURS.ours },
        { label: 'TensorFlow.js (WebGPU)', data: models.map((m) => m.tfjsMsPerStep), backgroundColor: COLOURS.tfjs },
      ],
    },
    options: {
      ...common,
      plugins: {
        title: { display: true, text: `Training step at batch ${models[0]?.batch}: ms/step, lower is faster` },
        tooltip: {
          callbacks: {
            label: (item) => `${item.dataset.label}: ${ms(item.parsed.y ?? NaN)}`,
            afterBody: ([item]) => {
              const ratio = models[item.dataIndex].ratio;
              return ratio === null ? '' : `TF.js / ours: ${ratio.toFixed(2)}×`;
            },
          },
        },
      },
      scales: { y: { type: logarithmic ? 'logarithmic' : 'linear', title: { display: true, text: logarithmic ? 'ms/step (log scale)' : 'ms/step' } } },
    },
  };
  return new Chart(canvas, config);
}

/** One horizontal bar per kernel, in the order the step runs them: its median time. */
export function kernelChart(canvas: HTMLCanvasElement, m: ModelResult): Chart<'bar', number[], string> {
  const rows = m.kernels.rows;
  const what = m.kernels.method === 'timestamp-query' ? 'GPU time (timestamp queries)' : 'wall time of submissions (no timestamp queries)';
  const config: ChartConfiguration<'bar', number[], string> = {
    type: 'bar',
    data: {
      labels: rows.map((k, i) => `${i + 1}. ${k.kernel} · ${k.site}`),
      datasets: [{ label: 'median ms', data: rows.map((k) => k.ms.median), backgroundColor: COLOURS.ours }],
    },
    options: {
      ...common,
      indexAxis: 'y',
      plugins: {
        legend: { display: false },
        title: { display: true, text: `Kernels of ${m.model} at batch ${m.batch}: median ${what}, ms` },
        tooltip: {
          callbacks: {
            label: (item) => {
              const k = rows[item.dataIndex];
              return `median ${ms(k.ms.median)}, mean ${ms(k.ms.mean)}, ${ms(k.ms.min)}–${ms(k.ms.max)}`;
            },
          },
        },
      },
      scales: { x: { title: { display: true, text: 'ms' } }, y: { ticks: { autoSkip: false, font: { size: 11 } } } },
    },
  };
  return new Chart(canvas, config);
}
