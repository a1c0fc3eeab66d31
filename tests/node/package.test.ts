// The package as a user gets it: `npm pack` (which builds dist/lib), the tarball
// installed into a project made as the README makes one, the README's example
// run there, and plain Node scripts there that import
// `webgpu-train/node` to train a small model, `webgpu-train` to show that the
// browser entry loads without Node's built-ins, and `webgpu-train/workbench` to
// check a kernel against the float64 reference.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repo, sh } from './child';
import { workbenchKernels } from '../../src/workbench';

// Packing builds the library (vite and tsc) and installing copies Dawn's binaries.
const timeout = 300_000;

// Trains on labels that a fixed linear rule gives to seeded random inputs, so
// the model can learn them; exits itself, as a live Dawn device keeps Node running.
const trainScript = `
import { sequential, dense, flatten, optimizerConfig, seededRandom } from 'webgpu-train/node';

const random = seededRandom(1);
const count = 128;
const x = new Float32Array(count * 16).map(() => random() * 2 - 1);
const rule = Array.from({ length: 3 * 16 }, () => random() * 2 - 1);
const y = Array.from({ length: count }, (_, i) => {
  const scores = [0, 1, 2].map((c) => rule.slice(c * 16, c * 16 + 16).reduce((s, w, j) => s + w * x[i * 16 + j], 0));
  return scores.indexOf(Math.max(...scores));
});

const model = sequential([
  flatten({ inputShape: [4, 4] }),
  dense({ units: 8, activation: 'relu' }),
  dense({ units: 3, activation: 'softmax' }),
]);
model.compile({ optimizer: optimizerConfig('adam', { learningRate: 0.01 }), metrics: ['accuracy'], seed: 7 });
const { history } = await model.fit(x, y, { epochs: 10, batchSize: 16, verbose: 0 });
console.log(JSON.stringify({ losses: history.loss, accuracies: history.accuracy }));
process.exit(0);
`;

// The workbench's table, and softmax's forward checked on Dawn as built and with
// its output halved (which must fail the check), at a small shape.
const workbenchScript = `
import { createGpu } from 'webgpu-train/node';
import { builtInSource, checkKernel, workbenchKernels } from 'webgpu-train/workbench';

const kernel = 'softmax:forward';
const source = builtInSource(kernel);
const normalize = 'y[k] = y[k] / sum;';
if (!source.includes(normalize)) throw new Error(\`\${kernel} has no '\${normalize}' to halve\`);
const gpu = await createGpu();
const shape = { rows: 3, C: 5 };
const builtIn = await checkKernel(gpu, kernel, { source }, { shape });
const halved = await checkKernel(gpu, kernel, { source: source.replace(normalize, 'y[k] = 0.5 * y[k] / sum;') }, { shape });
console.log(JSON.stringify({ kernels: workbenchKernels().map((k) => k.shortName), builtIn: builtIn.status, halved: halved.status, mismatches: halved.edited?.count }));
process.exit(0);
`;

// Each entry's exported names; the browser one is run with --import ./forbid-node.mjs,
// under which any import of a Node built-in or of Dawn fails.
const namesScript = (entry: string) => `
import * as api from '${entry}';
console.log(JSON.stringify(Object.keys(api)));
process.exit(0);
`;
const forbidNode = `
import { register } from 'node:module';
register('./forbid-node-hooks.mjs', import.meta.url);
`;
const forbidNodeHooks = `
import { isBuiltin } from 'node:module';
export async function resolve(specifier, context, next) {
  if (isBuiltin(specifier) || specifier === 'webgpu') throw new Error(\`\${context.parentURL} imports \${specifier}\`);
  return next(specifier, context);
}
`;

// A Keras file (bytes given as base64: no Node built-in to read it with) read
// through the browser entry: h5wasm and fflate, dependencies, load on first use.
const kerasScript = (base64: string) => `
import { readKerasModel } from 'webgpu-train';
const bytes = Uint8Array.from(atob('${base64}'), (c) => c.charCodeAt(0));
const file = await readKerasModel(bytes, 'model.h5');
console.log(JSON.stringify({ format: file.format, kerasVersion: file.kerasVersion, layers: file.layers.map((l) => l.type) }));
process.exit(0);
`;

