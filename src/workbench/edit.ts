// An edited kernel, and what the editor asks of its source before a check: the
// compiler's messages, and the `override` constants it declares.
import type { Gpu } from '../engine/device';
import { shaderMessages, shaderOverrides, type Constants, type ShaderMessage } from '../engine/pipelines';
import { builtInSource, fullShape, kernelSpec } from './kernels';
import { target, withTensors, type Shape } from './spec';

/** An edited kernel: its source, and `override` values set over the built-in dispatch's. */
export interface Edit {
  source: string;
  constants?: Constants;
  /** Names the source in compile errors; EDITED_FILE by default. */
  file?: string;
}

/** The name an edited source goes by in compile errors when its edit gives none. */
export const EDITED_FILE = 'edited.wgsl';

/** The compiler's messages for an edited source of kernel `name` (lines and columns from 1). */
export function compileMessages(gpu: Gpu, name: string, source: string, file = EDITED_FILE): Promise<ShaderMessage[]> {
  return shaderMessages(gpu.device, { file, source, library: kernelSpec(name).library });
}

/** The `override` constants the source declares (found by reflection), with the values the built-in dispatch gives them at this shape. */
export async function kernelConstants(gpu: Gpu, name: string, shape: Shape, source = builtInSource(name)): Promise<{ name: string; type: string; value: number | null }[]> {
  const s = kernelSpec(name);
  const built = await withTensors(gpu.device, { spec: s, shape: fullShape(name, shape) }, async (_t, dispatches) => target(s, dispatches).constants);
  let declared: { name: string; type: string }[];
  try {
    declared = shaderOverrides({ file: EDITED_FILE, source, library: s.library });
  } catch {
    declared = shaderOverrides({ file: s.name, source: s.source, library: s.library });
  }
  return declared.map((o) => ({ ...o, value: built.result[o.name] ?? null }));
}

/** The lines of `edited` that differ from `original`, 1-based: those between their common first and last lines; null when none differ. */
export function editedLines(original: string, edited: string): { first: number; last: number } | null {
  const a = original.split('\n');
  const b = edited.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  if (start === a.length && start === b.length) return null;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  return { first: start + 1, last: Math.max(start + 1, b.length - end) };
}

/**
 * The compiler's messages with, before each error that lies outside the
 * edited lines but has a note inside them (Tint's notes say where a
 * uniformity error comes from: a `return` edited in before a barrier in a
 * helper), that note as an error of its own, naming the error it causes: the
 * edited line is where to look.
 */
export function pointAtEdits(messages: readonly ShaderMessage[], edited: { first: number; last: number } | null): ShaderMessage[] {
  const inside = (m: ShaderMessage) => edited !== null && m.line >= edited.first && m.line <= edited.last;
  const pointed: ShaderMessage[] = [];
  messages.forEach((m, i) => {
    if (m.type === 'error' && !inside(m)) {
      const notes = messages.slice(i + 1);
      const end = notes.findIndex((n) => n.type !== 'info');
      const note = notes.slice(0, end < 0 ? undefined : end).find(inside);
      if (note) pointed.push({ ...note, type: 'error', message: `${note.message}, the edited line that makes line ${m.line}'s error: ${m.message}` });
    }
    pointed.push(m);
  });
  return pointed;
}
