// The training chart, drawn with Chart.js: the running loss and accuracy at each
// progress update of fit(), and the validation figures after each epoch when there are any.
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration, type TooltipItem } from 'chart.js';
import type { Logs } from '../engine';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

/** Each series' colour; the page's test looks for the loss colour on the canvas. */
export const COLOURS = { loss: '#d9480f', accuracy: '#1864ab' } as const;

/** x: epochs done, fractional (1.5 is halfway through the second epoch); y null breaks the line. */
interface Point {
  x: number;
  y: number | null;
  /** The tooltip's title. */
  where?: string;
}

type Config = ChartConfiguration<'line', Point[]>;

const series = (label: string, colour: string, axis: 'loss' | 'accuracy', validation: boolean): Config['data']['datasets'][number] => ({
  label,
  data: [],
  yAxisID: axis,
  borderColor: colour,
  backgroundColor: colour,
  borderWidth: 2,
  // Validation figures are one point per epoch, drawn as diamonds without a line; the last is on the
  // chart's right edge, and would be cut in half there.
  ...(validation ? { showLine: false, pointStyle: 'rectRot', pointRadius: 6, pointHoverRadius: 8, clip: false } : { pointRadius: 2, pointHoverRadius: 4 }),
});

export class TrainingChart {
  private readonly chart: Chart<'line', Point[]>;
  private lastEpoch = -1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const config: Config = {
      type: 'line',
      data: {
        datasets: [
          series('loss (running mean)', COLOURS.loss, 'loss', false),
          series('accuracy (running mean)', COLOURS.accuracy, 'accuracy', false),
          series('validation loss', COLOURS.loss, 'loss', true),
          series('validation accuracy', COLOURS.accuracy, 'accuracy', true),
        ],
      },
      options: {
        // Drawn at once, so that a screenshot or a test sees the chart as it is.
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: 'nearest', intersect: false },
        plugins: {
          legend: { labels: { filter: (item, data) => data.datasets[item.datasetIndex ?? 0].data.length > 0 } },
          tooltip: {
            callbacks: {
              title: (items: TooltipItem<'line'>[]) => (items[0]?.raw as Point | undefined)?.where ?? '',
              label: (item: TooltipItem<'line'>) => `${item.dataset.label}: ${(item.raw as Point).y?.toFixed(4)}`,
            },
          },
        },
        scales: {
          x: { type: 'linear', min: 0, max: 1, title: { display: true, text: 'epoch' }, ticks: { precision: 0 } },
          loss: { type: 'linear', position: 'left', min: 0, title: { display: true, text: 'loss', color: COLOURS.loss } },
          accuracy: {
            type: 'linear',
            position: 'right',
            min: 0,
            max: 1,
            title: { display: true, text: 'accuracy', color: COLOURS.accuracy },
            grid: { drawOnChartArea: false },
          },
        },
      },
    };
    this.chart = new Chart(canvas, config);
  }

  private get datasets() {
    return this.chart.data.datasets;
  }

  /** Progress updates plotted so far. */
  get updates(): number {
    return this.datasets[0].data.filter((p) => p.y !== null).length;
  }

  /** Clears the chart for a run of `epochs` epochs. */
  reset(epochs: number): void {
    for (const dataset of this.datasets) dataset.data = [];
    this.lastEpoch = -1;
    this.chart.options.scales!.x!.max = Math.max(1, epochs);
    this.draw();
  }

  /** The running means of `epoch` (0-based) after `step` of its `steps` steps. */
  add(epoch: number, step: number, steps: number, logs: Logs): void {
    const x = epoch + step / steps;
    const where = `epoch ${epoch + 1}, step ${step}/${steps}`;
    const [loss, accuracy] = this.datasets;
    // The running means restart with each epoch: a null point breaks the line there.
    if (this.lastEpoch >= 0 && epoch !== this.lastEpoch) {
      for (const dataset of [loss, accuracy]) dataset.data.push({ x: epoch, y: null });
    }
    this.lastEpoch = epoch;
    loss.data.push({ x, y: logs.loss, where });
    accuracy.data.push({ x, y: logs.accuracy, where });
    this.draw();
  }

  /** The validation loss and accuracy after `epoch` (0-based). */
  addValidation(epoch: number, loss: number, accuracy: number): void {
    const where = `after epoch ${epoch + 1}`;
    this.datasets[2].data.push({ x: epoch + 1, y: loss, where });
    this.datasets[3].data.push({ x: epoch + 1, y: accuracy, where });
    this.draw();
  }

  private draw(): void {
    this.chart.update('none');
    this.canvas.setAttribute('aria-label', `Training chart: loss and accuracy at ${this.updates} progress updates`);
  }
}
