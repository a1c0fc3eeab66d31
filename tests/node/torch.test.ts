// The PyTorch handoff against the real PyTorch (Debian's python3-torch): models
// trained here and exported score the same in predict.py, train.py under torchrun
// (two processes, gloo) lowers the loss, and its weights come back with PyTorch's predictions.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, maxPooling2d, type LayerConfig } from '../../src/engine/layers';
import { loadModelBytes, Model } from '../../src/engine/model';
import { encodeModelFile } from '../../src/engine/modelFile';
import { encodeSafetensors } from '../../src/engine/safetensors';
import { tutorialModel, type TutorialModel } from '../../src/engine/tutorial';
import { exportTorch, importTorch } from '../../src/node/torchDirectory';
import { seededRandom } from '../helpers';
import { testMnist } from '../mnist';
import { childEnv, repo, scriptArgs } from './child';

/** Images: the handoff is checked on few, to keep the test short on two CPU cores. */
const TRAIN_HERE = 300;
const PREDICT = 200;
const TRAIN_IN_TORCH = 2000;
/** Probabilities from our GPU and from PyTorch's CPU agree to this, everywhere. */
const AGREE = 1e-4;

/**
 * Runs a program to its end. Its stdin is closed: torchrun's workers, given an
 * open pipe there, hang at exit after finishing their work.
 */
function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const [stdout, stderr] = [[] as Buffer[], [] as Buffer[]];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill(), 240_000);
    const finish = (code: number) => {
      clearTimeout(timer);
      done({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    };
    child.on('error', () => finish(-1));
    child.on('close', (code) => finish(code ?? -1));
  });
}

/** A Python that imports torch: $PYTHON, else Debian's (the first python3 on PATH may be another, without torch). */
async function findPython(): Promise<string> {
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const python of candidates) {
    if ((await run(python, ['-c', 'import torch'], { cwd: tmpdir() })).code === 0) return python;
  }
  throw new Error(`no Python that imports torch among ${candidates.join(', ')}: npm run setup installs python3-torch, or set PYTHON`);
}

let python: string;
let dir: string;
let mnistDir: string;
let test0: { x: Float32Array; y: Uint8Array };
let train0: { x: Float32Array; y: Uint8Array };

beforeAll(async () => {
  python = await findPython();
  dir = await mkdtemp(join(tmpdir(), 'torch-test-'));
  mnistDir = dirname(inject('mnistFiles')['test-images']);
  const mnist = await testMnist();
  const rowSize = mnist.test.height * mnist.test.width;
  test0 = { x: mnist.test.images.subarray(0, PREDICT * rowSize), y: mnist.test.labels.subarray(0, PREDICT) };
  train0 = { x: mnist.train.images.subarray(0, TRAIN_HERE * rowSize), y: mnist.train.labels.subarray(0, TRAIN_HERE) };
  // `import torch` alone takes seconds on a slow or busy machine: more than a hook's default 10 s.
}, 120_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** predict.py in `exported` on the first PREDICT test images: its printout and every probability. */
async function predictInTorch(exported: string, weights = 'model.safetensors'): Promise<{ stdout: string; probabilities: Float32Array }> {
  const output = join(exported, `probabilities-${weights}.json`);
  const args = ['predict.py', '--data', mnistDir, '--limit', String(PREDICT), '--weights', weights, '--probabilities', output];
  const result = await run(python, args, { cwd: exported });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const rows = JSON.parse(await readFile(output, 'utf8')) as number[][];
  return { stdout: result.stdout, probabilities: Float32Array.from(rows.flat()) };
}

const argmaxes = (p: Float32Array, classes = 10) =>
  Array.from({ length: p.length / classes }, (_, i) => {
    const row = [...p.subarray(i * classes, (i + 1) * classes)];
    return row.indexOf(Math.max(...row));
  });

/** Every argmax equal and every probability within AGREE; returns the largest difference. */
function expectAgree(what: string, ours: Float32Array, torch: Float32Array): number {
  expect(torch.length).toBe(ours.length);
  expect(argmaxes(torch)).toEqual(argmaxes(ours));
  let max = 0;
  for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i] - torch[i]));
  console.info(`${what}: ${ours.length / 10} images, every argmax agrees, max |ours - PyTorch| ${max.toExponential(2)}`);
  expect(max).toBeLessThanOrEqual(AGREE);
  return max;
}

