// Softmax cross-entropy of logits against classes, fused: forward adds the
// step's loss (and, for the accuracy, the rows classified right) to the sums
// kept on the GPU (sums.wgsl), and backward is the loss' gradient with respect
// to the logits. `forward` and `backward` take the classes as labels (Keras'
// sparse categorical cross-entropy), `forward_targets` and `backward_targets`
// as rows of target probabilities, one-hot or not (categorical cross-entropy).
//
// N rows (the examples of a batch) of C logits z (one per class). With
// lse(z) = log Σ_j exp(z_j), -log softmax(z)_j = lse(z) - z_j: a row's loss is
// that of its label, or Σ_j t_j (lse(z) - z_j) for targets t.

// Invocations per workgroup; a power of two, as forward's tree reduction halves it.
override WORKGROUP_SIZE: u32;
// Keras clips the probabilities a softmax layer outputs to [1e-7, 1 - 1e-7],
// but not the log-softmax it computes from logits (fromLogits: CLIPPED false).
override CLIPPED: bool;
// Where forward adds the rows whose first maximum is their label: sums[ACCURACY_AT]
// (sums.wgsl); 0, the loss' own sum, for nowhere.
override ACCURACY_AT: u32 = 0u;

struct Params {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> targets: array<f32>;
@group(0) @binding(4) var<storage, read_write> dLogits: array<f32>;

// Clipping a probability to [1e-7, 1 - 1e-7] bounds its -log between these two.
const MIN_LOSS = 1.0000000500000033e-7; // -log(1 - 1e-7)
const MAX_LOSS = 16.11809565095832; // -log(1e-7)

// NaN rule: a row with a NaN logit has a NaN loss and a NaN gradient row, so
// that fit stops on it. Tested explicitly, on the bits (activate.wgsl's
// is_nan): WGSL lets an implementation assume floats are never NaN, and
// SwiftShader's max, exp and log then lose them (a NaN logit gave a loss of 22.6).
fn row_has_nan(row: u32) -> bool {
  var found = false;
  for (var j = 0u; j < params.classes; j++) {
    found = found || is_nan(logits[row * params.classes + j]);
  }
  return found;
}

// The index of the row's first maximum, as numpy's and TensorFlow's argmax:
// only a strictly greater value replaces it. Its logit is the row's maximum.
fn first_max(row: u32) -> u32 {
  var best = 0u;
  var m = logits[row * params.classes];
  for (var j = 1u; j < params.classes; j++) {
    let z = logits[row * params.classes + j];
    if (z > m) {
      best = j;
      m = z;
    }
  }
  return best;
}

// lse(z) - m for m = max_j z_j: every exp is at most 1, so none overflows, and
// the largest is exactly 1, so the sum does not underflow either.
fn shifted_log_sum_exp(row: u32, m: f32) -> f32 {
  var sum = 0.0;
  for (var j = 0u; j < params.classes; j++) {
    sum += exp(logits[row * params.classes + j] - m);
  }
  return log(sum);
}

// -log softmax(z)_j = lse - z_j, computed as (m - z_j) + (lse - m): both terms
// are exact or small, where lse itself could be large and round off a small loss.
fn class_loss(row: u32, j: u32, m: f32, shift: f32) -> f32 {
  return (m - logits[row * params.classes + j]) + shift;
}

// Whether a class' loss is one clipping leaves as it is (always, unclipped).
fn inside_clip(loss: f32) -> bool {
  return !CLIPPED || (loss >= MIN_LOSS && loss <= MAX_LOSS);
}

// A class' loss as Keras computes it: clipped, bounded as a clipped
// probability's -log is. clamp would turn a NaN into a bound, so callers test
// for NaN themselves.
fn keras_loss(loss: f32) -> f32 {
  return select(loss, clamp(loss, MIN_LOSS, MAX_LOSS), CLIPPED);
}

// One dispatch for all of a step's metrics that come from the loss, since on a
// CPU-emulated GPU each dispatch has a fixed cost larger than this work:
//   sums[0] += Σ_i loss_i; NaN for a label outside 0..C-1, so that a bad label
//     shows in the total;
//   sums[ACCURACY_AT] += the rows whose first maximum is their label (a label
//     outside 0..C-1 is no argmax, so its row counts as wrong);
//   and the running means after them (sums.wgsl).
//
// One workgroup: a batch has at most a few thousand rows. Each invocation
// takes rows lane, lane + WORKGROUP_SIZE, ..., finding each row's maximum once
// for both its loss and its argmax; the workgroup adds up the invocations'
// losses and counts, and one invocation adds the totals to the sums.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(local_invocation_index) lane: u32) {
  var loss_total = 0.0;
  var hits = 0u;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    let label = labels[i];
    var loss = nan();
    if (label < params.classes) {
      let best = first_max(i);
      let m = logits[i * params.classes + best];
      let raw = class_loss(i, label, m, shifted_log_sum_exp(i, m));
      loss = select(keras_loss(raw), nan(), is_nan(raw) || row_has_nan(i));
      hits += select(0u, 1u, best == label);
    }
    loss_total += loss;
  }
  let total = workgroup_sum(lane, loss_total);
  let right = workgroup_sum(lane, f32(hits));
  if (lane == 0u) {
    count_rows(params.rows);
    add_total(0u, total);
    if (ACCURACY_AT != 0u) {
      add_total(ACCURACY_AT, right);
    }
  }
}

