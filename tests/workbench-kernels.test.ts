// Every kernel in the workbench's table, its built-in source checked against its
// float64 reference through checkKernel at each of its small presets (the
// tutorial's, batch 128, are left to the workbench itself: too slow on SwiftShader).
import { describe, expect, test } from 'vitest';
import { builtInSource, checkKernel, workbenchKernels } from '../src/workbench';
import { testGpu } from './helpers';

const kernels = workbenchKernels();

test('the table holds every entry point of the engine', () => {
  expect(kernels.map((k) => k.shortName).sort()).toEqual(
    [
      ...['forward', 'backward_input', 'backward_weight', 'sum_slices', 'transpose_kernel'].map((e) => `conv2d:${e}`),
      ...['forward', 'backward_input', 'backward_input_relu', 'backward_weight'].map((e) => `matmul:${e}`),
      ...['relu', 'sigmoid', 'tanh'].map((a) => `activation:${a}_backward`),
      ...['softmax', 'softmaxCrossEntropy', 'maxpool2d', 'avgpool2d'].flatMap((op) => [`${op}:forward`, `${op}:backward`]),
      'maxpool2d:backward_relu',
      ...['forward', 'backward', 'advance', 'identity'].map((e) => `dropout:${e}`),
      ...['statistics', 'moving_statistics', 'normalize', 'backward_reduce', 'backward_input'].map((e) => `batchnorm:${e}`),
      ...['sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'].map((e) => `optimizer:${e}`),
      ...['constant', 'exponential_decay', 'piecewise_constant_decay', 'cosine_decay'].map((e) => `schedule:${e}`),
      ...['sum_squares', 'norm_scales', 'scale', 'clip_value'].map((e) => `clip:${e}`),
      ...['scale_gradient', 'unscale', 'adjust'].map((e) => `lossScale:${e}`),
      ...['forward', 'forward_bytes'].map((e) => `gather:${e}`),
    ].sort(),
  );
});

describe.each(kernels.map((k) => [k.shortName, k] as const))('%s', (_name, kernel) => {
  const small = kernel.presets.filter((p) => !/tutorial/.test(p.name));
  test.each(small.map((p) => [Object.entries(p.shape).map(([l, v]) => `${l}=${v}`).join(' '), p.shape] as const))('built-in source matches the reference at %s', async (_shape, shape) => {
    const result = await checkKernel(await testGpu(), kernel.name, { source: builtInSource(kernel.name) }, { shape });
    if (result.status !== 'match') expect.fail(JSON.stringify(result, null, 1).slice(0, 2000));
    expect(result.edited.count).toBe(0);
    expect(result.builtIn.count).toBe(0);
  });
});
