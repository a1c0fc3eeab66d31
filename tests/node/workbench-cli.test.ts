// `npm run workbench` as a user runs it, in child processes: --print, and the
// three exit codes (matches, does not match, does not compile or fit) on small shapes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { childEnv, repo, scriptArgs } from './child';

const SMALL_CONV = 'N=2,H=9,W=11,C_in=3,C_out=5,S=2,same=1';
const STORE = 'y[m * params.C_out + first + j] = activate(cells[r][j / 4u][j % 4u], ACTIVATION);';

async function workbench(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const node = await scriptArgs('workbench');
  return new Promise((done) => {
    execFile(process.execPath, [...node, ...args], { cwd: repo, env: childEnv, timeout }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let conv2d: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workbench-cli-'));
  conv2d = await readFile(join(repo, 'src/shaders/conv2d.wgsl'), 'utf8');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** conv2d.wgsl with one piece replaced, written to a file; fails if the piece is not there. */
async function edited(name: string, from: string, to: string): Promise<string> {
  expect(conv2d).toContain(from);
  const path = join(dir, name);
  await writeFile(path, conv2d.replace(from, to));
  return path;
}

test('--print writes the built-in source', async () => {
  const run = await workbench(['--kernel', 'conv2d:forward', '--print']);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(conv2d);
  // The benchmark's spelling of the name too.
  expect((await workbench(['--kernel', 'matmul.wgsl:backward_input', '--print'])).stdout).toBe(await readFile(join(repo, 'src/shaders/matmul.wgsl'), 'utf8'));
});

test('exit 0: the built-in source, with another workgroup size, matches and is timed; --json has the figures', async () => {
  const source = await edited('same.wgsl', STORE, STORE);
  const json = join(dir, 'result.json');
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV, '--constants', 'WORKGROUP_SIZE=4', '--time', '--trials', '3', '--json', json]);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/edited: max abs error \S+, max rel error \S+, 0 of 300 values outside the tolerance/);
  expect(run.stdout).toMatch(/edited {2}: median [\d.]+ ms \(min [\d.]+, max [\d.]+, 3 trials\), [\d.]+ GFLOP\/s, [\d.]+ GB\/s/);
  const result = JSON.parse(await readFile(json, 'utf8'));
  expect(result.check.status).toBe('match');
  expect(result.check.constants.edited.WORKGROUP_SIZE).toBe(4);
  // 2 x 5 x 6 = 60 output pixels, 4 an invocation (conv2d.wgsl's ROWS): one workgroup of 64, four of 4.
  expect(result.check.workgroups).toEqual({ builtIn: [1, 1, 1], edited: [4, 1, 1] });
  expect(result.timing.edited.ms.samples).toHaveLength(3);
  // 2 FLOPs per multiply-add: 60 pixels x 9 taps x 3 channels x 5 filters.
  expect(result.timing.builtIn.work.flops).toBe(2 * 60 * 9 * 3 * 5);
});

test('exit 1: a kernel that compiles but is wrong prints the first mismatches', async () => {
  const source = await edited('half.wgsl', STORE, STORE.replace('activate(cells', 'activate(0.5 * cells'));
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV]);
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toMatch(/built-in: .* 0 of 300 values outside/);
  expect(run.stderr).toMatch(/edited: max abs error \S+, max rel error 5\.00e-1, 300 of 300 values outside the tolerance/);
  expect(run.stderr).toMatch(/\[0, 0, 0, 0\] \(index 0\) got \S+, expected \S+/);
});

test('exit 2: a syntax error is printed at its file, line and column', async () => {
  const source = await edited('syntax.wgsl', 'fn forward(', 'fn forward((');
  const line = conv2d.split('\n').findIndex((l) => l.startsWith('fn forward(')) + 1;
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${source}:${line}:12: error: expected ')'`);
});

test('exit 2: a renamed binding is named', async () => {
  // Every store to y renamed (forward's, and its quads variant's), so that the source compiles.
  const renamed = conv2d.replace('var<storage, read_write> y: array<f32>;', 'var<storage, read_write> out: array<f32>;').replace(/\by\[/g, 'out[');
  expect(renamed).not.toBe(conv2d);
  const source = join(dir, 'renamed.wgsl');
  await writeFile(source, renamed);
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${source}:forward: binding 'out' is not one of conv2d.wgsl:forward's`);
});

