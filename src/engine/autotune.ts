// Kernels chosen by measurement: a dispatch that has variants (Dispatch.tunable,
// e.g. conv2d's rows per invocation, matmul's workgroup size) is timed in each
// of them on this adapter when a model's plan is built, and the fastest is
// used. The choice is cached per adapter, kernel (its code and variants) and
// shape, so that the next build on the same adapter times nothing.
//
// Timing: each variant's dispatch alone, repeated in one compute pass until the
// pass takes a few milliseconds (a kernel of microseconds on a GPU must outlast
// the timestamps' rounding), timed by the pass' timestamps where the device has
// them, else by the wall time to onSubmittedWorkDone. Then the fastest few are
// timed again in turn, and each keeps its fastest time: a machine's speed can
// drift within seconds (on a shared CPU, by 2x), which would otherwise crown
// whichever variant ran in a fast moment. A variant that fails to
// build on this adapter (a limit it exceeds) is skipped. Every variant computes
// the same values: each passes the kernel tests against the float64 reference.
import { describeAdapter, type Gpu } from './device';
import { Timestamps } from './profile';
import { encodeDispatches, useVariant, type Dispatch } from './pipelines';
import type { SetupListener } from './setupProgress';

/** 'off': the default variants; 'cached': cached choices, tuning (within a time budget) what is not cached; 'full': tune everything again. */
export type AutotuneMode = 'off' | 'cached' | 'full';

export const AUTOTUNE_MODES: readonly AutotuneMode[] = ['off', 'cached', 'full'];

/** `value` as a mode, or an error that names `what` was given it (`compile(): autotune`, `--autotune`). */
export function autotuneMode(what: string, value: string): AutotuneMode {
  if (!(AUTOTUNE_MODES as readonly string[]).includes(value)) throw new Error(`${what} must be one of ${AUTOTUNE_MODES.join(', ')}, got '${value}'`);
  return value as AutotuneMode;
}

/** Where the choices are kept between runs: a file in Node (src/node), localStorage in a browser. */
export interface TuningStore {
  /** Names it in notices: a path, or `localStorage`. */
  name: string;
  read(): Promise<string | null>;
  write(text: string): Promise<void>;
}

/** The choice for one dispatch of a plan. */
export interface TuningChoice {
  /** Where the graph placed the dispatch: `layer 2 (conv2d)`. */
  site: string;
  /** The kernel tuned, by its built-in name (Tunable.kernel), though its variant may run code from another file. */
  kernel: string;
  shape: string;
  variant: string;
  /**
   * How the variant was chosen: timed now, read from the cache, the default
   * (autotune 'off', or the budget was spent), or the fastest of the variants
   * timed before the budget was spent (for this build only: not cached).
   */
  from: 'timed' | 'cache' | 'default' | 'partly timed';
  /** Milliseconds per dispatch of each variant timed (now or when cached); empty for a default. */
  ms: Record<string, number>;
}

const FORMAT = 'webgpu-train-autotune/1';

interface Entry {
  variant: string;
  ms: Record<string, number>;
}

/** After every variant is timed once, this many of the fastest are timed again... */
const CONTENDERS = 3;
/** ...this many times more each, in turn. */
const RETIMES = 2;
/** The dispatches of a pass are repeated until it takes at least this long... */
const MIN_PASS_MS = 2;
/** ...but never more than this many times. */
const MAX_REPEATS = 256;
/**
 * A first build with 'cached' tunes for at most this long, the kernels of the
 * most work first; what is left keeps its default until the next build.
 */
export const TUNING_BUDGET_MS = 5_000;

/** An in-memory store: choices last as long as the page or process. */
export function memoryStore(): TuningStore {
  let text: string | null = null;
  return {
    name: 'memory',
    read: async () => text,
    write: async (t) => {
      text = t;
    },
  };
}

/** The localStorage key of a browser's choices. */
export const TUNING_STORAGE_KEY = 'webgpu-train-autotune';

/** localStorage where the browser has it (under `key`), else memory. */
export function browserStore(key = TUNING_STORAGE_KEY): TuningStore {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  if (!storage) return memoryStore();
  return {
    name: 'localStorage',
    read: async () => storage.getItem(key),
    write: async (text) => storage.setItem(key, text),
  };
}

