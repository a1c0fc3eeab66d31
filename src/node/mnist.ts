// Loading MNIST in Node: from a directory holding the four files, from the
// copy this repository ships (public/mnist), or from a per-user cache that is
// filled from the public mirrors on first use.
import { createHash } from 'node:crypto';
import { access, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkIdxHead, isGzip, MAX_IDX_FILE_BYTES, MNIST_FILES, MNIST_GZ_SHA256, MNIST_PARTS, MNIST_SHA256, mnistFromFiles, type Mnist, type MnistPart } from '../engine/data';
import { cacheHome, readNamedFile, writeFileAtomically } from './files';

/** Public mirrors of the original `.gz` files, tried in order. */
export const MNIST_MIRRORS: readonly string[] = [
  'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'https://ossci-datasets.s3.amazonaws.com/mnist/',
];

// A mirror that sends nothing for this long is given up for the next one.
const IDLE_TIMEOUT_MS = 30_000;

interface Digests {
  gz: Readonly<Record<MnistPart, string>>;
  raw: Readonly<Record<MnistPart, string>>;
}

/** Where messages go: process.stderr, or anything with `write`. */
export interface LogStream {
  write(text: string): unknown;
  /** On a terminal the progress line is rewritten in place. */
  isTTY?: boolean;
}

export interface LoadMnistOptions {
  /**
   * A directory holding the four files, raw or `.gz`; defaults to $MNIST_DIR,
   * then to the repository's copy when it is whole. Nothing is downloaded then.
   */
  dir?: string;
  /** Where downloads are kept; defaults to `defaultCacheDir()`. Given, it is used even where the repository's copy is whole. */
  cacheDir?: string;
  log?: LogStream;
  /** Base URLs to download from, in order (tests point these at a local server). */
  mirrors?: readonly string[];
  /** Expected SHA-256 of each downloaded `.gz` (tests replace the official ones). */
  gzDigests?: Readonly<Record<MnistPart, string>>;
  /** Expected SHA-256 of each file decompressed, for a server that sends it with `Content-Encoding: gzip`. */
  rawDigests?: Readonly<Record<MnistPart, string>>;
}

/** The copy of MNIST in this repository, which the web page serves too (not in the npm package). */
export const BUILT_IN_MNIST_DIR = fileURLToPath(new URL('../../public/mnist', import.meta.url));

