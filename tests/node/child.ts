// What the tests that start processes share: the repository's root, the
// environment a child gets, a command run to its end, and the node arguments
// of an `npm run` script.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repo = fileURLToPath(new URL('../..', import.meta.url));

/** This process' environment without Vitest's variables, which would reach a child's builds and scripts. */
export const childEnv: Record<string, string | undefined> = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'NODE_ENV' && !name.startsWith('VITEST')),
);

/** Runs `command` in `cwd` to its end; a failure carries the command, the folder and everything it printed. */
export async function sh(command: string, args: string[], cwd: string, timeout = 300_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(command, args, { cwd, env: childEnv, maxBuffer: 64 << 20, timeout });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${(error as Error).message}\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/**
 * What `npm run <script>` gives node, without npm's start-up (its `--import`
 * flags and file): package.json's command for it, which must be `exec node ...`
 * (the shell npm starts becomes node, so that npm's signals reach it).
 */
export async function scriptArgs(script: string): Promise<string[]> {
  const scripts = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')).scripts as Record<string, string>;
  const [exec, command, ...args] = scripts[script].split(' ');
  if (exec !== 'exec' || command !== 'node') throw new Error(`npm run ${script} is '${scripts[script]}', not 'exec node ...'`);
  return args;
}
