// The whole benchmark, the same in Node and in a browser page: for each model,
// its kernels one by one, its training step interleaved with TensorFlow.js' (and,
// in Node, PyTorch's on the CPU), and a sweep of batch sizes. It only measures and returns figures; nothing here fails on a time.
import {
  autotuneMode,
  describeAdapter,
  stats,
  timestampRoundingMs,
  tuningSummary,
  tutorialModel,
  type AdapterDescription,
  type AutotuneMode,
  type Gpu,
  type Model,
  type Stats,
  type TuningChoice,
  type TutorialModel,
} from '../src/engine';
import { OPTIMIZER, OurTrainer, randomBatch, type KernelTimes, type Steps } from './ours';
import { measureRoofline, rooflinePoint, type Roofline } from './roofline';
import { tfjsOn, TfjsTrainer } from './tfjs';
import { repeatsFor } from './timing';

/** The batch of the tutorial, at which kernels are timed and TensorFlow.js is compared. */
export const BATCH = 128;

export interface BenchOptions {
  quick: boolean;
  models: TutorialModel[];
  batches: number[];
  /** How our kernels' variants are chosen (autotune.ts), as `compile({ autotune })`: 'cached' by default. */
  autotune: AutotuneMode;
}

export const MODELS: readonly TutorialModel[] = ['cnn', 'mlp'];
/** The batch sizes of the step sweep when none are given. */
export const DEFAULT_BATCHES = { quick: [BATCH], full: [32, 64, 128, 256, 512] } as const;

/**
 * Options from what a person typed, in the command line's flags or the page's
 * form: models and batch sizes as comma-separated lists. Throws on a bad value.
 */
export function parseBenchOptions(quick: boolean, models: string, batches?: string, autotune: string = 'cached'): BenchOptions {
  const modelList = models.split(',').map((m) => m.trim());
  for (const m of modelList) if (!MODELS.includes(m as TutorialModel)) throw new Error(`models: unknown model '${m}' (use ${MODELS.join(', ')})`);
  const batchList = batches?.trim() ? batches.split(',').map((b) => Number(b.trim())) : [...DEFAULT_BATCHES[quick ? 'quick' : 'full']];
  for (const b of batchList) if (!Number.isInteger(b) || b < 1) throw new Error(`batches: '${batches}' must be positive integers`);
  return { quick, models: modelList as TutorialModel[], batches: batchList, autotune: autotuneMode('autotune', autotune) };
}

/** How long each kind of measurement may take, and how many repeats it gets. */
const BUDGETS = {
  quick: { kernelMs: 3_000, minKernelRepeats: 2, maxKernelRepeats: 20, stretchMs: 1_000, maxSteps: 50, rounds: 3, rooflineRounds: 3 },
  full: { kernelMs: 20_000, minKernelRepeats: 5, maxKernelRepeats: 100, stretchMs: 3_000, maxSteps: 200, rounds: 5, rooflineRounds: 5 },
} as const;

export interface StepResult {
  batch: number;
  /** Wall time of a stretch of steps with one drain at its end, over the steps; one sample per round. */
  msPerStep: Stats;
  imagesPerSecond: number;
  stepsPerRound: number;
  dispatchesPerStep: number;
  /** CPU time to record and submit a stretch's command buffer, over its steps. */
  recordMs: Stats;
  /** GPU time of one step (timestamp queries), or null without them. */
  gpuMs: Stats | null;
  /** The step's FLOPs (its kernels' work) over its median wall time. */
  gflops: number;
  /** The step's FLOPs over its bytes (its kernels' work), the roofline's GFLOP/s there, and gflops over that. */
  intensity: number;
  boundGflops: number;
  rooflineFraction: number;
  /** TensorFlow.js' ms/step at the same batch, from rounds interleaved with ours; null where it did not run. */
  tfjsMsPerStep: Stats | null;
}

