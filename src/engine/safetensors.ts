// The safetensors format (github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the tensors' bytes. Only float32 tensors are written or read.
import { sizeOf } from './buffers';

export interface Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

export function encodeSafetensors(weights: Weight[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
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
  return bytes;
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A value read from JSON (or given in code) as an error quotes it: whole when short. */
export function quoteJson(value: unknown): string {
  if (value === undefined) return 'missing';
  let text: string;
  try {
    // Numbers as themselves: JSON would print NaN as null.
    text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    // Nested too deep to print (JSON.parse takes depths that stringify cannot).
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' && value !== null ? '{...}' : String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The tensors and metadata of a safetensors file; `source` names it in errors.
 * Everything the header claims is checked against the bytes before any tensor
 * is copied, so a hostile header cannot make it allocate more than the file holds.
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): { weights: Weight[]; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a model file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`the header claims ${headerLength} bytes but the file holds ${bytes.length - 8} after its length`);
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
    if (typeof value !== 'string') fail(`__metadata__.${key} is ${quoteJson(value)}, not a string`);
  }
  const data = bytes.subarray(8 + headerLength);
  const entries = Object.entries(tensors).map(([name, t]) => {
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
    return { name, shape: shape as number[], begin, end };
  });
  // As the format requires: the tensors tile the data, with no gap, overlap or trailing bytes.
  let covered = 0;
  for (const { name, begin, end } of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (begin !== covered) fail(`tensor ${name} starts at byte ${begin} of the data, but the tensors before it end at ${covered}`);
    covered = end;
  }
  if (covered !== data.length) fail(`the tensors hold ${covered} bytes but ${data.length} follow the header`);
  // Copied byte by byte: the data need not be 4-byte aligned, and a Node Buffer's slice() would be a view.
  const weights = entries.map(({ name, shape, begin, end }) => {
    const values = new Float32Array((end - begin) / 4);
    new Uint8Array(values.buffer).set(data.subarray(begin, end));
    return { name, shape, values };
  });
  return { weights, metadata: metadata as Record<string, string> };
}
