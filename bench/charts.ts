// bench.html's charts, drawn with Chart.js: ms/step of ours and TensorFlow.js'
// per model, the roofline with a point per kernel, and the time of each of a model's kernels.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Ticks,
  Title,
  Tooltip,
  type ChartConfiguration,
  type Scale,
  type Tick,
  type ChartDataset,
} from 'chart.js';
import type { Roofline } from './roofline';
import type { ModelResult } from './suite';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LogarithmicScale, Legend, Title, Tooltip, ScatterController, PointElement, LineElement);

/** Each side's bar colour, the roofline's, and each model's points; the page's test looks for them on the canvas. */
export const COLOURS = { ours: '#1f6feb', tfjs: '#f29111', roof: '#59636e', models: ['#1f6feb', '#2da44e', '#cf222e'] } as const;

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

type Point = { x: number; y: number; name: string };

/**
 * The roofline, log-log: GFLOP/s against FLOPs a byte, the f32 roof (and the
 * f16 one, dashed), a point per kernel of each model (hover names it) and one
 * per step. A kernel of no FLOPs has no place on a log scale: the title counts them.
 */
export function rooflineChart(canvas: HTMLCanvasElement, roofline: Roofline, models: ModelResult[]): Chart<'scatter', Point[]> {
  const kernelPoints = (m: ModelResult) =>
    m.kernels.rows.flatMap((k, i): Point[] =>
      k.intensity && k.gflops ? [{ x: k.intensity, y: k.gflops, name: `${i + 1}. ${k.kernel} · ${k.site}: ${percentOf(k.rooflineFraction)} of the roofline` }] : [],
    );
  const stepPoint = (m: ModelResult): Point => ({ x: m.ours.intensity, y: m.ours.gflops, name: `${m.model} step at batch ${m.batch}: ${percentOf(m.ours.rooflineFraction)} of the roofline` });
  const points = models.flatMap((m) => [...kernelPoints(m), stepPoint(m)]);
  const xs = [...points.map((p) => p.x), roofline.ridge];
  const [left, right] = [Math.min(...xs) / 2, Math.max(...xs) * 2];
  const roof = (peak: number): Point[] => [
    { x: left, y: Math.min(peak, left * roofline.gbPerSecond.rate), name: '' },
    { x: peak / roofline.gbPerSecond.rate, y: peak, name: '' },
    { x: right, y: peak, name: '' },
  ].filter((p) => p.x >= left && p.x <= right);
  const line = (label: string, data: Point[], dashed = false): ChartDataset<'scatter', Point[]> => ({
    label,
    data,
    showLine: true,
    borderColor: COLOURS.roof,
    backgroundColor: COLOURS.roof,
    borderDash: dashed ? [6, 4] : [],
    pointRadius: 0,
    pointHitRadius: 0,
  });
  const unplaced = models.reduce((sum, m) => sum + m.kernels.rows.filter((k) => !k.intensity).length, 0);
  const config: ChartConfiguration<'scatter', Point[]> = {
    type: 'scatter',
    data: {
      datasets: [
        line(`roofline: ${roofline.gflops.rate.toPrecision(3)} GFLOP/s f32, ${roofline.gbPerSecond.rate.toPrecision(3)} GB/s`, roof(roofline.gflops.rate)),
        ...(roofline.f16Gflops ? [line(`f16 roof: ${roofline.f16Gflops.rate.toPrecision(3)} GFLOP/s`, roof(roofline.f16Gflops.rate), true)] : []),
        ...models.flatMap((m, i): ChartDataset<'scatter', Point[]>[] => {
          const colour = COLOURS.models[i % COLOURS.models.length];
          return [
            { label: `${m.model} kernels`, data: kernelPoints(m), backgroundColor: colour, borderColor: colour, pointRadius: 5 },
            { label: `${m.model} step`, data: [stepPoint(m)], backgroundColor: colour, borderColor: colour, pointRadius: 8, pointStyle: 'rectRot' },
          ];
        }),
      ],
    },
    options: {
      ...common,
      plugins: {
        title: {
          display: true,
          text: [
            `Roofline at batch ${models[0]?.batch}: GFLOP/s against FLOPs a byte, log-log`,
            ...(unplaced ? [`${unplaced} kernel${unplaced > 1 ? 's' : ''} of no FLOPs not drawn (their GB/s are in the tables)`] : []),
          ],
        },
        tooltip: { callbacks: { label: (item) => `${item.raw && (item.raw as Point).name}: ${item.parsed.x?.toPrecision(3)} FLOP/byte, ${item.parsed.y?.toPrecision(3)} GFLOP/s` } },
      },
      scales: {
        x: { type: 'logarithmic', min: left, max: right, title: { display: true, text: 'FLOPs a byte (log scale)' }, ticks: { callback: shortTick } },
        y: { type: 'logarithmic', title: { display: true, text: 'GFLOP/s (log scale)' }, ticks: { callback: shortTick } },
      },
    },
  };
  return new Chart(canvas, config);
}

/** The ticks Chart.js labels on a log axis, in as few digits as they need: 0.5, 2, 100 rather than 0.5000, 2.0000. */
function shortTick(this: Scale, value: number | string, index: number, ticks: Tick[]): string {
  return Ticks.formatters.logarithmic.call(this, Number(value), index, ticks) ? `${+Number(value).toPrecision(3)}` : '';
}

const percentOf = (fraction: number | null) => (fraction === null ? '—' : `${(100 * fraction).toPrecision(3)}%`);

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
