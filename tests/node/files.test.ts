// Files in Node: written whole or not at all, output paths checked before the
// work they are to hold, and model files read from disk as Node Buffers.
import * as fs from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
let writeFileAtomically: typeof import('../../src/node/files').writeFileAtomically;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'files-test-'));
  // The Node set-up imported files.ts before the mock: import it afresh, with the mock.
  vi.resetModules();
  ({ checkOutputPath, writeFileAtomically } = await import('../../src/node/files'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

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

  const leftovers = async (name: string) => (await readdir(dir)).filter((entry) => entry.startsWith(`${name}.`));

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
