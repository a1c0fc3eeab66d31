// Our side of the benchmark: a model's graph trained on one batch of random
// data written once, timed as whole steps (as training runs them) and kernel by kernel.
import { encodeDispatches, Graph, KernelProfiler, kernelRuns, optimizerConfig, seededRandom, stats, Timestamps, type Gpu, type KernelRun, type Model, type Plan, type Stats } from '../src/engine';
import { repeatsFor } from './timing';

/** RMSprop lr 0.001, rho 0.9, epsilon 1e-7: the tutorial's optimizer, and TensorFlow.js' in the comparison. */
export const OPTIMIZER = optimizerConfig('rmsprop', { learningRate: 0.001, rho: 0.9, epsilon: 1e-7 });

/** The most steps one call of `steps` times on the GPU. */
const MAX_STEPS = 256;

/** One timed stretch of steps. */
export interface Steps {
  /** Wall time from the first step's recording to the drain after the last. */
  wallMs: number;
  /** CPU time to record each step (encode and finish its command buffer). */
  recordMs: number[];
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

/** A random batch: inputs uniform in [0, 1), labels uniform over the classes. */
export function randomBatch(model: Model, rows: number, seed = 1): { x: Float32Array; labels: Uint32Array } {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * model.inputShape.reduce((a, b) => a * b, 1) }, random);
  const classes = model.outputShape[0];
  const labels = Uint32Array.from({ length: rows }, () => Math.floor(random() * classes));
  return { x, labels };
}

export class OurTrainer {
  private plan?: Plan;
  private readonly stepTimes: Timestamps | null;

  private constructor(
    readonly gpu: Gpu,
    readonly graph: Graph,
  ) {
    this.stepTimes = gpu.timestamps ? new Timestamps(gpu.device, 2 * MAX_STEPS) : null;
  }

  /** A graph for batches of up to `maxBatch` rows, holding `data` (maxBatch rows of it). */
  static create(gpu: Gpu, model: Model, maxBatch: number, data: { x: Float32Array; labels: Uint32Array }): OurTrainer {
    const graph = new Graph(gpu.device, model.layers, model.inputShape, maxBatch, OPTIMIZER, seededRandom(1));
    graph.writeBatch(data.x, data.labels);
    return new OurTrainer(gpu, graph);
  }

  /** Makes (once) and selects the dispatches for batches of `batch` rows. */
  async useBatch(batch: number): Promise<Plan> {
    this.plan = await this.graph.plan(batch);
    return this.plan;
  }

  private get current(): Plan {
    if (!this.plan) throw new Error('OurTrainer: call useBatch() first');
    return this.plan;
  }

  /** Dispatches a step records (those with no workgroups are skipped). */
  get dispatchesPerStep(): number {
    return this.current.train.filter((d) => d.workgroups.every((n) => n > 0)).length;
  }

  /**
   * `count` training steps back to back, as `fit` records them, the last one
   * with a metrics snapshot that the wall time waits for, as training does.
   */
  async steps(count: number): Promise<Steps> {
    const train = this.current.train;
    const timed = Math.min(count, MAX_STEPS);
    const recordMs: number[] = [];
    const started = performance.now();
    let drained: Promise<unknown> | null = null;
    for (let i = 0; i < count; i++) {
      const recording = performance.now();
      const timestampWrites = this.stepTimes && i < timed ? this.stepTimes.around(2 * i) : undefined;
      drained = this.graph.submit(train, { timestampWrites, snapshot: i === count - 1 ? { seen: this.current.batch } : undefined });
      recordMs.push(performance.now() - recording);
    }
    await drained;
    const wallMs = performance.now() - started;
    let gpuMs: number[] | null = null;
    if (this.stepTimes) {
      const marks = await this.stepTimes.read(2 * timed);
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
    const plan = await this.useBatch(batch);
    const runs = kernelRuns(plan.train);
    const samples = runs.map((): number[] => []);
    let repeats: number;
    let method: KernelTimes['method'];
    let roundingMs: number | null = null;
    if (this.gpu.timestamps) {
      method = 'timestamp-query';
      const profiler = new KernelProfiler(device, plan.train);
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
