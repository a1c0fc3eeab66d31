// 2D max pooling with 'valid' padding over NHWC float32 images, and its gradient.
//
// N images of H x W pixels with C channels, stored [N, H, W, C]. A PH x PW window
// steps SY rows and SX columns at a time and only windows that fit inside the
// image count, so the output is [N, OH, OW, C] with OH = (H - PH) / SY + 1 and
// OW = (W - PW) / SX + 1 (rounded down, as Keras does). Every window therefore
// lies inside the image, which bounds every index below.
//
// Both entry points are grid-stride loops over the pixels they write (forward:
// output pixels; backward: input pixels), so the TypeScript side may cap the
// workgroup count at the device's limit. An invocation does all C channels of
// its pixel: where a pixel is and which windows cover it take integer
// divisions, which a CPU-emulated GPU runs one lane at a time, so they are
// done once per pixel rather than once per element (4x faster on lavapipe).

override WORKGROUP_SIZE: u32;

struct Params {
  H: u32,
  W: u32,
  C: u32,
  OH: u32,
  OW: u32,
  PH: u32,
  PW: u32,
  SY: u32,
  SX: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// The flat index into x of each window's maximum: written by the forward and
// only read by the backward, as a WGSL variable has a single access mode.
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_input: array<f32>;

// y[n, oy, ox, c] = max over the window of x, and the index it came from. The
// comparison is strict, so of equal values the first in row-major window
// order wins, as in TensorFlow.
//
// NaN rule: a window holding a NaN gives NaN, wherever the NaN lies, and its
// gradient goes to the first NaN. TensorFlow.js skips NaNs instead (a window
// of 1, NaN, 3 gives 3); we do not, so that a NaN entering the model reaches
// the loss and stops training (fit) rather than vanishing in a pooling layer.
// (is_nan and relu_gradient are activate.wgsl's, appended.)

// No NaN in the window: an index past any buffer.
const NO_NAN = 0xffffffffu;

@compute @workgroup_size(WORKGROUP_SIZE)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&y) / params.C; p += groups.x * WORKGROUP_SIZE) {
    let ox = p % params.OW;
    let oy = (p / params.OW) % params.OH;
    let n = p / (params.OW * params.OH);
    let corner = ((n * params.H + oy * params.SY) * params.W + ox * params.SX) * params.C;
    for (var c = 0u; c < params.C; c++) {
      var best = x[corner + c];
      var best_index = corner + c;
      // The first NaN's index, if any: window indices grow in loop order, so
      // it is the least. Kept without branches, beside the plain maximum: a
      // branch on it in the loop made this kernel twice as slow on lavapipe.
      var first_nan = NO_NAN;
      for (var ky = 0u; ky < params.PH; ky++) {
        for (var kx = 0u; kx < params.PW; kx++) {
          let i = corner + (ky * params.W + kx) * params.C + c;
          let v = x[i];
          let greater = v > best;
          best = select(best, v, greater);
          best_index = select(best_index, i, greater);
          first_nan = min(first_nan, select(NO_NAN, i, is_nan(v)));
        }
      }
      if (first_nan != NO_NAN) {
        best = x[first_nan];
        best_index = first_nan;
      }
      y[p * params.C + c] = best;
      argmax[p * params.C + c] = best_index;
    }
  }
}

// Each output is its window's maximum, so ∂y[o]/∂x[i] = [argmax[o] = i] and
// dInput[i] = Σ_o dOut[o] [argmax[o] = i], the sum over the windows that cover i.
// Gathering that sum in one invocation per input pixel, rather than
// scattering each dOut[o] to argmax[o], needs no atomics when windows overlap
// (stride < pool) and writes every element of dInput exactly once, zeros
// included.
//
// Window oy covers rows oy * SY .. oy * SY + PH - 1, so row h lies in the
// windows with (h - PH) / SY < oy <= h / SY that exist; columns likewise.
// The windows that cover an input pixel: its image n, and their first and last rows and columns.
struct Windows {
  n: u32,
  oy_first: u32,
  oy_last: u32,
  ox_first: u32,
  ox_last: u32,
}

fn windows_of(p: u32) -> Windows {
  let w = p % params.W;
  let h = (p / params.W) % params.H;
  // h - PH would wrap around in u32; rows h < PH lie in windows from 0 on.
  return Windows(
    p / (params.W * params.H),
    select(0u, (h - params.PH) / params.SY + 1u, h >= params.PH),
    min(h / params.SY, params.OH - 1u),
    select(0u, (w - params.PW) / params.SX + 1u, w >= params.PW),
    min(w / params.SX, params.OW - 1u),
  );
}

// dInput[i] for element i (channel c) of a pixel in `windows`.
fn input_gradient(windows: Windows, i: u32, c: u32) -> f32 {
  var sum = 0.0;
  for (var oy = windows.oy_first; oy <= windows.oy_last; oy++) {
    for (var ox = windows.ox_first; ox <= windows.ox_last; ox++) {
      let o = ((windows.n * params.OH + oy) * params.OW + ox) * params.C + c;
      if (argmax[o] == i) {
        sum += d_out[o];
      }
    }
  }
  return sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / params.C; p += groups.x * WORKGROUP_SIZE) {
    let windows = windows_of(p);
    for (var c = 0u; c < params.C; c++) {
      d_input[p * params.C + c] = input_gradient(windows, p * params.C + c, c);
    }
  }
}

// backward, then the gradient of the ReLU that wrote x, in the same pass: a
// layer ending in ReLU before the pooling leaves its relu_backward out (the
// same relu_gradient: the mask selects, and a NaN x gives NaN), and reads
// dInput as the gradient before its ReLU.
@compute @workgroup_size(WORKGROUP_SIZE)
fn backward_relu(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var p = id.x; p < arrayLength(&d_input) / params.C; p += groups.x * WORKGROUP_SIZE) {
    let windows = windows_of(p);
    for (var c = 0u; c < params.C; c++) {
      let i = p * params.C + c;
      d_input[i] = relu_gradient(input_gradient(windows, i, c), x[i]);
    }
  }
}
