// Binary cross-entropy of logits against targets, fused with the sigmoid that
// makes them probabilities: forward adds the step's loss to the sums kept on
// the GPU (sums.wgsl), and backward is its gradient with respect to the logits.
//
// N rows of R logits z, each value against its target t in [0, 1]. With
// p = σ(z) = 1 / (1 + e^-z), a value's loss is
//   -(t log p + (1 - t) log(1 - p)) = softplus(z) - t z,
// since log σ(z) = -softplus(-z), log(1 - σ(z)) = -softplus(z) and
// softplus(-z) = softplus(z) - z; softplus(z) = log(1 + e^z) =
// max(z, 0) + log(1 + e^-|z|), whose exp cannot overflow. A row's loss is the
// mean over its R values (Keras' mean over the last axis).
//
// Keras clips p to [1e-7, 1 - 1e-7] when the model outputs probabilities (a
// sigmoid layer), and not when it gives logits (fromLogits): CLIPPED. As σ
// rises, clipping p is clipping z to [-L, L] with σ(±L) = 1 - 1e-7 and 1e-7,
// L = log((1 - 1e-7) / 1e-7): the loss is that of the clipped logit, computed
// as stably as the unclipped one.

override WORKGROUP_SIZE: u32;
override CLIPPED: bool;

struct Params {
  rows: u32,
  row_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;

const CLIP_LOGIT = 16.118095550958315; // log((1 - 1e-7) / 1e-7)

fn clipped(z: f32) -> f32 {
  return select(z, clamp(z, -CLIP_LOGIT, CLIP_LOGIT), CLIPPED);
}

// log(1 + e) for e in [0, 1]. 1 + e rounds off e's digits below the ulp of 1
// (all of them for e < 6e-8), and WGSL promises log only an absolute error
// near 1: below 0.01, four terms of the series, off by e^4 / 5 relative, less
// than float32 rounds to.
fn log1p(e: f32) -> f32 {
  if (e < 0.01) {
    return e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - e * 0.25)));
  }
  return log(1.0 + e);
}

// softplus(z) - t z, as max(z, 0) - t z + log(1 + e^-|z|): for |z| large the
// first two terms are exact and the loss keeps its small digits.
fn value_loss(z: f32, t: f32) -> f32 {
  return (max(z, 0.0) - t * z) + log1p(exp(-abs(z)));
}

// Each invocation takes rows lane, lane + WORKGROUP_SIZE, ..., as
// softmaxCrossEntropy.wgsl's forward does: one workgroup, the row means added
// up by the workgroup, one invocation adding the total to the sums. A NaN logit
// or target makes its row's loss NaN (tested on the bits: clamp and max could
// turn a NaN into a number).
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(local_invocation_index) lane: u32) {
  let R = params.row_size;
  var loss_total = 0.0;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    var sum = 0.0;
    var poisoned = false;
    for (var j = 0u; j < R; j++) {
      let z = logits[i * R + j];
      let t = targets[i * R + j];
      sum += value_loss(clipped(z), t);
      poisoned = poisoned || is_nan(z) || is_nan(t);
    }
    loss_total += select(sum / f32(R), nan(), poisoned);
  }
  let total = workgroup_sum(lane, loss_total);
  if (lane == 0u) {
    count_rows(params.rows);
    add_total(0u, total);
  }
}

// d_logits = (σ(z) - t) / (N R) where clipping leaves z as it is (|z| <= L, or
// unclipped), 0 where it clips: the exact gradient of forward's mean loss.
//
// Derivation: d/dz (softplus(z) - t z) = σ(z) - t; a value's loss enters the
// batch's mean divided by R (its row's mean) and by N (the rows' mean); the
// clipped loss is constant in z outside [-L, L]. σ is activate.wgsl's, whose
// exp cannot overflow. A grid-stride loop over the N R values.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let count = params.rows * params.row_size;
  for (var i = id.x; i < count; i += groups.x * WORKGROUP_SIZE) {
    let z = logits[i];
    let inside = !CLIPPED || abs(z) <= CLIP_LOGIT;
    let d = select(0.0, sigmoid(z) - targets[i], inside) / f32(count);
    d_logits[i] = select(d, nan(), is_nan(z) || is_nan(targets[i]));
  }
}
