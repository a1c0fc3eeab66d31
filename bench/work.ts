// The work each kernel does, counted from the model's layer shapes, and which
// layer each run of a training step's dispatches belongs to.
//
// N is the batch; an image layer's input is H x W pixels of C channels
// (C_in, C_out for a convolution) and its output OH x OW; a dense layer maps I
// features to O. FLOPs count a multiply-add as two. Bytes are the compulsory
// traffic: each input read once and each output written once, as 4-byte floats;
// scratch buffers of multi-pass kernels are not counted.
import { sizeOf } from '../src/engine/buffers';
import type { Graph } from '../src/engine/graph';
import type { LayerConfig } from '../src/engine/layers';
import type { OptimizerKind } from '../src/engine/ops/optimizer';
import type { Dispatch } from '../src/engine/pipelines';

export interface Work {
  flops: number;
  bytes: number;
}

/** One layer of a model, with its per-example input and output shapes. */
export interface LayerSite {
  index: number;
  config: LayerConfig;
  input: readonly number[];
  output: readonly number[];
  /** The last layer's softmax is fused with the loss. */
  last: boolean;
}

/** What the kernels that act on the whole model (loss, metrics, optimizer) need. */
export interface ModelSite {
  classes: number;
  /** Floats the optimizer walks: the parameter arena, padding included. */
  parameters: number;
  optimizer: OptimizerKind;
}

type LayerKernel = { emits: (layer: LayerSite) => boolean; work: (N: number, layer: LayerSite) => Work };
type ModelKernel = { work: (N: number, model: ModelSite) => Work };

const F = 4;
const isType = (...types: LayerConfig['type'][]) => (layer: LayerSite) => types.includes(layer.config.type);
// Only layers after the first pass a gradient back to their input.
const hasInputGradient = (...types: LayerConfig['type'][]) => (layer: LayerSite) => layer.index > 0 && isType(...types)(layer);
const activation = (layer: LayerSite) => ('activation' in layer.config ? layer.config.activation : 'linear');

/**
 * A convolution or dense layer's product and both of its gradients: the same
 * multiply-adds, each reading two of x, w, y (or their gradients) and writing the third.
 */
function product(N: number, layer: LayerSite): Work {
  const { config, input, output } = layer;
  if (config.type === 'conv2d') {
    const [H, W, C_in] = input;
    const [OH, OW, C_out] = output;
    const [KH, KW] = config.kernelSize;
    return { flops: 2 * N * OH * OW * KH * KW * C_in * C_out, bytes: F * (N * H * W * C_in + KH * KW * C_in * C_out + N * OH * OW * C_out) };
  }
  const [I] = input;
  const [O] = output;
  return { flops: 2 * N * I * O, bytes: F * (N * I + I * O + N * O) };
}

/** An elementwise kernel over the layer's output: `flops` per element, `floats` read and written per element. */
const elementwise = (flops: number, floats: number) => (N: number, layer: LayerSite): Work => {
  const y = N * sizeOf(layer.output);
  return { flops: flops * y, bytes: F * floats * y };
};

/** z + bias (read z, write u) and its gradient (sum dOut over all but the channels), plus the bias itself. */
const bias = (floats: number) => (N: number, layer: LayerSite): Work => {
  const y = N * sizeOf(layer.output);
  return { flops: y, bytes: F * (floats * y + layer.output[layer.output.length - 1]) };
};

/** Max-pooling: each window's largest value and where it was; the gradient routes dOut back there and zero elsewhere. */
function pool(N: number, layer: LayerSite, direction: 'forward' | 'backward'): Work {
  const [PH, PW] = layer.config.type === 'maxPooling2d' ? layer.config.poolSize : [0, 0];
  const x = N * sizeOf(layer.input);
  const y = N * sizeOf(layer.output);
  return { flops: direction === 'forward' ? y * PH * PW : 0, bytes: F * (x + 2 * y) };
}

/** Per parameter: FLOPs, and floats read plus written (parameter, gradient, state). */
const OPTIMIZER: Record<OptimizerKind, { flops: number; floats: number }> = {
  sgd: { flops: 2, floats: 3 },
  momentum: { flops: 4, floats: 5 },
  rmsprop: { flops: 9, floats: 5 },
  adam: { flops: 14, floats: 7 },
};