// dLogits = (softmax(z) - onehot(label)) / N, the gradient of the mean loss.
//
// Derivation: ∂lse(z)/∂z_j = exp(z_j) / Σ_k exp(z_k) = softmax(z)_j and
// ∂z_label/∂z_j = [j = label], so ∂loss_i/∂z_ij = softmax(z_i)_j - [j = label_i],
// and the mean over N rows divides that by N. This is the gradient of the
// unclipped loss, clipped or not, as TensorFlow's fused op gives it (and as
// the tutorial's figures were made with). A label outside 0..C-1 matches no j,
// leaving softmax(z)/N.
//
// One invocation per row: it finds the row's maximum and log-sum-exp, then
// writes the row, softmax(z)_j = exp(z_j - m - (lse - m)).
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= params.rows) {
    return;
  }
  let label = labels[i];
  let m = logits[i * params.classes + first_max(i)];
  let shift = shifted_log_sum_exp(i, m);
  let poisoned = row_has_nan(i);
  for (var j = 0u; j < params.classes; j++) {
    let p = exp(logits[i * params.classes + j] - m - shift);
    dLogits[i * params.classes + j] = select((p - select(0.0, 1.0, j == label)) / f32(params.rows), nan(), poisoned);
  }
}

// forward for targets: sums[0] += Σ_i Σ_j t_ij loss_ij, with each class' loss
// clipped as Keras clips each probability. For a one-hot row that is the loss
// of its label, bit for bit as forward computes it (the other terms are 0 · a
// finite loss). A NaN logit or target makes the row's loss NaN. The accuracy
// of targets is a metric of its own (metrics.wgsl), from the probabilities.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward_targets(@builtin(local_invocation_index) lane: u32) {
  var loss_total = 0.0;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    let m = logits[i * params.classes + first_max(i)];
    let shift = shifted_log_sum_exp(i, m);
    var loss = 0.0;
    var poisoned = row_has_nan(i);
    for (var j = 0u; j < params.classes; j++) {
      let t = targets[i * params.classes + j];
      loss += t * keras_loss(class_loss(i, j, m, shift));
      poisoned = poisoned || is_nan(t);
    }
    loss_total += select(loss, nan(), poisoned);
  }
  let total = workgroup_sum(lane, loss_total);
  if (lane == 0u) {
    count_rows(params.rows);
    add_total(0u, total);
  }
}

// backward for targets: the exact gradient of forward_targets' mean loss,
// clipped or not.
//
// Derivation: with l_j = -log softmax(z)_j = lse(z) - z_j, ∂l_j/∂z_k =
// softmax(z)_k - [j = k] = p_k - [j = k]. Clipping makes each term's
// derivative 0 where l_j is outside [MIN_LOSS, MAX_LOSS]; with in_j = 1 inside
// (always, unclipped) and s = Σ_j t_j in_j,
//   ∂/∂z_k Σ_j t_j in_j l_j = Σ_j t_j in_j (p_k - [j = k]) = p_k s - t_k in_k,
// divided by N for the mean. Unclipped, with rows summing to 1, that is p - t.
//
// One invocation per row: the row's maximum and log-sum-exp, then s, then the row.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_targets(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= params.rows) {
    return;
  }
  let m = logits[i * params.classes + first_max(i)];
  let shift = shifted_log_sum_exp(i, m);
  var s = 0.0;
  var poisoned = row_has_nan(i);
  for (var j = 0u; j < params.classes; j++) {
    let t = targets[i * params.classes + j];
    s += select(0.0, t, inside_clip(class_loss(i, j, m, shift)));
    poisoned = poisoned || is_nan(t);
  }
  for (var k = 0u; k < params.classes; k++) {
    let at = i * params.classes + k;
    let p = exp(logits[at] - m - shift);
    let t = select(0.0, targets[at], inside_clip(class_loss(i, k, m, shift)));
    dLogits[at] = select((p * s - t) / f32(params.rows), nan(), poisoned);
  }
}
