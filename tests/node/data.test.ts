// The MNIST / IDX data layer: the real files, every malformed input with the
// error it must give, and downloads into the cache from a local HTTP server.
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { idx } from '../helpers';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { expectImagesFit, MAX_IDX_BYTES, MNIST_FILES, MNIST_PARTS, mnistFromFiles, parseIdx, type MnistPart } from '../../src/engine/data';
import { BUILT_IN_MNIST_DIR, defaultCacheDir, loadMnist, type LogStream } from '../../src/node/mnist';

// The repository's copy of MNIST, unless MNIST_DIR says otherwise.
const MNIST_DIR = process.env.MNIST_DIR || BUILT_IN_MNIST_DIR;

/** A small dataset of N images of H x W with labels 0, 1, 2, 0, 1, 2, ... */
function synthetic(n: number, h: number, w: number, nTest = n): Record<MnistPart, Uint8Array> {
  const pixels = (count: number) => Array.from({ length: count * h * w }, (_, i) => (i * 37) % 256);
  const labels = (count: number) => Array.from({ length: count }, (_, i) => i % 3);
  return {
    'train-images': idx([n, h, w], pixels(n)),
    'train-labels': idx([n], labels(n)),
    'test-images': idx([nTest, h, w], pixels(nTest)),
    'test-labels': idx([nTest], labels(nTest)),
  };
}

/**
 * A gzip bomb: `header` (an IDX header, say), then `mebibytes` MiB of zeros,
 * made without ever holding them. Each deflate block ends in a full flush, which
 * byte-aligns it and forgets the history, so one compressed MiB can be repeated.
 */
function gzipBomb(header: Uint8Array, mebibytes: number): Uint8Array {
  const zeros = new Uint8Array(1 << 20);
  const flushed = (bytes: Uint8Array) => deflateRawSync(bytes, { finishFlush: constants.Z_FULL_FLUSH });
  const block = flushed(zeros);
  let crc = crc32(header);
  for (let i = 0; i < mebibytes; i++) crc = crc32(zeros, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc, 0);
  trailer.writeUInt32LE((header.length + mebibytes * zeros.length) % 2 ** 32, 4);
  const gzipHeader = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);
  return Buffer.concat([gzipHeader, flushed(header), ...Array<Uint8Array>(mebibytes).fill(block), deflateRawSync(new Uint8Array(0)), trailer]);
}

