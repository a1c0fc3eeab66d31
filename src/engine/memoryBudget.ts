// What a model needs in memory, from its architecture alone: checked before
// anything is allocated for a model read from a file (a model file, a
// checkpoint, a PyTorch import), whose header of a few hundred bytes could
// otherwise ask for gigabytes of buffers.
import { sizeOf } from './buffers';
import type { LayerShape } from './layers';

/** The most memory a model read from a file may need, at the batch it is checked for: 2 GiB. */
export const MEMORY_CEILING = 2 ** 31;

/** The batch a model read from a file is checked for unless told: fit's, evaluate's and predict's default. */
export const DEFAULT_BATCH = 32;

/** The optimizer state a model read from a file is checked for unless told: Adam's two tensors, the most any optimizer keeps. */
export const MOST_OPTIMIZER_STATES = 2;

export interface BudgetOptions {
  /** Rows a step (default DEFAULT_BATCH). */
  batch?: number;
  /** Tensors of optimizer state per parameter tensor (default MOST_OPTIMIZER_STATES). */
  optimizerStates?: number;
  /** Default MEMORY_CEILING. */
  ceiling?: number;
}

export interface MemoryNeed {
  /** Bytes of the input and every layer's output, and their gradients, for `batch` rows. */
  activations: number;
  /** Bytes of the parameters, their gradients and the optimizer's state. */
  parameters: number;
  total: number;
  parameterCount: number;
}

const size = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

/**
 * What a model of these layer shapes takes at `batch` rows a step: the input
 * and each layer's output for every row, twice (the graph keeps each output's
 * gradient beside it, evaluating too), and each parameter 2 + optimizerStates
 * times (its value, its gradient, the optimizer's state), all float32.
 */
export function memoryNeed(inputShape: readonly number[], shapes: readonly LayerShape[], options: BudgetOptions = {}): MemoryNeed {
  const { batch = DEFAULT_BATCH, optimizerStates = MOST_OPTIMIZER_STATES } = options;
  const values = shapes.reduce((sum, { output }) => sum + sizeOf(output), sizeOf(inputShape));
  const parameterCount = shapes.reduce((sum, { params }) => sum + params.reduce((n, p) => n + sizeOf(p.shape), 0), 0);
  const activations = batch * values * 4 * 2;
  const parameters = parameterCount * 4 * (2 + optimizerStates);
  return { activations, parameters, total: activations + parameters, parameterCount };
}

/** Throws, naming `source`, the need and the ceiling, when a model of these shapes needs more than the ceiling. */
export function checkMemoryBudget(inputShape: readonly number[], shapes: readonly LayerShape[], source: string, options: BudgetOptions = {}): void {
  const { batch = DEFAULT_BATCH, ceiling = MEMORY_CEILING } = options;
  const need = memoryNeed(inputShape, shapes, options);
  if (need.total <= ceiling) return;
  throw new Error(
    `${source}: the model needs ${size(need.total)} at batch ${batch}: ${size(need.activations)} for its ${shapes.length} layers' outputs and their gradients, ` +
      `${size(need.parameters)} for its ${need.parameterCount.toLocaleString('en-US')} parameters with their gradients and optimizer state; ` +
      `more than the ${size(ceiling)} a model read from a file may take`,
  );
}
