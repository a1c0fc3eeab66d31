// MNIST in its original IDX format: parsing, gunzip and the SHA-256 checks that
// tell the official files from others in the same layout. Browser and Node alike.
//
// N is the number of examples, H x W the image size (28 x 28 for MNIST).

/** The four parts of MNIST, by the names the engine uses for them. */
export type MnistPart = 'train-images' | 'train-labels' | 'test-images' | 'test-labels';

export const MNIST_PARTS: readonly MnistPart[] = ['train-images', 'train-labels', 'test-images', 'test-labels'];

/** The official file names, without the `.gz` the mirrors add. */
export const MNIST_FILES: Readonly<Record<MnistPart, string>> = {
  'train-images': 'train-images-idx3-ubyte',
  'train-labels': 'train-labels-idx1-ubyte',
  'test-images': 't10k-images-idx3-ubyte',
  'test-labels': 't10k-labels-idx1-ubyte',
};

/**
 * SHA-256 of the official files after decompression. These identify the data
 * whatever gzip wrapper it arrives in (mirrors recompress).
 */
export const MNIST_SHA256: Readonly<Record<MnistPart, string>> = {
  'train-images': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
  'train-labels': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
  'test-images': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  'test-labels': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
};

/**
 * SHA-256 of the `.gz` files as the public mirrors serve them, so a download
 * can be checked before it is kept.
 */
export const MNIST_GZ_SHA256: Readonly<Record<MnistPart, string>> = {
  'train-images': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  'train-labels': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  'test-images': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  'test-labels': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
};

/** One parsed IDX file: its dimensions and its unsigned-byte payload. */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

export interface Dataset {
  /** N*H*W pixels, row-major, as the file holds them (0..255): what `fit` and `evaluate` take as they are. */
  pixels: Uint8Array;
  /** The same scaled to 0..1 (`pixelValues`), made on first use. */
  readonly images: Float32Array;
  /** N labels, 0 .. classes-1. */
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  /** Largest label in train or test, plus one: the width a classifier's output needs. */
  classes: number;
}

export interface Mnist {
  train: Dataset;
  test: Dataset;
  /** Whether all four files are byte for byte the official MNIST. */
  official: boolean;
  /** SHA-256 of each decompressed file, to name the ones that differ from MNIST_SHA256. */
  digests: Record<MnistPart, string>;
}

// The IDX element types; only unsigned bytes are in MNIST.
const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const IDX_UBYTE = 0x08;

/**
 * The most data bytes an IDX file may announce (1 GiB): more than any MNIST-like
 * set holds (EMNIST's largest is 547 MB), and a bound on what a header can make
 * the loader inflate and copy.
 */
export const MAX_IDX_BYTES = 2 ** 30;

/**
 * The most bytes an IDX file may take on disk, raw or gzip-compressed: the
 * largest header and data, and deflate's worst case for data that does not
 * compress (5 bytes a 16 KiB block, 320 KiB for 1 GiB), rounded up to 1 MiB more.
 */
export const MAX_IDX_FILE_BYTES = MAX_IDX_BYTES + 2 ** 20;

const hex = (n: number, digits: number) => '0x' + n.toString(16).padStart(digits, '0');

interface IdxHeader {
  dims: number[];
  headerBytes: number;
  /** Bytes of data the dimensions announce. */
  size: number;
  /** What the data is called in errors: labels, pixels or data. */
  what: string;
}

/**
 * Reads and checks an IDX header: a 4-byte magic (0, 0, element type,
 * dimension count), then one big-endian uint32 per dimension.
 */
