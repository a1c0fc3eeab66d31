// Measuring: GPU timestamps written between dispatches, summaries of repeated
// measurements, and how many repeats fit a time budget.

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

/** How many repeats of something taking `ms` fit in `budgetMs`, within [min, max]. */
export function repeatsFor(budgetMs: number, ms: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(budgetMs / Math.max(ms, 1e-3))));
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
    this.querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count });
    const size = count * 8;
    this.resolved = device.createBuffer({ label: 'bench timestamps resolved', size, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ label: 'bench timestamps readback', size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
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
    const encoder = this.device.createCommandEncoder({ label: 'bench timestamps readback' });
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
