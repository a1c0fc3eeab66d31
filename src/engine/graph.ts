// The graph runner: turns a list of layers into GPU buffers and dispatch lists,
// all created once, so that a training step only records and submits.
//
// Buffer plan: every parameter lives in one buffer (the arena), every gradient
// in a second with the same layout, and each optimizer state in one more, so a
// single dispatch updates the whole model. Activations and their gradients get
// a buffer each, sized for the largest batch; a smaller batch (the last of an
// epoch) uses the first rows of the same buffers with dispatches of its own.
import { createTensor, readTensor, reshape, sizeOf, writeTensor, type Tensor } from './buffers';
import { layerShape, type LayerConfig, type ParamSpec } from './layers';
import { activationBackward, activationForward } from './ops/activation';
import { accuracyForward } from './ops/accuracy';
import { biasBackward, biasForward } from './ops/bias';
import { conv2dBackward, conv2dForward } from './ops/conv2d';
import { matmulBackward, matmulForward } from './ops/matmul';
import { maxPool2dBackward, maxPool2dForward } from './ops/maxpool2d';
import { optimizerUpdate, stateSize, type OptimizerConfig } from './ops/optimizer';
import { softmaxBackward, softmaxForward } from './ops/softmax';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './ops/softmax_cross_entropy';
import { destroyDispatches, type Dispatch } from './pipelines';

/** A parameter tensor of one layer, placed in the arena. */
export interface Param {
  layer: number;
  spec: ParamSpec;
  value: Tensor;
  grad: Tensor;
  /** Offset in floats from the start of the arena. */
  start: number;
}

/** The buffers of one layer, sized for the largest batch. */
interface Node {
  config: LayerConfig;
  inputShape: number[];
  outputShape: number[];
  params: Param[];
  x: Tensor;
  /** Gradient of the loss with respect to x; null for the first layer, which needs none. */
  dX: Tensor | null;
  /** Before bias, after bias (the logits of a softmax layer), after activation. */
  z?: Tensor;
  u?: Tensor;
  y: Tensor;
  dU?: Tensor;
  /** Gradient of the loss with respect to y; null where nothing needs it (a first flatten, the last layer). */
  dY: Tensor | null;
  argmax?: Tensor;
}

/** The dispatches for one batch size. */
export interface Plan {
  batch: number;
  /** Forward to the logits, loss and accuracy accumulated, backward, update. */
  train: Dispatch[];
  /** Forward, loss gradient and backward, leaving every gradient in the gradient arena. */
  gradients: Dispatch[];
  /** Forward to the logits, loss and accuracy accumulated. */
  evaluate: Dispatch[];
  /** Forward to the probabilities. */
  predict: Dispatch[];
}

/** The first `batch` rows of a batch-major tensor. */
function rows(tensor: Tensor, batch: number): Tensor {
  return { ...tensor, shape: [batch, ...tensor.shape.slice(1)] };
}

