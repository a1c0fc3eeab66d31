// Files read with errors that name them, written whole or not at all, and
// output paths checked before the work whose result they will hold.
//
// An input must be a regular file, bounded in size, and is refused at once
// otherwise (a FIFO would block, /dev/zero never end). An output that is not a
// regular file (a device, a FIFO, /dev/stdout on a pipe) is written directly:
// replacing it with a file would lose what it is. A symbolic link is followed,
// and the file it names replaced, so that the link stays.
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { access, lstat, mkdir, open, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { TuningStore } from '../engine/autotune';
import { MEMORY_CEILING } from '../engine/memoryBudget';
import { checkSafetensorsHead } from '../engine/safetensors';
import { kerasFormat } from '../engine/keras';

/** What a file that is not a regular one is, as errors say it: 'a FIFO', 'a character device'... */
function nonRegular(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** `error` as `path: <doing>: <message>`, so that an error of the system (ENOSPC, EACCES) names the file it is about. */
function named(path: string, doing: string, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(message.startsWith(`${path}: `) ? message : `${path}: ${doing}: ${message}`, { cause: error });
}

/** The most bytes readNamedFile reads unless told: 2 GiB. */
export const MAX_INPUT_BYTES = 2 ** 31;

/** The bytes a file opens with that `head` checks (its magic number, a header) before the rest is read. */
const HEAD_BYTES = 4096;

export interface ReadOptions {
  /** The largest file accepted, in bytes (MAX_INPUT_BYTES by default); a larger one is refused before it is read. */
  maxBytes?: number;
  /** Given the file's first bytes (up to 4 KiB) and its size before the rest is read: throws when they cannot be `kind`'s. */
  head?: (head: Uint8Array, size: number) => void;
}

/**
 * A file's bytes; an error names the path, and says so when it is not a
 * regular file (a directory, a FIFO, a device), not `kind` ('a model file').
 * The size is checked against `maxBytes` and the first bytes by `head` before
 * the rest is read, so an endless or huge file is refused without reading it.
 */
export async function readNamedFile(path: string, kind: string, options: ReadOptions = {}): Promise<Uint8Array> {
  const { maxBytes = MAX_INPUT_BYTES, head } = options;
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer. It changes nothing for a regular file.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EISDIR' ? new Error(`${path}: is a directory, not ${kind}`) : named(path, 'cannot be read', error);
  });
  try {
    const stats = await file.stat();
    if (!stats.isFile()) throw new Error(`${path}: is ${nonRegular(stats)}, not ${kind}`);
    if (stats.size > maxBytes) {
      throw new Error(`${path}: ${stats.size.toLocaleString('en-US')} bytes, more than the ${maxBytes.toLocaleString('en-US')} ${kind} may take here`);
    }
    const bytes = new Uint8Array(stats.size);
    const fill = async (from: number, to: number) => {
      let at = from;
      while (at < to) {
        const { bytesRead } = await file.read(bytes, at, to - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at;
    };
    const first = await fill(0, Math.min(HEAD_BYTES, stats.size)).catch((error) => {
      throw named(path, 'cannot be read', error);
    });
    head?.(bytes.subarray(0, first), stats.size);
    // A file that shrank while it was read comes back as long as what was read: the parsers say it is truncated.
    const end = first < Math.min(HEAD_BYTES, stats.size) ? first : await fill(first, stats.size).catch((error) => {
      throw named(path, 'cannot be read', error);
    });
    return end === stats.size ? bytes : bytes.subarray(0, end);
  } finally {
    await file.close().catch(() => undefined);
  }
}

/**
 * A safetensors file (a model file, a checkpoint, a PyTorch export): at most
 * MEMORY_CEILING bytes (a model that fits in it takes fewer), its header's
 * length checked before the rest is read. `kind` ('a checkpoint') names it in errors.
 */
export function readSafetensorsFile(path: string, kind: string): Promise<Uint8Array> {
  return readNamedFile(path, kind, { maxBytes: MEMORY_CEILING, head: (head, size) => checkSafetensorsHead(head, size, path, kind) });
}

/**
 * A model file of any format `loadModel` reads (ours, or a Keras .keras or .h5
 * file, told apart by their first bytes), bounded as readSafetensorsFile bounds ours.
 */
export function readModelFileBytes(path: string): Promise<Uint8Array> {
  return readNamedFile(path, 'a model file', {
    maxBytes: MEMORY_CEILING,
    head: (head, size) => kerasFormat(head) ?? checkSafetensorsHead(head, size, path, 'a model file'),
  });
}

/**
 * Where a write to `path` goes: `direct` for what is not a regular file (a
 * device, a FIFO, /dev/stdout on a pipe or a terminal), written as it is;
 * otherwise the file to replace, at the end of any symbolic links (made if absent).
 */
async function outputTarget(path: string): Promise<{ path: string; direct: boolean }> {
  const followed = await stat(path).catch(() => undefined);
  if (followed?.isDirectory() || /[\\/]$/.test(path)) throw new Error(`${path}: is a directory, not a file`);
  if (followed && !followed.isFile()) return { path, direct: true };
  let target = path;
  for (let links = 0; ; links++) {
    const own = await lstat(target).catch(() => undefined);
    if (!own?.isSymbolicLink()) return { path: target, direct: false };
    if (links === 40) throw new Error(`${path}: too many levels of symbolic links`);
    // Relative to the link's directory as it really is (`..` in a link means the real parent).
    const dir = await realpath(dirname(target)).catch(() => dirname(target));
    target = resolve(dir, await readlink(target));
  }
}

/** Makes directory `path` (and its parents); an error names it, with the reason (EACCES is not 'does not exist'). */
export async function makeDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true }).catch((error) => {
    throw named(path, 'cannot create the directory', error);
  });
}

