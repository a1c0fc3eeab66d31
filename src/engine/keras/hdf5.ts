// HDF5 files from and to bytes in memory, through h5wasm (the HDF5 C library
// in WebAssembly), which is imported on first use: the 4 MB module loads only
// when a Keras file is opened or saved. A file lives in h5wasm's in-memory file
// system only while it is read or written, under a name of its own.
import type { Dataset, File, Group } from 'h5wasm';

export type { Dataset, Group };

export const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

type H5wasm = typeof import('h5wasm');

let loaded: Promise<H5wasm> | undefined;
let files = 0;

/** h5wasm, ready; HDF5's errors then throw (their message is HDF5's error stack) instead of printing to stderr. */
function h5wasm(): Promise<H5wasm> {
  loaded ??= import('h5wasm').then(async (h5) => {
    const module = await h5.ready;
    module.activate_throwing_error_handler();
    return h5;
  });
  return loaded;
}

/** HDF5's reason, from the error stack it throws: the innermost 'minor:' line (`File has been truncated`). */
function hdf5Reason(message: string): string | null {
  if (!message.startsWith('HDF5-DIAG')) return null;
  const minors = [...message.matchAll(/minor: (.*)/g)].map((m) => m[1].trim());
  return minors[minors.length - 1] ?? message.split('\n')[1]?.trim() ?? message;
}

/**
 * Runs `read` on the HDF5 file `bytes`, then closes it. `read` is synchronous,
 * so nothing else uses the module meanwhile. Errors name `source`; HDF5's own
 * become one line.
 */
export async function readHdf5<T>(bytes: Uint8Array, source: string, read: (root: Group) => T): Promise<T> {
  const h5 = await h5wasm();
  const { FS } = await h5.ready;
  const path = `/webgpu-train-${files++}.h5`;
  FS.writeFile(path, bytes);
  let file: File | undefined;
  try {
    file = new h5.File(path, 'r');
    return read(file);
  } catch (error) {
    const reason = hdf5Reason((error as Error).message);
    if (reason === null) throw error;
    throw new Error(`${source}: HDF5 cannot read it: ${reason}`);
  } finally {
    file?.close();
    FS.unlink(path);
  }
}

/** An HDF5 file that `write` fills. */
export async function encodeHdf5(write: (root: File) => void): Promise<Uint8Array> {
  const h5 = await h5wasm();
  const { FS } = await h5.ready;
  const path = `/webgpu-train-${files++}.h5`;
  try {
    const file = new h5.File(path, 'w');
    try {
      write(file);
    } finally {
      file.close();
    }
    return FS.readFile(path);
  } finally {
    FS.unlink(path);
  }
}

export const isGroup = (entity: unknown): entity is Group => typeof (entity as Group | null)?.keys === 'function';
export const isDataset = (entity: unknown): entity is Dataset => !isGroup(entity) && typeof (entity as Dataset | null)?.slice === 'function';

/** A text attribute (a string, or bytes h5wasm decodes), or undefined when there is none. */
export function textAttribute(node: Group, name: string): string | undefined {
  const attribute = node.attrs[name];
  if (!attribute) return undefined;
  const value = attribute.value;
  return typeof value === 'string' ? value : Array.isArray(value) && value.length === 1 && typeof value[0] === 'string' ? value[0] : undefined;
}

/** A list-of-text attribute (Keras' layer_names, weight_names); an empty list is stored as an empty float array. */
export function textListAttribute(node: Group, name: string): string[] | undefined {
  const attribute = node.attrs[name];
  if (!attribute) return undefined;
  const value = attribute.value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  if (typeof value === 'string') return [value];
  return ArrayBuffer.isView(value) && (value as Float64Array).length === 0 ? [] : undefined;
}