// Type-checked under both resolutions a consumer may use; the expected error
// fails the check if the declarations were lost and everything became \`any\`.
const typedScript = `
import { sequential, dense, flatten, loadMnist, type Model } from 'webgpu-train/node';
import { createGpu, type Gpu } from 'webgpu-train';
import { checkKernel, type CheckResult } from 'webgpu-train/workbench';

const model: Model = sequential([flatten({ inputShape: [4, 4] }), dense({ units: 3, activation: 'softmax' })]);
const params: number = model.paramCount;
// @ts-expect-error paramCount is a number
const wrong: string = model.paramCount;
const device = (gpu: Gpu): GPUDevice => gpu.device;
const check = (gpu: Gpu): Promise<CheckResult> => checkKernel(gpu, 'softmax:forward', { source: '' });
export { params, wrong, device, check, createGpu, loadMnist };
`;
const tsconfig = (moduleResolution: 'nodenext' | 'bundler') => ({
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: 'es2022',
    module: moduleResolution === 'nodenext' ? 'nodenext' : 'esnext',
    moduleResolution,
    types: [],
  },
  files: ['typed.ts'],
});

/** Bare specifiers that a built module and the package files it imports (relative ones) import. */
async function importsOf(file: string, seen = new Set<string>()): Promise<Set<string>> {
  const found = new Set<string>();
  if (seen.has(file)) return found;
  seen.add(file);
  const text = await readFile(file, 'utf8');
  for (const [, specifier] of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']/g)) {
    if (specifier.startsWith('.')) for (const inner of await importsOf(resolve(dirname(file), specifier), seen)) found.add(inner);
    else found.add(specifier);
  }
  return found;
}

/** The README's example of the package in Node: its js block that imports webgpu-train/node and loads MNIST. */
function readmeExample(markdown: string): string {
  const block = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((code) => code.includes("from 'webgpu-train/node'") && code.includes('loadMnist('));
  if (!block) throw new Error("README.md has no js block importing 'webgpu-train/node' and calling loadMnist()");
  return block;
}

