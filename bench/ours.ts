// Our side of the benchmark: a model's graph trained on one batch of random
// data written once, timed as whole steps (as training runs them) and kernel by kernel.
import { sizeOf } from '../src/engine/buffers';
import type { Gpu } from '../src/engine/device';
import { Graph, type Plan } from '../src/engine/graph';
import { optimizerConfig } from '../src/engine/ops/optimizer';
import { encodeDispatches } from '../src/engine/pipelines';
import { seededRandom } from '../src/engine/random';
import type { Model } from '../src/engine/model';
import { repeatsFor, stats, Timestamps, type Stats } from './timing';
import { kernelRuns, type KernelRun } from './work';

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
  /** What the timestamps were rounded to (Dawn's quantization), in ms, or null. */
  roundingMs: number | null;
  repeats: number;
  kernels: KernelTime[];
}

/** A random batch: inputs uniform in [0, 1), labels uniform over the classes. */
export function randomBatch(model: Model, rows: number, seed = 1): { x: Float32Array; labels: Uint32Array } {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: rows * sizeOf(model.inputShape) }, random);
  const classes = model.outputShape[0];
  const labels = Uint32Array.from({ length: rows }, () => Math.floor(random() * classes));
  return { x, labels };
}

export class OurTrainer {
  private plan?: Plan;
  private readonly stepTimes: Timestamps | null;
  private readonly drainBuffer: GPUBuffer;

  private constructor(
    readonly gpu: Gpu,
    readonly graph: Graph,
  ) {
    this.stepTimes = gpu.timestamps ? new Timestamps(gpu.device, 2 * MAX_STEPS) : null;
    this.drainBuffer = gpu.device.createBuffer({ label: 'bench drain', size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
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

  /** Waits for the GPU the way training does: a tiny read of the loss sum. */
  private async drain(): Promise<void> {
    const encoder = this.gpu.device.createCommandEncoder({ label: 'bench drain' });
    encoder.copyBufferToBuffer(this.graph.lossSum.buffer, 0, this.drainBuffer, 0, 4);
    this.gpu.device.queue.submit([encoder.finish()]);
    await this.drainBuffer.mapAsync(GPUMapMode.READ);
    this.drainBuffer.unmap();
  }

  /** `count` training steps back to back, then one drain. */
  async steps(count: number): Promise<Steps> {
    const { device } = this.gpu;
    const train = this.current.train;
    const timed = Math.min(count, MAX_STEPS);
    const recordMs: number[] = [];
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const recording = performance.now();
      const encoder = device.createCommandEncoder({ label: 'step' });
      if (this.stepTimes && i < timed) this.stepTimes.mark(encoder, 2 * i);
      encodeDispatches(encoder, train);
      if (this.stepTimes && i < timed) this.stepTimes.mark(encoder, 2 * i + 1);
      const commands = encoder.finish();
      recordMs.push(performance.now() - recording);
      device.queue.submit([commands]);
    }
    await this.drain();
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
    const runs = kernelRuns(this.graph, plan.train, batch);
    const samples = runs.map((): number[] => []);
    let repeats: number;
    let method: KernelTimes['method'];
    let roundingMs: number | null = null;
    if (this.gpu.timestamps) {
      method = 'timestamp-query';
      const marks = new Timestamps(device, runs.length + 1);
      const step = async () => {
        const encoder = device.createCommandEncoder({ label: 'step, timed by kernel' });
        marks.mark(encoder, 0);
        runs.forEach((run, i) => {
          encodeDispatches(encoder, run.dispatches);
          marks.mark(encoder, i + 1);
        });
        device.queue.submit([encoder.finish()]);
        const times = await marks.read();
        return runs.map((_, i) => times[i + 1] - times[i]);
      };
      const warmup = await step();
      repeats = repeatsFor(budgetMs, warmup.reduce((a, b) => a + b, 0), minRepeats, maxRepeats);
      for (let r = 0; r < repeats; r++) (await step()).forEach((ms, i) => samples[i].push(ms));
      roundingMs = marks.roundingMs;
      marks.destroy();
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
    this.drainBuffer.destroy();
  }
}
