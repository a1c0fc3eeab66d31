// A training checkpoint: a safetensors file holding everything `fit` needs to
// continue a run bit for bit (weights, optimizer state, layer state, the epoch's sums) and where it was.
import { formatShape, sizeOf } from './buffers';
import type { Graph, GraphState } from './graph';
import type { LossConfig, MetricName } from './losses';
import { checkWeights, readArchitecture, type Architecture } from './modelFile';
import { stateNames, type OptimizerConfig } from './ops/optimizer';
import { decodeSafetensors, encodeSafetensors, isObject, quoteJson, type Weight } from './safetensors';

export const CHECKPOINT_FORMAT = 'webgpu-train-checkpoint/2';

/**
 * The format before losses and metrics were chosen: sparse categorical
 * cross-entropy and accuracy, their sums as `metrics.loss_sum` [1], the count
 * right as the integer `correct`, and `metrics.running_means` [3]. Still read.
 */
const FORMAT_1 = 'webgpu-train-checkpoint/1';

/** Where a checkpoint was taken: `step` steps of epoch `epoch` (0-based) done; step 0 is the epoch's start. */
export interface CheckpointInfo {
  epoch: number;
  step: number;
  /** Steps in an epoch, and all the steps done since the run began. */
  steps: number;
  globalStep: number;
}

/** The position and the rest of the run besides the GPU state: JSON in the file's metadata. */
export interface CheckpointRun extends CheckpointInfo {
  optimizer: OptimizerConfig;
  /** The loss and metrics the sums are of. */
  loss: Required<LossConfig>;
  metrics: MetricName[];
  batchSize: number;
  samples: number;
  /** Rows seen in the epoch so far. */
  seen: number;
  /**
   * The model's generator: its state when the graph was built (so a rebuilt
   * graph draws the same dropout seeds) and at the start of the epoch (so the
   * epoch's shuffle is drawn again).
   */
  random: { build: number; epoch: number };
  /** Each completed epoch's logs, for the history `fit` returns. */
  history: Record<string, unknown>[];
}

/** A checkpoint read and checked, before a graph to restore it into exists. */
export interface Checkpoint {
  architecture: Architecture;
  run: CheckpointRun;
  source: string;
  tensors: Map<string, Weight>;
  integers: Record<string, unknown>;
  optimizerStep: number;
}

/** The checkpoint of a graph's state: weights under their model-file names, the rest beside them. */
export function encodeCheckpoint(graph: Graph, architecture: Architecture, run: CheckpointRun, state: GraphState): Uint8Array {
  const names = stateNames(graph.optimizer.kind);
  const tensors: Weight[] = [];
  for (const p of graph.params) {
    const name = `layers.${p.layer}.${p.spec.name}`;
    const slice = (arena: Float32Array) => arena.slice(p.start, p.start + sizeOf(p.spec.shape));
    tensors.push({ name, shape: p.spec.shape, values: slice(state.arena) });
    names.forEach((stateName, i) => tensors.push({ name: `optimizer.${stateName}.${name}`, shape: p.spec.shape, values: slice(state.optimizer[i]) }));
  }
  // Float state goes in tensors, bit for bit; integers (counters) in the JSON.
  const integers: Record<string, number[]> = {};
  graph.states.forEach(({ name, tensor }, i) => {
    if (tensor.dtype === 'f32') tensors.push({ name: `state.${name}`, shape: [...tensor.shape], values: state.layers[i] as Float32Array });
    else integers[name] = [...state.layers[i]];
  });
  tensors.push({ name: 'metrics.sums', shape: [state.sums.length], values: state.sums });
  tensors.push({ name: 'metrics.running_means', shape: [state.runningMeans.length], values: state.runningMeans });
  const training = { ...run, optimizerStep: state.optimizerStep, integers };
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, architecture: JSON.stringify(architecture), training: JSON.stringify(training) });
}

/**
 * A checkpoint's metadata and tensors, checked: its format, architecture,
 * position and weights (`restoreState` checks the rest against the graph).
 * `source` names the file in errors.
 */
