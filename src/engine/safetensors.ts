// The safetensors format (github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the tensors' bytes. Only float32 tensors are written or read.
//
// What we write carries a checksum, first in its metadata: `"checksum":
// "crc32:<8 hex digits>"`, the CRC-32 of the whole file with those 8 digits
// read as zeros, so that a flipped bit anywhere (weights, header) is found on
// load. Files without one (older ones, PyTorch's) load as before.
import { sizeOf } from './buffers';

export interface Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** How the header of a file we write starts: the checksum's 8 hex digits follow, at byte CHECKSUM_AT of the file. */
const CHECKSUM_PREFIX = '{"__metadata__":{"checksum":"crc32:';
const CHECKSUM_AT = 8 + CHECKSUM_PREFIX.length;
const CHECKSUM_ZEROS = new TextEncoder().encode('00000000');

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** CRC-32 (IEEE, as zlib and gzip compute it) of `bytes`, continuing from `crc` (the CRC of what came before). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC-32 of a file we wrote, its checksum digits read as zeros. */
const fileChecksum = (bytes: Uint8Array) =>
  crc32(bytes.subarray(CHECKSUM_AT + 8), crc32(CHECKSUM_ZEROS, crc32(bytes.subarray(0, CHECKSUM_AT))))
    .toString(16)
    .padStart(8, '0');

export function encodeSafetensors(weights: Weight[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { checksum: 'crc32:00000000', ...metadata } };
  let offset = 0;
  for (const w of weights) {
    header[w.name] = { dtype: 'F32', shape: w.shape, data_offsets: [offset, offset + w.values.byteLength] };
    offset += w.values.byteLength;
  }
  // The header is padded with spaces so the data starts 8-byte aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const w of weights) {
    bytes.set(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength), at);
    at += w.values.byteLength;
  }
  bytes.set(new TextEncoder().encode(fileChecksum(bytes)), CHECKSUM_AT);
  return bytes;
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Text from a file as an error can print it: control characters (a terminal's
 * escape sequences among them) escaped, and cut to `max` characters.
 */
export function printable(text: string, max = 80): string {
  // C0 and C1 controls, DEL, and the line and paragraph separators and bidirectional overrides, which reorder or break a line.
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return escaped.length > max ? `${escaped.slice(0, max - 3)}... (${text.length.toLocaleString('en-US')} characters)` : escaped;
}

/** A value read from JSON (or given in code) as an error quotes it: whole when short, printable. */
export function quoteJson(value: unknown): string {
  if (value === undefined) return 'missing';
  // JSON.parse rounds an integer past 2^53 (2^64 - 1 comes back as 18446744073709552000): it is not printed as if exact.
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return `about ${value.toExponential()}`;
  let text: string;
  try {
    // Numbers as themselves: JSON would print NaN as null.
    text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    // Nested too deep to print (JSON.parse takes depths that stringify cannot).
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' && value !== null ? '{...}' : String(value);
  }
  text = printable(text, Infinity);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Throws unless a file of `size` bytes that opens with `head` (its first 8
 * bytes at least, or all of it) can be safetensors: an 8-byte header length
 * within the file and long enough for a JSON object. Checked before the rest
 * of a file is read (a file of zeros is refused at once), and by decodeSafetensors.
 * `kind` ('a model file') says what it is not.
 */
export function checkSafetensorsHead(head: Uint8Array, size: number, source: string, kind = 'a model file'): void {
  const fail = (what: string): never => {
    throw new Error(`${source}: not ${kind}: ${what}`);
  };
  if (size < 8) fail(`${size} bytes is too short for a safetensors header`);
  // A BigInt, printed whole: as a Number, 2^64 - 1 would read 18446744073709552000.
  const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(size - 8)) fail(`the header claims ${length} bytes but the file holds ${size - 8} after its length`);
  if (length < 2n) fail(`the header claims ${length} bytes, too few for a JSON object`);
}

/**
 * The tensors and metadata of a safetensors file; `source` names it in errors.
 * Everything the header claims is checked against the bytes before any tensor
 * is copied, so a hostile header cannot make it allocate more than the file holds.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string, kind = 'a model file'): { weights: Weight[]; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: not ${kind}: ${what}`);
  };
  checkSafetensorsHead(bytes, bytes.length, source, kind);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return fail(`the header is not JSON (${(error as Error).message})`);
  }
  if (!isObject(header)) return fail(`the header is ${quoteJson(header)}, not a JSON object`);
  const { __metadata__: metadata = {}, ...tensors } = header;
  if (!isObject(metadata)) return fail(`__metadata__ is ${quoteJson(metadata)}, not an object of strings`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') fail(`__metadata__.${printable(key)} is ${quoteJson(value)}, not a string`);
  }
  const { checksum, ...rest } = metadata as Record<string, string>;
  if (checksum !== undefined) {
    const written = /^crc32:([0-9a-f]{8})$/.exec(checksum)?.[1];
    const inPlace = new TextDecoder().decode(bytes.subarray(8, CHECKSUM_AT)) === CHECKSUM_PREFIX;
    if (!written || !inPlace) fail(`its checksum ${quoteJson(checksum)} is not a CRC-32 where this format writes one (first in its metadata)`);
    const found = fileChecksum(bytes);
    if (found !== written) throw new Error(`${source}: damaged: its CRC-32 is ${found}, but it was written with ${written}`);
  }
  const data = bytes.subarray(8 + headerLength);
  const entries = Object.entries(tensors).map(([key, t]) => {
    const name = printable(key);
    if (!isObject(t)) return fail(`tensor ${name} is ${quoteJson(t)}, not an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = t;
    if (dtype !== 'F32') fail(`tensor ${name} has dtype ${quoteJson(dtype)}, only "F32" is supported`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${name} has shape ${quoteJson(shape)}, not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor ${name} has data_offsets ${quoteJson(offsets)}, not two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    const size = sizeOf(shape as number[]);
    if (begin > end || end > data.length) fail(`tensor ${name} has data_offsets ${begin}..${end}, outside the ${data.length} data bytes`);
    if (end - begin !== size * 4) fail(`tensor ${name} [${(shape as number[]).join(', ')}] needs ${size * 4} bytes but its data_offsets ${begin}..${end} hold ${end - begin}`);
    return { name: key, shape: shape as number[], begin, end };
  });
  // As the format requires: the tensors tile the data, with no gap, overlap or trailing bytes.
  let covered = 0;
  for (const { name, begin, end } of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (begin !== covered) fail(`tensor ${printable(name)} starts at byte ${begin} of the data, but the tensors before it end at ${covered}`);
    covered = end;
  }
  if (covered !== data.length) fail(`the tensors hold ${covered} bytes but ${data.length} follow the header`);
  // Copied byte by byte: the data need not be 4-byte aligned, and a Node Buffer's slice() would be a view.
  const weights = entries.map(({ name, shape, begin, end }) => {
    const values = new Float32Array((end - begin) / 4);
    new Uint8Array(values.buffer).set(data.subarray(begin, end));
    return { name, shape, values };
  });
  return { weights, metadata: rest };
}