let defaults: { mode: AutotuneMode; store: () => TuningStore } = { mode: 'cached', store: () => browserStore() };

/**
 * What a model compiled without `autotune` or `tuningStore` uses: 'cached'
 * with localStorage (or memory) unless changed here. The Node entry keeps the
 * choices in a file; the tests pin every kernel to its default with 'off'.
 */
export function setTuningDefaults(options: { mode?: AutotuneMode; store?: () => TuningStore }): void {
  defaults = { ...defaults, ...options };
}

export function tuningDefaults(): { mode: AutotuneMode; store: () => TuningStore } {
  return defaults;
}

export class Autotuner {
  /** Every choice made for this model, in plan order. */
  readonly choices: TuningChoice[] = [];
  /** Dispatches timed so far (each variant's pass counts one): a build from the cache times none. */
  timedRuns = 0;
  /** Milliseconds spent timing. */
  spentMs = 0;
  private entries?: Promise<Record<string, Entry>>;
  private readonly adapter: string;
  /** The query set passes are timed with: made on the first measurement of a `tune`, freed at its end. */
  private timestamps?: Timestamps;
  /** Whether the notice that the budget is spent was given: once a model, not at every plan. */
  private budgetNoticed = false;

  get device(): GPUDevice {
    return this.gpu.device;
  }

  constructor(
    private readonly gpu: Gpu,
    readonly mode: AutotuneMode,
    private readonly store: TuningStore,
    /** Told of what the user should know: a cache entry ignored, a budget spent. */
    private readonly notice: (message: string) => void = (message) => console.warn(message),
    private readonly budgetMs = mode === 'full' ? Infinity : TUNING_BUDGET_MS,
  ) {
    this.adapter = describeAdapter(gpu.adapter);
  }

  /** Chooses the variant of every tunable dispatch, in place (see useVariant); `onProgress` is told of each kernel shape and variant timed. */
  async tune(dispatches: readonly Dispatch[], onProgress?: SetupListener): Promise<void> {
    if (this.mode === 'off') return;
    try {
      await this.choose(dispatches, onProgress);
    } finally {
      this.timestamps?.destroy();
      this.timestamps = undefined;
    }
  }

