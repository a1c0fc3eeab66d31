// Rescaling (Keras' Rescaling layer): y = x · scale + offset elementwise, how
// many models take raw 0..255 pixels (scale 1/255), and its gradient.
//
// Both entry points are grid-stride loops, as activation.wgsl's: invocation i
// handles elements i, i + S, i + 2S, ... (S the invocations launched), bounded
// by the output's arrayLength, each tensor bound to exactly its own range.

override WORKGROUP_SIZE: u32;

struct Params {
  scale: f32,
  offset: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> d_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> d_input: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&y); i += groups.x * WORKGROUP_SIZE) {
    y[i] = x[i] * params.scale + params.offset;
  }
}

// ∂y/∂x = scale: dInput = scale · dOut.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var i = id.x; i < arrayLength(&d_input); i += groups.x * WORKGROUP_SIZE) {
    d_input[i] = params.scale * d_out[i];
  }
}