/** The tutorial model trained here for an epoch on TRAIN_HERE images, then exported: the model and its directory. */
const exported = new Map<TutorialModel, Promise<{ model: Model; dir: string }>>();
function trainedAndExported(kind: TutorialModel): Promise<{ model: Model; dir: string }> {
  if (!exported.has(kind)) {
    exported.set(kind, (async () => {
      const model = tutorialModel(kind);
      model.compile({ metrics: ['accuracy'], optimizer: 'rmsprop', seed: 1 });
      await model.fit(train0.x, train0.y, { epochs: 1, batchSize: 32 });
      const out = join(dir, kind);
      await exportTorch(model, out);
      return { model, dir: out };
    })());
  }
  return exported.get(kind)!;
}

describe('exported models predict the same in PyTorch', () => {
  test.each(['mlp', 'cnn'] as const)('%s trained here: predict.py agrees on every image', async (kind) => {
    const { model, dir: out } = await trainedAndExported(kind);
    const ours = await model.predict(test0.x);
    const { stdout, probabilities } = await predictInTorch(out);
    expectAgree(`${kind} in predict.py`, ours, probabilities);
    const { loss, accuracy } = await model.evaluate(test0.x, test0.y);
    const [, torchLoss, torchAccuracy, images] = /^test loss: (\d\.\d{4}) - test accuracy: (\d\.\d{4}) \(([\d,]+) test images\)$/m.exec(stdout) ?? [];
    expect(Number(images?.replace(/,/g, ''))).toBe(PREDICT);
    expect(torchAccuracy).toBe(accuracy.toFixed(4));
    expect(Math.abs(Number(torchLoss) - loss)).toBeLessThanOrEqual(5e-4);
    expect(stdout).toMatch(/^prediction for test image 0: \[(\d\.\d\de[+-]\d\d, ){9}\d\.\d\de[+-]\d\d\]$/m);
  });

  test('every layer kind (same padding, strides, batch norm on images and after a flatten, softmax over channels)', async () => {
    const layers: LayerConfig[] = [
      conv2d({ filters: 4, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'relu', inputShape: [28, 28, 1] }),
      batchNormalization(),
      averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      conv2d({ filters: 3, kernelSize: 2, activation: 'softmax' }),
      maxPooling2d({ poolSize: [2, 3] }),
      dropout({ rate: 0.3 }),
      flatten(),
      batchNormalization({ momentum: 0.9, epsilon: 0.01 }),
      dense({ units: 8, activation: 'tanh' }),
      dropout({ rate: 0.5 }),
      dense({ units: 6, activation: 'sigmoid' }),
      dense({ units: 10, activation: 'softmax' }),
    ];
    // Random weights and moving statistics: wide enough that the probabilities are far from uniform.
    const random = seededRandom(7);
    const shapes = new Model(layers, [28, 28, 1]).shapes;
    const weights = shapes.flatMap(({ params }, i) =>
      params.map((p) => ({
        name: `layers.${i}.${p.name}`,
        shape: p.shape,
        values: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => (p.name === 'moving_variance' ? 0.2 + random() : 4 * (random() - 0.5))),
      })),
    );
    const model = await loadModelBytes(encodeModelFile({ inputShape: [28, 28, 1], layers }, weights));
    const out = join(dir, 'every-kind');
    await exportTorch(model, out);
    expectAgree('every layer kind in predict.py', await model.predict(test0.x), (await predictInTorch(out)).probabilities);
    model.destroy();
  });
});

