// The reflection layer: bindings by name, uniforms by member, and the errors for each mistake.
import { describe, expect, test } from 'vitest';
import broken from './fixtures/broken.wgsl?raw';
import scale from './fixtures/scale.wgsl?raw';
import { bufferRange } from '../src/engine/buffers';
import { getKernel, prepareDispatch, prepareTunable } from '../src/engine/pipelines';
import { run, testGpu, upload, zeros } from './helpers';

const scaleShader = { file: 'scale.wgsl', source: scale };

describe('pipelines', () => {
  test('binds by name and fills the uniform by member name', async () => {
    const { device } = await testGpu();
    const y = await zeros([3]);
    const dispatch = await prepareDispatch(device, scaleShader, 'forward', {
      params: { factor: 2, count: 3 },
      buffers: { x: bufferRange(await upload([3], [1, 2, 3])), y: bufferRange(y) },
      grid: { threads: [3] },
    });
    expect(dispatch.workgroups).toEqual([1, 1, 1]);
    const [got] = await run(dispatch, y);
    expect([...got]).toEqual([2, 4, 6]);
  });

  test('a compile error names the file, line and column', async () => {
    const { device } = await testGpu();
    await expect(getKernel(device, { file: 'broken.wgsl', source: broken }, 'forward')).rejects.toThrow(/broken\.wgsl:4:\d+: .*undefined_name/);
  });

  test('an unknown entry point lists the ones there are', async () => {
    const { device } = await testGpu();
    await expect(getKernel(device, scaleShader, 'backward')).rejects.toThrow("scale.wgsl: no compute entry point 'backward' (it has: forward)");
  });

  test("a tunable dispatch's source hash covers every variant's code, so that a choice goes stale when any of them changes", async () => {
    const { device } = await testGpu();
    const buffers = { x: bufferRange(await zeros([4])), y: bufferRange(await zeros([4])) };
    // Variant 'b' compiles from its own file, as matmul's subgroup variant does.
    const tunable = async (b: string) =>
      (
        await prepareTunable(device, 'forward', {
          shape: 'n=4',
          variants: ['a', 'b'],
          make: (variant) => ({
            shader: variant === 'a' ? scaleShader : { file: 'other.wgsl', source: b },
            spec: { params: { factor: 1, count: 4 }, buffers, grid: { threads: [4] } },
          }),
        })
      ).tunable!;
    const same = await tunable(scale);
    expect(same.kernel).toBe('scale.wgsl:forward');
    expect((await tunable(scale)).source).toBe(same.source);
    expect((await tunable(scale.replace('params.factor', '2.0 * params.factor'))).source).not.toBe(same.source);
  });

  test('a missing binding is named', async () => {
    const { device } = await testGpu();
    await expect(
      prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: 1 }, buffers: { x: bufferRange(await zeros([1])) }, grid: { threads: [1] } }),
    ).rejects.toThrow("scale.wgsl:forward: binding 'y' was not given a buffer");
  });

  test('a misspelt binding is named with the declared ones', async () => {
    const { device } = await testGpu();
    const t = bufferRange(await zeros([1]));
    await expect(
      prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: 1 }, buffers: { x: t, out: t }, grid: { threads: [1] } }),
    ).rejects.toThrow("scale.wgsl:forward: no binding named 'out' (the shader declares: ");
  });

  test('uniform members are checked by name and type', async () => {
    const { device } = await testGpu();
    const buffers = { x: bufferRange(await zeros([1])), y: bufferRange(await zeros([1])) };
    const grid = { threads: [1] };
    await expect(prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1 }, buffers, grid })).rejects.toThrow(
      'scale.wgsl:forward: params.count was not given a value',
    );
    await expect(prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: 1, size: 2 }, buffers, grid })).rejects.toThrow(
      "scale.wgsl:forward: params has no member 'size' (it declares: factor, count)",
    );
    await expect(prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: -1 }, buffers, grid })).rejects.toThrow(
      'scale.wgsl:forward: params.count is u32 but was given -1',
    );
  });

  test('a dispatch larger than the device allows is refused', async () => {
    const { device } = await testGpu();
    const buffers = { x: bufferRange(await zeros([1])), y: bufferRange(await zeros([1])) };
    await expect(
      prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: 1 }, buffers, grid: { workgroups: [1e6] } }),
    ).rejects.toThrow(/scale\.wgsl:forward: 1000000x1x1 workgroups exceeds the device limit of \d+ per dimension/);
  });

  test('a strided grid has a thread per element up to 262,144 threads: 4096 workgroups of 64', async () => {
    const { device } = await testGpu();
    const buffers = { x: bufferRange(await zeros([1])), y: bufferRange(await zeros([1])) };
    const workgroups = async (strided: number) =>
      (await prepareDispatch(device, scaleShader, 'forward', { params: { factor: 1, count: 1 }, buffers, grid: { strided } })).workgroups;
    expect(await workgroups(65)).toEqual([2, 1, 1]);
    expect(await workgroups(262_144)).toEqual([4096, 1, 1]);
    expect(await workgroups(262_145)).toEqual([4096, 1, 1]);
  });
});
