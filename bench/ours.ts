// Our side of the benchmark: a model's graph trained on a data set of random
// pixel bytes held on the GPU, timed as whole steps (as training runs them:
// each gathers its batch there) and kernel by kernel.
import {
  Autotuner,
  encodeDispatches,
  Graph,
  KernelProfiler,
  kernelRuns,
  optimizerConfig,
  seededRandom,
  stats,
  Timestamps,
  tuningDefaults,
  type AutotuneMode,
  type DeviceData,
  type Gpu,
  type KernelRun,
  type Model,
  type Pass,
  type Precision,
  type Stats,
  type Work,
} from '../src/engine';
import { repeatsFor } from './timing';

/** RMSprop lr 0.001, rho 0.9, epsilon 1e-7: the tutorial's optimizer, and TensorFlow.js' in the comparison. */
export const OPTIMIZER = optimizerConfig('rmsprop', { learningRate: 0.001, rho: 0.9, epsilon: 1e-7 });

/** The most steps one call of `steps` times on the GPU. */
const MAX_STEPS = 256;

/** One timed stretch of steps. */
export interface Steps {
  /** Wall time from the first step's recording to the drain after the last. */
  wallMs: number;
  /** CPU time to record the stretch's command buffer (encode, finish, submit), over its steps. */
  recordMs: number;
  /** GPU time of each step, where the device has timestamp queries. */
  gpuMs: number[] | null;
}

export interface KernelTime {
  run: KernelRun;
  ms: Stats;
}

export interface KernelTimes {
  method: 'timestamp-query' | 'wall';
  /** What the timestamps were rounded to (the browser's or Dawn's quantization), in ms, or null. */
  roundingMs: number | null;
  repeats: number;
  kernels: KernelTime[];
}

/** A random batch for TensorFlow.js: inputs uniform in [0, 1), labels uniform over the classes. */
export function randomBatch(model: Model, rows: number, seed = 1): { x: Float32Array; labels: Uint32Array } {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * model.inputShape.reduce((a, b) => a * b, 1) }, random);
  const classes = model.outputShape[0];
  const labels = Uint32Array.from({ length: rows }, () => Math.floor(random() * classes));
  return { x, labels };
}

/** `rows` rows of random pixel bytes and labels: a data set like MNIST as the command line and the page give it to fit. */
function randomPixels(model: Model, rows: number, seed = 1): { x: Uint8Array; labels: Uint32Array; order: Uint32Array } {
  const random = seededRandom(seed);
  const count = rows * model.inputShape.reduce((a, b) => a * b, 1);
  const words = Uint32Array.from({ length: Math.ceil(count / 4) }, () => Math.floor(random() * 2 ** 32));
  const classes = model.outputShape[0];
  const labels = Uint32Array.from({ length: rows }, () => Math.floor(random() * classes));
  // An epoch's shuffle (Fisher-Yates), so that steps gather rows from all over the data set.
  const order = Uint32Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { x: new Uint8Array(words.buffer, 0, count), labels, order };
}

export class OurTrainer {
  private pass?: Pass;
  private readonly stepTimes: Timestamps | null;

  private constructor(
    readonly gpu: Gpu,
    readonly graph: Graph,
    readonly data: DeviceData,
    /** The kernel variants the plans run, chosen as `fit` chooses them (see autotune.ts). */
    readonly tuner: Autotuner,
  ) {
    this.stepTimes = gpu.timestamps ? new Timestamps(gpu.device, 2 * MAX_STEPS) : null;
  }

  /**
   * A graph for batches of up to `maxBatchSize` rows, holding `rows` rows of random
   * pixel bytes on the GPU, in a shuffled order; its kernels chosen by `autotune`
   * with the store a model uses by default (a file in Node, localStorage on the
   * page). With no time budget: the benchmark measures the engine tuned, where
   * a model's first builds on a slow adapter spread the tuning over several.
   * `precision` as `compile({ precision })`: 'float32' by default.
   */
  static create(
    gpu: Gpu,
    model: Model,
    options: { maxBatchSize: number; rows: number; autotune: AutotuneMode; notice?: (message: string) => void; precision?: Precision },
  ): OurTrainer {
    const { maxBatchSize, rows, autotune, notice, precision } = options;
    const tuner = new Autotuner(gpu, autotune, tuningDefaults().store(), notice, Infinity);
    const graph = new Graph(gpu.device, { layers: model.layers, inputShape: model.inputShape, maxBatchSize, optimizer: OPTIMIZER, random: seededRandom(1), tuner, precision });
    const { x, labels, order } = randomPixels(model, rows);
    const data = graph.data.upload(x, labels);
    graph.data.writeOrder(data, order);
    return new OurTrainer(gpu, graph, data, tuner);
  }

