// What the conv2d and dense references share, as src/engine/layers/product.ts
// does on the GPU: z = a product of x and the kernel, u = z + bias, y = f(u)
// (softmax over channels), and the backward of all three.
import type { ActivationName } from '../engine/layers';
import { activationBackward, activationForward } from './activation';
import { biasBackward, biasForward } from './bias';
import type { LayerForward, LayerParam } from './layers';
import { softmaxBackward, softmaxForward } from './softmax';

/** A product layer's parameters: its kernel, then a bias as long as the kernel's last dimension. */
export function kernelAndBias(kernel: number[]): LayerParam[] {
  return [
    { name: 'kernel', shape: kernel },
    { name: 'bias', shape: [kernel[kernel.length - 1]] },
  ];
}

/** The product of one batch: z [rows, channels] and its backward from dZ. */
export interface Product {
  z: Float64Array;
  rows: number;
  channels: number;
  backward(dZ: ArrayLike<number>): { dInput: ArrayLike<number>; dWeight: Float64Array };
}

/**
 * A product layer run forward from its product. When the loss applies the
 * activation (the model's last layer, fused with it): u are the logits, and
 * backward's dY is their gradient.
 */
export function productForward(product: Product, bias: ArrayLike<number>, activation: ActivationName, activationInLoss: boolean): LayerForward {
  const { z, rows, channels } = product;
  const u = biasForward(z, bias, rows, channels);
  const fused = activationInLoss;
  const y = activation === 'linear' ? u : activation === 'softmax' ? softmaxForward(u, rows, channels) : activationForward(activation, u);
  return {
    y,
    logits: fused ? u : undefined,
    backward(dY) {
      const dU =
        fused || activation === 'linear'
          ? dY
          : activation === 'softmax'
            ? softmaxBackward(y, dY, rows, channels)
            : activationBackward(activation, y, dY);
      const { dInput, dWeight } = product.backward(dU);
      return { dX: dInput, dParams: [dWeight, biasBackward(dU, rows, channels)] };
    },
  };
}