function memoryLog(isTTY = false): LogStream & { text: () => string } {
  const lines: string[] = [];
  return { isTTY, write: (s: string) => lines.push(s), text: () => lines.join('') };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-test-'));
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('parseIdx', () => {
  test('labels and images', () => {
    const labels = parseIdx(idx([3], [5, 0, 4]), 'labels');
    expect(labels.dims).toEqual([3]);
    expect([...labels.data]).toEqual([5, 0, 4]);
    const images = parseIdx(idx([2, 2, 3], [...Array(12).keys()]), 'images');
    expect(images.dims).toEqual([2, 2, 3]);
    expect([...images.data]).toEqual([...Array(12).keys()]);
  });

  test('a view into a larger buffer', () => {
    const file = idx([2], [7, 8]);
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    expect([...parseIdx(padded.subarray(3), 'f').data]).toEqual([7, 8]);
  });

  test('bad magic', () => {
    const bytes = idx([1], [1]);
    bytes.set([0x12, 0x34], 0);
    expect(() => parseIdx(bytes, 'train-labels-idx1-ubyte')).toThrow(
      'train-labels-idx1-ubyte: bad magic number 0x12340801: not an IDX file; expected 0x00000801 (labels) or 0x00000803 (images)',
    );
  });

  test('still gzip-compressed', () => {
    expect(() => parseIdx(gzipSync(idx([1], [1])), 'f')).toThrow('f: bad magic number 0x1f8b0800: not an IDX file (the file is still gzip-compressed)');
  });

  test('unsupported element type', () => {
    const bytes = idx([1], [0, 0, 0, 0]);
    bytes[2] = 0x0d;
    bytes.set([0, 0, 0, 1], 4);
    expect(() => parseIdx(bytes, 'f')).toThrow('f: unsupported element type 0x0d (float32) in magic number 0x00000d01; only unsigned bytes (0x08) are supported');
  });

  test('zero dimensions', () => {
    expect(() => parseIdx(new Uint8Array([0, 0, 8, 0]), 'f')).toThrow('f: bad magic number 0x00000800: zero dimensions');
  });

  test('truncated magic', () => {
    expect(() => parseIdx(new Uint8Array([0, 0]), 'f')).toThrow('f: truncated: 2 bytes, too short for the 4-byte IDX magic number');
  });

  test('truncated header', () => {
    expect(() => parseIdx(idx([60000, 28, 28], []).subarray(0, 10), 'f')).toThrow('f: truncated: the header of 3 dimensions needs 16 bytes but the file holds 10');
  });

  test('truncated payload', () => {
    expect(() => parseIdx(idx([60000, 28, 28], new Uint8Array(1234)), 'train-images-idx3-ubyte')).toThrow(
      'train-images-idx3-ubyte: truncated: header says 60000x28x28 = 47040000 bytes of pixels but the file holds 1234 after its 16-byte header',
    );
    expect(() => parseIdx(idx([10], [1, 2]), 'l')).toThrow('l: truncated: header says 10 = 10 bytes of labels but the file holds 2 after its 8-byte header');
  });

  test('trailing bytes', () => {
    expect(() => parseIdx(idx([2, 2, 2], new Uint8Array(13)), 'f')).toThrow('f: 5 trailing bytes after the 2x2x2 = 8 bytes of pixels the header announces');
  });

  test('a header announcing more than an IDX file may hold', () => {
    expect(MAX_IDX_BYTES).toBe(2 ** 30);
    expect(() => parseIdx(idx([0xffffffff, 28, 28], []), 'f')).toThrow(
      'f: header announces 4294967295x28x28 = 3367254359280 bytes of pixels, more than the 1073741824 an IDX file may hold here',
    );
    // One past the bound, and the bound itself (refused then only for lacking the data).
    expect(() => parseIdx(idx([2 ** 30 + 1], []), 'f')).toThrow('more than the 1073741824 an IDX file may hold here');
    expect(() => parseIdx(idx([2 ** 15, 2 ** 15], []), 'f')).toThrow('f: truncated: header says 32768x32768 = 1073741824 bytes of data');
  });
});

describe('mnistFromFiles', () => {
  test('any H x W, raw or gzip: pixels / 255, classes = max label + 1, not official', async () => {
    const files = synthetic(4, 5, 3, 2);
    files['train-labels'] = gzipSync(idx([4], [0, 1, 6, 2]));
    const mnist = await mnistFromFiles(files);
    expect(mnist.official).toBe(false);
    expect(mnist.train).toMatchObject({ count: 4, height: 5, width: 3, classes: 7 });
    expect(mnist.test).toMatchObject({ count: 2, height: 5, width: 3, classes: 7 });
    expect([...mnist.train.labels]).toEqual([0, 1, 6, 2]);
    expect(mnist.train.images.length).toBe(4 * 5 * 3);
    expect(mnist.train.images[1]).toBeCloseTo(37 / 255, 7);
    // The bytes are kept as the file holds them, a copy of the caller's: the floats are made from them when asked for.
    expect(mnist.train.pixels[1]).toBe(37);
    expect(mnist.train.pixels.buffer).not.toBe(files['train-images'].buffer);
    expect(mnist.train.images).toBe(mnist.train.images);
    expect(mnist.digests['test-labels']).toBe(sha256(files['test-labels']));
  });

  test('images and labels counts differ', async () => {
    const files = synthetic(4, 2, 2);
    files['test-labels'] = idx([3], [0, 1, 2]);
    await expect(mnistFromFiles(files)).rejects.toThrow('test set: t10k-images-idx3-ubyte holds 4 images but t10k-labels-idx1-ubyte holds 3 labels');
  });

  test('labels where images belong', async () => {
    const files = synthetic(4, 2, 2);
    files['train-images'] = files['train-labels'];
    await expect(mnistFromFiles(files)).rejects.toThrow(
      'train-images-idx3-ubyte: expected images (N x H x W), an IDX file of 3 dimensions, but it has 1 (4)',
    );
  });

  test('train and test images differ in size', async () => {
    const files = synthetic(2, 2, 2);
    files['test-images'] = idx([2, 3, 2], new Uint8Array(12));
    await expect(mnistFromFiles(files)).rejects.toThrow('train-images-idx3-ubyte holds 2x2 images but t10k-images-idx3-ubyte holds 3x2');
  });

  test('no images', async () => {
    await expect(mnistFromFiles(synthetic(0, 2, 2))).rejects.toThrow('train set: train-images-idx3-ubyte holds no images');
  });

  test('corrupt gzip', async () => {
    const files = synthetic(2, 2, 2);
    const gz = gzipSync(files['train-images']);
    gz.fill(0x55, 10);
    files['train-images'] = gz;
    await expect(mnistFromFiles(files, { 'train-images': '/data/train-images-idx3-ubyte.gz' })).rejects.toThrow(
      /^\/data\/train-images-idx3-ubyte\.gz: corrupt gzip data: /,
    );
  });

  test('truncated gzip', async () => {
    const files = synthetic(50, 8, 8);
    files['test-images'] = gzipSync(files['test-images']).subarray(0, 40);
    await expect(mnistFromFiles(files)).rejects.toThrow('t10k-images-idx3-ubyte: corrupt gzip data: unexpected end of file');
  });

  test('a .gz that inflates to 1 GiB is refused once it outgrows its header, without inflating the rest', async () => {
    const files = synthetic(100, 2, 2);
    const bomb = gzipBomb(idx([100], []), 1024);
    expect(bomb.length).toBeLessThan(1.1e6);
    // A valid gzip stream: a small one made the same way inflates whole.
    expect(gunzipSync(gzipBomb(idx([100], []), 1)).length).toBe(8 + (1 << 20));
    const rss = process.memoryUsage.rss();
    const started = performance.now();
    await expect(mnistFromFiles({ ...files, 'train-labels': bomb })).rejects.toThrow(
      /^train-labels-idx1-ubyte: inflates to more than the 100 = 100 bytes of labels \(and 8-byte header\) its header announces; stopped after \d+ bytes$/,
    );
    // Inflating it all takes seconds and gigabytes (12 s and 3.2 GB here before this was fixed).
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage.rss() - rss).toBeLessThan(64e6);
  });

  test('the cap is what the header announces: a bomb behind an MNIST-sized header stops just past it', async () => {
    const files = synthetic(2, 28, 28);
    const rss = process.memoryUsage.rss();
    const error = await mnistFromFiles({ ...files, 'test-images': gzipBomb(idx([60000, 28, 28], []), 1024) }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^t10k-images-idx3-ubyte: inflates to more than the 60000x28x28 = 47040000 bytes of pixels/);
    const stoppedAfter = Number(/stopped after (\d+) bytes$/.exec((error as Error).message)![1]);
    expect(stoppedAfter).toBeGreaterThan(47040016);
    expect(stoppedAfter).toBeLessThan(47040016 + (1 << 20));
    expect(process.memoryUsage.rss() - rss).toBeLessThan(400e6);
  });

  test('a .gz whose magic number is wrong is refused at its header, without inflating the rest', async () => {
    const files = synthetic(2, 2, 2);
    // Made before the clock starts: its CRC over 1 GiB of zeros takes a second of its own.
    const bomb = gzipBomb(Uint8Array.of(0x12, 0x34, 8, 1, 0, 0, 0, 100), 1024);
    const rss = process.memoryUsage.rss();
    const started = performance.now();
    await expect(mnistFromFiles({ ...files, 'train-labels': bomb })).rejects.toThrow(
      'train-labels-idx1-ubyte: bad magic number 0x12340801: not an IDX file',
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage.rss() - rss).toBeLessThan(64e6);
  });

  test('images of another size than the model takes are named with both sizes', async () => {
    const mnist = await mnistFromFiles(synthetic(3, 32, 32));
    expect(() => expectImagesFit(mnist.train, [28, 28, 1], '/data')).toThrow('/data: the images are 32x32 but the model takes 28x28 images (input shape [28, 28, 1])');
    expect(() => expectImagesFit(mnist.train, [784], 'd')).toThrow('d: the images are 32x32 but the model takes 784 values (input shape [784])');
    expect(() => expectImagesFit(mnist.train, [32, 32, 3], 'd')).toThrow('d: the images are 32x32 but the model takes no single-channel images (input shape [32, 32, 3])');
    for (const fits of [[32, 32], [32, 32, 1], [1024]]) expectImagesFit(mnist.train, fits, 'd');
  });

  test('gzip of a malformed IDX file', async () => {
    const files = synthetic(2, 2, 2);
    files['train-labels'] = gzipSync(idx([3], [1, 2]));
    await expect(mnistFromFiles(files)).rejects.toThrow('train-labels-idx1-ubyte: truncated: header says 3 = 3 bytes of labels but the file holds 2 after its 8-byte header');
  });
});

