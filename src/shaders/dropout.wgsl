// Inverted dropout (Keras' Dropout) over a float32 tensor of any shape, seen
// flat, and its gradient; and the identity that stands in for it in inference.
//
// In training each element is dropped with probability `rate` and the kept ones
// are scaled by 1 / (1 - rate), so that the expected output is the input. The
// mask is not random state but a function of (seed, step, element index): an
// integer hash whose bits are compared with threshold = floor(rate · 2^32).
// The step is a counter in a buffer that `advance` bumps once per training
// step, on the GPU, so each step draws a new mask without the CPU writing
// anything; and the backward recomputes the same mask instead of reading a stored one.
//
// The loops are grid-stride loops (see activation.wgsl), bounded by the length
// of the tensor each writes, which TypeScript binds to exactly its range.

override WORKGROUP_SIZE: u32;

struct Params {
  // The layer's seed, drawn from the model's seeded generator when it is built.
  seed: u32,
  // An element is dropped when its hash is below this: floor(rate · 2^32).
  threshold: u32,
  // 1 / (1 - rate), from float64 on the CPU.
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// Training steps run so far: written by `advance` only, read by the others, as
// a WGSL variable has a single access mode.
@group(0) @binding(3) var<storage, read_write> step: array<u32>;
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_input: array<f32>;

// Chris Wellons' lowbias32: a bijection of u32 whose output bits each flip with
// probability close to 1/2 when any input bit flips.
fn mix(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

// One key per (seed, step), so each step draws a new mask; mix is a bijection,
// so the elements of one step get distinct hashes.
fn step_key() -> u32 {
  return mix(step[0] ^ mix(params.seed));
}

fn kept(key: u32, i: u32) -> bool {
  return mix(i ^ key) >= params.threshold;
}

@compute @workgroup_size(1)
fn advance() {
  step[0] += 1u;
}

// y = x · mask · scale, mask[i] = [hash(seed, step, i) >= threshold].
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let key = step_key();
  for (var i = id.x; i < arrayLength(&y); i += groups.x * WORKGROUP_SIZE) {
    y[i] = select(0.0, x[i] * params.scale, kept(key, i));
  }
}

// y = x · mask[i] · scale is linear in x with a mask that does not depend on x,
// so ∂y[i]/∂x[j] = [i = j] mask[i] scale and dInput[i] = dOut[i] · mask[i] · scale,
// with the mask of the step the forward ran in (the counter only moves in `advance`).
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let key = step_key();
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = select(0.0, d_out[i] * params.scale, kept(key, i));
  }
}

// Inference: y = x. The next layer needs y in a buffer of its own, as the
// training forward writes one there.
@compute @workgroup_size(WORKGROUP_SIZE)
fn identity(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&y); i += groups.x * WORKGROUP_SIZE) {
    y[i] = x[i];
  }
}