  /** Makes (once) and selects the dispatches for batches of `batch` rows. */
  async useBatch(batch: number): Promise<Pass> {
    this.pass = await this.graph.data.prepare(this.data, batch);
    return this.pass;
  }

  private get current(): Pass {
    if (!this.pass) throw new Error('OurTrainer: call useBatch() first');
    return this.pass;
  }

  /** The FLOPs and bytes of a step: its kernels' work (see Dispatch.work), counted from the layer shapes. */
  get workPerStep(): Work {
    return kernelRuns(this.current.full.train).reduce((sum, run) => ({ flops: sum.flops + (run.work?.flops ?? 0), bytes: sum.bytes + (run.work?.bytes ?? 0) }), { flops: 0, bytes: 0 });
  }

  /** Dispatches a step records, its gather included (those with no workgroups are skipped). */
  get dispatchesPerStep(): number {
    return this.current.full.train.filter((d) => d.workgroups.every((n) => n > 0)).length;
  }

  /**
   * `count` training steps back to back, recorded as `fit` records the steps
   * between two progress updates: into one command buffer, with a metrics
   * snapshot after the last that the wall time waits for.
   */
  async steps(count: number): Promise<Steps> {
    const pass = this.current;
    if (count > pass.steps - 1) throw new Error(`OurTrainer: ${count} steps of ${pass.batchSize} rows, but the data set holds ${pass.steps - 1} full batches`);
    const timed = Math.min(count, MAX_STEPS);
    const stepTimes = this.stepTimes;
    const timestampWrites = stepTimes ? (step: number) => (step < timed ? stepTimes.around(2 * step) : undefined) : undefined;
    const started = performance.now();
    const drained = this.graph.submit(pass, { kind: 'train', first: 0, last: count - 1, timestampWrites, snapshot: { seen: count * pass.batchSize } });
    const recordMs = (performance.now() - started) / count;
    await drained;
    const wallMs = performance.now() - started;
    let gpuMs: number[] | null = null;
    if (stepTimes) {
      const marks = await stepTimes.read(2 * timed);
      gpuMs = Array.from({ length: timed }, (_, i) => marks[2 * i + 1] - marks[2 * i]);
    }
    return { wallMs, recordMs, gpuMs };
  }

  /**
   * Times each kernel of a training step: with timestamps, whole steps with a
   * timestamp between kernels; without, many submissions of each kernel alone.
   * One untimed step or round first, then repeats that fit `budgetMs`.
   */
  async kernelTimes(batch: number, budgetMs: number, minRepeats: number, maxRepeats: number): Promise<KernelTimes> {
    const { device } = this.gpu;
    const { full } = await this.useBatch(batch);
    const runs = kernelRuns(full.train);
    const samples = runs.map((): number[] => []);
    let repeats: number;
    let method: KernelTimes['method'];
    let roundingMs: number | null = null;
    if (this.gpu.timestamps) {
      method = 'timestamp-query';
      const profiler = new KernelProfiler(device, full.train);
      const warmup = await profiler.step();
      repeats = repeatsFor(budgetMs, warmup.reduce((a, b) => a + b, 0), minRepeats, maxRepeats);
      for (let r = 0; r < repeats; r++) (await profiler.step()).forEach((ms, i) => samples[i].push(ms));
      roundingMs = profiler.roundingMs;
      profiler.destroy();
    } else {
      method = 'wall';
      const submit = (run: KernelRun, times: number) => {
        for (let i = 0; i < times; i++) {
          const encoder = device.createCommandEncoder({ label: run.kernel });
          encodeDispatches(encoder, run.dispatches);
          device.queue.submit([encoder.finish()]);
        }
        return device.queue.onSubmittedWorkDone();
      };
      repeats = minRepeats;
      for (const [i, run] of runs.entries()) {
        await submit(run, 1);
        const started = performance.now();
        await submit(run, 1);
        const each = repeatsFor(budgetMs / runs.length / repeats, performance.now() - started, 1, 1000);
        for (let r = 0; r < repeats; r++) {
          const start = performance.now();
          await submit(run, each);
          samples[i].push((performance.now() - start) / each);
        }
      }
    }
    return { method, roundingMs, repeats, kernels: runs.map((run, i) => ({ run, ms: stats(samples[i]) })) };
  }

  destroy(): void {
    this.graph.destroy();
    this.stepTimes?.destroy();
  }
}
