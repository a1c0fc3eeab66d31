// The Profile view: GPU time of each kernel of one training step (Model.profile),
// as a table and a Chart.js bar chart, in the order the step runs them.
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip, type ChartConfiguration } from 'chart.js';
import { formatMs as ms, type KernelProfile } from '../engine';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

const BAR = '#1f6feb';

/** The table: one row per kernel, its times over the repeats, its share of the step, and its rate where its work is counted. */
export function profileTable(kernels: KernelProfile[]): HTMLTableElement {
  const total = kernels.reduce((sum, k) => sum + k.ms.median, 0);
  const table = document.createElement('table');
  table.className = 'figures';
  const head = table.createTHead().insertRow();
  for (const name of ['#', 'kernel', 'site', 'median ms', 'mean ms', 'min ms', 'max ms', 'share', 'GFLOP/s', 'GB/s']) {
    const th = document.createElement('th');
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  const row = (cells: string[]) => {
    const tr = body.insertRow();
    for (const text of cells) tr.insertCell().textContent = text;
    return tr;
  };
  kernels.forEach((k, i) => {
    // Rates from the median; a kernel too short to time (0 ms) has none.
    const rate = (amount: number) => (amount > 0 && k.ms.median > 0 ? (amount / (k.ms.median * 1e6)).toPrecision(3) : '');
    row([
      String(i + 1),
      k.kernel,
      k.site,
      ms(k.ms.median),
      ms(k.ms.mean),
      ms(k.ms.min),
      ms(k.ms.max),
      total > 0 ? `${((100 * k.ms.median) / total).toFixed(1)}%` : '',
      rate(k.work?.flops ?? 0),
      rate(k.work?.bytes ?? 0),
    ]);
  });
  row(['', 'the step (sum of the medians)', `${kernels.length} kernels`, ms(total), '', '', '', '100%', '', '']).className = 'total';
  return table;
}

/** One horizontal bar per kernel: its median time. */
export function profileChart(canvas: HTMLCanvasElement, kernels: KernelProfile[]): Chart<'bar', number[], string> {
  const config: ChartConfiguration<'bar', number[], string> = {
    type: 'bar',
    data: {
      labels: kernels.map((k, i) => `${i + 1}. ${k.kernel} · ${k.site}`),
      datasets: [{ label: 'median ms', data: kernels.map((k) => k.ms.median), backgroundColor: BAR }],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: 'y',
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => {
              const k = kernels[item.dataIndex];
              return `median ${ms(k.ms.median)} ms, mean ${ms(k.ms.mean)} ms, ${ms(k.ms.min)}–${ms(k.ms.max)} ms over ${k.ms.samples.length} steps`;
            },
          },
        },
      },
      scales: { x: { title: { display: true, text: 'median GPU time, ms' } }, y: { ticks: { autoSkip: false, font: { size: 11 } } } },
    },
  };
  return new Chart(canvas, config);
}
