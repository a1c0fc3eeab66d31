// The scripts `npm run build:gpu` makes for a GPU machine with no npm: in a
// folder that holds only them, the shipped MNIST and Dawn (node_modules/webgpu),
// the training command trains and the benchmark times ours against TensorFlow.js
// (bundled in). A device session is short: what it runs must work the first time.
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repo, sh } from './child';

const timeout = 300_000;

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'webgpu-train-gpu-'));
  await sh('npx', ['vite', 'build', '-c', 'vite.gpu.config.ts', '--outDir', join(folder, 'dist/gpu'), '--logLevel', 'warn'], repo);
  await mkdir(join(folder, 'node_modules'));
  await symlink(join(repo, 'node_modules/webgpu'), join(folder, 'node_modules/webgpu'));
  await mkdir(join(folder, 'public'));
  await symlink(join(repo, 'public/mnist'), join(folder, 'public/mnist'));
}, timeout);

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

test('the bundled training command trains on the shipped MNIST with only Dawn beside it', { timeout }, async () => {
  const { stdout: out } = await sh('node', ['dist/gpu/train.mjs', '--model', 'mlp', '--epochs', '1', '--limit', '512', '--seed', '1'], folder);
  expect(out).toMatch(/^4\/4 .* accuracy: [\d.]+ - loss: [\d.]+/m);
  const accuracy = Number(/test accuracy: ([\d.]+)/.exec(out)?.[1]);
  // 512 images, one epoch: well above chance (0.1).
  expect(accuracy).toBeGreaterThan(0.4);
});

test('the bundled benchmark times ours and TensorFlow.js', { timeout }, async () => {
  await sh('node', ['dist/gpu/bench.mjs', '--quick', '--models', 'mlp', '--out', 'bench.json'], folder);
  const result = JSON.parse(await readFile(join(folder, 'bench.json'), 'utf8'));
  expect(result.environment.versions['@tensorflow/tfjs']).toMatch(/^\d+\.\d+\.\d+$/);
  const [mlp] = result.models;
  expect(mlp.oursMsPerStep).toBeGreaterThan(0);
  expect(mlp.tfjsMsPerStep).toBeGreaterThan(0);
});