export interface KernelResult {
  kernel: string;
  /** `layer 2 (conv2d)`, `loss` or `optimizer`: where the graph placed it. */
  site: string;
  dispatches: number;
  workgroups: string;
  ms: Stats;
  flops: number | null;
  bytes: number | null;
  gflops: number | null;
  gbPerSecond: number | null;
  /**
   * FLOPs a byte, the roofline's GFLOP/s at that intensity (min(peak,
   * intensity x bandwidth)), and the fraction of the roofline reached: its
   * GFLOP/s over that bound, or for a kernel of no FLOPs its GB/s over the
   * bandwidth. Null where no work is counted.
   */
  intensity: number | null;
  boundGflops: number | null;
  rooflineFraction: number | null;
  /** The variant its dispatches run (autotune.ts), and the milliseconds each variant took when it was chosen; null for a kernel without variants. */
  variant: string | null;
  variants: Record<string, number>;
}

/** A product kernel of the step in mixed precision: its fastest f32 and f16 variants, as the autotuner timed them. */
export interface PrecisionRow {
  kernel: string;
  /** `layer 2 (conv2d)`: where the graph placed it. */
  site: string;
  shape: string;
  /** The fastest variant of each precision and its ms a dispatch; null where none of them was timed. */
  f32: { variant: string; ms: number } | null;
  f16: { variant: string; ms: number } | null;
  /** f32's ms over f16's: above 1, f16 is the faster. */
  f16Speedup: number | null;
  /** The variant the mixed-precision step runs, and how it was chosen (timed now, or from the cache, with the times of then). */
  chosen: string;
  from: TuningChoice['from'];
}

/** The model compiled with precision 'mixed' (f16 products), beside the float32 one. */
export interface MixedResult {
  /** Why figures are missing, or null: all of them on a device without shader-f16 (no f16 variant), the kernels' with --autotune off (none timed). */
  reason: string | null;
  /** Its training step at the comparison's batch, in the same rounds as the float32 step's. */
  msPerStep: Stats | null;
  /** The float32 step's ms over the mixed one's: above 1, mixed precision is the faster. */
  speedup: number | null;
  kernels: PrecisionRow[];
}

export interface ModelResult {
  model: TutorialModel;
  batch: number;
  oursMsPerStep: number;
  tfjsMsPerStep: number | null;
  /** TensorFlow.js' ms/step over ours: above 1, ours is faster. */
  ratio: number | null;
  /** PyTorch's ms/step on the CPU, and over ours (above 1, ours is faster); null where it did not run. */
  pytorchMsPerStep: number | null;
  pytorchRatio: number | null;
  ours: StepResult;
  /** Null figures and the error's message when TensorFlow.js could not train the model. */
  tfjs: { msPerStep: Stats | null; stepsPerRound: number; error: string | null };
  /**
   * Null figures and the reason when PyTorch did not run: a browser page, no
   * Python or no torch in it (BENCH_PYTHON), or a failure; `about` names its versions and threads.
   */
  pytorch: { msPerStep: Stats | null; stepsPerRound: number; about: string | null; reason: string | null };
  sweep: StepResult[];
  kernels: { method: KernelTimes['method']; roundingMs: number | null; repeats: number; rows: KernelResult[] };
  mixed: MixedResult;
}

export interface Environment {
  /** `chromium`: bench.html driven by `npm run bench -- --browser`; `browser`: bench.html opened by a person. */
  runtime: 'node' | 'chromium' | 'browser';
  adapter: AdapterDescription;
  adapterLine: string;
  timestampQueries: boolean;
  /** What the timestamps are rounded to, in ms, or null when they are not (or there are none). */
  timestampRoundingMs: number | null;
  /** Package and runtime versions; each side adds what it knows. */
  versions: Record<string, string>;
  date: string;
}

export interface BenchResult {
  environment: Environment;
  options: BenchOptions;
  /** The adapter's peaks, which each kernel and step is held against. */
  roofline: Roofline;
  models: ModelResult[];
}

type Log = (line: string) => void;