function idxHeader(bytes: Uint8Array, file: string): IdxHeader {
  if (bytes.length < 4) {
    throw new Error(`${file}: truncated: ${bytes.length} bytes, too short for the 4-byte IDX magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const gzipHint = bytes[0] === 0x1f && bytes[1] === 0x8b ? ' (the file is still gzip-compressed)' : '';
    throw new Error(`${file}: bad magic number ${hex(magic, 8)}: not an IDX file${gzipHint}; expected 0x00000801 (labels) or 0x00000803 (images)`);
  }
  const type = bytes[2];
  if (type !== IDX_UBYTE) {
    const name = IDX_TYPES[type] ?? 'unknown';
    throw new Error(`${file}: unsupported element type ${hex(type, 2)} (${name}) in magic number ${hex(magic, 8)}; only unsigned bytes (0x08) are supported`);
  }
  const rank = bytes[3];
  if (rank === 0) {
    throw new Error(`${file}: bad magic number ${hex(magic, 8)}: zero dimensions`);
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Error(`${file}: truncated: the header of ${rank} dimensions needs ${headerBytes} bytes but the file holds ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const what = rank === 1 ? 'labels' : rank === 3 ? 'pixels' : 'data';
  if (size > MAX_IDX_BYTES) {
    throw new Error(`${file}: header announces ${dims.join('x')} = ${size} bytes of ${what}, more than the ${MAX_IDX_BYTES} an IDX file may hold here`);
  }
  return { dims, headerBytes, size, what };
}

/** Throws unless an IDX file of `length` bytes holds exactly the data its header announces. */
function checkLength({ dims, headerBytes, size, what }: IdxHeader, length: number, file: string): void {
  const held = length - headerBytes;
  if (held < size) {
    throw new Error(`${file}: truncated: header says ${dims.join('x')} = ${size} bytes of ${what} but the file holds ${held} after its ${headerBytes}-byte header`);
  }
  if (held > size) {
    throw new Error(`${file}: ${held - size} trailing bytes after the ${dims.join('x')} = ${size} bytes of ${what} the header announces`);
  }
}

/** Parses an IDX file: its header, then exactly the elements it announces. `file` names the file in errors. */
export function parseIdx(bytes: Uint8Array, file: string): Idx {
  const header = idxHeader(bytes, file);
  checkLength(header, bytes.length, file);
  return { dims: header.dims, data: bytes.subarray(header.headerBytes) };
}

/**
 * Checks an IDX file (raw or gzip-compressed) of `size` bytes by its first
 * bytes, before the rest is read: a raw file's header and that the size is
 * what the header announces, a gzip's size against MAX_IDX_FILE_BYTES.
 * `head` holds at least the first 1,024 bytes (the longest header) or the whole file.
 */
export function checkIdxHead(head: Uint8Array, size: number, file: string): void {
  if (isGzip(head)) {
    if (size > MAX_IDX_FILE_BYTES) throw new Error(`${file}: ${size} bytes of gzip, more than the ${MAX_IDX_FILE_BYTES} an IDX file may take here`);
    return;
  }
  checkLength(idxHeader(head, file), size, file);
}

/** Whether `bytes` opens with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    if (at === length) break;
    const part = chunk.subarray(0, length - at);
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

/**
 * Decompresses a gzip-compressed IDX file; bytes that are not gzip come back
 * as they are. It inflates a piece at a time and stops as soon as the header
 * is bad or the output outgrows what the header announces, so a small .gz
 * cannot make it inflate gigabytes; once the header is read, the pieces go
 * straight into one array of the size it announces (no second copy).
 */
export async function gunzipIdx(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  // Blob wants bytes backed by an ArrayBuffer (not a SharedArrayBuffer).
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  // The pieces until the header is whole; then the file's bytes, in one array as long as the header says.
  const chunks: Uint8Array[] = [];
  let header: IdxHeader | undefined;
  let out: Uint8Array | undefined;
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((e: unknown) => {
        throw new Error(`${file}: corrupt gzip data: ${e instanceof Error ? e.message : String(e)}`);
      });
      if (done) break;
      if (out) {
        if (received + value.length <= out.length) out.set(value, received);
        received += value.length;
      } else {
        chunks.push(value);
        received += value.length;
        // The header is whole once its dimension count (byte 3) has been followed by that many uint32s.
        const head = received >= 4 ? concat(chunks, Math.min(received, 4 + 4 * 255)) : undefined;
        if (head && head.length >= 4 + 4 * head[3]) {
          header = idxHeader(head, file);
          out = concat(chunks, header.headerBytes + header.size);
          chunks.length = 0;
        }
      }
      if (header && received > header.headerBytes + header.size) {
        const { dims, size, what, headerBytes } = header;
        throw new Error(`${file}: inflates to more than the ${dims.join('x')} = ${size} bytes of ${what} (and ${headerBytes}-byte header) its header announces; stopped after ${received} bytes`);
      }
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  }
  // Shorter than announced: parseIdx says it is truncated.
  return out ? out.subarray(0, received) : concat(chunks, received);
}

/** SHA-256 of `bytes`, in lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Checks that the images of `data` are inputs of `inputShape`: [H, W],
 * [H, W, 1] or [H * W]. `what` (the data's source) starts the error, which
 * names both sizes (a model for 28x28 images fed 32x32 ones would otherwise
 * fail on a count that says nothing of why).
 */
export function expectImagesFit(data: Pick<Dataset, 'height' | 'width'>, inputShape: readonly number[], what: string): void {
  const { height: H, width: W } = data;
  const [h, w, c] = inputShape;
  const image = inputShape.length === 2 || (inputShape.length === 3 && c === 1);
  if (inputShape.length === 1 ? h === H * W : image && h === H && w === W) return;
  const takes = inputShape.length === 1 ? `${h} values` : image ? `${h}x${w} images` : 'no single-channel images';
  throw new Error(`${what}: the images are ${H}x${W} but the model takes ${takes} (input shape [${inputShape.join(', ')}])`);
}

function checkRank(idx: Idx, rank: number, kind: string, file: string): void {
  if (idx.dims.length !== rank) {
    throw new Error(`${file}: expected ${kind}, an IDX file of ${rank} dimension${rank > 1 ? 's' : ''}, but it has ${idx.dims.length} (${idx.dims.join('x')})`);
  }
}

/** Pixel bytes as the model's inputs: byte / 255, as the tutorial scales MNIST. */
export function pixelValues(bytes: Uint8Array): Float32Array {
  const values = new Float32Array(bytes.length);
  for (let i = 0; i < values.length; i++) values[i] = bytes[i] / 255;
  return values;
}

/** A split's dataset; the bytes of `images` and `labels` are copied unless `ours` (inflated here, held by no one else). */
function dataset(images: Idx, labels: Idx, classes: number, ours: { images: boolean; labels: boolean }): Dataset {
  const [count, height, width] = images.dims;
  // Copies of the caller's bytes, so the data set does not hold on to them.
  const pixels = ours.images ? images.data : images.data.slice();
  let scaled: Float32Array | undefined;
  return {
    pixels,
    get images() {
      return (scaled ??= pixelValues(pixels));
    },
    labels: ours.labels ? labels.data : labels.data.slice(),
    count,
    height,
    width,
    classes,
  };
}

/**
 * Builds MNIST from its four files (gzip-compressed or raw). Any data in the
 * same layout is accepted; `official` says whether it is MNIST itself, so the
 * caller can warn. `names` overrides the file names used in errors (paths, say);
 * `sha256` computes the digests (WebCrypto's copies its input: Node passes one that does not).
 */
export async function mnistFromFiles(
  files: Record<MnistPart, Uint8Array>,
  names: Partial<Record<MnistPart, string>> = {},
  sha256: (bytes: Uint8Array) => Promise<string> = sha256Hex,
): Promise<Mnist> {
  const name = (part: MnistPart) => names[part] ?? MNIST_FILES[part];
  const raw = {} as Record<MnistPart, Uint8Array>;
  const digests = {} as Record<MnistPart, string>;
  const idx = {} as Record<MnistPart, Idx>;
  for (const part of MNIST_PARTS) {
    raw[part] = await gunzipIdx(files[part], name(part));
    idx[part] = parseIdx(raw[part], name(part));
    digests[part] = await sha256(raw[part]);
  }
  for (const split of ['train', 'test'] as const) {
    const images = `${split}-images` as const;
    const labels = `${split}-labels` as const;
    checkRank(idx[images], 3, 'images (N x H x W)', name(images));
    checkRank(idx[labels], 1, 'labels (N)', name(labels));
    const n = idx[images].dims[0];
    if (n !== idx[labels].dims[0]) {
      throw new Error(`${split} set: ${name(images)} holds ${n} images but ${name(labels)} holds ${idx[labels].dims[0]} labels`);
    }
    if (n === 0) throw new Error(`${split} set: ${name(images)} holds no images`);
  }
  const trainSize = idx['train-images'].dims.slice(1);
  const testSize = idx['test-images'].dims.slice(1);
  if (trainSize[0] !== testSize[0] || trainSize[1] !== testSize[1]) {
    throw new Error(`${name('train-images')} holds ${trainSize.join('x')} images but ${name('test-images')} holds ${testSize.join('x')}`);
  }
  // One class count for both splits: the model's output must cover every label it sees.
  let maxLabel = 0;
  for (const part of ['train-labels', 'test-labels'] as const) {
    for (const label of idx[part].data) if (label > maxLabel) maxLabel = label;
  }
  const classes = maxLabel + 1;
  const ours = (part: MnistPart) => raw[part] !== files[part];
  return {
    train: dataset(idx['train-images'], idx['train-labels'], classes, { images: ours('train-images'), labels: ours('train-labels') }),
    test: dataset(idx['test-images'], idx['test-labels'], classes, { images: ours('test-images'), labels: ours('test-labels') }),
    official: MNIST_PARTS.every((part) => digests[part] === MNIST_SHA256[part]),
    digests,
  };
}
