// Keras files where only Node goes: the command line (evaluate and fine-tune a
// .keras file, save one, refuse a bad one with one line and exit code 1),
// loadModel choosing the format by content, hostile files refused within 5 s
// and 400 MB (a child process measures its own peak memory), and h5py, an
// independent HDF5 reader, reading what we write.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeKeras, readKerasModel } from '../../src/engine/keras';
import { dense, flatten, layerShapes } from '../../src/engine/layers';
import { encodeModelFile } from '../../src/engine/modelFile';
import { seededRandom } from '../../src/engine/random';
import { loadModel } from '../../src/node';
import { readNamedFile } from '../../src/node/files';
import { childEnv, repo, scriptArgs } from './child';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd = repo): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: childEnv, timeout: 240_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** `npm run <script> -- ...args`, without npm's start-up. */
async function cli(script: 'train' | 'evaluate', args: string[]): Promise<Run> {
  return run(process.execPath, [...(await scriptArgs(script)), ...args]);
}

const fixture = (name: string) => join(repo, 'tests/fixtures/keras', name);

let dir: string;
/** An MNIST-sized MLP with seeded weights, as a .keras file, and its weights. */
let mlp: { path: string; weights: Float32Array[] };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keras-test-'));
  const inputShape = [28, 28];
  const layers = [flatten({ inputShape }), dense({ units: 16, activation: 'relu' }), dense({ units: 10, activation: 'softmax' })];
  const shapes = layerShapes(layers, inputShape);
  const random = seededRandom(11);
  const weights = shapes.flatMap(({ params }, i) =>
    params.map((p) => ({ name: `layers.${i}.${p.name}`, shape: p.shape, values: Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => Math.fround(random() * 0.2 - 0.1)) })),
  );
  mlp = { path: join(dir, 'mlp.keras'), weights: weights.map((w) => w.values) };
  await writeFile(mlp.path, await encodeKeras({ inputShape, layers, shapes, weights }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bits = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

describe('the command line', () => {
  test('evaluate scores a .keras file with raw pixels and saves it again as .keras, bit-exact', { timeout: 240_000 }, async () => {
    const back = join(dir, 'back.keras');
    const evaluated = await cli('evaluate', ['--load', mlp.path, '--limit', '100', '--pixels', 'raw', '--save', back]);
    expect(evaluated.stderr).not.toContain('error');
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toContain(`${mlp.path}: Keras 3.1.1 .keras file\n`);
    expect(evaluated.stdout).toMatch(/test loss: \S+ - test accuracy: \S+ \(100 images, raw pixels\)\n/);
    expect(evaluated.stdout).toContain(`saved ${back}\n`);
    const saved = await readKerasModel(await readNamedFile(back, 'a model file'), back);
    expect(saved.weights.map((w) => bits(w.values))).toEqual(mlp.weights.map(bits));
  });

  test('train --from fine-tunes a .keras file and saves a .keras file', { timeout: 240_000 }, async () => {
    const tuned = join(dir, 'tuned.keras');
    const trained = await cli('train', ['--from', mlp.path, '--epochs', '1', '--limit', '128', '--batch-size', '32', '--seed', '1', '--save', tuned]);
    expect(trained.stderr).not.toContain('error');
    expect(trained.code).toBe(0);
    expect(trained.stdout).toContain('Epoch 1/1\n');
    expect(trained.stdout).toContain('Total params: 12,730');
    const file = await readKerasModel(await readNamedFile(tuned, 'a model file'), tuned);
    expect(file.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dense']);
    // Trained: every kernel moved from where the file had it.
    expect(file.weights.filter((w) => w.name.endsWith('kernel')).every((w, i) => w.values.some((v, j) => v !== mlp.weights[2 * i][j]))).toBe(true);
  });

  test('refusals: one line on stderr, exit code 1, before any work', async () => {
    const lstm = join(dir, 'lstm.keras');
    const members = unzipSync(new Uint8Array(await readNamedFile(fixture('keras3.11-functional.keras'), 'x')));
    const config = JSON.parse(strFromU8(members['config.json']));
    config.config.layers[4].class_name = 'LSTM';
    await writeFile(lstm, zipSync({ ...members, 'config.json': strToU8(JSON.stringify(config)) }, { level: 0 }));
    const runs = await Promise.all([
      cli('evaluate', ['--load', lstm]),
      cli('evaluate', ['--load', fixture('hostile-config-shape.h5')]),
      cli('evaluate', ['--load', mlp.path, '--save', join(dir, 'out.h5')]),
      cli('evaluate', ['--load', mlp.path, '--pixels', 'bytes']),
      cli('train', ['--from', mlp.path, '--model', 'mlp']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([1, 1, 1, 1, 1]);
    expect(runs.map((r) => r.stderr)).toEqual([
      `error: ${lstm}: config.json: layer 'flatten' (LSTM) is not supported: no layer kind here reads Keras' LSTM (these do: AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D)\n`,
      `error: ${fixture('hostile-config-shape.h5')}: holds 8296 bytes, fewer than the 1256000000000 that the parameters of its model config take\n`,
      `error: ${join(dir, 'out.h5')}: Keras' legacy .h5 format is read, not written; save as .keras (Keras 3) or .safetensors\n`,
      "error: --pixels must be unit or raw, got 'bytes'\n",
      'error: --model and --from both give the model: use one\n',
    ]);
    for (const r of runs) expect(r.stdout).not.toContain('WebGPU adapter');
  });
});

test('loadModel tells the formats apart by content, not by name', { timeout: 120_000 }, async () => {
  const renamed = join(dir, 'keras-named.safetensors');
  await copyFile(mlp.path, renamed);
  const ours = join(dir, 'ours-named.keras');
  const keras = await readKerasModel(await readNamedFile(mlp.path, 'x'), mlp.path);
  await writeFile(ours, encodeModelFile(keras, keras.weights));
  for (const path of [renamed, ours]) {
    const model = await loadModel(path);
    expect(model.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dense']);
    expect((await model.getWeights()).map((w) => bits(w.values))).toEqual(mlp.weights.map(bits));
    model.destroy();
  }
});

test('hostile files are refused within 5 s and 400 MB (peak memory of a process that only refuses them)', { timeout: 120_000 }, async () => {
  const script = join(dir, 'refuse.mts');
  await writeFile(
    script,
    `import { readFileSync } from 'node:fs';
import { readKerasModel } from ${JSON.stringify(join(repo, 'src/engine/keras/index.ts'))};
import { deflatedZeros, zipOf } from ${JSON.stringify(join(repo, 'tests/zipBomb.ts'))};
const config = new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'dense', units: 10, batch_input_shape: [null, 4] } }] } }));
const files = {
  // 1 GiB of zeros declared as 64 KiB; 1 GiB declared by a stored member.
  'bomb.keras': zipOf([{ name: 'config.json', data: config, size: config.length, method: 0 }, { name: 'model.weights.h5', data: deflatedZeros(2 ** 30), size: 2 ** 16, method: 8 }]),
  'claims.keras': zipOf([{ name: 'config.json', data: config, size: config.length, method: 0 }, { name: 'model.weights.h5', data: new Uint8Array(2 ** 20), size: 2 ** 30, method: 0 }]),
  'hostile-dataset-shape.h5': readFileSync(${JSON.stringify(fixture('hostile-dataset-shape.h5'))}),
  'hostile-config-shape.h5': readFileSync(${JSON.stringify(fixture('hostile-config-shape.h5'))}),
};
const results = [];
for (const [name, bytes] of Object.entries(files)) {
  const started = performance.now();
  const message = await readKerasModel(new Uint8Array(bytes), name).then(() => 'loaded', (e) => e.message);
  results.push({ name, message, ms: Math.round(performance.now() - started) });
}
console.log(JSON.stringify({ results, peakMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
`,
  );
  const child = await run(process.execPath, [...(await scriptArgs('evaluate')).slice(0, -1), script]);
  expect(child.stderr).toBe('');
  const { results, peakMb } = JSON.parse(child.stdout) as { results: { name: string; message: string; ms: number }[]; peakMb: number };
  console.info(`peak RSS ${peakMb} MB; ${results.map((r) => `${r.name} ${r.ms} ms`).join(', ')}`);
  expect(results.map((r) => r.message)).toEqual([
    'bomb.keras: model.weights.h5: inflates past the 65536 bytes it declares',
    'claims.keras: model.weights.h5: declares 1073741824 bytes, more than the 16778816 it may hold',
    "hostile-dataset-shape.h5: model_weights/dense/kernel has shape [784, 400000000] but layer 'dense' (Dense) takes a [784, 2] kernel",
    'hostile-config-shape.h5: holds 8296 bytes, fewer than the 1256000000000 that the parameters of its model config take',
  ]);
  for (const r of results) expect(r.ms, r.name).toBeLessThan(5000);
  expect(peakMb).toBeLessThan(400);
});

/** A Python that imports h5py: $PYTHON, else Debian's (the first python3 on PATH may be another, without it). */
async function findPython(): Promise<string> {
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const python of candidates) {
    if ((await run(python, ['-c', 'import h5py'])).code === 0) return python;
  }
  throw new Error(`no Python that imports h5py among ${candidates.join(', ')}: npm run setup installs python3-h5py, or set PYTHON`);
}

test('h5py reads the .keras file we write: its groups, float32 datasets and values', { timeout: 120_000 }, async () => {
  const python = await findPython();
  const script = `
import io, json, sys, zipfile, h5py
z = zipfile.ZipFile(sys.argv[1])
config = json.loads(z.read('config.json'))
f = h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
items = []
f.visititems(lambda name, o: items.append(name + (' %s %s' % (o.dtype, list(o.shape)) if isinstance(o, h5py.Dataset) else '/')))
print(json.dumps({'classes': [l['class_name'] for l in config['config']['layers']], 'items': items,
                  'kernel': f['layers/dense/vars/0'][0, :4].tolist(), 'members': z.namelist(), 'stored': [i.compress_type for i in z.infolist()]}))
`;
  const result = await run(python, ['-c', script, mlp.path]);
  expect(result.stderr).toBe('');
  const read = JSON.parse(result.stdout);
  expect(read.members).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
  expect(read.stored).toEqual([0, 0, 0]);
  expect(read.classes).toEqual(['InputLayer', 'Flatten', 'Dense', 'Dense']);
  expect(read.items).toEqual([
    'layers/', 'layers/dense/', 'layers/dense/vars/', 'layers/dense/vars/0 float32 [784, 16]', 'layers/dense/vars/1 float32 [16]',
    'layers/dense_1/', 'layers/dense_1/vars/', 'layers/dense_1/vars/0 float32 [16, 10]', 'layers/dense_1/vars/1 float32 [10]',
    'layers/flatten/', 'layers/flatten/vars/', 'vars/',
  ]);
  // Row 0 of the first kernel: [784, 16] row-major, as ours.
  expect(read.kernel).toEqual(Array.from(mlp.weights[0].subarray(0, 4)));
});
