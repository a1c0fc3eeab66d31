// A progress line for a wait: what is under way, and the time since the wait
// began, ticking each second, so that a stage that lasts (a kernel compiling
// on a software adapter) still shows the page is at work.

/** `0:07`, `12:30`: minutes and seconds. */
const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

export class ProgressLine {
  private timer?: ReturnType<typeof setInterval>;
  private started = 0;
  private text = '';

  constructor(readonly element: HTMLElement) {}

  /** Shows `text`, with the time since the first `show` after the last `stop`. */
  show(text: string): void {
    this.text = text;
    if (this.timer === undefined) {
      this.started = performance.now();
      this.timer = setInterval(() => this.render(), 1000);
    }
    this.render();
  }

  /** Stops the clock, and shows `text` (with the time it took) if given; the line keeps what it shows until then. */
  stop(text?: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (text !== undefined) this.element.textContent = text;
  }

  /** Seconds since the wait began. */
  get seconds(): number {
    return Math.floor((performance.now() - this.started) / 1000);
  }

  private render(): void {
    this.element.textContent = `${this.text} · ${clock(this.seconds)}`;
  }
}
