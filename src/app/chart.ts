// A live chart of the running loss and accuracy during fit(), drawn on a 2D canvas.
import type { Logs } from '../engine';

interface Point extends Logs {
  epoch: number;
  /** Epochs done, fractional: 1.5 is halfway through the second epoch. */
  x: number;
}

const LOSS_COLOR = '#d9480f';
const ACCURACY_COLOR = '#1864ab';
const MARGIN = { left: 48, right: 48, top: 24, bottom: 30 };

export class LiveChart {
  private points: Point[] = [];
  private epochs = 1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Clears the chart for a run of `epochs` epochs. */
  reset(epochs: number): void {
    this.points = [];
    this.epochs = Math.max(1, epochs);
    this.draw();
  }

  /** Adds the running means of `epoch` (0-based) after `fraction` of its steps. */
  add(epoch: number, fraction: number, logs: Logs): void {
    this.points.push({ epoch, x: epoch + fraction, loss: logs.loss, accuracy: logs.accuracy });
    this.draw();
  }

  draw(): void {
    const { canvas } = this;
    const scale = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px system-ui, sans-serif';

    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const finite = this.points.filter((p) => Number.isFinite(p.loss));
    // The loss axis starts at 0 and ends at a round number above the largest loss seen.
    const maxLoss = niceCeil(Math.max(0.5, ...finite.map((p) => p.loss)));
    const px = (x: number) => MARGIN.left + (x / this.epochs) * plotW;
    const pyLoss = (loss: number) => MARGIN.top + plotH * (1 - loss / maxLoss);
    const pyAccuracy = (accuracy: number) => MARGIN.top + plotH * (1 - accuracy);

    // Grid: five horizontal lines, one vertical line per epoch.
    ctx.strokeStyle = '#e5e5e5';
    ctx.fillStyle = '#666';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = MARGIN.top + (plotH * i) / 4;
      line(ctx, MARGIN.left, y, MARGIN.left + plotW, y);
      ctx.textAlign = 'right';
      ctx.fillStyle = LOSS_COLOR;
      ctx.fillText(formatTick(maxLoss * (1 - i / 4)), MARGIN.left - 6, y + 4);
      ctx.textAlign = 'left';
      ctx.fillStyle = ACCURACY_COLOR;
      ctx.fillText((1 - i / 4).toFixed(2), MARGIN.left + plotW + 6, y + 4);
    }
    ctx.fillStyle = '#666';
    ctx.textAlign = 'center';
    const tickEvery = Math.ceil(this.epochs / 10);
    for (let e = 0; e <= this.epochs; e += tickEvery) {
      line(ctx, px(e), MARGIN.top, px(e), MARGIN.top + plotH);
      ctx.fillText(String(e), px(e), MARGIN.top + plotH + 14);
    }
    ctx.fillText('epoch', MARGIN.left + plotW / 2, height - 4);

    // Legend.
    ctx.textAlign = 'left';
    ctx.fillStyle = LOSS_COLOR;
    ctx.fillText('━ loss (running mean)', MARGIN.left, 14);
    ctx.fillStyle = ACCURACY_COLOR;
    ctx.fillText('━ accuracy (running mean)', MARGIN.left + 150, 14);

    // One line segment per epoch: the running means restart at each epoch.
    ctx.lineWidth = 2;
    for (const [color, y] of [
      [LOSS_COLOR, (p: Point) => pyLoss(p.loss)],
      [ACCURACY_COLOR, (p: Point) => pyAccuracy(p.accuracy)],
    ] as const) {
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.beginPath();
      finite.forEach((p, i) => {
        if (i === 0 || finite[i - 1].epoch !== p.epoch) ctx.moveTo(px(p.x), y(p));
        else ctx.lineTo(px(p.x), y(p));
      });
      ctx.stroke();
      for (const p of finite) {
        ctx.beginPath();
        ctx.arc(px(p.x), y(p), 2, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
}

function line(ctx: CanvasRenderingContext2D, x0: number, y0: number, x1: number, y1: number): void {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

/** A round axis maximum >= v with four equal, round steps below it (0.8 -> 1.6 -> 2.4 -> 3.2). */
function niceCeil(v: number): number {
  const quarter = v / 4;
  const power = 10 ** Math.floor(Math.log10(quarter));
  const step = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * power >= quarter)! * power;
  return 4 * step;
}

function formatTick(v: number): string {
  return String(Number(v.toPrecision(3)));
}
