// Float64 CPU reference for maxpool2d.wgsl: 'valid' max pooling over x [N, H, W, C]
// (N images, H x W pixels, C channels) with a PH x PW window and strides SY, SX.

export interface PoolShape {
  N: number;
  H: number;
  W: number;
  C: number;
  PH: number;
  PW: number;
  SY: number;
  SX: number;
}

export function outputSize({ H, W, PH, PW, SY, SX }: PoolShape): [number, number] {
  return [Math.floor((H - PH) / SY) + 1, Math.floor((W - PW) / SX) + 1];
}

/** y and the flat index into x of each maximum; ties go to the first in row-major window order. */
export function maxPool2dForward(x: ArrayLike<number>, s: PoolShape): { y: Float64Array; argmax: Uint32Array } {
  const [OH, OW] = outputSize(s);
  const y = new Float64Array(s.N * OH * OW * s.C);
  const argmax = new Uint32Array(y.length);
  let o = 0;
  for (let n = 0; n < s.N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < s.C; c++, o++) {
          let best = -Infinity;
          for (let ky = 0; ky < s.PH; ky++) {
            for (let kx = 0; kx < s.PW; kx++) {
              const i = ((n * s.H + oy * s.SY + ky) * s.W + ox * s.SX + kx) * s.C + c;
              if (x[i] > best) {
                best = x[i];
                argmax[o] = i;
              }
            }
          }
          y[o] = best;
        }
      }
    }
  }
  return { y, argmax };
}

/** Scatters each dOut to the element its window's maximum came from (the GPU gathers instead). */
export function maxPool2dBackward(argmax: ArrayLike<number>, dOut: ArrayLike<number>, s: PoolShape): Float64Array {
  const dInput = new Float64Array(s.N * s.H * s.W * s.C);
  for (let o = 0; o < dOut.length; o++) dInput[argmax[o]] += dOut[o];
  return dInput;
}
