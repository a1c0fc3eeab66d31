// Every kernel in the workbench's table, its built-in source checked against its
// float64 reference through checkKernel at each of its small presets (the
// tutorial's, batch 128, are left to the workbench itself: too slow on SwiftShader).
import { describe, expect, test } from 'vitest';
import { builtInSource, checkKernel, checkShape, editedLines, workbenchKernels } from '../src/workbench';
import { testGpu } from './helpers';

const kernels = workbenchKernels();

test('the table holds every entry point of the engine', () => {
  expect(kernels.map((k) => k.shortName).sort()).toEqual(
    [
      ...['forward', 'backward_input', 'backward_weight', 'sum_slices', 'transpose_kernel'].map((e) => `conv2d:${e}`),
      ...['forward', 'backward_input', 'backward_input_relu', 'backward_weight'].map((e) => `matmul:${e}`),
      ...['relu', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'leaky_relu', 'gelu'].map((a) => `activation:${a}_backward`),
      ...['softmax', 'softmaxCrossEntropy', 'maxpool2d', 'avgpool2d'].flatMap((op) => [`${op}:forward`, `${op}:backward`]),
      'maxpool2d:backward_relu',
      ...['forward', 'backward', 'advance', 'identity'].map((e) => `dropout:${e}`),
      ...['forward', 'backward'].map((e) => `rescaling:${e}`),
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

test('a shape over the memory ceiling or a device limit is refused before anything is allocated, with its size', async () => {
  const relu = 'activation:relu_backward';
  // 8 GB of float64 inputs drawn, before: minutes, or out of memory.
  await expect(checkKernel(await testGpu(), relu, { source: builtInSource(relu) }, { shape: { size: 1e9 } })).rejects.toThrow(
    /^activation\.wgsl:relu_backward at size=1000000000: its float64 inputs and reference would take 56,000,000,000 bytes \(53405\.8 MiB\) of memory, more than the workbench's 1,073,741,824 bytes \(1024\.0 MiB\)$/,
  );
  // The largest tensor on a device with small buffers: gather's data set x [rows, R], 4 bytes an element.
  const limits = { maxStorageBufferBindingSize: 2 ** 24, maxBufferSize: 2 ** 25 } as GPUSupportedLimits;
  expect(() => checkShape('gather:forward', { rows: 2 ** 14, R: 257, N: 1 }, limits)).toThrow(
    "gather.wgsl:forward at rows=16384,R=257,N=1: x [16384, 257] takes 16,842,752 bytes (16.1 MiB), over this device's maxStorageBufferBindingSize of 16,777,216 bytes (16.0 MiB)",
  );
  expect(() => checkShape('gather:forward', { rows: 2 ** 14, R: 256, N: 1 }, limits)).not.toThrow();
});

test("a return edited in before a helper's barrier: the error points at the edited line, the barrier's error and its notes follow", async () => {
  const gpu = await testGpu();
  const source = builtInSource('conv2d:forward');
  const call = '  forward_block(id.x, lane, group.y * CELL);';
  expect(source).toContain(call);
  const edited = source.replace(call, `  if (id.x >= 5u) { return; }\n${call}`);
  const line = edited.split('\n').indexOf('  if (id.x >= 5u) { return; }') + 1;
  expect(editedLines(source, edited)).toEqual({ first: line, last: line });
  const result = await checkKernel(gpu, 'conv2d:forward', { source: edited, file: 'mine.wgsl' });
  if (result.status !== 'compile-error') throw new Error(`expected a compile error, got ${result.status}`);
  const [first, barrier, ...notes] = result.messages;
  expect(first.type).toBe('error');
  expect(first.line).toBe(line);
  expect(first.message).toMatch(new RegExp(`the edited line that makes line ${barrier.line}'s error: 'workgroupBarrier' must only be called from uniform control flow$`));
  expect(barrier.type).toBe('error');
  expect(source.split('\n')[barrier.line - 1].trim()).toBe('workgroupBarrier();');
  expect(notes.every((n) => n.type === 'info')).toBe(true);
  expect(notes.some((n) => n.line === line)).toBe(true);
});

test('editedLines: the lines between the common first and last, or null', () => {
  expect(editedLines('a\nb\nc', 'a\nb\nc')).toBeNull();
  expect(editedLines('a\nb\nc', 'a\nB\nc')).toEqual({ first: 2, last: 2 });
  expect(editedLines('a\nb\nc', 'a\nc')).toEqual({ first: 2, last: 2 });
  expect(editedLines('a\nb\nc', 'x\nb\ny')).toEqual({ first: 1, last: 3 });
});

test('an empty source is refused, not compiled to nothing', async () => {
  const result = await checkKernel(await testGpu(), 'softmax:forward', { source: ' \n', file: 'mine.wgsl' });
  expect(result).toEqual({ status: 'invalid', message: 'mine.wgsl is empty: it holds no kernel' });
});