/** `$XDG_CACHE_HOME/webgpu-train/mnist`, or `~/.cache/webgpu-train/mnist`. */
export function defaultCacheDir(): string {
  return join(cacheHome(), 'mnist');
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The path of `part` in `dir`, raw or `.gz`, or undefined when neither is there. */
async function findFile(dir: string, part: MnistPart): Promise<string | undefined> {
  for (const name of [MNIST_FILES[part], `${MNIST_FILES[part]}.gz`]) {
    const path = join(dir, name);
    if (await exists(path)) return path;
  }
  return undefined;
}

/**
 * An IDX file, raw or .gz, bounded in size; its header (or gzip's magic
 * number) is checked before the rest is read, unless a digest is to check it
 * (a damaged file in the cache is downloaded again).
 */
const readPart = (path: string, digested = false) =>
  readNamedFile(path, 'an MNIST file', { maxBytes: MAX_IDX_FILE_BYTES, ...(!digested && { head: (head: Uint8Array, size: number) => checkIdxHead(head, size, path) }) });

/**
 * Why `bytes` are not what the digests expect for `part`, or undefined when
 * they are. A `.gz` is checked as it is, a raw file (a server that undid the
 * gzip with Content-Encoding) against the digest of the decompressed file.
 */
function digestMismatch(bytes: Uint8Array, part: MnistPart, expected: Digests): string | undefined {
  const compressed = isGzip(bytes);
  const want = compressed ? expected.gz[part] : expected.raw[part];
  const digest = createHash('sha256').update(bytes).digest('hex');
  return digest === want ? undefined : `wrong SHA-256${compressed ? '' : ' (of the decompressed file)'}: got ${digest}, expected ${want}`;
}

async function hasAllParts(dir: string): Promise<boolean> {
  for (const part of MNIST_PARTS) if (!(await findFile(dir, part))) return false;
  return true;
}

/** A progress line: rewritten in place on a terminal, one line per event elsewhere. */
function progressLine(log: LogStream) {
  let lastUpdate = 0;
  let open = false;
  return {
    start(text: string) {
      if (log.isTTY) {
        log.write(`\r\x1b[K${text}`);
        open = true;
      } else {
        log.write(`${text}\n`);
      }
    },
    update(text: string) {
      const now = Date.now();
      if (!log.isTTY || now - lastUpdate < 100) return;
      lastUpdate = now;
      log.write(`\r\x1b[K${text}`);
      open = true;
    },
    end(text: string) {
      log.write(log.isTTY && open ? `\r\x1b[K${text}\n` : `${text}\n`);
      open = false;
    },
  };
}

/** Fetches `url` into memory (the largest file is 10 MB) and returns its bytes. */
async function fetchBytes(url: string, onProgress: (received: number, total: number) => void): Promise<Uint8Array> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const resetTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)), IDLE_TIMEOUT_MS);
  };
  resetTimer();
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    const total = Number(response.headers.get('content-length')) || 0;
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      resetTimer();
      chunks.push(value);
      received += value.length;
      onProgress(received, total);
    }
    const bytes = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  } catch (e) {
    // undici hides the reason (refused, unknown host) in `cause`.
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    throw new Error(`${message(e)}${cause}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Downloads `part` into `cacheDir`, trying each mirror in turn. The bytes are
 * checked against the expected digest and written whole (writeFileAtomically),
 * so the cache never holds a partial or unverified file.
 */
async function download(part: MnistPart, cacheDir: string, mirrors: readonly string[], expected: Digests, log: LogStream): Promise<{ path: string; bytes: Uint8Array }> {
  const file = `${MNIST_FILES[part]}.gz`;
  const failures: string[] = [];
  const progress = progressLine(log);
  for (const mirror of mirrors) {
    const url = new URL(file, mirror.endsWith('/') ? mirror : `${mirror}/`).href;
    try {
      progress.start(`downloading ${url}`);
      const bytes = await fetchBytes(url, (received, total) =>
        // With Content-Encoding the length counts the encoded bytes: no percentage then.
        progress.update(`downloading ${url}: ${megabytes(received)}${total >= received ? ` of ${megabytes(total)} (${Math.floor((100 * received) / total)}%)` : ''}`),
      );
      // fetch undoes a `Content-Encoding: gzip` that a server may add to a .gz
      // file, leaving the raw file: that is checked against the raw digest.
      const mismatch = digestMismatch(bytes, part, expected);
      if (mismatch) throw new Error(mismatch);
      const target = join(cacheDir, isGzip(bytes) ? file : MNIST_FILES[part]);
      await writeFileAtomically(target, bytes);
      progress.end(`downloaded ${url} (${megabytes(bytes.length)}) to ${target}`);
      return { path: target, bytes };
    } catch (e) {
      failures.push(`${url}: ${message(e)}`);
      progress.end(`${url} failed: ${message(e)}`);
    }
  }
  throw new Error(`could not download ${file} into ${cacheDir}:\n  ${failures.join('\n  ')}`);
}

/** The paths of the four files in `dir` (raw or `.gz`); an error names the first one missing. */
export async function mnistPaths(dir: string): Promise<Record<MnistPart, string>> {
  const found = await stat(dir).catch(() => undefined);
  if (!found) throw new Error(`MNIST directory ${dir} does not exist`);
  if (!found.isDirectory()) throw new Error(`MNIST directory ${dir} is not a directory`);
  const paths = {} as Record<MnistPart, string>;
  for (const part of MNIST_PARTS) {
    const path = await findFile(dir, part);
    if (!path) {
      const name = join(dir, MNIST_FILES[part]);
      throw new Error(`MNIST file missing: neither ${name}.gz nor ${name} exists`);
    }
    paths[part] = path;
  }
  return paths;
}

/**
 * Loads MNIST from `dir` (or $MNIST_DIR) when given, else from the
 * repository's copy, else from the cache, downloading what it lacks. Files
 * that are not the official MNIST are used all the same, with a note in the log.
 * A cached file is checked against its digest each time it is read: a damaged
 * one is removed and downloaded again. `dir` is the directory it was read from.
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist & { dir: string }> {
  const log = options.log ?? process.stderr;
  const builtIn = options.cacheDir === undefined && (await hasAllParts(BUILT_IN_MNIST_DIR)) ? BUILT_IN_MNIST_DIR : undefined;
  const given = options.dir || process.env.MNIST_DIR || builtIn;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = given ?? cacheDir;
  const paths = {} as Record<MnistPart, string>;
  const files = {} as Record<MnistPart, Uint8Array>;
  if (given) {
    Object.assign(paths, await mnistPaths(given));
    for (const part of MNIST_PARTS) files[part] = await readPart(paths[part]);
  } else {
    await mkdir(cacheDir, { recursive: true });
    const mirrors = options.mirrors ?? MNIST_MIRRORS;
    const digests = { gz: options.gzDigests ?? MNIST_GZ_SHA256, raw: options.rawDigests ?? MNIST_SHA256 };
    for (const part of MNIST_PARTS) {
      const cached = await findFile(cacheDir, part);
      let got: { path: string; bytes: Uint8Array };
      if (cached) {
        got = { path: cached, bytes: await readPart(cached, true) };
        const mismatch = digestMismatch(got.bytes, part, digests);
        if (mismatch) {
          log.write(`${cached} in the cache is damaged (${mismatch}): downloading it again\n`);
          await rm(cached, { force: true });
          got = await download(part, cacheDir, mirrors, digests, log).catch((e: unknown) => {
            throw new Error(`${cached} in the cache was damaged (${mismatch}) and removed, and downloading it again failed: ${message(e)}`);
          });
        }
      } else {
        got = await download(part, cacheDir, mirrors, digests, log);
      }
      paths[part] = got.path;
      files[part] = got.bytes;
    }
  }
  // Node's hash reads the bytes where they are: WebCrypto's would copy a 1 GiB file first.
  const mnist = await mnistFromFiles(files, paths, async (bytes) => createHash('sha256').update(bytes).digest('hex'));
  if (!mnist.official) {
    const differing = MNIST_PARTS.filter((part) => mnist.digests[part] !== MNIST_SHA256[part]).map((part) => paths[part]);
    log.write(`note: these files are not the official MNIST (their SHA-256 differs): ${differing.join(', ')}; going on with them\n`);
  }
  return { ...mnist, dir };
}
