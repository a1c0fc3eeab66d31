// Mean squared and mean absolute error of outputs y against targets t: forward
// adds a step's total to the sums kept on the GPU (sums.wgsl), as the loss or
// as a metric (mse, mae), and backward is the loss' gradient with respect to y.
//
// N rows of R outputs y, each against its target t. A value's error is
// (y - t)² (KIND SQUARED) or |y - t| (ABSOLUTE); a row's is the mean over its
// R values (Keras' mean over the last axis).

override WORKGROUP_SIZE: u32;
override KIND: u32;
// Which sum forward adds to: 0, the loss (which also counts the rows), or a metric's.
override AT: u32 = 0u;

const SQUARED = 0u;
const ABSOLUTE = 1u;

struct Params {
  rows: u32,
  row_size: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> d_y: array<f32>;

fn error(d: f32) -> f32 {
  if (KIND == ABSOLUTE) {
    return abs(d);
  }
  return d * d;
}

// One workgroup, each invocation taking rows lane, lane + WORKGROUP_SIZE, ...
// and the workgroup adding up their means, as the other losses' forward.
// NaN in, NaN out: abs and d² keep a NaN on every implementation we run on,
// and the reference checks it.
@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(local_invocation_index) lane: u32) {
  let R = params.row_size;
  var total = 0.0;
  for (var i = lane; i < params.rows; i += WORKGROUP_SIZE) {
    var sum = 0.0;
    for (var j = 0u; j < R; j++) {
      sum += error(y[i * R + j] - targets[i * R + j]);
    }
    total += sum / f32(R);
  }
  let step = workgroup_sum(lane, total);
  if (lane == 0u) {
    if (AT == 0u) {
      count_rows(params.rows);
    }
    add_total(AT, step);
  }
}

// d_y = 2 (y - t) / (N R) for the squared error, sign(y - t) / (N R) for the
// absolute one (0 where y = t, as TensorFlow and PyTorch take |d|' at 0): each
// value's error enters the batch's mean loss divided by R and by N. A NaN
// difference gives a NaN gradient (sign(NaN) is not defined in WGSL). A
// grid-stride loop over the N R values.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let count = params.rows * params.row_size;
  for (var i = id.x; i < count; i += groups.x * WORKGROUP_SIZE) {
    let d = y[i] - targets[i];
    var g = 2.0 * d;
    if (KIND == ABSOLUTE) {
      g = select(sign(d), d, is_nan(d));
    }
    d_y[i] = g / f32(count);
  }
}