let root: string;
let app: string;
let tarball: string;
let packSeconds: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'webgpu-train-package-'));
  app = join(root, 'app');
  await mkdir(join(root, 'pack'));
  await mkdir(app);
  const started = performance.now();
  await sh('npm', ['pack', '--pack-destination', join(root, 'pack')], repo);
  packSeconds = (performance.now() - started) / 1000;
  const packed = (await readdir(join(root, 'pack'))).filter((name) => name.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  tarball = join(root, 'pack', packed[0]);
  // As the README makes one: npm init makes a CommonJS project, where the README's imports would fail.
  await sh('npm', ['init', '-y'], app);
  await sh('npm', ['pkg', 'set', 'type=module'], app);
  await sh('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], app);
  const files = {
    'readme.js': readmeExample(await readFile(join(repo, 'README.md'), 'utf8')).replaceAll('/path/to/webgpu-train', repo),
    'train.mjs': trainScript,
    'workbench.mjs': workbenchScript,
    'workbench-names.mjs': namesScript('webgpu-train/workbench'),
    'browser-names.mjs': namesScript('webgpu-train'),
    'node-names.mjs': namesScript('webgpu-train/node'),
    'keras.mjs': kerasScript((await readFile(join(repo, 'tests/fixtures/keras/keras2.1-sequential.h5'))).toString('base64')),
    'forbid-node.mjs': forbidNode,
    'forbid-node-hooks.mjs': forbidNodeHooks,
    'typed.ts': typedScript,
    'tsconfig.nodenext.json': JSON.stringify(tsconfig('nodenext')),
    'tsconfig.bundler.json': JSON.stringify(tsconfig('bundler')),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(app, name), text);
}, timeout);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('the tarball holds the built library and its types, not the sources', async () => {
  const { stdout } = await sh('tar', ['-tzf', tarball], root);
  const files = stdout.trim().split('\n');
  expect(files).toContain('package/dist/lib/index.js');
  expect(files).toContain('package/dist/lib/node.js');
  expect(files).toContain('package/dist/lib/index.d.ts');
  expect(files).toContain('package/dist/lib/node.d.ts');
  expect(files).toContain('package/dist/lib/workbench.js');
  expect(files).toContain('package/dist/lib/workbench.d.ts');
  expect(files.filter((file) => file.startsWith('package/src/') || file.startsWith('package/tests/'))).toEqual([]);
  expect(files).toContain('package/LICENSE');
  const installed = JSON.parse(await readFile(join(app, 'node_modules/webgpu-train/package.json'), 'utf8'));
  expect(installed.license).toBe('MIT');
  expect(await readFile(join(app, 'node_modules/webgpu-train/LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  console.log(`npm pack (with the library build) took ${packSeconds.toFixed(1)} s`);
});

test("the browser entry's and the workbench's built files import neither Node's built-ins nor Dawn, and carry the WGSL inline", async () => {
  const dist = join(app, 'node_modules/webgpu-train/dist/lib');
  for (const entry of ['index.js', 'workbench.js']) {
    const browser = [...(await importsOf(join(dist, entry)))];
    expect(browser.filter((specifier) => isBuiltin(specifier) || specifier === 'webgpu')).toEqual([]);
    expect(browser).toContain('wgsl_reflect/wgsl_reflect.module.js');
  }
  const node = [...(await importsOf(join(dist, 'node.js')))];
  expect(node).toContain('webgpu');
  const chunks = await readdir(join(dist, 'chunks'));
  const code = (await Promise.all(chunks.filter((name) => name.endsWith('.js')).map((name) => readFile(join(dist, 'chunks', name), 'utf8')))).join('');
  expect(code).toContain('@compute');
  expect(code).not.toContain('.wgsl?raw');
});

test("the README's example runs as written in the project the README makes, offline, with the checkout's MNIST", async () => {
  expect(JSON.parse(await readFile(join(app, 'package.json'), 'utf8')).type).toBe('module');
  const { stdout } = await sh(process.execPath, ['readme.js'], app);
  const [, accuracy, images] = /test accuracy (\d\.\d{4}) on (\d+) images/.exec(stdout) ?? [];
  console.log(`the README's example: ${stdout.trim().split('\n').at(-1)}`);
  expect(Number(images)).toBe(10_000);
  // The tutorial's dense network after 5 epochs: about 0.97.
  expect(Number(accuracy)).toBeGreaterThan(0.95);
}, timeout);

test('plain Node trains a model through webgpu-train/node, and the loss falls', async () => {
  const { stdout } = await sh(process.execPath, ['train.mjs'], app);
  const { losses, accuracies } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { losses: number[]; accuracies: number[] };
  console.log(`losses ${losses.map((l) => l.toFixed(3)).join(' ')}; accuracy ${accuracies[0].toFixed(2)} -> ${accuracies.at(-1)!.toFixed(2)}`);
  expect(losses).toHaveLength(10);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses.at(-1)!).toBeLessThan(0.8 * losses[0]);
  expect(accuracies.at(-1)!).toBeGreaterThan(accuracies[0]);
});

test('webgpu-train loads in Node with no built-ins and exports the Node entry\'s API less its Node extras', async () => {
  const browser = JSON.parse((await sh(process.execPath, ['--import', './forbid-node.mjs', 'browser-names.mjs'], app)).stdout) as string[];
  const node = JSON.parse((await sh(process.execPath, ['node-names.mjs'], app)).stdout) as string[];
  expect(browser).toEqual(expect.arrayContaining(['sequential', 'dense', 'flatten', 'conv2d', 'maxPooling2d', 'Model', 'createGpu']));
  expect(node).toEqual(expect.arrayContaining(browser));
  expect(node.filter((name) => !browser.includes(name)).sort()).toEqual(
    ['cacheHome', 'csvLogger', 'defaultCacheDir', 'exportTorch', 'fileTuningStore', 'importTorch', 'loadMnist', 'loadModel', 'mnistPaths', 'savedFormat', 'saveModel', 'stdoutProgress', 'writeFileAtomically'].sort(),
  );
});

test('webgpu-train/workbench loads with no built-ins, shares no name with webgpu-train/node, and checks a kernel on Dawn', async () => {
  const names = JSON.parse((await sh(process.execPath, ['--import', './forbid-node.mjs', 'workbench-names.mjs'], app)).stdout) as string[];
  expect(names).toEqual(expect.arrayContaining(['workbenchKernels', 'builtInSource', 'checkKernel', 'timeKernel', 'convolveDigit', 'gpuCapabilities']));
  const node = JSON.parse((await sh(process.execPath, ['node-names.mjs'], app)).stdout) as string[];
  expect(names.filter((name) => node.includes(name))).toEqual([]);
  const { stdout } = await sh(process.execPath, ['workbench.mjs'], app);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { kernels: string[]; builtIn: string; halved: string; mismatches: number };
  // The package carries every kernel the checkout's workbench has.
  expect(result.kernels).toEqual(workbenchKernels().map((k) => k.shortName));
  expect(result.kernels).toContain('softmax:forward');
  expect(result.builtIn).toBe('match');
  expect(result.halved).toBe('mismatch');
  // Every value of a row is halved: 3 rows of 5.
  expect(result.mismatches).toBe(15);
});

test('the browser entry reads a Keras file, with no Node built-in, loading h5wasm on first use', async () => {
  const { stdout } = await sh(process.execPath, ['--import', './forbid-node.mjs', 'keras.mjs'], app);
  expect(JSON.parse(stdout)).toEqual({ format: 'h5', kerasVersion: '2.1.6', layers: ['conv2d', 'batchNormalization', 'maxPooling2d', 'flatten', 'dropout', 'dense'] });
});

test('the declarations type-check a consumer under nodenext and bundler resolution', async () => {
  const tsc = join(repo, 'node_modules/typescript/bin/tsc');
  for (const resolution of ['nodenext', 'bundler']) await sh(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], app);
});
