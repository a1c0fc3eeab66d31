// Files in Node: written whole or not at all (but devices, FIFOs and the files
// links name written as what they are), output paths checked before the work
// they are to hold, inputs refused at once unless regular files of a bounded
// size, and model files read from disk as Node Buffers.
//
// Devices and FIFOs are made here, in a temporary directory (mknod, mkfifo):
// the machine's own /dev is never written to.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { dense, flatten } from '../../src/engine/layers';
import { encodeModelFile, readModelFile } from '../../src/engine/modelFile';

// rename and writeFile can be made to fail once, the way a full disk or a race
// would, and access the way a directory of another user's does (root may write anywhere).
vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof fs>();
  return { ...original, rename: vi.fn(original.rename), writeFile: vi.fn(original.writeFile), access: vi.fn(original.access) };
});

let dir: string;
let checkOutputPath: typeof import('../../src/node/files').checkOutputPath;
let readNamedFile: typeof import('../../src/node/files').readNamedFile;
let writeFileAtomically: typeof import('../../src/node/files').writeFileAtomically;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'files-test-'));
  // The Node set-up imported files.ts before the mock: import it afresh, with the mock.
  vi.resetModules();
  ({ checkOutputPath, readNamedFile, writeFileAtomically } = await import('../../src/node/files'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Temporary files left beside `name` in the test's directory. */
const leftovers = async (name: string) => (await readdir(dir)).filter((entry) => entry.startsWith(`${name}.`));

describe('writeFileAtomically', () => {
  test('a directory in the way: a clear error, and no temporary file left', async () => {
    const target = join(dir, 'taken');
    await mkdir(target);
    const before = await readdir(dir);
    await expect(writeFileAtomically(target, 'x')).rejects.toThrow(`${target}: is a directory, not a file`);
    await expect(writeFileAtomically(`${join(dir, 'other')}/`, 'x')).rejects.toThrow(`${join(dir, 'other')}/: is a directory, not a file`);
    expect(await readdir(dir)).toEqual(before);
    expect(await readdir(target)).toEqual([]);
  });

  test('a rename that fails removes the temporary file', async () => {
    vi.mocked(rename).mockRejectedValueOnce(new Error('rename failed'));
    await expect(writeFileAtomically(join(dir, 'renamed'), 'x')).rejects.toThrow('rename failed');
    expect(await leftovers('renamed')).toEqual([]);
  });

  test('a write that fails midway (a full disk) removes what it wrote', async () => {
    const original = await vi.importActual<typeof fs>('node:fs/promises');
    vi.mocked(writeFile).mockImplementationOnce(async (path, _data, options) => {
      await original.writeFile(path, 'partial', options);
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    await expect(writeFileAtomically(join(dir, 'full'), 'x')).rejects.toThrow('ENOSPC');
    expect(await leftovers('full')).toEqual([]);
  });

  test('a temporary name that is taken is not ours to remove', async () => {
    const original = await vi.importActual<typeof fs>('node:fs/promises');
    let taken = '';
    vi.mocked(writeFile).mockImplementationOnce(async (path) => {
      taken = String(path);
      await original.writeFile(taken, 'someone else');
      throw Object.assign(new Error('EEXIST: file already exists'), { code: 'EEXIST' });
    });
    await expect(writeFileAtomically(join(dir, 'shared'), 'x')).rejects.toThrow('EEXIST');
    expect(await readFile(taken, 'utf8')).toBe('someone else');
  });

  test('two writes at once to one path both succeed and leave one whole file', async () => {
    const target = join(dir, 'twice.txt');
    const a = 'a'.repeat(1 << 20);
    const b = 'b'.repeat(1 << 20);
    await Promise.all([writeFileAtomically(target, a), writeFileAtomically(target, b)]);
    expect([a, b]).toContain(await readFile(target, 'utf8'));
    expect((await readdir(dir)).filter((name) => name.startsWith('twice.txt.'))).toEqual([]);
  });
});

/** A character device made in `dir` (major 1: /dev/null is 3, /dev/full 7, /dev/zero 5), or null where this user may not make one. */
function device(name: string, minor: number): string | null {
  const path = join(dir, name);
  try {
    execFileSync('mknod', [path, 'c', '1', String(minor)], { stdio: 'ignore' });
    return path;
  } catch {
    console.info(`mknod ${path} is not permitted here: the character device cases are left to the FIFO's, which take the same path`);
    return null;
  }
}

const readers: ChildProcess[] = [];
afterAll(() => {
  for (const reader of readers) reader.kill();
});

/** A FIFO made in `dir`, and a reader of it (cat) that resolves to all it read once the writer closes it. */
function fifoWithReader(name: string): { path: string; read: Promise<string> } {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const reader = spawn('cat', [path]);
  readers.push(reader);
  let text = '';
  reader.stdout.on('data', (chunk) => (text += chunk));
  return { path, read: new Promise((done) => reader.on('close', () => done(text))) };
}

describe('outputs that are not regular files are written as they are; links stay links', () => {
  test('a device (like /dev/null, /dev/full) is written, never replaced by a file; a full one names itself', async () => {
    const nul = device('null', 3);
    const full = device('full', 7);
    if (!nul || !full) return;
    await writeFileAtomically(nul, 'report');
    await expect(writeFileAtomically(full, 'model')).rejects.toThrow(`${full}: cannot be written: ENOSPC: no space left on device`);
    for (const path of [nul, full]) expect((await lstat(path)).isCharacterDevice()).toBe(true);
    await checkOutputPath(nul, '--save');
    expect([...(await leftovers('null')), ...(await leftovers('full'))]).toEqual([]);
  });

  // Replaced by a file, a FIFO would leave its reader waiting: the readers are killed after the tests, whatever happened.
  test('a FIFO, and a link to one (as /dev/stdout is on a pipe), are written into and stay what they are', { timeout: 10_000 }, async () => {
    const fifo = fifoWithReader('fifo');
    await checkOutputPath(fifo.path, '--report');
    await writeFileAtomically(fifo.path, 'into the FIFO\n');
    expect(await fifo.read).toBe('into the FIFO\n');
    expect((await lstat(fifo.path)).isFIFO()).toBe(true);

    const linked = fifoWithReader('fifo-behind-link');
    const stdout = join(dir, 'stdout');
    await symlink(linked.path, stdout);
    await writeFileAtomically(stdout, 'through the link\n');
    expect(await linked.read).toBe('through the link\n');
    expect(await readlink(stdout)).toBe(linked.path);
    expect((await lstat(linked.path)).isFIFO()).toBe(true);
  });

  test('a link to a regular file: the file it names is replaced whole, and the link stays; a dangling link makes its file', async () => {
    await mkdir(join(dir, 'real'), { recursive: true });
    const target = join(dir, 'real', 'report.json');
    await writeFile(target, 'old');
    const link = join(dir, 'report-link.json');
    // Relative, and through a link to a directory: resolved as the system would.
    await symlink('real', join(dir, 'real-dir'));
    await symlink('real-dir/report.json', link);
    await checkOutputPath(link, '--report');
    await writeFileAtomically(link, 'new');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('real-dir/report.json');
    expect(await readFile(target, 'utf8')).toBe('new');

    const dangling = join(dir, 'dangling.json');
    await symlink(join(dir, 'real', 'made.json'), dangling);
    await writeFileAtomically(dangling, 'made');
    expect((await lstat(dangling)).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, 'real', 'made.json'), 'utf8')).toBe('made');
    expect((await readdir(join(dir, 'real'))).sort()).toEqual(['made.json', 'report.json']);
    expect([...(await leftovers('report-link.json')), ...(await leftovers('dangling.json'))]).toEqual([]);

    const nowhere = join(dir, 'nowhere.json');
    await symlink(join(dir, 'missing', 'x.json'), nowhere);
    await expect(checkOutputPath(nowhere, '--save')).rejects.toThrow(
      `--save ${nowhere}: the directory ${join(dir, 'missing')} does not exist (the file its link names, ${join(dir, 'missing', 'x.json')})`,
    );
  });
});

describe('inputs are regular files of a bounded size, their first bytes checked before the rest is read', () => {
  test('a FIFO is refused at once, not waited on; a link to /dev/zero as the device it is', { timeout: 10_000 }, async () => {
    const fifo = join(dir, 'input-fifo');
    execFileSync('mkfifo', [fifo]);
    const zero = join(dir, 'zero');
    await symlink('/dev/zero', zero);
    const started = performance.now();
    await expect(readNamedFile(fifo, 'an MNIST file')).rejects.toThrow(`${fifo}: is a FIFO, not an MNIST file`);
    await expect(readNamedFile(zero, 'a model file')).rejects.toThrow(`${zero}: is a character device, not a model file`);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('a file over the bound, or whose first bytes are wrong, is refused without being read', async () => {
    // Sparse: 1 GiB of zeros that take no disk.
    const sparse = join(dir, 'sparse');
    await writeFile(sparse, '');
    await truncate(sparse, 2 ** 30);
    const rss = process.memoryUsage.rss();
    const started = performance.now();
    await expect(readNamedFile(sparse, 'a checkpoint', { maxBytes: 2 ** 20 })).rejects.toThrow(`${sparse}: 1,073,741,824 bytes, more than the 1,048,576 a checkpoint may take here`);
    let seen: [number, number] | undefined;
    const head = (bytes: Uint8Array, size: number) => {
      seen = [bytes.length, size];
      throw new Error(`${sparse}: starts with ${bytes[0]}`);
    };
    await expect(readNamedFile(sparse, 'a model file', { head })).rejects.toThrow(`${sparse}: starts with 0`);
    expect(seen).toEqual([4096, 2 ** 30]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage.rss() - rss).toBeLessThan(64e6);
    expect((await stat(sparse)).size).toBe(2 ** 30);
  });
});

describe('checkOutputPath', () => {
  test('a file in a writable directory passes; a directory, a missing directory or a file as directory do not', async () => {
    await checkOutputPath(join(dir, 'new.json'), '--report');
    await mkdir(join(dir, 'out'), { recursive: true });
    await writeFile(join(dir, 'plain'), '');
    await expect(checkOutputPath(join(dir, 'out'), '--save')).rejects.toThrow(`--save ${join(dir, 'out')}: is a directory, not a file`);
    await expect(checkOutputPath('somewhere/', '--save')).rejects.toThrow('--save somewhere/: is a directory, not a file');
    await expect(checkOutputPath(join(dir, 'no', 'm.safetensors'), '--save')).rejects.toThrow(
      `--save ${join(dir, 'no', 'm.safetensors')}: the directory ${join(dir, 'no')} does not exist`,
    );
    await expect(checkOutputPath(join(dir, 'plain', 'm.safetensors'), '--save')).rejects.toThrow(
      `--save ${join(dir, 'plain', 'm.safetensors')}: ${join(dir, 'plain')} is not a directory`,
    );
  });

  test('a directory that is not writable', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked, { mode: 0o555 });
    vi.mocked(fs.access).mockRejectedValueOnce(Object.assign(new Error(`EACCES: permission denied, access '${locked}'`), { code: 'EACCES' }));
    await expect(checkOutputPath(join(locked, 'r.json'), '--report')).rejects.toThrow(`--report ${join(locked, 'r.json')}: the directory ${locked} is not writable`);
  });
});

test('loadModel names a directory or a missing file', async () => {
  const { loadModel } = await import('../../src/node');
  await expect(loadModel(dir)).rejects.toThrow(`${dir}: is a directory, not a model file`);
  await expect(loadModel(join(dir, 'absent.safetensors'))).rejects.toThrow(`${join(dir, 'absent.safetensors')}: cannot be read: ENOENT: no such file or directory`);
});

test('a model file read into a pooled Buffer (readFile, Buffer.from) decodes to its own values', () => {
  const weights = [
    { name: 'layers.1.kernel', shape: [4, 2], values: Float32Array.from({ length: 8 }, (_, i) => i + 0.5) },
    { name: 'layers.1.bias', shape: [2], values: Float32Array.of(-1, 1) },
  ];
  const bytes = encodeModelFile({ inputShape: [2, 2], layers: [flatten({ inputShape: [2, 2] }), dense({ units: 2, activation: 'softmax' })] }, weights);
  // Small Buffers share one pool: a slice of one is a view of the whole pool.
  const pooled = Buffer.from(bytes);
  expect(pooled.buffer.byteLength).toBeGreaterThan(bytes.length);
  const file = readModelFile(pooled, 'm.safetensors');
  expect(file.weights.map((w) => [...w.values])).toEqual(weights.map((w) => [...w.values]));
});
