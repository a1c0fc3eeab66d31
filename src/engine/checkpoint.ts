// A training checkpoint: a safetensors file holding everything `fit` needs to
// continue a run bit for bit (weights, optimizer state, layer state, the epoch's sums) and where it was.
import { formatShape, sizeOf } from './buffers';
import type { Graph, GraphState } from './graph';
import type { LayerConfig } from './layers';
import type { LossConfig, MetricName } from './losses';
import { checkWeights, readArchitecture, type Architecture } from './modelFile';
import { lossScaleConfig, type LossScaleConfig } from './ops/lossScale';
import { stateNames, stateSize, type OptimizerConfig } from './ops/optimizer';
import { PRECISIONS, type Precision } from './pipelines';
import { decodeSafetensors, encodeSafetensors, isObject, printable, quoteJson, type Weight } from './safetensors';

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
  /** The model's precision ('float32' if not given: a checkpoint written before there was a choice), and in mixed precision its loss scaling's settings. */
  precision?: Precision;
  lossScale?: LossScaleConfig;
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
  /** In mixed precision, the finite steps since the loss scale last changed (the scale is a tensor). */
  lossScaleFiniteSteps?: number;
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
  tensors.push({ name: 'optimizer.learning_rate', shape: [1], values: Float32Array.of(state.learningRate) });
  tensors.push({ name: 'metrics.sums', shape: [state.sums.length], values: state.sums });
  tensors.push({ name: 'metrics.running_means', shape: [state.runningMeans.length], values: state.runningMeans });
  if (state.lossScale) tensors.push({ name: 'loss_scale', shape: [1], values: Float32Array.of(state.lossScale.scale) });
  const training = { ...run, optimizerStep: state.optimizerStep, integers, ...(state.lossScale && { lossScaleFiniteSteps: state.lossScale.finiteSteps }) };
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, architecture: JSON.stringify(architecture), training: JSON.stringify(training) });
}

/** What errors call a checkpoint when it is not one. */
const KIND = 'a checkpoint';

/**
 * A checkpoint's metadata and tensors, checked: its format, architecture (and
 * the memory it needs, at the checkpoint's batch size), position (checkPosition)
 * and weights (`restoreState` checks the rest against the graph). `source` names the file in errors.
 */
export function readCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  const { weights, metadata } = decodeSafetensors(bytes, source, KIND);
  if (metadata.format !== CHECKPOINT_FORMAT && metadata.format !== FORMAT_1) fail(`not a checkpoint: format is ${quoteJson(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
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
  const optimizer = training.optimizer;
  let optimizerStates = 0;
  try {
    optimizerStates = stateSize((optimizer as OptimizerConfig).kind);
  } catch {
    fail(`optimizer is ${quoteJson(optimizer)}, not an optimizer's settings`);
  }
  if (!Array.isArray(training.history)) fail(`history is ${quoteJson(training.history)}, not a list of epochs`);
  const precision = (training.precision ?? 'float32') as Precision;
  if (!PRECISIONS.includes(precision)) fail(`precision is ${quoteJson(training.precision)}, not one of ${PRECISIONS.join(', ')}`);
  let lossScale: LossScaleConfig | undefined;
  if (precision === 'mixed') {
    try {
      lossScale = lossScaleConfig(training.lossScale as Partial<LossScaleConfig>);
    } catch (error) {
      fail(`${(error as Error).message} (lossScale is ${quoteJson(training.lossScale)})`);
    }
  }
  const integers = isObject(training.integers) ? training.integers : fail('integers is missing');
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
    optimizer: optimizer as OptimizerConfig,
    precision,
    ...(lossScale && { lossScale }),
    random: { build: random.build as number, epoch: random.epoch as number },
    history: training.history as Record<string, unknown>[],
    loss: format1 ? { kind: 'sparseCategoricalCrossentropy', fromLogits: false } : (training.loss as Required<LossConfig>),
    metrics: format1 ? ['accuracy'] : (training.metrics as MetricName[]),
  };
  const optimizerStep = count('optimizerStep');
  const lossScaleFiniteSteps = precision === 'mixed' ? count('lossScaleFiniteSteps') : undefined;
  // Format 1 counted the rows right as an integer; format 2 keeps every sum in metrics.sums (checked in restoreState).
  checkPosition(run, { optimizerStep, lossScaleFiniteSteps, ...(format1 && { correct: count('correct') }) }, source);
  // The memory its model needs, at its own batch size, before its weights are looked at.
  const architecture = readArchitecture(metadata.architecture ?? '', source, { kind: KIND, batch: Math.min(run.batchSize, run.samples), optimizerStates });
  checkWeights(architecture.layers, architecture.shapes, weights.filter((w) => w.name.startsWith('layers.')), source);
  return {
    architecture: { inputShape: architecture.inputShape, layers: architecture.layers },
    run,
    source,
    tensors,
    integers,
    optimizerStep,
    ...(lossScaleFiniteSteps !== undefined && { lossScaleFiniteSteps }),
  };
}

