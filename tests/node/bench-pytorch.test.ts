// The benchmark's PyTorch column: python/bench.py trains each tutorial model on the CPU
// and reports the time of the steps asked for; with no Python, or no torch in it, the
// column is empty with the reason, in the JSON and in one line of the report, and the benchmark goes on.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tutorialModel } from '../../src/engine';
import { randomBatch } from '../../bench/ours';
import { DEFAULT_PYTHON, PytorchTrainer } from '../../bench/pytorch';
import { markdownReport } from '../../bench/report';
import { runSuite } from '../../bench/suite';
import { testGpu } from '../helpers';

const python = process.env.BENCH_PYTHON || DEFAULT_PYTHON;
const MISSING = join(tmpdir(), 'no-such-dir', 'python3');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-pytorch-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PyTorch in the benchmark', () => {
  test.each(['mlp', 'cnn'] as const)('model=%s: python/bench.py trains a few steps and reports a positive time', { timeout: 60_000 }, async (kind) => {
    const model = tutorialModel(kind);
    const trainer = await PytorchTrainer.start(model, 8, randomBatch(model, 16), python);
    try {
      expect(trainer.about).toMatch(new RegExp(`^\\S+, Python 3\\.\\d+\\.\\d+ \\(${python.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\), \\d+ threads$`));
      for (const count of [1, 3]) {
        const ms = await trainer.steps(count);
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThan(60_000);
      }
    } finally {
      await trainer.close();
    }
  });

  test('no such interpreter, or one without torch: start is refused with the reason', { timeout: 60_000 }, async () => {
    const model = tutorialModel('mlp');
    const data = randomBatch(model, 8);
    await expect(PytorchTrainer.start(model, 8, data, MISSING)).rejects.toThrow(`${MISSING} not found (BENCH_PYTHON names the Python to use)`);
    // A `torch` that cannot be imported comes first on the path: as a Python without PyTorch.
    await mkdir(join(dir, 'torch'));
    await writeFile(join(dir, 'torch', '__init__.py'), 'raise ImportError("No module named \'torch\'")\n');
    const saved = process.env.PYTHONPATH;
    process.env.PYTHONPATH = dir;
    try {
      await expect(PytorchTrainer.start(model, 8, data, python)).rejects.toThrow(/ has no PyTorch \(No module named 'torch'\)$/);
    } finally {
      if (saved === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = saved;
    }
  });

  test('the suite with a missing interpreter: the PyTorch column is null with its reason, the rest is measured', { timeout: 120_000 }, async () => {
    const logs: string[] = [];
    const result = await runSuite(
      await testGpu(),
      { quick: true, models: ['mlp'], batches: [128], autotune: 'off' },
      { runtime: 'node', versions: {} },
      (model, batch, data) => PytorchTrainer.start(model, batch, data, MISSING),
      (line) => logs.push(line),
    );
    const [m] = result.models;
    const reason = `${MISSING} not found (BENCH_PYTHON names the Python to use)`;
    expect(m.pytorch).toEqual({ msPerStep: null, stepsPerRound: 0, about: null, reason });
    expect(m.pytorchMsPerStep).toBeNull();
    expect(m.pytorchRatio).toBeNull();
    expect(m.oursMsPerStep).toBeGreaterThan(0);
    // Mixed precision's step runs where the device has shader-f16; with autotune off no variant is timed to compare.
    if ((await testGpu()).device.features.has('shader-f16')) {
      expect(m.mixed.msPerStep!.median).toBeGreaterThan(0);
      expect([m.mixed.reason, m.mixed.kernels]).toEqual(["--autotune off: the variants are not timed, so f16's and f32's cannot be compared", []]);
    } else expect(m.mixed).toEqual({ reason: "the device has no 'shader-f16', so no f16 variant to time", msPerStep: null, speedup: null, kernels: [] });
    expect(result.environment.versions['PyTorch (CPU)']).toBe(`not run: ${reason}`);
    expect(logs).toContain(`mlp: PyTorch not run: ${reason}`);
    // The JSON keeps the reason; the report says it in one line under the table.
    expect(JSON.parse(JSON.stringify(result)).models[0].pytorch.reason).toBe(reason);
    const report = markdownReport(result);
    expect(report).toContain(`\nPyTorch CPU, no figures for mlp: ${reason}.\n`);
    const lines = report.split('\n');
    const header = lines.findIndex((line) => line.includes('| PyTorch CPU ms/step |'));
    const cell = (name: string) => lines[header + 2].split(' | ')[lines[header].split(' | ').indexOf(name)];
    expect([cell('PyTorch CPU ms/step'), cell('PyTorch / ours'), cell('PyTorch images/s')]).toEqual(['—', '—', '—']);
  });
});
