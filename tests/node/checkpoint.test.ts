// `npm run train -- --checkpoint DIR` killed with SIGKILL (mid-epoch, and inside
// a checkpoint's write) and continued with `--resume DIR` ends as a run never interrupted: same losses, same weight bytes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readCheckpoint } from '../../src/engine/checkpoint';
import { childEnv, repo, scriptArgs } from './child';

// The dense model on 300 images in batches of 32: 10 steps an epoch, the last partial.
const TRAIN = ['--model', 'mlp', '--epochs', '3', '--limit', '300', '--batch-size', '32', '--seed', '5'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Options {
  /** A module for node to load first (`--import`), and variables for it. */
  preload?: { module: string; env: Record<string, string> };
  /** Told of the child once it is started, and of each piece of its stderr. */
  started?: (child: ChildProcess) => void;
}

/**
 * `npm run train -- ...args` in a child process (the command package.json
 * gives, without npm's start-up).
 */
async function train(args: string[], { preload, started }: Options = {}): Promise<Run> {
  const node = await scriptArgs('train');
  return new Promise((done) => {
    const flags = preload ? ['--import', preload.module] : [];
    const child = spawn(process.execPath, [...flags, ...node, ...args], { cwd: repo, env: { ...childEnv, ...preload?.env } });
    const kill = () => child.kill('SIGKILL');
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(kill, 120_000);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    started?.(child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** What must match: each epoch's figures (not its timing), the test figures and the prediction. */
async function outcome(report: string) {
  const { epochs, test, prediction } = JSON.parse(await readFile(report, 'utf8'));
  return { epochs: epochs.map(({ epoch, logs, printed, steps }: Record<string, unknown>) => ({ epoch, logs, printed, steps })), test, prediction };
}

let dir: string;
let reference: { outcome: Awaited<ReturnType<typeof outcome>>; weights: Buffer };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkpoint-test-'));
  // The run never interrupted, and never checkpointed.
  const run = await train([...TRAIN, '--report', join(dir, 'reference.json'), '--save', join(dir, 'reference.safetensors')]);
  expect(run.stderr).not.toContain('error');
  expect(run.code).toBe(0);
  reference = { outcome: await outcome(join(dir, 'reference.json')), weights: await readFile(join(dir, 'reference.safetensors')) };
  expect(reference.outcome.epochs).toHaveLength(3);
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resumes from `checkpoints` and expects the reference's figures and weight bytes; returns the resumed position. */
async function resumeAndCompare(checkpoints: string, name: string): Promise<string> {
  const report = join(dir, `${name}.json`);
  const model = join(dir, `${name}.safetensors`);
  const run = await train([...TRAIN, '--resume', checkpoints, '--report', report, '--save', model]);
  expect(run.stderr).not.toContain('error');
  expect(run.code).toBe(0);
  const resumed = /resuming from .*: (epoch \d, step \d+\/10)\n/.exec(run.stdout);
  expect(resumed).not.toBeNull();
  expect(await outcome(report)).toEqual(reference.outcome);
  expect((await readFile(model)).equals(reference.weights)).toBe(true);
  // No temporary file is left behind, and the killed run's lock was taken over, then released.
  expect(await readdir(checkpoints)).toEqual(['checkpoint.safetensors']);
  return resumed![1];
}

describe('npm run train --checkpoint, killed, then --resume', () => {
  test('killed with SIGKILL mid-epoch: the resumed run ends with the same losses and weight bytes', { timeout: 240_000 }, async () => {
    const checkpoints = join(dir, 'mid-epoch');
    // The child kills itself as soon as its 6th checkpoint (after steps 3, 6, 9, 10 (the epoch's end), 12 and 15:
    // step 5 of epoch 2) is in place, before step 6:
    // killing it from here when its output says so would land steps later, as fast as it trains.
    const killed = await train([...TRAIN, '--checkpoint', checkpoints, '--checkpoint-every', '3'], {
      preload: { module: './tests/fixtures/kill-mid-save.mjs', env: { KILL_MID_SAVE: 'after-rename', KILL_MID_SAVE_AT: '6' } },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/^kill-mid-save: SIGKILL with \d+ of \d+ bytes in checkpoint\.safetensors$/m);
    expect(killed.stdout).not.toContain('test loss');
    const position = await resumeAndCompare(checkpoints, 'mid-epoch');
    console.info(`killed mid-epoch, resumed from ${position}`);
    expect(position).toBe('epoch 2, step 5/10');
  });

  // The child kills itself inside writeFileAtomically's 4th checkpoint write (tests/fixtures/kill-mid-save.mjs wraps
  // fs/promises' writeFile and rename): half-way through the temporary file, or once it is whole but not yet renamed.
  test.each([
    { at: 'partial', whole: false },
    { at: 'before-rename', whole: true },
  ])('killed with SIGKILL inside a checkpoint write (at=$at): the one before it is whole, and the resumed run ends the same', { timeout: 240_000 }, async ({ at, whole }) => {
    const checkpoints = join(dir, `mid-save-${at}`);
    const killed = await train([...TRAIN, '--checkpoint', checkpoints, '--checkpoint-every', '3'], {
      preload: { module: './tests/fixtures/kill-mid-save.mjs', env: { KILL_MID_SAVE: at, KILL_MID_SAVE_AT: '4' } },
    });
    expect(killed.signal).toBe('SIGKILL');
    // The kill landed where it was meant to: the preload said what it left, and the file is that.
    const said = /^kill-mid-save: SIGKILL with (\d+) of (\d+) bytes in (\S+)$/m.exec(killed.stderr);
    expect(said, killed.stderr).not.toBeNull();
    const [written, total, temporary] = [Number(said![1]), Number(said![2]), said![3]];
    expect(written).toBe(whole ? total : total >> 1);
    // Three checkpoints were written whole; the last of them is the one in place, and it loads.
    const done = [...killed.stdout.matchAll(/^checkpoint: (epoch \d, step \d+\/10) written/gm)].map((m) => m[1]);
    expect(done).toHaveLength(3);
    const { run } = readCheckpoint(await readFile(join(checkpoints, 'checkpoint.safetensors')), 'checkpoint.safetensors');
    expect(`epoch ${run.epoch + 1}, step ${run.step}/${run.steps}`).toBe(done[2]);
    // Beside it, the temporary file the kill left, as long as the preload said, and the lock of the killed process.
    expect(temporary).toMatch(/^checkpoint\.safetensors\.\d+-[0-9a-f]+\.tmp$/);
    expect((await readdir(checkpoints)).sort()).toEqual(['checkpoint.lock', 'checkpoint.safetensors', temporary]);
    expect((await stat(join(checkpoints, temporary))).size).toBe(written);
    const position = await resumeAndCompare(checkpoints, `mid-save-${at}`);
    console.info(`killed inside the 4th checkpoint's write (${written} of ${total} bytes written), resumed from ${position}`);
    expect(position).toBe(done[2]);
  });

  test('--resume from a directory with no checkpoint, and --checkpoint-every alone, are refused', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const [none, alone] = await Promise.all([train([...TRAIN, '--resume', empty]), train([...TRAIN, '--checkpoint-every', '3'])]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(new RegExp(`^error: ${join(empty, 'checkpoint.safetensors')}: cannot be read: ENOENT`));
    expect(alone.code).toBe(1);
    expect(alone.stderr).toBe('error: --checkpoint-every needs --checkpoint DIR (or --resume DIR)\n');
  });
});

describe('one run at a time on a checkpoint directory', () => {
  test('a second --checkpoint run, and a --resume, beside a run in the middle of a write: refused naming its pid; it finishes unharmed', { timeout: 240_000 }, async () => {
    const checkpoints = join(dir, 'busy');
    const gate = join(dir, 'busy-gate');
    const report = join(dir, 'busy.json');
    const model = join(dir, 'busy.safetensors');
    let first!: ChildProcess;
    let paused!: () => void;
    const pausing = new Promise<void>((resolve) => (paused = resolve));
    const running = train([...TRAIN, '--checkpoint', checkpoints, '--checkpoint-every', '3', '--report', report, '--save', model], {
      preload: { module: './tests/fixtures/pause-mid-save.mjs', env: { PAUSE_MID_SAVE_UNTIL: gate } },
      started: (child) => {
        first = child;
        child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('pause-mid-save:') && paused());
      },
    });
    await pausing;
    // Its temporary file is on disk, whole, not yet renamed.
    const temporary = (await readdir(checkpoints)).filter((name) => name.endsWith('.tmp'));
    expect(temporary).toHaveLength(1);
    const lock = join(checkpoints, 'checkpoint.lock');
    expect(await readFile(lock, 'utf8')).toBe(`${first.pid}\n`);
    // A --resume whose --data does not exist: before, it removed the temporary file, then failed on the data.
    const [second, resumed] = await Promise.all([
      train([...TRAIN, '--checkpoint', checkpoints]),
      train([...TRAIN, '--resume', checkpoints, '--data', join(dir, 'no-such-data')]),
    ]);
    for (const [run, flag] of [[second, '--checkpoint'], [resumed, '--resume']] as const) {
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`error: ${flag} ${checkpoints}: process ${first.pid} is writing checkpoints there (its lock is ${lock}; if no such run is going on, remove it)\n`);
      expect(run.stdout).toBe('');
    }
    expect((await readdir(checkpoints)).filter((name) => name.endsWith('.tmp'))).toEqual(temporary);
    await writeFile(gate, '');
    const done = await running;
    expect(done.stderr.replace(/^pause-mid-save: .*\n/m, '')).not.toContain('error');
    expect(done.code).toBe(0);
    expect(await outcome(report)).toEqual(reference.outcome);
    expect((await readFile(model)).equals(reference.weights)).toBe(true);
    // Its lock is gone with it.
    expect((await readdir(checkpoints)).sort()).toEqual(['checkpoint.safetensors']);
  });

  test('a lock left by a process that is gone is taken over', { timeout: 240_000 }, async () => {
    const checkpoints = join(dir, 'stale');
    await mkdir(checkpoints);
    // The pid of a process that has exited.
    const gone = await new Promise<number>((done) => {
      const child = spawn(process.execPath, ['-e', '']);
      child.on('close', () => done(child.pid!));
    });
    await writeFile(join(checkpoints, 'checkpoint.lock'), `${gone}\n`);
    const run = await train([...TRAIN, '--epochs', '1', '--checkpoint', checkpoints]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect((await readdir(checkpoints)).sort()).toEqual(['checkpoint.safetensors']);
  });

  test('--resume is checked against --model, --batch-size and --limit before the data is read or the GPU started', { timeout: 240_000 }, async () => {
    const checkpoints = join(dir, 'compat');
    const written = await train([...TRAIN, '--epochs', '1', '--checkpoint', checkpoints]);
    expect(written.code).toBe(0);
    const source = join(checkpoints, 'checkpoint.safetensors');
    // The data directory does not exist: reading it would be the error.
    const absent = ['--data', join(dir, 'no-such-data')];
    // One after the other: each --resume takes the directory's lock while it checks.
    const runs = [];
    for (const extra of [['--batch-size', '64'], ['--model', 'cnn'], ['--limit', '200']]) runs.push(await train([...TRAIN, '--resume', checkpoints, ...extra, ...absent]));
    expect(runs.map((run) => run.stderr)).toEqual([
      `error: --resume: cannot resume from ${source}: it was written training on 300 samples in batches of 32, not 300 in batches of 64\n`,
      `error: --resume: cannot resume from ${source}: it was written for another model (its architecture differs from this one)\n`,
      `error: --resume: cannot resume from ${source}: it was written training on 300 samples, not --limit 200\n`,
    ]);
    for (const run of runs) {
      expect(run.code).toBe(1);
      expect(run.stdout).not.toContain('WebGPU adapter');
    }
  });

  test('--precision mixed: its checkpoint resumes with --precision mixed, and is refused without it', { timeout: 240_000 }, async () => {
    const checkpoints = join(dir, 'mixed');
    const mixed = ['--precision', 'mixed'];
    const written = await train([...TRAIN, ...mixed, '--epochs', '1', '--checkpoint', checkpoints]);
    expect(written.stderr).not.toContain('error');
    expect(written.code).toBe(0);
    const source = join(checkpoints, 'checkpoint.safetensors');
    const float32 = await train([...TRAIN, '--resume', checkpoints, '--data', join(dir, 'no-such-data')]);
    expect(float32.stderr).toBe(
      `error: --resume: cannot resume from ${source}: it was written in precision {"precision":"mixed","lossScale":{"initialScale":32768,"dynamicGrowthSteps":2000}}, ` +
        'this model is compiled with {"precision":"float32"}\n',
    );
    expect(float32.code).toBe(1);
    const resumed = await train([...TRAIN, ...mixed, '--epochs', '2', '--resume', checkpoints]);
    expect(resumed.stderr).not.toContain('error');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resuming from .*: epoch \d, step \d+\/10\n/);
    expect(resumed.stdout).toContain('loss scale: 32768\n');
  });
});
