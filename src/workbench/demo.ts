// The tutorial's convolution demo on the workbench page: a digit convolved by
// the engine's conv2d kernel and max-pooled by its maxpool2d kernel.
import { createTensor, readTensor } from '../engine/buffers';
import type { Gpu } from '../engine/device';
import { conv2dForward } from '../engine/ops/conv2d';
import { maxPool2dForward } from '../engine/ops/maxpool2d';
import { destroyDispatches, runDispatches, type Dispatch } from '../engine/pipelines';

/**
 * The tutorial's convolution demo: one 28x28 image convolved with a 3x3 kernel
 * ('valid', by conv2d.wgsl) and max-pooled 2x2 (by maxpool2d.wgsl): a 26x26
 * feature map and a 13x13 pooled map.
 */
export async function convolveDigit(gpu: Gpu, image: ArrayLike<number>, kernel: ArrayLike<number>): Promise<{ feature: Float32Array; pooled: Float32Array }> {
  if (image.length !== 28 * 28) throw new Error(`convolveDigit(): the image has ${image.length} values, not 28x28`);
  if (kernel.length !== 9) throw new Error(`convolveDigit(): the kernel has ${kernel.length} values, not 3x3`);
  const device = gpu.device;
  const tensors = [
    createTensor(device, [1, 28, 28, 1], { label: 'demo image', data: image }),
    createTensor(device, [3, 3, 1, 1], { label: 'demo kernel', data: kernel }),
    createTensor(device, [1, 26, 26, 1], { label: 'demo feature map' }),
    createTensor(device, [1, 13, 13, 1], { label: 'demo pooled map' }),
    createTensor(device, [1, 13, 13, 1], { label: 'demo argmax', dtype: 'u32' }),
  ];
  const [x, w, y, pooled, argmax] = tensors;
  const dispatches: Dispatch[] = [];
  try {
    dispatches.push(await conv2dForward(device, { x, w, y }));
    dispatches.push(await maxPool2dForward(device, { x: y, y: pooled, argmax }, { poolSize: [2, 2] }));
    await runDispatches(device, dispatches);
    return { feature: (await readTensor(device, y)) as Float32Array, pooled: (await readTensor(device, pooled)) as Float32Array };
  } finally {
    destroyDispatches(dispatches);
    for (const t of tensors) t.buffer.destroy();
  }
}
