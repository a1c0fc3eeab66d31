// A check: the built-in kernel and an edited one run as the engine runs the op
// (its own dispatches, bind groups and constants) on the same seeded inputs, the
// edited source swapped in by applyOverride as compile({ kernels }) does, and
// both compared with the float64 reference.
import { readTensor, sizeOf } from '../engine/buffers';
import type { Gpu } from '../engine/device';
import { applyOverride, errorsWithNotes, runDispatches, type Constants, type ShaderMessage } from '../engine/pipelines';
import { compare, F32, type Comparison, type Tolerance } from '../reference/compare';
import { compileMessages, editedLines, EDITED_FILE, pointAtEdits, type Edit } from './edit';
import { builtInSource, fullShape, kernelSpec } from './kernels';
import { target, withTensors, type KernelSpec, type Shape } from './spec';

export type CheckResult =
  /** Each error with its notes (type 'info'), an edited line a note names first (see pointAtEdits). */
  | { status: 'compile-error'; file: string; messages: ShaderMessage[] }
  /** It compiles, but its bindings, params or constants do not fit the built-in kernel's (or the GPU refused the pipeline). */
  | { status: 'invalid'; message: string }
  | {
      status: 'match' | 'mismatch';
      kernel: string;
      shape: Shape;
      /** The checked tensor's name and shape. */
      output: { name: string; shape: number[] };
      tolerance: Tolerance;
      builtIn: Comparison;
      edited: Comparison;
      constants: { builtIn: Constants; edited: Constants };
      workgroups: { builtIn: number[]; edited: number[] };
    };

/** float32 against float64: F32, its atol widened as rounding grows with the terms summed. */
function tolerance(s: KernelSpec, shape: Shape): Tolerance {
  return { atol: F32.atol * Math.sqrt(Math.max(1, s.contraction(shape))), rtol: F32.rtol };
}

/**
 * Runs the built-in kernel and the edited one on the same seeded inputs at
 * `shape` and compares both with the float64 reference.
 */
export async function checkKernel(gpu: Gpu, name: string, edit: Edit, options: { shape?: Shape; seed?: number } = {}): Promise<CheckResult> {
  const s = kernelSpec(name);
  const shape = fullShape(name, options.shape);
  const file = edit.file ?? EDITED_FILE;
  // An empty source compiles, to nothing.
  if (edit.source.trim() === '') return { status: 'invalid', message: `${file} is empty: it holds no kernel` };
  const messages = await compileMessages(gpu, name, edit.source, file);
  if (messages.some((m) => m.type === 'error')) {
    return { status: 'compile-error', file, messages: errorsWithNotes(pointAtEdits(messages, editedLines(builtInSource(name), edit.source))) };
  }
  const device = gpu.device;
  const specs = s.tensors(shape);
  const checked = typeof s.checked === 'string' ? [s.checked] : s.checked;
  // Several checked tensors are compared as one vector, their values one after another.
  const output =
    checked.length === 1
      ? { name: checked[0], shape: specs[checked[0]].shape }
      : { name: checked.map((c) => `${c} [${specs[c].shape.join(', ')}]`).join(' + '), shape: [checked.reduce((n, c) => n + sizeOf(specs[c].shape), 0)] };
  const outputShape = output.shape;
  const run = (values: Record<string, Float64Array> | undefined, override?: Edit) =>
    withTensors(device, { spec: s, shape, seed: options.seed, values }, async (tensors, dispatches) => {
      const dispatch = target(s, dispatches);
      if (override) await applyOverride(device, dispatch, { source: override.source, constants: override.constants, file });
      await runDispatches(device, dispatches);
      const parts = await Promise.all(checked.map((c) => readTensor(device, tensors[c])));
      const output = parts.length === 1 ? parts[0] : Float64Array.from(parts.flatMap((p) => [...p]));
      return { output, constants: { ...dispatch.constants }, workgroups: [...dispatch.workgroups] };
    });
  const builtIn = await run(undefined);
  let edited: Awaited<ReturnType<typeof run>>;
  try {
    edited = await run(builtIn.values, edit);
  } catch (error) {
    return { status: 'invalid', message: (error as Error).message };
  }
  const want = s.reference(builtIn.values, shape);
  const tol = tolerance(s, shape);
  const builtInComparison = compare(builtIn.result.output, want, tol, outputShape);
  const editedComparison = compare(edited.result.output, want, tol, outputShape);
  return {
    status: editedComparison.count === 0 ? 'match' : 'mismatch',
    kernel: s.name,
    shape,
    output,
    tolerance: tol,
    builtIn: builtInComparison,
    edited: editedComparison,
    constants: { builtIn: builtIn.result.constants, edited: edited.result.constants },
    workgroups: { builtIn: builtIn.result.workgroups, edited: edited.result.workgroups },
  };
}
