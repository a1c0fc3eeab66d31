// Row-wise softmax over the last dimension of x [rows, C] (C classes per row),
// and its gradient.
//
// One invocation handles one whole row, walking it in a few passes: the rows
// of our models are short (C = 10 classes), so a workgroup-wide reduction per
// row would cost more in synchronisation than it saves. Both entry points are
// grid-stride loops over the rows, so the TypeScript side may cap the
// workgroup count at the device's limit.

override WORKGROUP_SIZE: u32;

struct Params {
  rows: u32,
  C: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Written by the forward and only read by the backward, as a WGSL variable has
// a single access mode.
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> d_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_input: array<f32>;

// NaN rule: a NaN anywhere in a row makes the whole row NaN, as the float64
// arithmetic would. It is tested explicitly, on the bits: WGSL lets an
// implementation assume there are no NaNs, and SwiftShader's max and division
// then drop them (a row with one NaN came out with only that element NaN).
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn nan() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// y_j = exp(x_j - m) / Σ_k exp(x_k - m) with m the row's maximum: the same
// value as exp(x_j) / Σ_k exp(x_k), but every exponent is <= 0, so no exp
// overflows and the largest term is exactly 1, so the sum is at least 1.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var row = id.x; row < params.rows; row += groups.x * WORKGROUP_SIZE) {
    let start = row * params.C;
    let end = start + params.C;
    var m = x[start];
    var poisoned = false;
    for (var k = start; k < end; k++) {
      m = max(m, x[k]);
      poisoned = poisoned || is_nan(x[k]);
    }
    if (poisoned) {
      for (var k = start; k < end; k++) {
        y[k] = nan();
      }
      continue;
    }
    var sum = 0.0;
    for (var k = start; k < end; k++) {
      let e = exp(x[k] - m);
      y[k] = e;
      sum += e;
    }
    for (var k = start; k < end; k++) {
      y[k] = y[k] / sum;
    }
  }
}

// With y = softmax(x), ∂y_j/∂x_i = y_j ([i = j] - y_i), so
// dInput_i = Σ_j dOut_j y_j ([i = j] - y_i) = y_i (dOut_i - Σ_j dOut_j y_j).
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var row = id.x; row < params.rows; row += groups.x * WORKGROUP_SIZE) {
    let start = row * params.C;
    let end = start + params.C;
    var dot = 0.0;
    var poisoned = false;
    for (var k = start; k < end; k++) {
      dot += d_out[k] * y[k];
      poisoned = poisoned || is_nan(d_out[k]) || is_nan(y[k]);
    }
    for (var k = start; k < end; k++) {
      d_input[k] = select(y[k] * (d_out[k] - dot), nan(), poisoned);
    }
  }
}