/** Keras' glorot_uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)). */
function initialValues(spec: ParamSpec, random: () => number): Float32Array {
  const values = new Float32Array(sizeOf(spec.shape));
  if (spec.name === 'bias') return values;
  const limit = Math.sqrt(6 / (spec.fanIn + spec.fanOut));
  for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * limit;
  return values;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly params: Param[] = [];
  /** Length of the parameter arena in floats (with alignment padding). */
  readonly arenaLength: number;
  readonly arena: Tensor;
  readonly gradArena: Tensor;
  readonly stateArenas: Tensor[];
  readonly x: Tensor;
  readonly labels: Tensor;
  readonly probabilities: Tensor;
  /** Σ loss and number correct since the last clear, on the GPU. */
  readonly lossSum: Tensor;
  readonly correct: Tensor;
  readonly step: Tensor;
  private readonly plans = new Map<number, Promise<Plan>>();

  constructor(
    readonly device: GPUDevice,
    readonly layers: readonly LayerConfig[],
    readonly inputShape: readonly number[],
    readonly maxBatch: number,
    readonly optimizer: OptimizerConfig,
    random: () => number,
  ) {
    const last = layers[layers.length - 1];
    if (last?.type !== 'dense' || last.activation !== 'softmax') {
      throw new Error('sparseCategoricalCrossentropy: the last layer must be dense with a softmax activation');
    }
    // Shapes and the arena layout, with each tensor aligned for binding.
    const align = device.limits.minStorageBufferOffsetAlignment / 4;
    let shape = [...inputShape];
    let length = 0;
    const specs: { layer: number; spec: ParamSpec; start: number }[] = [];
    const shapes = layers.map((layer, i) => {
      const { output, params } = layerShape(layer, shape, i);
      for (const spec of params) {
        specs.push({ layer: i, spec, start: length });
        length += Math.ceil(sizeOf(spec.shape) / align) * align;
      }
      const input = shape;
      shape = output;
      return { input, output };
    });
    this.arenaLength = length;

    const values = new Float32Array(length);
    for (const { spec, start } of specs) values.set(initialValues(spec, random), start);
    this.arena = createTensor(device, [length], { label: 'parameters', data: values });
    this.gradArena = createTensor(device, [length], { label: 'gradients' });
    this.stateArenas = Array.from({ length: stateSize(optimizer.kind) }, (_, i) =>
      createTensor(device, [length], { label: `${optimizer.kind} state ${i}` }),
    );
    const slice = (arena: Tensor, start: number, shape: number[]): Tensor => ({ ...arena, shape, offset: arena.offset + start * 4 });
    for (const { layer, spec, start } of specs) {
      this.params.push({ layer, spec, start, value: slice(this.arena, start, spec.shape), grad: slice(this.gradArena, start, spec.shape) });
    }

    const B = maxBatch;
    this.x = createTensor(device, [B, ...inputShape], { label: 'input' });
    this.labels = createTensor(device, [B], { label: 'labels', dtype: 'u32' });
    this.lossSum = createTensor(device, [1], { label: 'loss sum' });
    this.correct = createTensor(device, [1], { label: 'correct', dtype: 'u32' });
    this.step = createTensor(device, [1], { label: 'optimizer step', dtype: 'u32' });

    let x = this.x;
    let dX: Tensor | null = null;
    layers.forEach((config, i) => {
      const { input, output } = shapes[i];
      const buffer = (what: string, dtype: 'f32' | 'u32' = 'f32') =>
        createTensor(device, [B, ...output], { label: `layer ${i} ${config.type} ${what}`, dtype });
      const isLast = i === layers.length - 1;
      const node: Node = { config, inputShape: input, outputShape: output, params: this.params.filter((p) => p.layer === i), x, dX, y: x, dY: null };
      if (config.type === 'flatten') {
        // A view, not a copy, and so is its gradient.
        node.y = reshape(x, [B, ...output]);
        node.dY = dX && reshape(dX, [B, ...output]);
      } else if (config.type === 'maxPooling2d') {
        node.y = buffer('y');
        node.argmax = buffer('argmax', 'u32');
        node.dY = buffer('dY');
      } else {
        node.z = buffer('z');
        node.u = buffer('u');
        node.y = config.activation === 'linear' ? node.u : buffer('y');
        // The last layer's logits gradient comes from the loss; a linear layer's is dY itself.
        node.dY = isLast ? null : buffer('dY');
        node.dU = isLast ? buffer('dLogits') : config.activation === 'linear' ? node.dY! : buffer('dU');
      }
      this.nodes.push(node);
      x = node.y;
      dX = node.dY;
    });
    this.probabilities = this.nodes[this.nodes.length - 1].y;
  }

  get classes(): number {
    return this.nodes[this.nodes.length - 1].outputShape[0];
  }

  /** The dispatches for a batch of `batch` rows, created on first use. */
  plan(batch: number): Promise<Plan> {
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxBatch) {
      throw new Error(`plan(): batch ${batch} must be an integer from 1 to ${this.maxBatch}`);
    }
    let plan = this.plans.get(batch);
    if (!plan) {
      plan = this.createPlan(batch);
      this.plans.set(batch, plan);
    }
    return plan;
  }

  private async createPlan(b: number): Promise<Plan> {
    const device = this.device;
    const forward: Dispatch[] = [];
    const backward: Dispatch[][] = [];
    const last = this.nodes.length - 1;
    for (const [i, node] of this.nodes.entries()) {
      const x = rows(node.x, b);
      const y = rows(node.y, b);
      const dY = node.dY && rows(node.dY, b);
      const dX = node.dX && rows(node.dX, b);
      const layer = node.config;
      const steps: Dispatch[] = [];
      if (layer.type === 'maxPooling2d') {
        const options = { poolSize: layer.poolSize, strides: layer.strides };
        forward.push(await maxPool2dForward(device, { x, y, argmax: rows(node.argmax!, b) }, options));
        if (dX) steps.push(await maxPool2dBackward(device, { argmax: rows(node.argmax!, b), dOut: dY!, dInput: dX }, options));
      } else if (layer.type === 'conv2d' || layer.type === 'dense') {
        const [kernel, bias] = node.params;
        const z = rows(node.z!, b);
        const u = rows(node.u!, b);
        const dU = rows(node.dU!, b);
        if (layer.type === 'conv2d') {
          const options = { strides: layer.strides, padding: layer.padding };
          forward.push(await conv2dForward(device, { x, w: kernel.value, y: z }, options));
          steps.push(...(await conv2dBackward(device, { x, w: kernel.value, dOut: dU, dInput: dX ?? undefined, dWeight: kernel.grad }, options)));
        } else {
          forward.push(await matmulForward(device, { x, w: kernel.value, y: z }));
          steps.push(...(await matmulBackward(device, { x, w: kernel.value, dOut: dU, dInput: dX ?? undefined, dWeight: kernel.grad })));
        }
        forward.push(await biasForward(device, { x: z, bias: bias.value, y: u }));
        steps.unshift(...(await biasBackward(device, { dOut: dU, dBias: bias.grad })));
        // The last layer's softmax is fused with the loss; predict applies it separately.
        if (layer.activation === 'softmax' && i !== last) {
          // Softmax runs over channels: each pixel of a conv output is a row.
          const channels = (t: Tensor) => reshape(t, [sizeOf(t.shape) / t.shape[t.shape.length - 1], t.shape[t.shape.length - 1]]);
          forward.push(await softmaxForward(device, { x: channels(u), y: channels(y) }));
          steps.unshift(await softmaxBackward(device, { y: channels(y), dOut: channels(dY!), dInput: channels(dU) }));
        } else if (layer.activation !== 'linear' && layer.activation !== 'softmax') {
          forward.push(await activationForward(device, layer.activation, { x: u, y }));
          steps.unshift(await activationBackward(device, layer.activation, { y, dOut: dY!, dInput: dU }));
        }
      }
      backward.push(steps);
    }

    const lastNode = this.nodes[last];
    const logits = rows(lastNode.u!, b);
    const labels = rows(this.labels, b);
    const metrics = [
      await softmaxCrossEntropyForward(device, { logits, labels, lossSum: this.lossSum }),
      await accuracyForward(device, { predictions: logits, labels, correct: this.correct }),
    ];
    const lossGradient = await softmaxCrossEntropyBackward(device, { logits, labels, dLogits: rows(lastNode.dU!, b) });
    const update = await optimizerUpdate(device, this.optimizer, {
      param: this.arena,
      grad: this.gradArena,
      state: this.stateArenas,
      ...(this.optimizer.kind === 'adam' && { step: this.step }),
    });
    const backwardPass = backward.reverse().flat();
    return {
      batch: b,
      train: [...forward, ...metrics, lossGradient, ...backwardPass, ...update],
      gradients: [...forward, lossGradient, ...backwardPass],
      evaluate: [...forward, ...metrics],
      predict: [...forward, await softmaxForward(device, { x: logits, y: rows(this.probabilities, b) })],
    };
  }

  /** Copies a batch of inputs (and labels) into the graph's input buffers. */
  writeBatch(x: Float32Array, labels?: Uint32Array): void {
    const rowsIn = x.length / sizeOf(this.inputShape);
    writeTensor(this.device, rows(this.x, rowsIn), x);
    if (labels) writeTensor(this.device, rows(this.labels, labels.length), labels);
  }

  /** All parameters, in arena layout (see `params` for where each one starts). */
  async readArena(): Promise<Float32Array> {
    return (await readTensor(this.device, this.arena)) as Float32Array;
  }

  writeArena(values: Float32Array): void {
    writeTensor(this.device, this.arena, values);
  }

  /** Destroys every buffer the graph created. */
  destroy(): void {
    const buffers = new Set<GPUBuffer>([this.arena.buffer, this.gradArena.buffer, ...this.stateArenas.map((t) => t.buffer)]);
    for (const node of this.nodes) {
      for (const t of [node.y, node.dY, node.z, node.u, node.dU, node.argmax]) if (t) buffers.add(t.buffer);
    }
    for (const t of [this.x, this.labels, this.lossSum, this.correct, this.step]) buffers.add(t.buffer);
    for (const buffer of buffers) buffer.destroy();
    for (const plan of this.plans.values()) {
      plan.then((p) => destroyDispatches([...new Set([...p.train, ...p.evaluate, ...p.predict])]), () => {});
    }
  }
}