/** A trainer outside WebGPU timed in the same rounds: PyTorch on the CPU, in a process beside Node (bench/pytorch.ts). */
export interface CpuTrainer {
  /** Versions and threads, for the report. */
  readonly about: string;
  /** `count` training steps; their wall time. */
  steps(count: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts a CpuTrainer on the first `batch` rows of `data` (rejecting with the
 * reason it cannot), or, where there is none (a browser page), the reason.
 */
export type CpuSide = ((model: Model, batch: number, data: { x: Float32Array; labels: Uint32Array }) => Promise<CpuTrainer>) | { unavailable: string };

function kernelRows(times: KernelTimes, choices: readonly TuningChoice[], roofline: Roofline): KernelResult[] {
  return times.kernels.map(({ run, ms }) => {
    const seconds = ms.median / 1000;
    const point = run.work && run.work.bytes > 0 && seconds > 0 ? rooflinePoint(run.work, ms.median, roofline) : null;
    const variant = run.dispatches.find((d) => d.variant)?.variant ?? null;
    // A choice names the kernel tuned, which its variant may compile from another file (matmulSubgroups.wgsl).
    const tuned = run.dispatches.find((d) => d.tunable)?.tunable?.kernel ?? run.kernel;
    const choice = choices.find((c) => c.site === run.site && c.kernel === tuned && c.variant === variant);
    return {
      variant,
      variants: choice?.ms ?? {},
      kernel: run.kernel,
      site: run.site,
      dispatches: run.dispatches.length,
      workgroups: run.dispatches.map((d) => d.workgroups.join('x')).join(' + '),
      ms,
      flops: run.work?.flops ?? null,
      bytes: run.work?.bytes ?? null,
      gflops: run.work && run.work.flops > 0 && seconds > 0 ? run.work.flops / seconds / 1e9 : null,
      gbPerSecond: run.work && seconds > 0 ? run.work.bytes / seconds / 1e9 : null,
      intensity: point?.intensity ?? null,
      boundGflops: point?.boundGflops ?? null,
      rooflineFraction: point?.fraction ?? null,
    };
  });
}

/** Each tuned product's fastest f32 and f16 variant, from the times the autotuner took of every variant. */
export function precisionRows(choices: readonly TuningChoice[]): PrecisionRow[] {
  const fastest = (ms: Record<string, number>, f16: boolean) => {
    const timed = Object.entries(ms).filter(([variant]) => variant.endsWith(' f16') === f16);
    if (!timed.length) return null;
    const [variant, time] = timed.reduce((best, next) => (next[1] < best[1] ? next : best));
    return { variant, ms: time };
  };
  return choices
    .filter((c) => Object.keys(c.ms).some((variant) => variant.endsWith(' f16')))
    .map((c) => {
      const [f32, f16] = [fastest(c.ms, false), fastest(c.ms, true)];
      return { kernel: c.kernel, site: c.site, shape: c.shape, f32, f16, f16Speedup: f32 && f16 ? f32.ms / f16.ms : null, chosen: c.variant, from: c.from };
    });
}

/** Our figures from stretches of `perRound` steps at one batch size. */
function summarise(ours: OurTrainer, batch: number, perRound: number, stretches: Steps[], tfjsMs: number[], roofline: Roofline): StepResult {
  const ms = stats(stretches.map((s) => s.wallMs / perRound));
  const gpuMs = stretches.flatMap((s) => s.gpuMs ?? []);
  const work = ours.workPerStep;
  const point = rooflinePoint(work, ms.median, roofline);
  return {
    batch,
    msPerStep: ms,
    imagesPerSecond: (batch * 1000) / ms.median,
    stepsPerRound: perRound,
    dispatchesPerStep: ours.dispatchesPerStep,
    recordMs: stats(stretches.map((s) => s.recordMs)),
    gpuMs: gpuMs.length ? stats(gpuMs) : null,
    gflops: work.flops / ms.median / 1e6,
    intensity: point.intensity,
    boundGflops: point.boundGflops,
    rooflineFraction: point.fraction,
    tfjsMsPerStep: tfjsMs.length ? stats(tfjsMs) : null,
  };
}

/** Runs each side's turn once per round, reversing the order every other round so that neither always goes first. */
async function interleave(rounds: number, turns: (() => Promise<void>)[]): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (const turn of r % 2 ? [...turns].reverse() : turns) await turn();
  }
}

