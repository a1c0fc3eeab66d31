// How a layer kind maps its parameters to PyTorch's names and layouts: the
// types each layer module's `torch` mapping uses, and the helpers they share.
// src/engine/torch.ts walks a model's layers with them.
import type { LayerShape } from './layer';

/**
 * For a flat tensor: where each value in PyTorch's order sits in ours, or null
 * where the two orders agree.
 */
export type TorchOrder = Uint32Array | null;

/** One parameter: our name and shape, PyTorch's, and `gather[t]`, the index in ours of PyTorch's value t (null: the same). */
export interface TorchParam {
  ours: string;
  shape: number[];
  torch: string;
  torchShape: number[];
  gather: Uint32Array | null;
}

export interface TorchLayer {
  params: TorchParam[];
  /** The order of the layer's output, when it is flat. */
  order: TorchOrder;
}

/** Layer `index` of a model (named `name` in errors), given its input shape and the order of its flat input. */
export type TorchMapping<C> = (config: C, input: readonly number[], shape: LayerShape, order: TorchOrder, at: { index: number; name: string }) => TorchLayer;

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