  private async choose(dispatches: readonly Dispatch[], onProgress?: SetupListener): Promise<void> {
    const entries = await this.load();
    // A choice made among other variants, or for other code, is not this one's.
    const siteOf = ({ kernel, shape }: { kernel: string; shape: string }) => ({ start: `${this.adapter}|${kernel}|`, end: `|${shape}` });
    const keyOf = (dispatch: Dispatch) => {
      const tunable = dispatch.tunable!;
      const site = siteOf(tunable);
      return `${site.start}${tunable.source}|${tunable.variants.join(',')}${site.end}`;
    };
    const tunables = dispatches.filter((dispatch) => dispatch.tunable);
    // Dispatches of one shape in a plan are chosen for once.
    const chosen = new Map<string, { entry: Entry | null; from: TuningChoice['from'] }>();
    const toTime = new Map<string, Dispatch>();
    for (const dispatch of tunables) {
      const tunable = dispatch.tunable!;
      const key = keyOf(dispatch);
      if (chosen.has(key) || toTime.has(key)) continue;
      const entry = this.mode === 'cached' ? entries[key] : undefined;
      if (entry && tunable.variants.includes(entry.variant)) chosen.set(key, { entry, from: 'cache' });
      else {
        if (entry) this.notice(`autotune: ignored the cached choice '${entry.variant}' for ${tunable.kernel} ${tunable.shape}: not one of its variants (${tunable.variants.join(', ')})`);
        toTime.set(key, dispatch);
      }
    }
    // The most work first, so that a budget spent leaves the small kernels at their defaults.
    const order = [...toTime].sort(([, a], [, b]) => workOf(b) - workOf(a));
    let changed = false;
    let untimed = 0;
    let partial = 0;
    for (const [done, [key, dispatch]] of order.entries()) {
      const tunable = dispatch.tunable!;
      const timed = await this.time(dispatch, (step) => onProgress?.({ stage: 'tune', done, total: order.length, what: `${tunable.kernel} ${tunable.shape}, ${step}` }));
      if (timed?.complete) {
        // This adapter's choices for the same kernel and shape among other code or variants are stale now.
        const site = siteOf(tunable);
        for (const other of Object.keys(entries)) if (other.startsWith(site.start) && other.endsWith(site.end)) delete entries[other];
        entries[key] = timed.entry;
        changed = true;
        chosen.set(key, { entry: timed.entry, from: 'timed' });
      } else if (timed) {
        partial += 1;
        chosen.set(key, { entry: timed.entry, from: 'partly timed' });
      } else {
        untimed += 1;
        chosen.set(key, { entry: null, from: 'default' });
      }
    }
    for (const dispatch of tunables) {
      const tunable = dispatch.tunable!;
      const { entry, from } = chosen.get(keyOf(dispatch))!;
      if (entry) await useVariant(dispatch, entry.variant);
      this.choices.push({
        site: dispatch.site ?? '',
        kernel: tunable.kernel,
        shape: tunable.shape,
        variant: dispatch.variant ?? tunable.variants[0],
        from,
        ms: entry?.ms ?? {},
      });
    }
    const cut = untimed + partial;
    if (order.length > 0) onProgress?.({ stage: 'tune', done: order.length, total: order.length, what: cut > 0 ? `${cut} left to the next build (budget spent)` : 'each kernel shape timed' });
    if (cut > 0 && !this.budgetNoticed) {
      this.budgetNoticed = true;
      this.notice(`autotune: the ${this.budgetMs / 1000} s budget is spent, the largest kernels first; ${budgetLeft(untimed, partial)} until the next build`);
    }
    if (changed) await this.store.write(JSON.stringify({ format: FORMAT, entries }, null, 1));
  }

  /**
   * Times the dispatch's variants, and gives the fastest; `complete` is false
   * when the budget ran out before all were timed, null when before any was.
   */
  private async time(dispatch: Dispatch, timing?: (step: string) => void): Promise<{ entry: Entry; complete: boolean } | null> {
    const tunable = dispatch.tunable!;
    const ms: Record<string, number> = {};
    let complete = true;
    const timeVariant = async (variant: string) => {
      let candidate: Dispatch;
      try {
        candidate = await tunable.build(variant);
      } catch {
        return;
      }
      const started = performance.now();
      try {
        ms[variant] = Math.min(ms[variant] ?? Infinity, await this.measure(candidate));
      } finally {
        for (const buffer of candidate.owned) buffer.destroy();
        this.spentMs += performance.now() - started;
      }
    };
    for (const [index, variant] of tunable.variants.entries()) {
      if (this.spentMs >= this.budgetMs) {
        complete = false;
        break;
      }
      timing?.(`variant ${index + 1} of ${tunable.variants.length} (${variant})`);
      await timeVariant(variant);
    }
    const contenders = Object.keys(ms)
      .sort((a, b) => ms[a] - ms[b])
      .slice(0, CONTENDERS);
    for (let round = 0; round < RETIMES && contenders.length > 1; round++) {
      for (const [index, variant] of contenders.entries()) {
        if (this.spentMs >= this.budgetMs) break;
        timing?.(`the fastest again, ${round * contenders.length + index + 1} of ${RETIMES * contenders.length} (${variant})`);
        await timeVariant(variant);
      }
    }
    const timed = Object.keys(ms);
    if (timed.length === 0) return null;
    return { entry: { variant: timed.reduce((best, v) => (ms[v] < ms[best] ? v : best)), ms }, complete };
  }

