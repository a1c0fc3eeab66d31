// Node only: how the engine waits for Dawn on a software adapter, and what Dawn prints at start.
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createTensor, readTensor } from '../../src/engine/buffers';
import { testGpu } from '../helpers';
import { childEnv, repo } from './child';

test("Dawn's promises settle while its busy polling is throttled, and other setImmediate callers keep theirs", async () => {
  const { device, adapter } = await testGpu();
  // Installed with a software adapter (as on CI) and only then.
  expect(Boolean((globalThis.setImmediate as { dawnThrottled?: boolean }).dawnThrottled)).toBe(adapter.isFallbackAdapter);

  const t = createTensor(device, [4], { data: [1, 2, 3, 4] });
  expect(Array.from(await readTensor(device, t))).toEqual([1, 2, 3, 4]);
  t.buffer.destroy();

  // A JavaScript callback is still an immediate; a native function (as Dawn's ticks are) goes on a timer.
  const js = setImmediate(() => {});
  const native = setImmediate(Math.random);
  expect(js.constructor.name).toBe('Immediate');
  expect(native.constructor.name).toBe(adapter.isFallbackAdapter ? 'Timeout' : 'Immediate');
  clearImmediate(js);
  clearTimeout(native as unknown as NodeJS.Timeout);
  clearImmediate(native);
});

// A child that prints around the call, on stdout and stderr, as a command does.
const DAWN_START = `
import { writeSync } from 'node:fs';
import { createGpu, withoutLimitWarnings } from './src/node/dawn.ts';
console.log('stdout before');
console.error('stderr before');
await createGpu({ adapterName: process.env.ADAPTER });
withoutLimitWarnings(() => writeSync(2, 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\nkept\\n'));
console.error('stderr after');
console.log('stdout after');
process.exit(0);
`;

const WARNING = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

test.each([
  { stderr: 'a pipe', filtered: true },
  { stderr: 'a file shared with stdout (2>&1)', filtered: true },
  { stderr: "a socket (Node's spawn makes one, and /proc cannot reopen it)", filtered: false },
])("Dawn's two warnings about limits, when stderr is $stderr: dropped: $filtered; the rest kept in order", async ({ stderr, filtered }) => {
  const dir = await mkdtemp(join(tmpdir(), 'dawn-stderr-'));
  const script = join(repo, `dawn-start-${process.pid}.mts`);
  await writeFile(script, DAWN_START);
  try {
    const node = [process.execPath, '--import', 'tsx', '--import', './scripts/raw-loader.mjs', script];
    const log = join(dir, 'log.txt');
    const file = stderr.startsWith('a file') ? await open(log, 'w') : undefined;
    // A pipe as a shell makes it: `command 2>&1 | cat`.
    const [command, ...args] = stderr === 'a pipe' ? ['sh', '-c', '"$0" "$@" 2>&1 | cat', ...node] : node;
    const child = spawn(command, args, { cwd: repo, env: childEnv, stdio: file ? ['ignore', file.fd, file.fd] : ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    child.stderr?.on('data', (chunk) => (out += chunk));
    expect(await new Promise((done) => child.on('close', done))).toBe(0);
    await file?.close();
    const output = file ? await readFile(log, 'utf8') : out;
    if (filtered) {
      expect(output).toBe('stdout before\nstderr before\nkept\nstderr after\nstdout after\n');
    } else {
      expect(output).toContain(`${WARNING}\nkept\n`);
      expect(output).toContain('stderr after\n');
    }
  } finally {
    await rm(script, { force: true });
    await rm(dir, { recursive: true, force: true });
  }
});
