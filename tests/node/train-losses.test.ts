// `npm run train -- --model autoencoder` and `--loss NAME` as a user runs them:
// the autoencoder prints its test loss and mse and writes test reconstructions
// into the report; a classifier trains with another loss on one-hot rows; a
// loss that does not fit the model, or no loss at all, is refused by name.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { childEnv, repo, scriptArgs } from './child';

async function train(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const node = await scriptArgs('train');
  return new Promise((done) => {
    execFile(process.execPath, [...node, ...args], { cwd: repo, env: childEnv, timeout: 120_000 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'train-losses-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run train', () => {
  test('--model autoencoder prints its test loss and mse, and writes reconstructions of test images into --report', { timeout: 180_000 }, async () => {
    const report = join(dir, 'autoencoder.json');
    const run = await train(['--model', 'autoencoder', '--epochs', '1', '--limit', '300', '--seed', '1', '--report', report]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Total params: 50,992');
    const printed = /test loss: (\d\.\d{4}) - test mse: (\d\.\d{4})\n/.exec(run.stdout)!;
    expect(printed).not.toBeNull();
    const written = JSON.parse(await readFile(report, 'utf8'));
    expect(written.args).toMatchObject({ model: 'autoencoder', loss: 'binaryCrossentropy', batchSize: 256 });
    expect(Object.keys(written.test)).toEqual(['loss', 'mse']);
    expect(written.test.loss.toFixed(4)).toBe(printed[1]);
    expect(written.reconstructions).toHaveLength(8);
    for (const { original, reconstruction } of written.reconstructions) {
      expect(original).toHaveLength(784);
      expect(reconstruction).toHaveLength(784);
      expect(reconstruction.every((v: number) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
    }
  });

  test('--loss trains a classifier on one-hot rows of its labels with another loss, its accuracy the categorical one', { timeout: 180_000 }, async () => {
    const report = join(dir, 'mse.json');
    const run = await train(['--model', 'mlp', '--loss', 'mse', '--epochs', '1', '--limit', '300', '--seed', '1', '--report', report]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/test loss: \d\.\d{4} - test accuracy: \d\.\d{4}\n/);
    expect(JSON.parse(await readFile(report, 'utf8')).args.loss).toBe('meanSquaredError');
  });

  test('--loss that does not fit the model, or is no loss, is refused naming it', async () => {
    const unfit = await train(['--model', 'mlp', '--loss', 'binaryCrossentropy', '--epochs', '1', '--limit', '10']);
    expect(unfit.code).toBe(1);
    expect(unfit.stderr).toContain("error: binaryCrossentropy: the last layer must be dense or conv2d with a sigmoid activation (or linear, with fromLogits: true), but layer 2 (dense) has activation 'softmax'");
    expect(unfit.stdout).not.toContain('Epoch');
    const unknown = await train(['--model', 'autoencoder', '--loss', 'hinge']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: --loss: unknown loss 'hinge'");
  });
});
