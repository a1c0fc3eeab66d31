// Files read with errors that name them, written whole or not at all, and
// output paths checked before the work whose result they will hold.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TuningStore } from '../engine/autotune';

const isDirectory = async (path: string) => (await stat(path).catch(() => undefined))?.isDirectory() ?? false;

/** A file's bytes; an error names the path, and says so when it is a directory, not `kind` ('a model file'). */
export async function readNamedFile(path: string, kind: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new Error(`${path}: ${code === 'EISDIR' ? `is a directory, not ${kind}` : `cannot be read: ${message}`}`);
  }
}

/**
 * Checks that a file can be written at `path`: it is not a directory, and its
 * directory exists and is writable. `what` (a flag, say) starts each error.
 */
export async function checkOutputPath(path: string, what: string): Promise<void> {
  if (/[\\/]$/.test(path) || (await isDirectory(path))) throw new Error(`${what} ${path}: is a directory, not a file`);
  const dir = dirname(resolve(path));
  const parent = await stat(dir).catch(() => undefined);
  if (!parent) throw new Error(`${what} ${path}: the directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw new Error(`${what} ${path}: ${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new Error(`${what} ${path}: the directory ${dir} is not writable`);
  }
}

/**
 * Writes `data` to a temporary file beside `path`, then renames it over `path`.
 * Whatever fails, the temporary file is gone afterwards and the error is the first one.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  if (/[\\/]$/.test(path) || (await isDirectory(path))) throw new Error(`${path}: is a directory, not a file`);
  await mkdir(dirname(path), { recursive: true });
  // A name of its own (two saves in one process must not share one), created
  // exclusively ('wx'), so that the cleanup below only ever removes our own file.
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  // A write that fails midway (a full disk) leaves a file of ours; 'wx' refusing a name that exists leaves none.
  let ours = true;
  try {
    await writeFile(temporary, data, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      ours = error.code !== 'EEXIST';
      throw error;
    });
    await rename(temporary, path);
  } catch (error) {
    if (ours) await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** `$XDG_CACHE_HOME/webgpu-train`, or `~/.cache/webgpu-train`: where downloads and the kernel choices are kept. */
export function cacheHome(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webgpu-train');
}

/** The autotuner's choices in a file (by default `autotune.json` in cacheHome()), written whole or not at all. */
export function fileTuningStore(path = join(cacheHome(), 'autotune.json')): TuningStore {
  return {
    name: path,
    read: () =>
      readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      }),
    write: (text) => writeFileAtomically(path, text),
  };
}