/**
 * Throws unless a checkpoint's position adds up: `steps` an epoch for its
 * samples and batch size, `step` within them, the rows `seen` and `correct`
 * that those steps hold, a step count for each epoch done, and counters that
 * fit the GPU's u32. readCheckpoint calls it; `source` names the file.
 */
export function checkPosition(run: CheckpointRun, counters: { optimizerStep: number; correct?: number; lossScaleFiniteSteps?: number }, source: string): void {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  const { epoch, step, steps, globalStep, batchSize, samples, seen, history } = run;
  if (batchSize < 1 || samples < 1) fail(`batchSize ${batchSize} and samples ${samples} must both be at least 1`);
  if (steps !== Math.ceil(samples / batchSize)) fail(`steps is ${steps}, but ${samples} samples in batches of ${batchSize} make ${Math.ceil(samples / batchSize)} an epoch`);
  if (step >= steps) fail(`step ${step} is not within an epoch of ${steps} steps`);
  if (seen !== step * batchSize) fail(`seen is ${seen}, but ${step} steps of ${batchSize} rows see ${step * batchSize}`);
  if (globalStep !== epoch * steps + step) fail(`globalStep is ${globalStep}, but epoch ${epoch}, step ${step} of ${steps} is step ${epoch * steps + step}`);
  // A run started at fit's initialEpoch holds fewer epochs than its position; never more.
  if (history.length > epoch) fail(`history holds ${history.length} epochs, but the checkpoint is in epoch ${epoch} (0-based)`);
  // At an epoch's start the sums still hold the epoch before (they are cleared at its first step).
  const rows = step === 0 ? samples : seen;
  if (counters.correct !== undefined && counters.correct > rows) fail(`correct is ${counters.correct}, more than the ${rows} rows it counts`);
  if (counters.optimizerStep >= 2 ** 32) fail(`optimizerStep is ${counters.optimizerStep}, more than a u32 holds`);
  // Skipped steps leave the optimizer's count behind the steps run, never ahead; the scale changes at its growth steps.
  const finite = counters.lossScaleFiniteSteps;
  if (finite !== undefined && run.lossScale && finite >= run.lossScale.dynamicGrowthSteps) {
    fail(`lossScaleFiniteSteps is ${finite}, but the scale doubles after ${run.lossScale.dynamicGrowthSteps} finite steps`);
  }
}

/** What a run resumed from a checkpoint must share with it. */
export interface ResumeTarget {
  architecture?: { inputShape: readonly number[]; layers: readonly LayerConfig[] };
  optimizer?: OptimizerConfig;
  precision?: { precision: Precision; lossScale?: LossScaleConfig };
  loss?: Required<LossConfig>;
  metrics?: readonly MetricName[];
  batchSize?: number;
  samples?: number;
}

/**
 * Throws, naming `source` and what differs, unless the checkpoint was written
 * by a run like `target` (each of its fields that is given): the same model,
 * optimizer, batch size and data size. `fit` checks all four; the command line
 * checks what it knows before the data is read. `caller` ('fit()') starts the error.
 */
