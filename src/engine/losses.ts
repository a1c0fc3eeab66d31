// The losses and metrics `compile` takes, by Keras' names (camelCased): which
// last layers a loss fits and whose activation it takes over (fused with it),
// what its targets are, which accuracy 'accuracy' is, the names the logs give
// them, the checks of y, and the dispatches a graph's plans run for them.
import { rows, sizeOf, type Tensor } from './buffers';
import { layerName, type LayerConfig } from './layers';
import { activationForward } from './ops/activation';
import { meanErrorBackward, meanErrorForward } from './ops/meanError';
import { metricForward, type MetricKernel } from './ops/metrics';
import { sigmoidCrossEntropyBackward, sigmoidCrossEntropyForward } from './ops/sigmoidCrossEntropy';
import { softmaxForward } from './ops/softmax';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward, type Classes } from './ops/softmaxCrossEntropy';
import type { Sums } from './ops/sums';
import type { Dispatch } from './pipelines';
import { quoteJson } from './safetensors';

export const LOSSES = ['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError', 'meanAbsoluteError'] as const;

export type LossKind = (typeof LOSSES)[number];

/** Keras' short names for two of them. */
const LOSS_ALIASES: Record<string, LossKind> = { mse: 'meanSquaredError', mae: 'meanAbsoluteError' };

/** A loss and its setting, as Keras' loss objects take it: `{ kind: 'binaryCrossentropy', fromLogits: true }`. */
export interface LossConfig {
  kind: LossKind;
  /** The model outputs logits (its last layer is linear): the cross-entropies apply the softmax or sigmoid themselves, unclipped. */
  fromLogits?: boolean;
}

/** What `compile({ loss })` takes: a name (or `mse`, `mae`), or a config. */
export type LossOption = LossKind | 'mse' | 'mae' | LossConfig;

export const METRICS = ['accuracy', 'topKCategoricalAccuracy', 'sparseTopKCategoricalAccuracy', 'mse', 'mae'] as const;

export type MetricName = (typeof METRICS)[number];

/** The name each metric has in the logs, Keras'. */
const LOGGED: Record<MetricName, string> = {
  accuracy: 'accuracy',
  topKCategoricalAccuracy: 'top_k_categorical_accuracy',
  sparseTopKCategoricalAccuracy: 'sparse_top_k_categorical_accuracy',
  mse: 'mse',
  mae: 'mae',
};

/** The cross-entropies: the activation each takes over from a last layer that ends in it. */
const FUSED: Partial<Record<LossKind, 'softmax' | 'sigmoid'>> = {
  sparseCategoricalCrossentropy: 'softmax',
  categoricalCrossentropy: 'softmax',
  binaryCrossentropy: 'sigmoid',
};

/** A name in an error, quoted: 'hinge'; anything else as JSON. */
const named = (value: unknown) => (typeof value === 'string' ? `'${value}'` : quoteJson(value));

/** A loss option (or a name from the command line) as a config, checked: `where` starts the error (`compile()`, `--loss`). */
export function lossConfig(option: LossOption | string, where: string): Required<LossConfig> {
  const config = typeof option === 'string' ? { kind: LOSS_ALIASES[option] ?? option } : option;
  if (!LOSSES.includes(config?.kind as LossKind)) {
    throw new Error(`${where}: unknown loss ${named(typeof option === 'string' ? option : config?.kind)} (known: ${LOSSES.join(', ')}, mse, mae)`);
  }
  const fromLogits = config.fromLogits ?? false;
  if (typeof fromLogits !== 'boolean') throw new Error(`${where}: fromLogits must be true or false, got ${quoteJson(fromLogits)}`);
  if (fromLogits && !FUSED[config.kind as LossKind]) throw new Error(`${where}: fromLogits applies to the cross-entropies, not to ${config.kind}`);
  return { kind: config.kind as LossKind, fromLogits };
}

/** What a model compiled without a loss trains with, as Keras' tutorial compiles it. */
export const DEFAULT_LOSS: Required<LossConfig> = { kind: 'sparseCategoricalCrossentropy', fromLogits: false };

/**
 * The loss a graph of a model compiled without one is built with: the
 * default, or where the last layer does not end in a softmax (predict on a
 * loaded autoencoder), the loss it fits, so that predict runs; fit and
 * evaluate check the default against it and refuse it.
 */
export function buildLoss(layers: readonly LayerConfig[]): Required<LossConfig> {
  const last = layers[layers.length - 1];
  const activation = 'activation' in last ? last.activation : null;
  if (activation === 'softmax') return DEFAULT_LOSS;
  return { kind: activation === 'sigmoid' ? 'binaryCrossentropy' : 'meanSquaredError', fromLogits: false };
}

/** The metric names, checked: known, and each once. */
export function metricNames(metrics: readonly string[], where: string): MetricName[] {
  metrics.forEach((metric, i) => {
    if (!METRICS.includes(metric as MetricName)) throw new Error(`${where}: unknown metric ${named(metric)} (known: ${METRICS.join(', ')})`);
    if (metrics.indexOf(metric) !== i) throw new Error(`${where}: metric '${metric}' is given twice`);
  });
  return [...metrics] as MetricName[];
}

