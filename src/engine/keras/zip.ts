// The zip archives of .keras files: members found through the central
// directory, each refused by its declared size before it is inflated, and
// inflated a slice at a time so that one whose data inflates past what it
// declared (a zip bomb) stops there. fflate inflates and writes; its unzipSync
// gives no member's offset and inflates a member whole into the size it
// declares, running on through whatever the data holds past it.
//
// Sizes, offsets and signatures are PKWARE's APPNOTE.TXT (4.3.12: central
// directory headers, 4.3.14-16: the end records, 4.5.3: zip64's extra field).

/** A member of an archive, as its central directory entry describes it. */
export interface ZipMember {
  name: string;
  /** 0: stored, 8: deflated. */
  method: number;
  /** Its size in the archive and inflated, as declared. */
  compressedSize: number;
  size: number;
  /** Where its local header starts. */
  offset: number;
  flags: number;
}

const END = 0x06054b50;
const END64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Inflated a slice of this many bytes at a time: at most about 1032 times as much comes out of one. */
const SLICE = 16 << 10;

export const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

/** Each member of the archive `bytes`, from its central directory; `source` names it in errors. */
export function zipMembers(bytes: Uint8Array, source: string): ZipMember[] {
  const fail = (what: string): never => {
    throw new Error(`${source}: not a zip archive that can be read: ${what}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => (at + 2 <= bytes.length ? view.getUint16(at, true) : fail('it ends inside a header'));
  const u32 = (at: number) => (at + 4 <= bytes.length ? view.getUint32(at, true) : fail('it ends inside a header'));
  const u64 = (at: number) => {
    const value = u32(at) + u32(at + 4) * 2 ** 32;
    return Number.isSafeInteger(value) ? value : fail(`a zip64 field holds ${value}`);
  };
  // The end record is the last 22 bytes, unless a comment of up to 65535 bytes follows it.
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) === END) {
      end = at;
      break;
    }
  }
  if (end < 0) fail('no end of central directory record');
  let count = u16(end + 10);
  let at = u32(end + 16);
  if ((count === 0xffff || at === 0xffffffff) && end >= 20 && u32(end - 20) === LOCATOR64) {
    const end64 = u64(end - 12);
    if (u32(end64) !== END64) fail('its zip64 locator points at no zip64 end record');
    count = u64(end64 + 32);
    at = u64(end64 + 48);
  }
  // Each entry takes at least 46 bytes: a count the file cannot hold is refused before the loop.
  if (count * 46 > bytes.length) fail(`its end record declares ${count} members, more than its ${bytes.length} bytes can hold`);
  const members: ZipMember[] = [];
  for (let i = 0; i < count; i++) {
    if (u32(at) !== CENTRAL) fail(`central directory entry ${i} has no signature`);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    if (at + 46 + nameLength > bytes.length) fail('it ends inside a header');
    const member: ZipMember = {
      name: new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)),
      method: u16(at + 10),
      flags: u16(at + 8),
      compressedSize: u32(at + 20),
      size: u32(at + 24),
      offset: u32(at + 42),
    };
    // Zip64: the fields that hold 0xffffffff are in the extra field, in this order.
    for (let extra = at + 46 + nameLength; extra + 4 <= at + 46 + nameLength + extraLength; extra += 4 + u16(extra + 2)) {
      if (u16(extra) !== 1) continue;
      let field = extra + 4;
      for (const key of ['size', 'compressedSize', 'offset'] as const) {
        if (member[key] === 0xffffffff) {
          member[key] = u64(field);
          field += 8;
        }
      }
    }
    members.push(member);
    at += 46 + nameLength + extraLength + u16(at + 32);
  }
  return members;
}

/**
 * The bytes of `member`, refused before anything is inflated when its declared
 * size is over `maxBytes`, and as soon as its data inflates past that size.
 * `what` names the member in errors (`model.keras: model.weights.h5`).
 */
export async function unzipMember(bytes: Uint8Array, member: ZipMember, maxBytes: number, what: string): Promise<Uint8Array> {
  const fail = (reason: string): never => {
    throw new Error(`${what}: ${reason}`);
  };
  if (member.size > maxBytes) fail(`declares ${member.size} bytes, more than the ${maxBytes} it may hold`);
  if (member.flags & 1) fail('is encrypted');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (member.offset + 30 > bytes.length || view.getUint32(member.offset, true) !== LOCAL) fail('its local header is not where the central directory says');
  const start = member.offset + 30 + view.getUint16(member.offset + 26, true) + view.getUint16(member.offset + 28, true);
  if (start + member.compressedSize > bytes.length) fail(`its ${member.compressedSize} bytes run past the end of the archive`);
  const data = bytes.subarray(start, start + member.compressedSize);
  if (member.method === 0) {
    if (member.compressedSize !== member.size) fail(`is stored, yet declares ${member.compressedSize} bytes in the archive and ${member.size} inflated`);
    return data.slice();
  }
  if (member.method !== 8) fail(`is compressed with method ${member.method}; only stored (0) and deflated (8) members can be read`);
  const { Inflate } = await import('fflate');
  const out = new Uint8Array(member.size);
  let length = 0;
  const inflater = new Inflate((chunk) => {
    if (length + chunk.length > member.size) fail(`inflates past the ${member.size} bytes it declares`);
    out.set(chunk, length);
    length += chunk.length;
  });
  try {
    for (let at = 0; at < data.length || at === 0; at += SLICE) inflater.push(data.subarray(at, at + SLICE), at + SLICE >= data.length);
  } catch (error) {
    if ((error as Error).message.startsWith(`${what}: `)) throw error;
    fail(`its deflated data is broken (${(error as Error).message})`);
  }
  if (length !== member.size) fail(`inflates to ${length} bytes, not the ${member.size} it declares`);
  return out;
}

/** A zip archive of these members, stored (not deflated) as Keras writes them. */
export async function encodeZip(members: Record<string, Uint8Array>): Promise<Uint8Array> {
  const { zipSync } = await import('fflate');
  // Keras' own date for its JSON members; a fixed one keeps the archive the same for the same model.
  return zipSync(members, { level: 0, mtime: new Date(1980, 0, 1) });
}