describe('the round trip through PyTorch', () => {
  test('ours -> PyTorch (model.load, model.save) -> ours: bit-identical weights', async () => {
    const { model, dir: out } = await trainedAndExported('cnn');
    const script = 'import model; m, a = model.load("model.safetensors"); model.save(m, a, "saved.safetensors")';
    const result = await run(python, ['-c', script], { cwd: out });
    expect(result.stderr).toBe('');
    const back = await importTorch(join(out, 'saved.safetensors'));
    const [before, after] = [await model.getWeights(), await back.getWeights()];
    expect(after.map((w) => [w.name, w.shape])).toEqual(before.map((w) => [w.name, w.shape]));
    for (let i = 0; i < before.length; i++) {
      const [a, b] = [new Uint32Array(before[i].values.buffer), new Uint32Array(after[i].values.buffer)];
      expect(b.findIndex((bits, j) => bits !== a[j]), before[i].name).toBe(-1);
    }
    back.destroy();
  });

  test('torchrun --nproc_per_node 2 train.py (gloo): the loss falls, and the weights come back with PyTorch\'s predictions', { timeout: 300_000 }, async () => {
    const { dir: out } = await trainedAndExported('cnn');
    const started = performance.now();
    // --redirects/--tee: Debian's PyTorch 1.13 on Python 3.11 parses their default "0" as None and
    // fails before starting (pytorch/pytorch#92319); any other value works. Stderr is teed, stdout untouched.
    const args = ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--redirects', '2', '--tee', '2'];
    const train = ['train.py', '--data', mnistDir, '--limit', String(TRAIN_IN_TORCH), '--epochs', '1', '--seed', '1', '--save', 'trained.safetensors'];
    const result = await run(python, [...args, ...train], { cwd: out, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    console.info(`torchrun: ${((performance.now() - started) / 1000).toFixed(1)} s\n${result.stdout}`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`2 processes on cpu, ${TRAIN_IN_TORCH} images, batches of 128 (64 per process)\n`);
    const loss = (what: string) => Number(new RegExp(`^${what} loss: ([\\d.]+)$`, 'm').exec(result.stdout)?.[1]);
    expect(loss('final')).toBeLessThan(loss('initial'));
    expect(result.stdout).toMatch(/^epoch 1\/1 - loss: [\d.]+$/m);

    const back = await importTorch(join(out, 'trained.safetensors'));
    const { probabilities } = await predictInTorch(out, 'trained.safetensors');
    expectAgree('trained by torchrun, imported', await back.predict(test0.x), probabilities);
    back.destroy();
  });
});

describe('predict.py checks the header before it allocates', () => {
  test('a 200-byte file declaring 600,000 units: refused by model.load before the weights are read or the model built', async () => {
    const { dir: out } = await trainedAndExported('mlp');
    const architecture = JSON.stringify({ inputShape: [784], layers: [dense({ units: 600_000, activation: 'softmax' })] });
    await writeFile(join(out, 'declaring.safetensors'), encodeSafetensors([], { format: 'pt', architecture }));
    // The process' peak memory (in KiB) after PyTorch's import (a few hundred MB), and after the load: the layer would take 1.9 GB.
    const script = [
      'import model, resource',
      'peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss',
      'before = peak()',
      'try:\n    model.load("declaring.safetensors")\nexcept ValueError as error:\n    print(error)',
      'print(before, peak())',
    ].join('\n');
    const result = await run(python, ['-c', script], { cwd: out });
    expect(result.stderr).toBe('');
    const [message, peaks] = result.stdout.trim().split('\n');
    expect(message).toBe("declaring.safetensors: missing tensors ['0.bias', '0.weight'], unexpected tensors [], of another shape []");
    const [before, after] = peaks.split(' ').map((kib) => Number(kib) * 1024);
    console.info(`predict.py's model.load refused a file declaring 600,000 units: peak ${(before / 1e6).toFixed(0)} MB after importing PyTorch, ${(after / 1e6).toFixed(0)} MB after`);
    expect(after - before).toBeLessThan(64e6);
  });
});

describe('npm run export', () => {
  async function cli(args: string[]) {
    return run(process.execPath, [...(await scriptArgs('export')), ...args], { cwd: repo, env: childEnv });
  }

  test('--load FILE --torch DIR, then --from-torch DIR --save FILE: the same file back', async () => {
    const { model } = await trainedAndExported('mlp');
    const original = join(dir, 'cli-model.safetensors');
    await writeFile(original, await model.toBytes());
    const out = join(dir, 'cli-torch');
    const exported = await cli(['--load', original, '--torch', out]);
    expect(exported.stderr).toBe('');
    expect((await readdir(out)).sort()).toEqual(['README.md', 'model.py', 'model.safetensors', 'predict.py', 'train.py']);
    const back = join(dir, 'cli-back.safetensors');
    const imported = await cli(['--from-torch', out, '--save', back]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toBe(`saved ${back}: 3 layers, 101,770 parameters from ${join(out, 'model.safetensors')}\n`);
    expect(Buffer.compare(await readFile(back), await readFile(original))).toBe(0);
  });

  test('a model PyTorch cannot hold: exit 1, the layer named, no directory written', async () => {
    const layers: LayerConfig[] = [batchNormalization({ inputShape: [28, 28] }), flatten(), dense({ units: 10, activation: 'softmax' })];
    const shapes = new Model(layers, [28, 28]).shapes;
    const weights = shapes.flatMap(({ params }, i) => params.map((p) => ({ name: `layers.${i}.${p.name}`, shape: p.shape, values: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) })));
    const file = join(dir, 'bn-2d.safetensors');
    await writeFile(file, encodeModelFile({ inputShape: [28, 28], layers }, weights));
    const out = join(dir, 'not-written');
    const result = await cli(['--load', file, '--torch', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error: layer 0 (batchNormalization): cannot export to PyTorch: its input [28, 28] is neither [features] nor [height, width, channels], and PyTorch's BatchNorm normalizes over dimension 1\n",
    );
    await expect(readdir(out)).rejects.toThrow('ENOENT');
  });

  test('both directions at once, or half of one: usage', async () => {
    const result = await cli(['--load', 'a', '--save', 'b']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: give either --load FILE --torch DIR or --from-torch DIR|FILE --save FILE\nusage: npm run export');
  });
});