test('exit 2: options read strictly, names quoted printable, before the GPU starts', async () => {
  const source = await edited('strict.wgsl', STORE, STORE);
  const check = (...args: string[]) => workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV, ...args]);
  const runs = await Promise.all([
    check('--seed', 'abc'),
    // 2^32 would wrap to 0 in the u32 generator.
    check('--seed', '4294967296'),
    check('--shape', 'N=1e1'),
    check('--shape', 'N=2,N=3'),
    // Set on a plain object, it would change the object's prototype and be dropped without a word.
    check('--constants', '__proto__=1'),
    check('--shape', 'toString=1'),
    workbench(['--kernel', 'conv2d:\x1b[31mforward', '--print']),
    workbench(['--kernel', `conv2d:${'x'.repeat(100_000)}`, '--print']),
    workbench(['--\x1b[31mkernel', 'conv2d:forward']),
    workbench(['--list', '\x1b]0;title\x07']),
  ]);
  expect(runs.map((r) => [r.code, r.stderr.split('\n')[0]])).toEqual([
    [2, "error: --seed must be an integer >= 0, got 'abc'"],
    [2, "error: --seed must be at most 4294967295, got '4294967296'"],
    [2, "error: --shape N must be an integer >= 0, got '1e1'"],
    [2, 'error: --shape: N is given twice'],
    [2, "error: --constants: '__proto__=1' is not NAME=VALUE with NAME an identifier"],
    [2, "error: conv2d.wgsl:forward: the shape has no letter 'toString' (it has: N, H, W, C_in, KH, KW, C_out, S, same)"],
    [2, "error: kernel name 'conv2d:\\x1b[31mforward' is not <op>:<entry point> (e.g. conv2d:forward)"],
    [2, `error: workbench: no kernel 'conv2d:${'x'.repeat(70)}... (100,007 characters)' (it has: ${runs[7].stderr.split('(it has: ')[1]?.split('\n')[0]}`],
    [2, "error: unknown option '--\\x1b[31mkernel'"],
    [2, "error: Unexpected argument '\\x1b]0;title\\x07'. This command does not take positional arguments"],
  ]);
  expect(runs[7].stderr.length).toBeLessThan(2000);
});

test('exit 2: a fractional value for an integer override is refused, naming it', async () => {
  const source = await edited('fraction.wgsl', STORE, STORE);
  // WebGPU would truncate it to 3 and run.
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV, '--constants', 'WORKGROUP_SIZE=3.5']);
  expect(run.code, run.stdout).toBe(2);
  expect(run.stderr).toContain(`${source}: constants.WORKGROUP_SIZE is 3.5, but it is a u32 override: an integer from 0 to 4294967295`);
});

test('exit 2: a shape too large is refused at once, with what it would take', async () => {
  const started = Date.now();
  const run = await workbench(['--kernel', 'activation:relu_backward', '--source', join(repo, 'src/shaders/activation.wgsl'), '--shape', 'size=1000000000']);
  expect(run.code).toBe(2);
  // y, dOut and dInput: 8 bytes an element each, and 32 more for the checked dInput.
  expect(run.stderr).toBe(
    'error: activation.wgsl:relu_backward at size=1000000000: its float64 inputs and reference would take 56,000,000,000 bytes (53405.8 MiB) of memory, ' +
      "more than the workbench's 1,073,741,824 bytes (1024.0 MiB)\n",
  );
  // Before, it drew 8 GB of inputs for minutes.
  expect(Date.now() - started).toBeLessThan(20_000);
});

test('exit 3: a kernel whose loop never ends is given up on after --time-limit, naming it and the edit', async () => {
  // The loop's only way out is a break it never reaches (params.N is 2).
  const entry = 'fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) group: vec3u) {\n';
  const source = await edited('endless.wgsl', entry, `${entry}  loop {\n    if (params.N == 12345u) { break; }\n    y[0] = y[0] + 1.0;\n  }\n`);
  const json = join(dir, 'endless.json');
  const started = Date.now();
  // Before, it ran until killed: this child is killed after 60 s.
  const run = await workbench(['--kernel', 'conv2d:forward', '--source', source, '--shape', SMALL_CONV, '--time-limit', '2', '--json', json], 60_000);
  const seconds = (Date.now() - started) / 1000;
  expect(run.code, run.stderr).toBe(3);
  const stopped = `checking conv2d.wgsl:forward at ${SMALL_CONV.replace('C_in=3', 'C_in=3,KH=3,KW=3')}: the edited kernel (${source}) did not finish in 2 s`;
  expect(run.stderr).toContain(`error: ${stopped} (--time-limit sets the limit)`);
  expect(JSON.parse(await readFile(json, 'utf8')).didNotFinish).toBe(stopped);
  // Node's start, the GPU's, the built-in kernel's check and the 2 s.
  expect(seconds).toBeLessThan(30);
});