/**
 * The steps of another engine's stretch: one untimed step warms it up, a
 * second tells how many fill a stretch of `stretchMs` (at most `maxSteps`).
 */
async function stepsPerRound(trainer: { steps(count: number): Promise<number> }, stretchMs: number, maxSteps: number): Promise<number> {
  await trainer.steps(1);
  return repeatsFor(stretchMs, await trainer.steps(1), 1, maxSteps);
}

/** PyTorch started, warmed up and its stretches sized, or the reason it is not there. */
async function startPytorch(side: CpuSide, model: Model, data: { x: Float32Array; labels: Uint32Array }, stretchMs: number, maxSteps: number) {
  if ('unavailable' in side) return { reason: side.unavailable };
  let trainer: CpuTrainer | undefined;
  try {
    trainer = await side(model, BATCH, data);
    return { trainer, perRound: await stepsPerRound(trainer, stretchMs, maxSteps) };
  } catch (error) {
    await trainer?.close();
    return { reason: (error as Error).message };
  }
}

async function benchModel(gpu: Gpu, kind: TutorialModel, options: BenchOptions, roofline: Roofline, pytorchSide: CpuSide, log: Log): Promise<ModelResult> {
  const budget = options.quick ? BUDGETS.quick : BUDGETS.full;
  const model = tutorialModel(kind);
  const batches = [...new Set([BATCH, ...options.batches])].sort((a, b) => a - b);
  const data = randomBatch(model, Math.max(...batches));
  // Enough rows for the longest stretch at the largest batch, plus one batch (the pass' last step is partial or not: it is never timed).
  const maxBatchSize = Math.max(...batches);
  const ours = OurTrainer.create(gpu, model, {
    maxBatchSize,
    rows: (budget.maxSteps + 1) * maxBatchSize,
    autotune: options.autotune,
    notice: (notice) => log(`${kind}: ${notice}`),
  });
  let mixed: OurTrainer | undefined;
  let mixedPerRound = 1;
  try {
    log(`${kind}: kernels at batch ${BATCH}`);
    const times = await ours.kernelTimes(BATCH, budget.kernelMs, budget.minKernelRepeats, budget.maxKernelRepeats);
    const { tuner } = ours;
    if (tuner.mode !== 'off') log(`${kind}: kernel variants (${tuningSummary(tuner)})`);
    const kernels = { method: times.method, roundingMs: times.roundingMs, repeats: times.repeats, rows: kernelRows(times, tuner.choices, roofline) };

    // The kernels warmed our side up and tell how long its step takes; TensorFlow.js
    // and PyTorch get one step untimed and one to size their stretches. Then the
    // three take turns, round after round, so that drift hits all of them.
    log(`${kind}: training steps at batch ${BATCH}, ours interleaved with TensorFlow.js'${'unavailable' in pytorchSide ? '' : " and PyTorch's"}`);
    await ours.useBatch(BATCH);
    const kernelSum = times.kernels.reduce((sum, k) => sum + k.ms.median, 0);
    const oursPerRound = repeatsFor(budget.stretchMs, kernelSum, 1, budget.maxSteps);
    let theirs: TfjsTrainer | undefined;
    let theirsPerRound = 1;
    let tfjsError: string | null = null;
    try {
      theirs = await TfjsTrainer.create(gpu, model, OPTIMIZER, BATCH, data);
      theirsPerRound = await stepsPerRound(theirs, budget.stretchMs, budget.maxSteps);
    } catch (error) {
      tfjsError = (error as Error).message;
      log(`${kind}: TensorFlow.js failed, comparing nothing: ${tfjsError}`);
      theirs?.dispose();
      theirs = undefined;
    }
    // Mixed precision, where the device can multiply in f16: every product's f16 and f32 variants timed, and its step in the same rounds.
    let mixedReason: string | null = gpu.device.features.has('shader-f16') ? null : "the device has no 'shader-f16', so no f16 variant to time";
    if (!mixedReason) {
      log(`${kind}: mixed precision, each product's f16 and f32 variants timed, at batch ${BATCH}`);
      mixed = OurTrainer.create(gpu, model, { maxBatchSize: BATCH, rows: (budget.maxSteps + 1) * BATCH, autotune: options.autotune, notice: (notice) => log(`${kind} mixed: ${notice}`), precision: 'mixed' });
      await mixed.useBatch(BATCH);
      mixedPerRound = repeatsFor(budget.stretchMs, (await mixed.steps(1)).wallMs, 1, budget.maxSteps);
    }
    const pytorch = await startPytorch(pytorchSide, model, data, budget.stretchMs, budget.maxSteps);
    let pytorchReason = pytorch.reason ?? null;
    if (pytorchReason) log(`${kind}: PyTorch not run: ${pytorchReason}`);
    const ourStretches: Steps[] = [];
    const theirMs: number[] = [];
    const pytorchMs: number[] = [];
    const mixedStretches: Steps[] = [];
    const turns = [async () => void ourStretches.push(await ours.steps(oursPerRound))];
    if (mixed) {
      const trainer = mixed;
      turns.push(async () => void mixedStretches.push(await trainer.steps(mixedPerRound)));
    }
    if (theirs) {
      const tfjs = theirs;
      turns.push(async () => void theirMs.push((await tfjs.steps(theirsPerRound)) / theirsPerRound));
    }
    if (pytorch.trainer) {
      const { trainer, perRound } = pytorch;
      // A process that dies midway costs its column, not the benchmark.
      turns.push(async () => {
        if (pytorchReason) return;
        try {
          pytorchMs.push((await trainer.steps(perRound)) / perRound);
        } catch (error) {
          pytorchReason = `failed after ${pytorchMs.length} rounds: ${(error as Error).message}`;
          log(`${kind}: PyTorch ${pytorchReason}`);
        }
      });
    }
    await interleave(budget.rounds, turns);
    theirs?.dispose();
    await pytorch.trainer?.close();
    const atBatch = summarise(ours, BATCH, oursPerRound, ourStretches, theirMs, roofline);
    const mixedMs = mixedStretches.length ? stats(mixedStretches.map((s) => s.wallMs / mixedPerRound)) : null;
    if (mixed && mixed.tuner.mode === 'off') mixedReason = "--autotune off: the variants are not timed, so f16's and f32's cannot be compared";
    const mixedResult: MixedResult = {
      reason: mixedReason,
      msPerStep: mixedMs,
      speedup: mixedMs ? atBatch.msPerStep.median / mixedMs.median : null,
      kernels: mixed ? precisionRows(mixed.tuner.choices) : [],
    };

    const sweep: StepResult[] = [];
    for (const batch of batches) {
      if (batch === BATCH) {
        sweep.push(atBatch);
        continue;
      }
      log(`${kind}: training steps at batch ${batch}${tfjsError ? '' : ", ours interleaved with TensorFlow.js'"}`);
      await ours.useBatch(batch);
      // Pipelines are compiled already: one untimed step both warms up and sizes the stretches.
      const perRound = repeatsFor(budget.stretchMs, (await ours.steps(1)).wallMs, 1, budget.maxSteps);
      const stretches: Steps[] = [];
      const tfjsMs: number[] = [];
      const sweepTurns = [async () => void stretches.push(await ours.steps(perRound))];
      // TensorFlow.js at the same batch, where it ran at the comparison's; a failure here costs only its column.
      const other = tfjsError ? undefined : await TfjsTrainer.create(gpu, model, OPTIMIZER, batch, data).catch(() => undefined);
      if (other) {
        const otherPerRound = await stepsPerRound(other, budget.stretchMs, budget.maxSteps);
        sweepTurns.push(async () => void tfjsMs.push((await other.steps(otherPerRound)) / otherPerRound));
      }
      await interleave(budget.rounds, sweepTurns);
      other?.dispose();
      sweep.push(summarise(ours, batch, perRound, stretches, tfjsMs, roofline));
    }

    const tfjsMs = theirMs.length ? stats(theirMs) : null;
    const torchMs = pytorchReason === null && pytorchMs.length ? stats(pytorchMs) : null;
    return {
      model: kind,
      batch: BATCH,
      oursMsPerStep: atBatch.msPerStep.median,
      tfjsMsPerStep: tfjsMs?.median ?? null,
      ratio: tfjsMs ? tfjsMs.median / atBatch.msPerStep.median : null,
      pytorchMsPerStep: torchMs?.median ?? null,
      pytorchRatio: torchMs ? torchMs.median / atBatch.msPerStep.median : null,
      ours: atBatch,
      tfjs: { msPerStep: tfjsMs, stepsPerRound: theirsPerRound, error: tfjsError },
      pytorch: { msPerStep: torchMs, stepsPerRound: pytorch.perRound ?? 0, about: pytorch.trainer?.about ?? null, reason: pytorchReason },
      sweep,
      kernels,
      mixed: mixedResult,
    };
  } finally {
    ours.destroy();
    mixed?.destroy();
  }
}

