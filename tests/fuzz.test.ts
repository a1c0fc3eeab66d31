// Property-based tests (fast-check): random and mutated bytes fed to the IDX
// parser, MNIST's loader, the safetensors decoder, the model-file reader and the
// architecture reader. Each input is either read, consistently, or refused with a
// plain Error that names the file, quickly: no claimed size is ever allocated.
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { MNIST_FILES, MNIST_PARTS, mnistFromFiles, parseIdx, type MnistPart } from '../src/engine/data';
import { dense, flatten } from '../src/engine/layers';
import { encodeModelFile, readArchitecture, readModelFile } from '../src/engine/modelFile';
import { decodeSafetensors, encodeSafetensors } from '../src/engine/safetensors';
import { idx } from './helpers';

// Modest, so that the suite stays fast in Node and in Chromium; a failure prints its seed.
const RUNS = 150;
// Far above what any one input takes here, far below what inflating or allocating a claimed size would.
const MS_PER_INPUT = 250;

/** Runs `read`, which must return or throw a plain Error whose message `named` accepts, within the time bound. */
function readOrRefuse<T>(read: () => T, named: (message: string) => boolean): T | undefined {
  const started = performance.now();
  try {
    return read();
  } catch (error) {
    expectRefusal(error, named);
    return undefined;
  } finally {
    expect(performance.now() - started).toBeLessThan(MS_PER_INPUT);
  }
}

function expectRefusal(error: unknown, named: (message: string) => boolean): void {
  // Not a TypeError, RangeError or SyntaxError from deep inside: an error written for the user.
  expect((error as Error).constructor).toBe(Error);
  if (!named((error as Error).message)) throw new Error(`the message does not name the file: ${(error as Error).message}`);
}

const startsWith = (prefix: string) => (message: string) => message.startsWith(prefix);

/** `bytes` with some bytes overwritten, then cut or extended: the damage a file meets. */
const mutated = (bytes: Uint8Array) =>
  fc
    .record({
      writes: fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      length: fc.oneof({ weight: 3, arbitrary: fc.constant(bytes.length) }, { weight: 1, arbitrary: fc.nat({ max: bytes.length + 16 }) }),
      fill: fc.integer({ min: 0, max: 255 }),
    })
    .map(({ writes, length, fill }) => {
      const out = new Uint8Array(length).fill(fill);
      out.set(bytes.subarray(0, length));
      for (const [at, value] of writes) if (at < length) out[at] = value;
      return out;
    });

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('IDX and MNIST', () => {
  const labels = idx([6], [0, 1, 2, 0, 1, 2]);
  const images = idx([6, 3, 2], Array.from({ length: 36 }, (_, i) => (i * 37) % 256));
  // The claims a header can make: dimension counts and sizes of every order, up to 2^32 - 1.
  const header = fc
    .array(fc.oneof(fc.nat({ max: 8 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { minLength: 0, maxLength: 4 })
    .chain((dims) => fc.tuple(fc.constant(dims), fc.uint8Array({ maxLength: 64 })))
    .map(([dims, data]) => idx(dims, data));

  test('parseIdx reads or refuses random bytes, headers and damaged files', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), header, mutated(labels), mutated(images)), (bytes) => {
        const parsed = readOrRefuse(() => parseIdx(bytes, 'f.idx'), startsWith('f.idx: '));
        if (parsed) expect(parsed.data.length).toBe(parsed.dims.reduce((a, b) => a * b, 1));
      }),
      { numRuns: RUNS },
    );
  });

  const files = {} as Record<MnistPart, Uint8Array>;
  const gzipped = {} as Record<MnistPart, Uint8Array>;
  beforeAll(async () => {
    for (const part of MNIST_PARTS) {
      files[part] = part.endsWith('images') ? images : labels;
      gzipped[part] = await gzip(files[part]);
    }
  });
  const namesAFile = (message: string) => MNIST_PARTS.some((part) => message.includes(MNIST_FILES[part]));

  test('mnistFromFiles reads or refuses a set with one file damaged, raw or gzip', async () => {
    const damage = fc.record({
      part: fc.constantFrom(...MNIST_PARTS),
      compressed: fc.boolean(),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(damage, fc.uint8Array({ maxLength: 8 }), async ({ part, compressed, seed }, noise) => {
        const source = compressed ? gzipped[part] : files[part];
        // The damage comes from the same mutations as above, drawn from the seed.
        const [bytes] = fc.sample(fc.oneof(mutated(source), fc.constant(noise), header), { seed, numRuns: 1 });
        const set = { ...files, [part]: bytes };
        const started = performance.now();
        const mnist = await mnistFromFiles(set).catch((error: unknown) => expectRefusal(error, namesAFile));
        expect(performance.now() - started).toBeLessThan(4 * MS_PER_INPUT);
        if (mnist) expect(mnist.train.images.length).toBe(mnist.train.count * mnist.train.height * mnist.train.width);
      }),
      { numRuns: 60 },
    );
  });
});

