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

/** The tensors and metadata of a safetensors file; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): { weights: Weight[]; metadata: Record<string, string> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a model file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors header`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) fail(`the header claims ${headerLength} bytes but the file holds ${bytes.length - 8} after its length`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: Record<string, string> };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return fail(`the header is not JSON (${(error as Error).message})`);
  }
  const { __metadata__: metadata = {}, ...tensors } = header;
  const data = bytes.subarray(8 + headerLength);
  const weights = Object.entries(tensors).map(([name, t]) => {
    const [begin, end] = t.data_offsets ?? [];
    if (t.dtype !== 'F32') fail(`tensor ${name} is ${t.dtype}, only F32 is supported`);
    if (!(begin >= 0 && end <= data.length && end - begin === sizeOf(t.shape) * 4)) {
      fail(`tensor ${name} [${t.shape}] has data_offsets ${begin}..${end}, outside the ${data.length} data bytes or of the wrong size`);
    }
    return { name, shape: t.shape, values: new Float32Array(data.slice(begin, end).buffer) };
  });
  return { weights, metadata };
}
