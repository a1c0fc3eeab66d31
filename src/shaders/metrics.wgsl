// The metrics a step adds to the sums kept on the GPU (sums.wgsl) besides its
// loss, each from the model's outputs y (what predict returns: probabilities
// after a softmax or sigmoid) against the targets, as Keras computes them:
//   categorical_accuracy: 1 where argmax y = argmax t (each the first maximum);
//   binary_accuracy: each value right when (y > 0.5) equals t (so a target
//     other than 0 or 1 is never matched); a row's the fraction of its R values;
//   top_k_categorical_accuracy: 1 where the target class (argmax t) is among
//     the K largest outputs, that is fewer than K outputs are greater than its
//     own (ties count for it; a NaN output of its own counts as -inf), as
//     Keras' in_top_k;
//   sparse_top_k_categorical_accuracy: the same for labels.
// N rows of R values (C classes for the categorical ones).
//
// One workgroup, each invocation taking rows lane, lane + WORKGROUP_SIZE, ...,
// and the workgroup adding up their values, as the losses' forward does.

override WORKGROUP_SIZE: u32;
// Which sum the metric adds to: metric AT - 1's (sums.wgsl).
override AT: u32;
override K: u32 = 5u;

struct Params {
  rows: u32,
  row_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;

// The first maximum of row `row` of y, or of the targets (numpy's argmax: only
// a strictly greater value replaces it).
fn first_max_y(row: u32) -> u32 {
  let R = params.row_size;
  var best = 0u;
  for (var j = 1u; j < R; j++) {
    if (y[row * R + j] > y[row * R + best]) {
      best = j;
    }
  }
  return best;
}

fn first_max_targets(row: u32) -> u32 {
  let R = params.row_size;
  var best = 0u;
  for (var j = 1u; j < R; j++) {
    if (targets[row * R + j] > targets[row * R + best]) {
      best = j;
    }
  }
  return best;
}

// Whether class c of row `row` is among the K largest outputs.
fn in_top_k(row: u32, c: u32) -> bool {
  let R = params.row_size;
  let own = y[row * R + c];
  var greater = 0u;
  for (var j = 0u; j < R; j++) {
    let v = y[row * R + j];
    // Against a NaN of its own, as against -inf: every output but NaN and -inf is greater.
    let above = select(v > own, !is_nan(v) && bitcast<u32>(v) != 0xff800000u, is_nan(own));
    greater += select(0u, 1u, above);
  }
  return greater < K;
}

fn add(lane: u32, total: f32) {
  let step = workgroup_sum(lane, total);
  if (lane == 0u) {
    add_total(AT, step);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn categorical_accuracy(@builtin(local_invocation_index) lane: u32) {
  var hits = 0u;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    hits += select(0u, 1u, first_max_y(i) == first_max_targets(i));
  }
  add(lane, f32(hits));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_accuracy(@builtin(local_invocation_index) lane: u32) {
  let R = params.row_size;
  var total = 0.0;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    var right = 0u;
    for (var j = 0u; j < R; j++) {
      let predicted = select(0.0, 1.0, y[i * R + j] > 0.5);
      right += select(0u, 1u, predicted == targets[i * R + j]);
    }
    total += f32(right) / f32(R);
  }
  add(lane, total);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn top_k_categorical_accuracy(@builtin(local_invocation_index) lane: u32) {
  var hits = 0u;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    hits += select(0u, 1u, in_top_k(i, first_max_targets(i)));
  }
  add(lane, f32(hits));
}

// A label outside 0..C-1 is never among them.
@compute @workgroup_size(WORKGROUP_SIZE)
fn sparse_top_k_categorical_accuracy(@builtin(local_invocation_index) lane: u32) {
  var hits = 0u;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    hits += select(0u, 1u, labels[i] < params.row_size && in_top_k(i, labels[i]));
  }
  add(lane, f32(hits));
}
