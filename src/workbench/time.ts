// Timing: the built-in kernel and an edited one, each in its op's own
// dispatches, by GPU timestamps between kernels, with rates from the op's counted work.
import type { Gpu } from '../engine/device';
import { applyOverride, type Dispatch, type Work } from '../engine/pipelines';
import { KernelProfiler, stats, timestampRoundingMs, type Stats } from '../engine/profile';
import { EDITED_FILE, type Edit } from './edit';
import { fullShape, kernelSpec } from './kernels';
import { shapeText, target, withTensors, type Shape } from './spec';
import { DEFAULT_TIME_LIMIT_S, withinTimeLimit } from './timeLimit';

/** GPU time of one kernel over repeated trials, and its rates from the op's counted work. */
export interface Timing {
  ms: Stats;
  work: Work | null;
  /** From the median. */
  gflops: number | null;
  gbPerS: number | null;
}

async function timeDispatches(device: GPUDevice, dispatch: Dispatch, dispatches: Dispatch[], trials: number): Promise<{ timing: Timing; roundingMs: number | null }> {
  const profiler = new KernelProfiler(device, dispatches);
  try {
    const index = profiler.runs.findIndex((r) => r.dispatches.includes(dispatch));
    await profiler.step();
    const samples: number[] = [];
    for (let i = 0; i < trials; i++) samples.push((await profiler.step())[index]);
    const ms = stats(samples);
    const work = dispatch.work;
    const seconds = ms.median / 1e3;
    return {
      timing: { ms, work, gflops: work && seconds > 0 ? work.flops / seconds / 1e9 : null, gbPerS: work && seconds > 0 ? work.bytes / seconds / 1e9 : null },
      roundingMs: profiler.roundingMs,
    };
  } finally {
    profiler.destroy();
  }
}

/**
 * Times the built-in kernel and, given an edit, the edited one, each in its op's
 * own dispatches (timestamps between kernels, one warm-up step), `trials` times.
 * `roundingMs` is what the timestamps were rounded to, or null when they were not.
 * Each kernel's timing gets `timeLimitS`, as a check's runs do (checkKernel).
 */
export async function timeKernel(
  gpu: Gpu,
  name: string,
  edit: Edit | null,
  options: { shape?: Shape; trials?: number; timeLimitS?: number } = {},
): Promise<{ builtIn: Timing; edited: Timing | null; roundingMs: number | null }> {
  if (!gpu.timestamps) throw new Error("timeKernel(): this device has no 'timestamp-query' feature, so kernels cannot be timed on the GPU");
  const s = kernelSpec(name);
  const shape = fullShape(name, options.shape);
  const trials = options.trials ?? 20;
  const device = gpu.device;
  const timing = `timing ${s.name} at ${shapeText(shape)}`;
  return withinTimeLimit(options.timeLimitS ?? DEFAULT_TIME_LIMIT_S, async (stage) => {
    stage(`${timing}: the built-in kernel`);
    const builtIn = await withTensors(device, { spec: s, shape }, (_t, dispatches) => timeDispatches(device, target(s, dispatches), dispatches, trials));
    let edited: typeof builtIn | null = null;
    if (edit) {
      stage(`${timing}: the edited kernel (${edit.file ?? EDITED_FILE})`);
      edited = await withTensors(device, { spec: s, shape, values: builtIn.values }, async (_t, dispatches) => {
        const dispatch = await applyOverride(device, target(s, dispatches), { source: edit.source, constants: edit.constants, file: edit.file ?? EDITED_FILE });
        return timeDispatches(device, dispatch, dispatches, trials);
      });
    }
    const roundingMs = builtIn.result.roundingMs !== null && (edited?.result.roundingMs ?? builtIn.result.roundingMs) !== null ? builtIn.result.roundingMs : null;
    return { builtIn: builtIn.result.timing, edited: edited?.result.timing ?? null, roundingMs };
  });
}

/** What the device rounds timestamps to, in ms, or null (see profile.ts); null too when it has no timestamps. */
export async function timestampRounding(gpu: Gpu): Promise<number | null> {
  return gpu.timestamps ? timestampRoundingMs(gpu.device) : null;
}