describe('safetensors and model files', () => {
  // Tensor entries as a hostile header may write them: every field of every JSON type, sizes up to 2^53.
  const number = fc.oneof(fc.integer({ min: -2, max: 64 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.double());
  const entry = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        dtype: fc.oneof(fc.constant('F32'), fc.jsonValue()),
        shape: fc.oneof(fc.array(number, { maxLength: 4 }), fc.jsonValue()),
        data_offsets: fc.oneof(fc.array(number, { maxLength: 3 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );
  const headerBytes = fc
    .tuple(fc.dictionary(fc.string({ maxLength: 12 }), entry, { maxKeys: 4 }), fc.uint8Array({ maxLength: 64 }))
    .map(([header, data]) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const bytes = new Uint8Array(8 + json.length + data.length);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
      bytes.set(json, 8);
      bytes.set(data, 8 + json.length);
      return bytes;
    });
  const valid = encodeSafetensors(
    [
      { name: 'a', shape: [2, 3], values: new Float32Array(6).fill(0.5) },
      { name: 'b', shape: [3], values: Float32Array.of(1, 2, 3) },
    ],
    { note: 'x' },
  );

  // The same file without its checksum (as older files and PyTorch's are), so that damage reaches the header's checks too.
  const unchecked = (() => {
    const length = Number(new DataView(valid.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + length)));
    delete header.__metadata__.checksum;
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + valid.length - 8 - length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    bytes.set(valid.subarray(8 + length), 8 + json.length);
    return bytes;
  })();

  test('decodeSafetensors reads or refuses random bytes, hostile headers and damaged files', () => {
    const damage = fc.oneof(mutated(valid), mutated(unchecked));
    const named = (message: string) => message.startsWith('f.safetensors: not a model file: ') || message.startsWith('f.safetensors: damaged: ');
    fc.assert(
      fc.property(fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 2, arbitrary: headerBytes }, { weight: 2, arbitrary: damage }), (bytes) => {
        const decoded = readOrRefuse(() => decodeSafetensors(bytes, 'f.safetensors'), named);
        for (const w of decoded?.weights ?? []) expect(w.values.length).toBe(w.shape.reduce((a, b) => a * b, 1));
      }),
      { numRuns: RUNS },
    );
  });

  // Layer configs with every field random but mostly plausible, so that most reach the
  // layer checks: huge sizes (a claim the file does not back), wrong types, missing fields.
  const often = <T, U>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) => fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: odd });
  const size = often(fc.integer({ min: 1, max: 8 }), fc.oneof(fc.integer({ min: -1, max: 2 ** 31 }), fc.double(), fc.jsonValue()));
  const pairOf = often(fc.tuple(size, size), fc.jsonValue());
  const kinds = {
    dense: { units: size, activation: often(fc.constantFrom('relu', 'softmax', 'linear'), fc.jsonValue()) },
    conv2d: {
      filters: size,
      kernelSize: pairOf,
      strides: pairOf,
      padding: often(fc.constantFrom('valid', 'same'), fc.jsonValue()),
      activation: fc.constantFrom('relu', 'tanh'),
    },
    maxPooling2d: { poolSize: pairOf, strides: pairOf },
    flatten: {},
  };
  // Now and then a field is left out.
  const kindLayer = fc.oneof(
    ...Object.entries(kinds).map(([type, fields]) =>
      often(fc.record({ type: fc.constant(type), ...fields }), fc.record({ type: fc.constant(type), ...fields }, { requiredKeys: ['type'] })),
    ),
  );
  const oddLayer = fc.oneof(fc.record({ type: fc.oneof(fc.string({ maxLength: 12 }), fc.jsonValue()) }), fc.jsonValue());
  // Rarer than `often`: one odd layer in a list of five is enough to refuse it.
  const layer = fc.oneof({ weight: 12, arbitrary: kindLayer }, { weight: 1, arbitrary: oddLayer });
  const architecture = often(
    fc.record({
      inputShape: often(fc.constantFrom([4], [8, 8, 1], [28, 28], [28, 28, 1], [6, 6, 3]), fc.oneof(fc.array(size, { maxLength: 4 }), fc.jsonValue())),
      layers: often(fc.array(layer, { minLength: 1, maxLength: 5 }), fc.jsonValue()),
    }),
    fc.jsonValue(),
  );

  test('readArchitecture reads or refuses random text and hostile architectures', () => {
    fc.assert(
      fc.property(often(architecture.map((a) => JSON.stringify(a)), fc.string({ maxLength: 40 })), (text) => {
        const read = readOrRefuse(() => readArchitecture(text, 'f.safetensors'), startsWith('f.safetensors: '));
        if (read) expect(read.shapes).toHaveLength(read.layers.length);
      }),
      { numRuns: RUNS },
    );
  });

  const model = encodeModelFile(
    { inputShape: [2, 2], layers: [flatten({ inputShape: [2, 2] }), dense({ units: 3, activation: 'softmax' })] },
    [
      { name: 'layers.1.kernel', shape: [4, 3], values: new Float32Array(12).fill(0.25) },
      { name: 'layers.1.bias', shape: [3], values: new Float32Array(3) },
    ],
  );

  test('readModelFile reads or refuses damaged model files and hostile architectures, nothing built', () => {
    const withArchitecture = architecture.map((a) => encodeSafetensors([], { format: 'webgpu-train/1', architecture: JSON.stringify(a) }));
    fc.assert(
      fc.property(fc.oneof({ weight: 2, arbitrary: mutated(model) }, { weight: 2, arbitrary: withArchitecture }, { weight: 1, arbitrary: headerBytes }), (bytes) => {
        const file = readOrRefuse(() => readModelFile(bytes, 'f.safetensors'), startsWith('f.safetensors: '));
        if (file) expect(file.weights.length).toBe(file.shapes.reduce((n, s) => n + s.params.length, 0));
      }),
      { numRuns: RUNS },
    );
  });
});
