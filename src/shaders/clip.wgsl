// Gradient clipping, Keras 3's (keras/src/optimizers/base_optimizer.py), on the
// gradient buffer in place, just before the optimizer's update:
//   clipnorm         each variable's (parameter tensor's) gradient g times
//                    clipnorm / max(‖g‖, clipnorm);
//   global_clipnorm  every gradient times clipnorm / max(‖all of them‖, clipnorm);
//   clipvalue        each element clamped to [-clipvalue, clipvalue].
//
// The norms come from a reduction in a fixed order, so that the same gradients
// give the same bits on every run (no atomics): the variables are cut into
// chunks of at most a few thousand elements, one workgroup each;
// `sum_squares` gives each chunk its Σ g² (each invocation sums its own
// elements in order, then a tree in workgroup memory), `norm_scales` adds up
// each segment's chunks in order (a segment is one variable, or all of them
// for global_clipnorm) and writes its scale, and `scale` applies it.
//
// Where clipping does not bind, nothing is written: the scale is exactly 1 and
// `scale` skips its chunk, and `clip_value` leaves a value within the limits
// as it is, so a run whose gradients stay within them is bit for bit the run
// without clipping (a multiply by 1 could still flush a subnormal to zero).

// Invocations per workgroup; a power of two, as sum_squares' tree halves it.
override WORKGROUP_SIZE: u32;

struct Params {
  // clipnorm, global_clipnorm or clipvalue.
  limit: f32,
  // clip_value: the length of grad.
  count: u32,
}

// A run of gradients [start, end) within one variable, and its segment.
struct Chunk {
  start: u32,
  end: u32,
  segment: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
@group(0) @binding(2) var<storage, read> chunks: array<Chunk>;
// Σ g² of each chunk.
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
// The first chunk of each segment, then the number of chunks.
@group(0) @binding(4) var<storage, read> segments: array<u32>;
@group(0) @binding(5) var<storage, read_write> scales: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_squares(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
  let chunk = chunks[group.x];
  var sum = 0.0;
  for (var i = chunk.start + lane; i < chunk.end; i += WORKGROUP_SIZE) {
    sum += grad[i] * grad[i];
  }
  partial[lane] = sum;
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lane < half) {
      partial[lane] += partial[lane + half];
    }
  }
  if (lane == 0u) {
    sums[group.x] = partial[0];
  }
}

// One workgroup, an invocation per segment. Exactly 1 where the norm is within
// the limit (Keras' clipnorm / max(norm, clipnorm) is that up to rounding), so
// that `scale` can tell a segment that needs nothing.
@compute @workgroup_size(WORKGROUP_SIZE)
fn norm_scales(@builtin(local_invocation_index) lane: u32) {
  let count = arrayLength(&segments) - 1u;
  for (var s = lane; s < count; s += WORKGROUP_SIZE) {
    var sum = 0.0;
    for (var c = segments[s]; c < segments[s + 1u]; c++) {
      sum += sums[c];
    }
    let norm = sqrt(sum);
    scales[s] = select(params.limit / norm, 1.0, norm <= params.limit);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scale(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
  let chunk = chunks[group.x];
  let factor = scales[chunk.segment];
  if (factor == 1.0) {
    return;
  }
  for (var i = chunk.start + lane; i < chunk.end; i += WORKGROUP_SIZE) {
    grad[i] *= factor;
  }
}

// Elementwise over the whole buffer, in strides of the grid's size.
@compute @workgroup_size(WORKGROUP_SIZE)
fn clip_value(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    let g = grad[i];
    if (g > params.limit) {
      grad[i] = params.limit;
    } else if (g < -params.limit) {
      grad[i] = -params.limit;
    }
  }
}
