// `npm run train -- --checkpoint DIR` killed with SIGKILL (mid-epoch, and inside
// a checkpoint's write) and continued with `--resume DIR` ends as a run never interrupted: same losses, same weight bytes.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
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
}

/**
 * `npm run train -- ...args` in a child process (the command package.json
 * gives, without npm's start-up).
 */
async function train(args: string[], { preload }: Options = {}): Promise<Run> {
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
  // No temporary file is left behind.
  expect((await readdir(checkpoints)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
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
    // Beside it, the temporary file the kill left, as long as the preload said.
    expect(temporary).toMatch(/^checkpoint\.safetensors\.\d+-[0-9a-f]+\.tmp$/);
    expect((await readdir(checkpoints)).sort()).toEqual(['checkpoint.safetensors', temporary]);
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