/** What a compiled loss and its metrics make of a model: checked against its last layer by `lossPlan`. */
export interface LossPlan {
  loss: Required<LossConfig>;
  /** The activation the loss applies itself, fused with it: the last layer's softmax or sigmoid; null when it takes the output as it is. */
  fused: 'softmax' | 'sigmoid' | null;
  /** What y holds: labels (u32 [rows], the sparse cross-entropy) or rows of targets of the output's shape. */
  targets: 'labels' | 'rows';
  /** The output of one example (the last layer's). */
  output: number[];
  /** What each metric computes, in the order compiled; its sum is sums[1 + its index]. */
  metrics: { logged: string; kernel: MetricKernel | 'sparseAccuracy' | 'mse' | 'mae' }[];
  /** The logs' names: `loss`, then each metric's. */
  names: string[];
}

/**
 * Checks a loss and metrics against a model's layers (`output`, the last
 * one's output shape) and says what they make of it. A last layer that does
 * not fit the loss is refused, naming both.
 */
export function lossPlan(loss: Required<LossConfig>, metrics: readonly MetricName[], layers: readonly LayerConfig[], output: readonly number[]): LossPlan {
  const index = layers.length - 1;
  const last = layers[index];
  const name = layerName(last, index);
  const activation = 'activation' in last ? last.activation : null;
  const fusable = FUSED[loss.kind];
  const linear = activation === null || activation === 'linear';
  const fail = (what: string): never => {
    throw new Error(`${loss.kind}: ${what}`);
  };
  if (fusable && loss.fromLogits && !linear) fail(`with fromLogits, the last layer must be linear (it gives the logits), but ${name} has activation '${activation}'`);
  if (fusable && !loss.fromLogits && activation !== fusable) {
    const kind = fusable === 'softmax' ? 'dense' : 'dense or conv2d';
    fail(`the last layer must be ${kind} with a ${fusable} activation (or linear, with fromLogits: true), but ${name} ${activation === null ? `is ${last.type}` : `has activation '${activation}'`}`);
  }
  if (fusable === 'softmax' && output.length !== 1) fail(`the last layer must give one row of class scores per example, but ${name} gives [${output.join(', ')}]`);
  const targets = loss.kind === 'sparseCategoricalCrossentropy' ? 'labels' : 'rows';
  const classes = sizeOf(output);
  const plan: LossPlan['metrics'] = metrics.map((metric) => {
    const refuse = (why: string): never => {
      throw new Error(`compile(): metric '${metric}' ${why}`);
    };
    const logged = LOGGED[metric];
    if (metric === 'accuracy') {
      // As Keras picks it: sparse for labels, binary for the binary cross-entropy or a single output, else categorical.
      if (targets === 'labels') return { logged, kernel: 'sparseAccuracy' };
      return { logged, kernel: loss.kind === 'binaryCrossentropy' || classes === 1 ? 'binaryAccuracy' : 'categoricalAccuracy' };
    }
    if (metric === 'sparseTopKCategoricalAccuracy') {
      if (targets !== 'labels') refuse(`takes labels (sparseCategoricalCrossentropy); with ${loss.kind}'s targets use topKCategoricalAccuracy`);
      return { logged, kernel: metric };
    }
    if (targets === 'labels') refuse(`needs targets of the output's shape, but sparseCategoricalCrossentropy takes labels${metric === 'topKCategoricalAccuracy' ? ' (use sparseTopKCategoricalAccuracy)' : ''}`);
    if (metric === 'topKCategoricalAccuracy' && output.length !== 1) refuse(`needs one row of class scores per example, but ${name} gives [${output.join(', ')}]`);
    return { logged, kernel: metric };
  });
  return {
    loss,
    fused: fusable && !loss.fromLogits ? fusable : null,
    targets,
    output: [...output],
    metrics: plan,
    names: ['loss', ...plan.map((m) => m.logged)],
  };
}

/**
 * Checks y against what the loss takes for `count` examples: labels in
 * 0..classes-1, or `count` rows of the output's shape (float32, or bytes
 * standing for byte / 255 as pixels do), in [0, 1] for the binary
 * cross-entropy, rows summing to 1 for the categorical one. `what` starts
 * the error (`fit()`).
 */