/**
 * Checks that a file can be written at `path`: it is not a directory, and the
 * directory of the file it will replace exists and is writable (a device or a
 * FIFO is written directly, and passes). `what` (a flag, say) starts each error.
 */
export async function checkOutputPath(path: string, what: string): Promise<void> {
  if (path === '') throw new Error(`${what}: the path is empty`);
  const target = await outputTarget(path).catch((error: Error) => {
    throw new Error(`${what} ${error.message}`);
  });
  if (target.direct) return;
  const dir = dirname(resolve(target.path));
  const via = target.path === path ? '' : ` (the file its link names, ${target.path})`;
  const parent = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`${what} ${path}: the directory ${dir} does not exist${via}`);
    throw new Error(`${what} ${path}: the directory ${dir} cannot be read: ${error.message}`);
  });
  if (!parent.isDirectory()) throw new Error(`${what} ${path}: ${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new Error(`${what} ${path}: the directory ${dir} is not writable`);
  }
}

/**
 * Writes `data` to a temporary file beside `path`, then renames it over `path`
 * (over the file a symbolic link names, when `path` is one); what is not a
 * regular file (a device, a FIFO) is written directly. Whatever fails, the
 * temporary file is gone afterwards, and the error names the file.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const target = await outputTarget(path);
  if (target.direct) {
    await writeFile(path, data).catch((error) => {
      throw named(path, 'cannot be written', error);
    });
    return;
  }
  await makeDirectory(dirname(target.path));
  // A name of its own (two saves in one process must not share one), created
  // exclusively ('wx'), so that the cleanup below only ever removes our own file.
  const temporary = join(dirname(target.path), `${basename(target.path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  // A write that fails midway (a full disk) leaves a file of ours; 'wx' refusing a name that exists leaves none.
  let ours = true;
  try {
    await writeFile(temporary, data, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      ours = error.code !== 'EEXIST';
      throw named(target.path, `cannot be written (to ${temporary})`, error);
    });
    await rename(temporary, target.path).catch((error) => {
      throw named(target.path, `cannot be replaced by ${temporary}`, error);
    });
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
    read: async () => {
      // Not there yet: no choices. Anything else (a FIFO, a huge file) is refused by name.
      const bytes = await readNamedFile(path, 'a file of kernel choices', { maxBytes: 2 ** 24 }).catch((error: Error) => {
        if ((error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
        throw error;
      });
      return bytes && new TextDecoder().decode(bytes);
    },
    write: (text) => writeFileAtomically(path, text),
  };
}
