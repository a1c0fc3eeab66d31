// Hostile zip archives for the Keras tests: members of any declared size, and
// DEFLATE data that inflates to 160 times its size.
import { strToU8 } from 'fflate';

/** A raw DEFLATE stream that inflates to `count` zero bytes (one fixed-Huffman block: a literal 0, then copies of 258 at distance 1, 13 bits each): 1/160 of the zeros' size. */
export function deflatedZeros(count: number): Uint8Array {
  const copies = Math.floor((count - 1) / 258);
  const out = new Uint8Array(Math.ceil((3 + 8 + copies * 13 + 7 + 8 * ((count - 1) % 258 ? 1 : 0)) / 8) + 8);
  let bit = 0;
  const put = (value: number, bits: number) => {
    for (let i = 0; i < bits; i++, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  // Huffman codes go most significant bit first.
  const code = (value: number, bits: number) => {
    for (let i = bits - 1; i >= 0; i--, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  put(1, 1); // the final block
  put(1, 2); // fixed Huffman codes
  code(0x30, 8); // literal 0
  for (let i = 0; i < copies; i++) {
    code(0b11000101, 8); // length 258
    code(0, 5); // distance 1
  }
  const rest = (count - 1) % 258;
  for (let i = 0; i < rest; i++) code(0x30, 8);
  code(0, 7); // end of block
  return out.subarray(0, (bit + 7) >> 3);
}

/** A zip archive of these members as they are (already compressed, any declared size). */
export function zipOf(members: { name: string; data: Uint8Array; size: number; method: number }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = strToU8(m.name);
    const header = (signature: number, length: number) => {
      const bytes = new Uint8Array(length + name.length);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, signature, true);
      return { bytes, view };
    };
    const local = header(0x04034b50, 30);
    local.view.setUint16(8, m.method, true);
    local.view.setUint32(18, m.data.length, true);
    local.view.setUint32(22, m.size, true);
    local.view.setUint16(26, name.length, true);
    local.bytes.set(name, 30);
    const entry = header(0x02014b50, 46);
    entry.view.setUint16(10, m.method, true);
    entry.view.setUint32(20, m.data.length, true);
    entry.view.setUint32(24, m.size, true);
    entry.view.setUint16(28, name.length, true);
    entry.view.setUint32(42, offset, true);
    entry.bytes.set(name, 46);
    parts.push(local.bytes, m.data);
    central.push(entry.bytes);
    offset += local.bytes.length + m.data.length;
  }
  const size = central.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const view = new DataView(end.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, members.length, true);
  view.setUint16(10, members.length, true);
  view.setUint32(12, size, true);
  view.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const bytes = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}
