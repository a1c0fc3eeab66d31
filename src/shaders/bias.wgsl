// Bias addition y[r, c] = x[r, c] + bias[c] along the last dimension, and its
// gradient with respect to the bias, a sum over rows.
//
// C is the last dimension (channels, or a Dense layer's units) and a row r is
// one position in all the others: r runs over N for [N, C] and over N·H·W for
// NHWC images [N, H, W, C], which are the same row-major memory.

// Invocations per workgroup of `forward`.
override WORKGROUP_SIZE: u32;
// `backward`'s workgroup is CHANNEL_LANES x ROW_LANES invocations; ROW_LANES
// must be a power of two, as the tree reduction halves it.
override CHANNEL_LANES: u32;
override ROW_LANES: u32;

struct Params {
  rows: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// A grid-stride loop over the elements: the grid may be smaller than the tensor.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.rows * params.channels; i += groups.x * WORKGROUP_SIZE) {
    y[i] = x[i] + bias[i % params.channels];
  }
}

@group(0) @binding(4) var<storage, read> terms: array<f32>;
@group(0) @binding(5) var<storage, read_write> sums: array<f32>;

var<workgroup> partial: array<f32, CHANNEL_LANES * ROW_LANES>;

// Column sums in chunks: sums[k, c] = Σ_{r in chunk k} terms[r, c], for
// `terms` [rows, channels] and as many chunks as there are workgroups along y.
//
// Derivation: y[r, c] = x[r, c] + bias[c] gives ∂y[r, c]/∂bias[c] = 1, so
// dBias[c] = Σ_r dOut[r, c]; and ∂y/∂x is the identity, so dInput = dOut.
//
// Algorithm: a workgroup covers CHANNEL_LANES adjacent channels, so each of its
// loads reads adjacent addresses (coalesced on a GPU, whole cache lines on a
// CPU). Workgroup (g, k) of K along y takes rows k·ROW_LANES + j·K·ROW_LANES for
// j = 0, 1, ...: its ROW_LANES lanes of a channel each keep a running sum of
// rows/(K·ROW_LANES) terms, which a tree in workgroup memory then adds up,
// halving the lanes at each step. Short running sums and a tree keep the
// rounding error far below that of one long running sum. Over many rows the
// op dispatches this twice: once with many chunks, so that there are enough
// workgroups to keep a GPU busy, then with one chunk to add up their sums.
@compute @workgroup_size(CHANNEL_LANES, ROW_LANES)
fn backward(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_id) local: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let c = group.x * CHANNEL_LANES + local.x;
  var sum = 0.0;
  if (c < params.channels) {
    for (var r = group.y * ROW_LANES + local.y; r < params.rows; r += groups.y * ROW_LANES) {
      sum += terms[r * params.channels + c];
    }
  }
  partial[local.y * CHANNEL_LANES + local.x] = sum;
  workgroupBarrier();
  for (var half = ROW_LANES / 2u; half > 0u; half /= 2u) {
    if (local.y < half) {
      partial[local.y * CHANNEL_LANES + local.x] += partial[(local.y + half) * CHANNEL_LANES + local.x];
    }
    workgroupBarrier();
  }
  if (local.y == 0u && c < params.channels) {
    sums[group.y * params.channels + c] = partial[local.x];
  }
}
