// What conv2d and dense share: y = f(x · kernel + bias), a product with its
// bias and activation in one dispatch (softmax, over channels, is a dispatch of
// its own), and the backward: dU = dLoss/du from dY, then the product's
// backward from dU, which gives the bias gradient with the kernel's. The two
// layers differ only in the product. Without a bias (Keras' use_bias: false),
// the product adds none and the layer has its kernel alone.
import { reshape, rows, sizeOf, type Tensor } from '../buffers';
import { quoteJson } from '../safetensors';
import { ACTIVATIONS as ELEMENTWISE, activationBackward, activationForward, gradientInput, isActivation, type Activation } from '../ops/activation';
import { softmaxBackward, softmaxForward } from '../ops/softmax';
import type { Dispatch } from '../pipelines';
import { expectOneOf, type BuiltLayer, type LayerContext, type ParamSpec } from './layer';

export type ActivationName = Activation | 'softmax' | 'linear';

export const ACTIVATIONS: readonly ActivationName[] = [...ELEMENTWISE, 'softmax', 'linear'];

export function expectActivation(name: string, activation: unknown): void {
  expectOneOf(name, 'activation', activation, ACTIVATIONS);
}

/** A product layer's `useBias`: absent (a bias, as in files written before it existed) or a boolean. */
export function expectUseBias(name: string, useBias: unknown): void {
  if (useBias !== undefined && typeof useBias !== 'boolean') throw new Error(`${name}: useBias must be true or false, got ${quoteJson(useBias)}`);
}

/** Softmax runs over channels: each pixel of an image is a row. */
export const channelRows = (t: Tensor) => reshape(t, [sizeOf(t.shape) / t.shape[t.shape.length - 1], t.shape[t.shape.length - 1]]);

/**
 * A product layer's parameters: its kernel (Keras' glorot_uniform with these
 * fans) and, unless `useBias` is false, a bias of `units` zeros, right after
 * it (the kernel's matrix gains the bias as a last row, which the products
 * read and write as one).
 */
export function kernelAndBias(kernel: number[], fans: { fanIn: number; fanOut: number }, useBias = true): ParamSpec[] {
  return [
    { name: 'kernel', shape: kernel, init: { kind: 'glorotUniform', ...fans } },
    ...(useBias ? [{ name: 'bias', shape: [kernel[kernel.length - 1]], init: { kind: 'zeros' }, adjacent: true } satisfies ParamSpec] : []),
  ];
}

/** The product of a layer: conv2d's or matmul's forward and backward, given the layer's tensors. */
export interface Product {
  /** y = f(x · w + bias), or f(x · w) without a bias. */
  forward(t: { x: Tensor; w: Tensor; bias?: Tensor; y: Tensor }, activation: Activation | 'linear'): Promise<Dispatch>;
  /**
   * dWeight, dBias (with a bias) and, when dInput is given, dX; with `reluOf`
   * (x, a ReLU's output: only for a layer kind that `foldsInputRelu`), dX
   * times the ReLU's gradient.
   */
  backward(t: { x: Tensor; w: Tensor; dOut: Tensor; dInput?: Tensor; dWeight: Tensor; dBias?: Tensor; reluOf?: Tensor }): Promise<Dispatch[]>;
}

/**
 * Builds a product layer: u = x · kernel + bias, and y = f(u) in the same
 * dispatch for an elementwise activation. Its backward runs the other way:
 * dU = dLoss/du from dY, then the product's backward from dU. An activation
 * whose gradient needs its input u (gelu: gradientInput) keeps it in
 * training: the product writes u, and f is a dispatch of its own.
 */
export function productLayer(context: LayerContext, activation: ActivationName, product: Product): BuiltLayer {
  const [kernel, bias] = context.params;
  const { device, output, x, dX } = context;
  // A last layer's softmax or sigmoid the loss applies itself (fused with it): its u are the logits.
  const fused = context.activationInLoss;
  const softmax = activation === 'softmax' && !fused;
  const elementwise = isActivation(activation) && !fused ? activation : null;
  // Training keeps u for a gradient computed from it (inference still applies f in the epilogue).
  const keepsU = elementwise !== null && context.needsOutputGradient && gradientInput(elementwise) === 'x';
  // What the product writes: y itself, unless a softmax follows, the loss takes the logits or u is kept.
  const separate = softmax || fused || keepsU;
  const u = context.tensor(separate ? 'u' : 'y', output);
  const y = separate ? context.tensor('y', output) : u;
  const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
  // A ReLU's gradient the next layer applies (max pooling's backward) leaves none to apply here.
  const activationGradient = elementwise && !(elementwise === 'relu' && context.outputReluFolded) ? elementwise : null;
  // The logits' gradient comes from the loss; a linear layer's dU is dY itself, and so is a folded ReLU's.
  const dLogits = fused ? context.tensor('dLogits', output) : null;
  const dU = dLogits ?? ((softmax || activationGradient ? null : dY) ?? context.tensor('dU', output));
  const productForward = (batchSize: number, into: Tensor, epilogue: Activation | 'linear') =>
    product.forward({ x: rows(x, batchSize), w: kernel.value, bias: bias?.value, y: rows(into, batchSize) }, epilogue);

  return {
    y,
    dY,
    logits: dLogits ? { value: u, grad: dLogits } : undefined,

    async forward(batchSize) {
      // With u kept for training, inference writes y in the epilogue all the same.
      if (keepsU) return [await productForward(batchSize, y, elementwise)];
      const dispatches = [await productForward(batchSize, u, elementwise ?? 'linear')];
      if (softmax) dispatches.push(await softmaxForward(device, { x: channelRows(rows(u, batchSize)), y: channelRows(rows(y, batchSize)) }));
      return dispatches;
    },

    ...(keepsU && {
      forwardTraining: async (batchSize: number) => [
        await productForward(batchSize, u, 'linear'),
        await activationForward(device, elementwise, { x: rows(u, batchSize), y: rows(y, batchSize) }),
      ],
    }),

    async backward(batchSize) {
      const dispatches: Dispatch[] = [];
      if (dY && softmax) dispatches.push(await softmaxBackward(device, { y: channelRows(rows(y, batchSize)), dOut: channelRows(rows(dY, batchSize)), dInput: channelRows(rows(dU, batchSize)) }));
      if (dY && activationGradient) {
        const from = { [gradientInput(activationGradient)]: rows(gradientInput(activationGradient) === 'x' ? u : y, batchSize) };
        dispatches.push(await activationBackward(device, activationGradient, { ...from, dOut: rows(dY, batchSize), dInput: rows(dU, batchSize) }));
      }
      dispatches.push(
        ...(await product.backward({
          x: rows(x, batchSize),
          w: kernel.value,
          dOut: rows(dU, batchSize),
          dInput: dX ? rows(dX, batchSize) : undefined,
          dWeight: kernel.grad,
          dBias: bias?.grad,
          ...(context.inputRelu && { reluOf: rows(x, batchSize) }),
        })),
      );
      return dispatches;
    },
  };
}
