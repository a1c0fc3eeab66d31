// compile({ kernels }): a model trained with a replacement kernel, against the
// same model with the built-in one from the same seed; and the replacements refused.
import { describe, expect, test } from 'vitest';
import conv2dSource from '../src/shaders/conv2d.wgsl?raw';
import { Graph } from '../src/engine/graph';
import { conv2d, dense, flatten } from '../src/engine/layers';
import { sequential, type CompileOptions } from '../src/engine/model';
import { optimizerConfig } from '../src/engine/ops/optimizer';
import { seededRandom, testGpu } from './helpers';

// A tiny CNN on 8x8 images, so that SwiftShader runs it in seconds.
const layers = () => [conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [8, 8, 1] }), flatten(), dense({ units: 10, activation: 'softmax' })];
const ROWS = 48;
const random = seededRandom(3);
const x = Float32Array.from({ length: ROWS * 64 }, () => random());
const y = Uint32Array.from({ length: ROWS }, () => Math.floor(random() * 10));

/** The loss after each step of two epochs, batches of 16. */
async function losses(kernels?: CompileOptions['kernels']): Promise<number[]> {
  const model = sequential(layers());
  model.compile({ optimizer: 'adam', seed: 11, gpu: await testGpu(), kernels });
  const seen: number[] = [];
  try {
    await model.fit(x, y, { epochs: 2, batchSize: 16, updateEvery: 1, callbacks: { onTrainBatchEnd: (_step, logs) => void seen.push(logs.loss) } });
  } finally {
    model.destroy();
  }
  return seen;
}

/** conv2d.wgsl with one piece of text replaced, failing if it is not there (so an edit of the shader cannot turn a test vacuous). */
function edited(from: string | RegExp, to: string): string {
  const result = conv2dSource.replace(from, to);
  if (result === conv2dSource) throw new Error(`conv2d.wgsl no longer contains ${from}`);
  return result;
}

const STORE = 'y[m * params.C_out + first + j] = activate(cells[r][j / 4u][j % 4u], ACTIVATION);';

describe('kernel overrides', () => {
  let builtIn: number[];

  test('a replacement identical to the built-in kernel gives identical losses', async () => {
    builtIn = await losses();
    expect(builtIn.length).toBe(6);
    expect(builtIn.every(Number.isFinite)).toBe(true);
    expect(await losses({ 'conv2d:forward': conv2dSource })).toEqual(builtIn);
    // The benchmark's spelling of the name, and every gradient kernel replaced too.
    const same = { source: conv2dSource };
    expect(await losses({ 'conv2d.wgsl:forward': same, 'conv2d:backward_weight': same })).toEqual(builtIn);
  });

  test('a wrong replacement changes the losses', async () => {
    const wrong = await losses({ 'conv2d:forward': edited(STORE, STORE.replace('activate(cells', 'activate(0.5 * cells')) });
    expect(wrong.length).toBe(builtIn.length);
    expect(wrong).not.toEqual(builtIn);
  });

  test('a binding renamed or retyped is refused, naming it', async () => {
    // Every store to y renamed (forward's, and its quads variant's), so that the source compiles.
    const renamed = edited('var<storage, read_write> y: array<f32>;', 'var<storage, read_write> out: array<f32>;').replace(/\by\[/g, 'out[');
    await expect(losses({ 'conv2d:forward': renamed })).rejects.toThrow(/binding 'out' is not one of conv2d\.wgsl:forward's/);
    const retyped = edited('@binding(1) var<storage, read> x: array<f32>;', '@binding(1) var<storage, read_write> x: array<f32>;');
    await expect(losses({ 'conv2d:forward': retyped })).rejects.toThrow(/binding 'x' is @binding\(1\) storage but conv2d\.wgsl:forward has it as @binding\(1\) read-only-storage/);
    const moved = edited('@binding(1) var<storage, read> x', '@binding(11) var<storage, read> x');
    await expect(losses({ 'conv2d:forward': moved })).rejects.toThrow(/binding 'x' is @binding\(11\)/);
    const member = edited('  pad_left: u32,\n', '  pad_left: u32,\n  dilation: u32,\n');
    await expect(losses({ 'conv2d:forward': member })).rejects.toThrow(/params member 'dilation' is not one of conv2d\.wgsl:forward's \(N, H, W, C_in/);
  });

  test('a compile error names the file, line and column; an unknown kernel or constant, or a bad value, is named', async () => {
    await expect(losses({ 'conv2d:forward': edited(STORE, 'y[0] = nope;') })).rejects.toThrow(/conv2d\.wgsl \(override\):\d+:\d+: .*nope/);
    await expect(losses({ 'conv2d:forwrd': conv2dSource })).rejects.toThrow(/'conv2d\.wgsl:forwrd' is not a kernel this model runs \(it runs: .*conv2d\.wgsl:forward/);
    await expect(losses({ 'conv2d:forward': { source: conv2dSource, constants: { TILE: 8 } } })).rejects.toThrow(/constants\.TILE is not an override the shader declares \(WORKGROUP_SIZE, ACTIVATION, BIAS, PADDED, STAGED, VECTORIZED, NEGATIVE_SLOPE\)/);
    // WebGPU would truncate it to 3 and run.
    await expect(losses({ 'conv2d:forward': { source: conv2dSource, constants: { WORKGROUP_SIZE: 3.5 } } })).rejects.toThrow(
      /constants\.WORKGROUP_SIZE is 3\.5, but it is a u32 override: an integer from 0 to 4294967295/,
    );
    expect(() => sequential(layers()).compile({ kernels: { conv2d: conv2dSource } })).toThrow(/kernel name 'conv2d' is not <op>:<entry point>/);
  });

  test('an override constant resizes the dispatch, and training still matches', async () => {
    const { device } = await testGpu();
    const plan = async (kernels?: Graph['kernels']) => {
      const graph = new Graph(device, { layers: layers(), inputShape: [8, 8, 1], maxBatchSize: 16, optimizer: optimizerConfig('adam'), random: seededRandom(1), kernels });
      const forward = (await graph.plan(16)).train.find((d) => d.kernel.name.endsWith(':forward') && d.kernel.name.startsWith('conv2d'))!;
      const found = { workgroups: [...forward.workgroups], size: forward.kernel.workgroupSize[0] };
      graph.destroy();
      return found;
    };
    const before = await plan();
    const after = await plan(new Map([['conv2d.wgsl:forward', { source: conv2dSource, constants: { WORKGROUP_SIZE: 16 } }]]));
    // 16 x 36 output pixels, 4 an invocation (the default variant's ROWS), over 64, then 16, invocations a workgroup.
    expect(before).toEqual({ workgroups: [3, 1, 1], size: 64 });
    expect(after).toEqual({ workgroups: [9, 1, 1], size: 16 });
    expect(await losses({ 'conv2d:forward': { source: conv2dSource, constants: { WORKGROUP_SIZE: 16 } } })).toEqual(builtIn);
  });
});
