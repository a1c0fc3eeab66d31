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
