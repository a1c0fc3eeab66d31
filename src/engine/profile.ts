// Where a training step's GPU time goes: timestamps between its kernels, for
// the benchmark and the page's profile. Needs the 'timestamp-query' feature
// (Gpu.timestamps says whether the device has it).
import { encodeDispatches, type Dispatch, type Work } from './pipelines';

/** The median, mean and range of repeated measurements, in milliseconds. */
export interface Stats {
  median: number;
  /** Unbiased where the clock is coarser than what it times, unlike the median. */
  mean: number;
  min: number;
  max: number;
  samples: number[];
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { median, mean, min: sorted[0], max: sorted[sorted.length - 1], samples: [...samples] };
}

/** A kernel as a training step runs it: one dispatch, or several passes of the same entry point in a row. */
export interface KernelRun {
  kernel: string;
  dispatches: Dispatch[];
  /** The layer (`layer 2 (conv2d)`), `loss` or `optimizer`, as the graph marked it. */
  site: string;
  /** The work of its counted passes; null when none is counted (a transpose). */
  work: Work | null;
}

/** Splits a plan into kernel runs: consecutive dispatches of one entry point and site are passes of one kernel. */
export function kernelRuns(dispatches: readonly Dispatch[]): KernelRun[] {
  const runs: KernelRun[] = [];
  for (const dispatch of dispatches) {
    const last = runs[runs.length - 1];
    const site = dispatch.site ?? '—';
    if (last && last.kernel === dispatch.kernel.name && last.site === site) last.dispatches.push(dispatch);
    else runs.push({ kernel: dispatch.kernel.name, dispatches: [dispatch], site, work: null });
    const run = runs[runs.length - 1];
    if (dispatch.work) run.work = { flops: (run.work?.flops ?? 0) + dispatch.work.flops, bytes: (run.work?.bytes ?? 0) + dispatch.work.bytes };
  }
  return runs;
}

/**
 * A set of GPU timestamps, each written by an empty compute pass placed between
 * two others, so that dispatches are recorded exactly as a training step
 * records them. The query set and its buffers are made once and reused.
 */
export class Timestamps {
  /**
   * What implementations round timestamps to, against timing attacks: Chromium
   * to 100 µs unless its WebGPU developer features are on, Dawn in Node to
   * 2^16 ns unless its timestamp_quantization toggle is off.
   */
  static readonly QUANTA_NS = [100_000n, 65_536n];
  private readonly querySet: GPUQuerySet;
  private readSome = false;
  /** The quanta that every timestamp read so far is a multiple of. */
  private roundedTo = Timestamps.QUANTA_NS;
  private readonly resolved: GPUBuffer;
  private readonly staging: GPUBuffer;

  constructor(
    private readonly device: GPUDevice,
    readonly count: number,
  ) {
    this.querySet = device.createQuerySet({ label: 'timestamps', type: 'timestamp', count });
    const size = count * 8;
    this.resolved = device.createBuffer({ label: 'timestamps resolved', size, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ label: 'timestamps readback', size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Records timestamp `index`: the time the GPU reaches this point of the encoder. */
  mark(encoder: GPUCommandEncoder, index: number): void {
    encoder.beginComputePass({ label: `timestamp ${index}`, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: index } }).end();
  }

  /** Timestamps `first` and `first + 1` at the start and end of a compute pass. */
  around(first: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: first, endOfPassWriteIndex: first + 1 };
  }

  /** The first `count` timestamps, in milliseconds, once the work before them is done. */
  async read(count = this.count): Promise<number[]> {
    const encoder = this.device.createCommandEncoder({ label: 'timestamps readback' });
    encoder.resolveQuerySet(this.querySet, 0, count, this.resolved, 0);
    encoder.copyBufferToBuffer(this.resolved, 0, this.staging, 0, count * 8);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, count * 8);
    const nanoseconds = new BigInt64Array(this.staging.getMappedRange(0, count * 8).slice(0));
    this.staging.unmap();
    this.readSome = true;
    this.roundedTo = this.roundedTo.filter((quantum) => nanoseconds.every((ns) => ns % quantum === 0n));
    return Array.from(nanoseconds, (ns) => Number(ns) / 1e6);
  }

  /** The step timestamps are rounded to, in milliseconds, when every one read so far was a multiple of one of QUANTA_NS; else null. */
  get roundingMs(): number | null {
    return this.readSome && this.roundedTo.length ? Number(this.roundedTo[0]) / 1e6 : null;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.staging.destroy();
  }
}

/**
 * What the device rounds timestamps to, in milliseconds, or null when they are
 * not rounded: 32 timestamps between empty passes, one read. An unrounded
 * timestamp is a multiple of 100 µs one time in 100,000; all 32 never are.
 */
export async function timestampRoundingMs(device: GPUDevice): Promise<number | null> {
  const marks = new Timestamps(device, 32);
  const encoder = device.createCommandEncoder({ label: 'timestamp rounding probe' });
  for (let i = 0; i < marks.count; i++) marks.mark(encoder, i);
  device.queue.submit([encoder.finish()]);
  await marks.read();
  const rounding = marks.roundingMs;
  marks.destroy();
  return rounding;
}

/**
 * Times each run of a list of dispatches, recorded as one step is (one command
 * buffer) with a timestamp between runs: each call of `step` submits the
 * dispatches once and resolves to each run's milliseconds. Its query set and
 * buffers are made once.
 */
export class KernelProfiler {
  readonly runs: KernelRun[];
  private readonly marks: Timestamps;

  constructor(
    private readonly device: GPUDevice,
    dispatches: readonly Dispatch[],
  ) {
    this.runs = kernelRuns(dispatches);
    this.marks = new Timestamps(device, this.runs.length + 1);
  }

  async step(): Promise<number[]> {
    const encoder = this.device.createCommandEncoder({ label: 'step, timed by kernel' });
    this.marks.mark(encoder, 0);
    this.runs.forEach((run, i) => {
      encodeDispatches(encoder, run.dispatches);
      this.marks.mark(encoder, i + 1);
    });
    this.device.queue.submit([encoder.finish()]);
    const times = await this.marks.read();
    return this.runs.map((_, i) => times[i + 1] - times[i]);
  }

  /** What the timestamps read so far were rounded to, in ms, or null. */
  get roundingMs(): number | null {
    return this.marks.roundingMs;
  }

  destroy(): void {
    this.marks.destroy();
  }
}

/** Milliseconds with four significant digits, and no more: `640.5`, `12.35`, `0.08343`. */
export function formatMs(ms: number): string {
  return Number.isFinite(ms) ? String(Number(ms.toPrecision(4))) : String(ms);
}
