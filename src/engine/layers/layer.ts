// What a layer kind is: one module under src/engine/layers/ answers everything
// the engine asks of it, and the graph only walks layers and asks.
//
// A layer's config is plain JSON (so a model's architecture saves as JSON).
// Shapes leave out the batch dimension: an image is [H, W, C] (height, width,
// channels), a vector [features]; tensors on the GPU carry the batch first.
import { formatShape, type Tensor } from '../buffers';
import { quoteJson } from '../safetensors';
import type { Dispatch, Precision } from '../pipelines';

/** A layer config: its `type` names its kind in the registry (layers/index.ts). */
export interface LayerConfigBase {
  type: string;
  /** The first layer's gives the model's input shape. */
  inputShape?: number[];
}

/** A parameter of a layer: its name in saved files, its shape and how it starts. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Keras' glorot_uniform (with these fans), zeros or ones. */
  init: { kind: 'glorotUniform'; fanIn: number; fanOut: number } | { kind: 'zeros' } | { kind: 'ones' };
  /**
   * False for what the layer updates itself (batch normalization's moving
   * statistics): its gradient stays zero, which leaves it as it is under every optimizer.
   */
  trainable?: boolean;
  /**
   * Placed right after the parameter before it in the arenas, with no alignment
   * between: a product's bias after its kernel, so that the two bind as one matrix.
   */
  adjacent?: boolean;
}

export interface LayerShape {
  output: number[];
  params: ParamSpec[];
}

/** A parameter placed in the model's arenas: its values and its gradient, side by side. */
export interface ParamTensors {
  spec: ParamSpec;
  value: Tensor;
  grad: Tensor;
}

/** What the graph hands a layer when it builds it. */
export interface LayerContext {
  device: GPUDevice;
  /** `layer 2 (conv2d)`: for labels and errors. */
  name: string;
  input: readonly number[];
  output: readonly number[];
  /** Rows every activation buffer holds; a plan for a smaller batch uses the first rows. */
  maxBatchSize: number;
  params: ParamTensors[];
  /** The input, [maxBatchSize, ...input]. */
  x: Tensor;
  /** Where backward writes dLoss/dx; null when no layer before this one has parameters. */
  dX: Tensor | null;
  /** Whether the layer must give the layer after it a dY to write into. */
  needsOutputGradient: boolean;
  /**
   * The model's last layer, whose activation (softmax, sigmoid) the loss
   * applies and differentiates itself, fused with it: the layer's product
   * writes the logits, and it exposes them with their gradient (BuiltLayer.logits).
   */
  activationInLoss: boolean;
  /**
   * The layer before ends in a ReLU whose gradient this one applies to the dX
   * it writes (its kind `foldsInputRelu`): dX is then relu'(x) ⊙ dLoss/dx.
   */
  inputRelu: boolean;
  /** This layer ends in a ReLU whose gradient the next layer applies: its dY arrives as the gradient before the ReLU. */
  outputReluFolded: boolean;
  /** The model's precision: 'mixed' offers its products f16 variants (conv2d's, matmul's). */
  precision: Precision;
  /** A tensor of [maxBatchSize, ...shape], owned by the graph, labelled with the layer and `what`. */
  tensor(what: string, shape: readonly number[], dtype?: 'f32' | 'u32'): Tensor;
  /** A tensor of exactly `shape`, zero-filled, owned by the graph: what a layer keeps from step to step (dropout's step counter). */
  state(what: string, shape: readonly number[], dtype?: 'f32' | 'u32'): Tensor;
  /** A 32-bit seed from the model's seeded generator (dropout's masks). */
  seed(): number;
}

/** A layer with its buffers: it makes its dispatches for a batch of any size up to maxBatchSize. */
export interface BuiltLayer {
  /** The output, [maxBatchSize, ...output]. */
  y: Tensor;
  /** dLoss/dy, written by the next layer's backward; null where the context did not ask for it. */
  dY: Tensor | null;
  /** With `activationInLoss`: the logits before the activation, and where the loss writes their gradient. */
  logits?: { value: Tensor; grad: Tensor };
  /** Inference (evaluate, predict). */
  forward(batchSize: number): Promise<Dispatch[]>;
  /** Training, where it differs from inference (dropout). */
  forwardTraining?(batchSize: number): Promise<Dispatch[]>;
  /** dX (when the context gave one) and every parameter's gradient, from dY (or the logits' gradient). */
  backward(batchSize: number): Promise<Dispatch[]>;
}

