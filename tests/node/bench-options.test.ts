// What a person types into `npm run bench` or the benchmark page's form: every
// bad value is refused with an error naming the option and the value. And the
// roofline arithmetic every kernel row and step of the report is given.
import { describe, expect, test } from 'vitest';
import { rooflinePoint, type Roofline } from '../../bench/roofline';
import { parseBenchOptions, precisionRows } from '../../bench/suite';
import { repo, scriptArgs, sh } from './child';

test('the options typed are read, with the defaults for what is left out', () => {
  expect(parseBenchOptions(true, 'cnn, mlp')).toEqual({ quick: true, models: ['cnn', 'mlp'], batches: [128], autotune: 'cached' });
  expect(parseBenchOptions(false, 'mlp', '32,256', 'full')).toEqual({ quick: false, models: ['mlp'], batches: [32, 256], autotune: 'full' });
});

test('an unknown model, a batch that is not a positive integer or an unknown autotune mode is refused, naming it', () => {
  expect(() => parseBenchOptions(true, 'cnn,resnet')).toThrow("models: unknown model 'resnet' (use cnn, mlp)");
  expect(() => parseBenchOptions(true, 'mlp', '64,0')).toThrow("batches: '64,0' must be positive integers");
  expect(() => parseBenchOptions(true, 'mlp', undefined, 'fast')).toThrow("autotune must be one of off, cached, full, got 'fast'");
});

describe('rooflinePoint: where a kernel stands under the roofline', () => {
  // 100 GFLOP/s and 10 GB/s: the ridge at 10 FLOP/byte.
  const peak = (rate: number) => ({ rate, variant: 'v', ms: { v: 1 } });
  const roofline: Roofline = { gflops: peak(100), f16Gflops: null, gbPerSecond: peak(10), ridge: 10, rounds: 1 };

  test('above the ridge, the bound is the peak, and the fraction the GFLOP/s reached over it', () => {
    // 1 GFLOP in 20 ms: 50 GFLOP/s of 100.
    expect(rooflinePoint({ flops: 1e9, bytes: 1e6 }, 20, roofline)).toEqual({ intensity: 1000, boundGflops: 100, fraction: 0.5 });
  });

  test('below the ridge, the bound is intensity x bandwidth, and the fraction the same over it', () => {
    // 0.01 FLOP/byte: 0.1 GFLOP/s at 10 GB/s; 1 MFLOP in 40 ms is 0.025 GFLOP/s.
    const point = rooflinePoint({ flops: 1e6, bytes: 1e8 }, 40, roofline);
    expect(point.intensity).toBe(0.01);
    expect(point.boundGflops).toBeCloseTo(0.1, 12);
    expect(point.fraction).toBeCloseTo(0.025 / 0.1, 12);
  });

  test('work of no FLOPs is held against the bandwidth alone', () => {
    // 100 MB in 40 ms: 2.5 GB/s of 10.
    expect(rooflinePoint({ flops: 0, bytes: 1e8 }, 40, roofline)).toEqual({ intensity: 0, boundGflops: 0, fraction: 0.25 });
  });
});

test("precisionRows: each product's fastest f32 and f16 variant, from the times the autotuner took", () => {
  const choice = { site: 'layer 0 (dense)', kernel: 'matmul.wgsl:forward', shape: 'M=8 N=8 K=8', from: 'timed' as const };
  const rows = precisionRows([
    { ...choice, variant: 'tiled=32 f16', ms: { 'workgroup=16 f16': 3, 'tiled=32 f16': 2, 'workgroup=16': 5, 'tiled=32': 4 } },
    // A float32 kernel, or one not timed (autotune off, or the budget spent): no row.
    { ...choice, variant: 'workgroup=16', ms: { 'workgroup=16': 1 } },
    { ...choice, variant: 'workgroup=16 f16', ms: {}, from: 'default' },
  ]);
  expect(rows).toEqual([{ ...choice, f32: { variant: 'tiled=32', ms: 4 }, f16: { variant: 'tiled=32 f16', ms: 2 }, f16Speedup: 2, chosen: 'tiled=32 f16' }]);
});

describe('npm run bench:variants', () => {
  test('times the variants named in paired rounds: a row each, the first the baseline of the ratios', async () => {
    const args = [...(await scriptArgs('bench:variants')), '--conv', '2,6,6,4,3,3,8', '--product', 'backward_input', '--variants', 'rows=1;rows=4', '--rounds', '2'];
    const { stdout } = await sh(process.execPath, args, repo);
    const rows = stdout.split('\n').filter((line) => /^\| rows=/.test(line));
    expect(rows.map((row) => row.split(' | ')[0])).toEqual(['| rows=1', '| rows=4']);
    expect(rows[0]).toMatch(/ \| 1\.00× \| 1\.00–1\.00 \|$/);
    expect(stdout).toMatch(/^conv2d\.wgsl:backward_input at N=2 H=6 W=6 C_in=4 k=3x3 C_out=8, /);
  });

  test('a product or a variant it does not have is refused, naming what it has', async () => {
    const args = [...(await scriptArgs('bench:variants')), '--conv', '2,6,6,4,3,3,8'];
    await expect(sh(process.execPath, [...args, '--product', 'sideways'], repo)).rejects.toThrow("--product must be forward, backward_weight or backward_input, got 'sideways'");
    await expect(sh(process.execPath, [...args, '--product', 'forward', '--variants', 'rows=99'], repo)).rejects.toThrow(/not offered at this shape: rows=99 \(offered: rows=4, rows=1, /);
  });
});