describe('loadMnist from a directory', () => {
  test('the official MNIST, from the repository with no directory given (offline)', async () => {
    if (!existsSync(BUILT_IN_MNIST_DIR)) throw new Error(`no MNIST at ${BUILT_IN_MNIST_DIR}: the repository ships it there`);
    const log = memoryLog();
    // An empty cache and no mirror that answers: only the repository's copy can serve.
    vi.stubEnv('MNIST_DIR', '');
    vi.stubEnv('XDG_CACHE_HOME', await tempDir());
    const mnist = await loadMnist({ log, mirrors: ['http://127.0.0.1:9/'] }).finally(() => vi.unstubAllEnvs());
    expect(mnist.official).toBe(true);
    expect(log.text()).toBe('');
    expect(mnist.train).toMatchObject({ count: 60000, height: 28, width: 28, classes: 10 });
    expect(mnist.test).toMatchObject({ count: 10000, height: 28, width: 28, classes: 10 });
    expect(mnist.train.images.length).toBe(60000 * 28 * 28);
    expect([...mnist.train.labels.subarray(0, 5)]).toEqual([5, 0, 4, 1, 9]);
    expect(mnist.test.labels[0]).toBe(7);
    let sum = 0;
    for (const p of mnist.train.images) sum += p;
    expect(sum / mnist.train.images.length).toBeCloseTo(0.1307, 4);
  });

  test('the first 100 images: accepted, with a note that they are not the official MNIST', async () => {
    const dir = await tempDir();
    for (const part of MNIST_PARTS) {
      const raw = gunzipSync(await readFile(join(MNIST_DIR, `${MNIST_FILES[part]}.gz`)));
      const header = raw.readUInt32BE(0) === 0x803 ? 16 : 8;
      const perItem = header === 16 ? 28 * 28 : 1;
      const bytes = Buffer.from(raw.subarray(0, header + 100 * perItem));
      bytes.writeUInt32BE(100, 4);
      // Raw and gzip side by side: both are read.
      const name = join(dir, MNIST_FILES[part]);
      await writeFile(part.endsWith('images') ? name : `${name}.gz`, part.endsWith('images') ? bytes : gzipSync(bytes));
    }
    const log = memoryLog();
    const mnist = await loadMnist({ dir, log });
    expect(mnist.official).toBe(false);
    expect(mnist.train.count).toBe(100);
    expect([...mnist.train.labels.subarray(0, 5)]).toEqual([5, 0, 4, 1, 9]);
    expect(mnist.test.labels[0]).toBe(7);
    expect(log.text()).toContain('note: these files are not the official MNIST (their SHA-256 differs): ');
    expect(log.text()).toContain(join(dir, 't10k-labels-idx1-ubyte.gz'));
    expect(log.text()).toContain(join(dir, 'train-images-idx3-ubyte'));
  });

  test('MNIST_DIR when no dir is given', async () => {
    const dir = await tempDir();
    const files = synthetic(3, 2, 2);
    for (const part of MNIST_PARTS) await writeFile(join(dir, MNIST_FILES[part]), files[part]);
    vi.stubEnv('MNIST_DIR', dir);
    try {
      expect((await loadMnist({ log: memoryLog() })).train.count).toBe(3);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test('a missing file', async () => {
    const dir = await tempDir();
    const files = synthetic(3, 2, 2);
    for (const part of MNIST_PARTS) if (part !== 'test-labels') await writeFile(join(dir, MNIST_FILES[part]), files[part]);
    const name = join(dir, 't10k-labels-idx1-ubyte');
    await expect(loadMnist({ dir, log: memoryLog() })).rejects.toThrow(`MNIST file missing: neither ${name}.gz nor ${name} exists`);
  });

  test('a directory where a file belongs, and a directory that is not there, are named', async () => {
    const dir = await tempDir();
    const files = synthetic(3, 2, 2);
    for (const part of MNIST_PARTS) if (part !== 'train-labels') await writeFile(join(dir, MNIST_FILES[part]), files[part]);
    const where = join(dir, 'train-labels-idx1-ubyte.gz');
    await mkdir(where);
    await expect(loadMnist({ dir, log: memoryLog() })).rejects.toThrow(`${where}: is a directory, not an MNIST file`);
    await expect(loadMnist({ dir: join(dir, 'nothing'), log: memoryLog() })).rejects.toThrow(`MNIST directory ${join(dir, 'nothing')} does not exist`);
    await expect(loadMnist({ dir: join(dir, MNIST_FILES['test-labels']), log: memoryLog() })).rejects.toThrow(
      `MNIST directory ${join(dir, MNIST_FILES['test-labels'])} is not a directory`,
    );
  });

  // Made in a temporary directory: a link to /dev/zero (only ever opened, never read), a FIFO, a sparse file.
  test('an MNIST name for /dev/zero, a FIFO or a 1 GiB sparse file is refused at once, naming it', { timeout: 10_000 }, async () => {
    const files = synthetic(3, 2, 2);
    const cases: [string, (path: string) => Promise<void>, string][] = [
      ['/dev/zero', (path) => symlink('/dev/zero', path), 'is a character device, not an MNIST file'],
      ['a FIFO', async (path) => void execFileSync('mkfifo', [path]), 'is a FIFO, not an MNIST file'],
      ['a sparse file', (path) => writeFile(path, '').then(() => truncate(path, 2 ** 30)), 'unsupported element type 0x00'],
    ];
    for (const [what, make, refusal] of cases) {
      const dir = await tempDir();
      for (const part of MNIST_PARTS) if (part !== 'train-images') await writeFile(join(dir, MNIST_FILES[part]), files[part]);
      const path = join(dir, MNIST_FILES['train-images']);
      await make(path);
      const rss = process.memoryUsage.rss();
      const started = performance.now();
      await expect(loadMnist({ dir, log: memoryLog() }), what).rejects.toThrow(`${path}: ${refusal}`);
      expect(performance.now() - started, what).toBeLessThan(1000);
      expect(process.memoryUsage.rss() - rss, what).toBeLessThan(64e6);
    }
  });

  test('a corrupt file names its path', async () => {
    const dir = await tempDir();
    const files = synthetic(3, 2, 2);
    for (const part of MNIST_PARTS) await writeFile(join(dir, MNIST_FILES[part]), files[part]);
    await writeFile(join(dir, MNIST_FILES['train-labels']), idx([3], [1, 2, 0, 9]));
    await expect(loadMnist({ dir, log: memoryLog() })).rejects.toThrow(
      `${join(dir, 'train-labels-idx1-ubyte')}: 1 trailing bytes after the 3 = 3 bytes of labels the header announces`,
    );
  });
});

// What the local server does for each path: serve bytes, or fail in a given way.
type Route = { body: Uint8Array; encoding?: string } | { status: number } | { dropAfter: number; body: Uint8Array };

describe('loadMnist downloading into the cache', () => {
  let server: Server;
  let base: string;
  const routes = new Map<string, Route>();
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const route = routes.get(req.url ?? '');
      if (!route || 'status' in route) {
        res.writeHead(route?.status ?? 404).end();
      } else if ('dropAfter' in route) {
        res.writeHead(200, { 'content-length': route.body.length });
        res.write(route.body.subarray(0, route.dropAfter), () => res.destroy());
      } else {
        const encoding = route.encoding ? { 'content-encoding': route.encoding } : {};
        res.writeHead(200, { 'content-length': route.body.length, ...encoding }).end(route.body);
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Downloads happen only when no directory is named.
    vi.stubEnv('MNIST_DIR', '');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise((done) => server.close(done));
  });
  afterEach(() => {
    routes.clear();
    requests.length = 0;
  });

  /** Serves a small dataset's `.gz` files under `prefix` and returns their digests. */
  function serve(prefix: string): Record<MnistPart, string> {
    const files = synthetic(6, 4, 4);
    const digests = {} as Record<MnistPart, string>;
    for (const part of MNIST_PARTS) {
      const gz = gzipSync(files[part]);
      routes.set(`${prefix}${MNIST_FILES[part]}.gz`, { body: gz });
      digests[part] = sha256(gz);
    }
    return digests;
  }

  test('falls back to the second mirror, keeps the files, and reads them from the cache next time', async () => {
    const gzDigests = serve('/second/');
    const cacheDir = join(await tempDir(), 'cache');
    const mirrors = [`${base}/first/`, `${base}/second`];
    const log = memoryLog();
    const mnist = await loadMnist({ cacheDir, mirrors, gzDigests, log });
    expect(mnist.official).toBe(false);
    expect(mnist.train).toMatchObject({ count: 6, height: 4, width: 4, classes: 3 });
    expect((await readdir(cacheDir)).sort()).toEqual(MNIST_PARTS.map((p) => `${MNIST_FILES[p]}.gz`).sort());
    expect(log.text()).toContain(`${base}/first/train-images-idx3-ubyte.gz failed: HTTP 404 Not Found\n`);
    expect(log.text()).toContain(`downloaded ${base}/second/train-images-idx3-ubyte.gz (0.0 MB) to ${join(cacheDir, 'train-images-idx3-ubyte.gz')}\n`);
    expect(log.text()).toContain('note: these files are not the official MNIST');
    expect(requests).toHaveLength(8);

    requests.length = 0;
    const again = await loadMnist({ cacheDir, mirrors, gzDigests, log: memoryLog() });
    expect(requests).toEqual([]);
    expect([...again.test.labels]).toEqual([...mnist.test.labels]);
  });

  test('a damaged file in the cache is checked when read, removed and downloaded again', async () => {
    const gzDigests = serve('/m/');
    const cacheDir = await tempDir();
    const mirrors = [`${base}/m/`];
    const first = await loadMnist({ cacheDir, mirrors, gzDigests, log: memoryLog() });
    const cached = join(cacheDir, 't10k-labels-idx1-ubyte.gz');
    const damaged = gzipSync(idx([6], [2, 2, 2, 2, 2, 2]));
    await writeFile(cached, damaged);
    requests.length = 0;
    const log = memoryLog();
    const again = await loadMnist({ cacheDir, mirrors, gzDigests, log });
    expect(requests).toEqual(['/m/t10k-labels-idx1-ubyte.gz']);
    expect(log.text()).toContain(
      `${cached} in the cache is damaged (wrong SHA-256: got ${sha256(damaged)}, expected ${gzDigests['test-labels']}): downloading it again\n`,
    );
    expect([...again.test.labels]).toEqual([...first.test.labels]);
    expect(sha256(await readFile(cached))).toBe(gzDigests['test-labels']);
  });

  test('a damaged file in the cache that cannot be downloaded again is refused, and removed', async () => {
    const gzDigests = serve('/m/');
    const cacheDir = await tempDir();
    await loadMnist({ cacheDir, mirrors: [`${base}/m/`], gzDigests, log: memoryLog() });
    const cached = join(cacheDir, 'train-images-idx3-ubyte.gz');
    const damaged = (await readFile(cached)).subarray(0, 30);
    await writeFile(cached, damaged);
    routes.clear();
    await expect(loadMnist({ cacheDir, mirrors: [`${base}/m/`], gzDigests, log: memoryLog() })).rejects.toThrow(
      `${cached} in the cache was damaged (wrong SHA-256: got ${sha256(damaged)}, expected ${gzDigests['train-images']}) and removed, ` +
        `and downloading it again failed: could not download train-images-idx3-ubyte.gz into ${cacheDir}:\n  ${base}/m/train-images-idx3-ubyte.gz: HTTP 404 Not Found`,
    );
    expect((await readdir(cacheDir)).sort()).toEqual(MNIST_PARTS.filter((p) => p !== 'train-images').map((p) => `${MNIST_FILES[p]}.gz`).sort());
  });

  test('a server that marks the .gz as Content-Encoding: gzip: the raw file is checked and kept', async () => {
    const files = synthetic(5, 3, 3);
    const rawDigests = {} as Record<MnistPart, string>;
    for (const part of MNIST_PARTS) {
      routes.set(`/enc/${MNIST_FILES[part]}.gz`, { body: gzipSync(files[part]), encoding: 'gzip' });
      rawDigests[part] = sha256(files[part]);
    }
    const cacheDir = await tempDir();
    const mnist = await loadMnist({ cacheDir, mirrors: [`${base}/enc/`], rawDigests, log: memoryLog() });
    expect(mnist.train.count).toBe(5);
    expect((await readdir(cacheDir)).sort()).toEqual(MNIST_PARTS.map((p) => MNIST_FILES[p]).sort());

    const wrong = { ...rawDigests, 'test-images': 'f'.repeat(64) };
    const cache2 = await tempDir();
    await expect(loadMnist({ cacheDir: cache2, mirrors: [`${base}/enc/`], rawDigests: wrong, log: memoryLog() })).rejects.toThrow(
      `${base}/enc/t10k-images-idx3-ubyte.gz: wrong SHA-256 (of the decompressed file): got ${rawDigests['test-images']}, expected ${'f'.repeat(64)}`,
    );
    expect((await readdir(cache2)).sort()).toEqual(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
  });

  test('on a terminal the progress line is rewritten in place', async () => {
    const gzDigests = serve('/m/');
    const log = memoryLog(true);
    await loadMnist({ cacheDir: await tempDir(), mirrors: [`${base}/m/`], gzDigests, log });
    expect(log.text()).toContain(`\r\x1b[Kdownloading ${base}/m/t10k-images-idx3-ubyte.gz: 0.0 MB of 0.0 MB (100%)`);
    expect(log.text()).toContain(`\r\x1b[Kdownloaded ${base}/m/t10k-images-idx3-ubyte.gz`);
  });

  test('a wrong digest keeps nothing in the cache', async () => {
    const gzDigests = serve('/m/');
    const cacheDir = await tempDir();
    const wrong = { ...gzDigests, 'train-labels': '0'.repeat(64) };
    const got = gzDigests['train-labels'];
    await expect(loadMnist({ cacheDir, mirrors: [`${base}/m/`], gzDigests: wrong, log: memoryLog() })).rejects.toThrow(
      `could not download train-labels-idx1-ubyte.gz into ${cacheDir}:\n  ${base}/m/train-labels-idx1-ubyte.gz: wrong SHA-256: got ${got}, expected ${'0'.repeat(64)}`,
    );
    // Only the file downloaded before it is there; nothing of the failed one.
    expect(await readdir(cacheDir)).toEqual(['train-images-idx3-ubyte.gz']);
  });

  test('a connection dropped midway leaves no partial file', async () => {
    const gzDigests = serve('/m/');
    const route = routes.get('/m/train-images-idx3-ubyte.gz') as { body: Uint8Array };
    routes.set('/m/train-images-idx3-ubyte.gz', { body: route.body, dropAfter: 20 });
    const cacheDir = await tempDir();
    await expect(loadMnist({ cacheDir, mirrors: [`${base}/m/`], gzDigests, log: memoryLog() })).rejects.toThrow(
      `could not download train-images-idx3-ubyte.gz into ${cacheDir}:\n  ${base}/m/train-images-idx3-ubyte.gz: `,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('no mirror answers: each failure is listed and the cache stays empty', async () => {
    const cacheDir = await tempDir();
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const mirrors = [`${base}/gone/`, `http://127.0.0.1:${deadPort}/`];
    const error = await loadMnist({ cacheDir, mirrors, log: memoryLog() }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^could not download train-images-idx3-ubyte.gz into ${cacheDir}:\\n` +
          `  ${base}/gone/train-images-idx3-ubyte.gz: HTTP 404 Not Found\\n` +
          `  http://127.0.0.1:${deadPort}/train-images-idx3-ubyte.gz: fetch failed \\(.*ECONNREFUSED.*\\)$`,
      ),
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('the default cache follows XDG_CACHE_HOME', () => {
    vi.stubEnv('XDG_CACHE_HOME', '/somewhere/cache');
    expect(defaultCacheDir()).toBe('/somewhere/cache/webgpu-train/mnist');
    vi.stubEnv('XDG_CACHE_HOME', '');
    expect(defaultCacheDir()).toMatch(/\/\.cache\/webgpu-train\/mnist$/);
  });
});