export function readCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  const { weights, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== CHECKPOINT_FORMAT && metadata.format !== FORMAT_1) fail(`not a checkpoint: format is ${quoteJson(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
  const architecture = readArchitecture(metadata.architecture ?? '', source);
  let training: unknown;
  try {
    training = JSON.parse(metadata.training ?? '');
  } catch {
    fail('not a checkpoint: its training metadata is not JSON');
  }
  if (!isObject(training)) return fail('not a checkpoint: its training metadata is not an object');
  const count = (field: string) => {
    const value = training[field];
    if (!Number.isSafeInteger(value) || (value as number) < 0) fail(`${field} is ${quoteJson(value)}, not a non-negative integer`);
    return value as number;
  };
  const random = training.random as Record<string, unknown>;
  if (!isObject(random) || ![random.build, random.epoch].every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32)) {
    fail(`random is ${quoteJson(random)}, not two u32 generator states`);
  }
  if (!isObject(training.optimizer)) fail(`optimizer is ${quoteJson(training.optimizer)}, not an optimizer's settings`);
  if (!Array.isArray(training.history)) fail(`history is ${quoteJson(training.history)}, not a list of epochs`);
  const integers = isObject(training.integers) ? training.integers : fail('integers is missing');
  checkWeights(architecture.layers, architecture.shapes, weights.filter((w) => w.name.startsWith('layers.')), source);
  const tensors = new Map(weights.map((w) => [w.name, w]));
  const format1 = metadata.format === FORMAT_1;
  if (format1) {
    // Its sums as format 2 holds them: [Σ loss, the count right], the accuracy being the one metric.
    const lossSum = tensors.get('metrics.loss_sum') ?? fail('no tensor metrics.loss_sum');
    if (lossSum.shape.join() !== '1') fail(`metrics.loss_sum has shape ${formatShape(lossSum.shape)}, expected [1]`);
    tensors.delete('metrics.loss_sum');
    tensors.set('metrics.sums', { name: 'metrics.sums', shape: [2], values: Float32Array.of(lossSum.values[0], count('correct')) });
  } else if (!isObject(training.loss) || !Array.isArray(training.metrics)) {
    fail(`loss and metrics are ${quoteJson(training.loss)} and ${quoteJson(training.metrics)}, not a loss and a list of metrics`);
  }
  const run: CheckpointRun = {
    epoch: count('epoch'),
    step: count('step'),
    steps: count('steps'),
    globalStep: count('globalStep'),
    batchSize: count('batchSize'),
    samples: count('samples'),
    seen: count('seen'),
    optimizer: training.optimizer as OptimizerConfig,
    random: { build: random.build as number, epoch: random.epoch as number },
    history: training.history as Record<string, unknown>[],
    loss: format1 ? { kind: 'sparseCategoricalCrossentropy', fromLogits: false } : (training.loss as Required<LossConfig>),
    metrics: format1 ? ['accuracy'] : (training.metrics as MetricName[]),
  };
  if (run.step >= run.steps) fail(`step ${run.step} is not within an epoch of ${run.steps} steps`);
  return {
    architecture: { inputShape: architecture.inputShape, layers: architecture.layers },
    run,
    source,
    tensors,
    integers,
    optimizerStep: count('optimizerStep'),
  };
}

/** The GPU state a checkpoint holds, laid out for `graph` (built from its architecture and optimizer); every tensor checked. */
export function restoreState(checkpoint: Checkpoint, graph: Graph): GraphState {
  const fail = (what: string): never => {
    throw new Error(`${checkpoint.source}: ${what}`);
  };
  const byName = new Map(checkpoint.tensors);
  const take = (name: string, shape: readonly number[]): Float32Array => {
    const tensor = byName.get(name) ?? fail(`no tensor ${name}`);
    if (tensor.shape.join() !== shape.join()) fail(`${name} has shape ${formatShape(tensor.shape)}, expected ${formatShape(shape)}`);
    byName.delete(name);
    return tensor.values;
  };
  const names = stateNames(graph.optimizer.kind);
  const arena = new Float32Array(graph.arenaLength);
  const optimizer = names.map(() => new Float32Array(graph.arenaLength));
  for (const p of graph.params) {
    const name = `layers.${p.layer}.${p.spec.name}`;
    arena.set(take(name, p.spec.shape), p.start);
    names.forEach((state, i) => optimizer[i].set(take(`optimizer.${state}.${name}`, p.spec.shape), p.start));
  }
  const layers = graph.states.map(({ name, tensor }) => {
    if (tensor.dtype === 'f32') return take(`state.${name}`, tensor.shape);
    const values = checkpoint.integers[name];
    if (!Array.isArray(values) || values.length !== sizeOf(tensor.shape) || !values.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      return fail(`integers.${name} is ${quoteJson(values)}, not ${sizeOf(tensor.shape)} u32 values`);
    }
    return Uint32Array.from(values as number[]);
  });
  const state: GraphState = {
    arena,
    optimizer,
    optimizerStep: checkpoint.optimizerStep,
    layers,
    sums: take('metrics.sums', [graph.sums.shape[0]]),
    runningMeans: take('metrics.running_means', [graph.runningMeans.shape[0]]),
  };
  if (byName.size > 0) fail(`tensor ${[...byName.keys()][0]} belongs to no part of the model`);
  return state;
}