/**
 * Runs every benchmark on `gpu`; `where` says what runs it (its runtime and
 * versions). `pytorch` starts PyTorch's side (Node), or says why there is none (a browser page).
 */
export async function runSuite(gpu: Gpu, options: BenchOptions, where: Pick<Environment, 'runtime' | 'versions'>, pytorch: CpuSide, log: Log): Promise<BenchResult> {
  const { runtime, versions } = where;
  log(`adapter: ${describeAdapter(gpu.adapter)}; timestamp queries: ${gpu.timestamps ? 'yes' : 'no'}`);
  const tfjsVersion = await tfjsOn(gpu).then(
    (tf) => tf.version.tfjs,
    (error: Error) => `failed to load: ${error.message}`,
  );
  const environment: Environment = {
    runtime,
    adapter: gpu.adapter,
    adapterLine: describeAdapter(gpu.adapter),
    timestampQueries: gpu.timestamps,
    timestampRoundingMs: gpu.timestamps ? await timestampRoundingMs(gpu.device) : null,
    versions: { ...versions, '@tensorflow/tfjs': tfjsVersion },
    date: new Date().toISOString(),
  };
  log(`roofline: the peak multiply-add rate${gpu.device.features.has('shader-f16') ? ' (f32 and f16)' : ''} and bandwidth, each kernel's variants timed`);
  const roofline = await measureRoofline(gpu, (options.quick ? BUDGETS.quick : BUDGETS.full).rooflineRounds, (notice) => log(`roofline: ${notice}`));
  log(
    `roofline: ${roofline.gflops.rate.toPrecision(3)} GFLOP/s f32${roofline.f16Gflops ? `, ${roofline.f16Gflops.rate.toPrecision(3)} f16` : ''}, ` +
      `${roofline.gbPerSecond.rate.toPrecision(3)} GB/s`,
  );
  const models: ModelResult[] = [];
  for (const kind of options.models) models.push(await benchModel(gpu, kind, options, roofline, pytorch, log));
  // Known once a process has started: its torch, its Python and its threads.
  const torch = models.find((m) => m.pytorch.about)?.pytorch;
  environment.versions['PyTorch (CPU)'] = torch?.about ?? `not run: ${models[0]?.pytorch.reason}`;
  return { environment, options, roofline, models };
}
