// The workbench's time limit (withinTimeLimit), on fake timers: each stage of a
// run gets the whole limit, and a run past it is given up on, naming its stage.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { DidNotFinish, withinTimeLimit } from '../src/workbench';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

test('stages of 0.9 s each pass a limit of 1 s; a stage of 1.1 s does not, and what it comes to after is dropped', async () => {
  const passes = withinTimeLimit(1, async (stage) => {
    for (const name of ['compiling', 'built-in', 'edited']) {
      stage(name);
      await sleep(900);
    }
    return 'done';
  });
  await vi.advanceTimersByTimeAsync(2700);
  await expect(passes).resolves.toBe('done');

  let late = false;
  const stops = withinTimeLimit(1, async (stage) => {
    stage('the built-in kernel');
    await sleep(500);
    stage('the edited kernel (endless.wgsl)');
    await sleep(1100);
    late = true;
    throw new Error('a late error, dropped');
  });
  const caught = stops.catch((error: unknown) => error);
  await vi.advanceTimersByTimeAsync(1500);
  const error = await caught;
  expect(error).toBeInstanceOf(DidNotFinish);
  expect((error as Error).message).toBe('the edited kernel (endless.wgsl) did not finish in 1 s');
  await vi.advanceTimersByTimeAsync(1000);
  expect(late).toBe(true);
  expect(vi.getTimerCount()).toBe(0);
});

test('a limit a timer cannot count is refused', () => {
  expect(() => withinTimeLimit(0, async () => 1)).toThrow('a time limit must be a number of seconds above 0 and at most 2147483, got 0');
  expect(() => withinTimeLimit(Infinity, async () => 1)).toThrow(/got Infinity/);
});