export function checkTargets(plan: LossPlan, y: ArrayLike<number>, count: number, what: string): void {
  const kind = plan.loss.kind;
  if (plan.targets === 'labels') {
    if (y.length !== count) throw new Error(`${what}: x holds ${count} inputs but y holds ${y.length} labels`);
    const classes = plan.output[0];
    for (let i = 0; i < y.length; i++) {
      if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) throw new Error(`${what}: label ${i} is ${y[i]}, outside 0..${classes - 1}`);
    }
    return;
  }
  const R = sizeOf(plan.output);
  const form = kind === 'categoricalCrossentropy' ? 'one-hot values' : 'target values';
  if (y.length !== count * R) {
    throw new Error(`${what}: y holds ${y.length} values, expected ${count} rows of ${R} ${form} for ${kind} (the output's shape [${plan.output.join(', ')}])`);
  }
  // Bytes are b / 255: in [0, 1] and finite, as pixels are.
  if (y instanceof Uint8Array) {
    if (kind === 'categoricalCrossentropy') throw new Error(`${what}: y is bytes, which stand for byte / 255; give ${kind}'s one-hot rows as a Float32Array`);
    return;
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) throw new Error(`${what}: y value ${i} is ${v}`);
    if ((kind === 'binaryCrossentropy' || kind === 'categoricalCrossentropy') && !(v >= 0 && v <= 1)) {
      throw new Error(`${what}: y value ${i} (row ${Math.floor(i / R)}) is ${v}, outside [0, 1] for ${kind}`);
    }
  }
  if (kind === 'categoricalCrossentropy') {
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let j = i * R; j < (i + 1) * R; j++) sum += y[j];
      if (Math.abs(sum - 1) > 1e-3) throw new Error(`${what}: y row ${i} sums to ${sum}, not 1: ${kind} takes one-hot rows (or probabilities)`);
    }
  }
}

/** The graph's tensors a plan's loss and metrics use, [maxBatchSize, ...]. */
export interface LossTensors extends Sums {
  /** What the loss reads: the logits (fused) or the output, and where it writes the gradient. */
  input: Tensor;
  grad: Tensor;
  /** The model's outputs, what predict returns (after a fused activation). */
  output: Tensor;
  /** Labels u32 [maxBatchSize] or targets [maxBatchSize, ...output]. */
  targets: Tensor;
}

/** What a plan runs for its loss and metrics. */
export interface LossDispatches {
  /** The loss' forward, then each metric's: what adds to the sums. */
  measure: Dispatch[];
  /** The loss' gradient, into `grad`. */
  gradient: Dispatch[];
  /** From the logits to the outputs, for a fused activation (predict's last dispatch). */
  outputs: Dispatch[];
}

/** The dispatches of `plan`'s loss and metrics for `batchSize` rows. */
export async function lossDispatches(device: GPUDevice, plan: LossPlan, t: LossTensors, batchSize: number): Promise<LossDispatches> {
  const input = rows(t.input, batchSize);
  const grad = rows(t.grad, batchSize);
  const output = rows(t.output, batchSize);
  const sums = { sums: t.sums, runningMeans: t.runningMeans };
  const classes: Classes = plan.targets === 'labels' ? { labels: rows(t.targets, batchSize) } : { targets: rows(t.targets, batchSize) };
  const targets = rows(t.targets, batchSize);
  const clipped = !plan.loss.fromLogits;
  const accuracyAt = 1 + plan.metrics.findIndex((m) => m.kernel === 'sparseAccuracy');
  const asRows = (x: Tensor) => ({ ...x, shape: [x.shape[0], sizeOf(x.shape.slice(1))] });
  let forward: Dispatch;
  let gradient: Dispatch;
  switch (plan.loss.kind) {
    case 'sparseCategoricalCrossentropy':
    case 'categoricalCrossentropy':
      forward = await softmaxCrossEntropyForward(device, { logits: input, ...classes, ...sums }, { clipped, accuracyAt });
      gradient = await softmaxCrossEntropyBackward(device, { logits: input, ...classes, dLogits: grad }, { clipped });
      break;
    case 'binaryCrossentropy':
      forward = await sigmoidCrossEntropyForward(device, { logits: input, targets, ...sums }, { clipped });
      gradient = await sigmoidCrossEntropyBackward(device, { logits: input, targets, dLogits: grad }, { clipped });
      break;
    default: {
      const kind = plan.loss.kind === 'meanSquaredError' ? 'squared' : 'absolute';
      forward = await meanErrorForward(device, kind, { y: input, targets, ...sums });
      gradient = await meanErrorBackward(device, kind, { y: input, targets, dY: grad });
    }
  }
  const outputs =
    plan.fused === 'softmax'
      ? [await softmaxForward(device, { x: asRows(input), y: asRows(output) })]
      : plan.fused === 'sigmoid'
        ? [await activationForward(device, 'sigmoid', { x: input, y: output })]
        : [];
  const metrics: Dispatch[] = [];
  for (const [i, metric] of plan.metrics.entries()) {
    const at = 1 + i;
    if (metric.kernel === 'sparseAccuracy') continue;
    if (metric.kernel === 'mse' || metric.kernel === 'mae') {
      metrics.push(await meanErrorForward(device, metric.kernel === 'mse' ? 'squared' : 'absolute', { y: output, targets, ...sums }, at));
    } else {
      metrics.push(await metricForward(device, metric.kernel, { y: asRows(output), ...(plan.targets === 'labels' ? { labels: targets } : { targets: asRows(targets) }), ...sums }, { at }));
    }
  }
  // The metrics read the outputs, which a fused loss does not need for itself.
  return { measure: [forward, ...(metrics.length > 0 ? outputs : []), ...metrics], gradient: [gradient], outputs };
}
