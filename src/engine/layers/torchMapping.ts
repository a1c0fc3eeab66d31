// The helpers the layer modules' `torch` mappings share (the types are in
// layer.ts, with the rest of what a layer kind is); src/engine/torchConvert.ts
// walks a model's layers with them.
import type { TorchMapping, TorchParam } from './layer';

/** A parameter of module `index` under both names, in the same layout unless `gather` says otherwise. */
export const torchParam = (at: { index: number }, ours: string, torch: string, shape: number[], gather: Uint32Array | null = null): TorchParam => ({
  ours: `layers.${at.index}.${ours}`,
  shape,
  torch: `${at.index}.${torch}`,
  torchShape: shape,
  gather,
});

/** A layer that holds no parameters and whose output keeps its input's order (elementwise). */
export const keepsOrder: TorchMapping<unknown> = (_config, _input, _shape, order) => ({ params: [], order });

/** An image layer without parameters: its output is an image again, whose order PyTorch's layout fixes. */
export const imageLayer: TorchMapping<unknown> = () => ({ params: [], order: null });