// How a layer kind maps its parameters to PyTorch's names and layouts.

/**
 * For a flat tensor: where each value in PyTorch's order sits in ours, or null
 * where the two orders agree.
 */
export type TorchOrder = Uint32Array | null;

/** One parameter: our name and shape, PyTorch's, and `gather[t]`, the index in ours of PyTorch's value t (null: the same). */
export interface TorchParam {
  ours: string;
  shape: number[];
  torch: string;
  torchShape: number[];
  gather: Uint32Array | null;
}

export interface TorchLayer {
  params: TorchParam[];
  /** The order of the layer's output, when it is flat. */
  order: TorchOrder;
}

/** Layer `index` of a model (named `name` in errors), given its input shape and the order of its flat input. */
export type TorchMapping<C> = (config: C, input: readonly number[], shape: LayerShape, order: TorchOrder, at: { index: number; name: string }) => TorchLayer;

/** A Keras layer's `config`, as a .keras or .h5 file holds it. */
export type KerasConfig = Record<string, unknown>;

/**
 * How a layer kind maps to Keras' layer classes (src/engine/keras/). Keras
 * lists a layer's variables in the order `shape` lists our parameters, with
 * the same shapes and layouts (channels_last: images [H, W, C], conv kernels
 * [KH, KW, C_in, C_out], dense kernels [in, out]), so weights map by position.
 */
export interface KerasMapping<C> {
  /**
   * Our config, from the config of each Keras class read as this kind (by
   * class name) and the layer's input shape. A field it cannot run throws an
   * error saying what (layers/kerasMapping.ts); the reader adds the file and the layer.
   */
  read: Record<string, (config: KerasConfig, input: readonly number[]) => C>;
  /** The Keras class and the fields of its config for ours, in Keras 3's order (the writer puts name, trainable and dtype first). */
  write(config: C): { className: string; config: KerasConfig };
}

/** A layer kind: the functions the registry holds for one `type`. */
export interface LayerKind<C extends LayerConfigBase> {
  /** Checks the config against its input shape; errors start with `name`. */
  shape(config: C, input: readonly number[], name: string): LayerShape;
  build(config: C, context: LayerContext): BuiltLayer;
  /** Whether its output is a ReLU's (so that the next layer may apply the ReLU's gradient: LayerContext.inputRelu). */
  endsInRelu?(config: C): boolean;
  /** Whether it can apply the gradient of a ReLU before it to the dX it writes, in the same dispatch (max pooling and dense can). */
  foldsInputRelu?: boolean;
  /** Its parameters in PyTorch's names and layouts (src/engine/torchConvert.ts). */
  torch: TorchMapping<C>;
  /** Its Keras classes (src/engine/keras/). */
  keras: KerasMapping<C>;
}

export type Pair = number | [number, number];

export const pair = (value: Pair): [number, number] => (typeof value === 'number' ? [value, value] : [value[0], value[1]]);

// Checks of a config's fields, which may come from a model file's JSON as well
// as from code: each kind's \`shape\` runs them, so a missing or mistyped field is
// refused before anything is built.

export function expectPositiveInteger(name: string, field: string, value: unknown): void {
  if (value === undefined) throw new Error(`${name}: ${field} is missing`);
  if (!Number.isSafeInteger(value) || (value as number) <= 0) throw new Error(`${name}: ${field} must be a positive integer, got ${quoteJson(value)}`);
}

/** A [height, width] pair of positive integers (the factories turn a single number into one). */
export function expectPositivePair(name: string, field: string, value: unknown): void {
  if (value === undefined) throw new Error(`${name}: ${field} is missing`);
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isSafeInteger(v) && v > 0)) {
    throw new Error(`${name}: ${field} must be two positive integers, got ${quoteJson(value)}`);
  }
}

export function expectOneOf(name: string, field: string, value: unknown, allowed: readonly string[]): void {
  if (value === undefined) throw new Error(`${name}: ${field} is missing (use ${allowed.join(', ')})`);
  if (!allowed.includes(value as string)) throw new Error(`${name}: unknown ${field} ${quoteJson(value)} (use ${allowed.join(', ')})`);
}

export function expectImage(name: string, input: readonly number[]): void {
  if (input.length !== 3) throw new Error(`${name}: expects an [height, width, channels] input, got ${formatShape(input)}`);
}

/** Runs an op's shape check, naming the layer in its error. */
export function withLayerName<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
}
