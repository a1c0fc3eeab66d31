// Float64 CPU reference for dropout.wgsl: the shader's integer hash in
// TypeScript, so the CPU draws the GPU's masks bit for bit; and the dropout layer.
import type { DropoutConfig } from '../engine/layers';
import type { LayerReference } from './layers';

/** Chris Wellons' lowbias32, in u32 arithmetic as WGSL does it. */
function mix(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface MaskOptions {
  rate: number;
  seed: number;
  /** The value of the step counter when the mask is drawn: 1 on a graph's first training step. */
  step: number;
}

/** 1 where element i of `count` is kept: where hash(seed, step, i) >= floor(rate · 2^32). */
export function dropoutMask(count: number, { rate, seed, step }: MaskOptions): Uint8Array {
  const key = mix(step ^ mix(seed));
  const threshold = Math.floor(rate * 2 ** 32);
  const mask = new Uint8Array(count);
  for (let i = 0; i < count; i++) mask[i] = mix(i ^ key) >= threshold ? 1 : 0;
  return mask;
}

/** y = x · mask / (1 - rate). */
export function dropoutForward(x: ArrayLike<number>, mask: ArrayLike<number>, rate: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = (x[i] * mask[i]) / (1 - rate);
  return y;
}

/** dInput = dOut · mask / (1 - rate): the forward is linear in x. */
export function dropoutBackward(dOut: ArrayLike<number>, mask: ArrayLike<number>, rate: number): Float64Array {
  return dropoutForward(dOut, mask, rate);
}

/** In training, the masks of config.seed (which the reference needs to draw the GPU's); in inference, the identity. */
export const dropoutLayer: LayerReference<DropoutConfig> = {
  shape: (_config, input) => ({ output: [...input], params: [] }),

  forward(config, x, _params, { step }) {
    if (step === undefined) return { y: x, backward: (dY) => ({ dX: dY, dParams: [] }) };
    if (config.seed === undefined) throw new Error('dropout needs a seed in its config for the reference to draw its masks');
    const mask = dropoutMask(x.length, { rate: config.rate, seed: config.seed, step });
    return { y: dropoutForward(x, mask, config.rate), backward: (dY) => ({ dX: dropoutBackward(dY, mask, config.rate), dParams: [] }) };
  },
};