  /**
   * Milliseconds per dispatch, from passes repeated until they last
   * MIN_PASS_MS, after one untimed pass (a driver may compile a pipeline when
   * it first runs it: lavapipe does).
   */
  private async measure(dispatch: Dispatch): Promise<number> {
    const device = this.gpu.device;
    const timestamps = this.gpu.timestamps ? (this.timestamps ??= new Timestamps(device, 2)) : null;
    let repeats = 1;
    for (let warm = false; ; warm = true) {
      const encoder = device.createCommandEncoder({ label: `autotune ${dispatch.kernel.name}` });
      encodeDispatches(encoder, Array(repeats).fill(dispatch), 'autotune', timestamps?.around(0));
      await device.queue.onSubmittedWorkDone();
      const started = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const wall = performance.now() - started;
      const [begin, end] = timestamps ? await timestamps.read() : [0, wall];
      this.timedRuns += 1;
      const ms = end - begin;
      if (!warm) continue;
      if (ms >= MIN_PASS_MS || repeats >= MAX_REPEATS) return ms / repeats;
      repeats = Math.min(MAX_REPEATS, repeats * Math.max(2, Math.ceil(MIN_PASS_MS / Math.max(ms, 0.01))));
    }
  }

  /** The cached choices, read once; a file that is not the tuner's is ignored with a notice. */
  private load(): Promise<Record<string, Entry>> {
    this.entries ??= this.store.read().then(
      (text) => {
        if (text === null) return {};
        try {
          const parsed = JSON.parse(text) as { format?: unknown; entries?: unknown };
          if (parsed?.format !== FORMAT || typeof parsed.entries !== 'object' || parsed.entries === null) throw new Error(`not ${FORMAT}`);
          const entries: Record<string, Entry> = {};
          for (const [key, entry] of Object.entries(parsed.entries as Record<string, Partial<Entry>>)) {
            if (typeof entry?.variant === 'string' && typeof entry.ms === 'object' && entry.ms !== null) entries[key] = { variant: entry.variant, ms: entry.ms };
            else this.notice(`autotune: ignored a malformed entry of ${this.store.name} (${key})`);
          }
          return entries;
        } catch (error) {
          this.notice(`autotune: ignored ${this.store.name}, which is not a tuning cache (${(error as Error).message}); it will be rewritten`);
          return {};
        }
      },
      (error: Error) => {
        this.notice(`autotune: could not read ${this.store.name} (${error.message}); tuning from scratch`);
        return {};
      },
    );
    return this.entries;
  }
}

/** What a spent budget left: `3 kernel shapes keep their default variant, and 1 runs the fastest of the variants timed`. */
function budgetLeft(untimed: number, partial: number): string {
  const shapes = (n: number) => `${n} kernel shape${n === 1 ? '' : 's'}`;
  const keep = untimed > 0 ? `${shapes(untimed)} ${untimed === 1 ? 'keeps its' : 'keep their'} default variant` : '';
  const run = partial > 0 ? `${shapes(partial)} ${partial === 1 ? 'runs' : 'run'} the fastest of the variants timed` : '';
  return [keep, run].filter(Boolean).join(', and ');
}

/** A dispatch's work for ordering: its FLOPs, or for a kernel of none its bytes. */
function workOf(dispatch: Dispatch): number {
  return dispatch.work ? dispatch.work.flops || dispatch.work.bytes : 0;
}

/** `autotune cached, 247 timed runs in 4.3 s`: how a tuner chose, for the command line and the benchmark's log. */
export function tuningSummary(tuner: { mode: AutotuneMode; timedRuns: number; spentMs: number }): string {
  return `autotune ${tuner.mode}, ${tuner.timedRuns > 0 ? `${tuner.timedRuns} timed runs in ${(tuner.spentMs / 1000).toFixed(1)} s` : 'all from the cache'}`;
}

/** The choices as a table: one line per dispatch, its variant, and each variant's time. */
export function formatChoices(choices: readonly TuningChoice[]): string[] {
  return choices.map((c) => `${c.site} ${c.kernel} ${c.shape}: ${c.variant} (${c.from}${Object.keys(c.ms).length ? `: ${formatVariantTimes(c.ms)}` : ''})`);
}

/** `rows=1 61.6, rows=2 34.7 ms`: each variant's time, as the command line and the benchmark print them. */
export function formatVariantTimes(ms: Record<string, number>, digits = (value: number) => value.toPrecision(3)): string {
  return `${Object.entries(ms)
    .map(([variant, time]) => `${variant} ${digits(time)}`)
    .join(', ')} ms`;
}
