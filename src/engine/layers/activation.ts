// What conv2d and dense do after their product z: u = z + bias, then y = f(u),
// and the backward of both. Shared by the two layers, which differ only in the product.
import { reshape, rows, sizeOf, type Tensor } from '../buffers';
import { activationBackward, activationForward } from '../ops/activation';
import { biasBackward, biasForward } from '../ops/bias';
import { softmaxBackward, softmaxForward } from '../ops/softmax';
import type { Dispatch } from '../pipelines';
import type { LayerContext, ParamTensors } from './layer';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear';

export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear'];

export function expectActivation(name: string, activation: string): void {
  if (!(ACTIVATIONS as readonly string[]).includes(activation)) {
    throw new Error(`${name}: unknown activation '${activation}' (use ${ACTIVATIONS.join(', ')})`);
  }
}

/** Softmax runs over channels: each pixel of an image is a row. */
const channelRows = (t: Tensor) => reshape(t, [sizeOf(t.shape) / t.shape[t.shape.length - 1], t.shape[t.shape.length - 1]]);

/**
 * The buffers and dispatches of bias and activation after a product into `z`.
 * `dU` is dLoss/du, which is also dLoss/dz: the product's backward reads it.
 */
export function biasAndActivation(context: LayerContext, activation: ActivationName, bias: ParamTensors) {
  const { device, output, last } = context;
  const z = context.tensor('z', output);
  const u = context.tensor('u', output);
  // The last layer's softmax is the loss' (fused with it): its u are the logits.
  const fused = last && activation === 'softmax';
  const softmax = activation === 'softmax' && !fused;
  const elementwise = activation === 'relu' || activation === 'sigmoid' || activation === 'tanh' ? activation : null;
  const y = softmax || elementwise || fused ? context.tensor('y', output) : u;
  const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
  // The logits' gradient comes from the loss; a linear layer's dU is dY itself.
  const dLogits = fused ? context.tensor('dLogits', output) : null;
  const dU = dLogits ?? ((softmax || elementwise ? null : dY) ?? context.tensor('dU', output));

  return {
    z,
    y,
    dY,
    dU,
    logits: dLogits ? { value: u, grad: dLogits } : undefined,

    async forward(b: number): Promise<Dispatch[]> {
      const dispatches = [await biasForward(device, { x: rows(z, b), bias: bias.value, y: rows(u, b) })];
      if (softmax) dispatches.push(await softmaxForward(device, { x: channelRows(rows(u, b)), y: channelRows(rows(y, b)) }));
      if (elementwise) dispatches.push(await activationForward(device, elementwise, { x: rows(u, b), y: rows(y, b) }));
      return dispatches;
    },

    /** dU from dY, then dBias; the product's backward follows. */
    async backward(b: number): Promise<Dispatch[]> {
      const dispatches: Dispatch[] = [];
      if (dY && softmax) dispatches.push(await softmaxBackward(device, { y: channelRows(rows(y, b)), dOut: channelRows(rows(dY, b)), dInput: channelRows(rows(dU, b)) }));
      if (dY && elementwise) dispatches.push(await activationBackward(device, elementwise, { y: rows(y, b), dOut: rows(dY, b), dInput: rows(dU, b) }));
      dispatches.push(...(await biasBackward(device, { dOut: rows(dU, b), dBias: bias.grad })));
      return dispatches;
    },
  };
}