// A kernel of a layer belongs to the layers `emits` picks; the plan visits them
// in order for a forward kernel and in reverse order for a backward one.
const LAYER_KERNELS: Record<string, LayerKernel> = {
  'conv2d.wgsl:forward': { emits: isType('conv2d'), work: product },
  'conv2d.wgsl:backward_weight': { emits: isType('conv2d'), work: product },
  'conv2d.wgsl:backward_input': { emits: hasInputGradient('conv2d'), work: product },
  'matmul.wgsl:forward': { emits: isType('dense'), work: product },
  'matmul.wgsl:backward_weight': { emits: isType('dense'), work: product },
  'matmul.wgsl:backward_input': { emits: hasInputGradient('dense'), work: product },
  'bias.wgsl:forward': { emits: isType('conv2d', 'dense'), work: bias(2) },
  'bias.wgsl:backward': { emits: isType('conv2d', 'dense'), work: bias(1) },
  'maxpool2d.wgsl:forward': { emits: isType('maxPooling2d'), work: (N, l) => pool(N, l, 'forward') },
  'maxpool2d.wgsl:backward': { emits: hasInputGradient('maxPooling2d'), work: (N, l) => pool(N, l, 'backward') },
  'softmax.wgsl:forward': { emits: (l) => activation(l) === 'softmax' && !l.last, work: elementwise(4, 2) },
  'softmax.wgsl:backward': { emits: (l) => activation(l) === 'softmax' && !l.last, work: elementwise(4, 3) },
};
// y = f(x) and dInput = f'(y) dOut, counted as one FLOP per element: they are bound by memory.
for (const kind of ['relu', 'sigmoid', 'tanh']) {
  const emits = (l: LayerSite) => activation(l) === kind;
  LAYER_KERNELS[`activation.wgsl:${kind}_forward`] = { emits, work: elementwise(1, 2) };
  LAYER_KERNELS[`activation.wgsl:${kind}_backward`] = { emits, work: elementwise(1, 3) };
}

const MODEL_KERNELS: Record<string, ModelKernel> = {
  // Log-sum-exp of each row of logits, minus the label's logit, summed into one float.
  'softmax_cross_entropy.wgsl:forward': { work: (N, m) => ({ flops: 4 * N * m.classes, bytes: F * (N * m.classes + N + 1) }) },
  // dLogits = (softmax(logits) - onehot(label)) / N.
  'softmax_cross_entropy.wgsl:backward': { work: (N, m) => ({ flops: 5 * N * m.classes, bytes: F * (2 * N * m.classes + N) }) },
  'accuracy.wgsl:forward': { work: (N, m) => ({ flops: N * m.classes, bytes: F * (N * m.classes + N + 1) }) },
  'optimizer.wgsl:sgd': { work: (_, m) => optimizerWork(m) },
  'optimizer.wgsl:momentum': { work: (_, m) => optimizerWork(m) },
  'optimizer.wgsl:rmsprop': { work: (_, m) => optimizerWork(m) },
  'optimizer.wgsl:adam': { work: (_, m) => optimizerWork(m) },
};

function optimizerWork(m: ModelSite): Work {
  const { flops, floats } = OPTIMIZER[m.optimizer];
  return { flops: flops * m.parameters, bytes: F * floats * m.parameters };
}

/** The layers and the whole-model facts of a graph, for the formulas above. */
function sites(graph: Graph): { layers: LayerSite[]; model: ModelSite } {
  const layers = graph.nodes.map((node, index) => ({
    index,
    config: node.config,
    input: node.inputShape,
    output: node.outputShape,
    last: index === graph.nodes.length - 1,
  }));
  return { layers, model: { classes: graph.classes, parameters: graph.arenaLength, optimizer: graph.optimizer.kind } };
}

/** A kernel as a training step runs it: one dispatch, or several passes of the same entry point in a row. */
export interface KernelRun {
  kernel: string;
  dispatches: Dispatch[];
  /** The layer it belongs to; null for a whole-model kernel or one this file cannot place. */
  layer: LayerSite | null;
  /** Null for a kernel this file has no formula for. */
  work: Work | null;
}

const shaderFile = (kernel: string) => kernel.split(':')[0];

/**
 * Splits a dispatch list into kernel runs, each with its layer and its counted
 * work. Consecutive dispatches of one entry point are passes of one kernel
 * (bias' two-stage reduction). A kernel with no formula gets no work; when it
 * follows a kernel of the same shader file (conv2d's sum_slices and transpose_kernel), it is a pass
 * of that kernel's operation and gets its layer.
 */
export function kernelRuns(graph: Graph, dispatches: readonly Dispatch[], batch: number): KernelRun[] {
  const { layers, model } = sites(graph);
  const runs: KernelRun[] = [];
  for (const dispatch of dispatches) {
    const last = runs[runs.length - 1];
    if (last && last.kernel === dispatch.kernel.name) last.dispatches.push(dispatch);
    else runs.push({ kernel: dispatch.kernel.name, dispatches: [dispatch], layer: null, work: null });
  }
  const seen = new Map<string, number>();
  runs.forEach((run, i) => {
    const name = run.kernel;
    if (Object.hasOwn(MODEL_KERNELS, name)) {
      run.work = MODEL_KERNELS[name].work(batch, model);
    } else if (Object.hasOwn(LAYER_KERNELS, name)) {
      const emitting = layers.filter(LAYER_KERNELS[name].emits);
      if (!name.includes('forward')) emitting.reverse();
      const occurrence = seen.get(name) ?? 0;
      seen.set(name, occurrence + 1);
      run.layer = emitting[occurrence] ?? null;
      if (run.layer) run.work = LAYER_KERNELS[name].work(batch, run.layer);
    } else if (i > 0 && shaderFile(runs[i - 1].kernel) === shaderFile(run.kernel)) {
      run.layer = runs[i - 1].layer;
    }
  });
  return runs;
}
