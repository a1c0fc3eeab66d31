// The training chart, drawn with Chart.js: the running loss and metric (accuracy,
// or the autoencoder's mse) at each progress update of fit(), and History's
// validation figures (val_loss, val_<metric>) after each epoch when there are any.
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration, type TooltipItem } from 'chart.js';
import type { Logs } from '../engine';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

/** Each series' colour; the page's test looks for the loss colour on the canvas. */
export const COLOURS = { loss: '#d9480f', metric: '#1864ab' } as const;

/** x: epochs done, fractional (1.5 is halfway through the second epoch); y null breaks the line. */
interface Point {
  x: number;
  y: number | null;
  /** The tooltip's title. */
  where?: string;
}

type Config = ChartConfiguration<'line', Point[]>;

const series = (label: string, colour: string, axis: 'loss' | 'metric', validation: boolean): Config['data']['datasets'][number] => ({
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
  /** The metric beside the loss: 'accuracy' for a classifier, 'mse' for the autoencoder. */
  private metric = 'accuracy';

  constructor(private readonly canvas: HTMLCanvasElement) {
    const config: Config = {
      type: 'line',
      data: {
        datasets: [
          series('loss (running mean)', COLOURS.loss, 'loss', false),
          series('accuracy (running mean)', COLOURS.metric, 'metric', false),
          series('validation loss', COLOURS.loss, 'loss', true),
          series('validation accuracy', COLOURS.metric, 'metric', true),
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
          metric: {
            type: 'linear',
            position: 'right',
            min: 0,
            max: 1,
            title: { display: true, text: 'accuracy', color: COLOURS.metric },
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

  /** Clears the chart for a run of `epochs` epochs that logs `metric` beside the loss. */
  reset(epochs: number, metric: string): void {
    for (const dataset of this.datasets) dataset.data = [];
    this.lastEpoch = -1;
    this.metric = metric;
    const [, running, , validation] = this.datasets;
    running.label = `${metric} (running mean)`;
    validation.label = `validation ${metric}`;
    const { x, metric: axis } = this.chart.options.scales!;
    x!.max = Math.max(1, epochs);
    // Accuracy is a share, drawn from 0 to 1; an error's scale follows its values.
    axis!.max = metric === 'accuracy' ? 1 : undefined;
    (axis as { title: { text: string } }).title.text = metric;
    this.draw();
  }

  /** The running means of `epoch` (0-based) after `step` of its `steps` steps. */
  add(epoch: number, step: number, steps: number, logs: Logs): void {
    const x = epoch + step / steps;
    const where = `epoch ${epoch + 1}, step ${step}/${steps}`;
    const [loss, metric] = this.datasets;
    // The running means restart with each epoch: a null point breaks the line there.
    if (this.lastEpoch >= 0 && epoch !== this.lastEpoch) {
      for (const dataset of [loss, metric]) dataset.data.push({ x: epoch, y: null });
    }
    this.lastEpoch = epoch;
    loss.data.push({ x, y: logs.loss, where });
    metric.data.push({ x, y: logs[this.metric], where });
    this.draw();
  }

  /** The validation figures of `epoch` (0-based) from its logs, as History keeps them: val_loss and val_<metric>. */
  addValidation(epoch: number, logs: Logs): void {
    const where = `after epoch ${epoch + 1}`;
    this.datasets[2].data.push({ x: epoch + 1, y: logs.val_loss, where });
    this.datasets[3].data.push({ x: epoch + 1, y: logs[`val_${this.metric}`], where });
    this.draw();
  }

  private draw(): void {
    this.chart.update('none');
    this.canvas.setAttribute('aria-label', `Training chart: loss and ${this.metric} at ${this.updates} progress updates`);
  }
}
