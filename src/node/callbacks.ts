// The callbacks that write files: Keras' CSVLogger, and ModelCheckpoint by path.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { modelCheckpoint as checkpointBy, type Callback, type Mode } from '../engine/training/callbacks';
import type { Logs } from '../engine/graph';
import { writeFileAtomically } from './files';

/** A float as Python's str() writes it (what Keras' files hold): `0.5`, `3.0`, `1e-05`, `nan`, `inf`. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  const size = Math.abs(value);
  if (value !== 0 && (size < 1e-4 || size >= 1e16)) {
    // The same shortest digits; Python writes the exponent with two digits at least.
    return value.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/**
 * `{epoch:02d}`, `{val_loss:.2f}`, `{epoch}` in a path, as Keras' ModelCheckpoint
 * fills them: the epoch counted from 1, a log's value with a Python format spec.
 */
export function fillPath(path: string, epoch: number, logs: Logs): string {
  return path.replace(/\{(\w+)(?::([^}]*))?\}/g, (whole, name: string, spec: string | undefined) => {
    const value = name === 'epoch' ? epoch + 1 : logs[name];
    if (value === undefined) throw new Error(`modelCheckpoint(): the path names {${name}}, which is not in the logs (they hold epoch, ${Object.keys(logs).join(', ')})`);
    if (spec === undefined) return name === 'epoch' ? String(value) : pythonFloat(value);
    const integer = /^0?(\d+)d$/.exec(spec);
    if (integer) return String(Math.round(value)).padStart(Number(integer[1]), spec.startsWith('0') ? '0' : ' ');
    const fixed = /^\.(\d+)f$/.exec(spec);
    if (fixed) return value.toFixed(Number(fixed[1]));
    throw new Error(`modelCheckpoint(): unknown format '${whole}' (use {name}, {name:02d} or {name:.4f})`);
  });
}

/**
 * Keras' ModelCheckpoint writing to `path` (its `{epoch:02d}`, `{val_loss:.4f}`
 * filled in), each file whole or not at all, in our model format.
 */
export function modelCheckpoint(options: { path: string; monitor?: string; saveBestOnly?: boolean; mode?: Mode; initialValueThreshold?: number }): Callback {
  const { path, ...rest } = options;
  if (!path) throw new Error('modelCheckpoint(): path is empty');
  return checkpointBy({ ...rest, write: (bytes, { epoch, logs }) => writeFileAtomically(fillPath(path, epoch, logs), bytes) });
}

/**
 * Keras' CSVLogger: a row per epoch, `epoch` (from 0) then the logs' values
 * by name in sorted order, written as each epoch ends. With `append`, a file
 * that already holds a header gets no second one.
 */
export function csvLogger(path: string, options: { separator?: string; append?: boolean } = {}): Callback {
  const { separator = ',', append = false } = options;
  if (!path) throw new Error('csvLogger(): path is empty');
  let keys: string[] | null = null;
  let header = true;
  return {
    async onTrainBegin() {
      keys = null;
      if (append) {
        const existing = await readFile(path, 'utf8').catch(() => '');
        header = existing.length === 0;
      } else {
        await writeFile(path, '');
        header = true;
      }
    },
    async onEpochEnd(epoch, logs) {
      keys ??= Object.keys(logs).sort();
      const lines = header ? [['epoch', ...keys].join(separator)] : [];
      header = false;
      lines.push([String(epoch), ...keys.map((key) => (logs[key] === undefined ? 'NA' : pythonFloat(logs[key])))].join(separator));
      await appendFile(path, lines.map((line) => `${line}\r\n`).join(''));
    },
  };
}