export function checkResumable(checkpoint: Checkpoint, target: ResumeTarget, caller?: string): void {
  const fail = (what: string): never => {
    throw new Error(`${caller ? `${caller}: ` : ''}cannot resume from ${checkpoint.source}: ${what}`);
  };
  const { architecture, optimizer, precision, batchSize, samples } = target;
  const json = (architecture: NonNullable<ResumeTarget['architecture']>) => JSON.stringify({ inputShape: architecture.inputShape, layers: architecture.layers });
  if (architecture && json(checkpoint.architecture) !== json(architecture)) fail('it was written for another model (its architecture differs from this one)');
  if (optimizer && JSON.stringify(checkpoint.run.optimizer) !== JSON.stringify(optimizer)) {
    fail(`it was written with the optimizer ${JSON.stringify(checkpoint.run.optimizer)}, this model is compiled with ${JSON.stringify(optimizer)}`);
  }
  const written = { precision: checkpoint.run.precision ?? 'float32', ...(checkpoint.run.lossScale && { lossScale: checkpoint.run.lossScale }) };
  if (precision && JSON.stringify(written) !== JSON.stringify(precision)) {
    fail(`it was written in precision ${JSON.stringify(written)}, this model is compiled with ${JSON.stringify(precision)}`);
  }
  if (target.loss && JSON.stringify({ loss: checkpoint.run.loss, metrics: checkpoint.run.metrics }) !== JSON.stringify({ loss: target.loss, metrics: target.metrics ?? [] })) {
    const compiled = (l: Required<LossConfig>, m: readonly string[]) => `the loss ${l.kind}${l.fromLogits ? ' (fromLogits)' : ''} and metrics [${m.join(', ')}]`;
    fail(`it was written with ${compiled(checkpoint.run.loss, checkpoint.run.metrics)}, this model is compiled with ${compiled(target.loss, target.metrics ?? [])}`);
  }
  const { batchSize: b, samples: n } = checkpoint.run;
  if ((batchSize !== undefined && b !== batchSize) || (samples !== undefined && n !== samples)) {
    fail(`it was written training on ${n} samples in batches of ${b}, not ${samples ?? n} in batches of ${batchSize ?? b}`);
  }
}

/** The GPU state a checkpoint holds, laid out for `graph` (built from its architecture and optimizer); every tensor checked. */
export function restoreState(checkpoint: Checkpoint, graph: Graph): GraphState {
  const fail = (what: string): never => {
    throw new Error(`${checkpoint.source}: ${what}`);
  };
  const byName = new Map(checkpoint.tensors);
  const take = (name: string, shape: readonly number[]): Float32Array => {
    const tensor = byName.get(name) ?? fail(`no tensor ${printable(name)}`);
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
  // The epoch's sums: non-negative and finite, as every loss and metric is, or the epoch's figures would be NaN (their rows and steps are checkPosition's).
  const sums = take('metrics.sums', [graph.sums.shape[0]]);
  const runningMeans = take('metrics.running_means', [graph.runningMeans.shape[0]]);
  if (![...sums, ...runningMeans].every((v) => v >= 0 && v < Infinity)) {
    fail(`metrics.sums and metrics.running_means are ${[...sums, ...runningMeans].join(', ')}, not finite sums of losses, metrics and rows`);
  }
  // A checkpoint written before the rate was training state holds none: its optimizer's constant rate was the rate.
  const { learningRate: configured } = checkpoint.run.optimizer;
  const learningRate = !byName.has('optimizer.learning_rate') && typeof configured === 'number' ? Math.fround(configured) : take('optimizer.learning_rate', [1])[0];
  const state: GraphState = { arena, optimizer, optimizerStep: checkpoint.optimizerStep, learningRate, layers, sums, runningMeans };
  if (graph.lossScale) {
    if (checkpoint.lossScaleFiniteSteps === undefined) fail(`it holds no loss scale, and the model is compiled in mixed precision`);
    const scale = take('loss_scale', [1])[0];
    if (!(scale > 0 && scale < Infinity)) fail(`loss_scale is ${scale}, not a positive finite scale`);
    state.lossScale = { scale, finiteSteps: checkpoint.lossScaleFiniteSteps! };
  }
  if (byName.size > 0) fail(`tensor ${printable([...byName.keys()][0])} belongs to no part of the model`);
  return state;
}
