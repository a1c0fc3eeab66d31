// The Draw view's pad: a canvas drawn on with a mouse, pen or finger (pointer
// events), whose ink is read back as values 0..1 for digitPreprocess.ts.

/** Stroke width as a share of the pad's side: about MNIST's 2-3 px strokes once the digit is scaled to 20 px. */
const STROKE = 0.075;

export class DrawingPad {
  private readonly ctx: CanvasRenderingContext2D;
  /** Where the stroke being drawn is; undefined between strokes. */
  private last?: [number, number];

  /** `onStroke` is called when a stroke ends. */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    onStroke: () => void,
  ) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    canvas.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      // Keeps the moves coming when the pointer leaves the canvas mid-stroke.
      canvas.setPointerCapture(event.pointerId);
      this.last = this.at(event);
      // A tap leaves a dot.
      this.segment(this.last);
      event.preventDefault();
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.last) return;
      // The moves the browser merged into this event, for smooth fast strokes.
      for (const e of event.getCoalescedEvents?.() ?? [event]) this.segment(this.at(e));
    });
    const end = () => {
      if (!this.last) return;
      this.last = undefined;
      onStroke();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** The event's position in canvas pixels (the canvas may be shown at another size). */
  private at(event: PointerEvent): [number, number] {
    const box = this.canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * this.canvas.width) / box.width, ((event.clientY - box.top) * this.canvas.height) / box.height];
  }

  /**
   * A line from the last point to `to`, drawn alone: stroking the whole path
   * again at each move would darken its anti-aliased edges each time.
   */
  private segment(to: [number, number]): void {
    const { ctx } = this;
    ctx.lineWidth = STROKE * this.canvas.width;
    ctx.lineCap = 'round';
    ctx.strokeStyle = '#000';
    ctx.beginPath();
    ctx.moveTo(...this.last!);
    ctx.lineTo(...to);
    ctx.stroke();
    this.last = to;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** The ink, width x height values from 0 (paper) to 1: the canvas' alpha, as strokes are drawn on a transparent canvas. */
  ink(): { values: Float32Array; width: number; height: number } {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const values = new Float32Array(width * height);
    for (let i = 0; i < values.length; i++) values[i] = rgba[4 * i + 3] / 255;
    return { values, width, height };
  }
}
